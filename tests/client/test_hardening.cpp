// TLS refusals seen from the server: kom::client over kom::tls_stream over a loopback wire,
// against servers whose certificate or protocol must be refused. Each gives its own error,
// reply.sent stays false, and the server receives no application data:
//   - kom-sim with make-bad-certs' certificates: its /_sim/state `requests` counter (every
//     HTTP request it handled) moves only by the state read itself;
//   - openssl s_server speaking only TLS 1.1 or 1.0: its output (it prints any application
//     data it receives) holds no request;
//   - a plain HTTP listener on the TLS port: every byte it received is a TLS record, no HTTP.
// The wire under the TLS stream also records every byte the client sent: handshake and alert
// records only (mbedTLS 2.28 speaks TLS 1.2, whose application data is record type 23).
#include <doctest/doctest.h>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "kom/client.hpp"
#include "tls_support.hpp"

extern char** environ;

namespace {

using simtest::SimProcess;

std::string describe(const kom::error& e) {
  char text[160];
  return std::string(e.describe(text)) + " (detail " + std::to_string(e.detail()) + ")";
}

// loopback_wire that keeps every byte the client sent.
class recording_wire {
 public:
  int connect(std::string_view host, std::uint16_t port, std::uint32_t timeout_ms) noexcept {
    ++connects;
    return wire.connect(host, port, timeout_ms);
  }
  int send(const unsigned char* data, std::size_t size) noexcept {
    const int n = wire.send(data, size);
    if (n > 0) sent.append(reinterpret_cast<const char*>(data), static_cast<std::size_t>(n));
    return n;
  }
  int recv(unsigned char* data, std::size_t size, std::uint32_t timeout_ms) noexcept {
    return wire.recv(data, size, timeout_ms);
  }
  void close() noexcept { wire.close(); }
  kom::error error() const noexcept { return wire.error(); }
  kom::transport transport() noexcept { return kom::make_transport(*this); }

  loopback_wire wire;
  std::string sent;
  int connects = 0;
};

// The TLS record types in `bytes`, which must be whole records; 0 for bytes that are not.
std::vector<int> record_types(const std::string& bytes) {
  std::vector<int> types;
  std::size_t at = 0;
  while (at + 5 <= bytes.size()) {
    const auto b = [&](std::size_t i) { return static_cast<unsigned char>(bytes[at + i]); };
    if (b(1) != 3) {
      types.push_back(0);
      return types;
    }
    types.push_back(b(0));
    at += 5 + (static_cast<std::size_t>(b(3)) << 8 | static_cast<std::size_t>(b(4)));
  }
  if (at != bytes.size()) types.push_back(0);
  return types;
}

bool has_request_text(const std::string& bytes) {
  for (const char* text : {"HTTP/1.1", "ordermanagement", "Authorization", "Klarna-Idempotency-Key", "POST ", "GET "})
    if (bytes.find(text) != std::string::npos) return true;
  return false;
}

// Handshake (22) and alert (21) records only, at least one ClientHello; no request text.
void check_handshake_only(const std::string& bytes) {
  const std::vector<int> types = record_types(bytes);
  REQUIRE_FALSE(types.empty());
  CHECK(types.front() == 22);
  for (int t : types) CHECK_MESSAGE((t == 22 || t == 21), "record type " << t);
  CHECK_FALSE(has_request_text(bytes));
}

// A terminal over a recording wire: fake time for retries (the TLS stream keeps real time).
struct terminal {
  kom::random_source rng;
  recording_wire wire;
  kom::tls_stream tls;
  std::uint64_t now = 1000;
  char work[8192];
  kom::client client;

  terminal(int port, std::string_view host, std::uint32_t attempts)
      : tls(wire.transport(), kom::random_source::callback(), rng.context()),
        client(tls.transport(), config(port, host, attempts), hooks(this), work) {
    REQUIRE(rng.seed("kom-hardening-tests") == 0);
    const std::string pem = read_file(simtest::certs_dir() + "/ca.crt");
    REQUIRE(tls.add_ca(reinterpret_cast<const unsigned char*>(pem.c_str()), pem.size() + 1).ok());
  }

  static kom::client_config config(int port, std::string_view host, std::uint32_t attempts) {
    kom::client_config c;
    c.request.server = {host, static_cast<std::uint16_t>(port)};
    c.request.credentials = {"u", "p", {}};
    c.retry.max_attempts = attempts;
    c.timeouts.connect_ms = 5000;
    return c;
  }
  static kom::client_hooks hooks(terminal* t) {
    kom::client_hooks h;
    h.context = t;
    h.now_ms = [](void* c) { return static_cast<terminal*>(c)->now; };
    h.sleep_ms = [](void* c, std::uint32_t ms) { static_cast<terminal*>(c)->now += ms; };
    h.random = kom::random_source::callback();
    h.random_context = t->rng.context();
    return h;
  }

