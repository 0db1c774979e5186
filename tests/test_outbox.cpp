// kom::outbox: queueing offline, draining into a stateful fake Klarna, restart recovery, final
// errors, the 24-hour rule, compaction, corruption, a full storage, the heap, file storage, and
// power cuts at every write point.
#include <doctest/doctest.h>

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "kom/client.hpp"
#include "kom/testing/fake_transport.hpp"
#include "kom/file_storage.hpp"
#include "kom/outbox.hpp"
#include "support/alloc_counter.hpp"
#include "support/mem_storage.hpp"
#include "support/test_clocks.hpp"
#include "support/seeds.hpp"

namespace {

kom::client_config test_config() {
  kom::client_config c;
  c.request.server = {"api.playground.klarna.com", 443};
  c.request.credentials.username = "merchant_user";
  c.request.credentials.password = "s3cret-Pa55";
  return c;
}

// ---- a tiny Klarna ---------------------------------------------------------------------------

std::string response(int status, std::string_view reason, std::string_view headers, std::string_view body = {}) {
  std::string r = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) + "\r\n";
  r += "Klarna-Correlation-Id: corr-" + std::to_string(status) + "\r\n";
  r += std::string(headers);
  r += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  r += std::string(body);
  return r;
}

std::string error_response(int status, std::string_view reason, std::string_view code) {
  const std::string body = R"({"error_code":")" + std::string(code) + R"(","error_messages":["msg )" + std::string(code) +
                           R"("],"correlation_id":"c-)" + std::to_string(status) + R"("})";
  return response(status, reason, "Content-Type: application/json\r\n", body);
}

std::string header_of(std::string_view request, std::string_view name) {
  const std::string needle = "\r\n" + std::string(name) + ": ";
  const std::size_t at = request.find(needle);
  if (at == std::string_view::npos) return {};
  const std::size_t start = at + needle.size();
  return std::string(request.substr(start, request.find("\r\n", start) - start));
}

// Captures per order, each idempotency key answered once and replayed after, shipping-info
// and send-outs counted per capture. Failure switches: down (503 to everything), refuse
// (403 CAPTURE_NOT_ALLOWED to captures of these orders), apply_then_503 (applies a capture
// but answers 503, as a gateway that timed out after Klarna applied it), no_capture_id (a
// 201 without Capture-Id and Location).
struct klarna_model {
  struct cap {
    std::string id, order, reference;
    std::int64_t amount = 0;
    int shipping = 0, send_outs = 0;
  };
  std::vector<cap> captures;
  struct ret {
    std::string id, order, reference;
    std::int64_t amount = 0;
  };
  std::vector<ret> refunds;
  std::map<std::string, std::string> answers;  // key -> the answer first given
  std::vector<std::string> log;                // "capture o-1 KEY", "shipping cap-1", "list o-1", ...
  std::set<std::string> refuse;
  bool down = false;
  bool apply_then_503 = false;
  bool captures_503 = false;
  bool no_capture_id = false;
  int next_id = 1;

  static void respond(void* c, kom::testing::fake_transport& fake, std::string_view request) {
    fake.reply(static_cast<klarna_model*>(c)->answer(request));
  }

  std::string answer(std::string_view request) {
    if (down) {
      log.push_back("down");
      return error_response(503, "Service Unavailable", "TEMPORARILY_UNAVAILABLE");
    }
    const std::string req(request);
    const std::size_t sp = req.find(' ');
    const std::string method = req.substr(0, sp);
    const std::string path = req.substr(sp + 1, req.find(' ', sp + 1) - sp - 1);
    const std::string prefix = "/ordermanagement/v1/orders/";
    const std::string rest = path.substr(prefix.size());
    const std::string order = rest.substr(0, rest.find('/'));
    const std::string tail = rest.substr(order.size());
    const std::string key = header_of(req, "Klarna-Idempotency-Key");
    const std::string body = req.substr(req.find("\r\n\r\n") + 4);
    if (method == "POST") {
      const auto known = answers.find(key);
      if (known != answers.end()) {
        log.push_back("replay " + key);
        return known->second;
      }
    }
    std::string a;
    if (method == "GET" && tail == "/captures") {
      log.push_back("list " + order);
      std::string json = "[";
      for (const cap& c : captures) {
        if (c.order != order) continue;
        if (json.size() > 1) json += ",";
        json += R"({"capture_id":")" + c.id + R"(","captured_amount":)" + std::to_string(c.amount) +
                R"(,"reference":")" + c.reference + R"("})";
      }
      json += "]";
      return response(200, "OK", "Content-Type: application/json\r\n", json);
    }
    if (method == "POST" && tail == "/captures") {
      log.push_back("capture " + order + " " + key);
      if (captures_503) return error_response(503, "Service Unavailable", "TEMPORARILY_UNAVAILABLE");
      if (refuse.count(order)) {
        a = error_response(403, "Forbidden", "CAPTURE_NOT_ALLOWED");
      } else {
        cap c;
        c.id = "cap-" + std::to_string(next_id++);
        c.order = order;
        const std::size_t amount_at = body.find("\"captured_amount\":");
        c.amount = std::strtoll(body.c_str() + amount_at + 18, nullptr, 10);
        const std::size_t ref_at = body.find("\"reference\":\"");
        if (ref_at != std::string::npos) c.reference = body.substr(ref_at + 13, body.find('"', ref_at + 13) - ref_at - 13);
        captures.push_back(c);
        a = no_capture_id ? response(201, "Created", "")
                          : response(201, "Created", "Capture-Id: " + c.id + "\r\nLocation: https://x" + prefix + order +
                                                         "/captures/" + c.id + "\r\n");
        if (apply_then_503) {
          answers[key] = error_response(503, "Service Unavailable", "TEMPORARILY_UNAVAILABLE");
          return answers[key];
        }
      }
    } else if (method == "POST" && tail == "/refunds") {
      log.push_back("refund " + order + " " + key);
      ret f;
      f.id = "ref-" + std::to_string(next_id++);
      f.order = order;
      const std::size_t amount_at = body.find("\"refunded_amount\":");
      f.amount = std::strtoll(body.c_str() + amount_at + 18, nullptr, 10);
      const std::size_t ref_at = body.find("\"reference\":\"");
      if (ref_at != std::string::npos) f.reference = body.substr(ref_at + 13, body.find('"', ref_at + 13) - ref_at - 13);
      refunds.push_back(f);
      a = response(201, "Created", "Refund-Id: " + f.id + "\r\n");
    } else if (method == "POST" && tail.rfind("/captures/", 0) == 0) {
      const std::string id = tail.substr(10, tail.find('/', 10) - 10);
      const bool shipping = tail.find("/shipping-info") != std::string::npos;
      log.push_back((shipping ? "shipping " : "send-out ") + id);
      cap* found = nullptr;
      for (cap& c : captures)
        if (c.id == id && c.order == order) found = &c;
      if (found == nullptr) {
        a = error_response(404, "Not Found", "NO_SUCH_CAPTURE");
      } else {
        (shipping ? found->shipping : found->send_outs) += 1;
        a = "HTTP/1.1 204 No Content\r\nKlarna-Correlation-Id: c204\r\n\r\n";
      }
    } else {
      a = error_response(404, "Not Found", "NOT_FOUND");
    }
    if (!key.empty()) answers[key] = a;
    return a;
  }

  const cap* capture_of(std::string_view reference) const {
    for (const cap& c : captures)
      if (c.reference == reference) return &c;
    return nullptr;
  }

  int captures_with(std::string_view reference) const {
    int n = 0;
    for (const cap& c : captures) n += c.reference == reference;
    return n;
  }

  int refunds_with(std::string_view reference) const {
    int n = 0;
    for (const ret& f : refunds) n += f.reference == reference;
    return n;
  }
};

// A client over the model, and what drain needs for the 24-hour listing.
struct rig {
  clocks time;
  kom::testing::fake_transport fake;
  klarna_model klarna;
  char work[8192];
  kom::client client;
  kom::capture items[8];
  kom::capture_storage<> listing;

  rig() : client(fake.transport(), test_config(), hooks_for(time), work) {
    fake.set_responder(&klarna_model::respond, &klarna);
  }
  template <class Box>
  kom::outbox_drain drain(Box& box) {
    return box.drain(client, items, listing);
  }
};

kom::capture_request simple_capture(std::int64_t amount, std::string_view reference) {
  kom::capture_request c;
  c.captured_amount = amount;
  c.reference = reference;
  return c;
}

struct one_shipping {
  kom::shipping_info entry;
  kom::shipping_info_update update;
  explicit one_shipping(std::string_view tracking) {
    entry.shipping_company = "DHL";
    entry.shipping_method = kom::shipping_method::home;
    entry.tracking_number = tracking;
    update.shipping_info = {&entry, 1};
  }
};

using small_outbox = kom::basic_outbox<kom::capacity::operations<32>, kom::capacity::record_bytes<1024>, kom::capacity::lines<4>, kom::capacity::shipping_entries<2>>;

}  // namespace

TEST_CASE("outbox: a client set up wrong stops the drain and fails nothing") {
  mem_storage mem(512, 8);
  rig t;
  kom::outbox box(mem.storage(), wall_of(t.time));
  REQUIRE(box.open().ok());
  REQUIRE(box.append_capture("o-1", simple_capture(500, "sale-1"), "key-1"));
  SUBCASE("no credentials") {
    kom::client_config config = test_config();
    config.request.credentials = {};
    kom::client bare(t.fake.transport(), config, hooks_for(t.time), t.work);
    const auto d = box.drain(bare, t.items, t.listing);
    CHECK(d.stopped);
    CHECK(d.error.code() == kom::errc::missing_credentials);
  }
  SUBCASE("a User-Agent field with a space") {
    kom::client_config config = test_config();
    config.request.user_agent.firmware = "1.2 beta";
    kom::client odd(t.fake.transport(), config, hooks_for(t.time), t.work);
    const auto d = box.drain(odd, t.items, t.listing);
    CHECK(d.stopped);
    CHECK(d.error.code() == kom::errc::invalid_header_value);
  }
  SUBCASE("no host") {
    kom::client_config config = test_config();
    config.request.server.host = "";
    kom::client nowhere(t.fake.transport(), config, hooks_for(t.time), t.work);
    const auto d = box.drain(nowhere, t.items, t.listing);
    CHECK(d.stopped);
    CHECK(d.error.code() == kom::errc::required);
  }
  SUBCASE("no sleep hook for the retries") {
    kom::client_hooks hooks = hooks_for(t.time);
    hooks.sleep_ms = nullptr;
    kom::client sleepless(t.fake.transport(), test_config(), hooks, t.work);
    const auto d = box.drain(sleepless, t.items, t.listing);
    CHECK(d.stopped);
    CHECK(d.error.code() == kom::errc::invalid_client_setup);
  }
  CHECK(t.klarna.captures.empty());
  kom::outbox_item item;
  REQUIRE(box.read(1, item).ok());
  CHECK(item.state == kom::outbox_state::pending);
  // Mended, the same drain sends it.
  const auto d = t.drain(box);
  CHECK(d.done == 1);
  CHECK(t.klarna.captures_with("sale-1") == 1);
}

