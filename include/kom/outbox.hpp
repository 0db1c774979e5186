// kom/outbox.hpp: the offline outbox. A terminal keeps selling when the link is down: it
// queues each capture, shipping-info update, send-out, refund, cancel, release, extension and
// reference or authorization update here, in its own flash or file, and drains the queue into
// Klarna whenever the link is back, in order, each operation applied once.
//
//   kom::file_storage file;  file.open("/var/lib/pos/outbox", 4096, 16);   // or a flash driver
//   kom::outbox<> box(file.storage(), {&rtc, rtc_now_ms});                  // wall clock, ms since 1970
//   box.open();                                                              // after every boot
//   auto key = kom::sale_idempotency_key(ns, "T-17", sale, "capture");
//   kom::result<std::uint32_t> seq = box.append_capture(order_id, capture, key->view());
//   box.append_shipping_info(order_id, kom::capture_ref::of_record(*seq), update, key2->view());
//   ...
//   kom::capture items[8];  kom::capture_storage<> scratch;                 // for the 24 h check
//   kom::outbox_drain d = box.drain(klarna, items, scratch);
//
// Storage. The caller gives a kom::block_storage: fixed-size blocks that are read and
// written at any byte offset and erased whole (to 0xFF), like a NOR flash's sectors, or a file
// (kom/file_storage.hpp). The outbox keeps its records in a kom::record_log over it
// (kom/record_log.hpp: two areas, a versioned area header, CRC-32 and a commit marker per
// record, compaction, torn tails). An outbox written by kom 0.1.0 (record format 1, enums as
// C++ ordinals) is migrated by open(), and one of format 2 (captures, shipping info and
// send-outs only) carried over to format 3, so that a kom that knows only format 2 refuses the
// refunds and cancels it could not read instead of dropping them; one written by a newer kom
// is refused (unsupported_format), untouched.
//
// Payload: one byte of kind, then LEB128 varints (signed ones zigzag) and strings
// (varint length, bytes).
//   operation (kind = outbox_op: 1 capture, 2 shipping_info, 3 send_out, 4 refund, 5 cancel,
//     6 release, 7 extension, 8 merchant references, 9 authorization update): order_id,
//     idempotency key, capture_of (varint sequence number of a queued capture, 0 when none),
//     capture_id, then the request (capture_request, shipping_info_update, refund_request,
//     merchant_references, authorization_update) as kom/record_codec.hpp writes it (field by
//     field from kom/fields.hpp, enums as Klarna's spelling); the calls without a body have
//     nothing more.
//   state change (kind 16 attempted, 17 done, 18 failed, 19 rekeyed, 20 forgotten), always
//     with the operation's sequence number:
//     attempted: first-attempt wall time (ms);  done: the capture or refund id Klarna made;
//     failed: kom::errc, HTTP status, Klarna's error_code, first message, correlation id
//     (each cut to 128 bytes);  rekeyed: new first-attempt time, new key.
//
// Limits (kom::basic_outbox's named capacities, kom::capacity): operations in the outbox at
// once (pending, failed, and done ones not yet compacted away), record_bytes of payload for
// one operation (512..65535), lines and shipping_entries per operation, refunds of one order
// the 24-hour check reads (a longer list stops the drain); an idempotency key is
// at most 64 bytes, a capture id 255. Beyond a limit, append refuses with the limit. Open a
// storage with the limits it was written with (fewer operations or record_bytes do not see
// every record). Every operation costs its record
// plus about 20 bytes when first sent (the first-attempt time) and 20 to 450 when settled
// (done, or failed with its error texts). Writes go to any byte offset: a flash whose
// program unit is larger than a byte needs a driver that buffers to it.
//
// Memory: sizeof(kom::outbox) is about record_bytes + 170 * operations + 350 * lines + 72 *
// refunds bytes (22.5 KB with the defaults on 64-bit; 8.8 KB with operations<32>,
// record_bytes<512>, lines<2>, shipping_entries<2>). drain() also takes the caller's capture
// array and capture_storage for the 24-hour listing and order read (their text); a listing
// that does not fit stops the drain (json_too_many_items or json_text_overflow) rather than
// risk a second capture or refund.
//
// Capture ids that are not known yet. A POS queues the shipping info and send-out of a sale
// offline, before its capture is drained: such an operation names its capture as
// capture_ref::of_record(seq), the sequence number append_capture returned. Draining sends the
// capture first and then uses the capture id Klarna gave it. Queue a sale's operations
// together: a capture that is already done and compacted away can no longer be referred to by
// record (append then refuses with errc::unknown_capture_record, path parameter::capture_of; give the
// id instead).
//
// The 24-hour rule. Klarna keeps an idempotency key for a limited time (24 h is assumed). An
// operation whose first attempt is older than that is not resent blindly with its key: for a
// capture, the outbox lists the order's captures and looks for one with the same reference
// and captured_amount. Found: the capture is marked done with that id, nothing is sent. Not
// found: the capture is resent with a NEW key. Why new: once Klarna has dropped the old key,
// the old key protects nothing (Klarna would apply it as a new request anyway), so the
// protection against a double capture is the listing, not the key; and should Klarna still
// remember the old key (a longer window than assumed), it would replay the stored answer of
// the old attempt, a capture that the listing just showed does not exist, instead of
// capturing. The new key is made with the client's random hook and stored (a "rekeyed" record,
// with a new first-attempt time) BEFORE it is sent, so a link that drops during the resend
// gets the same new key on the next drain, within a fresh 24-hour window. Captures of one
// order with equal reference and amount cannot be told apart: give each queued capture its
// own reference. A refund follows the same rule through the order's refunds (GET order): found
// by its reference and refunded_amount, or resent with a new key; append_refund needs a
// reference of its own too. Klarna's 2020 Refund has no reference: a listed refund of the
// same amount without one may be the queued one, so the refund is marked failed
// (not_verifiable) for the back office, never sent again (after a 2xx without a readable id:
// done, its id unknown). A wall clock that reads earlier than the first attempt counts as a
// day gone: the key's age cannot be told. A cancel or release older than 24 h
// is marked done when the order shows it (CANCELLED; CLOSED or nothing left authorized),
// else resent with a new key. Shipping-info updates, send-outs, extensions and reference or
// authorization updates older than 24 h are resent with a new stored key (Klarna offers no
// way to see a send-out or an extension; a second shipping entry, e-mail or extension is the
// price, a lost one is worse; the same references or amount set twice change nothing). A
// listing or order read that Klarna refuses with 404 (no such order) fails the operation;
// any other failure stops the drain. So does a client set up wrong (no credentials, a bad
// host or User-Agent, a hook missing, TLS set-up): the operation is not at fault and stays
// pending.
//
// Order of the queue. Operations are sent in the order they were queued, and retry_later
// stops the drain, so nothing is sent before what was queued ahead of it. A refund queued
// with capture_ref::of_record fails unsent when that capture failed; a release fails unsent
// when a capture of its order queued before it failed (releasing would close the order before
// that capture can be made) until the back office forgets that capture.
//
// No heap, no exceptions. Not thread-safe.
#ifndef KOM_OUTBOX_HPP
#define KOM_OUTBOX_HPP

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "kom/client.hpp"
#include "kom/error.hpp"
#include "kom/model.hpp"
#include "kom/operations.hpp"
#include "kom/record_codec.hpp"
#include "kom/record_log.hpp"
#include "kom/response_model.hpp"
#include "kom/validate.hpp"

