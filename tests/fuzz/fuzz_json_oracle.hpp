// Shared by the fuzz_json_*.cpp libFuzzer targets: what kom's readers must make of a body,
// worked out independently from Boost.JSON's DOM of it (boost::json::parse).
//
// An expected_* class walks the DOM the way kom's readers document their work: known keys in
// document order, null as absent, enum texts through kom's from_string, integers only when
// they fit int64, one shared text arena filled string after string, lists counted against
// the storage's capacities (an order read skips a list whose array the storage leaves null;
// a zero capacity is no room). It builds the kom model kom should produce (text views into the
// DOM's strings, cut where a lenient read cuts them) and notes every documented reason to
// refuse the body. judge() then holds kom's result to it, trapping on any difference:
//   - Boost.JSON refuses the body: kom must refuse it too.
//   - Otherwise kom refuses it exactly when the DOM shows a reason kom documents (a known
//     field of the wrong type, an integer outside int64, a list or text beyond the storage
//     unless truncation is allowed, nesting beyond KOM_JSON_READER_MAX_DEPTH, the parser's
//     fixed limits), with the code of the first such reason in document order or of a
//     parser limit; never json_syntax.
//   - When kom reads it, every value, list and `truncated` flag equals the expected one.
// A body that repeats a key in some object is judged less: the DOM keeps only the last value
// of a repeated key, while kom reads every one (a later null keeps an earlier value, messages
// add up, an earlier value may be of the wrong type or fill the storage). Then kom must still
// refuse what the DOM shows to be wrong (a strict read only: a lenient one may have skipped
// it), and may not call the body a syntax error; its values are not compared.
#ifndef KOM_TESTS_FUZZ_JSON_ORACLE_HPP
#define KOM_TESTS_FUZZ_JSON_ORACLE_HPP

#include <boost/json.hpp>
#include <boost/json/basic_parser_impl.hpp>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "fuzz_json_common.hpp"
#include "kom/json_readers.hpp"

namespace kom_fuzz {

namespace json = boost::json;

inline std::string_view view(json::string_view s) { return {s.data(), s.size()}; }

// ---- Boost.JSON's reading ------------------------------------------------------------------

// A handler for Boost.JSON's basic_parser that only notes whether an object repeats a key,
// which the DOM cannot tell (it keeps the last value).
class repeated_key_finder {
 public:
  static constexpr std::size_t max_object_size = std::size_t(-1);
  static constexpr std::size_t max_array_size = std::size_t(-1);
  static constexpr std::size_t max_key_size = std::size_t(-1);
  static constexpr std::size_t max_string_size = std::size_t(-1);
  using ec_t = json::error_code;
  using sv_t = json::string_view;

  bool found = false;

  bool on_document_begin(ec_t&) { return true; }
  bool on_document_end(ec_t&) { return true; }
  bool on_object_begin(ec_t&) {
    keys_.emplace_back();
    return true;
  }
  bool on_object_end(std::size_t, ec_t&) {
    keys_.pop_back();
    return true;
  }
  bool on_array_begin(ec_t&) { return true; }
  bool on_array_end(std::size_t, ec_t&) { return true; }
  bool on_key_part(sv_t s, std::size_t, ec_t&) {
    key_.append(s.data(), s.size());
    return true;
  }
  bool on_key(sv_t s, std::size_t, ec_t&) {
    key_.append(s.data(), s.size());
    found = found || !keys_.back().insert(key_).second;
    key_.clear();
    return true;
  }
  bool on_string_part(sv_t, std::size_t, ec_t&) { return true; }
  bool on_string(sv_t, std::size_t, ec_t&) { return true; }
  bool on_number_part(sv_t, ec_t&) { return true; }
  bool on_int64(std::int64_t, sv_t, ec_t&) { return true; }
  bool on_uint64(std::uint64_t, sv_t, ec_t&) { return true; }
  bool on_double(double, sv_t, ec_t&) { return true; }
  bool on_bool(bool, ec_t&) { return true; }
  bool on_null(ec_t&) { return true; }
  bool on_comment_part(sv_t, ec_t&) { return true; }
  bool on_comment(sv_t, ec_t&) { return true; }

