#include "kom/json_readers.hpp"
#include "kom/http_response.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <set>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "kom/detail/utf8.hpp"
#include "kom/validate.hpp"
#include "support/alloc_counter.hpp"
#include "support/fixtures.hpp"
#include "support/guard_page.hpp"
#include "support/json_canon.hpp"

namespace {

using kom::errc;

// ---- the fixtures ------------------------------------------------------------------------
const char* const capture_fixtures[] = {"capture.json", "spec2020_capture.json", "spec2024_capture.json"};
const char* const captures_fixtures[] = {"captures.json", "spec2020_captures.json", "spec2024_captures.json"};
const char* const order_fixtures[] = {"order_part_captured.json", "order_authorized.json", "spec2020_order.json",
                                      "spec2024_order.json"};
const char* const refund_fixtures[] = {"spec2020_refund.json", "spec2024_refund.json"};
const char* const error_fixtures[] = {
    "error_no_such_order.json",
    "spec2020_error_capture_not_allowed.json", "spec2020_error_cancel_not_allowed.json",
    "spec2020_error_not_allowed.json", "spec2020_error_refund_not_allowed.json",
    "spec2020_error_no_such_order.json", "spec2020_error_no_such_capture.json",
    "spec2020_error_not_found.json", "spec2020_error_error_message_dto.json",
    "spec2024_error_capture_not_allowed.json", "spec2024_error_cancel_not_allowed.json",
    "spec2024_error_not_allowed.json", "spec2024_error_refund_not_allowed.json",
    "spec2024_error_no_such_order.json", "spec2024_error_no_such_capture.json",
    "spec2024_error_not_found.json", "spec2024_error_error_message_dto.json"};

std::string fixture(const std::string& name) {
  std::string text = kom_test::read_fixture("responses/" + name);
  REQUIRE_MESSAGE(!text.empty(), name);
  return text;
}

std::vector<std::string> all_fixture_names() {
  std::vector<std::string> names;
  for (const auto* list : {&capture_fixtures, &captures_fixtures}) {
    for (const char* n : *list) names.emplace_back(n);
  }
  for (const char* n : order_fixtures) names.emplace_back(n);
  for (const char* n : refund_fixtures) names.emplace_back(n);
  for (const char* n : error_fixtures) names.emplace_back(n);
  return names;
}

// ---- results as text, to compare whole results ---------------------------------------------
void put(std::ostringstream& o, const char* name, std::string_view v) { o << name << "=[" << v << "]\n"; }
void put(std::ostringstream& o, const char* name, std::int64_t v) { o << name << "=" << v << "\n"; }
void put(std::ostringstream& o, const char* name, const std::optional<std::int64_t>& v) {
  if (v) put(o, name, *v);
  else o << name << "=none\n";
}
void put(std::ostringstream& o, const char* name, int v) { o << name << "=" << v << "\n"; }

void dump_address(std::ostringstream& o, const kom::address& a) {
  put(o, "given_name", a.given_name);
  put(o, "family_name", a.family_name);
  put(o, "title", a.title);
  put(o, "street_address", a.street_address);
  put(o, "street_address2", a.street_address2);
  put(o, "postal_code", a.postal_code);
  put(o, "city", a.city);
  put(o, "region", a.region);
  put(o, "country", a.country);
  put(o, "email", a.email);
  put(o, "phone", a.phone);
  put(o, "organization_name", a.organization_name);
  put(o, "attention", a.attention);
}

void dump_lines(std::ostringstream& o, kom::list_view<kom::order_line> lines) {
  for (const kom::order_line& l : lines) {
    o << "- line\n";
    put(o, "type", static_cast<int>(l.type));
    put(o, "reference", l.reference);
    put(o, "name", l.name);
    put(o, "quantity", l.quantity);
    put(o, "quantity_unit", l.quantity_unit);
    put(o, "unit_price", l.unit_price);
    put(o, "tax_rate", l.tax_rate);
    put(o, "total_amount", l.total_amount);
    put(o, "total_discount_amount", l.total_discount_amount);
    put(o, "total_tax_amount", l.total_tax_amount);
    put(o, "merchant_data", l.merchant_data);
    put(o, "product_url", l.product_url);
    put(o, "image_url", l.image_url);
    if (const kom::product_identifiers* p = l.product_identifiers) {
      put(o, "brand", p->brand);
      put(o, "category_path", p->category_path);
      put(o, "global_trade_item_number", p->global_trade_item_number);
      put(o, "manufacturer_part_number", p->manufacturer_part_number);
      put(o, "color", p->color);
      put(o, "size", p->size);
    }
    if (const kom::subscription* s = l.subscription) {
      put(o, "subscription.name", s->name);
      put(o, "interval", static_cast<int>(s->interval));
      put(o, "interval_count", s->interval_count);
    }
  }
}

std::string dump(const kom::refund& r) {
  std::ostringstream o;
  put(o, "refund_id", r.refund_id);
  put(o, "refunded_amount", r.refunded_amount);
  put(o, "refunded_at", r.refunded_at);
  put(o, "description", r.description);
  put(o, "reference", r.reference);
  dump_lines(o, r.order_lines);
  put(o, "truncated", r.truncated ? 1 : 0);
  return o.str();
}

std::string dump(const kom::capture& c) {
  std::ostringstream o;
  put(o, "capture_id", c.capture_id);
  put(o, "klarna_reference", c.klarna_reference);
  put(o, "captured_amount", c.captured_amount);
  put(o, "captured_at", c.captured_at);
  put(o, "description", c.description);
  put(o, "reference", c.reference);
  put(o, "refunded_amount", c.refunded_amount);
  dump_lines(o, c.order_lines);
  for (const kom::shipping_info& s : c.shipping_info) {
    o << "- shipping\n";
    put(o, "shipping_company", s.shipping_company);
    put(o, "shipping_method", static_cast<int>(s.shipping_method));
    put(o, "tracking_number", s.tracking_number);
    put(o, "tracking_uri", s.tracking_uri);
    put(o, "return_shipping_company", s.return_shipping_company);
    put(o, "return_tracking_number", s.return_tracking_number);
    put(o, "return_tracking_uri", s.return_tracking_uri);
  }
  o << "- billing\n";
  dump_address(o, c.billing_address);
  o << "- shipping address\n";
  dump_address(o, c.shipping_address);
  put(o, "truncated", c.truncated ? 1 : 0);
  return o.str();
}

std::string dump(const kom::capture_list& list) {
  std::string out = "truncated=" + std::to_string(list.truncated) + "\n";
  for (const kom::capture& c : list.captures) out += "== capture\n" + dump(c);
  return out;
}

std::string dump(const kom::order& r) {
  std::ostringstream o;
  put(o, "order_id", r.order_id);
  put(o, "status", static_cast<int>(r.status));
  put(o, "status_text", r.status_text);
  put(o, "fraud_status", static_cast<int>(r.fraud_status));
  put(o, "fraud_status_text", r.fraud_status_text);
  put(o, "order_amount", r.order_amount);
  put(o, "original_order_amount", r.original_order_amount);
  put(o, "captured_amount", r.captured_amount);
  put(o, "refunded_amount", r.refunded_amount);
  put(o, "remaining_authorized_amount", r.remaining_authorized_amount);
  put(o, "purchase_currency", r.purchase_currency);
  put(o, "expires_at", r.expires_at);
  for (const kom::order_capture& c : r.captures) {
    o << "- capture\n";
    put(o, "capture_id", c.capture_id);
    put(o, "klarna_reference", c.klarna_reference);
    put(o, "reference", c.reference);
    put(o, "captured_amount", c.captured_amount);
    put(o, "refunded_amount", c.refunded_amount);
    put(o, "captured_at", c.captured_at);
  }
  put(o, "klarna_reference", r.klarna_reference);
  put(o, "merchant_reference1", r.merchant_reference1);
  put(o, "merchant_reference2", r.merchant_reference2);
  put(o, "created_at", r.created_at);
  put(o, "locale", r.locale);
  put(o, "purchase_country", r.purchase_country);
  dump_lines(o, r.order_lines);
  for (const kom::order_refund& f : r.refunds) {
    o << "- refund\n";
    put(o, "refund_id", f.refund_id);
    put(o, "refunded_amount", f.refunded_amount);
    put(o, "refunded_at", f.refunded_at);
    put(o, "description", f.description);
    put(o, "reference", f.reference);
  }
  put(o, "payment.type", r.initial_payment_method.type);
  put(o, "payment.description", r.initial_payment_method.description);
  put(o, "payment.number_of_installments", r.initial_payment_method.number_of_installments);
  put(o, "truncated", r.truncated ? 1 : 0);
  return o.str();
}

std::string dump(const kom::error_body& b) {
  std::ostringstream o;
  put(o, "error_code", static_cast<int>(b.error_code));
  put(o, "error_code_text", b.error_code_text);
  for (std::string_view m : b.error_messages) put(o, "message", m);
  put(o, "correlation_id", b.correlation_id);
  put(o, "service_version", b.service_version);
  put(o, "truncated", b.truncated ? 1 : 0);
  return o.str();
}

// ---- one call per reader, with storage of its own ----------------------------------------
// Each returns the error and the result as text ("" when the read failed).
struct outcome {
  kom::error error;
  std::string text;
};

outcome run_capture(std::string_view body, const kom::read_options& options = {}) {
  kom::capture_storage<> storage;
  kom::capture c;
  const kom::error e = kom::read_capture(body, c, storage, options);
  return {e, e.ok() ? dump(c) : std::string()};
}

outcome run_captures(std::string_view body, const kom::read_options& options = {}) {
  kom::capture_storage<> storage;
  kom::capture items[4];
  kom::capture_list list;
  const kom::error e = kom::read_captures(body, list, items, storage, options);
  return {e, e.ok() ? dump(list) : std::string()};
}

outcome run_order(std::string_view body, const kom::read_options& options = {}) {
  kom::order_storage<> storage;
  kom::order r;
  const kom::error e = kom::read_order(body, r, storage, options);
  return {e, e.ok() ? dump(r) : std::string()};
}

outcome run_refund(std::string_view body, const kom::read_options& options = {}) {
  kom::refund_storage<> storage;
  kom::refund r;
  const kom::error e = kom::read_refund(body, r, storage, options);
  return {e, e.ok() ? dump(r) : std::string()};
}

outcome run_error(std::string_view body, const kom::read_options& options = {}) {
  kom::error_body_storage<> storage;
  kom::error_body b;
  const kom::error e = kom::read_error_body(body, b, storage, options);
  return {e, e.ok() ? dump(b) : std::string()};
}

// The reader a fixture is for.
outcome run_for(const std::string& name, std::string_view body, const kom::read_options& options = {}) {
  for (const char* n : captures_fixtures) {
    if (name == n) return run_captures(body, options);
  }
  for (const char* n : capture_fixtures) {
    if (name == n) return run_capture(body, options);
  }
  for (const char* n : order_fixtures) {
    if (name == n) return run_order(body, options);
  }
  for (const char* n : refund_fixtures) {
    if (name == n) return run_refund(body, options);
  }
  return run_error(body, options);
}

std::string message_of(const kom::error& e) {
  char text[160];
  return std::string(e.describe(text));
}

// The same document with CRLF line ends and with extra blanks around every token.
std::string with_crlf(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\n') out += "\r\n";
    else out += c;
  }
  return out;
}

