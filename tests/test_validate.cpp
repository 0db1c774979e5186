#include "kom/validate.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "support/fixtures.hpp"

namespace {

kom::validation_options no_arithmetic() {
  kom::validation_options o;
  o.check_line_totals = false;
  o.check_captured_amount = false;
  return o;
}

// `count` characters: ASCII, or two-byte 'é' to show that limits count characters, not bytes.
std::string chars(std::size_t count, bool multibyte) {
  std::string s;
  for (std::size_t i = 0; i < count; ++i) s += multibyte ? "\xC3\xA9" : "x";
  return s;
}

// A capture with one of everything, so that every field has a place to be set.
struct full_capture {
  kom::product_identifiers ids;
  kom::subscription sub;
  kom::order_line line;
  kom::shipping_info ship;
  kom::capture_request request;

  full_capture() {
    sub.name = "Plan";
    sub.interval = kom::subscription_interval::year;
    sub.interval_count = 1;
    line.type = kom::order_line_type::physical;
    line.name = "Tomatoes";
    line.quantity = 10;
    line.unit_price = 600;
    line.total_amount = 6000;
    line.product_identifiers = &ids;
    line.subscription = &sub;
    request.captured_amount = 6000;
    request.order_lines = {&line, 1};
    request.shipping_info = {&ship, 1};
  }
  full_capture(const full_capture&) = delete;
};

struct text_field {
  const char* path;
  std::size_t max;
  std::function<void(full_capture&, std::string_view)> set;
};

const std::vector<text_field>& capture_text_fields() {
  static const std::vector<text_field> fields = {
      {"description", 255, [](full_capture& c, std::string_view v) { c.request.description = v; }},
      {"reference", 255, [](full_capture& c, std::string_view v) { c.request.reference = v; }},
      {"order_lines[0].reference", 255, [](full_capture& c, std::string_view v) { c.line.reference = v; }},
      {"order_lines[0].name", 255, [](full_capture& c, std::string_view v) { c.line.name = v; }},
      {"order_lines[0].quantity_unit", 10, [](full_capture& c, std::string_view v) { c.line.quantity_unit = v; }},
      {"order_lines[0].merchant_data", 1024, [](full_capture& c, std::string_view v) { c.line.merchant_data = v; }},
      {"order_lines[0].product_url", 1024, [](full_capture& c, std::string_view v) { c.line.product_url = v; }},
      {"order_lines[0].image_url", 1024, [](full_capture& c, std::string_view v) { c.line.image_url = v; }},
      {"order_lines[0].product_identifiers.brand", 70, [](full_capture& c, std::string_view v) { c.ids.brand = v; }},
      {"order_lines[0].product_identifiers.category_path", 750,
       [](full_capture& c, std::string_view v) { c.ids.category_path = v; }},
      {"order_lines[0].product_identifiers.global_trade_item_number", 50,
       [](full_capture& c, std::string_view v) { c.ids.global_trade_item_number = v; }},
      {"order_lines[0].product_identifiers.manufacturer_part_number", 70,
       [](full_capture& c, std::string_view v) { c.ids.manufacturer_part_number = v; }},
      {"order_lines[0].product_identifiers.color", 64, [](full_capture& c, std::string_view v) { c.ids.color = v; }},
      {"order_lines[0].product_identifiers.size", 64, [](full_capture& c, std::string_view v) { c.ids.size = v; }},
      {"order_lines[0].subscription.name", 255, [](full_capture& c, std::string_view v) { c.sub.name = v; }},
      {"shipping_info[0].shipping_company", 100, [](full_capture& c, std::string_view v) { c.ship.shipping_company = v; }},
      {"shipping_info[0].tracking_number", 100, [](full_capture& c, std::string_view v) { c.ship.tracking_number = v; }},
      {"shipping_info[0].tracking_uri", 1024, [](full_capture& c, std::string_view v) { c.ship.tracking_uri = v; }},
      {"shipping_info[0].return_shipping_company", 100,
       [](full_capture& c, std::string_view v) { c.ship.return_shipping_company = v; }},
      {"shipping_info[0].return_tracking_number", 100,
       [](full_capture& c, std::string_view v) { c.ship.return_tracking_number = v; }},
      {"shipping_info[0].return_tracking_uri", 1024,
       [](full_capture& c, std::string_view v) { c.ship.return_tracking_uri = v; }},
  };
  return fields;
}

std::string message(const kom::error& e) {
  char buf[160];
  return std::string(e.describe(buf));
}

}  // namespace