 private:
  std::vector<std::set<std::string>> keys_;
  std::string key_;
};

// Boost.JSON's DOM of a body, read once per input.
class dom_reading {
 public:
  explicit dom_reading(std::string_view body) {
    json::parse_options options;
    options.max_depth = 64;  // deeper than kom's limit: what lies between, kom must refuse
    json::error_code ec;
    root_ = json::parse(json::string_view(body.data(), body.size()), ec, json::storage_ptr(), options);
    parsed_ = !ec;
    if (parsed_) {
      json::basic_parser<repeated_key_finder> finder(options);
      finder.write_some(false, body.data(), body.size(), ec);
      check(!ec);
      repeated_keys_ = finder.handler().found;
    }
  }

  bool parsed() const { return parsed_; }
  bool repeated_keys() const { return repeated_keys_; }
  const json::value& root() const { return root_; }

 private:
  json::value root_;
  bool parsed_ = false;
  bool repeated_keys_ = false;
};

// ---- expectations --------------------------------------------------------------------------

// One kind of item a read takes from the caller's storage: how many fit over the whole read,
// and whether it is read at all. read_order skips a list (or a line's object) whose array
// the storage leaves null, without truncation; the other readers find no room there.
struct pool {
  std::size_t capacity = 0;
  bool skipped = false;
  std::size_t used = 0;
};

template <class T>
pool pool_of(const T* items, std::size_t capacity, bool null_skips) {
  return {items != nullptr ? capacity : 0, null_skips && items == nullptr};
}

// Where a read's order lines, their product_identifiers and subscriptions go.
struct line_pools {
  pool lines, identifiers, subscriptions;
};

inline line_pools line_pools_of(const kom::capture_storage_ref& s) {
  return {pool_of(s.lines, s.lines_capacity, false), pool_of(s.identifiers, s.identifiers_capacity, false),
          pool_of(s.subscriptions, s.subscriptions_capacity, false)};
}

inline line_pools line_pools_of(const kom::order_storage_ref& s) {
  return {pool_of(s.lines, s.lines_capacity, true), pool_of(s.identifiers, s.identifiers_capacity, true),
          pool_of(s.subscriptions, s.subscriptions_capacity, true)};
}

// What one read (strict or lenient) of a parsed DOM must give: the refusal reasons found,
// and the bookkeeping every reader shares (the text arena, capacities, truncation).
class expected_reading {
 public:
  expected_reading(bool lenient, std::size_t text_capacity) : lenient_(lenient), text_capacity_(text_capacity) {}

  bool lenient() const { return lenient_; }
  bool must_fail() const { return (first_ | limits_) != 0; }
  // kom stops at the first reason in document order (the order of this walk), or at one of
  // the parser's limits, which hold anywhere, unknown fields included.
  bool allows(kom::errc c) const {
    return c >= kom::errc::json_syntax && c <= kom::errc::json_number_out_of_range && ((first_ | limits_) & bit(c)) != 0;
  }
  bool truncated() const { return truncated_; }

 protected:
  static std::uint32_t bit(kom::errc c) {
    return std::uint32_t{1} << (static_cast<int>(c) - static_cast<int>(kom::errc::json_syntax));
  }

  // A reason to refuse: `c`, or (`or_c`) either code.
  void refuse(kom::errc c, std::optional<kom::errc> or_c = std::nullopt) {
    if (first_ == 0) first_ = bit(c) | (or_c ? bit(*or_c) : 0);
  }
  void limit(kom::errc c) { limits_ |= bit(c); }

  // A reply that must be one JSON object: its members, after the parser's limits are noted;
  // null (and the refusal) for any other document.
  const json::object* root_object(const json::value& root) {
    parser_limits(root);
    if (root.is_object()) return &root.get_object();
    refuse(kom::errc::json_wrong_type);
    return nullptr;
  }

