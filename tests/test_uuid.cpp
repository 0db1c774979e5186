#include "kom/uuid.hpp"

#include <doctest/doctest.h>

#include <cstring>
#include <set>
#include <string>

#include "support/alloc_counter.hpp"

#if MBEDTLS_VERSION_NUMBER < 0x03000000 && defined(MBEDTLS_PSA_CRYPTO_C)
#include <psa/crypto.h>
#endif

namespace {
std::string text(const kom::uuid& u) { return std::string(kom::uuid_text(u).view()); }

int fixed_bytes(void* ctx, unsigned char* out, std::size_t n) {
  std::memset(out, *static_cast<unsigned char*>(ctx), n);
  return 0;
}
int failing(void*, unsigned char*, std::size_t) { return -0x34; }
}  // namespace

TEST_CASE("UUID v5: RFC 9562 test vector and other known values") {
  auto u = kom::uuid_v5(kom::uuid_namespace::dns, "www.example.com");
  REQUIRE(u.ok());
  CHECK(text(*u) == "2ed6657d-e927-568b-95e1-2665a8aea6a2");
  CHECK(u->version() == 5);
  // Values computed independently (Python's uuid module).
  CHECK(text(*kom::uuid_v5(kom::uuid_namespace::url, "https://pos.example/terminal/T-17")) ==
        "434d08ed-687e-5052-8a9b-bbca567da17b");
  kom::uuid merchant;
  REQUIRE(kom::parse_uuid("0f2d6a2e-7c61-4b8e-9d8f-3a5b1c2d4e6f", merchant));
  CHECK(text(*kom::uuid_v5(merchant, "T-17/4711/capture")) == "12c4192c-48a7-53f2-bdde-fa8d980d763e");
}

TEST_CASE("a sale's key is the same after a reboot and differs per purpose and sale") {
  kom::uuid merchant;
  REQUIRE(kom::parse_uuid("0F2D6A2E-7C61-4B8E-9D8F-3A5B1C2D4E6F", merchant));
  auto a = kom::sale_idempotency_key(merchant, "T-17", 4711, "capture");
  auto b = kom::sale_idempotency_key(merchant, "T-17", 4711, "capture");
  REQUIRE(a.ok());
  CHECK(a->view() == "12c4192c-48a7-53f2-bdde-fa8d980d763e");
  CHECK(a->view() == b->view());
  CHECK(kom::sale_idempotency_key(merchant, "T-17", 4711, "shipping-info-1")->view() != a->view());
  CHECK(kom::sale_idempotency_key(merchant, "T-17", 4712, "capture")->view() != a->view());
  CHECK(kom::sale_idempotency_key(merchant, "T-18", 4711, "capture")->view() != a->view());
  auto too_long = kom::sale_idempotency_key(merchant, std::string(200, 't'), 1, "capture");
  CHECK(too_long.error().code() == kom::errc::too_long);
  CHECK(too_long.error().path() == "idempotency_name");
}

TEST_CASE("UUID v4 takes its bits from the random source and sets version and variant") {
  unsigned char fill = 0xFF;
  auto u = kom::uuid_v4(fixed_bytes, &fill);
  REQUIRE(u.ok());
  CHECK(text(*u) == "ffffffff-ffff-4fff-bfff-ffffffffffff");
  fill = 0x00;
  CHECK(text(*kom::uuid_v4(fixed_bytes, &fill)) == "00000000-0000-4000-8000-000000000000");
}

TEST_CASE("a failing random source is an error, not a weak key") {
  auto u = kom::uuid_v4(failing, nullptr);
  REQUIRE(!u.ok());
  CHECK(u.error().code() == kom::errc::random_source_failed);
  CHECK(u.error().detail() == -0x34);
  CHECK(kom::uuid_v4(nullptr, nullptr).error().code() == kom::errc::random_source_failed);
}

