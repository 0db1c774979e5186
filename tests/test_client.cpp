// kom::client over kom::testing::fake_transport: every operation, every retry rule, partial and
// would-block I/O, buffers, logging, credentials and heap. Time is a fake clock: sleeping
// advances it, so backoff is checked exactly and tests run instantly.
#include <doctest/doctest.h>

#include <cstring>
#include <string>
#include <vector>

#include "kom/client.hpp"
#include "kom/testing/fake_transport.hpp"
#include "support/alloc_counter.hpp"
#include "support/fixtures.hpp"
#include "support/json_canon.hpp"

namespace {

// ---- the test's hooks --------------------------------------------------------------------

struct test_env {
  std::uint64_t now = 1000;
  std::vector<std::uint32_t> sleeps;
  std::vector<std::string> log;
  bool keep_log = true;
  std::uint32_t random_state = 0;
  bool random_fails = false;
};

kom::client_hooks hooks_for(test_env& env, bool with_random = true) {
  kom::client_hooks h;
  h.context = &env;
  h.now_ms = [](void* c) { return static_cast<test_env*>(c)->now; };
  h.sleep_ms = [](void* c, std::uint32_t ms) {
    auto* e = static_cast<test_env*>(c);
    e->now += ms;
    e->sleeps.push_back(ms);
  };
  h.log = [](void* c, const kom::log_record& r) {
    auto* e = static_cast<test_env*>(c);
    if (!e->keep_log) return;
    char line[512];
    kom::buffer_writer w(line);
    kom::write_log_line(w, r);
    e->log.emplace_back(w.view());
  };
  if (with_random) {
    h.random = [](void* c, unsigned char* out, std::size_t n) {
      auto* e = static_cast<test_env*>(c);
      if (e->random_fails) return -1;
      for (std::size_t i = 0; i < n; ++i) {
        e->random_state = e->random_state * 1103515245u + 12345u;
        out[i] = static_cast<unsigned char>(e->random_state >> 16);
      }
      return 0;
    };
    h.random_context = &env;
  }
  return h;
}

kom::client_config test_config() {
  kom::client_config c;
  c.request.server = {"api.playground.klarna.com", 443};
  c.request.credentials.username = "merchant_user";
  c.request.credentials.password = "s3cret-Pa55";
  return c;
}

// base64("merchant_user:s3cret-Pa55")
constexpr const char* basic_token = "bWVyY2hhbnRfdXNlcjpzM2NyZXQtUGE1NQ==";

// A server that answers request i with script[i] (the last one repeats), and counts requests.
struct scripted_server {
  std::vector<std::string> script;
  std::vector<std::string> requests;
  bool close_after = false;

  static void respond(void* c, kom::testing::fake_transport& fake, std::string_view request) {
    auto* s = static_cast<scripted_server*>(c);
    s->requests.emplace_back(request);
    const std::size_t i = s->requests.size() - 1;
    fake.reply(s->script[i < s->script.size() ? i : s->script.size() - 1]);
    if (s->close_after) fake.close_after_reply();
  }
};

std::string fixture_http(const char* name) { return kom_test::read_fixture(std::string("http/") + name); }

std::string response(int status, std::string_view reason, std::string_view headers, std::string_view body = {}) {
  std::string r = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) + "\r\n";
  r += "Klarna-Correlation-Id: corr-" + std::to_string(status) + "\r\n";
  r += std::string(headers);
  r += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  r += std::string(body);
  return r;
}

std::string error_response(int status, std::string_view reason, std::string_view code, std::string_view headers = {}) {
  const std::string body = R"({"error_code":")" + std::string(code) + R"(","error_messages":["msg )" + std::string(code) +
                           R"("],"correlation_id":"c-)" + std::to_string(status) + R"("})";
  return response(status, reason, std::string("Content-Type: application/json\r\n") + std::string(headers), body);
}

const std::string created = response(201, "Created",
                                     "Capture-Id: cap-1\r\nLocation: https://x/ordermanagement/v1/orders/o-1/captures/cap-1\r\n");
const std::string no_content_204 = "HTTP/1.1 204 No Content\r\nKlarna-Correlation-Id: c204\r\n\r\n";

std::string header_of(std::string_view request, std::string_view name) {
  const std::string needle = "\r\n" + std::string(name) + ": ";
  const std::size_t at = request.find(needle);
  if (at == std::string_view::npos) return {};
  const std::size_t start = at + needle.size();
  return std::string(request.substr(start, request.find("\r\n", start) - start));
}

// One client over one fake server, with a work buffer.
struct rig {
  test_env env;
  kom::testing::fake_transport fake;
  scripted_server server;
  char work[8192];
  kom::client client;

  explicit rig(std::vector<std::string> script, kom::client_config config = test_config(), bool with_random = true)
      : client(fake.transport(), config, hooks_for(env, with_random), work) {
    server.script = std::move(script);
    fake.set_responder(&scripted_server::respond, &server);
  }
};

const kom_test::seed_capture& seed() {
  static const kom_test::seed_capture s;
  return s;
}

}  // namespace

// ---- the operations ---------------------------------------------------------------------

TEST_CASE("client: a capture sends one request with a generated key and returns the capture id") {
  rig t({created});
  const auto r = t.client.capture("o-1", seed().request);
  REQUIRE(r.ok());
  CHECK(r.next_step() == kom::outcome::done);
  CHECK(r.status == 201);
  CHECK(r.value.capture_id == "cap-1");
  CHECK(r.value.location == "https://x/ordermanagement/v1/orders/o-1/captures/cap-1");
  CHECK(r.correlation_id == "corr-201");
  CHECK(r.attempts == 1);
  CHECK(r.sent);
  REQUIRE(t.server.requests.size() == 1);
  const std::string& req = t.server.requests[0];
  CHECK(req.rfind("POST /ordermanagement/v1/orders/o-1/captures HTTP/1.1\r\n", 0) == 0);
  CHECK(header_of(req, "Klarna-Idempotency-Key") == std::string(r.idempotency_key));
  CHECK(r.idempotency_key.size() == 36);
  CHECK(header_of(req, "Authorization") == std::string("Basic ") + basic_token);
  CHECK(req.substr(req.find("\r\n\r\n") + 4) == kom_test::minify_json(kom_test::read_fixture("capture_request.json")));
  CHECK(t.fake.last_host() == "api.playground.klarna.com");
  CHECK(t.fake.last_port() == 443);
  CHECK(t.client.stats().connects == 1);
  CHECK(t.client.stats().requests == 1);
  CHECK(t.client.stats().retries == 0);
  REQUIRE(t.env.log.size() == 2);
  CHECK(t.env.log[0] == "POST /ordermanagement/v1/orders/o-1/captures attempt 1 sent 0 ms");
  CHECK(t.env.log[1] == "POST /ordermanagement/v1/orders/o-1/captures attempt 1 -> 201 correlation_id=corr-201 0 ms");
}

TEST_CASE("client: a caller's idempotency key is sent as given") {
  rig t({created});
  kom::post_options post;
  post.idempotency_key = "6f1c1a52-0f4b-4c51-8d0c-2f0b7f2d9e11";
  const auto r = t.client.capture("o-1", seed().request, post);
  REQUIRE(r.ok());
  CHECK(r.idempotency_key == post.idempotency_key);
  CHECK(header_of(t.server.requests[0], "Klarna-Idempotency-Key") == std::string(post.idempotency_key));
}

TEST_CASE("client: get_capture, list_captures and get_order parse into caller storage") {
  const std::string capture_body = kom_test::read_fixture("responses/capture.json");
  const std::string captures_body = kom_test::read_fixture("responses/captures.json");
  const std::string order_body = kom_test::read_fixture("responses/order_part_captured.json");
  rig t({response(200, "OK", "Content-Type: application/json\r\n", capture_body),
         response(200, "OK", "", captures_body), response(200, "OK", "", order_body)});
  kom::capture_storage<> storage;
  const auto c = t.client.get_capture("o-1", "cap-1", storage);
  REQUIRE(c.ok());
  CHECK(c.value.captured_amount > 0);
  CHECK(!c.value.capture_id.empty());
  CHECK(t.server.requests[0].rfind("GET /ordermanagement/v1/orders/o-1/captures/cap-1 HTTP/1.1\r\n", 0) == 0);
  CHECK(header_of(t.server.requests[0], "Klarna-Idempotency-Key").empty());

  kom::capture items[4];
  const auto l = t.client.list_captures("o-1", items, storage);
  REQUIRE(l.ok());
  CHECK(l.value.captures.size() == 2);
  CHECK(t.server.requests[1].rfind("GET /ordermanagement/v1/orders/o-1/captures HTTP/1.1\r\n", 0) == 0);

  kom::order_storage<> order_storage;
  const auto o = t.client.get_order("o-1", order_storage);
  REQUIRE(o.ok());
  CHECK(o.value.status == kom::order_status::part_captured);
  CHECK(o.value.remaining_authorized_amount.has_value());
  CHECK(t.server.requests[2].rfind("GET /ordermanagement/v1/orders/o-1 HTTP/1.1\r\n", 0) == 0);
  CHECK(t.client.stats().connects == 1);  // one kept-alive connection for all three
}