std::string spaced(const std::string& compact) {
  std::string out = " \t";
  bool in_string = false, escaped = false;
  for (char c : compact) {
    if (in_string) {
      out += c;
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    if (c == ',' || c == ':' || c == '{' || c == '[') {
      out += c;
      out += "\n  ";
    } else {
      out += c;
    }
  }
  return out + "\r\n\n";
}

// The body of an HTTP/1.1 response fixture, framed off by kom's own response parser: the
// path a real answer takes from the socket to a reader.
std::string http_body(const std::string& message) {
  std::vector<char> buffer(message.size() + 1);
  kom::http_response_parser parser(buffer.data(), buffer.size());
  std::size_t consumed = 0;
  kom::parse_status st = parser.feed(message.data(), message.size(), consumed);
  if (st == kom::parse_status::need_more) st = parser.finish();  // a body read until close
  REQUIRE(st == kom::parse_status::done);
  return std::string(parser.body());
}

bool valid_utf8(std::string_view s) { return kom::detail::scan_utf8(s).valid; }

// A capture storage of exact capacities whose text bytes end right at an unreadable page: a
// write past the caller's text storage faults at once.
struct exact_capture_storage {
  std::vector<kom::order_line> lines;
  std::vector<kom::shipping_info> shipping;
  std::vector<kom::product_identifiers> identifiers;
  std::vector<kom::subscription> subscriptions;
  kom_test::guard_page text_page{16 * 1024};

  exact_capture_storage(std::size_t l, std::size_t s, std::size_t i, std::size_t sub)
      : lines(l), shipping(s), identifiers(i), subscriptions(sub) {}

  kom::capture_storage_ref ref(std::size_t text_bytes) {
    return {lines.data(), lines.size(), shipping.data(), shipping.size(), identifiers.data(), identifiers.size(),
            subscriptions.data(), subscriptions.size(), text_page.span(text_bytes), text_bytes};
  }
};

}  // namespace

// =============================================================================================
// Fixtures: every field of every documented sample.
// =============================================================================================

TEST_CASE("json readers: every response fixture under tests/fixtures/responses is covered") {
  std::set<std::string> listed;
  for (const std::string& n : all_fixture_names()) listed.insert(n);
  std::set<std::string> present;
  for (const auto& entry : std::filesystem::directory_iterator(std::string(KOM_TEST_FIXTURES) + "/responses")) {
    if (entry.path().extension() == ".json") present.insert(entry.path().filename().string());
  }
  CHECK(present == listed);
}

TEST_CASE("json readers: capture.json, Klarna's documented capture, every field") {
  const std::string body = fixture("capture.json");
  kom::capture_storage<> storage;
  kom::capture c;
  const kom::error e = kom::read_capture(body, c, storage);
  REQUIRE(e.ok());
  CHECK(c.capture_id == "5b33ed47-79d0-4d76-99ea-4afaa7c8e552");
  CHECK(c.klarna_reference == "4K7Q6QF6-1");
  CHECK(c.captured_amount == 6000);
  CHECK(c.captured_at == "2017-01-10T10:31:17.973Z");
  CHECK(c.description == "Shipped the full order");
  CHECK(c.reference.empty());
  CHECK(c.refunded_amount == 0);
  CHECK(!c.truncated);

  REQUIRE(c.order_lines.size() == 1);
  const kom::order_line& l = c.order_lines[0];
  CHECK(l.reference == "123050");
  CHECK(l.type == kom::order_line_type::physical);
  CHECK(l.quantity == 10);
  CHECK(l.quantity_unit == "kg");
  CHECK(l.name == "Tomatoes");
  CHECK(l.total_amount == 6000);
  CHECK(l.unit_price == 600);
  CHECK(l.total_discount_amount == 0);
  CHECK(l.tax_rate == 2500);
  CHECK(l.total_tax_amount == 1200);
  CHECK(l.merchant_data.empty());
  CHECK(l.product_identifiers == nullptr);
  CHECK(l.subscription == nullptr);

  REQUIRE(c.shipping_info.size() == 1);
  const kom::shipping_info& s = c.shipping_info[0];
  CHECK(s.shipping_company == "DHL US");
  CHECK(s.shipping_method == kom::shipping_method::unset);
  CHECK(s.tracking_number == "1234567890");
  CHECK(s.tracking_uri.empty());
  CHECK(s.return_shipping_company == "UPS");
  CHECK(s.return_tracking_number == "112233445566778899");

  for (const kom::address* a : {&c.billing_address, &c.shipping_address}) {
    CHECK(a->given_name == "John");
    CHECK(a->family_name == "Doe");
    CHECK(a->title == "Mr");
    CHECK(a->street_address == "123 Fake St");
    CHECK(a->street_address2.empty());
    CHECK(a->postal_code == "12345");
    CHECK(a->city == "New York");
    CHECK(a->region == "NY");
    CHECK(a->country == "US");
    CHECK(a->email == "john@doe.com");
    CHECK(a->phone == "123456");
  }
}

TEST_CASE("json readers: text points into the caller's storage, lines are kom::order_line") {
  const std::string body = fixture("capture.json");
  kom::capture_storage<kom::capacity::lines<4>, kom::capacity::shipping_entries<2>, kom::capacity::text_bytes<512>> storage;
  kom::capture c;
  REQUIRE(kom::read_capture(body, c, storage).ok());
  // No view points into the body: the body's buffer may be reused at once.
  const char* const b = body.data();
  for (std::string_view v : {c.capture_id, c.order_lines[0].name, c.billing_address.city}) {
    CHECK((v.data() < b || v.data() >= b + body.size()));
  }
  // A line read back from Klarna is a valid line to send (e.g. in a refund or a new capture).
  kom::capture_request again;
  again.captured_amount = c.captured_amount;
  again.order_lines = c.order_lines;
  again.shipping_info = c.shipping_info;
  CHECK(kom::validate(again).ok());
}

TEST_CASE("json readers: the spec's Capture examples (2020 and 2024), every field") {
  for (const char* name : {"spec2020_capture.json", "spec2024_capture.json"}) {
    CAPTURE(name);
    const bool y2024 = std::string(name).find("2024") != std::string::npos;
    const std::string body = fixture(name);
    kom::capture_storage<> storage;
    kom::capture c;
    REQUIRE(kom::read_capture(body, c, storage).ok());
    CHECK(c.capture_id == "4ba29b50-be7b-44f5-a492-113e6a865e22");
    CHECK(c.klarna_reference == "K4MADNY-1");
    CHECK(c.captured_amount == 0);
    CHECK(c.captured_at == (y2024 ? "2015-11-19T01:51:17Z" : "2015-11-19T01:51:17.000Z"));
    CHECK(c.description == "Order has been shipped");
    CHECK(c.reference == "string");
    CHECK(c.refunded_amount == 0);
    REQUIRE(c.order_lines.size() == 1);
    const kom::order_line& l = c.order_lines[0];
    CHECK(l.type == kom::order_line_type::physical);
    CHECK(l.reference == "75001");
    CHECK(l.name == "string");
    CHECK(l.quantity == 1);
    CHECK(l.quantity_unit == "pcs.");
    CHECK(l.merchant_data == "Some metadata");
    CHECK(l.product_url == "https://yourstore.example/product/headphones");
    CHECK(l.image_url == "https://yourstore.example/product/headphones.png");
    CHECK(l.tax_rate == 0);
    CHECK(l.total_discount_amount == 0);
    REQUIRE(l.product_identifiers != nullptr);
    CHECK(l.product_identifiers->brand == "Intel");
    CHECK(l.product_identifiers->category_path == "Electronics Store > Computers & Tablets > Desktops");
    CHECK(l.product_identifiers->global_trade_item_number == "735858293167");
    CHECK(l.product_identifiers->manufacturer_part_number == "BOXNUC5CPYH");
    if (y2024) {
      CHECK(l.product_identifiers->color == "Denim blue");
      CHECK(l.product_identifiers->size == "4");
      REQUIRE(l.subscription != nullptr);
      CHECK(l.subscription->name == "string");
      CHECK(l.subscription->interval == kom::subscription_interval::month);
      CHECK(l.subscription->interval_count == 0);
    } else {
      CHECK(l.subscription == nullptr);
    }
    REQUIRE(c.shipping_info.size() == 1);
    const kom::shipping_info& s = c.shipping_info[0];
    CHECK(s.shipping_company == "DHL US");
    CHECK(s.shipping_method == kom::shipping_method::home);
    CHECK(s.tracking_number == "63456415674545679874");
    CHECK(s.tracking_uri == "http://shipping.example/findmypackage?63456415674545679874");
    CHECK(s.return_shipping_company == "DHL US");
    CHECK(s.return_tracking_number == "93456415674545679888");
    CHECK(s.return_tracking_uri == "http://shipping.example/findmypackage?93456415674545679888");
    for (const kom::address* a : {&c.billing_address, &c.shipping_address}) {
      CHECK(a->given_name == "Klara");
      CHECK(a->family_name == "Joyce");
      CHECK(a->title == "Mrs");
      CHECK(a->street_address == "Apartment 10");
      CHECK(a->street_address2 == "1 Safeway");
      CHECK(a->postal_code == "12345");
      CHECK(a->city == "Knoxville");
      CHECK(a->region == "TN");
      CHECK(a->country == "us");
      CHECK(a->email == "klara.joyce@klarna.com");
      CHECK(a->phone == "1-555-555-5555");
    }
    CHECK(!c.truncated);
  }
}

