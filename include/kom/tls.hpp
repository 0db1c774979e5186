// kom/tls.hpp: kom::tls_stream, TLS by mbedTLS over any plain kom::transport, itself a
// kom::transport for the client.
//
//   kom::posix_tcp tcp;                  // or the platform's own plain socket transport
//   kom::random_source rng;            // rng.seed() first
//   kom::tls_stream tls(tcp.transport(), rng.callback(), rng.context());
//   tls.add_ca(ca_pem);                  // the CA(s) Klarna's certificate chains to
//   kom::transport secure = tls.transport();
//
// The server's certificate and host name are always verified (there is no switch to turn
// that off; with no CA added every handshake fails as untrusted). SNI is sent. TLS 1.2 is
// the minimum; TLS 1.3 is offered where the mbedTLS build has it (3.x with
// MBEDTLS_SSL_PROTO_TLS1_3). Failures come back as io codes, and error() tells them apart:
// untrusted, wrong host name, expired, not yet valid, other certificate trouble (detail =
// mbedTLS's verification flags, also kept in verify_flags()), handshake failure (detail =
// mbedTLS's code), errc::timed_out, errc::connection_closed.
//
// The session of each handshake is kept and offered on the next connect to the same host
// and port, so a reconnect after an idle close costs an abbreviated handshake;
// handshakes() counts full and resumed ones.
//
// Time: the stream has no clock. The handshake's limit, min(timeout, handshake_timeout_ms),
// is the timeout of every receive during the handshake, so a silent peer is given up on
// within it; a peer that trickles bytes can stretch the whole handshake further. connect()
// of the plain transport has the caller's timeout on top.
//
// kom's code here allocates nothing and throws nothing; mbedTLS allocates its record
// buffers (about 2 x 16 KB, calloc) on the first connect, and the peer's certificate chain
// and host name copies during handshakes. Not copyable or movable (mbedTLS keeps pointers
// into the object); use one stream from one caller at a time.
#ifndef KOM_TLS_HPP
#define KOM_TLS_HPP

#include "kom/config.hpp"

#if !KOM_USE_MBEDTLS
#error "kom/tls.hpp is TLS by mbedTLS; without mbedTLS give the client the platform's own TLS transport"
#endif

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include <mbedtls/base64.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509.h>
#include <mbedtls/x509_crt.h>

#define KOM_DETAIL_MBEDTLS_COMPAT_TLS
#include "kom/detail/mbedtls_compat.hpp"
#include "kom/error.hpp"
#include "kom/transport.hpp"
#include "kom/uuid.hpp"

/// The largest certificate add_ca(std::string_view) decodes (DER bytes, on the stack).
#ifndef KOM_TLS_MAX_CA_DER
#define KOM_TLS_MAX_CA_DER 4096
#endif

namespace kom {

/// Settings of a kom::tls_stream.
struct tls_options {
  /// The most one handshake may wait for the server (each receive waits at most this, or
  /// connect's timeout if that is smaller).
  std::uint32_t handshake_timeout_ms = 15000;
  /// Keep the session and offer it on the next connect to the same host and port.
  bool resume_sessions = true;
};

/// TLS over a plain transport; see the top of this file.
class tls_stream {
 public:
  /// The longest host name connect() takes: a DNS name's limit (RFC 1035).
  static constexpr std::size_t max_host = 253;

  /// What handshakes() returns.
  struct handshake_counts {
    std::uint32_t full = 0;     ///< full handshakes
    std::uint32_t resumed = 0;  ///< abbreviated handshakes that resumed a kept session
  };

  /// `plain` must outlive the stream. `random` fills the handshake's random values (seeded
  /// kom::random_source or the platform's DRBG); it is called with random_context.
  tls_stream(kom::transport plain, random_callback random, void* random_context, tls_options options = {}) noexcept
      : plain_(plain), random_(random), random_context_(random_context), options_(options) {
    mbedtls_ssl_config_init(&conf_);
    mbedtls_ssl_init(&ssl_);
    mbedtls_x509_crt_init(&ca_);
    mbedtls_ssl_session_init(&saved_);
  }

