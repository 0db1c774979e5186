// kom-bench-codec: kom's JSON writer, JSON reader and HTTP head parser against the libraries
// a terminal's engineer would otherwise reach for, on the same bytes (tests/fixtures). Every
// alternative is checked once to compute the same result as kom before anything is timed.
#include <benchmark/benchmark.h>

#include <boost/beast/core/buffers_prefix.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/json.hpp>
#include <boost/json/src.hpp>  // Boost.JSON's implementation (kom/src.hpp's part too), once here
#include <nlohmann/json.hpp>
#include <simdjson.h>

#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "bench_report.hpp"
#include "kom/http_response.hpp"
#include "kom/json_body.hpp"
#include "kom/json_readers.hpp"
#include "support/fixtures.hpp"
#include "support/seeds.hpp"

namespace {

using kom_bench::fail_check;

// ---- the members kom's model has, by JSON key -----------------------------------------------
// One table per struct: the writers and readers of the alternatives walk them, so each handles
// every field kom handles (present or not), and the check compares every field.

template <class T>
struct text_member {
  const char* key;
  std::string_view T::*field;
};
template <class T>
struct int_member {
  const char* key;
  std::int64_t T::*field;
};
template <class T>
struct optional_int_member {
  const char* key;
  std::optional<std::int64_t> T::*field;
};

constexpr text_member<kom::capture> capture_texts[] = {
    {"capture_id", &kom::capture::capture_id},   {"klarna_reference", &kom::capture::klarna_reference},
    {"captured_at", &kom::capture::captured_at}, {"description", &kom::capture::description},
    {"reference", &kom::capture::reference}};
constexpr int_member<kom::capture> capture_ints[] = {{"captured_amount", &kom::capture::captured_amount},
                                                     {"refunded_amount", &kom::capture::refunded_amount}};
constexpr text_member<kom::order_line> line_texts[] = {
    {"reference", &kom::order_line::reference},         {"name", &kom::order_line::name},
    {"quantity_unit", &kom::order_line::quantity_unit}, {"merchant_data", &kom::order_line::merchant_data},
    {"product_url", &kom::order_line::product_url},     {"image_url", &kom::order_line::image_url}};
constexpr int_member<kom::order_line> line_ints[] = {{"quantity", &kom::order_line::quantity},
                                                     {"unit_price", &kom::order_line::unit_price},
                                                     {"total_amount", &kom::order_line::total_amount}};
constexpr optional_int_member<kom::order_line> line_optional_ints[] = {
    {"tax_rate", &kom::order_line::tax_rate},
    {"total_discount_amount", &kom::order_line::total_discount_amount},
    {"total_tax_amount", &kom::order_line::total_tax_amount}};
constexpr text_member<kom::product_identifiers> identifier_texts[] = {
    {"brand", &kom::product_identifiers::brand},
    {"category_path", &kom::product_identifiers::category_path},
    {"global_trade_item_number", &kom::product_identifiers::global_trade_item_number},
    {"manufacturer_part_number", &kom::product_identifiers::manufacturer_part_number},
    {"color", &kom::product_identifiers::color},
    {"size", &kom::product_identifiers::size}};
constexpr text_member<kom::subscription> subscription_texts[] = {{"name", &kom::subscription::name}};
constexpr int_member<kom::subscription> subscription_ints[] = {{"interval_count", &kom::subscription::interval_count}};
constexpr text_member<kom::shipping_info> shipping_texts[] = {
    {"shipping_company", &kom::shipping_info::shipping_company},
    {"tracking_number", &kom::shipping_info::tracking_number},
    {"tracking_uri", &kom::shipping_info::tracking_uri},
    {"return_shipping_company", &kom::shipping_info::return_shipping_company},
    {"return_tracking_number", &kom::shipping_info::return_tracking_number},
    {"return_tracking_uri", &kom::shipping_info::return_tracking_uri}};
constexpr text_member<kom::address> address_texts[] = {
    {"given_name", &kom::address::given_name},         {"family_name", &kom::address::family_name},
    {"title", &kom::address::title},                   {"street_address", &kom::address::street_address},
    {"street_address2", &kom::address::street_address2}, {"postal_code", &kom::address::postal_code},
    {"city", &kom::address::city},                     {"region", &kom::address::region},
    {"country", &kom::address::country},               {"email", &kom::address::email},
    {"phone", &kom::address::phone}};

// ---- writing the capture request body ---------------------------------------------------------

// The same body kom writes, built as a DOM: same keys in the same order, optional fields
// left out the same way (no validation: kom's figure includes validating the request).
template <class Dom>
typename Dom::object_type build_capture(Dom& dom, const kom::capture_request& r) {
  auto body = dom.make_object();
  body["captured_amount"] = r.captured_amount;
  if (!r.reference.empty()) body["reference"] = r.reference;
  if (!r.description.empty()) body["description"] = r.description;
  if (!r.order_lines.empty()) {
    auto lines = dom.make_array();
    for (const kom::order_line& l : r.order_lines) {
      auto line = dom.make_object();
      if (l.type != kom::order_line_type::unset) line["type"] = kom::to_string(l.type);
      if (!l.reference.empty()) line["reference"] = l.reference;
      line["name"] = l.name;
      line["quantity"] = l.quantity;
      if (!l.quantity_unit.empty()) line["quantity_unit"] = l.quantity_unit;
      line["unit_price"] = l.unit_price;
      if (l.tax_rate) line["tax_rate"] = *l.tax_rate;
      line["total_amount"] = l.total_amount;
      if (l.total_discount_amount) line["total_discount_amount"] = *l.total_discount_amount;
      if (l.total_tax_amount) line["total_tax_amount"] = *l.total_tax_amount;
      for (const char* key : {"merchant_data", "product_url", "image_url"}) {
        for (const auto& m : line_texts)
          if (std::strcmp(m.key, key) == 0 && !(l.*m.field).empty()) line[key] = l.*m.field;
      }
      if (l.product_identifiers != nullptr) {
        auto ids = dom.make_object();
        for (const auto& m : identifier_texts)
          if (!(l.product_identifiers->*m.field).empty()) ids[m.key] = l.product_identifiers->*m.field;
        line["product_identifiers"] = std::move(ids);
      }
      if (l.subscription != nullptr) {
        auto s = dom.make_object();
        s["name"] = l.subscription->name;
        s["interval"] = kom::to_string(l.subscription->interval);
        s["interval_count"] = l.subscription->interval_count;
        line["subscription"] = std::move(s);
      }
      lines.push_back(std::move(line));
    }
    body["order_lines"] = std::move(lines);
  }
  if (!r.shipping_info.empty()) {
    auto list = dom.make_array();
    for (const kom::shipping_info& s : r.shipping_info) {
      auto entry = dom.make_object();
      if (!s.shipping_company.empty()) entry["shipping_company"] = s.shipping_company;
      if (s.shipping_method != kom::shipping_method::unset) entry["shipping_method"] = kom::to_string(s.shipping_method);
      if (!s.tracking_number.empty()) entry["tracking_number"] = s.tracking_number;
      if (!s.tracking_uri.empty()) entry["tracking_uri"] = s.tracking_uri;
      if (!s.return_shipping_company.empty()) entry["return_shipping_company"] = s.return_shipping_company;
      if (!s.return_tracking_number.empty()) entry["return_tracking_number"] = s.return_tracking_number;
      if (!s.return_tracking_uri.empty()) entry["return_tracking_uri"] = s.return_tracking_uri;
      list.push_back(std::move(entry));
    }
    body["shipping_info"] = std::move(list);
  }
  if (r.shipping_delay) body["shipping_delay"] = *r.shipping_delay;
  return body;
}

struct boost_dom {
  boost::json::storage_ptr storage;
  using object_type = boost::json::object;
  boost::json::object make_object() const { return boost::json::object(storage); }
  boost::json::array make_array() const { return boost::json::array(storage); }
};

struct nlohmann_dom {
  using object_type = nlohmann::json;
  nlohmann::json make_object() const { return nlohmann::json::object(); }
  nlohmann::json make_array() const { return nlohmann::json::array(); }
};

// Boost.JSON without the heap: the DOM on a static_resource over a stack buffer, serialized
// into the caller's buffer.
std::size_t boost_write(const kom::capture_request& r, char* out, std::size_t size) {
  unsigned char memory[8192];
  boost::json::static_resource resource(memory, sizeof memory);
  boost_dom dom{&resource};
  const boost::json::value body = build_capture(dom, r);
  boost::json::serializer serializer;
  serializer.reset(&body);
  const std::string_view written = serializer.read(out, size);
  return serializer.done() ? written.size() : 0;
}

std::string nlohmann_write(const kom::capture_request& r) {
  nlohmann_dom dom;
  return build_capture(dom, r).dump();
}

struct write_case {
  kom_test::seed_capture seed;
  char kom_body[1024];
  std::size_t size = 0;

