#include "kom/http_request.hpp"

#include <doctest/doctest.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "support/alloc_counter.hpp"
#include "support/fixtures.hpp"
#include "support/json_canon.hpp"

namespace {

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

// The head every request of playground_config() shares after its request line.
const std::string common_head =
    "Host: api.playground.klarna.com\r\n"
    "Authorization: Basic SzEyMzQ1Nl9hYmNkZWY6c2hhcmVkc2VjcmV0\r\n"  // base64("K123456_abcdef:sharedsecret")
    "User-Agent: Library/kom_" KOM_VERSION_STRING " Language/C++_17 OS/Linux_5.10 Platform/Kiosk-7_2.4.1\r\n"
    "Accept: application/json\r\n";

template <class Build>
std::string build(Build&& b) {
  std::vector<char> buf(8192);
  kom::buffer_writer out(buf.data(), buf.size());
  auto n = b(out);
  if (!n) {
    char why[128];
    FAIL(std::string(n.error().describe(why)));
    return {};
  }
  CHECK(*n == out.size());
  return std::string(out.view());
}

const char* key = "2ed6657d-e927-568b-95e1-2665a8aea6a2";

}  // namespace

TEST_CASE("capture request, byte for byte") {
  const kom_test::seed_capture seed;
  const auto cfg = playground_config();
  const std::string body = kom_test::minify_json(kom_test::read_fixture("capture_request.json"));
  const std::string expected = "POST /ordermanagement/v1/orders/f3392f8b-6116-4073-ab96-e330819e2c07/captures HTTP/1.1\r\n" +
                               common_head +
                               "Content-Type: application/json\r\n"
                               "Content-Length: 458\r\n"
                               "Klarna-Idempotency-Key: 2ed6657d-e927-568b-95e1-2665a8aea6a2\r\n"
                               "Connection: keep-alive\r\n"
                               "\r\n" +
                               body;
  REQUIRE(body.size() == 458);
  CHECK(build([&](kom::buffer_writer& o) {
          return kom::write_capture_request(o, cfg, "f3392f8b-6116-4073-ab96-e330819e2c07", seed.request, key);
        }) == expected);
}

TEST_CASE("get capture request, byte for byte") {
  const auto cfg = playground_config();
  CHECK(build([&](kom::buffer_writer& o) {
          return kom::write_get_capture_request(o, cfg, "f3392f8b-6116-4073-ab96-e330819e2c07",
                                                "5b33ed47-79d0-4d76-99ea-4afaa7c8e552");
        }) ==
        "GET /ordermanagement/v1/orders/f3392f8b-6116-4073-ab96-e330819e2c07/captures/"
        "5b33ed47-79d0-4d76-99ea-4afaa7c8e552 HTTP/1.1\r\n" +
            common_head + "Connection: keep-alive\r\n\r\n");
}

TEST_CASE("list captures request, byte for byte") {
  const auto cfg = playground_config();
  CHECK(build([&](kom::buffer_writer& o) { return kom::write_list_captures_request(o, cfg, "order-1"); }) ==
        "GET /ordermanagement/v1/orders/order-1/captures HTTP/1.1\r\n" + common_head +
            "Connection: keep-alive\r\n\r\n");
}

TEST_CASE("shipping info request, byte for byte") {
  const kom_test::seed_shipping_update seed;
  const auto cfg = playground_config();
  const std::string body =
      R"({"shipping_info":[{"shipping_company":"DHL US","shipping_method":"Home",)"
      R"("tracking_number":"63456415674545679874","tracking_uri":"http://shipping.example/findmypackage?63456415674545679874",)"
      R"("return_shipping_company":"DHL US","return_tracking_number":"93456415674545679888",)"
      R"("return_tracking_uri":"http://shipping.example/findmypackage?93456415674545679888"}]})";
  CHECK(kom_test::canonical_json(body) ==
        kom_test::canonical_json(kom_test::read_fixture("shipping_info_request.json")));
  CHECK(build([&](kom::buffer_writer& o) {
          return kom::write_shipping_info_request(o, cfg, "order-1", "capture-9", seed.request, key);
        }) == "POST /ordermanagement/v1/orders/order-1/captures/capture-9/shipping-info HTTP/1.1\r\n" + common_head +
                  "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
                  "\r\nKlarna-Idempotency-Key: 2ed6657d-e927-568b-95e1-2665a8aea6a2\r\n"
                  "Connection: keep-alive\r\n\r\n" +
                  body);
}