TEST_CASE("json readers: captures.json, a list of two captures in one shared storage") {
  const std::string body = fixture("captures.json");
  kom::capture_storage<> storage;
  kom::capture items[3];
  kom::capture_list list;
  REQUIRE(kom::read_captures(body, list, items, storage).ok());
  REQUIRE(list.captures.size() == 2);
  CHECK(list.captures.begin() == items);
  CHECK(!list.truncated);

  const kom::capture& first = list.captures[0];
  CHECK(first.capture_id == "5b33ed47-79d0-4d76-99ea-4afaa7c8e552");
  CHECK(first.captured_amount == 6000);
  CHECK(first.refunded_amount == 1000);
  REQUIRE(first.order_lines.size() == 1);
  CHECK(first.order_lines[0].name == "Tomatoes");
  REQUIRE(first.shipping_info.size() == 1);
  CHECK(first.shipping_info[0].return_shipping_company == "UPS");

  const kom::capture& second = list.captures[1];
  CHECK(second.capture_id == "a3c1f0de-2b7e-4d2b-8d0c-6f1e2a9b7c41");
  CHECK(second.klarna_reference == "4K7Q6QF6-2");
  CHECK(second.captured_amount == 500);
  CHECK(second.captured_at == "2017-01-11T08:02:45.120Z");
  CHECK(second.description == "Shipping fee");
  CHECK(second.reference == "POS-0042-2");
  REQUIRE(second.order_lines.size() == 1);
  CHECK(second.order_lines[0].type == kom::order_line_type::shipping_fee);
  CHECK(second.order_lines[0].name == "Standard shipping");
  CHECK(second.order_lines[0].total_amount == 500);
  // Each capture's lines are its own slice of the shared storage.
  CHECK(second.order_lines.begin() == first.order_lines.end());
  REQUIRE(second.shipping_info.size() == 1);
  CHECK(second.shipping_info[0].shipping_method == kom::shipping_method::home);
  CHECK(second.shipping_info[0].tracking_uri == "http://shipping.example/findmypackage?63456415674545679874");
  CHECK(second.billing_address.city == "New York");

  // The first capture of the list reads as the documented capture (but for its refund).
  kom::capture_storage<> one_storage;
  kom::capture one;
  REQUIRE(kom::read_capture(fixture("capture.json"), one, one_storage).ok());
  one.refunded_amount = 1000;
  CHECK(dump(one) == dump(first));
}

TEST_CASE("json readers: the spec's list-of-captures examples read as their Capture example") {
  for (const char* year : {"2020", "2024"}) {
    CAPTURE(year);
    kom::capture_storage<> storage;
    kom::capture items[2];
    kom::capture_list list;
    REQUIRE(kom::read_captures(fixture(std::string("spec") + year + "_captures.json"), list, items, storage).ok());
    REQUIRE(list.captures.size() == 1);
    kom::capture_storage<> one_storage;
    kom::capture one;
    REQUIRE(kom::read_capture(fixture(std::string("spec") + year + "_capture.json"), one, one_storage).ok());
    CHECK(dump(list.captures[0]) == dump(one));
  }
}

TEST_CASE("json readers: order_part_captured.json, an order with two captures") {
  const std::string body = fixture("order_part_captured.json");
  kom::order_storage<> storage;
  kom::order r;
  REQUIRE(kom::read_order(body, r, storage).ok());
  CHECK(r.order_id == "7849fd84-47dc-4919-a7ce-47b9f46156f0");
  CHECK(r.status == kom::order_status::part_captured);
  CHECK(r.status_text == "PART_CAPTURED");
  CHECK(r.fraud_status == kom::fraud_status::accepted);
  CHECK(r.fraud_status_text == "ACCEPTED");
  CHECK(r.order_amount == 15500);
  CHECK(r.original_order_amount == 15500);
  CHECK(r.captured_amount == 6500);
  CHECK(r.refunded_amount == 1000);
  CHECK(r.remaining_authorized_amount == 9000);
  CHECK(r.purchase_currency == "USD");
  CHECK(r.expires_at == "2017-02-06T16:45:03.000Z");
  CHECK(!r.truncated);
  REQUIRE(r.captures.size() == 2);
  CHECK(r.captures[0].capture_id == "5b33ed47-79d0-4d76-99ea-4afaa7c8e552");
  CHECK(r.captures[0].klarna_reference == "4K7Q6QF6-1");
  CHECK(r.captures[0].reference.empty());
  CHECK(r.captures[0].captured_amount == 6000);
  CHECK(r.captures[0].refunded_amount == 1000);
  CHECK(r.captures[0].captured_at == "2017-01-10T10:31:17.973Z");
  CHECK(r.captures[1].capture_id == "a3c1f0de-2b7e-4d2b-8d0c-6f1e2a9b7c41");
  CHECK(r.captures[1].reference == "POS-0042-2");
  CHECK(r.captures[1].captured_amount == 500);
  CHECK(r.captures[1].refunded_amount == 0);
  CHECK(r.captures[1].captured_at == "2017-01-11T08:02:45.120Z");
  // The order's own refunded_amount, not a capture's or a refund's, is the order's.
  std::int64_t captured = 0;
  for (const kom::order_capture& c : r.captures) captured += c.captured_amount;
  CHECK(r.captured_amount == captured);
}

TEST_CASE("json readers: order_authorized.json, a pending order without captures") {
  kom::order_storage<> storage;
  kom::order r;
  REQUIRE(kom::read_order(fixture("order_authorized.json"), r, storage).ok());
  CHECK(r.order_id == "0b1d9815-165e-42e2-8867-35bc03789e00");
  CHECK(r.status == kom::order_status::authorized);
  CHECK(r.fraud_status == kom::fraud_status::pending);
  CHECK(r.order_amount == 2599);
  CHECK(r.captured_amount == 0);
  CHECK(r.remaining_authorized_amount == 2599);
  CHECK(r.purchase_currency == "EUR");
  CHECK(r.expires_at == "2024-05-30T09:14:27.512Z");
  CHECK(r.captures.empty());
  CHECK(!r.truncated);
}

TEST_CASE("json readers: the spec's Order (2020) and MerchantOrderDto (2024) examples") {
  for (const char* name : {"spec2020_order.json", "spec2024_order.json"}) {
    CAPTURE(name);
    const bool y2024 = std::string(name).find("2024") != std::string::npos;
    kom::order_storage<> storage;
    kom::order r;
    REQUIRE(kom::read_order(fixture(name), r, storage).ok());
    CHECK(r.order_id == "f3392f8b-6116-4073-ab96-e330819e2c07");
    CHECK(r.status == kom::order_status::authorized);
    CHECK(r.fraud_status == kom::fraud_status::accepted);
    CHECK(r.order_amount == 0);
    CHECK(r.original_order_amount == 0);
    CHECK(r.captured_amount == 0);
    CHECK(r.refunded_amount == 0);
    CHECK(r.remaining_authorized_amount == 0);
    CHECK(r.purchase_currency == "usd");
    CHECK(r.expires_at == (y2024 ? "2015-12-04T10:26:06Z" : "2015-12-04T10:26:06.000Z"));
    REQUIRE(r.captures.size() == 1);
    CHECK(r.captures[0].capture_id == "4ba29b50-be7b-44f5-a492-113e6a865e22");
    CHECK(r.captures[0].klarna_reference == "K4MADNY-1");
    CHECK(r.captures[0].reference == "string");
    CHECK(r.captures[0].captured_at == (y2024 ? "2015-11-19T01:51:17Z" : "2015-11-19T01:51:17.000Z"));
    // What a till needs for returns and receipts.
    CHECK(r.klarna_reference == "K4MADNY");
    CHECK(r.merchant_reference1 == "10001");
    CHECK(r.merchant_reference2 == "501");
    CHECK(r.created_at == (y2024 ? "2015-11-29T10:25:40Z" : "2015-11-29T10:25:40.000Z"));
    CHECK(r.locale == "en-us");
    CHECK(r.purchase_country == "us");
    REQUIRE(r.order_lines.size() == 1);
    CHECK(r.order_lines[0].reference == "75001");
    CHECK(r.order_lines[0].type == kom::order_line_type::physical);
    REQUIRE(r.order_lines[0].product_identifiers != nullptr);
    CHECK(r.order_lines[0].product_identifiers->brand == "Intel");
    REQUIRE(r.refunds.size() == 1);
    CHECK(r.refunds[0].refund_id == "b2cb4f2e-2781-4359-80ad-555735ebb8d8");
    CHECK(r.refunds[0].refunded_amount == 0);
    CHECK(r.refunds[0].refunded_at == (y2024 ? "2015-12-04T15:17:40Z" : "2015-12-04T15:17:40.000Z"));
    CHECK(r.refunds[0].description == "The item was returned and the order refunded.");
    CHECK(r.initial_payment_method.type == "FIXED_AMOUNT");
    CHECK(r.initial_payment_method.description == "Slice it (Fixed Payments)");
    CHECK(r.initial_payment_method.number_of_installments == 3);
    CHECK(!r.truncated);
  }
}

TEST_CASE("json readers: the spec's Refund examples (2020 and 2024), every field") {
  for (const char* name : refund_fixtures) {
    CAPTURE(name);
    const bool y2024 = std::string(name).find("2024") != std::string::npos;
    kom::refund_storage<> storage;
    kom::refund r;
    REQUIRE(kom::read_refund(fixture(name), r, storage).ok());
    CHECK(r.refund_id == "b2cb4f2e-2781-4359-80ad-555735ebb8d8");
    CHECK(r.refunded_amount == 0);
    CHECK(r.refunded_at == (y2024 ? "2015-12-04T15:17:40Z" : "2015-12-04T15:17:40.000Z"));
    CHECK(r.description == "The item was returned and the order refunded.");
    CHECK(r.reference == (y2024 ? "string" : ""));  // the 2020 Refund has no reference
    REQUIRE(r.order_lines.size() == 1);
    CHECK(r.order_lines[0].reference == "75001");
    CHECK(r.order_lines[0].quantity_unit == "pcs.");
    CHECK(!r.truncated);
  }
  // A refund whose lines do not fit: an error naming them, or a flagged truncation.
  kom::refund_storage<kom::capacity::lines<0>> none;
  kom::refund r;
  const kom::error e = kom::read_refund(fixture("spec2024_refund.json"), r, none);
  CHECK(e.code() == errc::json_too_many_items);
  CHECK(e.path() == "order_lines");
  kom::read_options allow;
  allow.allow_truncation = true;
  REQUIRE(kom::read_refund(fixture("spec2024_refund.json"), r, none, allow).ok());
  CHECK(r.truncated);
  CHECK(r.order_lines.empty());
}

