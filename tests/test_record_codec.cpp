// The outbox's record codec: every field of a request survives the round trip, the bytes of
// format 2 are pinned, enums are stored as Klarna's spelling, and records written before or
// after a field was added are read as the format promises.
#include <doctest/doctest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "kom/record_codec.hpp"
#include "kom/validate.hpp"
#include "support/seeds.hpp"

namespace {

std::string hex(const unsigned char* p, std::size_t n) {
  std::string out;
  char b[3];
  for (std::size_t i = 0; i < n; ++i) {
    std::snprintf(b, sizeof b, "%02x", p[i]);
    out += b;
  }
  return out;
}

struct decoded {
  kom::order_line lines[4];
  kom::product_identifiers identifiers[4];
  kom::subscription subscriptions[4];
  kom::shipping_info shipping[4];
  kom::detail::record_space space() {
    return {{lines, 4}, {identifiers, 4}, {subscriptions, 4}, {shipping, 4}};
  }
};

// A capture with every field of every type set, none at its default.
struct full_capture {
  kom::product_identifiers ids{"Acme", "Food > Veg", "0012345678905", "MPN-7", "red", "L"};
  kom::subscription sub{"Weekly box", kom::subscription_interval::week, 2};
  kom::order_line line;
  kom::shipping_info ship{"DHL", kom::shipping_method::pick_up_point, "T-1", "https://t/1", "UPS", "R-1", "https://r/1"};
  kom::capture_request request;
  full_capture() {
    line.type = kom::order_line_type::physical;
    line.reference = "SKU-1";
    line.name = "Tomatoes";
    line.quantity = 3;
    line.quantity_unit = "kg";
    line.unit_price = 600;
    line.tax_rate = 2500;
    line.total_amount = 1700;
    line.total_discount_amount = 100;
    line.total_tax_amount = 340;
    line.merchant_data = "{\"x\":1}";
    line.product_url = "https://p/1";
    line.image_url = "https://i/1";
    line.product_identifiers = &ids;
    line.subscription = &sub;
    request.captured_amount = 1700;
    request.reference = "sale-1";
    request.description = "Groceries";
    request.order_lines = {&line, 1};
    request.shipping_info = {&ship, 1};
    request.shipping_delay = 2;
  }
};

std::vector<unsigned char> encode(const kom::capture_request& r) {
  std::vector<unsigned char> out(1024);
  kom::detail::record_writer w(out.data(), out.size());
  kom::detail::encode_object(w, r);
  REQUIRE(!w.overflow());
  out.resize(w.size());
  return out;
}

// Every field compared through the description, so a field added there is compared too.
template <class T>
void same(const T& a, const T& b);

template <class T, class D>
void same_field(const T& a, const T& b, const D& d) {
  CAPTURE(d.name);
  if constexpr (D::kind == kom::field_kind::object) {
    REQUIRE((a.*d.member == nullptr) == (b.*d.member == nullptr));
    if (a.*d.member) same(*(a.*d.member), *(b.*d.member));
  } else if constexpr (D::kind == kom::field_kind::embedded) {
    same(a.*d.member, b.*d.member);
  } else if constexpr (D::kind == kom::field_kind::list) {
    REQUIRE((a.*d.member).size() == (b.*d.member).size());
    for (std::size_t i = 0; i < (a.*d.member).size(); ++i) same((a.*d.member)[i], (b.*d.member)[i]);
  } else {
    CHECK(a.*d.member == b.*d.member);
  }
}

template <class T>
void same(const T& a, const T& b) {
  kom::fields_of<T>::visit([&](const auto& d) { same_field(a, b, d); });
}

}  // namespace

