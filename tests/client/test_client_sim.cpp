// kom::client over kom::tls_stream and kom::posix_tcp against kom-sim: every operation,
// Klarna's errors, idempotent retries, kept-alive connections and session resumption, each
// checked against the sim's own record of what happened (/_sim/state).
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "../support/alloc_counter.hpp"
#include "kom/client.hpp"
#include "tls_support.hpp"

namespace {

namespace json = boost::json;
using simtest::SimProcess;
using simtest::TlsClient;
using simtest::http;

// The sim for most tests: credentials u:p.
SimProcess& sim() {
  static SimProcess s({"--username", "u", "--password", "p"});
  return s;
}

json::value sim_state(int port) {
  TlsClient c(port);
  return c.request(http("GET", "/_sim/state", {}, {}, false)).json();
}

json::value sim_order(int port, const std::string& id) {
  const json::value s = sim_state(port);
  for (const auto& o : s.at("orders").as_array())
    if (o.at("order_id").as_string() == id) return o;
  FAIL("order not in the sim: " << id);
  return {};
}

std::string new_order(int port, std::int64_t amount, const std::string& extra = {}) {
  static std::atomic<int> n{0};
  const std::string id = "client-order-" + std::to_string(++n);
  TlsClient c(port);
  const auto r = c.request(http("POST", "/_sim/orders",
                                R"({"order_id":")" + id + R"(","order_amount":)" + std::to_string(amount) +
                                    R"(,"purchase_currency":"EUR")" + extra + "}",
                                {}, false));
  REQUIRE(r.status == 201);
  return id;
}

// Real time: a steady clock and a real sleep, as on a Linux terminal.
kom::client_hooks real_hooks(kom::random_source& rng) {
  kom::client_hooks h;
  h.now_ms = [](void*) {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                          std::chrono::steady_clock::now().time_since_epoch())
                                          .count());
  };
  h.sleep_ms = [](void*, std::uint32_t ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); };
  h.random = kom::random_source::callback();
  h.random_context = rng.context();
  return h;
}

// A terminal: TLS to the sim on 127.0.0.1 (verified as "localhost"), a client, 16 KiB of work.
struct terminal {
  tls_client link;
  char work[16384];
  kom::client client;

  explicit terminal(int port, std::string_view password = "p", kom::retry_policy retry = {})
      : client(link.tls.transport(), config(port, password, retry), real_hooks(link.rng), work) {
    link.add_test_ca();
  }

  static kom::client_config config(int port, std::string_view password, kom::retry_policy retry) {
    kom::client_config c;
    c.request.server = {"localhost", static_cast<std::uint16_t>(port)};
    c.request.credentials.username = "u";
    c.request.credentials.password = password;
    c.retry = retry;
    c.retry.initial_backoff_ms = 50;
    return c;
  }
};

struct two_lines {
  kom::order_line lines[2];
  kom::shipping_info shipping[1];
  kom::capture_request request;
  two_lines() {
    lines[0].type = kom::order_line_type::physical;
    lines[0].reference = "ESP-1";
    lines[0].name = "Espresso machine";
    lines[0].quantity = 1;
    lines[0].unit_price = 3000;
    lines[0].total_amount = 3000;
    lines[1].type = kom::order_line_type::shipping_fee;
    lines[1].name = "Delivery";
    lines[1].quantity = 1;
    lines[1].unit_price = 500;
    lines[1].total_amount = 500;
    shipping[0].shipping_company = "PostNord";
    shipping[0].shipping_method = kom::shipping_method::home;
    shipping[0].tracking_number = "PN123";
    request.captured_amount = 3500;
    request.reference = "till-7/4711";
    request.order_lines = lines;
    request.shipping_info = shipping;
  }
};

}  // namespace