  write_case() {
    const auto n = kom::write_body(seed.request, kom_body);
    if (!n) fail_check("kom::write_body refused the seed capture");
    size = *n;
    char unvalidated[1024];
    kom::buffer_writer out(unvalidated);
    kom::json_writer w(out);
    kom::detail::write_json(w, seed.request);
    if (out.view() != std::string_view(kom_body, size)) fail_check("kom's writer alone wrote other bytes");
    // kom's body is the fixture's document, compact.
    const std::string fixture = kom_test::read_fixture("capture_request.json");
    if (boost::json::parse(fixture) != boost::json::parse(std::string_view(kom_body, size)))
      fail_check("kom's body is not the document of capture_request.json");
    char boost_body[1024];
    const std::size_t boost_size = boost_write(seed.request, boost_body, sizeof boost_body);
    if (std::string_view(boost_body, boost_size) != std::string_view(kom_body, size))
      fail_check("Boost.JSON wrote other bytes than kom: " + std::string(boost_body, boost_size));
    // nlohmann::json orders keys alphabetically: the same document, not the same bytes.
    if (nlohmann::json::parse(nlohmann_write(seed.request)) != nlohmann::json::parse(std::string_view(kom_body, size)))
      fail_check("nlohmann::json wrote another document than kom");
  }
};

const write_case& writes() {
  static const write_case c;
  return c;
}

// Times `write(body)`, one whole body per iteration.
template <class Write>
void time_write(benchmark::State& state, Write&& write) {
  const auto& c = writes();
  char body[1024];
  for (auto _ : state) {
    benchmark::DoNotOptimize(write(c, body));
    benchmark::DoNotOptimize(body);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(c.size));
}

void write_kom(benchmark::State& state) {
  time_write(state, [](const write_case& c, char (&body)[1024]) { return kom::write_body(c.seed.request, body); });
}
// kom's writer alone, without the validation write_body runs first: the same work as the
// alternatives, which check nothing.
void write_kom_writer_only(benchmark::State& state) {
  time_write(state, [](const write_case& c, char (&body)[1024]) {
    kom::buffer_writer out(body);
    kom::json_writer w(out);
    kom::detail::write_json(w, c.seed.request);
    return out.size();
  });
}
void write_boost(benchmark::State& state) {
  time_write(state, [](const write_case& c, char (&body)[1024]) { return boost_write(c.seed.request, body, sizeof body); });
}
void write_nlohmann(benchmark::State& state) {
  time_write(state, [](const write_case& c, char (&)[1024]) { return nlohmann_write(c.seed.request); });
}
// The limit: copying the finished body's bytes.
void write_memcpy(benchmark::State& state) {
  time_write(state, [](const write_case& c, char (&body)[1024]) {
    benchmark::DoNotOptimize(c.kom_body);
    return std::memcpy(body, c.kom_body, c.size);
  });
}

// ---- reading the capture-details response -----------------------------------------------------

// What kom's capture_storage<> holds but the text: the DOM libraries keep the text themselves.
struct dom_storage {
  kom::order_line lines[16];
  kom::shipping_info shipping[4];
  kom::product_identifiers identifiers[4];
  kom::subscription subscriptions[4];
  std::size_t lines_used = 0, shipping_used = 0, identifiers_used = 0, subscriptions_used = 0;
};

// Field extraction from a DOM, as kom's reader does it: unknown keys ignored, null is absent,
// any other wrong type fails. `Dom` gives find(object, key), text(), integer(), object(), items().
template <class Dom>
class dom_reader {
 public:
  using node = typename Dom::node;

