// kom/detail/mbedtls_compat.hpp: the one place where kom's code differs between mbedTLS 2.28
// (Debian) and 3.6 LTS (ESP-IDF 5, Zephyr). Everything else calls these wrappers.
#ifndef KOM_DETAIL_MBEDTLS_COMPAT_HPP
#define KOM_DETAIL_MBEDTLS_COMPAT_HPP

#include <cstddef>

#include <mbedtls/version.h>
#include <mbedtls/sha1.h>

namespace kom {
namespace detail {

/// SHA-1 over two pieces (a UUID namespace and a name). 0 on success.
inline int sha1_two_parts(const unsigned char* a, std::size_t a_len, const unsigned char* b, std::size_t b_len,
                          unsigned char digest[20]) noexcept {
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
}

}  // namespace detail
}  // namespace kom

#endif  // KOM_DETAIL_MBEDTLS_COMPAT_HPP