  ~tls_stream() {
    close();
    mbedtls_ssl_session_free(&saved_);
    mbedtls_ssl_free(&ssl_);
    mbedtls_ssl_config_free(&conf_);
    mbedtls_x509_crt_free(&ca_);
  }

  tls_stream(const tls_stream&) = delete;
  tls_stream& operator=(const tls_stream&) = delete;

  /// Adds trusted CA certificates: PEM (one or more, `size` counting the terminating NUL, as
  /// mbedtls_x509_crt_parse wants) or one DER certificate. May be called several times,
  /// also between connections. errc::tls_setup_failed with mbedTLS's code as the detail,
  /// or with a positive detail: that many certificates of a PEM bundle did not parse (the
  /// others were added).
  kom::error add_ca(const unsigned char* data, std::size_t size) noexcept {
    if (data == nullptr || size == 0) return kom::error(errc::tls_setup_failed, MBEDTLS_ERR_X509_BAD_INPUT_DATA);
    const int rc = mbedtls_x509_crt_parse(&ca_, data, size);
    if (rc != 0) return kom::error(errc::tls_setup_failed, rc);
    return {};
  }

  /// Adds the CA certificates of PEM text that need not be NUL-terminated (a string_view
  /// into a larger buffer, a literal's characters). Text ending in its NUL goes to
  /// mbedTLS as is; otherwise each "BEGIN CERTIFICATE" block is decoded on the stack (at
  /// most KOM_TLS_MAX_CA_DER bytes each) and added as DER, nothing copied to the heap by
  /// kom. Stops at the first block that fails (those before it stay added).
  /// errc::tls_setup_failed, detail = mbedTLS's code (MBEDTLS_ERR_X509_CERT_UNKNOWN_FORMAT
  /// when there is no certificate in the text).
  kom::error add_ca(std::string_view pem) noexcept {
    if (!pem.empty() && pem.back() == '\0') {
      return add_ca(reinterpret_cast<const unsigned char*>(pem.data()), pem.size());
    }
    constexpr std::string_view begin = "-----BEGIN CERTIFICATE-----";
    constexpr std::string_view end = "-----END CERTIFICATE-----";
    unsigned char der[KOM_TLS_MAX_CA_DER];
    std::size_t pos = 0;
    bool any = false;
    for (;;) {
      std::size_t b = pem.find(begin, pos);
      if (b == std::string_view::npos) break;
      b += begin.size();
      const std::size_t e = pem.find(end, b);
      if (e == std::string_view::npos) return kom::error(errc::tls_setup_failed, MBEDTLS_ERR_X509_INVALID_FORMAT);
      std::size_t der_size = 0;
      int rc = mbedtls_base64_decode(der, sizeof der, &der_size, reinterpret_cast<const unsigned char*>(pem.data() + b),
                                     e - b);
      if (rc == 0) rc = mbedtls_x509_crt_parse_der(&ca_, der, der_size);
      if (rc != 0) return kom::error(errc::tls_setup_failed, rc);
      any = true;
      pos = e + end.size();
    }
    if (!any) return kom::error(errc::tls_setup_failed, MBEDTLS_ERR_X509_CERT_UNKNOWN_FORMAT);
    return {};
  }