TEST_CASE("client: append_shipping_info and trigger_send_out answer 204") {
  rig t({no_content_204, no_content_204});
  kom_test::seed_shipping_update update;
  const auto s = t.client.append_shipping_info("o-1", "cap-1", update.request);
  REQUIRE(s.ok());
  const std::string first_key(s.idempotency_key);  // views stay valid until the next call
  CHECK(s.status == 204);
  CHECK(t.server.requests[0].rfind("POST /ordermanagement/v1/orders/o-1/captures/cap-1/shipping-info HTTP/1.1\r\n", 0) == 0);
  CHECK(header_of(t.server.requests[0], "Klarna-Idempotency-Key").size() == 36);
  const auto so = t.client.trigger_send_out("o-1", "cap-1");
  REQUIRE(so.ok());
  CHECK(t.server.requests[1].rfind("POST /ordermanagement/v1/orders/o-1/captures/cap-1/trigger-send-out HTTP/1.1\r\n", 0) == 0);
  CHECK(header_of(t.server.requests[1], "Content-Length") == "0");
  CHECK(so.idempotency_key != first_key);
  CHECK(header_of(t.server.requests[1], "Klarna-Idempotency-Key") == std::string(so.idempotency_key));
}

TEST_CASE("client: capture_remaining reads the order, then captures what is left") {
  const std::string order_body = kom_test::read_fixture("responses/order_part_captured.json");
  rig t({response(200, "OK", "", order_body), created});
  kom::order_storage<> storage;
  // What the order says is left, read with kom's own reader for the expectation.
  kom::order o;
  REQUIRE(kom::read_order(order_body, o, storage).ok());
  REQUIRE(o.remaining_authorized_amount.value_or(0) > 0);
  const auto r = t.client.capture_remaining("o-1", {}, {"rest of the order", "till-7", 0});
  REQUIRE(r.ok());
  CHECK(r.value.capture_id == "cap-1");
  CHECK(r.value.captured_amount == *o.remaining_authorized_amount);
  REQUIRE(t.server.requests.size() == 2);
  const std::string& post = t.server.requests[1];
  CHECK(post.find("\"captured_amount\":" + std::to_string(*o.remaining_authorized_amount)) != std::string::npos);
  CHECK(post.find("\"description\":\"rest of the order\"") != std::string::npos);
  CHECK(post.find("\"order_lines\"") == std::string::npos);
}

TEST_CASE("client: capture_remaining whose order read fails for now is retry_later") {
  for (int status : {503, 429, 500, 409}) {
    CAPTURE(status);
    kom::client_config config = test_config();
    config.retry.max_attempts = 2;
    rig t({error_response(status, "Busy", "TEMPORARILY_UNAVAILABLE")}, config);
    const auto r = t.client.capture_remaining("o-1");
    CHECK(r.error.code() == kom::errc::http_error);
    CHECK(r.status == status);
    CHECK(r.sent);
    CHECK(r.value.captured_amount == 0);  // nothing decided yet
    CHECK(r.next_step() == kom::outcome::retry_later);
    for (const std::string& q : t.server.requests) CHECK(q.rfind("GET ", 0) == 0);  // never a capture
  }
  kom::client_config config = test_config();
  config.retry.max_attempts = 1;
  rig t({""}, config);  // the connection drops before any answer
  t.server.close_after = true;
  const auto r = t.client.capture_remaining("o-1");
  CHECK(r.next_step() == kom::outcome::retry_later);
  CHECK(t.server.requests.size() == 1);
}

namespace {

// A small Klarna that keeps one order's captures and replays the first answer of a key (input
// ignored, as Klarna documents). It can apply a capture and then cut its answer short.
struct remaining_klarna {
  std::int64_t authorized = 20000;
  std::vector<std::pair<std::string, std::int64_t>> captures;  // id, amount
  std::vector<std::pair<std::string, std::string>> answers;     // key, first answer
  std::vector<std::string> requests;
  bool drop_next_answer = false;

  std::int64_t captured() const {
    std::int64_t sum = 0;
    for (const auto& c : captures) sum += c.second;
    return sum;
  }

  static void respond(void* c, kom::testing::fake_transport& fake, std::string_view request) {
    auto* k = static_cast<remaining_klarna*>(c);
    k->requests.emplace_back(request);
    std::string answer;
    if (request.rfind("GET ", 0) == 0) {
      answer = response(200, "OK", "", R"({"order_id":"o-1","status":"PART_CAPTURED","remaining_authorized_amount":)" +
                                           std::to_string(k->authorized - k->captured()) + "}");
    } else {
      const std::string key = header_of(request, "Klarna-Idempotency-Key");
      for (const auto& a : k->answers)
        if (a.first == key) answer = a.second;
      if (answer.empty()) {
        const std::string body(request.substr(request.find("\r\n\r\n") + 4));
        const std::size_t at = body.find("\"captured_amount\":") + 18;
        const std::int64_t amount = std::stoll(body.substr(at));
        if (amount > k->authorized - k->captured()) {
          answer = error_response(403, "Forbidden", "CAPTURE_NOT_ALLOWED");
        } else {
          const std::string id = "cap-" + std::to_string(k->captures.size() + 1);
          k->captures.emplace_back(id, amount);
          answer = response(201, "Created", "Capture-Id: " + id + "\r\n");
        }
        k->answers.emplace_back(key, answer);
      }
    }
    if (k->drop_next_answer && request.rfind("POST ", 0) == 0) {
      k->drop_next_answer = false;
      fake.reply(std::string_view(answer).substr(0, answer.find("Capture-Id")));  // applied; the answer is cut
      fake.close_after_reply();
      return;
    }
    fake.reply(answer);
  }
};

}  // namespace

TEST_CASE("client: capture_remaining called again with the same key and decided amount captures once") {
  kom::client_config config = test_config();
  config.retry.max_attempts = 1;  // the terminal, not the client, calls again
  test_env env;
  kom::testing::fake_transport fake;
  remaining_klarna klarna;
  klarna.captures.emplace_back("cap-0", 5000);  // an earlier partial capture
  fake.set_responder(&remaining_klarna::respond, &klarna);
  char work[8192];
  kom::client c(fake.transport(), config, hooks_for(env), work);

  klarna.drop_next_answer = true;
  const auto first = c.capture_remaining("o-1", {"key-remaining-1"}, {"rest", "sale-42", 0});
  CHECK(first.next_step() == kom::outcome::retry_later);
  CHECK(first.value.captured_amount == 15000);  // decided, though the answer was lost
  REQUIRE(klarna.captures.size() == 2);         // Klarna did capture it
  const std::int64_t decided = first.value.captured_amount;

  const std::size_t before = klarna.requests.size();
  const auto again = c.capture_remaining("o-1", {"key-remaining-1"}, {"rest", "sale-42", decided});
  REQUIRE(again.next_step() == kom::outcome::done);
  CHECK(again.value.capture_id == "cap-2");   // the capture the first call made
  CHECK(klarna.captures.size() == 2);         // and no second one
  CHECK(klarna.captured() == klarna.authorized);
  REQUIRE(klarna.requests.size() == before + 1);
  CHECK(klarna.requests.back().rfind("POST ", 0) == 0);  // the order was not read again

  // Without the decided amount the order, now fully captured, cannot be read for it.
  const auto forgetful = c.capture_remaining("o-1", {"key-remaining-1"});
  CHECK(forgetful.error.code() == kom::errc::below_minimum);
  CHECK(klarna.captures.size() == 2);
}