TEST_CASE("client over TLS: every operation, checked against the sim's state") {
  const int port = sim().port();
  const std::string id = new_order(port, 10000);
  terminal t(port);
  two_lines part;

  const auto cap = t.client.capture(id, part.request);
  REQUIRE_MESSAGE(cap.ok(), cap.error.path() << " " << static_cast<int>(cap.error.code()));
  CHECK(cap.status == 201);
  CHECK(cap.correlation_id.size() == 36);
  const std::string capture_id(cap.value.capture_id);
  CHECK(std::string(cap.value.location).find("/ordermanagement/v1/orders/" + id + "/captures/" + capture_id) !=
        std::string::npos);

  kom::capture_storage<> storage;
  const auto got = t.client.get_capture(id, capture_id, storage);
  REQUIRE(got.ok());
  CHECK(got.value.capture_id == capture_id);
  CHECK(got.value.captured_amount == 3500);
  CHECK(got.value.reference == "till-7/4711");
  REQUIRE(got.value.order_lines.size() == 2);
  CHECK(got.value.order_lines[0].name == "Espresso machine");
  REQUIRE(got.value.shipping_info.size() == 1);
  CHECK(got.value.shipping_info[0].tracking_number == "PN123");

  kom::shipping_info more[1];
  more[0].shipping_company = "DHL";
  more[0].tracking_number = "JD0123";
  kom::shipping_info_update update;
  update.shipping_info = more;
  const auto si = t.client.append_shipping_info(id, capture_id, update);
  REQUIRE(si.ok());
  CHECK(si.status == 204);

  const auto so = t.client.trigger_send_out(id, capture_id);
  REQUIRE(so.ok());

  const auto rest = t.client.capture_remaining(id, {}, {"the rest", {}, 0});
  REQUIRE(rest.ok());

  kom::capture items[4];
  const auto list = t.client.list_captures(id, items, storage);
  REQUIRE(list.ok());
  REQUIRE(list.value.captures.size() == 2);
  CHECK(list.value.captures[0].shipping_info.size() == 2);
  CHECK(list.value.captures[1].captured_amount == 6500);

  kom::order_storage<> order_storage;
  const auto order = t.client.get_order(id, order_storage);
  REQUIRE(order.ok());
  CHECK(order.value.status == kom::order_status::captured);
  CHECK(order.value.captured_amount == 10000);
  CHECK(order.value.remaining_authorized_amount == 0);
  CHECK(order.value.captures.size() == 2);

  const json::value o = sim_order(port, id);
  CHECK(o.at("status").as_string() == "CAPTURED");
  const auto& caps = o.at("captures").as_array();
  REQUIRE(caps.size() == 2);
  CHECK(caps[0].at("captured_amount").as_int64() == 3500);
  CHECK(caps[0].at("send_out_count").as_int64() == 1);
  CHECK(caps[0].at("shipping_info").as_array().size() == 2);
  CHECK(caps[1].at("captured_amount").as_int64() == 6500);
  CHECK(caps[1].at("description").as_string() == "the rest");
  CHECK(t.client.stats().connects == 1);
  CHECK(t.link.tls.handshakes().full == 1);
}

