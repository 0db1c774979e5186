#include "kom/http_response.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "support/alloc_counter.hpp"
#include "support/fixtures.hpp"
#include "support/guard_page.hpp"
#include "support/json_canon.hpp"

namespace {

using kom::errc;
using kom::parse_status;

// Raw responses under tests/fixtures/http/, CRLF line ends, byte for byte as a server sends them.
const char* const fixture_names[] = {
    "capture_created_201.http",                // captureOrder: Capture-Id, Location, correlation id
    "capture_created_location_only_201.http",  // captureOrder without Capture-Id
    "shipping_info_204.http",                  // appendShippingInfo: 204, no length
    "get_capture_200.http",                    // getCapture as nginx frames it (Content-Length)
    "get_capture_200_chunked.http",            // the same body in three chunks, an extension, a trailer
    "error_404.http",                          // NO_SUCH_ORDER
    "error_429.http",                          // TOO_MANY_REQUESTS with Retry-After and X-Ratelimit-*
    "continue_then_201.http",                  // 100 Continue, then the 201
    "lowercase_h2_proxy_201.http",             // header names lowercased by an HTTP/2 proxy
    "read_until_close_200.http",               // HTTP/1.0, body delimited by the close
};

std::string fixture(std::string_view name) { return kom_test::read_fixture("http/" + std::string(name)); }

const std::string capture_id = "4ba29b50-be7b-44f5-a492-113e6a865e22";
const std::string capture_location =
    "https://api.klarna.com/ordermanagement/v1/orders/f3392f8b-6116-4073-ab96-e330819e2c07/captures/" + capture_id;

// Klarna's documented getCapture sample, compact, as the two get_capture fixtures carry it.
const std::string capture_json =
    R"({"capture_id":"5b33ed47-79d0-4d76-99ea-4afaa7c8e552","klarna_reference":"4K7Q6QF6-1",)"
    R"("captured_amount":6000,"captured_at":"2017-01-10T10:31:17.973Z","description":"Shipped the full order",)"
    R"("order_lines":[{"reference":"123050","type":"physical","quantity":10,"quantity_unit":"kg",)"
    R"("name":"Tomatoes","total_amount":6000,"unit_price":600,"total_discount_amount":0,"tax_rate":2500,)"
    R"("total_tax_amount":1200}],"refunded_amount":0,)"
    R"("billing_address":{"given_name":"John","family_name":"Doe","title":"Mr","street_address":"123 Fake St",)"
    R"("postal_code":"12345","city":"New York","region":"NY","country":"US","email":"john@doe.com","phone":"123456"},)"
    R"("shipping_address":{"given_name":"John","family_name":"Doe","title":"Mr","street_address":"123 Fake St",)"
    R"("postal_code":"12345","city":"New York","region":"NY","country":"US","email":"john@doe.com","phone":"123456"},)"
    R"("shipping_info":[{"shipping_company":"DHL US","tracking_number":"1234567890",)"
    R"("return_shipping_company":"UPS","return_tracking_number":"112233445566778899"}]})";

// A response from head lines (CRLF added) and a body.
std::string response(std::initializer_list<std::string_view> head_lines, std::string_view body = {}) {
  std::string out;
  for (std::string_view line : head_lines) {
    out += line;
    out += "\r\n";
  }
  out += "\r\n";
  out += body;
  return out;
}

// Everything a parse produced, copied out of the parser so that two parses compare with ==.
struct outcome {
  parse_status status = parse_status::need_more;
  errc code = errc::ok;
  std::int64_t detail = 0;
  std::size_t consumed = 0;
  std::size_t size = 0;  // head and body in the buffer
  int http_status = 0;
  int minor_version = 0;
  std::string reason;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string capture_id;
  std::string location;
  std::string correlation_id;
  std::optional<std::uint64_t> content_length;
  bool chunked = false;
  bool connection_close = false;
  std::optional<std::uint32_t> retry_after;
  std::string rate_limit_limit;
  std::optional<std::uint32_t> rate_limit_limit_value;
  std::optional<std::uint32_t> rate_limit_remaining;
  std::optional<std::uint32_t> rate_limit_reset;

