// kom/json_readers.hpp: Klarna's JSON answers read into kom's response model, without heap.
//
//   kom::capture_storage<> storage;          // capacities are template parameters
//   kom::capture capture;
//   if (kom::error e = kom::read_capture(body, capture, storage); !e.ok()) { ... e.path() ... }
//
// Each reader runs Boost.JSON's SAX parser (basic_parser) once over the whole body, which
// must be complete in memory: fed whole, the parser never suspends and allocates nothing.
// Boost.JSON's compiled part comes from kom/src.hpp, included in exactly one translation unit.
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
// - Stack: the parser and its handler take about 600 bytes (under 400 on 32-bit), plus
//   Boost.JSON's buffer for strings with escapes (BOOST_JSON_STACK_BUFFER_SIZE: 256 bytes
//   on non-x86 targets, 4 KB on x86).
// - Time: one pass over the body; each key is compared with the few keys of its object.
#ifndef KOM_JSON_READERS_HPP
#define KOM_JSON_READERS_HPP

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "kom/detail/sax_reader.hpp"
#include "kom/error.hpp"
#include "kom/model.hpp"
#include "kom/response_model.hpp"

namespace kom {

/// How a reader treats a body that does not fit the caller's storage.
struct read_options {
  /// false (default): more items than a list holds, or more text than the storage holds, is
  /// an error naming the field. true: keep what fits, cut text at a UTF-8 character
  /// boundary, and set `truncated` on the result.
  bool allow_truncation = false;
};

namespace detail {

// ---- capture (and list of captures) --------------------------------------------------------
namespace capture_keys {
enum node : std::uint8_t { capture, line, identifiers, subscription, shipping, billing, shipping_address, capture_list };
enum field : std::uint8_t {
  capture_id, klarna_reference, captured_amount, captured_at, description, reference, refunded_amount,
  type, line_reference, name, quantity, quantity_unit, unit_price, tax_rate, total_amount,
  total_discount_amount, total_tax_amount, merchant_data, product_url, image_url,
  brand, category_path, global_trade_item_number, manufacturer_part_number, color, size,
  subscription_name, interval, interval_count,
  shipping_company, shipping_method, tracking_number, tracking_uri, return_shipping_company,
  return_tracking_number, return_tracking_uri,
  given_name, family_name, title, street_address, street_address2, postal_code, city, region,
  country, email, phone
};

using s = json_slot;
inline constexpr json_field capture_fields[] = {
    {"capture_id", s::text, capture_id},
    {"klarna_reference", s::text, klarna_reference},
    {"captured_amount", s::integer, captured_amount},
    {"captured_at", s::text, captured_at},
    {"description", s::text, description},
    {"reference", s::text, reference},
    {"refunded_amount", s::integer, refunded_amount},
    {"order_lines", s::object_list, line},
    {"shipping_info", s::object_list, shipping},
    {"billing_address", s::object, billing},
    {"shipping_address", s::object, shipping_address},
};
inline constexpr json_field line_fields[] = {
    {"type", s::token, type},
    {"reference", s::text, line_reference},
    {"name", s::text, name},
    {"quantity", s::integer, quantity},
    {"quantity_unit", s::text, quantity_unit},
    {"unit_price", s::integer, unit_price},
    {"tax_rate", s::integer, tax_rate},
    {"total_amount", s::integer, total_amount},
    {"total_discount_amount", s::integer, total_discount_amount},
    {"total_tax_amount", s::integer, total_tax_amount},
    {"merchant_data", s::text, merchant_data},
    {"product_url", s::text, product_url},
    {"image_url", s::text, image_url},
    {"product_identifiers", s::object, identifiers},
    {"subscription", s::object, node::subscription},
};
inline constexpr json_field identifier_fields[] = {
    {"brand", s::text, brand},
    {"category_path", s::text, category_path},
    {"global_trade_item_number", s::text, global_trade_item_number},
    {"manufacturer_part_number", s::text, manufacturer_part_number},
    {"color", s::text, color},
    {"size", s::text, size},
};
inline constexpr json_field subscription_fields[] = {
    {"name", s::text, subscription_name},
    {"interval", s::token, interval},
    {"interval_count", s::integer, interval_count},
};
inline constexpr json_field shipping_fields[] = {
    {"shipping_company", s::text, shipping_company},
    {"shipping_method", s::token, shipping_method},
    {"tracking_number", s::text, tracking_number},
    {"tracking_uri", s::text, tracking_uri},
    {"return_shipping_company", s::text, return_shipping_company},
    {"return_tracking_number", s::text, return_tracking_number},
    {"return_tracking_uri", s::text, return_tracking_uri},
};
inline constexpr json_field address_fields[] = {
    {"given_name", s::text, given_name},
    {"family_name", s::text, family_name},
    {"title", s::text, title},
    {"street_address", s::text, street_address},
    {"street_address2", s::text, street_address2},
    {"postal_code", s::text, postal_code},
    {"city", s::text, city},
    {"region", s::text, region},
    {"country", s::text, country},
    {"email", s::text, email},
    {"phone", s::text, phone},
};
}  // namespace capture_keys

// Places a capture's values; one capture (read_capture) or an array of them (read_captures),
// with lines, shipping entries and their parts taken in turn from one shared storage.
namespace ck = capture_keys;

class capture_schema {
 public:
  capture_schema(capture* items, std::size_t capacity, bool is_list, const capture_storage_ref& storage) noexcept
      : items_(items), capacity_(items ? capacity : 0), is_list_(is_list), storage_(storage) {}

