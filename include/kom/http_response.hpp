// kom/http_response.hpp: an incremental HTTP/1.1 response parser over the caller's buffer.
//
// Bytes arrive in pieces of any size, split anywhere (one byte at a time works too). The
// status line and the headers are kept in the caller's buffer and the body is decoded right
// after them, so the reason, every header and the body are std::string_view into that one
// buffer, never copies:
//
//   [ head: status line and headers | decoded body | free ]
//   0                                head_size()    head_size() + body().size()
//
// Bodies are framed by Content-Length, by chunked transfer coding (decoded in place: the
// chunk framing never takes room in the buffer) or by the closing of the connection.
// Interim 1xx responses are skipped. Every limit has its own error code, nothing is read or
// written outside the input and the buffer, and nothing allocates or throws.
#ifndef KOM_HTTP_RESPONSE_HPP
#define KOM_HTTP_RESPONSE_HPP

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

#include "kom/config.hpp"
#include "kom/error.hpp"

#if KOM_HTTP_MAX_HEADERS < 1
#error "KOM_HTTP_MAX_HEADERS is at least 1"
#endif

namespace kom {

/// The bounds one response must stay within. Defaults from kom/config.hpp.
struct http_limits {
  /// Status line and headers in bytes, line ends included (of each head when 1xx precede).
  std::size_t max_head = KOM_HTTP_MAX_HEAD;
  /// Header lines of the final response; at most KOM_HTTP_MAX_HEADERS, the table's size.
  std::size_t max_headers = KOM_HTTP_MAX_HEADERS;
  /// A chunk size line with its extensions in bytes, line end excluded.
  std::size_t max_chunk_line = KOM_HTTP_MAX_CHUNK_LINE;
};

/// Where a parse stands after feed(), commit() or finish().
enum class parse_status : std::uint8_t {
  need_more,  ///< incomplete: give more bytes, or finish() when the peer closed
  done,       ///< one complete response; its views stay valid until reset()
  error,      ///< see http_response_parser::error(); the parser takes no more input
};

namespace detail {
namespace http1 {

// RFC 9110 token characters, the only ones allowed in a header name.
constexpr bool is_tchar(unsigned char c) noexcept {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
    case '-': case '.': case '^': case '_': case '`': case '|': case '~': return true;
    default: return false;
  }
}

// A byte allowed in a header value or a reason phrase: tab, visible ASCII, space and
// obs-text. Every other control character (CR, LF and NUL among them) and DEL is not.
constexpr bool is_field_char(unsigned char c) noexcept { return c == '\t' || (c >= 0x20 && c != 0x7F); }

constexpr bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
constexpr bool is_ows(char c) noexcept { return c == ' ' || c == '\t'; }

constexpr int hex_value(unsigned char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

constexpr char ascii_lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// Header names and tokens compare without regard to ASCII case (HTTP/2 proxies lowercase them).
constexpr bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

constexpr std::string_view trim_ows(std::string_view s) noexcept {
  while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
  return s;
}

// The items of a comma-separated header value ("close, TE"), each trimmed; items may be empty.
class list_items {
 public:
  constexpr explicit list_items(std::string_view value) noexcept : rest_(value) {}

  constexpr bool next(std::string_view& item) noexcept {
    if (at_end_) return false;
    const std::size_t comma = rest_.find(',');
    if (comma == std::string_view::npos) {
      item = trim_ows(rest_);
      at_end_ = true;
    } else {
      item = trim_ows(rest_.substr(0, comma));
      rest_.remove_prefix(comma + 1);
    }
    return true;
  }

 private:
  std::string_view rest_;
  bool at_end_ = false;
};

// A whole non-empty run of decimal digits that fits 64 bits.
constexpr bool parse_u64(std::string_view s, std::uint64_t& out) noexcept {
  if (s.empty()) return false;
  std::uint64_t v = 0;
  for (char c : s) {
    if (!is_digit(c)) return false;
    const auto d = static_cast<std::uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  out = v;
  return true;
}

// The decimal number that starts `s`, saturated at UINT32_MAX. With `whole`, nothing may
// follow it; otherwise it may be followed by a list or parameter separator ("40, 40;w=1").
constexpr std::optional<std::uint32_t> leading_u32(std::string_view s, bool whole) noexcept {
  std::size_t i = 0;
  std::uint32_t v = 0;
  for (; i < s.size() && is_digit(s[i]); ++i) {
    const auto d = static_cast<std::uint32_t>(s[i] - '0');
    v = v > (UINT32_MAX - d) / 10 ? UINT32_MAX : v * 10 + d;
  }
  if (i == 0) return std::nullopt;
  if (i < s.size() && (whole || !(s[i] == ',' || s[i] == ';' || is_ows(s[i])))) return std::nullopt;
  return v;
}

// The last path segment of a URI reference, without query or fragment:
// "https://host/a/captures/ID?x#y" -> "ID". Empty when the URI has no path.
constexpr std::string_view last_path_segment(std::string_view uri) noexcept {
  uri = uri.substr(0, uri.find_first_of("?#"));
  std::size_t authority = uri.find("://");
  if (authority != std::string_view::npos) {
    authority += 3;
  } else if (uri.substr(0, 2) == "//") {
    authority = 2;
  }
  if (authority != std::string_view::npos) {
    uri.remove_prefix(authority);
    const std::size_t path = uri.find('/');
    if (path == std::string_view::npos) return {};
    uri.remove_prefix(path);
  }
  const std::size_t slash = uri.rfind('/');
  return slash == std::string_view::npos ? uri : uri.substr(slash + 1);
}

}  // namespace http1
}  // namespace detail

/// Parses one HTTP/1.x response at a time into a caller's buffer.
///
///   char buffer[4096];  // the head and the body of one response
///   kom::http_response_parser parser(buffer);
///   kom::parse_status s = kom::parse_status::need_more;
///   while (s == kom::parse_status::need_more) {
///     char in[512];
///     const int got = tls_read(in, sizeof in);  // 0: the peer closed
///     std::size_t used = 0;
///     s = got > 0 ? parser.feed(in, std::size_t(got), used) : parser.finish();
///   }
///   if (s == kom::parse_status::done && parser.status() == 201) save(parser.capture_id());
///   // s == error: parser.error() says why; the connection is not reusable.
///
/// The parser keeps a pointer to the buffer: it is neither copyable nor movable. Its views
/// (reason, headers, body) point into the buffer and stay valid until reset().
class http_response_parser {
 public:
  /// Parses into `data[0, capacity)`; `data` may be null only when `capacity` is 0. The head
  /// and the decoded body must fit together. Allocates nothing.
  http_response_parser(char* data, std::size_t capacity, http_limits bounds = {}) noexcept
      : data_(data), capacity_(data ? capacity : 0), bounds_(bounds) {
    if (bounds_.max_headers > KOM_HTTP_MAX_HEADERS) bounds_.max_headers = KOM_HTTP_MAX_HEADERS;
  }