  // A capture with a fixed key: the most sensitive request a terminal sends.
  kom::reply<kom::capture_created> capture() {
    kom::order_line line;
    line.type = kom::order_line_type::physical;
    line.name = "Espresso machine";
    line.quantity = 1;
    line.unit_price = 3000;
    line.total_amount = 3000;
    kom::capture_request request;
    request.captured_amount = 3000;
    request.order_lines = {&line, 1};
    return client.capture("f3392f8b-6116-4073-ab96-e330819e2c07", request, {"hardening-key-1"});
  }
};

// kom-sim's `requests` counter, read over a connection that does not verify the certificate
// (the sim serves one that kom refuses). The read itself is counted.
std::int64_t sim_requests(int port) {
  mbedtls_ssl_context ssl;
  mbedtls_ssl_config conf;
  simtest::TestRng rng;
  mbedtls_ssl_init(&ssl);
  mbedtls_ssl_config_init(&conf);
  int fd = simtest::TlsClient::connect_loopback(port);
  std::string in;
  bool ok = mbedtls_ssl_config_defaults(&conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                        MBEDTLS_SSL_PRESET_DEFAULT) == 0;
  if (ok) {
    mbedtls_ssl_conf_authmode(&conf, MBEDTLS_SSL_VERIFY_NONE);  // test-only: reads the sim's counters
    rng.configure(&conf);
    mbedtls_ssl_conf_read_timeout(&conf, 5000);
    ok = mbedtls_ssl_setup(&ssl, &conf) == 0;
  }
  if (ok) {
    mbedtls_ssl_set_bio(
        &ssl, &fd,
        [](void* c, const unsigned char* b, std::size_t n) {
          const ssize_t r = ::send(*static_cast<int*>(c), b, n, MSG_NOSIGNAL);
          return r < 0 ? MBEDTLS_ERR_SSL_INTERNAL_ERROR : static_cast<int>(r);
        },
        nullptr,
        [](void* c, unsigned char* b, std::size_t n, std::uint32_t timeout) {
          pollfd p{*static_cast<int*>(c), POLLIN, 0};
          if (::poll(&p, 1, static_cast<int>(timeout)) <= 0) return MBEDTLS_ERR_SSL_TIMEOUT;
          const ssize_t r = ::recv(*static_cast<int*>(c), b, n, 0);
          return r < 0 ? MBEDTLS_ERR_SSL_INTERNAL_ERROR : static_cast<int>(r);
        });
    const std::string request = "GET /_sim/state HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    ok = mbedtls_ssl_write(&ssl, reinterpret_cast<const unsigned char*>(request.data()), request.size()) ==
         static_cast<int>(request.size());
    unsigned char b[4096];
    int n;
    while (ok && (n = mbedtls_ssl_read(&ssl, b, sizeof b)) > 0) in.append(reinterpret_cast<const char*>(b), static_cast<std::size_t>(n));
  }
  ::close(fd);
  mbedtls_ssl_free(&ssl);
  mbedtls_ssl_config_free(&conf);
  REQUIRE(ok);
  const std::size_t body = in.find("\r\n\r\n");
  REQUIRE(body != std::string::npos);
  REQUIRE(in.rfind("HTTP/1.1 200", 0) == 0);
  return boost::json::parse(in.substr(body + 4)).at("requests").as_int64();
}

// kom-sim serving `cert`; the client asks for `host`.
void refused_by_client(const std::string& cert, std::string_view host, kom::errc expected) {
  SimProcess sim(cert.empty() ? std::vector<std::string>{} : bad_cert_args(cert));
  const std::int64_t before = sim_requests(sim.port());
  terminal t(sim.port(), host, 3);
  const auto r = t.capture();
  CHECK_MESSAGE(r.error.code() == expected, describe(r.error));
  CHECK_FALSE(r.sent);
  CHECK(r.status == 0);
  CHECK(r.attempts == 1);  // a certificate failure is not retried
  CHECK(r.next_step() == kom::outcome::retry_later);
  CHECK(t.client.stats().requests == 0);
  CHECK(t.tls.handshakes().full == 0);
  check_handshake_only(t.wire.sent);
  CHECK(sim_requests(sim.port()) == before + 1);  // only the state read itself
}

// ---- openssl s_server, for protocols kom-sim does not speak --------------------------------

bool openssl_available() { return std::system("openssl version >/dev/null 2>&1") == 0; }

std::string file_text(const std::string& path) {
  std::string out;
  if (FILE* fp = std::fopen(path.c_str(), "rb")) {
    char b[4096];
    std::size_t n;
    while ((n = std::fread(b, 1, sizeof b, fp)) > 0) out.append(b, n);
    std::fclose(fp);
  }
  return out;
}

// `openssl s_server` with the test server certificate and only `protocol` (-tls1_1, -tls1),
// with OpenSSL 3's security level 0 (level 1 refuses TLS < 1.2 outright). Without -www it
// prints every application data byte it receives to its output, which goes to a file.
class s_server {
 public:
  explicit s_server(const char* protocol) {
    port_ = unused_port();
    log_ = simtest::certs_dir() + "/s_server-" + std::string(protocol + 1) + ".log";
    const std::string accept = "127.0.0.1:" + std::to_string(port_);
    const std::string cert = simtest::certs_dir() + "/server.crt", key = simtest::certs_dir() + "/server.key";
    std::vector<std::string> args = {"openssl", "s_server", "-accept", accept,  "-cert", cert, "-key", key,
                                     protocol,  "-cipher",  "DEFAULT:@SECLEVEL=0"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    // Its input is a pipe kept open and silent: at the end of its input s_server would stop.
    if (::pipe(input_) != 0) input_[0] = input_[1] = -1;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, input_[0], 0);
    posix_spawn_file_actions_addclose(&actions, input_[1]);
    posix_spawn_file_actions_addopen(&actions, 1, log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    if (posix_spawnp(&pid_, "openssl", &actions, nullptr, argv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
    // Ready once it accepts a TCP connection (this probe sends nothing).
    for (int i = 0; i < 100 && pid_ > 0 && !ready_; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      a.sin_port = htons(static_cast<std::uint16_t>(port_));
      ready_ = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
      ::close(fd);
    }
  }
  ~s_server() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
    for (int fd : input_)
      if (fd >= 0) ::close(fd);
    ::unlink(log_.c_str());
  }
  s_server(const s_server&) = delete;
  s_server& operator=(const s_server&) = delete;

  bool ready() const { return ready_; }
  int port() const { return port_; }
  std::string output() const { return file_text(log_); }

 private:
  pid_t pid_ = -1;
  int input_[2] = {-1, -1};
  int port_ = 0;
  bool ready_ = false;
  std::string log_;
};

// Whether OpenSSL itself completes a handshake with the server and sends it "probe-kom" as
// application data (proves the server is live, speaks the protocol, so kom's refusal is kom's,
// and prints what it receives).
bool openssl_client_connects(int port, const char* protocol) {
  const std::string cmd = "echo probe-kom | timeout 10 openssl s_client -nocommands -connect 127.0.0.1:" +
                          std::to_string(port) + " " + protocol + " -cipher 'DEFAULT:@SECLEVEL=0' 2>/dev/null | grep -q 'Protocol *: TLSv1'";
  return std::system(cmd.c_str()) == 0;
}

// A test that needs a tool fails when the tool is missing or does not start: scripts/test
// installs openssl, so a skip would only hide a broken setup.
void refused_old_protocol(const char* protocol) {
  REQUIRE_MESSAGE(openssl_available(), "openssl not found: install it (scripts/install-deps does)");
  // Another port when the free one it was given was taken before it bound it.
  std::unique_ptr<s_server> started;
  for (int attempt = 0; attempt < 3 && !(started && started->ready()); ++attempt) {
    started.reset();  // the old one first: both use the same log file
    started = std::make_unique<s_server>(protocol);
  }
  s_server& server = *started;
  REQUIRE_MESSAGE(server.ready(), "openssl s_server " << protocol << " did not start:\n" << server.output());
  CHECK_MESSAGE(openssl_client_connects(server.port(), protocol), server.output());
  terminal t(server.port(), "localhost", 2);
  const auto r = t.capture();
  CHECK_MESSAGE(r.error.code() == kom::errc::tls_handshake_failed, describe(r.error));
  CHECK(r.error.detail() < 0);  // mbedTLS's code
  CHECK_FALSE(r.sent);
  CHECK(r.status == 0);
  CHECK(r.attempts == 2);  // a handshake failure may be the network's: retried
  CHECK(t.wire.connects == 2);
  CHECK(t.client.stats().requests == 0);
  check_handshake_only(t.wire.sent);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const std::string out = server.output();
  CHECK_MESSAGE(out.find("probe-kom") != std::string::npos, out);  // it prints what it receives
  CHECK_MESSAGE(!has_request_text(out), out);
}

// A TCP listener on 127.0.0.1 that records every byte it receives on each connection (until
// the peer closes, or 5 s), answering the first bytes with an HTTP 400 as a web server would.
class http_listener {
 public:
  http_listener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::listen(fd_, 8) == 0);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { run(); });
  }
  ~http_listener() {
    stop_.store(true);
    thread_.join();
    ::close(fd_);
  }
  http_listener(const http_listener&) = delete;
  http_listener& operator=(const http_listener&) = delete;

