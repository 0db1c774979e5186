// kom/detail/crypto.hpp: the fallback Base64 encoder and zeroize (used without mbedTLS, e.g. on
// the Cortex-M build) against mbedTLS's, which this host build links.
#include "kom/detail/crypto.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <mbedtls/base64.h>

#include "kom/http_request.hpp"
#include "support/alloc_counter.hpp"

static_assert(KOM_USE_MBEDTLS == 1, "the host tests compare the fallbacks with mbedTLS");
static_assert(kom::detail::base64_buffer_too_small == MBEDTLS_ERR_BASE64_BUFFER_TOO_SMALL);

namespace {

struct encoded {
  int rc = 0;
  std::size_t written = 0;
  std::vector<unsigned char> dst;  // the whole destination buffer, so stray writes show too

  bool operator==(const encoded& o) const { return rc == o.rc && written == o.written && dst == o.dst; }
};

// Encodes into a buffer of `dst_size` bytes prefilled with '#'.
template <class Encode>
encoded run(Encode encode, const std::vector<unsigned char>& src, std::size_t dst_size) {
  encoded e;
  e.dst.assign(dst_size, '#');
  e.rc = encode(e.dst.empty() ? nullptr : e.dst.data(), dst_size, &e.written, src.data(), src.size());
  return e;
}

encoded with_mbedtls(const std::vector<unsigned char>& src, std::size_t dst_size) {
  return run(mbedtls_base64_encode, src, dst_size);
}
encoded with_fallback(const std::vector<unsigned char>& src, std::size_t dst_size) {
  return run(kom::detail::base64_encode_fallback, src, dst_size);
}

std::string text_of(const encoded& e) { return std::string(e.dst.begin(), e.dst.begin() + static_cast<long>(e.written)); }

std::vector<unsigned char> bytes(std::string_view s) { return {s.begin(), s.end()}; }

std::vector<unsigned char> random_bytes(std::mt19937& rng, std::size_t n) {
  std::uniform_int_distribution<int> byte(0, 255);
  std::vector<unsigned char> v(n);
  for (auto& b : v) b = static_cast<unsigned char>(byte(rng));
  return v;
}

std::size_t needed(std::size_t n) { return n == 0 ? 0 : (n + 2) / 3 * 4 + 1; }

// The value of the Authorization header in a request, "" when there is none.
std::string authorization_of(std::string_view request) {
  const std::string_view name = "\r\nAuthorization: Basic ";
  const std::size_t at = request.find(name);
  if (at == std::string_view::npos) return {};
  const std::size_t from = at + name.size();
  return std::string(request.substr(from, request.find("\r\n", from) - from));
}

}  // namespace

