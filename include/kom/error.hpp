// kom/error.hpp: kom's errors as values: one error-code enum with a std::error_category,
// an `error` of 16 bytes that also says where (a compact field reference, rendered as a path
// only when a message is asked for) and a number for the message, and a small `result<T>`.
// Nothing in kom throws.
#ifndef KOM_ERROR_HPP
#define KOM_ERROR_HPP

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>

#include "kom/buffer_writer.hpp"
#include "kom/config.hpp"
#include "kom/fields.hpp"

/// Klarna Order Management for point-of-sale terminals: requests, responses, the client.
namespace kom {

/// Every error kom reports. Values are grouped by layer and stable across versions.
enum class errc : int {
  ok = 0,  ///< no error

  // Validation of a request, before anything is written (field path says where).
  required = 1,              ///< a required field is missing or empty
  too_long = 2,              ///< more characters (code points) than allowed; detail = limit
  below_minimum = 3,         ///< detail = minimum
  above_maximum = 4,         ///< detail = maximum
  too_few_items = 5,         ///< detail = minimum count
  too_many_items = 6,        ///< detail = maximum count
  not_in_set = 7,            ///< an enum value that Klarna does not accept
  invalid_utf8 = 8,          ///< text that is not valid UTF-8
  line_total_mismatch = 9,   ///< total_amount != quantity * unit_price - total_discount_amount; detail = expected
  captured_amount_mismatch = 10,  ///< a body's amount (captured_amount, refunded_amount, order_amount) != sum of its lines' total_amount; detail = sum
  arithmetic_overflow = 11,  ///< an amount computation leaves 64-bit range
  invalid_path_id = 12,      ///< an order or capture id that is not 1..255 unreserved URL characters, or is "." or ".."
  invalid_header_value = 13, ///< a header value with CR, LF or another control character
  missing_credentials = 14,  ///< neither username and password nor an API key
  duplicate_reference = 15,  ///< a reference another capture (or refund) of the same order in the outbox has; detail = its sequence number

  // Output.
  buffer_too_small = 100,    ///< the caller's buffer is too small; detail = bytes needed
  nesting_too_deep = 101,    ///< JSON nested deeper than KOM_JSON_WRITER_MAX_DEPTH; detail = limit
  invalid_json_call = 102,   ///< JSON writer calls out of order (a value where a key belongs, ...)

  // HTTP responses as they arrive.
  bad_status_line = 200,     ///< not "HTTP/1.x NNN reason"
  bad_header = 201,          ///< a header line that is not "name: value", or a forbidden byte in it
  head_too_large = 202,      ///< status line and headers beyond the head limit; detail = limit
  too_many_headers = 203,    ///< detail = limit
  bad_content_length = 204,  ///< not a decimal number, negative, or too large
  conflicting_length = 205,  ///< two different Content-Length values, or Content-Length with chunked
  bad_chunk = 206,           ///< a malformed chunk size line, chunk end or trailer
  chunk_line_too_long = 207, ///< a chunk size line beyond its limit; detail = limit
  body_too_large = 208,      ///< the body does not fit the caller's buffer; detail = capacity
  unexpected_eof = 209,      ///< the connection closed before the response was complete
  unsupported_transfer_encoding = 210,  ///< a transfer coding other than chunked
  unexpected_data = 211,     ///< bytes fed after the response was complete

  // JSON response bodies.
  json_syntax = 300,         ///< the body is not JSON
  json_too_deep = 301,       ///< nested deeper than the reader's limit; detail = limit
  json_wrong_type = 302,     ///< a known field with a value of the wrong type (path says which)
  json_too_many_items = 303, ///< more items than the caller's capacity (path says which); detail = capacity
  json_text_overflow = 304,  ///< the caller's text storage is full (path says at which field); detail = capacity
  json_number_out_of_range = 305,  ///< an integer outside int64

  // Platform services kom calls (mbedTLS).
  random_source_failed = 400,  ///< the caller's random callback returned an error; detail = its code
  crypto_failed = 401,         ///< an mbedTLS hash or encoding call failed; detail = its code

