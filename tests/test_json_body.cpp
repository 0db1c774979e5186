#include "kom/json_body.hpp"

#include <doctest/doctest.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "support/alloc_counter.hpp"
#include "support/fixtures.hpp"
#include "support/json_canon.hpp"

namespace {

template <class Request>
std::string body_of(const Request& r) {
  char buf[4096];
  auto n = kom::write_body(r, buf);
  REQUIRE(n.ok());
  return std::string(buf, *n);
}

// Writes `request` into buffers of every size from 0 to its full length: the bytes that fit
// are a prefix of the body, nothing lands past the end, the needed size is reported.
template <class Request>
void check_every_buffer_size(const Request& request, const std::string& full) {
  for (std::size_t cap = 0; cap <= full.size(); ++cap) {
    std::vector<char> buf(cap + 16, '#');
    kom::buffer_writer out(buf.data(), cap);
    auto n = kom::write_body(request, out);
    CAPTURE(cap);
    if (cap < full.size()) {
      REQUIRE(!n.ok());
      CHECK(n.error().code() == kom::errc::buffer_too_small);
      CHECK(n.error().detail() == static_cast<std::int64_t>(full.size()));
      CHECK(out.overflow());
    } else {
      REQUIRE(n.ok());
      CHECK(*n == full.size());
      CHECK(!out.overflow());
    }
    CHECK(std::string(buf.data(), out.written()) == full.substr(0, cap));
    for (std::size_t i = cap; i < buf.size(); ++i) REQUIRE(buf[i] == '#');
  }
}

}  // namespace

TEST_CASE("the seed's capture body is byte for byte the documented sample") {
  const kom_test::seed_capture seed;
  const std::string fixture = kom_test::read_fixture("capture_request.json");
  REQUIRE(!fixture.empty());
  const std::string body = body_of(seed.request);
  CHECK(body == kom_test::minify_json(fixture));
  CHECK(kom_test::canonical_json(body) == kom_test::canonical_json(fixture));
}

