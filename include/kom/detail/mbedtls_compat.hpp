// kom/detail/mbedtls_compat.hpp: the one place where kom's code differs between mbedTLS 2.28
// (Debian 12), 3.6 LTS (ESP-IDF 5, Zephyr) and 4.x (PSA Crypto only: no legacy SHA-1,
// CTR-DRBG or RNG argument to the TLS configuration). Everything else calls these wrappers.
//
// Crypto: with PSA Crypto (3.x and 4.x builds with MBEDTLS_PSA_CRYPTO_C, which 4.x always
// has) random bytes come from psa_generate_random and SHA-1 from psa_hash_*; on 2.28 from its
// CTR-DRBG and mbedtls_sha1_*. (2.28's PSA Crypto does both as well, see the README; kom keeps
// 2.28 on the legacy calls its figures were measured with.)
//
// Two parts: crypto (always), and TLS (only when KOM_DETAIL_MBEDTLS_COMPAT_TLS is defined
// before inclusion, as kom/tls.hpp does), so that a program using only kom's UUIDs needs
// no SSL headers' worth of declarations. Each part has its own include guard.
#ifndef KOM_DETAIL_MBEDTLS_COMPAT_HPP
#define KOM_DETAIL_MBEDTLS_COMPAT_HPP

#include <cstddef>
#include <cstdint>

#include <mbedtls/version.h>

#if MBEDTLS_VERSION_NUMBER >= 0x03000000 && defined(MBEDTLS_PSA_CRYPTO_C)
#define KOM_DETAIL_MBEDTLS_PSA 1
#include <psa/crypto.h>
#else
#define KOM_DETAIL_MBEDTLS_PSA 0
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/sha1.h>
#endif

namespace kom {
namespace detail {

/// SHA-1 over two pieces (a UUID namespace and a name). 0 on success.
inline int sha1_two_parts(const unsigned char* a, std::size_t a_len, const unsigned char* b, std::size_t b_len,
                          unsigned char digest[20]) noexcept {
#if KOM_DETAIL_MBEDTLS_PSA
  psa_status_t rc = psa_crypto_init();  // idempotent
  if (rc != PSA_SUCCESS) return static_cast<int>(rc);
  psa_hash_operation_t op = PSA_HASH_OPERATION_INIT;
  rc = psa_hash_setup(&op, PSA_ALG_SHA_1);
  if (rc == PSA_SUCCESS) rc = psa_hash_update(&op, a, a_len);
  if (rc == PSA_SUCCESS) rc = psa_hash_update(&op, b, b_len);
  std::size_t length = 0;
  if (rc == PSA_SUCCESS) rc = psa_hash_finish(&op, digest, 20, &length);
  if (rc != PSA_SUCCESS) psa_hash_abort(&op);
  return rc == PSA_SUCCESS && length != 20 ? -1 : static_cast<int>(rc);
#else
  mbedtls_sha1_context ctx;
  mbedtls_sha1_init(&ctx);
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
  int rc = mbedtls_sha1_starts(&ctx);
  if (rc == 0) rc = mbedtls_sha1_update(&ctx, a, a_len);
  if (rc == 0) rc = mbedtls_sha1_update(&ctx, b, b_len);
  if (rc == 0) rc = mbedtls_sha1_finish(&ctx, digest);
#else
  int rc = mbedtls_sha1_starts_ret(&ctx);
  if (rc == 0) rc = mbedtls_sha1_update_ret(&ctx, a, a_len);
  if (rc == 0) rc = mbedtls_sha1_update_ret(&ctx, b, b_len);
  if (rc == 0) rc = mbedtls_sha1_finish_ret(&ctx, digest);
#endif
  mbedtls_sha1_free(&ctx);
  return rc;
#endif
}

/// A source of random bytes in mbedTLS's f_rng shape (see kom::random_source).
class random_backend {
 public:
#if KOM_DETAIL_MBEDTLS_PSA
  // PSA Crypto's generator, seeded by mbedTLS from the platform's entropy once per program.
  int seed(const unsigned char*, std::size_t) noexcept { return static_cast<int>(psa_crypto_init()); }
  static int random(void*, unsigned char* out, std::size_t size) noexcept {
    return static_cast<int>(psa_generate_random(out, size));
  }
  void* context() noexcept { return nullptr; }
#else
  random_backend() noexcept {
    mbedtls_entropy_init(&entropy_);
    mbedtls_ctr_drbg_init(&drbg_);
  }
  ~random_backend() {
    mbedtls_ctr_drbg_free(&drbg_);
    mbedtls_entropy_free(&entropy_);
  }
  int seed(const unsigned char* personalization, std::size_t size) noexcept {
    return mbedtls_ctr_drbg_seed(&drbg_, mbedtls_entropy_func, &entropy_, personalization, size);
  }
  static int random(void* context, unsigned char* out, std::size_t size) noexcept {
    return mbedtls_ctr_drbg_random(context, out, size);
  }
  void* context() noexcept { return &drbg_; }

 private:
  mbedtls_entropy_context entropy_;
  mbedtls_ctr_drbg_context drbg_;
#endif
};

}  // namespace detail
}  // namespace kom

#endif  // KOM_DETAIL_MBEDTLS_COMPAT_HPP

// ---- TLS (kom/tls.hpp) -------------------------------------------------------------------
#if defined(KOM_DETAIL_MBEDTLS_COMPAT_TLS) && !defined(KOM_DETAIL_MBEDTLS_COMPAT_TLS_DONE)
#define KOM_DETAIL_MBEDTLS_COMPAT_TLS_DONE

#include <cstdint>
#include <cstring>

