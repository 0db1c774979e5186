#include "kom/json_writer.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "support/json_canon.hpp"

namespace {

// Writes one JSON string value and returns the text, or "<error>".
std::string json_string(std::string_view s) {
  std::vector<char> buf(s.size() * 6 + 2);
  kom::buffer_writer out(buf.data(), buf.size());
  kom::json_writer w(out);
  w.string(s);
  if (w.status() != kom::errc::ok) return "<error>";
  return std::string(out.view());
}

}  // namespace

TEST_CASE("quotes, backslash and the short escapes") {
  CHECK(json_string("a\"b") == R"("a\"b")");
  CHECK(json_string("a\\b") == R"("a\\b")");
  CHECK(json_string("\b\f\n\r\t") == R"("\b\f\n\r\t")");
  CHECK(json_string("/") == R"("/")");  // solidus needs no escape
  CHECK(json_string("") == R"("")");
}

TEST_CASE("every control character is escaped and decodes back") {
  for (int c = 0; c < 0x20; ++c) {
    const std::string in(1, static_cast<char>(c));
    const std::string out = json_string(in);
    CAPTURE(c);
    CHECK(out.size() >= 4);
    CHECK(out[1] == '\\');
    for (char o : out) CHECK(static_cast<unsigned char>(o) >= 0x20);
    CHECK(kom_test::decode_json_string(out) == in);
  }
  CHECK(json_string(std::string("\x01", 1)) == R"("\u0001")");
  CHECK(json_string(std::string("\x1f", 1)) == R"("\u001f")");
  CHECK(json_string(std::string("a\0b", 3)) == R"("a\u0000b")");
  CHECK(json_string("\x7f") == "\"\x7f\"");  // DEL is not a control character in JSON
}

TEST_CASE("multi-byte UTF-8 passes through unchanged") {
  const char* samples[] = {"Köttbullar", "€", "日本語", "\xF0\x9F\x8D\x85 tomato", "\xEF\xBF\xBF",
                           "\xF4\x8F\xBF\xBF", "\xC2\x80", "\xE2\x80\xA8"};
  for (const char* s : samples) {
    CHECK(json_string(s) == "\"" + std::string(s) + "\"");
    CHECK(kom_test::decode_json_string(json_string(s)) == std::string(s));
  }
}

TEST_CASE("invalid UTF-8 is refused and nothing of it is written") {
  const char* bad[] = {
      "\x80",              // stray continuation byte
      "\xBF",              // stray continuation byte
      "\xC0\xAF",          // overlong '/'
      "\xC1\xBF",          // overlong
      "\xE0\x80\xAF",      // overlong 3-byte
      "\xE0\x9F\xBF",      // overlong 3-byte (highest)
      "\xF0\x80\x80\xAF",  // overlong 4-byte
      "\xF0\x8F\xBF\xBF",  // overlong 4-byte (highest)
      "\xED\xA0\x80",      // high surrogate U+D800
      "\xED\xBF\xBF",      // low surrogate U+DFFF
      "\xF4\x90\x80\x80",  // above U+10FFFF
      "\xF5\x80\x80\x80",  // lead byte beyond Unicode
      "\xFF",
      "\xFE",
      "\xC3",              // truncated 2-byte
      "\xE2\x82",          // truncated 3-byte
      "\xF0\x9F\x8D",      // truncated 4-byte
      "a\xE2\x28\xA1",     // bad continuation
      "ok\xC3(",           // bad continuation after valid text
  };
  for (const char* s : bad) {
    CAPTURE(s);
    char buf[64];
    kom::buffer_writer out(buf);
    kom::json_writer w(out);
    w.begin_array();
    w.string(s);
    CHECK(w.status() == kom::errc::invalid_utf8);
    CHECK(out.view() == "[");
    w.integer(1);  // sticky: nothing more is written
    w.end_array();
    CHECK(out.view() == "[");
  }
}

