// kom-fleet: a merchant's terminals after an outage. N terminals, each a kom::client with its
// own TLS connection to one kom-sim and its own outbox holding M queued operations, start
// draining at the same moment into one merchant-wide rate limit of R requests a second.
//
// The checks, from kom-sim's state and the terminals' own records:
//   exactly once  every queued operation is on kom-sim's orders once: no capture, shipping
//                 entry, send-out or refund missing or doubled, every release applied;
//   utilisation   from the start until the last terminal is done, accepted requests per
//                 second average at least 80% of R;
//   fairness      no terminal is done later than 3x the median terminal;
//   no give-up    every terminal's first drain ends with its outbox empty: no call gave up
//                 (retry_later) while the server was only rate-limiting.
//
//   kom-fleet [--terminals N] [--ops M] [--rate R] [--series FILE.csv]
//   kom-fleet --capacity SECONDS [--terminals N]     kom-sim's own rate, no limit set
//
// Terminals are threads of this process; kom-sim is a child process; 127.0.0.1 only. The run
// stops by itself: terminals drain again until a deadline, then the checks fail.
#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "../sim/test_support.hpp"
#include "../support/mem_storage.hpp"
#include "kom/client.hpp"
#include "kom/outbox.hpp"
#include "kom/posix_transport.hpp"
#include "kom/tls.hpp"
#include "kom/uuid.hpp"

namespace {

namespace json = boost::json;

using fleet_outbox = kom::basic_outbox<kom::capacity::operations<32>, kom::capacity::record_bytes<512>,
                                       kom::capacity::lines<2>, kom::capacity::shipping_entries<2>>;

std::uint64_t steady_ms() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
}

std::uint64_t wall_ms() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

// kom::posix_tcp dialing 127.0.0.1 whatever name the TLS layer verifies ("localhost").
struct loopback {
  int connect(std::string_view, std::uint16_t port, std::uint32_t timeout_ms) noexcept {
    return tcp.connect("127.0.0.1", port, timeout_ms);
  }
  int send(const unsigned char* data, std::size_t size) noexcept { return tcp.send(data, size); }
  int recv(unsigned char* data, std::size_t size, std::uint32_t timeout_ms) noexcept {
    return tcp.recv(data, size, timeout_ms);
  }
  void close() noexcept { tcp.close(); }
  kom::error error() const noexcept { return tcp.error(); }
  kom::transport transport() noexcept { return kom::make_transport(*this); }
  kom::posix_tcp tcp;
};

// What one queued operation is, and what kom-sim's order must show for it.
enum class op_kind { capture, shipping_info, send_out, refund, release };
const char* kind_name(op_kind k) {
  switch (k) {
    case op_kind::capture: return "capture";
    case op_kind::shipping_info: return "shipping info";
    case op_kind::send_out: return "send-out";
    case op_kind::refund: return "refund";
    case op_kind::release: return "release";
  }
  return "?";
}

constexpr std::int64_t capture_amount = 1000;
constexpr std::int64_t refund_amount = 300;

// Terminal i's M operations: a capture first, then what follows a sale at a till, in one of
// three patterns; a release only as the last operation (nothing can be captured after it).
std::vector<op_kind> plan(std::size_t terminal, std::size_t ops) {
  static const op_kind patterns[3][3] = {
      {op_kind::capture, op_kind::shipping_info, op_kind::send_out},
      {op_kind::capture, op_kind::refund, op_kind::release},
      {op_kind::capture, op_kind::shipping_info, op_kind::refund},
  };
  std::vector<op_kind> out;
  for (std::size_t j = 0; j < ops; ++j) {
    op_kind k = patterns[terminal % 3][j % 3];
    if (k == op_kind::release && j + 1 != ops) k = op_kind::send_out;
    out.push_back(k);
  }
  return out;
}

struct response_note {
  std::uint32_t at_ms;  // since the start
  int status;
};

struct terminal {
  std::size_t index = 0;
  std::string order_id;
  std::vector<op_kind> ops;
  std::vector<std::string> references;  // per operation (captures and refunds carry one)
  std::string tracking;

  kom::random_source rng;
  loopback wire;
  std::unique_ptr<kom::tls_stream> tls;
  char work[8192];
  std::unique_ptr<kom::client> client;
  mem_storage flash{1024, 8};
  std::unique_ptr<fleet_outbox> box;
  kom::capture items[4];
  kom::capture_storage<> listing;

