// kom-sim: the TLS server (mbedTLS over POSIX sockets, 127.0.0.1 only), its HTTP/1.1 framing
// and the command line. The order model is in api.cpp, validation in validate.cpp.

#include "sim.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <list>
#include <memory>
#include <sstream>
#include <thread>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_cache.h>
#include <mbedtls/x509_crt.h>

#ifndef MBEDTLS_PRIVATE  // mbedTLS 3.x hides struct fields behind this macro
#define MBEDTLS_PRIVATE(member) member
#endif

namespace {

using sim::Request;
using sim::Response;

std::atomic<bool> g_stop{false};
// Readable once a stop is asked for: connections waiting for a request wake at once, without
// polling a flag (with thousands of idle keep-alive connections, a periodic wake-up each would
// cost more than serving them).
int g_stop_pipe[2] = {-1, -1};

extern "C" void on_signal(int) {
  const int saved = errno;
  g_stop.store(true);
  const char b = 1;
  const ssize_t n = ::write(g_stop_pipe[1], &b, 1);  // async-signal-safe
  (void)n;
  errno = saved;
}

constexpr std::size_t max_head = 1024 * 1024;  // over this: 413
constexpr std::size_t max_body = 1024 * 1024;
// Each connection is served by its own thread, with a small stack: thousands fit.
constexpr std::size_t connection_stack_bytes = 256 * 1024;

struct Config {
  std::string cert, key, orders;
  int port = 0;
  bool chunked = false;
  int read_timeout_ms = 10000;
  int max_connections = 4096;
  sim::Options options;
};

void usage() {
  std::fprintf(stderr,
               "usage: kom-sim --cert FILE --key FILE --orders FILE [--port N]\n"
               "               [--username U --password P] [--chunked] [--rate-limit N]\n"
               "               [--read-timeout-ms N] [--clock-start UNIX_SECONDS]\n"
               "               [--max-captured-amount N] [--max-connections N]\n");
}

std::string tls_error(int rc) {
  char buf[200];
  mbedtls_strerror(rc, buf, sizeof buf);
  return buf;
}

// ---- session resumption ------------------------------------------------------------------
//
// Sessions are kept in mbedTLS's session cache (resumption by session id, TLS 1.2). The
// cache has a mutex of its own only with MBEDTLS_THREADING_C (Debian's build has it); the
// wrappers below take the sim's own mutex as well, so a build without it is safe too. They
// also note, for the handshake running on this thread, the master secret of the session
// the cache found: the handshake was resumed when it ends with that same master secret (a
// cache hit whose cipher suite does not fit the new hello falls back to a full handshake).

std::mutex g_cache_mu;
thread_local bool t_cache_hit = false;
thread_local unsigned char t_cache_master[48];

void note_cache_hit(const mbedtls_ssl_session* session) {
  static_assert(sizeof session->MBEDTLS_PRIVATE(master) == sizeof t_cache_master, "master secret size");
  t_cache_hit = true;
  std::memcpy(t_cache_master, session->MBEDTLS_PRIVATE(master), sizeof t_cache_master);
}

#if MBEDTLS_VERSION_NUMBER >= 0x03000000
int cache_get(void* cache, unsigned char const* id, size_t id_len, mbedtls_ssl_session* session) {
  std::lock_guard<std::mutex> lock(g_cache_mu);
  int rc = mbedtls_ssl_cache_get(cache, id, id_len, session);
  if (rc == 0) note_cache_hit(session);
  return rc;
}
int cache_set(void* cache, unsigned char const* id, size_t id_len, const mbedtls_ssl_session* session) {
  std::lock_guard<std::mutex> lock(g_cache_mu);
  return mbedtls_ssl_cache_set(cache, id, id_len, session);
}
#else
int cache_get(void* cache, mbedtls_ssl_session* session) {
  std::lock_guard<std::mutex> lock(g_cache_mu);
  int rc = mbedtls_ssl_cache_get(cache, session);
  if (rc == 0) note_cache_hit(session);
  return rc;
}
int cache_set(void* cache, const mbedtls_ssl_session* session) {
  std::lock_guard<std::mutex> lock(g_cache_mu);
  return mbedtls_ssl_cache_set(cache, session);
}
#endif

// Whether the handshake just completed on this thread resumed a cached session.
bool handshake_resumed(const mbedtls_ssl_context& ssl) {
  const mbedtls_ssl_session* s = ssl.MBEDTLS_PRIVATE(session);
  return t_cache_hit && s != nullptr &&
         std::memcmp(s->MBEDTLS_PRIVATE(master), t_cache_master, sizeof t_cache_master) == 0;
}

// ---- one connection -----------------------------------------------------------------------

struct Conn {
  int fd = -1;
  mbedtls_ssl_context ssl;
  int timeout_ms = 10000;
};

// mbedTLS receive callback with a timeout; a stop request wakes it (g_stop_pipe).
int recv_timeout(void* ctx, unsigned char* buf, size_t len, uint32_t timeout) {
  auto* c = static_cast<Conn*>(ctx);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout);
  for (;;) {
    if (g_stop.load()) return MBEDTLS_ERR_SSL_TIMEOUT;
    pollfd p[2] = {{c->fd, POLLIN, 0}, {g_stop_pipe[0], POLLIN, 0}};
    int wait_ms = -1;
    if (timeout != 0) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
      if (left <= 0) return MBEDTLS_ERR_SSL_TIMEOUT;
      wait_ms = static_cast<int>(left);
    }
    int r = ::poll(p, 2, wait_ms);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return MBEDTLS_ERR_NET_RECV_FAILED;
    if (r == 0) return MBEDTLS_ERR_SSL_TIMEOUT;
    if (p[1].revents != 0) return MBEDTLS_ERR_SSL_TIMEOUT;  // stopping
    ssize_t n = ::recv(c->fd, buf, len, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return MBEDTLS_ERR_NET_RECV_FAILED;
    if (n == 0) return MBEDTLS_ERR_NET_CONN_RESET;
    return static_cast<int>(n);
  }
}

