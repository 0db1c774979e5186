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
inline constexpr std::int64_t max_amount = 200000000;
inline constexpr std::int64_t min_captured_amount = 1;
inline constexpr std::size_t max_description = 255;
inline constexpr std::size_t max_reference = 255;
inline constexpr std::size_t max_order_lines = 1000;
inline constexpr std::size_t max_shipping_info = 500;
inline constexpr std::size_t max_name = 255;
inline constexpr std::size_t max_quantity_unit = 10;
inline constexpr std::size_t max_url = 1024;  ///< merchant_data, product_url, image_url, tracking URIs
inline constexpr std::size_t max_shipping_company = 100;
inline constexpr std::size_t max_tracking_number = 100;
inline constexpr std::size_t max_brand = 70;
inline constexpr std::size_t max_category_path = 750;
inline constexpr std::size_t max_gtin = 50;
inline constexpr std::size_t max_manufacturer_part_number = 70;
inline constexpr std::size_t max_color = 64;
inline constexpr std::size_t max_size = 64;
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

inline ::kom::error check_text(const field_location& at, std::string_view field, std::string_view value,
                               std::size_t max_chars, bool required = false) noexcept {
  if (required && value.empty()) return at.fail(errc::required, field);
  const utf8_scan scan = scan_utf8(value);
  if (!scan.valid) return at.fail(errc::invalid_utf8, field);
  if (scan.code_points > max_chars) return at.fail(errc::too_long, field, static_cast<std::int64_t>(max_chars));
  return {};
}

inline ::kom::error check_range(const field_location& at, std::string_view field, std::int64_t value,
                                std::optional<std::int64_t> min, std::optional<std::int64_t> max) noexcept {
  if (min && value < *min) return at.fail(errc::below_minimum, field, *min);
  if (max && value > *max) return at.fail(errc::above_maximum, field, *max);
  return {};
}

inline ::kom::error check_count(const field_location& at, std::string_view field, std::size_t count,
                                std::size_t min, std::size_t max) noexcept {
  if (count < min) return at.fail(errc::too_few_items, field, static_cast<std::int64_t>(min));
  if (count > max) return at.fail(errc::too_many_items, field, static_cast<std::int64_t>(max));
  return {};
}

// Runs checks in order and keeps the first failure.
class first_error {
 public:
  first_error& operator<<(const ::kom::error& e) noexcept {
    if (error_.ok()) error_ = e;
    return *this;
  }
  bool ok() const noexcept { return error_.ok(); }
  const ::kom::error& get() const noexcept { return error_; }

 private:
  ::kom::error error_;
};

inline ::kom::error validate_product_identifiers(const field_location& at, const product_identifiers& p) noexcept {
  first_error e;
  e << check_text(at, "brand", p.brand, limits::max_brand)
    << check_text(at, "category_path", p.category_path, limits::max_category_path)
    << check_text(at, "global_trade_item_number", p.global_trade_item_number, limits::max_gtin)
    << check_text(at, "manufacturer_part_number", p.manufacturer_part_number, limits::max_manufacturer_part_number)
    << check_text(at, "color", p.color, limits::max_color)
    << check_text(at, "size", p.size, limits::max_size);
  return e.get();
}

inline ::kom::error validate_subscription(const field_location& at, const subscription& s) noexcept {
  first_error e;
  e << check_text(at, "name", s.name, limits::max_name, true);
  if (e.ok() && s.interval == subscription_interval::unset) e << at.fail(errc::required, "interval");
  if (e.ok() && to_string(s.interval).empty()) e << at.fail(errc::not_in_set, "interval");
  e << check_range(at, "interval_count", s.interval_count, 1, limits::max_int32);
  return e.get();
}

