// kom/json_body.hpp: the exact JSON bodies Klarna expects (a capture, a shipping-info update,
// a refund, merchant references, an authorization update), validated first and written into
// the caller's buffer.
//
// Compact, keys in the order of kom/fields.hpp's descriptions (Klarna's documentation's),
// unset optional fields left out. A request that fails validation writes nothing; a buffer that is too small gives
// errc::buffer_too_small with the bytes needed (its contents are then unspecified, never
// written past the end). Allocates nothing.
#ifndef KOM_JSON_BODY_HPP
#define KOM_JSON_BODY_HPP

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "kom/buffer_writer.hpp"
#include "kom/error.hpp"
#include "kom/fields.hpp"
#include "kom/json_writer.hpp"
#include "kom/model.hpp"
#include "kom/validate.hpp"

namespace kom {
namespace detail {

template <class T>
void write_json(json_writer& w, const T& object) noexcept;

// One field, by its descriptor's kind; absent optional fields are left out.
template <class T, class D>
void write_field(json_writer& w, const T& object, const D& d) noexcept {
  if constexpr (D::kind == field_kind::text) {
    const std::string_view v = object.*d.member;
    if (d.required || !v.empty()) w.member(d.name, v);
  } else if constexpr (D::kind == field_kind::integer) {
    w.member(d.name, object.*d.member);
  } else if constexpr (D::kind == field_kind::optional_integer) {
    if (const auto& v = object.*d.member) w.member(d.name, *v);
  } else if constexpr (D::kind == field_kind::enumeration) {
    const auto v = object.*d.member;
    if (v != decltype(v)::unset) w.member(d.name, spelling_of(v));
  } else if constexpr (D::kind == field_kind::object) {
    if (const auto* child = object.*d.member) {
      w.key(d.name);
      write_json(w, *child);
    }
  } else if constexpr (D::kind == field_kind::embedded) {
    w.key(d.name);
    write_json(w, object.*d.member);
  } else if constexpr (D::kind == field_kind::list) {
    const auto& list = object.*d.member;
    if (list.empty() && d.min_items == 0) return;
    w.key(d.name);
    w.begin_array();
    for (const auto& item : list) write_json(w, item);
    w.end_array();
  }
}

// Any described object: its fields in the description's order.
template <class T>
void write_json(json_writer& w, const T& object) noexcept {
  w.begin_object();
  fields_of<T>::visit([&](const auto& d) { write_field(w, object, d); });
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

/// Writes the body of a refund (POST …/orders/{order_id}/refunds) after validating it.
/// Returns the body's size in bytes; errors as for a capture's body. Allocates nothing.
inline result<std::size_t> write_body(const refund_request& request, buffer_writer& out,
                                      const validation_options& options = {}) noexcept {
  return detail::write_validated(request, out, options);
}

/// Writes the body of PATCH …/orders/{order_id}/merchant-references after validating it.
inline result<std::size_t> write_body(const merchant_references& request, buffer_writer& out) noexcept {
  return detail::write_validated(request, out);
}

/// Writes the body of PATCH …/orders/{order_id}/authorization after validating it.
inline result<std::size_t> write_body(const authorization_update& request, buffer_writer& out,
                                      const validation_options& options = {}) noexcept {
  return detail::write_validated(request, out, options);
}

/// Convenience over a caller array, for any of the bodies above:
/// `char body[1024]; auto n = kom::write_body(req, body);` (options as for `out`).
template <class Request, std::size_t N, class... Options>
result<std::size_t> write_body(const Request& request, char (&buffer)[N], const Options&... options) noexcept {
  buffer_writer out(buffer);
  return write_body(request, out, options...);
}

/// The exact size of a valid request's body, without writing it.
template <class Request>
result<std::size_t> measure_body(const Request& request) noexcept {
  buffer_writer out(measure_only);
  return write_body(request, out);
}

}  // namespace kom

#endif  // KOM_JSON_BODY_HPP