int send_cb(void* ctx, const unsigned char* buf, size_t len) {
  auto* c = static_cast<Conn*>(ctx);
  for (;;) {
    ssize_t n = ::send(c->fd, buf, len, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return MBEDTLS_ERR_NET_SEND_FAILED;  // includes the SO_SNDTIMEO timeout
    return static_cast<int>(n);
  }
}

bool write_all(Conn& c, const std::string& s) {
  std::size_t off = 0;
  while (off < s.size()) {
    int n = mbedtls_ssl_write(&c.ssl, reinterpret_cast<const unsigned char*>(s.data() + off),
                              s.size() - off);
    if (n == MBEDTLS_ERR_SSL_WANT_READ || n == MBEDTLS_ERR_SSL_WANT_WRITE) continue;
    if (n <= 0) return false;
    off += static_cast<std::size_t>(n);
  }
  return true;
}

const char* reason_phrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    default: return "Unknown";
  }
}

std::string serialize(const Response& r, bool chunked, bool close) {
  std::string out = "HTTP/1.1 " + std::to_string(r.status) + " " + reason_phrase(r.status) + "\r\n";
  for (const auto& h : r.headers) out += h.first + ": " + h.second + "\r\n";
  out += "Server: kom-sim\r\n";
  if (close) out += "Connection: close\r\n";
  if (r.status == 204 || r.status == 304) {
    out += "\r\n";
    return out;
  }
  if (!chunked) {
    out += "Content-Length: " + std::to_string(r.body.size()) + "\r\n\r\n" + r.body;
    return out;
  }
  out += "Transfer-Encoding: chunked\r\n\r\n";
  // Two chunks when there is a body (so clients meet more than one), then the last chunk.
  std::size_t half = r.body.size() / 2;
  auto chunk = [&](std::size_t from, std::size_t n) {
    if (n == 0) return;
    char len[32];
    std::snprintf(len, sizeof len, "%zx", n);
    out += std::string(len) + "\r\n" + r.body.substr(from, n) + "\r\n";
  };
  chunk(0, half);
  chunk(half, r.body.size() - half);
  out += "0\r\n\r\n";
  return out;
}

bool is_token_char(char ch) {
  if (std::isalnum(static_cast<unsigned char>(ch))) return true;
  return std::strchr("!#$%&'*+-.^_`|~", ch) != nullptr && ch != '\0';
}

std::string trim(const std::string& s) {
  std::size_t a = 0, b = s.size();
  while (a < b && (s[a] == ' ' || s[a] == '\t')) ++a;
  while (b > a && (s[b - 1] == ' ' || s[b - 1] == '\t')) --b;
  return s.substr(a, b - a);
}

