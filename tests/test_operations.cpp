// kom/operations.hpp: the table of calls, checked against Klarna's documented facts, and the
// request writer and the client checked against the table (they keep no copy of their own).
#include "kom/operations.hpp"

#include <doctest/doctest.h>

#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "kom/client.hpp"
#include "kom/http_request.hpp"
#include "kom/testing/fake_transport.hpp"
#include "support/fixtures.hpp"

namespace {

using kom::body_kind;
using kom::operation;

// Klarna's Order Management API, written out here independently of the table.
struct documented {
  operation op;
  const char* method;
  const char* path;  // after /ordermanagement/v1, with o-1 and c-1 as the ids
  body_kind body;
  int status;
};

const documented klarna[] = {
    {operation::capture, "POST", "/orders/o-1/captures", body_kind::capture_request, 201},
    {operation::get_capture, "GET", "/orders/o-1/captures/c-1", body_kind::none, 200},
    {operation::list_captures, "GET", "/orders/o-1/captures", body_kind::none, 200},
    {operation::append_shipping_info, "POST", "/orders/o-1/captures/c-1/shipping-info", body_kind::shipping_info_update, 204},
    {operation::trigger_send_out, "POST", "/orders/o-1/captures/c-1/trigger-send-out", body_kind::none, 204},
    {operation::get_order, "GET", "/orders/o-1", body_kind::none, 200},
    {operation::refund, "POST", "/orders/o-1/refunds", body_kind::refund_request, 201},
    {operation::get_refund, "GET", "/orders/o-1/refunds/r-1", body_kind::none, 200},
    {operation::cancel, "POST", "/orders/o-1/cancel", body_kind::none, 204},
    {operation::release_remaining_authorization, "POST", "/orders/o-1/release-remaining-authorization", body_kind::none, 204},
    {operation::extend_authorization_time, "POST", "/orders/o-1/extend-authorization-time", body_kind::none, 204},
    {operation::update_merchant_references, "PATCH", "/orders/o-1/merchant-references", body_kind::merchant_references, 204},
    {operation::update_authorization, "PATCH", "/orders/o-1/authorization", body_kind::authorization_update, 204},
};

std::string path_of(const kom::operation_info& row) {
  std::string p = "/ordermanagement/v1/orders/o-1";
  if (row.item == kom::path_item::capture) p += "/captures/c-1";
  if (row.item == kom::path_item::refund) p += "/refunds/r-1";
  return p + std::string(row.tail);
}

kom::request_config test_request_config() {
  kom::request_config c;
  c.server = {"api.playground.klarna.com", 443};
  c.credentials.username = "merchant_user";
  c.credentials.password = "s3cret-Pa55";
  return c;
}

const char* const key = "2ed6657d-e927-568b-95e1-2665a8aea6a2";

// Each call through its public builder. A new operation without a case here is a -Wswitch
// error in the tests' -Werror build.
kom::result<std::size_t> write_call(kom::buffer_writer& out, operation op) {
  static const kom_test::seed_capture capture;
  static const kom_test::seed_shipping_update shipping;
  static const kom_test::seed_refund refund;
  static const kom_test::seed_references references;
  static const kom_test::seed_authorization_update update;
  const kom::request_config config = test_request_config();
  switch (op) {
    case operation::capture: return kom::write_capture_request(out, config, "o-1", capture.request, key);
    case operation::get_capture: return kom::write_get_capture_request(out, config, "o-1", "c-1");
    case operation::list_captures: return kom::write_list_captures_request(out, config, "o-1");
    case operation::append_shipping_info:
      return kom::write_shipping_info_request(out, config, "o-1", "c-1", shipping.request, key);
    case operation::trigger_send_out: return kom::write_trigger_send_out_request(out, config, "o-1", "c-1", key);
    case operation::get_order: return kom::write_get_order_request(out, config, "o-1");
    case operation::refund: return kom::write_refund_request(out, config, "o-1", refund.request, key);
    case operation::get_refund: return kom::write_get_refund_request(out, config, "o-1", "r-1");
    case operation::cancel: return kom::write_cancel_request(out, config, "o-1", key);
    case operation::release_remaining_authorization:
      return kom::write_release_remaining_authorization_request(out, config, "o-1", key);
    case operation::extend_authorization_time: return kom::write_extend_authorization_time_request(out, config, "o-1", key);
    case operation::update_merchant_references:
      return kom::write_merchant_references_request(out, config, "o-1", references.request, key);
    case operation::update_authorization:
      return kom::write_authorization_update_request(out, config, "o-1", update.request, key);
  }
  return kom::error(kom::errc::required);
}

bool has_header(std::string_view request, std::string_view name) {
  const std::string_view head = request.substr(0, request.find("\r\n\r\n"));
  return head.find("\r\n" + std::string(name) + ": ") != std::string_view::npos;
}

std::string answer(int status, std::string_view headers, std::string_view body = {}) {
  std::string r = "HTTP/1.1 " + std::to_string(status) + " Whatever\r\n";
  r += std::string(headers);
  r += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  return r + std::string(body);
}

// The answer of success for each call, with the status given.
std::string success(operation op, int status) {
  switch (op) {
    case operation::capture: return answer(status, "Capture-Id: c-1\r\n");
    case operation::get_capture: return answer(status, "", kom_test::read_fixture("responses/capture.json"));
    case operation::list_captures: return answer(status, "", kom_test::read_fixture("responses/captures.json"));
    case operation::get_order: return answer(status, "", kom_test::read_fixture("responses/order_authorized.json"));
    case operation::refund: return answer(status, "Refund-Id: r-1\r\n");
    case operation::get_refund: return answer(status, "", kom_test::read_fixture("responses/spec2024_refund.json"));
    case operation::append_shipping_info:
    case operation::trigger_send_out:
    case operation::cancel:
    case operation::release_remaining_authorization:
    case operation::extend_authorization_time:
    case operation::update_merchant_references:
    case operation::update_authorization: break;
  }
  return answer(status, "");
}

struct one_answer {
  std::string reply;
  std::vector<std::string> requests;
  static void respond(void* c, kom::testing::fake_transport& fake, std::string_view request) {
    auto* s = static_cast<one_answer*>(c);
    s->requests.emplace_back(request);
    fake.reply(s->reply);
  }
};

struct env {
  std::uint64_t now = 1000;
  std::vector<std::string> log;
};

// The fields of a reply these tests look at, whatever the reply's value type.
struct call_result {
  kom::error error;
  int status = 0;
  std::uint32_t attempts = 0;
  bool has_key = false;
};

struct rig {
  env e;
  kom::testing::fake_transport fake;
  one_answer server;
  char work[8192];
  kom::client client;

