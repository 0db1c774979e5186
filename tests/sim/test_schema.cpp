// Checks kom-sim's JSON answers (capture, captures list, refund, order, errors) against the schemas of
// Klarna's 2024 spec (tests/sim/spec/order-management-api-openapi.yml). No YAML library: the
// file is machine-written with a fixed layout (two-space indents, sorted keys), so a small
// line-based reader extracts components.schemas.<name>.properties.<prop>.{type, $ref, items,
// format, enum, minimum, maximum, maxLength}.
#include <doctest/doctest.h>

#include "test_support.hpp"

#include <fstream>
#include <map>
#include <optional>
#include <algorithm>
#include <set>

using namespace simtest;
namespace json = boost::json;

namespace {

struct Property {
  std::string type, ref, format;
  std::string items_type, items_ref;
  std::vector<std::string> enum_values;
  std::optional<long long> minimum, maximum, max_length;
};
using Schema = std::map<std::string, Property>;
using Schemas = std::map<std::string, Schema>;

std::size_t indent_of(const std::string& l) {
  std::size_t i = 0;
  while (i < l.size() && l[i] == ' ') ++i;
  return i;
}

std::string unquote(std::string v) {
  if (v.size() >= 2 && (v.front() == '\'' || v.front() == '"') && v.back() == v.front())
    v = v.substr(1, v.size() - 2);
  return v;
}

std::string ref_name(const std::string& v) {
  std::string r = unquote(v);
  const std::string prefix = "#/components/schemas/";
  REQUIRE(r.rfind(prefix, 0) == 0);
  return r.substr(prefix.size());
}

Schemas read_schemas(const std::string& file) {
  std::ifstream in(file);
  REQUIRE_MESSAGE(in.good(), "cannot read the spec at " << file);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  Schemas out;
  bool in_schemas = false;
  std::string schema, prop;
  enum { none, props, items, enums } where = none;
  for (std::size_t n = 0; n < lines.size(); ++n) {
    const std::string& l = lines[n];
    if (l.find_first_not_of(' ') == std::string::npos) continue;
    std::size_t ind = indent_of(l);
    std::string t = l.substr(ind);
    if (ind == 0) {
      in_schemas = false;
      continue;
    }
    if (ind == 2) {
      in_schemas = t == "schemas:";
      continue;
    }
    if (!in_schemas) continue;
    auto kv = [&](std::string& key, std::string& value) {
      auto c = t.find(": ");
      if (c == std::string::npos) {
        key = t.back() == ':' ? t.substr(0, t.size() - 1) : t;
        value.clear();
      } else {
        key = t.substr(0, c);
        value = t.substr(c + 2);
      }
    };
    std::string key, value;
    kv(key, value);
    if (ind == 4) {
      schema = key;
      out[schema];
      where = none;
    } else if (ind == 6) {
      where = key == "properties" ? props : none;
    } else if (ind == 8 && where != none) {
      prop = key;
      out[schema][prop];
      where = props;
    } else if (ind == 10 && where != none) {
      Property& p = out[schema][prop];
      where = props;
      if (key == "type") p.type = value;
      else if (key == "$ref") p.ref = ref_name(value);
      else if (key == "format") p.format = value;
      else if (key == "minimum") p.minimum = std::stoll(value);
      else if (key == "maximum") p.maximum = std::stoll(value);
      else if (key == "maxLength") p.max_length = std::stoll(value);
      else if (key == "items") where = items;
      else if (key == "enum") where = enums;
    } else if (ind == 12 && where == items) {
      Property& p = out[schema][prop];
      if (key == "type") p.items_type = value;
      else if (key == "$ref") p.items_ref = ref_name(value);
    } else if (ind >= 12 && where == enums) {
      // "- VALUE", or "- >-" followed by the value on the next, deeper line.
      if (t.rfind("- ", 0) == 0) {
        std::string v = t.substr(2);
        if (v == ">-" && n + 1 < lines.size()) {
          ++n;
          v = lines[n].substr(indent_of(lines[n]));
        }
        v = unquote(v);
        if (v != "null") {
          // The spec writes order_line.type as one alternation string: read it as the set.
          std::size_t start = 0, bar;
          while ((bar = v.find('|', start)) != std::string::npos) {
            out[schema][prop].enum_values.push_back(v.substr(start, bar - start));
            start = bar + 1;
          }
          out[schema][prop].enum_values.push_back(v.substr(start));
        }
      }
    }
  }
  return out;
}

const Schemas& schemas() {
  static const Schemas s = read_schemas(KOM_SIM_SPEC);
  return s;
}

std::size_t code_points(const std::string& s) {
  std::size_t n = 0;
  for (char c : s)
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
  return n;
}

bool type_ok(const json::value& v, const std::string& type) {
  if (type == "integer") return v.is_int64() || v.is_uint64();
  if (type == "number") return v.is_number();
  if (type == "string") return v.is_string();
  if (type == "boolean") return v.is_bool();
  if (type == "array") return v.is_array();
  if (type == "object") return v.is_object();
  return false;
}

// Appends a line per violation; `seen` collects "Schema.property" names the sim emitted.
void validate(const json::value& v, const std::string& schema_name, const std::string& path,
              std::vector<std::string>& errors, std::set<std::string>& seen) {
  auto sit = schemas().find(schema_name);
  if (sit == schemas().end()) {
    errors.push_back(path + ": no schema " + schema_name);
    return;
  }
  if (!v.is_object()) {
    errors.push_back(path + ": not an object (schema " + schema_name + ")");
    return;
  }
  for (const auto& kv : v.as_object()) {
    std::string key(kv.key());
    std::string p = path + "." + key;
    auto pit = sit->second.find(key);
    if (pit == sit->second.end()) {
      errors.push_back(p + ": not a property of " + schema_name);
      continue;
    }
    seen.insert(schema_name + "." + key);
    const Property& prop = pit->second;
    const json::value& x = kv.value();
    if (!prop.ref.empty()) {
      validate(x, prop.ref, p, errors, seen);
      continue;
    }
    if (!type_ok(x, prop.type)) {
      errors.push_back(p + ": expected " + prop.type + ", got " + json::serialize(x).substr(0, 60));
      continue;
    }
    if (x.is_string()) {
      std::string s(x.as_string());
      if (prop.max_length && static_cast<long long>(code_points(s)) > *prop.max_length)
        errors.push_back(p + ": longer than maxLength");
      if (prop.format == "date-time" && !is_iso8601(s))
        errors.push_back(p + ": not an ISO 8601 date-time: " + s);
      if (!prop.enum_values.empty() &&
          std::find(prop.enum_values.begin(), prop.enum_values.end(), s) == prop.enum_values.end())
        errors.push_back(p + ": not in the enum: " + s);
    }
    if (x.is_int64()) {
      if (prop.minimum && x.as_int64() < *prop.minimum) errors.push_back(p + ": below minimum");
      if (prop.maximum && x.as_int64() > *prop.maximum) errors.push_back(p + ": above maximum");
    }
    if (x.is_array()) {
      const auto& a = x.as_array();
      for (std::size_t i = 0; i < a.size(); ++i) {
        std::string ip = p + "[" + std::to_string(i) + "]";
        if (!prop.items_ref.empty()) validate(a[i], prop.items_ref, ip, errors, seen);
        else if (!prop.items_type.empty() && !type_ok(a[i], prop.items_type))
          errors.push_back(ip + ": expected " + prop.items_type);
      }
    }
  }
}

std::vector<std::string> check(const json::value& v, const std::string& schema_name,
                               std::set<std::string>* seen_out = nullptr) {
  std::vector<std::string> errors;
  std::set<std::string> seen;
  validate(v, schema_name, "$", errors, seen);
  if (seen_out != nullptr) seen_out->insert(seen.begin(), seen.end());
  return errors;
}

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& e : v) s += e + "\n";
  return s;
}