namespace kom {

/// A wall clock (milliseconds since 1970): the first-attempt times that the 24-hour rule
/// looks at survive a reboot, so a monotonic clock does not fit.
struct wall_clock {
  void* context = nullptr;                             ///< passed to now_ms
  std::uint64_t (*now_ms)(void* context) = nullptr;    ///< milliseconds since 1970; required
};

/// The kind of a queued operation (its value is the record kind on flash: stable).
enum class outbox_op : std::uint8_t {
  capture = 1,                          ///< client::capture
  shipping_info = 2,                    ///< client::append_shipping_info
  send_out = 3,                         ///< client::trigger_send_out
  refund = 4,                           ///< client::refund
  cancel = 5,                           ///< client::cancel
  release_remaining_authorization = 6,  ///< client::release_remaining_authorization
  extend_authorization_time = 7,        ///< client::extend_authorization_time
  merchant_references = 8,              ///< client::update_merchant_references
  authorization_update = 9,             ///< client::update_authorization
};

/// The call an outbox operation makes: its row in kom::operations says whether it names a
/// capture and carries an idempotency key.
constexpr operation operation_of(outbox_op op) noexcept {
  switch (op) {
    case outbox_op::capture: return operation::capture;
    case outbox_op::shipping_info: return operation::append_shipping_info;
    case outbox_op::send_out: return operation::trigger_send_out;
    case outbox_op::refund: return operation::refund;
    case outbox_op::cancel: return operation::cancel;
    case outbox_op::release_remaining_authorization: return operation::release_remaining_authorization;
    case outbox_op::extend_authorization_time: return operation::extend_authorization_time;
    case outbox_op::merchant_references: return operation::update_merchant_references;
    case outbox_op::authorization_update: return operation::update_authorization;
  }
  return operation::capture;
}
/// Where a queued operation stands.
enum class outbox_state : std::uint8_t {
  pending,    ///< not yet sent, or sent without a definite answer: drain() sends it
  done,       ///< Klarna applied it
  failed,     ///< refused for good; kept with its outbox_failure for the back office
  forgotten   ///< dropped by forget(): never sent, removed at the next compaction
};

/// The capture a shipping-info update or send-out is for (or a refund returns goods of): its
/// id, or the sequence number of a capture queued in the same outbox whose id is not known yet.
struct capture_ref {
  std::string_view capture_id;  ///< a known capture id (used when record is 0)
  std::uint32_t record = 0;     ///< a queued capture's sequence number; 0 when none
  /// A capture whose id is known.
  static capture_ref id(std::string_view capture_id) noexcept { return {capture_id, 0}; }
  /// The capture queued as operation `seq` (what append_capture returned).
  static capture_ref of_record(std::uint32_t seq) noexcept { return {{}, seq}; }
};

/// Why an operation failed for good, for the back office.
struct outbox_failure {
  errc code = errc::ok;                ///< what failed (http_error: see status and error_code)
  int status = 0;                      ///< HTTP status; 0 when none
  std::string_view error_code;         ///< Klarna's error_code, e.g. CAPTURE_NOT_ALLOWED
  std::string_view message;            ///< Klarna's first error message
  std::string_view correlation_id;     ///< give it to Klarna's support
};

/// One operation as read back (views into the outbox; valid until its next call).
struct outbox_item {
  std::uint32_t seq = 0;               ///< sequence number, from 1
  outbox_op op = outbox_op::capture;   ///< what kind of operation
  outbox_state state = outbox_state::pending;  ///< where it stands
  std::string_view order_id;           ///< the order
  std::string_view idempotency_key;    ///< the key the next attempt carries
  std::string_view capture_id;         ///< given, or (done capture) the one Klarna made
  std::string_view refund_id;          ///< a done refund: the one Klarna made
  std::uint32_t capture_of = 0;        ///< the queued capture's sequence number, or 0
  capture_request capture;             ///< op == capture
  shipping_info_update shipping;       ///< op == shipping_info
  refund_request refund;               ///< op == refund
  merchant_references references;      ///< op == merchant_references
  authorization_update authorization;  ///< op == authorization_update
  std::uint64_t first_attempt_ms = 0;  ///< wall time of the first attempt (of this key); 0: never sent
  outbox_failure failure;              ///< state == failed
};

/// What one drain did.
struct outbox_drain {
  std::size_t sent = 0;        ///< operations that reached a definite answer and were marked
  std::size_t done = 0;        ///< of those, done (including captures found by the 24 h listing)
  std::size_t failed = 0;      ///< of those, failed for good (kept for the back office)
  bool stopped = false;        ///< the link is down (retry_later) or the storage failed: the rest waits
  ::kom::error error;          ///< why it stopped
  std::size_t pending = 0;     ///< operations still pending afterwards
};

/// What draining needs of a Klarna client: the changing calls, the listing of an order's
/// captures and the order read (the 24-hour rule, and a capture or refund whose id was lost),
/// and fresh idempotency keys. A kom::client is one (outbox_sender::of); a test or another
/// transport can be another. The replies are the client's (kom/client.hpp): next_step() decides.
struct outbox_sender {
  void* context = nullptr;  ///< passed to every function
  /// client::capture.
  reply<capture_created> (*capture_fn)(void* context, std::string_view order_id, const capture_request& request,
                                       const post_options& post) = nullptr;
  /// client::append_shipping_info.
  reply<no_content> (*shipping_info_fn)(void* context, std::string_view order_id, std::string_view capture_id,
                                        const shipping_info_update& update, const post_options& post) = nullptr;
  /// client::trigger_send_out.
  reply<no_content> (*send_out_fn)(void* context, std::string_view order_id, std::string_view capture_id,
                                   const post_options& post) = nullptr;
  /// client::list_captures.
  reply<capture_list> (*list_captures_fn)(void* context, std::string_view order_id, ::kom::capture* items,
                                          std::size_t capacity, capture_storage_ref storage,
                                          const read_options& options) = nullptr;
  /// client::new_idempotency_key.
  result<uuid_text> (*new_key_fn)(void* context) = nullptr;
  /// client::refund.
  reply<refund_created> (*refund_fn)(void* context, std::string_view order_id, const refund_request& request,
                                     const post_options& post) = nullptr;
  /// client::cancel.
  reply<no_content> (*cancel_fn)(void* context, std::string_view order_id, const post_options& post) = nullptr;
  /// client::release_remaining_authorization.
  reply<no_content> (*release_fn)(void* context, std::string_view order_id, const post_options& post) = nullptr;
  /// client::extend_authorization_time.
  reply<no_content> (*extend_fn)(void* context, std::string_view order_id, const post_options& post) = nullptr;
  /// client::update_merchant_references.
  reply<no_content> (*references_fn)(void* context, std::string_view order_id, const merchant_references& references,
                                     const post_options& post) = nullptr;
  /// client::update_authorization.
  reply<no_content> (*authorization_fn)(void* context, std::string_view order_id, const authorization_update& update,
                                        const post_options& post) = nullptr;
  /// client::get_order.
  reply<order> (*get_order_fn)(void* context, std::string_view order_id, order_storage_ref storage,
                               const read_options& options) = nullptr;

  /// `klarna`'s calls (it must outlive the sender).
  static outbox_sender of(client& klarna) noexcept {
    outbox_sender s;
    s.context = &klarna;
    s.capture_fn = [](void* c, std::string_view o, const capture_request& r, const post_options& p) noexcept {
      return static_cast<client*>(c)->capture(o, r, p);
    };
    s.shipping_info_fn = [](void* c, std::string_view o, std::string_view id, const shipping_info_update& u,
                            const post_options& p) noexcept {
      return static_cast<client*>(c)->append_shipping_info(o, id, u, p);
    };
    s.send_out_fn = [](void* c, std::string_view o, std::string_view id, const post_options& p) noexcept {
      return static_cast<client*>(c)->trigger_send_out(o, id, p);
    };
    s.list_captures_fn = [](void* c, std::string_view o, ::kom::capture* items, std::size_t n, capture_storage_ref st,
                            const read_options& opt) noexcept {
      return static_cast<client*>(c)->list_captures(o, items, n, st, opt);
    };
    s.new_key_fn = [](void* c) noexcept { return static_cast<client*>(c)->new_idempotency_key(); };
    s.refund_fn = [](void* c, std::string_view o, const refund_request& r, const post_options& p) noexcept {
      return static_cast<client*>(c)->refund(o, r, p);
    };
    s.cancel_fn = [](void* c, std::string_view o, const post_options& p) noexcept {
      return static_cast<client*>(c)->cancel(o, p);
    };
    s.release_fn = [](void* c, std::string_view o, const post_options& p) noexcept {
      return static_cast<client*>(c)->release_remaining_authorization(o, p);
    };
    s.extend_fn = [](void* c, std::string_view o, const post_options& p) noexcept {
      return static_cast<client*>(c)->extend_authorization_time(o, p);
    };
    s.references_fn = [](void* c, std::string_view o, const merchant_references& m, const post_options& p) noexcept {
      return static_cast<client*>(c)->update_merchant_references(o, m, p);
    };
    s.authorization_fn = [](void* c, std::string_view o, const authorization_update& u, const post_options& p) noexcept {
      return static_cast<client*>(c)->update_authorization(o, u, p);
    };
    s.get_order_fn = [](void* c, std::string_view o, order_storage_ref st, const read_options& opt) noexcept {
      return static_cast<client*>(c)->get_order(o, st, opt);
    };
    return s;
  }

  /// True when the functions draining `op` needs are there (a new key for the 24-hour rule,
  /// the call, and the listing or order read that finds a lost answer).
  bool can_send(outbox_op op) const noexcept {
    if (new_key_fn == nullptr) return false;
    switch (op) {
      case outbox_op::capture: return capture_fn && list_captures_fn;
      case outbox_op::shipping_info: return shipping_info_fn != nullptr;
      case outbox_op::send_out: return send_out_fn != nullptr;
      case outbox_op::refund: return refund_fn && get_order_fn;
      case outbox_op::cancel: return cancel_fn && get_order_fn;
      case outbox_op::release_remaining_authorization: return release_fn && get_order_fn;
      case outbox_op::extend_authorization_time: return extend_fn != nullptr;
      case outbox_op::merchant_references: return references_fn != nullptr;
      case outbox_op::authorization_update: return authorization_fn != nullptr;
    }
    return false;
  }