#include <mbedtls/ssl.h>
#include <mbedtls/x509.h>
#if MBEDTLS_VERSION_NUMBER >= 0x03000000 && defined(MBEDTLS_PSA_CRYPTO_C)
#include <psa/crypto.h>
#endif

namespace kom {
namespace detail {

/// Whether the mbedTLS build can negotiate TLS 1.3 (3.x with MBEDTLS_SSL_PROTO_TLS1_3).
#if MBEDTLS_VERSION_NUMBER >= 0x03000000 && defined(MBEDTLS_SSL_PROTO_TLS1_3)
inline constexpr bool tls_has_tls13 = true;
#else
inline constexpr bool tls_has_tls13 = false;
#endif

/// What 3.x needs before a handshake: PSA Crypto initialized (TLS 1.3 and
/// MBEDTLS_USE_PSA_CRYPTO use it). Idempotent. 0 or mbedTLS's code.
inline int tls_crypto_init() noexcept {
#if MBEDTLS_VERSION_NUMBER >= 0x03000000 && defined(MBEDTLS_PSA_CRYPTO_C)
  return static_cast<int>(psa_crypto_init());
#else
  return 0;
#endif
}

/// Gives the configuration its random generator: 2.28 and 3.x take the caller's; 4.x has no
/// such setting and draws from PSA Crypto's own.
inline void tls_conf_random(mbedtls_ssl_config* conf, int (*f)(void*, unsigned char*, std::size_t),
                            void* context) noexcept {
#if MBEDTLS_VERSION_NUMBER >= 0x04000000
  (void)conf;
  (void)f;
  (void)context;
#else
  mbedtls_ssl_conf_rng(conf, f, context);
#endif
}

/// TLS 1.2 at least; TLS 1.3 too where the build has it.
inline void tls_conf_versions(mbedtls_ssl_config* conf) noexcept {
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
  mbedtls_ssl_conf_min_tls_version(conf, MBEDTLS_SSL_VERSION_TLS1_2);
#if defined(MBEDTLS_SSL_PROTO_TLS1_3)
  mbedtls_ssl_conf_max_tls_version(conf, MBEDTLS_SSL_VERSION_TLS1_3);
#else
  mbedtls_ssl_conf_max_tls_version(conf, MBEDTLS_SSL_VERSION_TLS1_2);
#endif
#else
  mbedtls_ssl_conf_min_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
  mbedtls_ssl_conf_max_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
#endif
}

/// A client's session tickets: asked for (RFC 5077) when resuming, and on 3.x with TLS 1.3
/// the NewSessionTicket messages are reported by mbedtls_ssl_read (see
/// tls_is_new_session_ticket) so the ticket can be kept.
inline void tls_conf_client_tickets(mbedtls_ssl_config* conf, bool resume) noexcept {
#if defined(MBEDTLS_SSL_SESSION_TICKETS) && defined(MBEDTLS_SSL_CLI_C)
  mbedtls_ssl_conf_session_tickets(conf, resume ? MBEDTLS_SSL_SESSION_TICKETS_ENABLED
                                                : MBEDTLS_SSL_SESSION_TICKETS_DISABLED);
#if MBEDTLS_VERSION_NUMBER >= 0x03000000 && defined(MBEDTLS_SSL_PROTO_TLS1_3) && \
    defined(MBEDTLS_SSL_TLS1_3_SIGNAL_NEW_SESSION_TICKETS_ENABLED)
  mbedtls_ssl_conf_tls13_enable_signal_new_session_tickets(
      conf, resume ? MBEDTLS_SSL_TLS1_3_SIGNAL_NEW_SESSION_TICKETS_ENABLED
                   : MBEDTLS_SSL_TLS1_3_SIGNAL_NEW_SESSION_TICKETS_DISABLED);
#endif
#else
  (void)conf;
  (void)resume;
#endif
}

/// True for the code with which 3.x's TLS 1.3 client reports a NewSessionTicket (the caller
/// fetches the session and calls again). Never true on 2.28.
constexpr bool tls_is_new_session_ticket(int rc) noexcept {
#if defined(MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET)
  return rc == MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET;
#else
  (void)rc;
  return false;
#endif
}

/// The handshake failed over the server's certificate (renamed in 3.0).
constexpr bool tls_is_bad_certificate(int rc) noexcept {
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
  return rc == MBEDTLS_ERR_SSL_BAD_CERTIFICATE;
#else
  return rc == MBEDTLS_ERR_SSL_BAD_HS_CERTIFICATE;
#endif
}

/// Whether the connection's handshake negotiated TLS 1.3.
inline bool tls_negotiated_tls13(const mbedtls_ssl_context* ssl) noexcept {
#if MBEDTLS_VERSION_NUMBER >= 0x03000000 && defined(MBEDTLS_SSL_PROTO_TLS1_3)
  return mbedtls_ssl_get_version_number(ssl) == MBEDTLS_SSL_VERSION_TLS1_3;
#else
  (void)ssl;
  return false;
#endif
}

/// TLS 1.2: whether two sessions share one master secret, i.e. the second is the first
/// resumed (a full handshake derives a fresh one). 3.x keeps the field private.
inline bool tls12_same_master_secret(const mbedtls_ssl_session& a, const mbedtls_ssl_session& b) noexcept {
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
  return std::memcmp(a.MBEDTLS_PRIVATE(master), b.MBEDTLS_PRIVATE(master), sizeof a.MBEDTLS_PRIVATE(master)) == 0;
#else
  return std::memcmp(a.master, b.master, sizeof a.master) == 0;
#endif
}

}  // namespace detail
}  // namespace kom

#endif  // KOM_DETAIL_MBEDTLS_COMPAT_TLS