TEST_CASE("record codec: every field of a capture survives the round trip") {
  const full_capture full;
  REQUIRE(kom::validate(full.request).ok());
  const std::vector<unsigned char> bytes = encode(full.request);
  decoded out;
  kom::detail::record_space space = out.space();
  kom::detail::record_reader r(bytes.data(), bytes.size());
  kom::capture_request back;
  kom::detail::decode_object(r, back, space);
  REQUIRE(!r.bad());
  same(full.request, back);

  const kom_test::seed_shipping_update seed;
  std::vector<unsigned char> update(512);
  kom::detail::record_writer w(update.data(), update.size());
  kom::detail::encode_object(w, seed.request);
  kom::detail::record_reader ur(update.data(), w.size());
  kom::shipping_info_update back_update;
  kom::detail::record_space space2 = out.space();
  kom::detail::decode_object(ur, back_update, space2);
  REQUIRE(!ur.bad());
  same(seed.request, back_update);
}

// The order of kom/fields.hpp's descriptions is the order on flash: a change to it, or to
// how a kind is written, breaks every outbox in the field. This pins the bytes of format 2.
TEST_CASE("record codec: format 2's bytes are pinned") {
  const full_capture full;
  const std::vector<unsigned char> bytes = encode(full.request);
  CHECK(hex(bytes.data(), bytes.size()) ==
        "06"                                   // capture_request: 6 fields
        "c81a"                                 // captured_amount 1700 (zigzag 3400)
        "0673616c652d31"                       // reference "sale-1"
        "0947726f636572696573"                 // description "Groceries"
        "01"                                   // 1 order line
        "0f"                                   //   order_line: 15 fields
        "08706879736963616c"                   //   type "physical"
        "05534b552d31"                         //   reference
        "08546f6d61746f6573"                   //   name
        "06"                                   //   quantity 3
        "026b67"                               //   quantity_unit
        "b009"                                 //   unit_price 600
        "018827"                               //   tax_rate present, 2500
        "c81a"                                 //   total_amount 1700
        "01c801"                               //   total_discount_amount present, 100
        "01a805"                               //   total_tax_amount present, 340
        "077b2278223a317d"                     //   merchant_data
        "0b68747470733a2f2f702f31"             //   product_url
        "0b68747470733a2f2f692f31"             //   image_url
        "01" "06" "0441636d65" "0a466f6f64203e20566567" "0d30303132333435363738393035"
        "054d504e2d37" "03726564" "014c"       //   product_identifiers
        "01" "03" "0a5765656b6c7920626f78" "045745454b" "04"  //   subscription: name, "WEEK", 2
        "01"                                   // 1 shipping entry
        "07" "0344484c" "0b5069636b5570506f696e74" "03542d31" "0b68747470733a2f2f742f31"
        "03555053" "03522d31" "0b68747470733a2f2f722f31"
        "0104");                               // shipping_delay present, 2
}

TEST_CASE("record codec: enums are stored as Klarna's spelling, never as an ordinal") {
  kom::shipping_info s;
  s.shipping_method = kom::shipping_method::pallet_delivery;
  kom::shipping_info_update u;
  u.shipping_info = {&s, 1};
  unsigned char buf[128];
  kom::detail::record_writer w(buf, sizeof buf);
  kom::detail::encode_object(w, u);
  const std::string bytes(reinterpret_cast<const char*>(buf), w.size());
  CHECK(bytes.find("PalletDelivery") != std::string::npos);

  // A record spelling a value this build does not know (written by a newer firmware that
  // added it) reads as unknown, and the fields around it are intact.
  const std::string drone = bytes.substr(0, bytes.find("PalletDelivery") - 1) + '\x05' + "Drone" +
                            bytes.substr(bytes.find("PalletDelivery") + 14);
  decoded out;
  kom::detail::record_space space = out.space();
  kom::detail::record_reader r(reinterpret_cast<const unsigned char*>(drone.data()), drone.size());
  kom::shipping_info_update back;
  kom::detail::decode_object(r, back, space);
  REQUIRE(!r.bad());
  REQUIRE(back.shipping_info.size() == 1);
  CHECK(back.shipping_info[0].shipping_method == kom::shipping_method::unknown);
  CHECK(back.shipping_info[0].tracking_number.empty());

  // Every enumerator of every request enum round-trips by its spelling.
  for (std::size_t i = 1; i < kom::enum_spellings<kom::shipping_method>::names.size(); ++i) {
    const auto m = static_cast<kom::shipping_method>(i);
    CHECK(kom::enum_from_spelling<kom::shipping_method>(kom::spelling_of(m)) == m);
  }
}