TEST_CASE("client over TLS: a return, a void, a partial collection, references and a smaller basket, by the sim's state") {
  const int port = sim().port();
  terminal t(port);
  two_lines sale;
  SUBCASE("a return at the till: one line refunded, then read back; a second refund of too much is refused") {
    const std::string id = new_order(port, 10000);
    REQUIRE(t.client.capture(id, sale.request).ok());
    kom::refund_request ret;
    ret.refunded_amount = 3000;
    ret.reference = "return-1";
    ret.description = "Espresso machine returned";
    ret.order_lines = {sale.lines, 1};
    const auto r = t.client.refund(id, ret);
    REQUIRE_MESSAGE(r.ok(), static_cast<int>(r.error.code()) << " " << r.status);
    CHECK(r.status == 201);
    const std::string refund_id(r.value.refund_id);
    CHECK(std::string(r.value.location).find("/ordermanagement/v1/orders/" + id + "/refunds/" + refund_id) !=
          std::string::npos);
    json::value o = sim_order(port, id);
    CHECK(o.at("refunded_amount").as_int64() == 3000);
    REQUIRE(o.at("refunds").as_array().size() == 1);
    CHECK(o.at("refunds").as_array()[0].at("refund_id").as_string() == refund_id);

    kom::refund_storage<> storage;
    const auto got = t.client.get_refund(id, refund_id, storage);
    REQUIRE(got.ok());
    CHECK(got.value.refunded_amount == 3000);
    CHECK(got.value.reference == "return-1");
    REQUIRE(got.value.order_lines.size() == 1);
    CHECK(got.value.order_lines[0].name == "Espresso machine");

    kom::order_storage<> order_storage;
    const auto order = t.client.get_order(id, order_storage);
    REQUIRE(order.ok());
    CHECK(order.value.refunded_amount == 3000);
    REQUIRE(order.value.refunds.size() == 1);
    CHECK(order.value.refunds[0].refund_id == refund_id);
    CHECK(order.value.refunds[0].reference == "return-1");

    kom::refund_request too_much;
    too_much.refunded_amount = 501;  // 3500 captured, 3000 refunded
    too_much.reference = "return-2";
    const auto no = t.client.refund(id, too_much);
    CHECK(no.status == 403);
    CHECK(no.klarna.error_code == kom::klarna_error_code::refund_not_allowed);
    CHECK(no.next_step() == kom::outcome::refused);
    CHECK(sim_order(port, id).at("refunded_amount").as_int64() == 3000);

    const auto unknown = t.client.get_refund(id, "no-such-refund", storage);
    CHECK(unknown.status == 404);
    CHECK(unknown.next_step() == kom::outcome::refused);
  }
  SUBCASE("a void before anything is captured; a cancel after a capture is refused") {
    const std::string id = new_order(port, 5000);
    const auto c = t.client.cancel(id);
    REQUIRE(c.ok());
    CHECK(c.status == 204);
    json::value o = sim_order(port, id);
    CHECK(o.at("status").as_string() == "CANCELLED");
    CHECK(o.at("remaining_authorized_amount").as_int64() == 0);

    const std::string captured = new_order(port, 5000);
    REQUIRE(t.client.capture(captured, sale.request).ok());
    const auto no = t.client.cancel(captured);
    CHECK(no.status == 403);
    CHECK(no.klarna.error_code == kom::klarna_error_code::cancel_not_allowed);
    CHECK(sim_order(port, captured).at("status").as_string() == "PART_CAPTURED");
  }
  SUBCASE("a partial collection: capture part, release the rest; a release without captures is refused") {
    const std::string id = new_order(port, 10000);
    REQUIRE(t.client.capture(id, sale.request).ok());
    const auto r = t.client.release_remaining_authorization(id);
    REQUIRE(r.ok());
    json::value o = sim_order(port, id);
    CHECK(o.at("status").as_string() == "CLOSED");
    CHECK(o.at("remaining_authorized_amount").as_int64() == 0);
    CHECK(o.at("captured_amount").as_int64() == 3500);

    const std::string fresh = new_order(port, 10000);
    const auto no = t.client.release_remaining_authorization(fresh);
    CHECK(no.status == 403);
    CHECK(no.klarna.error_code == kom::klarna_error_code::not_allowed);
    CHECK(sim_order(port, fresh).at("status").as_string() == "AUTHORIZED");
  }
  SUBCASE("an extension moves expires_at; references and a smaller basket show on the order") {
    const std::string id = new_order(port, 10000);
    const std::string before(sim_order(port, id).at("expires_at").as_string());
    REQUIRE(t.client.extend_authorization_time(id).ok());
    const std::string after(sim_order(port, id).at("expires_at").as_string());
    CHECK(after > before);

    REQUIRE(t.client.update_merchant_references(id, {"R-2026-0001", "T-17"}).ok());
    kom::authorization_update smaller;
    smaller.order_amount = 8000;
    smaller.description = "One item out of stock";
    REQUIRE(t.client.update_authorization(id, smaller).ok());
    json::value o = sim_order(port, id);
    CHECK(o.at("merchant_reference1").as_string() == "R-2026-0001");
    CHECK(o.at("merchant_reference2").as_string() == "T-17");
    CHECK(o.at("order_amount").as_int64() == 8000);
    CHECK(o.at("remaining_authorized_amount").as_int64() == 8000);

    kom::order_storage<> order_storage;
    const auto order = t.client.get_order(id, order_storage);
    REQUIRE(order.ok());
    CHECK(order.value.merchant_reference1 == "R-2026-0001");
    CHECK(order.value.order_amount == 8000);
    CHECK(order.value.expires_at == after);

    // Below what is captured: refused, the amount unchanged.
    REQUIRE(t.client.capture(id, sale.request).ok());
    kom::authorization_update too_small;
    too_small.order_amount = 3000;
    const auto no = t.client.update_authorization(id, too_small);
    CHECK(no.status == 403);
    CHECK(no.klarna.error_code == kom::klarna_error_code::not_allowed);
    CHECK(sim_order(port, id).at("order_amount").as_int64() == 8000);
  }
  SUBCASE("a refund sent again with its key, from another connection, refunds once") {
    const std::string id = new_order(port, 10000);
    REQUIRE(t.client.capture(id, sale.request).ok());
    kom::refund_request ret;
    ret.refunded_amount = 500;
    ret.reference = "return-9";
    kom::post_options post;
    post.idempotency_key = "5e0a7f9d-0162-4d34-8f80-2b1cad9e8f76";
    const auto first = t.client.refund(id, ret, post);
    REQUIRE(first.ok());
    const std::string first_id(first.value.refund_id);
    for (int i = 0; i < 2; ++i) {
      terminal other(port);
      const auto again = other.client.refund(id, ret, post);
      REQUIRE(again.ok());
      CHECK(again.value.refund_id == first_id);
    }
    CHECK(sim_order(port, id).at("refunds").as_array().size() == 1);
    CHECK(sim_order(port, id).at("refunded_amount").as_int64() == 500);
  }
}