  // The parser's own limits hold over the whole document, known fields or not.
  void parser_limits(const json::value& v, std::size_t depth = 0) {
    using limits = kom::detail::json_reader_limits;
    if (v.is_array() || v.is_object()) {
      ++depth;
      if (depth > KOM_JSON_READER_MAX_DEPTH) limit(kom::errc::json_too_deep);
    }
    if (const json::string* s = v.if_string(); s && s->size() > limits::max_string) limit(kom::errc::json_text_overflow);
    if (const json::array* a = v.if_array()) {
      if (a->size() > limits::max_items) limit(kom::errc::json_too_many_items);
      for (const json::value& item : *a) parser_limits(item, depth);
    }
    if (const json::object* o = v.if_object()) {
      if (o->size() > limits::max_members) limit(kom::errc::json_too_many_items);
      for (const json::key_value_pair& m : *o) {
        if (m.key().size() > limits::max_key) limit(kom::errc::json_text_overflow);
        parser_limits(m.value(), depth);
      }
    }
  }

  // Something was dropped or cut: the lenient read says so, on the item being read if any.
  void cut() {
    truncated_ = true;
    if (item_truncated_ != nullptr) *item_truncated_ = true;
  }

  // One more item of a list of `capacity` (counted over the whole read). False when it is
  // skipped: a lenient read with no room. A strict read with no room is refused, and the
  // walk goes on to collect the other reasons kom may meet first.
  bool take(std::size_t& used, std::size_t capacity) {
    if (used < capacity) {
      ++used;
      return true;
    }
    if (lenient_) {
      cut();
      return false;
    }
    refuse(kom::errc::json_too_many_items);
    return true;
  }
  bool take(pool& p) { return take(p.used, p.capacity); }

  // A string kept in the text arena, as the read keeps it: whole, or (lenient) the longest
  // prefix that fits and ends at a UTF-8 character boundary.
  std::string_view keep(std::string_view s) {
    const std::size_t room = text_capacity_ - text_used_;
    if (s.size() <= room) {
      text_used_ += s.size();
      return s;
    }
    if (!lenient_) {
      refuse(kom::errc::json_text_overflow);
      text_used_ = text_capacity_;
      return s;
    }
    std::size_t n = room;
    while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
    text_used_ += n;
    cut();
    return s.substr(0, n);
  }

  // A known field's value, if it is one that kom stores: null is absent (false), another type
  // than `want` a refusal (false).
  bool is(const json::value& v, json::kind want) {
    if (v.is_null()) return false;
    if (v.kind() != want) {
      refuse(kom::errc::json_wrong_type);
      return false;
    }
    return true;
  }

  void text(std::string_view& out, const json::value& v) {
    if (is(v, json::kind::string)) out = keep(view(v.get_string()));
  }

  template <class E>
  void token(E& out, const json::value& v, E (*from_string)(std::string_view) noexcept) {
    if (is(v, json::kind::string)) out = from_string(view(v.get_string()));
  }

  // An amount: an integer within int64. Boost.JSON gives an integer above INT64_MAX as a
  // uint64, one beyond 64 bits as a double, like 1.5 or 1e2: kom tells those apart by the
  // number's text (out of range or wrong type), which the DOM no longer has.
  template <class Out>
  void integer(Out& out, const json::value& v) {
    switch (v.kind()) {
      case json::kind::null: return;
      case json::kind::int64: out = v.get_int64(); return;
      case json::kind::uint64: refuse(kom::errc::json_number_out_of_range); return;
      case json::kind::double_: refuse(kom::errc::json_wrong_type, kom::errc::json_number_out_of_range); return;
      default: refuse(kom::errc::json_wrong_type); return;
    }
  }

  // The object items of a known list; null items are skipped, others refused. False when the
  // value is null (absent) or not an array.
  template <class Each>
  bool objects(const json::value& v, Each each) {
    if (!is(v, json::kind::array)) return false;
    for (const json::value& item : v.get_array()) {
      if (item.is_null()) continue;
      if (item.is_object()) {
        each(item.get_object());
      } else {
        refuse(kom::errc::json_wrong_type);
      }
    }
    return true;
  }

  // A known list of objects whose items come from `p`, each one given to `each` unless it is
  // skipped for want of room. False when the value is null, not an array, or a list the read
  // skips whole (its items unlooked at: kom checks only that it is an array).
  template <class Each>
  bool pooled_list(const json::value& v, pool& p, Each each) {
    if (!is(v, json::kind::array) || p.skipped) return false;
    objects(v, [&](const json::object& o) {
      if (take(p)) each(o);
    });
    return true;
  }