std::string http_noauth(const std::string& method, const std::string& target, const std::string& body = {}) {
  return http(method, target, body, {}, false);
}

}  // namespace

TEST_CASE("schema reader: reads the 2024 spec's schemas") {
  const auto& s = schemas();
  REQUIRE(s.count("Capture") == 1);
  REQUIRE(s.count("MerchantOrderDto") == 1);
  REQUIRE(s.count("order_line") == 1);
  REQUIRE(s.count("shipping_info") == 1);
  REQUIRE(s.count("Refund") == 1);
  REQUIRE(s.count("address") == 1);
  REQUIRE(s.count("InitialPaymentMethodDto") == 1);
  CHECK(s.at("Refund").size() == 7);
  CHECK(s.at("Refund").at("refunded_at").format == "date-time");
  CHECK(s.at("address").size() == 13);
  CHECK(s.at("address").at("postal_code").max_length == 10);
  CHECK(s.at("MerchantOrderDto").at("refunds").items_ref == "Refund");
  CHECK(s.at("MerchantOrderDto").at("initial_payment_method").ref == "InitialPaymentMethodDto");
  CHECK(s.at("RefundObject").at("refunded_amount").maximum == 200000000);
  CHECK(s.at("Capture").size() == 11);
  CHECK(s.at("Capture").at("captured_amount").type == "integer");
  CHECK(s.at("Capture").at("order_lines").items_ref == "order_line");
  CHECK(s.at("Capture").at("billing_address").ref == "address");
  CHECK(s.at("MerchantOrderDto").at("status").enum_values.size() == 6);
  CHECK(s.at("order_line").at("type").enum_values.size() == 9);
  CHECK(s.at("order_line").at("quantity_unit").max_length == 10);
  CHECK(s.at("CaptureObject").at("captured_amount").maximum == 200000000);
  CHECK(s.at("ErrorMessageDto").at("error_messages").items_type == "string");
  // The validator is not vacuous.
  CHECK(check(json::parse(R"({"capture_id":"x","bogus":1})"), "Capture").size() == 1);
  CHECK(check(json::parse(R"({"captured_amount":"1"})"), "Capture").size() == 1);
  CHECK(check(json::parse(R"({"order_lines":[{"quantity":"1"}]})"), "Capture").size() == 1);
  CHECK(check(json::parse(R"({"status":"DONE"})"), "MerchantOrderDto").size() == 1);
  CHECK(check(json::parse(R"({"captured_at":"yesterday"})"), "Capture").size() == 1);
  CHECK(check(json::parse(R"({"refunded_at":"yesterday"})"), "Refund").size() == 1);
  CHECK(check(json::parse(R"({"billing_address":{"postal_code":"12345678901"}})"), "MerchantOrderDto").size() == 1);
  CHECK(check(json::parse(R"({"initial_payment_method":{"number_of_installments":"3"}})"), "MerchantOrderDto").size() == 1);
}

