// kom on an emulated Cortex-M4 (qemu-system-arm -M mps2-an386, semihosting): builds the request
// of every operation, parses every HTTP and JSON response fixture, and checks the results against
// the values the host tests expect (byte for byte where they are byte for byte). One line per
// check, then "kom firmware tests: N passed, M failed"; the exit status is 0 only when all pass
// and nothing touched the heap.
#include <cstddef>
#include <cstdint>
#include <string_view>

// The payload, HTTP and JSON layers, header by header: the part of kom that builds without
// mbedTLS (kom/kom.hpp is all of kom).
#include "kom/http_request.hpp"
#include "kom/http_response.hpp"
#include "kom/json_body.hpp"
#include "kom/json_readers.hpp"
#include "kom/uuid.hpp"
#include "kom/src.hpp"

#include "board.hpp"
#include "explain.hpp"
#include "fixtures.hpp"
#include "support/seeds.hpp"

static_assert(KOM_USE_MBEDTLS == 0, "the Cortex-M4 build has no mbedTLS: kom's own Base64 and zeroize");

namespace {

using std::string_view;

using fw::check;
using fw::explain;


template <class T>
bool check_ok(const kom::result<T>& r, string_view what) {
  check(r.ok(), what);
  explain(r.error());
  return r.ok();
}

bool check_ok(const kom::error& e, string_view what) {
  check(e.ok(), what);
  explain(e);
  return e.ok();
}

// Shows where two texts first differ, for a failed byte-for-byte check.
void show_difference(string_view got, string_view expected) {
  std::size_t i = 0;
  while (i < got.size() && i < expected.size() && got[i] == expected[i]) ++i;
  fw::print("     differ at byte ");
  fw::print_uint(i);
  fw::print(" (got ");
  fw::print_uint(got.size());
  fw::print(" bytes, expected ");
  fw::print_uint(expected.size());
  fw::print("): got \"");
  fw::print(got.substr(i, 40));
  fw::print("\", expected \"");
  fw::print(expected.substr(i, 40));
  fw::print("\"\n");
}

void check_equal(string_view got, string_view expected, string_view what) {
  check(got == expected, what);
  if (got != expected) show_difference(got, expected);
}

// A text assembled from pieces, for the expected requests (no heap, no kom code).
class text {
 public:
  text& operator<<(string_view s) {
    for (char c : s) {
      if (size_ < sizeof data_) data_[size_++] = c;
    }
    return *this;
  }
  text& operator<<(std::size_t v) {
    char digits[20];
    std::size_t n = 0;
    do {
      digits[n++] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v != 0);
    while (n != 0) *this << string_view(&digits[--n], 1);
    return *this;
  }
  string_view view() const { return {data_, size_}; }