  // The terminal's records, written by its own thread only.
  std::uint64_t start_ms = 0;  // the common start
  std::vector<response_note> responses;
  std::uint32_t longest_call_ms = 0;
  std::uint64_t done_ms = 0;  // since the start; 0: never
  bool gave_up = false;
  std::string why;
  std::size_t drains = 0;
  std::size_t failed = 0;
  // Capacity mode.
  std::uint64_t served = 0;
  std::uint64_t other = 0;
};

kom::client_hooks hooks_of(terminal& t) {
  kom::client_hooks h;
  h.context = &t;
  h.now_ms = [](void*) { return steady_ms(); };
  h.sleep_ms = [](void*, std::uint32_t ms) { ::usleep(static_cast<useconds_t>(ms) * 1000u); };
  h.log = [](void* c, const kom::log_record& r) {
    auto* self = static_cast<terminal*>(c);
    if (r.what == kom::log_record::kind::response) {
      self->responses.push_back({static_cast<std::uint32_t>(steady_ms() - self->start_ms), r.status});
      if (r.elapsed_ms > self->longest_call_ms) self->longest_call_ms = r.elapsed_ms;
    }
  };
  h.random = kom::random_source::callback();
  h.random_context = t.rng.context();
  return h;
}

// Sets up terminal i: its client (the library's default retry policy: that is what is
// tested), its outbox in RAM and its M operations queued. Empty on success, else why not.
std::string set_up(terminal& t, std::size_t i, std::size_t ops, int port, const std::string& ca_pem) {
  t.index = i;
  t.order_id = "fleet-" + std::to_string(i);
  t.ops = plan(i, ops);
  t.tracking = "TRK-" + std::to_string(i);
  if (t.rng.seed(t.order_id) != 0) return "DRBG seed failed";
  t.tls = std::make_unique<kom::tls_stream>(t.wire.transport(), kom::random_source::callback(), t.rng.context());
  if (!t.tls->add_ca(reinterpret_cast<const unsigned char*>(ca_pem.c_str()), ca_pem.size() + 1).ok())
    return "CA not accepted";
  kom::client_config config;
  config.request.server = {"localhost", static_cast<std::uint16_t>(port)};
  config.request.credentials.username = "fleet";
  config.request.credentials.password = "fleet-secret";
  t.client = std::make_unique<kom::client>(t.tls->transport(), config, hooks_of(t), t.work);

  kom::wall_clock clock;
  clock.now_ms = [](void*) { return wall_ms(); };
  t.box = std::make_unique<fleet_outbox>(t.flash.storage(), clock);
  if (kom::error e = t.box->open(); !e.ok()) return "outbox open failed";
  std::uint32_t last_capture = 0;
  t.references.resize(ops);
  for (std::size_t j = 0; j < ops; ++j) {
    const auto key = t.client->new_idempotency_key();
    if (!key) return "no key";
    t.references[j] = "sale-" + std::to_string(i) + "-" + std::to_string(j);
    const auto queue = [&]() -> kom::result<std::uint32_t> {
      switch (t.ops[j]) {
        case op_kind::capture: {
          kom::capture_request c;
          c.captured_amount = capture_amount;
          c.reference = t.references[j];
          return t.box->append_capture(t.order_id, c, key->view());
        }
        case op_kind::shipping_info: {
          kom::shipping_info s[1];
          s[0].shipping_company = "PostNord";
          s[0].shipping_method = kom::shipping_method::pick_up_store;
          s[0].tracking_number = t.tracking;
          kom::shipping_info_update u;
          u.shipping_info = s;
          return t.box->append_shipping_info(t.order_id, kom::capture_ref::of_record(last_capture), u, key->view());
        }
        case op_kind::send_out:
          return t.box->append_send_out(t.order_id, kom::capture_ref::of_record(last_capture), key->view());
        case op_kind::refund: {
          kom::refund_request r;
          r.refunded_amount = refund_amount;
          r.reference = t.references[j];
          return t.box->append_refund(t.order_id, r, key->view(), kom::capture_ref::of_record(last_capture));
        }
        case op_kind::release:
          break;
      }
      return t.box->append_release_remaining_authorization(t.order_id, key->view());
    };
    const kom::result<std::uint32_t> seq = queue();
    if (seq && t.ops[j] == op_kind::capture) last_capture = *seq;
    if (!seq) return std::string("append failed: ") + kind_name(t.ops[j]);
  }
  return {};
}