  /// Connects the plain transport to host:port, then handshakes as `host` (sent as SNI and
  /// matched against the certificate; not NUL-terminated, at most max_host characters),
  /// offering the kept session of the last connection to the same host and port. The
  /// plain connect waits at most timeout_ms, the handshake's every receive at most
  /// min(timeout_ms, handshake_timeout_ms). io::ok, or the plain transport's connect code,
  /// io::timed_out, io::closed (the peer closed during the handshake: errc::connection_closed),
  /// io::failed (error() says which errc). An open connection is closed first.
  int connect(std::string_view host, std::uint16_t port, std::uint32_t timeout_ms) noexcept {
    close();
    error_ = {};
    verify_flags_ = 0;
    if (plain_.send == nullptr || plain_.recv == nullptr || plain_.close == nullptr) {
      return fail(io::failed, kom::error(errc::invalid_transport));
    }
    if (host.empty() || host.size() > max_host || host.find('\0') != std::string_view::npos) {
      return fail(io::failed, kom::error(errc::tls_setup_failed, MBEDTLS_ERR_SSL_BAD_INPUT_DATA));
    }
    std::memcpy(host_, host.data(), host.size());
    host_[host.size()] = '\0';
    port_ = port;

    if (const int rc = setup(); rc != 0) return fail(io::failed, kom::error(errc::tls_setup_failed, rc));
    if (const int rc = mbedtls_ssl_set_hostname(&ssl_, host_); rc != 0) {
      return fail(io::failed, kom::error(errc::tls_setup_failed, rc));
    }
    // No CA: nothing can be trusted. mbedTLS still verifies (and sets the flags), then fails
    // with MBEDTLS_ERR_SSL_CA_CHAIN_REQUIRED.
    mbedtls_ssl_conf_ca_chain(&conf_, ca_.version != 0 ? &ca_ : nullptr, nullptr);

    offered_ = options_.resume_sessions && have_session_ && session_port_ == port &&
               std::string_view(session_host_) == std::string_view(host_);
    if (offered_) {
      if (const int rc = mbedtls_ssl_set_session(&ssl_, &saved_); rc != 0) {
        return fail(io::failed, kom::error(errc::tls_setup_failed, rc));
      }
    }

    if (plain_.connect != nullptr) {
      const int rc = plain_.connect(plain_.context, host, port, timeout_ms);
      if (rc != io::ok) return fail(rc, transport_error(plain_, rc));
    }
    open_ = true;

    const std::uint32_t budget = timeout_ms < options_.handshake_timeout_ms ? timeout_ms : options_.handshake_timeout_ms;
    mbedtls_ssl_conf_read_timeout(&conf_, budget);
    certificate_seen_ = false;
    int rc = 0;
    int stalls = 0;
    for (;;) {
      io_failure_ = 0;
      would_block_ = false;
      rc = mbedtls_ssl_handshake(&ssl_);
      if (rc == 0) break;
      if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE) {
        // A transport that answers would_block instead of waiting is asked again, a bounded
        // number of times in a row (the stream cannot tell how long that took).
        if (would_block_ && ++stalls > max_handshake_stalls) {
          rc = MBEDTLS_ERR_SSL_TIMEOUT;
          break;
        }
        if (!would_block_) stalls = 0;
        continue;
      }
      if (detail::tls_is_new_session_ticket(rc)) {
        keep_session();
        continue;
      }
      break;
    }
    if (rc != 0) return fail_handshake(rc);

    verify_flags_ = mbedtls_ssl_get_verify_result(&ssl_);
    if (verify_flags_ == UINT32_MAX) verify_flags_ = 0;
    // Resumed: a session was offered, the server sent no certificate to verify (an
    // abbreviated TLS 1.2 handshake or a TLS 1.3 PSK one), and in TLS 1.2 the master secret
    // is the offered session's (a full handshake derives a new one).
    bool resumed = offered_ && !certificate_seen_;
    mbedtls_ssl_session fresh;
    mbedtls_ssl_session_init(&fresh);
    if (mbedtls_ssl_get_session(&ssl_, &fresh) == 0) {
      if (resumed && !detail::tls_negotiated_tls13(&ssl_)) resumed = detail::tls12_same_master_secret(saved_, fresh);
      if (options_.resume_sessions) {
        store_session(fresh);  // takes it over
      } else {
        mbedtls_ssl_session_free(&fresh);
      }
    }
    if (resumed) {
      ++counts_.resumed;
    } else {
      ++counts_.full;
    }
    connected_ = true;
    return io::ok;
  }