  /// Parses into all N bytes of `buffer`. Allocates nothing.
  template <std::size_t N>
  explicit http_response_parser(char (&buffer)[N], http_limits bounds = {}) noexcept
      : http_response_parser(buffer, N, bounds) {}

  http_response_parser(const http_response_parser&) = delete;
  http_response_parser& operator=(const http_response_parser&) = delete;

  // ---- input -------------------------------------------------------------------------

  /// Parses the next `size` bytes of the stream; `data` must not point into the parser's
  /// buffer except as excess() (see reset()). `consumed` is set to the bytes used: all of
  /// them while need_more; on done the bytes after the response are left unconsumed (they
  /// begin the next response; a caller expecting none may report errc::unexpected_data).
  /// After done or error nothing more is consumed. Allocates nothing.
  /// Errors: bad_status_line, bad_header, head_too_large (detail: max_head, or the capacity
  /// when smaller), too_many_headers (detail: max_headers), bad_content_length,
  /// conflicting_length, unsupported_transfer_encoding, bad_chunk, chunk_line_too_long
  /// (detail: max_chunk_line), body_too_large (detail: capacity; told as soon as a length
  /// or chunk size shows it, before the body arrives).
  parse_status feed(const char* data, std::size_t size, std::size_t& consumed) noexcept {
    consumed = 0;
    excess_size_ = 0;
    if (size == 0 || !accepting()) return state();
    const char* p = data;
    const char* const end = data + size;
    while (p != end && accepting()) {
      switch (phase_) {
        case phase::head: take_head(p, end); break;
        case phase::body_length:
        case phase::chunk_data: take_counted_body(p, end); break;
        case phase::body_until_close: take_body_until_close(p, end); break;
        default: take_framing_byte(static_cast<unsigned char>(*p++)); break;
      }
    }
    consumed = static_cast<std::size_t>(p - data);
    return state();
  }