  dom_reader(kom::capture& out, dom_storage& storage) : out_(out), storage_(storage) {}

  bool read(const node& root) {
    out_ = kom::capture{};
    storage_.lines_used = storage_.shipping_used = storage_.identifiers_used = storage_.subscriptions_used = 0;
    const auto* body = Dom::object(root);
    if (body == nullptr) return false;
    ok_ = true;
    texts(*body, out_, capture_texts);
    ints(*body, out_, capture_ints);
    if (const node* lines = present(*body, "order_lines")) {
      const std::size_t start = storage_.lines_used;
      for_items(*lines, [&](const node& item) { line(item); });
      out_.order_lines = {storage_.lines + start, storage_.lines_used - start};
    }
    if (const node* list = present(*body, "shipping_info")) {
      const std::size_t start = storage_.shipping_used;
      for_items(*list, [&](const node& item) {
        const auto* o = Dom::object(item);
        if (o == nullptr || storage_.shipping_used == 4) return void(ok_ = false);
        kom::shipping_info& s = storage_.shipping[storage_.shipping_used++];
        s = {};
        texts(*o, s, shipping_texts);
        token(*o, "shipping_method", s.shipping_method, kom::shipping_method_from_string);
      });
      out_.shipping_info = {storage_.shipping + start, storage_.shipping_used - start};
    }
    address(*body, "billing_address", out_.billing_address);
    address(*body, "shipping_address", out_.shipping_address);
    return ok_;
  }

