// kom/buffer_writer.hpp: the one bounded byte writer under all of kom's output.
//
// Every JSON body and every HTTP request kom produces goes through a buffer_writer over a
// caller's buffer. It never writes past the end: on overflow it stops writing, keeps a
// sticky flag and goes on counting, so size() is always the number of bytes the whole
// output needs. Measuring without writing is asked for by name (kom::measure_only): a null
// or empty buffer given for writing overflows at once, it never silently measures.
#ifndef KOM_BUFFER_WRITER_HPP
#define KOM_BUFFER_WRITER_HPP

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace kom {

/// The tag that asks a buffer_writer to measure only: `kom::buffer_writer w(kom::measure_only);`
struct measure_only_t {
  /// Explicit, so that `{}` never turns into a measure-only writer by accident.
  explicit constexpr measure_only_t() noexcept = default;
};
/// Pass to buffer_writer's constructor to count bytes without writing them.
inline constexpr measure_only_t measure_only{};

/// A bounded writer over a caller's buffer: never writes past its end, and on overflow keeps
/// counting, so size() is the whole output's length. Allocates nothing.
class buffer_writer {
 public:
  /// Measure-only: writes nothing, counts everything, never overflows. Allocates nothing.
  constexpr explicit buffer_writer(measure_only_t) noexcept : measuring_(true) {}

  /// Writes into `data[0, capacity)`. A null `data` is a buffer of 0 bytes (whatever
  /// `capacity` says): the first byte overflows, and size() still tells what is needed.
  constexpr buffer_writer(char* data, std::size_t capacity) noexcept
      : data_(data), capacity_(data ? capacity : 0) {}

  /// Writes into all N bytes of `buffer`.
  template <std::size_t N>
  constexpr explicit buffer_writer(char (&buffer)[N]) noexcept : buffer_writer(buffer, N) {}

  /// One byte; past the capacity it is only counted (and sets overflow()).
  void put(char c) noexcept {
    if (size_ < capacity_) {
      data_[size_] = c;
    } else {
      overflow_ = !measuring_;
    }
    ++size_;
  }

  /// `n` bytes from `p`; what does not fit is only counted (and sets overflow()).
  void append(const char* p, std::size_t n) noexcept {
    if (n == 0) return;
    const std::size_t room = size_ < capacity_ ? capacity_ - size_ : 0;
    const std::size_t now = n < room ? n : room;
    if (now != 0) std::memcpy(data_ + size_, p, now);
    if (now != n) overflow_ = !measuring_;
    size_ += n;
  }

  /// The bytes of `s`, as append(s.data(), s.size()).
  void append(std::string_view s) noexcept { append(s.data(), s.size()); }

  /// Decimal text of `v` (INT64_MIN included), without printf.
  void append_int(std::int64_t v) noexcept {
    // Negate in unsigned arithmetic so INT64_MIN needs no special case.
    const std::uint64_t magnitude = v < 0 ? std::uint64_t{0} - static_cast<std::uint64_t>(v)
                                          : static_cast<std::uint64_t>(v);
    if (v < 0) put('-');
    append_uint(magnitude);
  }

  /// Decimal text of `v` (at most 20 digits), without printf.
  void append_uint(std::uint64_t v) noexcept {
    char digits[20];
    std::size_t n = 0;
    do {
      digits[sizeof digits - 1 - n] = static_cast<char>('0' + v % 10);
      v /= 10;
      ++n;
    } while (v != 0);
    append(digits + sizeof digits - n, n);
  }

  /// Room for `n` more bytes, for a caller that writes them itself and then calls
  /// commit(): a pointer to the next free byte, or null when they would not all fit (or
  /// when measuring), and nothing changes. Lets a hot loop write without a check per byte.
  char* reserve(std::size_t n) noexcept {
    return data_ != nullptr && size_ <= capacity_ && capacity_ - size_ >= n ? data_ + size_ : nullptr;
  }
  /// Counts `n` bytes written at reserve()'s pointer; `n` is at most what was reserved.
  void commit(std::size_t n) noexcept { size_ += n; }

  /// Bytes the output needs so far, whether or not they fitted.
  constexpr std::size_t size() const noexcept { return size_; }
  /// Bytes actually in the buffer: min(size(), capacity()).
  constexpr std::size_t written() const noexcept { return size_ < capacity_ ? size_ : capacity_; }
  /// Size of the buffer (0 when measuring).
  constexpr std::size_t capacity() const noexcept { return capacity_; }
  /// True once any byte did not fit. Sticky. Never set in measure-only mode.
  constexpr bool overflow() const noexcept { return overflow_; }
  /// True when constructed with measure_only: writes nothing, only counts.
  constexpr bool measuring() const noexcept { return measuring_; }
  /// The caller's buffer (null when measuring).
  constexpr char* data() const noexcept { return data_; }
  /// The bytes written so far (a prefix of the output after an overflow).
  constexpr std::string_view view() const noexcept { return {data_, written()}; }

 private:
  char* data_ = nullptr;
  std::size_t capacity_ = 0;
  std::size_t size_ = 0;
  bool measuring_ = false;
  bool overflow_ = false;
};

}  // namespace kom

#endif  // KOM_BUFFER_WRITER_HPP