TEST_CASE("json readers: an order read with null arrays skips those lists, without truncation") {
  char text[512];
  kom::order_storage_ref amounts_only;
  amounts_only.text = text;
  amounts_only.text_capacity = sizeof text;
  kom::order r;
  REQUIRE(kom::read_order(fixture("spec2024_order.json"), r, amounts_only).ok());
  CHECK(r.captures.empty());
  CHECK(r.refunds.empty());
  CHECK(r.order_lines.empty());
  CHECK(r.order_amount == 0);
  CHECK(r.klarna_reference == "K4MADNY");
  CHECK(!r.truncated);
  // A zero capacity with an array is no room: an error naming the list.
  kom::order_storage<kom::capacity::refunds<0>> no_refunds;
  const kom::error e = kom::read_order(fixture("spec2024_order.json"), r, no_refunds);
  CHECK(e.code() == errc::json_too_many_items);
  CHECK(e.path() == "refunds");
}

TEST_CASE("json readers: the documented error samples and every error example of the specs") {
  struct expected_error {
    const char* file;
    kom::klarna_error_code code;
    const char* code_text;
    const char* message;
    const char* correlation_id;
  };
  const char* const spec_id = "66782175-ae05-44fc-9eb3-eeceadbad271";
  const expected_error table[] = {
      {"error_no_such_order.json", kom::klarna_error_code::no_such_order, "NO_SUCH_ORDER",
       "Order 7849fd84-47dc-4919-a7ce-47b9f46156f cannot be found", "f072554f-ef99-4b21-85da-633355aab998"},
      {"capture_not_allowed", kom::klarna_error_code::capture_not_allowed, "CAPTURE_NOT_ALLOWED", "string", spec_id},
      {"cancel_not_allowed", kom::klarna_error_code::cancel_not_allowed, "CANCEL_NOT_ALLOWED", "string", spec_id},
      {"not_allowed", kom::klarna_error_code::not_allowed, "NOT_ALLOWED", "string", spec_id},
      {"refund_not_allowed", kom::klarna_error_code::refund_not_allowed, "REFUND_NOT_ALLOWED", "string", spec_id},
      {"no_such_order", kom::klarna_error_code::no_such_order, "NO_SUCH_ORDER", "string", spec_id},
      {"no_such_capture", kom::klarna_error_code::no_such_capture, "NO_SUCH_CAPTURE", "string", spec_id},
      {"not_found", kom::klarna_error_code::not_found, "NOT_FOUND", "string", spec_id},
      // ErrorMessageDto has no examples: placeholders only, and "string" is no error code.
      {"error_message_dto", kom::klarna_error_code::unknown, "string", "string", "string"},
  };
  for (const expected_error& x : table) {
    std::vector<std::string> files;
    if (std::string(x.file).find(".json") != std::string::npos) {
      files.emplace_back(x.file);
    } else {
      files.push_back(std::string("spec2020_error_") + x.file + ".json");
      files.push_back(std::string("spec2024_error_") + x.file + ".json");
    }
    for (const std::string& file : files) {
      CAPTURE(file);
      kom::error_body_storage<> storage;
      kom::error_body b;
      REQUIRE(kom::read_error_body(fixture(file), b, storage).ok());
      CHECK(b.error_code == x.code);
      CHECK(b.error_code_text == x.code_text);
      REQUIRE(b.error_messages.size() == 1);
      CHECK(b.error_messages[0] == x.message);
      CHECK(b.correlation_id == x.correlation_id);
      CHECK(b.service_version.empty());
      CHECK(!b.truncated);
    }
  }
}

TEST_CASE("json readers: every fixture reads the same pretty, compact, with CRLF, re-spaced") {
  for (const std::string& name : all_fixture_names()) {
    CAPTURE(name);
    const std::string pretty = fixture(name);
    const outcome reference = run_for(name, pretty);
    REQUIRE(reference.error.ok());
    REQUIRE(!reference.text.empty());
    const std::string compact = kom_test::minify_json(pretty);
    for (const std::string& variant : {compact, with_crlf(pretty), spaced(compact)}) {
      const outcome o = run_for(name, variant);
      CHECK(o.error.ok());
      CHECK(o.text == reference.text);
    }
    // With truncation allowed but not needed, nothing changes.
    kom::read_options allow;
    allow.allow_truncation = true;
    CHECK(run_for(name, pretty, allow).text == reference.text);
  }
}

TEST_CASE("json readers: bodies as nginx, a chunked server and an HTTP/1.0 proxy frame them read alike") {
  const outcome documented = run_capture(kom_test::minify_json(fixture("capture.json")));
  REQUIRE(documented.error.ok());
  for (const char* file : {"get_capture_200.http", "get_capture_200_chunked.http", "read_until_close_200.http"}) {
    CAPTURE(file);
    const std::string body = http_body(kom_test::read_fixture(std::string("http/") + file));
    const outcome o = run_capture(body);
    CHECK(o.error.ok());
    CHECK(o.text == documented.text);
  }
  struct http_error {
    const char* file;
    kom::klarna_error_code code;
    const char* message;
  };
  for (const http_error& x : {http_error{"error_404.http", kom::klarna_error_code::no_such_order,
                                         "Order with id f3392f8b-6116-4073-ab96-e330819e2c07 cannot be found"},
                              http_error{"error_429.http", kom::klarna_error_code::too_many_requests, "Rate limit exceeded"}}) {
    CAPTURE(x.file);
    const std::string body = http_body(kom_test::read_fixture(std::string("http/") + x.file));
    kom::error_body_storage<> storage;
    kom::error_body b;
    REQUIRE(kom::read_error_body(body, b, storage).ok());
    CHECK(b.error_code == x.code);
    REQUIRE(b.error_messages.size() == 1);
    CHECK(b.error_messages[0] == x.message);
    CHECK(!b.correlation_id.empty());
  }
}

// =============================================================================================
// Memory: no heap, no read past the end, no write past the storage.
// =============================================================================================

TEST_CASE("json readers: reading every fixture allocates nothing, errors and truncation included") {
  std::vector<std::string> bodies;
  for (const std::string& name : all_fixture_names()) bodies.push_back(fixture(name));
  bodies.push_back("{\"error_message\":\"x\",\"a\":[[[[{}]]]],\"captured_amount\":\"6000\"}");
  bodies.push_back("{\"order_lines\":[{\"name\":\"caf\\u00e9\"}");  // cut short
  bodies.push_back(std::string(40, '['));                           // too deep
  kom::read_options allow;
  allow.allow_truncation = true;

  // Storage outside the counted scope; small capacities to take the "no room" paths as well.
  kom::capture_storage<> capture_storage;
  kom::capture_storage<kom::capacity::lines<1>, kom::capacity::shipping_entries<1>, kom::capacity::text_bytes<64>, kom::capacity::product_identifiers<1>, kom::capacity::subscriptions<1>> small_capture_storage;
  kom::capture capture;
  kom::capture items[2];
  kom::capture_list list;
  kom::order_storage<> order_storage;
  kom::order_storage<kom::capacity::captures<1>, kom::capacity::text_bytes<32>> small_order_storage;
  kom::order order;
  kom::error_body_storage<> error_storage;
  kom::error_body_storage<kom::capacity::messages<1>, kom::capacity::text_bytes<16>> small_error_storage;
  kom::error_body error_body;

  std::size_t allocations = 0;
  std::size_t reads_ok = 0;
  {
    kom_test::alloc_scope scope;
    for (const std::string& body : bodies) {
      for (const kom::read_options& options : {kom::read_options{}, allow}) {
        reads_ok += kom::read_capture(body, capture, capture_storage, options).ok();
        reads_ok += kom::read_capture(body, capture, small_capture_storage, options).ok();
        reads_ok += kom::read_captures(body, list, items, capture_storage, options).ok();
        reads_ok += kom::read_captures(body, list, items, small_capture_storage, options).ok();
        reads_ok += kom::read_order(body, order, order_storage, options).ok();
        reads_ok += kom::read_order(body, order, small_order_storage, options).ok();
        reads_ok += kom::read_error_body(body, error_body, error_storage, options).ok();
        reads_ok += kom::read_error_body(body, error_body, small_error_storage, options).ok();
      }
    }
    allocations = scope.count();
  }
  CHECK(reads_ok > 0);
  CHECK(allocations == 0);
}

TEST_CASE("json readers: every fixture, and every prefix of it, read right before an unreadable page") {
  kom_test::guard_page page(64 * 1024);
  for (const std::string& name : all_fixture_names()) {
    CAPTURE(name);
    const std::string body = fixture(name);
    const outcome reference = run_for(name, body);
    REQUIRE(reference.error.ok());
    // The whole body, ending at the guard: the same result.
    CHECK(run_for(name, page.place(body)).text == reference.text);
    // Every proper prefix that stops before the document's last '}' or ']' is malformed; the
    // parser must say so without touching the byte after it.
    const std::size_t last = body.find_last_of("}]");
    for (std::size_t n = 0; n <= last; ++n) {
      const outcome o = run_for(name, page.place(std::string_view(body).substr(0, n)));
      if (o.error.code() != errc::json_syntax) {
        CAPTURE(n);
        CHECK(o.error.code() == errc::json_syntax);
      }
    }
  }
}

TEST_CASE("json readers: every text capacity, exact to the byte, never written past") {
  // The text storage ends at an unreadable page; lists are exactly as large as needed.
  for (const char* name : {"capture.json", "spec2024_capture.json", "order_authorized.json"}) {
    CAPTURE(name);
    const std::string body = fixture(name);
    exact_capture_storage storage(3, 1, 1, 1);
    kom::capture full;
    REQUIRE(kom::read_capture(body, full, storage.ref(8192)).ok());
    const std::string full_text = dump(full);

    // The smallest text capacity that holds everything.
    std::size_t needed = 0;
    kom::capture c;
    while (!kom::read_capture(body, c, storage.ref(needed)).ok()) ++needed;
    CHECK(dump(c) == full_text);
    REQUIRE(needed > 0);

    kom::read_options allow;
    allow.allow_truncation = true;
    for (std::size_t cap = 0; cap < needed; ++cap) {
      CAPTURE(cap);
      const kom::error e = kom::read_capture(body, c, storage.ref(cap));
      REQUIRE(e.code() == errc::json_text_overflow);
      CHECK(e.detail() == static_cast<std::int64_t>(cap));
      CHECK(!e.path().empty());

      REQUIRE(kom::read_capture(body, c, storage.ref(cap), allow).ok());
      CHECK(c.truncated);
      for (std::string_view v : {c.capture_id, c.description, c.order_lines[0].name, c.billing_address.given_name,
                                 c.billing_address.street_address, c.billing_address.city}) {
        CHECK(valid_utf8(v));
      }
    }
  }
}

