// The fault-injecting TLS-terminating proxy of fault_proxy.hpp.
#include "fault_proxy.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
#include <optional>
#include <stdexcept>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_cache.h>
#include <mbedtls/version.h>
#include <mbedtls/x509_crt.h>

namespace faultproxy {

const char* name(fault f) noexcept {
  switch (f) {
    case fault::none: return "none";
    case fault::refuse: return "refuse";
    case fault::reset: return "reset";
    case fault::close_request: return "close_request";
    case fault::close_response: return "close_response";
    case fault::stall: return "stall";
    case fault::trickle: return "trickle";
    case fault::status_500: return "status_500";
    case fault::status_502: return "status_502";
    case fault::status_503: return "status_503";
    case fault::status_504: return "status_504";
    case fault::status_429: return "status_429";
    case fault::status_503_retry_after: return "status_503_retry_after";
    case fault::status_429_retry_after: return "status_429_retry_after";
  }
  return "?";
}

namespace {

std::uint64_t now_ms() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
}

constexpr int slice_ms = 50;                   // every wait polls this long at most, then checks stop
constexpr std::size_t max_message = 4u << 20;  // a larger head or body is a failure

// splitmix64: the per-connection schedule.
struct schedule_rng {
  std::uint64_t s;
  std::uint64_t next() {
    std::uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  std::uint64_t below(std::uint64_t n) { return n == 0 ? 0 : next() % n; }
  bool percent(unsigned p) { return below(100) < p; }
};

std::string lower(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

// The value of header `name` (lower case) in a head, or "" (found = false).
std::string header(const std::string& head, const std::string& name, bool& found) {
  found = false;
  std::size_t pos = head.find("\r\n");
  while (pos != std::string::npos && pos + 2 < head.size()) {
    const std::size_t start = pos + 2;
    const std::size_t end = head.find("\r\n", start);
    if (end == std::string::npos || end == start) break;
    const std::string line = head.substr(start, end - start);
    const std::size_t colon = line.find(':');
    if (colon != std::string::npos && lower(line.substr(0, colon)) == name) {
      std::string v = line.substr(colon + 1);
      while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.erase(0, 1);
      while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.pop_back();
      found = true;
      return v;
    }
    pos = end;
  }
  return {};
}

}  // namespace

struct proxy::shared {
  options opt;
  std::atomic<bool> stopping{false};
  std::uint64_t deadline_ms = 0;
  std::atomic<unsigned> active{0};

  mutable std::mutex mu;  // c, upstream session, forced_queue
  counts c;
  std::deque<forced> forced_queue;
  mbedtls_ssl_session upstream_session;
  bool have_upstream_session = false;

  std::mutex cache_mu;
  mbedtls_ssl_cache_context cache;

  std::string cert_pem, key_pem, ca_pem;

  struct worker {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  std::vector<worker> workers;  // the acceptor's until it is joined

  shared() {
    mbedtls_ssl_session_init(&upstream_session);
    mbedtls_ssl_cache_init(&cache);
  }
  ~shared() {
    mbedtls_ssl_session_free(&upstream_session);
    mbedtls_ssl_cache_free(&cache);
  }

  bool should_stop() const { return stopping.load() || now_ms() >= deadline_ms; }

  void add(std::uint64_t counts::*field, std::uint64_t n = 1) {
    std::lock_guard<std::mutex> lock(mu);
    c.*field += n;
  }
  void add_fault(fault f, bool after_forwarding) {
    std::lock_guard<std::mutex> lock(mu);
    ++c.faults[static_cast<int>(f)];
    if (after_forwarding) ++c.faults_after_forwarding;
  }
  bool over_bytes() const {
    std::lock_guard<std::mutex> lock(mu);
    return c.bytes >= opt.max_bytes;
  }
};

namespace {

#if MBEDTLS_VERSION_NUMBER >= 0x03000000
int cache_get(void* p, unsigned char const* id, size_t id_len, mbedtls_ssl_session* session) {
  auto* sh = static_cast<proxy::shared*>(p);
  std::lock_guard<std::mutex> lock(sh->cache_mu);
  return mbedtls_ssl_cache_get(&sh->cache, id, id_len, session);
}
int cache_set(void* p, unsigned char const* id, size_t id_len, const mbedtls_ssl_session* session) {
  auto* sh = static_cast<proxy::shared*>(p);
  std::lock_guard<std::mutex> lock(sh->cache_mu);
  return mbedtls_ssl_cache_set(&sh->cache, id, id_len, session);
}
#else
int cache_get(void* p, mbedtls_ssl_session* session) {
  auto* sh = static_cast<proxy::shared*>(p);
  std::lock_guard<std::mutex> lock(sh->cache_mu);
  return mbedtls_ssl_cache_get(&sh->cache, session);
}
int cache_set(void* p, const mbedtls_ssl_session* session) {
  auto* sh = static_cast<proxy::shared*>(p);
  std::lock_guard<std::mutex> lock(sh->cache_mu);
  return mbedtls_ssl_cache_set(&sh->cache, session);
}
#endif

// One socket under one TLS context: the BIO callbacks wait in slices and give up when the
// proxy stops or the current deadline passes.
struct tls_end {
  proxy::shared* sh = nullptr;
  int fd = -1;
  std::uint64_t deadline = 0;
  bool trickle = false;
  bool handshaken = false;
  std::string in;  // plain text read but not yet used