TEST_CASE("outbox: crc32 is the standard CRC-32") {
  CHECK(kom::crc32_update(0, "123456789", 9) == 0xCBF43926u);
  CHECK(kom::crc32_update(kom::crc32_update(0, "1234", 4), "56789", 5) == 0xCBF43926u);
}

TEST_CASE("outbox: a capture with lines and shipping info round-trips, also after reopening") {
  mem_storage mem(512, 8);
  clocks time;
  const kom_test::seed_capture seed;
  kom::product_identifiers ids;
  ids.brand = "Acme";
  ids.color = "red";
  kom::subscription sub;
  sub.name = "Weekly tomatoes";
  sub.interval = kom::subscription_interval::week;
  sub.interval_count = 1;
  kom::order_line lines[2] = {seed.lines[0], seed.lines[0]};
  lines[1].name = "Subscription";
  lines[1].product_identifiers = &ids;
  lines[1].subscription = &sub;
  lines[1].total_discount_amount = 0;
  lines[1].tax_rate.reset();
  kom::capture_request req = seed.request;
  req.order_lines = lines;
  req.captured_amount = 12000;
  req.shipping_delay = 3;

  auto check = [&](kom::outbox& box, std::uint32_t seq) {
    kom::outbox_item item;
    REQUIRE(box.read(seq, item).ok());
    CHECK(item.op == kom::outbox_op::capture);
    CHECK(item.state == kom::outbox_state::pending);
    CHECK(item.order_id == "o-1");
    CHECK(item.idempotency_key == "key-1");
    CHECK(item.capture.captured_amount == 12000);
    CHECK(item.capture.reference == seed.request.reference);
    CHECK(item.capture.description == seed.request.description);
    CHECK(item.capture.shipping_delay == 3);
    REQUIRE(item.capture.order_lines.size() == 2);
    const kom::order_line& a = item.capture.order_lines[0];
    CHECK(a.type == kom::order_line_type::physical);
    CHECK(a.reference == "123050");
    CHECK(a.name == "Tomatoes");
    CHECK(a.quantity == 10);
    CHECK(a.quantity_unit == "kg");
    CHECK(a.unit_price == 600);
    CHECK(a.tax_rate == 2500);
    CHECK(a.total_amount == 6000);
    CHECK(a.total_tax_amount == 1200);
    CHECK(!a.total_discount_amount);
    CHECK(a.product_identifiers == nullptr);
    const kom::order_line& b = item.capture.order_lines[1];
    CHECK(b.name == "Subscription");
    CHECK(!b.tax_rate);
    CHECK(b.total_discount_amount == 0);
    REQUIRE(b.product_identifiers != nullptr);
    CHECK(b.product_identifiers->brand == "Acme");
    CHECK(b.product_identifiers->color == "red");
    REQUIRE(b.subscription != nullptr);
    CHECK(b.subscription->name == "Weekly tomatoes");
    CHECK(b.subscription->interval == kom::subscription_interval::week);
    CHECK(b.subscription->interval_count == 1);
    REQUIRE(item.capture.shipping_info.size() == 1);
    CHECK(item.capture.shipping_info[0].shipping_company == "DHL US");
    CHECK(item.capture.shipping_info[0].return_tracking_number == "112233445566778899");
    CHECK(kom::validate(item.capture).ok());
  };

  std::uint32_t seq = 0;
  {
    kom::outbox box(mem.storage(), wall_of(time));
    REQUIRE(box.open().ok());
    auto r = box.append_capture("o-1", req, "key-1");
    REQUIRE(r.ok());
    seq = *r;
    check(box, seq);
    const one_shipping ship("T-1");
    auto s = box.append_shipping_info("o-1", kom::capture_ref::of_record(seq), ship.update, "key-2");
    REQUIRE(s.ok());
    kom::outbox_item item;
    REQUIRE(box.read(*s, item).ok());
    CHECK(item.op == kom::outbox_op::shipping_info);
    CHECK(item.capture_of == seq);
    REQUIRE(item.shipping.shipping_info.size() == 1);
    CHECK(item.shipping.shipping_info[0].tracking_number == "T-1");
    CHECK(item.shipping.shipping_info[0].shipping_method == kom::shipping_method::home);
  }
  kom::outbox again(mem.storage(), wall_of(time));
  REQUIRE(again.open().ok());
  CHECK(again.size() == 2);
  check(again, seq);
}

TEST_CASE("outbox: appends refuse what could never be sent") {
  mem_storage mem(512, 4);
  clocks time;
  small_outbox box(mem.storage(), wall_of(time));
  REQUIRE(box.open().ok());
  kom::capture_request bad = simple_capture(0, "r");
  CHECK(box.append_capture("o-1", bad, "k").error().code() == kom::errc::below_minimum);
  CHECK(box.append_capture("o 1", simple_capture(5, "r"), "k").error().code() == kom::errc::invalid_path_id);
  CHECK(box.append_capture("o-1", simple_capture(5, "r"), "").error().code() == kom::errc::required);
  CHECK(box.append_capture("o-1", simple_capture(5, "r"), std::string(65, 'k')).error().code() == kom::errc::too_long);
  const auto unknown_record = box.append_send_out("o-1", kom::capture_ref::of_record(42), "k");
  CHECK(unknown_record.error().code() == kom::errc::unknown_capture_record);
  CHECK(unknown_record.error().path() == "capture_of");
  CHECK(unknown_record.error().detail() == 42);
  // Without a reference the 24-hour listing could not tell this capture from another.
  const auto unreferenced = box.append_capture("o-1", simple_capture(5, ""), "k");
  CHECK(unreferenced.error().code() == kom::errc::required);
  CHECK(unreferenced.error().path() == "reference");
  const kom_test::seed_capture seed;
  kom::order_line five[5] = {seed.lines[0], seed.lines[0], seed.lines[0], seed.lines[0], seed.lines[0]};
  kom::capture_request many = seed.request;
  many.order_lines = five;
  many.captured_amount = 30000;
  const auto r = box.append_capture("o-1", many, "k");
  CHECK(r.error().code() == kom::errc::too_many_items);
  CHECK(r.error().detail() == 4);
  CHECK(box.size() == 0);
}

TEST_CASE("outbox: drains in order into a stateful Klarna; each is done once, also after a restart") {
  mem_storage mem(512, 8);
  rig t;
  {
    kom::outbox box(mem.storage(), wall_of(t.time));
    REQUIRE(box.open().ok());
    const auto c = box.append_capture("o-1", simple_capture(500, "sale-1"), "k-cap");
    REQUIRE(c.ok());
    const one_shipping ship("TRACK-1");
    REQUIRE(box.append_shipping_info("o-1", kom::capture_ref::of_record(*c), ship.update, "k-ship").ok());
    REQUIRE(box.append_send_out("o-1", kom::capture_ref::of_record(*c), "k-send").ok());
    CHECK(box.pending() == 3);
  }
  // Reboot before draining: everything is still there.
  kom::outbox box(mem.storage(), wall_of(t.time));
  REQUIRE(box.open().ok());
  REQUIRE(box.pending() == 3);
  const kom::outbox_drain d = t.drain(box);
  CHECK(!d.stopped);
  CHECK(d.sent == 3);
  CHECK(d.done == 3);
  CHECK(d.pending == 0);
  REQUIRE(t.klarna.log.size() == 3);
  CHECK(t.klarna.log[0] == "capture o-1 k-cap");
  CHECK(t.klarna.log[1] == "shipping cap-1");
  CHECK(t.klarna.log[2] == "send-out cap-1");
  REQUIRE(t.klarna.captures.size() == 1);
  CHECK(t.klarna.captures[0].amount == 500);
  CHECK(t.klarna.captures[0].shipping == 1);
  CHECK(t.klarna.captures[0].send_outs == 1);
  kom::outbox_item item;
  REQUIRE(box.read(box.seq_at(0), item).ok());
  CHECK(item.state == kom::outbox_state::done);
  CHECK(item.capture_id == "cap-1");
  CHECK(item.first_attempt_ms == t.time.wall);

  // Reopened: all done, nothing is sent again.
  kom::outbox after(mem.storage(), wall_of(t.time));
  REQUIRE(after.open().ok());
  CHECK(after.pending() == 0);
  const kom::outbox_drain again = t.drain(after);
  CHECK(again.sent == 0);
  CHECK(t.klarna.log.size() == 3);
  // A later shipping update for the done capture by record takes its id directly.
  const one_shipping late("TRACK-2");
  const auto s = after.append_shipping_info("o-1", kom::capture_ref::of_record(after.seq_at(0)), late.update, "k-late");
  REQUIRE(s.ok());
  REQUIRE(after.read(*s, item).ok());
  CHECK(item.capture_id == "cap-1");
  CHECK(item.capture_of == 0);
}

TEST_CASE("outbox: a final error is kept with Klarna's error body and not retried") {
  mem_storage mem(512, 8);
  rig t;
  t.klarna.refuse.insert("o-bad");
  kom::outbox box(mem.storage(), wall_of(t.time));
  REQUIRE(box.open().ok());
  const auto bad = box.append_capture("o-bad", simple_capture(500, "sale-1"), "k-bad");
  REQUIRE(bad.ok());
  const auto send = box.append_send_out("o-bad", kom::capture_ref::of_record(*bad), "k-bad-send");
  REQUIRE(send.ok());
  REQUIRE(box.append_capture("o-2", simple_capture(700, "sale-2"), "k-good").ok());
  const kom::outbox_drain d = t.drain(box);
  CHECK(!d.stopped);
  CHECK(d.sent == 3);
  CHECK(d.failed == 2);
  CHECK(d.done == 1);
  CHECK(t.klarna.captures_with("sale-2") == 1);
  CHECK(t.klarna.log.size() == 2);  // the refused capture once, its send-out never

  kom::outbox reopened(mem.storage(), wall_of(t.time));
  REQUIRE(reopened.open().ok());
  kom::outbox_item item;
  REQUIRE(reopened.read(*bad, item).ok());
  CHECK(item.state == kom::outbox_state::failed);
  CHECK(item.failure.code == kom::errc::http_error);
  CHECK(item.failure.status == 403);
  CHECK(item.failure.error_code == "CAPTURE_NOT_ALLOWED");
  CHECK(item.failure.message == "msg CAPTURE_NOT_ALLOWED");
  CHECK(item.failure.correlation_id == "corr-403");
  REQUIRE(reopened.read(*send, item).ok());
  CHECK(item.state == kom::outbox_state::failed);
  CHECK(item.failure.error_code == "CAPTURE_FAILED");
  CHECK(t.drain(reopened).sent == 0);
  CHECK(t.klarna.log.size() == 2);

  // The back office has seen them: compaction drops them.
  REQUIRE(reopened.forget(*bad).ok());
  REQUIRE(reopened.forget(*send).ok());
  REQUIRE(reopened.compact().ok());
  CHECK(reopened.size() == 0);
}