// =============================================================================================
// Limits: each gives its error, naming the field.
// =============================================================================================

TEST_CASE("json readers: too many items names the list, with the capacity") {
  const std::string captures = fixture("captures.json");
  kom::capture_list list;
  {
    kom::capture_storage<kom::capacity::lines<1>> storage;  // one line for both captures
    kom::capture items[2];
    const kom::error e = kom::read_captures(captures, list, items, storage);
    CHECK(e.code() == errc::json_too_many_items);
    CHECK(e.path() == "[1].order_lines");
    CHECK(e.detail() == 1);
    CHECK(message_of(e) == "[1].order_lines: more items than the capacity of 1");
  }
  {
    kom::capture_storage<> storage;
    kom::capture items[1];  // one capture for two
    const kom::error e = kom::read_captures(captures, list, items, storage);
    CHECK(e.code() == errc::json_too_many_items);
    CHECK(e.path() == "");
    CHECK(e.detail() == 1);
  }
  {
    kom::capture_storage<kom::capacity::lines<4>, kom::capacity::shipping_entries<0>> storage;  // no room for shipping entries
    kom::capture c;
    const kom::error e = kom::read_capture(fixture("capture.json"), c, storage);
    CHECK(e.code() == errc::json_too_many_items);
    CHECK(e.path() == "shipping_info");
    CHECK(e.detail() == 0);
  }
  {
    const std::string body = R"({"order_lines":[{"name":"a","product_identifiers":{"brand":"x"}},
                                                {"name":"b","product_identifiers":{"brand":"y"}}]})";
    kom::capture_storage<kom::capacity::lines<4>, kom::capacity::shipping_entries<1>, kom::capacity::text_bytes<256>, kom::capacity::product_identifiers<1>> storage;
    kom::capture c;
    const kom::error e = kom::read_capture(body, c, storage);
    CHECK(e.code() == errc::json_too_many_items);
    CHECK(e.path() == "order_lines[1].product_identifiers");
    CHECK(e.detail() == 1);
  }
  {
    const std::string body = R"({"order_lines":[{"subscription":{"name":"s","interval":"MONTH","interval_count":1}}]})";
    kom::capture_storage<kom::capacity::lines<4>, kom::capacity::shipping_entries<1>, kom::capacity::text_bytes<256>, kom::capacity::product_identifiers<1>, kom::capacity::subscriptions<0>> storage;
    kom::capture c;
    const kom::error e = kom::read_capture(body, c, storage);
    CHECK(e.code() == errc::json_too_many_items);
    CHECK(e.path() == "order_lines[0].subscription");
  }
  {
    kom::order_storage<kom::capacity::captures<1>> storage;
    kom::order r;
    const kom::error e = kom::read_order(fixture("order_part_captured.json"), r, storage);
    CHECK(e.code() == errc::json_too_many_items);
    CHECK(e.path() == "captures");
    CHECK(e.detail() == 1);
  }
  {
    kom::error_body_storage<kom::capacity::messages<2>> storage;
    kom::error_body b;
    kom::error e = kom::read_error_body(R"({"error_messages":["a","b","c"]})", b, storage);
    CHECK(e.code() == errc::json_too_many_items);
    CHECK(e.path() == "error_messages");
    CHECK(e.detail() == 2);
    e = kom::read_error_body(R"({"error_messages":["a","b"],"error_message":"c"})", b, storage);
    CHECK(e.code() == errc::json_too_many_items);
    CHECK(e.path() == "error_message");
  }
}

TEST_CASE("json readers: text overflow names the field being copied, with the capacity") {
  const std::string body = fixture("capture.json");
  // capture_id 36 + klarna_reference 10 + captured_at 24 + description 22 + the line's
  // reference 6 + quantity_unit 2 = 100 bytes come before the line's name ("type" is matched,
  // not kept).
  kom::capture c;
  for (std::size_t cap : {std::size_t{100}, std::size_t{103}, std::size_t{107}}) {
    exact_capture_storage storage(1, 1, 0, 0);
    const kom::error e = kom::read_capture(body, c, storage.ref(cap));
    CHECK(e.code() == errc::json_text_overflow);
    CHECK(e.path() == "order_lines[0].name");
    CHECK(e.detail() == static_cast<std::int64_t>(cap));
  }
  exact_capture_storage storage(1, 1, 0, 0);
  kom::error e = kom::read_capture(body, c, storage.ref(0));
  CHECK(e.path() == "capture_id");
  CHECK(message_of(e) == "capture_id: text storage of 0 bytes full");

  kom::capture items[2];
  kom::capture_list list;
  kom::capture_storage<kom::capacity::lines<4>, kom::capacity::shipping_entries<2>, kom::capacity::text_bytes<200>> small;
  e = kom::read_captures(fixture("captures.json"), list, items, small);
  CHECK(e.code() == errc::json_text_overflow);
  const kom::field_path path = e.path();
  CHECK(path.view().substr(0, 3) == "[0]");

  kom::order_storage<kom::capacity::captures<8>, kom::capacity::text_bytes<40>> order_storage;
  kom::order r;
  e = kom::read_order(fixture("order_part_captured.json"), r, order_storage);
  CHECK(e.code() == errc::json_text_overflow);
  CHECK(e.path() == "status");  // order_id takes 36 of the 40 bytes

  kom::error_body_storage<kom::capacity::messages<4>, kom::capacity::text_bytes<20>> error_storage;
  kom::error_body b;
  e = kom::read_error_body(fixture("error_no_such_order.json"), b, error_storage);
  CHECK(e.code() == errc::json_text_overflow);
  CHECK(e.path() == "error_messages[0]");
}

TEST_CASE("json readers: with truncation allowed, extra items are skipped and flagged") {
  kom::read_options allow;
  allow.allow_truncation = true;
  {
    kom::capture_storage<kom::capacity::lines<1>> storage;
    kom::capture items[4];
    kom::capture_list list;
    REQUIRE(kom::read_captures(fixture("captures.json"), list, items, storage, allow).ok());
    REQUIRE(list.captures.size() == 2);
    CHECK(list.truncated);
    CHECK(!list.captures[0].truncated);
    CHECK(list.captures[0].order_lines.size() == 1);
    CHECK(list.captures[1].truncated);  // its line did not fit
    CHECK(list.captures[1].order_lines.empty());
    CHECK(list.captures[1].capture_id == "a3c1f0de-2b7e-4d2b-8d0c-6f1e2a9b7c41");  // the rest is read
    CHECK(list.captures[1].shipping_info.size() == 1);
  }
  {
    kom::capture_storage<> storage;
    kom::capture items[1];
    kom::capture_list list;
    REQUIRE(kom::read_captures(fixture("captures.json"), list, items, storage, allow).ok());
    REQUIRE(list.captures.size() == 1);
    CHECK(list.truncated);
    CHECK(!list.captures[0].truncated);  // the first capture is whole; the second was dropped
    CHECK(list.captures[0].capture_id == "5b33ed47-79d0-4d76-99ea-4afaa7c8e552");
  }
  {
    const std::string body = R"({"order_lines":[{"name":"a","product_identifiers":{"brand":"x"}},
                                                {"name":"b","product_identifiers":{"brand":"y"}}]})";
    kom::capture_storage<kom::capacity::lines<4>, kom::capacity::shipping_entries<1>, kom::capacity::text_bytes<256>, kom::capacity::product_identifiers<1>> storage;
    kom::capture c;
    REQUIRE(kom::read_capture(body, c, storage, allow).ok());
    CHECK(c.truncated);
    REQUIRE(c.order_lines.size() == 2);
    REQUIRE(c.order_lines[0].product_identifiers != nullptr);
    CHECK(c.order_lines[0].product_identifiers->brand == "x");
    CHECK(c.order_lines[1].product_identifiers == nullptr);
    CHECK(c.order_lines[1].name == "b");
  }
  {
    kom::order_storage<kom::capacity::captures<1>> storage;
    kom::order r;
    REQUIRE(kom::read_order(fixture("order_part_captured.json"), r, storage, allow).ok());
    CHECK(r.truncated);
    REQUIRE(r.captures.size() == 1);
    CHECK(r.captures[0].captured_amount == 6000);
    CHECK(r.remaining_authorized_amount == 9000);  // read after the skipped capture
  }
  {
    kom::error_body_storage<kom::capacity::messages<1>> storage;
    kom::error_body b;
    REQUIRE(kom::read_error_body(R"({"error_messages":["a","b"],"correlation_id":"c"})", b, storage, allow).ok());
    CHECK(b.truncated);
    REQUIRE(b.error_messages.size() == 1);
    CHECK(b.error_messages[0] == "a");
    CHECK(b.correlation_id == "c");
  }
}

TEST_CASE("json readers: truncated text is cut at a UTF-8 character boundary, escaped or not") {
  // a (1 byte), é (2), € (3), 😀 (4), b (1): the cuts that keep whole characters.
  const std::size_t cuts[] = {0, 1, 3, 6, 10, 11};
  for (const char* body : {"{\"description\":\"a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80" "b\"}",
                           R"({"description":"a\u00e9\u20ac\ud83d\ude00b"})"}) {
    CAPTURE(body);
    kom::read_options allow;
    allow.allow_truncation = true;
    for (std::size_t cap = 0; cap <= 12; ++cap) {
      CAPTURE(cap);
      exact_capture_storage storage(0, 0, 0, 0);
      kom::capture c;
      REQUIRE(kom::read_capture(body, c, storage.ref(cap), allow).ok());
      std::size_t expected = 0;
      for (std::size_t cut : cuts) {
        if (cut <= cap) expected = cut;
      }
      CHECK(c.description.size() == expected);
      CHECK(c.description == std::string_view("a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80" "b").substr(0, expected));
      CHECK(valid_utf8(c.description));
      CHECK(c.truncated == (cap < 11));
    }
  }
}