  mbedtls_ssl_context ssl;
  mbedtls_ssl_config conf;
  mbedtls_ctr_drbg_context drbg;
  mbedtls_entropy_context entropy;
  mbedtls_x509_crt crt;
  mbedtls_pk_context key;

  explicit tls_end(proxy::shared* s) : sh(s) {
    mbedtls_ssl_init(&ssl);
    mbedtls_ssl_config_init(&conf);
    mbedtls_ctr_drbg_init(&drbg);
    mbedtls_entropy_init(&entropy);
    mbedtls_x509_crt_init(&crt);
    mbedtls_pk_init(&key);
  }
  ~tls_end() {
    close_abruptly();
    mbedtls_ssl_free(&ssl);
    mbedtls_ssl_config_free(&conf);
    mbedtls_ctr_drbg_free(&drbg);
    mbedtls_entropy_free(&entropy);
    mbedtls_x509_crt_free(&crt);
    mbedtls_pk_free(&key);
  }
  tls_end(const tls_end&) = delete;
  tls_end& operator=(const tls_end&) = delete;

  void wait_for(std::uint32_t ms) { deadline = now_ms() + ms; }

  // 1 ready, 0 give up (stopping or past the deadline).
  int ready(short events) const {
    for (;;) {
      if (sh->should_stop() || now_ms() >= deadline) return 0;
      pollfd p{};
      p.fd = fd;
      p.events = events;
      const int r = ::poll(&p, 1, slice_ms);
      if (r > 0) return 1;
      if (r < 0 && errno != EINTR) return 1;  // let the call itself report it
    }
  }

  static int send_cb(void* ctx, const unsigned char* buf, size_t len) {
    auto* e = static_cast<tls_end*>(ctx);
    const size_t n = e->trickle ? 1 : len;
    for (;;) {
      const ssize_t sent = ::send(e->fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (sent >= 0) {
        if (e->trickle && e->sh->opt.trickle_gap_us > 0)
          std::this_thread::sleep_for(std::chrono::microseconds(e->sh->opt.trickle_gap_us));
        return static_cast<int>(sent);
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        if (e->ready(POLLOUT) == 0) return MBEDTLS_ERR_NET_SEND_FAILED;
        continue;
      }
      return errno == EPIPE || errno == ECONNRESET ? MBEDTLS_ERR_NET_CONN_RESET : MBEDTLS_ERR_NET_SEND_FAILED;
    }
  }

  static int recv_cb(void* ctx, unsigned char* buf, size_t len, uint32_t) {
    auto* e = static_cast<tls_end*>(ctx);
    for (;;) {
      const ssize_t got = ::recv(e->fd, buf, len, MSG_DONTWAIT);
      if (got >= 0) return static_cast<int>(got);
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        if (e->ready(POLLIN) == 0) return MBEDTLS_ERR_SSL_TIMEOUT;
        continue;
      }
      return errno == ECONNRESET ? MBEDTLS_ERR_NET_CONN_RESET : MBEDTLS_ERR_NET_RECV_FAILED;
    }
  }

  bool seed(const char* who) {
    return mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy, reinterpret_cast<const unsigned char*>(who),
                                 std::strlen(who)) == 0;
  }

  bool handshake() {
    mbedtls_ssl_set_bio(&ssl, this, send_cb, nullptr, recv_cb);
    wait_for(sh->opt.io_ms);
    int rc;
    do {
      rc = mbedtls_ssl_handshake(&ssl);
    } while (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE);
    handshaken = rc == 0;
    return handshaken;
  }