 private:
  using object_type = std::remove_pointer_t<decltype(Dom::object(std::declval<const node&>()))>;

  const node* present(const object_type& o, const char* key) {
    const node* n = Dom::find(o, key);
    return n == nullptr || Dom::is_null(*n) ? nullptr : n;
  }

  template <class T, std::size_t N>
  void texts(const object_type& o, T& out, const text_member<T> (&members)[N]) {
    for (const auto& m : members)
      if (const node* n = present(o, m.key)) ok_ = Dom::text(*n, out.*m.field) && ok_;
  }
  template <class T, std::size_t N>
  void ints(const object_type& o, T& out, const int_member<T> (&members)[N]) {
    for (const auto& m : members)
      if (const node* n = present(o, m.key)) ok_ = Dom::integer(*n, out.*m.field) && ok_;
  }

  // An enum's text read with `from_string`; an absent one leaves `out` unset, as kom does.
  template <class Enum>
  void token(const object_type& o, const char* key, Enum& out, Enum (*from_string)(std::string_view)) {
    std::string_view v;
    if (const node* n = present(o, key)) {
      ok_ = Dom::text(*n, v) && ok_;
      out = from_string(v);
    }
  }

  template <class F>
  void for_items(const node& list, F&& each) {
    if (!Dom::items(list, each)) ok_ = false;
  }

  void line(const node& item) {
    const auto* o = Dom::object(item);
    if (o == nullptr || storage_.lines_used == 16) return void(ok_ = false);
    kom::order_line& l = storage_.lines[storage_.lines_used++];
    l = {};
    texts(*o, l, line_texts);
    ints(*o, l, line_ints);
    for (const auto& m : line_optional_ints) {
      if (const node* n = present(*o, m.key)) {
        std::int64_t v = 0;
        ok_ = Dom::integer(*n, v) && ok_;
        l.*m.field = v;
      }
    }
    token(*o, "type", l.type, kom::order_line_type_from_string);
    if (const node* n = present(*o, "product_identifiers")) {
      const auto* ids = Dom::object(*n);
      if (ids == nullptr || storage_.identifiers_used == 4) return void(ok_ = false);
      kom::product_identifiers& p = storage_.identifiers[storage_.identifiers_used++];
      p = {};
      texts(*ids, p, identifier_texts);
      l.product_identifiers = &p;
    }
    if (const node* n = present(*o, "subscription")) {
      const auto* sub = Dom::object(*n);
      if (sub == nullptr || storage_.subscriptions_used == 4) return void(ok_ = false);
      kom::subscription& s = storage_.subscriptions[storage_.subscriptions_used++];
      s = {};
      texts(*sub, s, subscription_texts);
      ints(*sub, s, subscription_ints);
      token(*sub, "interval", s.interval, kom::subscription_interval_from_string);
      l.subscription = &s;
    }
  }

  void address(const object_type& body, const char* key, kom::address& out) {
    if (const node* n = present(body, key)) {
      const auto* o = Dom::object(*n);
      if (o == nullptr) return void(ok_ = false);
      texts(*o, out, address_texts);
    }
  }