// The common start: every terminal waits here, then all go at once.
struct start_gate {
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  void wait() {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return open; });
  }
  void release() {
    {
      std::lock_guard<std::mutex> lock(mu);
      open = true;
    }
    cv.notify_all();
  }
};

// Threads with a small stack, so that thousands fit.
class thread_group {
 public:
  void spawn(std::function<void()> fn) {
    auto* job = new std::function<void()>(std::move(fn));
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 512 * 1024);
    pthread_t t;
    const int rc = pthread_create(
        &t, &attr,
        [](void* p) -> void* {
          std::unique_ptr<std::function<void()>> f(static_cast<std::function<void()>*>(p));
          (*f)();
          return nullptr;
        },
        job);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
      delete job;
      std::fprintf(stderr, "kom-fleet: pthread_create: %s\n", std::strerror(rc));
      std::exit(2);
    }
    threads_.push_back(t);
  }
  void join() {
    for (pthread_t t : threads_) pthread_join(t, nullptr);
    threads_.clear();
  }

 private:
  std::vector<pthread_t> threads_;
};

// Runs fn(i) for every terminal on `workers` threads: the set-up and the connects.
void for_each_parallel(std::size_t n, std::size_t workers, const std::function<void(std::size_t)>& fn) {
  std::atomic<std::size_t> next{0};
  thread_group g;
  for (std::size_t w = 0; w < workers; ++w)
    g.spawn([&] {
      for (std::size_t i; (i = next.fetch_add(1)) < n;) fn(i);
    });
  g.join();
}

json::value sim_state(int port) {
  simtest::TlsClient admin(port, 60000);
  const auto r = admin.request(simtest::http("GET", "/_sim/state", {}, {}, false));
  if (r.status != 200) throw std::runtime_error("GET /_sim/state: " + std::to_string(r.status));
  return json::parse(r.body);
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

struct args {
  std::size_t terminals = 200;
  std::size_t ops = 3;
  int rate = 50;
  std::string series;
  int capacity_seconds = 0;
};

bool parse_args(int argc, char** argv, args& a) {
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    if (i + 1 >= argc) return false;
    const char* v = argv[++i];
    char* end = nullptr;
    const long long n = std::strtoll(v, &end, 10);
    const bool number = end != v && *end == '\0';
    if (k == "--terminals" && number && n >= 1 && n <= 20000) a.terminals = static_cast<std::size_t>(n);
    else if (k == "--ops" && number && n >= 1 && n <= 30) a.ops = static_cast<std::size_t>(n);
    else if (k == "--rate" && number && n >= 1 && n <= 100000) a.rate = static_cast<int>(n);
    else if (k == "--capacity" && number && n >= 1 && n <= 3600) a.capacity_seconds = static_cast<int>(n);
    else if (k == "--series") a.series = v;
    else return false;
  }
  return true;
}

// Descriptors: one a terminal here, one a connection in kom-sim (a child: it raises its own).
void raise_file_limit(std::size_t need) {
  rlimit files{};
  if (::getrlimit(RLIMIT_NOFILE, &files) != 0) return;
  rlimit raised = files;
  if (raised.rlim_max < need) raised.rlim_max = need;  // root may raise the hard limit
  raised.rlim_cur = raised.rlim_max;
  if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) {
    files = raised;
  } else if (files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &files);
  }
  if (files.rlim_cur < need) {
    std::fprintf(stderr, "kom-fleet: needs %zu descriptors, the limit is %llu\n", need,
                 static_cast<unsigned long long>(files.rlim_cur));
    std::exit(2);
  }
}

// Opens every terminal's connection before the start (a TLS handshake each), on two threads.
bool connect_all(std::vector<std::unique_ptr<terminal>>& fleet) {
  const std::uint64_t t0 = steady_ms();
  std::atomic<std::size_t> failed{0};
  for_each_parallel(fleet.size(), 2, [&](std::size_t i) {
    if (!fleet[i]->client->connect().ok()) ++failed;
  });
  std::printf("  connected: %zu TLS connections in %.1f s\n", fleet.size() - failed.load(),
              static_cast<double>(steady_ms() - t0) / 1000.0);
  if (failed.load() != 0) std::printf("FAIL: %zu terminals could not connect\n", failed.load());
  return failed.load() == 0;
}