TEST_CASE("the full capture used below is valid") {
  full_capture c;
  CHECK(kom::validate(c.request).ok());
}

TEST_CASE("every text limit: accepted at the maximum, refused one character past it") {
  for (const text_field& f : capture_text_fields()) {
    for (bool multibyte : {false, true}) {
      CAPTURE(f.path);
      CAPTURE(multibyte);
      const std::string at_max = chars(f.max, multibyte);
      const std::string past = chars(f.max + 1, multibyte);
      full_capture c;
      f.set(c, at_max);
      CHECK(kom::validate(c.request).ok());
      f.set(c, past);
      const kom::error e = kom::validate(c.request);
      CHECK(e.code() == kom::errc::too_long);
      CHECK(e.path() == f.path);
      CHECK(e.detail() == static_cast<std::int64_t>(f.max));
      CHECK(message(e) == std::string(f.path) + ": longer than " + std::to_string(f.max) + " characters");
    }
  }
}

TEST_CASE("every text field refuses invalid UTF-8") {
  for (const text_field& f : capture_text_fields()) {
    CAPTURE(f.path);
    full_capture c;
    f.set(c, "ab\xED\xA0\x80");
    const kom::error e = kom::validate(c.request);
    CHECK(e.code() == kom::errc::invalid_utf8);
    CHECK(e.path() == f.path);
  }
}

TEST_CASE("the same text limits hold in a shipping-info update") {
  for (bool multibyte : {false, true}) {
    kom::shipping_info s;
    kom::shipping_info_update u;
    u.shipping_info = {&s, 1};
    const std::string hundred = chars(100, multibyte), past = chars(101, multibyte);
    const std::string kilo = chars(1024, multibyte), kilo_past = chars(1025, multibyte);
    struct {
      std::string_view kom::shipping_info::*member;
      const char* path;
      const std::string* ok;
      const std::string* bad;
      int max;
    } cases[] = {
        {&kom::shipping_info::shipping_company, "shipping_info[0].shipping_company", &hundred, &past, 100},
        {&kom::shipping_info::tracking_number, "shipping_info[0].tracking_number", &hundred, &past, 100},
        {&kom::shipping_info::tracking_uri, "shipping_info[0].tracking_uri", &kilo, &kilo_past, 1024},
        {&kom::shipping_info::return_shipping_company, "shipping_info[0].return_shipping_company", &hundred, &past, 100},
        {&kom::shipping_info::return_tracking_number, "shipping_info[0].return_tracking_number", &hundred, &past, 100},
        {&kom::shipping_info::return_tracking_uri, "shipping_info[0].return_tracking_uri", &kilo, &kilo_past, 1024},
    };
    for (const auto& k : cases) {
      CAPTURE(k.path);
      s = {};
      s.*k.member = *k.ok;
      CHECK(kom::validate(u).ok());
      s.*k.member = *k.bad;
      const kom::error e = kom::validate(u);
      CHECK(e.code() == kom::errc::too_long);
      CHECK(e.path() == k.path);
      CHECK(e.detail() == k.max);
    }
  }
}

TEST_CASE("required text: order line name and subscription name") {
  full_capture c;
  c.line.name = "";
  kom::error e = kom::validate(c.request);
  CHECK(e.code() == kom::errc::required);
  CHECK(e.path() == "order_lines[0].name");
  CHECK(message(e) == "order_lines[0].name: is required");
  full_capture d;
  d.sub.name = "";
  e = kom::validate(d.request);
  CHECK(e.code() == kom::errc::required);
  CHECK(e.path() == "order_lines[0].subscription.name");
}