  static kom::client_hooks hooks(env& environment) {
    kom::client_hooks h;
    h.context = &environment;
    h.now_ms = [](void* c) { return static_cast<env*>(c)->now; };
    h.sleep_ms = [](void* c, std::uint32_t ms) { static_cast<env*>(c)->now += ms; };
    h.log = [](void* c, const kom::log_record& r) {
      char line[512];
      kom::buffer_writer w(line);
      kom::write_log_line(w, r);
      static_cast<env*>(c)->log.emplace_back(w.view());
    };
    h.random = [](void*, unsigned char* out, std::size_t n) {
      for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<unsigned char>(i * 37 + 11);
      return 0;
    };
    return h;
  }

  static kom::client_config config() {
    kom::client_config c;
    c.request = test_request_config();
    c.retry.max_attempts = 2;
    return c;
  }

  explicit rig(std::string reply) : client(fake.transport(), config(), hooks(e), work) {
    server.reply = std::move(reply);
    fake.set_responder(&one_answer::respond, &server);
  }

  template <class R>
  static call_result of(const R& r) {
    call_result c;
    c.error = r.error;
    c.status = r.status;
    c.attempts = r.attempts;
    c.has_key = !r.idempotency_key.empty();
    return c;
  }

  call_result call(operation op) {
    static const kom_test::seed_capture capture;
    static const kom_test::seed_shipping_update shipping;
    static const kom_test::seed_refund refund;
    static const kom_test::seed_references references;
    static const kom_test::seed_authorization_update update;
    static kom::capture_storage<> capture_storage;
    static kom::order_storage<> order_storage;
    static kom::capture items[4];
    switch (op) {
      case operation::capture: return of(client.capture("o-1", capture.request));
      case operation::get_capture: return of(client.get_capture("o-1", "c-1", capture_storage));
      case operation::list_captures: return of(client.list_captures("o-1", items, capture_storage));
      case operation::append_shipping_info: return of(client.append_shipping_info("o-1", "c-1", shipping.request));
      case operation::trigger_send_out: return of(client.trigger_send_out("o-1", "c-1"));
      case operation::get_order: return of(client.get_order("o-1", order_storage));
      case operation::refund: return of(client.refund("o-1", refund.request));
      case operation::get_refund: return of(client.get_refund("o-1", "r-1", capture_storage));
      case operation::cancel: return of(client.cancel("o-1"));
      case operation::release_remaining_authorization: return of(client.release_remaining_authorization("o-1"));
      case operation::extend_authorization_time: return of(client.extend_authorization_time("o-1"));
      case operation::update_merchant_references: return of(client.update_merchant_references("o-1", references.request));
      case operation::update_authorization: return of(client.update_authorization("o-1", update.request));
    }
    return {};
  }
};

}  // namespace

TEST_CASE("operations table: one row per operation, at its enumerator's index") {
  REQUIRE(kom::operation_count == sizeof klarna / sizeof klarna[0]);
  std::set<std::string_view> names;
  for (std::size_t i = 0; i < kom::operation_count; ++i) {
    const auto op = static_cast<operation>(i);
    CHECK(&kom::info_of(op) == &kom::operations[i]);
    CHECK(kom::operations[i].op == op);
    CHECK(!kom::operations[i].name.empty());
    names.insert(kom::operations[i].name);
  }
  CHECK(names.size() == kom::operation_count);
  CHECK(kom::info_of(operation::capture).name == "capture");
  CHECK(kom::info_of(operation::get_order).name == "get_order");
  // A value outside the enumeration reads a row of the table, never past it.
  CHECK(&kom::info_of(static_cast<operation>(200)) == &kom::info_of(operation::get_order));
}