  bool write(const char* data, std::size_t size) {
    wait_for(sh->opt.io_ms);
    std::size_t off = 0;
    while (off < size) {
      const int n = mbedtls_ssl_write(&ssl, reinterpret_cast<const unsigned char*>(data + off), size - off);
      if (n == MBEDTLS_ERR_SSL_WANT_READ || n == MBEDTLS_ERR_SSL_WANT_WRITE) continue;
      if (n <= 0) return false;
      off += static_cast<std::size_t>(n);
    }
    return true;
  }
  bool write(const std::string& s) { return write(s.data(), s.size()); }

  bool fill() {
    unsigned char tmp[4096];
    int n;
    do {
      n = mbedtls_ssl_read(&ssl, tmp, sizeof tmp);
    } while (n == MBEDTLS_ERR_SSL_WANT_READ || n == MBEDTLS_ERR_SSL_WANT_WRITE);
    if (n <= 0) return false;
    in.append(reinterpret_cast<const char*>(tmp), static_cast<std::size_t>(n));
    return true;
  }

  // One HTTP/1.1 message framed by Content-Length (kom sends requests so; kom-sim answers so
  // unless started with --chunked). The deadline must be set. False on EOF, a failure or a
  // framing the proxy does not relay.
  bool read_message(bool response, std::string& out, int& status, bool& connection_close) {
    std::size_t end;
    while ((end = in.find("\r\n\r\n")) == std::string::npos) {
      if (in.size() > max_message || !fill()) return false;
    }
    const std::string head = in.substr(0, end + 4);
    bool found = false;
    if (!header(head, "transfer-encoding", found).empty() || found) return false;
    const std::string cl = header(head, "content-length", found);
    std::size_t length = 0;
    if (found) {
      if (cl.empty() || cl.size() > 9 || cl.find_first_not_of("0123456789") != std::string::npos) return false;
      length = static_cast<std::size_t>(std::stoul(cl));
    }
    status = 0;
    if (response) {
      if (head.size() < 12 || head.compare(0, 9, "HTTP/1.1 ") != 0) return false;
      status = std::atoi(head.substr(9, 3).c_str());
      if (!found && status != 204 && status != 304) return false;  // read-until-close: not relayed
    }
    connection_close = lower(header(head, "connection", found)) == "close";
    while (in.size() < head.size() + length) {
      if (!fill()) return false;
    }
    out = in.substr(0, head.size() + length);
    in.erase(0, head.size() + length);
    return true;
  }

  void close_politely() {
    if (fd < 0) return;
    if (handshaken) {
      wait_for(200);
      mbedtls_ssl_close_notify(&ssl);
    }
    ::close(fd);
    fd = -1;
  }
  void close_abruptly() {
    if (fd < 0) return;
    ::close(fd);
    fd = -1;
  }
  void reset() {
    if (fd < 0) return;
    linger l{};
    l.l_onoff = 1;
    l.l_linger = 0;
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    ::close(fd);
    fd = -1;
  }
};

const char* reason(int status) {
  switch (status) {
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
  }
  return "Error";
}

// One client connection and its upstream connection to kom-sim.
class connection {
 public:
  connection(proxy::shared* sh, int fd) : sh_(sh), client_(sh) { client_.fd = fd; }

