// kom/validate.hpp: refuses, before a byte is written, every request Klarna would refuse.
//
// The limits are those of Klarna's 2024 Order Management specification. Lengths count
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
#include "kom/model.hpp"

namespace kom {

/// Klarna's limits, in minor units, characters or items.
namespace limits {
inline constexpr std::int64_t max_amount = 200000000;  ///< captured_amount and every line amount
inline constexpr std::int64_t min_captured_amount = 1;  ///< captured_amount
inline constexpr std::size_t max_description = 255;     ///< a capture's description
inline constexpr std::size_t max_reference = 255;       ///< a capture's and a line's reference
inline constexpr std::size_t max_order_lines = 1000;    ///< order lines of a capture
inline constexpr std::size_t max_shipping_info = 500;   ///< shipping entries of a capture or update
inline constexpr std::size_t max_name = 255;            ///< a line's and a subscription's name
inline constexpr std::size_t max_quantity_unit = 10;    ///< a line's quantity_unit
inline constexpr std::size_t max_url = 1024;  ///< merchant_data, product_url, image_url, tracking URIs
inline constexpr std::size_t max_shipping_company = 100;  ///< shipping_company, return_shipping_company
inline constexpr std::size_t max_tracking_number = 100;   ///< tracking_number, return_tracking_number
inline constexpr std::size_t max_brand = 70;              ///< product_identifiers.brand
inline constexpr std::size_t max_category_path = 750;     ///< product_identifiers.category_path
inline constexpr std::size_t max_gtin = 50;               ///< product_identifiers.global_trade_item_number
inline constexpr std::size_t max_manufacturer_part_number = 70;  ///< product_identifiers.manufacturer_part_number
inline constexpr std::size_t max_color = 64;              ///< product_identifiers.color
inline constexpr std::size_t max_size = 64;               ///< product_identifiers.size
inline constexpr std::int64_t max_int32 = 2147483647;  ///< tax_rate and interval_count are int32
}  // namespace limits

/// The arithmetic checks, each on by default. A merchant whose lines Klarna accepts with
/// other arithmetic (rounding per unit, say) can switch one off; the field limits stay.
struct validation_options {
  /// total_amount == quantity * unit_price - total_discount_amount on every line.
  bool check_line_totals = true;
  /// captured_amount == sum of the lines' total_amount, when lines are given.
  bool check_captured_amount = true;
};

namespace detail {

// Where the field being checked sits: "<list>[<index>].<object>.<field>", each part optional.
struct field_location {
  std::string_view list;
  std::size_t index = 0;
  std::string_view object;

  ::kom::error fail(errc code, std::string_view field, std::int64_t detail = 0) const noexcept {
    field_path path;
    if (!list.empty()) {
      path.append(list);
      path.append_index(index);
    }
    if (!object.empty()) path.append(object);
    path.append(field);
    return {code, path, detail};
  }

  field_location within(std::string_view child) const noexcept { return {list, index, child}; }
};

// Runs checks in order and keeps the first failure. The checks write into it, and stop once
// it holds one, so a validation frame holds one error, not one per check: on a Cortex-M this
// keeps the deepest validation path's stack small.
class first_error {
 public:
  bool ok() const noexcept { return error_.ok(); }
  const ::kom::error& get() const noexcept { return error_; }

  // Out of line and cold: the path building stays out of the callers' frames.
  [[gnu::noinline, gnu::cold]] void fail(const field_location& at, errc code, std::string_view field,
                                        std::int64_t detail = 0) noexcept {
    if (error_.ok()) error_ = at.fail(code, field, detail);
  }

