// kom/client.hpp: the object a point-of-sale terminal calls. It captures orders, reads
// captures and orders, appends shipping information, re-sends customer communication,
// refunds returns, cancels, releases and extends authorizations and updates an order's
// references and amount, over one kept-alive connection, and retries safely.
//
// Memory: one caller buffer (the work buffer) holds each request and then its response;
// parsed results go to caller storage (kom/response_model.hpp). kom allocates nothing.
// Time and randomness come from caller hooks, so firmware and tests control them.
//
// Retries (retry_policy): every attempt of one POST carries the same Klarna-Idempotency-Key,
// so Klarna applies it once however often it is sent. Retried: connect failures, timeouts,
// dropped connections, 408, 409, 429 and 5xx. Never retried: other 4xx, validation errors, a
// too-small buffer, and a POST sent without a key. Backoff doubles from initial_backoff_ms
// with jitter, waits at least what Retry-After or X-Ratelimit-Reset asks, and stops at
// max_attempts or total_budget_ms. A 429 is the merchant's rate limit, not a failure: it
// waits what the server asks plus a random 0..rate_limit_jitter_ms, is not counted in
// max_attempts, and is retried for up to rate_limited_budget_ms.
//
//   kom::client c(tls.transport(), config, hooks, work);
//   kom::reply<kom::capture_created> r = c.capture(order_id, request, {stored_key});
//   if (r.next_step() == kom::outcome::done) save(r.value.capture_id);
//   else if (r.next_step() == kom::outcome::retry_later) keep(stored_key);  // same key next time
#ifndef KOM_CLIENT_HPP
#define KOM_CLIENT_HPP

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "kom/buffer_writer.hpp"
#include "kom/error.hpp"
#include "kom/http_request.hpp"
#include "kom/http_response.hpp"
#include "kom/json_readers.hpp"
#include "kom/model.hpp"
#include "kom/operations.hpp"
#include "kom/response_model.hpp"
#include "kom/transport.hpp"
#include "kom/uuid.hpp"