  // The connection (kom/transport.hpp). detail = the platform's code (errno, lwIP err_t) when known.
  resolve_failed = 500,        ///< the host name did not resolve
  connect_failed = 501,        ///< the connection was refused or could not be made
  timed_out = 502,             ///< connect, send or receive saw no progress within its timeout
  connection_closed = 503,     ///< the peer closed or reset the connection
  io_failed = 504,             ///< any other send or receive failure
  invalid_transport = 505,     ///< a transport without send or receive

  // TLS (kom/tls.hpp). Certificate errors: detail = mbedTLS's verification flags.
  tls_certificate_untrusted = 520,  ///< the chain does not lead to a configured CA (or is self-signed)
  tls_hostname_mismatch = 521,      ///< the certificate is not for the host name asked for
  tls_certificate_expired = 522,    ///< a certificate in the chain has expired
  tls_certificate_not_yet_valid = 523,  ///< a certificate in the chain is not valid yet
  tls_certificate_invalid = 524,    ///< any other verification failure (revoked, bad key usage, ...)
  tls_handshake_failed = 525,       ///< no common version or cipher suite, not TLS at all; detail = mbedTLS code
  tls_setup_failed = 526,           ///< bad CA data, host name, or an mbedTLS setup call failed; detail = mbedTLS code
  tls_failed = 527,                 ///< a TLS record error after the handshake; detail = mbedTLS code

  // The client (kom/client.hpp).
  http_error = 600,            ///< Klarna answered 4xx or 5xx: status, error_code and messages are in the outcome; detail = status
  unexpected_status = 601,     ///< an HTTP status the operation does not define (e.g. 200 to a capture); detail = status
  missing_capture_id = 602,    ///< a 201 to a capture without Capture-Id or Location
  invalid_client_setup = 603,  ///< no clock, sleep or random hook where one is needed
  missing_refund_id = 604,     ///< a 201 to a refund without Refund-Id or Location

