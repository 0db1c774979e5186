// kom/record_log.hpp: an append-only log of records in flash (or a file) that survives a
// power cut at any byte. The outbox keeps its operations in one; it knows nothing of them.
//
// The caller's kom::block_storage is split into two equal areas of whole blocks. One area is
// active: an area header, then records appended one after the other, never rewritten.
// Compaction copies the records the owner still needs into the other area and writes that
// area's header last (with a higher generation), so a power cut at any point leaves one
// complete area in charge.
//
// Area header, formats 2 and 3 (20 bytes, little-endian):
//   u32 magic "KOMR" | u32 format version | u32 generation | u32 next sequence number
//   | u32 CRC-32 of the first 16 bytes
// Format 1 (kom 0.1.0; 16 bytes): u32 magic "KOMO" | generation | next | CRC-32 of the first
// 12. open() reports an area's format; its owner reads format-1 payloads and rewrites them
// (compaction with rewrite_streamed) before writing anything else. A newer format than this
// code knows is refused (unsupported_format) and nothing is written.
// Record (12 + n + 4 bytes):
//   u8 0xA5, u8 0x5A | u16 n | u32 sequence number | u32 CRC-32 of (n, sequence, payload)
//   | payload (n bytes) | commit marker "CMIT"
// The commit marker is written by a second write after the rest, so a record is committed
// only when all of it reached the storage. A record with a bad CRC behind a good marker (a
// flipped bit) is counted as corrupt and skipped. A torn record (no marker, or a header that
// is not erased) ends the log: nothing is ever written after it; the owner compacts first.
//
// No heap, no exceptions. Not thread-safe.
#ifndef KOM_RECORD_LOG_HPP
#define KOM_RECORD_LOG_HPP

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kom/error.hpp"
#include "kom/record_codec.hpp"

namespace kom {

/// Fixed-size blocks a record_log keeps its records in. Each function returns 0 on success and
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

namespace detail {

inline constexpr std::uint32_t log_magic_v1 = 0x4F4D4F4Bu;  // "KOMO": format 1, no version field
inline constexpr std::uint32_t log_magic = 0x524D4F4Bu;     // "KOMR": formats 2 on, with a version field
// What this code writes. 3: the outbox's records may be refunds, cancels, releases,
// extensions and updates (kinds 4-9), which a kom that writes format 2 would take for state
// changes and drop; their objects are encoded as in format 2, so the owner carries a format-2
// area over by rewriting its records unchanged.
inline constexpr std::uint32_t log_format = 3;
inline constexpr std::size_t log_area_header_v1 = 16;
inline constexpr std::size_t log_area_header = 20;
inline constexpr std::size_t log_record_head = 12;
inline constexpr std::size_t log_commit = 4;
inline constexpr unsigned char log_commit_marker[4] = {'C', 'M', 'I', 'T'};

inline void put_u32(unsigned char* p, std::uint32_t v) noexcept {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<unsigned char>(v >> (8 * i));
}
inline std::uint32_t get_u32(const unsigned char* p) noexcept {
  return static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
         static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24;
}

}  // namespace detail

/// The log over one block_storage, with payloads of up to MaxRecord bytes (at most 65535).
template <std::size_t MaxRecord>
class record_log {
  static_assert(MaxRecord > 0 && MaxRecord <= 65535, "a record's payload size is a u16");

 public:
  /// What reading the record at an offset found.
  enum class read_result : std::uint8_t {
    intact,   ///< committed and its CRC holds: the payload is in buffer()
    end,      ///< erased bytes: the end of the log
    torn,     ///< not committed, or not a record: ends the log
    corrupt,  ///< committed but its CRC fails: skip it
  };

  /// A log over `storage` (copied; its context must outlive the log). Reads nothing yet.
  explicit record_log(const block_storage& storage) noexcept : storage_(storage) {}
  record_log(const record_log&) = delete;
  record_log& operator=(const record_log&) = delete;

