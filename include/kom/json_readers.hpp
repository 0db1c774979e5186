// kom/json_readers.hpp: Klarna's JSON answers read into kom's response model, without heap.
//
//   kom::capture_storage<> storage;          // capacities are named: kom::capacity::lines<4>, ...
//   kom::capture capture;
//   if (kom::error e = kom::read_capture(body, capture, storage); !e.ok()) { ... e.path() ... }
//
// Each reader runs Boost.JSON's SAX parser (basic_parser) once over the whole body, which
// must be complete in memory: fed whole, the parser never suspends and allocates nothing.
// Boost.JSON's compiled part comes from kom/src.hpp, included in exactly one translation unit.
// The keys of captures, refunds and orders, and where their values go, come from kom/fields.hpp; the
// error body's reader is written out here (two keys feed one list of messages).
//
// Common to all readers (allocations: none; all noexcept):
// - Unknown keys are skipped with their values, objects and arrays included, at any depth.
// - Enum texts kom does not know, and empty ones, read as `unknown`; never a failure.
// - null for a known field means absent: the field keeps its default.
// - Errors name the field, e.g. "order_lines[3].name" (kom::error::path()):
//     json_syntax               not JSON, or more than one document; detail = byte offset
//     json_too_deep             nested deeper than KOM_JSON_READER_MAX_DEPTH; detail = limit
//     json_wrong_type           a known field holding another JSON type ("6000" or 6000.5 for
//                               an amount), or a body that is not the expected object/array
//     json_number_out_of_range  an integer outside int64
//     json_too_many_items       a list longer than its storage; detail = capacity
//     json_text_overflow        text beyond the storage's text bytes; detail = capacity
//   A key longer than 255 bytes or a string longer than 65535 bytes (even in an unknown field)
//   gives json_text_overflow, an array over 65535 items or an object over 1024 members
//   json_too_many_items: the parser's fixed limits (detail::json_reader_limits).
// - With read_options::allow_truncation, "no room" is not an error: items that do not fit
//   are skipped, text is cut at a UTF-8 character boundary, and `truncated` is set.
// - On an error the output holds what was read before it; do not use it.
// - Stack: a read takes at most 1,488 bytes on a Cortex-M4 (read_order, scripts/footprint),
//   Boost.JSON's buffer for strings with escapes included (BOOST_JSON_STACK_BUFFER_SIZE: 256
//   bytes on non-x86 targets, 4 KB on x86).
// - Time: one pass over the body; each key is compared with the few keys of its object.
#ifndef KOM_JSON_READERS_HPP
#define KOM_JSON_READERS_HPP

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <utility>

#include "kom/detail/sax_reader.hpp"
#include "kom/error.hpp"
#include "kom/fields.hpp"
#include "kom/model.hpp"
#include "kom/response_model.hpp"

