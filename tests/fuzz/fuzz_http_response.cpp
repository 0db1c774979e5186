// libFuzzer target for kom::http_response_parser.
//
// The first input byte chooses how the rest arrives: piece size (1..16, or all at once),
// feed() or prepare()/commit(), and small or default limits; the second chooses the buffer
// size. The rest is one or more responses on one connection (seeds: a fixture with two
// such bytes in front). The buffer is heap-allocated
// at exactly its size, so AddressSanitizer sees any byte written or read past it; the
// input is read through libFuzzer's own exactly sized copy. Every accessor is touched, and
// the parser's promises are checked with __builtin_trap().
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>

#include "kom/http_response.hpp"

namespace {

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

  std::size_t at = 0;
  int responses = 0;
  while (at < input_size && responses < 64) {
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
      ++responses;
      p.reset();
    }
  }
  const kom::parse_status end = p.finish();
  require(end != kom::parse_status::need_more);
  sink = sink + touch(p, buffer.get(), capacity);
  (void)sink;
  return 0;
}