TEST_CASE("UUID v4 from kom::random_source (PSA Crypto, or 2.28's CTR-DRBG): distinct, version 4, variant 10") {
  kom::random_source rng;
  REQUIRE(rng.seed("kom-tests") == 0);
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    auto u = kom::uuid_v4(rng.callback(), rng.context());
    REQUIRE(u.ok());
    CHECK(u->version() == 4);
    CHECK((u->bytes[8] & 0xC0) == 0x80);
    seen.insert(text(*u));
  }
  CHECK(seen.size() == 1000);
}

TEST_CASE("UUID text parsing") {
  kom::uuid u;
  CHECK(!kom::parse_uuid("", u));
  CHECK(!kom::parse_uuid("2ed6657d-e927-568b-95e1-2665a8aea6a", u));
  CHECK(!kom::parse_uuid("2ed6657d-e927-568b-95e1-2665a8aea6ag", u));
  CHECK(!kom::parse_uuid("2ed6657d+e927-568b-95e1-2665a8aea6a2", u));
  CHECK(kom::parse_uuid("2ed6657d-e927-568b-95e1-2665a8aea6a2", u));
  CHECK(text(u) == "2ed6657d-e927-568b-95e1-2665a8aea6a2");
  CHECK(kom::uuid_text().view().empty());
}

TEST_CASE("making keys allocates nothing") {
  std::size_t allocations = 0;
  bool ok = true;
  {
    kom_test::alloc_scope scope;
    ok = ok && kom::uuid_v5(kom::uuid_namespace::dns, "www.example.com").ok();
    ok = ok && kom::sale_idempotency_key(kom::uuid_namespace::oid, "T-1", 1, "capture").ok();
    unsigned char fill = 7;
    ok = ok && kom::uuid_v4(fixed_bytes, &fill).ok();
    allocations = scope.count();
  }
  CHECK(ok);
  CHECK(allocations == 0);
}

#if MBEDTLS_VERSION_NUMBER < 0x03000000 && defined(MBEDTLS_PSA_CRYPTO_C)
// kom uses PSA Crypto on mbedTLS 3.x and 4.x; on 2.28 it keeps the legacy SHA-1 and CTR-DRBG.
// This measures whether 2.28's PSA Crypto could serve as well: its SHA-1 gives the v5 key
// kom's legacy path gives, and its generator gives distinct random keys.
TEST_CASE("mbedTLS 2.28's PSA Crypto: SHA-1 and random bytes work as kom's legacy calls do") {
  REQUIRE(psa_crypto_init() == PSA_SUCCESS);
  kom::uuid ns;
  REQUIRE(kom::parse_uuid("6ba7b810-9dad-11d1-80b4-00c04fd430c8", ns));  // RFC 9562's DNS namespace
  const char name[] = "www.example.com";
  unsigned char input[16 + sizeof name - 1];
  std::memcpy(input, ns.bytes, 16);
  std::memcpy(input + 16, name, sizeof name - 1);
  unsigned char digest[20];
  std::size_t length = 0;
  REQUIRE(psa_hash_compute(PSA_ALG_SHA_1, input, sizeof input, digest, sizeof digest, &length) == PSA_SUCCESS);
  REQUIRE(length == 20);
  const auto legacy = kom::uuid_v5(ns, name);
  REQUIRE(legacy.ok());
  // The v5 key is the digest's first 16 bytes with version and variant set.
  digest[6] = static_cast<unsigned char>((digest[6] & 0x0F) | 0x50);
  digest[8] = static_cast<unsigned char>((digest[8] & 0x3F) | 0x80);
  CHECK(std::memcmp(digest, legacy->bytes, 16) == 0);
  CHECK(text(*legacy) == "2ed6657d-e927-568b-95e1-2665a8aea6a2");

  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    const auto u = kom::uuid_v4([](void*, unsigned char* out, std::size_t n) {
      return static_cast<int>(psa_generate_random(out, n));
    }, nullptr);
    REQUIRE(u.ok());
    seen.insert(text(*u));
  }
  CHECK(seen.size() == 100);
}
#endif