 private:
  char data_[2048];
  std::size_t size_ = 0;
};

// ---- requests ------------------------------------------------------------------------------

// The head every request of playground_config() shares after its request line
// (tests/test_http_request.cpp).
constexpr string_view common_head =
    "Host: api.playground.klarna.com\r\n"
    "Authorization: Basic SzEyMzQ1Nl9hYmNkZWY6c2hhcmVkc2VjcmV0\r\n"  // base64("K123456_abcdef:sharedsecret")
    "User-Agent: Library/kom_" KOM_VERSION_STRING " Language/C++_17 OS/Linux_5.10 Platform/Kiosk-7_2.4.1\r\n"
    "Accept: application/json\r\n";
constexpr string_view key = "2ed6657d-e927-568b-95e1-2665a8aea6a2";
constexpr string_view order_id = "f3392f8b-6116-4073-ab96-e330819e2c07";

kom::request_config playground_config() {
  kom::request_config c;
  c.server = kom::klarna_endpoint(kom::region::eu, kom::environment::playground);
  c.credentials.username = "K123456_abcdef";
  c.credentials.password = "sharedsecret";
  c.user_agent.os = "Linux_5.10";
  c.user_agent.pos_model = "Kiosk-7";
  c.user_agent.firmware = "2.4.1";
  return c;
}

using kom_test::seed_capture;
using kom_test::seed_shipping_update;

char request_buffer[2048];

// Builds one request into request_buffer; checks its result and that it is `expected`.
template <class Build>
void check_request(Build build, string_view expected, string_view what) {
  kom::buffer_writer out(request_buffer);
  const kom::result<std::size_t> n = build(out);
  if (!check_ok(n, what)) return;
  check(*n == out.size() && *n == expected.size(), "  size returned equals the bytes written");
  check_equal(out.view(), expected, "  byte for byte");
  kom::wipe_request(request_buffer);
}

void test_base64() {
  const char* const vectors[][2] = {{"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},        {"foo", "Zm9v"},
                                    {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"}};
  bool all = true;
  for (const auto& v : vectors) {
    unsigned char out[16];
    std::size_t written = 0;
    const string_view in = v[0];
    const int rc = kom::detail::base64_encode(out, sizeof out, &written,
                                              reinterpret_cast<const unsigned char*>(in.data()), in.size());
    all = all && rc == 0 && string_view(reinterpret_cast<const char*>(out), written) == v[1];
  }
  check(all, "base64: kom's encoder gives RFC 4648's test vectors");
  unsigned char small[8];
  std::size_t needed = 0;
  const unsigned char in[] = {'f', 'o', 'o', 'b', 'a', 'r'};
  check(kom::detail::base64_encode(small, sizeof small, &needed, in, sizeof in) ==
                kom::detail::base64_buffer_too_small &&
            needed == 9,
        "base64: a destination too small is refused with the size needed");
}

void test_requests() {
  const seed_capture capture;
  const seed_shipping_update shipping;
  const kom::request_config cfg = playground_config();

  check_ok(kom::validate(capture.request), "validate: the documented capture is valid");
  {
    char body[512];
    kom::buffer_writer out(body);
    const kom::result<std::size_t> n = kom::write_body(capture.request, out);
    if (check_ok(n, "write_body: the documented capture"))
      check_equal(out.view(), fx::capture_request_min, "  byte for byte tests/fixtures/capture_request.json, minified");
  }
  // tests/fixtures/shipping_info_request.json with its keys in kom's order (Klarna's page
  // sorts them; the host tests check that both are the same document).
  constexpr string_view shipping_update_body =
      R"({"shipping_info":[{"shipping_company":"DHL US","shipping_method":"Home",)"
      R"("tracking_number":"63456415674545679874","tracking_uri":"http://shipping.example/findmypackage?63456415674545679874",)"
      R"("return_shipping_company":"DHL US","return_tracking_number":"93456415674545679888",)"
      R"("return_tracking_uri":"http://shipping.example/findmypackage?93456415674545679888"}]})";
  {
    char body[1024];
    kom::buffer_writer out(body);
    const kom::result<std::size_t> n = kom::write_body(shipping.request, out);
    if (check_ok(n, "write_body: the documented shipping-info update"))
      check_equal(out.view(), shipping_update_body, "  byte for byte the documented sample, in kom's key order");
  }

  text capture_request;
  capture_request << "POST /ordermanagement/v1/orders/" << order_id << "/captures HTTP/1.1\r\n" << common_head
                  << "Content-Type: application/json\r\nContent-Length: " << fx::capture_request_min.size()
                  << "\r\nKlarna-Idempotency-Key: " << key << "\r\nConnection: keep-alive\r\n\r\n"
                  << fx::capture_request_min;
  check_request([&](kom::buffer_writer& o) { return kom::write_capture_request(o, cfg, order_id, capture.request, key); },
                capture_request.view(), "write_capture_request (Basic username:password)");

  text get_capture;
  get_capture << "GET /ordermanagement/v1/orders/" << order_id << "/captures/5b33ed47-79d0-4d76-99ea-4afaa7c8e552 HTTP/1.1\r\n"
              << common_head << "Connection: keep-alive\r\n\r\n";
  check_request(
      [&](kom::buffer_writer& o) {
        return kom::write_get_capture_request(o, cfg, order_id, "5b33ed47-79d0-4d76-99ea-4afaa7c8e552");
      },
      get_capture.view(), "write_get_capture_request");

  text list_captures;
  list_captures << "GET /ordermanagement/v1/orders/order-1/captures HTTP/1.1\r\n" << common_head
                << "Connection: keep-alive\r\n\r\n";
  check_request([&](kom::buffer_writer& o) { return kom::write_list_captures_request(o, cfg, "order-1"); },
                list_captures.view(), "write_list_captures_request");

  text shipping_info;
  shipping_info << "POST /ordermanagement/v1/orders/order-1/captures/capture-9/shipping-info HTTP/1.1\r\n" << common_head
                << "Content-Type: application/json\r\nContent-Length: " << shipping_update_body.size()
                << "\r\nKlarna-Idempotency-Key: " << key << "\r\nConnection: keep-alive\r\n\r\n"
                << shipping_update_body;
  check_request(
      [&](kom::buffer_writer& o) {
        return kom::write_shipping_info_request(o, cfg, "order-1", "capture-9", shipping.request, key);
      },
      shipping_info.view(), "write_shipping_info_request");

  text send_out;
  send_out << "POST /ordermanagement/v1/orders/order-1/captures/capture-9/trigger-send-out HTTP/1.1\r\n" << common_head
           << "Content-Length: 0\r\nKlarna-Idempotency-Key: " << key << "\r\nConnection: keep-alive\r\n\r\n";
  check_request([&](kom::buffer_writer& o) { return kom::write_trigger_send_out_request(o, cfg, "order-1", "capture-9", key); },
                send_out.view(), "write_trigger_send_out_request");

  text get_order;
  get_order << "GET /ordermanagement/v1/orders/order-1 HTTP/1.1\r\n" << common_head << "Connection: keep-alive\r\n\r\n";
  check_request([&](kom::buffer_writer& o) { return kom::write_get_order_request(o, cfg, "order-1"); }, get_order.view(),
                "write_get_order_request");

  // The order-wide calls: a refund with its body, the body-less POSTs, the PATCHes.
  kom::refund_request refund;
  refund.refunded_amount = 1200;
  refund.reference = "RET-0001";
  const string_view refund_body = R"({"refunded_amount":1200,"reference":"RET-0001"})";
  text refund_request;
  refund_request << "POST /ordermanagement/v1/orders/order-1/refunds HTTP/1.1\r\n" << common_head
                 << "Content-Type: application/json\r\nContent-Length: " << refund_body.size()
                 << "\r\nKlarna-Idempotency-Key: " << key << "\r\nConnection: keep-alive\r\n\r\n" << refund_body;
  check_request([&](kom::buffer_writer& o) { return kom::write_refund_request(o, cfg, "order-1", refund, key); },
                refund_request.view(), "write_refund_request");
  text get_refund;
  get_refund << "GET /ordermanagement/v1/orders/order-1/refunds/ref-1 HTTP/1.1\r\n" << common_head
             << "Connection: keep-alive\r\n\r\n";
  check_request([&](kom::buffer_writer& o) { return kom::write_get_refund_request(o, cfg, "order-1", "ref-1"); },
                get_refund.view(), "write_get_refund_request");
  text cancel;
  cancel << "POST /ordermanagement/v1/orders/order-1/cancel HTTP/1.1\r\n" << common_head
         << "Content-Length: 0\r\nKlarna-Idempotency-Key: " << key << "\r\nConnection: keep-alive\r\n\r\n";
  check_request([&](kom::buffer_writer& o) { return kom::write_cancel_request(o, cfg, "order-1", key); }, cancel.view(),
                "write_cancel_request");
  text release;
  release << "POST /ordermanagement/v1/orders/order-1/release-remaining-authorization HTTP/1.1\r\n" << common_head
          << "Content-Length: 0\r\nKlarna-Idempotency-Key: " << key << "\r\nConnection: keep-alive\r\n\r\n";
  check_request(
      [&](kom::buffer_writer& o) { return kom::write_release_remaining_authorization_request(o, cfg, "order-1", key); },
      release.view(), "write_release_remaining_authorization_request");
  const kom::merchant_references refs{"R-1", ""};
  const string_view refs_body = R"({"merchant_reference1":"R-1"})";
  text references;
  references << "PATCH /ordermanagement/v1/orders/order-1/merchant-references HTTP/1.1\r\n" << common_head
             << "Content-Type: application/json\r\nContent-Length: " << refs_body.size()
             << "\r\nKlarna-Idempotency-Key: " << key << "\r\nConnection: keep-alive\r\n\r\n" << refs_body;
  check_request([&](kom::buffer_writer& o) { return kom::write_merchant_references_request(o, cfg, "order-1", refs, key); },
                references.view(), "write_merchant_references_request");

  // An API key, a custom port and a minimal user agent.
  kom::request_config api;
  api.server = {"localhost", 8443};
  api.credentials.api_key = "klarna_test_api_abc123";
  api.user_agent.pos_model = "Kiosk-7";
  check_request([&](kom::buffer_writer& o) { return kom::write_get_order_request(o, api, "o"); },
                "GET /ordermanagement/v1/orders/o HTTP/1.1\r\n"
                "Host: localhost:8443\r\n"
                "Authorization: Basic klarna_test_api_abc123\r\n"
                "User-Agent: Library/kom_" KOM_VERSION_STRING " Language/C++_17 Platform/Kiosk-7\r\n"
                "Accept: application/json\r\n"
                "Connection: keep-alive\r\n\r\n",
                "write_get_order_request (API key, port 8443)");
  text api_capture;
  api_capture << "POST /ordermanagement/v1/orders/" << order_id
              << "/captures HTTP/1.1\r\nHost: localhost:8443\r\nAuthorization: Basic klarna_test_api_abc123\r\n"
                 "User-Agent: Library/kom_" KOM_VERSION_STRING " Language/C++_17 Platform/Kiosk-7\r\n"
                 "Accept: application/json\r\nContent-Type: application/json\r\nContent-Length: "
              << fx::capture_request_min.size() << "\r\nKlarna-Idempotency-Key: " << key
              << "\r\nConnection: keep-alive\r\n\r\n"
              << fx::capture_request_min;
  check_request([&](kom::buffer_writer& o) { return kom::write_capture_request(o, api, order_id, capture.request, key); },
                api_capture.view(), "write_capture_request (API key)");

  // Base64 of every padding length, and a UTF-8 password (tests/test_http_request.cpp).
  struct {
    string_view user, password, base64;
  } cases[] = {{"a", "b", "YTpi"}, {"ab", "c", "YWI6Yw=="}, {"u", "p\xC3\xA9", "dTpww6k="}, {"abc", "de", "YWJjOmRl"}};
  bool all = true;
  for (const auto& c : cases) {
    kom::request_config b;
    b.server = {"localhost", 443};
    b.credentials.username = c.user;
    b.credentials.password = c.password;
    kom::buffer_writer out(request_buffer);
    text line;
    line << "\r\nAuthorization: Basic " << c.base64 << "\r\n";
    all = all && kom::write_get_order_request(out, b, "o").ok() && out.view().find(line.view()) != string_view::npos;
  }
  check(all, "Basic credentials: base64 of every padding length and of UTF-8");

  // Measure-only: the size without a buffer.
  kom::buffer_writer measure(kom::measure_only);
  const kom::result<std::size_t> measured = kom::write_capture_request(measure, cfg, order_id, capture.request, key);
  check(measured.ok() && *measured == capture_request.view().size(), "measure-only writer gives the request's size");

  // Too small: an error with the size needed, and nothing of the credentials left behind.
  char small[300];
  for (char& ch : small) ch = '#';
  kom::buffer_writer tight(small);
  const kom::result<std::size_t> too_small = kom::write_capture_request(tight, cfg, order_id, capture.request, key);
  bool wiped = true;
  for (char ch : small) wiped = wiped && ch == '\0';
  check(!too_small.ok() && too_small.error().code() == kom::errc::buffer_too_small &&
            too_small.error().detail() == static_cast<std::int64_t>(capture_request.view().size()),
        "a buffer too small: buffer_too_small with the bytes needed");
  check(wiped, "  and what was written (credentials) is zeroized");

  // Checked before a byte is written.
  kom::buffer_writer refused(request_buffer);
  const kom::result<std::size_t> bad_id = kom::write_get_order_request(refused, cfg, "a/b");
  check(!bad_id.ok() && bad_id.error().code() == kom::errc::invalid_path_id && bad_id.error().path() == "order_id" &&
            refused.size() == 0,
        "an order id with '/' is invalid_path_id, nothing written");
  kom::capture_request wrong = capture.request;
  wrong.captured_amount = 5999;
  const kom::result<std::size_t> mismatch = kom::write_capture_request(refused, cfg, order_id, wrong, key);
  check(!mismatch.ok() && mismatch.error().code() == kom::errc::captured_amount_mismatch,
        "a captured_amount that is not the lines' sum is refused");

  for (char& ch : request_buffer) ch = 'x';
  kom::wipe_request(request_buffer);
  bool zero = true;
  for (char ch : request_buffer) zero = zero && ch == '\0';
  check(zero, "wipe_request zeroes the whole buffer");
}

// ---- idempotency keys ----------------------------------------------------------------------

int counting_random(void* context, unsigned char* out, std::size_t size) {
  auto* next = static_cast<unsigned char*>(context);
  for (std::size_t i = 0; i < size; ++i) out[i] = (*next)++;
  return 0;
}
int failing_random(void*, unsigned char*, std::size_t) { return -0x34; }

void test_uuid() {
  unsigned char next = 0;
  const kom::result<kom::uuid> u = kom::uuid_v4(counting_random, &next);
  if (check_ok(u, "uuid_v4 from the caller's random callback")) {
    check(u->version() == 4, "  version 4");
    check_equal(kom::uuid_text(*u).view(), "00010203-0405-4607-8809-0a0b0c0d0e0f", "  text form, version and variant set");
    kom::uuid back;
    check(kom::parse_uuid("00010203-0405-4607-8809-0A0B0C0D0E0F", back) && back == *u, "  parse_uuid reads it back");
  }
  const kom::result<kom::uuid> bad = kom::uuid_v4(failing_random, nullptr);
  check(!bad.ok() && bad.error().code() == kom::errc::random_source_failed && bad.error().detail() == -0x34,
        "uuid_v4: a failing random source is an error");
}

// ---- HTTP responses ------------------------------------------------------------------------

char http_buffer[4096];
char split_buffer[4096];

struct http_result {
  kom::parse_status status = kom::parse_status::need_more;
  std::size_t consumed = 0;
};

// Feeds all of `raw` at once; a response read until close is then finished.
http_result parse_whole(kom::http_response_parser& p, string_view raw) {
  http_result r;
  r.status = p.feed(raw.data(), raw.size(), r.consumed);
  if (r.status == kom::parse_status::need_more && r.consumed == raw.size()) r.status = p.finish();
  return r;
}

// Feeds `raw` one byte at a time.
http_result parse_bytewise(kom::http_response_parser& p, string_view raw) {
  http_result r;
  for (std::size_t i = 0; i < raw.size() && r.status == kom::parse_status::need_more; ++i) {
    std::size_t used = 0;
    r.status = p.feed(raw.data() + i, 1, used);
    r.consumed += used;
  }
  if (r.status == kom::parse_status::need_more && r.consumed == raw.size()) r.status = p.finish();
  return r;
}

bool same_response(const kom::http_response_parser& a, const kom::http_response_parser& b) {
  if (a.status() != b.status() || a.reason() != b.reason() || a.body() != b.body() ||
      a.header_count() != b.header_count() || a.capture_id() != b.capture_id() ||
      a.correlation_id() != b.correlation_id() || a.chunked() != b.chunked())
    return false;
  for (std::size_t i = 0; i < a.header_count(); ++i) {
    if (a.header_name(i) != b.header_name(i) || a.header_value(i) != b.header_value(i)) return false;
  }
  return true;
}

constexpr string_view capture_id = "4ba29b50-be7b-44f5-a492-113e6a865e22";
constexpr string_view capture_location =
    "https://api.klarna.com/ordermanagement/v1/orders/f3392f8b-6116-4073-ab96-e330819e2c07/captures/"
    "4ba29b50-be7b-44f5-a492-113e6a865e22";

kom::capture_storage<> capture_storage;
kom::capture capture_items[4];
kom::order_storage<> order_storage;
kom::error_body_storage<> error_storage;

void check_documented_capture(const kom::capture& c, string_view what) {
  bool ok = c.capture_id == "5b33ed47-79d0-4d76-99ea-4afaa7c8e552" && c.klarna_reference == "4K7Q6QF6-1" &&
            c.captured_amount == 6000 && c.captured_at == "2017-01-10T10:31:17.973Z" &&
            c.description == "Shipped the full order" && c.reference.empty() && c.refunded_amount == 0 && !c.truncated;
  ok = ok && c.order_lines.size() == 1;
  if (ok) {
    const kom::order_line& l = c.order_lines[0];
    ok = l.reference == "123050" && l.type == kom::order_line_type::physical && l.quantity == 10 &&
         l.quantity_unit == "kg" && l.name == "Tomatoes" && l.total_amount == 6000 && l.unit_price == 600 &&
         l.total_discount_amount == 0 && l.tax_rate == 2500 && l.total_tax_amount == 1200 &&
         l.product_identifiers == nullptr && l.subscription == nullptr;
  }
  ok = ok && c.shipping_info.size() == 1;
  if (ok) {
    const kom::shipping_info& s = c.shipping_info[0];
    ok = s.shipping_company == "DHL US" && s.shipping_method == kom::shipping_method::unset &&
         s.tracking_number == "1234567890" && s.return_shipping_company == "UPS" &&
         s.return_tracking_number == "112233445566778899";
  }
  for (const kom::address* a : {&c.billing_address, &c.shipping_address}) {
    ok = ok && a->given_name == "John" && a->family_name == "Doe" && a->title == "Mr" &&
         a->street_address == "123 Fake St" && a->street_address2.empty() && a->postal_code == "12345" &&
         a->city == "New York" && a->region == "NY" && a->country == "US" && a->email == "john@doe.com" &&
         a->phone == "123456";
  }
  check(ok, what);
}

void test_http() {
  // Every fixture: parsed whole and byte by byte, the same response.
  for (const fx::fixture& f : fx::http_fixtures) {
    kom::http_response_parser whole(http_buffer);
    kom::http_response_parser split(split_buffer);
    const http_result a = parse_whole(whole, f.text);
    const http_result b = parse_bytewise(split, f.text);
    text what;
    what << "http " << f.name << ": parsed whole and byte by byte, all consumed, the same response";
    check(a.status == kom::parse_status::done && b.status == kom::parse_status::done && a.consumed == f.text.size() &&
              b.consumed == f.text.size() && same_response(whole, split),
          what.view());
    explain(whole.error());
  }

  {
    kom::http_response_parser p(http_buffer);
    const http_result r = parse_whole(p, fx::http_capture_created_201);
    check(r.status == kom::parse_status::done && p.status() == 201 && p.reason() == "Created" &&
              p.minor_version() == 1 && p.header_count() == 9 && p.capture_id() == capture_id &&
              p.location() == capture_location && p.correlation_id() == "2f9a6b1c-8d3e-4b7a-9c51-0e6d4f3a2b18" &&
              p.content_length() == std::uint64_t{0} && p.body().empty() && !p.chunked() && !p.connection_close() &&
              !p.retry_after().has_value() && p.rate_limit_limit() == "200, 200;w=1" &&
              p.rate_limit_limit_value() == std::uint32_t{200} && p.rate_limit_remaining() == std::uint32_t{199} &&
              p.rate_limit_reset() == std::uint32_t{1},
          "http 201 capture: Capture-Id, Location, correlation id, rate limits");
  }
  {
    kom::http_response_parser p(http_buffer);
    parse_whole(p, fx::http_capture_created_location_only_201);
    check(p.status() == 201 && p.capture_id() == capture_id && p.location() == capture_location,
          "http 201 without Capture-Id: the id from Location");
  }
  {
    kom::http_response_parser p(http_buffer);
    parse_whole(p, fx::http_continue_then_201);
    check(p.status() == 201 && p.reason() == "Created" && p.capture_id() == capture_id && p.header_count() == 5,
          "http 100 Continue skipped, then the 201");
  }
  {
    kom::http_response_parser p(http_buffer);
    parse_whole(p, fx::http_lowercase_h2_proxy_201);
    check(p.status() == 201 && p.capture_id() == capture_id && p.location() == capture_location &&
              p.correlation_id() == "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a" &&
              p.rate_limit_limit_value() == std::uint32_t{40} && p.rate_limit_remaining() == std::uint32_t{39} &&
              p.header_name(2) == "capture-id",
          "http lowercase header names (HTTP/2 proxy) are found");
  }
  {
    kom::http_response_parser p(http_buffer);
    parse_whole(p, fx::http_shipping_info_204);
    check(p.status() == 204 && p.reason() == "No Content" && p.body().empty() && !p.content_length().has_value() &&
              p.correlation_id() == "a81f3c6e-2d9b-4f17-8e05-c4b2d7a96f10",
          "http 204 shipping info: no body");
  }

  // The capture, three ways framed: Content-Length, chunked, until close. Same body, same capture.
  struct framing {
    string_view raw;
    const char* name;
  } framings[] = {{fx::http_get_capture_200, "Content-Length"},
                  {fx::http_get_capture_200_chunked, "chunked"},
                  {fx::http_read_until_close_200, "until close"}};
  for (const framing& f : framings) {
    kom::http_response_parser p(http_buffer);
    const http_result r = parse_whole(p, f.raw);
    text what;
    what << "http 200 capture (" << string_view(f.name) << "): the body is capture.json minified, byte for byte";
    check_equal(r.status == kom::parse_status::done && p.status() == 200 ? p.body() : string_view("(no body)"),
                fx::json_capture_min, what.view());
    kom::capture c;
    text read;
    read << "  read_capture of the " << string_view(f.name) << " body";
    if (check_ok(kom::read_capture(p.body(), c, capture_storage), read.view()))
      check_documented_capture(c, "    every field of Klarna's documented capture");
    if (string_view(f.name) == "chunked") check(p.chunked() && !p.content_length().has_value(), "  chunked framing seen");
    if (string_view(f.name) == "until close")
      check(p.minor_version() == 0 && p.connection_close() && !p.content_length().has_value(),
            "  HTTP/1.0, read until the connection closed");
  }

  // Klarna's errors: status, headers, and the error body through the JSON reader.
  {
    kom::http_response_parser p(http_buffer);
    parse_whole(p, fx::http_error_404);
    kom::error_body b;
    check(p.status() == 404 && p.reason() == "Not Found" && p.correlation_id() == "66782175-ae05-44fc-9eb3-eeceadbad271",
          "http 404: status and correlation id");
    if (check_ok(kom::read_error_body(p.body(), b, error_storage), "  read_error_body of the 404 body"))
      check(b.error_code == kom::klarna_error_code::no_such_order && b.error_code_text == "NO_SUCH_ORDER" &&
                b.error_messages.size() == 1 &&
                b.error_messages[0] == "Order with id f3392f8b-6116-4073-ab96-e330819e2c07 cannot be found" &&
                b.correlation_id == "66782175-ae05-44fc-9eb3-eeceadbad271" && !b.truncated,
            "  NO_SUCH_ORDER, its message and correlation id");
  }
  {
    kom::http_response_parser p(http_buffer);
    parse_whole(p, fx::http_error_429);
    kom::error_body b;
    check(p.status() == 429 && p.retry_after() == std::uint32_t{1} && p.rate_limit_limit() == "40, 40;w=1" &&
              p.rate_limit_limit_value() == std::uint32_t{40} && p.rate_limit_remaining() == std::uint32_t{0} &&
              p.rate_limit_reset() == std::uint32_t{1},
          "http 429: Retry-After and rate-limit headers");
    if (check_ok(kom::read_error_body(p.body(), b, error_storage), "  read_error_body of the 429 body"))
      check(b.error_code == kom::klarna_error_code::too_many_requests && b.error_messages.size() == 1 &&
                b.error_messages[0] == "Rate limit exceeded",
            "  TOO_MANY_REQUESTS and its message");
  }

  // Limits: a buffer too small for the head.
  {
    char tiny[64];
    kom::http_response_parser p(tiny);
    std::size_t used = 0;
    const kom::parse_status s = p.feed(fx::http_get_capture_200.data(), fx::http_get_capture_200.size(), used);
    check(s == kom::parse_status::error && p.error().code() == kom::errc::head_too_large && p.error().detail() == 64,
          "http: a head larger than the buffer is head_too_large");
  }
}

// ---- JSON bodies ---------------------------------------------------------------------------

bool ends_with(string_view s, string_view tail) {
  return s.size() >= tail.size() && s.substr(s.size() - tail.size()) == tail;
}

void test_json() {
  // Every response fixture through the reader its name calls for.
  for (const fx::fixture& f : fx::json_fixtures) {
    text what;
    what << "json " << f.name << ": ";
    kom::error e(kom::errc::json_wrong_type);
    if (f.name.find("error") != string_view::npos) {
      kom::error_body b;
      what << "read_error_body";
      e = kom::read_error_body(f.text, b, error_storage);
    } else if (ends_with(f.name, "captures.json")) {
      kom::capture_list list;
      what << "read_captures";
      e = kom::read_captures(f.text, list, capture_items, capture_storage);
    } else if (ends_with(f.name, "capture.json")) {
      kom::capture c;
      what << "read_capture";
      e = kom::read_capture(f.text, c, capture_storage);
    } else if (ends_with(f.name, "refund.json")) {
      kom::refund r;
      what << "read_refund";
      e = kom::read_refund(f.text, r, capture_storage);
    } else if (f.name.find("order") != string_view::npos) {
      kom::order o;
      what << "read_order";
      e = kom::read_order(f.text, o, order_storage);
    } else {
      what << "no reader for this fixture";
    }
    check_ok(e, what.view());
  }

  {
    kom::capture c;
    if (check_ok(kom::read_capture(fx::json_capture, c, capture_storage), "json capture.json (pretty): every field"))
      check_documented_capture(c, "  Klarna's documented capture");
  }
  {
    kom::capture_list list;
    const kom::error e = kom::read_captures(fx::json_captures, list, capture_items, capture_storage);
    bool ok = e.ok() && list.captures.size() == 2 && !list.truncated;
    if (ok) {
      const kom::capture& first = list.captures[0];
      const kom::capture& second = list.captures[1];
      ok = first.capture_id == "5b33ed47-79d0-4d76-99ea-4afaa7c8e552" && first.captured_amount == 6000 &&
           first.refunded_amount == 1000 && first.order_lines.size() == 1 && first.order_lines[0].name == "Tomatoes" &&
           second.capture_id == "a3c1f0de-2b7e-4d2b-8d0c-6f1e2a9b7c41" && second.klarna_reference == "4K7Q6QF6-2" &&
           second.captured_amount == 500 && second.captured_at == "2017-01-11T08:02:45.120Z" &&
           second.description == "Shipping fee" && second.reference == "POS-0042-2" &&
           second.order_lines.size() == 1 && second.order_lines[0].type == kom::order_line_type::shipping_fee &&
           second.order_lines[0].total_amount == 500 && second.order_lines.begin() == first.order_lines.end() &&
           second.shipping_info.size() == 1 && second.shipping_info[0].shipping_method == kom::shipping_method::home &&
           second.billing_address.city == "New York";
    }
    check(ok, "json captures.json: two captures in one shared storage");
    explain(e);
  }
  {
    kom::order r;
    const kom::error e = kom::read_order(fx::json_order_part_captured, r, order_storage);
    const bool ok = e.ok() && r.order_id == "7849fd84-47dc-4919-a7ce-47b9f46156f0" &&
                    r.status == kom::order_status::part_captured && r.fraud_status == kom::fraud_status::accepted &&
                    r.order_amount == 15500 && r.original_order_amount == 15500 && r.captured_amount == 6500 &&
                    r.refunded_amount == 1000 && r.remaining_authorized_amount == 9000 &&
                    r.purchase_currency == "USD" && r.expires_at == "2017-02-06T16:45:03.000Z" && !r.truncated &&
                    r.captures.size() == 2 && r.captures[0].capture_id == "5b33ed47-79d0-4d76-99ea-4afaa7c8e552" &&
                    r.captures[0].refunded_amount == 1000 && r.captures[1].reference == "POS-0042-2" &&
                    r.captures[1].captured_amount == 500;
    check(ok, "json order_part_captured.json: status, amounts, captures");
    explain(e);
  }
  {
    kom::order r;
    const kom::error e = kom::read_order(fx::json_order_authorized, r, order_storage);
    check(e.ok() && r.order_id == "0b1d9815-165e-42e2-8867-35bc03789e00" && r.status == kom::order_status::authorized &&
              r.fraud_status == kom::fraud_status::pending && r.order_amount == 2599 && r.captured_amount == 0 &&
              r.remaining_authorized_amount == 2599 && r.purchase_currency == "EUR" && r.captures.empty(),
          "json order_authorized.json: a pending order without captures");
  }
  for (const string_view body : {fx::json_spec2020_order, fx::json_spec2024_order}) {
    kom::order r;
    const kom::error e = kom::read_order(body, r, order_storage);
    check(e.ok() && r.order_id == "f3392f8b-6116-4073-ab96-e330819e2c07" && r.status == kom::order_status::authorized &&
              r.fraud_status == kom::fraud_status::accepted && r.purchase_currency == "usd" && r.captures.size() == 1 &&
              r.captures[0].capture_id == "4ba29b50-be7b-44f5-a492-113e6a865e22" &&
              r.captures[0].klarna_reference == "K4MADNY-1",
          body.data() == fx::json_spec2020_order.data() ? "json spec2020_order.json: the spec's Order example"
                                                        : "json spec2024_order.json: the spec's MerchantOrderDto example");
  }
  for (const string_view body : {fx::json_spec2020_capture, fx::json_spec2024_capture}) {
    kom::capture c;
    const kom::error e = kom::read_capture(body, c, capture_storage);
    bool ok = e.ok() && c.capture_id == "4ba29b50-be7b-44f5-a492-113e6a865e22" && c.klarna_reference == "K4MADNY-1" &&
              c.order_lines.size() == 1 && c.order_lines[0].product_identifiers != nullptr &&
              c.order_lines[0].product_identifiers->brand == "Intel" && c.shipping_info.size() == 1 &&
              c.shipping_info[0].shipping_method == kom::shipping_method::home &&
              c.billing_address.street_address2 == "1 Safeway";
    check(ok, body.data() == fx::json_spec2020_capture.data() ? "json spec2020_capture.json: the spec's Capture example"
                                                               : "json spec2024_capture.json: the spec's Capture example");
  }
  {
    struct expected_error {
      string_view body;
      kom::klarna_error_code code;
      string_view code_text;
    } table[] = {
        {fx::json_spec2024_error_capture_not_allowed, kom::klarna_error_code::capture_not_allowed, "CAPTURE_NOT_ALLOWED"},
        {fx::json_spec2024_error_cancel_not_allowed, kom::klarna_error_code::cancel_not_allowed, "CANCEL_NOT_ALLOWED"},
        {fx::json_spec2024_error_not_allowed, kom::klarna_error_code::not_allowed, "NOT_ALLOWED"},
        {fx::json_spec2024_error_refund_not_allowed, kom::klarna_error_code::refund_not_allowed, "REFUND_NOT_ALLOWED"},
        {fx::json_spec2024_error_no_such_order, kom::klarna_error_code::no_such_order, "NO_SUCH_ORDER"},
        {fx::json_spec2020_error_no_such_capture, kom::klarna_error_code::no_such_capture, "NO_SUCH_CAPTURE"},
        {fx::json_spec2020_error_not_found, kom::klarna_error_code::not_found, "NOT_FOUND"},
        {fx::json_spec2020_error_error_message_dto, kom::klarna_error_code::unknown, "string"},
    };
    bool ok = true;
    for (const expected_error& x : table) {
      kom::error_body b;
      ok = ok && kom::read_error_body(x.body, b, error_storage).ok() && b.error_code == x.code &&
           b.error_code_text == x.code_text && b.error_messages.size() == 1 && b.error_messages[0] == "string";
    }
    kom::error_body b;
    ok = ok && kom::read_error_body(fx::json_error_no_such_order, b, error_storage).ok() &&
         b.error_code == kom::klarna_error_code::no_such_order && b.error_messages.size() == 1 &&
         b.error_messages[0] == "Order 7849fd84-47dc-4919-a7ce-47b9f46156f cannot be found" &&
         b.correlation_id == "f072554f-ef99-4b21-85da-633355aab998";
    check(ok, "json error bodies: every error code, message and correlation id");
  }

  // Limits and wrong documents.
  {
    kom::capture c;
    const kom::error e = kom::read_capture(fx::json_captures, c, capture_storage);
    check(e.code() == kom::errc::json_wrong_type, "json: a list where a capture is expected is json_wrong_type");
  }
  {
    kom::capture_storage<kom::capacity::lines<4>, kom::capacity::shipping_entries<2>, kom::capacity::text_bytes<64>> small;
    kom::capture c;
    const kom::error e = kom::read_capture(fx::json_capture, c, small);
    check(e.code() == kom::errc::json_text_overflow && e.detail() == 64,
          "json: more text than the storage holds is json_text_overflow");
    kom::read_options allow;
    allow.allow_truncation = true;
    const kom::error t = kom::read_capture(fx::json_capture, c, small, allow);
    check(t.ok() && c.truncated, "  and with truncation allowed: kept what fits, truncated set");
  }
  {
    kom::order r;
    const kom::error e = kom::read_order("{\"order_id\":\"x\",", r, order_storage);
    check(e.code() == kom::errc::json_syntax, "json: a body cut short is json_syntax");
    // The root object is one level, an unknown field holds the rest (tests/test_json_readers.cpp).
    static_assert(KOM_JSON_READER_MAX_DEPTH == 16);
    const kom::error deep = kom::read_order("{\"x\":[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]}", r, order_storage);
    check(deep.code() == kom::errc::json_too_deep && deep.detail() == 16,
          "json: nesting deeper than KOM_JSON_READER_MAX_DEPTH is json_too_deep");
    const kom::error just = kom::read_order("{\"x\":[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]}", r, order_storage);
    check(just.ok(), "  and one level less is read");
  }
}

}  // namespace

int main() {
  fw::print("kom firmware tests on ");
  fw::print("Cortex-M4 (qemu mps2-an386), kom " KOM_VERSION_STRING "\n");
  test_base64();
  test_requests();
  test_uuid();
  test_http();
  test_json();
  check(fw::heap_calls() == 0, "no heap: malloc, calloc, realloc and _sbrk never called");
  return fw::report() ? 0 : 1;
}