  auto tie() const {
    return std::tie(status, code, detail, consumed, size, http_status, minor_version, reason, headers, body,
                    capture_id, location, correlation_id, content_length, chunked, connection_close, retry_after,
                    rate_limit_limit, rate_limit_limit_value, rate_limit_remaining, rate_limit_reset);
  }
  bool operator==(const outcome& o) const { return tie() == o.tie(); }
  bool ok() const { return status == parse_status::done; }
};

const char* status_name(parse_status s) {
  switch (s) {
    case parse_status::need_more: return "need_more";
    case parse_status::done: return "done";
    case parse_status::error: return "error";
  }
  return "?";
}

template <class T>
void print_optional(std::ostream& os, const char* name, const std::optional<T>& v) {
  os << ' ' << name << '=';
  if (v) os << *v;
  else os << "absent";
}

std::ostream& operator<<(std::ostream& os, const outcome& o) {
  os << status_name(o.status) << " (" << kom::rule_text(o.code) << ", detail " << o.detail << ") consumed "
     << o.consumed << " size " << o.size << " | HTTP/1." << o.minor_version << ' ' << o.http_status << " '" << o.reason
     << "' |";
  for (const auto& h : o.headers) os << ' ' << h.first << "='" << h.second << "'";
  os << " | capture_id=" << o.capture_id << " correlation_id=" << o.correlation_id << " chunked=" << o.chunked
     << " close=" << o.connection_close;
  print_optional(os, "content_length", o.content_length);
  print_optional(os, "retry_after", o.retry_after);
  print_optional(os, "rl_limit", o.rate_limit_limit_value);
  print_optional(os, "rl_remaining", o.rate_limit_remaining);
  print_optional(os, "rl_reset", o.rate_limit_reset);
  return os << " | body " << o.body.size() << " bytes: " << o.body.substr(0, 60);
}

outcome snapshot(const kom::http_response_parser& p, parse_status s, std::size_t consumed) {
  outcome o;
  o.status = s;
  o.code = p.error().code();
  o.detail = p.error().detail();
  o.consumed = consumed;
  o.size = p.size();
  o.http_status = p.status();
  o.minor_version = p.minor_version();
  o.reason = std::string(p.reason());
  for (std::size_t i = 0; i < p.header_count(); ++i) {
    o.headers.emplace_back(std::string(p.header_name(i)), std::string(p.header_value(i)));
  }
  o.body = std::string(p.body());
  o.capture_id = std::string(p.capture_id());
  o.location = std::string(p.location());
  o.correlation_id = std::string(p.correlation_id());
  o.content_length = p.content_length();
  o.chunked = p.chunked();
  o.connection_close = p.connection_close();
  o.retry_after = p.retry_after();
  o.rate_limit_limit = std::string(p.rate_limit_limit());
  o.rate_limit_limit_value = p.rate_limit_limit_value();
  o.rate_limit_remaining = p.rate_limit_remaining();
  o.rate_limit_reset = p.rate_limit_reset();
  return o;
}

constexpr std::size_t whole = 0;

// Feeds `input` in pieces: the first `first` bytes long, then `step` bytes each (`whole`: the
// rest at once); then finish(), the peer having closed, if the response is still incomplete.
// Allocates nothing.
parse_status feed_all(kom::http_response_parser& p, std::string_view input, std::size_t first, std::size_t step,
                      std::size_t& consumed) {
  consumed = 0;
  parse_status s = p.state();
  std::size_t at = 0;
  for (bool first_piece = true; at < input.size(); first_piece = false) {
    std::size_t n = input.size() - at;
    const std::size_t limit = first_piece ? first : step;
    if (limit != whole && limit < n) n = limit;
    std::size_t used = 0;
    s = p.feed(input.data() + at, n, used);
    consumed += used;
    at += n;
  }
  if (s == parse_status::need_more) s = p.finish();
  return s;
}

// The same through prepare() and commit(), as a transport receiving straight into the buffer
// would, `step` bytes per receive. When the buffer is full, the rest goes through feed().
// Allocates nothing.
parse_status receive_all(kom::http_response_parser& p, std::string_view input, std::size_t step,
                         std::size_t& consumed) {
  consumed = 0;
  parse_status s = p.state();
  std::size_t at = 0;
  while (at < input.size() && s == parse_status::need_more) {
    std::size_t n = input.size() - at;
    if (step != whole && step < n) n = step;
    std::size_t space = 0;
    char* to = p.prepare(space);
    std::size_t used = 0;
    if (to == nullptr) {
      s = p.feed(input.data() + at, n, used);
    } else {
      if (space < n) n = space;
      std::memcpy(to, input.data() + at, n);
      s = p.commit(n);
      used = n - p.excess().size();
    }
    consumed += used;
    at += n;
  }
  if (s == parse_status::need_more) s = p.finish();
  return s;
}

outcome parse_split(std::string_view input, std::size_t first, std::size_t step, kom::http_limits bounds = {},
                    std::size_t capacity = 8192) {
  std::vector<char> buffer(capacity);
  kom::http_response_parser p(buffer.data(), buffer.size(), bounds);
  std::size_t consumed = 0;
  const parse_status s = feed_all(p, input, first, step, consumed);
  return snapshot(p, s, consumed);
}

outcome parse(std::string_view input, kom::http_limits bounds = {}, std::size_t capacity = 8192) {
  return parse_split(input, whole, whole, bounds, capacity);
}

outcome parse_bytewise(std::string_view input, kom::http_limits bounds = {}, std::size_t capacity = 8192) {
  return parse_split(input, 1, 1, bounds, capacity);
}

// The error `input` gives, after checking that feeding it a byte at a time gives the same.
outcome parse_both_ways(std::string_view input, kom::http_limits bounds = {}, std::size_t capacity = 8192) {
  const outcome all = parse(input, bounds, capacity);
  const outcome bytewise = parse_bytewise(input, bounds, capacity);
  CHECK(bytewise.status == all.status);
  CHECK(bytewise.code == all.code);
  CHECK(bytewise.detail == all.detail);
  return all;
}

errc error_of(std::string_view input, kom::http_limits bounds = {}, std::size_t capacity = 8192) {
  INFO("input: ", std::string(input));
  const outcome o = parse_both_ways(input, bounds, capacity);
  if (o.code != errc::ok) CHECK(o.status == parse_status::error);
  return o.code;
}

// A 200 with one extra header line, to try header syntax.
std::string with_header(std::string_view line) {
  return "HTTP/1.1 200 OK\r\n" + std::string(line) + "\r\nContent-Length: 2\r\n\r\nok";
}

std::string chunked_body(std::string_view chunks) {
  return "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + std::string(chunks);
}

}  // namespace

// ---- the fixtures -----------------------------------------------------------------------

TEST_CASE("a capture's 201 gives its Capture-Id, Location and correlation id") {
  const std::string raw = fixture("capture_created_201.http");
  const outcome o = parse(raw);
  REQUIRE(o.ok());
  CHECK(o.consumed == raw.size());
  CHECK(o.http_status == 201);
  CHECK(o.reason == "Created");
  CHECK(o.minor_version == 1);
  CHECK(o.headers.size() == 9);
  CHECK(o.headers[0] == std::make_pair(std::string("Date"), std::string("Tue, 10 Jan 2017 10:31:17 GMT")));
  CHECK(o.capture_id == capture_id);
  CHECK(o.location == capture_location);
  CHECK(o.correlation_id == "2f9a6b1c-8d3e-4b7a-9c51-0e6d4f3a2b18");
  CHECK(o.content_length == std::uint64_t{0});
  CHECK(o.body.empty());
  CHECK_FALSE(o.chunked);
  CHECK_FALSE(o.connection_close);
  CHECK_FALSE(o.retry_after.has_value());
  CHECK(o.rate_limit_limit == "200, 200;w=1");
  CHECK(o.rate_limit_limit_value == std::uint32_t{200});
  CHECK(o.rate_limit_remaining == std::uint32_t{199});
  CHECK(o.rate_limit_reset == std::uint32_t{1});
  CHECK(o.size == raw.size());
}

TEST_CASE("a 201 without Capture-Id takes the id from the last Location segment") {
  const outcome o = parse(fixture("capture_created_location_only_201.http"));
  REQUIRE(o.ok());
  CHECK(o.http_status == 201);
  CHECK(o.capture_id == capture_id);
  CHECK(o.location == capture_location);

  const auto id_from = [](std::string_view location) {
    const std::string line = "Location: " + std::string(location);
    return parse(response({"HTTP/1.1 201 Created", line, "Content-Length: 0"})).capture_id;
  };
  CHECK(id_from(capture_location + "?from=pos#top") == capture_id);
  CHECK(id_from(capture_location + "#top") == capture_id);
  CHECK(id_from("/ordermanagement/v1/orders/o-1/captures/c-2") == "c-2");
  CHECK(id_from("//api.klarna.com/ordermanagement/v1/orders/o-1/captures/c-3") == "c-3");
  CHECK(id_from("c-4") == "c-4");
  CHECK(id_from("https://api.klarna.com").empty());          // no path at all
  CHECK(id_from("https://api.klarna.com?captures/x").empty());
  CHECK(id_from("https://api.klarna.com/a/captures/").empty());  // nothing after the last '/'

  // Capture-Id wins over Location; an empty Capture-Id does not.
  CHECK(parse(response({"HTTP/1.1 201 Created", "Location: /x/captures/from-location", "Capture-Id: from-header",
                        "Content-Length: 0"}))
            .capture_id == "from-header");
  CHECK(parse(response({"HTTP/1.1 201 Created", "Capture-Id:", "Location: /x/captures/from-location",
                        "Content-Length: 0"}))
            .capture_id == "from-location");
  CHECK(parse(response({"HTTP/1.1 201 Created", "Content-Length: 0"})).capture_id.empty());
}

