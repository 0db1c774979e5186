// kom/validate.hpp: refuses, before a byte is written, every request Klarna would refuse.
//
// The limits are those of Klarna's 2024 Order Management specification, as kom/fields.hpp
// describes them; this header walks those descriptions and adds the amount arithmetic. Lengths count
// characters (UTF-8 code points), not bytes. The first problem found is reported with the
// path of the field and the rule, e.g. "order_lines[2].quantity_unit: longer than 10
// characters". Validation reads the request only; it allocates nothing.
#ifndef KOM_VALIDATE_HPP
#define KOM_VALIDATE_HPP

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "kom/detail/utf8.hpp"
#include "kom/error.hpp"
#include "kom/fields.hpp"
#include "kom/model.hpp"

namespace kom {

/// The arithmetic checks, each on by default. A merchant whose lines Klarna accepts with
/// other arithmetic (rounding per unit, say) can switch one off; the field limits stay.
struct validation_options {
  /// total_amount == quantity * unit_price - total_discount_amount on every line.
  bool check_line_totals = true;
  /// The body's amount equals the sum of its lines' total_amount, when lines are given:
  /// captured_amount (a capture), refunded_amount (a refund), order_amount (an
  /// authorization update).
  bool check_captured_amount = true;
};

namespace detail {

// Runs checks in order and keeps the first failure. The checks write into it, and stop once
// it holds one, so a validation frame holds one error, not one per check: on a Cortex-M this
// keeps the deepest validation path's stack small.
class first_error {
 public:
  bool ok() const noexcept { return error_.ok(); }
  const ::kom::error& get() const noexcept { return error_; }

  void fail(const field_ref& where, errc code, std::int64_t detail = 0) noexcept {
    if (error_.ok()) error_ = ::kom::error(code, where, detail);
  }

  // Field `index` of the object at `object`: its field_ref is made only when a check fails
  // (making one per field checked cost a third of a capture's validation time).
  void fail(const field_ref& object, std::size_t index, errc code, std::int64_t detail = 0) noexcept {
    if (error_.ok()) error_ = ::kom::error(code, object.field(index), detail);
  }