  json_field root() const noexcept {
    return is_list_ ? json_field{"", json_slot::object_list, ck::capture} : json_field{"", json_slot::object, ck::capture};
  }

  list_view<json_field> fields(std::uint8_t node) const noexcept {
    switch (node) {
      case ck::capture: return ck::capture_fields;
      case ck::line: return ck::line_fields;
      case ck::identifiers: return ck::identifier_fields;
      case ck::subscription: return ck::subscription_fields;
      case ck::shipping: return ck::shipping_fields;
      case ck::billing:
      case ck::shipping_address: return ck::address_fields;
      default: return {};
    }
  }

  std::size_t capacity(std::uint8_t node) const noexcept {
    switch (node) {
      case ck::capture: return capacity_;
      case ck::line: return storage_.lines_capacity;
      case ck::shipping: return storage_.shipping_capacity;
      case ck::identifiers: return storage_.identifiers_capacity;
      case ck::subscription: return storage_.subscriptions_capacity;
      default: return 0;
    }
  }

  bool open_object(std::uint8_t node) noexcept {
    switch (node) {
      case ck::capture:
        if (count_ >= capacity_) return false;
        current_ = &items_[count_++];
        *current_ = capture{};
        return true;
      case ck::line:
        if (!take(storage_.lines, lines_used_, storage_.lines_capacity)) return false;
        line_ = &storage_.lines[lines_used_ - 1];
        *line_ = order_line{};
        current_->order_lines = {storage_.lines + lines_start_, lines_used_ - lines_start_};
        return true;
      case ck::shipping:
        if (!take(storage_.shipping, shipping_used_, storage_.shipping_capacity)) return false;
        shipping_ = &storage_.shipping[shipping_used_ - 1];
        *shipping_ = ::kom::shipping_info{};
        current_->shipping_info = {storage_.shipping + shipping_start_, shipping_used_ - shipping_start_};
        return true;
      case ck::identifiers:
        if (!take(storage_.identifiers, identifiers_used_, storage_.identifiers_capacity)) return false;
        identifiers_ = &storage_.identifiers[identifiers_used_ - 1];
        *identifiers_ = product_identifiers{};
        line_->product_identifiers = identifiers_;
        return true;
      case ck::subscription:
        if (!take(storage_.subscriptions, subscriptions_used_, storage_.subscriptions_capacity)) return false;
        subscription_ = &storage_.subscriptions[subscriptions_used_ - 1];
        *subscription_ = ::kom::subscription{};
        line_->subscription = subscription_;
        return true;
      case ck::billing:
        address_ = &current_->billing_address;
        *address_ = address{};
        return true;
      case ck::shipping_address:
        address_ = &current_->shipping_address;
        *address_ = address{};
        return true;
      default: return true;
    }
  }

  void close_object(std::uint8_t node) noexcept {
    if (node == ck::capture) current_ = nullptr;  // a capture skipped next is not this one's
  }