TEST_CASE("client: capture_remaining with nothing left captures nothing") {
  rig t({response(200, "OK", "", R"({"order_id":"o-1","status":"CAPTURED","remaining_authorized_amount":0})")});
  const auto r = t.client.capture_remaining("o-1");
  CHECK(r.error.code() == kom::errc::below_minimum);
  CHECK(r.error.path() == "remaining_authorized_amount");
  CHECK(t.server.requests.size() == 1);
  CHECK(r.next_step() == kom::outcome::refused);

  rig u({error_response(404, "Not Found", "NO_SUCH_ORDER")});
  const auto r2 = u.client.capture_remaining("o-1");
  CHECK(r2.error.code() == kom::errc::http_error);
  CHECK(r2.status == 404);
  CHECK(r2.klarna.error_code == kom::klarna_error_code::no_such_order);
  CHECK(u.server.requests.size() == 1);
}

// ---- Klarna's errors --------------------------------------------------------------------

TEST_CASE("client: 4xx answers are final, with Klarna's error body") {
  struct one { int status; const char* reason; const char* code; kom::klarna_error_code parsed; };
  const one cases[] = {
      {400, "Bad Request", "BAD_VALUE", kom::klarna_error_code::unknown},
      {401, "Unauthorized", "UNAUTHORIZED", kom::klarna_error_code::unknown},
      {403, "Forbidden", "CAPTURE_NOT_ALLOWED", kom::klarna_error_code::capture_not_allowed},
      {403, "Forbidden", "NOT_ALLOWED", kom::klarna_error_code::not_allowed},
      {404, "Not Found", "NO_SUCH_ORDER", kom::klarna_error_code::no_such_order},
      {404, "Not Found", "NO_SUCH_CAPTURE", kom::klarna_error_code::no_such_capture},
      {422, "Unprocessable Entity", "UNPROCESSABLE_ENTITY", kom::klarna_error_code::unprocessable_entity},
  };
  for (const one& c : cases) {
    CAPTURE(c.status);
    rig t({error_response(c.status, c.reason, c.code), created});
    const auto r = t.client.capture("o-1", seed().request);
    CHECK(r.error.code() == kom::errc::http_error);
    CHECK(r.error.detail() == c.status);
    CHECK(r.status == c.status);
    CHECK(r.klarna.error_code == c.parsed);
    CHECK(r.klarna.error_code_text == c.code);
    REQUIRE(r.klarna.error_messages.size() == 1);
    CHECK(r.klarna.error_messages[0] == std::string("msg ") + c.code);
    CHECK(r.klarna.correlation_id == "c-" + std::to_string(c.status));
    CHECK(r.attempts == 1);
    CHECK(t.server.requests.size() == 1);
    CHECK(t.env.sleeps.empty());
    CHECK(r.next_step() == kom::outcome::refused);
  }
}

TEST_CASE("client: an error body that is not Klarna's JSON still gives the status") {
  rig t({response(404, "Not Found", "Content-Type: text/html\r\n", "<html>gateway</html>")});
  kom::capture_storage<> storage;
  const auto r = t.client.get_capture("o-1", "c", storage);
  CHECK(r.error.code() == kom::errc::http_error);
  CHECK(r.status == 404);
  CHECK(r.klarna.error_code == kom::klarna_error_code::unset);
  CHECK(r.next_step() == kom::outcome::refused);
}

// ---- retries ------------------------------------------------------------------------------

TEST_CASE("client: 5xx, 429, 409 and 408 are retried with the same key until an answer") {
  for (int status : {500, 502, 503, 504, 429, 409, 408}) {
    CAPTURE(status);
    rig t({error_response(status, "Busy", status == 429 ? "TOO_MANY_REQUESTS" : "TEMPORARILY_UNAVAILABLE"), created});
    const auto r = t.client.capture("o-1", seed().request);
    REQUIRE(r.ok());
    CHECK(r.attempts == 2);
    REQUIRE(t.server.requests.size() == 2);
    const std::string key = header_of(t.server.requests[0], "Klarna-Idempotency-Key");
    CHECK(key.size() == 36);
    CHECK(header_of(t.server.requests[1], "Klarna-Idempotency-Key") == key);
    CHECK(std::string(r.idempotency_key) == key);
    CHECK(t.server.requests[0] == t.server.requests[1]);  // the same bytes, body and all
    REQUIRE(t.env.sleeps.size() == 1);
    if (status == 429) {
      CHECK(t.env.sleeps[0] >= 1000);  // no Retry-After: 1 s, plus jitter up to 2 s
      CHECK(t.env.sleeps[0] <= 3000);
    } else {
      CHECK(t.env.sleeps[0] >= 250);  // jitter over the upper half of 500 ms
      CHECK(t.env.sleeps[0] <= 500);
    }
    CHECK(t.client.stats().retries == 1);
  }
}

TEST_CASE("client: connect failures, timeouts and dropped connections are retried") {
  SUBCASE("refused") {
    rig t({created});
    t.fake.fault_on_connect(1, kom::testing::fake_fault::refuse);
    const auto r = t.client.capture("o-1", seed().request);
    REQUIRE(r.ok());
    CHECK(r.attempts == 2);
    CHECK(t.server.requests.size() == 1);
    CHECK(t.env.log[0].find("failed: connection failed") != std::string::npos);
  }
  SUBCASE("unresolved") {
    rig t({created});
    t.fake.fault_on_connect(1, kom::testing::fake_fault::unresolved);
    const auto r = t.client.capture("o-1", seed().request);
    REQUIRE(r.ok());
    CHECK(r.attempts == 2);
  }
  SUBCASE("no answer: read timeout") {
    rig t({created});
    t.fake.fault_at(3, kom::testing::fake_fault::time_out);  // connect, send, recv
    const auto r = t.client.capture("o-1", seed().request);
    REQUIRE(r.ok());
    CHECK(r.attempts == 2);
    CHECK(t.server.requests.size() == 2);  // the first was sent and its answer lost
    CHECK(header_of(t.server.requests[0], "Klarna-Idempotency-Key") == header_of(t.server.requests[1], "Klarna-Idempotency-Key"));
    CHECK(t.client.stats().connects == 2);  // a timed-out connection is not reused
  }
  SUBCASE("reset while sending") {
    rig t({created});
    t.fake.fault_at(2, kom::testing::fake_fault::reset);
    const auto r = t.client.capture("o-1", seed().request);
    REQUIRE(r.ok());
    CHECK(r.attempts == 2);
    CHECK(t.server.requests.size() == 1);
  }
  SUBCASE("the server closes before answering") {
    rig t({created});
    t.fake.fault_at(3, kom::testing::fake_fault::eof);
    const auto r = t.client.capture("o-1", seed().request);
    REQUIRE(r.ok());
    CHECK(r.attempts == 2);
  }
  SUBCASE("the answer is cut in the middle") {
    std::string half = created.substr(0, created.size() / 2);
    rig t({half, created});
    t.server.close_after = true;
    const auto r = t.client.capture("o-1", seed().request);
    REQUIRE(r.ok());
    CHECK(r.attempts == 2);
    CHECK(r.value.capture_id == "cap-1");
  }
}

TEST_CASE("client: a POST without a key is tried once") {
  rig t({error_response(503, "Service Unavailable", "TEMPORARILY_UNAVAILABLE"), created});
  kom::post_options post;
  post.without_key = true;
  const auto r = t.client.capture("o-1", seed().request, post);
  CHECK(r.error.code() == kom::errc::http_error);
  CHECK(r.status == 503);
  CHECK(r.attempts == 1);
  CHECK(r.idempotency_key.empty());
  REQUIRE(t.server.requests.size() == 1);
  CHECK(t.server.requests[0].find("Klarna-Idempotency-Key") == std::string::npos);
  CHECK(t.env.sleeps.empty());
  CHECK(r.without_key);
  // A 503 may come from a gateway after Klarna applied it: sending it again could apply it twice.
  CHECK(r.next_step() == kom::outcome::unknown);

  rig u({created});
  u.fake.fault_at(3, kom::testing::fake_fault::time_out);
  const auto r2 = u.client.capture("o-1", seed().request, post);
  CHECK(r2.error.code() == kom::errc::timed_out);
  CHECK(r2.attempts == 1);
  CHECK(r2.sent);
  CHECK(r2.next_step() == kom::outcome::unknown);

  // 429 and 408: the server did not take it, so it may be sent again.
  for (int status : {429, 408}) {
    rig v({error_response(status, "Not now", "TOO_MANY_REQUESTS")});
    const auto r3 = v.client.capture("o-1", seed().request, post);
    CHECK(r3.next_step() == kom::outcome::retry_later);
  }
  // Nothing sent: nothing applied.
  rig w({created});
  w.fake.fault_on_connect(1, kom::testing::fake_fault::refuse);
  const auto r4 = w.client.capture("o-1", seed().request, post);
  CHECK(!r4.sent);
  CHECK(r4.next_step() == kom::outcome::retry_later);
}