TEST_CASE("json readers: nesting deeper than KOM_JSON_READER_MAX_DEPTH is json_too_deep") {
  const int limit = KOM_JSON_READER_MAX_DEPTH;
  // The root object is one level; an unknown field holds the rest.
  auto nested = [](int levels) { return std::string(static_cast<std::size_t>(levels), '[') + std::string(static_cast<std::size_t>(levels), ']'); };
  CHECK(run_capture("{\"x\":" + nested(limit - 1) + "}").error.ok());
  const kom::error e = run_capture("{\"x\":" + nested(limit) + "}").error;
  CHECK(e.code() == errc::json_too_deep);
  CHECK(e.detail() == limit);
  CHECK(e.path() == "");
  // Deep inside a line: the path says which.
  const kom::error in_line =
      run_capture("{\"order_lines\":[{},{\"merchant\":" + nested(limit) + "}]}").error;
  CHECK(in_line.code() == errc::json_too_deep);
  CHECK(in_line.path() == "order_lines[1]");
  for (auto run : {run_order, run_error}) {
    CHECK(run("{\"x\":" + nested(limit) + "}", {}).error.code() == errc::json_too_deep);
  }
  const kom::error in_list = run_captures("[{},{\"x\":" + nested(limit - 1) + "}]").error;
  CHECK(in_list.code() == errc::json_too_deep);
  CHECK(in_list.path() == "[1]");
}

TEST_CASE("json readers: the parser's fixed limits for keys, strings, arrays and objects") {
  using limits = kom::detail::json_reader_limits;
  const std::string long_key(limits::max_key + 1, 'k');
  kom::error e = run_capture("{\"" + long_key + "\":1}").error;
  CHECK(e.code() == errc::json_text_overflow);
  CHECK(e.detail() == static_cast<std::int64_t>(limits::max_key));
  CHECK(run_capture("{\"" + long_key.substr(1) + "\":1}").error.ok());  // 255 bytes is fine

  const std::string long_string(limits::max_string + 1, 's');
  e = run_capture("{\"unknown\":\"" + long_string + "\"}").error;
  CHECK(e.code() == errc::json_text_overflow);
  CHECK(e.detail() == static_cast<std::int64_t>(limits::max_string));
  CHECK(run_capture("{\"unknown\":\"" + long_string.substr(1) + "\"}").error.ok());

  std::string items = "{\"unknown\":[0";
  for (std::size_t i = 1; i <= limits::max_items; ++i) items += ",0";
  e = run_capture(items + "]}").error;
  CHECK(e.code() == errc::json_too_many_items);
  CHECK(e.detail() == static_cast<std::int64_t>(limits::max_items));

  std::string members = "{\"unknown\":{";
  for (std::size_t i = 0; i <= limits::max_members; ++i) members += (i ? ",\"" : "\"") + std::to_string(i) + "\":0";
  e = run_capture(members + "}}").error;
  CHECK(e.code() == errc::json_too_many_items);
  CHECK(e.detail() == static_cast<std::int64_t>(limits::max_members));
}

// =============================================================================================
// Malformed input and wrong types.
// =============================================================================================

TEST_CASE("json readers: every class of malformed JSON is json_syntax, for every reader") {
  const char* const malformed[] = {
      "",                                    // empty body
      " \r\n\t ",                            // blanks only
      "{",                                   // cut short
      "{\"capture_id\":\"5b33",              // cut inside a string
      "{\"captured_amount\":60",             // cut inside a number (complete only with more)
      "{\"a\":1,}",                          // trailing comma
      "{\"a\":[1,]}",                         //
      "{} x",                                // data after the document
      "{}{}",                                // two documents
      "{\"a\":1}\n{\"a\":2}",                  // newline-delimited documents
      "{\"a\":1 /* c */}",                   // comment
      "{'a':1}",                             // single quotes
      "{a:1}",                               // bare key
      "{\"a\" 1}",                           // missing colon
      "{\"a\":01}",                          // leading zero
      "{\"a\":NaN}",                         // not a JSON number
      "{\"a\":-}",                           //
      "{\"a\":tru}",                         // misspelt literal
      "{\"a\":\"\x01\"}",                    // raw control character in a string
      "{\"a\":\"\\x41\"}",                   // unknown escape
      "{\"a\":\"\\u12G4\"}",                 // bad \u escape
      "{\"a\":\"\xC3\x28\"}",                // invalid UTF-8
      "{\"a\":\"\xED\xA0\x80\"}",            // UTF-8 encoded surrogate
      "{\"a\":\"\xC0\xAF\"}",                // overlong form
      "\xEF\xBB\xBF{}",                      // byte order mark
      "{\"a\":1]",                           // mismatched brackets
      "]",                                   //
  };
  for (const char* body : malformed) {
    CAPTURE(body);
    for (auto run : {run_capture, run_order, run_error}) {
      CHECK(run(body, {}).error.code() == errc::json_syntax);
    }
    // The list reader wants an array: the same faults one level down.
    const std::string in_list = body[0] == '{' ? "[" + std::string(body) + "]" : std::string(body);
    CHECK(run_captures(in_list).error.code() == errc::json_syntax);
  }
  // A lone surrogate escape is refused too (Boost.JSON's default, valid UTF-8 only).
  CHECK(run_error(R"({"error_code":"\ud800"})").error.code() == errc::json_syntax);
  // detail: the byte offset where the parser stopped.
  CHECK(run_capture("{\"a\":1,}").error.detail() == 7);
}

TEST_CASE("json readers: a known field of the wrong type names the field") {
  struct wrong {
    const char* body;
    const char* path;
  };
  const wrong capture_cases[] = {
      {R"({"captured_amount":"6000"})", "captured_amount"},
      {R"({"captured_amount":6000.5})", "captured_amount"},
      {R"({"captured_amount":6000.0})", "captured_amount"},
      {R"({"captured_amount":6e3})", "captured_amount"},
      {R"({"captured_amount":true})", "captured_amount"},
      {R"({"captured_amount":{}})", "captured_amount"},
      {R"({"capture_id":5})", "capture_id"},
      {R"({"capture_id":["a"]})", "capture_id"},
      {R"({"capture_id":false})", "capture_id"},
      {R"({"order_lines":{}})", "order_lines"},
      {R"({"order_lines":"x"})", "order_lines"},
      {R"({"order_lines":[{},1])", "order_lines[1]"},
      {R"({"order_lines":[[]]})", "order_lines[0]"},
      {R"({"order_lines":[{"name":7}]})", "order_lines[0].name"},
      {R"({"order_lines":[{"type":1}]})", "order_lines[0].type"},
      {R"({"order_lines":[{},{"quantity":"10"}]})", "order_lines[1].quantity"},
      {R"({"order_lines":[{"product_identifiers":[]}]})", "order_lines[0].product_identifiers"},
      {R"({"order_lines":[{"product_identifiers":{"size":4}}]})", "order_lines[0].product_identifiers.size"},
      {R"({"order_lines":[{"subscription":{"interval_count":"1"}}]})", "order_lines[0].subscription.interval_count"},
      {R"({"shipping_info":[{"shipping_method":{}}]})", "shipping_info[0].shipping_method"},
      {R"({"billing_address":"Main St"})", "billing_address"},
      {R"({"shipping_address":{"city":["x"]}})", "shipping_address.city"},
  };
  for (const wrong& w : capture_cases) {
    CAPTURE(w.body);
    const kom::error e = run_capture(w.body).error;
    CHECK(e.code() == errc::json_wrong_type);
    CHECK(e.path() == w.path);
  }
  const wrong captures_cases[] = {
      {R"([{},{"refunded_amount":"0"}])", "[1].refunded_amount"},
      {R"([{},{"order_lines":[{"tax_rate":25.5}]}])", "[1].order_lines[0].tax_rate"},
      {R"([1])", "[0]"},
  };
  for (const wrong& w : captures_cases) {
    CAPTURE(w.body);
    const kom::error e = run_captures(w.body).error;
    CHECK(e.code() == errc::json_wrong_type);
    CHECK(e.path() == w.path);
  }
  const wrong order_cases[] = {
      {R"({"status":1})", "status"},
      {R"({"remaining_authorized_amount":"9000"})", "remaining_authorized_amount"},
      {R"({"captures":[{"captured_amount":1.5}]})", "captures[0].captured_amount"},
      {R"({"captures":{}})", "captures"},
  };
  for (const wrong& w : order_cases) {
    CAPTURE(w.body);
    const kom::error e = run_order(w.body).error;
    CHECK(e.code() == errc::json_wrong_type);
    CHECK(e.path() == w.path);
  }
  const wrong error_cases[] = {
      {R"({"error_code":404})", "error_code"},
      {R"({"error_messages":[1]})", "error_messages[0]"},
      {R"({"error_messages":{}})", "error_messages"},
      {R"({"error_message":{"text":"x"}})", "error_message"},
      {R"({"correlation_id":[]})", "correlation_id"},
  };
  for (const wrong& w : error_cases) {
    CAPTURE(w.body);
    const kom::error e = run_error(w.body).error;
    CHECK(e.code() == errc::json_wrong_type);
    CHECK(e.path() == w.path);
  }
  // The body itself of the wrong kind: an empty path.
  for (const char* body : {"[]", "null", "\"text\"", "42", "true"}) {
    CAPTURE(body);
    for (auto run : {run_capture, run_order, run_error}) {
      const kom::error e = run(body, {}).error;
      CHECK(e.code() == errc::json_wrong_type);
      CHECK(e.path() == "");
    }
  }
  CHECK(run_captures("{}").error.code() == errc::json_wrong_type);
  CHECK(run_captures("null").error.code() == errc::json_wrong_type);
}

TEST_CASE("json readers: integers at and beyond the int64 range") {
  kom::capture_storage<> storage;
  kom::capture c;
  REQUIRE(kom::read_capture(R"({"captured_amount":9223372036854775807,"refunded_amount":-9223372036854775808})", c, storage).ok());
  CHECK(c.captured_amount == INT64_MAX);
  CHECK(c.refunded_amount == INT64_MIN);
  REQUIRE(kom::read_capture(R"({"captured_amount":-0})", c, storage).ok());
  CHECK(c.captured_amount == 0);

  for (const char* body : {R"({"captured_amount":9223372036854775808})", R"({"captured_amount":-9223372036854775809})",
                           R"({"captured_amount":18446744073709551616})",
                           R"({"order_lines":[{"quantity":123456789012345678901234567890}]})"}) {
    CAPTURE(body);
    const kom::error e = kom::read_capture(body, c, storage);
    CHECK(e.code() == errc::json_number_out_of_range);
    CHECK(!e.path().empty());
  }
  // An exponent that no double holds fails in any field, known or not.
  CHECK(run_capture(R"({"unknown":1e99999999999})").error.code() == errc::json_number_out_of_range);
  // Out-of-range numbers in unknown fields are nobody's business.
  CHECK(run_capture(R"({"unknown":[18446744073709551616,1e308,-1.5]})").error.ok());
}

