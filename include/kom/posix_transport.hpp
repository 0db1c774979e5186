// kom/posix_transport.hpp: kom::posix_tcp, a plain TCP kom::transport over POSIX sockets.
//
// For Linux-based terminals (and other POSIX systems with BSD sockets). It is the plain
// byte stream under kom::tls_stream (kom/tls.hpp); the client never talks to it directly:
//
//   kom::posix_tcp tcp;                       // must outlive the transport
//   kom::transport plain = tcp.transport();   // give this to kom::tls_stream
//
// Host names resolve with getaddrinfo, IPv4 and IPv6 alike, and each address is tried in
// turn within connect's timeout. The socket stays non-blocking and every wait is a poll(),
// so connect, send and recv each return within their timeout. No SIGPIPE (MSG_NOSIGNAL),
// no heap, no exceptions. getaddrinfo itself has no timeout (it waits as long as the
// system's resolver does) and allocates inside the C library; names under ".invalid"
// (RFC 6761) are refused without asking it.
//
// error() gives the details of the last failure: an errc with errno as its detail, or the
// getaddrinfo code (EAI_*) for errc::resolve_failed.
#ifndef KOM_POSIX_TRANSPORT_HPP
#define KOM_POSIX_TRANSPORT_HPP

#if !defined(__unix__) && !defined(__unix) && !(defined(__APPLE__) && defined(__MACH__))
#error "kom/posix_transport.hpp needs POSIX sockets; on this platform write a kom::transport (kom/transport.hpp) over its own sockets"
#endif

#include <cerrno>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "kom/error.hpp"
#include "kom/transport.hpp"

#if !defined(SOCK_NONBLOCK) || !defined(SOCK_CLOEXEC) || !defined(MSG_NOSIGNAL)
#error "kom/posix_transport.hpp needs SOCK_NONBLOCK, SOCK_CLOEXEC and MSG_NOSIGNAL (Linux, Android, the BSDs)"
#endif

namespace kom {

/// Settings of a kom::posix_tcp.
struct posix_tcp_options {
  /// How long send() waits for room in the socket's buffer before io::timed_out; 0 makes
  /// it return io::would_block at once instead.
  std::uint32_t send_timeout_ms = 10000;
};

namespace detail {
namespace posix {

// Milliseconds of a clock that never jumps (the wall clock may be set while we wait).
inline std::uint64_t now_ms() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000u + static_cast<std::uint64_t>(ts.tv_nsec) / 1000000u;
}

// Waits until fd is ready for `events` or the deadline passes: 1 ready (or in error: the
// next call on fd says which), 0 timed out, -1 poll failed (errno). Signals do not cut the
// wait short: poll is called again with the time that remains.
inline int wait_for(int fd, short events, std::uint64_t deadline) noexcept {
  for (;;) {
    const std::uint64_t now = now_ms();
    const std::uint64_t left = now < deadline ? deadline - now : 0;
    pollfd p{};
    p.fd = fd;
    p.events = events;
    const int r = ::poll(&p, 1, left > INT_MAX ? INT_MAX : static_cast<int>(left));
    if (r > 0) return 1;
    if (r == 0) {
      if (left == 0 || now_ms() >= deadline) return 0;
      continue;  // poll's millisecond rounding woke us a little early
    }
    if (errno != EINTR) return -1;
  }
}

inline bool is_would_block(int e) noexcept {
#if EAGAIN != EWOULDBLOCK
  if (e == EWOULDBLOCK) return true;
#endif
  return e == EAGAIN;
}

// An established connection's send or recv failure as an io code.
inline int stream_code(int e) noexcept {
  switch (e) {
    case ECONNRESET:
    case EPIPE:
    case ENOTCONN:
    case ECONNABORTED: return io::closed;
    case ETIMEDOUT: return io::timed_out;  // the kernel gave up on the peer (retransmits, keepalive)
    default: return io::failed;
  }
}

// A failed connect to one address as an io code.
inline int connect_code(int e) noexcept {
  switch (e) {
    case ECONNREFUSED:
    case ENETUNREACH:
    case EHOSTUNREACH:
    case ENETDOWN:
#ifdef EHOSTDOWN
    case EHOSTDOWN:
#endif
    case EADDRNOTAVAIL:  // e.g. an IPv6 address on a host without IPv6
    case EAFNOSUPPORT:
    case ECONNRESET:
    case ECONNABORTED: return io::refused;
    case ETIMEDOUT: return io::timed_out;
    default: return io::failed;
  }
}

// RFC 6761: a name under .invalid never resolves, so no resolver (or network) is asked.
inline bool is_invalid_name(std::string_view host) noexcept {
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  constexpr std::string_view tld = "invalid";
  if (host.size() < tld.size()) return false;
  const std::string_view tail = host.substr(host.size() - tld.size());
  for (std::size_t i = 0; i < tld.size(); ++i) {
    const char c = tail[i];
    if ((c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c) != tld[i]) return false;
  }
  return host.size() == tld.size() || host[host.size() - tld.size() - 1] == '.';
}

}  // namespace posix
}  // namespace detail