namespace kom {

/// When to try again, and for how long.
struct retry_policy {
  std::uint32_t max_attempts = 5;           ///< attempts of one call, the first included, not counting those answered 429 (1: never retry)
  std::uint32_t initial_backoff_ms = 500;   ///< wait before the second attempt; doubles each time
  std::uint32_t max_backoff_ms = 16000;     ///< cap of one wait (a server's Retry-After may ask more)
  std::uint32_t total_budget_ms = 60000;    ///< no attempt starts later than this after the call began (or after its last 429)
  /// After a 429: the wait is what Retry-After (else X-Ratelimit-Reset, else 1 s) asks plus a
  /// random 0..this, so that terminals limited together spread over the next seconds instead
  /// of coming back in step. A fleet run chose 2 s (README, "A fleet after an outage").
  std::uint32_t rate_limit_jitter_ms = 2000;
  /// While the server answers 429, attempts go on until this long after the call began
  /// (total_budget_ms does not end them). A merchant-wide limit shared by a fleet can hold
  /// one call for as long as the fleet's backlog takes to drain (74 s in a 5,000-terminal
  /// run); at a till where a customer waits, set it short and queue the operation instead.
  std::uint32_t rate_limited_budget_ms = 300000;
  bool retry_gets = true;                   ///< GETs retry by the same rules
};

/// How long the client waits for the connection and the server.
struct client_timeouts {
  std::uint32_t connect_ms = 10000;         ///< TCP connect plus TLS handshake
  std::uint32_t read_ms = 15000;            ///< longest silence while a response arrives
  std::uint32_t response_ms = 30000;        ///< longest time for one whole response (a trickling server)
  std::uint32_t would_block_wait_ms = 5;    ///< sleep between polls of a transport that said would_block
};

/// Everything one terminal's client is set up with.
struct client_config {
  request_config request;                   ///< server, credentials, User-Agent
  retry_policy retry;                       ///< when and how long to retry
  client_timeouts timeouts;                 ///< connect and response timeouts
  validation_options validation;            ///< for capture bodies
};

/// What the log hook receives: one record per request sent and per response or failure.
/// It never holds credentials or headers.
struct log_record {
  /// What happened.
  enum class kind : std::uint8_t {
    request,   ///< a request was sent
    response,  ///< a whole response arrived (any status)
    failure    ///< an attempt failed without a response (connection, timeout, parse)
  };
  kind what = kind::request;                ///< what this record reports
  operation op = operation::get_order;      ///< the call
  std::string_view order_id;                ///< the call's order id
  std::string_view item_id;                 ///< the call's capture or refund id; empty when it has none
  std::uint32_t attempt = 0;                ///< 1 for the first
  std::uint32_t elapsed_ms = 0;             ///< since the call began
  int status = 0;                           ///< response: the HTTP status
  std::string_view correlation_id;          ///< response: Klarna-Correlation-Id
  ::kom::error error;                       ///< failure: what went wrong
};

/// Writes a record as one line: `POST /ordermanagement/v1/orders/X/captures attempt 1 -> 201
/// correlation_id=... 35 ms`. Allocates nothing.
inline void write_log_line(buffer_writer& out, const log_record& r) noexcept {
  const operation_info& row = info_of(r.op);
  out.append(row.method);
  out.put(' ');
  detail::append_path(out, row, r.order_id, r.item_id);
  out.append(" attempt ");
  out.append_uint(r.attempt);
  switch (r.what) {
    case log_record::kind::request: out.append(" sent"); break;
    case log_record::kind::response:
      out.append(" -> ");
      out.append_int(r.status);
      if (!r.correlation_id.empty()) {
        out.append(" correlation_id=");
        out.append(r.correlation_id);
      }
      break;
    case log_record::kind::failure:
      out.append(" failed: ");
      r.error.write_message(out);
      break;
  }
  out.put(' ');
  out.append_uint(r.elapsed_ms);
  out.append(" ms");
}

/// The caller's clock, sleep, randomness and log. now_ms is always needed; sleep_ms when a
/// call may retry or a transport says would_block; random to generate idempotency keys and
/// jitter (without it keys must be given and backoff has no jitter); log is optional.
struct client_hooks {
  void* context = nullptr;                                     ///< passed to now_ms, sleep_ms and log
  std::uint64_t (*now_ms)(void* context) = nullptr;           ///< a monotonic clock in milliseconds
  void (*sleep_ms)(void* context, std::uint32_t ms) = nullptr; ///< blocks for `ms` milliseconds
  /// Receives each log_record; its views are valid only during the call.
  void (*log)(void* context, const log_record& record) = nullptr;
  random_callback random = nullptr;                            ///< mbedtls_ctr_drbg_random fits
  void* random_context = nullptr;                              ///< passed to random
};

/// How a POST identifies itself to Klarna.
struct post_options {
  /// Sent on every attempt. Empty: the client makes a UUIDv4 (random hook) and returns it in
  /// the reply; store it before retrying later. Use sale_idempotency_key() for keys that
  /// survive a reboot.
  std::string_view idempotency_key;
  /// Send no Klarna-Idempotency-Key at all. Such a POST is tried exactly once: after a lost
  /// answer nobody can tell whether it was applied.
  bool without_key = false;
};

/// The answer to a capture: Capture-Id and Location (views into the work buffer), and the
/// amount the request carried.
struct capture_created {
  std::string_view capture_id;  ///< Capture-Id, else the last segment of Location's path
  std::string_view location;    ///< Location: the capture's URL; empty when absent
  /// The captured_amount sent: the request's, or the one capture_remaining decided. Set as
  /// soon as it is known, also when the call fails: a capture_remaining that must be called
  /// again passes it back (remaining_capture::decided_amount).
  std::int64_t captured_amount = 0;
};

/// What capture_remaining captures. Keep it, with the idempotency key, until the call is done.
struct remaining_capture {
  std::string_view description;  ///< shown to the customer; empty: none
  std::string_view reference;    ///< in Klarna's settlement files; empty: none
  /// 0 on the first call: the client reads the order and captures its
  /// remaining_authorized_amount. On a call after retry_later: the reply's
  /// value.captured_amount. The client then skips reading the order and sends that amount
  /// with the same key, so Klarna answers with the capture the first call made, if it made one.
  std::int64_t decided_amount = 0;
};

/// The answer to a refund: Refund-Id and Location (views into the work buffer), and the
/// amount the request carried.
struct refund_created {
  std::string_view refund_id;   ///< Refund-Id, else the last segment of Location's path
  std::string_view location;    ///< Location: the refund's URL; empty when absent
  std::int64_t refunded_amount = 0;  ///< the refunded_amount sent
};

/// The answer to the calls that return 204 (shipping-info, trigger-send-out, cancel, release,
/// extend, the PATCHes): nothing more.
struct no_content {};

/// What a caller does next.
enum class outcome : std::uint8_t {
  done,         ///< the call did what was asked
  refused,      ///< definitely not applied, and sending it again fails the same way (validation, 4xx)
  retry_later,  ///< not applied, or not known to be: send it again later with the same key
  /// Klarna answered 2xx to a capture or a refund, so it exists, but its id could not be read
  /// (a 201 without Capture-Id / Refund-Id and Location, or an answer too large or malformed
  /// after its 2xx status line). Never send it again with a new key: find the id by its
  /// reference and amount, with list_captures, or in get_order's refunds.
  applied_id_unknown,
  /// A POST sent without an idempotency key (post_options::without_key) got no definite
  /// answer (it was lost, or 409 or 5xx): it may have been applied, and sending it again
  /// could apply it twice. Read the order (get_order, list_captures) before anything else.
  unknown,
};

/// What every call's reply says besides its value (kom::reply<T> adds the value). Views
/// (correlation_id, klarna's messages, idempotency_key) stay valid until the next call on the
/// same client (and the caller's storage is not reused).
struct reply_status {
  ::kom::error error;                  ///< ok, or why the call failed (http_error: see status, klarna)
  int status = 0;                      ///< HTTP status of the last response (whole or cut); 0 when none arrived
  error_body klarna;                   ///< Klarna's error body when status >= 400
  std::string_view correlation_id;     ///< Klarna-Correlation-Id of the last response
  std::string_view idempotency_key;    ///< the key every attempt of a POST carried
  std::uint32_t attempts = 0;          ///< requests sent (or tried)
  bool sent = false;                   ///< at least one request left the terminal
  bool without_key = false;            ///< a POST sent without a Klarna-Idempotency-Key

  /// True when the call did what was asked: error is ok.
  bool ok() const noexcept { return error.ok(); }