  // A known single object from `p`: true when it is read.
  bool pooled_object(const json::value& v, pool& p) { return is(v, json::kind::object) && !p.skipped && take(p); }

  // A list's items, kept at stable addresses for the model's views.
  template <class T>
  static kom::list_view<T> keep_list(std::deque<std::vector<T>>& store, std::vector<T>&& items) {
    const std::vector<T>& kept = store.emplace_back(std::move(items));
    return {kept.data(), kept.size()};
  }

  bool* item_truncated_ = nullptr;

 private:
  bool lenient_;
  std::size_t text_capacity_;
  std::size_t text_used_ = 0;
  std::uint32_t first_ = 0;   // the code(s) of the first reason met
  std::uint32_t limits_ = 0;  // codes of the parser's limits exceeded
  bool truncated_ = false;
};

// The walks below spell out every key kom reads, while same() compares every field that
// kom/fields.hpp describes: a field added there fails here until its key is added below too.
static_assert(kom::field_count<kom::order_line>() == 15 && kom::field_count<kom::product_identifiers>() == 6 &&
                  kom::field_count<kom::subscription>() == 3 && kom::field_count<kom::shipping_info>() == 7 &&
                  kom::field_count<kom::address>() == 13 && kom::field_count<kom::capture>() == 11 &&
                  kom::field_count<kom::order_capture>() == 6 && kom::field_count<kom::refund>() == 6 &&
                  kom::field_count<kom::order_refund>() == 5 && kom::field_count<kom::payment_method>() == 3 &&
                  kom::field_count<kom::order>() == 20,
              "a described field is missing from the oracle's walks");

// Order lines, as captures, refunds and orders hold them: lines, product_identifiers and
// subscriptions are each counted over the whole read.
class expected_lines : public expected_reading {
 protected:
  expected_lines(bool lenient, std::size_t text_capacity, const line_pools& p)
      : expected_reading(lenient, text_capacity), pools_(p) {}

  // A known `order_lines`: when it is a list that is read, `out` views the lines kept.
  void order_lines(kom::list_view<kom::order_line>& out, const json::value& v) {
    std::vector<kom::order_line> lines;
    if (pooled_list(v, pools_.lines, [&](const json::object& o) { order_line(o, lines.emplace_back()); })) {
      out = keep_list(lines_, std::move(lines));
    }
  }

 private:
  void order_line(const json::object& o, kom::order_line& l) {
    for (const json::key_value_pair& m : o) {
      const std::string_view k = view(m.key());
      const json::value& v = m.value();
      if (k == "type") token(l.type, v, &kom::order_line_type_from_string);
      else if (k == "reference") text(l.reference, v);
      else if (k == "name") text(l.name, v);
      else if (k == "quantity") integer(l.quantity, v);
      else if (k == "quantity_unit") text(l.quantity_unit, v);
      else if (k == "unit_price") integer(l.unit_price, v);
      else if (k == "tax_rate") integer(l.tax_rate, v);
      else if (k == "total_amount") integer(l.total_amount, v);
      else if (k == "total_discount_amount") integer(l.total_discount_amount, v);
      else if (k == "total_tax_amount") integer(l.total_tax_amount, v);
      else if (k == "merchant_data") text(l.merchant_data, v);
      else if (k == "product_url") text(l.product_url, v);
      else if (k == "image_url") text(l.image_url, v);
      else if (k == "product_identifiers") product_identifiers(l, v);
      else if (k == "subscription") subscription(l, v);
    }
  }

  void product_identifiers(kom::order_line& l, const json::value& v) {
    if (!pooled_object(v, pools_.identifiers)) return;
    kom::product_identifiers& p = identifiers_.emplace_back();
    for (const json::key_value_pair& m : v.get_object()) {
      const std::string_view k = view(m.key());
      const json::value& x = m.value();
      if (k == "brand") text(p.brand, x);
      else if (k == "category_path") text(p.category_path, x);
      else if (k == "global_trade_item_number") text(p.global_trade_item_number, x);
      else if (k == "manufacturer_part_number") text(p.manufacturer_part_number, x);
      else if (k == "color") text(p.color, x);
      else if (k == "size") text(p.size, x);
    }
    l.product_identifiers = &p;
  }