namespace kom {

/// How a reader treats a body that does not fit the caller's storage.
struct read_options {
  /// false (default): more items than a list holds, or more text than the storage holds, is
  /// an error naming the field. true: keep what fits, cut text at a UTF-8 character
  /// boundary, and set `truncated` on the result.
  bool allow_truncation = false;
  /// false (default): a storage array that is null has no room, like a full one. true: the
  /// lists and nested objects whose array is null are skipped, not read and not truncated
  /// (a listing read only for its ids, references and amounts). read_order always skips them.
  bool skip_lists_without_storage = false;
};

namespace detail {

// ---- described types (captures, orders) -------------------------------------------------------
// The keys each reader knows come from kom/fields.hpp: a table per type, made at compile time.

template <class T>
struct type_tag {
  using type = T;
};

// Calls f(type_tag<T>{}) for the response type numbered `t`; nothing for any other.
template <class F>
void with_read_type(model_type t, F&& f) noexcept {
  switch (t) {
    case model_type::capture: return f(type_tag<capture>{});
    case model_type::order_line: return f(type_tag<order_line>{});
    case model_type::product_identifiers: return f(type_tag<product_identifiers>{});
    case model_type::subscription: return f(type_tag<subscription>{});
    case model_type::shipping_info: return f(type_tag<shipping_info>{});
    case model_type::address: return f(type_tag<address>{});
    case model_type::order: return f(type_tag<order>{});
    case model_type::order_capture: return f(type_tag<order_capture>{});
    case model_type::refund: return f(type_tag<refund>{});
    case model_type::order_refund: return f(type_tag<order_refund>{});
    case model_type::payment_method: return f(type_tag<payment_method>{});
    default: return;
  }
}

// A field's key as the SAX reader sees it: its slot, and its child node or field number.
struct make_json_field {
  using entry_type = json_field;
  template <class D>
  static constexpr json_field entry(const D& d, std::size_t index) noexcept {
    json_field f{d.name, json_slot::text, static_cast<std::uint8_t>(index), static_cast<std::uint8_t>(index)};
    if constexpr (D::kind == field_kind::enumeration) {
      f.slot = d.text != nullptr ? json_slot::text : json_slot::token;  // the text is kept only where asked
    } else if constexpr (D::kind == field_kind::integer || D::kind == field_kind::optional_integer) {
      f.slot = json_slot::integer;
    } else if constexpr (holds_objects(D::kind)) {
      f.slot = D::kind == field_kind::list ? json_slot::object_list : json_slot::object;
      f.id = static_cast<std::uint8_t>(fields_of<child_of<D>>::type);
    }
    return f;
  }
};

// T's keys as the SAX reader sees them.
template <class T>
using json_table = field_table<T, make_json_field>;

// Where the objects a read creates go, by type.
struct read_pools {
  item_pool<capture> captures;
  item_pool<order_line> lines;
  item_pool<shipping_info> shipping;
  item_pool<product_identifiers> identifiers;
  item_pool<subscription> subscriptions;
  item_pool<order_capture> order_captures;
  item_pool<order_refund> order_refunds;

  item_pool<capture>& of(type_tag<capture>) noexcept { return captures; }
  item_pool<order_line>& of(type_tag<order_line>) noexcept { return lines; }
  item_pool<shipping_info>& of(type_tag<shipping_info>) noexcept { return shipping; }
  item_pool<product_identifiers>& of(type_tag<product_identifiers>) noexcept { return identifiers; }
  item_pool<subscription>& of(type_tag<subscription>) noexcept { return subscriptions; }
  item_pool<order_capture>& of(type_tag<order_capture>) noexcept { return order_captures; }
  item_pool<order_refund>& of(type_tag<order_refund>) noexcept { return order_refunds; }
  template <class T>
  item_pool<T>* find(type_tag<T> t) noexcept {
    if constexpr (std::is_same_v<T, address> || std::is_same_v<T, order> || std::is_same_v<T, refund> ||
                  std::is_same_v<T, payment_method>) {
      (void)t;
      return nullptr;  // held by value or the root: no pool
    } else {
      return &of(t);
    }
  }
};

// Places values by the descriptions: one schema for every described response. The root is
// one object (`root`) or, with `root` null, a list whose items come from the pool of `type`.
// `skip_unasked`: a list or object whose pool has no array is skipped (an order read for its
// amounts); otherwise it has no room, like a full one.
class described_schema {
 public:
  described_schema(model_type type, void* root, const read_pools& pools, bool skip_unasked = false) noexcept
      : root_type_(type), root_(root), pools_(pools), skip_unasked_(skip_unasked) {}

  json_field root() const noexcept {
    return {"", root_ != nullptr ? json_slot::object : json_slot::object_list, static_cast<std::uint8_t>(root_type_), 0};
  }

  list_view<json_field> fields(std::uint8_t node) const noexcept {
    list_view<json_field> out;
    with_read_type(static_cast<model_type>(node), [&](auto tag) {
      using T = typename decltype(tag)::type;
      out = list_view<json_field>(json_table<T>::table.items, json_table<T>::size);
    });
    return out;
  }

  std::size_t capacity(const json_field& f) const noexcept {
    std::size_t n = 0;
    with_read_type(static_cast<model_type>(f.id), [&](auto tag) {
      if (auto* pool = pools_.find(tag)) n = pool->capacity;
    });
    return n;
  }