  /// What to do next: done when ok(); applied_id_unknown on missing_capture_id and
  /// missing_refund_id (only ever after a 2xx). Nothing sent: retry_later when the connection or the TLS handshake
  /// failed, else refused (validation, buffer size, setup). Sent: retry_later on 408, 409,
  /// 429 and 5xx; refused on other 4xx and on buffer_too_small and unexpected_status (an
  /// answer arrived, and the same request gets the same answer); retry_later on any other
  /// failure (the answer was lost). A POST or PATCH sent without a key gives unknown instead of
  /// retry_later, except on 408 and 429 (the server did not take the request).
  outcome next_step() const noexcept {
    if (error.ok()) return outcome::done;
    if (error.code() == errc::missing_capture_id || error.code() == errc::missing_refund_id)
      return outcome::applied_id_unknown;
    if (!sent) {
      // Nothing reached the server: a bad request or buffer is refused, a dead link is not.
      switch (error.code()) {
        case errc::resolve_failed: case errc::connect_failed: case errc::timed_out:
        case errc::connection_closed: case errc::io_failed:
        // A certificate refused on a hotel or captive-portal network is accepted on the next.
        case errc::tls_certificate_untrusted: case errc::tls_hostname_mismatch:
        case errc::tls_certificate_expired: case errc::tls_certificate_not_yet_valid:
        case errc::tls_certificate_invalid: case errc::tls_handshake_failed: case errc::tls_failed:
          return outcome::retry_later;
        default: return outcome::refused;
      }
    }
    // Without a key, only a server that says it did not take the request allows sending again.
    const outcome again = without_key && status != 408 && status != 429 ? outcome::unknown : outcome::retry_later;
    if (retryable_status(status)) return again;
    if (status >= 400) return outcome::refused;
    if (error.code() == errc::buffer_too_small || error.code() == errc::unexpected_status)
      return outcome::refused;  // an answer arrived; the same request gets the same answer
    return again;  // the answer was lost: resend with the same key
  }

  /// The statuses that say "not now" rather than "no": 408 (the server gave up waiting),
  /// 409 (a request with the same key is still being processed), 429 and 5xx. Each is
  /// retried with the same key, which Klarna applies at most once.
  static constexpr bool retryable_status(int s) noexcept { return s == 408 || s == 409 || s == 429 || s >= 500; }
};

/// The result of one call: its status (reply_status) and its value. The value's views stay
/// valid as the status's do.
template <class T>
struct reply : reply_status {
  T value{};                           ///< meaningful when ok()
};

/// Counters of one client's life.
struct client_stats {
  std::uint32_t connects = 0;          ///< connections opened
  std::uint32_t requests = 0;          ///< requests sent
  std::uint32_t retries = 0;           ///< attempts after the first
};

/// Klarna's order management calls for one terminal, over one kept-alive connection, with
/// retries (retry_policy). Allocates nothing: requests and responses use the caller's work
/// buffer, parsed results the caller's storage. Not copyable; one caller at a time.
class client {
 public:
  /// `stream` must already be secure (kom::tls_stream, or the platform's TLS socket).
  /// `work` holds one request or one response at a time: see the README for sizes.
  client(transport stream, const client_config& config, const client_hooks& hooks, char* work,
         std::size_t work_size) noexcept
      : stream_(stream), config_(config), hooks_(hooks), work_(work), work_size_(work ? work_size : 0),
        parser_(work_, work_size_) {}

  /// The same, with all N bytes of `work`.
  template <std::size_t N>
  client(transport stream, const client_config& config, const client_hooks& hooks, char (&work)[N]) noexcept
      : client(stream, config, hooks, work, N) {}

  client(const client&) = delete;
  client& operator=(const client&) = delete;
  ~client() { close(); }

  // ---- the operations --------------------------------------------------------------------
  // Errors common to all: the request's validation errors (field path set, nothing sent),
  // buffer_too_small (detail: bytes needed), the transport's and TLS errors, the HTTP
  // parser's errors, http_error (Klarna's 4xx/5xx: status and klarna filled), the readers'
  // JSON errors, unexpected_status (detail: status), invalid_client_setup, invalid_transport.
  // After retries the last attempt's failure is kept.

  /// POST …/orders/{order_id}/captures. 201: the new capture's id and location (any 2xx is
  /// taken as applied). Errors: the common ones above, and missing_capture_id (a 2xx whose
  /// Capture-Id and Location are missing or could not be read: next_step() is
  /// applied_id_unknown).
  reply<capture_created> capture(std::string_view order_id, const capture_request& request,
                                 const post_options& post = {}) noexcept {
    reply<capture_created> r;
    r.value.captured_amount = request.captured_amount;
    if (exchange<operation::capture>(r, order_id, {}, request, post)) {
      // The head may be cut by an unreadable answer after its 2xx status line.
      if (parser_.head_complete()) {
        r.value.capture_id = parser_.capture_id();
        r.value.location = parser_.location();
      }
      r.error = r.value.capture_id.empty() ? ::kom::error(errc::missing_capture_id, r.status) : ::kom::error();
    }
    return r;
  }

