// kom/detail/crypto.hpp: the one place that picks where kom's Base64 and zeroize come from,
// by KOM_USE_MBEDTLS (kom/config.hpp: 1 by default; a program without mbedTLS defines it 0 for
// all of its sources).
//   1: Base64 and zeroize are mbedTLS's (mbedtls_base64_encode, mbedtls_platform_zeroize);
//      link mbedcrypto. kom/uuid.hpp then also has uuid_v5, sale_idempotency_key and
//      random_source (SHA-1, and PSA Crypto or CTR-DRBG).
//   0: kom needs no mbedTLS at all: the small encoder and the volatile-pointer zeroize below
//      are used (a firmware whose TLS stack is not mbedTLS, or the Cortex-M build of the tests).
//
// The fallbacks are always compiled, in kom::detail, so that a host with mbedTLS can test
// them against mbedTLS. Nothing here allocates.
#ifndef KOM_DETAIL_CRYPTO_HPP
#define KOM_DETAIL_CRYPTO_HPP

#include <cstddef>
#include <cstdint>

#include "kom/config.hpp"

#if KOM_USE_MBEDTLS
#include <mbedtls/base64.h>
#include <mbedtls/platform_util.h>
#endif

namespace kom {
namespace detail {

/// The code both encoders return when `dst` is too small (MBEDTLS_ERR_BASE64_BUFFER_TOO_SMALL).
inline constexpr int base64_buffer_too_small = -0x002A;

/// Base64 (RFC 4648, with padding) of `src[0, size)` into `dst[0, dst_size)`, with exactly
/// mbedtls_base64_encode's contract: the text is followed by a NUL, so `dst_size` must be
/// at least 4 * ceil(size / 3) + 1; on success returns 0 and `*written` is the number of
/// characters (NUL not counted); when `dst` is too small (or null), writes nothing, returns
/// base64_buffer_too_small and `*written` is the size needed, NUL included. An empty input
/// writes nothing at all and gives 0 characters.
inline int base64_encode_fallback(unsigned char* dst, std::size_t dst_size, std::size_t* written,
                                  const unsigned char* src, std::size_t size) noexcept {
  static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  if (size == 0) {
    *written = 0;
    return 0;
  }
  const std::size_t groups = size / 3 + (size % 3 != 0 ? 1 : 0);
  if (groups > (SIZE_MAX - 1) / 4) {
    *written = SIZE_MAX;
    return base64_buffer_too_small;
  }
  const std::size_t needed = groups * 4 + 1;
  if (dst == nullptr || dst_size < needed) {
    *written = needed;
    return base64_buffer_too_small;
  }
  std::size_t o = 0;
  for (std::size_t i = 0; i < size; i += 3) {
    const std::size_t n = size - i < 3 ? size - i : 3;
    const std::uint32_t b0 = src[i];
    const std::uint32_t b1 = n > 1 ? src[i + 1] : 0u;
    const std::uint32_t b2 = n > 2 ? src[i + 2] : 0u;
    const std::uint32_t v = (b0 << 16) | (b1 << 8) | b2;
    dst[o++] = static_cast<unsigned char>(alphabet[(v >> 18) & 0x3F]);
    dst[o++] = static_cast<unsigned char>(alphabet[(v >> 12) & 0x3F]);
    dst[o++] = static_cast<unsigned char>(n > 1 ? alphabet[(v >> 6) & 0x3F] : '=');
    dst[o++] = static_cast<unsigned char>(n > 2 ? alphabet[v & 0x3F] : '=');
  }
  dst[o] = 0;
  *written = o;
  return 0;
}

/// Sets `data[0, size)` to zero through a volatile pointer, so the compiler cannot drop the
/// stores as dead (the buffer is usually not read again).
inline void zeroize_fallback(void* data, std::size_t size) noexcept {
  volatile unsigned char* p = static_cast<volatile unsigned char*>(data);
  while (size != 0) {
    *p++ = 0;
    --size;
  }
}

/// The backend's Base64 encoder; the contract of base64_encode_fallback.
inline int base64_encode(unsigned char* dst, std::size_t dst_size, std::size_t* written, const unsigned char* src,
                         std::size_t size) noexcept {
#if KOM_USE_MBEDTLS
  return mbedtls_base64_encode(dst, dst_size, written, src, size);
#else
  return base64_encode_fallback(dst, dst_size, written, src, size);
#endif
}

/// The backend's zeroize. Does nothing for a null pointer or a zero size.
inline void zeroize(void* data, std::size_t size) noexcept {
  if (data == nullptr || size == 0) return;
#if KOM_USE_MBEDTLS
  mbedtls_platform_zeroize(data, size);
#else
  zeroize_fallback(data, size);
#endif
}

/// The shape of both encoders, for code that takes one as a parameter.
using base64_encoder = int (*)(unsigned char* dst, std::size_t dst_size, std::size_t* written,
                               const unsigned char* src, std::size_t size) noexcept;

}  // namespace detail
}  // namespace kom

#endif  // KOM_DETAIL_CRYPTO_HPP