  json_open open_object(const json_field& f) noexcept {
    if (depth_ == max_depth) return json_open::no_room;  // not reached: deeper than any description
    if (depth_ == 0) {
      if (root_ != nullptr) return push(root_type_, root_);
      json_open opened = json_open::no_room;
      with_read_type(root_type_, [&](auto tag) {
        using T = typename decltype(tag)::type;
        if (auto* pool = pools_.find(tag)) {
          if (T* item = pool->take(1)) {
            *item = T{};
            opened = push(root_type_, item);
          }
        }
      });
      return opened;
    }
    if (!asked_for(f)) return json_open::skipped;
    return on_field(f, event{event::open, {}, 0}) ? json_open::opened : json_open::no_room;
  }

  void close_object(const json_field&) noexcept {
    if (depth_ != 0) --depth_;
  }

  // A list that appears again replaces the earlier one, as a repeated field would.
  bool open_list(const json_field& f) noexcept {
    if (depth_ == 0) return true;  // the root list: items come from the pool in order
    if (!asked_for(f)) return false;
    on_field(f, event{event::list, {}, 0});
    return true;
  }
  void close_list(const json_field&) noexcept {}
  bool open_text_item(const json_field&) noexcept { return false; }  // no text lists in these types

  void text(const json_field& f, std::string_view v) noexcept { on_field(f, event{event::text, v, 0}); }
  void integer(const json_field& f, std::int64_t v) noexcept { on_field(f, event{event::integer, {}, v}); }

  // Something of the capture or refund being read was dropped or cut.
  void mark_truncated() noexcept {
    for (std::size_t i = depth_; i-- > 0;) {
      if (frames_[i].type == model_type::capture) {
        static_cast<capture*>(frames_[i].object)->truncated = true;
        return;
      }
      if (frames_[i].type == model_type::refund) {
        static_cast<refund*>(frames_[i].object)->truncated = true;
        return;
      }
    }
  }

  // Items taken from the root list's pool.
  std::size_t root_items() noexcept {
    std::size_t n = 0;
    with_read_type(root_type_, [&](auto tag) {
      if (auto* pool = pools_.find(tag)) n = pool->used;
    });
    return n;
  }

 private:
  static constexpr std::size_t max_depth = json_reader_limits::max_known_depth;

  // What happens to a field: a value for it, or one of its objects or lists begins.
  struct event {
    enum kind_t : std::uint8_t { text, integer, open, list } kind;
    std::string_view text_value;
    std::int64_t integer_value;
  };

  struct frame;
  // One small function per field of a type, made at compile time from its descriptor: the
  // reader looks the field up by number instead of walking the description (a walk per
  // value, for every type, cost about 4 KB of flash on a Cortex-M4).
  using field_fn = bool (*)(described_schema& self, frame& owner, const event& e) noexcept;

  struct frame {
    model_type type;
    void* object;
    std::size_t list_start;   // in its pool, the first item of the list being read in this object
    const field_fn* fields;   // its fields' functions
    std::size_t field_count;
  };

  template <class T>
  struct field_fns {
    template <std::size_t I>
    static bool on(described_schema& self, frame& owner, const event& e) noexcept {
      constexpr const auto& d = std::get<I>(fields_of<T>::fields);
      using D = std::decay_t<decltype(d)>;
      T& o = *static_cast<T*>(owner.object);
      if constexpr (D::kind == field_kind::text) {
        if (e.kind == event::text) o.*d.member = e.text_value;
      } else if constexpr (D::kind == field_kind::enumeration) {
        if (e.kind != event::text) return false;
        o.*d.member = enum_from_spelling<typename D::enum_type>(e.text_value);
        if constexpr (d.text != nullptr) o.*d.text = e.text_value;
      } else if constexpr (D::kind == field_kind::integer || D::kind == field_kind::optional_integer) {
        if (e.kind == event::integer) o.*d.member = e.integer_value;
      } else {
        if (e.kind == event::open) return self.open_child(o, d, owner.list_start);
        if constexpr (D::kind == field_kind::list) {
          if (e.kind == event::list) {
            if (auto* pool = self.pools_.find(type_tag<child_of<D>>{})) owner.list_start = pool->used;
            o.*d.member = {};
          }
        }
      }
      return false;
    }
    template <std::size_t... I>
    static constexpr auto make(std::index_sequence<I...>) noexcept {
      struct table {
        field_fn items[sizeof...(I)];
      };
      return table{{&on<I>...}};
    }
    static constexpr auto table = make(std::make_index_sequence<field_count<T>()>{});
  };