  /// Captures what the order still has authorized: reads the order, then captures its
  /// remaining_authorized_amount (with `what`'s description and reference, no lines). The
  /// reply's value.captured_amount is the amount decided.
  ///
  /// Calling it again: after retry_later, call it with the same key and
  /// `what.decided_amount` = that value.captured_amount (0 when the order could not be read).
  /// The order is then not read again; the same request goes out, and Klarna answers with the
  /// capture the first call made, if it made one, so the order is captured once. A call
  /// without the decided amount would read an order that may already be captured.
  ///
  /// Errors besides the usual: below_minimum (path remaining_authorized_amount) when nothing
  /// is left to capture or Klarna did not say; the order read's errors (its `sent`, `status`
  /// and `attempts` are the GET's).
  reply<capture_created> capture_remaining(std::string_view order_id, const post_options& post = {},
                                           const remaining_capture& what = {}) noexcept {
    capture_request request;
    request.description = what.description;
    request.reference = what.reference;
    request.captured_amount = what.decided_amount;
    if (request.captured_amount <= 0) {
      // Only the amounts are needed: no arrays, so captures, refunds and lines are skipped.
      char text[256];
      order_storage_ref amounts_only;
      amounts_only.text = text;
      amounts_only.text_capacity = sizeof text;
      reply<order> o = get_order(order_id, amounts_only, lenient());
      reply<capture_created> r;
      if (!o.ok()) {
        copy_failure(r, o);
        return r;
      }
      request.captured_amount = o.value.remaining_authorized_amount.value_or(0);
      if (request.captured_amount <= 0) {
        constexpr std::size_t remaining = field_index<order>("remaining_authorized_amount");
        const field_ref where = field_ref::in(model_type::order).field(remaining);
        r.error = ::kom::error(errc::below_minimum, where, 1);
        return r;
      }
    }
    return capture(order_id, request, post);
  }

  /// GET …/orders/{order_id}/captures/{capture_id} into `storage`. Errors: the common ones above.
  reply<::kom::capture> get_capture(std::string_view order_id, std::string_view capture_id, capture_storage_ref storage,
                             const read_options& options = {}) noexcept {
    reply<::kom::capture> r;
    if (exchange<operation::get_capture>(r, order_id, capture_id, detail::no_body{}, {}))
      r.error = read_capture(parser_.body(), r.value, storage, options);
    return r;
  }

  /// GET …/orders/{order_id}/captures into `items[0, capacity)` and `storage`. Errors: the
  /// common ones above (json_too_many_items when the order has more than `capacity` captures
  /// and truncation is not allowed).
  reply<capture_list> list_captures(std::string_view order_id, ::kom::capture* items, std::size_t capacity,
                                    capture_storage_ref storage, const read_options& options = {}) noexcept {
    reply<capture_list> r;
    if (exchange<operation::list_captures>(r, order_id, {}, detail::no_body{}, {}))
      r.error = read_captures(parser_.body(), r.value, items, capacity, storage, options);
    return r;
  }

  /// The same, into all N of `items`.
  template <std::size_t N>
  reply<capture_list> list_captures(std::string_view order_id, ::kom::capture (&items)[N], capture_storage_ref storage,
                                    const read_options& options = {}) noexcept {
    return list_captures(order_id, items, N, storage, options);
  }

  /// POST …/captures/{capture_id}/shipping-info (1…500 entries). 204. Errors: the common ones above.
  reply<no_content> append_shipping_info(std::string_view order_id, std::string_view capture_id,
                                         const shipping_info_update& update, const post_options& post = {}) noexcept {
    reply<no_content> r;
    exchange<operation::append_shipping_info>(r, order_id, capture_id, update, post);
    return r;
  }

  /// POST …/captures/{capture_id}/trigger-send-out: Klarna sends the customer communication
  /// of the capture again. 204. Errors: the common ones above.
  reply<no_content> trigger_send_out(std::string_view order_id, std::string_view capture_id,
                                     const post_options& post = {}) noexcept {
    reply<no_content> r;
    exchange<operation::trigger_send_out>(r, order_id, capture_id, detail::no_body{}, post);
    return r;
  }

  /// GET …/orders/{order_id} into `storage`. Errors: the common ones above.
  reply<order> get_order(std::string_view order_id, order_storage_ref storage, const read_options& options = {}) noexcept {
    reply<order> r;
    if (exchange<operation::get_order>(r, order_id, {}, detail::no_body{}, {}))
      r.error = read_order(parser_.body(), r.value, storage, options);
    return r;
  }

  /// POST …/orders/{order_id}/refunds: goods returned at the till. 201: the new refund's id
  /// and location. Klarna refuses (403 REFUND_NOT_ALLOWED) more than was captured minus what
  /// was refunded, and any refund of an order without captures. Errors: the common ones above,
  /// and missing_refund_id (a 2xx whose Refund-Id and Location are missing or unreadable:
  /// next_step() is applied_id_unknown; look for the refund in get_order's refunds).
  reply<refund_created> refund(std::string_view order_id, const refund_request& request,
                               const post_options& post = {}) noexcept {
    reply<refund_created> r;
    r.value.refunded_amount = request.refunded_amount;
    if (exchange<operation::refund>(r, order_id, {}, request, post)) {
      if (parser_.head_complete()) {
        r.value.refund_id = parser_.refund_id();
        r.value.location = parser_.location();
      }
      r.error = r.value.refund_id.empty() ? ::kom::error(errc::missing_refund_id, r.status) : ::kom::error();
    }
    return r;
  }

  /// GET …/orders/{order_id}/refunds/{refund_id} into `storage` (a kom::refund_storage).
  /// Errors: the common ones above (404 NOT_FOUND for a refund Klarna does not know).
  reply<::kom::refund> get_refund(std::string_view order_id, std::string_view refund_id, capture_storage_ref storage,
                                  const read_options& options = {}) noexcept {
    reply<::kom::refund> r;
    if (exchange<operation::get_refund>(r, order_id, refund_id, detail::no_body{}, {}))
      r.error = read_refund(parser_.body(), r.value, storage, options);
    return r;
  }