// Parses the head (without the final CRLFCRLF). Returns "" or why it is malformed.
std::string parse_head(const std::string& head, Request& req, std::size_t& content_length,
                       bool& keep_alive) {
  std::size_t eol = head.find("\r\n");
  std::string line = head.substr(0, eol);
  std::size_t s1 = line.find(' ');
  std::size_t s2 = s1 == std::string::npos ? s1 : line.find(' ', s1 + 1);
  if (s1 == std::string::npos || s2 == std::string::npos || line.find(' ', s2 + 1) != std::string::npos)
    return "Malformed request line.";
  req.method = line.substr(0, s1);
  req.target = line.substr(s1 + 1, s2 - s1 - 1);
  std::string version = line.substr(s2 + 1);
  if (req.method.empty() || !std::all_of(req.method.begin(), req.method.end(), is_token_char))
    return "Malformed method.";
  if (req.target.empty() || req.target[0] != '/') return "Malformed request target.";
  for (char ch : req.target)
    if (static_cast<unsigned char>(ch) <= 0x20 || static_cast<unsigned char>(ch) >= 0x7F)
      return "Malformed request target.";
  if (version == "HTTP/1.1") keep_alive = true;
  else if (version == "HTTP/1.0") keep_alive = false;
  else return "Unsupported HTTP version.";

  bool have_length = false;
  content_length = 0;
  std::size_t pos = eol == std::string::npos ? head.size() : eol + 2;
  while (pos < head.size()) {
    std::size_t e = head.find("\r\n", pos);
    if (e == std::string::npos) e = head.size();
    std::string h = head.substr(pos, e - pos);
    pos = e + 2;
    if (h.empty()) return "Malformed header.";
    if (h[0] == ' ' || h[0] == '\t') return "Obsolete header line folding is not accepted.";
    std::size_t colon = h.find(':');
    if (colon == std::string::npos || colon == 0) return "Malformed header.";
    std::string name = h.substr(0, colon);
    if (!std::all_of(name.begin(), name.end(), is_token_char)) return "Malformed header name.";
    std::string value = trim(h.substr(colon + 1));
    for (char ch : value)
      if ((static_cast<unsigned char>(ch) < 0x20 && ch != '\t') || ch == 0x7F)
        return "Malformed header value.";
    std::string lname = sim::lower(name);
    if (lname == "content-length") {
      if (value.empty() || value.size() > 18 ||
          !std::all_of(value.begin(), value.end(), [](char ch) { return ch >= '0' && ch <= '9'; }))
        return "Malformed Content-Length.";
      std::size_t n = std::stoull(value);
      if (have_length && n != content_length) return "Conflicting Content-Length headers.";
      have_length = true;
      content_length = n;
    } else if (lname == "transfer-encoding") {
      return "Transfer-Encoding in requests is not supported by kom-sim; send Content-Length.";
    } else if (lname == "connection") {
      std::string v = sim::lower(value);
      if (v.find("close") != std::string::npos) keep_alive = false;
      else if (v.find("keep-alive") != std::string::npos) keep_alive = true;
    }
    req.headers.emplace_back(name, value);
  }
  return {};
}

class Server {
 public:
  explicit Server(Config cfg) : cfg_(std::move(cfg)) {}

