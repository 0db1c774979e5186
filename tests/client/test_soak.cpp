// Exactly-once under network faults: kom::client over kom::tls_stream over kom::posix_tcp,
// through a fault-injecting TLS proxy (fault_proxy.hpp) to kom-sim. Many logical captures,
// each followed by its shipping info and send-out; every call ends done, or the client gives
// up and the test sends the same call again later with the same idempotency key (as a
// terminal's outbox would) until it is done. Then kom-sim's own record must show each
// capture exactly once with its amount, its shipping info appended once and one send-out;
// faults after a request reached kom-sim (the lost answers) must have happened, and no call
// may have been abandoned.
//
// KOM_SOAK_CAPTURES sets the number of logical captures (default 1000; 200 under
// sanitizers); KOM_SOAK_SEED the fault schedule's seed. No timing is asserted.
#include <doctest/doctest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "fault_proxy.hpp"
#include "kom/client.hpp"
#include "tls_support.hpp"

namespace {

namespace json = boost::json;
using simtest::http;
using simtest::SimProcess;
using simtest::TlsClient;

constexpr bool sanitized =
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
    true;
#else
    false;
#endif
#else
    false;
#endif

std::uint64_t env_number(const char* name, std::uint64_t fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  char* end = nullptr;
  const unsigned long long n = std::strtoull(v, &end, 10);
  REQUIRE_MESSAGE((end != nullptr && *end == '\0'), name << " is not a number: " << v);
  return n;
}

std::uint64_t steady_ms() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
}

kom::client_hooks real_hooks(kom::random_source& rng) {
  kom::client_hooks h;
  h.now_ms = [](void*) { return steady_ms(); };
  h.sleep_ms = [](void*, std::uint32_t ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); };
  h.random = kom::random_source::callback();
  h.random_context = rng.context();
  return h;
}

// One logical capture and the two calls after it, each with its own stored key.
struct logical {
  std::string order_id;
  std::int64_t amount = 0;
  std::string reference;  // the sale
  std::string tracking;
  kom::uuid_text keys[3];  // capture, shipping info, send-out
  int stage = 0;           // 0 capture, 1 shipping info, 2 send-out, 3 done, 4 abandoned
  std::string capture_id;
  unsigned reissues[3] = {};
};

constexpr const char* stage_name[3] = {"capture", "shipping-info", "trigger-send-out"};

}  // namespace