TEST_CASE("client: connect() opens the connection ahead of the first call") {
  rig t({created});
  CHECK_FALSE(t.client.connected());
  REQUIRE(t.client.connect().ok());
  CHECK(t.client.connected());
  CHECK(t.client.stats().connects == 1);
  REQUIRE(t.client.connect().ok());  // already open: nothing happens
  CHECK(t.client.stats().connects == 1);
  REQUIRE(t.client.capture("o-1", seed().request).ok());
  CHECK(t.client.stats().connects == 1);  // the call used it

  // The server settings are checked first, as a call would.
  kom::client_config config = test_config();
  config.request.server.host = "";
  rig w({created}, config);
  CHECK(w.client.connect().code() == kom::errc::required);
  CHECK(w.client.stats().connects == 0);

  rig u({created});
  u.fake.fault_on_connect(1, kom::testing::fake_fault::refuse);
  CHECK(u.client.connect().code() == kom::errc::connect_failed);
  CHECK_FALSE(u.client.connected());
  CHECK(u.client.stats().connects == 0);
  REQUIRE(u.client.capture("o-1", seed().request).ok());  // the call connects itself
  CHECK(u.client.stats().connects == 1);
}

TEST_CASE("client: backoff doubles up to its cap, without jitter when there is no random hook") {
  kom::client_config config = test_config();
  config.retry.max_attempts = 6;
  config.retry.initial_backoff_ms = 100;
  config.retry.max_backoff_ms = 1000;
  config.retry.total_budget_ms = 100000;
  kom::post_options post;
  post.idempotency_key = "key-1";
  rig t({error_response(503, "Service Unavailable", "TEMPORARILY_UNAVAILABLE")}, config, false);
  const auto r = t.client.capture("o-1", seed().request, post);
  CHECK(r.error.code() == kom::errc::http_error);
  CHECK(r.status == 503);
  CHECK(r.klarna.error_code == kom::klarna_error_code::temporarily_unavailable);
  CHECK(r.attempts == 6);
  CHECK(t.server.requests.size() == 6);
  CHECK(t.env.sleeps == std::vector<std::uint32_t>{100, 200, 400, 800, 1000});
  CHECK(r.next_step() == kom::outcome::retry_later);
}

TEST_CASE("client: a 429 waits what the server asks, plus jitter; other answers wait at least that") {
  // Without a random hook: exactly the server's wait. A 503's Retry-After or X-Ratelimit-Reset
  // is the least wait, the backoff may be longer.
  kom::post_options post;
  post.idempotency_key = "k";
  rig t({error_response(429, "Too Many Requests", "TOO_MANY_REQUESTS", "Retry-After: 7\r\n"),
         error_response(429, "Too Many Requests", "TOO_MANY_REQUESTS", "X-Ratelimit-Reset: 2\r\n"),
         error_response(429, "Too Many Requests", "TOO_MANY_REQUESTS"),
         error_response(503, "Service Unavailable", "TEMPORARILY_UNAVAILABLE", "X-Ratelimit-Reset: 3\r\n"),
         error_response(503, "Service Unavailable", "TEMPORARILY_UNAVAILABLE", "Retry-After: 0\r\n"), created},
        test_config(), false);
  const auto r = t.client.capture("o-1", seed().request, post);
  REQUIRE(r.ok());
  CHECK(r.attempts == 6);
  CHECK(t.env.sleeps == std::vector<std::uint32_t>{7000, 2000, 1000, 3000, 1000});

  // A 429 does not take the backoff, however long: the server said when.
  kom::client_config config = test_config();
  config.retry.initial_backoff_ms = 4000;
  rig u({error_response(429, "Too Many Requests", "TOO_MANY_REQUESTS", "Retry-After: 1\r\n"), created}, config, false);
  REQUIRE(u.client.capture("o-1", seed().request, post).ok());
  CHECK(u.env.sleeps == std::vector<std::uint32_t>{1000});

  // With a random hook the 429 waits spread over [server's wait, server's wait + 2 s].
  rig v({error_response(429, "Too Many Requests", "TOO_MANY_REQUESTS", "Retry-After: 7\r\n")});
  for (int i = 0; i < 30; ++i) v.server.script.insert(v.server.script.begin(), v.server.script.front());
  v.server.script.push_back(created);
  const auto r3 = v.client.capture("o-1", seed().request);
  REQUIRE(r3.ok());
  REQUIRE(v.env.sleeps.size() == 31);
  std::uint32_t least = UINT32_MAX, most = 0;
  for (std::uint32_t s : v.env.sleeps) {
    least = std::min(least, s);
    most = std::max(most, s);
  }
  CHECK(least >= 7000);
  CHECK(most <= 9000);
  CHECK(most - least >= 1000);  // spread, not in step

  config.retry.rate_limit_jitter_ms = 0;
  rig w({error_response(429, "Too Many Requests", "TOO_MANY_REQUESTS", "Retry-After: 3\r\n"), created}, config);
  REQUIRE(w.client.capture("o-1", seed().request).ok());
  CHECK(w.env.sleeps == std::vector<std::uint32_t>{3000});
}

TEST_CASE("client: 429s do not count against max_attempts; the rate-limited budget ends them") {
  kom::client_config config = test_config();
  config.retry.max_attempts = 2;
  kom::post_options post;
  post.idempotency_key = "k";
  std::vector<std::string> script(12, error_response(429, "Too Many Requests", "TOO_MANY_REQUESTS", "Retry-After: 1\r\n"));
  script.push_back(created);
  rig t(script, config, false);
  const auto r = t.client.capture("o-1", seed().request, post);
  REQUIRE(r.ok());
  CHECK(r.attempts == 13);
  CHECK(t.server.requests.size() == 13);
  CHECK(t.client.stats().retries == 12);

  // Other failures still count: 503, 429, 503 is two counted attempts.
  rig u({error_response(503, "Service Unavailable", "TEMPORARILY_UNAVAILABLE"),
         error_response(429, "Too Many Requests", "TOO_MANY_REQUESTS"),
         error_response(503, "Service Unavailable", "TEMPORARILY_UNAVAILABLE"), created},
        config, false);
  const auto r2 = u.client.capture("o-1", seed().request, post);
  CHECK(r2.status == 503);
  CHECK(r2.attempts == 3);
  CHECK(r2.next_step() == kom::outcome::retry_later);

  // Only 429s: the call goes on until the next wait would pass rate_limited_budget_ms.
  config.retry.rate_limited_budget_ms = 5500;
  rig v({error_response(429, "Too Many Requests", "TOO_MANY_REQUESTS", "Retry-After: 1\r\n")}, config, false);
  const auto r3 = v.client.capture("o-1", seed().request, post);
  CHECK(r3.status == 429);
  CHECK(r3.klarna.error_code == kom::klarna_error_code::too_many_requests);
  CHECK(r3.attempts == 6);  // waits of 1 s at 0..4 s fit, the one at 5 s does not
  CHECK(v.env.sleeps == std::vector<std::uint32_t>(5, 1000));
  CHECK(r3.next_step() == kom::outcome::retry_later);

  // A 429 never retries a call that may not be retried: max_attempts 1.
  config.retry.max_attempts = 1;
  rig w({error_response(429, "Too Many Requests", "TOO_MANY_REQUESTS"), created}, config, false);
  const auto r4 = w.client.capture("o-1", seed().request, post);
  CHECK(r4.status == 429);
  CHECK(r4.attempts == 1);
  CHECK(w.env.sleeps.empty());
}