  kom::capture& out_;
  dom_storage& storage_;
  bool ok_ = true;
};

struct boost_json_access {
  using node = boost::json::value;
  static const boost::json::object* object(const node& n) { return n.if_object(); }
  static const node* find(const boost::json::object& o, const char* key) { return o.if_contains(key); }
  static bool is_null(const node& n) { return n.is_null(); }
  static bool text(const node& n, std::string_view& out) {
    const boost::json::string* s = n.if_string();
    if (s != nullptr) out = *s;
    return s != nullptr;
  }
  static bool integer(const node& n, std::int64_t& out) {
    if (const std::int64_t* i = n.if_int64()) return out = *i, true;
    if (const std::uint64_t* u = n.if_uint64(); u != nullptr && *u <= INT64_MAX) return out = static_cast<std::int64_t>(*u), true;
    return false;
  }
  template <class F>
  static bool items(const node& n, F& each) {
    const boost::json::array* a = n.if_array();
    if (a == nullptr) return false;
    for (const node& item : *a) each(item);
    return true;
  }
};

struct nlohmann_access {
  using node = nlohmann::json;
  static const node* object(const node& n) { return n.is_object() ? &n : nullptr; }
  static const node* find(const node& o, const char* key) {
    const auto it = o.find(key);
    return it == o.end() ? nullptr : &*it;
  }
  static bool is_null(const node& n) { return n.is_null(); }
  static bool text(const node& n, std::string_view& out) {
    if (!n.is_string()) return false;
    out = n.get_ref<const std::string&>();
    return true;
  }
  static bool integer(const node& n, std::int64_t& out) {
    if (n.is_number_integer() && (!n.is_number_unsigned() || n.get<std::uint64_t>() <= INT64_MAX)) {
      out = n.get<std::int64_t>();
      return true;
    }
    return false;
  }
  template <class F>
  static bool items(const node& n, F& each) {
    if (!n.is_array()) return false;
    for (const node& item : n) each(item);
    return true;
  }
};

// simdjson On-Demand reads each value once, in document order: fields are taken as they come
// and matched against the same tables.
class simdjson_reader {
 public:
  using value = simdjson::ondemand::value;
  using object = simdjson::ondemand::object;

  simdjson_reader(kom::capture& out, dom_storage& storage) : out_(out), storage_(storage) {}

  bool read(simdjson::ondemand::document& doc) {
    out_ = kom::capture{};
    storage_.lines_used = storage_.shipping_used = storage_.identifiers_used = storage_.subscriptions_used = 0;
    object body;
    if (doc.get_object().get(body)) return false;
    const bool read_all = fields(body, [&](std::string_view key, value& v) {
      if (member(key, v, out_, capture_texts) || member(key, v, out_, capture_ints)) return;
      if (key == "order_lines") {
        const std::size_t start = storage_.lines_used;
        list(v, [&](object& o) { line(o); });
        out_.order_lines = {storage_.lines + start, storage_.lines_used - start};
      } else if (key == "shipping_info") {
        const std::size_t start = storage_.shipping_used;
        list(v, [&](object& o) { shipping(o); });
        out_.shipping_info = {storage_.shipping + start, storage_.shipping_used - start};
      } else if (key == "billing_address" || key == "shipping_address") {
        kom::address& a = key == "billing_address" ? out_.billing_address : out_.shipping_address;
        object o;
        if (v.get_object().get(o)) return void(ok_ = false);
        fields(o, [&](std::string_view k, value& av) { member(k, av, a, address_texts); });
      }
    });
    return read_all;
  }

 private:
  // Calls each(key, value) for every non-null field; false when the object could not be read.
  template <class F>
  bool fields(object& o, F&& each) {
    for (auto field : o) {
      std::string_view key;
      value v;
      if (field.unescaped_key().get(key) || field.value().get(v)) return ok_ = false;
      if (v.is_null()) continue;
      each(key, v);
      if (!ok_) return false;
    }
    return ok_;
  }

  // The value of `key` read into its member, when `members` has it (a text or an integer
  // table: simdjson's get() reads std::string_view and std::int64_t alike).
  template <class T, class Member, std::size_t N>
  bool member(std::string_view key, value& v, T& out, const Member (&members)[N]) {
    for (const auto& m : members) {
      if (key == m.key) {
        if (v.get(out.*m.field)) ok_ = false;
        return true;
      }
    }
    return false;
  }

  template <class F>
  void list(value& v, F&& each) {
    simdjson::ondemand::array a;
    if (v.get_array().get(a)) return void(ok_ = false);
    for (auto item : a) {
      object o;
      if (item.get_object().get(o)) return void(ok_ = false);
      each(o);
      if (!ok_) return;
    }
  }

  std::string_view token(value& v) {
    std::string_view s;
    if (v.get_string().get(s)) ok_ = false;
    return s;
  }

