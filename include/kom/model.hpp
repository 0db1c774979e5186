// kom/model.hpp: the request model of Klarna's Order Management calls kom covers.
//
// Nothing here owns memory: text fields are std::string_view into the caller's memory, lists
// are list_view over the caller's arrays (the caller picks the capacity). An optional text
// field left empty is not sent; an optional number is std::optional and is not sent when
// empty. Enums are Klarna's closed, case-sensitive sets.
#ifndef KOM_MODEL_HPP
#define KOM_MODEL_HPP

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace kom {

/// A read-only view over a caller's array.
template <class T>
class list_view {
 public:
  /// Empty.
  constexpr list_view() noexcept = default;
  /// `data[0, size)`, not copied; empty when `data` is null.
  constexpr list_view(const T* data, std::size_t size) noexcept : data_(data), size_(data ? size : 0) {}
  /// All N items of `items`, not copied.
  template <std::size_t N>
  constexpr list_view(const T (&items)[N]) noexcept : data_(items), size_(N) {}

  /// The first item.
  constexpr const T* begin() const noexcept { return data_; }
  /// One past the last item.
  constexpr const T* end() const noexcept { return data_ + size_; }
  /// Number of items.
  constexpr std::size_t size() const noexcept { return size_; }
  /// True when there are no items.
  constexpr bool empty() const noexcept { return size_ == 0; }
  /// Item `i`; unchecked: `i` must be below size().
  constexpr const T& operator[](std::size_t i) const noexcept { return data_[i]; }

 private:
  const T* data_ = nullptr;
  std::size_t size_ = 0;
};

// ---- enums ---------------------------------------------------------------------------------
// `unset` (not sent) is 0 in each; `unknown` stands for any text outside Klarna's set, which
// validation refuses in a request and a response reader keeps without failing.

/// An order line's `type`.
enum class order_line_type : std::uint8_t {
  unset, physical, discount, shipping_fee, sales_tax, store_credit, gift_card, digital,
  surcharge, return_fee, unknown
};

/// A shipping entry's `shipping_method` (Klarna spells them "PickUpStore", "Home", ...).
enum class shipping_method : std::uint8_t {
  unset, pick_up_store, home, box_reg, box_unreg, pick_up_point, own, postal, dhl_packstation,
  digital, undefined, pick_up_warehouse, click_collect, pallet_delivery, unknown
};

/// A subscription's `interval` (Klarna spells them "DAY", "WEEK", ...).
enum class subscription_interval : std::uint8_t { unset, day, week, month, year, unknown };

namespace detail {
inline constexpr std::string_view order_line_type_names[] = {
    "", "physical", "discount", "shipping_fee", "sales_tax", "store_credit", "gift_card",
    "digital", "surcharge", "return_fee"};
inline constexpr std::string_view shipping_method_names[] = {
    "", "PickUpStore", "Home", "BoxReg", "BoxUnreg", "PickUpPoint", "Own", "Postal",
    "DHLPackstation", "Digital", "Undefined", "PickUpWarehouse", "ClickCollect", "PalletDelivery"};
inline constexpr std::string_view subscription_interval_names[] = {"", "DAY", "WEEK", "MONTH", "YEAR"};

template <class E, std::size_t N>
constexpr std::string_view enum_name(E e, const std::string_view (&names)[N]) noexcept {
  const auto i = static_cast<std::size_t>(e);
  return i < N ? names[i] : std::string_view();
}

template <class E, std::size_t N>
constexpr E enum_from_text(std::string_view text, const std::string_view (&names)[N]) noexcept {
  if (text.empty()) return E::unknown;  // empty text is not a value; unset is for "not given"
  for (std::size_t i = 1; i < N; ++i) {
    if (names[i] == text) return static_cast<E>(i);
  }
  return E::unknown;
}
}  // namespace detail

/// Klarna's spellings of an enum, index = the enumerator's value (index 0, `unset`, is "").
/// Specialised for every enum of the model; what generic code (kom/fields.hpp) reads.
template <class E>
struct enum_spellings;

/// Klarna's spelling; empty for unset, unknown and out-of-range values.
constexpr std::string_view to_string(order_line_type t) noexcept {
  return detail::enum_name(t, detail::order_line_type_names);
}
/// Klarna's spelling, e.g. "PickUpStore"; empty for unset, unknown and out-of-range values.
constexpr std::string_view to_string(shipping_method m) noexcept {
  return detail::enum_name(m, detail::shipping_method_names);
}
/// Klarna's spelling, e.g. "MONTH"; empty for unset, unknown and out-of-range values.
constexpr std::string_view to_string(subscription_interval i) noexcept {
  return detail::enum_name(i, detail::subscription_interval_names);
}

/// Klarna's spellings of order_line_type.
template <>
struct enum_spellings<order_line_type> {
  static constexpr list_view<std::string_view> names{detail::order_line_type_names};  ///< index = value
};
/// Klarna's spellings of shipping_method.
template <>
struct enum_spellings<shipping_method> {
  static constexpr list_view<std::string_view> names{detail::shipping_method_names};  ///< index = value
};
/// Klarna's spellings of subscription_interval.
template <>
struct enum_spellings<subscription_interval> {
  static constexpr list_view<std::string_view> names{detail::subscription_interval_names};  ///< index = value
};

/// Exact, case-sensitive match of Klarna's spelling; anything else is `unknown`.
constexpr order_line_type order_line_type_from_string(std::string_view s) noexcept {
  return detail::enum_from_text<order_line_type>(s, detail::order_line_type_names);
}
/// Exact, case-sensitive match of Klarna's spelling; anything else is `unknown`.
constexpr shipping_method shipping_method_from_string(std::string_view s) noexcept {
  return detail::enum_from_text<shipping_method>(s, detail::shipping_method_names);
}
/// Exact, case-sensitive match of Klarna's spelling; anything else is `unknown`.
constexpr subscription_interval subscription_interval_from_string(std::string_view s) noexcept {
  return detail::enum_from_text<subscription_interval>(s, detail::subscription_interval_names);
}

/// Klarna's spelling of any model enum; empty for unset, unknown and out-of-range values.
template <class E>
constexpr std::string_view spelling_of(E e) noexcept {
  const auto i = static_cast<std::size_t>(e);
  const list_view<std::string_view> names = enum_spellings<E>::names;
  return i < names.size() ? names[i] : std::string_view();
}

/// The enumerator Klarna spells `text` (exact, case-sensitive); anything else, "" included, is
/// `unknown`.
template <class E>
constexpr E enum_from_spelling(std::string_view text) noexcept {
  const list_view<std::string_view> names = enum_spellings<E>::names;
  if (text.empty()) return E::unknown;
  for (std::size_t i = 1; i < names.size(); ++i) {
    if (names[i] == text) return static_cast<E>(i);
  }
  return E::unknown;
}

// ---- objects -------------------------------------------------------------------------------

/// Optional details of a product; limits in characters.
struct product_identifiers {
  std::string_view brand;                     ///< <= 70 characters
  std::string_view category_path;             ///< <= 750, e.g. "Electronics Store > Computers"
  std::string_view global_trade_item_number;  ///< <= 50 (GTIN/EAN)
  std::string_view manufacturer_part_number;  ///< <= 70
  std::string_view color;                     ///< <= 64
  std::string_view size;                      ///< <= 64
};

/// All three fields are required when a line carries a subscription.
struct subscription {
  std::string_view name;                                        ///< 1..255 characters
  subscription_interval interval = subscription_interval::unset;  ///< required: not unset
  std::int64_t interval_count = 0;                              ///< >= 1 (int32)
};

/// One order line. name, quantity, unit_price and total_amount are required by Klarna and
/// always sent; amounts are in minor units (cents), tax_rate in hundredths of a percent.
struct order_line {
  order_line_type type = order_line_type::unset;  ///< not sent when unset
  std::string_view reference;                  ///< SKU, <= 255 characters
  std::string_view name;                       ///< 1..255 characters, required
  std::int64_t quantity = 0;                   ///< >= 0
  std::string_view quantity_unit;              ///< <= 10 characters
  std::int64_t unit_price = 0;                 ///< <= 200000000
  std::optional<std::int64_t> tax_rate;        ///< >= 0 (2500 = 25 %)
  std::int64_t total_amount = 0;               ///< <= 200000000
  std::optional<std::int64_t> total_discount_amount;  ///< 0..200000000
  std::optional<std::int64_t> total_tax_amount;       ///< <= 200000000
  std::string_view merchant_data;              ///< <= 1024 characters
  std::string_view product_url;                ///< <= 1024 characters
  std::string_view image_url;                  ///< <= 1024 characters
  const ::kom::product_identifiers* product_identifiers = nullptr;  ///< not sent when null
  const ::kom::subscription* subscription = nullptr;                ///< not sent when null
};

/// How one parcel of a capture travels; every field optional, limits in characters.
struct shipping_info {
  std::string_view shipping_company;          ///< <= 100 characters, e.g. "DHL US"
  ::kom::shipping_method shipping_method = ::kom::shipping_method::unset;  ///< not sent when unset
  std::string_view tracking_number;           ///< <= 100
  std::string_view tracking_uri;              ///< <= 1024
  std::string_view return_shipping_company;   ///< <= 100
  std::string_view return_tracking_number;    ///< <= 100
  std::string_view return_tracking_uri;       ///< <= 1024
};

/// Body of POST /ordermanagement/v1/orders/{order_id}/captures (full or partial capture).
struct capture_request {
  std::int64_t captured_amount = 0;                 ///< 1..200000000, required
  std::string_view description;                     ///< <= 255, shown to the customer
  std::string_view reference;                       ///< <= 255, in settlement files
  list_view<order_line> order_lines;                ///< <= 1000
  list_view<::kom::shipping_info> shipping_info;    ///< <= 500
  std::optional<std::int64_t> shipping_delay;       ///< >= 0
};

/// Body of POST …/captures/{capture_id}/shipping-info.
struct shipping_info_update {
  list_view<::kom::shipping_info> shipping_info;    ///< 1..500
};

/// Body of POST …/orders/{order_id}/refunds: goods returned at the till, or a goodwill refund.
/// Klarna's spec allows refunded_amount 0; kom refuses it as it refuses a capture of 0 (a
/// refund of nothing moves no money and only adds a line to the customer's statement).
struct refund_request {
  std::int64_t refunded_amount = 0;                 ///< 1..200000000, required
  std::string_view description;                     ///< <= 255, shown to the customer
  std::string_view reference;                       ///< <= 255, in settlement files
  list_view<order_line> order_lines;                ///< <= 1000: the lines returned
};

/// Body of PATCH …/orders/{order_id}/merchant-references. A reference left empty is not sent
/// and stays as it is at Klarna; at least one must be given.
struct merchant_references {
  std::string_view merchant_reference1;  ///< <= 255: the order number the customer sees (the receipt's)
  std::string_view merchant_reference2;  ///< <= 255: an internal reference
};

/// Body of PATCH …/orders/{order_id}/authorization: the basket changed before the goods were
/// collected. Klarna refuses an amount below what is already captured.
struct authorization_update {
  std::int64_t order_amount = 0;                    ///< 0..200000000, required: the new total
  std::string_view description;                     ///< <= 255: what changed
  list_view<order_line> order_lines;                ///< <= 1000: the new set of lines
};

}  // namespace kom

#endif  // KOM_MODEL_HPP