TEST_CASE("client: after a long run of 429s, other failures get the total budget afresh") {
  // 429s for 70 s (past the 60 s total budget), then a 503: retried, counted from the last 429.
  kom::client_config config = test_config();
  kom::post_options post;
  post.idempotency_key = "k";
  std::vector<std::string> script(70, error_response(429, "Too Many Requests", "TOO_MANY_REQUESTS", "Retry-After: 1\r\n"));
  script.push_back(error_response(503, "Service Unavailable", "TEMPORARILY_UNAVAILABLE"));
  script.push_back(created);
  rig t(script, config, false);
  const auto r = t.client.capture("o-1", seed().request, post);
  REQUIRE(r.ok());
  CHECK(r.attempts == 72);
  CHECK(t.env.sleeps.back() == 500);  // the 503's backoff, not a give-up
}

TEST_CASE("client: a random hook that fails keeps the whole backoff") {
  rig t({error_response(503, "Service Unavailable", "TEMPORARILY_UNAVAILABLE"), created});
  t.env.random_fails = true;
  kom::post_options post;
  post.idempotency_key = "k";
  REQUIRE(t.client.capture("o-1", seed().request, post).ok());
  CHECK(t.env.sleeps == std::vector<std::uint32_t>{500});
}

TEST_CASE("client: a connection the server closes after each 429 is reopened at once each time") {
  // The server hangs up after every answer without saying so: each retry after a 429 finds the
  // connection dead and sends again on a new one, without a backoff or a counted attempt.
  kom::client_config config = test_config();
  config.retry.max_attempts = 2;
  const std::string limited = error_response(429, "Too Many Requests", "TOO_MANY_REQUESTS", "Retry-After: 1\r\n");
  rig t({limited, limited, limited, created}, config, false);
  t.server.close_after = true;
  kom::post_options post;
  post.idempotency_key = "k";
  const auto r = t.client.capture("o-1", seed().request, post);
  REQUIRE(r.ok());
  CHECK(r.attempts == 4);
  CHECK(t.env.sleeps == std::vector<std::uint32_t>{1000, 1000, 1000});
  CHECK(t.client.stats().connects == 4);
}

TEST_CASE("client: a budget stops retries before a wait that would pass it") {
  kom::client_config config = test_config();
  config.retry.rate_limited_budget_ms = 5000;
  rig t({error_response(429, "Too Many Requests", "TOO_MANY_REQUESTS", "Retry-After: 60\r\n"), created}, config);
  const auto r = t.client.capture("o-1", seed().request);
  CHECK(r.error.code() == kom::errc::http_error);
  CHECK(r.status == 429);
  CHECK(r.klarna.error_code == kom::klarna_error_code::too_many_requests);
  CHECK(r.attempts == 1);
  CHECK(t.env.sleeps.empty());  // no pointless wait

  config.retry.initial_backoff_ms = 1000;
  config.retry.total_budget_ms = 2500;
  rig u({error_response(500, "Internal Server Error", "INTERNAL_SERVER_ERROR")}, config, false);
  kom::post_options post;
  post.idempotency_key = "k";
  const auto r2 = u.client.capture("o-1", seed().request, post);
  CHECK(r2.status == 500);
  CHECK(r2.attempts == 2);  // 1000 ms wait fits, the next 2000 ms does not
  CHECK(u.env.sleeps == std::vector<std::uint32_t>{1000});
}

TEST_CASE("client: GETs retry by the same rules, unless told not to") {
  const std::string body = kom_test::read_fixture("responses/order_authorized.json");
  rig t({error_response(502, "Bad Gateway", "TEMPORARILY_UNAVAILABLE"), response(200, "OK", "", body)});
  kom::order_storage<> storage;
  const auto r = t.client.get_order("o-1", storage);
  REQUIRE(r.ok());
  CHECK(r.attempts == 2);

  kom::client_config config = test_config();
  config.retry.retry_gets = false;
  rig u({error_response(502, "Bad Gateway", "TEMPORARILY_UNAVAILABLE"), response(200, "OK", "", body)}, config);
  const auto r2 = u.client.get_order("o-1", storage);
  CHECK(r2.status == 502);
  CHECK(r2.attempts == 1);
}

TEST_CASE("client: 409 and 408 that persist are retry_later, never refused") {
  for (int status : {408, 409}) {
    CAPTURE(status);
    kom::client_config config = test_config();
    config.retry.max_attempts = 3;
    rig t({error_response(status, "Wait", status == 409 ? "CONFLICT" : "REQUEST_TIMEOUT")}, config);
    const auto r = t.client.capture("o-1", seed().request);
    CHECK(r.error.code() == kom::errc::http_error);
    CHECK(r.status == status);
    CHECK(r.attempts == 3);
    CHECK(r.next_step() == kom::outcome::retry_later);
  }
}

TEST_CASE("client: a 2xx to a POST whose answer cannot be read is still applied") {
  SUBCASE("a 201 head too large for the work buffer: applied, id unknown, not resent") {
    const std::string head = "HTTP/1.1 201 Created\r\nX-Padding: " + std::string(2000, 'p') +
                             "\r\nCapture-Id: cap-1\r\nContent-Length: 0\r\n\r\n";
    test_env env;
    kom::testing::fake_transport fake;
    scripted_server server;
    server.script = {head};
    fake.set_responder(&scripted_server::respond, &server);
    std::vector<char> work(1100);  // the request fits, the answer's head does not
    kom::client c(fake.transport(), test_config(), hooks_for(env), work.data(), work.size());
    const auto r = c.capture("o-1", seed().request);
    CHECK(r.error.code() == kom::errc::missing_capture_id);
    CHECK(r.status == 201);
    CHECK(r.next_step() == kom::outcome::applied_id_unknown);
    CHECK(server.requests.size() == 1);
  }
  SUBCASE("a 201 with a malformed header after its status line") {
    rig t({"HTTP/1.1 201 Created\r\nCapture-Id: cap-1\r\nbroken header line\r\n\r\n"});
    const auto r = t.client.capture("o-1", seed().request);
    CHECK(r.next_step() == kom::outcome::applied_id_unknown);
    CHECK(t.server.requests.size() == 1);
  }
  SUBCASE("a 201 whose head is whole but whose body does not fit: done, with its id") {
    const std::string answer = response(201, "Created", "Capture-Id: cap-9\r\n", std::string(9000, 'x'));
    rig t({answer});
    const auto r = t.client.capture("o-1", seed().request);
    REQUIRE(r.ok());
    CHECK(r.value.capture_id == "cap-9");
    CHECK(t.server.requests.size() == 1);
  }
  SUBCASE("a 204 to shipping-info whose head does not fit: done") {
    const std::string head = "HTTP/1.1 204 No Content\r\nX-Padding: " + std::string(9000, 'p') + "\r\n\r\n";
    rig t({head});
    kom_test::seed_shipping_update update;
    const auto r = t.client.append_shipping_info("o-1", "cap-1", update.request);
    CHECK(r.ok());
    CHECK(r.status == 204);
    CHECK(r.next_step() == kom::outcome::done);
    CHECK(t.server.requests.size() == 1);
  }
  SUBCASE("a 503 whose page does not fit is retried, not refused") {
    kom::client_config config = test_config();
    config.retry.max_attempts = 2;
    rig t({response(503, "Busy", "", std::string(9000, 'x')), created}, config);
    const auto r = t.client.capture("o-1", seed().request);
    REQUIRE(r.ok());
    CHECK(r.attempts == 2);
  }
  SUBCASE("a 201 cut inside its head is retried with the same key") {
    kom::client_config config = test_config();
    config.retry.max_attempts = 2;
    rig t({"HTTP/1.1 201 Created\r\nCapture-", created}, config);
    t.server.close_after = true;
    const auto r = t.client.capture("o-1", seed().request);
    REQUIRE(r.ok());
    CHECK(r.value.capture_id == "cap-1");
    REQUIRE(t.server.requests.size() == 2);
    CHECK(t.server.requests[0] == t.server.requests[1]);
  }
}

TEST_CASE("client: a malformed answer is retried, and reported when it persists") {
  kom::client_config config = test_config();
  config.retry.max_attempts = 2;
  rig t({"HTTP/1.1 20x Created\r\n\r\n"}, config);
  const auto r = t.client.capture("o-1", seed().request);
  CHECK(r.error.code() == kom::errc::bad_status_line);
  CHECK(r.attempts == 2);
  CHECK(r.status == 0);
  CHECK(r.next_step() == kom::outcome::retry_later);
}