TEST_CASE("a 204 has no body, with or without a length") {
  const std::string raw = fixture("shipping_info_204.http");
  const outcome o = parse(raw);
  REQUIRE(o.ok());
  CHECK(o.http_status == 204);
  CHECK(o.reason == "No Content");
  CHECK(o.consumed == raw.size());
  CHECK(o.body.empty());
  CHECK_FALSE(o.content_length.has_value());
  CHECK(o.correlation_id == "a81f3c6e-2d9b-4f17-8e05-c4b2d7a96f10");

  // The next response's bytes are not taken for a body.
  const std::string two = raw + "HTTP/1.1 200 OK\r\n";
  CHECK(parse(two).consumed == raw.size());

  // 304 and 204 with a Content-Length: the length is reported, the body is still empty.
  const outcome not_modified = parse(response({"HTTP/1.1 304 Not Modified", "Content-Length: 100"}));
  REQUIRE(not_modified.ok());
  CHECK(not_modified.body.empty());
  CHECK(not_modified.content_length == std::uint64_t{100});
  CHECK(parse(response({"HTTP/1.1 204 No Content", "Transfer-Encoding: chunked"})).ok());
}

TEST_CASE("a capture read with Content-Length gives the JSON body as nginx framed it") {
  const std::string raw = fixture("get_capture_200.http");
  const outcome o = parse(raw);
  REQUIRE(o.ok());
  CHECK(o.http_status == 200);
  CHECK(o.reason == "OK");
  CHECK(o.body == capture_json);
  CHECK(kom_test::canonical_json(o.body).has_value());
  CHECK(o.content_length == std::uint64_t{capture_json.size()});
  CHECK_FALSE(o.chunked);
  CHECK_FALSE(o.connection_close);
  CHECK(o.headers[0].second == "nginx/1.22.1");
  CHECK(o.consumed == raw.size());
  CHECK(o.size == raw.size());  // head and body, nothing else, in the buffer
}

TEST_CASE("a chunked capture decodes to the same body, its extension and trailer ignored") {
  const std::string raw = fixture("get_capture_200_chunked.http");
  const outcome o = parse(raw);
  REQUIRE(o.ok());
  CHECK(o.body == capture_json);
  CHECK(o.chunked);
  CHECK_FALSE(o.content_length.has_value());
  CHECK(o.consumed == raw.size());
  CHECK(o.headers.size() == 6);  // the trailer is not a header
  CHECK(o.headers.back().first == "Klarna-Correlation-Id");
  CHECK(o.size == raw.find("\r\n\r\n") + 4 + capture_json.size());  // the framing took no room
}

TEST_CASE("Klarna's 404 and 429 give status, error body and rate-limit headers") {
  const outcome missing = parse(fixture("error_404.http"));
  REQUIRE(missing.ok());
  CHECK(missing.http_status == 404);
  CHECK(missing.reason == "Not Found");
  CHECK(missing.body.find(R"("error_code":"NO_SUCH_ORDER")") != std::string::npos);
  CHECK(kom_test::canonical_json(missing.body).has_value());
  CHECK(missing.correlation_id == "66782175-ae05-44fc-9eb3-eeceadbad271");

  const outcome limited = parse(fixture("error_429.http"));
  REQUIRE(limited.ok());
  CHECK(limited.http_status == 429);
  CHECK(limited.reason == "Too Many Requests");
  CHECK(limited.body.find("TOO_MANY_REQUESTS") != std::string::npos);
  CHECK(limited.retry_after == std::uint32_t{1});
  CHECK(limited.rate_limit_limit == "40, 40;w=1");
  CHECK(limited.rate_limit_limit_value == std::uint32_t{40});
  CHECK(limited.rate_limit_remaining == std::uint32_t{0});
  CHECK(limited.rate_limit_reset == std::uint32_t{1});
}

TEST_CASE("interim 1xx responses before the final one are skipped") {
  const std::string raw = fixture("continue_then_201.http");
  const outcome o = parse(raw);
  REQUIRE(o.ok());
  CHECK(o.http_status == 201);
  CHECK(o.reason == "Created");
  CHECK(o.capture_id == capture_id);
  CHECK(o.headers.size() == 5);
  CHECK(o.consumed == raw.size());
  CHECK(o.size == raw.size() - std::string_view("HTTP/1.1 100 Continue\r\n\r\n").size());

  // Several, with headers of their own that do not leak into the final response.
  const std::string many = response({"HTTP/1.1 103 Early Hints", "Link: </a.css>; rel=preload", "Content-Length: 5"}) +
                           response({"HTTP/1.1 100 Continue"}) +
                           response({"HTTP/1.1 200 OK", "Content-Length: 2"}, "ok");
  const outcome m = parse_both_ways(many);
  REQUIRE(m.ok());
  CHECK(m.http_status == 200);
  CHECK(m.headers.size() == 1);
  CHECK(m.body == "ok");

  // Cut off after the interim response: still waiting for the real one.
  CHECK(parse(response({"HTTP/1.1 100 Continue"})).code == errc::unexpected_eof);
}

TEST_CASE("lowercase header names from an HTTP/2 proxy are found") {
  const outcome o = parse(fixture("lowercase_h2_proxy_201.http"));
  REQUIRE(o.ok());
  CHECK(o.http_status == 201);
  CHECK(o.capture_id == capture_id);
  CHECK(o.location == capture_location);
  CHECK(o.correlation_id == "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a");
  CHECK(o.content_length == std::uint64_t{0});
  CHECK(o.rate_limit_limit_value == std::uint32_t{40});
  CHECK(o.rate_limit_remaining == std::uint32_t{39});
  CHECK(o.headers[2].first == "capture-id");  // names are kept as received
}

TEST_CASE("a body without a length runs until the connection closes") {
  const std::string raw = fixture("read_until_close_200.http");
  char buffer[4096];
  kom::http_response_parser p(buffer);
  std::size_t used = 0;
  CHECK(p.feed(raw.data(), raw.size(), used) == parse_status::need_more);
  CHECK(used == raw.size());
  CHECK(p.head_complete());
  CHECK(p.finish() == parse_status::done);
  CHECK(p.finish() == parse_status::done);
  CHECK(p.status() == 200);
  CHECK(p.minor_version() == 0);
  CHECK(p.body() == capture_json);
  CHECK(p.connection_close());
  CHECK_FALSE(p.content_length().has_value());
}

