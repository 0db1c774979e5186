// kom/uuid.hpp: UUIDs for Klarna-Idempotency-Key.
//
// Version 4 from a caller's random source (shaped like mbedTLS's f_rng, so
// mbedtls_ctr_drbg_random fits as is; kom::random_source gives mbedTLS's), and
// version 5 (SHA-1, RFC 9562) from a namespace and a name. A terminal that derives each
// key as v5 of its terminal id and local transaction number gets the same key for the same
// sale after a reboot, without storing it. Nothing here allocates.
//
// uuid_v5, sale_idempotency_key and random_source need mbedTLS (SHA-1, random bytes) and exist
// only when KOM_USE_MBEDTLS is 1 (kom/config.hpp); uuid_v4 with the caller's random
// source, uuid_text and parse_uuid are always there.
#ifndef KOM_UUID_HPP
#define KOM_UUID_HPP

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "kom/buffer_writer.hpp"
#include "kom/detail/crypto.hpp"
#include "kom/error.hpp"

#if KOM_USE_MBEDTLS
#include "kom/detail/mbedtls_compat.hpp"
#endif

namespace kom {

/// A UUID's 16 bytes in network order.
struct uuid {
  std::uint8_t bytes[16] = {};  ///< all zero: the nil UUID

  /// The version nibble (4 or 5 for the ones kom makes).
  constexpr int version() const noexcept { return bytes[6] >> 4; }

  /// Same 16 bytes.
  friend constexpr bool operator==(const uuid& a, const uuid& b) noexcept {
    for (std::size_t i = 0; i < 16; ++i) {
      if (a.bytes[i] != b.bytes[i]) return false;
    }
    return true;
  }
  /// Not the same 16 bytes.
  friend constexpr bool operator!=(const uuid& a, const uuid& b) noexcept { return !(a == b); }
};

/// The namespaces of RFC 9562 section 6.6.
namespace uuid_namespace {
/// For fully qualified domain names.
inline constexpr uuid dns{{0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}};
/// For URLs.
inline constexpr uuid url{{0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}};
/// For ISO object identifiers.
inline constexpr uuid oid{{0x6b, 0xa7, 0xb8, 0x12, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}};
/// For X.500 distinguished names.
inline constexpr uuid x500{{0x6b, 0xa7, 0xb8, 0x14, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}};
}  // namespace uuid_namespace

/// The 36-character text form, lowercase, in a fixed array (NUL-terminated).
class uuid_text {
 public:
  /// Empty: view() is empty, c_str() is "".
  constexpr uuid_text() noexcept = default;
  /// The text of `u`, e.g. "6ba7b810-9dad-11d1-80b4-00c04fd430c8".
  explicit uuid_text(const uuid& u) noexcept {
    static constexpr char hex[] = "0123456789abcdef";
    std::size_t o = 0;
    for (std::size_t i = 0; i < 16; ++i) {
      if (i == 4 || i == 6 || i == 8 || i == 10) chars_[o++] = '-';
      chars_[o++] = hex[u.bytes[i] >> 4];
      chars_[o++] = hex[u.bytes[i] & 0xF];
    }
    chars_[o] = '\0';
  }
  /// The 36 characters; empty when default-constructed. Points into this object.
  constexpr std::string_view view() const noexcept { return {chars_, chars_[0] ? std::size_t{36} : 0}; }
  /// The same text, NUL-terminated. Points into this object.
  constexpr const char* c_str() const noexcept { return chars_; }

 private:
  char chars_[37] = {};
};

/// Reads the 36-character text form (either case). False, and `out` untouched, otherwise.
constexpr bool parse_uuid(std::string_view text, uuid& out) noexcept {
  if (text.size() != 36) return false;
  uuid u;
  std::size_t t = 0;
  for (std::size_t i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) {
      if (text[t++] != '-') return false;
    }
    int byte = 0;
    for (int k = 0; k < 2; ++k) {
      const char c = text[t++];
      int v = -1;
      if (c >= '0' && c <= '9') v = c - '0';
      else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
      else if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
      if (v < 0) return false;
      byte = byte * 16 + v;
    }
    u.bytes[i] = static_cast<std::uint8_t>(byte);
  }
  out = u;
  return true;
}

/// A random source: fill `output` with `size` random bytes, return 0 on success. The same
/// shape as mbedTLS's f_rng, so `mbedtls_ctr_drbg_random` with a seeded context fits.
using random_callback = int (*)(void* context, unsigned char* output, std::size_t size);

