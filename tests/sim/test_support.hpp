// Test support for kom-sim's tests: certificates, starting and stopping kom-sim, and a minimal
// HTTPS client on mbedTLS (verifies the test CA, name "localhost", connects to 127.0.0.1 only).
#pragma once

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <boost/json.hpp>
#include <mbedtls/version.h>
#if MBEDTLS_VERSION_NUMBER >= 0x04000000
#include <psa/crypto.h>
#else
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#endif
#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

namespace simtest {

inline std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// A temporary directory holding the test CA and server certificate (made once per process).
// Removed again when the test binary exits.
inline const std::string& certs_dir() {
  struct Dir {
    std::string path;
    Dir() {
      char tmpl[] = "/tmp/kom-sim-test.XXXXXX";
      if (::mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
      path = tmpl;
      std::string cmd = std::string("bash '") + KOM_SIM_MAKE_CERTS + "' '" + path + "'";
      if (std::system(cmd.c_str()) != 0) throw std::runtime_error("make-certs failed");
    }
    ~Dir() {
      // Every file in it: make-certs' four, and make-bad-certs' when they were made.
      if (DIR* d = ::opendir(path.c_str())) {
        while (dirent* e = ::readdir(d)) {
          std::string name = e->d_name;
          if (name != "." && name != "..") ::unlink((path + "/" + name).c_str());
        }
        ::closedir(d);
      }
      ::rmdir(path.c_str());
    }
  };
  static const Dir dir;
  return dir.path;
}

#ifdef KOM_SIM_MAKE_BAD_CERTS
// certs_dir() with make-bad-certs' certificates added (made once per process): NAME.crt and
// NAME.key for other-host, expired, not-yet-valid, self-signed, untrusted-ca, untrusted-server.
inline const std::string& bad_certs_dir() {
  static const bool made = [] {
    std::string cmd = std::string("bash '") + KOM_SIM_MAKE_BAD_CERTS + "' '" + certs_dir() + "'";
    if (std::system(cmd.c_str()) != 0) throw std::runtime_error("make-bad-certs failed");
    return true;
  }();
  (void)made;
  return certs_dir();
}
#endif

// A TLS session kept by one TlsClient for another to offer (resumption).
struct TlsSession {
  mbedtls_ssl_session session;
  TlsSession() { mbedtls_ssl_session_init(&session); }
  ~TlsSession() { mbedtls_ssl_session_free(&session); }
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;
};

// A running kom-sim; stopped with SIGTERM by stop() or the destructor.
class SimProcess {
 public:
  explicit SimProcess(std::vector<std::string> extra_args) {
    const std::string& d = certs_dir();
    std::vector<std::string> args{KOM_SIM_EXE,   "--cert",  d + "/server.crt",
                                  "--key",       d + "/server.key", "--orders",
                                  KOM_SIM_ORDERS, "--port",  "0"};
    for (auto& a : extra_args) args.push_back(std::move(a));
    int out[2];
    if (::pipe(out) != 0) throw std::runtime_error("pipe failed");
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);  // never outlive a crashed test binary
      ::dup2(out[1], 1);
      ::close(out[0]);
      ::close(out[1]);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      std::_Exit(127);
    }
    ::close(out[1]);
    // The first line: "kom-sim listening on 127.0.0.1:PORT".
    std::string line;
    char ch;
    while (::read(out[0], &ch, 1) == 1 && ch != '\n') line += ch;
    out_fd_ = out[0];
    auto colon = line.rfind(':');
    if (line.rfind("kom-sim listening on 127.0.0.1:", 0) != 0 || colon == std::string::npos)
      throw std::runtime_error("kom-sim did not start: '" + line + "'");
    port_ = std::stoi(line.substr(colon + 1));
  }
  SimProcess(const SimProcess&) = delete;
  SimProcess& operator=(const SimProcess&) = delete;
  ~SimProcess() { stop(); }

  int port() const { return port_; }

  // Sends SIGTERM and waits; returns the wait status (-1 if already stopped).
  int stop() {
    if (pid_ <= 0) return -1;
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    ::close(out_fd_);
    return status;
  }

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  int port_ = 0;
};