  bool on_field(const json_field& f, const event& e) noexcept {
    if (depth_ == 0) return false;
    frame& top = frames_[depth_ - 1];
    return f.index < top.field_count && top.fields[f.index](*this, top, e);
  }

  json_open push(model_type type, void* object) noexcept {
    frame f{type, object, 0, nullptr, 0};
    with_read_type(type, [&](auto tag) {
      using T = typename decltype(tag)::type;
      f.fields = field_fns<T>::table.items;
      f.field_count = field_count<T>();
    });
    frames_[depth_++] = f;
    return json_open::opened;
  }

  template <class T, class D>
  bool open_child(T& object, const D& d, std::size_t list_start) noexcept {
    if constexpr (D::kind == field_kind::object || D::kind == field_kind::list) {
      using C = child_of<D>;
      item_pool<C>* pool = pools_.find(type_tag<C>{});
      C* child = pool != nullptr ? pool->take(1) : nullptr;
      if (child == nullptr) return false;
      *child = C{};
      if constexpr (D::kind == field_kind::object) object.*d.member = child;
      else object.*d.member = {pool->items + list_start, pool->used - list_start};
      push(fields_of<C>::type, child);
      return true;
    } else if constexpr (D::kind == field_kind::embedded) {
      using C = child_of<D>;
      C* child = &(object.*d.member);
      *child = C{};
      push(fields_of<C>::type, child);
      return true;
    } else {
      return false;
    }
  }

  // False for an object or list whose pool has no array: the caller did not ask for it.
  bool asked_for(const json_field& f) const noexcept {
    if (!skip_unasked_ || (f.slot != json_slot::object && f.slot != json_slot::object_list)) return true;
    bool asked = true;
    with_read_type(static_cast<model_type>(f.id), [&](auto tag) {
      if (auto* pool = pools_.find(tag)) asked = pool->items != nullptr;
    });
    return asked;
  }

  model_type root_type_;
  void* root_;
  mutable read_pools pools_;  // capacity() looks a pool up by type; it changes nothing
  bool skip_unasked_;
  frame frames_[max_depth] = {};
  std::size_t depth_ = 0;
};

inline read_pools pools_of(const capture_storage_ref& s, capture* items, std::size_t capacity) noexcept {
  read_pools p;
  p.captures = {items, items != nullptr ? capacity : 0};
  p.lines = {s.lines, s.lines_capacity};
  p.shipping = {s.shipping, s.shipping_capacity};
  p.identifiers = {s.identifiers, s.identifiers_capacity};
  p.subscriptions = {s.subscriptions, s.subscriptions_capacity};
  return p;
}

// ---- error body ----------------------------------------------------------------------------
namespace error_keys {
enum node : std::uint8_t { body };
enum field : std::uint8_t { error_code, messages, correlation_id, service_version };
using s = json_slot;
inline constexpr json_field body_fields[] = {
    {"error_code", s::text, error_code, 0},
    // Both keys, and either as one string or an array of strings: some services send the
    // singular (kco_rest_php and kco_rest_java read it too). `index` is the key's place in
    // kom/fields.hpp's error_body steps, for error paths.
    {"error_messages", s::text_or_list, messages, 1},
    {"error_message", s::text_or_list, messages, 2},
    {"correlation_id", s::text, correlation_id, 3},
    {"service_version", s::text, service_version, 4},
};
}  // namespace error_keys

class error_body_schema {
 public:
  error_body_schema(error_body& out, const error_body_storage_ref& storage) noexcept : out_(out), storage_(storage) {}