  // The outbox and its storage (kom/outbox.hpp).
  outbox_not_open = 700,       ///< the outbox was used before a successful open()
  invalid_storage = 701,       ///< a block_storage without read, write or erase, under 2 blocks or 64-byte areas, or no wall clock
  no_such_operation = 702,     ///< no operation with this sequence number in the outbox; detail = it
  unknown_capture_record = 703,  ///< capture_of names no queued capture (or one that failed or was forgotten); detail = it
  record_corrupt = 704,        ///< a record no longer reads back intact (the storage changed since open)
  unsupported_format = 705,    ///< the storage was written by a newer kom; detail = its format version
  /// Klarna's answer cannot show whether a queued operation was applied (a listed refund of the
  /// same amount without its reference): kept as failed, never sent again; settle it by hand
  not_verifiable = 706,
};

/// The rule an error code stands for, without its number: "longer than N characters" reads
/// "longer than the limit" here. Static text; allocates nothing.
constexpr std::string_view rule_text(errc e) noexcept {
  switch (e) {
    case errc::ok: return "ok";
    case errc::required: return "is required";
    case errc::too_long: return "longer than allowed";
    case errc::below_minimum: return "below the minimum";
    case errc::above_maximum: return "above the maximum";
    case errc::too_few_items: return "fewer items than required";
    case errc::too_many_items: return "more items than allowed";
    case errc::not_in_set: return "not one of the allowed values";
    case errc::invalid_utf8: return "not valid UTF-8";
    case errc::line_total_mismatch: return "does not equal quantity * unit_price - total_discount_amount";
    case errc::captured_amount_mismatch: return "does not equal the sum of the order lines' total_amount";
    case errc::arithmetic_overflow: return "overflows a 64-bit integer";
    case errc::invalid_path_id: return "not 1 to 255 characters of A-Z a-z 0-9 - . _ ~";
    case errc::invalid_header_value: return "contains a control character";
    case errc::missing_credentials: return "no credentials: give username and password, or an API key";
    case errc::duplicate_reference: return "already the reference of another capture or refund of this order in the outbox";
    case errc::buffer_too_small: return "buffer too small";
    case errc::nesting_too_deep: return "JSON nested too deep";
    case errc::invalid_json_call: return "JSON writer used out of order";
    case errc::bad_status_line: return "malformed HTTP status line";
    case errc::bad_header: return "malformed HTTP header";
    case errc::head_too_large: return "HTTP head too large";
    case errc::too_many_headers: return "too many HTTP headers";
    case errc::bad_content_length: return "invalid Content-Length";
    case errc::conflicting_length: return "conflicting message length (Content-Length and chunked, or two lengths)";
    case errc::bad_chunk: return "malformed chunked encoding";
    case errc::chunk_line_too_long: return "chunk size line too long";
    case errc::body_too_large: return "response body larger than the buffer";
    case errc::unexpected_eof: return "connection closed before the response was complete";
    case errc::unsupported_transfer_encoding: return "unsupported Transfer-Encoding";
    case errc::unexpected_data: return "data after the end of the response";
    case errc::json_syntax: return "malformed JSON";
    case errc::json_too_deep: return "JSON nested too deep";
    case errc::json_wrong_type: return "JSON value of the wrong type";
    case errc::json_too_many_items: return "more items than the capacity";
    case errc::json_text_overflow: return "text storage full";
    case errc::json_number_out_of_range: return "integer out of range";
    case errc::random_source_failed: return "random source failed";
    case errc::crypto_failed: return "mbedTLS call failed";
    case errc::resolve_failed: return "host name did not resolve";
    case errc::connect_failed: return "connection failed";
    case errc::timed_out: return "timed out";
    case errc::connection_closed: return "connection closed by the peer";
    case errc::io_failed: return "send or receive failed";
    case errc::invalid_transport: return "transport without send or receive";
    case errc::tls_certificate_untrusted: return "server certificate not trusted";
    case errc::tls_hostname_mismatch: return "server certificate is for another host name";
    case errc::tls_certificate_expired: return "server certificate expired";
    case errc::tls_certificate_not_yet_valid: return "server certificate not yet valid";
    case errc::tls_certificate_invalid: return "server certificate invalid";
    case errc::tls_handshake_failed: return "TLS handshake failed";
    case errc::tls_setup_failed: return "TLS setup failed";
    case errc::tls_failed: return "TLS error";
    case errc::http_error: return "Klarna answered with an error";
    case errc::unexpected_status: return "unexpected HTTP status";
    case errc::missing_capture_id: return "capture created but no Capture-Id or Location";
    case errc::invalid_client_setup: return "client hook missing";
    case errc::missing_refund_id: return "refund created but no Refund-Id or Location";
    case errc::outbox_not_open: return "outbox not opened";
    case errc::invalid_storage: return "outbox storage unusable: missing functions or too small, or no wall clock";
    case errc::no_such_operation: return "no such operation in the outbox";
    case errc::unknown_capture_record: return "no queued capture with this sequence number";
    case errc::record_corrupt: return "outbox record no longer reads back intact";
    case errc::unsupported_format: return "outbox written by a newer version (format not supported)";
    case errc::not_verifiable: return "cannot tell from Klarna's answer whether it was applied: settle by hand";
  }
  return "unknown error";
}

namespace detail {
class error_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "kom"; }
  // std::error_category's interface returns std::string; only called when a caller asks.
  std::string message(int ev) const override { return std::string(rule_text(static_cast<errc>(ev))); }
};
}  // namespace detail

/// kom's std::error_category (name "kom"; message() is rule_text()). A function-local static,
/// constructed once; allocates nothing.
inline const std::error_category& error_category() noexcept {
  static const detail::error_category_impl category;
  return category;
}

/// `e` as a std::error_code of error_category(), so errc compares with std::error_code.
inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), error_category()};
}

/// A field path as text, e.g. "order_lines[2].quantity_unit", rendered from a field_ref.
/// Fixed capacity (KOM_MAX_FIELD_PATH); a longer path is cut, never overrun.
class field_path {
 public:
  /// Empty.
  constexpr field_path() noexcept = default;

  /// Adds a field name, with a '.' before it unless the path is empty or `segment` starts
  /// with '['. Cut at the capacity.
  void append(std::string_view segment) noexcept {
    if (size_ != 0 && !segment.empty() && segment.front() != '[') put('.');
    for (char c : segment) put(c);
  }