inline ::kom::error validate_order_line(const field_location& at, const order_line& l,
                                        const validation_options& options) noexcept {
  first_error e;
  if (l.type != order_line_type::unset && to_string(l.type).empty()) e << at.fail(errc::not_in_set, "type");
  e << check_text(at, "reference", l.reference, limits::max_reference)
    << check_text(at, "name", l.name, limits::max_name, true)
    << check_range(at, "quantity", l.quantity, 0, std::nullopt)
    << check_text(at, "quantity_unit", l.quantity_unit, limits::max_quantity_unit)
    << check_range(at, "unit_price", l.unit_price, std::nullopt, limits::max_amount);
  if (l.tax_rate) e << check_range(at, "tax_rate", *l.tax_rate, 0, limits::max_int32);
  e << check_range(at, "total_amount", l.total_amount, std::nullopt, limits::max_amount);
  if (l.total_discount_amount)
    e << check_range(at, "total_discount_amount", *l.total_discount_amount, 0, limits::max_amount);
  if (l.total_tax_amount) e << check_range(at, "total_tax_amount", *l.total_tax_amount, std::nullopt, limits::max_amount);
  e << check_text(at, "merchant_data", l.merchant_data, limits::max_url)
    << check_text(at, "product_url", l.product_url, limits::max_url)
    << check_text(at, "image_url", l.image_url, limits::max_url);
  if (l.product_identifiers) e << validate_product_identifiers(at.within("product_identifiers"), *l.product_identifiers);
  if (l.subscription) e << validate_subscription(at.within("subscription"), *l.subscription);
  if (!e.ok() || !options.check_line_totals) return e.get();

  // Checked arithmetic: a line must not be able to wrap around to a plausible total.
  std::int64_t gross = 0, net = 0;
  if (__builtin_mul_overflow(l.quantity, l.unit_price, &gross) ||
      __builtin_sub_overflow(gross, l.total_discount_amount.value_or(0), &net)) {
    return at.fail(errc::arithmetic_overflow, "total_amount");
  }
  if (net != l.total_amount) return at.fail(errc::line_total_mismatch, "total_amount", net);
  return {};
}

inline ::kom::error validate_shipping_info(const field_location& at, const shipping_info& s) noexcept {
  first_error e;
  e << check_text(at, "shipping_company", s.shipping_company, limits::max_shipping_company);
  if (s.shipping_method != shipping_method::unset && to_string(s.shipping_method).empty())
    e << at.fail(errc::not_in_set, "shipping_method");
  e << check_text(at, "tracking_number", s.tracking_number, limits::max_tracking_number)
    << check_text(at, "tracking_uri", s.tracking_uri, limits::max_url)
    << check_text(at, "return_shipping_company", s.return_shipping_company, limits::max_shipping_company)
    << check_text(at, "return_tracking_number", s.return_tracking_number, limits::max_tracking_number)
    << check_text(at, "return_tracking_uri", s.return_tracking_uri, limits::max_url);
  return e.get();
}

inline ::kom::error validate_shipping_list(list_view<shipping_info> list, std::size_t min) noexcept {
  const field_location top;
  if (auto e = check_count(top, "shipping_info", list.size(), min, limits::max_shipping_info); !e.ok()) return e;
  for (std::size_t i = 0; i < list.size(); ++i) {
    if (auto e = validate_shipping_info({"shipping_info", i, {}}, list[i]); !e.ok()) return e;
  }
  return {};
}

}  // namespace detail

/// Checks a capture against every limit, enum and (unless switched off) the amount
/// arithmetic. Returns the first problem, or an ok error.
inline error validate(const capture_request& r, const validation_options& options = {}) noexcept {
  const detail::field_location top;
  detail::first_error e;
  e << detail::check_range(top, "captured_amount", r.captured_amount, limits::min_captured_amount, limits::max_amount)
    << detail::check_text(top, "description", r.description, limits::max_description)
    << detail::check_text(top, "reference", r.reference, limits::max_reference)
    << detail::check_count(top, "order_lines", r.order_lines.size(), 0, limits::max_order_lines);
  if (r.shipping_delay) e << detail::check_range(top, "shipping_delay", *r.shipping_delay, 0, std::nullopt);
  if (!e.ok()) return e.get();

  std::int64_t sum = 0;
  bool sum_overflowed = false;
  for (std::size_t i = 0; i < r.order_lines.size(); ++i) {
    const order_line& line = r.order_lines[i];
    if (auto le = detail::validate_order_line({"order_lines", i, {}}, line, options); !le.ok()) return le;
    sum_overflowed = sum_overflowed || __builtin_add_overflow(sum, line.total_amount, &sum);
  }
  if (auto se = detail::validate_shipping_list(r.shipping_info, 0); !se.ok()) return se;

  if (options.check_captured_amount && !r.order_lines.empty()) {
    if (sum_overflowed) return top.fail(errc::arithmetic_overflow, "captured_amount");
    if (sum != r.captured_amount) return top.fail(errc::captured_amount_mismatch, "captured_amount", sum);
  }
  return {};
}

/// Checks a shipping-info update: 1..500 entries, each within Klarna's limits.
inline error validate(const shipping_info_update& u) noexcept {
  return detail::validate_shipping_list(u.shipping_info, 1);
}

}  // namespace kom

#endif  // KOM_VALIDATE_HPP