 private:
  ::kom::error error_;
};

// Each check is about field `i` of the object at `at`.
inline void check_text(first_error& e, const field_ref& at, std::size_t i, std::string_view value,
                       std::size_t max_chars, bool required = false) noexcept {
  if (!e.ok()) return;
  if (required && value.empty()) return e.fail(at, i, errc::required);
  const utf8_scan scan = scan_utf8(value);
  if (!scan.valid) return e.fail(at, i, errc::invalid_utf8);
  if (scan.code_points > max_chars) e.fail(at, i, errc::too_long, static_cast<std::int64_t>(max_chars));
}

inline void check_range(first_error& e, const field_ref& at, std::size_t i, std::int64_t value, std::int64_t min,
                        std::int64_t max) noexcept {
  if (!e.ok()) return;
  if (value < min) return e.fail(at, i, errc::below_minimum, min);
  if (value > max) e.fail(at, i, errc::above_maximum, max);
}

inline void check_count(first_error& e, const field_ref& at, std::size_t i, std::size_t count, std::size_t min,
                        std::size_t max) noexcept {
  if (!e.ok()) return;
  if (count < min) return e.fail(at, i, errc::too_few_items, static_cast<std::int64_t>(min));
  if (count > max) e.fail(at, i, errc::too_many_items, static_cast<std::int64_t>(max));
}

// The checks a description cannot state, run after an object's own fields.
inline void check_object(first_error&, const field_ref&, const product_identifiers&, const validation_options&) noexcept {}
inline void check_object(first_error&, const field_ref&, const subscription&, const validation_options&) noexcept {}
inline void check_object(first_error&, const field_ref&, const shipping_info&, const validation_options&) noexcept {}
inline void check_object(first_error&, const field_ref&, const shipping_info_update&, const validation_options&) noexcept {}

inline void check_object(first_error& e, const field_ref& at, const order_line& l, const validation_options& options) noexcept {
  if (!e.ok() || !options.check_line_totals) return;
  constexpr std::size_t total = field_index<order_line>("total_amount");  // at compile time
  // Checked arithmetic: a line must not be able to wrap around to a plausible total.
  std::int64_t gross = 0, net = 0;
  if (__builtin_mul_overflow(l.quantity, l.unit_price, &gross) ||
      __builtin_sub_overflow(gross, l.total_discount_amount.value_or(0), &net)) {
    return e.fail(at, total, errc::arithmetic_overflow);
  }
  if (net != l.total_amount) e.fail(at, total, errc::line_total_mismatch, net);
}

// A body's amount (field `amount`) against the sum of its lines.
inline void check_lines_sum(first_error& e, const field_ref& at, std::size_t amount, std::int64_t value,
                            list_view<order_line> lines, const validation_options& options) noexcept {
  if (!e.ok() || !options.check_captured_amount || lines.empty()) return;
  std::int64_t sum = 0;
  for (const order_line& line : lines) {
    if (__builtin_add_overflow(sum, line.total_amount, &sum)) return e.fail(at, amount, errc::arithmetic_overflow);
  }
  if (sum != value) e.fail(at, amount, errc::captured_amount_mismatch, sum);
}

// The field numbers are constants: looked up at compile time, not at each validation.
inline void check_object(first_error& e, const field_ref& at, const capture_request& r,
                         const validation_options& options) noexcept {
  constexpr std::size_t amount = field_index<capture_request>("captured_amount");
  check_lines_sum(e, at, amount, r.captured_amount, r.order_lines, options);
}
inline void check_object(first_error& e, const field_ref& at, const refund_request& r,
                         const validation_options& options) noexcept {
  constexpr std::size_t amount = field_index<refund_request>("refunded_amount");
  check_lines_sum(e, at, amount, r.refunded_amount, r.order_lines, options);
}
inline void check_object(first_error& e, const field_ref& at, const authorization_update& u,
                         const validation_options& options) noexcept {
  constexpr std::size_t amount = field_index<authorization_update>("order_amount");
  check_lines_sum(e, at, amount, u.order_amount, u.order_lines, options);
}
// An update that names neither reference would change nothing.
inline void check_object(first_error& e, const field_ref& at, const merchant_references& m,
                         const validation_options&) noexcept {
  constexpr std::size_t first = field_index<merchant_references>("merchant_reference1");
  if (e.ok() && m.merchant_reference1.empty() && m.merchant_reference2.empty()) e.fail(at, first, errc::required);
}

template <class T>
void validate_object(first_error& e, const field_ref& at, const T& object, const validation_options& options) noexcept;

// Field `i` of `object` (which is at `at`), by its descriptor's kind.
template <class T, class D>
void validate_field(first_error& e, const field_ref& at, std::size_t i, const T& object, const D& d,
                    const validation_options& options) noexcept {
  if (!e.ok()) return;
  if constexpr (D::kind == field_kind::text) {
    check_text(e, at, i, object.*d.member, d.max_chars, d.required);
  } else if constexpr (D::kind == field_kind::integer) {
    check_range(e, at, i, object.*d.member, d.min, d.max);
  } else if constexpr (D::kind == field_kind::optional_integer) {
    if (const auto& v = object.*d.member) check_range(e, at, i, *v, d.min, d.max);
  } else if constexpr (D::kind == field_kind::enumeration) {
    const auto v = object.*d.member;
    if (v == D::enum_type::unset) {
      if (d.required) e.fail(at, i, errc::required);
    } else if (spelling_of(v).empty()) {
      e.fail(at, i, errc::not_in_set);
    }
  } else if constexpr (D::kind == field_kind::object) {
    if (const auto* child = object.*d.member) validate_object(e, at.field(i), *child, options);
  } else if constexpr (D::kind == field_kind::embedded) {
    validate_object(e, at.field(i), object.*d.member, options);
  } else if constexpr (D::kind == field_kind::list) {
    const auto& list = object.*d.member;
    check_count(e, at, i, list.size(), d.min_items, d.max_items);
    if (list.empty()) return;
    const field_ref list_at = at.field(i);
    for (std::size_t k = 0; k < list.size() && e.ok(); ++k) validate_object(e, list_at.item(k), list[k], options);
  }
}

template <class T>
void validate_object(first_error& e, const field_ref& at, const T& object, const validation_options& options) noexcept {
  std::size_t index = 0;
  fields_of<T>::visit([&](const auto& d) { validate_field(e, at, index++, object, d, options); });
  check_object(e, at, object, options);
}

}  // namespace detail

/// Checks a capture against every limit, enum and (unless switched off) the amount
/// arithmetic. Returns the first problem, or an ok error. Errors (the field path says where):
/// required, too_long, invalid_utf8, below_minimum, above_maximum, too_many_items, not_in_set,
/// line_total_mismatch, captured_amount_mismatch, arithmetic_overflow. Allocates nothing.
inline error validate(const capture_request& r, const validation_options& options = {}) noexcept {
  detail::first_error e;
  detail::validate_object(e, field_ref::in(model_type::capture_request), r, options);
  return e.get();
}

/// Checks a shipping-info update: 1..500 entries, each within Klarna's limits. Errors:
/// too_few_items, too_many_items, too_long, invalid_utf8, not_in_set. Allocates nothing.
inline error validate(const shipping_info_update& u, const validation_options& options = {}) noexcept {
  detail::first_error e;
  detail::validate_object(e, field_ref::in(model_type::shipping_info_update), u, options);
  return e.get();
}

/// Checks a refund: refunded_amount 1..200000000 (kom refuses 0, which Klarna's spec allows),
/// description and reference <= 255, up to 1000 lines each within Klarna's limits and (unless
/// switched off) the line and amount arithmetic. Errors as for a capture. Allocates nothing.
inline error validate(const refund_request& r, const validation_options& options = {}) noexcept {
  detail::first_error e;
  detail::validate_object(e, field_ref::in(model_type::refund_request), r, options);
  return e.get();
}

/// Checks a merchant-references update: each <= 255 characters, at least one given (required,
/// path merchant_reference1). Errors: required, too_long, invalid_utf8. Allocates nothing.
inline error validate(const merchant_references& m, const validation_options& options = {}) noexcept {
  detail::first_error e;
  detail::validate_object(e, field_ref::in(model_type::merchant_references), m, options);
  return e.get();
}

/// Checks an authorization update: order_amount 0..200000000, description <= 255, up to 1000
/// lines and (unless switched off) the arithmetic; order_amount must equal the lines' sum when
/// lines are given. Errors as for a capture. Allocates nothing.
inline error validate(const authorization_update& u, const validation_options& options = {}) noexcept {
  detail::first_error e;
  detail::validate_object(e, field_ref::in(model_type::authorization_update), u, options);
  return e.get();
}

}  // namespace kom

#endif  // KOM_VALIDATE_HPP