  void subscription(kom::order_line& l, const json::value& v) {
    if (!pooled_object(v, pools_.subscriptions)) return;
    kom::subscription& s = subscriptions_.emplace_back();
    for (const json::key_value_pair& m : v.get_object()) {
      const std::string_view k = view(m.key());
      const json::value& x = m.value();
      if (k == "name") text(s.name, x);
      else if (k == "interval") token(s.interval, x, &kom::subscription_interval_from_string);
      else if (k == "interval_count") integer(s.interval_count, x);
    }
    l.subscription = &s;
  }

  line_pools pools_;
  // Stable addresses, as the model's views and pointers need.
  std::deque<std::vector<kom::order_line>> lines_;
  std::deque<kom::product_identifiers> identifiers_;
  std::deque<kom::subscription> subscriptions_;
};

// read_capture and read_captures.
class expected_captures : public expected_lines {
 public:
  expected_captures(bool lenient, const kom::capture_storage_ref& s)
      : expected_lines(lenient, s.text_capacity, line_pools_of(s)),
        shipping_(pool_of(s.shipping, s.shipping_capacity, false)) {}

  // read_capture: the body must be an object.
  kom::capture one(const json::value& root) {
    kom::capture c;
    if (const json::object* o = root_object(root)) capture(*o, c);
    return c;
  }

  // read_captures into `capacity` items: the body must be an array of captures.
  std::deque<kom::capture> list(const json::value& root, std::size_t capacity) {
    parser_limits(root);
    std::deque<kom::capture> out;
    std::size_t used = 0;
    if (!root.is_array()) {
      refuse(kom::errc::json_wrong_type);
      return out;
    }
    objects(root, [&](const json::object& o) {
      if (take(used, capacity)) capture(o, out.emplace_back());
    });
    return out;
  }

 private:
  void capture(const json::object& o, kom::capture& c) {
    item_truncated_ = &c.truncated;
    for (const json::key_value_pair& m : o) {
      const std::string_view k = view(m.key());
      const json::value& v = m.value();
      if (k == "capture_id") text(c.capture_id, v);
      else if (k == "klarna_reference") text(c.klarna_reference, v);
      else if (k == "captured_amount") integer(c.captured_amount, v);
      else if (k == "captured_at") text(c.captured_at, v);
      else if (k == "description") text(c.description, v);
      else if (k == "reference") text(c.reference, v);
      else if (k == "refunded_amount") integer(c.refunded_amount, v);
      else if (k == "order_lines") order_lines(c.order_lines, v);
      else if (k == "shipping_info") shipping_info(c, v);
      else if (k == "billing_address") address(c.billing_address, v);
      else if (k == "shipping_address") address(c.shipping_address, v);
    }
    item_truncated_ = nullptr;
  }

  void shipping_info(kom::capture& c, const json::value& v) {
    std::vector<kom::shipping_info> entries;
    const bool read = pooled_list(v, shipping_, [&](const json::object& o) {
      kom::shipping_info& i = entries.emplace_back();
      for (const json::key_value_pair& m : o) {
        const std::string_view k = view(m.key());
        const json::value& x = m.value();
        if (k == "shipping_company") text(i.shipping_company, x);
        else if (k == "shipping_method") token(i.shipping_method, x, &kom::shipping_method_from_string);
        else if (k == "tracking_number") text(i.tracking_number, x);
        else if (k == "tracking_uri") text(i.tracking_uri, x);
        else if (k == "return_shipping_company") text(i.return_shipping_company, x);
        else if (k == "return_tracking_number") text(i.return_tracking_number, x);
        else if (k == "return_tracking_uri") text(i.return_tracking_uri, x);
      }
    });
    if (read) c.shipping_info = keep_list(shipping_lists_, std::move(entries));
  }