TEST_CASE("client: a TLS certificate failure is not retried") {
  struct failing {
    int connect(std::string_view, std::uint16_t, std::uint32_t) { return kom::io::failed; }
    int send(const unsigned char*, std::size_t) { return kom::io::failed; }
    int recv(unsigned char*, std::size_t, std::uint32_t) { return kom::io::failed; }
    void close() {}
    kom::error error() const { return kom::error(kom::errc::tls_certificate_untrusted, 8); }
  } stream;
  test_env env;
  char work[2048];
  kom::client c(kom::make_transport(stream), test_config(), hooks_for(env), work);
  const auto r = c.capture("o-1", seed().request);
  CHECK(r.error.code() == kom::errc::tls_certificate_untrusted);
  CHECK(r.error.detail() == 8);
  CHECK(r.attempts == 1);
  CHECK_FALSE(r.sent);
  CHECK(r.next_step() == kom::outcome::retry_later);
  CHECK(env.sleeps.empty());
}

// ---- connections ------------------------------------------------------------------------

TEST_CASE("client: one connection is kept alive, and reopened when the server closes it") {
  const std::string closing = response(201, "Created", "Capture-Id: cap-1\r\nConnection: close\r\n");
  rig t({created, created, closing, created});
  for (int i = 0; i < 2; ++i) REQUIRE(t.client.capture("o-1", seed().request).ok());
  CHECK(t.client.stats().connects == 1);
  REQUIRE(t.client.capture("o-1", seed().request).ok());  // answered with Connection: close
  CHECK_FALSE(t.client.connected());
  REQUIRE(t.client.capture("o-1", seed().request).ok());
  CHECK(t.client.stats().connects == 2);
  CHECK(t.fake.closes() == 1);
}

TEST_CASE("client: an idle connection the server closed is reopened at once") {
  rig t({created, created});
  t.server.close_after = true;  // after each answer the server hangs up
  REQUIRE(t.client.capture("o-1", seed().request).ok());
  const auto r = t.client.capture("o-1", seed().request);
  REQUIRE(r.ok());
  CHECK(t.env.sleeps.empty());  // no backoff for a stale connection
  CHECK(t.client.stats().connects == 2);
}

TEST_CASE("client: reopening a stale connection is not an attempt, also with max_attempts 1") {
  kom::client_config config = test_config();
  config.retry.max_attempts = 1;
  rig t({created, created, created}, config);
  t.server.close_after = true;
  REQUIRE(t.client.capture("o-1", seed().request).ok());
  const auto r = t.client.capture("o-1", seed().request);
  REQUIRE(r.ok());
  CHECK(r.attempts == 1);
  CHECK(t.client.stats().connects == 2);
  kom::order_storage<> storage;
  const auto g = t.client.get_order("o-1", storage);
  CHECK(g.error.code() != kom::errc::unexpected_eof);  // reached the server again
  CHECK(t.client.stats().connects == 3);

  // Without a key a request that went into a dead connection is not sent a second time.
  rig u({created, created}, config);
  u.server.close_after = true;
  REQUIRE(u.client.capture("o-1", seed().request).ok());
  kom::post_options keyless;
  keyless.without_key = true;
  const auto k = u.client.trigger_send_out("o-1", "cap-1", keyless);
  CHECK(!k.ok());
  CHECK(k.next_step() == kom::outcome::unknown);
  CHECK(u.client.stats().connects == 1);
}

TEST_CASE("client: bytes after the answer close the connection") {
  rig t({created + "HTTP/1.1 200 OK\r\n"});
  REQUIRE(t.client.capture("o-1", seed().request).ok());
  CHECK_FALSE(t.client.connected());
}

TEST_CASE("client: partial sends and receives of every size") {
  const std::string capture_body = kom_test::read_fixture("responses/capture.json");
  for (std::size_t n = 1; n <= 64; ++n) {
    CAPTURE(n);
    rig t({created, fixture_http("get_capture_200_chunked.http")});
    t.fake.max_io(n);
    const auto r = t.client.capture("o-1", seed().request);
    REQUIRE(r.ok());
    CHECK(r.value.capture_id == "cap-1");
    CHECK(t.server.requests[0].substr(t.server.requests[0].find("\r\n\r\n") + 4) ==
          kom_test::minify_json(kom_test::read_fixture("capture_request.json")));
    kom::capture_storage<> storage;
    const auto c = t.client.get_capture("o-1", "cap-1", storage);
    REQUIRE(c.ok());
    CHECK(c.value.captured_amount == 6000);
  }
}

TEST_CASE("client: would-block is waited out, and times out at the deadline") {
  rig t({created});
  t.fake.block_every(2);
  t.fake.max_io(7);
  const auto r = t.client.capture("o-1", seed().request);
  REQUIRE(r.ok());
  CHECK(!t.env.sleeps.empty());
  for (std::uint32_t s : t.env.sleeps) CHECK(s == 5);

  // A transport that never gets anywhere: the response deadline ends the wait.
  struct always_blocking {
    int connect(std::string_view, std::uint16_t, std::uint32_t) { return kom::io::ok; }
    int send(const unsigned char*, std::size_t size) { return static_cast<int>(size); }
    int recv(unsigned char*, std::size_t, std::uint32_t) { return kom::io::would_block; }
    void close() {}
    kom::error error() const { return {}; }
  } stream;
  kom::client_config config = test_config();
  config.retry.max_attempts = 1;
  config.timeouts.response_ms = 50;
  test_env env;
  char work[2048];
  kom::client c(kom::make_transport(stream), config, hooks_for(env), work);
  const auto r2 = c.capture("o-1", seed().request);
  CHECK(r2.error.code() == kom::errc::timed_out);
  CHECK(env.sleeps.size() == 10);  // 50 ms in polls of 5 ms
  CHECK_FALSE(c.connected());
}

// ---- buffers, validation, setup ----------------------------------------------------------

TEST_CASE("client: a request that fails validation is never sent") {
  rig t({created});
  kom_test::seed_capture bad;
  bad.lines[0].quantity_unit = "kilograms!!";
  const auto r = t.client.capture("o-1", bad.request);
  CHECK(r.error.code() == kom::errc::too_long);
  CHECK(r.error.path() == "order_lines[0].quantity_unit");
  CHECK_FALSE(r.sent);
  CHECK(r.next_step() == kom::outcome::refused);
  CHECK(t.fake.operations() == 0);
  CHECK(t.fake.sent().empty());

  kom::order_storage<> storage;
  const auto r2 = t.client.get_order("o/1", storage);
  CHECK(r2.error.code() == kom::errc::invalid_path_id);
  CHECK(r2.error.path() == "order_id");
  CHECK(t.fake.operations() == 0);
}

TEST_CASE("client: a request too big for the work buffer says the size needed, and sends nothing") {
  test_env env;
  kom::testing::fake_transport fake;
  char work[256];
  kom::client c(fake.transport(), test_config(), hooks_for(env), work);
  const auto r = c.capture("o-1", seed().request);
  CHECK(r.error.code() == kom::errc::buffer_too_small);
  kom::buffer_writer measure(kom::measure_only);
  REQUIRE(r.idempotency_key.size() == 36);
  REQUIRE(kom::write_capture_request(measure, test_config().request, "o-1", seed().request, r.idempotency_key).ok());
  CHECK(r.error.detail() == static_cast<std::int64_t>(measure.size()));
  CHECK(fake.operations() == 0);

  // With exactly that many bytes it goes through.
  std::vector<char> exact(measure.size());
  scripted_server server;
  server.script = {created};
  fake.set_responder(&scripted_server::respond, &server);
  kom::post_options post;
  post.idempotency_key = r.idempotency_key;  // the same length of key
  kom::client c2(fake.transport(), test_config(), hooks_for(env), exact.data(), exact.size());
  const auto r2 = c2.capture("o-1", seed().request, post);
  CHECK(r2.ok());
}

