// kom/fields.hpp: one description of every model type's fields, read by everything that
// handles them field by field.
//
// For each type, `fields_of<T>::fields` is a std::tuple of descriptors, one per field in the
// order Klarna's documentation lists them, each saying the field's JSON name, the member it
// lives in, its kind and its limits; `fields_of<T>::visit(v)` calls `v` with each in turn,
// and `std::get<I>` gives field I at compile time. Validation (kom/validate.hpp), the JSON bodies
// (kom/json_body.hpp), the response readers (kom/json_readers.hpp) and the outbox's record
// codec (kom/record_codec.hpp) all walk these descriptions, so a new field of order_line is
// its member and one line here (plus its tests), not one edit per layer. What a description
// cannot say (the amount arithmetic across fields) stays in kom/validate.hpp.
//
// Add a field at the end of its type's list: the outbox stores fields in this order, and reads
// records written before the field existed by their field count (kom/record_codec.hpp).
//
// Plain constexpr data: member pointers and numbers, no macros, nothing allocated.
#ifndef KOM_FIELDS_HPP
#define KOM_FIELDS_HPP

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <limits>
#include <optional>
#include <string_view>
#include <tuple>
#include <type_traits>

#include "kom/model.hpp"
#include "kom/response_model.hpp"

namespace kom {

/// Klarna's limits, in minor units, characters or items.
namespace limits {
inline constexpr std::int64_t max_amount = 200000000;  ///< captured_amount and every line amount
inline constexpr std::int64_t min_captured_amount = 1;  ///< captured_amount
inline constexpr std::int64_t min_refunded_amount = 1;  ///< refunded_amount (Klarna's spec allows 0; kom does not)
inline constexpr std::size_t max_merchant_reference = 255;  ///< merchant_reference1 and 2
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

/// The model types that have a description, numbered for compact references (an error's
/// field, a reader's node). Values are stable.
enum class model_type : std::uint8_t {
  none = 0,
  capture_request = 1,
  order_line = 2,
  product_identifiers = 3,
  subscription = 4,
  shipping_info = 5,
  shipping_info_update = 6,
  capture = 7,
  address = 8,
  order = 9,
  order_capture = 10,
  capture_list = 11,  ///< the array of GET …/captures: items are captures
  error_body = 12,    ///< an error answer's body (kom/json_readers.hpp reads it by hand)
  parameter = 13,     ///< not a model type: the names of kom::parameter
  refund_request = 14,
  merchant_references = 15,
  authorization_update = 16,
  refund = 17,
  order_refund = 18,
  payment_method = 19,
};

/// What an error can name that is not a field of a model type: a call's parameters and
/// settings. Values are stable.
enum class parameter : std::uint8_t {
  order_id,
  capture_id,
  idempotency_key,
  idempotency_name,
  credentials,
  credentials_username,
  credentials_password,
  credentials_api_key,
  server_host,
  server_port,
  user_agent_os,
  user_agent_pos_model,
  user_agent_firmware,
  capture_of,
  record,
  outbox,
  refund_id,
};

/// What a field holds.
enum class field_kind : std::uint8_t {
  text,              ///< std::string_view
  integer,           ///< std::int64_t, always sent
  optional_integer,  ///< std::optional<std::int64_t>, sent when it has a value
  enumeration,       ///< a model enum, sent as Klarna's spelling unless unset
  object,            ///< const Child*: an optional nested object, sent when not null
  embedded,          ///< Child: a nested object held by value (responses only)
  list,              ///< list_view<Item>: an array of objects
};

inline constexpr std::int64_t no_min = std::numeric_limits<std::int64_t>::min();  ///< no lower bound
inline constexpr std::int64_t no_max = std::numeric_limits<std::int64_t>::max();  ///< no upper bound
inline constexpr std::size_t no_max_chars = static_cast<std::size_t>(-1);          ///< no length limit

/// A text field: at most `max_chars` code points; `required`: must not be empty (and is
/// always sent); otherwise empty means absent.
template <class Owner>
struct text_field {
  static constexpr field_kind kind = field_kind::text;  ///< text
  std::string_view name;                               ///< the JSON key
  std::string_view Owner::*member;                     ///< where it lives
  std::size_t max_chars = no_max_chars;                ///< most code points
  bool required = false;                               ///< must not be empty
};

/// An integer that is always present, within [min, max].
template <class Owner>
struct integer_field {
  static constexpr field_kind kind = field_kind::integer;  ///< integer
  std::string_view name;                                  ///< the JSON key
  std::int64_t Owner::*member;                            ///< where it lives
  std::int64_t min = no_min;                              ///< smallest allowed
  std::int64_t max = no_max;                              ///< largest allowed
};

/// An integer that may be absent; when present, within [min, max].
template <class Owner>
struct optional_integer_field {
  static constexpr field_kind kind = field_kind::optional_integer;  ///< optional_integer
  std::string_view name;                                           ///< the JSON key
  std::optional<std::int64_t> Owner::*member;                      ///< where it lives
  std::int64_t min = no_min;                                       ///< smallest allowed
  std::int64_t max = no_max;                                       ///< largest allowed
};

/// An enum, spelled as Klarna does (enum_spellings<E>); `unset` is absent. `text`, when not
/// null, names a member that keeps the text as read (for logging an `unknown` value).
template <class Owner, class E>
struct enum_field {
  static constexpr field_kind kind = field_kind::enumeration;  ///< enumeration
  using enum_type = E;                                        ///< the enum
  std::string_view name;                                      ///< the JSON key
  E Owner::*member;                                           ///< where it lives
  bool required = false;                                      ///< must not be unset
  std::string_view Owner::*text = nullptr;                    ///< where the text as read is kept, or null
};

/// An optional nested object, pointed to (not sent when null).
template <class Owner, class Child>
struct object_field {
  static constexpr field_kind kind = field_kind::object;  ///< object
  using child_type = Child;                              ///< the nested type
  std::string_view name;                                 ///< the JSON key
  const Child* Owner::*member;                            ///< where the pointer lives
};

/// A nested object held by value.
template <class Owner, class Child>
struct embedded_field {
  static constexpr field_kind kind = field_kind::embedded;  ///< embedded
  using child_type = Child;                                ///< the nested type
  std::string_view name;                                   ///< the JSON key
  Child Owner::*member;                                    ///< where it lives
};

/// An array of objects, [min_items, max_items] of them. Sent when not empty, or always when
/// min_items > 0.
template <class Owner, class Item>
struct list_field {
  static constexpr field_kind kind = field_kind::list;  ///< list
  using child_type = Item;                             ///< the items' type
  std::string_view name;                               ///< the JSON key
  list_view<Item> Owner::*member;                      ///< where the list lives
  std::size_t min_items = 0;                           ///< fewest items
  std::size_t max_items = static_cast<std::size_t>(-1);  ///< most items
};

/// The description of T: `fields` (a std::tuple of descriptors, in order), `visit(v)` (calls v
/// with each), and `type` (T's model_type).
template <class T>
struct fields_of;

/// What every description shares: `visit(v)` calls v with each of Description::fields, in order.
template <class Description>
struct described {
  /// Calls v with each field's descriptor, in order.
  template <class V>
  static constexpr void visit(V&& v) {
    std::apply([&v](const auto&... d) { (v(d), ...); }, Description::fields);
  }
};

/// product_identifiers's fields, in the order Klarna documents them.
template <>
struct fields_of<product_identifiers> : described<fields_of<product_identifiers>> {
  static constexpr model_type type = model_type::product_identifiers;  ///< its number
  using T = product_identifiers;  ///< the described type
  /// Each field's descriptor, in order (a std::tuple: std::get<I> is field I at compile time).
  static constexpr auto fields = std::make_tuple(
      text_field<T>{"brand", &T::brand, limits::max_brand},
      text_field<T>{"category_path", &T::category_path, limits::max_category_path},
      text_field<T>{"global_trade_item_number", &T::global_trade_item_number, limits::max_gtin},
      text_field<T>{"manufacturer_part_number", &T::manufacturer_part_number, limits::max_manufacturer_part_number},
      text_field<T>{"color", &T::color, limits::max_color},
      text_field<T>{"size", &T::size, limits::max_size});
};

/// subscription's fields, in the order Klarna documents them.
template <>
struct fields_of<subscription> : described<fields_of<subscription>> {
  static constexpr model_type type = model_type::subscription;  ///< its number
  using T = subscription;  ///< the described type
  /// Each field's descriptor, in order (a std::tuple: std::get<I> is field I at compile time).
  static constexpr auto fields = std::make_tuple(
      text_field<T>{"name", &T::name, limits::max_name, true},
      enum_field<T, subscription_interval>{"interval", &T::interval, true},
      integer_field<T>{"interval_count", &T::interval_count, 1, limits::max_int32});
};

/// order_line's fields, in the order Klarna documents them.
template <>
struct fields_of<order_line> : described<fields_of<order_line>> {
  static constexpr model_type type = model_type::order_line;  ///< its number
  using T = order_line;  ///< the described type
  /// Each field's descriptor, in order (a std::tuple: std::get<I> is field I at compile time).
  static constexpr auto fields = std::make_tuple(
      enum_field<T, order_line_type>{"type", &T::type},
      text_field<T>{"reference", &T::reference, limits::max_reference},
      text_field<T>{"name", &T::name, limits::max_name, true},
      integer_field<T>{"quantity", &T::quantity, 0, no_max},
      text_field<T>{"quantity_unit", &T::quantity_unit, limits::max_quantity_unit},
      integer_field<T>{"unit_price", &T::unit_price, no_min, limits::max_amount},
      optional_integer_field<T>{"tax_rate", &T::tax_rate, 0, limits::max_int32},
      integer_field<T>{"total_amount", &T::total_amount, no_min, limits::max_amount},
      optional_integer_field<T>{"total_discount_amount", &T::total_discount_amount, 0, limits::max_amount},
      optional_integer_field<T>{"total_tax_amount", &T::total_tax_amount, no_min, limits::max_amount},
      text_field<T>{"merchant_data", &T::merchant_data, limits::max_url},
      text_field<T>{"product_url", &T::product_url, limits::max_url},
      text_field<T>{"image_url", &T::image_url, limits::max_url},
      object_field<T, product_identifiers>{"product_identifiers", &T::product_identifiers},
      object_field<T, ::kom::subscription>{"subscription", &T::subscription});
};

/// shipping_info's fields, in the order Klarna documents them.
template <>
struct fields_of<shipping_info> : described<fields_of<shipping_info>> {
  static constexpr model_type type = model_type::shipping_info;  ///< its number
  using T = shipping_info;  ///< the described type
  /// Each field's descriptor, in order (a std::tuple: std::get<I> is field I at compile time).
  static constexpr auto fields = std::make_tuple(
      text_field<T>{"shipping_company", &T::shipping_company, limits::max_shipping_company},
      enum_field<T, shipping_method>{"shipping_method", &T::shipping_method},
      text_field<T>{"tracking_number", &T::tracking_number, limits::max_tracking_number},
      text_field<T>{"tracking_uri", &T::tracking_uri, limits::max_url},
      text_field<T>{"return_shipping_company", &T::return_shipping_company, limits::max_shipping_company},
      text_field<T>{"return_tracking_number", &T::return_tracking_number, limits::max_tracking_number},
      text_field<T>{"return_tracking_uri", &T::return_tracking_uri, limits::max_url});
};

/// capture_request's fields, in the order Klarna documents them.
template <>
struct fields_of<capture_request> : described<fields_of<capture_request>> {
  static constexpr model_type type = model_type::capture_request;  ///< its number
  using T = capture_request;  ///< the described type
  /// Each field's descriptor, in order (a std::tuple: std::get<I> is field I at compile time).
  static constexpr auto fields = std::make_tuple(
      integer_field<T>{"captured_amount", &T::captured_amount, limits::min_captured_amount, limits::max_amount},
      text_field<T>{"reference", &T::reference, limits::max_reference},
      text_field<T>{"description", &T::description, limits::max_description},
      list_field<T, order_line>{"order_lines", &T::order_lines, 0, limits::max_order_lines},
      list_field<T, ::kom::shipping_info>{"shipping_info", &T::shipping_info, 0, limits::max_shipping_info},
      optional_integer_field<T>{"shipping_delay", &T::shipping_delay, 0, no_max});
};

/// shipping_info_update's fields, in the order Klarna documents them.
template <>
struct fields_of<shipping_info_update> : described<fields_of<shipping_info_update>> {
  static constexpr model_type type = model_type::shipping_info_update;  ///< its number
  using T = shipping_info_update;  ///< the described type
  /// Each field's descriptor, in order (a std::tuple: std::get<I> is field I at compile time).
  static constexpr auto fields = std::make_tuple(
      list_field<T, ::kom::shipping_info>{"shipping_info", &T::shipping_info, 1, limits::max_shipping_info});
};

/// refund_request's fields, in the order Klarna documents them.
template <>
struct fields_of<refund_request> : described<fields_of<refund_request>> {
  static constexpr model_type type = model_type::refund_request;  ///< its number
  using T = refund_request;  ///< the described type
  /// Each field's descriptor, in order (a std::tuple: std::get<I> is field I at compile time).
  static constexpr auto fields = std::make_tuple(
      integer_field<T>{"refunded_amount", &T::refunded_amount, limits::min_refunded_amount, limits::max_amount},
      text_field<T>{"description", &T::description, limits::max_description},
      text_field<T>{"reference", &T::reference, limits::max_reference},
      list_field<T, order_line>{"order_lines", &T::order_lines, 0, limits::max_order_lines});
};

/// merchant_references's fields, in the order Klarna documents them.
template <>
struct fields_of<merchant_references> : described<fields_of<merchant_references>> {
  static constexpr model_type type = model_type::merchant_references;  ///< its number
  using T = merchant_references;  ///< the described type
  /// Each field's descriptor, in order (a std::tuple: std::get<I> is field I at compile time).
  static constexpr auto fields = std::make_tuple(
      text_field<T>{"merchant_reference1", &T::merchant_reference1, limits::max_merchant_reference},
      text_field<T>{"merchant_reference2", &T::merchant_reference2, limits::max_merchant_reference});
};

/// authorization_update's fields, in the order Klarna documents them.
template <>
struct fields_of<authorization_update> : described<fields_of<authorization_update>> {
  static constexpr model_type type = model_type::authorization_update;  ///< its number
  using T = authorization_update;  ///< the described type
  /// Each field's descriptor, in order (a std::tuple: std::get<I> is field I at compile time).
  static constexpr auto fields = std::make_tuple(
      integer_field<T>{"order_amount", &T::order_amount, 0, limits::max_amount},
      text_field<T>{"description", &T::description, limits::max_description},
      list_field<T, order_line>{"order_lines", &T::order_lines, 0, limits::max_order_lines});
};

// ---- responses (read, never validated or sent) ----------------------------------------------

/// address's fields, in the order Klarna documents them.
template <>
struct fields_of<address> : described<fields_of<address>> {
  static constexpr model_type type = model_type::address;  ///< its number
  using T = address;  ///< the described type
  /// Each field's descriptor, in order (a std::tuple: std::get<I> is field I at compile time).
  static constexpr auto fields = std::make_tuple(
      text_field<T>{"given_name", &T::given_name},
      text_field<T>{"family_name", &T::family_name},
      text_field<T>{"title", &T::title},
      text_field<T>{"street_address", &T::street_address},
      text_field<T>{"street_address2", &T::street_address2},
      text_field<T>{"postal_code", &T::postal_code},
      text_field<T>{"city", &T::city},
      text_field<T>{"region", &T::region},
      text_field<T>{"country", &T::country},
      text_field<T>{"email", &T::email},
      text_field<T>{"phone", &T::phone},
      text_field<T>{"organization_name", &T::organization_name},
      text_field<T>{"attention", &T::attention});
};

/// capture's fields, in the order Klarna documents them.
template <>
struct fields_of<capture> : described<fields_of<capture>> {
  static constexpr model_type type = model_type::capture;  ///< its number
  using T = capture;  ///< the described type
  /// Each field's descriptor, in order (a std::tuple: std::get<I> is field I at compile time).
  static constexpr auto fields = std::make_tuple(
      text_field<T>{"capture_id", &T::capture_id},
      text_field<T>{"klarna_reference", &T::klarna_reference},
      integer_field<T>{"captured_amount", &T::captured_amount},
      text_field<T>{"captured_at", &T::captured_at},
      text_field<T>{"description", &T::description},
      text_field<T>{"reference", &T::reference},
      integer_field<T>{"refunded_amount", &T::refunded_amount},
      list_field<T, order_line>{"order_lines", &T::order_lines},
      list_field<T, ::kom::shipping_info>{"shipping_info", &T::shipping_info},
      embedded_field<T, address>{"billing_address", &T::billing_address},
      embedded_field<T, address>{"shipping_address", &T::shipping_address});
};

/// order_capture's fields, in the order Klarna documents them.
template <>
struct fields_of<order_capture> : described<fields_of<order_capture>> {
  static constexpr model_type type = model_type::order_capture;  ///< its number
  using T = order_capture;  ///< the described type
  /// Each field's descriptor, in order (a std::tuple: std::get<I> is field I at compile time).
  static constexpr auto fields = std::make_tuple(
      text_field<T>{"capture_id", &T::capture_id},
      text_field<T>{"klarna_reference", &T::klarna_reference},
      text_field<T>{"reference", &T::reference},
      integer_field<T>{"captured_amount", &T::captured_amount},
      integer_field<T>{"refunded_amount", &T::refunded_amount},
      text_field<T>{"captured_at", &T::captured_at});
};

/// refund's fields, in the order Klarna documents them.
template <>
struct fields_of<refund> : described<fields_of<refund>> {
  static constexpr model_type type = model_type::refund;  ///< its number
  using T = refund;  ///< the described type
  /// Each field's descriptor, in order (a std::tuple: std::get<I> is field I at compile time).
  static constexpr auto fields = std::make_tuple(
      text_field<T>{"refund_id", &T::refund_id},
      integer_field<T>{"refunded_amount", &T::refunded_amount},
      text_field<T>{"refunded_at", &T::refunded_at},
      text_field<T>{"description", &T::description},
      text_field<T>{"reference", &T::reference},
      list_field<T, order_line>{"order_lines", &T::order_lines});
};

/// order_refund's fields, in the order Klarna documents them.
template <>
struct fields_of<order_refund> : described<fields_of<order_refund>> {
  static constexpr model_type type = model_type::order_refund;  ///< its number
  using T = order_refund;  ///< the described type
  /// Each field's descriptor, in order (a std::tuple: std::get<I> is field I at compile time).
  static constexpr auto fields = std::make_tuple(
      text_field<T>{"refund_id", &T::refund_id},
      integer_field<T>{"refunded_amount", &T::refunded_amount},
      text_field<T>{"refunded_at", &T::refunded_at},
      text_field<T>{"description", &T::description},
      text_field<T>{"reference", &T::reference});
};

/// payment_method's fields (an order's initial_payment_method), in the order Klarna documents them.
template <>
struct fields_of<payment_method> : described<fields_of<payment_method>> {
  static constexpr model_type type = model_type::payment_method;  ///< its number
  using T = payment_method;  ///< the described type
  /// Each field's descriptor, in order (a std::tuple: std::get<I> is field I at compile time).
  static constexpr auto fields = std::make_tuple(
      text_field<T>{"type", &T::type},
      text_field<T>{"description", &T::description},
      optional_integer_field<T>{"number_of_installments", &T::number_of_installments});
};

/// order's fields, in the order Klarna documents them.
template <>
struct fields_of<order> : described<fields_of<order>> {
  static constexpr model_type type = model_type::order;  ///< its number
  using T = order;  ///< the described type
  /// Each field's descriptor, in order (a std::tuple: std::get<I> is field I at compile time).
  static constexpr auto fields = std::make_tuple(
      text_field<T>{"order_id", &T::order_id},
      enum_field<T, order_status>{"status", &T::status, false, &T::status_text},
      enum_field<T, ::kom::fraud_status>{"fraud_status", &T::fraud_status, false, &T::fraud_status_text},
      optional_integer_field<T>{"order_amount", &T::order_amount},
      optional_integer_field<T>{"original_order_amount", &T::original_order_amount},
      optional_integer_field<T>{"captured_amount", &T::captured_amount},
      optional_integer_field<T>{"refunded_amount", &T::refunded_amount},
      optional_integer_field<T>{"remaining_authorized_amount", &T::remaining_authorized_amount},
      text_field<T>{"purchase_currency", &T::purchase_currency},
      text_field<T>{"expires_at", &T::expires_at},
      list_field<T, order_capture>{"captures", &T::captures},
      text_field<T>{"klarna_reference", &T::klarna_reference},
      text_field<T>{"merchant_reference1", &T::merchant_reference1},
      text_field<T>{"merchant_reference2", &T::merchant_reference2},
      text_field<T>{"created_at", &T::created_at},
      text_field<T>{"locale", &T::locale},
      text_field<T>{"purchase_country", &T::purchase_country},
      list_field<T, order_line>{"order_lines", &T::order_lines},
      list_field<T, order_refund>{"refunds", &T::refunds},
      embedded_field<T, payment_method>{"initial_payment_method", &T::initial_payment_method});
};

// ---- walking a description --------------------------------------------------------------------

/// Number of fields in T's description.
template <class T>
constexpr std::size_t field_count() noexcept {
  return std::tuple_size_v<std::decay_t<decltype(fields_of<T>::fields)>>;
}

/// True for the kinds that hold an object or a list of them (not a value).
constexpr bool holds_objects(field_kind k) noexcept {
  return k == field_kind::object || k == field_kind::embedded || k == field_kind::list;
}

namespace detail {
// One entry per field of T, made at compile time by Make::entry(descriptor, index): the
// tables that turn a field number into what a layer needs of it (a path step, a reader key).
template <class T, class Make>
struct field_table {
  using entry_type = typename Make::entry_type;
  static constexpr std::size_t size = field_count<T>();
  struct array {
    entry_type items[size];
  };
  static constexpr array make() noexcept {
    array a{};
    std::size_t i = 0;
    fields_of<T>::visit([&](const auto& d) {
      a.items[i] = Make::entry(d, i);
      ++i;
    });
    return a;
  }
  static constexpr array table = make();
};
}  // namespace detail

/// The number of T's field called `name`; field_count<T>() when there is none.
template <class T>
constexpr std::size_t field_index(std::string_view name) noexcept {
  std::size_t i = 0, found = field_count<T>();
  fields_of<T>::visit([&](const auto& d) {
    if (d.name == name && found == field_count<T>()) found = i;
    ++i;
  });
  return found;
}

/// One step of a field path: the field's name, whether it is a list (its items are
/// indexed), and the type of what it holds (none for a value).
struct field_step {
  std::string_view name;                ///< the field's name ("" when none)
  bool list = false;                    ///< its items are indexed
  model_type child = model_type::none;  ///< what it holds
};

namespace detail {
// A field's path step; rendering a path is then a table lookup, not a walk.
struct make_step {
  using entry_type = field_step;
  template <class D>
  static constexpr field_step entry(const D& d, std::size_t) noexcept {
    field_step step;
    step.name = d.name;
    if constexpr (holds_objects(D::kind)) {
      step.list = D::kind == field_kind::list;
      step.child = fields_of<typename D::child_type>::type;
    }
    return step;
  }
};

template <class T>
constexpr field_step step_in(std::size_t index) noexcept {
  using steps = field_table<T, make_step>;
  return index < steps::size ? steps::table.items[index] : field_step{};
}

inline constexpr std::string_view parameter_names[] = {
    "order_id", "capture_id", "idempotency_key", "idempotency_name", "credentials", "credentials.username",
    "credentials.password", "credentials.api_key", "server.host", "server.port", "user_agent.os",
    "user_agent.pos_model", "user_agent.firmware", "capture_of", "record", "outbox", "refund_id"};
// An error body's keys, as its reader numbers them (json_field::index).
inline constexpr field_step error_body_steps[] = {
    {"error_code"}, {"error_messages", true}, {"error_message", true}, {"correlation_id"}, {"service_version"}};
}  // namespace detail

/// Step `index` inside the type numbered `type`; an empty name when either is out of range.
constexpr field_step step_of(model_type type, std::size_t index) noexcept {
  switch (type) {
    case model_type::capture_request: return detail::step_in<capture_request>(index);
    case model_type::order_line: return detail::step_in<order_line>(index);
    case model_type::product_identifiers: return detail::step_in<product_identifiers>(index);
    case model_type::subscription: return detail::step_in<subscription>(index);
    case model_type::shipping_info: return detail::step_in<shipping_info>(index);
    case model_type::shipping_info_update: return detail::step_in<shipping_info_update>(index);
    case model_type::capture: return detail::step_in<capture>(index);
    case model_type::address: return detail::step_in<address>(index);
    case model_type::order: return detail::step_in<order>(index);
    case model_type::order_capture: return detail::step_in<order_capture>(index);
    case model_type::refund_request: return detail::step_in<refund_request>(index);
    case model_type::merchant_references: return detail::step_in<merchant_references>(index);
    case model_type::authorization_update: return detail::step_in<authorization_update>(index);
    case model_type::refund: return detail::step_in<refund>(index);
    case model_type::order_refund: return detail::step_in<order_refund>(index);
    case model_type::payment_method: return detail::step_in<payment_method>(index);
    case model_type::error_body:
      return index < std::size(detail::error_body_steps) ? detail::error_body_steps[index] : field_step{};
    case model_type::parameter:
      return index < std::size(detail::parameter_names) ? field_step{detail::parameter_names[index]} : field_step{};
    case model_type::capture_list:
    case model_type::none: break;
  }
  return {};
}

namespace detail {
template <class D>
using child_of = typename D::child_type;

// Items of one type handed out in order from a caller's array: where readers and decoders
// put list items and nested objects.
template <class T>
struct item_pool {
  T* items = nullptr;
  std::size_t capacity = 0;
  std::size_t used = 0;

  T* take(std::size_t n) noexcept {
    if (items == nullptr || n > capacity - used) return nullptr;
    T* p = items + used;
    used += n;
    return p;
  }
};
}  // namespace detail

}  // namespace kom

#endif  // KOM_FIELDS_HPP