TEST_CASE("trigger send-out request, byte for byte: no body, Content-Length 0") {
  const auto cfg = playground_config();
  CHECK(build([&](kom::buffer_writer& o) {
          return kom::write_trigger_send_out_request(o, cfg, "order-1", "capture-9", key);
        }) == "POST /ordermanagement/v1/orders/order-1/captures/capture-9/trigger-send-out HTTP/1.1\r\n" +
                  common_head +
                  "Content-Length: 0\r\nKlarna-Idempotency-Key: 2ed6657d-e927-568b-95e1-2665a8aea6a2\r\n"
                  "Connection: keep-alive\r\n\r\n");
}

TEST_CASE("get order request, byte for byte") {
  const auto cfg = playground_config();
  CHECK(build([&](kom::buffer_writer& o) { return kom::write_get_order_request(o, cfg, "order-1"); }) ==
        "GET /ordermanagement/v1/orders/order-1 HTTP/1.1\r\n" + common_head + "Connection: keep-alive\r\n\r\n");
}

TEST_CASE("API key, custom port and a minimal user agent") {
  kom::request_config cfg;
  cfg.server = {"localhost", 8443};
  cfg.credentials.api_key = "klarna_test_api_abc123";
  cfg.user_agent.pos_model = "Kiosk-7";
  CHECK(build([&](kom::buffer_writer& o) { return kom::write_get_order_request(o, cfg, "o"); }) ==
        "GET /ordermanagement/v1/orders/o HTTP/1.1\r\n"
        "Host: localhost:8443\r\n"
        "Authorization: Basic klarna_test_api_abc123\r\n"
        "User-Agent: Library/kom_" KOM_VERSION_STRING " Language/C++_17 Platform/Kiosk-7\r\n"
        "Accept: application/json\r\n"
        "Connection: keep-alive\r\n\r\n");
}

TEST_CASE("base64 of credentials of every padding length, and UTF-8 passwords") {
  struct {
    const char* user;
    const char* password;
    const char* base64;
  } cases[] = {{"a", "b", "YTpi"}, {"ab", "c", "YWI6Yw=="}, {"u", "p\xC3\xA9", "dTpww6k="}};
  for (const auto& c : cases) {
    kom::request_config cfg;
    cfg.server = {"localhost", 443};
    cfg.credentials.username = c.user;
    cfg.credentials.password = c.password;
    const std::string req = build([&](kom::buffer_writer& o) { return kom::write_get_order_request(o, cfg, "o"); });
    CHECK(req.find(std::string("Authorization: Basic ") + c.base64 + "\r\n") != std::string::npos);
  }
}

TEST_CASE("the six Klarna hosts") {
  using kom::environment;
  using kom::region;
  CHECK(kom::klarna_endpoint(region::eu, environment::production).host == "api.klarna.com");
  CHECK(kom::klarna_endpoint(region::eu, environment::playground).host == "api.playground.klarna.com");
  CHECK(kom::klarna_endpoint(region::na, environment::production).host == "api-na.klarna.com");
  CHECK(kom::klarna_endpoint(region::na, environment::playground).host == "api-na.playground.klarna.com");
  CHECK(kom::klarna_endpoint(region::oc, environment::production).host == "api-oc.klarna.com");
  CHECK(kom::klarna_endpoint(region::oc, environment::playground).host == "api-oc.playground.klarna.com");
  CHECK(kom::klarna_endpoint(region::oc, environment::playground).port == 443);
}

TEST_CASE("path ids: 1..255 unreserved characters, anything else refused before a byte is written") {
  const auto cfg = playground_config();
  const std::string at_max(255, 'a'), past(256, 'a');
  CHECK(kom::write_get_order_request(*std::make_unique<kom::buffer_writer>(kom::measure_only), cfg, at_max).ok());
  CHECK(kom::write_get_order_request(*std::make_unique<kom::buffer_writer>(kom::measure_only), cfg, "aZ09-._~").ok());
  const std::string bad_ids[] = {"", past, "a\rb", "a\nb", "a b", "a/b", "a?b", "a%20", "a#b",
                                 "\xC3\xA9", std::string("a\0b", 3), "a:b", "a+b", "a@b", "..%2f"};
  for (const std::string& id : bad_ids) {
    CAPTURE(id);
    char buf[2048];
    std::memset(buf, '#', sizeof buf);
    kom::buffer_writer out(buf);
    auto r = kom::write_get_order_request(out, cfg, id);
    REQUIRE(!r.ok());
    CHECK(r.error().code() == kom::errc::invalid_path_id);
    CHECK(r.error().path() == "order_id");
    CHECK(out.size() == 0);
    CHECK(buf[0] == '#');
    kom::buffer_writer out2(buf);
    auto r2 = kom::write_trigger_send_out_request(out2, cfg, "order-1", id, key);
    REQUIRE(!r2.ok());
    CHECK(r2.error().path() == "capture_id");
    CHECK(out2.size() == 0);
  }
}