// =============================================================================================
// Tolerance: unknown fields, unknown enum texts, null, the singular error_message.
// =============================================================================================

TEST_CASE("json readers: unknown fields are skipped at any depth, known names in them included") {
  const std::string body = R"({
    "zzz": {"capture_id": "not me", "order_lines": [{"name": "not me"}], "deep": [[{"a": [1, {"b": null}]}]]},
    "capture_id": "me",
    "new_field": [{"captured_amount": 1}, "x", 2, true, null, [], {}],
    "order_lines": [
      {"name": "line", "extra": {"name": "not me", "quantity": [9]}, "quantity": 2,
       "product_identifiers": {"brand": "b", "future": {"brand": "not me"}},
       "subscription": {"name": "s", "interval": "WEEK", "interval_count": 3, "x": [1]}}
    ],
    "shipping_info": [{"carrier_code": "dhl", "shipping_company": "DHL US", "x": {"y": {"z": []}}}],
    "billing_address": {"attention": "John Smith", "organization_name": "Klarna", "city": "Knoxville"},
    "captured_amount": 6000
  })";
  kom::capture_storage<> storage;
  kom::capture c;
  REQUIRE(kom::read_capture(body, c, storage).ok());
  CHECK(c.capture_id == "me");
  CHECK(c.captured_amount == 6000);
  REQUIRE(c.order_lines.size() == 1);
  CHECK(c.order_lines[0].name == "line");
  CHECK(c.order_lines[0].quantity == 2);
  REQUIRE(c.order_lines[0].product_identifiers != nullptr);
  CHECK(c.order_lines[0].product_identifiers->brand == "b");
  REQUIRE(c.order_lines[0].subscription != nullptr);
  CHECK(c.order_lines[0].subscription->interval == kom::subscription_interval::week);
  CHECK(c.order_lines[0].subscription->interval_count == 3);
  REQUIRE(c.shipping_info.size() == 1);
  CHECK(c.shipping_info[0].shipping_company == "DHL US");
  CHECK(c.billing_address.city == "Knoxville");

  // The order reader skips a capture's lines, addresses and shipping entirely.
  kom::order_storage<kom::capacity::captures<2>, kom::capacity::text_bytes<64>> order_storage;
  kom::order r;
  REQUIRE(kom::read_order(R"({"captures":[{"capture_id":"c1","order_lines":[{"name":"x"}],"billing_address":{}}],
                              "order_lines":[{"name":"y"}],"status":"CLOSED"})", r, order_storage).ok());
  REQUIRE(r.captures.size() == 1);
  CHECK(r.captures[0].capture_id == "c1");
  CHECK(r.status == kom::order_status::closed);
}

TEST_CASE("json readers: unknown and empty enum texts read as unknown, never as a failure") {
  kom::capture_storage<> storage;
  kom::capture c;
  REQUIRE(kom::read_capture(R"({"order_lines":[{"type":""},{"type":"PHYSICAL"},{"type":"gift_card"},
      {"subscription":{"interval":""}},{"subscription":{"interval":"FORTNIGHT"}},
      {"type":"a very long order line type that is longer than any scratch buffer could hold, surely"}],
      "shipping_info":[{"shipping_method":""},{"shipping_method":"Drone"},{"shipping_method":"PickUpPoint"},{}]})", c, storage).ok());
  REQUIRE(c.order_lines.size() == 6);
  CHECK(c.order_lines[0].type == kom::order_line_type::unknown);
  CHECK(c.order_lines[1].type == kom::order_line_type::unknown);
  CHECK(c.order_lines[2].type == kom::order_line_type::gift_card);
  CHECK(c.order_lines[3].type == kom::order_line_type::unset);
  CHECK(c.order_lines[3].subscription->interval == kom::subscription_interval::unknown);
  CHECK(c.order_lines[4].subscription->interval == kom::subscription_interval::unknown);
  CHECK(c.order_lines[5].type == kom::order_line_type::unknown);
  REQUIRE(c.shipping_info.size() == 4);
  CHECK(c.shipping_info[0].shipping_method == kom::shipping_method::unknown);  // kco_rest_dotnet#106
  CHECK(c.shipping_info[1].shipping_method == kom::shipping_method::unknown);
  CHECK(c.shipping_info[2].shipping_method == kom::shipping_method::pick_up_point);
  CHECK(c.shipping_info[3].shipping_method == kom::shipping_method::unset);

  kom::order_storage<> order_storage;
  kom::order r;
  REQUIRE(kom::read_order(R"({"status":"REFUNDED","fraud_status":""})", r, order_storage).ok());
  CHECK(r.status == kom::order_status::unknown);
  CHECK(r.status_text == "REFUNDED");
  CHECK(r.fraud_status == kom::fraud_status::unknown);
  REQUIRE(kom::read_order(R"({"status":"","fraud_status":"accepted"})", r, order_storage).ok());
  CHECK(r.status == kom::order_status::unknown);
  CHECK(r.fraud_status == kom::fraud_status::unknown);  // case-sensitive
  CHECK(r.fraud_status_text == "accepted");
  REQUIRE(kom::read_order("{}", r, order_storage).ok());
  CHECK(r.status == kom::order_status::unset);
  CHECK(r.fraud_status == kom::fraud_status::unset);

  kom::error_body_storage<> error_storage;
  kom::error_body b;
  REQUIRE(kom::read_error_body(R"({"error_code":"BAD_VALUE","error_messages":["Not matching fields"]})", b, error_storage).ok());
  CHECK(b.error_code == kom::klarna_error_code::unknown);
  CHECK(b.error_code_text == "BAD_VALUE");
  REQUIRE(kom::read_error_body(R"({"error_code":""})", b, error_storage).ok());
  CHECK(b.error_code == kom::klarna_error_code::unknown);
}

TEST_CASE("json readers: every documented error code, status and fraud status by its text") {
  const std::pair<const char*, kom::klarna_error_code> codes[] = {
      {"NOT_FOUND", kom::klarna_error_code::not_found},
      {"CAPTURE_NOT_ALLOWED", kom::klarna_error_code::capture_not_allowed},
      {"CANCEL_NOT_ALLOWED", kom::klarna_error_code::cancel_not_allowed},
      {"NOT_ALLOWED", kom::klarna_error_code::not_allowed},
      {"REFUND_NOT_ALLOWED", kom::klarna_error_code::refund_not_allowed},
      {"NO_SUCH_ORDER", kom::klarna_error_code::no_such_order},
      {"NO_SUCH_CAPTURE", kom::klarna_error_code::no_such_capture},
      {"CONFLICT", kom::klarna_error_code::conflict},
      {"REQUEST_TOO_LARGE", kom::klarna_error_code::request_too_large},
      {"UNPROCESSABLE_ENTITY", kom::klarna_error_code::unprocessable_entity},
      {"INVALID_ADDRESS", kom::klarna_error_code::invalid_address},
      {"TOO_MANY_REQUESTS", kom::klarna_error_code::too_many_requests},
      {"INTERNAL_SERVER_ERROR", kom::klarna_error_code::internal_server_error},
      {"UNEXPECTED_ERROR", kom::klarna_error_code::unexpected_error},
      {"TEMPORARILY_UNAVAILABLE", kom::klarna_error_code::temporarily_unavailable},
  };
  for (const auto& entry : codes) {
    // Not a structured binding: clang 14 cannot capture one in doctest's CAPTURE.
    const char* const text = entry.first;
    const kom::klarna_error_code code = entry.second;
    CAPTURE(text);
    kom::error_body_storage<> storage;
    kom::error_body b;
    REQUIRE(kom::read_error_body(std::string(R"({"error_code":")") + text + "\"}", b, storage).ok());
    CHECK(b.error_code == code);
    CHECK(kom::to_string(code) == text);
    CHECK(kom::klarna_error_code_from_string(text) == code);
  }
  const std::pair<const char*, kom::order_status> statuses[] = {
      {"AUTHORIZED", kom::order_status::authorized}, {"PART_CAPTURED", kom::order_status::part_captured},
      {"CAPTURED", kom::order_status::captured},     {"CANCELLED", kom::order_status::cancelled},
      {"EXPIRED", kom::order_status::expired},       {"CLOSED", kom::order_status::closed}};
  for (const auto& [text, status] : statuses) {
    kom::order_storage<> storage;
    kom::order r;
    REQUIRE(kom::read_order(std::string(R"({"status":")") + text + "\"}", r, storage).ok());
    CHECK(r.status == status);
    CHECK(kom::to_string(status) == text);
  }
  const std::pair<const char*, kom::fraud_status> frauds[] = {
      {"ACCEPTED", kom::fraud_status::accepted}, {"PENDING", kom::fraud_status::pending},
      {"REJECTED", kom::fraud_status::rejected}};
  for (const auto& [text, fraud] : frauds) {
    CHECK(kom::fraud_status_from_string(text) == fraud);
    CHECK(kom::to_string(fraud) == text);
  }
  CHECK(kom::to_string(kom::order_status::unknown).empty());
  CHECK(kom::to_string(kom::klarna_error_code::unset).empty());
}