  void line(object& o) {
    if (storage_.lines_used == 16) return void(ok_ = false);
    kom::order_line& l = storage_.lines[storage_.lines_used++];
    l = {};
    fields(o, [&](std::string_view key, value& v) {
      if (member(key, v, l, line_texts) || member(key, v, l, line_ints)) return;
      for (const auto& m : line_optional_ints) {
        if (key == m.key) {
          std::int64_t n = 0;
          if (v.get_int64().get(n)) ok_ = false;
          l.*m.field = n;
          return;
        }
      }
      if (key == "type") {
        l.type = kom::order_line_type_from_string(token(v));
      } else if (key == "product_identifiers") {
        object ids;
        if (storage_.identifiers_used == 4 || v.get_object().get(ids)) return void(ok_ = false);
        kom::product_identifiers& p = storage_.identifiers[storage_.identifiers_used++];
        p = {};
        fields(ids, [&](std::string_view k, value& iv) { member(k, iv, p, identifier_texts); });
        l.product_identifiers = &p;
      } else if (key == "subscription") {
        object sub;
        if (storage_.subscriptions_used == 4 || v.get_object().get(sub)) return void(ok_ = false);
        kom::subscription& s = storage_.subscriptions[storage_.subscriptions_used++];
        s = {};
        fields(sub, [&](std::string_view k, value& sv) {
          if (member(k, sv, s, subscription_texts) || member(k, sv, s, subscription_ints)) return;
          if (k == "interval") s.interval = kom::subscription_interval_from_string(token(sv));
        });
        l.subscription = &s;
      }
    });
  }

  void shipping(object& o) {
    if (storage_.shipping_used == 4) return void(ok_ = false);
    kom::shipping_info& s = storage_.shipping[storage_.shipping_used++];
    s = {};
    fields(o, [&](std::string_view key, value& v) {
      if (member(key, v, s, shipping_texts)) return;
      if (key == "shipping_method") s.shipping_method = kom::shipping_method_from_string(token(v));
    });
  }

  kom::capture& out_;
  dom_storage& storage_;
  bool ok_ = true;
};

// ---- comparing two reads field by field ---------------------------------------------------------

template <class T, std::size_t N>
bool same_texts(const T& a, const T& b, const text_member<T> (&texts)[N]) {
  for (const auto& m : texts)
    if (a.*m.field != b.*m.field) return false;
  return true;
}
template <class T, std::size_t N>
bool same_ints(const T& a, const T& b, const int_member<T> (&ints)[N]) {
  for (const auto& m : ints)
    if (a.*m.field != b.*m.field) return false;
  return true;
}

bool same_line(const kom::order_line& a, const kom::order_line& b) {
  for (const auto& m : line_optional_ints)
    if (a.*m.field != b.*m.field) return false;
  if ((a.product_identifiers == nullptr) != (b.product_identifiers == nullptr)) return false;
  if (a.product_identifiers && !same_texts(*a.product_identifiers, *b.product_identifiers, identifier_texts)) return false;
  if ((a.subscription == nullptr) != (b.subscription == nullptr)) return false;
  if (a.subscription && (!same_texts(*a.subscription, *b.subscription, subscription_texts) ||
                         !same_ints(*a.subscription, *b.subscription, subscription_ints) ||
                         a.subscription->interval != b.subscription->interval))
    return false;
  return a.type == b.type && same_texts(a, b, line_texts) && same_ints(a, b, line_ints);
}

bool same_capture(const kom::capture& a, const kom::capture& b) {
  if (!same_texts(a, b, capture_texts) || !same_ints(a, b, capture_ints)) return false;
  if (!same_texts(a.billing_address, b.billing_address, address_texts) ||
      !same_texts(a.shipping_address, b.shipping_address, address_texts))
    return false;
  if (a.order_lines.size() != b.order_lines.size() || a.shipping_info.size() != b.shipping_info.size()) return false;
  for (std::size_t i = 0; i < a.order_lines.size(); ++i)
    if (!same_line(a.order_lines[i], b.order_lines[i])) return false;
  for (std::size_t i = 0; i < a.shipping_info.size(); ++i) {
    const auto &x = a.shipping_info[i], &y = b.shipping_info[i];
    if (!same_texts(x, y, shipping_texts) || x.shipping_method != y.shipping_method) return false;
  }
  return true;
}

struct parse_case {
  std::string body = kom_test::read_fixture("responses/capture.json");
  simdjson::padded_string padded{body};  // made once: On-Demand reads past the end