  /// Finds the newest complete area (formatting blank storage) and makes it active; records
  /// are then read with replay(). Errors: invalid_storage (storage without functions, fewer
  /// than 2 blocks, areas under 64 bytes), unsupported_format (detail = the format; nothing
  /// written), io_failed (detail = the storage's code).
  ::kom::error open() noexcept {
    if (storage_.read == nullptr || storage_.write == nullptr || storage_.erase == nullptr ||
        storage_.block_count < 2 || storage_.block_size == 0)
      return ::kom::error(errc::invalid_storage);
    area_bytes_ = (storage_.block_count / 2) * storage_.block_size;
    if (area_bytes_ < 64 || area_bytes_ > 0xFFFFFFF0u) return ::kom::error(errc::invalid_storage);
    area_header h[2];
    for (int a = 0; a < 2; ++a) {
      if (const int rc = read_header(a, h[a]); rc != 0) return ::kom::error(errc::io_failed, rc);
    }
    if (!h[0].valid && !h[1].valid) {
      if (::kom::error e = format_area(0, 1, 1); !e.ok()) return e;
      h[0] = area_header{true, detail::log_format, 1, 1};
    }
    const int active = h[0].valid && h[1].valid ? (h[1].generation > h[0].generation ? 1 : 0) : (h[0].valid ? 0 : 1);
    if (h[active].format > detail::log_format)
      return ::kom::error(errc::unsupported_format, static_cast<std::int64_t>(h[active].format));
    active_ = active;
    format_ = h[active].format;
    generation_ = h[active].generation;
    next_seq_ = h[active].next_seq == 0 ? 1 : h[active].next_seq;
    tail_ = records_start();
    torn_ = false;
    corrupt_ = 0;
    return {};
  }

  /// Reads the active area from the start and calls on_record(offset, sequence, payload
  /// size) for each intact record, its payload in buffer(). Corrupt records are counted and
  /// skipped; a torn one ends the log. Errors: io_failed.
  template <class F>
  ::kom::error replay(F&& on_record) noexcept {
    corrupt_ = 0;
    torn_ = false;
    std::size_t off = records_start();
    for (;;) {
      std::uint32_t seq = 0;
      std::size_t payload = 0, total = 0;
      int io = 0;
      const read_result r = read(off, seq, payload, total, io);
      if (io != 0) return ::kom::error(errc::io_failed, io);
      if (r == read_result::end) break;
      if (r == read_result::torn) {
        torn_ = true;
        break;
      }
      if (r == read_result::corrupt) {
        ++corrupt_;  // its sequence number is not to be trusted either
      } else {
        on_record(static_cast<std::uint32_t>(off), seq, payload);
        if (seq >= next_seq_) next_seq_ = seq + 1;
      }
      off += total;
    }
    tail_ = off;
    return {};
  }

  /// Reads the record at `off` of the active area; its payload goes to buffer().
  read_result read(std::size_t off, std::uint32_t& seq, std::size_t& payload, std::size_t& total, int& io) noexcept {
    return read_at(active_, off, seq, payload, total, io);
  }

  /// True when a record of `size` payload bytes can be appended now; otherwise the owner
  /// compacts first (the area is full, or its tail is torn).
  bool fits(std::size_t size) const noexcept { return !torn_ && tail_ + total_size(size) <= area_bytes_; }

  /// Appends one record (its payload at `payload`, which may be buffer()) as the next
  /// sequence number, committed when this returns; the payload is then in buffer().
  /// Returns its offset and sequence number. Errors: buffer_too_small (it does not fit:
  /// compact first; detail = the record's bytes), io_failed (the tail is then torn).
  result<std::uint32_t> append(const unsigned char* payload, std::size_t size, std::uint32_t& seq) noexcept {
    const std::size_t total = total_size(size);
    if (!fits(size) || size == 0 || size > MaxRecord) return ::kom::error(errc::buffer_too_small, static_cast<std::int64_t>(total));
    seq = next_seq_;
    unsigned char h[detail::log_record_head];
    record_head(h, seq, size);
    std::uint32_t crc = crc32_update(0, h + 2, 6);
    crc = crc32_update(crc, payload, size);
    detail::put_u32(h + 8, crc);
    const std::size_t off = tail_;
    // Any failure from here on may have left bytes: the tail counts as torn.
    torn_ = true;
    if (const int rc = io_write(active_, off, h, sizeof h); rc != 0) return ::kom::error(errc::io_failed, rc);
    if (const int rc = io_write(active_, off + sizeof h, payload, size); rc != 0) return ::kom::error(errc::io_failed, rc);
    if (const int rc = io_sync(); rc != 0) return ::kom::error(errc::io_failed, rc);
    if (const int rc = io_write(active_, off + sizeof h + size, detail::log_commit_marker, detail::log_commit); rc != 0)
      return ::kom::error(errc::io_failed, rc);
    if (const int rc = io_sync(); rc != 0) return ::kom::error(errc::io_failed, rc);
    torn_ = false;
    tail_ = off + total;
    next_seq_ = seq + 1;
    if (payload != buf_) std::memcpy(buf_, payload, size);
    return static_cast<std::uint32_t>(off);
  }