struct HttpResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  bool chunked = false;
  std::string raw_head;

  std::string header(const std::string& name) const {
    for (const auto& h : headers)
      if (h.first == lower(name)) return h.second;
    return {};
  }
  bool has_header(const std::string& name) const {
    for (const auto& h : headers)
      if (h.first == lower(name)) return true;
    return false;
  }
  boost::json::value json() const { return boost::json::parse(body); }
};

// The random generator of the tests' own TLS connections. mbedTLS 4.x configures none (TLS
// draws from PSA Crypto's); 2.28 and 3.x take a CTR-DRBG. (scripts/check-mbedtls builds the
// client tests against 3.6 and 4.x.)
class TestRng {
 public:
#if MBEDTLS_VERSION_NUMBER >= 0x04000000
  TestRng() {
    if (psa_crypto_init() != PSA_SUCCESS) throw std::runtime_error("psa_crypto_init failed");
  }
  void configure(mbedtls_ssl_config*) {}
#else
  TestRng() {
    mbedtls_entropy_init(&entropy_);
    mbedtls_ctr_drbg_init(&drbg_);
    if (mbedtls_ctr_drbg_seed(&drbg_, mbedtls_entropy_func, &entropy_, nullptr, 0) != 0) {
      release();
      throw std::runtime_error("DRBG seed failed");
    }
  }
  ~TestRng() { release(); }
  void configure(mbedtls_ssl_config* conf) { mbedtls_ssl_conf_rng(conf, mbedtls_ctr_drbg_random, &drbg_); }

 private:
  void release() {
    mbedtls_ctr_drbg_free(&drbg_);
    mbedtls_entropy_free(&entropy_);
  }
  mbedtls_entropy_context entropy_;
  mbedtls_ctr_drbg_context drbg_;
#endif
 public:
  TestRng(const TestRng&) = delete;
  TestRng& operator=(const TestRng&) = delete;
};

// Minimal HTTPS/1.1 client for the tests. Given a session (from save_session of an earlier
// client), it offers it for resumption.
class TlsClient {
 public:
  explicit TlsClient(int port, int timeout_ms = 5000, const TlsSession* resume = nullptr)
      : timeout_ms_(timeout_ms) {
    mbedtls_ssl_init(&ssl_);
    mbedtls_ssl_config_init(&conf_);
    mbedtls_x509_crt_init(&ca_);
    try {
      start(port, resume);
    } catch (...) {
      release();  // no destructor runs for an object whose constructor threw
      throw;
    }
  }
  TlsClient(const TlsClient&) = delete;
  TlsClient& operator=(const TlsClient&) = delete;
  ~TlsClient() { release(); }

 private:
  void start(int port, const TlsSession* resume) {
    check(mbedtls_x509_crt_parse_file(&ca_, (certs_dir() + "/ca.crt").c_str()), "CA");
    check(mbedtls_ssl_config_defaults(&conf_, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                      MBEDTLS_SSL_PRESET_DEFAULT),
          "config");
    mbedtls_ssl_conf_authmode(&conf_, MBEDTLS_SSL_VERIFY_REQUIRED);
    mbedtls_ssl_conf_ca_chain(&conf_, &ca_, nullptr);
    rng_.configure(&conf_);
    mbedtls_ssl_conf_read_timeout(&conf_, static_cast<uint32_t>(timeout_ms_));
    check(mbedtls_ssl_setup(&ssl_, &conf_), "setup");
    check(mbedtls_ssl_set_hostname(&ssl_, "localhost"), "hostname");
    if (resume != nullptr) check(mbedtls_ssl_set_session(&ssl_, &resume->session), "set session");
    fd_ = connect_loopback(port);
    mbedtls_ssl_set_bio(&ssl_, this, &TlsClient::send_cb, nullptr, &TlsClient::recv_cb);
    int rc;
    do {
      rc = mbedtls_ssl_handshake(&ssl_);
    } while (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE);
    check(rc, "handshake");
    if (mbedtls_ssl_get_verify_result(&ssl_) != 0) throw std::runtime_error("certificate not verified");
  }
  void release() {
    if (fd_ >= 0) {
      mbedtls_ssl_close_notify(&ssl_);
      ::close(fd_);
      fd_ = -1;
    }
    mbedtls_ssl_free(&ssl_);
    mbedtls_ssl_config_free(&conf_);
    mbedtls_x509_crt_free(&ca_);
  }