  json_field root() const noexcept {
    return {"", json_slot::object, static_cast<std::uint8_t>(model_type::error_body), 0};
  }
  list_view<json_field> fields(std::uint8_t) const noexcept { return error_keys::body_fields; }
  std::size_t capacity(const json_field&) const noexcept { return storage_.messages_capacity; }

  json_open open_object(const json_field&) noexcept { return json_open::opened; }
  void close_object(const json_field&) noexcept {}
  // Both keys add to one list: a body with error_messages and error_message keeps both.
  bool open_list(const json_field&) noexcept { return true; }
  void close_list(const json_field&) noexcept {}
  bool open_text_item(const json_field&) noexcept {
    return storage_.messages != nullptr && used_ < storage_.messages_capacity;
  }

  void text(const json_field& f, std::string_view v) noexcept {
    switch (f.id) {
      case error_keys::error_code:
        out_.error_code_text = v;
        out_.error_code = klarna_error_code_from_string(v);
        break;
      case error_keys::messages:
        storage_.messages[used_++] = v;
        out_.error_messages = {storage_.messages, used_};
        break;
      case error_keys::correlation_id: out_.correlation_id = v; break;
      case error_keys::service_version: out_.service_version = v; break;
      default: break;
    }
  }
  void integer(const json_field&, std::int64_t) noexcept {}
  void mark_truncated() noexcept {}  // the reader sets error_body::truncated