  // Held by value: each appearance starts it afresh.
  void address(kom::address& a, const json::value& v) {
    if (!is(v, json::kind::object)) return;
    a = kom::address{};
    for (const json::key_value_pair& m : v.get_object()) {
      const std::string_view k = view(m.key());
      const json::value& x = m.value();
      if (k == "given_name") text(a.given_name, x);
      else if (k == "family_name") text(a.family_name, x);
      else if (k == "title") text(a.title, x);
      else if (k == "street_address") text(a.street_address, x);
      else if (k == "street_address2") text(a.street_address2, x);
      else if (k == "postal_code") text(a.postal_code, x);
      else if (k == "city") text(a.city, x);
      else if (k == "region") text(a.region, x);
      else if (k == "country") text(a.country, x);
      else if (k == "email") text(a.email, x);
      else if (k == "phone") text(a.phone, x);
      else if (k == "organization_name") text(a.organization_name, x);
      else if (k == "attention") text(a.attention, x);
    }
  }

  pool shipping_;
  std::deque<std::vector<kom::shipping_info>> shipping_lists_;
};

// read_refund: the body must be an object. Anything cut or dropped in it marks the refund.
class expected_refund : public expected_lines {
 public:
  expected_refund(bool lenient, const kom::capture_storage_ref& s)
      : expected_lines(lenient, s.text_capacity, line_pools_of(s)) {}

  kom::refund read(const json::value& root) {
    kom::refund r;
    const json::object* o = root_object(root);
    if (o == nullptr) return r;
    item_truncated_ = &r.truncated;
    for (const json::key_value_pair& m : *o) {
      const std::string_view k = view(m.key());
      const json::value& v = m.value();
      if (k == "refund_id") text(r.refund_id, v);
      else if (k == "refunded_amount") integer(r.refunded_amount, v);
      else if (k == "refunded_at") text(r.refunded_at, v);
      else if (k == "description") text(r.description, v);
      else if (k == "reference") text(r.reference, v);
      else if (k == "order_lines") order_lines(r.order_lines, v);
    }
    item_truncated_ = nullptr;
    return r;
  }
};

// read_order. Only the order as a whole says what was cut (order::truncated).
class expected_order : public expected_lines {
 public:
  expected_order(bool lenient, const kom::order_storage_ref& s)
      : expected_lines(lenient, s.text_capacity, line_pools_of(s)),
        captures_(pool_of(s.captures, s.captures_capacity, true)),
        refunds_(pool_of(s.refunds, s.refunds_capacity, true)) {}

  kom::order read(const json::value& root) {
    kom::order out;
    const json::object* o = root_object(root);
    if (o == nullptr) return out;
    for (const json::key_value_pair& m : *o) {
      const std::string_view k = view(m.key());
      const json::value& v = m.value();
      if (k == "order_id") text(out.order_id, v);
      else if (k == "status") status(out.status_text, out.status, v, &kom::order_status_from_string);
      else if (k == "fraud_status") status(out.fraud_status_text, out.fraud_status, v, &kom::fraud_status_from_string);
      else if (k == "order_amount") integer(out.order_amount, v);
      else if (k == "original_order_amount") integer(out.original_order_amount, v);
      else if (k == "captured_amount") integer(out.captured_amount, v);
      else if (k == "refunded_amount") integer(out.refunded_amount, v);
      else if (k == "remaining_authorized_amount") integer(out.remaining_authorized_amount, v);
      else if (k == "purchase_currency") text(out.purchase_currency, v);
      else if (k == "expires_at") text(out.expires_at, v);
      else if (k == "captures") captures(out, v);
      else if (k == "klarna_reference") text(out.klarna_reference, v);
      else if (k == "merchant_reference1") text(out.merchant_reference1, v);
      else if (k == "merchant_reference2") text(out.merchant_reference2, v);
      else if (k == "created_at") text(out.created_at, v);
      else if (k == "locale") text(out.locale, v);
      else if (k == "purchase_country") text(out.purchase_country, v);
      else if (k == "order_lines") order_lines(out.order_lines, v);
      else if (k == "refunds") refunds(out, v);
      else if (k == "initial_payment_method") payment_method(out.initial_payment_method, v);
    }
    return out;
  }