  /// Zero-copy receive: where a transport may write the next bytes itself, and how many fit
  /// (`space`). Null with `space` 0 after done or error, or when the buffer is full; a full
  /// buffer during a chunked body may still need framing bytes: feed() them (they take no
  /// room). Allocates nothing.
  char* prepare(std::size_t& space) noexcept {
    space = 0;
    if (!accepting()) return nullptr;
    const std::size_t at = phase_ == phase::head ? head_len_ : body_end_;
    space = capacity_ - at;
    return space == 0 ? nullptr : data_ + at;
  }

  /// Parses the `size` bytes written at prepare()'s pointer, exactly as feed() would; more
  /// than prepare()'s `space` are not looked at. On done the bytes after the response stay
  /// in the buffer: excess(). Errors as feed(). Allocates nothing.
  parse_status commit(std::size_t size) noexcept {
    std::size_t space = 0;
    char* const at = prepare(space);
    if (at == nullptr) return state();
    if (size > space) size = space;  // never parse bytes prepare() did not offer
    std::size_t used = 0;
    const parse_status s = feed(at, size, used);
    excess_begin_ = static_cast<std::size_t>(at - data_) + used;
    excess_size_ = size - used;
    return s;
  }

  /// The bytes the last commit() received beyond the end of the response (the start of the
  /// next one). Empty after feed() and reset(); the view itself stays valid across reset().
  std::string_view excess() const noexcept {
    return excess_size_ == 0 ? std::string_view() : std::string_view(data_ + excess_begin_, excess_size_);
  }

  /// The peer closed the connection: completes a body that runs until the close, otherwise
  /// fails with unexpected_eof unless the response was already done. Allocates nothing.
  parse_status finish() noexcept {
    if (phase_ == phase::body_until_close) phase_ = phase::done;
    if (accepting()) fail(errc::unexpected_eof);
    return state();
  }

  /// Forgets the response to parse the next one of the same connection into the same
  /// buffer (the limits stay). Bytes left over from feed() are fed again afterwards; so may
  /// excess(), although it points into the buffer: the parser never writes ahead of the byte
  /// it reads. Allocates nothing.
  void reset() noexcept {
    phase_ = phase::head;
    head_len_ = 0;
    line_start_ = 0;
    body_end_ = 0;
    remaining_ = 0;
    line_len_ = 0;
    saw_size_digit_ = false;
    in_extension_ = false;
    status_seen_ = false;
    head_done_ = false;
    status_ = 0;
    minor_version_ = 1;
    reason_ = {};
    field_count_ = 0;
    has_length_ = false;
    chunked_ = false;
    until_close_ = false;
    content_length_ = 0;
    excess_begin_ = 0;
    excess_size_ = 0;
    error_ = {};
  }

  // ---- progress ----------------------------------------------------------------------

