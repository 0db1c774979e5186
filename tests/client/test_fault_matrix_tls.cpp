// A sampled part of the fault matrix (tests/test_fault_matrix.cpp) over real TLS: kom::client
// over kom::tls_stream and kom::posix_tcp, through the fault proxy (fault_proxy.hpp) to
// kom-sim, all on 127.0.0.1. Each changing call (capture, capture_remaining,
// append_shipping_info, trigger_send_out, refund, release_remaining_authorization) meets
// each of a few failures on the first
// connection of its first round (the proxy's forced fault, or a connect to a port nobody
// listens on). The client makes one attempt per call, so every failure reaches the caller,
// who follows the documented protocol: done, refused and applied_id_unknown stop;
// retry_later calls again on a new connection with the same key (and, for
// capture_remaining, the amount decided). Judged by kom-sim's /_sim/state only: each change
// applied exactly once, with the capture or refund id the client reported.
#include <doctest/doctest.h>

#include <chrono>
#include <cstdio>
#include <exception>
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

enum class call { capture, capture_remaining, shipping_info, send_out, refund, release };

const char* name_of(call c) {
  switch (c) {
    case call::capture: return "capture";
    case call::capture_remaining: return "capture_remaining";
    case call::shipping_info: return "append_shipping_info";
    case call::send_out: return "trigger_send_out";
    case call::refund: return "refund";
    case call::release: return "release_remaining_authorization";
  }
  return "?";
}

const char* outcome_name(kom::outcome o) {
  switch (o) {
    case kom::outcome::done: return "done";
    case kom::outcome::refused: return "refused";
    case kom::outcome::retry_later: return "retry_later";
    case kom::outcome::applied_id_unknown: return "applied_id_unknown";
    case kom::outcome::unknown: return "unknown";
  }
  return "?";
}

// A failure of the first connection of a call's first round.
struct tls_fault {
  std::string name;
  bool connect_refused = false;  // the connect goes to a port nobody listens on
  faultproxy::forced forced;     // otherwise: the proxy's fault for that connection
};

faultproxy::forced proxy_fault(faultproxy::fault kind, unsigned hit, bool forward_first, std::uint64_t cut = 0,
                               bool cut_from_end = false, int status = 0) {
  faultproxy::forced f;
  f.kind = kind;
  f.hit = hit;
  f.forward_first = forward_first;
  f.cut = cut;
  f.cut_from_end = cut_from_end;
  f.status = status;
  return f;
}

// The failures, hitting request `hit` of the connection (capture_remaining: 0 its order
// read, 1 its capture).
std::vector<tls_fault> faults_for(unsigned hit) {
  using faultproxy::fault;
  std::vector<tls_fault> out;
  tls_fault refused;
  refused.name = "connect refused";
  refused.connect_refused = true;
  if (hit == 0) out.push_back(refused);
  if (hit == 0) out.push_back({"TLS handshake cut (accepted, then closed)", false, proxy_fault(fault::refuse, 0, false)});
  out.push_back({"request cut after 100 bytes", false, proxy_fault(fault::close_request, hit, false, 100)});
  out.push_back({"applied, then reset before any answer byte", false, proxy_fault(fault::reset, hit, true)});
  out.push_back({"answer cut in its status line", false, proxy_fault(fault::close_response, hit, true, 5)});
  out.push_back({"answer cut 3 bytes before its end", false, proxy_fault(fault::close_response, hit, true, 3, true)});
  out.push_back({"409, applied", false, proxy_fault(fault::status_500, hit, true, 0, false, 409)});
  out.push_back({"408, not applied", false, proxy_fault(fault::status_500, hit, false, 0, false, 408)});
  out.push_back({"502, applied", false, proxy_fault(fault::status_502, hit, true)});
  out.push_back({"503 with Retry-After, not applied", false, proxy_fault(fault::status_503_retry_after, hit, false)});
  return out;
}

struct tls_case {
  call what = call::capture;
  unsigned hit = 0;
  tls_fault fault;
  std::string order_id;
  std::string reference;      // the logical capture (capture, capture_remaining)
  std::string tracking;       // the shipping info
  std::string earlier_id;     // the capture made before the case (capture_remaining, shipping, send-out)
  std::string reported_id;    // the capture or refund id kom reported with done
  kom::outcome last = kom::outcome::retry_later;
  int rounds = 0;
  std::vector<std::string> problems;