// ---- every fixture, every way of arriving --------------------------------------------------

TEST_CASE("every fixture gives the same result split in two at every byte") {
  for (const char* name : fixture_names) {
    CAPTURE(name);
    const std::string raw = fixture(name);
    const outcome reference = parse(raw);
    REQUIRE(reference.ok());
    CHECK(reference.consumed == raw.size());
    for (std::size_t cut = 0; cut <= raw.size(); ++cut) {
      CAPTURE(cut);
      const outcome o = parse_split(raw, cut, whole);
      if (!(o == reference)) CHECK(o == reference);  // one report per differing cut, not thousands of passes
    }
  }
}

TEST_CASE("every fixture gives the same result fed one byte at a time") {
  for (const char* name : fixture_names) {
    CAPTURE(name);
    const std::string raw = fixture(name);
    CHECK(parse_bytewise(raw) == parse(raw));
    CHECK(parse_split(raw, 3, 5) == parse(raw));
  }
}

TEST_CASE("every fixture gives the same result received in place through prepare and commit") {
  for (const char* name : fixture_names) {
    CAPTURE(name);
    const std::string raw = fixture(name);
    const outcome reference = parse(raw);
    for (std::size_t step : {std::size_t{1}, std::size_t{2}, std::size_t{7}, std::size_t{64}, whole}) {
      CAPTURE(step);
      char buffer[8192];
      kom::http_response_parser p(buffer);
      std::size_t consumed = 0;
      const parse_status s = receive_all(p, raw, step, consumed);
      CHECK(snapshot(p, s, consumed) == reference);
    }
  }
}

TEST_CASE("parsing every fixture allocates nothing") {
  std::vector<std::string> raws;
  for (const char* name : fixture_names) raws.push_back(fixture(name));
  static char buffer[8192];
  std::size_t allocations = 0;
  std::size_t completed = 0;
  std::size_t touched = 0;
  {
    kom_test::alloc_scope scope;
    for (const std::string& raw : raws) {
      for (std::size_t step : {whole, std::size_t{1}, std::size_t{13}}) {
        kom::http_response_parser p(buffer);
        std::size_t consumed = 0;
        if (feed_all(p, raw, step, step, consumed) == parse_status::done) ++completed;
        // Read every accessor, as a caller would.
        touched += p.capture_id().size() + p.header("content-type").size() + p.body().size();
        touched += p.connection_close() + p.retry_after().value_or(0) + p.rate_limit_limit_value().value_or(0);
        p.reset();
        if (receive_all(p, raw, step, consumed) == parse_status::done) ++completed;
      }
    }
    allocations = scope.count();
  }
  CHECK(allocations == 0);
  CHECK(completed == raws.size() * 6);
  CHECK(touched > 0);
}

TEST_CASE("no fixture or prefix of one is read past its end") {
  kom_test::guard_page input_page(16 * 1024);
  kom_test::guard_page buffer_page(16 * 1024);
  for (const char* name : fixture_names) {
    CAPTURE(name);
    const std::string raw = fixture(name);
    const outcome reference = parse(raw);
    REQUIRE(reference.ok());

    // The whole response, with a buffer of exactly the size it needs, both against a guard.
    {
      const std::string_view in = input_page.place(raw);
      kom::http_response_parser p(buffer_page.span(reference.size), reference.size);
      std::size_t consumed = 0;
      const parse_status s = feed_all(p, in, whole, whole, consumed);
      CHECK(snapshot(p, s, consumed) == reference);
    }
    // Every prefix, at once and a byte at a time: a cut response only ever needs more.
    for (std::size_t n = 0; n < raw.size(); ++n) {
      CAPTURE(n);
      const std::string_view in = input_page.place(std::string_view(raw).substr(0, n));
      for (std::size_t step : {whole, std::size_t{1}}) {
        kom::http_response_parser p(buffer_page.span(reference.size), reference.size);
        std::size_t used = 0;
        std::size_t consumed = 0;
        for (std::size_t at = 0; at < in.size(); at += step == whole ? in.size() : step) {
          const std::size_t piece = step == whole ? in.size() : step;
          p.feed(in.data() + at, piece, used);
          consumed += used;
        }
        const bool only_needs_more = p.state() == parse_status::need_more && consumed == n;
        if (!only_needs_more) CHECK(only_needs_more);
      }
    }
  }
}

TEST_CASE("a buffer of every size up to the needed one is never overrun") {
  constexpr std::size_t guard = 32;
  constexpr char pattern = '\x5A';
  for (const char* name : fixture_names) {
    CAPTURE(name);
    const std::string raw = fixture(name);
    const outcome reference = parse(raw);
    REQUIRE(reference.ok());
    for (std::size_t capacity = 0; capacity <= reference.size; ++capacity) {
      CAPTURE(capacity);
      for (int way = 0; way < 3; ++way) {
        CAPTURE(way);
        std::vector<char> storage(capacity + 2 * guard, pattern);
        kom::http_response_parser p(storage.data() + guard, capacity);
        std::size_t consumed = 0;
        const parse_status s = way == 0   ? feed_all(p, raw, whole, whole, consumed)
                               : way == 1 ? feed_all(p, raw, 1, 1, consumed)
                                          : receive_all(p, raw, 64, consumed);
        const outcome o = snapshot(p, s, consumed);
        if (capacity == reference.size) {
          CHECK(o == reference);
        } else {
          const bool refused = o.status == parse_status::error &&
                               (o.code == errc::head_too_large || o.code == errc::body_too_large);
          if (!refused) CHECK(o == reference);
        }
        bool untouched = true;
        for (std::size_t i = 0; i < guard; ++i) {
          untouched = untouched && storage[i] == pattern && storage[guard + capacity + i] == pattern;
        }
        if (!untouched) CHECK(untouched);
      }
    }
  }
}

// ---- headers ---------------------------------------------------------------------------------