  /// need_more, done or error, as the last call returned.
  parse_status state() const noexcept {
    if (phase_ == phase::done) return parse_status::done;
    if (phase_ == phase::failed) return parse_status::error;
    return parse_status::need_more;
  }

  /// The error after parse_status::error (code and, for limits, the limit), else ok.
  const ::kom::error& error() const noexcept { return error_; }

  /// True once the final response's head is parsed: status and headers may be read while
  /// the body still arrives.
  bool head_complete() const noexcept { return head_done_; }

  /// Bytes of the buffer in use: the head plus the body decoded so far.
  std::size_t size() const noexcept { return head_done_ ? body_end_ : head_len_; }
  /// Size of the caller's buffer: the most head plus decoded body can take.
  std::size_t capacity() const noexcept { return capacity_; }

  // ---- status line and headers (valid once head_complete()) --------------------------

  /// The status code: 200..599 once head_complete(); 0 before a status line arrives.
  int status() const noexcept { return status_; }
  /// The reason phrase, possibly empty ("HTTP/1.1 201 " or "HTTP/1.1 201").
  std::string_view reason() const noexcept { return reason_; }
  /// The x of HTTP/1.x: 0 for HTTP/1.0, 1 for HTTP/1.1.
  int minor_version() const noexcept { return minor_version_; }
  /// The raw head in the buffer, status line to the empty line.
  std::string_view head() const noexcept { return {data_, head_len_}; }
  /// Bytes of head(); the body starts here in the buffer.
  std::size_t head_size() const noexcept { return head_len_; }

  /// Number of header lines, in arrival order; at most http_limits::max_headers.
  std::size_t header_count() const noexcept { return field_count_; }
  /// Name of header `i` as received (any case); empty when `i` is out of range.
  std::string_view header_name(std::size_t i) const noexcept { return in_table(i) ? fields_[i].name : std::string_view(); }
  /// Value of header `i` without surrounding whitespace; empty when `i` is out of range.
  std::string_view header_value(std::size_t i) const noexcept { return in_table(i) ? fields_[i].value : std::string_view(); }

  /// The value of the first header named `name` (ASCII case ignored), trimmed. Absent: an
  /// empty view whose data() is null (a present but empty value points into the buffer).
  std::string_view header(std::string_view name) const noexcept {
    for (std::size_t i = 0; i < field_count_; ++i) {
      if (detail::http1::iequals(fields_[i].name, name)) return fields_[i].value;
    }
    return {};
  }

  /// The body decoded so far: complete once done. Empty before the head is complete.
  std::string_view body() const noexcept {
    return head_done_ ? std::string_view(data_ + head_len_, body_end_ - head_len_) : std::string_view();
  }

  // ---- typed headers -------------------------------------------------------------------

  /// The id of a capture just created: the `Capture-Id` header, else the last path segment
  /// of `Location` (query and fragment stripped). Empty when neither gives one.
  std::string_view capture_id() const noexcept {
    const std::string_view id = header("Capture-Id");
    return id.empty() ? detail::http1::last_path_segment(location()) : id;
  }

  /// The id of a refund just created: the `Refund-Id` header, else the last path segment of
  /// `Location`. Empty when neither gives one.
  std::string_view refund_id() const noexcept {
    const std::string_view id = header("Refund-Id");
    return id.empty() ? detail::http1::last_path_segment(location()) : id;
  }

  /// The `Location` header (a created capture's or refund's URL); empty when absent.
  std::string_view location() const noexcept { return header("Location"); }

  /// `Klarna-Correlation-Id`: log it with every failure, Klarna's support asks for it.
  std::string_view correlation_id() const noexcept { return header("Klarna-Correlation-Id"); }

  /// The Content-Length, checked when the head completed (identical duplicates allowed);
  /// absent without one. Present on a 204 or 304 too, although they have no body.
  std::optional<std::uint64_t> content_length() const noexcept {
    return has_length_ ? std::optional<std::uint64_t>(content_length_) : std::nullopt;
  }