TEST_CASE("header values given by the caller are checked") {
  const std::string bad_values[] = {"a\rb", "a\nb", std::string("a\0b", 3), "a\tb", "a\x7f", "\xC3\xA9"};
  for (const std::string& v : bad_values) {
    CAPTURE(v);
    struct {
      const char* path;
      void (*set)(kom::request_config&, kom::request_config&, std::string_view);
    } fields[] = {
        {"server.host", [](kom::request_config&, kom::request_config& c, std::string_view s) { c.server.host = s; }},
        {"credentials.api_key",
         [](kom::request_config&, kom::request_config& c, std::string_view s) { c.credentials.api_key = s; }},
        {"user_agent.os", [](kom::request_config&, kom::request_config& c, std::string_view s) { c.user_agent.os = s; }},
        {"user_agent.pos_model",
         [](kom::request_config&, kom::request_config& c, std::string_view s) { c.user_agent.pos_model = s; }},
        {"user_agent.firmware",
         [](kom::request_config&, kom::request_config& c, std::string_view s) { c.user_agent.firmware = s; }},
    };
    for (const auto& f : fields) {
      CAPTURE(f.path);
      auto cfg = playground_config();
      f.set(cfg, cfg, v);
      kom::buffer_writer out(kom::measure_only);
      auto r = kom::write_get_order_request(out, cfg, "o");
      REQUIRE(!r.ok());
      CHECK(r.error().code() == kom::errc::invalid_header_value);
      CHECK(r.error().path() == f.path);
      CHECK(out.size() == 0);
    }
    auto cfg = playground_config();
    kom::buffer_writer out(kom::measure_only);
    auto r = kom::write_trigger_send_out_request(out, cfg, "o", "c", v);
    REQUIRE(!r.ok());
    CHECK(r.error().code() == kom::errc::invalid_header_value);
    CHECK(r.error().path() == "idempotency_key");
    CHECK(out.size() == 0);
  }
  SUBCASE("control characters in username and password") {
    auto cfg = playground_config();
    cfg.credentials.password = "pass\r\nX-Evil: 1";
    auto r = kom::write_get_order_request(*std::make_unique<kom::buffer_writer>(kom::measure_only), cfg, "o");
    CHECK(r.error().code() == kom::errc::invalid_header_value);
    CHECK(r.error().path() == "credentials.password");
    cfg = playground_config();
    cfg.credentials.username = "user:name";
    r = kom::write_get_order_request(*std::make_unique<kom::buffer_writer>(kom::measure_only), cfg, "o");
    CHECK(r.error().path() == "credentials.username");
  }
  SUBCASE("spaces split User-Agent products and are refused there") {
    auto cfg = playground_config();
    cfg.user_agent.pos_model = "Kiosk 7";
    auto r = kom::write_get_order_request(*std::make_unique<kom::buffer_writer>(kom::measure_only), cfg, "o");
    CHECK(r.error().code() == kom::errc::invalid_header_value);
  }
}

TEST_CASE("the server host is a DNS name or an IPv4 address") {
  // Taken: what resolves and verifies as a server name.
  for (const char* host : {"api.klarna.com", "10.0.0.1", "localhost", "till_7.shop.internal", "A-1.example"}) {
    CAPTURE(host);
    auto cfg = playground_config();
    cfg.server.host = host;
    kom::buffer_writer out(kom::measure_only);
    REQUIRE(kom::write_get_order_request(out, cfg, "o").ok());
  }
  const std::string longest(253, 'a');
  auto cfg = playground_config();
  cfg.server.host = longest;
  kom::buffer_writer measure(kom::measure_only);
  CHECK(kom::write_get_order_request(measure, cfg, "o").ok());

  // Refused: what a URL parser or a proxy could read as another server, or not a name at all.
  for (const char* host : {"api.klarna.com:443", "user@evil.example", "evil.example/api.klarna.com",
                           "evil.example?api.klarna.com", "evil.example#x", "api%2eklarna.com", "[::1]", "::1",
                           "api.klarna.com\\x", "a b", "*.klarna.com"}) {
    CAPTURE(host);
    cfg = playground_config();
    cfg.server.host = host;
    char buf[64];
    std::memset(buf, '#', sizeof buf);
    kom::buffer_writer out(buf);
    auto r = kom::write_get_order_request(out, cfg, "o");
    REQUIRE(!r.ok());
    CHECK(r.error().code() == kom::errc::invalid_header_value);
    CHECK(r.error().path() == "server.host");
    CHECK(out.size() == 0);
    CHECK(buf[0] == '#');
  }
  const std::string too_long(254, 'a');
  cfg = playground_config();
  cfg.server.host = too_long;
  kom::buffer_writer out(kom::measure_only);
  auto r = kom::write_get_order_request(out, cfg, "o");
  CHECK(r.error().code() == kom::errc::too_long);
  CHECK(r.error().path() == "server.host");
  CHECK(r.error().detail() == 253);
  CHECK(out.size() == 0);
}