TEST_CASE("outbox: retry_later stops the drain and leaves the rest pending, in order") {
  mem_storage mem(512, 8);
  rig t;
  kom::outbox box(mem.storage(), wall_of(t.time));
  REQUIRE(box.open().ok());
  const auto c1 = box.append_capture("o-1", simple_capture(100, "a"), "k1");
  REQUIRE(c1.ok());
  REQUIRE(box.append_send_out("o-1", kom::capture_ref::of_record(*c1), "k2").ok());
  REQUIRE(box.append_capture("o-1", simple_capture(200, "b"), "k3").ok());
  t.klarna.down = true;
  const kom::outbox_drain d = t.drain(box);
  CHECK(d.stopped);
  CHECK(d.error.code() == kom::errc::http_error);
  CHECK(d.sent == 0);
  CHECK(d.pending == 3);
  CHECK(t.klarna.log.size() == 5);  // the client's 5 attempts of the first capture, nothing else
  t.klarna.down = false;
  t.klarna.log.clear();
  const kom::outbox_drain up = t.drain(box);
  CHECK(!up.stopped);
  CHECK(up.done == 3);
  REQUIRE(t.klarna.log.size() == 3);
  CHECK(t.klarna.log[0] == "capture o-1 k1");
  CHECK(t.klarna.log[1] == "send-out cap-1");
  CHECK(t.klarna.log[2] == "capture o-1 k3");
}

TEST_CASE("outbox: after 24 h a capture Klarna already has is found by listing, not resent") {
  mem_storage mem(512, 8);
  rig t;
  kom::outbox box(mem.storage(), wall_of(t.time));
  REQUIRE(box.open().ok());
  const auto c = box.append_capture("o-1", simple_capture(900, "sale-9"), "k-old");
  REQUIRE(c.ok());
  REQUIRE(box.append_capture("o-1", simple_capture(900, "sale-10"), "k-other").ok());
  t.klarna.apply_then_503 = true;  // applied, but the answer never arrives
  CHECK(t.drain(box).stopped);
  CHECK(t.klarna.captures_with("sale-9") == 1);
  t.klarna.apply_then_503 = false;
  t.time.wall += 25ull * 3600 * 1000;
  t.klarna.log.clear();
  const kom::outbox_drain d = t.drain(box);
  CHECK(!d.stopped);
  CHECK(d.done == 2);
  REQUIRE(t.klarna.log.size() == 2);
  CHECK(t.klarna.log[0] == "list o-1");
  CHECK(t.klarna.log[1] == "capture o-1 k-other");
  CHECK(t.klarna.captures_with("sale-9") == 1);
  kom::outbox_item item;
  REQUIRE(box.read(*c, item).ok());
  CHECK(item.state == kom::outbox_state::done);
  CHECK(item.capture_id == "cap-1");
  CHECK(item.idempotency_key == "k-old");
}

TEST_CASE("outbox: a capture reference is unique per order among the captures it holds") {
  mem_storage mem(512, 8);
  rig t;
  kom::outbox box(mem.storage(), wall_of(t.time));
  REQUIRE(box.open().ok());
  const auto first = box.append_capture("o-1", simple_capture(900, "sale-9"), "k1");
  REQUIRE(first.ok());
  const auto again = box.append_capture("o-1", simple_capture(100, "sale-9"), "k2");
  CHECK(again.error().code() == kom::errc::duplicate_reference);
  CHECK(again.error().path() == "reference");
  CHECK(again.error().detail() == *first);
  CHECK(box.append_capture("o-2", simple_capture(100, "sale-9"), "k3").ok());  // another order
  CHECK(box.size() == 2);
  // Also after a reboot, and after the first is done.
  REQUIRE(!t.drain(box).stopped);
  kom::outbox reopened(mem.storage(), wall_of(t.time));
  REQUIRE(reopened.open().ok());
  CHECK(reopened.append_capture("o-1", simple_capture(100, "sale-9"), "k4").error().code() ==
        kom::errc::duplicate_reference);
  CHECK(reopened.append_capture("o-1", simple_capture(100, "sale-10"), "k5").ok());
}

TEST_CASE("outbox: after 24 h another capture of the same amount does not pass for an unsent one") {
  mem_storage mem(512, 8);
  rig t;
  kom::outbox box(mem.storage(), wall_of(t.time));
  REQUIRE(box.open().ok());
  // Another till captured 900 of this order under another sale; this one never got through.
  klarna_model::cap other;
  other.id = "cap-other";
  other.order = "o-1";
  other.reference = "sale-8";
  other.amount = 900;
  t.klarna.captures.push_back(other);
  const auto c = box.append_capture("o-1", simple_capture(900, "sale-9"), "k-old");
  REQUIRE(c.ok());
  t.klarna.down = true;
  CHECK(t.drain(box).stopped);
  t.klarna.down = false;
  t.time.wall += 25ull * 3600 * 1000;
  const kom::outbox_drain d = t.drain(box);
  CHECK(d.done == 1);
  CHECK(t.klarna.captures_with("sale-9") == 1);  // sent, not matched to the other capture
  kom::outbox_item item;
  REQUIRE(box.read(*c, item).ok());
  CHECK(item.capture_id != "cap-other");
  CHECK(item.capture_id == t.klarna.capture_of("sale-9")->id);
}

TEST_CASE("outbox: a 201 without a capture id is found by listing and marked done with Klarna's id") {
  mem_storage mem(512, 8);
  rig t;
  kom::outbox box(mem.storage(), wall_of(t.time));
  REQUIRE(box.open().ok());
  const auto c = box.append_capture("o-1", simple_capture(700, "sale-7"), "k-cap");
  REQUIRE(c.ok());
  const one_shipping ship("T-7");
  REQUIRE(box.append_shipping_info("o-1", kom::capture_ref::of_record(*c), ship.update, "k-ship").ok());
  t.klarna.no_capture_id = true;
  const kom::outbox_drain d = t.drain(box);
  CHECK(!d.stopped);
  CHECK(d.done == 2);
  REQUIRE(t.klarna.log.size() == 3);
  CHECK(t.klarna.log[0] == "capture o-1 k-cap");
  CHECK(t.klarna.log[1] == "list o-1");
  const klarna_model::cap* made = t.klarna.capture_of("sale-7");
  REQUIRE(made != nullptr);
  CHECK(t.klarna.captures_with("sale-7") == 1);
  CHECK(t.klarna.log[2] == "shipping " + made->id);
  CHECK(made->shipping == 1);
  kom::outbox_item item;
  REQUIRE(box.read(*c, item).ok());
  CHECK(item.state == kom::outbox_state::done);
  CHECK(item.capture_id == made->id);
}

TEST_CASE("outbox: after 24 h a capture Klarna does not have is resent with a new key stored first") {
  mem_storage mem(512, 8);
  rig t;
  std::uint32_t seq = 0;
  std::string new_key;
  {
    kom::outbox box(mem.storage(), wall_of(t.time));
    REQUIRE(box.open().ok());
    const auto c = box.append_capture("o-1", simple_capture(900, "sale-9"), "k-old");
    REQUIRE(c.ok());
    seq = *c;
    t.klarna.down = true;
    CHECK(t.drain(box).stopped);
    t.klarna.down = false;
    CHECK(t.klarna.captures.empty());
    t.time.wall += 25ull * 3600 * 1000;
    t.klarna.log.clear();
    // The listing succeeds, the resend gets no answer: the new key must already be stored.
    t.klarna.captures_503 = true;
    const kom::outbox_drain d = t.drain(box);
    CHECK(d.stopped);
    REQUIRE(!t.klarna.log.empty());
    CHECK(t.klarna.log[0] == "list o-1");
    t.klarna.captures_503 = false;
    CHECK(t.klarna.captures.empty());
  }
  kom::outbox box(mem.storage(), wall_of(t.time));
  REQUIRE(box.open().ok());
  kom::outbox_item item;
  REQUIRE(box.read(seq, item).ok());
  new_key = std::string(item.idempotency_key);
  CHECK(new_key != "k-old");
  CHECK(new_key.size() == 36);
  CHECK(item.first_attempt_ms + 24ull * 3600 * 1000 > t.time.wall);  // a fresh window
  CHECK(box.find_key("k-old") == seq);
  t.klarna.log.clear();
  const kom::outbox_drain d = t.drain(box);
  CHECK(!d.stopped);
  CHECK(d.done == 1);
  REQUIRE(t.klarna.log.size() == 1);  // within the new key's window: no second listing
  CHECK(t.klarna.log[0] == "capture o-1 " + new_key);
  CHECK(t.klarna.captures_with("sale-9") == 1);
}

TEST_CASE("outbox: compaction keeps live operations, drops done ones, and survives reopening") {
  mem_storage mem(256, 4);  // two areas of 512 bytes
  rig t;
  small_outbox box(mem.storage(), wall_of(t.time));
  REQUIRE(box.open().ok());
  const std::uint32_t gen = box.generation();
  int sale = 0;
  for (int round = 0; round < 6; ++round) {
    for (int i = 0; i < 3; ++i, ++sale) {
      const std::string ref = "sale-" + std::to_string(sale);
      const auto r = box.append_capture("o-1", simple_capture(100 + sale, ref), "k-" + ref);
      REQUIRE(r.ok());
    }
    if (round == 1 || round == 3) CHECK(!t.drain(box).stopped);
  }
  CHECK(box.generation() > gen);  // it compacted along the way
  CHECK(box.pending() == 6);
  small_outbox again(mem.storage(), wall_of(t.time));
  REQUIRE(again.open().ok());
  CHECK(again.generation() == box.generation());
  CHECK(again.pending() == 6);
  CHECK(!t.drain(again).stopped);
  for (int s = 0; s < sale; ++s) CHECK(t.klarna.captures_with("sale-" + std::to_string(s)) == 1);
  REQUIRE(again.compact().ok());
  CHECK(again.size() == 0);
  CHECK(again.bytes_used() == 20);  // the area header alone
}

