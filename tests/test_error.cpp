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
  const kom::field_ref where = kom::field_ref::in(kom::model_type::capture_request)
                                   .field(kom::field_index<kom::capture_request>("order_lines"))
                                   .item(2)
                                   .field(kom::field_index<kom::order_line>("quantity_unit"));
  kom::error e(kom::errc::too_long, where, 10);
  CHECK(e.path() == "order_lines[2].quantity_unit");
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

TEST_CASE("an error is 16 bytes, whatever field it names") {
  static_assert(sizeof(kom::error) == 16);
  static_assert(sizeof(kom::result<std::size_t>) == 24);
  const kom::field_ref deepest = kom::field_ref::in(kom::model_type::capture_list)
                                     .item(3)
                                     .field(kom::field_index<kom::capture>("order_lines"))
                                     .item(999)
                                     .field(kom::field_index<kom::order_line>("product_identifiers"))
                                     .field(kom::field_index<kom::product_identifiers>("global_trade_item_number"));
  const kom::error e(kom::errc::json_wrong_type, deepest);
  CHECK(e.path() == "[3].order_lines[999].product_identifiers.global_trade_item_number");
  CHECK(kom::error(kom::errc::required, kom::parameter::server_host).path() == "server.host");
  const kom::field_ref messages = kom::field_ref::in(kom::model_type::error_body).field(1).item(0);
  CHECK(messages.text() == "error_messages[0]");
  // A list step without an item, at the end: the list itself.
  CHECK(kom::field_ref::in(kom::model_type::capture_request).field(3).text() == "order_lines");
  // Indices beyond the field's bits read as the largest it holds; no path reads as empty.
  CHECK(kom::field_ref::in(kom::model_type::capture_request).field(3).item(70000).text() == "order_lines[4094]");
  CHECK(kom::field_ref::in(kom::model_type::capture_list).item(70000).field(7).item(70000).text() ==
        "[4094].order_lines[2046]");
  CHECK(kom::field_ref::in(kom::model_type::capture_list).item(4094).field(7).item(2046).text() ==
        "[4094].order_lines[2046]");
  CHECK(kom::field_ref::in(kom::model_type::capture_list).item(4093).field(7).item(2045).text() ==
        "[4093].order_lines[2045]");
  // The last model types still fit the root's bits.
  CHECK(kom::field_ref::in(kom::model_type::payment_method).root() == kom::model_type::payment_method);
  CHECK(kom::field_ref::in(kom::model_type::order).field(kom::field_index<kom::order>("initial_payment_method"))
            .field(2).text() == "initial_payment_method.number_of_installments");
  CHECK(kom::field_ref::in(kom::model_type::order).field(kom::field_index<kom::order>("refunds")).item(3).field(0)
            .text() == "refunds[3].refund_id");
  CHECK(kom::error(kom::errc::required).path().empty());
  CHECK(kom::error(kom::errc::required).where().empty());
  // Equal references compare equal.
  CHECK(deepest == kom::field_ref(deepest));
  CHECK(!(deepest == messages));
}

TEST_CASE("every parameter has a name") {
  for (std::size_t i = 0; i <= static_cast<std::size_t>(kom::parameter::refund_id); ++i) {
    CAPTURE(i);
    CHECK(!kom::field_ref::of(static_cast<kom::parameter>(i)).text().empty());
  }
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