  parse_case() {
    kom::capture_storage<> storage;
    kom::capture expected;
    if (!kom::read_capture(body, expected, storage).ok()) fail_check("kom::read_capture failed on capture.json");
    if (expected.capture_id.empty() || expected.order_lines.size() != 1 || expected.shipping_info.size() != 1 ||
        expected.billing_address.city.empty())
      fail_check("kom::read_capture left fields of capture.json empty");

    dom_storage s;
    kom::capture got;
    const boost::json::value boost_doc = boost::json::parse(body);
    if (!dom_reader<boost_json_access>(got, s).read(boost_doc) || !same_capture(expected, got))
      fail_check("boost::json::parse + extraction read other values than kom");
    const nlohmann::json nlohmann_doc = nlohmann::json::parse(body);
    if (!dom_reader<nlohmann_access>(got, s).read(nlohmann_doc) || !same_capture(expected, got))
      fail_check("nlohmann::json::parse + extraction read other values than kom");
    simdjson::ondemand::parser parser;
    simdjson::ondemand::document doc;
    if (parser.iterate(padded).get(doc) || !simdjson_reader(got, s).read(doc) || !same_capture(expected, got))
      fail_check("simdjson On-Demand read other values than kom");
  }
};

const parse_case& parses() {
  static const parse_case c;
  return c;
}

// Times `read(case, capture, storage)`: the whole response read into `capture`, per iteration.
template <class Storage, class Read>
void time_read(benchmark::State& state, Read&& read) {
  const auto& c = parses();
  Storage storage;
  kom::capture capture;
  for (auto _ : state) {
    benchmark::DoNotOptimize(read(c, capture, storage));
    benchmark::DoNotOptimize(capture);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(c.body.size()));
}

void parse_kom(benchmark::State& state) {
  time_read<kom::capture_storage<>>(state, [](const parse_case& c, kom::capture& out, kom::capture_storage<>& storage) {
    return kom::read_capture(c.body, out, storage).ok();
  });
}
void parse_boost(benchmark::State& state) {
  time_read<dom_storage>(state, [](const parse_case& c, kom::capture& out, dom_storage& storage) {
    const boost::json::value doc = boost::json::parse(c.body);
    return dom_reader<boost_json_access>(out, storage).read(doc);
  });
}
// Boost.JSON without the heap: the DOM on a monotonic_resource over a stack buffer.
void parse_boost_monotonic(benchmark::State& state) {
  time_read<dom_storage>(state, [](const parse_case& c, kom::capture& out, dom_storage& storage) {
    unsigned char memory[8192];
    boost::json::monotonic_resource resource(memory, sizeof memory);
    const boost::json::value doc = boost::json::parse(c.body, &resource);
    return dom_reader<boost_json_access>(out, storage).read(doc);
  });
}
void parse_nlohmann(benchmark::State& state) {
  time_read<dom_storage>(state, [](const parse_case& c, kom::capture& out, dom_storage& storage) {
    const nlohmann::json doc = nlohmann::json::parse(c.body);
    return dom_reader<nlohmann_access>(out, storage).read(doc);
  });
}
void parse_simdjson(benchmark::State& state) {
  simdjson::ondemand::parser parser;  // reused, as On-Demand is meant to be used
  time_read<dom_storage>(state, [&parser](const parse_case& c, kom::capture& out, dom_storage& storage) {
    simdjson::ondemand::document doc;
    return !parser.iterate(c.padded).get(doc) && simdjson_reader(out, storage).read(doc);
  });
}

// ---- parsing a response head ---------------------------------------------------------------------

namespace http = boost::beast::http;

// The head of a fixture: its status line and headers up to and including the empty line.
std::string fixture_head(const char* name) {
  const std::string whole = kom_test::read_fixture(std::string("http/") + name);
  const auto end = whole.find("\r\n\r\n");
  if (end == std::string::npos) fail_check(std::string(name) + " has no head");
  return whole.substr(0, end + 4);
}

struct head_case {
  std::string head;

