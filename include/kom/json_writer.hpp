// kom/json_writer.hpp: compact JSON (RFC 8259) into a buffer_writer, with no heap and no
// floating point. Strings are escaped; valid UTF-8 passes through unchanged; invalid UTF-8
// is refused (an error, nothing of the string written). Calls out of order are refused too,
// so the writer can never emit JSON that does not parse.
#ifndef KOM_JSON_WRITER_HPP
#define KOM_JSON_WRITER_HPP

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "kom/buffer_writer.hpp"
#include "kom/config.hpp"
#include "kom/detail/utf8.hpp"
#include "kom/error.hpp"

namespace kom {

/// Compact JSON (RFC 8259) into a buffer_writer, checked as it goes: misuse and invalid UTF-8
/// set status() instead of writing broken JSON. Nests at most KOM_JSON_WRITER_MAX_DEPTH deep.
/// Allocates nothing.
class json_writer {
 public:
  /// Writes to `out`, which must outlive the writer.
  explicit json_writer(buffer_writer& out) noexcept : out_(out) {}

  /// Opens an object (a value: after key() inside an object). Errors: nesting_too_deep,
  /// invalid_json_call.
  void begin_object() noexcept { open(true, '{'); }
  /// Closes the innermost object. Errors: invalid_json_call (the innermost open one is not an
  /// object, or its last key has no value).
  void end_object() noexcept { close(true, '}'); }
  /// Opens an array (a value). Errors: nesting_too_deep, invalid_json_call.
  void begin_array() noexcept { open(false, '['); }
  /// Closes the innermost array. Errors: invalid_json_call (the innermost open one is not an
  /// array).
  void end_array() noexcept { close(false, ']'); }

  /// An object key; the value call that follows belongs to it. Errors: invalid_json_call
  /// (not inside an object, or after a key), invalid_utf8.
  void key(std::string_view name) noexcept {
    if (status_ != errc::ok) return;
    if (depth_ == 0 || !is_object(depth_) || after_key_) return fail(errc::invalid_json_call);
    const in_place written = quoted_in_place(name, (first_pending_ & bit(depth_)) == 0, ':');
    if (written == in_place::invalid_utf8) return fail(errc::invalid_utf8);
    if (written == in_place::no_room) {
      if (!detail::scan_utf8(name).valid) return fail(errc::invalid_utf8);
      separate();
      quoted(name);
      out_.put(':');
    }
    first_pending_ &= ~bit(depth_);
    after_key_ = true;
  }

  /// A string value, quoted and escaped. Errors: invalid_utf8, invalid_json_call.
  void string(std::string_view s) noexcept {
    if (status_ == errc::ok && value_allowed()) {
      const in_place written = quoted_in_place(s, comma_before_value(), 0);
      if (written == in_place::invalid_utf8) return fail(errc::invalid_utf8);
      if (written == in_place::done) return value_written();  // its comma is written too
    }
    if (!detail::scan_utf8(s).valid) return fail(errc::invalid_utf8);
    if (before_value()) quoted(s);
  }

  /// An integer value. Errors: invalid_json_call.
  void integer(std::int64_t v) noexcept {
    if (before_value()) out_.append_int(v);
  }

  /// true or false. Errors: invalid_json_call.
  void boolean(bool v) noexcept {
    if (before_value()) out_.append(v ? std::string_view("true") : std::string_view("false"));
  }

  /// null. Errors: invalid_json_call.
  void null() noexcept {
    if (before_value()) out_.append("null");
  }

  /// key(name), then string(value).
  void member(std::string_view name, std::string_view value) noexcept {
    key(name);
    string(value);
  }

  /// key(name), then integer(value).
  void member(std::string_view name, std::int64_t value) noexcept {
    key(name);
    integer(value);
  }

  /// ok, or the first of invalid_utf8, nesting_too_deep, invalid_json_call. Sticky: after an
  /// error every call is ignored. A full buffer is not an error here: see out().overflow().
  errc status() const noexcept { return status_; }
  /// True when every object and array opened has been closed.
  bool balanced() const noexcept { return depth_ == 0 && !after_key_; }
  /// The buffer_writer written to: its size(), overflow() and view().
  buffer_writer& out() const noexcept { return out_; }