TEST_CASE("outbox: a flipped bit makes a record invalid, not a crash") {
  mem_storage mem(512, 4);
  clocks time;
  std::uint32_t first = 0, second = 0;
  {
    kom::outbox box(mem.storage(), wall_of(time));
    REQUIRE(box.open().ok());
    first = *box.append_capture("o-1", simple_capture(100, "sale-1"), "k1");
    second = *box.append_capture("o-1", simple_capture(200, "sale-2"), "k2");
  }
  // Flip one bit in the first record's payload (area 0: header 20 bytes, record head 12).
  mem.data[20 + 12 + 5] ^= 0x04;
  kom::outbox box(mem.storage(), wall_of(time));
  REQUIRE(box.open().ok());
  CHECK(box.corrupt_records() == 1);
  CHECK(box.size() == 1);
  CHECK(box.seq_at(0) == second);
  kom::outbox_item item;
  CHECK(box.read(first, item).code() == kom::errc::no_such_operation);
  REQUIRE(box.read(second, item).ok());
  CHECK(item.capture.captured_amount == 200);
  // Garbage everywhere: still no crash.
  for (std::size_t i = 20; i < 200; i += 7) mem.data[i] = static_cast<unsigned char>(i * 37);
  kom::outbox noise(mem.storage(), wall_of(time));
  CHECK(noise.open().ok());
  CHECK(noise.append_capture("o-1", simple_capture(300, "sale-3"), "k3").ok());
}

TEST_CASE("outbox: a full storage is an error with the size needed") {
  mem_storage mem(128, 2);  // two areas of 128 bytes
  clocks time;
  small_outbox box(mem.storage(), wall_of(time));
  REQUIRE(box.open().ok());
  int ok = 0;
  kom::error e;
  for (int i = 0; i < 10; ++i) {
    const auto r = box.append_capture("o-1", simple_capture(100 + i, "sale-" + std::to_string(i)), "k" + std::to_string(i));
    if (!r) {
      e = r.error();
      break;
    }
    ++ok;
  }
  CHECK(ok >= 2);
  CHECK(e.code() == kom::errc::buffer_too_small);
  CHECK(e.detail() > 128);
  CHECK(box.size() == static_cast<std::size_t>(ok));
  small_outbox again(mem.storage(), wall_of(time));
  REQUIRE(again.open().ok());
  CHECK(again.size() == static_cast<std::size_t>(ok));
}

TEST_CASE("outbox: open, append, drain, compaction and reopening allocate nothing") {
  mem_storage mem(256, 8);
  auto t = std::make_unique<rig>();
  auto box = std::make_unique<kom::outbox>(mem.storage(), wall_of(t->time));
  auto again = std::make_unique<kom::outbox>(mem.storage(), wall_of(t->time));
  // A server that answers without allocating.
  struct canned {
    static void respond(void*, kom::testing::fake_transport& fake, std::string_view request) {
      if (request.rfind("POST /ordermanagement/v1/orders/o-1/captures HTTP", 0) == 0)
        fake.reply("HTTP/1.1 201 Created\r\nCapture-Id: cap-1\r\nLocation: https://x/cap-1\r\nContent-Length: 0\r\n\r\n");
      else
        fake.reply("HTTP/1.1 204 No Content\r\n\r\n");
    }
  };
  t->fake.set_responder(&canned::respond, nullptr);
  const std::string refs[5] = {"sale-1", "sale-2", "sale-3", "sale-4", "sale-5"};
  const kom::capture_request captures[5] = {simple_capture(100, refs[0]), simple_capture(100, refs[1]),
                                            simple_capture(100, refs[2]), simple_capture(100, refs[3]),
                                            simple_capture(100, refs[4])};
  const one_shipping ship("T-1");
  bool all_ok = true;
  std::size_t done = 0;
  kom_test::alloc_scope scope;
  all_ok = all_ok && box->open().ok();
  for (int round = 0; round < 5; ++round) {
    const auto s = box->append_capture("o-1", captures[round], round % 2 ? "k-a" : "k-b");
    all_ok = all_ok && s.ok();
    all_ok = all_ok && box->append_shipping_info("o-1", kom::capture_ref::of_record(*s), ship.update, "k-s").ok();
    all_ok = all_ok && box->append_send_out("o-1", kom::capture_ref::of_record(*s), "k-o").ok();
    done += box->drain(t->client, t->items, t->listing).done;
  }
  all_ok = all_ok && box->compact().ok();
  all_ok = all_ok && again->open().ok();
  const std::size_t allocations = scope.count();
  CHECK(all_ok);
  CHECK(done == 15);
  CHECK(box->generation() > 1);
  CHECK(allocations == 0);
}

TEST_CASE("outbox: file storage keeps the outbox across reopening") {
  char path[] = "/tmp/kom-outbox-XXXXXX";
  const int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  ::close(fd);
  rig t;
  {
    kom::file_storage file;
    REQUIRE(file.open(path, 512, 4) == 0);
    kom::outbox box(file.storage(), wall_of(t.time));
    REQUIRE(box.open().ok());
    REQUIRE(box.append_capture("o-1", simple_capture(100, "sale-1"), "k1").ok());
    REQUIRE(box.append_capture("o-1", simple_capture(200, "sale-2"), "k2").ok());
  }
  {
    kom::file_storage file;
    REQUIRE(file.open(path, 512, 4) == 0);
    kom::outbox box(file.storage(), wall_of(t.time));
    REQUIRE(box.open().ok());
    CHECK(box.pending() == 2);
    CHECK(t.drain(box).done == 2);
    REQUIRE(box.compact().ok());
  }
  kom::file_storage file;
  REQUIRE(file.open(path, 512, 4) == 0);
  kom::outbox box(file.storage(), wall_of(t.time));
  REQUIRE(box.open().ok());
  CHECK(box.size() == 0);
  CHECK(box.generation() == 2);
  CHECK(t.klarna.captures.size() == 2);
  CHECK(file.read(9, 0, path, 1) != 0);  // outside the file
  std::remove(path);
}

// ---- power loss ------------------------------------------------------------------------------
// 117 operations of 50 sales (each a capture; every other sale also a shipping-info update and
// a send-out for it, every third a refund of it, all queued by record), drained after every
// fourth sale. One run cuts the
// power at one write point: everything up to it happens, then "reboot" (reopen from the same
// bytes), the operations whose append did not return are appended again unless the outbox
// already holds them, the rest of the schedule runs, and a last drain empties the outbox.
// Klarna must end with every capture exactly once and every update, send-out and refund once.

namespace {

using power_outbox = kom::basic_outbox<kom::capacity::operations<32>, kom::capacity::record_bytes<512>, kom::capacity::lines<2>, kom::capacity::shipping_entries<2>>;

struct power_op {
  int sale;
  int kind;  // 0 capture, 1 shipping info, 2 send-out, 3 refund, 4 drain
};

std::vector<power_op> power_schedule() {
  std::vector<power_op> s;
  for (int sale = 0; sale < 50; ++sale) {
    s.push_back({sale, 0});
    if (sale % 2 == 0) {
      s.push_back({sale, 1});
      s.push_back({sale, 2});
    }
    if (sale % 3 == 0) s.push_back({sale, 3});
    if (sale % 4 == 3) s.push_back({sale, 4});
  }
  return s;
}

// The refund of a sale: what came back of it, under a reference of its own.
kom::refund_request returned(int sale) {
  static thread_local std::string reference;
  reference = "return-" + std::to_string(sale);
  kom::refund_request r;
  r.refunded_amount = 50;
  r.reference = reference;
  return r;
}

// Runs the schedule; the storage cuts at `cut` units. Returns an empty string or what went wrong.
std::string power_run(mem_storage& mem, std::size_t cut, std::size_t* units_total = nullptr, int* torn = nullptr,
                      std::uint32_t* generation = nullptr) {
  static const std::vector<power_op> schedule = power_schedule();
  rig t;
  mem.budget = cut;
  bool committed[50][4] = {};
  std::uint32_t capture_seq[50] = {};
  const one_shipping ship("TRACK");
  auto key = [](int sale, int kind) { return "k-" + std::to_string(sale) + "-" + std::to_string(kind); };
  auto order = [](int sale) { return "o-" + std::to_string(sale % 5); };
  auto ref = [](int sale) { return "sale-" + std::to_string(sale); };
  auto return_of = [](int sale) { return "return-" + std::to_string(sale); };

  auto step = [&](power_outbox& box, const power_op& op, bool after_reboot) -> bool {
    if (op.kind == 4) {
      (void)t.drain(box);
      return !mem.dead;
    }
    if (committed[op.sale][op.kind]) return true;
    const std::string k = key(op.sale, op.kind);
    if (after_reboot) {
      if (const std::uint32_t seq = box.find_key(k); seq != 0) {
        committed[op.sale][op.kind] = true;
        if (op.kind == 0) capture_seq[op.sale] = seq;
        return true;
      }
    }
    kom::result<std::uint32_t> r = 0u;
    if (op.kind == 0) r = box.append_capture(order(op.sale), simple_capture(100 + op.sale, ref(op.sale)), k);
    else if (op.kind == 1)
      r = box.append_shipping_info(order(op.sale), kom::capture_ref::of_record(capture_seq[op.sale]), ship.update, k);
    else if (op.kind == 2) r = box.append_send_out(order(op.sale), kom::capture_ref::of_record(capture_seq[op.sale]), k);
    else r = box.append_refund(order(op.sale), returned(op.sale), k, kom::capture_ref::of_record(capture_seq[op.sale]));
    if (r.ok()) {
      committed[op.sale][op.kind] = true;
      if (op.kind == 0) capture_seq[op.sale] = *r;
    }
    return !mem.dead;
  };

  std::size_t i = 0;
  {
    auto box = std::make_unique<power_outbox>(mem.storage(), wall_of(t.time));
    if (box->open().ok() && !mem.dead) {
      for (; i < schedule.size(); ++i)
        if (!step(*box, schedule[i], false)) break;
    }
  }
  if (units_total) *units_total = mem.units;
  mem.reboot();
  auto box = std::make_unique<power_outbox>(mem.storage(), wall_of(t.time));
  if (!box->open().ok()) return "reopen failed";
  if (torn && box->torn_tail()) ++*torn;
  // Every committed operation is still held, or was already applied by Klarna.
  for (int sale = 0; sale < 50; ++sale) {
    for (int kind = 0; kind < 4; ++kind) {
      if (!committed[sale][kind] || box->find_key(key(sale, kind)) != 0) continue;
      const klarna_model::cap* c = t.klarna.capture_of(ref(sale));
      const bool applied = kind == 3 ? t.klarna.refunds_with(return_of(sale)) == 1
                                     : c != nullptr && (kind == 0 || (kind == 1 ? c->shipping : c->send_outs) == 1);
      if (!applied) return "lost committed operation " + key(sale, kind);
    }
  }
  for (std::size_t j = i; j < schedule.size(); ++j)
    if (!step(*box, schedule[j], true)) return "storage failed after reboot";
  const kom::outbox_drain d = t.drain(*box);
  if (d.stopped || d.pending != 0 || d.failed != 0) return "final drain did not finish";
  if (generation) *generation = box->generation();
  for (int sale = 0; sale < 50; ++sale) {
    if (t.klarna.captures_with(ref(sale)) != 1)
      return "sale " + std::to_string(sale) + " captured " + std::to_string(t.klarna.captures_with(ref(sale))) + " times";
  }
  for (int sale = 0; sale < 50; ++sale) {
    const int want = sale % 3 == 0 ? 1 : 0;
    if (t.klarna.refunds_with(return_of(sale)) != want)
      return "sale " + std::to_string(sale) + " refunded " + std::to_string(t.klarna.refunds_with(return_of(sale))) +
             " times";
  }
  for (const klarna_model::cap& c : t.klarna.captures) {
    const int sale = std::atoi(c.reference.c_str() + 5);
    const int want = sale % 2 == 0 ? 1 : 0;
    if (c.shipping != want || c.send_outs != want)
      return "sale " + std::to_string(sale) + ": shipping " + std::to_string(c.shipping) + ", send-outs " +
             std::to_string(c.send_outs);
  }
  return {};
}

}  // namespace

