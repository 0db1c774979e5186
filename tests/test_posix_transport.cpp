#include "kom/posix_transport.hpp"

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "support/alloc_counter.hpp"

namespace {

using kom::errc;
namespace io = kom::io;

// Milliseconds since `start`, on the same kind of clock the transport uses.
long long elapsed_ms(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
}

// A socket the test owns; closed when it goes.
struct socket_fd {
  int fd = -1;
  socket_fd() = default;
  explicit socket_fd(int f) : fd(f) {}
  socket_fd(const socket_fd&) = delete;
  socket_fd& operator=(const socket_fd&) = delete;
  ~socket_fd() { reset(); }
  void reset(int f = -1) {
    if (fd >= 0) ::close(fd);
    fd = f;
  }
};

// A TCP server socket on a loopback address (127.0.0.1 or ::1), on a port the kernel picks.
struct listener {
  socket_fd sock;
  std::uint16_t port = 0;

  // listen_now false: bound but not listening, so a connect to it is refused and the port
  // stays ours. rcvbuf: the accepted sockets' receive buffer, when > 0.
  explicit listener(int family = AF_INET, bool listen_now = true, int backlog = 16, int rcvbuf = 0) {
    sock.reset(::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (sock.fd < 0) return;
    const int one = 1;
    ::setsockopt(sock.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (rcvbuf > 0) ::setsockopt(sock.fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    sockaddr_storage addr{};
    socklen_t len = 0;
    if (family == AF_INET) {
      auto* a = reinterpret_cast<sockaddr_in*>(&addr);
      a->sin_family = AF_INET;
      a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      len = sizeof *a;
    } else {
      auto* a = reinterpret_cast<sockaddr_in6*>(&addr);
      a->sin6_family = AF_INET6;
      a->sin6_addr = in6addr_loopback;
      len = sizeof *a;
    }
    if (::bind(sock.fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
        (listen_now && ::listen(sock.fd, backlog) != 0)) {
      sock.reset();
      return;
    }
    len = sizeof addr;
    ::getsockname(sock.fd, reinterpret_cast<sockaddr*>(&addr), &len);
    port = ntohs(family == AF_INET ? reinterpret_cast<sockaddr_in*>(&addr)->sin_port
                                   : reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
  }

  bool ok() const { return sock.fd >= 0; }

  // The next connection, waiting up to 5 s; -1 when none came.
  int accept_one() const {
    pollfd p{sock.fd, POLLIN, 0};
    if (::poll(&p, 1, 5000) != 1) return -1;
    return ::accept4(sock.fd, nullptr, nullptr, SOCK_CLOEXEC);
  }
};

void send_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    REQUIRE(n > 0);
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

// Reads exactly n bytes on the server side (blocking socket).
std::string read_exactly(int fd, std::size_t n) {
  std::string out(n, '\0');
  std::size_t got = 0;
  while (got < n) {
    const ssize_t r = ::recv(fd, &out[got], n - got, 0);
    REQUIRE(r > 0);
    got += static_cast<std::size_t>(r);
  }
  return out;
}

// Reads n bytes through the transport, in as many calls as it takes.
std::string recv_exactly(kom::posix_tcp& t, std::size_t n) {
  std::string out(n, '\0');
  std::size_t got = 0;
  while (got < n) {
    const int r = t.recv(reinterpret_cast<unsigned char*>(&out[got]), n - got, 5000);
    REQUIRE(r > 0);
    got += static_cast<std::size_t>(r);
  }
  return out;
}

int send_text(kom::posix_tcp& t, std::string_view text) {
  return t.send(reinterpret_cast<const unsigned char*>(text.data()), text.size());
}

// Fills the client's send buffer and the server's receive buffer until nothing more fits.
void fill_send_buffer(int client_fd) {
  const int small = 4096;
  ::setsockopt(client_fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
  static const std::vector<char> chunk(16384, 'x');
  std::size_t total = 0;
  for (;;) {
    const ssize_t n = ::send(client_fd, chunk.data(), chunk.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      REQUIRE((errno == EAGAIN || errno == EWOULDBLOCK));
      break;
    }
    total += static_cast<std::size_t>(n);
    REQUIRE(total < (std::size_t{256} << 20));  // the buffers never filled: something is wrong
  }
}

// While it lives, the process has no file descriptor to spare: socket(), and getaddrinfo for
// any name it has to look up, fail.
class no_free_descriptors {
 public:
  no_free_descriptors() {
    REQUIRE(::getrlimit(RLIMIT_NOFILE, &old_) == 0);
    const int lowest_free = ::dup(0);
    REQUIRE(lowest_free >= 0);
    ::close(lowest_free);
    rlimit tight = old_;
    tight.rlim_cur = static_cast<rlim_t>(lowest_free);
    REQUIRE(::setrlimit(RLIMIT_NOFILE, &tight) == 0);
  }
  no_free_descriptors(const no_free_descriptors&) = delete;
  no_free_descriptors& operator=(const no_free_descriptors&) = delete;
  ~no_free_descriptors() { ::setrlimit(RLIMIT_NOFILE, &old_); }

 private:
  rlimit old_{};
};

int sigalrm_count = 0;
extern "C" void on_sigalrm(int) { ++sigalrm_count; }

}  // namespace

TEST_CASE("posix transport: connect, send and recv over 127.0.0.1") {
  listener server;
  REQUIRE(server.ok());
  kom::posix_tcp t;
  CHECK_FALSE(t.is_open());
  CHECK(t.fd() == -1);
  CHECK(t.error().ok());

  REQUIRE(t.connect("127.0.0.1", server.port, 5000) == io::ok);
  CHECK(t.is_open());
  CHECK(t.fd() >= 0);
  CHECK(t.error().ok());
  socket_fd peer(server.accept_one());
  REQUIRE(peer.fd >= 0);

  SUBCASE("bytes both ways") {
    CHECK(send_text(t, "POST /ordermanagement HTTP/1.1\r\n\r\n") == 34);
    CHECK(read_exactly(peer.fd, 34) == "POST /ordermanagement HTTP/1.1\r\n\r\n");
    send_all(peer.fd, "HTTP/1.1 204 No Content\r\n\r\n");
    CHECK(recv_exactly(t, 27) == "HTTP/1.1 204 No Content\r\n\r\n");
    CHECK(t.error().ok());
  }
  SUBCASE("the socket is non-blocking, close-on-exec and without Nagle's delay") {
    CHECK((::fcntl(t.fd(), F_GETFL) & O_NONBLOCK) != 0);
    CHECK((::fcntl(t.fd(), F_GETFD) & FD_CLOEXEC) != 0);
    int nodelay = 0;
    socklen_t len = sizeof nodelay;
    REQUIRE(::getsockopt(t.fd(), IPPROTO_TCP, TCP_NODELAY, &nodelay, &len) == 0);
    CHECK(nodelay != 0);
  }
  SUBCASE("through kom::transport") {
    kom::transport tr = t.transport();
    CHECK(tr.context == &t);
    const unsigned char ping[] = {'p', 'i', 'n', 'g'};
    CHECK(tr.send(tr.context, ping, sizeof ping) == 4);
    CHECK(read_exactly(peer.fd, 4) == "ping");
    send_all(peer.fd, "pong");
    unsigned char buf[4] = {};
    CHECK(tr.recv(tr.context, buf, sizeof buf, 5000) == 4);
    CHECK(std::memcmp(buf, "pong", 4) == 0);
    CHECK(tr.recv(tr.context, buf, sizeof buf, 20) == io::timed_out);
    const kom::error e = kom::transport_error(tr, io::timed_out);
    CHECK(e.code() == errc::timed_out);
    CHECK(e.detail() == ETIMEDOUT);
    tr.close(tr.context);
    CHECK_FALSE(t.is_open());
    CHECK(tr.connect(tr.context, "127.0.0.1", server.port, 5000) == io::ok);
    CHECK(t.is_open());
    CHECK(tr.error(tr.context).ok());
  }
}

TEST_CASE("posix transport: partial recv") {
  listener server;
  REQUIRE(server.ok());
  kom::posix_tcp t;
  REQUIRE(t.connect("127.0.0.1", server.port, 5000) == io::ok);
  socket_fd peer(server.accept_one());
  REQUIRE(peer.fd >= 0);
  send_all(peer.fd, "0123456789");

  unsigned char buf[4] = {};
  REQUIRE(t.recv(buf, sizeof buf, 5000) == 4);
  CHECK(std::string_view(reinterpret_cast<const char*>(buf), 4) == "0123");
  CHECK(recv_exactly(t, 6) == "456789");
  CHECK(t.recv(buf, sizeof buf, 0) == io::would_block);  // all read
}

TEST_CASE("posix transport: recv waits for bytes that come later") {
  listener server;
  REQUIRE(server.ok());
  kom::posix_tcp t;
  REQUIRE(t.connect("127.0.0.1", server.port, 5000) == io::ok);
  socket_fd peer(server.accept_one());
  REQUIRE(peer.fd >= 0);

  const auto start = std::chrono::steady_clock::now();
  std::thread late([fd = peer.fd] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    ::send(fd, "late", 4, MSG_NOSIGNAL);
  });
  unsigned char buf[8] = {};
  const int n = t.recv(buf, sizeof buf, 10000);
  late.join();
  CHECK(n == 4);
  CHECK(elapsed_ms(start) >= 50);
  CHECK(t.error().ok());
}

TEST_CASE("posix transport: recv timeout and would_block") {
  listener server;
  REQUIRE(server.ok());
  kom::posix_tcp t;
  REQUIRE(t.connect("127.0.0.1", server.port, 5000) == io::ok);
  socket_fd peer(server.accept_one());
  REQUIRE(peer.fd >= 0);
  unsigned char buf[8];

  auto start = std::chrono::steady_clock::now();
  CHECK(t.recv(buf, sizeof buf, 0) == io::would_block);
  CHECK(elapsed_ms(start) < 1000);
  CHECK(t.error().ok());  // would_block is not a failure

  start = std::chrono::steady_clock::now();
  CHECK(t.recv(buf, sizeof buf, 150) == io::timed_out);
  const long long waited = elapsed_ms(start);
  CHECK(waited >= 145);
  CHECK(waited < 5000);
  CHECK(t.error().code() == errc::timed_out);
  CHECK(t.error().detail() == ETIMEDOUT);
  CHECK(t.is_open());  // a timeout leaves the connection to the caller

  // Still usable after the timeout.
  send_all(peer.fd, "x");
  CHECK(t.recv(buf, sizeof buf, 5000) == 1);
}

TEST_CASE("posix transport: a signal during recv's wait does not end it early") {
  listener server;
  REQUIRE(server.ok());
  kom::posix_tcp t;
  REQUIRE(t.connect("127.0.0.1", server.port, 5000) == io::ok);
  socket_fd peer(server.accept_one());
  REQUIRE(peer.fd >= 0);

  struct sigaction action {};
  struct sigaction old {};
  action.sa_handler = on_sigalrm;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;  // no SA_RESTART: poll fails with EINTR
  REQUIRE(::sigaction(SIGALRM, &action, &old) == 0);
  sigalrm_count = 0;
  itimerval timer{};
  timer.it_value.tv_usec = 50000;
  REQUIRE(::setitimer(ITIMER_REAL, &timer, nullptr) == 0);

  unsigned char buf[8];
  const auto start = std::chrono::steady_clock::now();
  const int r = t.recv(buf, sizeof buf, 300);
  const long long waited = elapsed_ms(start);
  ::sigaction(SIGALRM, &old, nullptr);

  CHECK(sigalrm_count == 1);
  CHECK(r == io::timed_out);
  CHECK(waited >= 295);
}

TEST_CASE("posix transport: orderly close reads as 0") {
  listener server;
  REQUIRE(server.ok());
  kom::posix_tcp t;
  REQUIRE(t.connect("127.0.0.1", server.port, 5000) == io::ok);
  socket_fd peer(server.accept_one());
  REQUIRE(peer.fd >= 0);
  send_all(peer.fd, "bye");
  peer.reset();

  CHECK(recv_exactly(t, 3) == "bye");
  unsigned char buf[8];
  CHECK(t.recv(buf, sizeof buf, 5000) == 0);
  CHECK(t.error().ok());
  CHECK(t.recv(buf, sizeof buf, 0) == 0);  // and stays so
}

TEST_CASE("posix transport: a reset reads as io::closed") {
  listener server;
  REQUIRE(server.ok());
  kom::posix_tcp t;
  REQUIRE(t.connect("127.0.0.1", server.port, 5000) == io::ok);
  socket_fd peer(server.accept_one());
  REQUIRE(peer.fd >= 0);
  const linger abort_on_close{1, 0};  // close sends RST instead of FIN
  REQUIRE(::setsockopt(peer.fd, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close) == 0);
  peer.reset();

  unsigned char buf[8];
  CHECK(t.recv(buf, sizeof buf, 5000) == io::closed);
  CHECK(t.error().code() == errc::connection_closed);
  CHECK(t.error().detail() == ECONNRESET);

  // Sending on the reset connection: io::closed too (EPIPE), and no SIGPIPE kills the test.
  CHECK(send_text(t, "more") == io::closed);
  CHECK(t.error().code() == errc::connection_closed);
  CHECK((t.error().detail() == EPIPE || t.error().detail() == ECONNRESET));
  t.close();
  CHECK_FALSE(t.is_open());
}

TEST_CASE("posix transport: send times out when no room comes") {
  listener server(AF_INET, true, 16, 4096);
  REQUIRE(server.ok());
  kom::posix_tcp_options options;
  options.send_timeout_ms = 150;
  kom::posix_tcp t(options);
  REQUIRE(t.connect("127.0.0.1", server.port, 5000) == io::ok);
  socket_fd peer(server.accept_one());
  REQUIRE(peer.fd >= 0);
  fill_send_buffer(t.fd());

  const auto start = std::chrono::steady_clock::now();
  CHECK(send_text(t, "x") == io::timed_out);
  CHECK(elapsed_ms(start) >= 145);
  CHECK(t.error().code() == errc::timed_out);
  CHECK(t.error().detail() == ETIMEDOUT);
  CHECK(t.is_open());
}

TEST_CASE("posix transport: send waits for room") {
  listener server(AF_INET, true, 16, 4096);
  REQUIRE(server.ok());
  kom::posix_tcp t;  // send_timeout_ms 10000
  REQUIRE(t.connect("127.0.0.1", server.port, 5000) == io::ok);
  socket_fd peer(server.accept_one());
  REQUIRE(peer.fd >= 0);
  fill_send_buffer(t.fd());

  std::thread drain([fd = peer.fd] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    char sink[65536];
    while (::recv(fd, sink, sizeof sink, MSG_DONTWAIT) > 0) {
    }
  });
  const auto start = std::chrono::steady_clock::now();
  const int r = send_text(t, "y");
  const long long waited = elapsed_ms(start);
  drain.join();
  CHECK(r == 1);
  CHECK(waited >= 50);
  CHECK(t.error().ok());
}

TEST_CASE("posix transport: send with send_timeout_ms 0 returns would_block") {
  listener server(AF_INET, true, 16, 4096);
  REQUIRE(server.ok());
  kom::posix_tcp_options options;
  options.send_timeout_ms = 0;
  kom::posix_tcp t(options);
  REQUIRE(t.connect("127.0.0.1", server.port, 5000) == io::ok);
  socket_fd peer(server.accept_one());
  REQUIRE(peer.fd >= 0);
  CHECK(send_text(t, "fits") == 4);
  CHECK(read_exactly(peer.fd, 4) == "fits");
  fill_send_buffer(t.fd());
  const auto start = std::chrono::steady_clock::now();
  CHECK(send_text(t, "x") == io::would_block);
  CHECK(elapsed_ms(start) < 1000);
  CHECK(t.error().ok());
}

TEST_CASE("posix transport: connection refused on a closed port") {
  listener bound(AF_INET, false);  // bound, not listening: the port is ours and refuses
  REQUIRE(bound.ok());
  kom::posix_tcp t;
  CHECK(t.connect("127.0.0.1", bound.port, 5000) == io::refused);
  CHECK_FALSE(t.is_open());
  CHECK(t.fd() == -1);
  CHECK(t.error().code() == errc::connect_failed);
  CHECK(t.error().detail() == ECONNREFUSED);
  kom::transport tr = t.transport();
  CHECK(kom::transport_error(tr, io::refused).detail() == ECONNREFUSED);

  // A later connect that works clears the failure.
  listener server;
  REQUIRE(server.ok());
  CHECK(t.connect("127.0.0.1", server.port, 5000) == io::ok);
  CHECK(t.error().ok());
}

TEST_CASE("posix transport: connect times out when the server does not answer") {
  // A listener whose accept queue is full drops further SYNs: the handshake never ends.
  listener server(AF_INET, true, 0);
  REQUIRE(server.ok());
  std::vector<int> queued;
  bool full = false;
  for (int i = 0; i < 64 && !full; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    queued.push_back(fd);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(server.port);
    ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    pollfd p{fd, POLLOUT, 0};
    full = ::poll(&p, 1, 200) == 0;
  }
  REQUIRE(full);

  kom::posix_tcp t;
  const auto start = std::chrono::steady_clock::now();
  CHECK(t.connect("127.0.0.1", server.port, 150) == io::timed_out);
  const long long waited = elapsed_ms(start);
  CHECK(waited >= 145);
  CHECK(waited < 5000);
  CHECK_FALSE(t.is_open());
  CHECK(t.error().code() == errc::timed_out);
  CHECK(t.error().detail() == ETIMEDOUT);
  for (int fd : queued) ::close(fd);
}

TEST_CASE("posix transport: names that do not resolve") {
  kom::posix_tcp t;
  const auto start = std::chrono::steady_clock::now();

  SUBCASE("under .invalid, answered without a resolver (RFC 6761)") {
    for (std::string_view name : {"no-such-host.invalid", "NO-SUCH-HOST.INVALID.", "invalid", "a.b.Invalid"}) {
      CAPTURE(name);
      CHECK(t.connect(name, 443, 5000) == io::unresolved);
      CHECK(t.error().code() == errc::resolve_failed);
      CHECK(t.error().detail() == EAI_NONAME);
      CHECK_FALSE(t.is_open());
    }
    CHECK(elapsed_ms(start) < 1000);

    // Proof that no resolver was asked: without a file descriptor to spare getaddrinfo
    // fails with EAI_SYSTEM for any name it looks up.
    int r = 0;
    kom::error e;
    {
      no_free_descriptors limit;
      r = t.connect("no-such-host.invalid", 443, 5000);
      e = t.error();
    }
    CHECK(r == io::unresolved);
    CHECK(e.detail() == EAI_NONAME);
  }
  SUBCASE("a name getaddrinfo rejects") {
    // An empty label: glibc refuses it before asking DNS.
    CHECK(t.connect("empty..label", 443, 5000) == io::unresolved);
    CHECK(t.error().code() == errc::resolve_failed);
    CHECK(t.error().detail() != 0);
  }
  SUBCASE("longer than 253 bytes") {
    CHECK(t.connect(std::string(254, 'a'), 443, 5000) == io::unresolved);
    CHECK(t.error().code() == errc::resolve_failed);
    CHECK(t.error().detail() == EAI_NONAME);
    CHECK(t.connect(std::string(100000, 'a'), 443, 5000) == io::unresolved);
    CHECK(elapsed_ms(start) < 1000);
  }
  SUBCASE("253 bytes are taken whole, 254 are not") {
    // "::1%000...0" is ::1 with a numeric scope id of any length: getaddrinfo takes it at
    // 253 and at 254 bytes alike, so only the length limit tells them apart.
    listener server(AF_INET6);
    if (!server.ok()) {
      MESSAGE("no IPv6 loopback (::1) on this machine: skipped");
      return;
    }
    const std::string longest = "::1%" + std::string(249, '0');
    REQUIRE(longest.size() == 253);
    CHECK(t.connect(longest, server.port, 5000) == io::ok);
    CHECK(t.connect(longest + "0", server.port, 5000) == io::unresolved);
    CHECK(t.error().detail() == EAI_NONAME);
  }
  SUBCASE("empty, or with a NUL inside") {
    CHECK(t.connect("", 443, 5000) == io::unresolved);
    CHECK(t.error().code() == errc::resolve_failed);
    listener server;
    REQUIRE(server.ok());
    // "127.0.0.1\0.example" must not connect to 127.0.0.1.
    CHECK(t.connect(std::string_view("127.0.0.1\0.example", 18), server.port, 5000) == io::unresolved);
    CHECK_FALSE(t.is_open());
  }
}

TEST_CASE("posix transport: IPv6 loopback") {
  listener server(AF_INET6);
  if (!server.ok()) {
    MESSAGE("no IPv6 loopback (::1) on this machine: skipped");
    return;
  }
  kom::posix_tcp t;
  REQUIRE(t.connect("::1", server.port, 5000) == io::ok);
  socket_fd peer(server.accept_one());
  REQUIRE(peer.fd >= 0);
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  REQUIRE(::getsockname(t.fd(), reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  CHECK(addr.ss_family == AF_INET6);
  CHECK(send_text(t, "v6") == 2);
  CHECK(read_exactly(peer.fd, 2) == "v6");

  listener bound(AF_INET6, false);
  REQUIRE(bound.ok());
  kom::posix_tcp refused;
  CHECK(refused.connect("::1", bound.port, 5000) == io::refused);
  CHECK(refused.error().detail() == ECONNREFUSED);
}

TEST_CASE("posix transport: each address of a name is tried in turn") {
  // Needs a name with an IPv6 and an IPv4 loopback address, in either order; "localhost"
  // has both on many machines (from /etc/hosts, no network).
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* list = nullptr;
  if (::getaddrinfo("localhost", "1", &hints, &list) != 0) {
    MESSAGE("localhost does not resolve here: skipped");
    return;
  }
  int first = list->ai_family;
  int second = AF_UNSPEC;
  for (const addrinfo* a = list->ai_next; a != nullptr; a = a->ai_next) {
    if (a->ai_family != first && (a->ai_family == AF_INET || a->ai_family == AF_INET6)) second = a->ai_family;
  }
  ::freeaddrinfo(list);
  if (second == AF_UNSPEC) {
    MESSAGE("localhost has addresses of one family only here: skipped");
    return;
  }
  // Listen on the second family only; the first address is refused, the second answers.
  listener server(second);
  REQUIRE(server.ok());
  kom::posix_tcp t;
  REQUIRE(t.connect("localhost", server.port, 5000) == io::ok);
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  REQUIRE(::getsockname(t.fd(), reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  CHECK(addr.ss_family == second);
  CHECK(t.error().ok());
}

TEST_CASE("posix transport: send and recv when closed, and of 0 bytes") {
  kom::posix_tcp t;
  unsigned char buf[4] = {};
  CHECK(t.send(buf, sizeof buf) == io::closed);
  CHECK(t.error().code() == errc::connection_closed);
  CHECK(t.error().detail() == ENOTCONN);
  CHECK(t.recv(buf, sizeof buf, 0) == io::closed);
  CHECK(t.error().code() == errc::connection_closed);
  t.close();  // safe when closed
  t.close();

  listener server;
  REQUIRE(server.ok());
  REQUIRE(t.connect("127.0.0.1", server.port, 5000) == io::ok);
  CHECK(t.send(buf, 0) == io::failed);
  CHECK(t.error().code() == errc::io_failed);
  CHECK(t.error().detail() == EINVAL);
  CHECK(t.recv(buf, 0, 0) == io::failed);
  CHECK(t.error().detail() == EINVAL);
}

TEST_CASE("posix transport: io::failed when the descriptor is not a socket") {
  listener server;
  REQUIRE(server.ok());
  kom::posix_tcp t;
  REQUIRE(t.connect("127.0.0.1", server.port, 5000) == io::ok);
  socket_fd null_device(::open("/dev/null", O_RDWR | O_CLOEXEC));
  REQUIRE(null_device.fd >= 0);
  REQUIRE(::dup2(null_device.fd, t.fd()) == t.fd());  // the transport's fd is now /dev/null

  unsigned char buf[4] = {'a', 'b', 'c', 'd'};
  CHECK(t.send(buf, sizeof buf) == io::failed);
  CHECK(t.error().code() == errc::io_failed);
  CHECK(t.error().detail() == ENOTSOCK);
  CHECK(t.recv(buf, sizeof buf, 0) == io::failed);
  CHECK(t.error().code() == errc::io_failed);
  CHECK(t.error().detail() == ENOTSOCK);
  t.close();  // closes the /dev/null duplicate
}

TEST_CASE("posix transport: connect fails with io::failed when no socket can be made") {
  listener server;
  REQUIRE(server.ok());
  kom::posix_tcp t;
  int r = 0;
  kom::error e;
  {
    no_free_descriptors limit;
    r = t.connect("127.0.0.1", server.port, 5000);  // a number: getaddrinfo opens no file
    e = t.error();
  }
  CHECK(r == io::failed);
  CHECK(e.code() == errc::connect_failed);
  CHECK(e.detail() == EMFILE);
  CHECK_FALSE(t.is_open());
}

TEST_CASE("posix transport: close, connect again and the destructor") {
  listener server;
  REQUIRE(server.ok());
  int first_fd = -1;
  {
    kom::posix_tcp t;
    REQUIRE(t.connect("127.0.0.1", server.port, 5000) == io::ok);
    socket_fd peer(server.accept_one());
    REQUIRE(peer.fd >= 0);

    // A second connect closes the first connection (the server sees it end).
    REQUIRE(t.connect("127.0.0.1", server.port, 5000) == io::ok);
    char c = 0;
    pollfd p{peer.fd, POLLIN, 0};
    REQUIRE(::poll(&p, 1, 5000) == 1);
    CHECK(::recv(peer.fd, &c, 1, 0) == 0);
    first_fd = t.fd();
  }
  // The destructor closed it.
  errno = 0;
  CHECK(::fcntl(first_fd, F_GETFD) == -1);
  CHECK(errno == EBADF);
}

TEST_CASE("posix transport: send, recv and close do not allocate") {
  listener server;
  REQUIRE(server.ok());
  kom::posix_tcp t;
  REQUIRE(t.connect("127.0.0.1", server.port, 5000) == io::ok);  // getaddrinfo allocates
  socket_fd peer(server.accept_one());
  REQUIRE(peer.fd >= 0);
  send_all(peer.fd, "abc");
  unsigned char buf[8] = {};
  int sent = 0;
  int got = 0;
  int timed_out = 0;
  {
    kom_test::alloc_scope scope;
    sent = t.send(buf, 5);
    pollfd p{t.fd(), POLLIN, 0};
    ::poll(&p, 1, 5000);
    got = t.recv(buf, sizeof buf, 5000);
    timed_out = t.recv(buf, sizeof buf, 10);
    t.close();
    CHECK(scope.count() == 0);
  }
  CHECK(sent == 5);
  CHECK(got == 3);
  CHECK(timed_out == io::timed_out);
}