  /// True when every function is there.
  bool complete() const noexcept {
    return capture_fn && shipping_info_fn && send_out_fn && list_captures_fn && new_key_fn && refund_fn && cancel_fn &&
           release_fn && extend_fn && references_fn && authorization_fn && get_order_fn;
  }
};

namespace detail {

inline constexpr std::uint64_t outbox_key_lifetime_ms = 24ull * 60 * 60 * 1000;
inline constexpr std::size_t outbox_max_key = 64;
inline constexpr std::size_t outbox_max_failure_text = 128;

enum record_kind : std::uint8_t {
  rk_capture = 1, rk_shipping_info = 2, rk_send_out = 3,  // operations: outbox_op's values
  rk_refund = 4, rk_last_op = 9,
  rk_attempted = 16, rk_done = 17, rk_failed = 18, rk_rekeyed = 19, rk_forgotten = 20
};

// The request an operation record carries: at most one is set.
struct queued_body {
  const capture_request* capture = nullptr;
  const shipping_info_update* shipping = nullptr;
  const refund_request* refund = nullptr;
  const merchant_references* references = nullptr;
  const authorization_update* authorization = nullptr;
};

inline std::string_view cut(std::string_view s, std::size_t n) noexcept { return s.size() > n ? s.substr(0, n) : s; }

}  // namespace detail

/// The outbox over one block_storage. See the top of this file.
/// Capacities (kom::capacity, any order): operations (64), record_bytes (4096), lines (16),
/// shipping_entries (4); e.g. `kom::basic_outbox<kom::capacity::operations<32>,
/// kom::capacity::record_bytes<512>, kom::capacity::lines<2>, kom::capacity::shipping_entries<2>>`.
template <class... Capacities>
class basic_outbox {
  static_assert((detail::capacity_allowed<Capacities, capacity::operations, capacity::record_bytes, capacity::lines,
                                          capacity::shipping_entries, capacity::refunds> && ...),
                "basic_outbox takes operations, record_bytes, lines, shipping_entries, refunds");
  static constexpr std::size_t MaxOps = detail::capacity_of<capacity::operations, 64, Capacities...>::value;
  static constexpr std::size_t MaxRecord = detail::capacity_of<capacity::record_bytes, 4096, Capacities...>::value;
  static constexpr std::size_t MaxLines = detail::capacity_of<capacity::lines, 16, Capacities...>::value;
  static constexpr std::size_t MaxShipping = detail::capacity_of<capacity::shipping_entries, 4, Capacities...>::value;
  static constexpr std::size_t MaxRefunds = detail::capacity_of<capacity::refunds, 16, Capacities...>::value;
  // 512: a state record (a failure with three 128-byte texts) must fit too.
  static_assert(MaxOps > 0 && MaxRecord >= 512 && MaxRecord <= 65535, "record_bytes is 512..65535");

 public:
  static constexpr std::size_t max_ops = MaxOps;          ///< operations held at once
  static constexpr std::size_t max_record = MaxRecord;    ///< payload bytes of one record (512..65535)
  static constexpr std::size_t max_lines = MaxLines;      ///< order lines of one queued capture
  static constexpr std::size_t max_shipping = MaxShipping;  ///< shipping entries of one queued operation
  static constexpr std::size_t max_refunds = MaxRefunds;  ///< refunds of one order the 24-hour check can read

  /// An outbox over `storage` (copied; its context must outlive the outbox), with `clock`.
  /// Reads nothing yet: call open() before anything else. Allocates nothing.
  basic_outbox(const block_storage& storage, const wall_clock& clock) noexcept : log_(storage), clock_(clock) {}
  basic_outbox(const basic_outbox&) = delete;
  basic_outbox& operator=(const basic_outbox&) = delete;

  /// Reads the storage (after every boot): finds the newest complete area and replays its
  /// records. Blank storage is formatted. An outbox of an older format (1: kom 0.1.0; 2: kom
  /// before refunds) is migrated: its live records are rewritten in format 3 into the other
  /// area, whose header is written last, so a power cut during the migration leaves the old
  /// area in charge and the next open() migrates again. Errors: invalid_storage (storage without
  /// functions, fewer than 2 blocks, areas under 64 bytes, or no wall clock);
  /// unsupported_format (written by a newer kom, detail = its format; nothing is touched);
  /// io_failed (detail = the storage's code); a migration's buffer_too_small.
  ::kom::error open() noexcept {
    opened_ = false;
    if (clock_.now_ms == nullptr) return ::kom::error(errc::invalid_storage);
    if (::kom::error e = log_.open(); !e.ok()) return e;
    if (::kom::error e = load(); !e.ok()) return e;
    if (log_.format() != detail::log_format) {
      if (::kom::error e = compact_into(0); !e.ok()) return e;  // rewrites every live record in this format
    }
    opened_ = true;
    return {};
  }

  /// The record format of the active area: 3 once open() succeeded.
  std::uint32_t format() const noexcept { return log_.format(); }

  // ---- queueing ------------------------------------------------------------------------------
  // Each returns the operation's sequence number once its record is committed, or the error:
  // the request's validation error; too_many_items (detail MaxLines, MaxShipping or MaxOps,
  // path says which); too_long (the idempotency key, detail 64; or the record, path
  // "record", detail MaxRecord); required (an empty key); unknown_capture_record (capture_of
  // naming no capture in the outbox); invalid_path_id (order_id, capture_id); outbox_not_open;
  // buffer_too_small (the storage cannot hold it even after compaction:
  // detail = bytes one area needs); io_failed (detail = the storage's code).

  /// Queues a capture of `order_id`: validated (kom::validate, default options), at most MaxLines
  /// order lines and MaxShipping shipping entries, and with a `reference` of its own (the
  /// sale's number): the outbox finds a capture whose answer it lost by that reference and
  /// its amount, so it refuses a capture without one (required, path "reference") and one
  /// whose reference a pending or done capture of the same order in the outbox already has
  /// (duplicate_reference, path "reference", detail = that capture's sequence number;
  /// compared by CRC-32 of order id and reference). Returns its
  /// sequence number once committed, or one of the errors above.
  result<std::uint32_t> append_capture(std::string_view order_id, const capture_request& request,
                                       std::string_view idempotency_key) noexcept {
    if (::kom::error e = validate(request); !e.ok()) return e;
    const field_ref reference = field_of<capture_request>(reference_field);
    if (::kom::error e = check_reference(outbox_op::capture, order_id, request.reference, reference); !e.ok()) return e;
    if (request.order_lines.size() > MaxLines) return limit(errc::too_many_items, field_of<capture_request>(lines_field), MaxLines);
    if (request.shipping_info.size() > MaxShipping)
      return limit(errc::too_many_items, field_of<capture_request>(capture_shipping_field), MaxShipping);
    detail::queued_body body;
    body.capture = &request;
    return append_op(outbox_op::capture, order_id, capture_ref{}, idempotency_key, body);
  }

  /// Queues a shipping-info update of `capture` (at most MaxShipping entries). Returns its
  /// sequence number once committed, or one of the errors above; required (path capture_of)
  /// when `capture` names no queued capture.
  result<std::uint32_t> append_shipping_info(std::string_view order_id, capture_ref capture,
                                             const shipping_info_update& update,
                                             std::string_view idempotency_key) noexcept {
    if (::kom::error e = validate(update); !e.ok()) return e;
    if (update.shipping_info.size() > MaxShipping)
      return limit(errc::too_many_items, field_of<shipping_info_update>(update_shipping_field), MaxShipping);
    detail::queued_body body;
    body.shipping = &update;
    return append_op(outbox_op::shipping_info, order_id, capture, idempotency_key, body);
  }

  /// Queues a trigger-send-out of `capture`. Returns its sequence number once committed, or
  /// one of the errors above; required (path capture_of) when `capture` names no queued capture.
  result<std::uint32_t> append_send_out(std::string_view order_id, capture_ref capture,
                                        std::string_view idempotency_key) noexcept {
    return append_op(outbox_op::send_out, order_id, capture, idempotency_key, {});
  }

  /// Queues a refund of `order_id` (a return at the till): validated, at most MaxLines order
  /// lines, and with a `reference` of its own (the return's number): after 24 hours the
  /// outbox finds a refund whose answer it lost in the order's refunds by that reference and
  /// its amount, so it refuses a refund without one (required, path "reference") and one whose
  /// reference a pending or done refund of the same order in the outbox already has
  /// (duplicate_reference). `returns`, when given by record, names the queued capture the
  /// goods came from: the refund is sent after it, and fails if it failed (given by id, or
  /// empty, it changes nothing). Returns its sequence number once committed, or one of the
  /// errors above.
  result<std::uint32_t> append_refund(std::string_view order_id, const refund_request& request,
                                      std::string_view idempotency_key, capture_ref returns = {}) noexcept {
    if (::kom::error e = validate(request); !e.ok()) return e;
    const field_ref reference = field_of<refund_request>(refund_reference_field);
    if (::kom::error e = check_reference(outbox_op::refund, order_id, request.reference, reference); !e.ok()) return e;
    if (request.order_lines.size() > MaxLines) return limit(errc::too_many_items, field_of<refund_request>(refund_lines_field), MaxLines);
    detail::queued_body body;
    body.refund = &request;
    return append_op(outbox_op::refund, order_id, capture_ref::of_record(returns.record), idempotency_key, body);
  }

  /// Queues a cancel of `order_id` (a sale voided before anything was captured). After 24
  /// hours the outbox reads the order first: a CANCELLED order is marked done, not cancelled
  /// again. Returns its sequence number once committed, or one of the errors above.
  result<std::uint32_t> append_cancel(std::string_view order_id, std::string_view idempotency_key) noexcept {
    return append_op(outbox_op::cancel, order_id, capture_ref{}, idempotency_key, {});
  }

