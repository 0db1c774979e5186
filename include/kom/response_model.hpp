// kom/response_model.hpp: what kom reads from Klarna's answers (a capture, the captures of an
// order, an order, an error body) and the caller-sized storage they are read into.
//
// Like the request model, nothing here owns memory: every text field is a std::string_view
// into the storage the body was read with, every list a list_view over that storage's arrays.
// A parsed order line IS a kom::order_line and parsed shipping information IS a
// kom::shipping_info, so a line read from Klarna can be sent back as it is (a refund, say).
// Text is kept as Klarna sent it, JSON-unescaped, valid UTF-8; timestamps stay ISO 8601 text.
//
// A field Klarna left out (or sent as null) keeps its default: empty text, 0, an empty list,
// `unset`, or an empty std::optional where absence matters. An enum text kom does not know,
// or an empty one, is `unknown` (Klarna adds values; the .NET SDK broke on an empty
// shipping_method). This header needs no Boost; the readers are in kom/json_readers.hpp.
#ifndef KOM_RESPONSE_MODEL_HPP
#define KOM_RESPONSE_MODEL_HPP

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <type_traits>

#include "kom/model.hpp"

namespace kom {

// ---- enums ---------------------------------------------------------------------------------
// `unset`: the field was absent or null. `unknown`: any other text, the empty text included;
// the text itself is kept next to the enum where it is worth logging.

/// An order's `status`.
enum class order_status : std::uint8_t {
  unset, authorized, part_captured, captured, cancelled, expired, closed, unknown
};

/// An order's `fraud_status`. Klarna documents it as free text "Either ACCEPTED, PENDING or
/// REJECTED"; a PENDING order cannot be captured until it is accepted.
enum class fraud_status : std::uint8_t { unset, accepted, pending, rejected, unknown };

/// An error body's `error_code`: the codes of Klarna's Order Management error list. The family
/// is open-ended (403 XXX_NOT_ALLOWED, 404 NO_SUCH_XXX): decide on the HTTP status when `unknown`.
enum class klarna_error_code : std::uint8_t {
  unset,                    ///< no error_code in the body
  not_found,                ///< 400 invalid request, 404 refund not found
  capture_not_allowed,      ///< 403: order cancelled or expired, or amount above the remaining authorization
  cancel_not_allowed,       ///< 403
  not_allowed,              ///< 403: e.g. shipping info on an order without captures
  refund_not_allowed,       ///< 403
  no_such_order,            ///< 404
  no_such_capture,          ///< 404
  conflict,                 ///< 409
  request_too_large,        ///< 413
  unprocessable_entity,     ///< 422: a field Klarna's validation refused
  invalid_address,          ///< 422
  too_many_requests,        ///< 429: back off with jitter
  internal_server_error,    ///< 500
  unexpected_error,         ///< 500
  temporarily_unavailable,  ///< 502, 503, 504
  unknown                   ///< any other code: error_body::error_code_text has it
};

namespace detail {
inline constexpr std::string_view order_status_names[] = {
    "", "AUTHORIZED", "PART_CAPTURED", "CAPTURED", "CANCELLED", "EXPIRED", "CLOSED"};
inline constexpr std::string_view fraud_status_names[] = {"", "ACCEPTED", "PENDING", "REJECTED"};
inline constexpr std::string_view klarna_error_code_names[] = {
    "", "NOT_FOUND", "CAPTURE_NOT_ALLOWED", "CANCEL_NOT_ALLOWED", "NOT_ALLOWED", "REFUND_NOT_ALLOWED",
    "NO_SUCH_ORDER", "NO_SUCH_CAPTURE", "CONFLICT", "REQUEST_TOO_LARGE", "UNPROCESSABLE_ENTITY",
    "INVALID_ADDRESS", "TOO_MANY_REQUESTS", "INTERNAL_SERVER_ERROR", "UNEXPECTED_ERROR",
    "TEMPORARILY_UNAVAILABLE"};
}  // namespace detail

/// Klarna's spellings of order_status.
template <>
struct enum_spellings<order_status> {
  static constexpr list_view<std::string_view> names{detail::order_status_names};  ///< index = value
};
/// Klarna's spellings of fraud_status.
template <>
struct enum_spellings<fraud_status> {
  static constexpr list_view<std::string_view> names{detail::fraud_status_names};  ///< index = value
};
/// Klarna's spellings of klarna_error_code.
template <>
struct enum_spellings<klarna_error_code> {
  static constexpr list_view<std::string_view> names{detail::klarna_error_code_names};  ///< index = value
};

/// Klarna's spelling; empty for unset, unknown and out-of-range values.
constexpr std::string_view to_string(order_status s) noexcept {
  return detail::enum_name(s, detail::order_status_names);
}
/// Klarna's spelling, e.g. "ACCEPTED"; empty for unset, unknown and out-of-range values.
constexpr std::string_view to_string(fraud_status s) noexcept {
  return detail::enum_name(s, detail::fraud_status_names);
}
/// Klarna's spelling, e.g. "NO_SUCH_ORDER"; empty for unset, unknown and out-of-range values.
constexpr std::string_view to_string(klarna_error_code c) noexcept {
  return detail::enum_name(c, detail::klarna_error_code_names);
}

/// Exact, case-sensitive match of Klarna's spelling; anything else, "" included, is `unknown`.
constexpr order_status order_status_from_string(std::string_view s) noexcept {
  return detail::enum_from_text<order_status>(s, detail::order_status_names);
}
/// Exact, case-sensitive match of Klarna's spelling; anything else, "" included, is `unknown`.
constexpr fraud_status fraud_status_from_string(std::string_view s) noexcept {
  return detail::enum_from_text<fraud_status>(s, detail::fraud_status_names);
}
/// Exact, case-sensitive match of Klarna's spelling; anything else, "" included, is `unknown`.
constexpr klarna_error_code klarna_error_code_from_string(std::string_view s) noexcept {
  return detail::enum_from_text<klarna_error_code>(s, detail::klarna_error_code_names);
}

// ---- results -------------------------------------------------------------------------------

/// A billing or shipping address as a capture reports it.
struct address {
  std::string_view given_name;       ///< first name
  std::string_view family_name;      ///< last name
  std::string_view title;            ///< e.g. "Mr", "Ms"
  std::string_view street_address;   ///< street and number
  std::string_view street_address2;  ///< a second address line
  std::string_view postal_code;      ///< postal or ZIP code
  std::string_view city;             ///< city
  std::string_view region;           ///< state or region, where the country has them
  std::string_view country;   ///< ISO 3166 alpha-2, as sent ("US" or "us")
  std::string_view email;            ///< e-mail address
  std::string_view phone;            ///< phone number
  std::string_view organization_name;  ///< a business customer's company (B2B receipts)
  std::string_view attention;        ///< a business customer's contact person
};

/// One capture: GET /ordermanagement/v1/orders/{order_id}/captures/{capture_id}, or one item
/// of GET …/captures. Amounts are in minor units; an absent amount reads 0.
struct capture {
  std::string_view capture_id;          ///< Klarna's id of the capture
  std::string_view klarna_reference;    ///< customer-facing, e.g. "4K7Q6QF6-1"
  std::int64_t captured_amount = 0;     ///< the amount captured
  std::string_view captured_at;         ///< ISO 8601 as sent, e.g. "2017-01-10T10:31:17.973Z"
  std::string_view description;         ///< as given at capture
  std::string_view reference;           ///< the merchant's reference, as given at capture
  std::int64_t refunded_amount = 0;     ///< refunded from this capture so far
  list_view<order_line> order_lines;    ///< product_identifiers / subscription point into the storage
  list_view<::kom::shipping_info> shipping_info;  ///< shipping entries, in the storage
  address billing_address;              ///< empty fields when absent
  address shipping_address;             ///< empty fields when absent
  /// Something of this capture was dropped or cut to fit the storage (only when the read
  /// allowed truncation).
  bool truncated = false;
};

/// The captures of GET …/captures, as read into the caller's array.
struct capture_list {
  list_view<capture> captures;  ///< the captures read, in the caller's array
  /// Captures beyond the array were dropped, or some capture is itself `truncated`.
  bool truncated = false;
};

/// A capture as an order lists it: its ids and amounts (its lines are not read).
struct order_capture {
  std::string_view capture_id;          ///< Klarna's id of the capture
  std::string_view klarna_reference;    ///< customer-facing, e.g. "4K7Q6QF6-1"
  std::string_view reference;           ///< the merchant's reference, as given at capture
  std::int64_t captured_amount = 0;     ///< minor units; 0 when absent
  std::int64_t refunded_amount = 0;     ///< minor units; 0 when absent
  std::string_view captured_at;         ///< ISO 8601 as sent
};

/// One refund: GET …/orders/{order_id}/refunds/{refund_id}. Amounts in minor units.
struct refund {
  std::string_view refund_id;           ///< Klarna's id of the refund
  std::int64_t refunded_amount = 0;     ///< the amount refunded
  std::string_view refunded_at;         ///< ISO 8601 as sent
  std::string_view description;         ///< as given at refund
  std::string_view reference;           ///< the merchant's reference, as given at refund
  list_view<order_line> order_lines;    ///< the lines returned, in the storage
  /// Something of this refund was dropped or cut to fit the storage (only when the read
  /// allowed truncation).
  bool truncated = false;
};

/// A refund as an order lists it (its lines are not read): enough for a till to see that a
/// return was already refunded.
struct order_refund {
  std::string_view refund_id;           ///< Klarna's id of the refund
  std::int64_t refunded_amount = 0;     ///< minor units; 0 when absent
  std::string_view refunded_at;         ///< ISO 8601 as sent
  std::string_view description;         ///< as given at refund
  std::string_view reference;           ///< the merchant's reference, as given at refund
};

/// How the customer chose to pay (an order's `initial_payment_method`), for the receipt.
struct payment_method {
  /// Klarna's type as sent: ACCOUNT, CARD, FIXED_AMOUNT, INVOICE, PAY_IN_X, ... (an open set).
  std::string_view type;
  std::string_view description;         ///< e.g. "Slice it (Fixed Payments)"
  std::optional<std::int64_t> number_of_installments;  ///< when the method has installments
};

/// GET /ordermanagement/v1/orders/{order_id}: what a terminal needs to decide on a capture.
/// The amounts are std::optional because a missing amount is not a zero amount: with no
/// remaining_authorized_amount, nothing is known about what may still be captured.
struct order {
  std::string_view order_id;                    ///< Klarna's id of the order
  order_status status = order_status::unset;    ///< the order's status
  std::string_view status_text;                 ///< as sent, for logging an `unknown` status
  ::kom::fraud_status fraud_status = ::kom::fraud_status::unset;  ///< see kom::fraud_status
  std::string_view fraud_status_text;           ///< as sent
  std::optional<std::int64_t> order_amount;     ///< the order's amount now, minor units
  std::optional<std::int64_t> original_order_amount;  ///< the amount first authorized
  std::optional<std::int64_t> captured_amount;  ///< total of all captures
  std::optional<std::int64_t> refunded_amount;  ///< total refunded
  std::optional<std::int64_t> remaining_authorized_amount;  ///< what may still be captured
  std::string_view purchase_currency;           ///< ISO 4217 as sent ("USD" or "usd")
  std::string_view expires_at;                  ///< ISO 8601: capture only before this time
  list_view<order_capture> captures;            ///< the order's captures, in the storage
  std::string_view klarna_reference;            ///< customer-facing, e.g. "K4MADNY"
  std::string_view merchant_reference1;         ///< the merchant's order number
  std::string_view merchant_reference2;         ///< the merchant's internal reference
  std::string_view created_at;                  ///< ISO 8601: when the customer bought
  std::string_view locale;                      ///< RFC 1766, e.g. "en-us"
  std::string_view purchase_country;            ///< ISO 3166-1 alpha-2 as sent
  list_view<order_line> order_lines;            ///< the order's lines: a return is picked from them
  list_view<order_refund> refunds;              ///< refunds so far: a till must not refund twice
  payment_method initial_payment_method;        ///< for the receipt; empty when absent
  bool truncated = false;                       ///< something dropped or cut to fit
};

/// The body of an Order Management error (4xx, 5xx): {error_code, error_messages,
/// correlation_id}. Give Klarna's support the correlation_id.
struct error_body {
  klarna_error_code error_code = klarna_error_code::unset;  ///< the error's code
  std::string_view error_code_text;             ///< as sent, for an `unknown` code
  /// `error_messages` items, then those of `error_message` (a string or an array, which
  /// older services send), in the order they come.
  list_view<std::string_view> error_messages;
  std::string_view correlation_id;              ///< Klarna's id of the request, for its support
  std::string_view service_version;             ///< sent by some services; often empty
  bool truncated = false;                       ///< messages or text dropped or cut to fit
};

// ---- storage ----------------------------------------------------------------------------------
// The caller picks each capacity; a read never goes past one. Every read starts the storage
// afresh: the results of an earlier read with the same storage are then invalid. Pass the
// storage itself (an lvalue): the results point into it, so a temporary is refused.
//
// Capacities are named, in any order, and the ones not named keep their defaults:
//   kom::capture_storage<kom::capacity::lines<4>, kom::capacity::text_bytes<512>> storage;

/// The named capacities of kom's storages and of kom::basic_outbox.
namespace capacity {
template <std::size_t N>
/// Capacity: order lines (of a whole read; of one queued capture).
struct lines {
  static constexpr std::size_t value = N;  ///< the capacity
};
template <std::size_t N>
/// Capacity: shipping entries (of a whole read; of one queued operation).
struct shipping_entries {
  static constexpr std::size_t value = N;  ///< the capacity
};
template <std::size_t N>
/// Capacity: bytes of text a read keeps, unescaped.
struct text_bytes {
  static constexpr std::size_t value = N;  ///< the capacity
};
template <std::size_t N>
/// Capacity: lines' product_identifiers over a whole read.
struct product_identifiers {
  static constexpr std::size_t value = N;  ///< the capacity
};
template <std::size_t N>
/// Capacity: lines' subscriptions over a whole read.
struct subscriptions {
  static constexpr std::size_t value = N;  ///< the capacity
};
template <std::size_t N>
/// Capacity: an order's captures kept.
struct captures {
  static constexpr std::size_t value = N;  ///< the capacity
};
template <std::size_t N>
/// Capacity: an order's refunds kept.
struct refunds {
  static constexpr std::size_t value = N;  ///< the capacity
};
template <std::size_t N>
/// Capacity: an error body's messages kept.
struct messages {
  static constexpr std::size_t value = N;  ///< the capacity
};
template <std::size_t N>
/// Capacity: operations an outbox holds at once.
struct operations {
  static constexpr std::size_t value = N;  ///< the capacity
};
template <std::size_t N>
/// Capacity: payload bytes of one outbox record.
struct record_bytes {
  static constexpr std::size_t value = N;  ///< the capacity
};
}  // namespace capacity

namespace detail {
// The value of capacity Name among Given, or Default when Given does not name it.
template <template <std::size_t> class Name, std::size_t Default, class... Given>
struct capacity_of {
  static constexpr std::size_t value = Default;
};
template <template <std::size_t> class Name, std::size_t Default, std::size_t N, class... Rest>
struct capacity_of<Name, Default, Name<N>, Rest...> {
  static constexpr std::size_t value = N;
};
template <template <std::size_t> class Name, std::size_t Default, class First, class... Rest>
struct capacity_of<Name, Default, First, Rest...> : capacity_of<Name, Default, Rest...> {};

template <template <std::size_t> class Name, class T>
struct is_capacity : std::false_type {};
template <template <std::size_t> class Name, std::size_t N>
struct is_capacity<Name, Name<N>> : std::true_type {};

// True when every one of Given is one of the capacities Allowed.
template <class T, template <std::size_t> class... Allowed>
inline constexpr bool capacity_allowed = (is_capacity<Allowed, T>::value || ...);
}  // namespace detail

/// The memory a capture read fills, as pointers and capacities (made by capture_storage).
struct capture_storage_ref {
  order_line* lines = nullptr;                    ///< order lines of every capture read
  std::size_t lines_capacity = 0;                 ///< number of `lines`
  ::kom::shipping_info* shipping = nullptr;       ///< shipping entries of every capture read
  std::size_t shipping_capacity = 0;              ///< number of `shipping`
  product_identifiers* identifiers = nullptr;     ///< the lines' product_identifiers
  std::size_t identifiers_capacity = 0;           ///< number of `identifiers`
  ::kom::subscription* subscriptions = nullptr;   ///< the lines' subscriptions
  std::size_t subscriptions_capacity = 0;         ///< number of `subscriptions`
  char* text = nullptr;                           ///< every kept string, unescaped
  std::size_t text_capacity = 0;                  ///< bytes of `text`
};

/// Storage for reading one capture, or all captures of an order (shared by them). Lines,
/// shipping entries, product_identifiers and subscriptions are counted over the whole read;
/// text holds every kept string, unescaped. Capacities (kom::capacity, any order): lines
/// (16), shipping_entries (4), text_bytes (4096), product_identifiers (4), subscriptions (4).
/// The defaults fit a typical point-of-sale capture; `sizeof(kom::capture_storage<>)` is
/// about 8 KB on 64-bit, 6.6 KB on 32-bit.
template <class... Capacities>
class capture_storage {
  static_assert((detail::capacity_allowed<Capacities, capacity::lines, capacity::shipping_entries,
                                          capacity::text_bytes, capacity::product_identifiers,
                                          capacity::subscriptions> && ...),
                "capture_storage takes lines, shipping_entries, text_bytes, product_identifiers, subscriptions");