  void run(std::uint64_t index, const std::optional<forced>& chosen) {
    const options& o = sh_->opt;
    schedule_rng r{o.seed ^ (index * 0xD1B54A32D192ED03ull)};
    r.next();
    fault f = fault::none;
    if (r.percent(o.fault_percent)) {
      unsigned total = 0;
      for (int i = 1; i < fault_kinds; ++i) total += o.weights[i];
      std::uint64_t pick = r.below(total);
      for (int i = 1; i < fault_kinds; ++i) {
        if (pick < o.weights[i]) {
          f = static_cast<fault>(i);
          break;
        }
        pick -= o.weights[i];
      }
    }
    const unsigned per_connection = o.max_requests_per_connection == 0 ? 1 : o.max_requests_per_connection;
    std::uint64_t requests = 1 + r.below(per_connection);
    std::uint64_t hit = r.below(requests);  // the request the fault hits
    bool forward_first =
        f == fault::status_502 || f == fault::status_504 ? r.percent(50)
        : f == fault::reset || f == fault::stall       ? r.percent(50)
                                                        : r.percent(25);
    std::uint64_t cut = r.next();  // N of the close faults, modulo the message's size
    const bool announce_close = r.percent(50);
    if (chosen) {  // the test's choice instead of the schedule's (its draws are made above)
      f = chosen->kind;
      hit = chosen->hit;
      forward_first = chosen->forward_first;
      cut = chosen->cut;
      cut_from_end_ = chosen->cut_from_end;
      status_ = chosen->status;
      if (requests < hit + 1) requests = hit + 1;
    }

    if (f == fault::refuse) {
      sh_->add_fault(f, false);
      client_.close_abruptly();
      return;
    }
    if (!setup_server() || !client_.handshake()) return;

    for (std::uint64_t i = 0; i < requests; ++i) {
      std::string request;
      int status = 0;
      bool close_asked = false;
      client_.wait_for(o.idle_ms);
      if (!client_.read_message(false, request, status, close_asked)) return;  // the client left
      sh_->add(&counts::requests);
      sh_->add(&counts::bytes, request.size());
      const bool last = i + 1 == requests;
      if (f != fault::none && i == hit) {
        if (!inject(f, request, forward_first, cut)) return;
        if (last) break;
        continue;
      }
      std::string response;
      bool upstream_close = false;
      if (!forward(request, response, upstream_close)) {
        sh_->add(&counts::upstream_failures);
        client_.close_abruptly();
        return;
      }
      if (last && announce_close && !upstream_close) {
        const std::size_t eol = response.find("\r\n");
        response.insert(eol + 2, "Connection: close\r\n");
      }
      if (!client_.write(response)) return;
      if (upstream_close || close_asked) break;
    }
    sh_->add(&counts::clean_closes);
    client_.close_politely();
    if (up_) up_->close_politely();
  }

 private:
  bool setup_server() {
    if (!client_.seed("fault-proxy server")) return false;
    if (mbedtls_x509_crt_parse(&client_.crt, reinterpret_cast<const unsigned char*>(sh_->cert_pem.c_str()),
                               sh_->cert_pem.size() + 1) != 0)
      return false;
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
    if (mbedtls_pk_parse_key(&client_.key, reinterpret_cast<const unsigned char*>(sh_->key_pem.c_str()),
                             sh_->key_pem.size() + 1, nullptr, 0, mbedtls_ctr_drbg_random, &client_.drbg) != 0)
      return false;
#else
    if (mbedtls_pk_parse_key(&client_.key, reinterpret_cast<const unsigned char*>(sh_->key_pem.c_str()),
                             sh_->key_pem.size() + 1, nullptr, 0) != 0)
      return false;
#endif
    if (mbedtls_ssl_config_defaults(&client_.conf, MBEDTLS_SSL_IS_SERVER, MBEDTLS_SSL_TRANSPORT_STREAM,
                                    MBEDTLS_SSL_PRESET_DEFAULT) != 0)
      return false;
    mbedtls_ssl_conf_rng(&client_.conf, mbedtls_ctr_drbg_random, &client_.drbg);
    mbedtls_ssl_conf_session_cache(&client_.conf, sh_, cache_get, cache_set);
    if (mbedtls_ssl_conf_own_cert(&client_.conf, &client_.crt, &client_.key) != 0) return false;
    return mbedtls_ssl_setup(&client_.ssl, &client_.conf) == 0;
  }

