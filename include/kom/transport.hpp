// kom/transport.hpp: the byte stream kom's client talks over, shaped like mbedtls_ssl_set_bio.
//
// kom never owns a socket. A transport is a context pointer and four callbacks; the caller
// writes them over whatever the platform has (POSIX sockets, lwIP, a modem's AT socket, a
// vendor SDK). The client needs a stream that is already secure: either the platform's own
// TLS socket (a modem's built-in TLS, esp-tls) given directly, or kom::tls_stream
// (kom/tls.hpp) layered over a plain transport. kom::posix_tcp (kom/posix_transport.hpp) is
// the plain transport for Linux-based terminals.
//
//   int my_send(void* ctx, const unsigned char* data, std::size_t size);   // like f_send
//   int my_recv(void* ctx, unsigned char* data, std::size_t size,          // like f_recv_timeout
//               std::uint32_t timeout_ms);
//
// Both may do partial I/O: they return the bytes moved (> 0), or one of kom::io's codes.
// recv returns 0 when the peer closed the connection in order.
#ifndef KOM_TRANSPORT_HPP
#define KOM_TRANSPORT_HPP

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "kom/error.hpp"

namespace kom {

/// What a transport callback returns instead of a byte count.
namespace io {
inline constexpr int ok = 0;             ///< connect: connected
inline constexpr int would_block = -1;   ///< nothing moved now: call again (non-blocking I/O)
inline constexpr int timed_out = -2;     ///< no progress within the timeout
inline constexpr int closed = -3;        ///< the peer closed or reset the connection
inline constexpr int failed = -4;        ///< any other failure; the transport's error() says more
inline constexpr int refused = -5;       ///< connect: refused or unreachable
inline constexpr int unresolved = -6;    ///< connect: the host name did not resolve
}  // namespace io

/// A connection to one host. Every callback but error() is required unless noted; the
/// context is passed back as given. A transport is used by one caller at a time.
struct transport {
  /// Passed as the first argument of every callback; kom never looks into it.
  void* context = nullptr;

  /// Opens a connection to host:port (host is not NUL-terminated), waiting at most
  /// timeout_ms. io::ok, or io::refused, io::unresolved, io::timed_out, io::failed. Called
  /// only when the transport is closed. Null for a stream that is always connected.
  int (*connect)(void* context, std::string_view host, std::uint16_t port, std::uint32_t timeout_ms) = nullptr;

  /// Sends up to `size` bytes (size > 0): the count sent, or io::would_block, io::timed_out,
  /// io::closed, io::failed.
  int (*send)(void* context, const unsigned char* data, std::size_t size) = nullptr;

  /// Receives up to `size` bytes (size > 0), waiting at most timeout_ms: the count received,
  /// 0 when the peer closed in order, or io::would_block, io::timed_out, io::closed,
  /// io::failed.
  int (*recv)(void* context, unsigned char* data, std::size_t size, std::uint32_t timeout_ms) = nullptr;

  /// Closes the connection (politely: a TLS stream sends close_notify). Safe when closed.
  void (*close)(void* context) = nullptr;

  /// Optional: the details of the last failure, as a kom::error (a TLS stream tells
  /// certificate errors apart here; a socket gives errno as the detail).
  ::kom::error (*error)(const void* context) = nullptr;
};

/// A transport over an object with the member functions
///   int connect(std::string_view host, std::uint16_t port, std::uint32_t timeout_ms);
///   int send(const unsigned char* data, std::size_t size);
///   int recv(unsigned char* data, std::size_t size, std::uint32_t timeout_ms);
///   void close();
///   kom::error error() const;
/// The object must outlive the transport.
template <class T>
transport make_transport(T& object) noexcept {
  transport t;
  t.context = &object;
  t.connect = [](void* c, std::string_view host, std::uint16_t port, std::uint32_t timeout_ms) {
    return static_cast<T*>(c)->connect(host, port, timeout_ms);
  };
  t.send = [](void* c, const unsigned char* data, std::size_t size) { return static_cast<T*>(c)->send(data, size); };
  t.recv = [](void* c, unsigned char* data, std::size_t size, std::uint32_t timeout_ms) {
    return static_cast<T*>(c)->recv(data, size, timeout_ms);
  };
  t.close = [](void* c) { static_cast<T*>(c)->close(); };
  t.error = [](const void* c) { return static_cast<const T*>(c)->error(); };
  return t;
}

/// The errc an io code stands for, when the transport gives no details.
constexpr errc io_errc(int code) noexcept {
  switch (code) {
    case io::timed_out: return errc::timed_out;
    case io::closed: return errc::connection_closed;
    case io::refused: return errc::connect_failed;
    case io::unresolved: return errc::resolve_failed;
    default: return errc::io_failed;
  }
}

/// The details of a failed call: the transport's own when it has them, else the io code's.
inline ::kom::error transport_error(const transport& t, int code) noexcept {
  if (t.error != nullptr) {
    ::kom::error e = t.error(t.context);
    if (!e.ok()) return e;
  }
  return ::kom::error(io_errc(code));
}

}  // namespace kom

#endif  // KOM_TRANSPORT_HPP
