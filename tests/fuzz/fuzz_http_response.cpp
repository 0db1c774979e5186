// libFuzzer target for kom::http_response_parser, held to Boost.Beast's response parser.
//
// The first input byte chooses how the rest arrives: piece size (1..16, or all at once),
// feed() or prepare()/commit(), and small or default limits; the second chooses the buffer
// size. The rest is one or more responses on one connection (seeds: a fixture with two
// such bytes in front). The buffer is heap-allocated at exactly its size, so AddressSanitizer
// sees any byte written or read past it; the input is read through libFuzzer's own exactly
// sized copy. Every accessor is touched, and the parser's promises are checked with
// __builtin_trap().
//
// The same bytes are then read whole by http::response_parser<http::string_body> (Beast,
// with no header limit, bodies limited to the input's size), one response after another as kom reads them, interim 1xx
// responses skipped. Every response both complete must be the same: status, version, reason,
// the final head's header lines (names and values, in order; Beast keeps the lines of one
// name together, after the first of them), decoded body, chunked, Content-Length and the
// bytes it spans. Where one refuses a response the other completes, only these differences
// are allowed; any other traps:
// - kom refuses, within its limits: a head (each 1xx head counted alone) longer than
//   min(max_head, buffer size), more header lines than max_headers, a chunk size line
//   longer than max_chunk_line, chunk trailers longer than max_head, head and body beyond
//   the buffer.
// - kom refuses, stricter by design: a status outside 100..599 (Beast takes any three
//   digits); obs-fold in a head or in trailers (Beast joins the lines); any Transfer-Encoding
//   but a single "chunked" (Beast reads "gzip" to the close, "gzip, chunked" as chunked);
//   Content-Length together with Transfer-Encoding.
// - Beast refuses, kom lenient by design: a bare LF where CRLF belongs; a status line
//   without the space after the code ("HTTP/1.1 200"); HTTP/1.x for x above 1; chunk
//   extensions, which kom skips unparsed (Beast checks their grammar); an empty
//   Transfer-Encoding line besides the "chunked" one (Beast refuses any second line); a
//   Connection header that is not a token list (kom only looks for "close" and
//   "keep-alive"); Content-Length or Transfer-Encoding in a 1xx head, whose framing kom does
//   not read, or in trailers, whose contents kom skips (Beast checks them as header lines).
// A stream that ends right after a complete response ends cleanly for both; one that ends
// inside a response (a 1xx included) is an error for both, unless the body runs to the close.
#include <boost/beast/http.hpp>

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kom/http_response.hpp"

#if !defined(__cpp_exceptions) || defined(BOOST_NO_EXCEPTIONS)
#error "Beast's parser here is built with exceptions, like the rest of this target"
#endif

