// kom-bench-tls: one capture over TLS on loopback against kom-sim, through kom::client,
// kom::tls_stream and kom::posix_tcp, three ways: a new connection with a full handshake per
// call, a new connection resuming the kept session per call, and one kept-alive connection.
// Peak heap, counters of each mode (mbedTLS's allocations; kom allocates nothing):
//   peak_heap_bytes  the highest heap in use during the calls, above what was in use before the
//                    client first connected (the CA certificate parsed, no connection): what
//                    a terminal must have free for the mode, the open connection included
//   call_peak_bytes  the highest rise during one call above its start
// Connects to 127.0.0.1 only.
//
// heap_count.cpp replaces malloc for the whole process: never under a sanitizer.
#include <benchmark/benchmark.h>

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <memory>
#include <string>

#include "../client/heap_count.hpp"
#include "../sim/test_support.hpp"
#include "bench_report.hpp"
#include "kom/client.hpp"
#include "kom/posix_transport.hpp"
#include "kom/tls.hpp"

namespace {

// kom::posix_tcp that always dials 127.0.0.1, whatever name the TLS stream verifies.
struct loopback_tcp : kom::posix_tcp {
  int connect(std::string_view, std::uint16_t port, std::uint32_t timeout_ms) noexcept {
    return kom::posix_tcp::connect("127.0.0.1", port, timeout_ms);
  }
};

std::uint64_t monotonic_ms(void*) {
  timespec t{};
  clock_gettime(CLOCK_MONOTONIC, &t);
  return static_cast<std::uint64_t>(t.tv_sec) * 1000u + static_cast<std::uint64_t>(t.tv_nsec) / 1000000u;
}

// kom-sim and one kom::client to it, made once for all three modes.
struct session {
  simtest::SimProcess sim{{"--username", "u", "--password", "p"}};
  kom::random_source rng;
  loopback_tcp wire;
  std::unique_ptr<kom::tls_stream> tls;
  char work[8192];
  kom::client_config config;
  kom::client_hooks hooks;
  std::unique_ptr<kom::client> client;
  kom::capture_request capture;
  std::size_t idle_heap = 0;  // in use with the client made and never connected

  session() {
    if (rng.seed("kom-bench-tls") != 0) kom_bench::fail_check("CTR-DRBG seed failed");
    tls = std::make_unique<kom::tls_stream>(kom::make_transport(wire), kom::random_source::callback(), rng.context());
    std::string ca;
    if (FILE* f = std::fopen((simtest::certs_dir() + "/ca.crt").c_str(), "rb")) {
      char b[4096];
      std::size_t n;
      while ((n = std::fread(b, 1, sizeof b, f)) > 0) ca.append(b, n);
      std::fclose(f);
    }
    // mbedTLS wants the PEM's terminating NUL counted.
    if (!tls->add_ca(reinterpret_cast<const unsigned char*>(ca.c_str()), ca.size() + 1).ok())
      kom_bench::fail_check("the test CA was not accepted");
    config.request.server = {"localhost", static_cast<std::uint16_t>(sim.port())};
    config.request.credentials.username = "u";
    config.request.credentials.password = "p";
    hooks.now_ms = monotonic_ms;
    hooks.sleep_ms = [](void*, std::uint32_t ms) { usleep(ms * 1000u); };
    hooks.random = kom::random_source::callback();
    hooks.random_context = rng.context();
    client = std::make_unique<kom::client>(tls->transport(), config, hooks, work);
    idle_heap = heap_count::process.current;
    // Smallest amount: the order (50000 authorized in orders.json) lasts for every call.
    capture.captured_amount = 1;
  }

  // One capture with the client's own fresh idempotency key; false unless 201.
  bool capture_once() {
    return client->capture("f3392f8b-6116-4073-ab96-e330819e2c07", capture).ok();
  }
};

session& sim_session() {
  static session s;
  return s;
}

enum class mode { new_handshake, resumed, kept_alive };

void round_trip(benchmark::State& state, mode m) {
  session& s = sim_session();
  s.client->close();
  s.tls->forget_session();
  if (!s.capture_once()) return state.SkipWithError("the first capture failed");  // connected, session kept
  if (m != mode::kept_alive) s.client->close();
  const auto before = s.tls->handshakes();
  std::size_t call_peak = 0, peak = 0;
  bool ok = true;
  for (auto _ : state) {
    const heap_count::measured used = heap_count::measure([&] {
      if (m == mode::new_handshake) s.tls->forget_session();
      ok = s.capture_once() && ok;
      if (m != mode::kept_alive) s.client->close();
    });
    call_peak = std::max(call_peak, used.peak_above_start);
    const std::size_t highest = heap_count::process.peak;
    peak = std::max(peak, highest > s.idle_heap ? highest - s.idle_heap : 0);
  }
  if (!ok) return state.SkipWithError("a capture failed");
  const auto after = s.tls->handshakes();
  const auto calls = static_cast<unsigned>(state.iterations());
  // Every call did the mode's handshake, and only that one.
  const unsigned full = after.full - before.full, resumed = after.resumed - before.resumed;
  const bool handshakes_as_meant = m == mode::new_handshake ? full == calls && resumed == 0
                                   : m == mode::resumed     ? full == 0 && resumed == calls
                                                            : full == 0 && resumed == 0;
  if (!handshakes_as_meant) return state.SkipWithError("the handshakes were not the mode's");
  state.counters["peak_heap_bytes"] = static_cast<double>(peak);
  state.counters["call_peak_bytes"] = static_cast<double>(call_peak);
}

}  // namespace

BENCHMARK_CAPTURE(round_trip, new_handshake, mode::new_handshake)
    ->Name("capture_tls/new_handshake")->Iterations(40)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(round_trip, resumed, mode::resumed)
    ->Name("capture_tls/resumed_session")->Iterations(200)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(round_trip, kept_alive, mode::kept_alive)
    ->Name("capture_tls/kept_alive")->Iterations(500)->UseRealTime()->Unit(benchmark::kMillisecond);

int main(int argc, char** argv) {
  sim_session();  // kom-sim started before anything is timed
  kom_bench::summary_options options;
  options.baseline = "kept_alive";
  options.real_time = true;
  return kom_bench::run_and_summarize(argc, argv, options);
}