  // ---- compaction: begin, copy or rewrite each record kept, finish -----------------------

  /// Erases the other area, ready to receive records. Nothing changes in the active one.
  ::kom::error begin_compaction() noexcept {
    if (::kom::error e = erase_area(1 - active_); !e.ok()) return e;
    out_ = detail::log_area_header;
    return {};
  }

  /// Copies the record at `off` of the active area, as it is, after the ones copied so far.
  /// Uses buffer() as its copy buffer.
  ::kom::error copy_record(std::size_t off) noexcept {
    const std::size_t n = record_size(off);
    if (n == 0 || n > total_size(MaxRecord)) return ::kom::error(errc::record_corrupt);
    std::size_t done = 0;
    while (done < n) {
      const std::size_t piece = n - done < sizeof buf_ ? n - done : sizeof buf_;
      if (const int rc = io_read(active_, off + done, buf_, piece); rc != 0) return ::kom::error(errc::io_failed, rc);
      if (const int rc = io_write(1 - active_, out_ + done, buf_, piece); rc != 0) return ::kom::error(errc::io_failed, rc);
      done += piece;
    }
    out_ += n;
    return {};
  }

  /// Writes a record anew (sequence `seq`, `size` payload bytes) after the ones copied so
  /// far: write(w) writes its payload into the record_writer `w`, which streams it to the
  /// storage through a small buffer, so the payload need not be in memory whole (an owner
  /// migrating a record reads it from buffer()). write must produce exactly `size` bytes.
  template <class Write>
  ::kom::error rewrite_streamed(std::uint32_t seq, std::size_t size, Write&& write) noexcept {
    if (size == 0 || size > MaxRecord) return ::kom::error(errc::buffer_too_small, static_cast<std::int64_t>(size));
    unsigned char h[detail::log_record_head];
    record_head(h, seq, size);
    struct stream {
      record_log* self;
      std::size_t at;
      std::uint32_t crc;
      std::size_t written;
      int rc;
    } st{this, out_ + sizeof h, crc32_update(0, h + 2, 6), 0, 0};
    detail::record_sink sink{&st, [](void* p, const unsigned char* data, std::size_t n) {
                               auto* s = static_cast<stream*>(p);
                               s->crc = crc32_update(s->crc, data, n);
                               if (s->rc == 0) s->rc = s->self->io_write(1 - s->self->active_, s->at, data, n);
                               s->at += n;
                               s->written += n;
                             }};
    unsigned char chunk[64];
    detail::record_writer w(chunk, sizeof chunk, sink);
    write(w);
    w.finish();
    if (st.rc != 0) return ::kom::error(errc::io_failed, st.rc);
    if (st.written != size) return ::kom::error(errc::record_corrupt);
    detail::put_u32(h + 8, st.crc);
    if (const int rc = io_write(1 - active_, out_, h, sizeof h); rc != 0) return ::kom::error(errc::io_failed, rc);
    if (const int rc = io_write(1 - active_, out_ + sizeof h + size, detail::log_commit_marker, detail::log_commit); rc != 0)
      return ::kom::error(errc::io_failed, rc);
    out_ += total_size(size);
    return {};
  }

  /// Writes the other area's header (one generation up, `next_seq`) and makes it active, in
  /// this code's format. Until the header is whole, the old area stays in charge. The owner
  /// then replays the new area.
  ::kom::error finish_compaction() noexcept {
    const int to = 1 - active_;
    if (::kom::error e = write_header(to, generation_ + 1, next_seq_); !e.ok()) return e;
    active_ = to;
    generation_ += 1;
    format_ = detail::log_format;
    tail_ = detail::log_area_header;
    torn_ = false;
    return {};
  }