  /// Queues a release of the remaining authorization of `order_id` (the rest of a partly
  /// collected order is not coming). Queue it after the order's captures: it is sent after
  /// them. After 24 hours the outbox reads the order first: a CLOSED order is marked done.
  result<std::uint32_t> append_release_remaining_authorization(std::string_view order_id,
                                                               std::string_view idempotency_key) noexcept {
    return append_op(outbox_op::release_remaining_authorization, order_id, capture_ref{}, idempotency_key, {});
  }

  /// Queues an extension of the authorization time of `order_id`.
  result<std::uint32_t> append_extend_authorization_time(std::string_view order_id,
                                                         std::string_view idempotency_key) noexcept {
    return append_op(outbox_op::extend_authorization_time, order_id, capture_ref{}, idempotency_key, {});
  }

  /// Queues an update of the merchant references of `order_id` (validated).
  result<std::uint32_t> append_merchant_references(std::string_view order_id, const merchant_references& references,
                                                   std::string_view idempotency_key) noexcept {
    if (::kom::error e = validate(references); !e.ok()) return e;
    detail::queued_body body;
    body.references = &references;
    return append_op(outbox_op::merchant_references, order_id, capture_ref{}, idempotency_key, body);
  }

  /// Queues an update of the authorization of `order_id` (validated, at most MaxLines lines).
  result<std::uint32_t> append_authorization_update(std::string_view order_id, const authorization_update& update,
                                                    std::string_view idempotency_key) noexcept {
    if (::kom::error e = validate(update); !e.ok()) return e;
    if (update.order_lines.size() > MaxLines)
      return limit(errc::too_many_items, field_of<authorization_update>(authorization_lines_field), MaxLines);
    detail::queued_body body;
    body.authorization = &update;
    return append_op(outbox_op::authorization_update, order_id, capture_ref{}, idempotency_key, body);
  }

  // ---- reading -------------------------------------------------------------------------------

  std::size_t size() const noexcept { return count_; }  ///< operations held (any state)
  /// Operations still pending (drain() sends them).
  std::size_t pending() const noexcept {
    std::size_t n = 0;
    for (std::size_t i = 0; i < count_; ++i) n += entries_[i].state == outbox_state::pending;
    return n;
  }
  /// The sequence number of the i-th operation held, oldest first.
  std::uint32_t seq_at(std::size_t i) const noexcept { return i < count_ ? entries_[i].seq : 0; }
  /// Records with a bad CRC skipped by the last open (or compaction).
  std::size_t corrupt_records() const noexcept { return log_.corrupt_records(); }
  /// True when the log ends in a torn record (a power cut mid-write): the next append compacts.
  bool torn_tail() const noexcept { return log_.torn_tail(); }
  /// The active area's generation: one more at each compaction.
  std::uint32_t generation() const noexcept { return log_.generation(); }
  /// Bytes of the active area in use, its header included.
  std::size_t bytes_used() const noexcept { return log_.bytes_used(); }
  /// Bytes of one area: (block_count / 2) * block_size.
  std::size_t area_bytes() const noexcept { return log_.area_bytes(); }

  /// The sequence number of the operation queued with this idempotency key (its first key or
  /// the one it was rekeyed to), or 0 when the outbox holds none: after a reboot, tells
  /// whether an append whose answer was lost made it.
  std::uint32_t find_key(std::string_view idempotency_key) const noexcept {
    for (std::size_t i = 0; i < count_; ++i)
      if (entries_[i].original_key() == idempotency_key || entries_[i].key_view() == idempotency_key)
        return entries_[i].seq;
    return 0;
  }

  /// Reads operation `seq` in full into `item` (views into this outbox, valid until its next
  /// call). Errors: no_such_operation, io_failed, record_corrupt (its record no longer reads
  /// back intact: the storage changed since open).
  ::kom::error read(std::uint32_t seq, outbox_item& item) noexcept {
    entry* e = find(seq);
    if (e == nullptr) return ::kom::error(errc::no_such_operation, seq);
    return read_entry(*e, item);
  }

  /// The back office has dealt with an operation (usually a failed one): it is never sent and
  /// is dropped at the next compaction. Errors: no_such_operation, those of append.
  ::kom::error forget(std::uint32_t seq) noexcept {
    entry* e = find(seq);
    if (e == nullptr) return ::kom::error(errc::no_such_operation, seq);
    unsigned char p[16];
    detail::record_writer w(p, sizeof p);
    w.byte(detail::rk_forgotten);
    w.uvar(seq);
    result<std::uint32_t> off = append_record(p, w.size());
    if (!off) return off.error();
    if ((e = find(seq)) != nullptr) e->state = outbox_state::forgotten;
    return {};
  }

  /// Moves the live operations into the other area now (otherwise done when an append needs
  /// room). Done operations (except captures a pending operation still needs) and forgotten
  /// ones are dropped. Errors: outbox_not_open, buffer_too_small (the live
  /// records do not fit one area; detail = bytes needed), io_failed (detail = the storage's code).
  ::kom::error compact() noexcept {
    if (!opened_) return ::kom::error(errc::outbox_not_open);
    return compact_into(0);
  }

  // ---- draining ------------------------------------------------------------------------------

  /// Sends the pending operations, oldest first, with the client's retry rules. Each is
  /// marked done only after Klarna's definite answer; a final refusal (a 4xx, a request
  /// Klarna will never take) is marked failed with its error for the back office and not
  /// sent again; retry_later (the link is down) stops the drain and leaves the rest
  /// pending, in order. `items` and `storage` receive the captures listing of the 24-hour rule.
  outbox_drain drain(const outbox_sender& klarna, ::kom::capture* items, std::size_t capacity,
                     capture_storage_ref storage) noexcept {
    outbox_drain d;
    if (!opened_) {
      d.stopped = true;
      d.error = ::kom::error(errc::outbox_not_open);
      return d;
    }
    std::uint32_t last = 0;
    for (;;) {
      entry* e = next_pending(last);
      if (e == nullptr) break;
      if (!klarna.can_send(e->op)) {  // a sender without this call: nothing of it is sent
        d.stopped = true;
        d.error = ::kom::error(errc::invalid_client_setup);
        break;
      }
      last = e->seq;
      const step s = drain_one(klarna, *e, items, capacity, storage);
      if (s.marked) {
        ++d.sent;
        if (s.state == outbox_state::done) ++d.done;
        else ++d.failed;
      }
      if (s.stop) {
        d.stopped = true;
        d.error = s.error;
        break;
      }
    }
    d.pending = pending();
    return d;
  }

  /// The same, with all N of `items`.
  template <std::size_t N>
  outbox_drain drain(const outbox_sender& klarna, ::kom::capture (&items)[N], capture_storage_ref storage) noexcept {
    return drain(klarna, items, N, storage);
  }

  /// The same through a kom::client.
  outbox_drain drain(client& klarna, ::kom::capture* items, std::size_t capacity, capture_storage_ref storage) noexcept {
    return drain(outbox_sender::of(klarna), items, capacity, storage);
  }

  /// The same through a kom::client, with all N of `items`.
  template <std::size_t N>
  outbox_drain drain(client& klarna, ::kom::capture (&items)[N], capture_storage_ref storage) noexcept {
    return drain(outbox_sender::of(klarna), items, N, storage);
  }

 private:
  struct entry {
    std::uint32_t seq = 0;
    std::uint32_t op_off = 0;        // the operation record
    std::uint32_t timing_off = 0;    // the latest attempted or rekeyed record, 0 when none
    std::uint32_t final_off = 0;     // the done or failed record, 0 when none
    std::uint32_t capture_of = 0;
    std::uint32_t reference_hash = 0;  // captures and refunds: reference_hash(order id, reference)
    std::uint64_t first_attempt_ms = 0;
    std::uint32_t order_hash = 0;      // CRC-32 of the order id: which operations share an order (after the u64: no padding)
    outbox_op op = outbox_op::capture;
    outbox_state state = outbox_state::pending;
    std::uint8_t key_size = 0;
    std::uint8_t original_key_size = 0;
    char key[detail::outbox_max_key] = {};
    char first_key[detail::outbox_max_key] = {};
    std::string_view key_view() const noexcept { return {key, key_size}; }
    std::string_view original_key() const noexcept { return {first_key, original_key_size}; }
  };

  struct step {
    bool marked = false;
    bool stop = false;
    outbox_state state = outbox_state::pending;
    ::kom::error error;
  };

  static ::kom::error limit(errc code, field_ref where, std::size_t n) noexcept {
    return ::kom::error(code, where, static_cast<std::int64_t>(n));
  }
  static ::kom::error limit(errc code, parameter p, std::size_t n) noexcept { return limit(code, field_ref::of(p), n); }
  // A field of a queued capture or shipping-info update, by its number.
  template <class Request>
  static field_ref field_of(std::size_t index) noexcept {
    return field_ref::in(fields_of<Request>::type).field(index);
  }
  static constexpr std::size_t reference_field = field_index<capture_request>("reference");
  static constexpr std::size_t lines_field = field_index<capture_request>("order_lines");
  static constexpr std::size_t capture_shipping_field = field_index<capture_request>("shipping_info");
  static constexpr std::size_t update_shipping_field = field_index<shipping_info_update>("shipping_info");
  static constexpr std::size_t refund_reference_field = field_index<refund_request>("reference");
  static constexpr std::size_t refund_lines_field = field_index<refund_request>("order_lines");
  static constexpr std::size_t authorization_lines_field = field_index<authorization_update>("order_lines");