TEST_CASE("captured_amount is 1..200000000") {
  kom::capture_request r;
  for (std::int64_t ok : {std::int64_t{1}, std::int64_t{200000000}}) {
    r.captured_amount = ok;
    CHECK(kom::validate(r).ok());
  }
  r.captured_amount = 0;
  kom::error e = kom::validate(r);
  CHECK(e.code() == kom::errc::below_minimum);
  CHECK(e.path() == "captured_amount");
  CHECK(message(e) == "captured_amount: less than 1");
  r.captured_amount = 200000001;
  e = kom::validate(r);
  CHECK(e.code() == kom::errc::above_maximum);
  CHECK(message(e) == "captured_amount: greater than 200000000");
  r.captured_amount = INT64_MIN;
  CHECK(kom::validate(r).code() == kom::errc::below_minimum);
}

TEST_CASE("every numeric limit of an order line at its boundary") {
  struct numeric {
    const char* path;
    std::function<void(full_capture&, std::int64_t)> set;
    std::int64_t ok;
    std::int64_t bad;
    kom::errc code;
  };
  const std::vector<numeric> cases = {
      {"order_lines[0].quantity", [](full_capture& c, std::int64_t v) { c.line.quantity = v; }, 0, -1,
       kom::errc::below_minimum},
      {"order_lines[0].unit_price", [](full_capture& c, std::int64_t v) { c.line.unit_price = v; }, 200000000,
       200000001, kom::errc::above_maximum},
      {"order_lines[0].total_amount", [](full_capture& c, std::int64_t v) { c.line.total_amount = v; }, 200000000,
       200000001, kom::errc::above_maximum},
      {"order_lines[0].total_tax_amount", [](full_capture& c, std::int64_t v) { c.line.total_tax_amount = v; },
       200000000, 200000001, kom::errc::above_maximum},
      {"order_lines[0].total_discount_amount",
       [](full_capture& c, std::int64_t v) { c.line.total_discount_amount = v; }, 200000000, 200000001,
       kom::errc::above_maximum},
      {"order_lines[0].total_discount_amount",
       [](full_capture& c, std::int64_t v) { c.line.total_discount_amount = v; }, 0, -1, kom::errc::below_minimum},
      {"order_lines[0].tax_rate", [](full_capture& c, std::int64_t v) { c.line.tax_rate = v; }, 0, -1,
       kom::errc::below_minimum},
      {"order_lines[0].tax_rate", [](full_capture& c, std::int64_t v) { c.line.tax_rate = v; }, 2147483647,
       2147483648, kom::errc::above_maximum},
      {"order_lines[0].subscription.interval_count", [](full_capture& c, std::int64_t v) { c.sub.interval_count = v; },
       1, 0, kom::errc::below_minimum},
      {"order_lines[0].subscription.interval_count", [](full_capture& c, std::int64_t v) { c.sub.interval_count = v; },
       2147483647, 2147483648, kom::errc::above_maximum},
      {"shipping_delay", [](full_capture& c, std::int64_t v) { c.request.shipping_delay = v; }, 0, -1,
       kom::errc::below_minimum},
  };
  for (const numeric& n : cases) {
    CAPTURE(n.path);
    CAPTURE(n.bad);
    full_capture c;
    n.set(c, n.ok);
    CHECK(kom::validate(c.request, no_arithmetic()).ok());
    n.set(c, n.bad);
    const kom::error e = kom::validate(c.request, no_arithmetic());
    CHECK(e.code() == n.code);
    CHECK(e.path() == n.path);
  }
}

TEST_CASE("unit_price and total_amount may be negative (discount lines)") {
  kom::order_line goods, discount;
  goods.name = "Tomatoes";
  goods.quantity = 1;
  goods.unit_price = 1000;
  goods.total_amount = 1000;
  discount.type = kom::order_line_type::discount;
  discount.name = "Coupon";
  discount.quantity = 1;
  discount.unit_price = -200;
  discount.total_amount = -200;
  const kom::order_line lines[] = {goods, discount};
  kom::capture_request r;
  r.captured_amount = 800;
  r.order_lines = lines;
  CHECK(kom::validate(r).ok());
}