 private:
  using bits = std::uint64_t;
  static constexpr bits bit(std::size_t level) noexcept { return bits{1} << (level - 1); }
  bool is_object(std::size_t level) const noexcept { return (object_levels_ & bit(level)) != 0; }

  void fail(errc e) noexcept {
    if (status_ == errc::ok) status_ = e;
  }

  // Writes the comma that goes before every member or element but the first.
  void separate() noexcept {
    if ((first_pending_ & bit(depth_)) != 0) {
      first_pending_ &= ~bit(depth_);
    } else {
      out_.put(',');
    }
  }

  // Whether a value may come now: anywhere but in an object before its key.
  bool value_allowed() const noexcept { return depth_ == 0 || !is_object(depth_) || after_key_; }
  // Whether a comma goes before the value that comes now: in an array, after its first element.
  bool comma_before_value() const noexcept {
    return depth_ != 0 && !is_object(depth_) && (first_pending_ & bit(depth_)) == 0;
  }
  // After a value: an object's key is used up, an array's first element is past.
  void value_written() noexcept {
    if (depth_ == 0) return;
    if (is_object(depth_)) after_key_ = false;
    else first_pending_ &= ~bit(depth_);
  }

  // Checks the call order and writes the comma before a value; false when it may not come.
  bool before_value() noexcept {
    if (status_ != errc::ok) return false;
    if (!value_allowed()) {
      fail(errc::invalid_json_call);
      return false;
    }
    if (comma_before_value()) out_.put(',');
    value_written();
    return true;
  }

  void open(bool object, char bracket) noexcept {
    if (depth_ == KOM_JSON_WRITER_MAX_DEPTH && status_ == errc::ok) return fail(errc::nesting_too_deep);
    if (!before_value()) return;
    ++depth_;
    if (object) object_levels_ |= bit(depth_);
    else object_levels_ &= ~bit(depth_);
    first_pending_ |= bit(depth_);
    out_.put(bracket);
  }

  void close(bool object, char bracket) noexcept {
    if (status_ != errc::ok) return;
    if (depth_ == 0 || is_object(depth_) != object || after_key_) return fail(errc::invalid_json_call);
    --depth_;
    out_.put(bracket);
  }

  // Whether every byte of `x` is plain ASCII that needs no escape (0x20..0x7F but '"' and
  // '\\'). SWAR over a 32- or 64-bit word, no table: a byte that fails sets its high bit in
  // `hits`; a borrow can flag a byte that is fine, which only sends it down the byte path.
  template <class Word>
  static bool plain_ascii(Word x) noexcept {
    constexpr Word ones = static_cast<Word>(~Word{0}) / 0xFF;
    constexpr Word highs = static_cast<Word>(ones * 0x80u);
    const Word quote = static_cast<Word>(x ^ (ones * static_cast<Word>('"')));
    const Word backslash = static_cast<Word>(x ^ (ones * static_cast<Word>('\\')));
    const Word hits = static_cast<Word>(x | ((x - ones * 0x20u) & ~x) | ((quote - ones) & ~quote) |
                                        ((backslash - ones) & ~backslash));
    return (hits & highs) == 0;
  }

  // Writes the escape of byte `c` (one that needs one) at `d`; returns its length (2 or 6).
  static std::size_t escape(unsigned char c, char* d) noexcept {
    static constexpr char hex[] = "0123456789abcdef";
    d[0] = '\\';
    switch (c) {
      case '"': d[1] = '"'; return 2;
      case '\\': d[1] = '\\'; return 2;
      case '\b': d[1] = 'b'; return 2;
      case '\f': d[1] = 'f'; return 2;
      case '\n': d[1] = 'n'; return 2;
      case '\r': d[1] = 'r'; return 2;
      case '\t': d[1] = 't'; return 2;
      default: break;
    }
    d[1] = 'u';
    d[2] = '0';
    d[3] = '0';
    d[4] = hex[c >> 4];
    d[5] = hex[c & 0xF];
    return 6;
  }