  // A capture or refund must carry a reference no pending or done one of the same kind and
  // order in the outbox has: the 24-hour check finds it at Klarna by that reference.
  ::kom::error check_reference(outbox_op op, std::string_view order_id, std::string_view reference,
                               field_ref where) const noexcept {
    if (reference.empty()) return limit(errc::required, where, 0);
    const std::uint32_t hash = reference_hash(order_id, reference);
    for (std::size_t i = 0; i < count_; ++i) {
      const entry& other = entries_[i];
      if (other.op == op && other.reference_hash == hash &&
          (other.state == outbox_state::pending || other.state == outbox_state::done))
        return limit(errc::duplicate_reference, where, other.seq);
    }
    return {};
  }

  using log_type = record_log<MaxRecord>;
  using read_result = typename log_type::read_result;

  // Replays the active area into the index.
  ::kom::error load() noexcept {
    count_ = 0;
    return log_.replay([this](std::uint32_t off, std::uint32_t seq, std::size_t size) { apply(off, seq, size); });
  }

  // Reads the record at `off` into the log's buffer: its payload size, or the error.
  result<std::size_t> read_at(std::uint32_t off) noexcept {
    std::uint32_t seq = 0;
    std::size_t payload = 0, total = 0;
    int io = 0;
    if (log_.read(off, seq, payload, total, io) != read_result::intact)
      return io != 0 ? ::kom::error(errc::io_failed, io) : ::kom::error(errc::record_corrupt);
    return payload;
  }

  // Applies one intact record (its payload in the log's buffer) to the index.
  void apply(std::uint32_t off, std::uint32_t seq, std::size_t payload) noexcept {
    detail::record_reader r(log_.buffer(), payload);
    const std::uint8_t kind = r.byte();
    if (kind >= detail::rk_capture && kind <= detail::rk_last_op) {
      if (count_ >= MaxOps) return;  // cannot happen: appends keep within MaxOps
      entry& e = entries_[count_];
      e = entry{};
      e.seq = seq;
      e.op_off = off;
      e.op = static_cast<outbox_op>(kind);
      const std::string_view order_id = r.text();
      const std::string_view key = r.text();
      e.order_hash = crc32_update(0, order_id.data(), order_id.size());
      e.capture_of = static_cast<std::uint32_t>(r.uvar());
      (void)r.text();  // capture id
      if (kind == detail::rk_capture) {
        // Only the amount and the reference: replay does not decode every line of every capture.
        capture_request c;
        if (log_.format() == 1) {
          detail::v1::decode_capture_head(r, c);
        } else {
          detail::record_space none;
          detail::decode_fields(r, c, none, reference_field + 1);
        }
        e.reference_hash = reference_hash(order_id, c.reference);
      } else if (kind == detail::rk_refund) {
        refund_request rr;
        detail::record_space none;
        detail::decode_fields(r, rr, none, refund_reference_field + 1);
        e.reference_hash = reference_hash(order_id, rr.reference);
      }
      if (r.bad() || key.size() > detail::outbox_max_key) return;
      set_key(e, key);
      if (!key.empty()) std::memcpy(e.first_key, key.data(), key.size());
      e.original_key_size = static_cast<std::uint8_t>(key.size());
      ++count_;
      return;
    }
    const std::uint32_t target = static_cast<std::uint32_t>(r.uvar());
    entry* e = find(target);
    if (e == nullptr || r.bad()) return;
    switch (kind) {
      case detail::rk_attempted:
        e->first_attempt_ms = r.uvar();
        e->timing_off = off;
        break;
      case detail::rk_rekeyed: {
        const std::uint64_t t = r.uvar();
        const std::string_view key = r.text();
        if (r.bad() || key.size() > detail::outbox_max_key) return;
        e->first_attempt_ms = t;
        set_key(*e, key);
        e->timing_off = off;
        break;
      }
      case detail::rk_done:
        e->state = outbox_state::done;
        e->final_off = off;
        break;
      case detail::rk_failed:
        e->state = outbox_state::failed;
        e->final_off = off;
        break;
      case detail::rk_forgotten: e->state = outbox_state::forgotten; break;
      default: break;
    }
  }

  // Reads an operation record's request, after its common prefix, in the active area's
  // format; its lines and shipping entries go to this outbox's arrays.
  bool decode_request(detail::record_reader& r, outbox_item& item) noexcept {
    detail::record_space space{{lines_, MaxLines}, {identifiers_, MaxLines}, {subscriptions_, MaxLines},
                               {shipping_, MaxShipping}};
    if (log_.format() == 1) {  // kom 0.1.0 queued captures, shipping info and send-outs only
      if (item.op == outbox_op::capture) detail::v1::decode_capture(r, item.capture, space);
      else if (item.op == outbox_op::shipping_info) detail::v1::decode_update(r, item.shipping, space);
      return !r.bad();
    }
    switch (item.op) {
      case outbox_op::capture: detail::decode_object(r, item.capture, space); break;
      case outbox_op::shipping_info: detail::decode_object(r, item.shipping, space); break;
      case outbox_op::refund: detail::decode_object(r, item.refund, space); break;
      case outbox_op::merchant_references: detail::decode_object(r, item.references, space); break;
      case outbox_op::authorization_update: detail::decode_object(r, item.authorization, space); break;
      case outbox_op::send_out:
      case outbox_op::cancel:
      case outbox_op::release_remaining_authorization:
      case outbox_op::extend_authorization_time: break;
    }
    return !r.bad();
  }

  static std::uint32_t reference_hash(std::string_view order_id, std::string_view reference) noexcept {
    const unsigned char gap = 0;
    std::uint32_t h = crc32_update(0, order_id.data(), order_id.size());
    h = crc32_update(h, &gap, 1);
    return crc32_update(h, reference.data(), reference.size());
  }

  static void set_key(entry& e, std::string_view key) noexcept {
    if (!key.empty()) std::memcpy(e.key, key.data(), key.size());
    e.key_size = static_cast<std::uint8_t>(key.size());
  }

  entry* find(std::uint32_t seq) noexcept {
    for (std::size_t i = 0; i < count_; ++i)
      if (entries_[i].seq == seq) return &entries_[i];
    return nullptr;
  }

  entry* next_pending(std::uint32_t after) noexcept {
    for (std::size_t i = 0; i < count_; ++i)
      if (entries_[i].seq > after && entries_[i].state == outbox_state::pending) return &entries_[i];
    return nullptr;
  }

  // ---- appending ----

  // Every queued call carries its key: what makes sending it again after a reboot safe.
  static constexpr bool all_keyed() noexcept {
    for (std::uint8_t k = detail::rk_capture; k <= detail::rk_last_op; ++k)
      if (!info_of(operation_of(static_cast<outbox_op>(k))).idempotency_key) return false;
    return true;
  }
  static_assert(all_keyed(), "every queued call carries an idempotency key");

  // `capture`: the capture the call's path names (shipping info, send-out), or, by record
  // only, the capture it must follow (a refund).
  result<std::uint32_t> append_op(outbox_op op, std::string_view order_id, capture_ref capture, std::string_view key,
                                  const detail::queued_body& body) noexcept {
    if (!opened_) return ::kom::error(errc::outbox_not_open);
    const auto kind = static_cast<std::uint8_t>(op);
    const operation_info& call = info_of(operation_of(op));
    if (key.empty()) return limit(errc::required, parameter::idempotency_key, 0);
    if (key.size() > detail::outbox_max_key) return limit(errc::too_long, parameter::idempotency_key, detail::outbox_max_key);
    if (::kom::error e = detail::check_path_id(parameter::order_id, order_id); !e.ok()) return e;
    std::uint32_t capture_of = 0;
    std::string_view capture_id = capture.capture_id;
    if (call.capture_id() || capture.record != 0) {
      if (capture.record != 0) {
        entry* target = find(capture.record);
        if (target == nullptr || target->op != outbox_op::capture)
          return limit(errc::unknown_capture_record, parameter::capture_of, capture.record);
        if (target->state == outbox_state::done) {
          capture_id = done_capture_id(*target);  // known already: store the id itself
          if (capture_id.empty()) return limit(errc::unknown_capture_record, parameter::capture_of, capture.record);
        } else {
          capture_of = capture.record;
        }
      } else if (::kom::error e = detail::check_path_id(parameter::capture_id, capture_id); !e.ok()) {
        return e;
      }
    }
    if (count_ >= MaxOps) {
      const ::kom::error e = compact_into(0);
      if (!e.ok()) return e;
      if (count_ >= MaxOps) return limit(errc::too_many_items, parameter::outbox, MaxOps);
    }
    const result<std::size_t> size = encode_op(kind, order_id, key, capture_of, capture_id, body);
    if (!size) return size.error();
    if (!log_.fits(*size)) {
      // Compaction uses the log's buffer as its copy buffer: encode again afterwards.
      if (::kom::error e = compact_into(log_type::total_size(*size)); !e.ok()) return e;
      (void)encode_op(kind, order_id, key, capture_of, capture_id, body);
    }
    return append_record(log_.buffer(), *size);
  }