 public:
  // A plain TCP connection to 127.0.0.1 (the only address the tests ever use).
  static int connect_loopback(int port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::runtime_error("socket failed");
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(port));
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      ::close(fd);
      throw std::runtime_error("connect failed");
    }
    int one = 1;  // no Nagle: a handshake's flights go out at once, not after a delayed ACK
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
  }

  // This connection's session, for a later client to offer.
  void save_session(TlsSession& out) {
    mbedtls_ssl_session_free(&out.session);
    mbedtls_ssl_session_init(&out.session);
    check(mbedtls_ssl_get_session(&ssl_, &out.session), "get session");
  }

  bool write(const std::string& s) {
    std::size_t off = 0;
    while (off < s.size()) {
      int n = mbedtls_ssl_write(&ssl_, reinterpret_cast<const unsigned char*>(s.data() + off),
                                s.size() - off);
      if (n == MBEDTLS_ERR_SSL_WANT_READ || n == MBEDTLS_ERR_SSL_WANT_WRITE) continue;
      if (n <= 0) return false;
      off += static_cast<std::size_t>(n);
    }
    return true;
  }

  // Reads one response; throws on a framing error, timeout or early close.
  HttpResponse read_response() {
    HttpResponse r;
    std::size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos)
      if (!fill()) throw std::runtime_error("connection closed before a response head");
    r.raw_head = buf_.substr(0, end);
    buf_.erase(0, end + 4);
    std::size_t eol = r.raw_head.find("\r\n");
    std::string status_line = r.raw_head.substr(0, eol);
    if (status_line.rfind("HTTP/1.1 ", 0) != 0) throw std::runtime_error("bad status line");
    r.status = std::stoi(status_line.substr(9, 3));
    std::size_t pos = eol == std::string::npos ? r.raw_head.size() : eol + 2;
    while (pos < r.raw_head.size()) {
      std::size_t e = r.raw_head.find("\r\n", pos);
      if (e == std::string::npos) e = r.raw_head.size();
      std::string h = r.raw_head.substr(pos, e - pos);
      pos = e + 2;
      std::size_t colon = h.find(':');
      if (colon == std::string::npos) throw std::runtime_error("bad header line");
      std::string v = h.substr(colon + 1);
      while (!v.empty() && v.front() == ' ') v.erase(0, 1);
      r.headers.emplace_back(lower(h.substr(0, colon)), v);
    }
    if (r.status == 204 || r.status == 304) return r;
    if (lower(r.header("Transfer-Encoding")) == "chunked") {
      r.chunked = true;
      for (;;) {
        std::size_t le;
        while ((le = buf_.find("\r\n")) == std::string::npos)
          if (!fill()) throw std::runtime_error("closed in a chunk size");
        std::size_t n = std::stoul(buf_.substr(0, le), nullptr, 16);
        buf_.erase(0, le + 2);
        while (buf_.size() < n + 2)
          if (!fill()) throw std::runtime_error("closed in a chunk");
        if (buf_.compare(n, 2, "\r\n") != 0) throw std::runtime_error("chunk without CRLF");
        r.body += buf_.substr(0, n);
        buf_.erase(0, n + 2);
        if (n == 0) break;  // no trailers from kom-sim: the CRLF after "0" ends the body
      }
      return r;
    }
    if (!r.has_header("Content-Length")) throw std::runtime_error("no framing");
    std::size_t len = std::stoul(r.header("Content-Length"));
    while (buf_.size() < len)
      if (!fill()) throw std::runtime_error("closed in a body");
    r.body = buf_.substr(0, len);
    buf_.erase(0, len);
    return r;
  }

  HttpResponse request(const std::string& raw) {
    if (!write(raw)) throw std::runtime_error("write failed");
    return read_response();
  }

  // True when the server has closed the connection (EOF or close_notify) within the timeout.
  bool closed_by_peer() {
    if (!buf_.empty()) return false;
    unsigned char tmp[256];
    int n;
    do {
      n = mbedtls_ssl_read(&ssl_, tmp, sizeof tmp);
    } while (n == MBEDTLS_ERR_SSL_WANT_READ || n == MBEDTLS_ERR_SSL_WANT_WRITE);
    if (n > 0) {
      buf_.append(reinterpret_cast<char*>(tmp), static_cast<std::size_t>(n));
      return false;
    }
    return n == 0 || n == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || n == MBEDTLS_ERR_NET_CONN_RESET;
  }

 private:
  static void check(int rc, const char* what) {
    if (rc != 0) throw std::runtime_error(std::string("TLS ") + what + " failed: " + std::to_string(rc));
  }
  bool fill() {
    unsigned char tmp[16384];
    for (;;) {
      int n = mbedtls_ssl_read(&ssl_, tmp, sizeof tmp);
      if (n == MBEDTLS_ERR_SSL_WANT_READ || n == MBEDTLS_ERR_SSL_WANT_WRITE) continue;
      if (n <= 0) return false;
      buf_.append(reinterpret_cast<char*>(tmp), static_cast<std::size_t>(n));
      return true;
    }
  }
  static int send_cb(void* ctx, const unsigned char* b, size_t len) {
    auto* self = static_cast<TlsClient*>(ctx);
    ssize_t n = ::send(self->fd_, b, len, MSG_NOSIGNAL);
    return n < 0 ? MBEDTLS_ERR_NET_SEND_FAILED : static_cast<int>(n);
  }
  static int recv_cb(void* ctx, unsigned char* b, size_t len, uint32_t timeout) {
    auto* self = static_cast<TlsClient*>(ctx);
    pollfd p{self->fd_, POLLIN, 0};
    int r = ::poll(&p, 1, timeout == 0 ? -1 : static_cast<int>(timeout));
    if (r == 0) return MBEDTLS_ERR_SSL_TIMEOUT;
    if (r < 0) return MBEDTLS_ERR_NET_RECV_FAILED;
    ssize_t n = ::recv(self->fd_, b, len, 0);
    if (n < 0) return MBEDTLS_ERR_NET_CONN_RESET;
    return static_cast<int>(n);  // 0: EOF
  }

  int timeout_ms_;
  int fd_ = -1;
  std::string buf_;
  mbedtls_ssl_context ssl_;
  mbedtls_ssl_config conf_;
  mbedtls_x509_crt ca_;
  TestRng rng_;
};