  /// Adds an array index: "[2]". Cut at the capacity.
  void append_index(std::size_t index) noexcept {
    char text[24];
    buffer_writer w(text);
    w.put('[');
    w.append_uint(index);
    w.put(']');
    for (char c : w.view()) put(c);
  }

  /// The path, at most KOM_MAX_FIELD_PATH characters; points into this object, so only on
  /// an lvalue (`kom::field_path p = e.path(); p.view()`).
  constexpr std::string_view view() const& noexcept { return {chars_, size_}; }
  std::string_view view() const&& = delete;
  /// True when there is no path.
  constexpr bool empty() const noexcept { return size_ == 0; }
  /// Compares the text.
  friend constexpr bool operator==(const field_path& a, std::string_view b) noexcept {
    return std::string_view(a.chars_, a.size_) == b;
  }
  /// Compares the text.
  friend constexpr bool operator!=(const field_path& a, std::string_view b) noexcept { return !(a == b); }
  /// Writes the text to any stream that takes a std::string_view.
  template <class Stream>
  friend auto operator<<(Stream& out, const field_path& p) -> decltype(out << std::string_view()) {
    return out << std::string_view(p.chars_, p.size_);
  }

 private:
  void put(char c) noexcept {
    if (size_ < sizeof chars_) chars_[size_++] = c;
  }

  char chars_[KOM_MAX_FIELD_PATH] = {};
  std::size_t size_ = 0;
};

/// Which field an error concerns, in 6 bytes: the type the path starts in (kom::model_type),
/// up to four steps (each a field's number in its type's description, kom/fields.hpp) and
/// up to two list indices, taken in turn by the list steps. Rendered as text only when a
/// message is asked for. A first index above 4094 reads as 4094, a second above 2046 as 2046
/// (Klarna's longest list holds 1000 items); steps beyond the fourth and indices beyond the
/// second are dropped (no description nests that deep).
class field_ref {
 public:
  static constexpr std::size_t max_steps = 4;     ///< fields on the way, at most
  static constexpr std::size_t max_indices = 2;   ///< list indices on the way, at most
  static constexpr std::size_t max_index = 4094;  ///< the largest first index kept
  static constexpr std::size_t max_second_index = 2046;  ///< the largest second index kept

  /// No field.
  constexpr field_ref() noexcept = default;
  /// The start of a path in the type `root`.
  static constexpr field_ref in(model_type root) noexcept {
    field_ref r;
    r.set(0, root_bits, static_cast<std::uint64_t>(root));
    for (std::size_t i = 0; i < max_steps; ++i) r.set(step_bit(i), 5, no_step);
    for (std::size_t i = 0; i < max_indices; ++i) r.set(index_bit(i), index_bits(i), no_index(i));
    return r;
  }
  /// A call parameter or setting.
  static constexpr field_ref of(parameter p) noexcept {
    return in(model_type::parameter).field(static_cast<std::size_t>(p));
  }

  /// This path, one field (number `index` in the current type) deeper.
  constexpr field_ref field(std::size_t index) const noexcept {
    field_ref r = *this;
    for (std::size_t i = 0; i < max_steps; ++i) {
      if (r.get(step_bit(i), 5) == no_step) {
        r.set(step_bit(i), 5, index < no_step ? index : no_step);
        break;
      }
    }
    return r;
  }
  /// This path at item `index` of the list it ends in.
  constexpr field_ref item(std::size_t index) const noexcept {
    field_ref r = *this;
    for (std::size_t i = 0; i < max_indices; ++i) {
      if (r.get(index_bit(i), index_bits(i)) == no_index(i)) {
        const std::size_t most = i == 0 ? max_index : max_second_index;
        r.set(index_bit(i), index_bits(i), index < most ? index : most);
        break;
      }
    }
    return r;
  }

  /// The type the path starts in; none when there is no path.
  constexpr model_type root() const noexcept { return static_cast<model_type>(get(0, root_bits)); }
  /// True when there is no field.
  constexpr bool empty() const noexcept { return root() == model_type::none; }