TEST_CASE("missing credentials, idempotency key and port are refused") {
  auto cfg = playground_config();
  cfg.credentials = {};
  kom::buffer_writer out(kom::measure_only);
  CHECK(kom::write_get_order_request(out, cfg, "o").error().code() == kom::errc::missing_credentials);
  cfg = playground_config();
  cfg.credentials.password = {};
  CHECK(kom::write_get_order_request(out, cfg, "o").error().code() == kom::errc::missing_credentials);
  cfg = playground_config();
  auto r = kom::write_trigger_send_out_request(out, cfg, "o", "c", "");
  CHECK(r.error().code() == kom::errc::required);
  CHECK(r.error().path() == "idempotency_key");
  cfg.server.port = 0;
  CHECK(kom::write_get_order_request(out, cfg, "o").error().path() == "server.port");
  cfg = playground_config();
  cfg.server.host = "";
  CHECK(kom::write_get_order_request(out, cfg, "o").error().code() == kom::errc::required);
  CHECK(out.size() == 0);
}

TEST_CASE("a body that fails validation sends nothing") {
  kom_test::seed_capture seed;
  seed.request.captured_amount = 5000;  // lines sum to 6000
  const auto cfg = playground_config();
  char buf[2048];
  std::memset(buf, '#', sizeof buf);
  kom::buffer_writer out(buf);
  auto r = kom::write_capture_request(out, cfg, "o", seed.request, key);
  CHECK(r.error().code() == kom::errc::captured_amount_mismatch);
  CHECK(out.size() == 0);
  CHECK(buf[0] == '#');
}

TEST_CASE("every buffer size: never past the end, size needed reported, credentials wiped on overflow") {
  const kom_test::seed_capture seed;
  const auto cfg = playground_config();
  kom::buffer_writer measure(kom::measure_only);
  auto full = kom::write_capture_request(measure, cfg, "order-1", seed.request, key);
  REQUIRE(full.ok());
  for (std::size_t cap = 0; cap < *full; ++cap) {
    std::vector<char> buf(cap + 8, '#');
    kom::buffer_writer out(buf.data(), cap);
    auto r = kom::write_capture_request(out, cfg, "order-1", seed.request, key);
    REQUIRE(!r.ok());
    CHECK(r.error().code() == kom::errc::buffer_too_small);
    CHECK(r.error().detail() == static_cast<std::int64_t>(*full));
    for (std::size_t i = 0; i < cap; ++i) REQUIRE(buf[i] == '\0');  // wiped
    for (std::size_t i = cap; i < buf.size(); ++i) REQUIRE(buf[i] == '#');
  }
}

TEST_CASE("wipe_request clears the whole buffer") {
  const auto cfg = playground_config();
  char buf[1024];
  kom::buffer_writer out(buf);
  REQUIRE(kom::write_get_order_request(out, cfg, "o").ok());
  REQUIRE(std::string(out.view()).find("SzEyMzQ1") != std::string::npos);
  kom::wipe_request(buf);
  for (char c : buf) REQUIRE(c == '\0');
}

TEST_CASE("building every request allocates nothing") {
  const kom_test::seed_capture capture;
  const kom_test::seed_shipping_update update;
  const auto cfg = playground_config();
  char buf[2048];
  std::size_t allocations = 0;
  bool ok = true;
  {
    kom_test::alloc_scope scope;
    kom::buffer_writer a(buf), b(buf), c(buf), d(buf), e(buf), f(buf);
    ok = ok && kom::write_capture_request(a, cfg, "o", capture.request, key).ok();
    ok = ok && kom::write_get_capture_request(b, cfg, "o", "c").ok();
    ok = ok && kom::write_list_captures_request(c, cfg, "o").ok();
    ok = ok && kom::write_shipping_info_request(d, cfg, "o", "c", update.request, key).ok();
    ok = ok && kom::write_trigger_send_out_request(e, cfg, "o", "c", key).ok();
    ok = ok && kom::write_get_order_request(f, cfg, "o").ok();
    kom::wipe_request(buf);
    allocations = scope.count();
  }
  CHECK(ok);
  CHECK(allocations == 0);
}
