// kom/json_writer.hpp: compact JSON (RFC 8259) into a buffer_writer, with no heap and no
// floating point. Strings are escaped; valid UTF-8 passes through unchanged; invalid UTF-8
// is refused (an error, nothing of the string written). Calls out of order are refused too,
// so the writer can never emit JSON that does not parse.
#ifndef KOM_JSON_WRITER_HPP
#define KOM_JSON_WRITER_HPP

#include <cstddef>
#include <cstdint>
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
    if (!detail::scan_utf8(name).valid) return fail(errc::invalid_utf8);
    separate();
    quoted(name);
    out_.put(':');
    after_key_ = true;
  }

  /// A string value, quoted and escaped. Errors: invalid_utf8, invalid_json_call.
  void string(std::string_view s) noexcept {
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

  bool before_value() noexcept {
    if (status_ != errc::ok) return false;
    if (depth_ == 0) return true;
    if (is_object(depth_)) {
      if (!after_key_) {
        fail(errc::invalid_json_call);
        return false;
      }
      after_key_ = false;
      return true;
    }
    separate();
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

  // The string in quotes with RFC 8259 escapes; `s` is already known to be valid UTF-8.
  void quoted(std::string_view s) noexcept {
    static constexpr char hex[] = "0123456789abcdef";
    out_.put('"');
    std::size_t run = 0;  // start of the bytes not yet written that need no escape
    for (std::size_t i = 0; i < s.size(); ++i) {
      const auto c = static_cast<unsigned char>(s[i]);
      if (c >= 0x20 && c != '"' && c != '\\') continue;
      out_.append(s.data() + run, i - run);
      run = i + 1;
      out_.put('\\');
      switch (c) {
        case '"': out_.put('"'); break;
        case '\\': out_.put('\\'); break;
        case '\b': out_.put('b'); break;
        case '\f': out_.put('f'); break;
        case '\n': out_.put('n'); break;
        case '\r': out_.put('r'); break;
        case '\t': out_.put('t'); break;
        default:
          out_.append("u00");
          out_.put(hex[c >> 4]);
          out_.put(hex[c & 0xF]);
          break;
      }
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
