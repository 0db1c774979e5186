// kom/operations.hpp: the calls kom covers, one row each: method, path, body, the status
// that means success, and whether the call carries an idempotency key and may be sent again.
//
// The request writer (kom/http_request.hpp), the client (kom/client.hpp) and the outbox
// (kom/outbox.hpp: which queued calls name a capture and carry a key) read these rows and
// keep no copy of their own, so a new call is one row here and one client method.
// Plain data: nothing here allocates, and nothing needs a platform.
#ifndef KOM_OPERATIONS_HPP
#define KOM_OPERATIONS_HPP

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace kom {

/// The calls kom covers. Each enumerator is the index of its row in kom::operations.
enum class operation : std::uint8_t {
  capture,               ///< POST /ordermanagement/v1/orders/{order_id}/captures
  get_capture,           ///< GET  …/orders/{order_id}/captures/{capture_id}
  list_captures,         ///< GET  …/orders/{order_id}/captures
  append_shipping_info,  ///< POST …/captures/{capture_id}/shipping-info
  trigger_send_out,      ///< POST …/captures/{capture_id}/trigger-send-out
  get_order,             ///< GET  …/orders/{order_id}
  refund,                ///< POST …/orders/{order_id}/refunds
  get_refund,            ///< GET  …/orders/{order_id}/refunds/{refund_id}
  cancel,                ///< POST …/orders/{order_id}/cancel
  release_remaining_authorization,  ///< POST …/orders/{order_id}/release-remaining-authorization
  extend_authorization_time,        ///< POST …/orders/{order_id}/extend-authorization-time
  update_merchant_references,       ///< PATCH …/orders/{order_id}/merchant-references
  update_authorization,             ///< PATCH …/orders/{order_id}/authorization
};

/// The body a call sends.
enum class body_kind : std::uint8_t {
  none,                  ///< no body (a POST without one sends Content-Length: 0)
  capture_request,       ///< a kom::capture_request
  shipping_info_update,  ///< a kom::shipping_info_update
  refund_request,        ///< a kom::refund_request
  merchant_references,   ///< a kom::merchant_references
  authorization_update,  ///< a kom::authorization_update
};

/// What a path names below the order.
enum class path_item : std::uint8_t {
  order,    ///< the order itself: /orders/{order_id}
  capture,  ///< one capture: /orders/{order_id}/captures/{capture_id}
  refund,   ///< one refund: /orders/{order_id}/refunds/{refund_id}
};

/// What kom knows of one call. The path is /ordermanagement/v1/orders/{order_id}, then
/// /captures/{id} or /refunds/{id} as `item` says, then `tail`.
struct operation_info {
  operation op;              ///< the call this row describes (its index in kom::operations)
  std::string_view name;     ///< the call's name, as kom's functions spell it
  std::string_view method;   ///< "GET", "POST" or "PATCH"
  path_item item;            ///< what the path names below the order
  std::string_view tail;     ///< the end of the path: "", "/captures", "/shipping-info", "/cancel", ...
  body_kind body;            ///< the body the request carries
  int expected_status;       ///< the status of success: 200, 201 or 204
  bool idempotency_key;      ///< the request carries Klarna-Idempotency-Key
  /// Sending it again cannot apply it twice: a GET, or a change with its key (a keyed change
  /// sent without one, post_options::without_key, is not).
  bool retry_safe;

  /// True for a POST or PATCH: it changes the order, and any 2xx says Klarna applied it.
  constexpr bool changes() const noexcept { return method != "GET"; }
  /// True when the path names a capture.
  constexpr bool capture_id() const noexcept { return item == path_item::capture; }
};

/// One row per kom::operation, in the enumerators' order.
inline constexpr operation_info operations[] = {
    // op                                         name                               method   item                path tail                            body                              status key   retry_safe
    {operation::capture,                          "capture",                         "POST",  path_item::order,   "/captures",                         body_kind::capture_request,      201, true,  true},
    {operation::get_capture,                      "get_capture",                     "GET",   path_item::capture, "",                                  body_kind::none,                 200, false, true},
    {operation::list_captures,                    "list_captures",                   "GET",   path_item::order,   "/captures",                         body_kind::none,                 200, false, true},
    {operation::append_shipping_info,             "append_shipping_info",            "POST",  path_item::capture, "/shipping-info",                    body_kind::shipping_info_update, 204, true,  true},
    {operation::trigger_send_out,                 "trigger_send_out",                "POST",  path_item::capture, "/trigger-send-out",                 body_kind::none,                 204, true,  true},
    {operation::get_order,                        "get_order",                       "GET",   path_item::order,   "",                                  body_kind::none,                 200, false, true},
    {operation::refund,                           "refund",                          "POST",  path_item::order,   "/refunds",                          body_kind::refund_request,       201, true,  true},
    {operation::get_refund,                       "get_refund",                      "GET",   path_item::refund,  "",                                  body_kind::none,                 200, false, true},
    {operation::cancel,                           "cancel",                          "POST",  path_item::order,   "/cancel",                           body_kind::none,                 204, true,  true},
    {operation::release_remaining_authorization,  "release_remaining_authorization", "POST",  path_item::order,   "/release-remaining-authorization",  body_kind::none,                 204, true,  true},
    {operation::extend_authorization_time,        "extend_authorization_time",       "POST",  path_item::order,   "/extend-authorization-time",        body_kind::none,                 204, true,  true},
    {operation::update_merchant_references,       "update_merchant_references",      "PATCH", path_item::order,   "/merchant-references",              body_kind::merchant_references,  204, true,  true},
    {operation::update_authorization,             "update_authorization",            "PATCH", path_item::order,   "/authorization",                    body_kind::authorization_update, 204, true,  true},
};

/// Rows in kom::operations.
inline constexpr std::size_t operation_count = sizeof operations / sizeof operations[0];

/// The row of `op`. A value outside the enumeration (a cast) gets get_order's row, so that a
/// log record made by hand never reads past the table.
constexpr const operation_info& info_of(operation op) noexcept {
  const auto i = static_cast<std::size_t>(op);
  return operations[i < operation_count ? i : static_cast<std::size_t>(operation::get_order)];
}

namespace detail {
// Each row sits at its enumerator's index, and the rules every row keeps: only a change
// carries a key, a GET has no body, and a row is safe to retry only when it is a GET or keyed.
constexpr bool operations_consistent() noexcept {
  for (std::size_t i = 0; i < operation_count; ++i) {
    const operation_info& row = operations[i];
    if (static_cast<std::size_t>(row.op) != i) return false;
    if (row.method != "GET" && row.method != "POST" && row.method != "PATCH") return false;
    if (row.idempotency_key != row.changes()) return false;
    if (!row.changes() && row.body != body_kind::none) return false;
    if (row.retry_safe && row.changes() && !row.idempotency_key) return false;
  }
  return true;
}
static_assert(operations_consistent(), "kom::operations: a row is out of order or breaks a rule above");
}  // namespace detail

}  // namespace kom

#endif  // KOM_OPERATIONS_HPP