  /// The path as text, e.g. "order_lines[2].quantity_unit".
  field_path text() const noexcept {
    field_path out;
    model_type type = root();
    std::size_t next_index = 0;
    const auto index_of_list = [&] {
      if (next_index >= max_indices) return;
      const std::uint64_t i = get(index_bit(next_index), index_bits(next_index));
      if (i != no_index(next_index)) out.append_index(static_cast<std::size_t>(i));
      ++next_index;
    };
    if (type == model_type::capture_list) {
      index_of_list();
      type = model_type::capture;
    }
    for (std::size_t s = 0; s < max_steps; ++s) {
      const std::uint64_t index = get(step_bit(s), 5);
      if (index == no_step) break;
      const field_step step = step_of(type, static_cast<std::size_t>(index));
      out.append(step.name);
      if (step.list) index_of_list();
      type = step.child;
    }
    return out;
  }

  /// The same field.
  friend constexpr bool operator==(const field_ref& a, const field_ref& b) noexcept {
    for (std::size_t i = 0; i < sizeof a.bits_; ++i)
      if (a.bits_[i] != b.bits_[i]) return false;
    return true;
  }

 private:
  // 48 bits: the root (5), four steps (5 each), a 12-bit and an 11-bit index.
  static constexpr std::size_t root_bits = 5;
  static constexpr std::uint64_t no_step = 31;
  static constexpr std::size_t step_bit(std::size_t i) noexcept { return root_bits + 5 * i; }
  static constexpr std::size_t index_bits(std::size_t i) noexcept { return i == 0 ? 12 : 11; }
  static constexpr std::size_t index_bit(std::size_t i) noexcept { return root_bits + 5 * max_steps + 12 * i; }
  static constexpr std::uint64_t no_index(std::size_t i) noexcept { return (std::uint64_t{1} << index_bits(i)) - 1; }

  constexpr std::uint64_t all() const noexcept {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < sizeof bits_; ++i) v |= static_cast<std::uint64_t>(bits_[i]) << (8 * i);
    return v;
  }
  constexpr std::uint64_t get(std::size_t at, std::size_t width) const noexcept {
    return (all() >> at) & ((std::uint64_t{1} << width) - 1);
  }
  constexpr void set(std::size_t at, std::size_t width, std::uint64_t value) noexcept {
    const std::uint64_t mask = ((std::uint64_t{1} << width) - 1) << at;
    const std::uint64_t v = (all() & ~mask) | ((value << at) & mask);
    for (std::size_t i = 0; i < sizeof bits_; ++i) bits_[i] = static_cast<std::uint8_t>(v >> (8 * i));
  }

  std::uint8_t bits_[6] = {};
};

/// An error code, the field it concerns (may be none) and one number that completes the
/// message (a limit, an expected amount, a needed size). 16 bytes; allocates nothing.
class error {
 public:
  /// No error: errc::ok.
  constexpr error() noexcept = default;
  /// `code` with no field, and `detail` (see errc for what it means per code).
  constexpr error(errc code, std::int64_t detail = 0) noexcept
      : detail_(detail), code_(static_cast<std::uint16_t>(code)) {}
  /// `code` at field `where`, and `detail`.
  constexpr error(errc code, field_ref where, std::int64_t detail = 0) noexcept
      : detail_(detail), code_(static_cast<std::uint16_t>(code)), where_(where) {}
  /// `code` about call parameter `p` (e.g. parameter::order_id), and `detail`.
  constexpr error(errc code, parameter p, std::int64_t detail = 0) noexcept
      : error(code, field_ref::of(p), detail) {}

  /// True when code() is errc::ok.
  constexpr bool ok() const noexcept { return code_ == 0; }
  /// What went wrong.
  constexpr errc code() const noexcept { return static_cast<errc>(code_); }
  /// The number that completes the message: a limit, an expected amount, a needed size, a
  /// platform code (see errc); 0 when the code has none.
  constexpr std::int64_t detail() const noexcept { return detail_; }
  /// The field concerned, compactly; empty() when none.
  constexpr field_ref where() const noexcept { return where_; }
  /// The field concerned as text, e.g. "order_lines[2].quantity_unit"; empty when none.
  field_path path() const noexcept { return where_.text(); }
  /// code() as a std::error_code (kom::error_category()).
  std::error_code error_code() const noexcept { return make_error_code(code()); }