  // An operation record: kind, order id, first key, capture_of, capture id, then the request.
  static void write_op(detail::record_writer& w, std::uint8_t kind, std::string_view order_id, std::string_view key,
                       std::uint32_t capture_of, std::string_view capture_id, const detail::queued_body& body) noexcept {
    w.byte(kind);
    w.text(order_id);
    w.text(key);
    w.uvar(capture_of);
    w.text(capture_of != 0 ? std::string_view() : capture_id);
    if (body.capture != nullptr) detail::encode_object(w, *body.capture);
    else if (body.shipping != nullptr) detail::encode_object(w, *body.shipping);
    else if (body.refund != nullptr) detail::encode_object(w, *body.refund);
    else if (body.references != nullptr) detail::encode_object(w, *body.references);
    else if (body.authorization != nullptr) detail::encode_object(w, *body.authorization);
  }

  result<std::size_t> encode_op(std::uint8_t kind, std::string_view order_id, std::string_view key,
                                std::uint32_t capture_of, std::string_view capture_id,
                                const detail::queued_body& body) noexcept {
    detail::record_writer w(log_.buffer(), MaxRecord);
    write_op(w, kind, order_id, key, capture_of, capture_id, body);
    if (w.overflow()) return limit(errc::too_long, parameter::record, MaxRecord);
    return w.size();
  }

  // Appends one record (payload in `payload`, which may be the log's buffer) and applies it
  // to the index; compacts first when the area is full or its tail is torn. Returns its
  // sequence number.
  result<std::uint32_t> append_record(const unsigned char* payload, std::size_t size) noexcept {
    if (!log_.fits(size)) {
      // Only state records (never in the log's buffer, which compaction uses) get here needing room.
      if (payload == log_.buffer())
        return ::kom::error(errc::buffer_too_small, static_cast<std::int64_t>(log_type::total_size(size)));
      if (::kom::error e = compact_into(log_type::total_size(size)); !e.ok()) return e;
    }
    std::uint32_t seq = 0;
    const result<std::uint32_t> off = log_.append(payload, size, seq);
    if (!off) return off.error();
    apply(*off, seq, size);
    return seq;
  }

  bool kept(const entry& e) const noexcept {
    if (e.state == outbox_state::pending || e.state == outbox_state::failed) return true;
    if (e.state != outbox_state::done || e.op != outbox_op::capture) return false;
    for (std::size_t i = 0; i < count_; ++i)  // a done capture that a live operation still refers to
      if (entries_[i].capture_of == e.seq &&
          (entries_[i].state == outbox_state::pending || entries_[i].state == outbox_state::failed))
        return true;
    return false;
  }

  // Copies the live records into the other area, then makes it active (its header last) and
  // reloads. `extra`: bytes that must fit afterwards. A format-1 area is migrated: its
  // operation records are rewritten in this format, and done ones are kept too (a migration
  // changes the form, not what the outbox holds).
  ::kom::error compact_into(std::size_t extra) noexcept {
    const bool migrate = log_.format() != detail::log_format;
    const auto copied = [&](const entry& e) { return kept(e) || (migrate && e.state == outbox_state::done); };
    std::size_t need = log_type::header_size() + extra;
    for (std::size_t i = 0; i < count_; ++i) {
      entry& e = entries_[i];
      if (!copied(e)) continue;
      if (migrate) {
        const result<std::size_t> n = migrated_size(e);
        if (!n) return n.error();
        need += log_type::total_size(*n);
      } else {
        need += log_.record_size(e.op_off);
      }
      if (e.timing_off && e.state == outbox_state::pending) need += log_.record_size(e.timing_off);
      if (e.final_off) need += log_.record_size(e.final_off);
    }
    if (need > log_.area_bytes()) return ::kom::error(errc::buffer_too_small, static_cast<std::int64_t>(need));
    if (::kom::error err = log_.begin_compaction(); !err.ok()) return err;
    for (std::size_t i = 0; i < count_; ++i) {
      entry& e = entries_[i];
      if (!copied(e)) continue;
      const std::uint32_t offs[3] = {e.op_off, e.state == outbox_state::pending ? e.timing_off : 0, e.final_off};
      for (std::uint32_t off : offs) {
        if (off == 0) continue;
        const ::kom::error err = migrate && off == e.op_off ? migrate_op(e) : log_.copy_record(off);
        if (!err.ok()) return err;
      }
    }
    if (::kom::error err = log_.finish_compaction(); !err.ok()) return err;
    return load();
  }

  // The payload size of operation `e`'s record once rewritten in this format.
  result<std::size_t> migrated_size(entry& e) noexcept {
    outbox_item item;
    if (::kom::error err = read_entry(e, item); !err.ok()) return err;
    return measure_migrated(e, item);
  }

  result<std::size_t> measure_migrated(const entry& e, const outbox_item& item) noexcept {
    detail::record_writer measure(nullptr, 0);
    write_migrated(measure, e, item);
    if (measure.size() > MaxRecord) return limit(errc::too_long, parameter::record, MaxRecord);
    return measure.size();
  }

  // Rewrites operation `e`, read from a format-1 area, as a record of this format after the
  // ones compacted so far, streamed (its request's views point into the log's buffer).
  ::kom::error migrate_op(entry& e) noexcept {
    outbox_item item;
    if (::kom::error err = read_entry(e, item); !err.ok()) return err;
    const result<std::size_t> size = measure_migrated(e, item);
    if (!size) return size.error();
    return log_.rewrite_streamed(e.seq, *size, [&](detail::record_writer& w) { write_migrated(w, e, item); });
  }

  void write_migrated(detail::record_writer& w, const entry& e, const outbox_item& item) noexcept {
    // A done capture's id came from its done record: the operation record itself has none.
    const std::string_view capture_id = item.op == outbox_op::capture ? std::string_view() : item.capture_id;
    write_op(w, static_cast<std::uint8_t>(item.op), item.order_id, e.original_key(), item.capture_of, capture_id,
             body_of(item));
  }

  // ---- reading an operation back ----

  static detail::queued_body body_of(const outbox_item& item) noexcept {
    detail::queued_body body;
    switch (item.op) {
      case outbox_op::capture: body.capture = &item.capture; break;
      case outbox_op::shipping_info: body.shipping = &item.shipping; break;
      case outbox_op::refund: body.refund = &item.refund; break;
      case outbox_op::merchant_references: body.references = &item.references; break;
      case outbox_op::authorization_update: body.authorization = &item.authorization; break;
      case outbox_op::send_out:
      case outbox_op::cancel:
      case outbox_op::release_remaining_authorization:
      case outbox_op::extend_authorization_time: break;
    }
    return body;
  }

  ::kom::error read_entry(entry& e, outbox_item& item) noexcept {
    item = outbox_item{};
    const result<std::size_t> op = read_at(e.op_off);
    if (!op) return op.error();
    detail::record_reader r(log_.buffer(), *op);
    item.seq = e.seq;
    item.op = static_cast<outbox_op>(r.byte());
    item.state = e.state;
    item.order_id = r.text();
    (void)r.text();
    item.idempotency_key = e.key_view();
    item.capture_of = static_cast<std::uint32_t>(r.uvar());
    item.capture_id = r.text();
    item.first_attempt_ms = e.first_attempt_ms;
    if (!decode_request(r, item))
      return ::kom::error(errc::record_corrupt);
    if (r.bad()) return ::kom::error(errc::record_corrupt);
    if (e.final_off != 0) {  // the done or failed record, into aux_
      const result<std::size_t> state = read_at(e.final_off);
      if (!state) return state.error();
      if (*state > sizeof aux_) return ::kom::error(errc::record_corrupt);
      std::memcpy(aux_, log_.buffer(), *state);  // the buffer now holds the state record: move it aside
      // The operation's views point into the buffer: reread it (its bytes are unchanged).
      detail::record_reader s(aux_, *state);
      const std::uint8_t kind = s.byte();
      (void)s.uvar();
      if (kind == detail::rk_done) {
        const std::string_view id = s.text();
        if (item.op == outbox_op::capture) item.capture_id = id;
        if (item.op == outbox_op::refund) item.refund_id = id;
      } else if (kind == detail::rk_failed) {
        item.failure.code = static_cast<errc>(s.svar());
        item.failure.status = static_cast<int>(s.svar());
        item.failure.error_code = s.text();
        item.failure.message = s.text();
        item.failure.correlation_id = s.text();
      }
      if (const result<std::size_t> again = read_at(e.op_off); !again) return again.error();
    }
    return {};
  }

  // The capture id a done capture got (into aux_), or empty.
  std::string_view done_capture_id(const entry& e) noexcept {
    if (e.final_off == 0 || e.state != outbox_state::done) return {};
    const result<std::size_t> payload = read_at(e.final_off);
    if (!payload || *payload > sizeof id_) return {};
    std::memcpy(id_, log_.buffer(), *payload);
    detail::record_reader s(id_, *payload);
    (void)s.byte();
    (void)s.uvar();
    const std::string_view id = s.text();
    return s.bad() ? std::string_view() : id;
  }

  // ---- draining one operation ----

