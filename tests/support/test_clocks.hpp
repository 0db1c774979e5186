// The clocks and random source of a test's client and outbox: time moves only when the
// client sleeps, and the random bytes repeat from run to run. The outbox's tests and the
// fault matrix share them.
#ifndef KOM_TESTS_SUPPORT_TEST_CLOCKS_HPP
#define KOM_TESTS_SUPPORT_TEST_CLOCKS_HPP

#include <cstddef>
#include <cstdint>

#include "kom/client.hpp"
#include "kom/outbox.hpp"

namespace {

struct clocks {
  std::uint64_t mono = 1000;                       // the client's monotonic clock (ms)
  std::uint64_t wall = 1'780'000'000'000ull;       // the outbox's wall clock (ms since 1970)
  std::uint32_t random_state = 7;
};

kom::client_hooks hooks_for(clocks& c) {
  kom::client_hooks h;
  h.context = &c;
  h.now_ms = [](void* x) { return static_cast<clocks*>(x)->mono; };
  h.sleep_ms = [](void* x, std::uint32_t ms) {
    static_cast<clocks*>(x)->mono += ms;
    static_cast<clocks*>(x)->wall += ms;
  };
  h.random = [](void* x, unsigned char* out, std::size_t n) {
    auto* e = static_cast<clocks*>(x);
    for (std::size_t i = 0; i < n; ++i) {
      e->random_state = e->random_state * 1103515245u + 12345u;
      out[i] = static_cast<unsigned char>(e->random_state >> 16);
    }
    return 0;
  };
  h.random_context = &c;
  return h;
}

kom::wall_clock wall_of(clocks& c) {
  return {&c, [](void* x) { return static_cast<clocks*>(x)->wall; }};
}

}  // namespace

#endif