 private:
  // A status is kept as text too; its enum is that of the text kept (a cut text included).
  template <class E>
  void status(std::string_view& text_out, E& out, const json::value& v, E (*from_string)(std::string_view) noexcept) {
    if (!is(v, json::kind::string)) return;
    text_out = keep(view(v.get_string()));
    out = from_string(text_out);
  }

  void captures(kom::order& out, const json::value& v) {
    std::vector<kom::order_capture> items;
    const bool read = pooled_list(v, captures_, [&](const json::object& o) {
      kom::order_capture& c = items.emplace_back();
      for (const json::key_value_pair& m : o) {
        const std::string_view k = view(m.key());
        const json::value& x = m.value();
        if (k == "capture_id") text(c.capture_id, x);
        else if (k == "klarna_reference") text(c.klarna_reference, x);
        else if (k == "reference") text(c.reference, x);
        else if (k == "captured_amount") integer(c.captured_amount, x);
        else if (k == "refunded_amount") integer(c.refunded_amount, x);
        else if (k == "captured_at") text(c.captured_at, x);
      }
    });
    if (read) out.captures = keep_list(capture_lists_, std::move(items));
  }

  // An order's refunds are ids, amounts and texts; their order_lines are not read.
  void refunds(kom::order& out, const json::value& v) {
    std::vector<kom::order_refund> items;
    const bool read = pooled_list(v, refunds_, [&](const json::object& o) {
      kom::order_refund& r = items.emplace_back();
      for (const json::key_value_pair& m : o) {
        const std::string_view k = view(m.key());
        const json::value& x = m.value();
        if (k == "refund_id") text(r.refund_id, x);
        else if (k == "refunded_amount") integer(r.refunded_amount, x);
        else if (k == "refunded_at") text(r.refunded_at, x);
        else if (k == "description") text(r.description, x);
        else if (k == "reference") text(r.reference, x);
      }
    });
    if (read) out.refunds = keep_list(refund_lists_, std::move(items));
  }

  // Held by value: each appearance starts it afresh; it takes nothing from the storage.
  void payment_method(kom::payment_method& p, const json::value& v) {
    if (!is(v, json::kind::object)) return;
    p = kom::payment_method{};
    for (const json::key_value_pair& m : v.get_object()) {
      const std::string_view k = view(m.key());
      const json::value& x = m.value();
      if (k == "type") text(p.type, x);
      else if (k == "description") text(p.description, x);
      else if (k == "number_of_installments") integer(p.number_of_installments, x);
    }
  }

  pool captures_, refunds_;
  std::deque<std::vector<kom::order_capture>> capture_lists_;
  std::deque<std::vector<kom::order_refund>> refund_lists_;
};

// read_error_body.
class expected_error_body : public expected_reading {
 public:
  expected_error_body(bool lenient, const kom::error_body_storage_ref& s)
      : expected_reading(lenient, s.text_capacity), capacity_(s.messages_capacity) {}

  kom::error_body read(const json::value& root) {
    kom::error_body out;
    const json::object* o = root_object(root);
    if (o == nullptr) return out;
    for (const json::key_value_pair& m : *o) {
      const std::string_view k = view(m.key());
      const json::value& v = m.value();
      if (k == "error_code") {
        if (is(v, json::kind::string)) {
          out.error_code_text = keep(view(v.get_string()));
          out.error_code = kom::klarna_error_code_from_string(out.error_code_text);
        }
      } else if (k == "error_messages" || k == "error_message") {
        // One string or an array of them; both keys add to one list, in document order.
        if (v.is_string()) {
          message(v);
        } else if (v.is_array()) {
          for (const json::value& item : v.get_array()) {
            if (!item.is_null()) message(item);
          }
        } else if (!v.is_null()) {
          refuse(kom::errc::json_wrong_type);
        }
      } else if (k == "correlation_id") {
        text(out.correlation_id, v);
      } else if (k == "service_version") {
        text(out.service_version, v);
      }
    }
    out.error_messages = {messages_.data(), messages_.size()};
    return out;
  }

 private:
  void message(const json::value& v) {
    if (!v.is_string()) return refuse(kom::errc::json_wrong_type);
    if (take(used_, capacity_)) messages_.push_back(keep(view(v.get_string())));
  }