// Hand-written (std::regex trips GCC 12 false warnings under -fsanitize=address -Werror).
inline bool is_uuid4(const std::string& s) {
  if (s.size() != 36) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return s[14] == '4' && std::strchr("89ab", s[19]) != nullptr;
}

// "YYYY-MM-DDTHH:MM:SS[.fff](Z|+HH:MM|-HH:MM)"
inline bool is_iso8601(const std::string& s) {
  auto digits = [&](std::size_t from, std::size_t n) {
    if (from + n > s.size()) return false;
    for (std::size_t i = from; i < from + n; ++i)
      if (s[i] < '0' || s[i] > '9') return false;
    return true;
  };
  if (!(digits(0, 4) && s.size() > 19 && s[4] == '-' && digits(5, 2) && s[7] == '-' && digits(8, 2) &&
        s[10] == 'T' && digits(11, 2) && s[13] == ':' && digits(14, 2) && s[16] == ':' && digits(17, 2)))
    return false;
  std::size_t i = 19;
  if (s[i] == '.') {
    ++i;
    std::size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    if (i == start) return false;
  }
  if (i < s.size() && s[i] == 'Z') return i + 1 == s.size();
  return i + 6 == s.size() && (s[i] == '+' || s[i] == '-') && digits(i + 1, 2) && s[i + 3] == ':' &&
         digits(i + 4, 2);
}

inline const char* basic_auth() { return "Authorization: Basic dTpw\r\n"; }  // "u:p"

// Builds a request; `extra` holds whole header lines ending in CRLF.
inline std::string http(const std::string& method, const std::string& target,
                        const std::string& body = {}, const std::string& extra = {},
                        bool auth = true) {
  std::string s = method + " " + target + " HTTP/1.1\r\nHost: localhost\r\n";
  if (auth) s += basic_auth();
  s += extra;
  if (method == "POST" || !body.empty()) {
    s += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  }
  s += "\r\n" + body;
  return s;
}

}  // namespace simtest