TEST_CASE("soak: exactly once through a faulty network (KOM_SOAK_CAPTURES, KOM_SOAK_SEED)") {
  const std::size_t count = static_cast<std::size_t>(env_number("KOM_SOAK_CAPTURES", sanitized ? 200 : 1000));
  const std::uint64_t seed = env_number("KOM_SOAK_SEED", 20261127);
  REQUIRE(count > 0);
  REQUIRE(count <= 1000000);
  const std::uint64_t started = steady_ms();

  SimProcess sim({"--username", "u", "--password", "p"});
  faultproxy::options po;
  po.upstream_port = sim.port();
  po.cert_file = simtest::certs_dir() + "/server.crt";
  po.key_file = simtest::certs_dir() + "/server.key";
  po.ca_file = simtest::certs_dir() + "/ca.crt";
  po.seed = seed;
  po.fault_percent = 33;
  po.max_lifetime_ms = 4u * 3600u * 1000u;  // the test's end stops it long before
  faultproxy::proxy proxy(po);

  // The logical captures: 50 to an order, each with a distinct amount and sale.
  constexpr std::size_t per_order = 50;
  kom::uuid merchant_ns{};
  REQUIRE(kom::parse_uuid("6f1c2a52-8d0e-4c55-9b1a-3c4d5e6f7a80", merchant_ns));
  std::vector<logical> items(count);
  std::map<std::int64_t, std::size_t> by_amount;
  for (std::size_t i = 0; i < count; ++i) {
    logical& l = items[i];
    l.order_id = "soak-order-" + std::to_string(i / per_order);
    l.amount = 1000 + static_cast<std::int64_t>(i);
    l.reference = "sale-" + std::to_string(i);
    l.tracking = "TRK" + std::to_string(i);
    const char* purpose[3] = {"capture", "shipping-info", "send-out"};
    for (int k = 0; k < 3; ++k) {
      const auto key = kom::sale_idempotency_key(merchant_ns, "T-soak", i, purpose[k]);
      REQUIRE(key);
      l.keys[k] = *key;
    }
    by_amount[l.amount] = i;
  }
  {
    TlsClient admin(sim.port());
    for (std::size_t o = 0; o * per_order < count; ++o) {
      std::int64_t total = 0;
      for (std::size_t i = o * per_order; i < count && i < (o + 1) * per_order; ++i) total += items[i].amount;
      const auto r = admin.request(http("POST", "/_sim/orders",
                                        R"({"order_id":"soak-order-)" + std::to_string(o) + R"(","order_amount":)" +
                                            std::to_string(total) + R"(,"purchase_currency":"EUR"})",
                                        {}, false));
      REQUIRE(r.status == 201);
    }
  }

  // One terminal through the proxy: fast retries, a real clock.
  tls_client link;
  link.add_test_ca();
  kom::client_config config;
  config.request.server = {"localhost", static_cast<std::uint16_t>(proxy.port())};
  config.request.credentials.username = "u";
  config.request.credentials.password = "p";
  config.retry.max_attempts = 4;
  config.retry.initial_backoff_ms = 10;
  config.retry.max_backoff_ms = 100;
  config.retry.total_budget_ms = sanitized ? 20000 : 5000;
  config.timeouts.connect_ms = sanitized ? 20000 : 5000;
  config.timeouts.read_ms = sanitized ? 1500 : 300;  // a stall costs this much
  config.timeouts.response_ms = sanitized ? 20000 : 5000;
  static char work[16384];
  kom::client client(link.tls.transport(), config, real_hooks(link.rng), work);

  constexpr unsigned max_reissues = 100;  // per call: far beyond what a third of faults needs
  std::uint64_t retries = 0, reissues = 0, calls = 0, reissued_calls = 0, refused = 0, abandoned = 0;
  std::deque<std::size_t> outbox;
  for (std::size_t i = 0; i < count; ++i) outbox.push_back(i);
  while (!outbox.empty()) {
    const std::size_t i = outbox.front();
    outbox.pop_front();
    logical& l = items[i];
    while (l.stage < 3) {
      kom::outcome next = kom::outcome::done;
      std::uint32_t attempts = 0;
      kom::error error;
      int status = 0;
      const kom::post_options post{l.keys[l.stage].view()};
      if (l.stage == 0) {
        kom::capture_request c;
        c.captured_amount = l.amount;
        c.reference = l.reference;
        const auto r = client.capture(l.order_id, c, post);
        next = r.next_step();
        attempts = r.attempts;
        error = r.error;
        status = r.status;
        if (r.ok()) {
          if (!l.capture_id.empty()) CHECK(l.capture_id == r.value.capture_id);  // a replay
          l.capture_id = std::string(r.value.capture_id);
        }
      } else if (l.stage == 1) {
        kom::shipping_info s[1];
        s[0].shipping_company = "PostNord";
        s[0].shipping_method = kom::shipping_method::home;
        s[0].tracking_number = l.tracking;
        kom::shipping_info_update u;
        u.shipping_info = s;
        const auto r = client.append_shipping_info(l.order_id, l.capture_id, u, post);
        next = r.next_step();
        attempts = r.attempts;
        error = r.error;
        status = r.status;
      } else {
        const auto r = client.trigger_send_out(l.order_id, l.capture_id, post);
        next = r.next_step();
        attempts = r.attempts;
        error = r.error;
        status = r.status;
      }
      if (l.reissues[l.stage] == 0) ++calls;
      retries += attempts > 0 ? attempts - 1 : 0;
      if (next == kom::outcome::done) {
        ++l.stage;
        continue;
      }
      if (next == kom::outcome::applied_id_unknown) {
        // The proxy never strips a Capture-Id: kom-sim's 201 always carries one.
        FAIL_CHECK("logical capture " << i << ": applied, id unknown, status " << status);
        l.stage = 4;
        break;
      }
      if (next == kom::outcome::refused) {
        ++refused;
        FAIL_CHECK("logical capture " << i << ": " << stage_name[l.stage] << " refused, status " << status
                                      << ", errc " << static_cast<int>(error.code()));
        l.stage = 4;
        break;
      }
      // retry_later: the client gave up; the outbox sends it again later with the same key.
      if (l.reissues[l.stage]++ == 0) ++reissued_calls;
      ++reissues;
      if (l.reissues[l.stage] > max_reissues) {
        ++abandoned;
        FAIL_CHECK("logical capture " << i << ": " << stage_name[l.stage] << " still not done after "
                                      << max_reissues << " re-issues, errc " << static_cast<int>(error.code()));
        l.stage = 4;
        break;
      }
      outbox.push_back(i);
      break;
    }
  }
  client.close();
  proxy.stop();
  const faultproxy::counts pc = proxy.snapshot();

  // kom-sim's record of what happened.
  const json::value state = [&] {
    TlsClient c(sim.port(), 30000);
    return c.request(http("GET", "/_sim/state", {}, {}, false)).json();
  }();
  std::vector<unsigned> found(count, 0);
  std::uint64_t unknown = 0, wrong_amount_or_sale = 0, wrong_shipping = 0, wrong_send_out = 0, wrong_id = 0;
  for (const auto& o : state.at("orders").as_array()) {
    const std::string order_id(o.at("order_id").as_string());
    if (order_id.rfind("soak-order-", 0) != 0) continue;
    for (const auto& cv : o.at("captures").as_array()) {
      const auto& c = cv.as_object();
      const std::int64_t amount = c.at("captured_amount").as_int64();
      const auto it = by_amount.find(amount);
      if (it == by_amount.end()) {
        ++unknown;
        continue;
      }
      const logical& l = items[it->second];
      ++found[it->second];
      const auto* ref = c.if_contains("reference");
      if (l.order_id != order_id || ref == nullptr || ref->as_string() != l.reference) ++wrong_amount_or_sale;
      if (c.at("capture_id").as_string() != l.capture_id) ++wrong_id;
      const auto& si = c.at("shipping_info").as_array();
      if (si.size() != 1 || si[0].at("tracking_number").as_string() != l.tracking) ++wrong_shipping;
      if (c.at("send_out_count").as_int64() != 1) ++wrong_send_out;
    }
  }
  std::uint64_t exactly_once = 0, doubles = 0, missing = 0;
  for (const unsigned f : found) {
    if (f == 1) ++exactly_once;
    if (f == 0) ++missing;
    if (f > 1) doubles += f - 1;
  }
  const std::int64_t applied = state.at("applied_posts").as_int64();
  const double seconds = static_cast<double>(steady_ms() - started) / 1000.0;

  std::string faults;
  for (int k = 1; k < faultproxy::fault_kinds; ++k) {
    faults += std::string(k == 1 ? "" : ", ") + faultproxy::name(static_cast<faultproxy::fault>(k)) + " " +
              std::to_string(pc.faults[k]);
  }
  std::printf(
      "soak (seed %llu): %zu logical captures, %llu calls; proxy: %llu connections (%llu over its limits), %llu "
      "requests, %llu upstream failures, %llu faults (%llu after the request reached kom-sim): %s\n"
      "soak: client retries %llu, re-issues %llu (%llu calls needed one or more), refused %llu, abandoned %llu\n"
      "soak: kom-sim: captures found exactly once %llu, doubles %llu, missing %llu, unknown %llu, wrong "
      "amount/sale %llu, wrong capture id %llu, shipping info not once %llu, send-out not once %llu, applied "
      "POSTs %lld; %.1f s\n",
      static_cast<unsigned long long>(seed), count, static_cast<unsigned long long>(calls),
      static_cast<unsigned long long>(pc.connections), static_cast<unsigned long long>(pc.overflow),
      static_cast<unsigned long long>(pc.requests), static_cast<unsigned long long>(pc.upstream_failures),
      static_cast<unsigned long long>(pc.total_faults()), static_cast<unsigned long long>(pc.faults_after_forwarding),
      faults.c_str(), static_cast<unsigned long long>(retries), static_cast<unsigned long long>(reissues),
      static_cast<unsigned long long>(reissued_calls), static_cast<unsigned long long>(refused),
      static_cast<unsigned long long>(abandoned), static_cast<unsigned long long>(exactly_once),
      static_cast<unsigned long long>(doubles), static_cast<unsigned long long>(missing),
      static_cast<unsigned long long>(unknown), static_cast<unsigned long long>(wrong_amount_or_sale),
      static_cast<unsigned long long>(wrong_id), static_cast<unsigned long long>(wrong_shipping),
      static_cast<unsigned long long>(wrong_send_out), static_cast<long long>(applied), seconds);
  std::fflush(stdout);

  CHECK(pc.total_faults() > 0);
  // The lost answers, the cases the idempotency key is for, did happen.
  CHECK(pc.faults_after_forwarding > 0);
  CHECK(refused == 0);
  CHECK(abandoned == 0);
  CHECK(exactly_once == count);
  CHECK(doubles == 0);
  CHECK(missing == 0);
  CHECK(unknown == 0);
  CHECK(wrong_amount_or_sale == 0);
  CHECK(wrong_id == 0);
  CHECK(wrong_shipping == 0);
  CHECK(wrong_send_out == 0);
  CHECK(applied == static_cast<std::int64_t>(3 * count));
}