  std::string name() const {
    return std::string(name_of(what)) + (what == call::capture_remaining ? (hit == 0 ? " (its read)" : " (its capture)") : "") +
           ": " + fault.name;
  }
};

constexpr std::int64_t order_amount = 10000;
constexpr std::int64_t earlier_amount = 2500;  // captured before capture_remaining, shipping, send-out
constexpr std::int64_t capture_amount = 4000;  // the logical capture of `capture`
constexpr std::int64_t refund_amount = 1000;   // the return of `refund`, of the earlier capture
constexpr int max_rounds = 6;

}  // namespace

TEST_CASE("fault matrix over TLS: each changing call under sampled failures, judged by kom-sim's state") {
  const std::uint64_t started = steady_ms();
  SimProcess sim({"--username", "u", "--password", "p"});
  faultproxy::options po;
  po.upstream_port = sim.port();
  po.cert_file = simtest::certs_dir() + "/server.crt";
  po.key_file = simtest::certs_dir() + "/server.key";
  po.ca_file = simtest::certs_dir() + "/ca.crt";
  po.seed = 20261128;
  po.fault_percent = 0;                // only the forced faults
  po.max_requests_per_connection = 64;  // a connection outlives its round
  po.io_ms = 5000;
  po.max_lifetime_ms = 120000;
  faultproxy::proxy proxy(po);

  // The cases, each on an order of its own.
  std::vector<tls_case> cases;
  for (call c : {call::capture, call::capture_remaining, call::shipping_info, call::send_out, call::refund,
                 call::release}) {
    for (unsigned hit : {0u, 1u}) {
      if (hit == 1 && c != call::capture_remaining) continue;
      for (const tls_fault& f : faults_for(hit)) {
        tls_case t;
        t.what = c;
        t.hit = hit;
        t.fault = f;
        const std::string n = std::to_string(cases.size() + 1);
        t.order_id = "tls-matrix-" + n;
        t.reference = "tls-sale-" + n;
        t.tracking = "TLS-TRK-" + n;
        cases.push_back(t);
      }
    }
  }
  {
    TlsClient admin(sim.port());
    for (const tls_case& t : cases) {
      const auto r = admin.request(http("POST", "/_sim/orders",
                                        R"({"order_id":")" + t.order_id + R"(","order_amount":)" +
                                            std::to_string(order_amount) + R"(,"purchase_currency":"EUR"})",
                                        {}, false));
      REQUIRE(r.status == 201);
    }
  }

  // One terminal through the proxy, one attempt per call.
  tls_client link;
  link.add_test_ca();
  kom::client_config config;
  config.request.server = {"localhost", static_cast<std::uint16_t>(proxy.port())};
  config.request.credentials.username = "u";
  config.request.credentials.password = "p";
  config.retry.max_attempts = 1;
  config.timeouts.connect_ms = 10000;
  config.timeouts.read_ms = 5000;
  config.timeouts.response_ms = 10000;
  static char work[16384];
  kom::client client(link.tls.transport(), config, real_hooks(link.rng), work);
  kom::uuid merchant_ns{};
  REQUIRE(kom::parse_uuid("3a7d1c52-8e0f-4b66-9c2a-4d5e6f708192", merchant_ns));

  for (std::size_t i = 0; i < cases.size(); ++i) {
    tls_case& t = cases[i];
    // The capture that shipping info, send-out and capture_remaining come after, without a fault.
    if (t.what != call::capture) {
      client.close();
      const std::string reference = "tls-earlier-" + std::to_string(i + 1);
      kom::capture_request earlier;
      earlier.captured_amount = earlier_amount;
      earlier.reference = reference;
      const auto key = kom::sale_idempotency_key(merchant_ns, "T-tls", i, "earlier");
      REQUIRE(key);
      const auto r = client.capture(t.order_id, earlier, {key->view()});
      REQUIRE_MESSAGE(r.ok(), t.name() << ": the capture before the case failed, errc "
                                       << static_cast<int>(r.error.code()));
      t.earlier_id = std::string(r.value.capture_id);
    }
    const auto key = kom::sale_idempotency_key(merchant_ns, "T-tls", i, name_of(t.what));
    REQUIRE(key);
    const kom::post_options post{key->view()};
    kom::remaining_capture what{"the rest", t.reference, 0};
    const std::uint64_t faults_before = proxy.snapshot().total_faults();
    for (t.rounds = 1; t.rounds <= max_rounds; ++t.rounds) {
      client.close();  // each round on a new connection: the first one meets the failure
      if (t.rounds == 1) {
        if (t.fault.connect_refused) link.wire.redirect_port = static_cast<std::uint16_t>(unused_port());
        else proxy.force(t.fault.forced);
      }
      kom::outcome next = kom::outcome::retry_later;
      int status = 0;
      kom::errc code = kom::errc::ok;
      if (t.what == call::capture || t.what == call::capture_remaining) {
        kom::capture_request c;
        c.captured_amount = capture_amount;
        c.reference = t.reference;
        const kom::reply<kom::capture_created> r =
            t.what == call::capture ? client.capture(t.order_id, c, post) : client.capture_remaining(t.order_id, post, what);
        next = r.next_step();
        status = r.status;
        code = r.error.code();
        if (next == kom::outcome::done) t.reported_id = std::string(r.value.capture_id);
        what.decided_amount = r.value.captured_amount;  // kept with the key
      } else if (t.what == call::refund) {
        kom::refund_request f;
        f.refunded_amount = refund_amount;
        f.reference = t.reference;
        const kom::reply<kom::refund_created> r = client.refund(t.order_id, f, post);
        next = r.next_step();
        status = r.status;
        code = r.error.code();
        if (next == kom::outcome::done) t.reported_id = std::string(r.value.refund_id);
      } else if (t.what == call::release) {
        const kom::reply<kom::no_content> r = client.release_remaining_authorization(t.order_id, post);
        next = r.next_step();
        status = r.status;
        code = r.error.code();
      } else {
        kom::shipping_info s[1];
        s[0].shipping_company = "PostNord";
        s[0].shipping_method = kom::shipping_method::home;
        s[0].tracking_number = t.tracking;
        kom::shipping_info_update u;
        u.shipping_info = s;
        const kom::reply<kom::no_content> r = t.what == call::shipping_info
                                                  ? client.append_shipping_info(t.order_id, t.earlier_id, u, post)
                                                  : client.trigger_send_out(t.order_id, t.earlier_id, post);
        next = r.next_step();
        status = r.status;
        code = r.error.code();
      }
      if (t.rounds == 1) {
        link.wire.redirect_port = 0;
        if (proxy.forced_waiting() != 0) {
          t.problems.push_back("the proxy's fault was never taken");
          client.close();
          try {  // let a connection take it, so that it does not hit the next case
            TlsClient taker(proxy.port(), 2000);
          } catch (const std::exception&) {
          }
        }
      }
      t.last = next;
      if (next == kom::outcome::refused)
        t.problems.push_back("round " + std::to_string(t.rounds) + ": refused (status " + std::to_string(status) +
                             ", errc " + std::to_string(static_cast<int>(code)) + ") after a transient failure");
      if (next == kom::outcome::applied_id_unknown && t.what != call::capture && t.what != call::capture_remaining &&
          t.what != call::refund)
        t.problems.push_back("applied_id_unknown for a call without an id to lose");
      if (next != kom::outcome::retry_later) break;
    }
    if (!t.fault.connect_refused && proxy.snapshot().total_faults() != faults_before + 1)
      t.problems.push_back("the proxy's fault did not hit the request");
    if (t.last == kom::outcome::retry_later) t.problems.push_back("still retry_later after " + std::to_string(max_rounds) + " rounds");
    if (t.rounds > max_rounds) t.rounds = max_rounds;
  }
  client.close();
  proxy.stop();

  // kom-sim's record.
  const json::value state = [&] {
    TlsClient c(sim.port(), 30000);
    return c.request(http("GET", "/_sim/state", {}, {}, false)).json();
  }();
  std::size_t failed = 0;
  for (tls_case& t : cases) {
    const json::object* order = nullptr;
    for (const auto& o : state.at("orders").as_array())
      if (o.at("order_id").as_string() == t.order_id) order = &o.as_object();
    REQUIRE_MESSAGE(order != nullptr, t.order_id);
    const json::array& captures = order->at("captures").as_array();
    const bool capturing = t.what == call::capture || t.what == call::capture_remaining;
    const bool applied_expected = t.last != kom::outcome::refused;  // refused: never applied
    const std::size_t want_captures = (t.what == call::capture ? 0u : 1u) + (capturing && applied_expected ? 1u : 0u);
    if (captures.size() != want_captures)
      t.problems.push_back("kom-sim holds " + std::to_string(captures.size()) + " captures, not " +
                           std::to_string(want_captures));
    for (const auto& cv : captures) {
      const json::object& c = cv.as_object();
      const std::string id(c.at("capture_id").as_string());
      const auto* ref = c.if_contains("reference");
      const std::string reference = ref != nullptr && ref->is_string() ? std::string(ref->as_string()) : std::string();
      const std::int64_t amount = c.at("captured_amount").as_int64();
      if (capturing && reference == t.reference) {
        const std::int64_t want = t.what == call::capture ? capture_amount : order_amount - earlier_amount;
        if (amount != want)
          t.problems.push_back("kom-sim's capture is of " + std::to_string(amount) + ", not " + std::to_string(want));
        if (t.last == kom::outcome::done && id != t.reported_id)
          t.problems.push_back("done with capture id '" + t.reported_id + "', kom-sim's is " + id);
      }
      if (id == t.earlier_id && !capturing) {
        std::size_t entries = 0;
        for (const auto& s : c.at("shipping_info").as_array())
          entries += s.as_object().if_contains("tracking_number") != nullptr && s.at("tracking_number").as_string() == t.tracking;
        const std::int64_t send_outs = c.at("send_out_count").as_int64();
        const std::size_t want_entries = t.what == call::shipping_info && applied_expected ? 1 : 0;
        const std::int64_t want_send_outs = t.what == call::send_out && applied_expected ? 1 : 0;
        if (entries != want_entries)
          t.problems.push_back("kom-sim holds the shipping info " + std::to_string(entries) + " times, not " +
                               std::to_string(want_entries));
        if (send_outs != want_send_outs)
          t.problems.push_back("kom-sim counts " + std::to_string(send_outs) + " send-outs, not " + std::to_string(want_send_outs));
      }
    }
    // The refund and the release, by the order's own record.
    const json::array& refunds = order->at("refunds").as_array();
    std::size_t returns = 0;
    for (const auto& fv : refunds) {
      const json::object& f = fv.as_object();
      const auto* ref = f.if_contains("reference");
      if (ref == nullptr || !ref->is_string() || ref->as_string() != t.reference) continue;
      ++returns;
      if (f.at("refunded_amount").as_int64() != refund_amount)
        t.problems.push_back("kom-sim's refund is of " + std::to_string(f.at("refunded_amount").as_int64()));
      if (t.last == kom::outcome::done && f.at("refund_id").as_string() != t.reported_id)
        t.problems.push_back("done with refund id '" + t.reported_id + "', kom-sim's is " +
                             std::string(f.at("refund_id").as_string()));
    }
    const std::size_t want_returns = t.what == call::refund && applied_expected ? 1 : 0;
    if (returns != want_returns)
      t.problems.push_back("kom-sim holds " + std::to_string(returns) + " refunds, not " + std::to_string(want_returns));
    const bool closed = order->at("status").as_string() == "CLOSED";
    if (closed != (t.what == call::release && applied_expected))
      t.problems.push_back(std::string("kom-sim's order is ") + (closed ? "" : "not ") + "CLOSED");
    if (!t.problems.empty()) {
      ++failed;
      std::string all;
      for (const std::string& p : t.problems) all += "\n    " + p;
      std::printf("FAILED over TLS: %s (last %s after %d round(s))%s\n", t.name().c_str(), outcome_name(t.last), t.rounds,
                  all.c_str());
    }
  }
  const faultproxy::counts pc = proxy.snapshot();
  std::printf("fault matrix over TLS: %zu cases, %zu failed; proxy: %llu connections, %llu faults (%llu after the "
              "request reached kom-sim); %.1f s\n",
              cases.size(), failed, static_cast<unsigned long long>(pc.connections),
              static_cast<unsigned long long>(pc.total_faults()), static_cast<unsigned long long>(pc.faults_after_forwarding),
              static_cast<double>(steady_ms() - started) / 1000.0);
  std::fflush(stdout);
  CHECK(pc.total_faults() > 0);
  CHECK(failed == 0);
}