// kom-sim's own rate: every terminal reads its order over and over, no limit set.
int capacity(const args& a, int port, std::vector<std::unique_ptr<terminal>>& fleet) {
  if (!connect_all(fleet)) return 1;
  start_gate gate;
  std::atomic<bool> stop{false};
  thread_group g;
  for (auto& tp : fleet) {
    terminal* t = tp.get();
    g.spawn([t, &gate, &stop] {
      auto storage = std::make_unique<kom::order_storage<>>();
      gate.wait();
      while (!stop.load(std::memory_order_relaxed)) {
        const auto r = t->client->get_order(t->order_id, *storage);
        if (r.ok()) ++t->served;
        else ++t->other;
      }
    });
  }
  const std::uint64_t t0 = steady_ms();
  gate.release();
  ::usleep(static_cast<useconds_t>(a.capacity_seconds) * 1000000u);
  stop.store(true);
  const std::uint64_t t1 = steady_ms();
  g.join();
  std::uint64_t served = 0, other = 0;
  for (auto& t : fleet) {
    served += t->served;
    other += t->other;
  }
  const json::value st = sim_state(port);
  const double seconds = static_cast<double>(t1 - t0) / 1000.0;
  std::printf("  kom-sim served %llu GET order requests in %.1f s: %.0f requests/s over %zu kept-alive "
              "connections (peak %lld open), %llu failed\n",
              static_cast<unsigned long long>(served), seconds, static_cast<double>(served) / seconds, fleet.size(),
              static_cast<long long>(st.at("connections_peak").as_int64()), static_cast<unsigned long long>(other));
  return other == 0 && served > 0 ? 0 : 1;
}

// Compares kom-sim's orders with what the terminals queued. Returns the number of mismatches
// (each printed, the first 20).
std::size_t check_exactly_once(const json::value& state, const std::vector<std::unique_ptr<terminal>>& fleet,
                               std::size_t& operations) {
  std::map<std::string, const json::object*> orders;
  for (const auto& o : state.at("orders").as_array()) orders[std::string(o.at("order_id").as_string())] = &o.as_object();
  std::size_t bad = 0;
  auto complain = [&](const terminal& t, const std::string& what) {
    if (++bad <= 20) std::printf("  order %s: %s\n", t.order_id.c_str(), what.c_str());
  };
  for (const auto& tp : fleet) {
    const terminal& t = *tp;
    const auto it = orders.find(t.order_id);
    if (it == orders.end()) {
      complain(t, "missing at kom-sim");
      continue;
    }
    const json::object& o = *it->second;
    // The expected order: captures by reference, each with its shipping entries and
    // send-outs; refunds by reference; released or not.
    struct expected_capture {
      int shipping = 0;
      int send_outs = 0;
    };
    std::map<std::string, expected_capture> captures;
    std::map<std::string, int> refunds;
    std::string last;
    bool released = false;
    for (std::size_t j = 0; j < t.ops.size(); ++j) {
      ++operations;
      switch (t.ops[j]) {
        case op_kind::capture: last = t.references[j], captures[last]; break;
        case op_kind::shipping_info: ++captures[last].shipping; break;
        case op_kind::send_out: ++captures[last].send_outs; break;
        case op_kind::refund: ++refunds[t.references[j]]; break;
        case op_kind::release: released = true; break;
      }
    }
    std::map<std::string, int> seen_captures;
    for (const auto& cv : o.at("captures").as_array()) {
      const json::object& c = cv.as_object();
      const std::string ref = c.at("reference").is_string() ? std::string(c.at("reference").as_string()) : "";
      ++seen_captures[ref];
      const auto e = captures.find(ref);
      if (e == captures.end()) {
        complain(t, "a capture nobody queued: '" + ref + "'");
        continue;
      }
      if (c.at("captured_amount").as_int64() != capture_amount) complain(t, "capture " + ref + " has the wrong amount");
      const auto shipping = static_cast<int>(c.at("shipping_info").as_array().size());
      if (shipping != e->second.shipping)
        complain(t, "capture " + ref + ": " + std::to_string(shipping) + " shipping entries, queued " +
                        std::to_string(e->second.shipping));
      const auto send_outs = static_cast<int>(c.at("send_out_count").as_int64());
      if (send_outs != e->second.send_outs)
        complain(t, "capture " + ref + ": " + std::to_string(send_outs) + " send-outs, queued " +
                        std::to_string(e->second.send_outs));
    }
    for (const auto& e : captures)
      if (seen_captures[e.first] != 1)
        complain(t, "capture " + e.first + " applied " + std::to_string(seen_captures[e.first]) + " times");
    std::map<std::string, int> seen_refunds;
    for (const auto& rv : o.at("refunds").as_array()) {
      const json::object& r = rv.as_object();
      const std::string ref = r.at("reference").is_string() ? std::string(r.at("reference").as_string()) : "";
      ++seen_refunds[ref];
      if (refunds.find(ref) == refunds.end()) complain(t, "a refund nobody queued: '" + ref + "'");
      if (r.at("refunded_amount").as_int64() != refund_amount) complain(t, "refund " + ref + " has the wrong amount");
    }
    for (const auto& e : refunds)
      if (seen_refunds[e.first] != 1)
        complain(t, "refund " + e.first + " applied " + std::to_string(seen_refunds[e.first]) + " times");
    const std::string status(o.at("status").as_string());
    if (released != (status == "CLOSED")) complain(t, "status " + status + (released ? ", queued a release" : ""));
  }
  return bad;
}