  // ---- facts ---------------------------------------------------------------------------------

  /// Bytes of one record of `payload` bytes on the storage.
  static constexpr std::size_t total_size(std::size_t payload) noexcept {
    return detail::log_record_head + payload + detail::log_commit;
  }
  /// Bytes the record at `off` of the active area takes (head, payload, marker); 0 on a read error.
  std::size_t record_size(std::size_t off) noexcept {
    unsigned char h[4];
    if (io_read(active_, off, h, sizeof h) != 0) return 0;
    return total_size(static_cast<std::size_t>(h[2]) | static_cast<std::size_t>(h[3]) << 8);
  }
  /// Bytes an area's header takes in this code's format.
  static constexpr std::size_t header_size() noexcept { return detail::log_area_header; }

  /// The payload of the last record read or appended.
  unsigned char* buffer() noexcept { return buf_; }
  /// The active area's format: 1 (kom 0.1.0, to be rewritten) or 2.
  std::uint32_t format() const noexcept { return format_; }
  /// One more at each compaction.
  std::uint32_t generation() const noexcept { return generation_; }
  /// The sequence number the next record gets.
  std::uint32_t next_seq() const noexcept { return next_seq_; }
  /// Bytes of the active area in use, its header included.
  std::size_t bytes_used() const noexcept { return tail_; }
  /// Bytes of one area: (block_count / 2) * block_size.
  std::size_t area_bytes() const noexcept { return area_bytes_; }
  /// True when the log ends in a torn record: the next append must compact first.
  bool torn_tail() const noexcept { return torn_; }
  /// Records with a bad CRC skipped by the last replay.
  std::size_t corrupt_records() const noexcept { return corrupt_; }

 private:
  struct area_header {
    bool valid = false;
    std::uint32_t format = 0;
    std::uint32_t generation = 0;
    std::uint32_t next_seq = 0;
  };

  std::size_t records_start() const noexcept {
    return format_ == 1 ? detail::log_area_header_v1 : detail::log_area_header;
  }

  static void record_head(unsigned char (&h)[detail::log_record_head], std::uint32_t seq, std::size_t size) noexcept {
    h[0] = 0xA5;
    h[1] = 0x5A;
    h[2] = static_cast<unsigned char>(size & 0xFF);
    h[3] = static_cast<unsigned char>(size >> 8);
    detail::put_u32(h + 4, seq);
  }

  int read_header(int area, area_header& out) noexcept {
    out = area_header{};
    unsigned char h[detail::log_area_header];
    if (const int rc = io_read(area, 0, h, sizeof h); rc != 0) return rc;
    const std::uint32_t magic = detail::get_u32(h);
    if (magic == detail::log_magic && detail::get_u32(h + 16) == crc32_update(0, h, 16)) {
      out = area_header{true, detail::get_u32(h + 4), detail::get_u32(h + 8), detail::get_u32(h + 12)};
    } else if (magic == detail::log_magic_v1 && detail::get_u32(h + 12) == crc32_update(0, h, 12)) {
      out = area_header{true, 1, detail::get_u32(h + 4), detail::get_u32(h + 8)};
    }
    return 0;
  }

  ::kom::error write_header(int area, std::uint32_t generation, std::uint32_t next_seq) noexcept {
    unsigned char h[detail::log_area_header];
    detail::put_u32(h, detail::log_magic);
    detail::put_u32(h + 4, detail::log_format);
    detail::put_u32(h + 8, generation);
    detail::put_u32(h + 12, next_seq);
    detail::put_u32(h + 16, crc32_update(0, h, 16));
    if (const int rc = io_sync(); rc != 0) return ::kom::error(errc::io_failed, rc);  // the records first
    if (const int rc = io_write(area, 0, h, sizeof h); rc != 0) return ::kom::error(errc::io_failed, rc);
    if (const int rc = io_sync(); rc != 0) return ::kom::error(errc::io_failed, rc);
    return {};
  }