  bool setup_tls() {
    mbedtls_ssl_config_init(&conf_);
    mbedtls_x509_crt_init(&cert_);
    mbedtls_pk_init(&pkey_);
    mbedtls_entropy_init(&entropy_);
    mbedtls_ctr_drbg_init(&drbg_);
    mbedtls_ssl_cache_init(&cache_);
    int rc = mbedtls_ctr_drbg_seed(&drbg_, mbedtls_entropy_func, &entropy_,
                                   reinterpret_cast<const unsigned char*>("kom-sim"), 7);
    if (rc == 0) rc = mbedtls_x509_crt_parse_file(&cert_, cfg_.cert.c_str());
    if (rc != 0) {
      std::fprintf(stderr, "kom-sim: cannot load %s: %s\n", cfg_.cert.c_str(), tls_error(rc).c_str());
      return false;
    }
    rc = mbedtls_pk_parse_keyfile(&pkey_, cfg_.key.c_str(), nullptr);
    if (rc != 0) {
      std::fprintf(stderr, "kom-sim: cannot load %s: %s\n", cfg_.key.c_str(), tls_error(rc).c_str());
      return false;
    }
    rc = mbedtls_ssl_config_defaults(&conf_, MBEDTLS_SSL_IS_SERVER, MBEDTLS_SSL_TRANSPORT_STREAM,
                                     MBEDTLS_SSL_PRESET_DEFAULT);
    if (rc == 0) {
      mbedtls_ssl_conf_rng(&conf_, mbedtls_ctr_drbg_random, &drbg_);
      mbedtls_ssl_conf_min_version(&conf_, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
      mbedtls_ssl_conf_read_timeout(&conf_, static_cast<uint32_t>(cfg_.read_timeout_ms));
      mbedtls_ssl_conf_session_cache(&conf_, &cache_, cache_get, cache_set);
      rc = mbedtls_ssl_conf_own_cert(&conf_, &cert_, &pkey_);
    }
    if (rc != 0) {
      std::fprintf(stderr, "kom-sim: TLS setup failed: %s\n", tls_error(rc).c_str());
      return false;
    }
    return true;
  }

  ~Server() {
    mbedtls_ssl_config_free(&conf_);
    mbedtls_ssl_cache_free(&cache_);
    mbedtls_x509_crt_free(&cert_);
    mbedtls_pk_free(&pkey_);
    mbedtls_ctr_drbg_free(&drbg_);
    mbedtls_entropy_free(&entropy_);
  }

  // Binds 127.0.0.1:port; returns the bound port or -1.
  int listen_on(int port) {
    lfd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (lfd_ < 0) return -1;
    int one = 1;
    ::setsockopt(lfd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(port));
    if (::bind(lfd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(lfd_, SOMAXCONN) != 0) {
      std::fprintf(stderr, "kom-sim: cannot listen on 127.0.0.1:%d: %s\n", port, std::strerror(errno));
      return -1;
    }
    socklen_t len = sizeof a;
    ::getsockname(lfd_, reinterpret_cast<sockaddr*>(&a), &len);
    return ntohs(a.sin_port);
  }

  void run(sim::Sim& s) {
    sim_ = &s;
    while (!g_stop.load()) {
      reap(false);
      pollfd p[2] = {{lfd_, POLLIN, 0}, {g_stop_pipe[0], POLLIN, 0}};
      int r = ::poll(p, 2, 100);
      if (r <= 0 || p[0].revents == 0) continue;
      int fd = ::accept4(lfd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) {
        // Out of descriptors: the listening socket stays readable, so wait rather than spin.
        if (errno == EMFILE || errno == ENFILE) ::poll(nullptr, 0, 100);
        continue;
      }
      if (static_cast<int>(workers_.size()) >= cfg_.max_connections) {
        ::close(fd);  // too many at once: refuse (the client sees the connection closed)
        continue;
      }
      auto w = std::make_unique<Worker>();
      w->server = this;
      w->fd = fd;
      pthread_attr_t attr;
      pthread_attr_init(&attr);
      pthread_attr_setstacksize(&attr, connection_stack_bytes);
      const int rc = pthread_create(&w->thread, &attr, &Worker::main, w.get());
      pthread_attr_destroy(&attr);
      if (rc != 0) {
        std::fprintf(stderr, "kom-sim: no thread for a connection: %s\n", std::strerror(rc));
        ::close(fd);
        continue;
      }
      workers_.push_back(std::move(w));
    }
    ::close(lfd_);
    reap(true);
  }

 private:
  struct Worker {
    Server* server = nullptr;
    int fd = -1;
    pthread_t thread{};
    std::atomic<bool> done{false};
    static void* main(void* self) {
      auto* w = static_cast<Worker*>(self);
      w->server->serve(w->fd);
      w->done.store(true);
      return nullptr;
    }
  };

  void reap(bool all) {
    for (auto it = workers_.begin(); it != workers_.end();) {
      if (all || (*it)->done.load()) {
        pthread_join((*it)->thread, nullptr);
        it = workers_.erase(it);
      } else {
        ++it;
      }
    }
  }

  void serve(int fd) {
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    timeval tv{cfg_.read_timeout_ms / 1000, (cfg_.read_timeout_ms % 1000) * 1000};
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    Conn c;
    c.fd = fd;
    c.timeout_ms = cfg_.read_timeout_ms;
    sim_->count_connection(+1);
    mbedtls_ssl_init(&c.ssl);
    if (mbedtls_ssl_setup(&c.ssl, &conf_) == 0) {
      mbedtls_ssl_set_bio(&c.ssl, &c, send_cb, nullptr, recv_timeout);
      int rc;
      t_cache_hit = false;
      do {
        rc = mbedtls_ssl_handshake(&c.ssl);
      } while (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE);
      if (rc == 0) {
        sim_->count_handshake(handshake_resumed(c.ssl));
        http_loop(c);
        mbedtls_ssl_close_notify(&c.ssl);
      }
    }
    mbedtls_ssl_free(&c.ssl);
    ::close(fd);
    sim_->count_connection(-1);
  }

  void send_error(Conn& c, int status, const std::string& code, const std::string& msg) {
    const std::string cid = sim::uuid4();
    Response r = sim::error_response(status, code, msg, cid);
    r.headers.emplace_back("Klarna-Correlation-Id", cid);
    write_all(c, serialize(r, cfg_.chunked, true));
  }

  // Reads requests until the client closes, times out, sends something malformed or asks to close.
  void http_loop(Conn& c) {
    std::string buf;
    unsigned char tmp[16384];
    for (;;) {
      // Read the head, ignoring empty lines before a request (RFC 9112 section 2.2).
      std::size_t end;
      for (;;) {
        std::size_t skip = 0;
        while (skip + 1 < buf.size() && buf[skip] == '\r' && buf[skip + 1] == '\n') skip += 2;
        buf.erase(0, skip);
        if ((end = buf.find("\r\n\r\n")) != std::string::npos) break;
        if (buf.size() > max_head) {
          send_error(c, 413, "REQUEST_TOO_LARGE", "The request head is larger than 1 MB.");
          return;
        }
        int n = mbedtls_ssl_read(&c.ssl, tmp, sizeof tmp);
        if (n == MBEDTLS_ERR_SSL_WANT_READ || n == MBEDTLS_ERR_SSL_WANT_WRITE) continue;
        if (n <= 0) return;  // closed, timed out or failed: drop the connection
        buf.append(reinterpret_cast<char*>(tmp), static_cast<std::size_t>(n));
      }
      if (end > max_head) {
        send_error(c, 413, "REQUEST_TOO_LARGE", "The request head is larger than 1 MB.");
        return;
      }
      Request req;
      std::size_t content_length = 0;
      bool keep_alive = true;
      std::string err = parse_head(buf.substr(0, end), req, content_length, keep_alive);
      if (!err.empty()) {
        send_error(c, 400, "BAD_REQUEST", err);
        return;
      }
      if (content_length > max_body) {
        send_error(c, 413, "REQUEST_TOO_LARGE", "The request body is larger than 1 MB.");
        return;
      }
      buf.erase(0, end + 4);
      while (buf.size() < content_length) {
        int n = mbedtls_ssl_read(&c.ssl, tmp, sizeof tmp);
        if (n == MBEDTLS_ERR_SSL_WANT_READ || n == MBEDTLS_ERR_SSL_WANT_WRITE) continue;
        if (n <= 0) return;
        buf.append(reinterpret_cast<char*>(tmp), static_cast<std::size_t>(n));
      }
      req.body = buf.substr(0, content_length);
      buf.erase(0, content_length);
      Response r;
      try {
        r = sim_->handle(req);
      } catch (const std::exception& e) {
        r = sim::error_response(500, "INTERNAL_SERVER_ERROR", e.what(), sim::uuid4());
      }
      if (g_stop.load()) keep_alive = false;
      if (!write_all(c, serialize(r, cfg_.chunked, !keep_alive))) return;
      if (!keep_alive) return;
    }
  }

  Config cfg_;
  sim::Sim* sim_ = nullptr;
  int lfd_ = -1;
  std::list<std::unique_ptr<Worker>> workers_;
  mbedtls_ssl_config conf_;
  mbedtls_ssl_cache_context cache_;
  mbedtls_x509_crt cert_;
  mbedtls_pk_context pkey_;
  mbedtls_entropy_context entropy_;
  mbedtls_ctr_drbg_context drbg_;
};

bool parse_int(const char* s, long long lo, long long hi, long long& out) {
  char* end = nullptr;
  errno = 0;
  out = std::strtoll(s, &end, 10);
  return errno == 0 && end != s && *end == '\0' && out >= lo && out <= hi;
}

}  // namespace

int main(int argc, char** argv) {
  Config cfg;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "kom-sim: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    long long n = 0;
    if (a == "--cert") cfg.cert = value();
    else if (a == "--key") cfg.key = value();
    else if (a == "--orders") cfg.orders = value();
    else if (a == "--username") cfg.options.username = value();
    else if (a == "--password") cfg.options.password = value();
    else if (a == "--chunked") cfg.chunked = true;
    else if (a == "--port" && parse_int(value(), 0, 65535, n)) cfg.port = static_cast<int>(n);
    else if (a == "--rate-limit" && parse_int(value(), 0, 1000000, n)) cfg.options.rate_limit = static_cast<int>(n);
    else if (a == "--max-captured-amount" && parse_int(value(), 1, 200000000, n)) cfg.options.max_captured_amount = n;
    else if (a == "--max-connections" && parse_int(value(), 1, 1000000, n)) cfg.max_connections = static_cast<int>(n);
    else if (a == "--read-timeout-ms" && parse_int(value(), 1, 3600000, n)) cfg.read_timeout_ms = static_cast<int>(n);
    else if (a == "--clock-start" && parse_int(value(), 1, 253402300799LL, n)) cfg.options.clock_start = n;
    else if (a == "--help" || a == "-h") {
      usage();
      return 0;
    } else {
      std::fprintf(stderr, "kom-sim: bad argument %s\n", a.c_str());
      usage();
      return 2;
    }
  }
  if (cfg.cert.empty() || cfg.key.empty() || cfg.orders.empty() ||
      cfg.options.username.empty() != cfg.options.password.empty()) {
    usage();
    return 2;
  }