namespace {

namespace http = boost::beast::http;

void require(bool ok) {
  if (!ok) __builtin_trap();
}

bool inside(std::string_view v, const char* begin, std::size_t size) {
  return v.empty() || (v.data() >= begin && v.data() + v.size() <= begin + size);
}

// Reads everything the parser exposes, and checks that every view lies in the buffer.
std::size_t touch(const kom::http_response_parser& p, const char* buffer, std::size_t capacity) {
  std::size_t sum = 0;
  const auto view = [&](std::string_view v) {
    require(inside(v, buffer, capacity));
    for (char c : v) sum += static_cast<unsigned char>(c);
  };
  view(p.reason());
  view(p.head());
  view(p.body());
  for (std::size_t i = 0; i <= p.header_count(); ++i) {
    view(p.header_name(i));
    view(p.header_value(i));
  }
  view(p.header("Content-Type"));
  view(p.capture_id());
  view(p.location());
  view(p.correlation_id());
  view(p.rate_limit_limit());
  view(p.excess());
  sum += static_cast<std::size_t>(p.status()) + static_cast<std::size_t>(p.minor_version());
  sum += p.content_length().value_or(0) + p.chunked() + p.connection_close() + p.head_complete();
  sum += p.retry_after().value_or(0) + p.rate_limit_limit_value().value_or(0);
  sum += p.rate_limit_remaining().value_or(0) + p.rate_limit_reset().value_or(0);
  sum += static_cast<std::size_t>(p.error().code());
  require(p.size() <= capacity);
  require(p.head_size() <= p.size());
  if (p.state() == kom::parse_status::done) require(p.head_complete() && p.status() >= 200 && p.status() <= 599);
  if (p.state() == kom::parse_status::error) require(!p.error().ok());
  return sum;
}

// ---- one response as each parser read it ---------------------------------------------------

struct message {
  int status = 0;
  int minor = 0;
  std::string reason;
  std::vector<std::pair<std::string, std::string>> fields;  // of the final head
  std::string body;
  bool chunked = false;
  std::optional<std::uint64_t> content_length;
  std::size_t begin = 0, end = 0;  // the bytes it spans in the input, its 1xx included
  // Only from Beast's reading: what kom's limits apply to.
  std::size_t final_head = 0;          // bytes of the final head
  std::size_t head_end = 0;            // where the final head ends in the input
  std::size_t longest_head = 0;        // of each head, 1xx included
  std::size_t most_fields = 0;         // header lines of a head, 1xx included
  std::size_t longest_chunk_line = 0;  // size digits and extensions, line end excluded
  std::size_t trailers = 0;            // bytes after the last chunk's line
};

struct reading {
  std::vector<message> messages;
  bool clean = false;  // the input ended right after a complete response
  bool capped = false; // stopped at max_responses with input left
};

constexpr std::size_t max_responses = 64;

struct beast_reading : reading {
  boost::beast::error_code error;  // why it stopped, unless clean
  std::size_t failed_head = 0;     // where the head of the response it stopped in begins
  bool failed_in_body = false;     // it stopped after that head
};

// The head that starts at `at`, up to and including its empty line (CRLF line ends).
std::string_view head_at(std::string_view in, std::size_t at) {
  const std::size_t end = in.find("\r\n\r\n", at);
  return in.substr(at, end == std::string_view::npos ? std::string_view::npos : end + 4 - at);
}

beast_reading read_with_beast(std::string_view in) {
  beast_reading r;
  std::size_t at = 0;
  while (r.messages.size() < max_responses) {
    if (at == in.size()) {
      r.clean = true;
      return r;
    }
    message m;
    m.begin = at;
    bool final_response = false;
    while (!final_response) {
      if (at == in.size()) {  // the input ended after a 1xx
        r.error = http::error::partial_message;
        return r;
      }
      http::response_parser<http::string_body> p;
      p.header_limit(UINT32_MAX);
      // No body longer than the input can complete; the limit also keeps string_body from
      // reserving a huge Content-Length up front.
      p.body_limit(in.size());
      p.eager(false);  // one step at a time: the head, then each chunk line and chunk data
      bool chunk_line = false;
      auto on_chunk_header = [&](std::uint64_t, boost::beast::string_view, boost::beast::error_code&) {
        chunk_line = true;
      };
      p.on_chunk_header(on_chunk_header);
      bool first_chunk = true;
      r.failed_head = at;
      boost::beast::error_code ec;
      while (!p.is_done()) {
        const std::size_t step = at;
        const bool in_head = !p.is_header_done();
        chunk_line = false;
        const std::size_t n = p.put(boost::asio::const_buffer(in.data() + at, in.size() - at), ec);
        at += n;
        if (ec == http::error::need_more || (!ec && n == 0)) {
          // All the input was given: it ends here.
          p.put_eof(ec);
          if (!ec) break;
        }
        if (ec) {
          r.error = ec;
          r.failed_in_body = p.is_header_done();
          return r;
        }
        if (in_head && p.is_header_done()) {
          // Now, before trailers join the header lines.
          m.fields.clear();
          for (const auto& f : p.get()) m.fields.emplace_back(std::string(f.name_string()), std::string(f.value()));
          m.longest_head = std::max(m.longest_head, n);
          m.most_fields = std::max(m.most_fields, m.fields.size());
          m.final_head = n;
          m.head_end = at;
        }
        if (chunk_line) {
          // The step holds the CRLF after the previous chunk's data, the chunk line and,
          // for the last chunk, the trailers.
          const std::size_t line = step + (first_chunk ? 0 : 2);
          const std::size_t lf = in.find('\n', line);
          require(lf != std::string_view::npos && lf < at);
          m.longest_chunk_line = std::max(m.longest_chunk_line, lf - 1 - line);
          if (p.is_done()) m.trailers = at - (lf + 1);
          first_chunk = false;
        }
      }
      if (p.get().result_int() / 100 == 1) continue;
      final_response = true;
      const auto& h = p.get();
      m.status = h.result_int();
      m.minor = static_cast<int>(h.version()) - 10;
      m.reason = std::string(h.reason());
      m.body = h.body();
      m.chunked = p.chunked();
      if (const auto length = p.content_length()) m.content_length = *length;
    }
    m.end = at;
    r.messages.push_back(std::move(m));
  }
  r.capped = true;
  return r;
}

message kom_message(const kom::http_response_parser& p, std::size_t begin, std::size_t end) {
  message m;
  m.status = p.status();
  m.minor = p.minor_version();
  m.reason = std::string(p.reason());
  for (std::size_t i = 0; i < p.header_count(); ++i) {
    m.fields.emplace_back(std::string(p.header_name(i)), std::string(p.header_value(i)));
  }
  m.body = std::string(p.body());
  m.chunked = p.chunked();
  m.content_length = p.content_length();
  m.begin = begin;
  m.end = end;
  return m;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// kom's header lines in the order Beast's fields keep them: a line whose name came before
// (in any case) goes right after the last line of that name, others at the end.
std::vector<std::pair<std::string, std::string>> grouped(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& f : fields) {
    auto at = out.end();
    for (auto it = out.begin(); it != out.end(); ++it) {
      if (iequals(it->first, f.first)) at = it + 1;
    }
    out.insert(at, f);
  }
  return out;
}

void same(const message& k, const message& b) {
  require(k.status == b.status && k.minor == b.minor);
  // Beast's reason() gives the status's own text for an empty reason.
  require(k.reason == b.reason ||
          (k.reason.empty() && b.reason == std::string(http::obsolete_reason(static_cast<http::status>(b.status)))));
  require(grouped(k.fields) == b.fields);
  require(k.body == b.body);
  require(k.chunked == b.chunked && k.content_length == b.content_length);
  require(k.begin == b.begin && k.end == b.end);
}

// ---- allowed differences (see the top of this file) ----------------------------------------

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool has_field(const message& m, std::string_view name) {
  return std::any_of(m.fields.begin(), m.fields.end(), [&](const auto& f) { return iequals(f.first, name); });
}

// Lines continued with leading whitespace (obs-fold) in `text`.
bool folded(std::string_view text) {
  return text.find("\n ") != std::string_view::npos || text.find("\n\t") != std::string_view::npos;
}

// Beast completed `b`; kom refused it with `e`.
bool kom_may_refuse(kom::errc e, const message& b, std::string_view in, const kom::http_limits& limits,
                    std::size_t capacity) {
  using kom::errc;
  const std::size_t head_limit = std::min(limits.max_head, capacity);
  switch (e) {
    case errc::head_too_large:
      return b.longest_head > head_limit || (b.chunked && b.trailers > limits.max_head);
    case errc::too_many_headers: return b.most_fields > limits.max_headers;
    case errc::chunk_line_too_long: return b.longest_chunk_line > limits.max_chunk_line;
    case errc::body_too_large: return b.final_head + b.body.size() > capacity;
    case errc::bad_status_line: return b.status < 100 || b.status > 599;
    case errc::bad_header: return folded(in.substr(b.begin, b.head_end - b.begin));
    case errc::bad_chunk: return b.chunked && folded(in.substr(b.end - b.trailers, b.trailers));
    case errc::conflicting_length: return has_field(b, "Content-Length") && has_field(b, "Transfer-Encoding");
    case errc::unsupported_transfer_encoding: {
      // Anything but one "chunked" item over all Transfer-Encoding lines (empty items aside).
      std::vector<std::string> items;
      for (const auto& [name, value] : b.fields) {
        if (!iequals(name, "Transfer-Encoding")) continue;
        std::string_view rest = value;
        for (;;) {
          const std::size_t comma = rest.find(',');
          std::string_view item = rest.substr(0, comma);
          while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
          while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
          if (!item.empty()) items.emplace_back(item);
          if (comma == std::string_view::npos) break;
          rest.remove_prefix(comma + 1);
        }
      }
      return has_field(b, "Transfer-Encoding") && !(items.size() == 1 && iequals(items[0], "chunked"));
    }
    default: return false;
  }
}

// Whether a response kom read ends a line of its framing with a bare LF: a line of a head
// (1xx heads included) or, when chunked, a chunk size line, the line end after chunk data or
// a trailer line. Walks the framing the way kom accepts it; chunk data is skipped by size.
bool bare_lf(std::string_view m, bool chunked) {
  std::size_t at = 0;
  // One line from `at`; false when it ends with a bare LF.
  const auto line = [&](std::string_view& text) {
    const std::size_t lf = m.find('\n', at);
    if (lf == std::string_view::npos) return true;
    text = m.substr(at, lf - at);
    at = lf + 1;
    if (text.empty() || text.back() != '\r') return false;
    text.remove_suffix(1);
    return true;
  };
  std::string_view text;
  for (bool interim = true; interim;) {
    if (!line(text)) return true;
    interim = text.size() > 9 && text[9] == '1';
    do {
      if (!line(text)) return true;
    } while (!text.empty() && at < m.size());
  }
  if (!chunked) return false;
  for (;;) {
    if (!line(text)) return true;
    std::uint64_t size = 0;
    for (std::size_t i = 0; i < text.size() && std::isxdigit(static_cast<unsigned char>(text[i])); ++i) {
      size = size * 16 + std::stoull(std::string(1, text[i]), nullptr, 16);
    }
    if (size == 0) break;
    at += size;
    if (at >= m.size()) return false;
    if (m[at] == '\n') return true;
    at += 2;
  }
  do {
    if (!line(text)) return true;
  } while (!text.empty() && at < m.size());
  return false;
}

// kom completed `k`; Beast refused it with `ec`, in the head that begins at `failed_head`
// or (`in_body`) after it.
bool beast_may_refuse(const boost::beast::error_code& ec, std::size_t failed_head, bool in_body, const message& k,
                      std::string_view in) {
  if (bare_lf(in.substr(k.begin, k.end - k.begin), k.chunked)) return true;
  // Each head up to the one Beast refused (1xx heads first).
  for (std::size_t at = k.begin; at <= failed_head && at < k.end;) {
    // "HTTP/1.1 200" with nothing after, or HTTP/1.2..9.
    const std::string_view line = in.substr(at, in.find("\r\n", at) - at);
    if (line.size() == 12 || (line.size() > 7 && line[7] > '1')) return true;
    const std::string_view head = head_at(in, at);
    if (lower(head).find("connection:") != std::string::npos && ec == http::error::bad_value) return true;
    at += head.size();
  }
  if (k.chunked && ec == http::error::bad_chunk_extension) return true;
  // A Transfer-Encoding line after the one with "chunked": kom ignores empty items, Beast
  // refuses any second line.
  if (k.chunked && ec == http::error::bad_transfer_encoding &&
      std::count_if(k.fields.begin(), k.fields.end(), [](const auto& f) { return iequals(f.first, "Transfer-Encoding"); }) > 1) {
    return true;
  }
  // Beast applies its header checks to trailers too; kom skips their contents.
  const bool framing_field = ec == http::error::bad_content_length || ec == http::error::multiple_content_length ||
                             ec == http::error::bad_transfer_encoding || ec == http::error::bad_value;
  if (k.chunked && in_body && framing_field) return true;
  // Beast checks Content-Length and Transfer-Encoding in a 1xx head, which kom skips.
  const bool interim = in.compare(failed_head, 7, "HTTP/1.") == 0 && failed_head + 9 < in.size() &&
                       in[failed_head + 9] == '1' && failed_head < k.end;
  return interim && (ec == http::error::bad_content_length || ec == http::error::multiple_content_length ||
                     ec == http::error::bad_transfer_encoding);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const unsigned mode = data[0];
  const std::size_t step = (mode & 0x0F) == 0 ? SIZE_MAX : (mode & 0x0F);
  const bool in_place = (mode & 0x10) != 0;
  kom::http_limits bounds;
  if ((mode & 0x20) != 0) {
    bounds.max_head = 96;
    bounds.max_headers = 3;
    bounds.max_chunk_line = 8;
  }
  const std::size_t capacity = (mode & 0x40) != 0 ? std::size_t{data[1]} : std::size_t{data[1]} * 16;
  const char* const input = reinterpret_cast<const char*>(data + 2);
  const std::size_t input_size = size - 2;

  std::unique_ptr<char[]> buffer(capacity == 0 ? nullptr : new char[capacity]);
  kom::http_response_parser p(buffer.get(), capacity, bounds);
  volatile std::size_t sink = 0;
  reading kom_read;
  std::size_t last_end = 0;

  std::size_t at = 0;
  while (at < input_size && kom_read.messages.size() < max_responses) {
    std::size_t n = input_size - at;
    if (n > step) n = step;
    std::size_t used = 0;
    kom::parse_status s = kom::parse_status::need_more;
    std::size_t space = 0;
    char* to = in_place ? p.prepare(space) : nullptr;
    if (to != nullptr) {
      require(space <= capacity && to >= buffer.get() && to + space <= buffer.get() + capacity);
      if (n > space) n = space;
      std::memcpy(to, input + at, n);
      s = p.commit(n);
      require(p.excess().size() <= n);
      used = n - p.excess().size();
    } else {
      s = p.feed(input + at, n, used);
    }
    require(used <= n);
    if (s == kom::parse_status::need_more) require(used == n);
    at += used;
    if (s == kom::parse_status::need_more) continue;
    sink = sink + touch(p, buffer.get(), capacity);
    if (s == kom::parse_status::error) break;
    if (s == kom::parse_status::done) {
      // Keep-alive: the next response starts with the bytes not consumed.
      kom_read.messages.push_back(kom_message(p, last_end, at));
      last_end = at;
      p.reset();
    }
  }
  kom_read.capped = kom_read.messages.size() == max_responses && at < input_size;
  const kom::parse_status end = p.finish();
  require(end != kom::parse_status::need_more);
  sink = sink + touch(p, buffer.get(), capacity);
  (void)sink;
  if (end == kom::parse_status::done) {
    kom_read.messages.push_back(kom_message(p, last_end, at));
    kom_read.clean = true;
  } else {
    kom_read.clean = p.error().code() == kom::errc::unexpected_eof && at == last_end;
  }

  // Beast's reading of the same bytes.
  const std::string_view in(input, input_size);
  const beast_reading beast = read_with_beast(in);
  const std::size_t common = std::min(kom_read.messages.size(), beast.messages.size());
  for (std::size_t i = 0; i < common; ++i) same(kom_read.messages[i], beast.messages[i]);
  if (kom_read.capped || beast.capped) return 0;
  if (kom_read.messages.size() == beast.messages.size()) {
    // Both read the same responses: both end cleanly, or both refuse what follows.
    require(kom_read.clean == beast.clean);
  } else if (kom_read.messages.size() < beast.messages.size()) {
    require(kom_may_refuse(p.error().code(), beast.messages[common], in, bounds, capacity));
  } else {
    require(beast_may_refuse(beast.error, beast.failed_head, beast.failed_in_body, kom_read.messages[common], in));
  }
  return 0;
}