TEST_CASE("order_lines: at most 1000") {
  std::vector<kom::order_line> lines(1001);
  for (auto& l : lines) {
    l.name = "x";
    l.quantity = 1;
    l.unit_price = 1;
    l.total_amount = 1;
  }
  kom::capture_request r;
  r.captured_amount = 1000;
  r.order_lines = {lines.data(), 1000};
  CHECK(kom::validate(r).ok());
  r.order_lines = {lines.data(), 1001};
  r.captured_amount = 1001;
  const kom::error e = kom::validate(r);
  CHECK(e.code() == kom::errc::too_many_items);
  CHECK(e.path() == "order_lines");
  CHECK(message(e) == "order_lines: more than 1000 items");
}

TEST_CASE("shipping_info: at most 500 in a capture, 1..500 in an update") {
  std::vector<kom::shipping_info> ships(501);
  kom::capture_request r;
  r.captured_amount = 1;
  r.shipping_info = {ships.data(), 500};
  CHECK(kom::validate(r).ok());
  r.shipping_info = {ships.data(), 501};
  kom::error e = kom::validate(r);
  CHECK(e.code() == kom::errc::too_many_items);
  CHECK(e.path() == "shipping_info");

  kom::shipping_info_update u;
  u.shipping_info = {ships.data(), 500};
  CHECK(kom::validate(u).ok());
  u.shipping_info = {ships.data(), 1};
  CHECK(kom::validate(u).ok());
  u.shipping_info = {ships.data(), 501};
  CHECK(kom::validate(u).code() == kom::errc::too_many_items);
  u.shipping_info = {};
  e = kom::validate(u);
  CHECK(e.code() == kom::errc::too_few_items);
  CHECK(e.path() == "shipping_info");
  CHECK(message(e) == "shipping_info: fewer than 1 items");
}

TEST_CASE("the path names the offending item of a list") {
  std::vector<kom::shipping_info> ships(3);
  ships[2].shipping_method = kom::shipping_method::unknown;
  kom::shipping_info_update u;
  u.shipping_info = {ships.data(), ships.size()};
  const kom::error e = kom::validate(u);
  CHECK(e.code() == kom::errc::not_in_set);
  CHECK(message(e) == "shipping_info[2].shipping_method: not one of the allowed values");

  kom_test::seed_capture seed;
  kom::order_line lines[3] = {seed.lines[0], seed.lines[0], seed.lines[0]};
  lines[2].quantity_unit = "kilogrammes";
  seed.request.order_lines = lines;
  seed.request.captured_amount = 18000;
  CHECK(message(kom::validate(seed.request)) == "order_lines[2].quantity_unit: longer than 10 characters");
}

TEST_CASE("enums are closed sets") {
  SUBCASE("order line type") {
    full_capture c;
    c.line.type = kom::order_line_type_from_string("Physical");  // case-sensitive
    CHECK(c.line.type == kom::order_line_type::unknown);
    kom::error e = kom::validate(c.request);
    CHECK(e.code() == kom::errc::not_in_set);
    CHECK(e.path() == "order_lines[0].type");
    c.line.type = static_cast<kom::order_line_type>(200);
    CHECK(kom::validate(c.request).code() == kom::errc::not_in_set);
    c.line.type = kom::order_line_type::unset;  // not sent: fine
    CHECK(kom::validate(c.request).ok());
  }
  SUBCASE("shipping method") {
    full_capture c;
    c.ship.shipping_method = kom::shipping_method_from_string("home");
    CHECK(c.ship.shipping_method == kom::shipping_method::unknown);
    kom::error e = kom::validate(c.request);
    CHECK(e.code() == kom::errc::not_in_set);
    CHECK(e.path() == "shipping_info[0].shipping_method");
    c.ship.shipping_method = static_cast<kom::shipping_method>(77);
    CHECK(kom::validate(c.request).code() == kom::errc::not_in_set);
  }
  SUBCASE("subscription interval") {
    full_capture c;
    c.sub.interval = kom::subscription_interval_from_string("month");
    kom::error e = kom::validate(c.request);
    CHECK(e.code() == kom::errc::not_in_set);
    CHECK(e.path() == "order_lines[0].subscription.interval");
    c.sub.interval = kom::subscription_interval::unset;
    e = kom::validate(c.request);
    CHECK(e.code() == kom::errc::required);
    CHECK(e.path() == "order_lines[0].subscription.interval");
  }
}

