// A fault-injecting HTTPS proxy for tests, run in-process (threads) between kom's client and
// kom-sim. It listens on 127.0.0.1 only (port 0: a free one) and forwards to kom-sim's port
// on 127.0.0.1.
//
// It terminates TLS: towards the client it is a TLS server with kom-sim's own test
// certificate (localhost, signed by the test CA the client trusts), towards kom-sim a
// verifying TLS client (the test CA, name "localhost", resuming its session). So it sees
// each HTTP request and response in plain text and can cut, stall or answer them itself,
// while the client still verifies a certificate chain and host name as it would anywhere.
// It resumes the client's TLS sessions (a session cache), as a server in front of Klarna
// would.
//
// Faults are chosen per connection from a seeded generator, by the connection's number in
// accept order (the same seed gives the same schedule): with probability fault_percent a
// connection gets one fault, hitting the k-th request on it; otherwise it serves 1 to
// max_requests_per_connection requests and then closes (half the time announced with
// `Connection: close`, half the time silently, as an idle server would). The faults:
//
//   refuse          accepted, then closed before any byte (a listening socket cannot refuse
//                   one connection and take the next: the kernel completes every handshake)
//   reset           the request is read (and, half the time, forwarded and answered by
//                   kom-sim), then the connection is reset (SO_LINGER 0)
//   close_request   N bytes of the request (N below its size) go to kom-sim, then both
//                   connections close: never applied
//   close_response  the request is forwarded; N bytes of kom-sim's answer (N below its
//                   size) reach the client, then the connection closes
//   stall           the request is read (half the time forwarded), then nothing more is
//                   sent until the client gives up and closes
//   trickle         the answer is sent one byte of the TLS stream at a time
//   status_500 ... status_429, status_503_retry_after, status_429_retry_after: the proxy
//                   answers with that status itself (Retry-After: retry_after_s for the last
//                   two), having forwarded the request first half the time for 502/504 and a
//                   quarter of the time for the others (a gateway that lost the answer)
//
// A test can also choose one connection's fault itself (proxy::force, struct forced): the
// next connection accepted takes it instead of the schedule's, with the request it hits,
// whether kom-sim gets the request first, where a close fault cuts, and the status a status
// fault answers (408 and 409 too).
//
// Bounded: at most max_connections connections and max_concurrent at a time, and no new
// one once max_bytes have been relayed (those are closed at once and counted as overflow);
// a message over 4 MiB ends its connection; it stops by itself after max_lifetime_ms, and
// stop() (and the destructor) ends it and joins every thread. Every wait polls in slices of
// 50 ms, so it stops within about that.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace faultproxy {

enum class fault : int {
  none,
  refuse,
  reset,
  close_request,
  close_response,
  stall,
  trickle,
  status_500,
  status_502,
  status_503,
  status_504,
  status_429,
  status_503_retry_after,
  status_429_retry_after,
};
inline constexpr int fault_kinds = 14;

const char* name(fault f) noexcept;

struct options {
  int upstream_port = 0;              ///< kom-sim on 127.0.0.1
  std::string cert_file;              ///< PEM certificate the proxy serves (kom-sim's)
  std::string key_file;               ///< its key
  std::string ca_file;                ///< CA that kom-sim's certificate must chain to
  std::uint64_t seed = 1;
  unsigned fault_percent = 33;        ///< share of connections that get a fault
  unsigned max_requests_per_connection = 4;
  /// Relative weights of the faults, indexed by fault (none's is ignored).
  unsigned weights[fault_kinds] = {0, 10, 10, 10, 10, 5, 8, 8, 8, 8, 8, 8, 1, 1};
  unsigned retry_after_s = 1;
  std::uint32_t trickle_gap_us = 100; ///< pause between the trickled bytes
  std::uint32_t stall_max_ms = 30000; ///< a stalled connection is closed after this anyway
  std::uint32_t idle_ms = 30000;      ///< longest wait for the next request on a connection
  std::uint32_t io_ms = 10000;        ///< longest wait for kom-sim, or inside one request
  std::uint32_t max_connections = 1000000;
  unsigned max_concurrent = 16;
  std::uint64_t max_bytes = 1ull << 32;
  std::uint32_t max_lifetime_ms = 600000;
};

/// One connection's fault, chosen by the test (proxy::force) instead of the schedule.
struct forced {
  fault kind = fault::none;    ///< the fault; none: the connection serves its requests without one
  unsigned hit = 0;            ///< the request on the connection it hits, 0 for the first
  bool forward_first = false;  ///< reset, stall and the status faults: kom-sim gets the request first
  /// close_request, close_response: the bytes of the message that get through (modulo its
  /// size, as in the schedule)
  std::uint64_t cut = 0;
  /// close_request, close_response: `cut` counts back from the message's end instead: that
  /// many bytes are withheld (all of them when the message is no longer)
  bool cut_from_end = false;
  /// the status faults: answer with this status instead of the fault's own (e.g. 408, 409;
  /// with Retry-After only for status_503_retry_after and status_429_retry_after); 0: the
  /// fault's own
  int status = 0;
};

/// What happened so far (a snapshot).
struct counts {
  std::uint64_t connections = 0;       ///< accepted
  std::uint64_t overflow = 0;          ///< closed at once: max_concurrent or max_connections reached
  std::uint64_t requests = 0;          ///< complete requests read from clients
  std::uint64_t forwarded = 0;         ///< requests sent whole to kom-sim
  std::uint64_t clean_closes = 0;      ///< connections ended by the proxy without a fault
  std::uint64_t upstream_failures = 0; ///< kom-sim could not be reached or answered badly
  std::uint64_t bytes = 0;             ///< plain-text bytes relayed both ways
  std::uint64_t faults[fault_kinds] = {};  ///< faults that actually hit a request or connection
  std::uint64_t faults_after_forwarding = 0;  ///< of those: the request had reached kom-sim
  std::uint64_t total_faults() const noexcept {
    std::uint64_t n = 0;
    for (int i = 1; i < fault_kinds; ++i) n += faults[i];
    return n;
  }
};

class proxy {
 public:
  explicit proxy(const options& o);  // throws std::runtime_error when it cannot listen or load
  ~proxy();
  proxy(const proxy&) = delete;
  proxy& operator=(const proxy&) = delete;

  int port() const noexcept { return port_; }
  void stop() noexcept;
  counts snapshot() const;

  /// Queues `f` for the next connection accepted and served (not one closed at once for a
  /// limit): each such connection takes the oldest fault queued, if any, instead of the
  /// schedule's, and serves at least f.hit + 1 requests. The schedule's draws for it are
  /// made all the same, so later connections get the faults they would have got.
  /// Thread-safe.
  void force(const forced& f);
  /// Faults queued by force() that no connection has taken yet. Thread-safe.
  std::size_t forced_waiting() const;

  struct shared;  // certificates, session caches, counters (fault_proxy.cpp)

 private:
  void accept_loop() noexcept;

  options options_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::unique_ptr<shared> shared_;
  std::thread acceptor_;
};

}  // namespace faultproxy