  std::size_t capacity_;
  std::size_t used_ = 0;
  std::vector<std::string_view> messages_;
};

// ---- comparing kom's model with the expected one -------------------------------------------

// Every field of the described types compared through kom/fields.hpp, so a field added
// there is compared too (its value still comes from this file's own DOM reading above).
// The descriptions must then name each member once: one that named a member twice (a key
// read into the wrong member) would also leave the right member uncompared.
template <class T>
constexpr bool members_distinct() {
  bool distinct = true;
  std::size_t i = 0;
  kom::fields_of<T>::visit([&](const auto& a) {
    std::size_t j = 0;
    kom::fields_of<T>::visit([&](const auto& b) {
      if constexpr (std::is_same_v<decltype(a.member), decltype(b.member)>) {
        if (j > i && a.member == b.member) distinct = false;
      }
      ++j;
    });
    ++i;
  });
  return distinct;
}
static_assert(members_distinct<kom::order_line>() && members_distinct<kom::product_identifiers>() &&
                  members_distinct<kom::subscription>() && members_distinct<kom::shipping_info>() &&
                  members_distinct<kom::address>() && members_distinct<kom::capture>() &&
                  members_distinct<kom::order_capture>() && members_distinct<kom::refund>() &&
                  members_distinct<kom::order_refund>() && members_distinct<kom::payment_method>() &&
                  members_distinct<kom::order>(),
              "a described member is named twice: same() would not compare every member");

template <class T>
void same_object(const T& a, const T& b);

template <class T, class D>
void same_field(const T& a, const T& b, const D& d) {
  if constexpr (D::kind == kom::field_kind::object) {
    check((a.*d.member == nullptr) == (b.*d.member == nullptr));
    if (a.*d.member != nullptr) same_object(*(a.*d.member), *(b.*d.member));
  } else if constexpr (D::kind == kom::field_kind::embedded) {
    same_object(a.*d.member, b.*d.member);
  } else if constexpr (D::kind == kom::field_kind::list) {
    check((a.*d.member).size() == (b.*d.member).size());
    for (std::size_t i = 0; i < (a.*d.member).size(); ++i) same_object((a.*d.member)[i], (b.*d.member)[i]);
  } else if constexpr (D::kind == kom::field_kind::enumeration) {
    check(a.*d.member == b.*d.member);
    if (d.text != nullptr) check(a.*d.text == b.*d.text);
  } else {
    check(a.*d.member == b.*d.member);
  }
}

template <class T>
void same_object(const T& a, const T& b) {
  kom::fields_of<T>::visit([&](const auto& d) { same_field(a, b, d); });
}

inline void same(const kom::capture& a, const kom::capture& b) {
  same_object(a, b);
  check(a.truncated == b.truncated);
}

// An order's lists, its lines' objects and its initial_payment_method included; its
// `truncated` is judge()'s.
inline void same(const kom::order& a, const kom::order& b) { same_object(a, b); }

inline void same(const kom::refund& a, const kom::refund& b) {
  same_object(a, b);
  check(a.truncated == b.truncated);
}

inline void same(const kom::error_body& a, const kom::error_body& b) {
  check(a.error_code == b.error_code && a.error_code_text == b.error_code_text);
  check(a.error_messages.size() == b.error_messages.size());
  for (std::size_t i = 0; i < a.error_messages.size(); ++i) check(a.error_messages[i] == b.error_messages[i]);
  check(a.correlation_id == b.correlation_id && a.service_version == b.service_version);
}

// Holds kom's verdict `e` on a body (and, when it read it, its values: `compare_values()`,
// and its `truncated` flag) to what the DOM says; see the top of this header.
template <class CompareValues>
void judge(const dom_reading& dom, const expected_reading& x, const kom::error& e, bool truncated,
           CompareValues compare_values) {
  if (!dom.parsed()) return check(!e.ok());
  if (dom.repeated_keys()) {
    check(e.code() != kom::errc::json_syntax);
    if (!x.lenient() && x.must_fail()) check(!e.ok());
    return;
  }
  check(e.ok() == !x.must_fail());
  if (!e.ok()) return check(x.allows(e.code()));
  check(truncated == x.truncated());
  compare_values();
}

}  // namespace kom_fuzz

#endif