// Format 1 stored ordinals. Its readers map them through spellings frozen at 0.1.0, so an
// enum value added later (which moves `unknown`, and would move any value inserted before it)
// does not change what an old record reads as.
TEST_CASE("record codec: format 1's enum ordinals are read through frozen spellings") {
  const std::string_view types_0_1_0[] = {"", "physical", "discount", "shipping_fee", "sales_tax", "store_credit",
                                         "gift_card", "digital", "surcharge", "return_fee"};
  REQUIRE(std::size(kom::detail::v1::order_line_types) == std::size(types_0_1_0));
  for (std::size_t i = 0; i < std::size(types_0_1_0); ++i) CHECK(kom::detail::v1::order_line_types[i] == types_0_1_0[i]);
  CHECK(kom::detail::v1::enum_of<kom::order_line_type>(7, kom::detail::v1::order_line_types) ==
        kom::order_line_type::digital);
  CHECK(kom::detail::v1::enum_of<kom::shipping_method>(8, kom::detail::v1::shipping_methods) ==
        kom::shipping_method::dhl_packstation);
  CHECK(kom::detail::v1::enum_of<kom::subscription_interval>(3, kom::detail::v1::subscription_intervals) ==
        kom::subscription_interval::month);
  CHECK(kom::detail::v1::enum_of<kom::order_line_type>(0, kom::detail::v1::order_line_types) ==
        kom::order_line_type::unset);
  CHECK(kom::detail::v1::enum_of<kom::order_line_type>(200, kom::detail::v1::order_line_types) ==
        kom::order_line_type::unknown);
}

TEST_CASE("record codec: a record from before a field was added reads; one from after is refused") {
  // A shipping entry written when it had only its first two fields.
  const unsigned char older[] = {0x01, 0x01, 0x02, 0x03, 'D', 'H', 'L', 0x04, 'H', 'o', 'm', 'e'};
  decoded out;
  kom::detail::record_space space = out.space();
  kom::detail::record_reader r(older, sizeof older);
  kom::shipping_info_update u;
  kom::detail::decode_object(r, u, space);
  // The update itself has a field count too: this record starts with "1 field", a list of 1.
  REQUIRE(!r.bad());
  REQUIRE(u.shipping_info.size() == 1);
  CHECK(u.shipping_info[0].shipping_company == "DHL");
  CHECK(u.shipping_info[0].shipping_method == kom::shipping_method::home);
  CHECK(u.shipping_info[0].tracking_number.empty());

  // Eight fields: written by a kom that knows one more than this one.
  const unsigned char newer[] = {0x01, 0x01, 0x08, 0, 0, 0, 0, 0, 0, 0, 0};
  kom::detail::record_space space2 = out.space();
  kom::detail::record_reader r2(newer, sizeof newer);
  kom::shipping_info_update u2;
  kom::detail::decode_object(r2, u2, space2);
  CHECK(r2.bad());
}

TEST_CASE("record codec: lists beyond the space, and cut records, are refused") {
  const full_capture full;
  const std::vector<unsigned char> bytes = encode(full.request);
  kom::order_line lines[1];
  kom::shipping_info shipping[1];
  kom::detail::record_space none{{lines, 1}, {}, {}, {shipping, 1}};  // no room for identifiers
  kom::detail::record_reader r(bytes.data(), bytes.size());
  kom::capture_request back;
  kom::detail::decode_object(r, back, none);
  CHECK(r.bad());
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    CAPTURE(n);
    decoded out;
    kom::detail::record_space space = out.space();
    kom::detail::record_reader cut(bytes.data(), n);
    kom::capture_request part;
    kom::detail::decode_object(cut, part, space);
    CHECK(cut.bad());
  }
}