 public:
  static constexpr std::size_t lines_capacity = detail::capacity_of<capacity::lines, 16, Capacities...>::value;  ///< order lines over the whole read
  static constexpr std::size_t shipping_capacity = detail::capacity_of<capacity::shipping_entries, 4, Capacities...>::value;  ///< shipping entries over the whole read
  static constexpr std::size_t text_capacity = detail::capacity_of<capacity::text_bytes, 4096, Capacities...>::value;  ///< bytes of text
  static constexpr std::size_t identifiers_capacity = detail::capacity_of<capacity::product_identifiers, 4, Capacities...>::value;  ///< product_identifiers over the whole read
  static constexpr std::size_t subscriptions_capacity = detail::capacity_of<capacity::subscriptions, 4, Capacities...>::value;  ///< subscriptions over the whole read

  /// This storage as a capture_storage_ref (an lvalue only: the results point into it).
  operator capture_storage_ref() & noexcept {
    return {lines_,        lines_capacity,  shipping_, shipping_capacity, identifiers_, identifiers_capacity,
            subscriptions_, subscriptions_capacity, text_, text_capacity};
  }
  operator capture_storage_ref() && = delete;  // the results would point into a temporary

 private:
  // One element at least: a zero capacity is allowed, a zero-length array is not.
  order_line lines_[lines_capacity ? lines_capacity : 1];
  ::kom::shipping_info shipping_[shipping_capacity ? shipping_capacity : 1];
  ::kom::product_identifiers identifiers_[identifiers_capacity ? identifiers_capacity : 1];
  ::kom::subscription subscriptions_[subscriptions_capacity ? subscriptions_capacity : 1];
  char text_[text_capacity ? text_capacity : 1];
};

/// Storage for reading one refund (GET …/refunds/{refund_id}): the same memory as a capture's
/// (its lines, their product_identifiers and subscriptions, and text).
template <class... Capacities>
using refund_storage = capture_storage<Capacities...>;

/// The memory an order read fills (made by order_storage). A null array is not read: that
/// list is skipped, and does not count as truncation (an order read only for its amounts).
struct order_storage_ref {
  order_capture* captures = nullptr;   ///< the order's captures
  std::size_t captures_capacity = 0;   ///< number of `captures`
  order_refund* refunds = nullptr;     ///< the order's refunds
  std::size_t refunds_capacity = 0;    ///< number of `refunds`
  order_line* lines = nullptr;         ///< the order's lines
  std::size_t lines_capacity = 0;      ///< number of `lines`
  product_identifiers* identifiers = nullptr;    ///< the lines' product_identifiers
  std::size_t identifiers_capacity = 0;          ///< number of `identifiers`
  ::kom::subscription* subscriptions = nullptr;  ///< the lines' subscriptions
  std::size_t subscriptions_capacity = 0;        ///< number of `subscriptions`
  char* text = nullptr;                ///< every kept string, unescaped
  std::size_t text_capacity = 0;       ///< bytes of `text`
};

/// Storage for reading an order: its captures' and refunds' ids and amounts, its lines, and
/// its text. Capacities (kom::capacity, any order): captures (8), refunds (8), lines (16),
/// product_identifiers (16), subscriptions (4), text_bytes (4096): 16 lines, each with its
/// product identifiers and URLs, fit. An order with more is json_too_many_items (naming
/// order_lines) unless truncation is allowed; `sizeof(kom::order_storage<>)` is about 10 KB on
/// 64-bit, 7.7 KB on 32-bit.
template <class... Capacities>
class order_storage {
  static_assert((detail::capacity_allowed<Capacities, capacity::captures, capacity::refunds, capacity::lines,
                                          capacity::product_identifiers, capacity::subscriptions,
                                          capacity::text_bytes> && ...),
                "order_storage takes captures, refunds, lines, product_identifiers, subscriptions, text_bytes");