TEST_CASE("random valid strings round-trip through Boost.JSON's parser") {
  std::mt19937 rng(20261127);
  // Code points drawn from every UTF-8 length, control characters and specials included.
  const auto encode = [](std::uint32_t cp, std::string& s) {
    if (cp < 0x80) {
      s += static_cast<char>(cp);
    } else if (cp < 0x800) {
      s += static_cast<char>(0xC0 | (cp >> 6));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      s += static_cast<char>(0xE0 | (cp >> 12));
      s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      s += static_cast<char>(0xF0 | (cp >> 18));
      s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    }
  };
  std::uniform_int_distribution<int> length(0, 40), band(0, 4);
  for (int round = 0; round < 2000; ++round) {
    std::string s;
    for (int i = length(rng); i > 0; --i) {
      std::uint32_t cp = 0;
      switch (band(rng)) {
        case 0: cp = std::uniform_int_distribution<std::uint32_t>(0, 0x7F)(rng); break;
        case 1: cp = std::uniform_int_distribution<std::uint32_t>(0x80, 0x7FF)(rng); break;
        case 2: cp = std::uniform_int_distribution<std::uint32_t>(0x800, 0xD7FF)(rng); break;
        case 3: cp = std::uniform_int_distribution<std::uint32_t>(0xE000, 0xFFFF)(rng); break;
        default: cp = std::uniform_int_distribution<std::uint32_t>(0x10000, 0x10FFFF)(rng); break;
      }
      encode(cp, s);
    }
    const std::string json = json_string(s);
    REQUIRE(json != "<error>");
    CHECK(kom_test::decode_json_string(json) == s);
  }
}

TEST_CASE("objects and arrays are compact with commas in the right places") {
  char buf[128];
  kom::buffer_writer out(buf);
  kom::json_writer w(out);
  w.begin_object();
  w.member("a", std::int64_t{1});
  w.key("b");
  w.begin_array();
  w.integer(-2);
  w.string("x");
  w.boolean(true);
  w.boolean(false);
  w.null();
  w.begin_object();
  w.end_object();
  w.begin_array();
  w.end_array();
  w.end_array();
  w.member("c", "d");
  w.end_object();
  CHECK(w.status() == kom::errc::ok);
  CHECK(w.balanced());
  CHECK(out.view() == R"({"a":1,"b":[-2,"x",true,false,null,{},[]],"c":"d"})");
  CHECK(kom_test::canonical_json(out.view()).has_value());
}

TEST_CASE("calls out of order are refused") {
  SUBCASE("a value where a key belongs") {
    kom::buffer_writer out(kom::measure_only);
    kom::json_writer w(out);
    w.begin_object();
    w.integer(1);
    CHECK(w.status() == kom::errc::invalid_json_call);
  }
  SUBCASE("a key in an array") {
    kom::buffer_writer out(kom::measure_only);
    kom::json_writer w(out);
    w.begin_array();
    w.key("a");
    CHECK(w.status() == kom::errc::invalid_json_call);
  }
  SUBCASE("a key at the top level") {
    kom::buffer_writer out(kom::measure_only);
    kom::json_writer w(out);
    w.key("a");
    CHECK(w.status() == kom::errc::invalid_json_call);
  }
  SUBCASE("two keys in a row") {
    kom::buffer_writer out(kom::measure_only);
    kom::json_writer w(out);
    w.begin_object();
    w.key("a");
    w.key("b");
    CHECK(w.status() == kom::errc::invalid_json_call);
  }
  SUBCASE("closing the wrong bracket") {
    kom::buffer_writer out(kom::measure_only);
    kom::json_writer w(out);
    w.begin_object();
    w.end_array();
    CHECK(w.status() == kom::errc::invalid_json_call);
  }
  SUBCASE("closing an object after a key") {
    kom::buffer_writer out(kom::measure_only);
    kom::json_writer w(out);
    w.begin_object();
    w.key("a");
    w.end_object();
    CHECK(w.status() == kom::errc::invalid_json_call);
  }
  SUBCASE("closing at the top level") {
    kom::buffer_writer out(kom::measure_only);
    kom::json_writer w(out);
    w.end_array();
    CHECK(w.status() == kom::errc::invalid_json_call);
  }
  SUBCASE("a key that is not UTF-8") {
    kom::buffer_writer out(kom::measure_only);
    kom::json_writer w(out);
    w.begin_object();
    w.key("\xC3");
    CHECK(w.status() == kom::errc::invalid_utf8);
  }
}

TEST_CASE("nesting deeper than the limit is refused") {
  char buf[256];
  kom::buffer_writer out(buf);
  kom::json_writer w(out);
  for (int i = 0; i < KOM_JSON_WRITER_MAX_DEPTH; ++i) w.begin_array();
  CHECK(w.status() == kom::errc::ok);
  w.begin_array();
  CHECK(w.status() == kom::errc::nesting_too_deep);
  CHECK(out.size() == KOM_JSON_WRITER_MAX_DEPTH);
}