  /// Sends up to `size` bytes as TLS records: the count taken (> 0), or io::would_block
  /// (call again with the same data), io::timed_out, io::closed, io::failed
  /// (errc::tls_failed with mbedTLS's code, or the plain transport's error).
  int send(const unsigned char* data, std::size_t size) noexcept {
    error_ = {};
    if (!connected_) return fail(io::closed, kom::error(errc::connection_closed));
    if (size == 0) return fail(io::failed, kom::error(errc::io_failed));
    for (;;) {
      io_failure_ = 0;
      would_block_ = false;
      const int rc = mbedtls_ssl_write(&ssl_, data, size);
      if (rc > 0) return rc;
      if (rc == MBEDTLS_ERR_SSL_WANT_WRITE || rc == MBEDTLS_ERR_SSL_WANT_READ) {
        if (would_block_) return io::would_block;
        continue;
      }
      if (detail::tls_is_new_session_ticket(rc)) {
        keep_session();
        continue;
      }
      return fail_io(rc);
    }
  }

  /// Receives up to `size` bytes of application data, waiting at most timeout_ms for the
  /// plain transport (passed to its recv as is): the count (> 0), 0 when the peer sent
  /// close_notify or closed the connection in order, or io::would_block, io::timed_out,
  /// io::closed, io::failed (errc::tls_failed with mbedTLS's code, or the transport's
  /// error).
  int recv(unsigned char* data, std::size_t size, std::uint32_t timeout_ms) noexcept {
    error_ = {};
    if (!connected_) return fail(io::closed, kom::error(errc::connection_closed));
    if (size == 0) return fail(io::failed, kom::error(errc::io_failed));
    mbedtls_ssl_conf_read_timeout(&conf_, timeout_ms);
    for (;;) {
      io_failure_ = 0;
      would_block_ = false;
      const int rc = mbedtls_ssl_read(&ssl_, data, size);
      if (rc > 0) return rc;
      if (rc == 0 || rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || rc == MBEDTLS_ERR_SSL_CONN_EOF) return 0;
      if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE) {
        if (would_block_) return io::would_block;
        continue;  // a record without application data (a ticket, an ignored message)
      }
      if (detail::tls_is_new_session_ticket(rc)) {
        keep_session();
        continue;
      }
      return fail_io(rc);
    }
  }

  /// Sends close_notify (when the handshake was done) and closes the plain transport. The
  /// kept session stays for the next connect. Safe when closed.
  void close() noexcept {
    if (connected_) {
      for (int i = 0; i < 4; ++i) {
        io_failure_ = 0;
        would_block_ = false;
        const int rc = mbedtls_ssl_close_notify(&ssl_);
        if (rc != MBEDTLS_ERR_SSL_WANT_WRITE && rc != MBEDTLS_ERR_SSL_WANT_READ) break;
      }
      connected_ = false;
    }
    if (open_) {
      plain_.close(plain_.context);
      open_ = false;
    }
  }

  /// The last failure with its errc (ok when the last call succeeded).
  kom::error error() const noexcept { return error_; }

  /// This stream as a kom::transport; *this must outlive it.
  kom::transport transport() noexcept { return make_transport(*this); }

  /// mbedTLS's certificate verification flags (MBEDTLS_X509_BADCERT_*) of the last
  /// handshake: 0 after a successful one.
  std::uint32_t verify_flags() const noexcept { return verify_flags_; }

  /// Full and resumed handshakes completed so far.
  handshake_counts handshakes() const noexcept { return counts_; }

  /// Drops the kept session: the next connect does a full handshake.
  void forget_session() noexcept {
    mbedtls_ssl_session_free(&saved_);
    mbedtls_ssl_session_init(&saved_);
    have_session_ = false;
  }

 private:
  // would_block answers in a row during one handshake before it is given up as timed out.
  static constexpr int max_handshake_stalls = 100;

  // mbedTLS's configuration and context, made on the first connect and reset for the next.
  int setup() noexcept {
    if (ready_) return mbedtls_ssl_session_reset(&ssl_);
    if (random_ == nullptr) return MBEDTLS_ERR_SSL_NO_RNG;
    int rc = detail::tls_crypto_init();
    if (rc == 0) {
      rc = mbedtls_ssl_config_defaults(&conf_, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                       MBEDTLS_SSL_PRESET_DEFAULT);
    }
    if (rc != 0) return rc;
    mbedtls_ssl_conf_authmode(&conf_, MBEDTLS_SSL_VERIFY_REQUIRED);
    detail::tls_conf_versions(&conf_);
    detail::tls_conf_client_tickets(&conf_, options_.resume_sessions);
    detail::tls_conf_random(&conf_, random_, random_context_);
    mbedtls_ssl_conf_verify(&conf_, &tls_stream::on_verify, this);
    rc = mbedtls_ssl_setup(&ssl_, &conf_);
    if (rc != 0) return rc;
    mbedtls_ssl_set_bio(&ssl_, this, &tls_stream::bio_send, nullptr, &tls_stream::bio_recv);
    ready_ = true;
    return 0;
  }

  // Called for each certificate of the chain the server sent: only in a full handshake.
  static int on_verify(void* self, mbedtls_x509_crt*, int, std::uint32_t*) {
    static_cast<tls_stream*>(self)->certificate_seen_ = true;
    return 0;  // the flags stay as mbedTLS found them
  }

  // The plain transport under mbedTLS: kom::io codes become mbedTLS's; the transport's own
  // failure is remembered so that error() can give its details.
  static int bio_send(void* context, const unsigned char* data, std::size_t size) {
    auto* self = static_cast<tls_stream*>(context);
    const int n = self->plain_.send(self->plain_.context, data, size);
    if (n > 0) return n;
    return self->bio_code(n == 0 ? io::failed : n, MBEDTLS_ERR_SSL_WANT_WRITE, MBEDTLS_ERR_NET_SEND_FAILED);
  }

  static int bio_recv(void* context, unsigned char* data, std::size_t size, std::uint32_t timeout_ms) {
    auto* self = static_cast<tls_stream*>(context);
    const int n = self->plain_.recv(self->plain_.context, data, size, timeout_ms);
    if (n >= 0) return n;  // 0: the peer closed in order (mbedTLS: MBEDTLS_ERR_SSL_CONN_EOF)
    return self->bio_code(n, MBEDTLS_ERR_SSL_WANT_READ, MBEDTLS_ERR_NET_RECV_FAILED);
  }

  int bio_code(int code, int want, int failed) noexcept {
    switch (code) {
      case io::would_block: would_block_ = true; return want;
      case io::timed_out: io_failure_ = code; return MBEDTLS_ERR_SSL_TIMEOUT;
      case io::closed: io_failure_ = code; return MBEDTLS_ERR_NET_CONN_RESET;
      default: io_failure_ = io::failed; return failed;
    }
  }

  int fail(int code, const kom::error& e) noexcept {
    error_ = e;
    return code;
  }

  // A failed send or receive after the handshake.
  int fail_io(int rc) noexcept {
    if (io_failure_ != 0) return fail(io_failure_, transport_error(plain_, io_failure_));
    if (rc == MBEDTLS_ERR_SSL_TIMEOUT) return fail(io::timed_out, kom::error(errc::timed_out));
    return fail(io::failed, kom::error(errc::tls_failed, rc));
  }

  // A failed handshake: the certificate's trouble by its flags (untrusted first, then host
  // name, expired, not yet valid), the transport's, or the protocol's. The connection is
  // closed, and the session dropped if it was offered (a failed connection's session is not
  // to be resumed).
  int fail_handshake(int rc) noexcept {
    std::uint32_t flags = mbedtls_ssl_get_verify_result(&ssl_);
    if (flags == UINT32_MAX) flags = 0;
    if (flags == 0 && rc == MBEDTLS_ERR_SSL_CA_CHAIN_REQUIRED) flags = MBEDTLS_X509_BADCERT_NOT_TRUSTED;
    verify_flags_ = flags;
    int code = io::failed;
    kom::error e;
    if (flags != 0 || rc == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED || detail::tls_is_bad_certificate(rc)) {
      e = kom::error(certificate_errc(flags), static_cast<std::int64_t>(flags));
    } else if (io_failure_ != 0) {
      code = io_failure_;
      e = transport_error(plain_, io_failure_);
    } else if (rc == MBEDTLS_ERR_SSL_TIMEOUT) {
      code = io::timed_out;
      e = kom::error(errc::timed_out);
    } else if (rc == MBEDTLS_ERR_SSL_CONN_EOF) {
      code = io::closed;
      e = kom::error(errc::connection_closed);
    } else {
      e = kom::error(errc::tls_handshake_failed, rc);
    }
    plain_.close(plain_.context);
    open_ = false;
    if (offered_) forget_session();
    return fail(code, e);
  }

  static errc certificate_errc(std::uint32_t flags) noexcept {
    if ((flags & MBEDTLS_X509_BADCERT_NOT_TRUSTED) != 0) return errc::tls_certificate_untrusted;
    if ((flags & MBEDTLS_X509_BADCERT_CN_MISMATCH) != 0) return errc::tls_hostname_mismatch;
    if ((flags & MBEDTLS_X509_BADCERT_EXPIRED) != 0) return errc::tls_certificate_expired;
    if ((flags & MBEDTLS_X509_BADCERT_FUTURE) != 0) return errc::tls_certificate_not_yet_valid;
    return errc::tls_certificate_invalid;
  }

  // A ticket arrived after the handshake (TLS 1.3 on mbedTLS 3.x): keep the newest session.
  void keep_session() noexcept {
    if (!options_.resume_sessions) return;
    mbedtls_ssl_session fresh;
    mbedtls_ssl_session_init(&fresh);
    if (mbedtls_ssl_get_session(&ssl_, &fresh) == 0) {
      store_session(fresh);
    } else {
      mbedtls_ssl_session_free(&fresh);
    }
  }

  // Takes over `fresh` (its buffers now belong to saved_) as the session of host_:port_.
  void store_session(const mbedtls_ssl_session& fresh) noexcept {
    mbedtls_ssl_session_free(&saved_);
    saved_ = fresh;
    std::memcpy(session_host_, host_, sizeof host_);
    session_port_ = port_;
    have_session_ = true;
  }

  kom::transport plain_;
  random_callback random_;
  void* random_context_;
  tls_options options_;

  mbedtls_ssl_config conf_;
  mbedtls_ssl_context ssl_;
  mbedtls_x509_crt ca_;
  mbedtls_ssl_session saved_;

  char host_[max_host + 1] = {};  // of the current connection, NUL-terminated for mbedTLS
  std::uint16_t port_ = 0;
  char session_host_[max_host + 1] = {};
  std::uint16_t session_port_ = 0;
  bool have_session_ = false;
  bool offered_ = false;  // saved_ was offered in the current connection's handshake

  bool ready_ = false;       // conf_ and ssl_ set up
  bool open_ = false;        // the plain transport is connected
  bool connected_ = false;   // the handshake is done
  bool certificate_seen_ = false;
  bool would_block_ = false;  // the last transport call answered would_block
  int io_failure_ = 0;        // the io code of the transport's failure in the last mbedTLS call
  std::uint32_t verify_flags_ = 0;
  handshake_counts counts_;
  kom::error error_;
};

}  // namespace kom

#endif  // KOM_TLS_HPP