 private:
  ::kom::error error_;
};

inline void check_text(first_error& e, const field_location& at, std::string_view field, std::string_view value,
                       std::size_t max_chars, bool required = false) noexcept {
  if (!e.ok()) return;
  if (required && value.empty()) return e.fail(at, errc::required, field);
  const utf8_scan scan = scan_utf8(value);
  if (!scan.valid) return e.fail(at, errc::invalid_utf8, field);
  if (scan.code_points > max_chars) e.fail(at, errc::too_long, field, static_cast<std::int64_t>(max_chars));
}

inline void check_range(first_error& e, const field_location& at, std::string_view field, std::int64_t value,
                        std::optional<std::int64_t> min, std::optional<std::int64_t> max) noexcept {
  if (!e.ok()) return;
  if (min && value < *min) return e.fail(at, errc::below_minimum, field, *min);
  if (max && value > *max) e.fail(at, errc::above_maximum, field, *max);
}

inline void check_count(first_error& e, const field_location& at, std::string_view field, std::size_t count,
                        std::size_t min, std::size_t max) noexcept {
  if (!e.ok()) return;
  if (count < min) return e.fail(at, errc::too_few_items, field, static_cast<std::int64_t>(min));
  if (count > max) e.fail(at, errc::too_many_items, field, static_cast<std::int64_t>(max));
}

inline void validate_product_identifiers(first_error& e, const field_location& at, const product_identifiers& p) noexcept {
  check_text(e, at, "brand", p.brand, limits::max_brand);
  check_text(e, at, "category_path", p.category_path, limits::max_category_path);
  check_text(e, at, "global_trade_item_number", p.global_trade_item_number, limits::max_gtin);
  check_text(e, at, "manufacturer_part_number", p.manufacturer_part_number, limits::max_manufacturer_part_number);
  check_text(e, at, "color", p.color, limits::max_color);
  check_text(e, at, "size", p.size, limits::max_size);
}

inline void validate_subscription(first_error& e, const field_location& at, const subscription& s) noexcept {
  check_text(e, at, "name", s.name, limits::max_name, true);
  if (s.interval == subscription_interval::unset) e.fail(at, errc::required, "interval");
  if (to_string(s.interval).empty()) e.fail(at, errc::not_in_set, "interval");
  check_range(e, at, "interval_count", s.interval_count, 1, limits::max_int32);
}

inline void validate_order_line(first_error& e, const field_location& at, const order_line& l,
                                const validation_options& options) noexcept {
  if (l.type != order_line_type::unset && to_string(l.type).empty()) e.fail(at, errc::not_in_set, "type");
  check_text(e, at, "reference", l.reference, limits::max_reference);
  check_text(e, at, "name", l.name, limits::max_name, true);
  check_range(e, at, "quantity", l.quantity, 0, std::nullopt);
  check_text(e, at, "quantity_unit", l.quantity_unit, limits::max_quantity_unit);
  check_range(e, at, "unit_price", l.unit_price, std::nullopt, limits::max_amount);
  if (l.tax_rate) check_range(e, at, "tax_rate", *l.tax_rate, 0, limits::max_int32);
  check_range(e, at, "total_amount", l.total_amount, std::nullopt, limits::max_amount);
  if (l.total_discount_amount)
    check_range(e, at, "total_discount_amount", *l.total_discount_amount, 0, limits::max_amount);
  if (l.total_tax_amount) check_range(e, at, "total_tax_amount", *l.total_tax_amount, std::nullopt, limits::max_amount);
  check_text(e, at, "merchant_data", l.merchant_data, limits::max_url);
  check_text(e, at, "product_url", l.product_url, limits::max_url);
  check_text(e, at, "image_url", l.image_url, limits::max_url);
  if (l.product_identifiers) validate_product_identifiers(e, at.within("product_identifiers"), *l.product_identifiers);
  if (l.subscription) validate_subscription(e, at.within("subscription"), *l.subscription);
  if (!e.ok() || !options.check_line_totals) return;

  // Checked arithmetic: a line must not be able to wrap around to a plausible total.
  std::int64_t gross = 0, net = 0;
  if (__builtin_mul_overflow(l.quantity, l.unit_price, &gross) ||
      __builtin_sub_overflow(gross, l.total_discount_amount.value_or(0), &net)) {
    return e.fail(at, errc::arithmetic_overflow, "total_amount");
  }
  if (net != l.total_amount) e.fail(at, errc::line_total_mismatch, "total_amount", net);
}

inline void validate_shipping_info(first_error& e, const field_location& at, const shipping_info& s) noexcept {
  check_text(e, at, "shipping_company", s.shipping_company, limits::max_shipping_company);
  if (s.shipping_method != shipping_method::unset && to_string(s.shipping_method).empty())
    e.fail(at, errc::not_in_set, "shipping_method");
  check_text(e, at, "tracking_number", s.tracking_number, limits::max_tracking_number);
  check_text(e, at, "tracking_uri", s.tracking_uri, limits::max_url);
  check_text(e, at, "return_shipping_company", s.return_shipping_company, limits::max_shipping_company);
  check_text(e, at, "return_tracking_number", s.return_tracking_number, limits::max_tracking_number);
  check_text(e, at, "return_tracking_uri", s.return_tracking_uri, limits::max_url);
}

inline void validate_shipping_list(first_error& e, list_view<shipping_info> list, std::size_t min) noexcept {
  check_count(e, field_location{}, "shipping_info", list.size(), min, limits::max_shipping_info);
  for (std::size_t i = 0; i < list.size() && e.ok(); ++i) validate_shipping_info(e, {"shipping_info", i, {}}, list[i]);
}

}  // namespace detail

/// Checks a capture against every limit, enum and (unless switched off) the amount
/// arithmetic. Returns the first problem, or an ok error. Errors (the field path says where):
/// required, too_long, invalid_utf8, below_minimum, above_maximum, too_many_items, not_in_set,
/// line_total_mismatch, captured_amount_mismatch, arithmetic_overflow. Allocates nothing.
inline error validate(const capture_request& r, const validation_options& options = {}) noexcept {
  const detail::field_location top;
  detail::first_error e;
  detail::check_range(e, top, "captured_amount", r.captured_amount, limits::min_captured_amount, limits::max_amount);
  detail::check_text(e, top, "description", r.description, limits::max_description);
  detail::check_text(e, top, "reference", r.reference, limits::max_reference);
  detail::check_count(e, top, "order_lines", r.order_lines.size(), 0, limits::max_order_lines);
  if (r.shipping_delay) detail::check_range(e, top, "shipping_delay", *r.shipping_delay, 0, std::nullopt);

  std::int64_t sum = 0;
  bool sum_overflowed = false;
  for (std::size_t i = 0; i < r.order_lines.size() && e.ok(); ++i) {
    const order_line& line = r.order_lines[i];
    detail::validate_order_line(e, {"order_lines", i, {}}, line, options);
    sum_overflowed = sum_overflowed || __builtin_add_overflow(sum, line.total_amount, &sum);
  }
  detail::validate_shipping_list(e, r.shipping_info, 0);

  if (e.ok() && options.check_captured_amount && !r.order_lines.empty()) {
    if (sum_overflowed) e.fail(top, errc::arithmetic_overflow, "captured_amount");
    else if (sum != r.captured_amount) e.fail(top, errc::captured_amount_mismatch, "captured_amount", sum);
  }
  return e.get();
}

/// Checks a shipping-info update: 1..500 entries, each within Klarna's limits. Errors:
/// too_few_items, too_many_items, too_long, invalid_utf8, not_in_set. Allocates nothing.
inline error validate(const shipping_info_update& u) noexcept {
  detail::first_error e;
  detail::validate_shipping_list(e, u.shipping_info, 1);
  return e.get();
}

}  // namespace kom

#endif  // KOM_VALIDATE_HPP
