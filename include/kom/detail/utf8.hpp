// kom/detail/utf8.hpp: strict UTF-8 checking (RFC 3629) and code point counting.
// Klarna's length limits count characters, so every text limit goes through here.
#ifndef KOM_DETAIL_UTF8_HPP
#define KOM_DETAIL_UTF8_HPP

#include <cstddef>
#include <string_view>

namespace kom {
namespace detail {

struct utf8_scan {
  bool valid;
  std::size_t code_points;  ///< meaningful only when valid
};

/// The length (2 to 4) of the valid multi-byte sequence that starts at s[i], or 0. Refuses
/// overlong forms, surrogates (U+D800..U+DFFF), code points above U+10FFFF, stray
/// continuation bytes and sequences cut short. s[i] must be 0x80 or above.
constexpr std::size_t utf8_sequence(std::string_view s, std::size_t i) noexcept {
  const auto b0 = static_cast<unsigned char>(s[i]);
  std::size_t len = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    if (b0 == 0xE0) lo = 0xA0;       // no overlong 3-byte forms
    else if (b0 == 0xED) hi = 0x9F;  // no surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    if (b0 == 0xF0) lo = 0x90;       // no overlong 4-byte forms
    else if (b0 == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
  } else {
    return 0;  // 80..C1 (continuation or overlong lead), F5..FF
  }
  if (s.size() - i < len) return 0;
  const auto b1 = static_cast<unsigned char>(s[i + 1]);
  if (b1 < lo || b1 > hi) return 0;
  for (std::size_t k = 2; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if (b < 0x80 || b > 0xBF) return 0;
  }
  return len;
}

/// Checks all of `s` (see utf8_sequence) and counts its code points.
constexpr utf8_scan scan_utf8(std::string_view s) noexcept {
  std::size_t count = 0;
  std::size_t i = 0;
  const std::size_t n = s.size();
  while (i < n) {
    // ASCII, 8 bytes at a time (the common case: references, names, tracking numbers).
    // The rest when shorter: all of it at once.
    const std::size_t block = n - i >= 8 ? 8 : n - i;
    unsigned char any = 0;
    for (std::size_t k = 0; k < block; ++k) any = static_cast<unsigned char>(any | static_cast<unsigned char>(s[i + k]));
    if (any < 0x80) {
      i += block;
      count += block;
      continue;
    }
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      ++count;
      continue;
    }
    const std::size_t len = utf8_sequence(s, i);
    if (len == 0) return {false, 0};
    i += len;
    ++count;
  }
  return {true, count};
}

}  // namespace detail
}  // namespace kom

#endif  // KOM_DETAIL_UTF8_HPP