TEST_CASE("header names match without regard to case and values are trimmed") {
  const std::string raw = response({"HTTP/1.1 200 OK", "conTent-TYPE: \t application/json \t ", "X-Empty:",
                                    "X-Tight:value", "Via: 1.1 a", "VIA: 1.1 b", "X-Inner:  a \t b  ",
                                    "X-Obs-Text: caf\xC3\xA9", "Content-Length: 0"});
  char buffer[1024];
  kom::http_response_parser p(buffer);
  std::size_t used = 0;
  REQUIRE(p.feed(raw.data(), raw.size(), used) == parse_status::done);
  CHECK(p.header("Content-Type") == "application/json");
  CHECK(p.header("CONTENT-TYPE") == "application/json");
  CHECK(p.header("X-Tight") == "value");
  CHECK(p.header("via") == "1.1 a");  // the first of two
  CHECK(p.header("X-Inner") == "a \t b");
  CHECK(p.header("X-Obs-Text") == "caf\xC3\xA9");
  CHECK(p.header("X-Empty").empty());
  CHECK(p.header("X-Empty").data() != nullptr);  // present, but empty
  CHECK(p.header("X-Missing").data() == nullptr);
  CHECK(p.header("Content-Typ").data() == nullptr);
  REQUIRE(p.header_count() == 8);
  CHECK(p.header_name(1) == "X-Empty");
  CHECK(p.header_name(4) == "VIA");
  CHECK(p.header_value(4) == "1.1 b");
  CHECK(p.header_name(8).empty());
  CHECK(p.header_value(99).empty());
  // Every view points into the caller's buffer.
  for (std::size_t i = 0; i < p.header_count(); ++i) {
    CHECK(p.header_name(i).data() >= buffer);
    CHECK(p.header_name(i).data() + p.header_name(i).size() <= buffer + p.head_size());
  }
  CHECK(p.head() == std::string_view(raw));
}

TEST_CASE("more headers than max_headers are refused with too_many_headers") {
  kom::http_limits bounds;
  bounds.max_headers = 4;
  const std::string four = response({"HTTP/1.1 200 OK", "A: 1", "B: 2", "C: 3", "Content-Length: 0"});
  const std::string five = response({"HTTP/1.1 200 OK", "A: 1", "B: 2", "C: 3", "D: 4", "Content-Length: 0"});
  CHECK(parse_both_ways(four, bounds).ok());
  const outcome o = parse_both_ways(five, bounds);
  CHECK(o.code == errc::too_many_headers);
  CHECK(o.detail == 4);

  // The table holds KOM_HTTP_MAX_HEADERS; a larger max_headers is cut to that.
  std::string full = "HTTP/1.1 200 OK\r\n";
  for (int i = 1; i < KOM_HTTP_MAX_HEADERS; ++i) full += "X-" + std::to_string(i) + ": v\r\n";
  full += "Content-Length: 0\r\n";
  bounds.max_headers = 1000;
  const outcome at_limit = parse(full + "\r\n", bounds);
  CHECK(at_limit.ok());
  CHECK(at_limit.headers.size() == KOM_HTTP_MAX_HEADERS);
  const outcome over = parse(full + "X-Last: v\r\n\r\n", bounds);
  CHECK(over.code == errc::too_many_headers);
  CHECK(over.detail == KOM_HTTP_MAX_HEADERS);
}

// ---- malformed input, one error each ---------------------------------------------------------

TEST_CASE("malformed status lines are refused with bad_status_line") {
  const char* bad[] = {
      "HTTP/2 200 OK",       "HTTP/2.0 200 OK",    "HTTP/1.1 20 OK",     "HTTP/1.1 2000 OK",
      "HTTP/1.1  200 OK",    "http/1.1 200 OK",    "HTTP/1.1 099 Low",   "HTTP/1.1 600 High",
      "HTTP/1.1 2x0 OK",     "ICY 200 OK",         "HTTP/1.1 200\tOK",   "HTTP/1.1\t200 OK",
      "HTTP/1.1 200 O\x01K", "HTTP/1.1 200 OK\x7f", "HTTP/1.1 200 OK\r", "HTTP/1.1 200 O\rK",
      "HTTP/1.10 200 OK",    "HTTP/1.x 200 OK",    " HTTP/1.1 200 OK",   "",
      "HTTP/1.1 -20 OK",     "HTTP/1.1",
  };
  for (const char* line : bad) {
    CHECK(error_of(std::string(line) + "\r\nContent-Length: 0\r\n\r\n") == errc::bad_status_line);
  }
  static const char nul_in_reason[] = "HTTP/1.1 200 O\0K\r\nContent-Length: 0\r\n\r\n";
  CHECK(error_of(std::string_view(nul_in_reason, sizeof nul_in_reason - 1)) == errc::bad_status_line);

  // Accepted: HTTP/1.0, an empty reason with or without its space, tab and obs-text in it.
  const char* good[] = {"HTTP/1.0 200 OK", "HTTP/1.1 201 ", "HTTP/1.1 201", "HTTP/1.1 200 Very\tOK",
                        "HTTP/1.1 200 \xC3\x96K", "HTTP/1.1 599 Whatever", "HTTP/1.1 200  two spaces"};
  for (const char* line : good) {
    CAPTURE(line);
    const outcome o = parse_both_ways(std::string(line) + "\r\nContent-Length: 0\r\n\r\n");
    CHECK(o.ok());
  }
  CHECK(parse("HTTP/1.1 201\r\nContent-Length: 0\r\n\r\n").reason.empty());
  CHECK(parse("HTTP/1.1 201 \r\nContent-Length: 0\r\n\r\n").reason.empty());
  CHECK(parse("HTTP/1.1 200  two spaces\r\nContent-Length: 0\r\n\r\n").reason == " two spaces");
}

TEST_CASE("malformed header lines are refused with bad_header") {
  const char* bad[] = {
      " Folded: x",  // obs-fold right after the status line
      "NoColon",     ": no name",   "Bad Name: x",  "Name : x",       "Name\t: x",   "Na(me): x",
      "Name@: x",    "Na\x7fme: x", "Name: \x01",   "Name: a\x1f b",  "Name: a\x7f", "Name: va\rlue",
      "Name: value\r",  // CR CR LF
      "N\xC3\xA4me: x",
  };
  for (const char* line : bad) CHECK(error_of(with_header(line)) == errc::bad_header);
  CHECK(error_of(with_header(std::string_view("Name: va\0lue", 12))) == errc::bad_header);
  CHECK(error_of(with_header(std::string_view("Na\0me: x", 8))) == errc::bad_header);
  // obs-fold of a continued value.
  CHECK(error_of("HTTP/1.1 200 OK\r\nX-Long: a\r\n  b\r\nContent-Length: 0\r\n\r\n") == errc::bad_header);
  CHECK(error_of("HTTP/1.1 200 OK\r\nX-Long: a\r\n\tb\r\nContent-Length: 0\r\n\r\n") == errc::bad_header);

  const char* good[] = {"Name:", "Name:value", "Name: a\tb", "!#$%&'*+-.^_`|~09azAZ: x", "Name: a:b:c",
                        "Name: \xFF\x80"};
  for (const char* line : good) {
    CAPTURE(line);
    CHECK(parse_both_ways(with_header(line)).ok());
  }
}