  /// POST …/orders/{order_id}/cancel: voids a sale nothing was captured of; the customer's
  /// authorization is freed. 204. Klarna refuses (403 CANCEL_NOT_ALLOWED) once anything is
  /// captured: refund instead. Errors: the common ones above.
  reply<no_content> cancel(std::string_view order_id, const post_options& post = {}) noexcept {
    reply<no_content> r;
    exchange<operation::cancel>(r, order_id, {}, detail::no_body{}, post);
    return r;
  }

  /// POST …/orders/{order_id}/release-remaining-authorization: the rest of a partly captured
  /// order is not coming; the customer's limit is freed and the order is CLOSED. 204. Klarna
  /// refuses (403 NOT_ALLOWED) an order without captures (cancel it), a fully captured one and
  /// a cancelled one. Errors: the common ones above.
  reply<no_content> release_remaining_authorization(std::string_view order_id, const post_options& post = {}) noexcept {
    reply<no_content> r;
    exchange<operation::release_remaining_authorization>(r, order_id, {}, detail::no_body{}, post);
    return r;
  }

  /// POST …/orders/{order_id}/extend-authorization-time: a click-and-collect order waits past
  /// its expires_at. 204 (read the order for the new expires_at). Klarna refuses (403
  /// NOT_ALLOWED) when the order cannot be extended. Errors: the common ones above.
  reply<no_content> extend_authorization_time(std::string_view order_id, const post_options& post = {}) noexcept {
    reply<no_content> r;
    exchange<operation::extend_authorization_time>(r, order_id, {}, detail::no_body{}, post);
    return r;
  }

  /// PATCH …/orders/{order_id}/merchant-references: the till's receipt number on the order.
  /// 204. References left empty are not sent and stay as they are. Errors: the common ones
  /// above (required when both are empty).
  reply<no_content> update_merchant_references(std::string_view order_id, const merchant_references& references,
                                               const post_options& post = {}) noexcept {
    reply<no_content> r;
    exchange<operation::update_merchant_references>(r, order_id, {}, references, post);
    return r;
  }

  /// PATCH …/orders/{order_id}/authorization: the basket changed before pickup; order_amount
  /// is the new total (and order_lines, when given, the new lines). 204. Klarna refuses (403
  /// NOT_ALLOWED) an amount below what is captured, or above what it will authorize. Errors:
  /// the common ones above.
  reply<no_content> update_authorization(std::string_view order_id, const authorization_update& update,
                                         const post_options& post = {}) noexcept {
    reply<no_content> r;
    exchange<operation::update_authorization>(r, order_id, {}, update, post);
    return r;
  }

  // ---- the rest ----------------------------------------------------------------------------

  /// A new random idempotency key from the random hook, to store before the first attempt.
  /// Errors: random_source_failed (no random hook, or it failed).
  result<uuid_text> new_idempotency_key() noexcept {
    const result<uuid> u = uuid_v4(hooks_.random, hooks_.random_context);
    if (!u) return u.error();
    return uuid_text(*u);
  }

  /// Opens the connection now (TCP and TLS), so that the next call does not wait for the
  /// handshake: at boot, or before a fleet's terminals drain together. Safe when open. If the
  /// server closes it while idle, a GET or a keyed POST is sent again at once on a new one (a
  /// POST sent without its key is not: its outcome is then unknown). Errors: the server
  /// settings' (required, invalid_header_value, ...), invalid_transport, and the transport's
  /// (connect_failed, tls_certificate_untrusted, ...).
  ::kom::error connect() noexcept {
    if (connected_) return {};
    if (stream_.send == nullptr || stream_.recv == nullptr) return ::kom::error(errc::invalid_transport);
    if (::kom::error e = detail::check_config(config_.request); !e.ok()) return e;
    return open_connection();
  }

  /// Closes the connection (the next call opens a new one). Safe when closed.
  void close() noexcept {
    if (connected_ && stream_.close != nullptr) stream_.close(stream_.context);
    connected_ = false;
  }

  /// True while a connection is open (kept alive for the next call).
  bool connected() const noexcept { return connected_; }
  /// Connections, requests and retries so far.
  const client_stats& stats() const noexcept { return stats_; }
  /// The client's copy of its configuration.
  const client_config& config() const noexcept { return config_; }