/// A plain TCP connection over POSIX sockets; see the top of this file. One connection at
/// a time, used by one caller at a time.
class posix_tcp {
 public:
  /// The longest host name accepted: a DNS name's limit (RFC 1035), trailing dot excluded.
  static constexpr std::size_t max_host = 253;

  /// Not connected. Allocates nothing (connect's getaddrinfo allocates inside the C library).
  explicit posix_tcp(posix_tcp_options options = {}) noexcept : options_(options) {}
  ~posix_tcp() { close(); }
  posix_tcp(const posix_tcp&) = delete;
  posix_tcp& operator=(const posix_tcp&) = delete;

  /// Connects to host:port (a name, or an IPv4 or IPv6 address in text), trying each
  /// address the name resolves to until one connects, all within timeout_ms (0: do not
  /// wait; the time getaddrinfo takes counts too). io::ok, io::refused (the last address
  /// tried was refused or unreachable), io::unresolved, io::timed_out or io::failed. An
  /// open connection is closed first.
  int connect(std::string_view host, std::uint16_t port, std::uint32_t timeout_ms) noexcept {
    close();
    error_ = {};
    const std::uint64_t deadline = detail::posix::now_ms() + timeout_ms;

    // getaddrinfo wants a C string; an empty name, a longer one or one with a NUL inside
    // would name some other host.
    if (host.empty() || host.size() > max_host || host.find('\0') != std::string_view::npos ||
        detail::posix::is_invalid_name(host)) {
      return fail(io::unresolved, errc::resolve_failed, EAI_NONAME);
    }
    char name[max_host + 1];
    std::memcpy(name, host.data(), host.size());
    name[host.size()] = '\0';

    char service[6];
    char* end = service + sizeof service;
    *--end = '\0';
    unsigned p = port;
    do {
      *--end = static_cast<char>('0' + p % 10);
      p /= 10;
    } while (p != 0);

    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    // No AI_ADDRCONFIG: it drops 127.0.0.1 and ::1 on a terminal whose only addresses are
    // loopback, and an address of a family we cannot reach just fails fast below.
    hints.ai_flags = AI_NUMERICSERV;
    addrinfo* list = nullptr;
    const int rc = ::getaddrinfo(name, end, &hints, &list);
    if (rc != 0) return fail(io::unresolved, errc::resolve_failed, rc);

    int result = io::unresolved;
    for (const addrinfo* a = list; a != nullptr; a = a->ai_next) {
      result = connect_one(*a, deadline);
      if (result == io::ok || detail::posix::now_ms() >= deadline) break;
    }
    ::freeaddrinfo(list);
    if (result == io::ok) error_ = {};  // an earlier address's failure is no longer news
    return result;
  }

  /// Sends up to `size` bytes: the count sent, or io::would_block (send_timeout_ms 0),
  /// io::timed_out (no room within send_timeout_ms), io::closed, io::failed.
  int send(const unsigned char* data, std::size_t size) noexcept {
    if (fd_ < 0) return fail(io::closed, errc::connection_closed, ENOTCONN);
    if (size == 0) return fail(io::failed, errc::io_failed, EINVAL);
    const std::size_t n = size < max_chunk ? size : max_chunk;
    std::uint64_t deadline = 0;
    bool waited = false;
    for (;;) {
      const ssize_t sent = ::send(fd_, data, n, MSG_NOSIGNAL);
      if (sent > 0) return static_cast<int>(sent);
      const int e = sent == 0 ? EAGAIN : errno;  // TCP never sends 0 of n > 0 bytes; treat it as no room
      if (e == EINTR) continue;
      if (!detail::posix::is_would_block(e)) return fail_stream(e);
      if (options_.send_timeout_ms == 0) return io::would_block;
      if (!waited) {
        deadline = detail::posix::now_ms() + options_.send_timeout_ms;
        waited = true;
      }
      const int w = detail::posix::wait_for(fd_, POLLOUT, deadline);
      if (w == 0) return fail(io::timed_out, errc::timed_out, ETIMEDOUT);
      if (w < 0) return fail(io::failed, errc::io_failed, errno);
    }
  }