TEST_CASE("kom-sim's capture, refund, order and error answers match the 2024 schemas") {
  SimProcess sim({});
  TlsClient c(sim.port());
  std::string id = "schema-order";
  // Every address field, organization_name and attention included.
  const std::string address =
      R"({"attention":"Accounts payable","city":"Hamburg","country":"DE","email":"ap@example.com","family_name":"Berg",)"
      R"("given_name":"Jonas","organization_name":"Rösterei Nord GmbH","phone":"+49 40 1","postal_code":"20457",)"
      R"("region":"HH","street_address":"Hafenweg 3","street_address2":"Hof","title":"Herr"})";
  REQUIRE(c.request(http_noauth("POST", "/_sim/orders",
                                R"({"order_id":"schema-order","order_amount":100000,"purchase_currency":"EUR",)"
                                R"("purchase_country":"DE","locale":"de-DE","merchant_reference1":"m1","merchant_reference2":"m2","merchant_data":"md",)"
                                R"("initial_payment_method":{"type":"FIXED_AMOUNT","description":"Slice it","number_of_installments":3},)"
                                R"("billing_address":)" + address + R"(,"shipping_address":)" + address + ","
                                R"("order_lines":[{"name":"Widget","quantity":2,"unit_price":5000,"total_amount":10000,"type":"physical"}]})"))
              .status == 201);
  std::string base = "/ordermanagement/v1/orders/" + id;
  std::string body = R"({"captured_amount":10000,"description":"d","reference":"r","shipping_delay":0,"order_lines":[)"
                     R"({"name":"Widget","quantity":2,"unit_price":5000,"total_amount":10000,"total_discount_amount":0,"tax_rate":2500,)"
                     R"("total_tax_amount":2000,"type":"physical","reference":"SKU","quantity_unit":"pcs","merchant_data":"x",)"
                     R"("product_url":"https://p","image_url":"https://i","product_identifiers":{"brand":"b","category_path":"c",)"
                     R"("global_trade_item_number":"123","manufacturer_part_number":"m","color":"red","size":"L"},)"
                     R"("subscription":{"name":"s","interval":"MONTH","interval_count":1}}],)"
                     R"("shipping_info":[{"shipping_company":"DHL US","shipping_method":"Home","tracking_number":"1",)"
                     R"("tracking_uri":"https://t","return_shipping_company":"DHL US","return_tracking_number":"2","return_tracking_uri":"https://r"}]})";
  auto cap = c.request(http_noauth("POST", base + "/captures", body));
  REQUIRE(cap.status == 201);
  std::string cid = cap.header("Capture-Id");
  REQUIRE(c.request(http_noauth("POST", base + "/captures/" + cid + "/shipping-info",
                                R"({"shipping_info":[{"shipping_method":"PickUpPoint"}]})")).status == 204);
  REQUIRE(c.request(http_noauth("POST", base + "/captures", R"({"captured_amount":5})")).status == 201);
  auto ref = c.request(http_noauth("POST", base + "/refunds",
                                   R"({"refunded_amount":3000,"description":"Returned","reference":"RF-1","order_lines":[)"
                                   R"({"name":"Widget","quantity":1,"unit_price":5000,"total_amount":5000,"total_discount_amount":2000,)"
                                   R"("tax_rate":2500,"total_tax_amount":600,"type":"physical","reference":"SKU"}]})"));
  REQUIRE(ref.status == 201);
  REQUIRE(c.request(http_noauth("POST", base + "/refunds", R"({"refunded_amount":1})")).status == 201);
  REQUIRE(c.request(http_noauth("PATCH", base + "/authorization", R"({"order_amount":90000})")).status == 204);

  std::set<std::string> seen;
  auto one_refund = c.request(http_noauth("GET", base + "/refunds/" + ref.header("Refund-Id")));
  REQUIRE(one_refund.status == 200);
  auto er = check(one_refund.json(), "Refund", &seen);
  CHECK_MESSAGE(er.empty(), joined(er));

  auto one = c.request(http_noauth("GET", base + "/captures/" + cid));
  REQUIRE(one.status == 200);
  auto e1 = check(one.json(), "Capture", &seen);
  CHECK_MESSAGE(e1.empty(), joined(e1));

  auto list = c.request(http_noauth("GET", base + "/captures"));
  REQUIRE(list.status == 200);
  const json::value list_json = list.json();
  REQUIRE(list_json.is_array());
  CHECK(list_json.as_array().size() == 2);
  for (const auto& item : list_json.as_array()) {
    auto e = check(item, "Capture", &seen);
    CHECK_MESSAGE(e.empty(), joined(e));
  }

  auto order = c.request(http_noauth("GET", base));
  REQUIRE(order.status == 200);
  auto e2 = check(order.json(), "MerchantOrderDto", &seen);
  CHECK_MESSAGE(e2.empty(), joined(e2));

  // Every field the sim knows is there: capture and order line fields made the round trip.
  for (const auto& p : schemas().at("order_line")) CHECK_MESSAGE(seen.count("order_line." + p.first) == 1, p.first);
  for (const auto& p : schemas().at("shipping_info")) CHECK_MESSAGE(seen.count("shipping_info." + p.first) == 1, p.first);
  for (const char* f : {"capture_id", "klarna_reference", "captured_amount", "captured_at", "description",
                        "reference", "order_lines", "refunded_amount", "shipping_info", "billing_address",
                        "shipping_address"})
    CHECK_MESSAGE(seen.count(std::string("Capture.") + f) == 1, f);
  for (const char* f : {"order_id", "status", "fraud_status", "order_amount", "original_order_amount",
                        "captured_amount", "refunded_amount", "remaining_authorized_amount", "purchase_currency",
                        "purchase_country", "locale", "expires_at", "created_at", "klarna_reference", "captures",
                        "refunds", "order_lines", "merchant_reference1", "merchant_reference2", "merchant_data",
                        "initial_payment_method", "billing_address", "shipping_address"})
    CHECK_MESSAGE(seen.count(std::string("MerchantOrderDto.") + f) == 1, f);
  // Refund: all but credit_invoice (B2B credit invoices are not simulated).
  for (const char* f : {"refund_id", "refunded_amount", "refunded_at", "description", "reference", "order_lines"})
    CHECK_MESSAGE(seen.count(std::string("Refund.") + f) == 1, f);
  for (const auto& p : schemas().at("address")) CHECK_MESSAGE(seen.count("address." + p.first) == 1, p.first);
  for (const auto& p : schemas().at("InitialPaymentMethodDto"))
    CHECK_MESSAGE(seen.count("InitialPaymentMethodDto." + p.first) == 1, p.first);

  // Error bodies against the spec's error schemas.
  struct Err { std::string raw; const char* schema; };
  std::vector<Err> errs = {
      {http_noauth("GET", "/ordermanagement/v1/orders/nope"), "No such order error message"},
      {http_noauth("POST", base + "/captures", R"({"captured_amount":99999999})"), "Capture not allowed error message"},
      {http_noauth("POST", base + "/captures/nope/trigger-send-out"), "No such capture error message"},
      {http_noauth("POST", base + "/captures", R"({"captured_amount":0})"), "ErrorMessageDto"},
      {http_noauth("POST", base + "/refunds", R"({"refunded_amount":99999999})"), "Refund not allowed error message"},
      {http_noauth("GET", base + "/refunds/nope"), "Not found error message"},
      {http_noauth("POST", base + "/cancel"), "Cancel not allowed error message"},
      {http_noauth("PATCH", base + "/authorization", R"({"order_amount":1})"), "Not allowed error message"},
      {http_noauth("POST", base + "/refunds", R"({"refunded_amount":0})"), "ErrorMessageDto"},
  };
  for (const auto& e : errs) {
    auto r = c.request(e.raw);
    CHECK(r.status >= 400);
    auto problems = check(r.json(), e.schema);
    CHECK_MESSAGE(problems.empty(), e.schema << ": " << joined(problems));
  }
  CHECK(sim.stop() == 0);
}