TEST_CASE("outbox: a power cut at every write point loses no committed operation and captures once") {
  const auto started = std::chrono::steady_clock::now();
  // A run without a cut: where the writes are.
  mem_storage dry(256, 12);  // two areas of 1.5 KiB: compaction happens many times
  dry.keep_writes = true;
  std::size_t total = 0;
  std::uint32_t generation = 0;
  REQUIRE(power_run(dry, SIZE_MAX, &total, nullptr, &generation) == "");
  CHECK(generation > 5);  // the schedule compacts several times
  // Cut points: before every write and erase, one byte into every write, in its middle, and
  // one byte before its end. KOM_POWER_CUT_EVERY_BYTE=1: at every unit (every byte of every
  // write, every erase) instead.
  const char* every = std::getenv("KOM_POWER_CUT_EVERY_BYTE");
  const bool every_byte = every != nullptr && std::string(every) == "1";
  std::set<std::size_t> cuts;
  for (const auto& w : dry.writes) {
    cuts.insert(w.first);
    if (w.second > 1) {
      cuts.insert(w.first + 1);
      cuts.insert(w.first + w.second / 2);
      cuts.insert(w.first + w.second - 1);
    }
    if (every_byte)
      for (std::size_t u = 0; u < w.second; ++u) cuts.insert(w.first + u);
  }
  cuts.insert(total);
  std::size_t failures = 0;
  int torn = 0;
  for (std::size_t cut : cuts) {
    mem_storage mem(256, 12);
    const std::string why = power_run(mem, cut, nullptr, &torn);
    if (!why.empty()) {
      ++failures;
      if (failures <= 5) FAIL_CHECK("cut at unit " << cut << ": " << why);
    }
  }
  CHECK(failures == 0);
  CHECK(torn > 0);  // reboots found torn records
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  MESSAGE("power-loss: " << cuts.size() << " cut points over " << dry.writes.size() << " writes and erases ("
                         << total << " units, " << generation << " area generations), " << torn
                         << " reboots with a torn record, " << seconds << " s");
}

TEST_CASE("outbox: its own errors have codes of their own") {
  mem_storage mem(512, 4);
  clocks time;
  small_outbox closed(mem.storage(), wall_of(time));
  CHECK(closed.append_send_out("o-1", kom::capture_ref::id("c-1"), "k").error().code() == kom::errc::outbox_not_open);
  CHECK(closed.compact().code() == kom::errc::outbox_not_open);
  rig t;
  CHECK(t.drain(closed).error.code() == kom::errc::outbox_not_open);

  kom::block_storage no_erase = mem.storage();
  no_erase.erase = nullptr;
  CHECK(small_outbox(no_erase, wall_of(time)).open().code() == kom::errc::invalid_storage);
  mem_storage one_block(512, 1);
  CHECK(small_outbox(one_block.storage(), wall_of(time)).open().code() == kom::errc::invalid_storage);
  CHECK(small_outbox(mem.storage(), kom::wall_clock{}).open().code() == kom::errc::invalid_storage);

  small_outbox box(mem.storage(), wall_of(time));
  REQUIRE(box.open().ok());
  kom::outbox_item item;
  const kom::error missing = box.read(77, item);
  CHECK(missing.code() == kom::errc::no_such_operation);
  CHECK(missing.detail() == 77);
  CHECK(box.forget(77).code() == kom::errc::no_such_operation);
  char text[96];
  CHECK(missing.describe(text) == std::string_view("no such operation in the outbox"));
}

// ---- the format of kom 0.1.0 ------------------------------------------------------------------

namespace {

std::vector<unsigned char> v1_fixture() {
  const std::string path = std::string(KOM_TEST_FIXTURES) + "/outbox/v1-four-sales.bin";
  FILE* f = std::fopen(path.c_str(), "rb");
  REQUIRE_MESSAGE(f != nullptr, "missing fixture " << path);
  std::vector<unsigned char> bytes(4096);
  const std::size_t n = std::fread(bytes.data(), 1, bytes.size(), f);
  std::fclose(f);
  REQUIRE(n == 4096);
  return bytes;
}

using fixture_outbox = kom::basic_outbox<kom::capacity::operations<16>, kom::capacity::record_bytes<1024>, kom::capacity::lines<4>, kom::capacity::shipping_entries<2>>;

// What tests/fixtures/outbox/README.md says the image holds, read back whole.
void check_v1_contents(fixture_outbox& box) {
  REQUIRE(box.size() == 5);
  kom::outbox_item a, b, c, d, e;
  REQUIRE(box.read(box.seq_at(0), a).ok());
  CHECK(a.op == kom::outbox_op::capture);
  CHECK(a.state == kom::outbox_state::done);
  CHECK(a.order_id == "o-1");
  CHECK(a.idempotency_key == "key-1");
  CHECK(a.capture_id == "cap-1");
  CHECK(a.capture.captured_amount == 2200);
  CHECK(a.capture.reference == "sale-1");
  CHECK(a.capture.description == "Groceries");
  CHECK(a.capture.shipping_delay == 2);
  REQUIRE(a.capture.order_lines.size() == 2);
  const kom::order_line& l0 = a.capture.order_lines[0];
  CHECK(l0.type == kom::order_line_type::physical);
  CHECK(l0.reference == "SKU-1");
  CHECK(l0.name == "Tomatoes");
  CHECK(l0.quantity == 3);
  CHECK(l0.quantity_unit == "kg");
  CHECK(l0.unit_price == 600);
  CHECK(l0.tax_rate == 2500);
  CHECK(l0.total_amount == 1700);
  CHECK(l0.total_discount_amount == 100);
  CHECK(l0.total_tax_amount == 340);
  REQUIRE(l0.product_identifiers != nullptr);
  CHECK(l0.product_identifiers->brand == "Acme");
  CHECK(l0.product_identifiers->color == "red");
  CHECK(l0.subscription == nullptr);
  CHECK(a.capture.order_lines[1].type == kom::order_line_type::shipping_fee);
  CHECK(!a.capture.order_lines[1].tax_rate);
  REQUIRE(a.capture.shipping_info.size() == 1);
  CHECK(a.capture.shipping_info[0].shipping_company == "DHL");
  CHECK(a.capture.shipping_info[0].shipping_method == kom::shipping_method::pick_up_store);
  CHECK(a.capture.shipping_info[0].tracking_number == "TRK-1");
  CHECK(kom::validate(a.capture).ok());

  REQUIRE(box.read(box.seq_at(1), b).ok());
  CHECK(b.op == kom::outbox_op::shipping_info);
  CHECK(b.state == kom::outbox_state::done);
  REQUIRE(b.shipping.shipping_info.size() == 1);
  CHECK(b.shipping.shipping_info[0].shipping_method == kom::shipping_method::home);
  CHECK(b.shipping.shipping_info[0].return_tracking_uri == "https://t.example/r2");

  REQUIRE(box.read(box.seq_at(2), c).ok());
  CHECK(c.state == kom::outbox_state::failed);
  CHECK(c.failure.status == 403);
  CHECK(c.failure.error_code == "CAPTURE_NOT_ALLOWED");
  REQUIRE(c.capture.order_lines.size() == 1);
  CHECK(c.capture.order_lines[0].type == kom::order_line_type::gift_card);
  REQUIRE(c.capture.order_lines[0].subscription != nullptr);
  CHECK(c.capture.order_lines[0].subscription->interval == kom::subscription_interval::month);
  CHECK(c.capture.order_lines[0].subscription->name == "Flowers");

  REQUIRE(box.read(box.seq_at(3), d).ok());
  CHECK(d.state == kom::outbox_state::pending);
  CHECK(d.first_attempt_ms != 0);
  CHECK(d.capture.order_lines[0].type == kom::order_line_type::digital);
  CHECK(d.capture.shipping_info[0].shipping_method == kom::shipping_method::dhl_packstation);

  REQUIRE(box.read(box.seq_at(4), e).ok());
  CHECK(e.op == kom::outbox_op::send_out);
  CHECK(e.state == kom::outbox_state::pending);
  CHECK(e.capture_of == box.seq_at(3));
  CHECK(e.first_attempt_ms == 0);
}

}  // namespace

TEST_CASE("outbox: an image written by kom 0.1.0 (format 1) is migrated whole, and drains") {
  mem_storage mem(1024, 4);
  mem.data = v1_fixture();
  rig t;
  t.time.wall = 1'780'000'010'000ull;  // seconds after the image was written
  {
    fixture_outbox box(mem.storage(), wall_of(t.time));
    REQUIRE(box.open().ok());
    CHECK(box.format() == 3);
    CHECK(box.generation() == 2);  // the migration is a compaction into the other area
    check_v1_contents(box);
  }
  // The old area is no longer in charge; reopening reads format 3 as written.
  fixture_outbox box(mem.storage(), wall_of(t.time));
  REQUIRE(box.open().ok());
  CHECK(box.format() == 3);
  CHECK(box.generation() == 2);
  check_v1_contents(box);
  // The pending capture still carries its first key: Klarna (here a model that remembers
  // nothing of the 0.1.0 run) gets the same key, the send-out follows with the new id.
  const kom::outbox_drain d = t.drain(box);
  CHECK(!d.stopped);
  CHECK(d.done == 2);
  CHECK(t.klarna.captures_with("sale-3") == 1);
  REQUIRE(t.klarna.log.size() >= 2);
  CHECK(t.klarna.log[0] == "capture o-3 key-4");
}

TEST_CASE("outbox: a power cut at any write of the migration loses nothing") {
  const std::vector<unsigned char> image = v1_fixture();
  mem_storage probe(1024, 4);
  probe.data = image;
  clocks time;
  time.wall = 1'780'000'010'000ull;
  {
    fixture_outbox box(probe.storage(), wall_of(time));
    REQUIRE(box.open().ok());
  }
  const std::size_t units = probe.units;
  REQUIRE(units > 10);
  MESSAGE("migration: " << units << " cut points (every byte written and every erase)");
  for (std::size_t cut = 0; cut < units; ++cut) {
    CAPTURE(cut);
    mem_storage mem(1024, 4);
    mem.data = image;
    mem.budget = cut;
    {
      fixture_outbox box(mem.storage(), wall_of(time));
      CHECK(!box.open().ok());  // the power went during the migration
    }
    mem.reboot();
    fixture_outbox box(mem.storage(), wall_of(time));
    REQUIRE(box.open().ok());
    CHECK(box.format() == 3);
    check_v1_contents(box);
  }
}