TEST_CASE("bare LF line ends are accepted and a lone CR is refused") {
  const outcome lf = parse_both_ways("HTTP/1.1 200 OK\nContent-Type: text/plain\nContent-Length: 2\n\nok");
  REQUIRE(lf.ok());
  CHECK(lf.body == "ok");
  CHECK(lf.headers[0].second == "text/plain");
  const outcome mixed = parse_both_ways("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\n\r\n2\nok\n0\nT: 1\n\n");
  REQUIRE(mixed.ok());
  CHECK(mixed.body == "ok");

  CHECK(error_of("HTTP/1.1 200 OK\rContent-Length: 0\r\n\r\n") == errc::bad_status_line);
  CHECK(error_of("HTTP/1.1 200 OK\r\nContent-Length: 0\r\r\n") == errc::bad_header);
  CHECK(error_of("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\r\n") == errc::bad_header);
  CHECK(error_of(chunked_body("2\rok\r\n0\r\n\r\n")) == errc::bad_chunk);
  CHECK(error_of(chunked_body("2\r\nok\rX0\r\n\r\n")) == errc::bad_chunk);
  CHECK(error_of(chunked_body("2\r\nok\r\n0\r\n\rX")) == errc::bad_chunk);
  CHECK(error_of(chunked_body("2\r\nok\r\n0\r\nT: 1\rX\r\n\r\n")) == errc::bad_chunk);
}

TEST_CASE("the head may be exactly max_head bytes and not one more") {
  const std::string raw = fixture("get_capture_200.http");
  const std::size_t head = raw.find("\r\n\r\n") + 4;
  kom::http_limits bounds;
  bounds.max_head = head;
  const outcome fits = parse_both_ways(raw, bounds);
  CHECK(fits.ok());
  CHECK(fits.body == capture_json);
  bounds.max_head = head - 1;
  const outcome over = parse_both_ways(raw, bounds);
  CHECK(over.code == errc::head_too_large);
  CHECK(over.detail == static_cast<std::int64_t>(head - 1));

  // A line that never ends stops at the limit, however it arrives.
  bounds.max_head = 64;
  const std::string endless = "HTTP/1.1 200 OK\r\nX-Endless: " + std::string(100, 'a');
  CHECK(error_of(endless, bounds) == errc::head_too_large);
  CHECK(error_of(endless.substr(0, 64), bounds) == errc::unexpected_eof);
  CHECK(error_of(endless.substr(0, 65), bounds) == errc::head_too_large);

  // A buffer smaller than max_head is the limit then.
  const outcome small = parse(raw, {}, head - 1);
  CHECK(small.code == errc::head_too_large);
  CHECK(small.detail == static_cast<std::int64_t>(head - 1));

  // Each interim head is measured on its own.
  const std::string interim = response({"HTTP/1.1 100 Continue"});
  const std::string final_head = response({"HTTP/1.1 201 Created", "Content-Length: 0"});
  bounds.max_head = final_head.size();
  CHECK(parse_both_ways(interim + interim + final_head, bounds).ok());
}

TEST_CASE("Content-Length values that are not lengths are refused with bad_content_length") {
  const char* bad[] = {"abc", "-1", "+5", "1 2", "", "0x10", "1.0", "5,", ",5", "18446744073709551616",
                       "99999999999999999999999", "5;q=1"};
  for (const char* value : bad) {
    CAPTURE(value);
    CHECK(error_of(response({"HTTP/1.1 200 OK", "Content-Length: " + std::string(value)}, "12345")) ==
          errc::bad_content_length);
  }
  // The largest 64-bit length parses, and does not fit.
  CHECK(error_of(response({"HTTP/1.1 200 OK", "Content-Length: 18446744073709551615"})) == errc::body_too_large);
  const outcome padded = parse_both_ways(response({"HTTP/1.1 200 OK", "Content-Length:  005 "}, "12345"));
  CHECK(padded.body == "12345");
  CHECK(padded.content_length == std::uint64_t{5});
}

TEST_CASE("two different lengths, or a length with chunked, are refused with conflicting_length") {
  CHECK(error_of(response({"HTTP/1.1 200 OK", "Content-Length: 5", "Content-Length: 6"}, "123456")) ==
        errc::conflicting_length);
  CHECK(error_of(response({"HTTP/1.1 200 OK", "Content-Length: 5, 6"}, "123456")) == errc::conflicting_length);
  CHECK(error_of(response({"HTTP/1.1 200 OK", "Content-Length: 5", "Transfer-Encoding: chunked"}, "0\r\n\r\n")) ==
        errc::conflicting_length);
  CHECK(error_of(response({"HTTP/1.1 200 OK", "Transfer-Encoding: chunked", "Content-Length: 5"}, "0\r\n\r\n")) ==
        errc::conflicting_length);
  // Identical duplicates are one length.
  CHECK(parse_both_ways(response({"HTTP/1.1 200 OK", "Content-Length: 5", "content-length: 5"}, "12345")).ok());
  CHECK(parse_both_ways(response({"HTTP/1.1 200 OK", "Content-Length: 5, 5"}, "12345")).body == "12345");
}

TEST_CASE("transfer codings other than chunked are refused with unsupported_transfer_encoding") {
  const char* bad[] = {"gzip", "gzip, chunked", "chunked, gzip", "chunked, chunked", "identity", "", " , ",
                       "chunked;x=1", "chunkedx"};
  for (const char* value : bad) {
    CAPTURE(value);
    CHECK(error_of(response({"HTTP/1.1 200 OK", "Transfer-Encoding: " + std::string(value)}, "0\r\n\r\n")) ==
          errc::unsupported_transfer_encoding);
  }
  CHECK(error_of(response({"HTTP/1.1 200 OK", "Transfer-Encoding: chunked", "Transfer-Encoding: chunked"},
                          "0\r\n\r\n")) == errc::unsupported_transfer_encoding);
  CHECK(parse_both_ways(response({"HTTP/1.1 200 OK", "transfer-encoding: Chunked"}, "2\r\nok\r\n0\r\n\r\n")).body ==
        "ok");
  CHECK(parse_both_ways(response({"HTTP/1.1 200 OK", "Transfer-Encoding: , chunked"}, "0\r\n\r\n")).ok());
}