  explicit head_case(const char* name) : head(fixture_head(name)) {
    char buffer[2048];
    kom::http_response_parser parser(buffer);
    std::size_t used = 0;
    parser.feed(head.data(), head.size(), used);
    if (!parser.head_complete() || used != head.size()) fail_check(std::string("kom did not parse the head of ") + name);

    http::response_parser<http::empty_body> beast;
    boost::beast::error_code ec;
    const std::size_t beast_used = beast.put(boost::asio::buffer(head), ec);
    if (ec || !beast.is_header_done() || beast_used != head.size())
      fail_check(std::string("Beast did not parse the head of ") + name + ": " + ec.message());
    const auto& fields = beast.get();
    std::size_t count = 0;
    for (const auto& f : fields) {
      if (count >= parser.header_count() || f.name_string() != parser.header_name(count) ||
          f.value() != parser.header_value(count))
        fail_check(std::string("Beast and kom read other headers of ") + name);
      ++count;
    }
    if (static_cast<int>(fields.result_int()) != parser.status() || count != parser.header_count())
      fail_check(std::string("Beast and kom read another status or header count of ") + name);
  }
};

void head_kom(benchmark::State& state, const head_case& c) {
  char buffer[2048];
  for (auto _ : state) {
    kom::http_response_parser parser(buffer);
    std::size_t used = 0;
    benchmark::DoNotOptimize(parser.feed(c.head.data(), c.head.size(), used));
    benchmark::DoNotOptimize(parser.header_count());
    benchmark::ClobberMemory();
  }
}

void head_beast(benchmark::State& state, const head_case& c) {
  for (auto _ : state) {
    http::response_parser<http::empty_body> parser;
    boost::beast::error_code ec;
    benchmark::DoNotOptimize(parser.put(boost::asio::buffer(c.head), ec));
    benchmark::DoNotOptimize(parser.get().result_int());
    benchmark::ClobberMemory();
  }
}

const head_case& created_201() {
  static const head_case c("capture_created_201.http");
  return c;
}
const head_case& get_capture_200() {
  static const head_case c("get_capture_200.http");
  return c;
}

void head_201_kom(benchmark::State& state) { head_kom(state, created_201()); }
void head_201_beast(benchmark::State& state) { head_beast(state, created_201()); }
void head_200_kom(benchmark::State& state) { head_kom(state, get_capture_200()); }
void head_200_beast(benchmark::State& state) { head_beast(state, get_capture_200()); }

// Repeated, with the median kept: the machine may be shared.
void timed(benchmark::internal::Benchmark* b) { b->Repetitions(5)->ReportAggregatesOnly(true)->MinTime(0.2); }

}  // namespace

BENCHMARK(write_kom)->Name("write_capture/kom")->Apply(timed);
BENCHMARK(write_kom_writer_only)->Name("write_capture/kom_writer_only")->Apply(timed);
BENCHMARK(write_boost)->Name("write_capture/boost_json_static_resource")->Apply(timed);
BENCHMARK(write_nlohmann)->Name("write_capture/nlohmann_dump")->Apply(timed);
BENCHMARK(write_memcpy)->Name("write_capture/memcpy")->Apply(timed);
BENCHMARK(parse_kom)->Name("read_capture/kom")->Apply(timed);
BENCHMARK(parse_boost)->Name("read_capture/boost_json_parse_dom")->Apply(timed);
BENCHMARK(parse_boost_monotonic)->Name("read_capture/boost_json_parse_dom_monotonic_stack")->Apply(timed);
BENCHMARK(parse_nlohmann)->Name("read_capture/nlohmann_parse")->Apply(timed);
BENCHMARK(parse_simdjson)->Name("read_capture/simdjson_ondemand")->Apply(timed);
BENCHMARK(head_201_kom)->Name("head_capture_created_201/kom")->Apply(timed);
BENCHMARK(head_201_beast)->Name("head_capture_created_201/beast_response_parser")->Apply(timed);
BENCHMARK(head_200_kom)->Name("head_get_capture_200/kom")->Apply(timed);
BENCHMARK(head_200_beast)->Name("head_get_capture_200/beast_response_parser")->Apply(timed);

int main(int argc, char** argv) {
  // Every check before anything is timed.
  writes();
  parses();
  created_201();
  get_capture_200();

  kom_bench::summary_options options;
  options.interleave = true;
  options.goals = {
      {"write_capture", "boost_json_static_resource", 3},
      {"write_capture", "nlohmann_dump", 10},
      {"write_capture", "memcpy", 10, true},
      // The same goals for the writer alone: the alternatives validate nothing.
      {"write_capture", "boost_json_static_resource", 3, false, "kom_writer_only"},
      {"write_capture", "nlohmann_dump", 10, false, "kom_writer_only"},
      {"write_capture", "memcpy", 10, true, "kom_writer_only"},
      {"read_capture", "boost_json_parse_dom", 2},
      {"head_capture_created_201", "beast_response_parser", 1},
      {"head_get_capture_200", "beast_response_parser", 1},
  };
  return kom_bench::run_and_summarize(argc, argv, options);
}