int drain(const args& a, int port, std::vector<std::unique_ptr<terminal>>& fleet) {
  if (!connect_all(fleet)) return 1;
  const json::value before = sim_state(port);

  // Each terminal drains once from the common start; should its drain stop, it has given up,
  // and it drains again (as a terminal's next scheduled drain would) so that the run ends.
  const double ideal_s = static_cast<double>(a.terminals * a.ops) / a.rate;
  const std::uint64_t deadline_ms = static_cast<std::uint64_t>(std::max(120.0, 6.0 * ideal_s) * 1000.0);
  start_gate gate;
  thread_group g;
  std::uint64_t start = 0;
  for (auto& tp : fleet) {
    terminal* t = tp.get();
    g.spawn([t, &gate, &start, deadline_ms] {
      gate.wait();
      t->start_ms = start;
      for (;;) {
        ++t->drains;
        const kom::outbox_drain d = t->box->drain(*t->client, t->items, t->listing);
        t->failed += d.failed;
        if (d.failed != 0 && t->why.empty()) {
          kom::outbox_item item;
          for (std::uint32_t seq = 1; t->box->read(seq, item).ok(); ++seq)
            if (item.state == kom::outbox_state::failed) {
              char why[160];
              t->why = std::string(kind_name(t->ops[seq - 1])) + " failed: " +
                       std::string(kom::error(item.failure.code, item.failure.status).describe(why)) + " " +
                       std::string(item.failure.error_code) + " " + std::string(item.failure.message);
              break;
            }
        }
        if (d.pending == 0) break;
        if (!t->gave_up) {
          t->gave_up = true;
          char why[160];
          t->why = std::string(d.error.describe(why));
          if (d.error.code() == kom::errc::http_error) t->why += " (HTTP " + std::to_string(d.error.detail()) + ")";
        }
        if (steady_ms() - t->start_ms > deadline_ms) return;
        ::usleep(1000000);
      }
      t->done_ms = steady_ms() - t->start_ms;
      if (t->done_ms == 0) t->done_ms = 1;
    });
  }
  start = steady_ms();
  gate.release();
  g.join();
  const json::value after = sim_state(port);

  // ---- the records ----
  bool pass = true;
  std::vector<std::uint64_t> done;
  std::size_t gave_up = 0, unfinished = 0, failed = 0;
  std::uint64_t accepted = 0, limited = 0, other = 0;
  std::uint32_t longest_call = 0;
  for (auto& t : fleet) {
    if (t->done_ms == 0) ++unfinished;
    else done.push_back(t->done_ms);
    if (t->gave_up) {
      if (++gave_up <= 10) std::printf("  terminal %zu gave up: %s\n", t->index, t->why.c_str());
    }
    failed += t->failed;
    if (t->failed != 0 && failed == t->failed) std::printf("  terminal %zu: %s\n", t->index, t->why.c_str());
    longest_call = std::max(longest_call, t->longest_call_ms);
    for (const auto& r : t->responses) {
      if (r.status == 429) ++limited;
      else if (r.status >= 200 && r.status < 300) ++accepted;
      else ++other;
    }
  }
  if (unfinished != 0) {
    std::printf("FAIL: %zu terminals not done within %.0f s\n", unfinished, static_cast<double>(deadline_ms) / 1000.0);
    pass = false;
  }
  std::sort(done.begin(), done.end());
  const double last_s = done.empty() ? 0 : static_cast<double>(done.back()) / 1000.0;
  const double median_s = done.empty() ? 0 : static_cast<double>(done[(done.size() - 1) / 2]) / 1000.0;

  // kom-sim's count of what it answered during the run (the state reads aside).
  const std::int64_t sim_requests =
      after.at("requests").as_int64() - before.at("requests").as_int64() - 1;  // the second state read
  const std::int64_t sim_limited = after.at("rate_limited").as_int64() - before.at("rate_limited").as_int64();
  const std::int64_t sim_applied = after.at("applied_posts").as_int64() - before.at("applied_posts").as_int64();
  std::printf("  requests: %llu accepted, %llu answered 429, %llu other (kom-sim: %lld requests, %lld answered 429, "
              "%lld applied)\n",
              static_cast<unsigned long long>(accepted), static_cast<unsigned long long>(limited),
              static_cast<unsigned long long>(other), static_cast<long long>(sim_requests),
              static_cast<long long>(sim_limited), static_cast<long long>(sim_applied));
  if (static_cast<std::int64_t>(accepted + limited + other) != sim_requests ||
      static_cast<std::int64_t>(limited) != sim_limited) {
    std::printf("FAIL: the terminals' records and kom-sim's counts differ\n");
    pass = false;
  }
  if (other != 0) {
    std::printf("FAIL: %llu answers were neither 2xx nor 429\n", static_cast<unsigned long long>(other));
    pass = false;
  }

  std::size_t operations = 0;
  const std::size_t mismatches = check_exactly_once(after, fleet, operations);
  std::printf("  exactly once: %zu operations on %zu orders, %zu mismatches, %zu failed for good\n", operations,
              fleet.size(), mismatches, failed);
  if (mismatches != 0 || failed != 0 || sim_applied != static_cast<std::int64_t>(operations)) {
    std::printf("FAIL: exactly once (kom-sim applied %lld changes for %zu operations)\n",
                static_cast<long long>(sim_applied), operations);
    pass = false;
  }

  // Utilisation: kom-sim's accepted requests over the time to the last terminal's end. Its
  // bucket starts full, so the best a fleet can do is R a second plus that one burst.
  const double utilisation = last_s > 0 ? static_cast<double>(sim_requests - sim_limited) / last_s / a.rate : 0;
  // Without the bucket's first burst (R tokens at the start): the rate the fleet kept up.
  const double sustained = last_s > 0 ? static_cast<double>(sim_requests - sim_limited - a.rate) / last_s / a.rate : 0;
  std::printf("  utilisation: %.2f of %d/s (%lld accepted in %.1f s; at least 0.80); %.2f without the "
              "bucket's first burst\n",
              utilisation, a.rate, static_cast<long long>(sim_requests - sim_limited), last_s, sustained);
  if (utilisation < 0.8) {
    std::printf("FAIL: utilisation\n");
    pass = false;
  }
  const double ratio = median_s > 0 ? last_s / median_s : 0;
  std::printf("  fairness: the last terminal done at %.1f s, the median at %.1f s: %.2f times (at most 3)\n", last_s,
              median_s, ratio);
  if (done.empty() || ratio > 3.0) {
    std::printf("FAIL: fairness\n");
    pass = false;
  }
  std::printf("  gave up: %zu terminals (drains that stopped while the server only rate-limited)\n", gave_up);
  if (gave_up != 0) pass = false;
  std::printf("  longest call: %.1f s (mostly waiting out 429s)\n", static_cast<double>(longest_call) / 1000.0);

  // The time series, a line a second: accepted, 429s, terminals still draining.
  if (!a.series.empty()) {
    const std::size_t seconds = static_cast<std::size_t>(last_s) + 2;
    std::vector<std::uint64_t> acc(seconds), lim(seconds);
    for (auto& t : fleet)
      for (const auto& r : t->responses) {
        const std::size_t s = std::min<std::size_t>(r.at_ms / 1000, seconds - 1);
        if (r.status == 429) ++lim[s];
        else ++acc[s];
      }
    std::FILE* f = std::fopen(a.series.c_str(), "w");
    if (f == nullptr) {
      std::printf("FAIL: cannot write %s\n", a.series.c_str());
      return 1;
    }
    std::fprintf(f, "second,accepted,rate_limited,draining\n");
    for (std::size_t s = 0; s < seconds; ++s) {
      const auto draining =
          static_cast<std::size_t>(std::count_if(done.begin(), done.end(), [&](std::uint64_t d) { return d > s * 1000; })) +
          unfinished;
      std::fprintf(f, "%zu,%llu,%llu,%zu\n", s, static_cast<unsigned long long>(acc[s]),
                   static_cast<unsigned long long>(lim[s]), draining);
    }
    std::fclose(f);
  }
  std::printf(pass ? "PASS\n" : "FAIL\n");
  return pass ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  args a;
  if (!parse_args(argc, argv, a)) {
    std::fprintf(stderr,
                 "usage: kom-fleet [--terminals N] [--ops M] [--rate R] [--series FILE.csv]\n"
                 "       kom-fleet --capacity SECONDS [--terminals N]\n");
    return 2;
  }
  raise_file_limit(a.terminals + 64);
  try {
    // One order a terminal, seeded from a file (kom-sim's last --orders wins).
    char tmpl[] = "/tmp/kom-fleet-orders.XXXXXX";
    const int fd = ::mkstemp(tmpl);
    if (fd < 0) throw std::runtime_error("mkstemp failed");
    ::close(fd);
    const std::string orders_file = tmpl;
    {
      std::ofstream out(orders_file);
      out << "[";
      for (std::size_t i = 0; i < a.terminals; ++i)
        out << (i ? "," : "") << R"({"order_id":"fleet-)" << i << R"(","order_amount":)"
            << capture_amount * static_cast<std::int64_t>(a.ops + 1)
            << R"(,"purchase_currency":"EUR","expires_at":"2099-12-31T23:59:59Z"})";
      out << "]";
    }
    std::vector<std::string> sim_args{"--orders", orders_file, "--username", "fleet", "--password", "fleet-secret",
                                      "--max-connections",
                                      std::to_string(a.terminals + 64), "--read-timeout-ms", "900000"};
    if (a.capacity_seconds == 0) {
      sim_args.push_back("--rate-limit");
      sim_args.push_back(std::to_string(a.rate));
    }
    simtest::SimProcess sim(sim_args);
    ::unlink(orders_file.c_str());
    const std::string ca_pem = read_text(simtest::certs_dir() + "/ca.crt");

    if (a.capacity_seconds != 0)
      std::printf("kom-fleet: kom-sim's capacity, no rate limit: %zu terminals reading their orders for %d s\n",
                  a.terminals, a.capacity_seconds);
    else
      std::printf("kom-fleet: %zu terminals x %zu operations into a rate limit of %d/s\n", a.terminals, a.ops,
                  a.rate);
    std::fflush(stdout);
    std::vector<std::unique_ptr<terminal>> fleet(a.terminals);
    std::vector<std::string> errors(a.terminals);
    for (auto& t : fleet) t = std::make_unique<terminal>();
    for_each_parallel(a.terminals, 2, [&](std::size_t i) { errors[i] = set_up(*fleet[i], i, a.ops, sim.port(), ca_pem); });
    for (std::size_t i = 0; i < a.terminals; ++i)
      if (!errors[i].empty()) {
        std::printf("FAIL: terminal %zu: %s\n", i, errors[i].c_str());
        return 1;
      }
    const int rc = a.capacity_seconds != 0 ? capacity(a, sim.port(), fleet) : drain(a, sim.port(), fleet);
    std::fflush(stdout);
    fleet.clear();
    if (sim.stop() != 0) {
      std::printf("FAIL: kom-sim did not stop cleanly\n");
      return 1;
    }
    return rc;
  } catch (const std::exception& e) {
    std::printf("FAIL: %s\n", e.what());
    return 1;
  }
}