  int port() const { return port_; }
  // Each connection's bytes; read after the client is done (waits for the thread's last one).
  std::vector<std::string> received() {
    for (int i = 0; i < 100 && busy_.load(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    std::lock_guard<std::mutex> lock(mu_);
    return connections_;
  }

 private:
  void run() {
    while (!stop_.load()) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      busy_.store(true);
      std::string got;
      bool answered = false;
      for (;;) {
        pollfd q{c, POLLIN, 0};
        if (::poll(&q, 1, 5000) <= 0) break;
        char b[4096];
        const ssize_t n = ::recv(c, b, sizeof b, 0);
        if (n <= 0) break;
        got.append(b, static_cast<std::size_t>(n));
        if (!answered) {
          const char answer[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
          ::send(c, answer, sizeof answer - 1, MSG_NOSIGNAL);
          answered = true;
        }
      }
      ::close(c);
      {
        std::lock_guard<std::mutex> lock(mu_);
        connections_.push_back(got);
      }
      busy_.store(false);
    }
  }

  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<bool> busy_{false};
  std::mutex mu_;
  std::vector<std::string> connections_;
  std::thread thread_;
};

}  // namespace

TEST_CASE("hardening: an untrusted CA reaches no request to the server") {
  refused_by_client("untrusted-server", "localhost", kom::errc::tls_certificate_untrusted);
}

TEST_CASE("hardening: a self-signed server reaches no request to the server") {
  refused_by_client("self-signed", "localhost", kom::errc::tls_certificate_untrusted);
}

TEST_CASE("hardening: a wrong host name reaches no request to the server") {
  SUBCASE("the certificate is for other.example") {
    refused_by_client("other-host", "localhost", kom::errc::tls_hostname_mismatch);
  }
  SUBCASE("the client asks for other.example") {
    refused_by_client("", "other.example", kom::errc::tls_hostname_mismatch);
  }
}

TEST_CASE("hardening: an expired certificate reaches no request to the server") {
  refused_by_client("expired", "localhost", kom::errc::tls_certificate_expired);
}

TEST_CASE("hardening: a certificate not yet valid reaches no request to the server") {
  refused_by_client("not-yet-valid", "localhost", kom::errc::tls_certificate_not_yet_valid);
}

TEST_CASE("hardening: the same client and sim, with the right certificate, do send (the check's control)") {
  SimProcess sim({"--username", "u", "--password", "p"});
  const std::int64_t before = sim_requests(sim.port());
  terminal t(sim.port(), "localhost", 1);
  const auto r = t.capture();
  CHECK(r.sent);
  CHECK(r.status != 0);  // any answer: the request reached the sim
  CHECK(sim_requests(sim.port()) == before + 2);
  const std::vector<int> types = record_types(t.wire.sent);
  CHECK(std::find(types.begin(), types.end(), 23) != types.end());
  CHECK_FALSE(has_request_text(t.wire.sent));  // and it went encrypted
}

TEST_CASE("hardening: a server that speaks only TLS 1.1 gets no request") { refused_old_protocol("-tls1_1"); }

TEST_CASE("hardening: a server that speaks only TLS 1.0 gets no request") { refused_old_protocol("-tls1"); }

TEST_CASE("hardening: a plain HTTP server on the TLS port gets only a ClientHello") {
  http_listener http;
  terminal t(http.port(), "localhost", 2);
  const auto r = t.capture();
  CHECK_MESSAGE(r.error.code() == kom::errc::tls_handshake_failed, describe(r.error));
  CHECK_FALSE(r.sent);
  CHECK(r.status == 0);
  CHECK(r.attempts == 2);
  CHECK(t.client.stats().requests == 0);
  check_handshake_only(t.wire.sent);
  const std::vector<std::string> got = http.received();
  REQUIRE(got.size() == 2);
  for (const std::string& bytes : got) {
    check_handshake_only(bytes);
    CHECK(bytes.size() <= t.wire.sent.size());
  }
}