namespace detail {
inline void set_version_and_variant(uuid& u, int version) noexcept {
  u.bytes[6] = static_cast<std::uint8_t>((u.bytes[6] & 0x0F) | (version << 4));
  u.bytes[8] = static_cast<std::uint8_t>((u.bytes[8] & 0x3F) | 0x80);  // RFC 9562 variant 10xx
}
}  // namespace detail

/// A version 4 (random) UUID. Errors: random_source_failed (detail = the callback's code; 0
/// when `random` is null).
inline result<uuid> uuid_v4(random_callback random, void* context) noexcept {
  uuid u;
  if (random == nullptr) return error(errc::random_source_failed);
  if (const int rc = random(context, u.bytes, sizeof u.bytes); rc != 0) return error(errc::random_source_failed, rc);
  detail::set_version_and_variant(u, 4);
  return u;
}

#if KOM_USE_MBEDTLS
// SHA-1 and the CTR-DRBG come from mbedTLS; kom carries no implementation of its own (a
// hand-rolled DRBG is not something to trust keys to). Without mbedTLS these are compiled out:
// take keys from uuid_v4 with the platform's random source (a hardware RNG), or derive
// them with the platform's SHA-1.

/// A version 5 (SHA-1) UUID of `name` in namespace `ns`. Errors: crypto_failed.
inline result<uuid> uuid_v5(const uuid& ns, std::string_view name) noexcept {
  unsigned char digest[20];
  const int rc = detail::sha1_two_parts(ns.bytes, sizeof ns.bytes, reinterpret_cast<const unsigned char*>(name.data()),
                                        name.size(), digest);
  if (rc != 0) return error(errc::crypto_failed, rc);
  uuid u;
  for (std::size_t i = 0; i < 16; ++i) u.bytes[i] = digest[i];
  detail::set_version_and_variant(u, 5);
  return u;
}

/// The key of one logical POST of one sale: v5 of "<terminal_id>/<transaction>/<purpose>" in
/// the merchant's namespace, e.g. purpose "capture" or "shipping-info-1". The same inputs give
/// the same key after a reboot; different purposes of one sale get different keys. The name
/// is at most 200 bytes (errc::too_long, path "idempotency_name"). Errors also: crypto_failed.
/// Allocates nothing.
inline result<uuid_text> sale_idempotency_key(const uuid& merchant_namespace, std::string_view terminal_id,
                                              std::uint64_t transaction, std::string_view purpose) noexcept {
  char name[200];
  buffer_writer w(name);
  w.append(terminal_id);
  w.put('/');
  w.append_uint(transaction);
  w.put('/');
  w.append(purpose);
  if (w.overflow()) return error(errc::too_long, parameter::idempotency_name, static_cast<std::int64_t>(sizeof name));
  const result<uuid> u = uuid_v5(merchant_namespace, w.view());
  if (!u) return u.error();
  return uuid_text(*u);
}

/// mbedTLS's random generator as a random_callback: PSA Crypto's (psa_generate_random) where
/// mbedTLS has it (3.x with MBEDTLS_PSA_CRYPTO_C, and 4.x, which has nothing else), else a
/// CTR-DRBG seeded from mbedTLS's entropy sources (2.28).
///   kom::random_source rng;  if (rng.seed() == 0) kom::uuid_v4(rng.callback(), rng.context());
/// No heap of its own; not copyable.
class random_source {
 public:
  random_source() noexcept = default;
  random_source(const random_source&) = delete;
  random_source& operator=(const random_source&) = delete;

  /// Seeds the generator (PSA: initializes PSA Crypto, which seeds itself once per program);
  /// `personalization` should differ per device (a serial number; the CTR-DRBG mixes it in).
  /// Returns mbedTLS's code, 0 on success.
  int seed(std::string_view personalization = "kom") noexcept {
    return backend_.seed(reinterpret_cast<const unsigned char*>(personalization.data()), personalization.size());
  }

  /// The generator's function, to call with context(); seed() first.
  static random_callback callback() noexcept { return &detail::random_backend::random; }
  /// Its context for callback(); valid while this object lives (nullptr with PSA).
  void* context() noexcept { return backend_.context(); }

 private:
  detail::random_backend backend_;
};

/// The name of earlier releases (on 2.28 it is a CTR-DRBG; on 3.x and 4.x PSA's generator).
using ctr_drbg_source = random_source;
#endif  // KOM_USE_MBEDTLS

}  // namespace kom

#endif  // KOM_UUID_HPP