TEST_CASE("operations table: each row says what Klarna documents for its call") {
  for (const documented& d : klarna) {
    const kom::operation_info& row = kom::info_of(d.op);
    CAPTURE(row.name);
    CHECK(row.method == d.method);
    CHECK("/ordermanagement/v1" + std::string(d.path) == path_of(row));
    CHECK(row.body == d.body);
    CHECK(row.expected_status == d.status);
  }
}

TEST_CASE("operations table: every POST and PATCH carries a key, every GET is safe to retry") {
  for (const kom::operation_info& row : kom::operations) {
    CAPTURE(row.name);
    CHECK((row.method == "GET" || row.method == "POST" || row.method == "PATCH"));
    CHECK(row.changes() == (row.method != "GET"));
    if (row.changes()) {
      CHECK(row.idempotency_key);
      CHECK(row.retry_safe);  // the key makes a second attempt harmless
      CHECK((row.expected_status == 201 || row.expected_status == 204));
    } else {
      CHECK(!row.idempotency_key);
      CHECK(row.retry_safe);
      CHECK(row.body == body_kind::none);
      CHECK(row.expected_status == 200);
    }
    // A path with a capture id ends at the capture or below it; the capture list has none.
    if (row.tail == "/captures" || row.tail == "/refunds") CHECK(row.item == kom::path_item::order);
    if (row.tail == "/shipping-info" || row.tail == "/trigger-send-out") CHECK(row.capture_id());
  }
}

TEST_CASE("operations table: the request writer writes each call as its row says") {
  for (const kom::operation_info& row : kom::operations) {
    CAPTURE(row.name);
    char buffer[4096];
    kom::buffer_writer out(buffer);
    const kom::result<std::size_t> size = write_call(out, row.op);
    REQUIRE(size.ok());
    const std::string_view request(buffer, *size);
    const std::string line = std::string(row.method) + " " + path_of(row) + " HTTP/1.1\r\n";
    CHECK(request.substr(0, line.size()) == line);
    CHECK(has_header(request, "Klarna-Idempotency-Key") == row.idempotency_key);
    CHECK(has_header(request, "Content-Length") == row.changes());
    CHECK(has_header(request, "Content-Type") == (row.body != body_kind::none));
    const std::size_t body_at = request.find("\r\n\r\n") + 4;
    CHECK((body_at < request.size()) == (row.body != body_kind::none));
  }
}

TEST_CASE("operations table: the client sends each call as its row says, and takes the row's status") {
  for (const kom::operation_info& row : kom::operations) {
    CAPTURE(row.name);
    rig t(success(row.op, row.expected_status));
    const call_result r = t.call(row.op);
    CHECK(r.error.ok());
    CHECK(r.status == row.expected_status);
    CHECK(r.has_key == row.idempotency_key);
    REQUIRE(t.server.requests.size() == 1);
    const std::string line = std::string(row.method) + " " + path_of(row) + " HTTP/1.1\r\n";
    CHECK(t.server.requests[0].substr(0, line.size()) == line);
    CHECK(has_header(t.server.requests[0], "Klarna-Idempotency-Key") == row.idempotency_key);
    // The log line names the call the same way.
    REQUIRE(!t.e.log.empty());
    CHECK(t.e.log[0].rfind(std::string(row.method) + " " + path_of(row) + " attempt 1", 0) == 0);
  }
}

TEST_CASE("operations table: another 2xx is success only for a POST or PATCH") {
  for (const kom::operation_info& row : kom::operations) {
    CAPTURE(row.name);
    const int other = row.expected_status == 200 ? 202 : 200;
    rig t(success(row.op, other));
    const call_result r = t.call(row.op);
    CHECK(r.status == other);
    if (row.changes()) {
      CHECK(r.error.ok());  // Klarna applied it
    } else {
      CHECK(r.error.code() == kom::errc::unexpected_status);
    }
    CHECK(r.attempts == 1);
  }
}

TEST_CASE("operations table: a call safe to retry is sent again after a 503") {
  for (const kom::operation_info& row : kom::operations) {
    CAPTURE(row.name);
    rig t(answer(503, ""));
    const call_result r = t.call(row.op);
    CHECK(r.status == 503);
    CHECK(r.attempts == (row.retry_safe ? 2u : 1u));
    REQUIRE(t.server.requests.size() == r.attempts);
    if (row.idempotency_key) {
      const std::string_view first = t.server.requests.front();
      const std::string_view last = t.server.requests.back();
      const std::string_view name = "\r\nKlarna-Idempotency-Key: ";
      CHECK(first.substr(first.find(name), name.size() + 36) == last.substr(last.find(name), name.size() + 36));
    }
  }
}