  /// Receives up to `size` bytes, waiting at most timeout_ms: the count received, 0 when
  /// the peer closed in order, or io::would_block (timeout_ms 0 and nothing there),
  /// io::timed_out, io::closed (reset by the peer), io::failed.
  int recv(unsigned char* data, std::size_t size, std::uint32_t timeout_ms) noexcept {
    if (fd_ < 0) return fail(io::closed, errc::connection_closed, ENOTCONN);
    // A recv of 0 bytes returns 0, which would read as the peer closing.
    if (size == 0) return fail(io::failed, errc::io_failed, EINVAL);
    const std::size_t n = size < max_chunk ? size : max_chunk;
    std::uint64_t deadline = 0;
    bool waited = false;
    for (;;) {
      const ssize_t got = ::recv(fd_, data, n, 0);
      if (got >= 0) return static_cast<int>(got);
      const int e = errno;
      if (e == EINTR) continue;
      if (!detail::posix::is_would_block(e)) return fail_stream(e);
      if (timeout_ms == 0) return io::would_block;
      if (!waited) {
        deadline = detail::posix::now_ms() + timeout_ms;
        waited = true;
      }
      const int w = detail::posix::wait_for(fd_, POLLIN, deadline);
      if (w == 0) return fail(io::timed_out, errc::timed_out, ETIMEDOUT);
      if (w < 0) return fail(io::failed, errc::io_failed, errno);
    }
  }

  /// Closes the connection. Safe when closed. error() keeps the last failure.
  void close() noexcept {
    if (fd_ < 0) return;
    // Not retried on EINTR: Linux has released the descriptor either way, and a retry
    // could close one that another thread just opened.
    ::close(fd_);
    fd_ = -1;
  }

  /// The details of the last failure since connect() began; ok when there was none.
  /// io::would_block is not a failure.
  kom::error error() const noexcept { return error_; }

  /// This connection as a kom::transport; *this must outlive it.
  kom::transport transport() noexcept { return make_transport(*this); }

  /// The socket, -1 when closed (for the caller's own setsockopt, e.g. keepalive).
  int fd() const noexcept { return fd_; }
  /// True while a socket is open.
  bool is_open() const noexcept { return fd_ >= 0; }

 private:
  // The most one call moves, so that the count fits the int it is returned in.
  static constexpr std::size_t max_chunk = INT_MAX;

  int fail(int code, errc e, int detail) noexcept {
    error_ = kom::error(e, detail);
    return code;
  }

  int fail_stream(int e) noexcept {
    const int code = detail::posix::stream_code(e);
    return fail(code, code == io::closed ? errc::connection_closed : code == io::timed_out ? errc::timed_out : errc::io_failed, e);
  }

  int fail_connect(int e) noexcept {
    const int code = detail::posix::connect_code(e);
    return fail(code, code == io::timed_out ? errc::timed_out : errc::connect_failed, e);
  }

  // One address: a non-blocking connect, then poll until it is made or the deadline.
  int connect_one(const addrinfo& a, std::uint64_t deadline) noexcept {
    const int fd = ::socket(a.ai_family, a.ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a.ai_protocol);
    if (fd < 0) return fail_connect(errno);
    // Requests go out in a few writes (head, body; TLS records): no Nagle delay between them.
    // A failure here costs latency only.
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

    // An interrupted non-blocking connect goes on in the background, like EINPROGRESS.
    if (::connect(fd, a.ai_addr, a.ai_addrlen) != 0 && errno != EINPROGRESS && errno != EINTR) {
      const int e = errno;
      ::close(fd);
      return fail_connect(e);
    }
    const int w = detail::posix::wait_for(fd, POLLOUT, deadline);
    int e = 0;
    if (w == 0) {
      ::close(fd);
      return fail(io::timed_out, errc::timed_out, ETIMEDOUT);
    }
    if (w < 0) {
      e = errno;
    } else {
      socklen_t len = sizeof e;
      if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) != 0) e = errno;
    }
    if (e != 0) {
      ::close(fd);
      return fail_connect(e);
    }
    fd_ = fd;
    return io::ok;
  }

  posix_tcp_options options_;
  int fd_ = -1;
  kom::error error_;
};

}  // namespace kom

#endif  // KOM_POSIX_TRANSPORT_HPP