  // A list that appears again replaces the earlier one, as a repeated field would.
  void open_list(std::uint8_t node) noexcept {
    if (node == ck::line) {
      lines_start_ = lines_used_;
      current_->order_lines = {};
    } else if (node == ck::shipping) {
      shipping_start_ = shipping_used_;
      current_->shipping_info = {};
    }
  }
  void close_list(std::uint8_t) noexcept {}
  bool open_text_item(std::uint8_t) noexcept { return false; }  // no text lists in a capture

  void text(std::uint8_t field, std::string_view v) noexcept {
    capture& c = *current_;
    switch (field) {
      case ck::capture_id: c.capture_id = v; break;
      case ck::klarna_reference: c.klarna_reference = v; break;
      case ck::captured_at: c.captured_at = v; break;
      case ck::description: c.description = v; break;
      case ck::reference: c.reference = v; break;
      case ck::type: line_->type = order_line_type_from_string(v); break;
      case ck::line_reference: line_->reference = v; break;
      case ck::name: line_->name = v; break;
      case ck::quantity_unit: line_->quantity_unit = v; break;
      case ck::merchant_data: line_->merchant_data = v; break;
      case ck::product_url: line_->product_url = v; break;
      case ck::image_url: line_->image_url = v; break;
      case ck::brand: identifiers_->brand = v; break;
      case ck::category_path: identifiers_->category_path = v; break;
      case ck::global_trade_item_number: identifiers_->global_trade_item_number = v; break;
      case ck::manufacturer_part_number: identifiers_->manufacturer_part_number = v; break;
      case ck::color: identifiers_->color = v; break;
      case ck::size: identifiers_->size = v; break;
      case ck::subscription_name: subscription_->name = v; break;
      case ck::interval: subscription_->interval = subscription_interval_from_string(v); break;
      case ck::shipping_company: shipping_->shipping_company = v; break;
      case ck::shipping_method: shipping_->shipping_method = shipping_method_from_string(v); break;
      case ck::tracking_number: shipping_->tracking_number = v; break;
      case ck::tracking_uri: shipping_->tracking_uri = v; break;
      case ck::return_shipping_company: shipping_->return_shipping_company = v; break;
      case ck::return_tracking_number: shipping_->return_tracking_number = v; break;
      case ck::return_tracking_uri: shipping_->return_tracking_uri = v; break;
      case ck::given_name: address_->given_name = v; break;
      case ck::family_name: address_->family_name = v; break;
      case ck::title: address_->title = v; break;
      case ck::street_address: address_->street_address = v; break;
      case ck::street_address2: address_->street_address2 = v; break;
      case ck::postal_code: address_->postal_code = v; break;
      case ck::city: address_->city = v; break;
      case ck::region: address_->region = v; break;
      case ck::country: address_->country = v; break;
      case ck::email: address_->email = v; break;
      case ck::phone: address_->phone = v; break;
      default: break;
    }
  }

  void integer(std::uint8_t field, std::int64_t v) noexcept {
    switch (field) {
      case ck::captured_amount: current_->captured_amount = v; break;
      case ck::refunded_amount: current_->refunded_amount = v; break;
      case ck::quantity: line_->quantity = v; break;
      case ck::unit_price: line_->unit_price = v; break;
      case ck::tax_rate: line_->tax_rate = v; break;
      case ck::total_amount: line_->total_amount = v; break;
      case ck::total_discount_amount: line_->total_discount_amount = v; break;
      case ck::total_tax_amount: line_->total_tax_amount = v; break;
      case ck::interval_count: subscription_->interval_count = v; break;
      default: break;
    }
  }

  void mark_truncated() noexcept {
    if (current_ != nullptr) current_->truncated = true;
  }

  std::size_t count() const noexcept { return count_; }

 private:
  template <class T>
  static bool take(const T* array, std::size_t& used, std::size_t capacity) noexcept {
    if (array == nullptr || used >= capacity) return false;
    ++used;
    return true;
  }