namespace {
// Sets the format version of the area at the start of `mem` and makes its header's CRC right.
void set_area_format(mem_storage& mem, unsigned char format) {
  mem.data[4] = format;
  const std::uint32_t crc = kom::crc32_update(0, mem.data.data(), 16);
  for (int i = 0; i < 4; ++i) mem.data[16 + static_cast<std::size_t>(i)] = static_cast<unsigned char>(crc >> (8 * i));
}
}  // namespace

// Format 2 (the kom before refunds) stored captures, shipping info and send-outs exactly as
// format 3 does; format 3 exists so that such a kom refuses an outbox holding refunds instead
// of dropping them. An area of format 2 is carried over whole.
TEST_CASE("outbox: an area of format 2 is carried over to format 3 whole, and drains") {
  mem_storage mem(512, 8);
  clocks time;
  {
    small_outbox box(mem.storage(), wall_of(time));
    REQUIRE(box.open().ok());
    const auto c = box.append_capture("o-1", simple_capture(100, "sale-1"), "k1");
    REQUIRE(c.ok());
    const one_shipping ship("T-1");
    REQUIRE(box.append_shipping_info("o-1", kom::capture_ref::of_record(*c), ship.update, "k2").ok());
    REQUIRE(box.append_send_out("o-1", kom::capture_ref::of_record(*c), "k3").ok());
  }
  set_area_format(mem, 2);
  small_outbox box(mem.storage(), wall_of(time));
  REQUIRE(box.open().ok());
  CHECK(box.format() == 3);
  REQUIRE(box.size() == 3);
  kom::outbox_item item;
  REQUIRE(box.read(box.seq_at(0), item).ok());
  CHECK(item.capture.reference == "sale-1");
  CHECK(item.idempotency_key == "k1");
  REQUIRE(box.read(box.seq_at(1), item).ok());
  CHECK(item.capture_of == box.seq_at(0));
  REQUIRE(item.shipping.shipping_info.size() == 1);
  rig t;
  CHECK(t.drain(box).done == 3);
  CHECK(t.klarna.captures_with("sale-1") == 1);
  // Reopened, it stays in format 3, whole.
  small_outbox again(mem.storage(), wall_of(time));
  REQUIRE(again.open().ok());
  CHECK(again.format() == 3);
}

TEST_CASE("outbox: an area of a newer format is refused and left as it is") {
  mem_storage mem(512, 4);
  clocks time;
  {
    small_outbox box(mem.storage(), wall_of(time));
    REQUIRE(box.open().ok());
    REQUIRE(box.append_capture("o-1", simple_capture(100, "sale-1"), "k1").ok());
  }
  // Format 4 in the header, its CRC made right: what a later kom would write.
  set_area_format(mem, 4);
  const std::vector<unsigned char> before = mem.data;
  small_outbox box(mem.storage(), wall_of(time));
  const kom::error e = box.open();
  CHECK(e.code() == kom::errc::unsupported_format);
  CHECK(e.detail() == 4);
  CHECK(mem.data == before);
  CHECK(box.append_capture("o-1", simple_capture(100, "sale-2"), "k2").error().code() == kom::errc::outbox_not_open);
  CHECK(mem.data == before);
}

// ---- the drain policy over a sender of the test's own ----------------------------------------

namespace {

// A Klarna in memory behind kom::outbox_sender, without HTTP: each call is logged and
// answered from a script (an outcome per call, in order; `done` when the script runs out).
struct scripted_sender {
  std::vector<kom::outcome> script;
  std::vector<std::string> calls;
  std::vector<std::string> keys;
  std::vector<std::pair<std::string, std::int64_t>> captures;  // what "Klarna" holds: reference, amount
  struct listed_refund {
    std::string order, reference;  // an empty reference: Klarna's 2020 Refund, which has none
    std::int64_t amount = 0;
  };
  std::vector<listed_refund> refunds;
  kom::order_status status = kom::order_status::authorized;    // what a cancel or release did
  int order_status_code = 200;                                 // the order read's answer
  bool refunds_without_reference = false;                      // list refunds as the 2020 API does
  int next_id = 1;
  int fresh_keys = 0;

  kom::outcome next() {
    if (script.empty()) return kom::outcome::done;
    const kom::outcome o = script.front();
    script.erase(script.begin());
    return o;
  }
  template <class T>
  void shape(kom::reply<T>& r, kom::outcome o) {
    r.sent = true;
    r.status = 204;
    switch (o) {
      case kom::outcome::done: break;
      case kom::outcome::refused:
        r.status = 403;
        r.error = kom::error(kom::errc::http_error, 403);
        r.klarna.error_code_text = "NOT_ALLOWED";
        break;
      case kom::outcome::retry_later:
        r.status = 503;
        r.error = kom::error(kom::errc::http_error, 503);
        break;
      case kom::outcome::applied_id_unknown:
        r.status = 201;
        r.error = kom::error(kom::errc::missing_capture_id);
        break;
      case kom::outcome::unknown: break;
    }
  }

  kom::outbox_sender sender() {
    kom::outbox_sender s;
    s.context = this;
    s.capture_fn = [](void* c, std::string_view order, const kom::capture_request& req, const kom::post_options& p) {
      auto* self = static_cast<scripted_sender*>(c);
      self->calls.push_back("capture " + std::string(order));
      self->keys.emplace_back(p.idempotency_key);
      kom::reply<kom::capture_created> r;
      const kom::outcome o = self->next();
      self->shape(r, o);
      if (o == kom::outcome::done || o == kom::outcome::applied_id_unknown) {
        self->captures.emplace_back(std::string(req.reference), req.captured_amount);
        if (o == kom::outcome::done) {
          static thread_local std::string id;
          id = "cap-" + std::to_string(self->next_id++);
          r.value.capture_id = id;
          r.status = 201;
        }
      }
      return r;
    };
    s.shipping_info_fn = [](void* c, std::string_view, std::string_view id, const kom::shipping_info_update&,
                            const kom::post_options&) {
      auto* self = static_cast<scripted_sender*>(c);
      self->calls.push_back("shipping " + std::string(id));
      kom::reply<kom::no_content> r;
      self->shape(r, self->next());
      return r;
    };
    s.send_out_fn = [](void* c, std::string_view, std::string_view id, const kom::post_options&) {
      auto* self = static_cast<scripted_sender*>(c);
      self->calls.push_back("send-out " + std::string(id));
      kom::reply<kom::no_content> r;
      self->shape(r, self->next());
      return r;
    };
    s.list_captures_fn = [](void* c, std::string_view order, kom::capture* items, std::size_t capacity,
                            kom::capture_storage_ref, const kom::read_options&) {
      auto* self = static_cast<scripted_sender*>(c);
      self->calls.push_back("list " + std::string(order));
      kom::reply<kom::capture_list> r;
      r.sent = true;
      r.status = 200;
      std::size_t n = 0;
      static thread_local std::vector<std::string> ids;
      ids.clear();
      for (std::size_t i = 0; i < self->captures.size() && n < capacity; ++i) ids.push_back("listed-" + std::to_string(i + 1));
      for (std::size_t i = 0; i < self->captures.size() && n < capacity; ++i, ++n) {
        items[n] = kom::capture{};
        items[n].capture_id = ids[i];
        items[n].reference = self->captures[i].first;
        items[n].captured_amount = self->captures[i].second;
      }
      r.value.captures = {items, n};
      return r;
    };
    s.new_key_fn = [](void* c) -> kom::result<kom::uuid_text> {
      auto* self = static_cast<scripted_sender*>(c);
      ++self->fresh_keys;
      kom::uuid u{};
      u.bytes[0] = static_cast<unsigned char>(self->fresh_keys);
      return kom::uuid_text(u);
    };
    s.refund_fn = [](void* c, std::string_view order, const kom::refund_request& req, const kom::post_options& p) {
      auto* self = static_cast<scripted_sender*>(c);
      self->calls.push_back("refund " + std::string(order));
      self->keys.emplace_back(p.idempotency_key);
      kom::reply<kom::refund_created> r;
      const kom::outcome o = self->next();
      self->shape(r, o);
      if (o == kom::outcome::done || o == kom::outcome::applied_id_unknown) {
        self->refunds.push_back({std::string(order), self->refunds_without_reference ? std::string() : std::string(req.reference),
                                 req.refunded_amount});
        r.status = 201;
        if (o == kom::outcome::applied_id_unknown) r.error = kom::error(kom::errc::missing_refund_id);
        if (o == kom::outcome::done) {
          static thread_local std::string id;
          id = "ref-" + std::to_string(self->next_id++);
          r.value.refund_id = id;
        }
      }
      return r;
    };
    s.cancel_fn = [](void* c, std::string_view order, const kom::post_options& p) {
      return static_cast<scripted_sender*>(c)->order_call("cancel ", order, kom::order_status::cancelled, p);
    };
    s.release_fn = [](void* c, std::string_view order, const kom::post_options& p) {
      return static_cast<scripted_sender*>(c)->order_call("release ", order, kom::order_status::closed, p);
    };
    s.extend_fn = [](void* c, std::string_view order, const kom::post_options& p) {
      return static_cast<scripted_sender*>(c)->order_call("extend ", order, kom::order_status::unset, p);
    };
    s.references_fn = [](void* c, std::string_view order, const kom::merchant_references& m, const kom::post_options& p) {
      return static_cast<scripted_sender*>(c)->order_call("references " + std::string(m.merchant_reference1) + " ",
                                                          order, kom::order_status::unset, p);
    };
    s.authorization_fn = [](void* c, std::string_view order, const kom::authorization_update& u,
                            const kom::post_options& p) {
      return static_cast<scripted_sender*>(c)->order_call("authorization " + std::to_string(u.order_amount) + " ",
                                                          order, kom::order_status::unset, p);
    };
    // Reads the order as a strict reader would: more refunds than the storage holds is
    // json_too_many_items, never a cut list.
    s.get_order_fn = [](void* c, std::string_view order, kom::order_storage_ref st, const kom::read_options& options) {
      auto* self = static_cast<scripted_sender*>(c);
      self->calls.push_back("order " + std::string(order));
      kom::reply<kom::order> r;
      r.sent = true;
      r.status = self->order_status_code;
      if (r.status != 200) {
        r.error = kom::error(kom::errc::http_error, r.status);
        return r;
      }
      r.value.status = self->status;
      static thread_local std::vector<std::string> ids;
      ids.clear();
      for (std::size_t i = 0; i < self->refunds.size(); ++i) ids.push_back("found-" + std::to_string(i + 1));
      std::size_t n = 0;
      for (std::size_t i = 0; i < self->refunds.size() && st.refunds != nullptr; ++i) {  // null: not asked for
        if (self->refunds[i].order != order) continue;
        if (n == st.refunds_capacity) {
          if (!options.allow_truncation) {
            r.error = kom::error(kom::errc::json_too_many_items, static_cast<std::int64_t>(st.refunds_capacity));
            return r;
          }
          r.value.truncated = true;
          break;
        }
        st.refunds[n] = kom::order_refund{};
        st.refunds[n].refund_id = ids[i];
        st.refunds[n].reference = self->refunds[i].reference;
        st.refunds[n].refunded_amount = self->refunds[i].amount;
        ++n;
      }
      r.value.refunds = {st.refunds, n};
      return r;
    };
    return s;
  }