 public:
  static constexpr std::size_t captures_capacity = detail::capacity_of<capacity::captures, 8, Capacities...>::value;  ///< captures of the order kept
  static constexpr std::size_t refunds_capacity = detail::capacity_of<capacity::refunds, 8, Capacities...>::value;  ///< refunds of the order kept
  static constexpr std::size_t lines_capacity = detail::capacity_of<capacity::lines, 16, Capacities...>::value;  ///< order lines kept
  static constexpr std::size_t identifiers_capacity = detail::capacity_of<capacity::product_identifiers, 16, Capacities...>::value;  ///< lines' product_identifiers kept
  static constexpr std::size_t subscriptions_capacity = detail::capacity_of<capacity::subscriptions, 4, Capacities...>::value;  ///< lines' subscriptions kept
  static constexpr std::size_t text_capacity = detail::capacity_of<capacity::text_bytes, 4096, Capacities...>::value;  ///< bytes of text

  /// This storage as an order_storage_ref (an lvalue only: the results point into it).
  operator order_storage_ref() & noexcept {
    return {captures_, captures_capacity, refunds_, refunds_capacity, lines_, lines_capacity, identifiers_,
            identifiers_capacity, subscriptions_, subscriptions_capacity, text_, text_capacity};
  }
  operator order_storage_ref() && = delete;