  capture* items_;
  std::size_t capacity_;
  bool is_list_;
  capture_storage_ref storage_;
  std::size_t count_ = 0;
  std::size_t lines_used_ = 0, lines_start_ = 0;
  std::size_t shipping_used_ = 0, shipping_start_ = 0;
  std::size_t identifiers_used_ = 0, subscriptions_used_ = 0;
  capture* current_ = nullptr;
  order_line* line_ = nullptr;
  ::kom::shipping_info* shipping_ = nullptr;
  product_identifiers* identifiers_ = nullptr;
  ::kom::subscription* subscription_ = nullptr;
  address* address_ = nullptr;
};

// ---- order ---------------------------------------------------------------------------------
namespace order_keys {
enum node : std::uint8_t { order, capture };
enum field : std::uint8_t {
  order_id, status, fraud_status, order_amount, original_order_amount, captured_amount,
  refunded_amount, remaining_authorized_amount, purchase_currency, expires_at,
  capture_id, klarna_reference, reference, capture_captured_amount, capture_refunded_amount, captured_at
};
using s = json_slot;
inline constexpr json_field order_fields[] = {
    {"order_id", s::text, order_id},
    {"status", s::text, status},
    {"fraud_status", s::text, fraud_status},
    {"order_amount", s::integer, order_amount},
    {"original_order_amount", s::integer, original_order_amount},
    {"captured_amount", s::integer, captured_amount},
    {"refunded_amount", s::integer, refunded_amount},
    {"remaining_authorized_amount", s::integer, remaining_authorized_amount},
    {"purchase_currency", s::text, purchase_currency},
    {"expires_at", s::text, expires_at},
    {"captures", s::object_list, node::capture},
};
// Only the ids and amounts: a capture's lines, addresses and shipping are skipped here.
inline constexpr json_field capture_fields[] = {
    {"capture_id", s::text, capture_id},
    {"klarna_reference", s::text, klarna_reference},
    {"reference", s::text, reference},
    {"captured_amount", s::integer, capture_captured_amount},
    {"refunded_amount", s::integer, capture_refunded_amount},
    {"captured_at", s::text, captured_at},
};
}  // namespace order_keys

class order_schema {
 public:
  order_schema(order& out, const order_storage_ref& storage) noexcept : out_(out), storage_(storage) {}

  json_field root() const noexcept { return {"", json_slot::object, order_keys::order}; }

  list_view<json_field> fields(std::uint8_t node) const noexcept {
    return node == order_keys::order ? list_view<json_field>(order_keys::order_fields)
                                      : list_view<json_field>(order_keys::capture_fields);
  }
  std::size_t capacity(std::uint8_t) const noexcept { return storage_.captures_capacity; }

  bool open_object(std::uint8_t node) noexcept {
    if (node != order_keys::capture) return true;
    if (storage_.captures == nullptr || used_ >= storage_.captures_capacity) return false;
    capture_ = &storage_.captures[used_++];
    *capture_ = order_capture{};
    out_.captures = {storage_.captures + start_, used_ - start_};
    return true;
  }
  void close_object(std::uint8_t) noexcept {}
  void open_list(std::uint8_t) noexcept {
    start_ = used_;
    out_.captures = {};
  }
  void close_list(std::uint8_t) noexcept {}
  bool open_text_item(std::uint8_t) noexcept { return false; }

  void text(std::uint8_t field, std::string_view v) noexcept {
    switch (field) {
      case order_keys::order_id: out_.order_id = v; break;
      case order_keys::status:
        out_.status_text = v;
        out_.status = order_status_from_string(v);
        break;
      case order_keys::fraud_status:
        out_.fraud_status_text = v;
        out_.fraud_status = fraud_status_from_string(v);
        break;
      case order_keys::purchase_currency: out_.purchase_currency = v; break;
      case order_keys::expires_at: out_.expires_at = v; break;
      case order_keys::capture_id: capture_->capture_id = v; break;
      case order_keys::klarna_reference: capture_->klarna_reference = v; break;
      case order_keys::reference: capture_->reference = v; break;
      case order_keys::captured_at: capture_->captured_at = v; break;
      default: break;
    }
  }