  // A 204 call on the whole order; `applied` is the status it leaves when done.
  kom::reply<kom::no_content> order_call(const std::string& what, std::string_view order, kom::order_status applied,
                                         const kom::post_options& post) {
    calls.push_back(what + std::string(order));
    keys.emplace_back(post.idempotency_key);
    kom::reply<kom::no_content> r;
    const kom::outcome o = next();
    shape(r, o);
    if (o == kom::outcome::done && applied != kom::order_status::unset) status = applied;
    return r;
  }
};

}  // namespace

TEST_CASE("outbox: the drain policy over a sender of the test's own") {
  mem_storage mem(512, 8);
  clocks time;
  small_outbox box(mem.storage(), wall_of(time));
  REQUIRE(box.open().ok());
  const auto c1 = box.append_capture("o-1", simple_capture(100, "sale-1"), "k1");
  const one_shipping ship("T-1");
  REQUIRE(box.append_shipping_info("o-1", kom::capture_ref::of_record(*c1), ship.update, "k2").ok());
  REQUIRE(box.append_capture("o-2", simple_capture(200, "sale-2"), "k3").ok());
  REQUIRE(box.append_send_out("o-9", kom::capture_ref::id("c-9"), "k4").ok());
  kom::capture items[4];
  kom::capture_storage<> listing;

  scripted_sender klarna;
  SUBCASE("done, then a refusal is kept for the back office, the rest goes on") {
    klarna.script = {kom::outcome::done, kom::outcome::done, kom::outcome::refused, kom::outcome::done};
    const kom::outbox_drain d = box.drain(klarna.sender(), items, listing);
    CHECK(!d.stopped);
    CHECK(d.done == 3);
    CHECK(d.failed == 1);
    CHECK(klarna.calls == std::vector<std::string>{"capture o-1", "shipping cap-1", "capture o-2", "send-out c-9"});
    CHECK(klarna.keys == std::vector<std::string>{"k1", "k3"});
  }
  SUBCASE("retry_later stops the drain; the next drain sends the same key") {
    klarna.script = {kom::outcome::retry_later};
    const kom::outbox_drain d = box.drain(klarna.sender(), items, listing);
    CHECK(d.stopped);
    CHECK(d.pending == 4);
    CHECK(box.drain(klarna.sender(), items, listing).done == 4);
    CHECK(klarna.keys.at(0) == "k1");
    CHECK(klarna.keys.at(1) == "k1");
    CHECK(klarna.fresh_keys == 0);
  }
  SUBCASE("a capture applied without a readable id is found by listing, never sent again") {
    klarna.script = {kom::outcome::applied_id_unknown};
    const kom::outbox_drain d = box.drain(klarna.sender(), items, listing);
    CHECK(!d.stopped);
    CHECK(klarna.calls.at(0) == "capture o-1");
    CHECK(klarna.calls.at(1) == "list o-1");
    CHECK(klarna.calls.at(2) == "shipping listed-1");  // the id the listing showed
    CHECK(klarna.captures.size() == 2);                // o-1 once, o-2 once
  }
  SUBCASE("after 24 hours a capture is looked up first, and resent with a fresh key only when absent") {
    klarna.script = {kom::outcome::retry_later};
    CHECK(box.drain(klarna.sender(), items, listing).stopped);
    time.wall += 25ull * 60 * 60 * 1000;
    CHECK(box.drain(klarna.sender(), items, listing).done == 4);
    CHECK(klarna.calls.at(1) == "list o-1");
    CHECK(klarna.calls.at(2) == "capture o-1");
    CHECK(klarna.fresh_keys == 1);
    CHECK(klarna.keys.at(1) != "k1");
  }
  SUBCASE("a sender without every function is refused before anything is sent") {
    kom::outbox_sender partial = klarna.sender();
    partial.list_captures_fn = nullptr;
    const kom::outbox_drain d = box.drain(partial, items, listing);
    CHECK(d.stopped);
    CHECK(d.error.code() == kom::errc::invalid_client_setup);
    CHECK(klarna.calls.empty());
  }
}

namespace {
kom::refund_request simple_refund(std::int64_t amount, std::string_view reference) {
  kom::refund_request r;
  r.refunded_amount = amount;
  r.reference = reference;
  return r;
}
}  // namespace