// Klarna's page prints this sample with its keys sorted; kom writes a shipping entry's keys in
// one order everywhere (its description's, kom/fields.hpp), so the bytes differ in order only.
TEST_CASE("the seed's shipping-info body is the documented sample, in the description's key order") {
  const kom_test::seed_shipping_update seed;
  const std::string fixture = kom_test::read_fixture("shipping_info_request.json");
  REQUIRE(!fixture.empty());
  const std::string body = body_of(seed.request);
  CHECK(kom_test::canonical_json(body) == kom_test::canonical_json(fixture));
  CHECK(body ==
        R"({"shipping_info":[{"shipping_company":"DHL US","shipping_method":"Home",)"
        R"("tracking_number":"63456415674545679874","tracking_uri":"http://shipping.example/findmypackage?63456415674545679874",)"
        R"("return_shipping_company":"DHL US","return_tracking_number":"93456415674545679888",)"
        R"("return_tracking_uri":"http://shipping.example/findmypackage?93456415674545679888"}]})");
}

TEST_CASE("every buffer size from 0 to the full length, for each fixture") {
  const kom_test::seed_capture capture;
  check_every_buffer_size(capture.request, body_of(capture.request));
  const kom_test::seed_shipping_update update;
  check_every_buffer_size(update.request, body_of(update.request));
}

TEST_CASE("an empty vector's data() is a buffer too small, with the size needed, not a measurement") {
  const kom_test::seed_capture capture;
  const std::size_t full = body_of(capture.request).size();
  std::vector<char> empty;  // data() is null
  kom::buffer_writer out(empty.data(), empty.size());
  auto n = kom::write_body(capture.request, out);
  REQUIRE(!n.ok());
  CHECK(n.error().code() == kom::errc::buffer_too_small);
  CHECK(n.error().detail() == static_cast<std::int64_t>(full));
  kom::buffer_writer null_with_size(nullptr, 4096);  // a size without memory is no buffer either
  n = kom::write_body(capture.request, null_with_size);
  REQUIRE(!n.ok());
  CHECK(n.error().code() == kom::errc::buffer_too_small);
}

TEST_CASE("measure_body gives the exact size") {
  const kom_test::seed_capture capture;
  auto n = kom::measure_body(capture.request);
  REQUIRE(n.ok());
  CHECK(*n == body_of(capture.request).size());
}

TEST_CASE("validating and serializing every fixture allocates nothing") {
  const kom_test::seed_capture capture;
  const kom_test::seed_shipping_update update;
  char buf[1024];
  std::size_t allocations = 0;
  bool ok = true;
  {
    kom_test::alloc_scope scope;
    ok = ok && kom::validate(capture.request).ok();
    ok = ok && kom::validate(update.request).ok();
    ok = ok && kom::write_body(capture.request, buf).ok();
    ok = ok && kom::write_body(update.request, buf).ok();
    ok = ok && kom::measure_body(capture.request).ok();
    char small[10];
    ok = ok && !kom::write_body(capture.request, small).ok();  // overflow path too
    kom::capture_request bad = capture.request;
    bad.captured_amount = 0;
    ok = ok && !kom::write_body(bad, buf).ok();  // validation failure path too
    allocations = scope.count();
  }
  CHECK(ok);
  CHECK(allocations == 0);
}

TEST_CASE("the allocation counter does count") {
  std::size_t allocations = 0;
  {
    kom_test::alloc_scope scope;
    int* volatile p = new int(3);  // volatile: the pair cannot be optimised away
    delete p;
    void* volatile m = std::malloc(4);
    std::free(m);
    allocations = scope.count();
  }
  CHECK(allocations == 2);
}

TEST_CASE("a request that fails validation writes nothing") {
  kom_test::seed_capture seed;
  seed.lines[0].quantity_unit = "kilograms!!";  // 11 characters
  char buf[512];
  std::memset(buf, '#', sizeof buf);
  auto n = kom::write_body(seed.request, buf);
  REQUIRE(!n.ok());
  CHECK(n.error().code() == kom::errc::too_long);
  CHECK(n.error().path() == "order_lines[0].quantity_unit");
  for (char c : buf) REQUIRE(c == '#');
}

TEST_CASE("unset optional fields are left out; set ones appear in documented order") {
  kom::order_line line;
  line.name = "Gift";
  line.quantity = 1;
  line.unit_price = 100;
  line.total_amount = 100;
  kom::capture_request r;
  r.captured_amount = 100;
  r.order_lines = {&line, 1};
  CHECK(body_of(r) == R"({"captured_amount":100,"order_lines":[{"name":"Gift","quantity":1,"unit_price":100,"total_amount":100}]})");

  kom::capture_request bare;
  bare.captured_amount = 5;
  CHECK(body_of(bare) == R"({"captured_amount":5})");
}

TEST_CASE("every order line field, identifiers, subscription and shipping_delay") {
  kom::product_identifiers ids;
  ids.brand = "Acme";
  ids.category_path = "Food > Vegetables";
  ids.global_trade_item_number = "4006381333931";
  ids.manufacturer_part_number = "TOM-1";
  ids.color = "red";
  ids.size = "L";
  kom::subscription sub;
  sub.name = "Veg box";
  sub.interval = kom::subscription_interval::month;
  sub.interval_count = 1;
  kom::order_line line;
  line.type = kom::order_line_type::digital;
  line.reference = "SKU-1";
  line.name = "Box";
  line.quantity = 2;
  line.quantity_unit = "pcs";
  line.unit_price = 500;
  line.tax_rate = 0;
  line.total_amount = 900;
  line.total_discount_amount = 100;
  line.total_tax_amount = 0;
  line.merchant_data = "{\"k\":1}";
  line.product_url = "https://shop.example/p/1";
  line.image_url = "https://shop.example/i/1.png";
  line.product_identifiers = &ids;
  line.subscription = &sub;
  kom::shipping_info ship;
  ship.shipping_company = "PostNord";
  ship.shipping_method = kom::shipping_method::pick_up_point;
  ship.tracking_number = "PN1";
  ship.tracking_uri = "https://t.example/PN1";
  ship.return_shipping_company = "PostNord";
  ship.return_tracking_number = "PN2";
  ship.return_tracking_uri = "https://t.example/PN2";
  kom::capture_request r;
  r.captured_amount = 900;
  r.description = "Two boxes";
  r.reference = "R-1";
  r.order_lines = {&line, 1};
  r.shipping_info = {&ship, 1};
  r.shipping_delay = 3;
  CHECK(body_of(r) ==
        R"({"captured_amount":900,"reference":"R-1","description":"Two boxes","order_lines":[{"type":"digital",)"
        R"("reference":"SKU-1","name":"Box","quantity":2,"quantity_unit":"pcs","unit_price":500,"tax_rate":0,)"
        R"("total_amount":900,"total_discount_amount":100,"total_tax_amount":0,"merchant_data":"{\"k\":1}",)"
        R"("product_url":"https://shop.example/p/1","image_url":"https://shop.example/i/1.png",)"
        R"("product_identifiers":{"brand":"Acme","category_path":"Food > Vegetables",)"
        R"("global_trade_item_number":"4006381333931","manufacturer_part_number":"TOM-1","color":"red","size":"L"},)"
        R"("subscription":{"name":"Veg box","interval":"MONTH","interval_count":1}}],)"
        R"("shipping_info":[{"shipping_company":"PostNord","shipping_method":"PickUpPoint","tracking_number":"PN1",)"
        R"("tracking_uri":"https://t.example/PN1","return_shipping_company":"PostNord","return_tracking_number":"PN2",)"
        R"("return_tracking_uri":"https://t.example/PN2"}],"shipping_delay":3})");
}

TEST_CASE("every enum value is written with Klarna's spelling") {
  const char* methods[] = {"PickUpStore", "Home", "BoxReg", "BoxUnreg", "PickUpPoint", "Own", "Postal",
                           "DHLPackstation", "Digital", "Undefined", "PickUpWarehouse", "ClickCollect",
                           "PalletDelivery"};
  for (const char* m : methods) {
    kom::shipping_info s;
    s.shipping_method = kom::shipping_method_from_string(m);
    kom::shipping_info_update u;
    u.shipping_info = {&s, 1};
    CHECK(body_of(u) == std::string(R"({"shipping_info":[{"shipping_method":")") + m + "\"}]}");
  }
  const char* types[] = {"physical", "discount", "shipping_fee", "sales_tax", "store_credit",
                         "gift_card", "digital", "surcharge", "return_fee"};
  for (const char* t : types) {
    kom::order_line l;
    l.type = kom::order_line_type_from_string(t);
    l.name = "n";
    kom::capture_request r;
    r.captured_amount = 1;
    r.order_lines = {&l, 1};
    kom::validation_options lenient;
    lenient.check_captured_amount = false;
    char buf[256];
    auto n = kom::write_body(r, buf, lenient);
    REQUIRE(n.ok());
    CHECK(std::string(buf, *n).find(std::string("\"type\":\"") + t + "\"") != std::string::npos);
  }
}

TEST_CASE("refund, merchant references and authorization bodies: keys in Klarna's order, unset ones left out") {
  const kom_test::seed_refund refund;
  CHECK(body_of(refund.request) ==
        R"({"refunded_amount":1200,"description":"Returned at the till","reference":"RET-0001",)"
        R"("order_lines":[{"type":"physical","reference":"123050","name":"Tomatoes","quantity":2,"quantity_unit":"kg",)"
        R"("unit_price":600,"tax_rate":2500,"total_amount":1200,"total_tax_amount":240}]})");
  kom::refund_request bare;
  bare.refunded_amount = 5;
  CHECK(body_of(bare) == R"({"refunded_amount":5})");
  CHECK(body_of(kom::merchant_references{"R-1", ""}) == R"({"merchant_reference1":"R-1"})");
  CHECK(body_of(kom::merchant_references{"", "T-17"}) == R"({"merchant_reference2":"T-17"})");
  const kom_test::seed_authorization_update update;
  CHECK(body_of(update.request) ==
        R"({"order_amount":4000,"description":"One item out of stock","order_lines":[{"reference":"123050",)"
        R"("name":"Tomatoes","quantity":5,"unit_price":800,"total_amount":4000}]})");
  check_every_buffer_size(refund.request, body_of(refund.request));
  check_every_buffer_size(update.request, body_of(update.request));
  // Refused bodies write nothing.
  char buf[64] = {};
  CHECK(kom::write_body(kom::merchant_references{}, buf).error().code() == kom::errc::required);
  CHECK(buf[0] == 0);
}
