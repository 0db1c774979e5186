// kom/outbox.hpp: the offline outbox. A terminal keeps selling when the link is down: it
// queues each capture, shipping-info update and send-out here, in its own flash or file,
// and drains the queue into Klarna whenever the link is back, in order, each operation
// applied once.
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
// (kom/file_storage.hpp). The blocks are split into two equal areas. One area is active: a
// 16-byte area header, then records appended one after the other, never rewritten.
// Compaction copies the live records into the other area and writes that area's header last
// (with a higher generation), so a power cut at any point leaves one complete area.
//
// Area header (16 bytes, little-endian):
//   u32 magic "KOMO" | u32 generation | u32 next sequence number | u32 CRC-32 of the first 12 bytes
// Record (12 + n + 4 bytes):
//   u8 0xA5, u8 0x5A | u16 n | u32 sequence number | u32 CRC-32 of (n, sequence, payload)
//   | payload (n bytes) | commit marker "CMIT"
// The commit marker is written by a second write after the rest, so a record is committed
// only when all of it reached the storage. A record with a bad CRC behind a good marker (a
// flipped bit) is counted as corrupt and skipped. A torn record (no marker, or a header that
// is not erased) ends the log: nothing is ever written after it; the next append first
// compacts into the other area.
//
// Payload: one byte of kind, then LEB128 varints (signed ones zigzag) and strings
// (varint length, bytes).
//   operation (kind 1 capture, 2 shipping_info, 3 send_out): order_id, idempotency key,
//     capture_of (varint sequence number of a queued capture, 0 when none), capture_id,
//     then for a capture: captured_amount, description, reference, flags (bit 0: shipping_delay),
//     [shipping_delay], line count, lines, shipping count, shipping entries; for a
//     shipping-info update: shipping count, shipping entries; a send-out has nothing more.
//   order line: type, reference, name, quantity, quantity_unit, unit_price, flags (bit 0
//     tax_rate, 1 total_discount_amount, 2 total_tax_amount, 3 product_identifiers,
//     4 subscription), total_amount, the optional numbers present, merchant_data,
//     product_url, image_url, [brand, category_path, gtin, mpn, color, size],
//     [subscription name, interval, interval_count].
//   shipping entry: shipping_company, shipping_method, tracking_number, tracking_uri,
//     return_shipping_company, return_tracking_number, return_tracking_uri.
//   state change (kind 16 attempted, 17 done, 18 failed, 19 rekeyed, 20 forgotten), always
//     with the operation's sequence number:
//     attempted: first-attempt wall time (ms);  done: the capture id (captures);
//     failed: kom::errc, HTTP status, Klarna's error_code, first message, correlation id
//     (each cut to 128 bytes);  rekeyed: new first-attempt time, new key.
//
// Limits (template parameters of kom::basic_outbox): MaxOps operations in the outbox at once
// (pending, failed, and done ones not yet compacted away), MaxRecord payload bytes for one
// operation (512..65535), MaxLines order lines and MaxShipping shipping entries per
// operation; an idempotency key is at most 64 bytes, a capture id 255. Beyond a limit,
// append refuses with the limit. Open a storage with the limits it was written with (a
// smaller MaxOps or MaxRecord does not see every record). Every operation costs its record
// plus about 20 bytes when first sent (the first-attempt time) and 20 to 450 when settled
// (done, or failed with its error texts). Writes go to any byte offset: a flash whose
// program unit is larger than a byte needs a driver that buffers to it.
//
// Memory: sizeof(kom::outbox) is about MaxRecord + 170 * MaxOps + 350 * MaxLines bytes
// (21 KB with the defaults on 64-bit; 7.5 KB for basic_outbox<32, 512, 2, 2>). drain() also takes the caller's capture array
// and capture_storage for the 24-hour listing; a listing that does not fit stops the drain
// (json_too_many_items) rather than risk a second capture.
//
// Capture ids that are not known yet. A POS queues the shipping info and send-out of a sale
// offline, before its capture is drained: such an operation names its capture as
// capture_ref::of_record(seq), the sequence number append_capture returned. Draining sends the
// capture first and then uses the capture id Klarna gave it. Queue a sale's operations
// together: a capture that is already done and compacted away can no longer be referred to by
// record (append then refuses with errc::required, path "capture_of"; give the id instead).
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
// own reference. Shipping-info updates and send-outs older than 24 h are resent with a new
// stored key too (Klarna offers no way to see a send-out; a duplicate shipping entry or
// e-mail is the price, a lost one is worse).
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
#include "kom/response_model.hpp"
#include "kom/validate.hpp"