TEST_CASE("crypto: the fallback Base64 gives RFC 4648's test vectors") {
  const char* const vectors[][2] = {{"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},        {"foo", "Zm9v"},
                                    {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"}};
  for (const auto& v : vectors) {
    CAPTURE(v[0]);
    const encoded e = with_fallback(bytes(v[0]), 16);
    CHECK(e.rc == 0);
    CHECK(text_of(e) == v[1]);
    if (e.written != 0) CHECK(e.dst[e.written] == 0);  // NUL-terminated, as mbedTLS's
  }
}

TEST_CASE("crypto: fallback Base64 equals mbedTLS's on every length 0..64, every buffer size around the need") {
  std::mt19937 rng(20240601);
  for (std::size_t n = 0; n <= 64; ++n) {
    CAPTURE(n);
    for (int round = 0; round < 8; ++round) {
      std::vector<unsigned char> src = random_bytes(rng, n);
      if (round == 1) std::fill(src.begin(), src.end(), 0x00);
      if (round == 2) std::fill(src.begin(), src.end(), 0xFF);  // '/' and the top of the alphabet
      if (round == 3) std::fill(src.begin(), src.end(), 0xFB);  // '+' runs
      const std::size_t need = needed(n);
      // Too small (every size below the need), exact, and roomy.
      for (std::size_t size = 0; size <= need + 3; ++size) {
        CAPTURE(size);
        const encoded m = with_mbedtls(src, size);
        const encoded f = with_fallback(src, size);
        CHECK(f == m);
      }
      const encoded ok = with_fallback(src, need + 8);
      CHECK(ok.rc == 0);
      CHECK(ok.written == (n == 0 ? 0 : need - 1));
    }
  }
}

TEST_CASE("crypto: fallback Base64 equals mbedTLS's on random inputs of random lengths") {
  std::mt19937 rng(7);
  std::uniform_int_distribution<std::size_t> length(0, 2000);
  for (int i = 0; i < 500; ++i) {
    const std::vector<unsigned char> src = random_bytes(rng, length(rng));
    CAPTURE(src.size());
    const std::size_t size = needed(src.size()) + static_cast<std::size_t>(i % 3);
    CHECK(with_fallback(src, size) == with_mbedtls(src, size));
  }
}

TEST_CASE("crypto: a null destination is too small for both, and reports the size needed") {
  const std::vector<unsigned char> src = bytes("abcd");
  std::size_t m = 0, f = 0;
  CHECK(mbedtls_base64_encode(nullptr, 64, &m, src.data(), src.size()) == MBEDTLS_ERR_BASE64_BUFFER_TOO_SMALL);
  CHECK(kom::detail::base64_encode_fallback(nullptr, 64, &f, src.data(), src.size()) ==
        kom::detail::base64_buffer_too_small);
  CHECK(f == m);
  CHECK(f == 9);
}

TEST_CASE("crypto: both backends give the same Authorization header") {
  struct credential {
    std::string user;
    std::string password;
  };
  std::vector<credential> cases = {{"K123456_abcdef", "sharedsecret"}, {"a", "b"},   {"ab", "c"},
                                   {"u", "p\xC3\xA9"},                 {"a", "bc"}, {"user", "p:ss w0rd!"}};
  std::mt19937 rng(99);
  std::uniform_int_distribution<int> printable(0x20, 0x7E);
  std::uniform_int_distribution<std::size_t> length(1, 64);
  for (int i = 0; i < 200; ++i) {
    credential c;
    c.user.resize(length(rng));
    for (char& ch : c.user) {
      ch = static_cast<char>(printable(rng));
      if (ch == ':') ch = '_';
    }
    c.password.resize(length(rng));
    for (char& ch : c.password) ch = static_cast<char>(printable(rng));
    cases.push_back(c);
  }

  for (const credential& c : cases) {
    CAPTURE(c.user);
    CAPTURE(c.password);
    // The whole request, with the backend the build picked (mbedTLS here).
    kom::request_config cfg;
    cfg.server = {"localhost", 443};
    cfg.credentials.username = c.user;
    cfg.credentials.password = c.password;
    char request[1024];
    kom::buffer_writer out(request);
    const auto size = kom::write_get_order_request(out, cfg, "o");
    REQUIRE(size.ok());
    const std::string header = authorization_of(out.view());

    // The same credentials through kom's encoding loop with each encoder named.
    char fallback_buffer[256];
    kom::buffer_writer fallback_out(fallback_buffer);
    REQUIRE(kom::detail::append_basic_credentials(fallback_out, c.user, c.password,
                                                  &kom::detail::base64_encode_fallback)
                .ok());
    char backend_buffer[256];
    kom::buffer_writer backend_out(backend_buffer);
    REQUIRE(kom::detail::append_basic_credentials(backend_out, c.user, c.password).ok());

    CHECK(!header.empty());
    CHECK(std::string(fallback_out.view()) == header);
    CHECK(std::string(backend_out.view()) == header);

    // And against base64 of "user:password" in one piece.
    const std::vector<unsigned char> joined = bytes(c.user + ":" + c.password);
    CHECK(text_of(with_mbedtls(joined, 256)) == header);
  }
}

TEST_CASE("crypto: zeroize clears every byte, with either backend, and allocates nothing") {
  for (std::size_t n : {std::size_t{1}, std::size_t{3}, std::size_t{64}, std::size_t{1000}}) {
    std::vector<unsigned char> a(n, 0xA5), b(n, 0x5A);
    std::size_t during = 0;
    {
      const kom_test::alloc_scope allocations;
      kom::detail::zeroize_fallback(a.data(), a.size());
      kom::detail::zeroize(b.data(), b.size());
      during = allocations.count();
    }
    CHECK(during == 0);
    CHECK(std::all_of(a.begin(), a.end(), [](unsigned char x) { return x == 0; }));
    CHECK(std::all_of(b.begin(), b.end(), [](unsigned char x) { return x == 0; }));
  }
  unsigned char keep[4] = {1, 2, 3, 4};
  kom::detail::zeroize(nullptr, 4);
  kom::detail::zeroize(keep, 0);
  kom::detail::zeroize_fallback(keep, 0);
  CHECK(keep[0] == 1);
  CHECK(keep[3] == 4);

  unsigned char out[16];
  std::size_t written = 0;
  const unsigned char in[] = {'k', 'o', 'm'};
  const kom_test::alloc_scope allocations;
  const int rc = kom::detail::base64_encode_fallback(out, sizeof out, &written, in, sizeof in);
  CHECK(allocations.count() == 0);
  CHECK(rc == 0);
  CHECK(std::string_view(reinterpret_cast<const char*>(out), written) == "a29t");
}
