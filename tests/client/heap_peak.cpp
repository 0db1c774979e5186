// kom-heap-peak: the peak heap of one whole capture over TLS against kom-sim, mbedTLS's own
// allocations included, for a new connection (full handshake), a reconnect (resumed session)
// and a kept-alive connection. Every allocation is attributed to the shared object that
// called malloc/calloc/realloc: libmbedtls/libmbedx509/libmbedcrypto, or anything else (kom is
// header-only and compiled into this program, so anything it allocated would show as this
// program's). Fails when anything but mbedTLS allocates during a capture.
//
// heap_count.cpp, linked in, replaces malloc and friends for the whole process (it must not
// run under a sanitizer, which replaces them too).
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <string>

#include "../sim/test_support.hpp"
#include "heap_count.hpp"
#include "kom/client.hpp"
#include "kom/posix_transport.hpp"
#include "kom/tls.hpp"

namespace {

using heap_count::measure;
using heap_count::measured;

std::uint64_t now_ms(void*) {
  timespec t{};
  clock_gettime(CLOCK_MONOTONIC, &t);
  return static_cast<std::uint64_t>(t.tv_sec) * 1000u + static_cast<std::uint64_t>(t.tv_nsec) / 1000000u;
}

// kom::posix_tcp that always dials 127.0.0.1, whatever name the TLS stream verifies.
struct loopback {
  kom::posix_tcp tcp;
  int connect(std::string_view, std::uint16_t port, std::uint32_t timeout_ms) noexcept {
    return tcp.connect("127.0.0.1", port, timeout_ms);
  }
  int send(const unsigned char* d, std::size_t n) noexcept { return tcp.send(d, n); }
  int recv(unsigned char* d, std::size_t n, std::uint32_t t) noexcept { return tcp.recv(d, n, t); }
  void close() noexcept { tcp.close(); }
  kom::error error() const noexcept { return tcp.error(); }
};

}  // namespace

int main() {
  simtest::SimProcess sim({"--username", "u", "--password", "p"});
  kom::random_source rng;
  if (rng.seed("kom-heap-peak") != 0) return 1;
  loopback wire;
  kom::tls_stream tls(kom::make_transport(wire), kom::random_source::callback(), rng.context());
  std::string ca;
  {
    FILE* f = std::fopen((simtest::certs_dir() + "/ca.crt").c_str(), "rb");
    if (f == nullptr) return 1;
    char b[4096];
    std::size_t n;
    while ((n = std::fread(b, 1, sizeof b, f)) > 0) ca.append(b, n);
    std::fclose(f);
  }
  if (!tls.add_ca(reinterpret_cast<const unsigned char*>(ca.c_str()), ca.size() + 1).ok()) return 1;
  static char work[8192];
  kom::client_config config;
  config.request.server = {"localhost", static_cast<std::uint16_t>(sim.port())};
  config.request.credentials.username = "u";
  config.request.credentials.password = "p";
  kom::client_hooks hooks;
  hooks.now_ms = now_ms;
  hooks.sleep_ms = [](void*, std::uint32_t ms) { usleep(ms * 1000u); };
  hooks.random = kom::random_source::callback();
  hooks.random_context = rng.context();
  kom::client client(tls.transport(), config, hooks, work);

  kom::capture_request capture;
  capture.captured_amount = 100;
  const char* order = "f3392f8b-6116-4073-ab96-e330819e2c07";  // 50000 authorized in orders.json
  bool ok = true;
  auto one_capture = [&] {
    const auto r = client.capture(order, capture);
    ok = ok && r.ok();
  };

  const std::size_t before = heap_count::process.current;
  const measured fresh = measure(one_capture);      // connect + full handshake + capture
  const std::size_t held = heap_count::process.current - before;  // kept by the open connection between calls
  const measured kept = measure(one_capture);       // the same connection
  client.close();
  const measured resumed = measure(one_capture);    // reconnect with the kept session
  const auto hs = tls.handshakes();

  std::printf("peak heap of one capture over TLS (bytes above the start, malloc_usable_size):\n");
  const auto row = [](const char* what, const measured& m) {
    std::printf("  %-32s: %7zu  (allocations: mbedTLS %zu, libc %zu, kom %zu)\n", what, m.peak_above_start,
                m.mbedtls_calls, m.libc_calls, m.other_calls);
  };
  row("new connection, full handshake", fresh);
  row("reconnect, resumed session", resumed);
  row("kept-alive connection", kept);
  std::printf("  held by an open connection between calls: %zu\n", held);
  std::printf("  handshakes: %u full, %u resumed\n", hs.full, hs.resumed);
  const bool kom_clean = fresh.other_calls == 0 && kept.other_calls == 0 && resumed.other_calls == 0;
  std::printf("%s\n", ok && kom_clean && hs.full == 1 && hs.resumed == 1 ? "heap-peak: ok" : "heap-peak: FAILED");
  return ok && kom_clean && hs.full == 1 && hs.resumed == 1 ? 0 : 1;
}