  // Each connection holds a descriptor: allow --max-connections of them, raising the hard
  // limit too where allowed (root), else as many as the hard limit does.
  rlimit files{};
  if (::getrlimit(RLIMIT_NOFILE, &files) == 0) {
    const rlim_t want = static_cast<rlim_t>(cfg.max_connections) + 64;
    rlimit raised = files;
    if (raised.rlim_max < want) raised.rlim_max = want;
    raised.rlim_cur = raised.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) != 0 && files.rlim_cur < files.rlim_max) {
      files.rlim_cur = files.rlim_max;
      ::setrlimit(RLIMIT_NOFILE, &files);
    }
  }
  if (::pipe2(g_stop_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
    std::fprintf(stderr, "kom-sim: pipe: %s\n", std::strerror(errno));
    return 1;
  }
  struct sigaction sa{};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGTERM, &sa, nullptr);
  ::sigaction(SIGINT, &sa, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  // Load the orders before listening, so a bad seed file never looks like a running server.
  std::ifstream in(cfg.orders);
  if (!in) {
    std::fprintf(stderr, "kom-sim: cannot read %s\n", cfg.orders.c_str());
    return 1;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  boost::system::error_code ec;
  boost::json::value seed = boost::json::parse(ss.str(), ec);
  if (ec || !seed.is_array()) {
    std::fprintf(stderr, "kom-sim: %s must hold a JSON array of orders\n", cfg.orders.c_str());
    return 1;
  }

  Server server(cfg);
  if (!server.setup_tls()) return 1;
  int port = server.listen_on(cfg.port);
  if (port < 0) return 1;
  cfg.options.port = port;  // for Location headers
  auto sim_ptr = std::make_unique<sim::Sim>(cfg.options);
  for (std::size_t i = 0; i < seed.get_array().size(); ++i) {
    bool dup = false;
    std::string e = sim_ptr->add_order(seed.get_array()[i], dup);
    if (!e.empty()) {
      std::fprintf(stderr, "kom-sim: %s: order %zu: %s\n", cfg.orders.c_str(), i, e.c_str());
      return 1;
    }
  }
  std::printf("kom-sim listening on 127.0.0.1:%d\n", port);
  std::fflush(stdout);
  server.run(*sim_ptr);
  std::fprintf(stderr, "kom-sim: stopped\n");
  return 0;
}