TEST_CASE("client: a response too big for the work buffer says the size needed") {
  const std::string body = kom_test::read_fixture("responses/capture.json");
  const std::string answer = response(200, "OK", "", body);
  test_env env;
  kom::testing::fake_transport fake;
  scripted_server server;
  server.script = {answer};
  fake.set_responder(&scripted_server::respond, &server);
  std::vector<char> work(answer.size() - 1);
  kom::client c(fake.transport(), test_config(), hooks_for(env), work.data(), work.size());
  kom::capture_storage<> storage;
  const auto r = c.get_capture("o-1", "cap-1", storage);
  CHECK(r.error.code() == kom::errc::buffer_too_small);
  CHECK(r.error.detail() == static_cast<std::int64_t>(answer.size()));
  CHECK(r.attempts == 1);  // the same answer would not fit the next time either
  CHECK(r.next_step() == kom::outcome::refused);

  std::vector<char> exact(answer.size());
  kom::client c2(fake.transport(), test_config(), hooks_for(env), exact.data(), exact.size());
  CHECK(c2.get_capture("o-1", "cap-1", storage).ok());
}

TEST_CASE("client: a chunked answer that fills the buffer exactly still completes") {
  const std::string answer = fixture_http("get_capture_200_chunked.http");
  // Head plus decoded body: the chunk framing takes no room in the buffer.
  std::vector<char> big(answer.size());
  kom::http_response_parser probe(big.data(), big.size());
  std::size_t used = 0;
  REQUIRE(probe.feed(answer.data(), answer.size(), used) == kom::parse_status::done);
  const std::size_t exact = probe.size();
  REQUIRE(exact < answer.size());
  for (std::size_t size : {exact, exact - 1}) {
    CAPTURE(size);
    test_env env;
    kom::testing::fake_transport fake;
    scripted_server server;
    server.script = {answer};
    fake.set_responder(&scripted_server::respond, &server);
    std::vector<char> work(size);
    kom::client_config config = test_config();
    config.request.credentials = {};
    config.request.credentials.api_key = "k";  // a short request, so the buffer limit is the answer's
    kom::client c(fake.transport(), config, hooks_for(env), work.data(), work.size());
    kom::capture_storage<> storage;
    const auto r = c.get_capture("o-1", "cap-1", storage);
    if (size == exact) {
      CHECK(r.ok());
      CHECK(r.value.captured_amount == 6000);
    } else {
      CHECK(r.error.code() == kom::errc::body_too_large);
    }
  }
}

TEST_CASE("client: missing hooks and transports are refused before anything is sent") {
  kom::testing::fake_transport fake;
  char work[4096];
  test_env env;
  {
    kom::client_hooks h = hooks_for(env);
    h.now_ms = nullptr;
    kom::client c(fake.transport(), test_config(), h, work);
    CHECK(c.capture("o-1", seed().request).error.code() == kom::errc::invalid_client_setup);
  }
  {
    kom::client_hooks h = hooks_for(env);
    h.sleep_ms = nullptr;
    kom::client c(fake.transport(), test_config(), h, work);
    CHECK(c.capture("o-1", seed().request).error.code() == kom::errc::invalid_client_setup);
  }
  {
    kom::client c(fake.transport(), test_config(), hooks_for(env, false), work);
    CHECK(c.capture("o-1", seed().request).error.code() == kom::errc::invalid_client_setup);  // no key, no random
    CHECK(c.new_idempotency_key().error().code() == kom::errc::random_source_failed);
  }
  {
    env.random_fails = true;
    kom::client c(fake.transport(), test_config(), hooks_for(env), work);
    CHECK(c.capture("o-1", seed().request).error.code() == kom::errc::random_source_failed);
    env.random_fails = false;
  }
  {
    kom::transport none;
    kom::client c(none, test_config(), hooks_for(env), work);
    CHECK(c.capture("o-1", seed().request).error.code() == kom::errc::invalid_transport);
  }
  {
    kom::client_config config = test_config();
    config.request.credentials = {};
    kom::client c(fake.transport(), config, hooks_for(env), work);
    CHECK(c.capture("o-1", seed().request).error.code() == kom::errc::missing_credentials);
  }
  CHECK(fake.operations() == 0);
}

TEST_CASE("client: any 2xx to a capture is applied; without a readable id it is applied_id_unknown") {
  rig t({response(200, "OK", "Capture-Id: x\r\n")});
  const auto r = t.client.capture("o-1", seed().request);
  REQUIRE(r.ok());
  CHECK(r.value.capture_id == "x");
  CHECK(r.status == 200);
  CHECK(r.next_step() == kom::outcome::done);

  rig u({response(201, "Created", "")});
  const auto r2 = u.client.capture("o-1", seed().request);
  CHECK(r2.error.code() == kom::errc::missing_capture_id);
  CHECK(r2.status == 201);
  CHECK(r2.attempts == 1);
  CHECK(r2.next_step() == kom::outcome::applied_id_unknown);  // never "not applied"
  CHECK(r2.value.captured_amount == seed().request.captured_amount);

  rig w({response(302, "Found", "Location: https://portal.example/\r\n")});
  const auto r4 = w.client.capture("o-1", seed().request);
  CHECK(r4.error.code() == kom::errc::unexpected_status);
  CHECK(r4.error.detail() == 302);
  CHECK(r4.next_step() == kom::outcome::refused);

  rig v({fixture_http("capture_created_location_only_201.http")});
  const auto r3 = v.client.capture("o-1", seed().request);
  REQUIRE(r3.ok());
  CHECK(!r3.value.capture_id.empty());
}

// ---- secrets and heap --------------------------------------------------------------------

TEST_CASE("client: credentials leave the work buffer and never reach the log") {
  rig t({error_response(503, "Service Unavailable", "TEMPORARILY_UNAVAILABLE"), created});
  REQUIRE(t.client.capture("o-1", seed().request).ok());
  const std::string_view work(t.work, sizeof t.work);
  CHECK(work.find(basic_token) == std::string_view::npos);
  CHECK(work.find("Authorization") == std::string_view::npos);
  CHECK(t.fake.sent().find(basic_token) != std::string_view::npos);  // it was sent
  REQUIRE(t.env.log.size() == 4);
  for (const std::string& line : t.env.log) {
    CHECK(line.find("merchant_user") == std::string::npos);
    CHECK(line.find("s3cret") == std::string::npos);
    CHECK(line.find(basic_token) == std::string::npos);
    CHECK(line.find("Authorization") == std::string::npos);
  }
  CHECK(t.env.log[1] == "POST /ordermanagement/v1/orders/o-1/captures attempt 1 -> 503 correlation_id=corr-503 0 ms");
  CHECK(t.env.log[2].rfind("POST /ordermanagement/v1/orders/o-1/captures attempt 2 sent ", 0) == 0);

  kom::client_config config = test_config();
  config.request.credentials = {};
  config.request.credentials.api_key = "klarna_test_api_SECRETKEY";
  rig u({created}, config);
  REQUIRE(u.client.capture("o-1", seed().request).ok());
  CHECK(std::string_view(u.work, sizeof u.work).find("SECRETKEY") == std::string_view::npos);
  for (const std::string& line : u.env.log) CHECK(line.find("SECRETKEY") == std::string::npos);
}

TEST_CASE("client: a whole capture, with a retry, allocates nothing") {
  kom_test::seed_shipping_update update;
  // A server that keeps nothing, so every allocation counted is the client's.
  kom::testing::fake_transport fake;
  struct quiet {
    const std::string* script;
    std::size_t n = 0;
    static void respond(void* c, kom::testing::fake_transport& f, std::string_view) {
      auto* q = static_cast<quiet*>(c);
      f.reply(q->script[q->n < 2 ? q->n : 2]);
      ++q->n;
    }
  };
  const std::string script[3] = {error_response(503, "Service Unavailable", "TEMPORARILY_UNAVAILABLE"), created, no_content_204};
  quiet q{script};
  fake.set_responder(&quiet::respond, &q);
  test_env env;
  env.keep_log = false;
  char work[4096];
  kom::client c(fake.transport(), test_config(), hooks_for(env), work);
  env.sleeps.reserve(16);
  kom_test::alloc_scope scope;
  const auto r = c.capture("o-1", seed().request);
  const auto s = c.append_shipping_info("o-1", r.value.capture_id, update.request);
  CHECK(scope.count() == 0);
  CHECK(r.ok());
  CHECK(r.attempts == 2);
  CHECK(s.ok());
}

// ---- refunds, cancels, releases, extensions, PATCHes -------------------------------------------