TEST_CASE("malformed chunked bodies are refused with bad_chunk") {
  const char* bad[] = {
      "g\r\n",                      // not hex
      "\r\n",                       // no size
      " 5\r\nhello\r\n0\r\n\r\n",   // space before the size
      "-5\r\nhello\r\n0\r\n\r\n",
      "0x5\r\nhello\r\n0\r\n\r\n",
      "5 x\r\nhello\r\n0\r\n\r\n",  // junk after the size that is not an extension
      "5\rX",                       // CR without LF
      "5\r\nhelloX",                // data not followed by its line end
      "5\r\nhello\rX",
      "5;a\x01=b\r\nhello\r\n0\r\n\r\n",  // control character in an extension
      "10000000000000000\r\n",      // 2^64: the size overflows
      "5\r\nhello\r\n0\r\n Folded: x\r\n\r\n",  // obs-fold in the trailers
      "5\r\nhello\r\n0\r\nNoColon\r\n\r\n",
      "5\r\nhello\r\n0\r\nBad Name: x\r\n\r\n",
      "5\r\nhello\r\n0\r\nName: a\x01\r\n\r\n",
      "5\r\nhello\r\n0\r\nName: x\r\n\rX",
  };
  for (const char* chunks : bad) {
    CAPTURE(chunks);
    CHECK(error_of(chunked_body(chunks)) == errc::bad_chunk);
  }
  // Sizes of 16 hex digits parse (and do not fit); leading zeros are not an overflow.
  CHECK(error_of(chunked_body("ffffffffffffffff\r\n")) == errc::body_too_large);
  CHECK(parse_both_ways(chunked_body("000000000000000000005\r\nhello\r\n0\r\n\r\n")).body == "hello");
  // Extensions and trailers in their allowed forms.
  const outcome ext = parse_both_ways(
      chunked_body("5;a=b;c=\"d;e\"\r\nhello\r\n6 ; x\r\n world\r\n0;last\r\nA: 1\r\nB:\r\n\r\n"));
  REQUIRE(ext.ok());
  CHECK(ext.body == "hello world");
  CHECK(parse_both_ways(chunked_body("A\r\n0123456789\r\na\r\nabcdefghij\r\n0\r\n\r\n")).body.size() == 20);
  // Chunks of every size up to one that fills the buffer, then the last chunk only.
  CHECK(parse_both_ways(chunked_body("0\r\n\r\n")).body.empty());
}

TEST_CASE("a chunk size line may be max_chunk_line bytes and not one more") {
  kom::http_limits bounds;
  bounds.max_chunk_line = 16;
  const std::string sixteen = "5;ext=1234567890";  // 16 bytes without its CRLF
  REQUIRE(sixteen.size() == 16);
  CHECK(parse_both_ways(chunked_body(sixteen + "\r\nhello\r\n0\r\n\r\n"), bounds).body == "hello");
  const outcome o = parse_both_ways(chunked_body(sixteen + "X\r\nhello\r\n0\r\n\r\n"), bounds);
  CHECK(o.code == errc::chunk_line_too_long);
  CHECK(o.detail == 16);
  // Leading zeros count too, and so does the last chunk's line.
  CHECK(error_of(chunked_body(std::string(17, '0') + "5\r\nhello\r\n0\r\n\r\n"), bounds) == errc::chunk_line_too_long);
  CHECK(error_of(chunked_body("5\r\nhello\r\n0;" + std::string(20, 'x') + "\r\n\r\n"), bounds) ==
        errc::chunk_line_too_long);
  // Trailers count against max_head.
  bounds.max_head = 80;
  CHECK(error_of(chunked_body("0\r\nX-Trailer: " + std::string(80, 'a') + "\r\n\r\n"), bounds) ==
        errc::head_too_large);
}

TEST_CASE("a body larger than the buffer is refused with body_too_large") {
  const std::string head = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n";
  const std::string raw = head + "0123456789";
  CHECK(parse_both_ways(raw, {}, raw.size()).body == "0123456789");
  const outcome o = parse_both_ways(raw, {}, raw.size() - 1);
  CHECK(o.code == errc::body_too_large);
  CHECK(o.detail == static_cast<std::int64_t>(raw.size() - 1));

  // Known from the head alone: refused before the body arrives.
  char buffer[64];
  kom::http_response_parser p(buffer, head.size() + 9);
  std::size_t used = 0;
  CHECK(p.feed(head.data(), head.size(), used) == parse_status::error);
  CHECK(p.error().code() == errc::body_too_large);

  // A chunk that does not fit, told by its size line.
  const std::string chunked = chunked_body("4\r\nabcd\r\n7\r\nefghijk\r\n0\r\n\r\n");
  const std::size_t needed = chunked.find("\r\n\r\n") + 4 + 11;
  CHECK(parse_both_ways(chunked, {}, needed).body == "abcdefghijk");
  CHECK(parse_both_ways(chunked, {}, needed - 1).code == errc::body_too_large);

  // A body until the close, one byte too many.
  const std::string until_close = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n0123456789";
  CHECK(parse_both_ways(until_close, {}, until_close.size()).body == "0123456789");
  CHECK(parse_both_ways(until_close, {}, until_close.size() - 1).code == errc::body_too_large);
}

TEST_CASE("a connection closed before the end is refused with unexpected_eof") {
  const std::string sized = fixture("get_capture_200.http");
  const std::string chunked = fixture("get_capture_200_chunked.http");
  for (const std::string* raw : {&sized, &chunked}) {
    for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{20}, raw->find("\r\n\r\n") + 2,
                          raw->find("\r\n\r\n") + 4, raw->size() / 2, raw->size() - 3, raw->size() - 1}) {
      CAPTURE(n);
      CHECK(error_of(std::string_view(*raw).substr(0, n)) == errc::unexpected_eof);
    }
  }
  // Cut inside the trailers, and right after a chunk's data.
  CHECK(error_of(chunked_body("2\r\nok\r\n0\r\nT: 1\r\n")) == errc::unexpected_eof);
  CHECK(error_of(chunked_body("2\r\nok")) == errc::unexpected_eof);

  // finish() after done changes nothing; after an error it repeats the error.
  char buffer[256];
  kom::http_response_parser p(buffer);
  CHECK(p.finish() == parse_status::error);
  CHECK(p.error().code() == errc::unexpected_eof);
  std::size_t used = 0;
  CHECK(p.feed("HTTP/1.1 200 OK\r\n", 17, used) == parse_status::error);
  CHECK(used == 0);
  CHECK(p.finish() == parse_status::error);
}

// ---- keep-alive, state, errors --------------------------------------------------------------

TEST_CASE("bytes after the response are left for the next one") {
  const std::string first = fixture("get_capture_200.http");
  const std::string second = fixture("get_capture_200_chunked.http");
  const std::string third = fixture("capture_created_201.http");
  const std::string stream = first + second + third;
  char buffer[4096];
  kom::http_response_parser p(buffer);

  // Through feed(): `consumed` stops at the end of each response.
  std::size_t at = 0;
  for (const std::string* expected : {&first, &second, &third}) {
    std::size_t used = 0;
    REQUIRE(p.feed(stream.data() + at, stream.size() - at, used) == parse_status::done);
    CHECK(used == expected->size());
    CHECK(snapshot(p, parse_status::done, used) == parse(*expected));
    std::size_t more = 0;
    CHECK(p.feed(stream.data() + at + used, stream.size() - at - used, more) == parse_status::done);
    CHECK(more == 0);  // after done, nothing more is taken
    at += used;
    p.reset();
  }
  CHECK(at == stream.size());

  // Through commit(): the rest stays in the buffer as excess() and may be fed from there.
  std::size_t space = 0;
  char* to = p.prepare(space);
  REQUIRE(space >= stream.size());
  std::memcpy(to, stream.data(), stream.size());
  REQUIRE(p.commit(stream.size()) == parse_status::done);
  CHECK(p.body() == capture_json);
  std::string_view rest = p.excess();
  CHECK(rest == std::string_view(stream).substr(first.size()));
  for (const std::string* expected : {&second, &third}) {
    p.reset();
    std::size_t used = 0;
    REQUIRE(p.feed(rest.data(), rest.size(), used) == parse_status::done);
    CHECK(used == expected->size());
    CHECK(snapshot(p, parse_status::done, used) == parse(*expected));
    rest.remove_prefix(used);
  }
  CHECK(rest.empty());
  std::size_t none = 1;
  CHECK(p.prepare(none) == nullptr);  // done: no room offered
  CHECK(none == 0);
}