 private:
  // One call of Op (its row in kom::operations): validate, then attempt after attempt until
  // a definite answer or the policy says stop. True when the final response has the row's
  // expected status, or is any 2xx to a POST (Klarna applied it, even when its answer could
  // not be read whole): its head and body are then in parser_, as far as they arrived.
  // Otherwise r.error says why.
  //
  // Not a template: the operation and the body are read at run time, so every call shares one
  // copy of the retry logic (one per operation cost 12.8 KB of Cortex-M4 flash).
  bool exchange(operation op, reply_status& r, std::string_view order_id, std::string_view item_id,
                const detail::body_ref& body, const post_options& post) noexcept {
    const operation_info& row = info_of(op);
    if (hooks_.now_ms == nullptr || stream_.send == nullptr || stream_.recv == nullptr) {
      r.error = ::kom::error(stream_.send == nullptr || stream_.recv == nullptr ? errc::invalid_transport
                                                                                  : errc::invalid_client_setup);
      return false;
    }
    // A keyed call sent without its key: tried once, and a lost answer is unknown.
    const bool keyless = row.idempotency_key && post.without_key;
    std::string_view key;
    if (row.idempotency_key && !keyless) {
      key = post.idempotency_key;
      if (key.empty()) {
        const result<uuid> u = uuid_v4(hooks_.random, hooks_.random_context);
        if (!u) {
          r.error = hooks_.random == nullptr ? ::kom::error(errc::invalid_client_setup) : u.error();
          return false;
        }
        generated_key_ = uuid_text(*u);
        key = generated_key_.view();
      }
      r.idempotency_key = key;
    }
    r.without_key = keyless;
    // Validation and sizing before anything is sent: a request that cannot be written is
    // refused here, with the size needed when it is only too big for the buffer.
    {
      buffer_writer measure(measure_only);
      const result<std::size_t> size = write(row, measure, order_id, item_id, body, key, keyless);
      if (!size) {
        r.error = size.error();
        return false;
      }
      if (*size > work_size_) {
        r.error = ::kom::error(errc::buffer_too_small, static_cast<std::int64_t>(*size));
        return false;
      }
    }
    const bool retry_safe = row.retry_safe && !keyless;
    const bool may_retry = retry_safe && (row.changes() || config_.retry.retry_gets);
    // A kept-alive connection the server closed while idle is reopened and the request sent
    // again at once, once per call and outside max_attempts, when sending it twice is safe.
    bool may_replay_stale = retry_safe;
    const std::uint32_t max_attempts =
        may_retry ? (config_.retry.max_attempts == 0 ? 1 : config_.retry.max_attempts) : 1;
    if (max_attempts > 1 && hooks_.sleep_ms == nullptr) {
      r.error = ::kom::error(errc::invalid_client_setup);
      return false;
    }
    const std::uint64_t start = hooks_.now_ms(hooks_.context);
    log_record rec;
    rec.op = op;
    rec.order_id = order_id;
    rec.item_id = item_id;

    std::uint32_t backoff = config_.retry.initial_backoff_ms;
    std::uint32_t counted = 0;  // attempts that count against max_attempts (not answered 429)
    std::uint64_t budget_start = start;  // total_budget_ms counts from here: the call, or its last 429
    for (std::uint32_t attempt = 1;; ++attempt) {
      rec.attempt = attempt;
      r.attempts = attempt;
      if (attempt > 1) ++stats_.retries;
      const attempt_result a = attempt_once(row, r, order_id, item_id, body, key, keyless, rec, start);
      if (a.final) {
        if (a.success && (r.status == row.expected_status || (row.changes() && r.status >= 200 && r.status < 300))) {
          r.error = {};  // an unreadable rest of a 2xx to a POST: applied all the same
          return true;
        }
        return fail_status(r, row.expected_status, a.success);
      }
      if (a.stale_connection && may_replay_stale) {
        may_replay_stale = false;
        --attempt;  // the same attempt again, on a new connection
        continue;
      }
      if (a.success) may_replay_stale = retry_safe;  // the connection was alive: a later idle close is new
      const bool rate_limited = a.success && r.status == 429;
      std::uint32_t wait = 0;
      if (rate_limited) {
        // The server asked to come back later: its wait, spread by jitter. No doubling, so
        // that a terminal limited often is not pushed behind those limited once.
        wait = a.server_wait_ms != 0 ? a.server_wait_ms : 1000u;
        wait = saturating_add(wait, jitter(config_.retry.rate_limit_jitter_ms));
      } else {
        ++counted;
        // Full jitter over the upper half: terminals that lost the link together do not come
        // back together. (Without a random hook, or should it fail: the whole backoff.)
        wait = backoff / 2 + jitter(backoff / 2, backoff - backoff / 2);
        if (a.server_wait_ms > wait) wait = a.server_wait_ms;
        if (a.stale_connection) wait = 0;  // an idle kept-alive connection the server had closed
        backoff = backoff >= config_.retry.max_backoff_ms / 2 ? config_.retry.max_backoff_ms : backoff * 2;
      }
      const std::uint64_t now = hooks_.now_ms(hooks_.context);
      const bool out_of_time = rate_limited ? now - start + wait > config_.retry.rate_limited_budget_ms
                                            : now - budget_start + wait > config_.retry.total_budget_ms;
      // max_attempts_ever: a safety net should the clock hook not move (a no-op sleep).
      if ((!rate_limited && counted >= max_attempts) || (rate_limited && max_attempts <= 1) || out_of_time ||
          attempt >= max_attempts_ever) {
        return false;  // the last failure stays in r: error, status, klarna; attempts says how many
      }
      if (rate_limited) budget_start = now;
      if (wait > 0) hooks_.sleep_ms(hooks_.context, wait);
    }
  }

  // Opens the transport's connection (a transport without connect is always connected).
  ::kom::error open_connection() noexcept {
    if (stream_.connect != nullptr) {
      const int rc = stream_.connect(stream_.context, config_.request.server.host, config_.request.server.port,
                                     config_.timeouts.connect_ms);
      if (rc != io::ok) return transport_error(stream_, rc);
      ++stats_.connects;
    }
    connected_ = true;
    return {};
  }

  // A random 0..most from the random hook; `otherwise` without one or when it fails.
  std::uint32_t jitter(std::uint32_t most, std::uint32_t otherwise = 0) noexcept {
    std::uint32_t rnd = 0;
    if (most == 0 || hooks_.random == nullptr ||
        hooks_.random(hooks_.random_context, reinterpret_cast<unsigned char*>(&rnd), sizeof rnd) != 0)
      return otherwise;
    return most == 0xFFFFFFFFu ? rnd : rnd % (most + 1);
  }

  // No call makes more attempts than this, whatever its budgets: 429s waited out for 300 s
  // take about 150.
  static constexpr std::uint32_t max_attempts_ever = 10000;