  ::kom::error format_area(int area, std::uint32_t generation, std::uint32_t next_seq) noexcept {
    if (::kom::error e = erase_area(area); !e.ok()) return e;
    return write_header(area, generation, next_seq);
  }

  read_result read_at(int area, std::size_t off, std::uint32_t& seq, std::size_t& payload, std::size_t& total,
                      int& io) noexcept {
    io = 0;
    unsigned char h[detail::log_record_head];
    if (off + sizeof h > area_bytes_) return read_result::end;
    if ((io = io_read(area, off, h, sizeof h)) != 0) return read_result::torn;
    bool erased = true;
    for (unsigned char c : h) erased = erased && c == 0xFF;
    if (erased) return read_result::end;
    if (h[0] != 0xA5 || h[1] != 0x5A) return read_result::torn;
    payload = static_cast<std::size_t>(h[2]) | static_cast<std::size_t>(h[3]) << 8;
    total = total_size(payload);
    if (payload == 0 || payload > MaxRecord || off + total > area_bytes_) return read_result::torn;
    seq = detail::get_u32(h + 4);
    unsigned char marker[detail::log_commit];
    if ((io = io_read(area, off + sizeof h + payload, marker, sizeof marker)) != 0) return read_result::torn;
    if (std::memcmp(marker, detail::log_commit_marker, sizeof marker) != 0) return read_result::torn;
    if ((io = io_read(area, off + sizeof h, buf_, payload)) != 0) return read_result::torn;
    std::uint32_t crc = crc32_update(0, h + 2, 6);
    crc = crc32_update(crc, buf_, payload);
    return crc == detail::get_u32(h + 8) ? read_result::intact : read_result::corrupt;
  }

  // ---- storage access over an area's linear bytes ----

  // Calls io(block, offset in it, bytes done so far, n) for each piece of [off, off + size) of
  // `area` that lies in one block; stops at the first nonzero code (made negative).
  template <class Io>
  int each_piece(int area, std::size_t off, std::size_t size, Io&& io) noexcept {
    const std::size_t base = static_cast<std::size_t>(area) * (storage_.block_count / 2);
    for (std::size_t done = 0; done < size;) {
      const std::size_t block = off / storage_.block_size, in = off % storage_.block_size;
      const std::size_t n = size - done < storage_.block_size - in ? size - done : storage_.block_size - in;
      if (const int rc = io(base + block, in, done, n); rc != 0) return rc < 0 ? rc : -rc;
      off += n;
      done += n;
    }
    return 0;
  }

  int io_read(int area, std::size_t off, void* data, std::size_t size) noexcept {
    unsigned char* p = static_cast<unsigned char*>(data);
    return each_piece(area, off, size, [&](std::size_t block, std::size_t in, std::size_t done, std::size_t n) {
      return storage_.read(storage_.context, block, in, p + done, n);
    });
  }

  int io_write(int area, std::size_t off, const void* data, std::size_t size) noexcept {
    const unsigned char* p = static_cast<const unsigned char*>(data);
    return each_piece(area, off, size, [&](std::size_t block, std::size_t in, std::size_t done, std::size_t n) {
      return storage_.write(storage_.context, block, in, p + done, n);
    });
  }

  // Sets every block of `area` to 0xFF.
  ::kom::error erase_area(int area) noexcept {
    const std::size_t base = static_cast<std::size_t>(area) * (storage_.block_count / 2);
    for (std::size_t b = 0; b < storage_.block_count / 2; ++b)
      if (const int rc = storage_.erase(storage_.context, base + b); rc != 0) return ::kom::error(errc::io_failed, rc);
    return {};
  }

  int io_sync() noexcept { return storage_.sync ? storage_.sync(storage_.context) : 0; }

  block_storage storage_;
  int active_ = 0;
  std::uint32_t format_ = detail::log_format;
  std::uint32_t generation_ = 0;
  std::uint32_t next_seq_ = 1;
  std::size_t area_bytes_ = 0;
  std::size_t tail_ = 0;
  std::size_t out_ = 0;  // the other area's end while compacting
  bool torn_ = false;
  std::size_t corrupt_ = 0;
  unsigned char buf_[MaxRecord];
};

}  // namespace kom

#endif  // KOM_RECORD_LOG_HPP