TEST_CASE("integers in JSON, INT64_MIN included") {
  char buf[128];
  kom::buffer_writer out(buf);
  kom::json_writer w(out);
  w.begin_array();
  w.integer(INT64_MIN);
  w.integer(INT64_MAX);
  w.integer(0);
  w.integer(-1);
  w.end_array();
  CHECK(out.view() == "[-9223372036854775808,9223372036854775807,0,-1]");
}

TEST_CASE("a string cut at every buffer size: never past the end, size always right") {
  const std::string value = "Tomatoes \"fresh\"\n\xE2\x82\xAC 10 kg\x01";
  const std::string full = json_string(value);
  for (std::size_t cap = 0; cap <= full.size() + 1; ++cap) {
    std::vector<char> buf(cap + 8, '#');
    kom::buffer_writer out(buf.data(), cap);
    kom::json_writer w(out);
    w.string(value);
    CAPTURE(cap);
    CHECK(out.size() == full.size());
    CHECK(out.overflow() == (cap < full.size()));
    CHECK(std::string(out.view()) == full.substr(0, cap));
    for (std::size_t i = cap; i < buf.size(); ++i) CHECK(buf[i] == '#');
  }
}

TEST_CASE("the one-pass path and the bounded path write the same bytes") {
  // With room for the longest escaping, key() and string() copy straight into the buffer,
  // checking UTF-8 as they go; near the end of the buffer (or measuring) they take the
  // bounded path. A special byte at every offset around the 8-byte blocks, in keys and in
  // values, at every buffer size: the same bytes, the same size, nothing past the end, and
  // for invalid UTF-8 nothing written at all (not even the comma before it).
  const std::string specials[] = {"\"", "\\", "\n", std::string(1, '\0'), "\x1f", "\xC3\xA9", "\xE2\x82\xAC",
                                  "\xF0\x9F\x8D\x85", "\x7f", "/"};
  const std::string invalid[] = {"\xC3", "\xE2\x82", "\xED\xA0\x80", "\xC0\xAF", "\x80", "\xFF"};
  const auto write = [](kom::buffer_writer& out, const std::string& s) {
    kom::json_writer w(out);
    w.begin_object();
    w.member("n", std::int64_t{1});
    w.key(s);
    w.begin_array();
    w.string("x");
    w.string(s);
    w.string(s);
    w.end_array();
    w.end_object();
    return w.status();
  };
  std::size_t cases = 0;
  for (std::size_t length = 0; length <= 20; ++length) {
    for (std::size_t at = 0; at <= length; ++at) {
      for (const std::string& special : specials) {
        const std::string s = std::string(at, 'a') + special + std::string(length - at, 'b');
        CAPTURE(s);
        kom::buffer_writer measure(kom::measure_only);
        REQUIRE(write(measure, s) == kom::errc::ok);
        std::vector<char> big(measure.size() * 6 + 64);
        kom::buffer_writer roomy(big.data(), big.size());
        REQUIRE(write(roomy, s) == kom::errc::ok);
        const std::string full(roomy.view());
        CHECK(full.size() == measure.size());
        CHECK(kom_test::canonical_json(full).has_value());
        for (std::size_t cap = 0; cap <= full.size(); cap += (cap < 16 || cap + 24 > full.size()) ? std::size_t{1} : std::size_t{7}) {
          std::vector<char> buf(cap + 8, '#');
          kom::buffer_writer out(buf.data(), cap);
          write(out, s);
          CHECK(out.size() == full.size());
          CHECK(std::string(out.view()) == full.substr(0, cap));
          for (std::size_t i = cap; i < buf.size(); ++i) CHECK(buf[i] == '#');
        }
        ++cases;
      }
      for (const std::string& bad : invalid) {
        const std::string s = std::string(at, 'a') + bad + std::string(length - at, 'b');
        CAPTURE(s);
        std::vector<char> big(512);
        kom::buffer_writer out(big.data(), big.size());
        kom::json_writer w(out);
        w.begin_array();
        w.string("x");
        const std::size_t before = out.size();
        w.string(s);
        CHECK(w.status() == kom::errc::invalid_utf8);
        CHECK(out.size() == before);
        kom::buffer_writer keys(big.data(), big.size());
        kom::json_writer k(keys);
        k.begin_object();
        k.member("n", std::int64_t{1});
        const std::size_t key_before = keys.size();
        k.key(s);
        CHECK(k.status() == kom::errc::invalid_utf8);
        CHECK(keys.size() == key_before);
      }
    }
  }
  MESSAGE("strings checked on both paths: " << cases);
}