TEST_CASE("json readers: error bodies: missing fields, error_message singular, service_version") {
  kom::error_body_storage<> storage;
  kom::error_body b;
  REQUIRE(kom::read_error_body("{}", b, storage).ok());
  CHECK(b.error_code == kom::klarna_error_code::unset);
  CHECK(b.error_messages.empty());
  CHECK(b.correlation_id.empty());

  REQUIRE(kom::read_error_body(R"({"error_code":"NOT_ALLOWED","error_message":"Order has no captures",
                                   "correlation_id":"abc","service_version":"1.0.42"})", b, storage).ok());
  CHECK(b.error_code == kom::klarna_error_code::not_allowed);
  REQUIRE(b.error_messages.size() == 1);
  CHECK(b.error_messages[0] == "Order has no captures");
  CHECK(b.correlation_id == "abc");
  CHECK(b.service_version == "1.0.42");

  REQUIRE(kom::read_error_body(R"({"error_message":["a","b"]})", b, storage).ok());
  REQUIRE(b.error_messages.size() == 2);
  CHECK(b.error_messages[1] == "b");
  REQUIRE(kom::read_error_body(R"({"error_messages":"a single message"})", b, storage).ok());
  REQUIRE(b.error_messages.size() == 1);
  CHECK(b.error_messages[0] == "a single message");
  REQUIRE(kom::read_error_body(R"({"error_message":["a","b"]})", b, storage).ok());
  REQUIRE(b.error_messages.size() == 2);
  CHECK(b.error_messages[1] == "b");

  // Both keys: every message, in the order they come.
  REQUIRE(kom::read_error_body(R"({"error_message":"one","error_messages":["two","three"]})", b, storage).ok());
  REQUIRE(b.error_messages.size() == 3);
  CHECK(b.error_messages[0] == "one");
  CHECK(b.error_messages[2] == "three");

  // CONFLICT comes with an empty list; nulls in the list are skipped.
  REQUIRE(kom::read_error_body(R"({"error_code":"CONFLICT","error_messages":[]})", b, storage).ok());
  CHECK(b.error_code == kom::klarna_error_code::conflict);
  CHECK(b.error_messages.empty());
  REQUIRE(kom::read_error_body(R"({"error_messages":[null,"x",null]})", b, storage).ok());
  REQUIRE(b.error_messages.size() == 1);
  CHECK(b.error_messages[0] == "x");

  // The 422 message Klarna documents, escapes and all.
  REQUIRE(kom::read_error_body(R"({"error_code":"UNPROCESSABLE_ENTITY","error_messages":["[The size of the\nshipping_info/shipping_company\nvalue must be between 0 and 100]"]})", b, storage).ok());
  CHECK(b.error_code == kom::klarna_error_code::unprocessable_entity);
  CHECK(b.error_messages[0] == "[The size of the\nshipping_info/shipping_company\nvalue must be between 0 and 100]");
}

TEST_CASE("json readers: null for a known field is absent") {
  kom::capture_storage<> storage;
  kom::capture c;
  REQUIRE(kom::read_capture(R"({"capture_id":null,"captured_amount":null,"order_lines":null,"shipping_info":null,
                                "billing_address":null,"description":"d"})", c, storage).ok());
  CHECK(c.capture_id.empty());
  CHECK(c.captured_amount == 0);
  CHECK(c.order_lines.empty());
  CHECK(c.shipping_info.empty());
  CHECK(c.description == "d");
  REQUIRE(kom::read_capture(R"({"order_lines":[null,{"name":"x","tax_rate":null,"product_identifiers":null,"type":null}]})",
                            c, storage).ok());
  REQUIRE(c.order_lines.size() == 1);
  CHECK(c.order_lines[0].name == "x");
  CHECK(!c.order_lines[0].tax_rate);
  CHECK(c.order_lines[0].product_identifiers == nullptr);
  CHECK(c.order_lines[0].type == kom::order_line_type::unset);

  kom::order_storage<> order_storage;
  kom::order r;
  REQUIRE(kom::read_order(R"({"order_amount":null,"remaining_authorized_amount":100,"status":null,"captures":null})",
                          r, order_storage).ok());
  CHECK(!r.order_amount);
  CHECK(r.remaining_authorized_amount == 100);
  CHECK(r.status == kom::order_status::unset);
  CHECK(r.captures.empty());
}

TEST_CASE("json readers: escapes are decoded into the storage") {
  kom::capture_storage<> storage;
  kom::capture c;
  REQUIRE(kom::read_capture(R"({"description":"Caf\u00e9 \"Zum L\u00f6wen\"\\\/\t\ud83d\ude00","reference":""})", c, storage).ok());
  CHECK(c.description == "Caf\xC3\xA9 \"Zum L\xC3\xB6wen\"\\/\t\xF0\x9F\x98\x80");
  CHECK(c.reference.empty());
}

TEST_CASE("json readers: a repeated key: the last value wins, lists included") {
  kom::capture_storage<> storage;
  kom::capture c;
  REQUIRE(kom::read_capture(R"({"capture_id":"a","capture_id":"b","order_lines":[{"name":"x"},{"name":"y"}],
                                "order_lines":[{"name":"z"}]})", c, storage).ok());
  CHECK(c.capture_id == "b");
  REQUIRE(c.order_lines.size() == 1);
  CHECK(c.order_lines[0].name == "z");
}

TEST_CASE("json readers: each read starts its storage afresh") {
  kom::capture_storage<kom::capacity::lines<2>, kom::capacity::shipping_entries<1>, kom::capacity::text_bytes<300>> storage;
  kom::capture c;
  for (int i = 0; i < 5; ++i) {
    // Would run out of lines and text by the second read if reads accumulated.
    REQUIRE(kom::read_capture(fixture("capture.json"), c, storage).ok());
    CHECK(c.order_lines.size() == 1);
  }
  kom::capture_storage_ref empty;  // no storage at all: fine for a body that needs none
  REQUIRE(kom::read_capture(R"({"captured_amount":1,"unknown":"x"})", c, empty).ok());
  CHECK(c.captured_amount == 1);
  CHECK(kom::read_capture(R"({"capture_id":"x"})", c, empty).code() == errc::json_text_overflow);
  CHECK(kom::read_capture(R"({"order_lines":[{}]})", c, empty).code() == errc::json_too_many_items);
}

TEST_CASE("json readers: storage converts to its ref only as an lvalue") {
  static_assert(std::is_convertible_v<kom::capture_storage<>&, kom::capture_storage_ref>);
  static_assert(!std::is_convertible_v<kom::capture_storage<>&&, kom::capture_storage_ref>);
  static_assert(std::is_convertible_v<kom::order_storage<>&, kom::order_storage_ref>);
  static_assert(!std::is_convertible_v<kom::order_storage<>&&, kom::order_storage_ref>);
  static_assert(std::is_convertible_v<kom::error_body_storage<>&, kom::error_body_storage_ref>);
  static_assert(!std::is_convertible_v<kom::error_body_storage<>&&, kom::error_body_storage_ref>);
  static_assert(kom::capture_storage<kom::capacity::lines<3>, kom::capacity::shipping_entries<2>, kom::capacity::text_bytes<100>>::lines_capacity == 3);
  kom::capture_storage<kom::capacity::lines<0>, kom::capacity::shipping_entries<0>, kom::capacity::text_bytes<0>, kom::capacity::product_identifiers<0>, kom::capacity::subscriptions<0>> none;  // zero capacities are allowed
  kom::capture c;
  CHECK(kom::read_capture(R"({"captured_amount":5})", c, none).ok());
  CHECK(kom::read_capture(R"({"order_lines":[{}]})", c, none).code() == errc::json_too_many_items);
  MESSAGE("sizeof(kom::capture_storage<>) = " << sizeof(kom::capture_storage<>)
          << ", sizeof(kom::order_storage<>) = " << sizeof(kom::order_storage<>)
          << ", sizeof(kom::error_body_storage<>) = " << sizeof(kom::error_body_storage<>));
}

TEST_CASE("json readers: the default order storage holds 16 full lines; a 17th is an error naming order_lines") {
  // A supermarket-sized order: each line with its product identifiers and URLs.
  const auto order_with = [](int lines) {
    std::string body = R"({"order_id":"o-1","status":"AUTHORIZED","order_lines":[)";
    for (int i = 0; i < lines; ++i) {
      const std::string n = std::to_string(i);
      if (i != 0) body += ",";
      body += R"({"type":"physical","reference":"SKU-)" + n + R"(","name":"Article number )" + n +
              R"(","quantity":1,"quantity_unit":"pcs","unit_price":1000,"tax_rate":2500,"total_amount":1000,)"
              R"("total_tax_amount":200,"product_url":"https://shop.example/p/)" + n +
              R"(","image_url":"https://shop.example/img/)" + n + R"(.png","product_identifiers":{"brand":"Acme",)"
              R"("category_path":"Food > Vegetables","global_trade_item_number":"73585829316)" + n.substr(0, 1) + R"("}})";
    }
    return body + "]}";
  };
  kom::order_storage<> storage;
  kom::order o;
  REQUIRE(kom::read_order(order_with(16), o, storage).ok());
  REQUIRE(o.order_lines.size() == 16);
  CHECK(o.order_lines[15].reference == "SKU-15");
  REQUIRE(o.order_lines[15].product_identifiers != nullptr);
  CHECK(o.order_lines[15].product_identifiers->brand == "Acme");
  CHECK(!o.truncated);
  const kom::error e = kom::read_order(order_with(17), o, storage);
  CHECK(e.code() == errc::json_too_many_items);
  CHECK(e.path() == "order_lines");
  CHECK(e.detail() == 16);
  kom::read_options allow;
  allow.allow_truncation = true;
  REQUIRE(kom::read_order(order_with(17), o, storage, allow).ok());
  CHECK(o.order_lines.size() == 16);
  CHECK(o.truncated);
  // More lines are the caller's choice of capacities.
  static kom::order_storage<kom::capacity::lines<64>, kom::capacity::product_identifiers<64>,
                            kom::capacity::text_bytes<16384>>
      big;
  REQUIRE(kom::read_order(order_with(60), o, big).ok());
  CHECK(o.order_lines.size() == 60);
}

TEST_CASE("json readers: skip_lists_without_storage reads a listing's ids and amounts, whatever its lines") {
  char text[512];
  kom::capture_storage_ref text_only;
  text_only.text = text;
  text_only.text_capacity = sizeof text;
  kom::capture items[4];
  kom::capture_list list;
  // Without the option a null array has no room: the listing's lines are an error.
  CHECK(kom::read_captures(fixture("captures.json"), list, items, text_only).code() == errc::json_too_many_items);
  kom::read_options skip;
  skip.skip_lists_without_storage = true;
  REQUIRE(kom::read_captures(fixture("captures.json"), list, items, text_only, skip).ok());
  REQUIRE(list.captures.size() == 2);
  CHECK(list.captures[0].capture_id == "5b33ed47-79d0-4d76-99ea-4afaa7c8e552");
  CHECK(list.captures[0].captured_amount == 6000);
  CHECK(list.captures[0].order_lines.empty());
  CHECK(list.captures[1].reference == "POS-0042-2");
  CHECK(!list.truncated);
}