TEST_CASE("client over TLS: Klarna's errors arrive typed, and are not retried") {
  const int port = sim().port();
  SUBCASE("401 with wrong credentials") {
    terminal t(port, "wrong");
    kom::order_storage<> storage;
    const auto r = t.client.get_order("f3392f8b-6116-4073-ab96-e330819e2c07", storage);
    CHECK(r.status == 401);
    CHECK(r.error.code() == kom::errc::http_error);
    CHECK(r.klarna.error_code_text == "UNAUTHORIZED");
    CHECK(r.attempts == 1);
  }
  SUBCASE("403 CAPTURE_NOT_ALLOWED: more than is authorized") {
    const std::string id = new_order(port, 1000);
    terminal t(port);
    kom::capture_request big;
    big.captured_amount = 1001;
    const auto r = t.client.capture(id, big);
    CHECK(r.status == 403);
    CHECK(r.klarna.error_code == kom::klarna_error_code::capture_not_allowed);
    REQUIRE(r.klarna.error_messages.size() == 1);
    CHECK(r.klarna.error_messages[0].find("higher than the remaining authorized amount") != std::string_view::npos);
    CHECK(r.klarna.correlation_id == r.correlation_id);
    CHECK(r.next_step() == kom::outcome::refused);
    CHECK(sim_order(port, id).at("captures").as_array().empty());
  }
  SUBCASE("403 CAPTURE_NOT_ALLOWED: a cancelled order") {
    const std::string id = new_order(port, 1000, R"(,"status":"CANCELLED")");
    terminal t(port);
    kom::capture_request c;
    c.captured_amount = 100;
    CHECK(t.client.capture(id, c).klarna.error_code == kom::klarna_error_code::capture_not_allowed);
  }
  SUBCASE("403 NOT_ALLOWED: shipping info for an order without captures") {
    const std::string id = new_order(port, 1000);
    terminal t(port);
    kom::shipping_info s[1];
    s[0].tracking_number = "X1";
    kom::shipping_info_update u;
    u.shipping_info = s;
    const auto r = t.client.append_shipping_info(id, "no-capture", u);
    CHECK(r.status == 403);
    CHECK(r.klarna.error_code == kom::klarna_error_code::not_allowed);
  }
  SUBCASE("404 NO_SUCH_ORDER and NO_SUCH_CAPTURE") {
    terminal t(port);
    kom::capture_storage<> storage;
    const auto r = t.client.get_capture("no-such-order", "x", storage);
    CHECK(r.status == 404);
    CHECK(r.klarna.error_code == kom::klarna_error_code::no_such_order);
    const std::string id = new_order(port, 1000);
    kom::capture_request c;
    c.captured_amount = 100;
    REQUIRE(t.client.capture(id, c).ok());
    const auto r2 = t.client.trigger_send_out(id, "no-such-capture");
    CHECK(r2.status == 404);
    CHECK(r2.klarna.error_code == kom::klarna_error_code::no_such_capture);
    CHECK(r2.attempts == 1);
  }
}

TEST_CASE("client over TLS: 422 from a server with a lower captured_amount limit") {
  SimProcess low({"--max-captured-amount", "500"});
  const std::string id = new_order(low.port(), 10000);
  terminal t(low.port());
  kom::capture_request c;
  c.captured_amount = 501;  // within kom's 2024 limits, above this server's
  const auto r = t.client.capture(id, c);
  CHECK(r.status == 422);
  CHECK(r.klarna.error_code == kom::klarna_error_code::unprocessable_entity);
  REQUIRE(r.klarna.error_messages.size() == 1);
  CHECK(r.klarna.error_messages[0].find("captured_amount") != std::string_view::npos);
  CHECK(r.attempts == 1);
  CHECK(r.next_step() == kom::outcome::refused);
}