TEST_CASE("client: a refund sends its body with a key and returns the refund id, or Location's last segment") {
  const kom_test::seed_refund returned;
  rig t({response(201, "Created", "Refund-Id: ref-1\r\nLocation: https://x/ordermanagement/v1/orders/o-1/refunds/ref-1\r\n")});
  const auto r = t.client.refund("o-1", returned.request);
  REQUIRE(r.ok());
  CHECK(r.value.refund_id == "ref-1");
  CHECK(r.value.location == "https://x/ordermanagement/v1/orders/o-1/refunds/ref-1");
  CHECK(r.value.refunded_amount == 1200);
  REQUIRE(t.server.requests.size() == 1);
  const std::string& sent = t.server.requests[0];
  CHECK(sent.rfind("POST /ordermanagement/v1/orders/o-1/refunds HTTP/1.1\r\n", 0) == 0);
  CHECK(header_of(sent, "Klarna-Idempotency-Key") == r.idempotency_key);
  CHECK(kom_test::canonical_json(sent.substr(sent.find("\r\n\r\n") + 4)) ==
        kom_test::canonical_json(R"({"refunded_amount":1200,"description":"Returned at the till","reference":"RET-0001",
          "order_lines":[{"type":"physical","reference":"123050","name":"Tomatoes","quantity":2,"quantity_unit":"kg",
          "unit_price":600,"tax_rate":2500,"total_amount":1200,"total_tax_amount":240}]})"));

  rig l({response(201, "Created", "Location: https://x/ordermanagement/v1/orders/o-1/refunds/ref-9?x=1\r\n")});
  const auto by_location = l.client.refund("o-1", returned.request);
  REQUIRE(by_location.ok());
  CHECK(by_location.value.refund_id == "ref-9");
}

TEST_CASE("client: a refund applied without a readable id is applied_id_unknown, never refused") {
  const kom_test::seed_refund returned;
  rig t({response(201, "Created", "")});
  const auto r = t.client.refund("o-1", returned.request);
  CHECK(r.error.code() == kom::errc::missing_refund_id);
  CHECK(r.next_step() == kom::outcome::applied_id_unknown);
  CHECK(r.attempts == 1);
}

TEST_CASE("client: a refund Klarna refuses is refused with REFUND_NOT_ALLOWED; a 503 is retried with the same key") {
  const kom_test::seed_refund returned;
  rig t({error_response(403, "Forbidden", "REFUND_NOT_ALLOWED")});
  const auto r = t.client.refund("o-1", returned.request);
  CHECK(r.status == 403);
  CHECK(r.klarna.error_code == kom::klarna_error_code::refund_not_allowed);
  CHECK(r.next_step() == kom::outcome::refused);
  CHECK(t.server.requests.size() == 1);

  rig u({error_response(503, "Unavailable", "TEMPORARILY_UNAVAILABLE"),
         response(201, "Created", "Refund-Id: ref-2\r\n")});
  const auto again = u.client.refund("o-1", returned.request, {"refund-key-1"});
  REQUIRE(again.ok());
  REQUIRE(u.server.requests.size() == 2);
  CHECK(header_of(u.server.requests[0], "Klarna-Idempotency-Key") == "refund-key-1");
  CHECK(header_of(u.server.requests[1], "Klarna-Idempotency-Key") == "refund-key-1");
}

TEST_CASE("client: a refund that fails validation is never sent") {
  kom::refund_request zero;
  zero.refunded_amount = 0;
  rig t({response(201, "Created", "Refund-Id: r\r\n")});
  const auto r = t.client.refund("o-1", zero);
  CHECK(r.error.code() == kom::errc::below_minimum);
  CHECK(r.error.path() == "refunded_amount");
  CHECK(r.next_step() == kom::outcome::refused);
  CHECK(!r.sent);
  CHECK(t.server.requests.empty());
  // A refund id that is not a path segment is refused the same way.
  kom::refund_storage<> storage;
  const auto g = t.client.get_refund("o-1", "../x", storage);
  CHECK(g.error.code() == kom::errc::invalid_path_id);
  CHECK(g.error.path() == "refund_id");
  CHECK(t.server.requests.empty());
}

TEST_CASE("client: get_refund reads the refund into caller storage") {
  rig t({response(200, "OK", "Content-Type: application/json\r\n",
                  kom_test::read_fixture("responses/spec2024_refund.json"))});
  kom::refund_storage<> storage;
  const auto r = t.client.get_refund("o-1", "b2cb4f2e-2781-4359-80ad-555735ebb8d8", storage);
  REQUIRE(r.ok());
  CHECK(r.value.refund_id == "b2cb4f2e-2781-4359-80ad-555735ebb8d8");
  REQUIRE(r.value.order_lines.size() == 1);
  CHECK(t.server.requests[0].rfind(
            "GET /ordermanagement/v1/orders/o-1/refunds/b2cb4f2e-2781-4359-80ad-555735ebb8d8 HTTP/1.1\r\n", 0) == 0);
  CHECK(t.env.log.at(0).rfind("GET /ordermanagement/v1/orders/o-1/refunds/b2cb4f2e-2781-4359-80ad-555735ebb8d8 attempt 1", 0) == 0);
}

TEST_CASE("client: cancel, release and extend are keyed POSTs without a body; a 403 is refused") {
  struct call {
    const char* tail;
    kom::reply<kom::no_content> (*run)(kom::client&);
  };
  const call calls[] = {
      {"/cancel", [](kom::client& c) { return c.cancel("o-1"); }},
      {"/release-remaining-authorization", [](kom::client& c) { return c.release_remaining_authorization("o-1"); }},
      {"/extend-authorization-time", [](kom::client& c) { return c.extend_authorization_time("o-1"); }},
  };
  for (const call& x : calls) {
    CAPTURE(x.tail);
    rig t({no_content_204});
    const auto r = x.run(t.client);
    REQUIRE(r.ok());
    CHECK(r.status == 204);
    const std::string& sent = t.server.requests.at(0);
    CHECK(sent.rfind("POST /ordermanagement/v1/orders/o-1" + std::string(x.tail) + " HTTP/1.1\r\n", 0) == 0);
    CHECK(header_of(sent, "Content-Length") == "0");
    CHECK(header_of(sent, "Klarna-Idempotency-Key") == r.idempotency_key);
    CHECK(!r.idempotency_key.empty());

    rig refused({error_response(403, "Forbidden", "NOT_ALLOWED")});
    const auto no = x.run(refused.client);
    CHECK(no.next_step() == kom::outcome::refused);
    CHECK(no.klarna.error_code == kom::klarna_error_code::not_allowed);
  }
  rig c({error_response(403, "Forbidden", "CANCEL_NOT_ALLOWED")});
  CHECK(c.client.cancel("o-1").klarna.error_code == kom::klarna_error_code::cancel_not_allowed);
}

TEST_CASE("client: merchant references and authorization updates are keyed PATCHes") {
  const kom_test::seed_references refs;
  rig t({no_content_204});
  const auto r = t.client.update_merchant_references("o-1", refs.request, {"patch-key"});
  REQUIRE(r.ok());
  const std::string& sent = t.server.requests.at(0);
  CHECK(sent.rfind("PATCH /ordermanagement/v1/orders/o-1/merchant-references HTTP/1.1\r\n", 0) == 0);
  CHECK(header_of(sent, "Klarna-Idempotency-Key") == "patch-key");
  CHECK(sent.substr(sent.find("\r\n\r\n") + 4) == R"({"merchant_reference1":"R-2026-0001","merchant_reference2":"T-17"})");

  const kom_test::seed_authorization_update update;
  rig u({error_response(503, "Unavailable", "TEMPORARILY_UNAVAILABLE"), no_content_204});
  const auto a = u.client.update_authorization("o-1", update.request);
  REQUIRE(a.ok());
  REQUIRE(u.server.requests.size() == 2);
  CHECK(u.server.requests[1].rfind("PATCH /ordermanagement/v1/orders/o-1/authorization HTTP/1.1\r\n", 0) == 0);
  CHECK(header_of(u.server.requests[0], "Klarna-Idempotency-Key") ==
        header_of(u.server.requests[1], "Klarna-Idempotency-Key"));
  // An update that names no reference would change nothing: refused, nothing sent.
  rig none({no_content_204});
  const auto empty = none.client.update_merchant_references("o-1", kom::merchant_references{});
  CHECK(empty.error.code() == kom::errc::required);
  CHECK(empty.next_step() == kom::outcome::refused);
  CHECK(none.server.requests.empty());
}
