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
    kom::buffer_writer out;
    kom::json_writer w(out);
    w.begin_object();
    w.integer(1);
    CHECK(w.status() == kom::errc::invalid_json_call);
  }
  SUBCASE("a key in an array") {
    kom::buffer_writer out;
    kom::json_writer w(out);
    w.begin_array();
    w.key("a");
    CHECK(w.status() == kom::errc::invalid_json_call);
  }
  SUBCASE("a key at the top level") {
    kom::buffer_writer out;
    kom::json_writer w(out);
    w.key("a");
    CHECK(w.status() == kom::errc::invalid_json_call);
  }
  SUBCASE("two keys in a row") {
    kom::buffer_writer out;
    kom::json_writer w(out);
    w.begin_object();
    w.key("a");
    w.key("b");
    CHECK(w.status() == kom::errc::invalid_json_call);
  }
  SUBCASE("closing the wrong bracket") {
    kom::buffer_writer out;
    kom::json_writer w(out);
    w.begin_object();
    w.end_array();
    CHECK(w.status() == kom::errc::invalid_json_call);
  }
  SUBCASE("closing an object after a key") {
    kom::buffer_writer out;
    kom::json_writer w(out);
    w.begin_object();
    w.key("a");
    w.end_object();
    CHECK(w.status() == kom::errc::invalid_json_call);
  }
  SUBCASE("closing at the top level") {
    kom::buffer_writer out;
    kom::json_writer w(out);
    w.end_array();
    CHECK(w.status() == kom::errc::invalid_json_call);
  }
  SUBCASE("a key that is not UTF-8") {
    kom::buffer_writer out;
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