  /// True when the body came with Transfer-Encoding: chunked.
  bool chunked() const noexcept { return chunked_; }

  /// True when the connection cannot carry another response: a `Connection: close` token
  /// (any case, in any list), HTTP/1.0 without `keep-alive`, or a body that runs to the close.
  bool connection_close() const noexcept {
    bool close = false;
    bool keep_alive = false;
    for (std::size_t i = 0; i < field_count_; ++i) {
      if (!detail::http1::iequals(fields_[i].name, "Connection")) continue;
      detail::http1::list_items items(fields_[i].value);
      for (std::string_view token; items.next(token);) {
        close = close || detail::http1::iequals(token, "close");
        keep_alive = keep_alive || detail::http1::iequals(token, "keep-alive");
      }
    }
    return close || until_close_ || (minor_version_ == 0 && !keep_alive);
  }

  /// `Retry-After` in seconds (delta-seconds, saturated at UINT32_MAX). Absent when missing
  /// or an HTTP-date.
  std::optional<std::uint32_t> retry_after() const noexcept {
    return detail::http1::leading_u32(header("Retry-After"), true);
  }

  /// `X-Ratelimit-Limit` as Klarna sends it, e.g. "40, 40;w=1".
  std::string_view rate_limit_limit() const noexcept { return header("X-Ratelimit-Limit"); }
  /// The first number of `X-Ratelimit-Limit` (40 of "40, 40;w=1"), saturated at UINT32_MAX.
  std::optional<std::uint32_t> rate_limit_limit_value() const noexcept {
    return detail::http1::leading_u32(rate_limit_limit(), false);
  }
  /// `X-Ratelimit-Remaining`: requests left in the window (its first number).
  std::optional<std::uint32_t> rate_limit_remaining() const noexcept {
    return detail::http1::leading_u32(header("X-Ratelimit-Remaining"), false);
  }
  /// `X-Ratelimit-Reset`: seconds until the window resets (its first number).
  std::optional<std::uint32_t> rate_limit_reset() const noexcept {
    return detail::http1::leading_u32(header("X-Ratelimit-Reset"), false);
  }

 private:
  // What the next input byte is. The head goes line by line into the buffer; the body
  // states copy runs of bytes; the chunk framing states take one byte at a time and keep
  // nothing, so framing never needs room in the buffer.
  enum class phase : std::uint8_t {
    head,              // status line and header lines
    body_length,       // Content-Length bytes still to come: remaining_
    body_until_close,  // no length: everything until finish()
    chunk_size,        // hex digits of a chunk size line
    chunk_extension,   // after the digits: whitespace and ";name=value" up to the line end
    chunk_size_lf,     // CR of the size line seen
    chunk_data,        // remaining_ bytes of the current chunk
    chunk_data_cr,     // the line end after chunk data
    chunk_data_lf,
    trailer_start,     // a trailer line or the empty line that ends the body
    trailer_name,
    trailer_value,
    trailer_lf,        // CR of a trailer line seen
    last_lf,           // CR of the final empty line seen
    done,
    failed,
  };

  struct field {
    std::string_view name;
    std::string_view value;
  };

  // Also against the array's size, which field_count_ never exceeds: lets compilers see
  // that a constant index beyond it reads nothing (GCC's -Warray-bounds).
  bool in_table(std::size_t i) const noexcept { return i < field_count_ && i < KOM_HTTP_MAX_HEADERS; }

  bool accepting() const noexcept { return phase_ != phase::done && phase_ != phase::failed; }

  void fail(errc code, std::size_t number = 0) noexcept {
    error_ = ::kom::error(code, static_cast<std::int64_t>(number));
    phase_ = phase::failed;
  }

  // The head may use neither more than its limit nor more than the buffer.
  std::size_t head_limit() const noexcept { return bounds_.max_head < capacity_ ? bounds_.max_head : capacity_; }