TEST_CASE("enum text round trips and unknown text") {
  for (int i = 1; i <= 9; ++i) {
    const auto t = static_cast<kom::order_line_type>(i);
    CHECK(kom::order_line_type_from_string(kom::to_string(t)) == t);
  }
  for (int i = 1; i <= 13; ++i) {
    const auto m = static_cast<kom::shipping_method>(i);
    CHECK(kom::shipping_method_from_string(kom::to_string(m)) == m);
  }
  for (int i = 1; i <= 4; ++i) {
    const auto v = static_cast<kom::subscription_interval>(i);
    CHECK(kom::subscription_interval_from_string(kom::to_string(v)) == v);
  }
  CHECK(kom::shipping_method_from_string("") == kom::shipping_method::unknown);
  CHECK(kom::to_string(kom::shipping_method::unknown).empty());
  CHECK(kom::to_string(kom::shipping_method::unset).empty());
}

TEST_CASE("line total = quantity * unit_price - total_discount_amount") {
  full_capture c;
  c.line.total_amount = 5999;
  c.request.captured_amount = 5999;
  kom::error e = kom::validate(c.request);
  CHECK(e.code() == kom::errc::line_total_mismatch);
  CHECK(e.path() == "order_lines[0].total_amount");
  CHECK(e.detail() == 6000);
  CHECK(message(e) ==
        "order_lines[0].total_amount: does not equal quantity * unit_price - total_discount_amount (6000)");

  c.line.total_discount_amount = 1;  // 10 * 600 - 1
  CHECK(kom::validate(c.request).ok());

  kom::validation_options off;
  off.check_line_totals = false;
  c.line.total_discount_amount.reset();
  CHECK(kom::validate(c.request, off).ok());
}

TEST_CASE("captured_amount = sum of the lines' total_amount when lines are given") {
  full_capture c;
  c.request.captured_amount = 6001;
  kom::error e = kom::validate(c.request);
  CHECK(e.code() == kom::errc::captured_amount_mismatch);
  CHECK(e.path() == "captured_amount");
  CHECK(e.detail() == 6000);
  CHECK(message(e) == "captured_amount: does not equal the sum of the order lines' total_amount (6000)");
  kom::validation_options off;
  off.check_captured_amount = false;
  CHECK(kom::validate(c.request, off).ok());
}

TEST_CASE("arithmetic that leaves 64-bit range is refused, not wrapped") {
  full_capture c;
  c.line.quantity = INT64_MAX / 2;
  c.line.unit_price = 3;  // product overflows
  kom::error e = kom::validate(c.request);
  CHECK(e.code() == kom::errc::arithmetic_overflow);
  CHECK(e.path() == "order_lines[0].total_amount");

  full_capture d;
  d.line.quantity = 1;
  d.line.unit_price = INT64_MIN + 1;
  d.line.total_discount_amount = 2;  // INT64_MIN + 1 - 2 overflows
  d.line.total_amount = 0;
  CHECK(kom::validate(d.request).code() == kom::errc::arithmetic_overflow);

  // The sum of lines overflows although each line is fine.
  std::vector<kom::order_line> lines(3);
  for (auto& l : lines) {
    l.name = "x";
    l.quantity = 1;
    l.unit_price = -INT64_MAX + 1;
    l.total_amount = -INT64_MAX + 1;
  }
  kom::capture_request r;
  r.captured_amount = 1;
  r.order_lines = {lines.data(), lines.size()};
  e = kom::validate(r);
  CHECK(e.code() == kom::errc::arithmetic_overflow);
  CHECK(e.path() == "captured_amount");
}

