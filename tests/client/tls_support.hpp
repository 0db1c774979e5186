// Test support for kom-client-tests: kom::tls_stream over kom::posix_tcp to kom-sim on
// 127.0.0.1, whatever host name the stream verifies.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "../sim/test_support.hpp"
#include "kom/posix_transport.hpp"
#include "kom/tls.hpp"
#include "kom/uuid.hpp"

namespace {

using simtest::certs_dir;

// A port on 127.0.0.1 that nobody listens on (bound, then released).
inline int unused_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

// kom-sim serving one of make-bad-certs' certificates (the later --cert and --key win).
inline std::vector<std::string> bad_cert_args(const std::string& name) {
  const std::string& d = simtest::bad_certs_dir();
  return {"--cert", d + "/" + name + ".crt", "--key", d + "/" + name + ".key"};
}

std::string read_file(const std::string& path) {
  std::string out;
  FILE* fp = std::fopen(path.c_str(), "rb");
  REQUIRE_MESSAGE(fp != nullptr, path);
  char b[4096];
  std::size_t n;
  while ((n = std::fread(b, 1, sizeof b, fp)) > 0) out.append(b, n);
  std::fclose(fp);
  return out;
}

// The plain transport under the TLS stream: kom::posix_tcp, always dialing 127.0.0.1 at the
// port asked for (or at redirect_port when set), whatever host name the stream verifies. It
// notes the connects and closes and the first bytes of the last send (a TLS record header),
// in fixed storage.
class loopback_wire {
 public:
  int connect(std::string_view, std::uint16_t port, std::uint32_t timeout_ms) noexcept {
    ++connects;
    return tcp.connect("127.0.0.1", redirect_port != 0 ? redirect_port : port, timeout_ms);
  }
  int send(const unsigned char* data, std::size_t size) noexcept {
    const int n = tcp.send(data, size);
    if (n > 0) {
      const auto count = static_cast<std::size_t>(n);
      last_sent_size = count < sizeof last_sent ? count : sizeof last_sent;
      std::memcpy(last_sent, data, last_sent_size);
    }
    return n;
  }
  int recv(unsigned char* data, std::size_t size, std::uint32_t timeout_ms) noexcept {
    return tcp.recv(data, size, timeout_ms);
  }
  void close() noexcept {
    if (tcp.is_open()) ++closes;
    tcp.close();
  }
  kom::error error() const noexcept { return tcp.error(); }
  kom::transport transport() noexcept { return kom::make_transport(*this); }

  kom::posix_tcp tcp;
  std::uint16_t redirect_port = 0;
  int connects = 0;
  int closes = 0;
  unsigned char last_sent[5] = {};
  std::size_t last_sent_size = 0;
};

// A TLS stream over a loopback wire with a seeded CTR-DRBG.
struct tls_client {
  explicit tls_client(kom::tls_options options = {})
      : tls(wire.transport(), kom::random_source::callback(), rng.context(), options) {
    REQUIRE(rng.seed("kom-client-tests") == 0);
  }

  // The PEM file as mbedTLS wants it: with its terminating NUL counted.
  kom::error add_ca_file(const std::string& path) {
    const std::string pem = read_file(path);
    return tls.add_ca(reinterpret_cast<const unsigned char*>(pem.c_str()), pem.size() + 1);
  }
  void add_test_ca() { REQUIRE(add_ca_file(certs_dir() + "/ca.crt").ok()); }

  int connect(int port, std::string_view host = "localhost", std::uint32_t timeout_ms = 5000) {
    return tls.connect(host, static_cast<std::uint16_t>(port), timeout_ms);
  }

  kom::random_source rng;
  loopback_wire wire;
  kom::tls_stream tls;
};

}  // namespace