  // Copies input into the head up to and including the next LF, then handles that line.
  void take_head(const char*& p, const char* end) noexcept {
    const std::size_t limit = head_limit();
    const std::size_t room = limit - head_len_;
    const auto available = static_cast<std::size_t>(end - p);
    const std::size_t scan = available < room ? available : room;
    const void* const lf = scan == 0 ? nullptr : std::memchr(p, '\n', scan);
    const std::size_t take = lf ? static_cast<std::size_t>(static_cast<const char*>(lf) - p) + 1 : scan;
    // memmove: after commit() (or excess() fed back) the input lies in the buffer itself,
    // at or after the place it is copied to.
    if (take != 0) std::memmove(data_ + head_len_, p, take);
    head_len_ += take;
    p += take;
    if (lf != nullptr) return end_head_line();
    if (available > room) fail(errc::head_too_large, limit);
  }

  // A complete line is in the buffer at [line_start_, head_len_), its LF last. A CR may
  // only come right before the LF: anywhere else the character checks refuse it.
  void end_head_line() noexcept {
    std::string_view line(data_ + line_start_, head_len_ - line_start_ - 1);
    line_start_ = head_len_;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!status_seen_) return parse_status_line(line);
    if (line.empty()) return end_head();
    parse_header_line(line);
  }

  // "HTTP/1.x NNN reason"; the reason may be empty and its space missing.
  void parse_status_line(std::string_view line) noexcept {
    using detail::http1::is_digit;
    if (line.size() < 12 || line.substr(0, 7) != "HTTP/1." || !is_digit(line[7]) || line[8] != ' ' ||
        !is_digit(line[9]) || !is_digit(line[10]) || !is_digit(line[11]) ||
        (line.size() > 12 && line[12] != ' ')) {
      return fail(errc::bad_status_line);
    }
    const int code = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
    if (code < 100 || code > 599) return fail(errc::bad_status_line);
    const std::string_view reason = line.size() > 13 ? line.substr(13) : line.substr(12, 0);
    for (char c : reason) {
      if (!detail::http1::is_field_char(static_cast<unsigned char>(c))) return fail(errc::bad_status_line);
    }
    status_ = code;
    minor_version_ = line[7] - '0';
    reason_ = reason;
    status_seen_ = true;
  }

  // "name: value". A name must be a token, so obs-fold (a line starting with whitespace),
  // a space before the colon, a missing colon, CR and NUL all end here as bad_header.
  void parse_header_line(std::string_view line) noexcept {
    const std::size_t colon = line.find(':');
    if (colon == 0 || colon == std::string_view::npos) return fail(errc::bad_header);
    const std::string_view name = line.substr(0, colon);
    for (char c : name) {
      if (!detail::http1::is_tchar(static_cast<unsigned char>(c))) return fail(errc::bad_header);
    }
    const std::string_view value = detail::http1::trim_ows(line.substr(colon + 1));
    for (char c : value) {
      if (!detail::http1::is_field_char(static_cast<unsigned char>(c))) return fail(errc::bad_header);
    }
    if (field_count_ == bounds_.max_headers) return fail(errc::too_many_headers, bounds_.max_headers);
    fields_[field_count_++] = {name, value};
  }

  // The empty line: skip an interim response, or settle how the body is framed. The
  // framing headers of a 204 or 304 are checked too, although they frame nothing.
  void end_head() noexcept {
    if (status_ < 200) {
      // 100 Continue, 103 Early Hints (and 101, which kom never asks for): the final response
      // follows; its head reuses the room.
      head_len_ = 0;
      line_start_ = 0;
      field_count_ = 0;
      status_seen_ = false;
      status_ = 0;
      reason_ = {};
      return;
    }
    if (const errc e = read_framing_headers(); e != errc::ok) return fail(e);
    head_done_ = true;
    body_end_ = head_len_;
    if (status_ == 204 || status_ == 304) {
      phase_ = phase::done;
    } else if (chunked_) {
      begin_chunk_line();
    } else if (has_length_) {
      if (content_length_ > capacity_ - body_end_) return fail(errc::body_too_large, capacity_);
      remaining_ = content_length_;
      phase_ = remaining_ == 0 ? phase::done : phase::body_length;
    } else {
      until_close_ = true;
      phase_ = phase::body_until_close;
    }
  }