  static bool needs_escape(unsigned char c) noexcept { return c < 0x20 || c == '"' || c == '\\'; }

  enum class in_place : std::uint8_t { done, invalid_utf8, no_room };

  // The common case in one pass: [','] '"' string '"' [trail] written straight into the
  // buffer, the UTF-8 checked as it is copied, plain ASCII 8 bytes at a time. Needs room for
  // the longest escaping (no_room: nothing done). Counts nothing unless it succeeds, so an
  // invalid string leaves the output as it was.
  in_place quoted_in_place(std::string_view s, bool comma, char trail) noexcept {
    const std::size_t n = s.size();
    char* const begin = n <= (SIZE_MAX - 4) / 6 ? out_.reserve(6 * n + 4) : nullptr;
    if (begin == nullptr) return in_place::no_room;
    char* d = begin;
    if (comma) *d++ = ',';
    *d++ = '"';
    std::size_t i = 0;
    while (i < n) {
      if (n - i >= 8) {
        std::uint64_t x = 0;
        std::memcpy(&x, s.data() + i, sizeof x);
        if (plain_ascii(x)) {
          std::memcpy(d, &x, sizeof x);
          d += 8;
          i += 8;
          continue;
        }
      } else if (n - i >= 4) {
        // The last 4 to 7 bytes (all of many keys and short values): two 4-byte words that
        // overlap, checked and stored whole.
        const std::size_t rest = n - i;
        std::uint32_t a = 0, b = 0;
        std::memcpy(&a, s.data() + i, sizeof a);
        std::memcpy(&b, s.data() + n - 4, sizeof b);
        if (plain_ascii(a) && plain_ascii(b)) {
          std::memcpy(d, &a, sizeof a);
          std::memcpy(d + rest - 4, &b, sizeof b);
          d += rest;
          break;
        }
      } else {
        // The last 1 to 3 bytes.
        bool plain = true;
        for (std::size_t k = i; k < n; ++k) {
          const auto c = static_cast<unsigned char>(s[k]);
          plain = plain & (c < 0x80) & !needs_escape(c);
        }
        if (plain) {
          for (; i < n; ++i) *d++ = s[i];
          break;
        }
      }
      const auto c = static_cast<unsigned char>(s[i]);
      if (c >= 0x80) {
        const std::size_t len = detail::utf8_sequence(s, i);
        if (len == 0) return in_place::invalid_utf8;
        std::memcpy(d, s.data() + i, len);
        d += len;
        i += len;
      } else {
        d += needs_escape(c) ? escape(c, d) : (*d = static_cast<char>(c), std::size_t{1});
        ++i;
      }
    }
    *d++ = '"';
    if (trail != 0) *d++ = trail;
    out_.commit(static_cast<std::size_t>(d - begin));
    return in_place::done;
  }

  // The string in quotes with RFC 8259 escapes, through the bounded writer (near the end of
  // the buffer, or measuring); `s` is already known to be valid UTF-8.
  void quoted(std::string_view s) noexcept {
    out_.put('"');
    std::size_t run = 0;  // start of the bytes not yet written that need no escape
    for (std::size_t i = 0; i < s.size(); ++i) {
      const auto c = static_cast<unsigned char>(s[i]);
      if (!needs_escape(c)) continue;
      out_.append(s.data() + run, i - run);
      run = i + 1;
      char e[6];
      out_.append(e, escape(c, e));
    }
    out_.append(s.data() + run, s.size() - run);
    out_.put('"');
  }

  buffer_writer& out_;
  errc status_ = errc::ok;
  std::size_t depth_ = 0;
  bits object_levels_ = 0;  // bit (level - 1) set: that level is an object
  bits first_pending_ = 0;  // bit (level - 1) set: no member or element written there yet
  bool after_key_ = false;
};

}  // namespace kom

#endif  // KOM_JSON_WRITER_HPP