namespace kom {

/// Fixed-size blocks the outbox keeps its records in. Each function returns 0 on success and
/// a negative platform code on failure. Reads and writes stay inside one block; erase sets a
/// whole block to 0xFF. Writes only ever go to erased bytes (flash semantics). sync (may be
/// null) makes earlier writes durable (fsync).
struct block_storage {
  void* context = nullptr;        ///< passed to every function
  std::size_t block_size = 0;     ///< bytes per block (an erase unit)
  std::size_t block_count = 0;    ///< blocks; at least 2 (two areas of block_count / 2 blocks)
  /// Reads `size` bytes at `offset` in `block` into `data`.
  int (*read)(void* context, std::size_t block, std::size_t offset, void* data, std::size_t size) = nullptr;
  /// Writes `size` bytes from `data` at `offset` in `block` (erased bytes only).
  int (*write)(void* context, std::size_t block, std::size_t offset, const void* data, std::size_t size) = nullptr;
  /// Sets every byte of `block` to 0xFF.
  int (*erase)(void* context, std::size_t block) = nullptr;
  /// Makes the writes so far durable; may be null.
  int (*sync)(void* context) = nullptr;
};

/// CRC-32 (IEEE 802.3, reflected, as zlib's crc32): crc32_update(0, data, n) is zlib's crc32.
inline std::uint32_t crc32_update(std::uint32_t crc, const void* data, std::size_t size) noexcept {
  const unsigned char* p = static_cast<const unsigned char*>(data);
  crc = ~crc;
  for (std::size_t i = 0; i < size; ++i) {
    crc ^= p[i];
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

/// A wall clock (milliseconds since 1970): the first-attempt times that the 24-hour rule
/// looks at survive a reboot, so a monotonic clock does not fit.
struct wall_clock {
  void* context = nullptr;                             ///< passed to now_ms
  std::uint64_t (*now_ms)(void* context) = nullptr;    ///< milliseconds since 1970; required
};

/// The kind of a queued operation.
enum class outbox_op : std::uint8_t {
  capture = 1,        ///< client::capture
  shipping_info = 2,  ///< client::append_shipping_info
  send_out = 3        ///< client::trigger_send_out
};
/// Where a queued operation stands.
enum class outbox_state : std::uint8_t {
  pending,    ///< not yet sent, or sent without a definite answer: drain() sends it
  done,       ///< Klarna applied it
  failed,     ///< refused for good; kept with its outbox_failure for the back office
  forgotten   ///< dropped by forget(): never sent, removed at the next compaction
};

/// The capture a shipping-info update or send-out is for: its id, or the sequence number of
/// a capture queued in the same outbox whose id is not known yet.
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
  std::uint32_t capture_of = 0;        ///< the queued capture's sequence number, or 0
  capture_request capture;             ///< op == capture
  shipping_info_update shipping;       ///< op == shipping_info
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

namespace detail {

inline constexpr std::uint32_t outbox_magic = 0x4F4D4F4Bu;  // "KOMO"
inline constexpr std::size_t outbox_area_header = 16;
inline constexpr std::size_t outbox_record_head = 12;
inline constexpr std::size_t outbox_commit = 4;
inline constexpr unsigned char outbox_commit_marker[4] = {'C', 'M', 'I', 'T'};
inline constexpr std::uint64_t outbox_key_lifetime_ms = 24ull * 60 * 60 * 1000;
inline constexpr std::size_t outbox_max_key = 64;
inline constexpr std::size_t outbox_max_failure_text = 128;

enum record_kind : std::uint8_t {
  rk_capture = 1, rk_shipping_info = 2, rk_send_out = 3,
  rk_attempted = 16, rk_done = 17, rk_failed = 18, rk_rekeyed = 19, rk_forgotten = 20
};

inline void put_u32(unsigned char* p, std::uint32_t v) noexcept {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<unsigned char>(v >> (8 * i));
}
inline std::uint32_t get_u32(const unsigned char* p) noexcept {
  return static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
         static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24;
}

// Writes the compact form into a bounded buffer; `overflow` once it did not fit.
class record_writer {
 public:
  record_writer(unsigned char* data, std::size_t capacity) noexcept : data_(data), capacity_(capacity) {}
  void byte(std::uint8_t b) noexcept {
    if (size_ < capacity_) data_[size_] = b;
    else overflow_ = true;
    ++size_;
  }
  void uvar(std::uint64_t v) noexcept {
    while (v >= 0x80) {
      byte(static_cast<std::uint8_t>(v | 0x80));
      v >>= 7;
    }
    byte(static_cast<std::uint8_t>(v));
  }
  void svar(std::int64_t v) noexcept {
    const std::uint64_t u = static_cast<std::uint64_t>(v);
    uvar((u << 1) ^ (0u - (u >> 63)));
  }
  void text(std::string_view s) noexcept {
    uvar(s.size());
    for (char c : s) byte(static_cast<std::uint8_t>(c));
  }
  std::size_t size() const noexcept { return size_; }
  bool overflow() const noexcept { return overflow_; }

 private:
  unsigned char* data_;
  std::size_t capacity_;
  std::size_t size_ = 0;
  bool overflow_ = false;
};

// Reads it back; `bad` once the data ended early or a number did not fit.
class record_reader {
 public:
  record_reader(const unsigned char* data, std::size_t size) noexcept : data_(data), size_(size) {}
  std::uint8_t byte() noexcept {
    if (at_ >= size_) {
      bad_ = true;
      return 0;
    }
    return data_[at_++];
  }
  std::uint64_t uvar() noexcept {
    std::uint64_t v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
      const std::uint8_t b = byte();
      v |= static_cast<std::uint64_t>(b & 0x7F) << shift;
      if ((b & 0x80) == 0) return v;
    }
    bad_ = true;
    return 0;
  }
  std::int64_t svar() noexcept {
    const std::uint64_t u = uvar();
    return static_cast<std::int64_t>((u >> 1) ^ (0u - (u & 1u)));
  }
  std::string_view text() noexcept {
    const std::uint64_t n = uvar();
    if (bad_ || n > size_ - at_) {
      bad_ = true;
      return {};
    }
    const std::string_view s(reinterpret_cast<const char*>(data_ + at_), static_cast<std::size_t>(n));
    at_ += static_cast<std::size_t>(n);
    return s;
  }
  bool bad() const noexcept { return bad_; }

 private:
  const unsigned char* data_;
  std::size_t size_;
  std::size_t at_ = 0;
  bool bad_ = false;
};

inline void encode_shipping(record_writer& w, const shipping_info& s) noexcept {
  w.text(s.shipping_company);
  w.byte(static_cast<std::uint8_t>(s.shipping_method));
  w.text(s.tracking_number);
  w.text(s.tracking_uri);
  w.text(s.return_shipping_company);
  w.text(s.return_tracking_number);
  w.text(s.return_tracking_uri);
}

inline void decode_shipping(record_reader& r, shipping_info& s) noexcept {
  s.shipping_company = r.text();
  s.shipping_method = static_cast<shipping_method>(r.byte());
  s.tracking_number = r.text();
  s.tracking_uri = r.text();
  s.return_shipping_company = r.text();
  s.return_tracking_number = r.text();
  s.return_tracking_uri = r.text();
}

inline void encode_line(record_writer& w, const order_line& l) noexcept {
  w.byte(static_cast<std::uint8_t>(l.type));
  w.text(l.reference);
  w.text(l.name);
  w.svar(l.quantity);
  w.text(l.quantity_unit);
  w.svar(l.unit_price);
  std::uint8_t flags = 0;
  if (l.tax_rate) flags |= 1;
  if (l.total_discount_amount) flags |= 2;
  if (l.total_tax_amount) flags |= 4;
  if (l.product_identifiers) flags |= 8;
  if (l.subscription) flags |= 16;
  w.byte(flags);
  w.svar(l.total_amount);
  if (l.tax_rate) w.svar(*l.tax_rate);
  if (l.total_discount_amount) w.svar(*l.total_discount_amount);
  if (l.total_tax_amount) w.svar(*l.total_tax_amount);
  w.text(l.merchant_data);
  w.text(l.product_url);
  w.text(l.image_url);
  if (const product_identifiers* p = l.product_identifiers) {
    w.text(p->brand);
    w.text(p->category_path);
    w.text(p->global_trade_item_number);
    w.text(p->manufacturer_part_number);
    w.text(p->color);
    w.text(p->size);
  }
  if (const subscription* s = l.subscription) {
    w.text(s->name);
    w.byte(static_cast<std::uint8_t>(s->interval));
    w.svar(s->interval_count);
  }
}

inline void decode_line(record_reader& r, order_line& l, product_identifiers& p, subscription& s) noexcept {
  l = order_line{};
  l.type = static_cast<order_line_type>(r.byte());
  l.reference = r.text();
  l.name = r.text();
  l.quantity = r.svar();
  l.quantity_unit = r.text();
  l.unit_price = r.svar();
  const std::uint8_t flags = r.byte();
  l.total_amount = r.svar();
  if (flags & 1) l.tax_rate = r.svar();
  if (flags & 2) l.total_discount_amount = r.svar();
  if (flags & 4) l.total_tax_amount = r.svar();
  l.merchant_data = r.text();
  l.product_url = r.text();
  l.image_url = r.text();
  if (flags & 8) {
    p.brand = r.text();
    p.category_path = r.text();
    p.global_trade_item_number = r.text();
    p.manufacturer_part_number = r.text();
    p.color = r.text();
    p.size = r.text();
    l.product_identifiers = &p;
  }
  if (flags & 16) {
    s.name = r.text();
    s.interval = static_cast<subscription_interval>(r.byte());
    s.interval_count = r.svar();
    l.subscription = &s;
  }
}

inline std::string_view cut(std::string_view s, std::size_t n) noexcept { return s.size() > n ? s.substr(0, n) : s; }

}  // namespace detail

/// The outbox over one block_storage. See the top of this file.
template <std::size_t MaxOps = 64, std::size_t MaxRecord = 4096, std::size_t MaxLines = 16, std::size_t MaxShipping = 4>
class basic_outbox {
  // 512: a state record (a failure with three 128-byte texts) must fit too.
  static_assert(MaxOps > 0 && MaxRecord >= 512 && MaxRecord <= 65535, "MaxRecord is 512..65535 payload bytes");

 public:
  static constexpr std::size_t max_ops = MaxOps;          ///< operations held at once
  static constexpr std::size_t max_record = MaxRecord;    ///< payload bytes of one record (512..65535)
  static constexpr std::size_t max_lines = MaxLines;      ///< order lines of one queued capture
  static constexpr std::size_t max_shipping = MaxShipping;  ///< shipping entries of one queued operation

  /// An outbox over `storage` (copied; its context must outlive the outbox), with `clock`.
  /// Reads nothing yet: call open() before anything else. Allocates nothing.
  basic_outbox(const block_storage& storage, const wall_clock& clock) noexcept : storage_(storage), clock_(clock) {}
  basic_outbox(const basic_outbox&) = delete;
  basic_outbox& operator=(const basic_outbox&) = delete;

  /// Reads the storage (after every boot): finds the newest complete area and replays its
  /// records. Blank storage is formatted. Errors: invalid_client_setup (storage without
  /// functions, fewer than 2 blocks, or areas under 64 bytes), io_failed (detail = the
  /// storage's code).
  ::kom::error open() noexcept {
    opened_ = false;
    if (storage_.read == nullptr || storage_.write == nullptr || storage_.erase == nullptr ||
        storage_.block_count < 2 || storage_.block_size == 0 || clock_.now_ms == nullptr)
      return ::kom::error(errc::invalid_client_setup);
    area_bytes_ = (storage_.block_count / 2) * storage_.block_size;
    if (area_bytes_ < 64 || area_bytes_ > 0xFFFFFFF0u) return ::kom::error(errc::invalid_client_setup);
    std::uint32_t gen[2] = {0, 0}, next[2] = {0, 0};
    bool valid[2] = {false, false};
    for (int a = 0; a < 2; ++a) {
      unsigned char h[detail::outbox_area_header];
      const int rc = io_read(a, 0, h, sizeof h);
      if (rc != 0) return ::kom::error(errc::io_failed, rc);
      if (detail::get_u32(h) == detail::outbox_magic && detail::get_u32(h + 12) == crc32_update(0, h, 12)) {
        valid[a] = true;
        gen[a] = detail::get_u32(h + 4);
        next[a] = detail::get_u32(h + 8);
      }
    }
    if (!valid[0] && !valid[1]) {
      const ::kom::error e = format_area(0, 1, 1);
      if (!e.ok()) return e;
      valid[0] = true;
      gen[0] = 1;
      next[0] = 1;
    }
    active_ = valid[0] && valid[1] ? (gen[1] > gen[0] ? 1 : 0) : (valid[0] ? 0 : 1);
    generation_ = gen[active_];
    const ::kom::error e = load(next[active_]);
    if (!e.ok()) return e;
    opened_ = true;
    return {};
  }

  // ---- queueing ------------------------------------------------------------------------------
  // Each returns the operation's sequence number once its record is committed, or the error:
  // the request's validation error; too_many_items (detail MaxLines, MaxShipping or MaxOps,
  // path says which); too_long (the idempotency key, detail 64; or the record, path
  // "record", detail MaxRecord); required (an empty key, or capture_of naming no capture
  // in the outbox); invalid_path_id (order_id, capture_id); invalid_client_setup (not
  // opened); buffer_too_small (the storage cannot hold it even after compaction:
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
    if (request.reference.empty()) return limit(errc::required, "reference", 0);
    const std::uint32_t hash = reference_hash(order_id, request.reference);
    for (std::size_t i = 0; i < count_; ++i) {
      const entry& other = entries_[i];
      if (other.op == outbox_op::capture && other.reference_hash == hash &&
          (other.state == outbox_state::pending || other.state == outbox_state::done))
        return limit(errc::duplicate_reference, "reference", other.seq);
    }
    if (request.order_lines.size() > MaxLines) return limit(errc::too_many_items, "order_lines", MaxLines);
    if (request.shipping_info.size() > MaxShipping) return limit(errc::too_many_items, "shipping_info", MaxShipping);
    return append_op(detail::rk_capture, order_id, capture_ref{}, idempotency_key, &request, nullptr);
  }

  /// Queues a shipping-info update of `capture` (at most MaxShipping entries). Returns its
  /// sequence number once committed, or one of the errors above; required (path capture_of)
  /// when `capture` names no queued capture.
  result<std::uint32_t> append_shipping_info(std::string_view order_id, capture_ref capture,
                                             const shipping_info_update& update,
                                             std::string_view idempotency_key) noexcept {
    if (::kom::error e = validate(update); !e.ok()) return e;
    if (update.shipping_info.size() > MaxShipping) return limit(errc::too_many_items, "shipping_info", MaxShipping);
    return append_op(detail::rk_shipping_info, order_id, capture, idempotency_key, nullptr, &update);
  }

  /// Queues a trigger-send-out of `capture`. Returns its sequence number once committed, or
  /// one of the errors above; required (path capture_of) when `capture` names no queued capture.
  result<std::uint32_t> append_send_out(std::string_view order_id, capture_ref capture,
                                        std::string_view idempotency_key) noexcept {
    return append_op(detail::rk_send_out, order_id, capture, idempotency_key, nullptr, nullptr);
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
  std::size_t corrupt_records() const noexcept { return corrupt_; }
  /// True when the log ends in a torn record (a power cut mid-write): the next append compacts.
  bool torn_tail() const noexcept { return torn_; }
  /// The active area's generation: one more at each compaction.
  std::uint32_t generation() const noexcept { return generation_; }
  /// Bytes of the active area in use, its header included.
  std::size_t bytes_used() const noexcept { return tail_; }
  /// Bytes of one area: (block_count / 2) * block_size.
  std::size_t area_bytes() const noexcept { return area_bytes_; }

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
  /// call). Errors: required (no such operation), io_failed, json_syntax (its record no
  /// longer reads back intact: the storage changed since open).
  ::kom::error read(std::uint32_t seq, outbox_item& item) noexcept {
    entry* e = find(seq);
    if (e == nullptr) return ::kom::error(errc::required);
    return read_entry(*e, item);
  }

  /// The back office has dealt with an operation (usually a failed one): it is never sent and
  /// is dropped at the next compaction. Errors: required (no such operation), those of append.
  ::kom::error forget(std::uint32_t seq) noexcept {
    entry* e = find(seq);
    if (e == nullptr) return ::kom::error(errc::required);
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
  /// ones are dropped. Errors: invalid_client_setup (not opened), buffer_too_small (the live
  /// records do not fit one area; detail = bytes needed), io_failed (detail = the storage's code).
  ::kom::error compact() noexcept {
    if (!opened_) return ::kom::error(errc::invalid_client_setup);
    return compact_into(0);
  }

  // ---- draining ------------------------------------------------------------------------------

  /// Sends the pending operations, oldest first, with the client's retry rules. Each is
  /// marked done only after Klarna's definite answer; a final refusal (a 4xx, a request
  /// Klarna will never take) is marked failed with its error for the back office and not
  /// sent again; retry_later (the link is down) stops the drain and leaves the rest
  /// pending, in order. `items` and `storage` receive the captures listing of the 24-hour rule.
  outbox_drain drain(client& klarna, ::kom::capture* items, std::size_t capacity, capture_storage_ref storage) noexcept {
    outbox_drain d;
    if (!opened_) {
      d.stopped = true;
      d.error = ::kom::error(errc::invalid_client_setup);
      return d;
    }
    std::uint32_t last = 0;
    for (;;) {
      entry* e = next_pending(last);
      if (e == nullptr) break;
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
  outbox_drain drain(client& klarna, ::kom::capture (&items)[N], capture_storage_ref storage) noexcept {
    return drain(klarna, items, N, storage);
  }

 private:
  struct entry {
    std::uint32_t seq = 0;
    std::uint32_t op_off = 0;        // the operation record
    std::uint32_t timing_off = 0;    // the latest attempted or rekeyed record, 0 when none
    std::uint32_t final_off = 0;     // the done or failed record, 0 when none
    std::uint32_t capture_of = 0;
    std::uint32_t reference_hash = 0;  // captures: reference_hash(order id, reference)
    std::uint64_t first_attempt_ms = 0;
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

  static ::kom::error limit(errc code, const char* name, std::size_t n) noexcept {
    field_path path;
    path.append(name);
    return ::kom::error(code, path, static_cast<std::int64_t>(n));
  }

  // ---- storage access over an area's linear bytes ----

  int io_read(int area, std::size_t off, void* data, std::size_t size) noexcept {
    unsigned char* p = static_cast<unsigned char*>(data);
    const std::size_t base = static_cast<std::size_t>(area) * (storage_.block_count / 2);
    while (size > 0) {
      const std::size_t block = off / storage_.block_size, in = off % storage_.block_size;
      const std::size_t n = size < storage_.block_size - in ? size : storage_.block_size - in;
      if (const int rc = storage_.read(storage_.context, base + block, in, p, n); rc != 0) return rc < 0 ? rc : -rc;
      p += n;
      off += n;
      size -= n;
    }
    return 0;
  }

  int io_write(int area, std::size_t off, const void* data, std::size_t size) noexcept {
    const unsigned char* p = static_cast<const unsigned char*>(data);
    const std::size_t base = static_cast<std::size_t>(area) * (storage_.block_count / 2);
    while (size > 0) {
      const std::size_t block = off / storage_.block_size, in = off % storage_.block_size;
      const std::size_t n = size < storage_.block_size - in ? size : storage_.block_size - in;
      if (const int rc = storage_.write(storage_.context, base + block, in, p, n); rc != 0) return rc < 0 ? rc : -rc;
      p += n;
      off += n;
      size -= n;
    }
    return 0;
  }

  int io_sync() noexcept { return storage_.sync ? storage_.sync(storage_.context) : 0; }

  ::kom::error format_area(int area, std::uint32_t generation, std::uint32_t next_seq) noexcept {
    const std::size_t base = static_cast<std::size_t>(area) * (storage_.block_count / 2);
    for (std::size_t b = 0; b < storage_.block_count / 2; ++b)
      if (const int rc = storage_.erase(storage_.context, base + b); rc != 0) return ::kom::error(errc::io_failed, rc);
    return write_header(area, generation, next_seq);
  }

  ::kom::error write_header(int area, std::uint32_t generation, std::uint32_t next_seq) noexcept {
    unsigned char h[detail::outbox_area_header];
    detail::put_u32(h, detail::outbox_magic);
    detail::put_u32(h + 4, generation);
    detail::put_u32(h + 8, next_seq);
    detail::put_u32(h + 12, crc32_update(0, h, 12));
    if (const int rc = io_sync(); rc != 0) return ::kom::error(errc::io_failed, rc);  // the records first
    if (const int rc = io_write(area, 0, h, sizeof h); rc != 0) return ::kom::error(errc::io_failed, rc);
    if (const int rc = io_sync(); rc != 0) return ::kom::error(errc::io_failed, rc);
    return {};
  }

  // Reads the record at `off` of the active area into buf_: 1 committed and intact, 0 the
  // end (erased), -1 torn (ends the log), -2 committed but its CRC fails (skip it).
  int read_record(int area, std::size_t off, std::uint32_t& seq, std::size_t& payload, std::size_t& total,
                  int& io) noexcept {
    io = 0;
    unsigned char h[detail::outbox_record_head];
    if (off + sizeof h > area_bytes_) return 0;
    if ((io = io_read(area, off, h, sizeof h)) != 0) return -1;
    bool erased = true;
    for (unsigned char c : h) erased = erased && c == 0xFF;
    if (erased) return 0;
    if (h[0] != 0xA5 || h[1] != 0x5A) return -1;
    payload = static_cast<std::size_t>(h[2]) | static_cast<std::size_t>(h[3]) << 8;
    total = sizeof h + payload + detail::outbox_commit;
    if (payload == 0 || payload > MaxRecord || off + total > area_bytes_) return -1;
    seq = detail::get_u32(h + 4);
    unsigned char marker[detail::outbox_commit];
    if ((io = io_read(area, off + sizeof h + payload, marker, sizeof marker)) != 0) return -1;
    if (std::memcmp(marker, detail::outbox_commit_marker, sizeof marker) != 0) return -1;
    if ((io = io_read(area, off + sizeof h, buf_, payload)) != 0) return -1;
    std::uint32_t crc = crc32_update(0, h + 2, 6);
    crc = crc32_update(crc, buf_, payload);
    return crc == detail::get_u32(h + 8) ? 1 : -2;
  }

  // Replays the active area into the index.
  ::kom::error load(std::uint32_t header_next) noexcept {
    count_ = 0;
    corrupt_ = 0;
    torn_ = false;
    next_seq_ = header_next == 0 ? 1 : header_next;
    std::size_t off = detail::outbox_area_header;
    for (;;) {
      std::uint32_t seq = 0;
      std::size_t payload = 0, total = 0;
      int io = 0;
      const int r = read_record(active_, off, seq, payload, total, io);
      if (io != 0) return ::kom::error(errc::io_failed, io);
      if (r == 0) break;
      if (r == -1) {
        torn_ = true;
        break;
      }
      if (r == -2) {
        ++corrupt_;  // its sequence number is not to be trusted either
      } else {
        apply(static_cast<std::uint32_t>(off), seq, payload);
        if (seq >= next_seq_) next_seq_ = seq + 1;
      }
      off += total;
    }
    tail_ = off;
    return {};
  }

  // Applies one intact record (its payload in buf_) to the index.
  void apply(std::uint32_t off, std::uint32_t seq, std::size_t payload) noexcept {
    detail::record_reader r(buf_, payload);
    const std::uint8_t kind = r.byte();
    if (kind >= detail::rk_capture && kind <= detail::rk_send_out) {
      if (count_ >= MaxOps) return;  // cannot happen: appends keep within MaxOps
      entry& e = entries_[count_];
      e = entry{};
      e.seq = seq;
      e.op_off = off;
      e.op = static_cast<outbox_op>(kind);
      const std::string_view order_id = r.text();
      const std::string_view key = r.text();
      e.capture_of = static_cast<std::uint32_t>(r.uvar());
      if (kind == detail::rk_capture) {
        (void)r.text();   // capture id
        (void)r.svar();   // captured_amount
        (void)r.text();   // description
        e.reference_hash = reference_hash(order_id, r.text());
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

  result<std::uint32_t> append_op(std::uint8_t kind, std::string_view order_id, capture_ref capture,
                                  std::string_view key, const capture_request* c, const shipping_info_update* u) noexcept {
    if (!opened_) return ::kom::error(errc::invalid_client_setup);
    if (key.empty()) return limit(errc::required, "idempotency_key", 0);
    if (key.size() > detail::outbox_max_key) return limit(errc::too_long, "idempotency_key", detail::outbox_max_key);
    if (::kom::error e = detail::check_path_id("order_id", order_id); !e.ok()) return e;
    std::uint32_t capture_of = 0;
    std::string_view capture_id = capture.capture_id;
    if (kind != detail::rk_capture) {
      if (capture.record != 0) {
        entry* target = find(capture.record);
        if (target == nullptr || target->op != outbox_op::capture) return limit(errc::required, "capture_of", 0);
        if (target->state == outbox_state::done) {
          capture_id = done_capture_id(*target);  // known already: store the id itself
          if (capture_id.empty()) return limit(errc::required, "capture_of", 0);
        } else {
          capture_of = capture.record;
        }
      } else if (::kom::error e = detail::check_path_id("capture_id", capture_id); !e.ok()) {
        return e;
      }
    }
    if (count_ >= MaxOps) {
      const ::kom::error e = compact_into(0);
      if (!e.ok()) return e;
      if (count_ >= MaxOps) return limit(errc::too_many_items, "outbox", MaxOps);
    }
    const result<std::size_t> size = encode_op(kind, order_id, key, capture_of, capture_id, c, u);
    if (!size) return size.error();
    const std::size_t total = detail::outbox_record_head + *size + detail::outbox_commit;
    if (torn_ || tail_ + total > area_bytes_) {
      // Compaction uses buf_ as its copy buffer: encode again afterwards.
      if (::kom::error e = compact_into(total); !e.ok()) return e;
      (void)encode_op(kind, order_id, key, capture_of, capture_id, c, u);
    }
    return append_record(buf_, *size);
  }

  result<std::size_t> encode_op(std::uint8_t kind, std::string_view order_id, std::string_view key,
                                std::uint32_t capture_of, std::string_view capture_id, const capture_request* c,
                                const shipping_info_update* u) noexcept {
    detail::record_writer w(buf_, MaxRecord);
    w.byte(kind);
    w.text(order_id);
    w.text(key);
    w.uvar(capture_of);
    w.text(capture_of != 0 ? std::string_view() : capture_id);
    if (c != nullptr) {
      w.svar(c->captured_amount);
      w.text(c->description);
      w.text(c->reference);
      w.byte(c->shipping_delay ? 1 : 0);
      if (c->shipping_delay) w.svar(*c->shipping_delay);
      w.uvar(c->order_lines.size());
      for (const order_line& l : c->order_lines) detail::encode_line(w, l);
      w.uvar(c->shipping_info.size());
      for (const shipping_info& s : c->shipping_info) detail::encode_shipping(w, s);
    } else if (u != nullptr) {
      w.uvar(u->shipping_info.size());
      for (const shipping_info& s : u->shipping_info) detail::encode_shipping(w, s);
    }
    if (w.overflow()) return limit(errc::too_long, "record", MaxRecord);
    return w.size();
  }

  // Appends one record (payload in `payload`, which may be buf_) and applies it to the
  // index; compacts first when the area is full or its tail is torn. Returns its sequence number.
  result<std::uint32_t> append_record(const unsigned char* payload, std::size_t size) noexcept {
    const std::size_t total = detail::outbox_record_head + size + detail::outbox_commit;
    if (torn_ || tail_ + total > area_bytes_) {
      // Only state records (never in buf_, which compaction uses) get here needing room.
      if (payload == buf_) return ::kom::error(errc::buffer_too_small, static_cast<std::int64_t>(total));
      const ::kom::error e = compact_into(total);
      if (!e.ok()) return e;
    }
    const std::uint32_t seq = next_seq_;
    unsigned char h[detail::outbox_record_head];
    h[0] = 0xA5;
    h[1] = 0x5A;
    h[2] = static_cast<unsigned char>(size & 0xFF);
    h[3] = static_cast<unsigned char>(size >> 8);
    detail::put_u32(h + 4, seq);
    std::uint32_t crc = crc32_update(0, h + 2, 6);
    crc = crc32_update(crc, payload, size);
    detail::put_u32(h + 8, crc);
    const std::size_t off = tail_;
    // Any failure from here on may have left bytes: the tail counts as torn.
    torn_ = true;
    if (const int rc = io_write(active_, off, h, sizeof h); rc != 0) return ::kom::error(errc::io_failed, rc);
    if (const int rc = io_write(active_, off + sizeof h, payload, size); rc != 0) return ::kom::error(errc::io_failed, rc);
    if (const int rc = io_sync(); rc != 0) return ::kom::error(errc::io_failed, rc);
    if (const int rc = io_write(active_, off + sizeof h + size, detail::outbox_commit_marker, detail::outbox_commit); rc != 0)
      return ::kom::error(errc::io_failed, rc);
    if (const int rc = io_sync(); rc != 0) return ::kom::error(errc::io_failed, rc);
    torn_ = false;
    tail_ = off + total;
    next_seq_ = seq + 1;
    if (payload != buf_) std::memcpy(buf_, payload, size);
    apply(static_cast<std::uint32_t>(off), seq, size);
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

  std::size_t record_size(std::uint32_t off) noexcept {
    unsigned char h[4];
    if (io_read(active_, off, h, sizeof h) != 0) return 0;
    return detail::outbox_record_head + (static_cast<std::size_t>(h[2]) | static_cast<std::size_t>(h[3]) << 8) +
           detail::outbox_commit;
  }

  // Copies the live records into the other area, then makes it active (its header last) and
  // reloads. `extra`: bytes that must fit afterwards.
  ::kom::error compact_into(std::size_t extra) noexcept {
    std::size_t need = detail::outbox_area_header + extra;
    for (std::size_t i = 0; i < count_; ++i) {
      const entry& e = entries_[i];
      if (!kept(e)) continue;
      need += record_size(e.op_off);
      if (e.timing_off && e.state == outbox_state::pending) need += record_size(e.timing_off);
      if (e.final_off) need += record_size(e.final_off);
    }
    if (need > area_bytes_) return ::kom::error(errc::buffer_too_small, static_cast<std::int64_t>(need));
    const int to = 1 - active_;
    const std::size_t base = static_cast<std::size_t>(to) * (storage_.block_count / 2);
    for (std::size_t b = 0; b < storage_.block_count / 2; ++b)
      if (const int rc = storage_.erase(storage_.context, base + b); rc != 0) return ::kom::error(errc::io_failed, rc);
    std::size_t out = detail::outbox_area_header;
    for (std::size_t i = 0; i < count_; ++i) {
      const entry& e = entries_[i];
      if (!kept(e)) continue;
      const std::uint32_t offs[3] = {e.op_off, e.state == outbox_state::pending ? e.timing_off : 0, e.final_off};
      for (std::uint32_t off : offs) {
        if (off == 0) continue;
        const std::size_t n = record_size(off);
        if (n == 0 || n > sizeof buf_ + detail::outbox_record_head + detail::outbox_commit)
          return ::kom::error(errc::io_failed);
        // Copy in two pieces through buf_ (head + payload, then the marker).
        std::size_t done = 0;
        while (done < n) {
          const std::size_t piece = n - done < sizeof buf_ ? n - done : sizeof buf_;
          if (const int rc = io_read(active_, off + done, buf_, piece); rc != 0) return ::kom::error(errc::io_failed, rc);
          if (const int rc = io_write(to, out + done, buf_, piece); rc != 0) return ::kom::error(errc::io_failed, rc);
          done += piece;
        }
        out += n;
      }
    }
    if (::kom::error e = write_header(to, generation_ + 1, next_seq_); !e.ok()) return e;
    active_ = to;
    generation_ += 1;
    return load(next_seq_);
  }

  // ---- reading an operation back ----

  ::kom::error read_entry(entry& e, outbox_item& item) noexcept {
    item = outbox_item{};
    std::uint32_t seq = 0;
    std::size_t payload = 0, total = 0;
    int io = 0;
    if (read_record(active_, e.op_off, seq, payload, total, io) != 1)
      return io != 0 ? ::kom::error(errc::io_failed, io) : ::kom::error(errc::json_syntax);
    detail::record_reader r(buf_, payload);
    item.seq = e.seq;
    item.op = static_cast<outbox_op>(r.byte());
    item.state = e.state;
    item.order_id = r.text();
    (void)r.text();
    item.idempotency_key = e.key_view();
    item.capture_of = static_cast<std::uint32_t>(r.uvar());
    item.capture_id = r.text();
    item.first_attempt_ms = e.first_attempt_ms;
    if (item.op == outbox_op::capture) {
      item.capture.captured_amount = r.svar();
      item.capture.description = r.text();
      item.capture.reference = r.text();
      if (r.byte() & 1) item.capture.shipping_delay = r.svar();
      const std::uint64_t lines = r.uvar();
      if (lines > MaxLines) return ::kom::error(errc::json_syntax);
      for (std::size_t i = 0; i < lines; ++i) detail::decode_line(r, lines_[i], identifiers_[i], subscriptions_[i]);
      item.capture.order_lines = {lines_, static_cast<std::size_t>(lines)};
      const std::uint64_t ships = r.uvar();
      if (ships > MaxShipping) return ::kom::error(errc::json_syntax);
      for (std::size_t i = 0; i < ships; ++i) detail::decode_shipping(r, shipping_[i]);
      item.capture.shipping_info = {shipping_, static_cast<std::size_t>(ships)};
    } else if (item.op == outbox_op::shipping_info) {
      const std::uint64_t ships = r.uvar();
      if (ships > MaxShipping) return ::kom::error(errc::json_syntax);
      for (std::size_t i = 0; i < ships; ++i) detail::decode_shipping(r, shipping_[i]);
      item.shipping.shipping_info = {shipping_, static_cast<std::size_t>(ships)};
    }
    if (r.bad()) return ::kom::error(errc::json_syntax);
    if (e.final_off != 0) {  // the done or failed record, into aux_
      if (read_record(active_, e.final_off, seq, payload, total, io) != 1 || payload > sizeof aux_)
        return io != 0 ? ::kom::error(errc::io_failed, io) : ::kom::error(errc::json_syntax);
      std::memcpy(aux_, buf_, payload);  // buf_ now holds the state record: move it aside
      // The operation's views point into buf_: reread it (its bytes are unchanged).
      detail::record_reader s(aux_, payload);
      const std::uint8_t kind = s.byte();
      (void)s.uvar();
      if (kind == detail::rk_done) {
        const std::string_view id = s.text();
        if (item.op == outbox_op::capture) item.capture_id = id;
      } else if (kind == detail::rk_failed) {
        item.failure.code = static_cast<errc>(s.svar());
        item.failure.status = static_cast<int>(s.svar());
        item.failure.error_code = s.text();
        item.failure.message = s.text();
        item.failure.correlation_id = s.text();
      }
      if (read_record(active_, e.op_off, seq, payload, total, io) != 1)
        return io != 0 ? ::kom::error(errc::io_failed, io) : ::kom::error(errc::json_syntax);
    }
    return {};
  }

  // The capture id a done capture got (into aux_), or empty.
  std::string_view done_capture_id(const entry& e) noexcept {
    if (e.final_off == 0 || e.state != outbox_state::done) return {};
    std::uint32_t seq = 0;
    std::size_t payload = 0, total = 0;
    int io = 0;
    if (read_record(active_, e.final_off, seq, payload, total, io) != 1 || payload > sizeof id_) return {};
    std::memcpy(id_, buf_, payload);
    detail::record_reader s(id_, payload);
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

  // What looking for a queued capture among the order's captures found.
  enum class search : std::uint8_t {
    found,    // its id is in the caller's buffer
    absent,   // every capture was read; none has its reference and amount
    stopped   // the listing failed or was cut: `listing` says how
  };

  // Lists the order's captures and looks for the one `item` queued: the same reference
  // (unique among the outbox's captures of an order) and captured_amount.
  search find_listed(client& klarna, const outbox_item& item, ::kom::capture* items, std::size_t capacity,
                     capture_storage_ref storage, char (&capture_id)[256], std::size_t& id_size,
                     reply<capture_list>& listing) noexcept {
    read_options lenient;  // a listing too big for `items` still shows the captures read
    lenient.allow_truncation = true;
    listing = klarna.list_captures(item.order_id, items, capacity, storage, lenient);
    if (!listing.ok()) return search::stopped;
    for (const ::kom::capture& c : listing.value.captures) {
      if (c.reference == item.capture.reference && c.captured_amount == item.capture.captured_amount) {
        id_size = c.capture_id.size() < 256 ? c.capture_id.size() : 255;
        if (id_size != 0) std::memcpy(capture_id, c.capture_id.data(), id_size);
        return search::found;
      }
    }
    if (listing.value.truncated) {
      // Not every capture could be read: do not risk a second capture.
      listing.error = ::kom::error(errc::json_too_many_items, static_cast<std::int64_t>(capacity));
      return search::stopped;
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

  step drain_one(client& klarna, entry& e_in, ::kom::capture* items, std::size_t capacity,
                 capture_storage_ref storage) noexcept {
    const std::uint32_t seq = e_in.seq;
    const std::uint32_t capture_of = e_in.capture_of;
    // The capture this operation is for, when it was queued by record.
    char capture_id[256];
    std::size_t capture_id_size = 0;
    if (capture_of != 0) {
      entry* target = find(capture_of);
      if (target == nullptr || target->state == outbox_state::forgotten || target->state == outbox_state::failed) {
        // Its capture failed for good: this one cannot be sent either.
        error_body none;
        none.error_code_text = "CAPTURE_FAILED";
        none.error_messages = {};
        if (::kom::error e = mark_failed(seq, limit(errc::required, "capture_of", capture_of), 0, none, {}); !e.ok())
          return stop_drain(e);
        step s;
        s.marked = true;
        s.state = outbox_state::failed;
        return s;
      }
      if (target->state == outbox_state::pending) return {};  // not yet: later (not reached in order)
      const std::string_view id = done_capture_id(*target);
      if (!id.empty()) std::memcpy(capture_id, id.data(), id.size());
      capture_id_size = id.size();
    }
    // Timing: the first attempt is stored before it is made; after 24 h, not blindly resent.
    const std::uint64_t now = clock_.now_ms(clock_.context);
    entry* e = find(seq);
    if (e == nullptr) return {};
    if (e->first_attempt_ms == 0) {
      if (::kom::error err = mark_timing(seq, now == 0 ? 1 : now, {}); !err.ok()) return stop_drain(err);
    } else if (now >= e->first_attempt_ms && now - e->first_attempt_ms >= detail::outbox_key_lifetime_ms) {
      if (e->op == outbox_op::capture) {
        outbox_item item;
        if (::kom::error err = read(seq, item); !err.ok()) return stop_drain(err);
        reply<capture_list> list;
        switch (find_listed(klarna, item, items, capacity, storage, capture_id, capture_id_size, list)) {
          case search::found: return mark_found(seq, std::string_view(capture_id, capture_id_size));
          case search::absent: break;  // resent below with a new key
          case search::stopped:
            // An order Klarna does not know (a refused listing) can have no capture either.
            if (list.error.code() == errc::http_error && list.next_step() == outcome::refused) return settle(seq, list, {});
            return stop_drain(list.error);
        }
      }
      const result<uuid_text> fresh = klarna.new_idempotency_key();
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
    switch (item.op) {
      case outbox_op::capture: {
        reply<capture_created> r = klarna.capture(item.order_id, item.capture, post);
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
      case outbox_op::shipping_info: {
        reply<no_content> r = klarna.append_shipping_info(item.order_id, item.capture_id, item.shipping, post);
        return settle(seq, r, {});
      }
      case outbox_op::send_out: {
        reply<no_content> r = klarna.trigger_send_out(item.order_id, item.capture_id, post);
        return settle(seq, r, {});
      }
    }
    return {};
  }

  block_storage storage_;
  wall_clock clock_;
  int active_ = 0;
  bool opened_ = false;
  bool torn_ = false;
  std::uint32_t generation_ = 0;
  std::uint32_t next_seq_ = 1;
  std::size_t area_bytes_ = 0;
  std::size_t tail_ = 0;
  std::size_t corrupt_ = 0;
  std::size_t count_ = 0;
  entry entries_[MaxOps];
  unsigned char buf_[MaxRecord];
  unsigned char aux_[512];
  unsigned char id_[300];
  order_line lines_[MaxLines ? MaxLines : 1];
  product_identifiers identifiers_[MaxLines ? MaxLines : 1];
  subscription subscriptions_[MaxLines ? MaxLines : 1];
  shipping_info shipping_[MaxShipping ? MaxShipping : 1];
};

/// The outbox with the default limits: 64 operations, 4 KiB per operation, 16 lines, 4 shipping entries.
using outbox = basic_outbox<>;

}  // namespace kom

#endif  // KOM_OUTBOX_HPP