  // Content-Length (a list of identical values is one value) and Transfer-Encoding, of
  // which only a single "chunked" is supported. Both at once is a smuggling pattern.
  errc read_framing_headers() noexcept {
    using detail::http1::iequals;
    bool transfer_encoding = false;
    for (std::size_t i = 0; i < field_count_; ++i) {
      detail::http1::list_items items(fields_[i].value);
      std::string_view item;
      if (iequals(fields_[i].name, "Content-Length")) {
        while (items.next(item)) {
          std::uint64_t n = 0;
          if (!detail::http1::parse_u64(item, n)) return errc::bad_content_length;
          if (has_length_ && n != content_length_) return errc::conflicting_length;
          has_length_ = true;
          content_length_ = n;
        }
      } else if (iequals(fields_[i].name, "Transfer-Encoding")) {
        transfer_encoding = true;
        while (items.next(item)) {
          if (item.empty()) continue;
          if (chunked_ || !iequals(item, "chunked")) return errc::unsupported_transfer_encoding;
          chunked_ = true;
        }
      }
    }
    if (transfer_encoding && !chunked_) return errc::unsupported_transfer_encoding;
    if (chunked_ && has_length_) return errc::conflicting_length;
    return errc::ok;
  }

  // Content-Length bytes, or the data of one chunk. Their room was checked up front.
  void take_counted_body(const char*& p, const char* end) noexcept {
    const auto available = static_cast<std::size_t>(end - p);
    const std::size_t n = remaining_ < available ? static_cast<std::size_t>(remaining_) : available;
    std::memmove(data_ + body_end_, p, n);
    body_end_ += n;
    p += n;
    remaining_ -= n;
    if (remaining_ == 0) phase_ = phase_ == phase::body_length ? phase::done : phase::chunk_data_cr;
  }

  void take_body_until_close(const char*& p, const char* end) noexcept {
    const std::size_t room = capacity_ - body_end_;
    if (room == 0) return fail(errc::body_too_large, capacity_);
    const auto available = static_cast<std::size_t>(end - p);
    const std::size_t n = available < room ? available : room;
    std::memmove(data_ + body_end_, p, n);
    body_end_ += n;
    p += n;
  }

  void begin_chunk_line() noexcept {
    phase_ = phase::chunk_size;
    remaining_ = 0;
    line_len_ = 0;
    saw_size_digit_ = false;
    in_extension_ = false;
  }

  // Counts a byte of the chunk size line (line end excluded) against its limit.
  void count_chunk_line() noexcept {
    if (++line_len_ > bounds_.max_chunk_line) fail(errc::chunk_line_too_long, bounds_.max_chunk_line);
  }

  // Trailer lines count against the head limit: they are a header section too.
  void count_trailer() noexcept {
    if (++line_len_ > bounds_.max_head) fail(errc::head_too_large, bounds_.max_head);
  }

  void end_chunk_line() noexcept {
    if (remaining_ == 0) {  // the last chunk; trailers follow
      phase_ = phase::trailer_start;
      line_len_ = 0;
    } else if (remaining_ > capacity_ - body_end_) {
      fail(errc::body_too_large, capacity_);
    } else {
      phase_ = phase::chunk_data;
    }
  }