  static constexpr std::uint32_t saturating_add(std::uint32_t a, std::uint32_t b) noexcept {
    return a > 0xFFFFFFFFu - b ? 0xFFFFFFFFu : a + b;
  }

  struct attempt_result {
    bool final = false;               // no further attempt: success or a definite failure
    bool stale_connection = false;    // a reused connection failed before any response byte
    bool success = false;             // a complete response arrived (any status)
    std::uint32_t server_wait_ms = 0; // Retry-After or X-Ratelimit-Reset
  };

  attempt_result attempt_once(const operation_info& row, reply_status& r, std::string_view order_id,
                              std::string_view item_id, const detail::body_ref& body, std::string_view key,
                              bool keyless, log_record& rec, std::uint64_t start) noexcept {
    attempt_result a;
    r.error = {};
    r.status = 0;
    r.klarna = {};
    r.correlation_id = {};
    const bool reused = connected_;
    if (!connected_) {
      r.error = open_connection();
      if (!r.error.ok()) {
        log_failure(rec, r.error, start);
        // Nothing was sent. A certificate or TLS setup failure repeats on every attempt.
        const int code = static_cast<int>(r.error.code());
        a.final = code >= static_cast<int>(errc::tls_certificate_untrusted) &&
                  code <= static_cast<int>(errc::tls_setup_failed) && r.error.code() != errc::tls_handshake_failed;
        return a;
      }
    }

    buffer_writer out(work_, work_size_);
    const result<std::size_t> size = write(row, out, order_id, item_id, body, key, keyless);
    if (!size) {  // cannot happen after the measuring pass, but never send a broken request
      wipe_request(work_, out.written());
      r.error = size.error();
      a.final = true;
      return a;
    }
    log(rec, log_record::kind::request, start);
    ++stats_.requests;
    r.sent = true;
    const std::uint64_t deadline = hooks_.now_ms(hooks_.context) + config_.timeouts.response_ms;
    const ::kom::error sent = send_all(*size, deadline);
    wipe_request(work_, *size);  // the Authorization header leaves the buffer now
    if (!sent.ok()) {
      close();
      r.error = sent;
      log_failure(rec, r.error, start);
      a.stale_connection = reused;
      return a;
    }
    const ::kom::error received = receive(deadline);
    if (!received.ok()) {
      close();
      r.error = received;
      log_failure(rec, r.error, start);
      // A 2xx status line was read, then the answer could not be (too large, malformed): the
      // server applied the POST, and another attempt would get the same unreadable answer.
      const int seen = parser_.status();
      if (seen >= 200 && seen < 300 && unreadable(received.code()) && row.changes()) {
        r.status = seen;
        a.final = true;
        a.success = true;
        return a;
      }
      a.stale_connection = reused && parser_.head_size() == 0 && parser_.status() == 0 &&
                           (received.code() == errc::unexpected_eof || received.code() == errc::connection_closed);
      if (seen >= 200) r.status = seen;  // the status line arrived: next_step() judges by it
      // A response that cannot fit the buffer would not fit the next time either, unless its
      // status asks for another attempt (a 503 with a large page).
      a.final = (received.code() == errc::buffer_too_small || received.code() == errc::body_too_large ||
                 received.code() == errc::head_too_large) &&
                !reply_status::retryable_status(seen);
      return a;
    }
    a.success = true;
    r.status = parser_.status();
    r.correlation_id = parser_.correlation_id();
    rec.status = r.status;
    rec.correlation_id = r.correlation_id;
    log(rec, log_record::kind::response, start);
    if (parser_.connection_close()) close();
    if (r.status >= 400) {
      const ::kom::error e = read_error_body(parser_.body(), r.klarna, error_storage_, lenient());
      (void)e;  // a body that is not Klarna's JSON (a proxy's page) still has its status
      r.error = ::kom::error(errc::http_error, r.status);
    }
    if (reply_status::retryable_status(r.status)) {
      std::uint32_t seconds = parser_.retry_after().value_or(0);
      if (seconds == 0) seconds = parser_.rate_limit_reset().value_or(0);
      a.server_wait_ms = seconds > 4000000u ? 4000000000u : seconds * 1000u;
      return a;  // retryable
    }
    a.final = true;
    return a;
  }

  // An answer that arrived but cannot be read, the same way each time (as opposed to a
  // connection that failed, which the next attempt may not).
  static constexpr bool unreadable(errc e) noexcept {
    const int c = static_cast<int>(e);
    return e == errc::buffer_too_small ||
           (c >= static_cast<int>(errc::bad_status_line) && c <= static_cast<int>(errc::unsupported_transfer_encoding) &&
            e != errc::unexpected_eof);
  }

  // The final response did not have the expected status.
  static bool fail_status(reply_status& r, int expected, bool answered) noexcept {
    if (!answered) return false;  // r.error is set
    if (r.status >= 400) r.error = ::kom::error(errc::http_error, r.status);
    else if (r.status != expected) r.error = ::kom::error(errc::unexpected_status, r.status);
    return false;
  }

  // A failed read before a POST: the reply is the read's, so that next_step() judges it as
  // the read it was (a 503 is retry_later, a 404 refused). The POST was never sent.
  static void copy_failure(reply_status& to, const reply_status& from) noexcept {
    to.error = from.error;
    to.status = from.status;
    to.klarna = from.klarna;
    to.correlation_id = from.correlation_id;
    to.attempts = from.attempts;
    to.sent = from.sent;
  }