TEST_CASE("the parser reports the head before the body is complete") {
  const std::string raw = fixture("get_capture_200.http");
  const std::size_t head = raw.find("\r\n\r\n") + 4;
  char buffer[4096];
  kom::http_response_parser p(buffer);
  std::size_t used = 0;
  CHECK(p.state() == parse_status::need_more);
  CHECK(p.feed(raw.data(), head - 1, used) == parse_status::need_more);
  CHECK_FALSE(p.head_complete());
  CHECK(p.body().empty());
  CHECK(p.feed(raw.data() + head - 1, 11, used) == parse_status::need_more);
  CHECK(p.head_complete());
  CHECK(p.status() == 200);
  CHECK(p.content_length() == std::uint64_t{capture_json.size()});
  CHECK(p.body() == std::string_view(capture_json).substr(0, 10));
  CHECK(p.feed(raw.data() + head + 10, raw.size() - head - 10, used) == parse_status::done);
  CHECK(p.state() == parse_status::done);
  CHECK(p.body() == capture_json);
  CHECK(p.body().data() == buffer + head);  // zero copy: right after the head
  CHECK(p.capacity() == sizeof buffer);
}

TEST_CASE("connection close comes from a token, from HTTP/1.0, or from a body until the close") {
  const auto closes = [](std::initializer_list<std::string_view> head) {
    const outcome o = parse(response(head));
    CHECK(o.status != parse_status::error);
    return o.connection_close;
  };
  CHECK(closes({"HTTP/1.1 204 No Content", "Connection: close"}));
  CHECK(closes({"HTTP/1.1 204 No Content", "connection: CLOSE"}));
  CHECK(closes({"HTTP/1.1 204 No Content", "Connection: keep-alive, Close"}));
  CHECK(closes({"HTTP/1.1 204 No Content", "Connection: TE", "Connection: close"}));
  CHECK_FALSE(closes({"HTTP/1.1 204 No Content", "Connection: closed"}));
  CHECK_FALSE(closes({"HTTP/1.1 204 No Content", "Connection: keep-alive"}));
  CHECK_FALSE(closes({"HTTP/1.1 204 No Content"}));
  CHECK(closes({"HTTP/1.0 204 No Content"}));
  CHECK_FALSE(closes({"HTTP/1.0 204 No Content", "Connection: Keep-Alive"}));
  CHECK(closes({"HTTP/1.1 200 OK"}));  // no length: the body ends with the connection
}

TEST_CASE("Retry-After and the rate-limit headers read as numbers") {
  const auto parsed = [](std::string_view name, std::string_view value) {
    const std::string line = std::string(name) + ": " + std::string(value);
    return parse(response({"HTTP/1.1 429 Too Many Requests", line, "Content-Length: 0"}));
  };
  CHECK(parsed("Retry-After", "120").retry_after == std::uint32_t{120});
  CHECK(parsed("retry-after", " 0 ").retry_after == std::uint32_t{0});
  CHECK(parsed("Retry-After", "99999999999").retry_after == UINT32_MAX);
  CHECK_FALSE(parsed("Retry-After", "Wed, 21 Oct 2015 07:28:00 GMT").retry_after.has_value());
  CHECK_FALSE(parsed("Retry-After", "5s").retry_after.has_value());
  CHECK_FALSE(parsed("Retry-After", "-1").retry_after.has_value());
  CHECK_FALSE(parsed("Retry-After", "").retry_after.has_value());
  CHECK_FALSE(parse(response({"HTTP/1.1 429 Too Many Requests", "Content-Length: 0"})).retry_after.has_value());

  CHECK(parsed("X-Ratelimit-Limit", "40, 40;w=1").rate_limit_limit_value == std::uint32_t{40});
  CHECK(parsed("X-Ratelimit-Limit", "200").rate_limit_limit_value == std::uint32_t{200});
  CHECK(parsed("X-Ratelimit-Limit", "50;w=1").rate_limit_limit_value == std::uint32_t{50});
  CHECK_FALSE(parsed("X-Ratelimit-Limit", "many").rate_limit_limit_value.has_value());
  CHECK_FALSE(parsed("X-Ratelimit-Limit", "40x").rate_limit_limit_value.has_value());
  CHECK(parsed("X-Ratelimit-Remaining", "0").rate_limit_remaining == std::uint32_t{0});
  CHECK(parsed("X-RateLimit-Reset", "17").rate_limit_reset == std::uint32_t{17});
  CHECK_FALSE(parsed("X-Ratelimit-Reset", "soon").rate_limit_reset.has_value());
}

TEST_CASE("parser errors read as messages with their limits") {
  kom::http_limits bounds;
  bounds.max_head = 20;
  char buffer[512];
  kom::http_response_parser p(buffer, sizeof buffer, bounds);
  const std::string raw = fixture("get_capture_200.http");
  std::size_t used = 0;
  CHECK(p.feed(raw.data(), raw.size(), used) == parse_status::error);
  CHECK(used == 20);  // everything up to the limit, nothing after
  char text[96];
  CHECK(p.error().describe(text) == "HTTP head larger than 20 bytes");
  CHECK(p.error().error_code() == errc::head_too_large);

  p.reset();
  REQUIRE(p.feed(raw.data(), raw.size(), used) == parse_status::error);
  CHECK(p.error().code() == errc::head_too_large);  // the limits survive reset()

  kom::http_response_parser small(buffer, 300);
  REQUIRE(small.feed(raw.data(), raw.size(), used) == parse_status::error);
  CHECK(small.error().describe(text) == "response body larger than the buffer of 300 bytes");

  kom::http_response_parser none(nullptr, 0);
  REQUIRE(none.feed(raw.data(), raw.size(), used) == parse_status::error);
  CHECK(none.error().describe(text) == "HTTP head larger than 0 bytes");
  std::size_t space = 1;
  CHECK(none.prepare(space) == nullptr);
  CHECK(space == 0);
}