 private:
  error_body& out_;
  error_body_storage_ref storage_;
  std::size_t used_ = 0;
};

// Keys and enum texts must be shorter than the scratch kept for matching them (see
// json_reader_limits::scratch).
template <class T>
constexpr std::size_t longest_key_of() noexcept {
  std::size_t n = 0;
  for (const json_field& f : json_table<T>::table.items) n = f.key.size() > n ? f.key.size() : n;
  return n;
}
static_assert(longest_key_of<capture>() < json_reader_limits::scratch &&
              longest_key_of<order_line>() < json_reader_limits::scratch &&
              longest_key_of<product_identifiers>() < json_reader_limits::scratch &&
              longest_key_of<subscription>() < json_reader_limits::scratch &&
              longest_key_of<shipping_info>() < json_reader_limits::scratch &&
              longest_key_of<address>() < json_reader_limits::scratch &&
              longest_key_of<order>() < json_reader_limits::scratch &&
              longest_key_of<order_capture>() < json_reader_limits::scratch &&
              longest_key_of<refund>() < json_reader_limits::scratch &&
              longest_key_of<order_refund>() < json_reader_limits::scratch &&
              longest_key_of<payment_method>() < json_reader_limits::scratch &&
              longest_key(error_keys::body_fields) < json_reader_limits::scratch,
              "a known key is too long for the key scratch");
static_assert(longest(order_line_type_names) < json_reader_limits::scratch &&
              longest(shipping_method_names) < json_reader_limits::scratch &&
              longest(subscription_interval_names) < json_reader_limits::scratch,
              "an enum text is too long for the token scratch");

}  // namespace detail

/// Reads one capture (the body of GET …/orders/{order_id}/captures/{capture_id}) into `out`.
/// Its lines, shipping entries, product_identifiers, subscriptions and text are taken from
/// `storage`, which is started afresh. Allocates nothing. Errors and limits: see the top of
/// this header; a body that is not a JSON object is json_wrong_type.
inline error read_capture(std::string_view body, capture& out, capture_storage_ref storage,
                          const read_options& options = {}) noexcept {
  out = capture{};
  detail::described_schema schema(model_type::capture, &out, detail::pools_of(storage, nullptr, 0),
                                  options.skip_lists_without_storage);
  bool truncated = false;
  const error e = detail::run_sax_reader(body, detail::schema_ref(schema), storage.text, storage.text_capacity,
                                         options.allow_truncation, &truncated);
  out.truncated = out.truncated || truncated;
  return e;
}

/// Reads the captures of an order (the body of GET …/orders/{order_id}/captures, a JSON
/// array) into `items[0, capacity)`; `out.captures` views the ones read. All their lines,
/// shipping entries and text come from the one `storage`, started afresh. More captures than
/// `capacity` is json_too_many_items with an empty path (or, with truncation allowed, the
/// rest is skipped and `out.truncated` set). Allocates nothing. Other errors and limits: see
/// the top of this header.
inline error read_captures(std::string_view body, capture_list& out, capture* items, std::size_t capacity,
                           capture_storage_ref storage, const read_options& options = {}) noexcept {
  out = capture_list{};
  detail::described_schema schema(model_type::capture, nullptr, detail::pools_of(storage, items, capacity),
                                  options.skip_lists_without_storage);
  bool truncated = false;
  const error e = detail::run_sax_reader(body, detail::schema_ref(schema), storage.text, storage.text_capacity,
                                         options.allow_truncation, &truncated);
  out.captures = {items, schema.root_items()};
  out.truncated = truncated;
  return e;
}

/// The same, into a caller array: `kom::capture items[4]; kom::read_captures(body, list, items, storage);`
template <std::size_t N>
error read_captures(std::string_view body, capture_list& out, capture (&items)[N], capture_storage_ref storage,
                    const read_options& options = {}) noexcept {
  return read_captures(body, out, items, N, storage, options);
}

/// Reads an order (the body of GET /ordermanagement/v1/orders/{order_id}) into `out`: status,
/// fraud status, amounts, currency, dates, references, locale, country, the initial payment
/// method, its lines, and its captures' and refunds' ids and amounts, with their text, in
/// `storage` (started afresh). A list whose array `storage` leaves null is skipped. Everything
/// else in the order is skipped. Allocates nothing. Errors and limits: see the top of this header.
inline error read_order(std::string_view body, order& out, order_storage_ref storage,
                        const read_options& options = {}) noexcept {
  out = order{};
  detail::read_pools pools;
  pools.order_captures = {storage.captures, storage.captures_capacity};
  pools.order_refunds = {storage.refunds, storage.refunds_capacity};
  pools.lines = {storage.lines, storage.lines_capacity};
  pools.identifiers = {storage.identifiers, storage.identifiers_capacity};
  pools.subscriptions = {storage.subscriptions, storage.subscriptions_capacity};
  detail::described_schema schema(model_type::order, &out, pools, true);
  bool truncated = false;
  const error e = detail::run_sax_reader(body, detail::schema_ref(schema), storage.text, storage.text_capacity,
                                         options.allow_truncation, &truncated);
  out.truncated = truncated;
  return e;
}

/// Reads one refund (the body of GET …/orders/{order_id}/refunds/{refund_id}) into `out`. Its
/// lines, their product_identifiers and subscriptions, and its text come from `storage`
/// (a refund_storage, which is a capture_storage), started afresh. Allocates nothing. Errors
/// and limits: see the top of this header.
inline error read_refund(std::string_view body, refund& out, capture_storage_ref storage,
                         const read_options& options = {}) noexcept {
  out = refund{};
  detail::described_schema schema(model_type::refund, &out, detail::pools_of(storage, nullptr, 0),
                                  options.skip_lists_without_storage);
  bool truncated = false;
  const error e = detail::run_sax_reader(body, detail::schema_ref(schema), storage.text, storage.text_capacity,
                                         options.allow_truncation, &truncated);
  out.truncated = out.truncated || truncated;
  return e;
}

/// Reads the body of an Order Management error response into `out`. Tolerant: every field
/// may be missing; `error_message` (a string or an array of strings) is read as well as
/// `error_messages`; an unknown error_code is `unknown` with its text kept. Its messages and
/// text go to `storage` (started afresh). Allocates nothing. A body that is not a JSON object
/// (an HTML page from a proxy, say) is json_syntax or json_wrong_type: rely on the HTTP status.
inline error read_error_body(std::string_view body, error_body& out, error_body_storage_ref storage,
                             const read_options& options = {}) noexcept {
  out = error_body{};
  detail::error_body_schema schema(out, storage);
  bool truncated = false;
  const error e = detail::run_sax_reader(body, detail::schema_ref(schema), storage.text, storage.text_capacity,
                                         options.allow_truncation, &truncated);
  out.truncated = truncated;
  return e;
}

}  // namespace kom

#endif  // KOM_JSON_READERS_HPP