  void integer(std::uint8_t field, std::int64_t v) noexcept {
    switch (field) {
      case order_keys::order_amount: out_.order_amount = v; break;
      case order_keys::original_order_amount: out_.original_order_amount = v; break;
      case order_keys::captured_amount: out_.captured_amount = v; break;
      case order_keys::refunded_amount: out_.refunded_amount = v; break;
      case order_keys::remaining_authorized_amount: out_.remaining_authorized_amount = v; break;
      case order_keys::capture_captured_amount: capture_->captured_amount = v; break;
      case order_keys::capture_refunded_amount: capture_->refunded_amount = v; break;
      default: break;
    }
  }

  void mark_truncated() noexcept {}  // the reader sets order::truncated

 private:
  order& out_;
  order_storage_ref storage_;
  std::size_t used_ = 0, start_ = 0;
  order_capture* capture_ = nullptr;
};

// ---- error body ----------------------------------------------------------------------------
namespace error_keys {
enum node : std::uint8_t { body };
enum field : std::uint8_t { error_code, messages, correlation_id, service_version };
using s = json_slot;
inline constexpr json_field body_fields[] = {
    {"error_code", s::text, error_code},
    // Both keys, and either as one string or an array of strings: some services send the
    // singular (kco_rest_php and kco_rest_java read it too).
    {"error_messages", s::text_or_list, messages},
    {"error_message", s::text_or_list, messages},
    {"correlation_id", s::text, correlation_id},
    {"service_version", s::text, service_version},
};
}  // namespace error_keys

class error_body_schema {
 public:
  error_body_schema(error_body& out, const error_body_storage_ref& storage) noexcept : out_(out), storage_(storage) {}

  json_field root() const noexcept { return {"", json_slot::object, error_keys::body}; }
  list_view<json_field> fields(std::uint8_t) const noexcept { return error_keys::body_fields; }
  std::size_t capacity(std::uint8_t) const noexcept { return storage_.messages_capacity; }

  bool open_object(std::uint8_t) noexcept { return true; }
  void close_object(std::uint8_t) noexcept {}
  // Both keys add to one list: a body with error_messages and error_message keeps both.
  void open_list(std::uint8_t) noexcept {}
  void close_list(std::uint8_t) noexcept {}
  bool open_text_item(std::uint8_t) noexcept {
    return storage_.messages != nullptr && used_ < storage_.messages_capacity;
  }

  void text(std::uint8_t field, std::string_view v) noexcept {
    switch (field) {
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
  void integer(std::uint8_t, std::int64_t) noexcept {}
  void mark_truncated() noexcept {}  // the reader sets error_body::truncated

 private:
  error_body& out_;
  error_body_storage_ref storage_;
  std::size_t used_ = 0;
};

// Keys and enum texts must be shorter than the scratch kept for matching them (see
// json_reader_limits::scratch).
static_assert(longest_key(capture_keys::capture_fields) < json_reader_limits::scratch &&
              longest_key(capture_keys::line_fields) < json_reader_limits::scratch &&
              longest_key(capture_keys::identifier_fields) < json_reader_limits::scratch &&
              longest_key(capture_keys::subscription_fields) < json_reader_limits::scratch &&
              longest_key(capture_keys::shipping_fields) < json_reader_limits::scratch &&
              longest_key(capture_keys::address_fields) < json_reader_limits::scratch &&
              longest_key(order_keys::order_fields) < json_reader_limits::scratch &&
              longest_key(order_keys::capture_fields) < json_reader_limits::scratch &&
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
  detail::capture_schema schema(&out, 1, false, storage);
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
  detail::capture_schema schema(items, capacity, true, storage);
  bool truncated = false;
  const error e = detail::run_sax_reader(body, detail::schema_ref(schema), storage.text, storage.text_capacity,
                                         options.allow_truncation, &truncated);
  out.captures = {items, schema.count()};
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
/// fraud status, amounts, currency, expiry and its captures' ids and amounts, with their text,
/// in `storage` (started afresh). Everything else in the order is skipped. Allocates nothing.
/// Errors and limits: see the top of this header.
inline error read_order(std::string_view body, order& out, order_storage_ref storage,
                        const read_options& options = {}) noexcept {
  out = order{};
  detail::order_schema schema(out, storage);
  bool truncated = false;
  const error e = detail::run_sax_reader(body, detail::schema_ref(schema), storage.text, storage.text_capacity,
                                         options.allow_truncation, &truncated);
  out.truncated = truncated;
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