  ::kom::error mark_timing(std::uint32_t seq, std::uint64_t now, std::string_view new_key) noexcept {
    unsigned char p[16 + detail::outbox_max_key];
    detail::record_writer w(p, sizeof p);
    w.byte(new_key.empty() ? detail::rk_attempted : detail::rk_rekeyed);
    w.uvar(seq);
    w.uvar(now);
    if (!new_key.empty()) w.text(new_key);
    result<std::uint32_t> r = append_record(p, w.size());
    return r ? ::kom::error() : r.error();
  }

  ::kom::error mark_done(std::uint32_t seq, std::string_view capture_id) noexcept {
    unsigned char p[16 + 256];
    detail::record_writer w(p, sizeof p);
    w.byte(detail::rk_done);
    w.uvar(seq);
    w.text(detail::cut(capture_id, 255));
    result<std::uint32_t> r = append_record(p, w.size());
    return r ? ::kom::error() : r.error();
  }

  ::kom::error mark_failed(std::uint32_t seq, const ::kom::error& err, int status, const error_body& body,
                           std::string_view correlation_id) noexcept {
    unsigned char p[32 + 3 * 4 + 3 * detail::outbox_max_failure_text];
    detail::record_writer w(p, sizeof p);
    w.byte(detail::rk_failed);
    w.uvar(seq);
    w.svar(static_cast<std::int64_t>(err.code()));
    w.svar(status);
    w.text(detail::cut(body.error_code_text, detail::outbox_max_failure_text));
    w.text(detail::cut(body.error_messages.empty() ? std::string_view() : body.error_messages[0],
                       detail::outbox_max_failure_text));
    w.text(detail::cut(correlation_id.empty() ? body.correlation_id : correlation_id, detail::outbox_max_failure_text));
    result<std::uint32_t> r = append_record(p, w.size());
    return r ? ::kom::error() : r.error();
  }

  static step stop_drain(const ::kom::error& e) noexcept {
    step s;
    s.stop = true;
    s.error = e;
    return s;
  }

  template <class T>
  step settle(std::uint32_t seq, const reply<T>& r, std::string_view capture_id) noexcept {
    step s;
    switch (r.next_step()) {
      case outcome::done: return mark_found(seq, capture_id);
      case outcome::refused:
        // Refused before sending because of the terminal's set-up (no credentials, a bad host
        // or User-Agent, a hook missing, TLS set-up): not the operation's fault, so it stays
        // pending and the drain stops, to go on once the set-up is mended. (A request too large
        // for the work buffer is this operation's: it fails, and the queue behind it goes on.)
        if (!r.sent && setup_error(r.error)) break;
        if (::kom::error e = mark_failed(seq, r.error, r.status, r.klarna, r.correlation_id); !e.ok())
          return stop_drain(e);
        s.marked = true;
        s.state = outbox_state::failed;
        return s;
      case outcome::retry_later:
      case outcome::applied_id_unknown:  // drain_one looks the capture up before it settles
      case outcome::unknown:             // never: the outbox sends every operation with a key
        break;
    }
    s.stop = true;
    s.error = r.error;
    return s;
  }

  // A refusal the client's set-up causes, whatever the operation: its hooks, its transport,
  // the server and credentials it was given (check_config's parameters), TLS set-up.
  static bool setup_error(const ::kom::error& e) noexcept {
    switch (e.code()) {
      case errc::missing_credentials:
      case errc::invalid_client_setup:
      case errc::invalid_transport:
      case errc::random_source_failed:
      case errc::crypto_failed:
      case errc::tls_setup_failed:
        return true;
      default:
        break;
    }
    for (parameter p : {parameter::credentials, parameter::credentials_username, parameter::credentials_password,
                        parameter::credentials_api_key, parameter::server_host, parameter::server_port,
                        parameter::user_agent_os, parameter::user_agent_pos_model, parameter::user_agent_firmware})
      if (e.where() == field_ref::of(p)) return true;
    return false;
  }

  // What looking for a queued capture or refund at Klarna found.
  enum class search : std::uint8_t {
    found,      // its id is in the caller's buffer
    absent,     // every item was read; none has its reference and amount
    ambiguous,  // an item of its amount without a reference: it may be this one
    stopped     // the listing failed or did not fit: `listing` says how
  };

  // The reads of the 24-hour rule are strict: a listing that does not fit the storage is an
  // error naming what overflowed, never a cut list (a text cut short could match another
  // item's reference). They read only ids, references and amounts: lines, shipping entries
  // and the like are skipped, so that a large order cannot stop the drain for good.
  static read_options strict() noexcept {
    read_options o;
    o.skip_lists_without_storage = true;
    return o;
  }

  // The caller's capture storage with only its text: nested lists skipped (strict()).
  static capture_storage_ref text_only(const capture_storage_ref& storage) noexcept {
    capture_storage_ref t;
    t.text = storage.text;
    t.text_capacity = storage.text_capacity;
    return t;
  }

  // Lists the order's captures and looks for the one `item` queued: the same reference
  // (unique among the outbox's captures of an order) and captured_amount.
  search find_listed(const outbox_sender& klarna, const outbox_item& item, ::kom::capture* items, std::size_t capacity,
                     capture_storage_ref storage, char (&capture_id)[256], std::size_t& id_size,
                     reply<capture_list>& listing) noexcept {
    listing = klarna.list_captures_fn(klarna.context, item.order_id, items, capacity, text_only(storage), strict());
    if (!listing.ok()) return search::stopped;
    if (listing.value.truncated) {  // a sender that cut the list anyway: not every capture was seen
      listing.error = ::kom::error(errc::json_too_many_items, static_cast<std::int64_t>(capacity));
      return search::stopped;
    }
    for (const ::kom::capture& c : listing.value.captures) {
      if (c.reference == item.capture.reference && c.captured_amount == item.capture.captured_amount) {
        id_size = c.capture_id.size() < 256 ? c.capture_id.size() : 255;
        if (id_size != 0) std::memcpy(capture_id, c.capture_id.data(), id_size);
        return search::found;
      }
    }
    return search::absent;
  }

  // Marks the operation done (a capture with its id): what settle() does on done, and what a
  // capture found by listing gets.
  step mark_found(std::uint32_t seq, std::string_view capture_id) noexcept {
    if (::kom::error err = mark_done(seq, capture_id); !err.ok()) return stop_drain(err);
    step s;
    s.marked = true;
    s.state = outbox_state::done;
    return s;
  }

  // Marks the operation failed for good with `why` (no answer of Klarna's to keep): a refund
  // whose capture failed, a release after a failed capture, a refund that cannot be verified.
  step mark_given_up(std::uint32_t seq, const ::kom::error& why, std::string_view code) noexcept {
    error_body body;
    body.error_code_text = code;
    if (::kom::error e = mark_failed(seq, why, 0, body, {}); !e.ok()) return stop_drain(e);
    step s;
    s.marked = true;
    s.state = outbox_state::failed;
    return s;
  }

  // Reads the order for the 24-hour rule and a refund whose id was lost: only its status and
  // refunds, their text in the caller's capture storage (its other lists are not read).
  reply<order> read_order_state(const outbox_sender& klarna, std::string_view order_id,
                                capture_storage_ref storage, bool with_refunds) noexcept {
    order_storage_ref refunds_only;
    if (with_refunds) {  // a cancel or release needs only the status and amounts
      refunds_only.refunds = refunds_;
      refunds_only.refunds_capacity = MaxRefunds;
    }
    refunds_only.text = storage.text;
    refunds_only.text_capacity = storage.text_capacity;
    reply<order> r = klarna.get_order_fn(klarna.context, order_id, refunds_only, strict());
    if (r.ok() && r.value.truncated) r.error = ::kom::error(errc::json_too_many_items, static_cast<std::int64_t>(MaxRefunds));
    return r;
  }

  // Looks for the refund `item` queued among the order's refunds: the same reference (unique
  // among the outbox's refunds of an order) and refunded_amount. Klarna's 2020 Refund has no
  // reference: a listed refund of the same amount without one may be this refund, so it is
  // ambiguous, never absent.
  search find_refund(const outbox_sender& klarna, const outbox_item& item, capture_storage_ref storage,
                     char (&refund_id)[256], std::size_t& id_size, reply<order>& read) noexcept {
    read = read_order_state(klarna, item.order_id, storage, true);
    if (!read.ok()) return search::stopped;
    bool unsure = false;
    for (const order_refund& f : read.value.refunds) {
      if (f.refunded_amount != item.refund.refunded_amount) continue;
      if (f.reference == item.refund.reference) {
        id_size = f.refund_id.size() < 256 ? f.refund_id.size() : 255;
        if (id_size != 0) std::memcpy(refund_id, f.refund_id.data(), id_size);
        return search::found;
      }
      unsure = unsure || f.reference.empty();
    }
    return unsure ? search::ambiguous : search::absent;
  }

  // A failed listing or order read: an order Klarna does not know (404) can have no capture or
  // refund either, so the operation fails; anything else (the link, credentials, a listing
  // too big) stops the drain.
  template <class T>
  step listing_failed(std::uint32_t seq, const reply<T>& read) noexcept {
    if (read.error.code() == errc::http_error && read.status == 404) return settle(seq, read, {});
    return stop_drain(read.error);
  }