// ---- refunds, merchant references, authorization updates --------------------------------------

TEST_CASE("a refund: refunded_amount 1..200000000 (0 refused), texts and lines within Klarna's limits") {
  const kom_test::seed_refund seed;
  CHECK(kom::validate(seed.request).ok());
  kom::refund_request r;
  for (std::int64_t ok : {std::int64_t{1}, std::int64_t{200000000}}) {
    r.refunded_amount = ok;
    CHECK(kom::validate(r).ok());
  }
  r.refunded_amount = 0;
  CHECK(message(kom::validate(r)) == "refunded_amount: less than 1");
  r.refunded_amount = 200000001;
  CHECK(message(kom::validate(r)) == "refunded_amount: greater than 200000000");
  r.refunded_amount = 5;
  const std::string long_text(256, 'x');
  r.description = long_text;
  CHECK(message(kom::validate(r)) == "description: longer than 255 characters");
  r.description = {};
  r.reference = long_text;
  CHECK(message(kom::validate(r)) == "reference: longer than 255 characters");
  r.reference = std::string_view(long_text).substr(0, 255);
  CHECK(kom::validate(r).ok());
  // Its lines follow the order-line rules, with the path into the refund.
  kom::order_line lines[2] = {seed.lines[0], seed.lines[0]};
  lines[1].quantity_unit = "kilograms!!";
  r.order_lines = lines;
  r.refunded_amount = 2400;
  CHECK(message(kom::validate(r)) == "order_lines[1].quantity_unit: longer than 10 characters");
  std::vector<kom::order_line> many(1001, seed.lines[0]);
  r.order_lines = {many.data(), many.size()};
  CHECK(kom::validate(r, no_arithmetic()).code() == kom::errc::too_many_items);
}

TEST_CASE("a refund's amount is the sum of its lines when lines are given") {
  const kom_test::seed_refund seed;
  kom::refund_request r = seed.request;
  r.refunded_amount = 1199;
  const kom::error e = kom::validate(r);
  CHECK(e.code() == kom::errc::captured_amount_mismatch);
  CHECK(e.path() == "refunded_amount");
  CHECK(e.detail() == 1200);
  CHECK(kom::validate(r, no_arithmetic()).ok());
}

TEST_CASE("merchant references: each at most 255 characters, at least one given") {
  kom::merchant_references m;
  const kom::error none = kom::validate(m);
  CHECK(none.code() == kom::errc::required);
  CHECK(none.path() == "merchant_reference1");
  m.merchant_reference2 = "T-17";
  CHECK(kom::validate(m).ok());
  const std::string long_text(256, 'r');
  m.merchant_reference1 = long_text;
  CHECK(message(kom::validate(m)) == "merchant_reference1: longer than 255 characters");
  m.merchant_reference1 = "R-1";
  m.merchant_reference2 = "\xC3";
  CHECK(kom::validate(m).code() == kom::errc::invalid_utf8);
}

TEST_CASE("an authorization update: order_amount 0..200000000, the sum of its lines when given") {
  const kom_test::seed_authorization_update seed;
  CHECK(kom::validate(seed.request).ok());
  kom::authorization_update u;
  u.order_amount = 0;  // the spec allows 0: everything out of stock
  CHECK(kom::validate(u).ok());
  u.order_amount = -1;
  CHECK(message(kom::validate(u)) == "order_amount: less than 0");
  u.order_amount = 200000001;
  CHECK(message(kom::validate(u)) == "order_amount: greater than 200000000");
  kom::authorization_update v = seed.request;
  v.order_amount = 4001;
  const kom::error e = kom::validate(v);
  CHECK(e.code() == kom::errc::captured_amount_mismatch);
  CHECK(e.path() == "order_amount");
  kom::order_line lines[1] = {seed.lines[0]};
  lines[0].name = {};
  v.order_lines = lines;
  CHECK(message(kom::validate(v)) == "order_lines[0].name: is required");
}
