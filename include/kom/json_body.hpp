// kom/json_body.hpp: the exact JSON bodies Klarna expects for a capture and a shipping-info
// update, validated first and written into the caller's buffer.
//
// Compact, keys in the order Klarna's documentation shows them, unset optional fields left
// out. A request that fails validation writes nothing; a buffer that is too small gives
// errc::buffer_too_small with the bytes needed (its contents are then unspecified, never
// written past the end). Allocates nothing.
#ifndef KOM_JSON_BODY_HPP
#define KOM_JSON_BODY_HPP

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "kom/buffer_writer.hpp"
#include "kom/error.hpp"
#include "kom/json_writer.hpp"
#include "kom/model.hpp"
#include "kom/validate.hpp"

namespace kom {
namespace detail {

inline void optional_member(json_writer& w, std::string_view key, std::string_view value) noexcept {
  if (!value.empty()) w.member(key, value);
}

inline void write_json(json_writer& w, const product_identifiers& p) noexcept {
  w.begin_object();
  optional_member(w, "brand", p.brand);
  optional_member(w, "category_path", p.category_path);
  optional_member(w, "global_trade_item_number", p.global_trade_item_number);
  optional_member(w, "manufacturer_part_number", p.manufacturer_part_number);
  optional_member(w, "color", p.color);
  optional_member(w, "size", p.size);
  w.end_object();
}

inline void write_json(json_writer& w, const subscription& s) noexcept {
  w.begin_object();
  w.member("name", s.name);
  w.member("interval", to_string(s.interval));
  w.member("interval_count", s.interval_count);
  w.end_object();
}

inline void write_json(json_writer& w, const order_line& l) noexcept {
  w.begin_object();
  if (l.type != order_line_type::unset) w.member("type", to_string(l.type));
  optional_member(w, "reference", l.reference);
  w.member("name", l.name);
  w.member("quantity", l.quantity);
  optional_member(w, "quantity_unit", l.quantity_unit);
  w.member("unit_price", l.unit_price);
  if (l.tax_rate) w.member("tax_rate", *l.tax_rate);
  w.member("total_amount", l.total_amount);
  if (l.total_discount_amount) w.member("total_discount_amount", *l.total_discount_amount);
  if (l.total_tax_amount) w.member("total_tax_amount", *l.total_tax_amount);
  optional_member(w, "merchant_data", l.merchant_data);
  optional_member(w, "product_url", l.product_url);
  optional_member(w, "image_url", l.image_url);
  if (l.product_identifiers) {
    w.key("product_identifiers");
    write_json(w, *l.product_identifiers);
  }
  if (l.subscription) {
    w.key("subscription");
    write_json(w, *l.subscription);
  }
  w.end_object();
}

// Klarna documents shipping_info in two orders: field order inside a capture, and
// alphabetical in the shipping-info call. Each body follows its own documentation.
enum class shipping_key_order { capture, update };

inline void write_json(json_writer& w, const shipping_info& s, shipping_key_order order) noexcept {
  const auto method = [&] {
    if (s.shipping_method != shipping_method::unset) w.member("shipping_method", to_string(s.shipping_method));
  };
  const auto returns = [&] {
    optional_member(w, "return_shipping_company", s.return_shipping_company);
    optional_member(w, "return_tracking_number", s.return_tracking_number);
    optional_member(w, "return_tracking_uri", s.return_tracking_uri);
  };
  w.begin_object();
  if (order == shipping_key_order::update) returns();
  optional_member(w, "shipping_company", s.shipping_company);
  method();
  optional_member(w, "tracking_number", s.tracking_number);
  optional_member(w, "tracking_uri", s.tracking_uri);
  if (order == shipping_key_order::capture) returns();
  w.end_object();
}

inline void write_json(json_writer& w, list_view<shipping_info> list, shipping_key_order order) noexcept {
  w.key("shipping_info");
  w.begin_array();
  for (const shipping_info& s : list) write_json(w, s, order);
  w.end_array();
}

inline void write_json(json_writer& w, const capture_request& r) noexcept {
  w.begin_object();
  w.member("captured_amount", r.captured_amount);
  optional_member(w, "reference", r.reference);
  optional_member(w, "description", r.description);
  if (!r.order_lines.empty()) {
    w.key("order_lines");
    w.begin_array();
    for (const order_line& l : r.order_lines) write_json(w, l);
    w.end_array();
  }
  if (!r.shipping_info.empty()) write_json(w, r.shipping_info, shipping_key_order::capture);
  if (r.shipping_delay) w.member("shipping_delay", *r.shipping_delay);
  w.end_object();
}

inline void write_json(json_writer& w, const shipping_info_update& u) noexcept {
  w.begin_object();
  write_json(w, u.shipping_info, shipping_key_order::update);
  w.end_object();
}

// Validates, then writes; the body's size or the reason there is none.
template <class Request, class... Options>
result<std::size_t> write_validated(const Request& request, buffer_writer& out, const Options&... options) noexcept {
  if (error e = validate(request, options...); !e.ok()) return e;
  const std::size_t start = out.size();
  json_writer w(out);
  write_json(w, request);
  if (w.status() != errc::ok) return w.status();
  const std::size_t size = out.size() - start;
  if (out.overflow()) return error(errc::buffer_too_small, static_cast<std::int64_t>(out.size()));
  return size;
}

}  // namespace detail

/// Writes the body of a capture (POST …/orders/{order_id}/captures) after validating it.
/// Returns the body's size in bytes. `out` in measure-only mode gives the exact size.
/// Errors: validate()'s (nothing written), buffer_too_small (detail = bytes `out` needs, what
/// it held before included). Allocates nothing.
inline result<std::size_t> write_body(const capture_request& request, buffer_writer& out,
                                      const validation_options& options = {}) noexcept {
  return detail::write_validated(request, out, options);
}

/// Writes the body of a shipping-info update (POST …/captures/{capture_id}/shipping-info).
/// Returns the body's size in bytes; errors as for a capture's body. Allocates nothing.
inline result<std::size_t> write_body(const shipping_info_update& request, buffer_writer& out) noexcept {
  return detail::write_validated(request, out);
}

/// Convenience over a caller array: `char body[1024]; auto n = kom::write_body(req, body);`
template <std::size_t N>
result<std::size_t> write_body(const capture_request& request, char (&buffer)[N],
                               const validation_options& options = {}) noexcept {
  buffer_writer out(buffer);
  return write_body(request, out, options);
}

/// The same for a shipping-info update: all N bytes of `buffer`.
template <std::size_t N>
result<std::size_t> write_body(const shipping_info_update& request, char (&buffer)[N]) noexcept {
  buffer_writer out(buffer);
  return write_body(request, out);
}

/// The exact size of a valid request's body, without writing it.
template <class Request>
result<std::size_t> measure_body(const Request& request) noexcept {
  buffer_writer out(measure_only);
  return write_body(request, out);
}

}  // namespace kom

#endif  // KOM_JSON_BODY_HPP