TEST_CASE("outbox: refunds, cancels, releases, extensions and reference updates are queued and drained in order") {
  mem_storage mem(512, 8);
  clocks time;
  small_outbox box(mem.storage(), wall_of(time));
  REQUIRE(box.open().ok());
  kom::capture items[4];
  kom::capture_storage<> listing;
  scripted_sender klarna;

  SUBCASE("each kind is stored whole, read back, and sent by its own call, in order") {
    const auto c1 = box.append_capture("o-1", simple_capture(100, "sale-1"), "k1");
    REQUIRE(c1.ok());
    const kom_test::seed_refund returned;
    const auto r1 = box.append_refund("o-1", returned.request, "k2", kom::capture_ref::of_record(*c1));
    REQUIRE(r1.ok());
    const kom::merchant_references refs{"R-1", ""};
    REQUIRE(box.append_merchant_references("o-1", refs, "k3").ok());
    REQUIRE(box.append_cancel("o-2", "k4").ok());
    REQUIRE(box.append_release_remaining_authorization("o-1", "k5").ok());
    REQUIRE(box.append_extend_authorization_time("o-3", "k6").ok());
    const kom_test::seed_authorization_update update;
    REQUIRE(box.append_authorization_update("o-3", update.request, "k7").ok());

    kom::outbox_item item;
    REQUIRE(box.read(*r1, item).ok());
    CHECK(item.op == kom::outbox_op::refund);
    CHECK(item.capture_of == *c1);
    CHECK(item.refund.refunded_amount == 1200);
    CHECK(item.refund.reference == "RET-0001");
    CHECK(item.refund.description == "Returned at the till");
    REQUIRE(item.refund.order_lines.size() == 1);
    CHECK(item.refund.order_lines[0].quantity == 2);
    REQUIRE(box.read(box.seq_at(6), item).ok());
    CHECK(item.op == kom::outbox_op::authorization_update);
    CHECK(item.authorization.order_amount == 4000);
    REQUIRE(item.authorization.order_lines.size() == 1);

    // A reboot replays every kind.
    small_outbox again(mem.storage(), wall_of(time));
    REQUIRE(again.open().ok());
    CHECK(again.pending() == 7);
    const kom::outbox_drain d = again.drain(klarna.sender(), items, listing);
    CHECK(!d.stopped);
    CHECK(d.done == 7);
    CHECK(klarna.calls == std::vector<std::string>{"capture o-1", "refund o-1", "references R-1 o-1", "cancel o-2",
                                                   "release o-1", "extend o-3", "authorization 4000 o-3"});
    CHECK(klarna.keys == std::vector<std::string>{"k1", "k2", "k3", "k4", "k5", "k6", "k7"});
    REQUIRE(again.read(*r1, item).ok());
    CHECK(item.state == kom::outbox_state::done);
    CHECK(item.refund_id == "ref-2");
  }
  SUBCASE("a refund of a capture that failed fails without being sent") {
    const auto c1 = box.append_capture("o-1", simple_capture(100, "sale-1"), "k1");
    REQUIRE(box.append_refund("o-1", simple_refund(50, "ret-1"), "k2", kom::capture_ref::of_record(*c1)).ok());
    klarna.script = {kom::outcome::refused};
    const kom::outbox_drain d = box.drain(klarna.sender(), items, listing);
    CHECK(d.failed == 2);
    CHECK(klarna.calls == std::vector<std::string>{"capture o-1"});
    CHECK(klarna.refunds.empty());
  }
  SUBCASE("a refund needs a reference of its own; bad ones change nothing") {
    CHECK(box.append_refund("o-1", simple_refund(50, ""), "k1").error().code() == kom::errc::required);
    CHECK(box.append_refund("o-1", simple_refund(0, "ret-1"), "k1").error().code() == kom::errc::below_minimum);
    REQUIRE(box.append_refund("o-1", simple_refund(50, "ret-1"), "k1").ok());
    const kom::error dup = box.append_refund("o-1", simple_refund(60, "ret-1"), "k2").error();
    CHECK(dup.code() == kom::errc::duplicate_reference);
    CHECK(dup.path() == "reference");
    CHECK(box.append_refund("o-2", simple_refund(60, "ret-1"), "k2").ok());  // another order
    CHECK(box.append_capture("o-1", simple_capture(60, "ret-1"), "k3").ok());  // a capture may share it
    CHECK(box.append_merchant_references("o-1", {}, "k4").error().code() == kom::errc::required);
    kom::authorization_update bad;
    bad.order_amount = -1;
    CHECK(box.append_authorization_update("o-1", bad, "k4").error().code() == kom::errc::below_minimum);
    CHECK(box.size() == 3);
  }
  SUBCASE("a refund applied without a readable id is found in the order, never sent again") {
    REQUIRE(box.append_refund("o-1", simple_refund(50, "ret-1"), "k1").ok());
    REQUIRE(box.append_refund("o-1", simple_refund(70, "ret-2"), "k2").ok());
    klarna.script = {kom::outcome::applied_id_unknown};
    const kom::outbox_drain d = box.drain(klarna.sender(), items, listing);
    CHECK(!d.stopped);
    CHECK(d.done == 2);
    CHECK(klarna.calls == std::vector<std::string>{"refund o-1", "order o-1", "refund o-1"});
    CHECK(klarna.refunds.size() == 2);
    kom::outbox_item item;
    REQUIRE(box.read(box.seq_at(0), item).ok());
    CHECK(item.refund_id == "found-1");
  }
  SUBCASE("after 24 hours a refund is looked up in the order: found is done, absent is resent with a new key") {
    REQUIRE(box.append_refund("o-1", simple_refund(50, "ret-1"), "k1").ok());
    REQUIRE(box.append_refund("o-1", simple_refund(70, "ret-2"), "k2").ok());
    klarna.script = {kom::outcome::retry_later};
    CHECK(box.drain(klarna.sender(), items, listing).stopped);
    klarna.refunds.push_back({"o-1", "ret-1", 50});  // the lost answer's refund did happen
    time.wall += 25ull * 60 * 60 * 1000;
    // Only the first was ever attempted: the second is sent with its own key, unlooked.
    const kom::outbox_drain d = box.drain(klarna.sender(), items, listing);
    CHECK(d.done == 2);
    CHECK(klarna.calls == std::vector<std::string>{"refund o-1", "order o-1", "refund o-1"});
    CHECK(klarna.keys == std::vector<std::string>{"k1", "k2"});
    CHECK(klarna.fresh_keys == 0);
    CHECK(klarna.refunds.size() == 2);
  }
  SUBCASE("after 24 hours an absent refund is resent once, with a fresh stored key") {
    REQUIRE(box.append_refund("o-1", simple_refund(50, "ret-1"), "k1").ok());
    klarna.script = {kom::outcome::retry_later};
    CHECK(box.drain(klarna.sender(), items, listing).stopped);
    time.wall += 25ull * 60 * 60 * 1000;
    CHECK(box.drain(klarna.sender(), items, listing).done == 1);
    CHECK(klarna.calls == std::vector<std::string>{"refund o-1", "order o-1", "refund o-1"});
    CHECK(klarna.fresh_keys == 1);
    CHECK(klarna.keys.at(1) != "k1");
    CHECK(klarna.refunds.size() == 1);
  }
  SUBCASE("after 24 hours a refund listing that is cut stops the drain rather than risk a second refund") {
    REQUIRE(box.append_refund("o-1", simple_refund(50, "ret-1"), "k1").ok());
    klarna.script = {kom::outcome::retry_later};
    CHECK(box.drain(klarna.sender(), items, listing).stopped);
    for (int i = 0; i < 20; ++i) klarna.refunds.push_back({"o-1", "other-" + std::to_string(i), 1});
    time.wall += 25ull * 60 * 60 * 1000;
    const kom::outbox_drain d = box.drain(klarna.sender(), items, listing);
    CHECK(d.stopped);
    CHECK(d.error.code() == kom::errc::json_too_many_items);
    CHECK(d.pending == 1);
  }
  SUBCASE("after 24 hours a cancel or release already shown in the order's status is done, not sent") {
    REQUIRE(box.append_cancel("o-1", "k1").ok());
    REQUIRE(box.append_release_remaining_authorization("o-2", "k2").ok());
    klarna.script = {kom::outcome::retry_later};
    CHECK(box.drain(klarna.sender(), items, listing).stopped);
    klarna.status = kom::order_status::cancelled;  // the lost answer's cancel did happen
    time.wall += 25ull * 60 * 60 * 1000;
    const kom::outbox_drain d = box.drain(klarna.sender(), items, listing);
    CHECK(d.done == 2);
    // The release was never attempted: sent with its key, no look.
    CHECK(klarna.calls == std::vector<std::string>{"cancel o-1", "order o-1", "release o-2"});
    CHECK(klarna.fresh_keys == 0);
  }
  SUBCASE("after 24 hours a release shown as CLOSED is done; a cancel not shown is sent again with a new key") {
    REQUIRE(box.append_release_remaining_authorization("o-2", "k1").ok());
    klarna.script = {kom::outcome::retry_later};
    CHECK(box.drain(klarna.sender(), items, listing).stopped);
    klarna.status = kom::order_status::closed;  // the lost answer's release did happen
    time.wall += 25ull * 60 * 60 * 1000;
    CHECK(box.drain(klarna.sender(), items, listing).done == 1);
    CHECK(klarna.calls == std::vector<std::string>{"release o-2", "order o-2"});

    REQUIRE(box.append_cancel("o-3", "k2").ok());
    klarna.script = {kom::outcome::retry_later};
    klarna.status = kom::order_status::authorized;
    CHECK(box.drain(klarna.sender(), items, listing).stopped);
    time.wall += 25ull * 60 * 60 * 1000;
    CHECK(box.drain(klarna.sender(), items, listing).done == 1);
    CHECK(klarna.calls == std::vector<std::string>{"release o-2", "order o-2", "cancel o-3", "order o-3", "cancel o-3"});
    CHECK(klarna.fresh_keys == 1);
    CHECK(klarna.keys.back() != "k2");
    CHECK(klarna.status == kom::order_status::cancelled);
  }
  SUBCASE("a release after a failed capture of its order fails unsent: the order stays open for that capture") {
    REQUIRE(box.append_capture("o-1", simple_capture(100, "sale-1"), "k1").ok());
    REQUIRE(box.append_release_remaining_authorization("o-1", "k2").ok());
    REQUIRE(box.append_release_remaining_authorization("o-2", "k3").ok());  // another order's goes on
    klarna.script = {kom::outcome::refused};
    const kom::outbox_drain d = box.drain(klarna.sender(), items, listing);
    CHECK(d.failed == 2);
    CHECK(d.done == 1);
    CHECK(klarna.calls == std::vector<std::string>{"capture o-1", "release o-2"});
    kom::outbox_item item;
    REQUIRE(box.read(box.seq_at(1), item).ok());
    CHECK(item.state == kom::outbox_state::failed);
    CHECK(item.failure.error_code == "CAPTURE_FAILED");
    CHECK(item.failure.code == kom::errc::unknown_capture_record);
    // Once the back office forgets the failed capture, a release queued again is sent.
    REQUIRE(box.forget(box.seq_at(0)).ok());
    REQUIRE(box.append_release_remaining_authorization("o-1", "k4").ok());
    CHECK(box.drain(klarna.sender(), items, listing).done == 1);
  }
  SUBCASE("a refund Klarna lists without references (its 2020 form) is never sent again: failed, to settle by hand") {
    REQUIRE(box.append_refund("o-1", simple_refund(50, "ret-1"), "k1").ok());
    klarna.script = {kom::outcome::retry_later};
    CHECK(box.drain(klarna.sender(), items, listing).stopped);
    klarna.refunds.push_back({"o-1", "", 50});  // a refund of its amount, without a reference
    time.wall += 25ull * 60 * 60 * 1000;
    const kom::outbox_drain d = box.drain(klarna.sender(), items, listing);
    CHECK(d.failed == 1);
    CHECK(!d.stopped);
    CHECK(klarna.calls == std::vector<std::string>{"refund o-1", "order o-1"});
    kom::outbox_item item;
    REQUIRE(box.read(box.seq_at(0), item).ok());
    CHECK(item.failure.code == kom::errc::not_verifiable);
    CHECK(item.failure.error_code == "NOT_VERIFIABLE");
    // A listed refund of another amount says nothing about it: absent, sent again.
    REQUIRE(box.append_refund("o-2", simple_refund(70, "ret-2"), "k2").ok());
    klarna.script = {kom::outcome::retry_later};
    CHECK(box.drain(klarna.sender(), items, listing).stopped);
    klarna.refunds.push_back({"o-2", "", 50});
    time.wall += 25ull * 60 * 60 * 1000;
    CHECK(box.drain(klarna.sender(), items, listing).done == 1);
    CHECK(klarna.fresh_keys == 1);
  }
  SUBCASE("a refund answered 201 without an id, listed without references, is done with its id unknown, not resent") {
    REQUIRE(box.append_refund("o-1", simple_refund(50, "ret-1"), "k1").ok());
    klarna.refunds_without_reference = true;
    klarna.script = {kom::outcome::applied_id_unknown};
    const kom::outbox_drain d = box.drain(klarna.sender(), items, listing);
    CHECK(d.done == 1);  // Klarna said 2xx: it was made
    CHECK(klarna.calls == std::vector<std::string>{"refund o-1", "order o-1"});
    CHECK(klarna.refunds.size() == 1);  // made once, never again
    kom::outbox_item item;
    REQUIRE(box.read(box.seq_at(0), item).ok());
    CHECK(item.state == kom::outbox_state::done);
    CHECK(item.refund_id.empty());
    CHECK(box.drain(klarna.sender(), items, listing).sent == 0);
  }
  SUBCASE("a wall clock set back since the first attempt is taken as a day gone: the refund is looked up first") {
    REQUIRE(box.append_refund("o-1", simple_refund(50, "ret-1"), "k1").ok());
    klarna.script = {kom::outcome::retry_later};
    CHECK(box.drain(klarna.sender(), items, listing).stopped);
    klarna.refunds.push_back({"o-1", "ret-1", 50});  // the lost answer's refund did happen
    time.wall -= 60ull * 60 * 1000;                 // the terminal's clock was reset an hour back
    CHECK(box.drain(klarna.sender(), items, listing).done == 1);
    CHECK(klarna.calls == std::vector<std::string>{"refund o-1", "order o-1"});
    CHECK(klarna.refunds.size() == 1);
  }
  SUBCASE("after 24 hours a failed order read stops the drain, unless Klarna does not know the order") {
    REQUIRE(box.append_refund("o-1", simple_refund(50, "ret-1"), "k1").ok());
    klarna.script = {kom::outcome::retry_later};
    CHECK(box.drain(klarna.sender(), items, listing).stopped);
    time.wall += 25ull * 60 * 60 * 1000;
    klarna.order_status_code = 401;  // credentials rotated: the refund is not failed for that
    kom::outbox_drain d = box.drain(klarna.sender(), items, listing);
    CHECK(d.stopped);
    CHECK(d.pending == 1);
    klarna.order_status_code = 404;  // no such order: no refund of it can exist, nor be made
    d = box.drain(klarna.sender(), items, listing);
    CHECK(d.failed == 1);
    CHECK(d.pending == 0);
    CHECK(klarna.refunds.empty());
  }
  SUBCASE("a sender without the calls a kind needs stops the drain at it, before sending") {
    REQUIRE(box.append_cancel("o-1", "k1").ok());
    REQUIRE(box.append_refund("o-1", simple_refund(50, "ret-1"), "k2").ok());
    kom::outbox_sender partial = klarna.sender();
    partial.get_order_fn = nullptr;  // a cancel and a refund need the order read of the 24-hour rule
    const kom::outbox_drain d = box.drain(partial, items, listing);
    CHECK(d.stopped);
    CHECK(d.error.code() == kom::errc::invalid_client_setup);
    CHECK(klarna.calls.empty());
    CHECK(!partial.complete());
    CHECK(partial.can_send(kom::outbox_op::extend_authorization_time));
  }
  SUBCASE("a refusal of a cancel is kept with Klarna's code for the back office") {
    REQUIRE(box.append_cancel("o-1", "k1").ok());
    klarna.script = {kom::outcome::refused};
    CHECK(box.drain(klarna.sender(), items, listing).failed == 1);
    kom::outbox_item item;
    REQUIRE(box.read(box.seq_at(0), item).ok());
    CHECK(item.state == kom::outbox_state::failed);
    CHECK(item.failure.status == 403);
    CHECK(item.failure.error_code == "NOT_ALLOWED");
  }
}