  // The 24-hour rule, before an operation whose key Klarna may have forgotten is sent again:
  // true with `s` set when it is settled without sending (found done at Klarna, or a failed
  // look), false when it is to be resent with a new key.
  bool settled_by_looking(const outbox_sender& klarna, const entry& e, ::kom::capture* items, std::size_t capacity,
                          capture_storage_ref storage, char (&id)[256], std::size_t& id_size, step& s) noexcept {
    if (e.op != outbox_op::capture && e.op != outbox_op::refund && e.op != outbox_op::cancel &&
        e.op != outbox_op::release_remaining_authorization)
      return false;  // nothing to look at: a duplicate entry or e-mail is the price, a lost one is worse
    const std::uint32_t seq = e.seq;
    const outbox_op op = e.op;
    outbox_item item;
    if (::kom::error err = read(seq, item); !err.ok()) {
      s = stop_drain(err);
      return true;
    }
    if (op == outbox_op::capture) {
      reply<capture_list> list;
      switch (find_listed(klarna, item, items, capacity, storage, id, id_size, list)) {
        case search::found: s = mark_found(seq, std::string_view(id, id_size)); return true;
        case search::absent: return false;
        case search::ambiguous:  // not for captures: Klarna lists their references
        case search::stopped: s = listing_failed(seq, list); return true;
      }
      return false;
    }
    if (op == outbox_op::refund) {
      reply<order> read_back;
      switch (find_refund(klarna, item, storage, id, id_size, read_back)) {
        case search::found: s = mark_found(seq, std::string_view(id, id_size)); return true;
        case search::absent: return false;
        case search::ambiguous: s = mark_given_up(seq, ::kom::error(errc::not_verifiable), "NOT_VERIFIABLE"); return true;
        case search::stopped: s = listing_failed(seq, read_back); return true;
      }
      return false;
    }
    // A cancel shows as CANCELLED; a release as CLOSED, or at least as nothing left authorized.
    const reply<order> o = read_order_state(klarna, item.order_id, storage, false);
    if (!o.ok()) {
      s = listing_failed(seq, o);
      return true;
    }
    const bool applied = op == outbox_op::cancel
                             ? o.value.status == order_status::cancelled
                             : o.value.status == order_status::closed || o.value.remaining_authorized_amount == 0;
    if (!applied) return false;
    s = mark_found(seq, {});
    return true;
  }

  // A failed capture queued before a release of the same order, which the back office has not
  // forgotten: releasing now would close the order before that capture can be made.
  std::uint32_t failed_capture_before(const entry& release) const noexcept {
    for (std::size_t i = 0; i < count_; ++i) {
      const entry& c = entries_[i];
      if (c.seq < release.seq && c.op == outbox_op::capture && c.order_hash == release.order_hash &&
          c.state == outbox_state::failed)
        return c.seq;
    }
    return 0;
  }

  step drain_one(const outbox_sender& klarna, entry& e_in, ::kom::capture* items, std::size_t capacity,
                 capture_storage_ref storage) noexcept {
    const std::uint32_t seq = e_in.seq;
    const std::uint32_t capture_of = e_in.capture_of;
    // The capture this operation is for (or follows), when it was queued by record.
    char capture_id[256];
    std::size_t capture_id_size = 0;
    if (capture_of != 0) {
      entry* target = find(capture_of);
      if (target == nullptr || target->state == outbox_state::forgotten || target->state == outbox_state::failed) {
        // Its capture failed for good: this one cannot be sent either.
        return mark_given_up(seq, limit(errc::unknown_capture_record, parameter::capture_of, capture_of), "CAPTURE_FAILED");
      }
      if (target->state == outbox_state::pending) return {};  // not yet: later (not reached in order)
      const std::string_view id = done_capture_id(*target);
      if (!id.empty()) std::memcpy(capture_id, id.data(), id.size());
      capture_id_size = id.size();
    }
    if (e_in.op == outbox_op::release_remaining_authorization) {
      if (const std::uint32_t failed = failed_capture_before(e_in); failed != 0)
        return mark_given_up(seq, limit(errc::unknown_capture_record, parameter::capture_of, failed), "CAPTURE_FAILED");
    }
    // Timing: the first attempt is stored before it is made; after 24 h (or with the clock set
    // back), not blindly resent.
    const std::uint64_t now = clock_.now_ms(clock_.context);
    entry* e = find(seq);
    if (e == nullptr) return {};
    if (e->first_attempt_ms == 0) {
      if (::kom::error err = mark_timing(seq, now == 0 ? 1 : now, {}); !err.ok()) return stop_drain(err);
    } else if (now < e->first_attempt_ms || now - e->first_attempt_ms >= detail::outbox_key_lifetime_ms) {
      // A clock set back since the first attempt cannot tell how old the key is: look first.
      char found_id[256];
      std::size_t found_size = 0;
      step s;
      if (settled_by_looking(klarna, *e, items, capacity, storage, found_id, found_size, s)) return s;
      const result<uuid_text> fresh = klarna.new_key_fn(klarna.context);
      if (!fresh) return stop_drain(fresh.error());
      if (::kom::error err = mark_timing(seq, now, fresh->view()); !err.ok()) return stop_drain(err);
    }
    e = find(seq);
    if (e == nullptr) return {};
    char key[detail::outbox_max_key];
    const std::size_t key_size = e->key_size;
    if (key_size != 0) std::memcpy(key, e->key, key_size);
    post_options post;
    post.idempotency_key = std::string_view(key, key_size);
    outbox_item item;
    if (::kom::error err = read(seq, item); !err.ok()) return stop_drain(err);
    if (capture_of != 0) item.capture_id = std::string_view(capture_id, capture_id_size);
    void* const c = klarna.context;
    switch (item.op) {
      case outbox_op::capture: {
        reply<capture_created> r = klarna.capture_fn(c, item.order_id, item.capture, post);
        if (r.next_step() == outcome::applied_id_unknown) {
          // Klarna made the capture but its id was not readable: find it by its reference.
          reply<capture_list> list;
          if (find_listed(klarna, item, items, capacity, storage, capture_id, capture_id_size, list) == search::found)
            return mark_found(seq, std::string_view(capture_id, capture_id_size));
          // Not found, or not listed: stays pending; the next drain resends with the same
          // key and Klarna answers with the same capture.
          return stop_drain(list.ok() ? r.error : list.error);
        }
        std::size_t n = r.value.capture_id.size() < 256 ? r.value.capture_id.size() : 255;
        if (n != 0) std::memcpy(capture_id, r.value.capture_id.data(), n);  // no id: a null view
        return settle(seq, r, std::string_view(capture_id, n));
      }
      case outbox_op::refund: {
        reply<refund_created> r = klarna.refund_fn(c, item.order_id, item.refund, post);
        char refund_id[256];
        std::size_t n = 0;
        if (r.next_step() == outcome::applied_id_unknown) {
          // Klarna made the refund but its id was not readable: find it in the order.
          reply<order> read_back;
          switch (find_refund(klarna, item, storage, refund_id, n, read_back)) {
            case search::found: return mark_found(seq, std::string_view(refund_id, n));
            case search::ambiguous:  // Klarna said 2xx, so it was made: done, its id unknown
              return mark_found(seq, {});
            case search::absent:
            case search::stopped: break;
          }
          // Not found, or not read: stays pending; the next drain resends with the same key
          // and Klarna answers with the same refund.
          return stop_drain(read_back.ok() ? r.error : read_back.error);
        }
        n = r.value.refund_id.size() < 256 ? r.value.refund_id.size() : 255;
        if (n != 0) std::memcpy(refund_id, r.value.refund_id.data(), n);
        return settle(seq, r, std::string_view(refund_id, n));
      }
      case outbox_op::shipping_info:
        return settle(seq, klarna.shipping_info_fn(c, item.order_id, item.capture_id, item.shipping, post), {});
      case outbox_op::send_out: return settle(seq, klarna.send_out_fn(c, item.order_id, item.capture_id, post), {});
      case outbox_op::cancel: return settle(seq, klarna.cancel_fn(c, item.order_id, post), {});
      case outbox_op::release_remaining_authorization:
        return settle(seq, klarna.release_fn(c, item.order_id, post), {});
      case outbox_op::extend_authorization_time: return settle(seq, klarna.extend_fn(c, item.order_id, post), {});
      case outbox_op::merchant_references:
        return settle(seq, klarna.references_fn(c, item.order_id, item.references, post), {});
      case outbox_op::authorization_update:
        return settle(seq, klarna.authorization_fn(c, item.order_id, item.authorization, post), {});
    }
    return {};
  }

  log_type log_;
  wall_clock clock_;
  bool opened_ = false;
  std::size_t count_ = 0;
  entry entries_[MaxOps];
  unsigned char aux_[512];
  unsigned char id_[300];
  order_line lines_[MaxLines ? MaxLines : 1];
  product_identifiers identifiers_[MaxLines ? MaxLines : 1];
  subscription subscriptions_[MaxLines ? MaxLines : 1];
  shipping_info shipping_[MaxShipping ? MaxShipping : 1];
  order_refund refunds_[MaxRefunds ? MaxRefunds : 1];  // the 24-hour check's view of an order's refunds
};

/// The outbox with the default limits: 64 operations, 4 KiB per operation, 16 lines, 4 shipping entries.
using outbox = basic_outbox<>;

}  // namespace kom

#endif  // KOM_OUTBOX_HPP