  // One byte of chunk framing: size lines, the CRLF after data, trailers. Bare LF is
  // accepted wherever CRLF belongs; a CR must be followed by LF.
  void take_framing_byte(unsigned char c) noexcept {
    switch (phase_) {
      case phase::chunk_size: {
        const int digit = detail::http1::hex_value(c);
        if (digit >= 0) {
          if ((remaining_ >> 60) != 0) return fail(errc::bad_chunk);  // a 65th bit
          remaining_ = (remaining_ << 4) | static_cast<std::uint64_t>(digit);
          saw_size_digit_ = true;
          return count_chunk_line();
        }
        if (!saw_size_digit_) return fail(errc::bad_chunk);
        phase_ = phase::chunk_extension;
        return take_framing_byte(c);
      }
      case phase::chunk_extension:
        // Extensions are ignored: after the size only whitespace, then ';' and any field text.
        if (c == '\r') {
          phase_ = phase::chunk_size_lf;
          return;
        }
        if (c == '\n') return end_chunk_line();
        if (c == ';') {
          in_extension_ = true;
        } else if (in_extension_ ? !detail::http1::is_field_char(c) : !detail::http1::is_ows(static_cast<char>(c))) {
          return fail(errc::bad_chunk);
        }
        return count_chunk_line();
      case phase::chunk_size_lf:
        if (c != '\n') return fail(errc::bad_chunk);
        return end_chunk_line();
      case phase::chunk_data_cr:
        if (c == '\r') {
          phase_ = phase::chunk_data_lf;
          return;
        }
        if (c != '\n') return fail(errc::bad_chunk);
        return begin_chunk_line();
      case phase::chunk_data_lf:
        if (c != '\n') return fail(errc::bad_chunk);
        return begin_chunk_line();
      case phase::trailer_start:
        if (c == '\r') {
          phase_ = phase::last_lf;
        } else if (c == '\n') {
          phase_ = phase::done;
          return;
        } else if (detail::http1::is_tchar(c)) {
          phase_ = phase::trailer_name;
        } else {
          return fail(errc::bad_chunk);  // obs-fold or junk
        }
        return count_trailer();
      case phase::trailer_name:
        if (c == ':') {
          phase_ = phase::trailer_value;
        } else if (!detail::http1::is_tchar(c)) {
          return fail(errc::bad_chunk);
        }
        return count_trailer();
      case phase::trailer_value:
        if (c == '\r') {
          phase_ = phase::trailer_lf;
        } else if (c == '\n') {
          phase_ = phase::trailer_start;
        } else if (!detail::http1::is_field_char(c)) {
          return fail(errc::bad_chunk);
        }
        return count_trailer();
      case phase::trailer_lf:
        if (c != '\n') return fail(errc::bad_chunk);
        phase_ = phase::trailer_start;
        return count_trailer();
      case phase::last_lf:
        if (c != '\n') return fail(errc::bad_chunk);
        phase_ = phase::done;
        return;
      default:
        return;  // not a framing state: feed() never calls this then
    }
  }

  char* data_;
  std::size_t capacity_;
  http_limits bounds_;

  phase phase_ = phase::head;
  std::size_t head_len_ = 0;    // bytes of the head in the buffer so far
  std::size_t line_start_ = 0;  // where the head line being received starts
  std::size_t body_end_ = 0;    // end of the decoded body; valid once head_done_
  std::uint64_t remaining_ = 0; // body bytes to come, or the chunk size being read
  std::size_t line_len_ = 0;    // bytes of the chunk size line or of the trailers so far
  bool saw_size_digit_ = false;
  bool in_extension_ = false;

  bool status_seen_ = false;
  bool head_done_ = false;
  int status_ = 0;
  int minor_version_ = 1;
  std::string_view reason_;
  field fields_[KOM_HTTP_MAX_HEADERS];
  std::size_t field_count_ = 0;

  bool has_length_ = false;
  bool chunked_ = false;
  bool until_close_ = false;
  std::uint64_t content_length_ = 0;

  std::size_t excess_begin_ = 0;
  std::size_t excess_size_ = 0;
  ::kom::error error_;
};

}  // namespace kom

#endif  // KOM_HTTP_RESPONSE_HPP