 private:
  order_capture captures_[captures_capacity ? captures_capacity : 1];
  order_refund refunds_[refunds_capacity ? refunds_capacity : 1];
  order_line lines_[lines_capacity ? lines_capacity : 1];
  ::kom::product_identifiers identifiers_[identifiers_capacity ? identifiers_capacity : 1];
  ::kom::subscription subscriptions_[subscriptions_capacity ? subscriptions_capacity : 1];
  char text_[text_capacity ? text_capacity : 1];
};

/// The memory an error-body read fills (made by error_body_storage).
struct error_body_storage_ref {
  std::string_view* messages = nullptr;  ///< the error messages
  std::size_t messages_capacity = 0;     ///< number of `messages`
  char* text = nullptr;                  ///< every kept string, unescaped
  std::size_t text_capacity = 0;         ///< bytes of `text`
};

/// Storage for reading an error body: its messages and its text. Capacities (kom::capacity,
/// any order): messages (4), text_bytes (512).
template <class... Capacities>
class error_body_storage {
  static_assert((detail::capacity_allowed<Capacities, capacity::messages, capacity::text_bytes> && ...),
                "error_body_storage takes messages, text_bytes");

 public:
  static constexpr std::size_t messages_capacity = detail::capacity_of<capacity::messages, 4, Capacities...>::value;  ///< error messages kept
  static constexpr std::size_t text_capacity = detail::capacity_of<capacity::text_bytes, 512, Capacities...>::value;  ///< bytes of text

  /// This storage as an error_body_storage_ref (an lvalue only: the results point into it).
  operator error_body_storage_ref() & noexcept { return {messages_, messages_capacity, text_, text_capacity}; }
  operator error_body_storage_ref() && = delete;

 private:
  std::string_view messages_[messages_capacity ? messages_capacity : 1];
  char text_[text_capacity ? text_capacity : 1];
};

}  // namespace kom

#endif  // KOM_RESPONSE_MODEL_HPP