  static read_options lenient() noexcept {
    read_options o;
    o.allow_truncation = true;
    return o;
  }

  result<std::size_t> write(const operation_info& row, buffer_writer& out, std::string_view order_id,
                            std::string_view item_id, const detail::body_ref& body, std::string_view key,
                            bool keyless) const noexcept {
    return detail::write_request(out, config_.request, row, order_id, item_id, key, body, config_.validation, keyless);
  }

  // Call Op with its body, seen as the request writer sees every body; the compiler checks
  // that it is the body Op's row names.
  template <operation Op, class Body>
  bool exchange(reply_status& r, std::string_view order_id, std::string_view item_id, const Body& body,
                const post_options& post) noexcept {
    static_assert(detail::body_kind_of<Body>::value == info_of(Op).body,
                  "the body given is not the one this call's row names");
    return exchange(Op, r, order_id, item_id, detail::body_of(body), post);
  }

  std::uint32_t elapsed(std::uint64_t start) const noexcept {
    const std::uint64_t e = hooks_.now_ms(hooks_.context) - start;
    return e > 0xFFFFFFFFu ? 0xFFFFFFFFu : static_cast<std::uint32_t>(e);
  }

  void log(log_record& rec, log_record::kind what, std::uint64_t start) noexcept {
    if (hooks_.log == nullptr) return;
    rec.what = what;
    rec.elapsed_ms = elapsed(start);
    hooks_.log(hooks_.context, rec);
  }

  void log_failure(log_record& rec, const ::kom::error& e, std::uint64_t start) noexcept {
    rec.error = e;
    log(rec, log_record::kind::failure, start);
    rec.error = {};
  }

  // Waits out a would_block; false once the deadline has passed.
  bool wait_or_give_up(std::uint64_t deadline) noexcept {
    if (hooks_.now_ms(hooks_.context) >= deadline || hooks_.sleep_ms == nullptr) return false;
    hooks_.sleep_ms(hooks_.context, config_.timeouts.would_block_wait_ms);
    return true;
  }

  ::kom::error send_all(std::size_t size, std::uint64_t deadline) noexcept {
    std::size_t done = 0;
    while (done < size) {
      const int n = stream_.send(stream_.context, reinterpret_cast<const unsigned char*>(work_ + done), size - done);
      if (n > 0) {
        done += static_cast<std::size_t>(n) > size - done ? size - done : static_cast<std::size_t>(n);
      } else if (n == io::would_block) {
        if (!wait_or_give_up(deadline)) return ::kom::error(errc::timed_out);
      } else {
        return transport_error(stream_, n == 0 ? io::closed : n);
      }
    }
    return {};
  }

  // Reads one response into the work buffer through parser_.
  ::kom::error receive(std::uint64_t deadline) noexcept {
    parser_.reset();
    for (;;) {
      const std::uint64_t now = hooks_.now_ms(hooks_.context);
      if (now >= deadline) return ::kom::error(errc::timed_out);
      const std::uint64_t left = deadline - now;
      const std::uint32_t timeout =
          left < config_.timeouts.read_ms ? static_cast<std::uint32_t>(left) : config_.timeouts.read_ms;
      std::size_t space = 0;
      char* at = parser_.prepare(space);
      // A full buffer may still owe chunk framing bytes, which take no room: read those
      // into a scratch and feed them.
      char scratch[16];
      const bool direct = at != nullptr;
      if (!direct) {
        at = scratch;
        space = sizeof scratch;
      }
      const int n = stream_.recv(stream_.context, reinterpret_cast<unsigned char*>(at), space, timeout);
      parse_status s = parse_status::need_more;
      bool leftover = false;  // bytes beyond the end of the response
      if (n > 0) {
        const std::size_t got = static_cast<std::size_t>(n) > space ? space : static_cast<std::size_t>(n);
        if (direct) {
          s = parser_.commit(got);
          leftover = s == parse_status::done && !parser_.excess().empty();
        } else {
          std::size_t used = 0;
          s = parser_.feed(scratch, got, used);
          leftover = s == parse_status::done && used < got;
        }
      } else if (n == 0) {
        s = parser_.finish();
      } else if (n == io::would_block) {
        if (!wait_or_give_up(deadline)) return ::kom::error(errc::timed_out);
        continue;
      } else {
        return transport_error(stream_, n);
      }
      if (s == parse_status::done) {
        // Bytes after the response (no pipelining here) or a finished read-until-close
        // body: the connection cannot carry the next request.
        if (leftover || n == 0) close();
        return {};
      }
      if (s == parse_status::error) return too_small_or(parser_.error());
    }
  }

  // A body longer than the buffer says how big the buffer must be, when the length is known.
  ::kom::error too_small_or(const ::kom::error& e) const noexcept {
    if (e.code() == errc::body_too_large && parser_.content_length()) {
      const std::uint64_t need = parser_.head_size() + *parser_.content_length();
      return ::kom::error(errc::buffer_too_small, need > 0x7FFFFFFFFFFFFFFFull ? INT64_MAX : static_cast<std::int64_t>(need));
    }
    return e;
  }

  transport stream_;
  client_config config_;
  client_hooks hooks_;
  char* work_;
  std::size_t work_size_;
  http_response_parser parser_;
  error_body_storage<kom::capacity::messages<4>, kom::capacity::text_bytes<384>> error_storage_;
  uuid_text generated_key_;
  client_stats stats_;
  bool connected_ = false;
};

}  // namespace kom

#endif  // KOM_CLIENT_HPP
