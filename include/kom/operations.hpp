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
};

/// The body a call sends.
enum class body_kind : std::uint8_t {
  none,                  ///< no body (a POST without one sends Content-Length: 0)
  capture_request,       ///< a kom::capture_request
  shipping_info_update,  ///< a kom::shipping_info_update
};

/// What kom knows of one call. The path is /ordermanagement/v1/orders/{order_id}, then
/// /captures/{capture_id} when `capture_id` is set, then `tail`.
struct operation_info {
  operation op;              ///< the call this row describes (its index in kom::operations)
  std::string_view name;     ///< the call's name, as kom's functions spell it
  std::string_view method;   ///< "GET" or "POST"
  bool capture_id;           ///< the path names a capture
  std::string_view tail;     ///< the end of the path: "", "/captures", "/shipping-info", "/trigger-send-out"
  body_kind body;            ///< the body the request carries
  int expected_status;       ///< the status of success: 200, 201 or 204
  bool idempotency_key;      ///< the request carries Klarna-Idempotency-Key
  /// Sending it again cannot apply it twice: a GET, or a POST with its key (a keyed POST
  /// sent without one, post_options::without_key, is not).
  bool retry_safe;

  /// True for a POST: it changes the order, and any 2xx says Klarna applied it.
  constexpr bool post() const noexcept { return method == "POST"; }
};

/// One row per kom::operation, in the enumerators' order.
inline constexpr operation_info operations[] = {
    // op                              name                    method  capture_id tail                 body                              status key    retry_safe
    {operation::capture,              "capture",              "POST", false, "/captures",          body_kind::capture_request,      201, true,  true},
    {operation::get_capture,          "get_capture",          "GET",  true,  "",                   body_kind::none,                 200, false, true},
    {operation::list_captures,        "list_captures",        "GET",  false, "/captures",          body_kind::none,                 200, false, true},
    {operation::append_shipping_info, "append_shipping_info", "POST", true,  "/shipping-info",     body_kind::shipping_info_update, 204, true,  true},
    {operation::trigger_send_out,     "trigger_send_out",     "POST", true,  "/trigger-send-out",  body_kind::none,                 204, true,  true},
    {operation::get_order,            "get_order",            "GET",  false, "",                   body_kind::none,                 200, false, true},
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
// Each row sits at its enumerator's index, and the rules every row keeps: only a POST
// carries a key, a GET has no body, and a row is safe to retry only when it is a GET or keyed.
constexpr bool operations_consistent() noexcept {
  for (std::size_t i = 0; i < operation_count; ++i) {
    const operation_info& row = operations[i];
    if (static_cast<std::size_t>(row.op) != i) return false;
    if (row.method != "GET" && row.method != "POST") return false;
    if (row.idempotency_key != row.post()) return false;
    if (!row.post() && row.body != body_kind::none) return false;
    if (row.retry_safe && row.post() && !row.idempotency_key) return false;
  }
  return true;
}
static_assert(operations_consistent(), "kom::operations: a row is out of order or breaks a rule above");
}  // namespace detail

}  // namespace kom

#endif  // KOM_OPERATIONS_HPP