TEST_CASE("client over TLS: 429 is waited out, then the capture goes through once") {
  SimProcess limited({"--rate-limit", "2"});
  const int port = limited.port();
  const std::string id = new_order(port, 10000);
  terminal t(port);
  kom::capture_request c;
  c.captured_amount = 100;
  // Four captures at once: the bucket holds two tokens and gains two a second, so the third
  // meets 429 and waits what Retry-After asks (plus jitter), then succeeds.
  std::uint32_t retried = 0;
  for (int i = 0; i < 4; ++i) {
    const auto r = t.client.capture(id, c);
    REQUIRE(r.ok());
    retried += r.attempts - 1;
  }
  CHECK(retried >= 1);
  CHECK(sim_order(port, id).at("captures").as_array().size() == 4);
}

TEST_CASE("client over TLS: a repeated key captures once") {
  const int port = sim().port();
  const std::string id = new_order(port, 10000);
  terminal t(port);
  kom::capture_request c;
  c.captured_amount = 1234;
  kom::post_options post;
  const std::string key = "c0ffee00-0000-4000-8000-" + id.substr(id.size() - 1) + "00000001234";
  post.idempotency_key = key;
  const auto first = t.client.capture(id, c, post);
  REQUIRE(first.ok());
  const std::string first_id(first.value.capture_id);
  for (int i = 0; i < 3; ++i) {
    terminal other(port);  // another connection, as after a reboot
    const auto again = other.client.capture(id, c, post);
    REQUIRE(again.ok());
    CHECK(again.value.capture_id == first_id);
  }
  CHECK(sim_order(port, id).at("captures").as_array().size() == 1);
  CHECK(sim_order(port, id).at("captured_amount").as_int64() == 1234);
}

TEST_CASE("client over TLS: N calls on one connection are one handshake; a reconnect resumes") {
  SimProcess own({"--username", "u", "--password", "p"});
  const int port = own.port();
  terminal t(port);
  kom::order_storage<> storage;
  for (int i = 0; i < 10; ++i) REQUIRE(t.client.get_order("f3392f8b-6116-4073-ab96-e330819e2c07", storage).ok());
  CHECK(t.link.tls.handshakes().full == 1);
  CHECK(t.link.tls.handshakes().resumed == 0);
  CHECK(t.client.stats().connects == 1);
  json::value s = sim_state(port);
  // The state reads above used their own connections: count only the terminal's.
  const std::int64_t full_before = s.at("handshakes_full").as_int64();

  t.client.close();  // as when the server or the network ends the connection
  REQUIRE(t.client.get_order("f3392f8b-6116-4073-ab96-e330819e2c07", storage).ok());
  CHECK(t.link.tls.handshakes().full == 1);
  CHECK(t.link.tls.handshakes().resumed == 1);
  CHECK(t.client.stats().connects == 2);
  s = sim_state(port);
  CHECK(s.at("handshakes_resumed").as_int64() == 1);
  CHECK(s.at("handshakes_full").as_int64() == full_before + 1);  // + the state read itself
}

TEST_CASE("client over TLS: certificate failures are refused with their own errors") {
  kom::retry_policy once;
  once.max_attempts = 1;
  SUBCASE("untrusted CA") {
    SimProcess other(bad_cert_args("untrusted-server"));
    terminal t(other.port(), "p", once);
    kom::order_storage<> storage;
    const auto r = t.client.get_order("x", storage);
    CHECK(r.error.code() == kom::errc::tls_certificate_untrusted);
    CHECK_FALSE(r.sent);
  }
  SUBCASE("wrong host name") {
    SimProcess other(bad_cert_args("other-host"));
    terminal t(other.port(), "p", once);
    kom::order_storage<> storage;
    const auto r = t.client.get_order("x", storage);
    CHECK(r.error.code() == kom::errc::tls_hostname_mismatch);
    CHECK_FALSE(r.sent);
  }
}

TEST_CASE("client over TLS: a whole capture allocates nothing in kom's code") {
  const int port = sim().port();
  const std::string id = new_order(port, 10000);
  terminal t(port);
  two_lines part;
  kom::order_storage<> storage;
  REQUIRE(t.client.get_order(id, storage).ok());  // connected and warmed up
  kom_test::alloc_scope scope;
  const auto r = t.client.capture(id, part.request);
  const std::size_t counted = scope.count();
  REQUIRE(r.ok());
  // --wrap counts calls from code linked into this binary (kom, the test); mbedTLS's own
  // calloc calls inside libmbedtls.so are not counted here.
  CHECK(counted == 0);
}