  bool connect_upstream() {
    if (up_) return up_->handshaken;  // a failed attempt is not repeated on this connection
    up_ = std::make_unique<tls_end>(sh_);
    tls_end& u = *up_;
    u.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (u.fd < 0) return false;
    const int one = 1;
    ::setsockopt(u.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<std::uint16_t>(sh_->opt.upstream_port));
    if (::connect(u.fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return false;
    if (!u.seed("fault-proxy client")) return false;
    if (mbedtls_x509_crt_parse(&u.crt, reinterpret_cast<const unsigned char*>(sh_->ca_pem.c_str()),
                               sh_->ca_pem.size() + 1) != 0)
      return false;
    if (mbedtls_ssl_config_defaults(&u.conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                    MBEDTLS_SSL_PRESET_DEFAULT) != 0)
      return false;
    mbedtls_ssl_conf_authmode(&u.conf, MBEDTLS_SSL_VERIFY_REQUIRED);
    mbedtls_ssl_conf_ca_chain(&u.conf, &u.crt, nullptr);
    mbedtls_ssl_conf_rng(&u.conf, mbedtls_ctr_drbg_random, &u.drbg);
    if (mbedtls_ssl_setup(&u.ssl, &u.conf) != 0) return false;
    if (mbedtls_ssl_set_hostname(&u.ssl, "localhost") != 0) return false;
    {
      std::lock_guard<std::mutex> lock(sh_->mu);
      if (sh_->have_upstream_session) mbedtls_ssl_set_session(&u.ssl, &sh_->upstream_session);
    }
    if (!u.handshake()) return false;
    std::lock_guard<std::mutex> lock(sh_->mu);
    mbedtls_ssl_session_free(&sh_->upstream_session);
    mbedtls_ssl_session_init(&sh_->upstream_session);
    sh_->have_upstream_session = mbedtls_ssl_get_session(&u.ssl, &sh_->upstream_session) == 0;
    return true;
  }

  // The request to kom-sim and its whole answer back.
  bool forward(const std::string& request, std::string& response, bool& upstream_close) {
    if (!connect_upstream() || !up_->write(request)) return false;
    sh_->add(&counts::forwarded);
    int status = 0;
    up_->wait_for(sh_->opt.io_ms);
    if (!up_->read_message(true, response, status, upstream_close)) return false;
    sh_->add(&counts::bytes, response.size());
    if (upstream_close) up_.reset();  // the next request opens a new one
    return true;
  }

  // The fault on this request. True when the connection goes on.
  bool inject(fault f, const std::string& request, bool forward_first, std::uint64_t cut) {
    std::string response;
    bool upstream_close = false;
    switch (f) {
      case fault::none:
      case fault::refuse: return false;
      case fault::reset: {
        const bool forwarded = forward_first && forward(request, response, upstream_close);
        sh_->add_fault(f, forwarded);
        client_.reset();
        return false;
      }
      case fault::close_request: {
        const std::size_t n = through(cut, request.size());
        if (n > 0 && connect_upstream()) up_->write(request.data(), n);
        sh_->add_fault(f, false);
        if (up_) up_->close_abruptly();
        client_.close_abruptly();
        return false;
      }
      case fault::close_response: {
        if (!forward(request, response, upstream_close)) {
          sh_->add(&counts::upstream_failures);
          client_.close_abruptly();
          return false;
        }
        const std::size_t n = through(cut, response.size());
        sh_->add_fault(f, true);
        if (n > 0) client_.write(response.data(), n);
        client_.close_abruptly();
        return false;
      }
      case fault::stall: {
        const bool forwarded = forward_first && forward(request, response, upstream_close);
        sh_->add_fault(f, forwarded);
        // Nothing more for the client: wait until it gives up and closes (or the limit).
        client_.wait_for(sh_->opt.stall_max_ms);
        char scratch[512];
        while (client_.ready(POLLIN) == 1) {
          const ssize_t got = ::recv(client_.fd, scratch, sizeof scratch, MSG_DONTWAIT);
          if (got == 0 || (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) break;
        }
        client_.close_abruptly();
        return false;
      }
      case fault::trickle: {
        if (!forward(request, response, upstream_close)) {
          sh_->add(&counts::upstream_failures);
          client_.close_abruptly();
          return false;
        }
        sh_->add_fault(f, true);
        client_.trickle = true;
        const bool ok = client_.write(response);
        client_.trickle = false;
        return ok && !upstream_close;
      }
      case fault::status_500:
      case fault::status_502:
      case fault::status_503:
      case fault::status_504:
      case fault::status_429:
      case fault::status_503_retry_after:
      case fault::status_429_retry_after: {
        const bool forwarded = forward_first && forward(request, response, upstream_close);
        sh_->add_fault(f, forwarded);
        const int status = status_ != 0                                               ? status_
                           : f == fault::status_500                                   ? 500
                           : f == fault::status_502                                   ? 502
                           : f == fault::status_503 || f == fault::status_503_retry_after ? 503
                           : f == fault::status_504                                   ? 504
                                                                                      : 429;
        const bool retry_after = f == fault::status_503_retry_after || f == fault::status_429_retry_after;
        const std::string code = std::to_string(status);
        const std::string body = "<html><body><h1>" + code + " " + reason(status) + "</h1></body></html>\n";
        std::string answer = "HTTP/1.1 " + code + " " + reason(status) +
                             "\r\nContent-Type: text/html\r\nContent-Length: " + std::to_string(body.size()) +
                             "\r\n";
        if (retry_after) answer += "Retry-After: " + std::to_string(sh_->opt.retry_after_s) + "\r\n";
        answer += "\r\n" + body;
        return client_.write(answer);
      }
    }
    return false;
  }

  // The bytes of a message of `size` bytes that a close fault lets through.
  std::size_t through(std::uint64_t cut, std::size_t size) const {
    if (cut_from_end_) return cut >= size ? 0 : size - static_cast<std::size_t>(cut);
    return static_cast<std::size_t>(cut % size);
  }

  proxy::shared* sh_;
  tls_end client_;
  std::unique_ptr<tls_end> up_;  // to kom-sim, opened at the first request forwarded
  bool cut_from_end_ = false;    // forced: the close faults count back from the end
  int status_ = 0;               // forced: the status a status fault answers, 0 its own
};

std::string slurp(const std::string& path) {
  std::string out;
  FILE* fp = std::fopen(path.c_str(), "rb");
  if (fp == nullptr) throw std::runtime_error("fault proxy: cannot read " + path);
  char b[4096];
  std::size_t n;
  while ((n = std::fread(b, 1, sizeof b, fp)) > 0) out.append(b, n);
  std::fclose(fp);
  return out;
}

}  // namespace

proxy::proxy(const options& o) : options_(o), shared_(std::make_unique<shared>()) {
  shared_->opt = o;
  shared_->deadline_ms = now_ms() + o.max_lifetime_ms;
  shared_->cert_pem = slurp(o.cert_file);
  shared_->key_pem = slurp(o.key_file);
  shared_->ca_pem = slurp(o.ca_file);

  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) throw std::runtime_error("fault proxy: socket failed");
  const int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);  // loopback only
  a.sin_port = 0;
  socklen_t len = sizeof a;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(listen_fd_, 64) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ::close(listen_fd_);
    throw std::runtime_error("fault proxy: cannot listen on 127.0.0.1");
  }
  port_ = ntohs(a.sin_port);
  acceptor_ = std::thread([this] { accept_loop(); });
}

proxy::~proxy() {
  stop();
}

void proxy::stop() noexcept {
  shared_->stopping = true;
  if (acceptor_.joinable()) acceptor_.join();
  for (auto& w : shared_->workers)
    if (w.thread.joinable()) w.thread.join();
  shared_->workers.clear();
  if (listen_fd_ >= 0) {
    ::close(listen_fd_);
    listen_fd_ = -1;
  }
}

counts proxy::snapshot() const {
  std::lock_guard<std::mutex> lock(shared_->mu);
  return shared_->c;
}

void proxy::force(const forced& f) {
  std::lock_guard<std::mutex> lock(shared_->mu);
  shared_->forced_queue.push_back(f);
}

std::size_t proxy::forced_waiting() const {
  std::lock_guard<std::mutex> lock(shared_->mu);
  return shared_->forced_queue.size();
}

void proxy::accept_loop() noexcept {
  shared* sh = shared_.get();
  std::uint64_t index = 0;
  while (!sh->should_stop()) {
    pollfd p{};
    p.fd = listen_fd_;
    p.events = POLLIN;
    if (::poll(&p, 1, slice_ms) <= 0) continue;
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    // Join the connections that have ended.
    auto& ws = sh->workers;
    for (std::size_t i = 0; i < ws.size();) {
      if (ws[i].done->load()) {
        ws[i].thread.join();
        ws[i] = std::move(ws.back());
        ws.pop_back();
      } else {
        ++i;
      }
    }
    const std::uint64_t this_index = index++;
    sh->add(&counts::connections);
    if (this_index >= options_.max_connections || sh->active.load() >= options_.max_concurrent || sh->over_bytes()) {
      sh->add(&counts::overflow);
      ::close(fd);
      continue;
    }
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::optional<forced> chosen;
    {
      std::lock_guard<std::mutex> lock(sh->mu);
      if (!sh->forced_queue.empty()) {
        chosen = sh->forced_queue.front();
        sh->forced_queue.pop_front();
      }
    }
    auto done = std::make_shared<std::atomic<bool>>(false);
    ++sh->active;
    ws.push_back({std::thread([sh, fd, this_index, done, chosen] {
                    {
                      connection c(sh, fd);
                      c.run(this_index, chosen);
                    }
                    --sh->active;
                    done->store(true);
                  }),
                  done});
  }
}

}  // namespace faultproxy