  /// Writes the whole message, e.g. "order_lines[2].quantity_unit: longer than 10 characters".
  /// Cut at `out`'s capacity like any buffer_writer output; allocates nothing.
  void write_message(buffer_writer& out) const noexcept {
    const field_path path = where_.text();
    if (!path.empty()) {
      out.append(path.view());
      out.append(": ");
    }
    const errc code = this->code();
    switch (code) {
      case errc::too_long: number_rule(out, "longer than ", " characters"); break;
      case errc::below_minimum: number_rule(out, "less than ", ""); break;
      case errc::above_maximum: number_rule(out, "greater than ", ""); break;
      case errc::too_few_items: number_rule(out, "fewer than ", " items"); break;
      case errc::too_many_items: number_rule(out, "more than ", " items"); break;
      case errc::buffer_too_small: number_rule(out, "buffer too small, ", " bytes needed"); break;
      case errc::nesting_too_deep:
      case errc::json_too_deep: number_rule(out, "JSON nested deeper than ", " levels"); break;
      case errc::head_too_large: number_rule(out, "HTTP head larger than ", " bytes"); break;
      case errc::too_many_headers: number_rule(out, "more than ", " HTTP headers"); break;
      case errc::chunk_line_too_long: number_rule(out, "chunk size line longer than ", " bytes"); break;
      case errc::body_too_large: number_rule(out, "response body larger than the buffer of ", " bytes"); break;
      case errc::json_too_many_items: number_rule(out, "more items than the capacity of ", ""); break;
      case errc::json_text_overflow: number_rule(out, "text storage of ", " bytes full"); break;
      case errc::line_total_mismatch:
      case errc::captured_amount_mismatch:
        out.append(rule_text(code));
        number_rule(out, " (", ")");
        break;
      default: out.append(rule_text(code)); break;
    }
  }

  /// The message in `buffer`, cut to fit, and a NUL after it (so the view's data() is also a
  /// C string for puts or printf): at most N - 1 characters. Returns the text without the NUL.
  template <std::size_t N>
  std::string_view describe(char (&buffer)[N]) const noexcept {
    static_assert(N > 0, "describe needs room for the NUL");
    buffer_writer out(buffer, N - 1);
    write_message(out);
    buffer[out.written()] = '\0';
    return out.view();
  }

 private:
  void number_rule(buffer_writer& out, std::string_view before, std::string_view after) const noexcept {
    out.append(before);
    out.append_int(detail_);
    out.append(after);
  }

  std::int64_t detail_ = 0;
  std::uint16_t code_ = 0;
  field_ref where_;
};

static_assert(sizeof(field_ref) == 6, "a field reference is six bytes");

/// A value or an error. T must be default-constructible. Allocates nothing.
template <class T>
class result {
 public:
  /// A value (moved in); ok() is true.
  result(T value) noexcept(std::is_nothrow_move_constructible<T>::value) : value_(std::move(value)) {}
  /// An error; the value is T{}. An `e` that is ok() makes an ok result holding T{}.
  result(const ::kom::error& e) noexcept : error_(e) {}
  /// An error with no path and no detail.
  result(errc code) noexcept : error_(code) {}

  /// True when this holds a value, not an error.
  bool ok() const noexcept { return error_.ok(); }
  /// ok().
  explicit operator bool() const noexcept { return ok(); }

  /// The value; meaningful only when ok().
  T& value() noexcept { return value_; }
  /// The value; meaningful only when ok().
  const T& value() const noexcept { return value_; }
  /// value().
  T& operator*() noexcept { return value_; }
  /// value().
  const T& operator*() const noexcept { return value_; }
  /// &value().
  T* operator->() noexcept { return &value_; }
  /// &value().
  const T* operator->() const noexcept { return &value_; }

  /// The error; errc::ok when ok().
  const ::kom::error& error() const noexcept { return error_; }

 private:
  T value_{};
  ::kom::error error_;
};

}  // namespace kom

namespace std {
template <>
struct is_error_code_enum<kom::errc> : true_type {};
}  // namespace std

#endif  // KOM_ERROR_HPP
