#include "kom/buffer_writer.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <limits>
#include <string>

TEST_CASE("buffer_writer writes what fits and counts what does not") {
  char buf[8];
  std::memset(buf, '#', sizeof buf);
  kom::buffer_writer w(buf, 5);
  w.append("abc");
  CHECK(!w.overflow());
  CHECK(w.view() == "abc");
  w.append("defg");
  CHECK(w.overflow());
  CHECK(w.size() == 7);
  CHECK(w.written() == 5);
  CHECK(w.view() == "abcde");
  CHECK(buf[5] == '#');  // never past the end
  w.put('x');
  CHECK(w.size() == 8);
  CHECK(w.overflow());  // sticky
}

TEST_CASE("buffer_writer of capacity zero overflows on the first byte") {
  char buf[1] = {'#'};
  kom::buffer_writer w(buf, 0);
  CHECK(!w.measuring());
  w.put('a');
  CHECK(w.overflow());
  CHECK(w.size() == 1);
  CHECK(buf[0] == '#');
}

TEST_CASE("measure-only buffer_writer counts and never overflows") {
  kom::buffer_writer w(kom::measure_only);
  CHECK(w.measuring());
  w.append("hello");
  w.append_int(-42);
  CHECK(w.size() == 8);
  CHECK(!w.overflow());
  CHECK(w.written() == 0);
}

TEST_CASE("a null buffer given for writing overflows; it never means measure-only") {
  kom::buffer_writer w(nullptr, 64);
  CHECK(!w.measuring());
  CHECK(w.capacity() == 0);
  CHECK(w.reserve(1) == nullptr);
  w.append("hello");
  CHECK(w.overflow());
  CHECK(w.size() == 5);
  CHECK(w.written() == 0);
}

TEST_CASE("buffer_writer from an array uses the whole array") {
  char buf[4];
  kom::buffer_writer w(buf);
  CHECK(w.capacity() == 4);
}

TEST_CASE("integers are written in decimal without printf") {
  const std::int64_t values[] = {0, 1, -1, 9, 10, -10, 200000000, 1234567890123,
                                 std::numeric_limits<std::int64_t>::max(),
                                 std::numeric_limits<std::int64_t>::min(),
                                 std::numeric_limits<std::int64_t>::min() + 1};
  for (std::int64_t v : values) {
    char buf[32];
    kom::buffer_writer w(buf);
    w.append_int(v);
    CHECK(std::string(w.view()) == std::to_string(v));
  }
  char buf[32];
  kom::buffer_writer w(buf);
  w.append_uint(std::numeric_limits<std::uint64_t>::max());
  CHECK(w.view() == "18446744073709551615");
}

TEST_CASE("an integer cut by the end of the buffer reports the full size") {
  char buf[4] = {'#', '#', '#', '#'};
  kom::buffer_writer w(buf, 3);
  w.append_int(-123456);
  CHECK(w.size() == 7);
  CHECK(w.view() == "-12");
  CHECK(buf[3] == '#');
}
