#include "kom/error.hpp"

#include <doctest/doctest.h>

#include <cstring>
#include <ostream>
#include <string>
#include <system_error>

TEST_CASE("kom::errc is a std::error_code enum in the kom category") {
  std::error_code ec = kom::errc::too_long;
  CHECK(ec.category().name() == std::string("kom"));
  CHECK(ec.value() == 2);
  CHECK(ec.message() == "longer than allowed");
  CHECK(kom::make_error_code(kom::errc::buffer_too_small).message() == "buffer too small");
  CHECK(kom::error_category().message(9999) == "unknown error");
}

TEST_CASE("an error's message has its path, its rule and its number") {
  kom::field_path p;
  p.append("order_lines");
  p.append_index(2);
  p.append("quantity_unit");
  kom::error e(kom::errc::too_long, p, 10);
  char buf[128];
  CHECK(e.describe(buf) == "order_lines[2].quantity_unit: longer than 10 characters");
  CHECK(e.error_code() == kom::errc::too_long);

  CHECK(kom::error(kom::errc::buffer_too_small, 812).describe(buf) == "buffer too small, 812 bytes needed");
  CHECK(kom::error(kom::errc::not_in_set).describe(buf) == "not one of the allowed values");
  char tiny[8];
  CHECK(e.describe(tiny) == "order_l");  // cut, never overrun: 7 characters and the NUL
  CHECK(tiny[7] == '\0');
}

TEST_CASE("describe ends the text with a NUL, so data() is a C string") {
  char buf[64];
  std::memset(buf, 'x', sizeof buf);
  const std::string_view text = kom::error(kom::errc::buffer_too_small, 812).describe(buf);
  CHECK(std::strlen(text.data()) == text.size());
  CHECK(std::string(text.data()) == "buffer too small, 812 bytes needed");
  char one[1];
  CHECK(kom::error(kom::errc::required).describe(one).empty());
  CHECK(one[0] == '\0');
}

TEST_CASE("a field path longer than its capacity is cut, never overrun") {
  kom::field_path p;
  for (int i = 0; i < 40; ++i) p.append("segment");
  CHECK(p.view().size() == KOM_MAX_FIELD_PATH);
}

TEST_CASE("result holds a value or an error") {
  kom::result<int> good = 5;
  CHECK(good.ok());
  CHECK(*good == 5);
  kom::result<int> bad = kom::errc::required;
  CHECK(!bad);
  CHECK(bad.error().code() == kom::errc::required);
}
