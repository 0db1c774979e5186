// kom-sim's own validation of request bodies against the limits of Klarna's 2024 Order
// Management spec (tests/sim/spec/order-management-api-openapi.yml). Written independently of
// kom's validation on purpose: it is the check on it.
//
// Choices where the spec is loose (see README.md):
// - captured_amount must be 1..200000000 (the spec's CaptureObject says minimum 0, but its Capture
//   says minimum 1 and a capture of nothing is not a capture); refunded_amount likewise 1..200000000
//   (RefundObject says minimum 0; a refund of nothing is not a refund).
// - order_line.name must be 1..255 characters (the spec says minLength 0 but marks it required).
// - type, shipping_method and subscription.interval are closed sets, matched exactly.
// - null is refused wherever a value is given; unknown fields are refused at every level.
// - maxLength counts Unicode code points (the parser has already checked UTF-8).

#include "sim.hpp"

#include <cstddef>
#include <cstdint>
#include <set>

namespace sim {
namespace json = boost::json;

namespace {

constexpr std::int64_t max_amount = 200000000;

std::size_t code_points(json::string_view s) {
  std::size_t n = 0;
  for (char c : s)
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
  return n;
}

std::string join(const std::string& at, const std::string& name) {
  return at.empty() ? name : at + "." + name;
}

const char* kind(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null: return "null";
    case json::kind::bool_: return "a boolean";
    case json::kind::int64:
    case json::kind::uint64: return "an integer";
    case json::kind::double_: return "a number with a fraction or exponent";
    case json::kind::string: return "a string";
    case json::kind::array: return "an array";
    case json::kind::object: return "an object";
  }
  return "?";
}

// Each check returns an empty string when fine, else the message.
std::string check_integer(const json::value& v, const std::string& path, std::int64_t lo,
                          std::int64_t hi, std::int64_t& out) {
  if (v.is_int64()) {
    out = v.get_int64();
  } else if (v.is_uint64()) {
    return path + ": must be at most " + std::to_string(hi);
  } else {
    return path + ": must be an integer, got " + kind(v);
  }
  if (out < lo || out > hi)
    return path + ": must be between " + std::to_string(lo) + " and " + std::to_string(hi) +
           ", got " + std::to_string(out);
  return {};
}

std::string check_integer(const json::value& v, const std::string& path, std::int64_t lo,
                          std::int64_t hi) {
  std::int64_t ignored = 0;
  return check_integer(v, path, lo, hi, ignored);
}

std::string check_string(const json::value& v, const std::string& path, std::size_t min_len,
                         std::size_t max_len) {
  if (!v.is_string()) return path + ": must be a string, got " + kind(v);
  std::size_t n = code_points(v.get_string());
  if (n < min_len || n > max_len)
    return path + ": the size must be between " + std::to_string(min_len) + " and " +
           std::to_string(max_len) + " characters, got " + std::to_string(n);
  return {};
}

std::string check_enum(const json::value& v, const std::string& path,
                       const std::set<std::string>& allowed) {
  if (!v.is_string()) return path + ": must be a string, got " + kind(v);
  std::string s(v.get_string());
  if (allowed.count(s) == 0) {
    std::string list;
    for (const auto& a : allowed) list += (list.empty() ? "" : "|") + a;
    return path + ": must be one of " + list + ", got \"" + s + "\"";
  }
  return {};
}

const std::set<std::string>& line_types() {
  static const std::set<std::string> s{"physical",    "discount",  "shipping_fee",
                                       "sales_tax",   "store_credit", "gift_card",
                                       "digital",     "surcharge", "return_fee"};
  return s;
}

const std::set<std::string>& shipping_methods() {
  static const std::set<std::string> s{
      "PickUpStore", "Home",    "BoxReg",          "BoxUnreg",     "PickUpPoint",
      "Own",         "Postal",  "DHLPackstation",  "Digital",      "Undefined",
      "PickUpWarehouse", "ClickCollect", "PalletDelivery"};
  return s;
}

std::string check_object(const json::value& v, const std::string& path) {
  if (!v.is_object()) return (path.empty() ? std::string("body") : path) + ": must be an object, got " + kind(v);
  return {};
}

std::string unknown_field(const std::string& path, json::string_view key) {
  return join(path, std::string(key)) + ": unknown field";
}

std::string check_required(const json::object& o, const std::string& path,
                           std::initializer_list<const char*> names) {
  for (const char* n : names)
    if (o.find(n) == o.end()) return join(path, n) + ": is required";
  return {};
}

std::string check_product_identifiers(const json::value& v, const std::string& path) {
  if (auto e = check_object(v, path); !e.empty()) return e;
  for (const auto& kv : v.get_object()) {
    std::string key(kv.key());
    std::string p = join(path, key);
    std::string e;
    if (key == "brand") e = check_string(kv.value(), p, 0, 70);
    else if (key == "category_path") e = check_string(kv.value(), p, 0, 750);
    else if (key == "global_trade_item_number") e = check_string(kv.value(), p, 0, 50);
    else if (key == "manufacturer_part_number") e = check_string(kv.value(), p, 0, 70);
    else if (key == "color") e = check_string(kv.value(), p, 0, 64);
    else if (key == "size") e = check_string(kv.value(), p, 0, 64);
    else e = unknown_field(path, kv.key());
    if (!e.empty()) return e;
  }
  return {};
}

std::string check_subscription(const json::value& v, const std::string& path) {
  if (auto e = check_object(v, path); !e.empty()) return e;
  const auto& o = v.get_object();
  for (const auto& kv : o) {
    std::string key(kv.key());
    std::string p = join(path, key);
    std::string e;
    if (key == "name") e = check_string(kv.value(), p, 0, 255);
    else if (key == "interval") e = check_enum(kv.value(), p, {"DAY", "WEEK", "MONTH", "YEAR"});
    else if (key == "interval_count") e = check_integer(kv.value(), p, 1, 2147483647);
    else e = unknown_field(path, kv.key());
    if (!e.empty()) return e;
  }
  return check_required(o, path, {"name", "interval", "interval_count"});
}

std::string check_order_line(const json::value& v, const std::string& path) {
  if (auto e = check_object(v, path); !e.empty()) return e;
  const auto& o = v.get_object();
  constexpr std::int64_t int64_min = INT64_MIN;
  constexpr std::int64_t int64_max = INT64_MAX;
  for (const auto& kv : o) {
    std::string key(kv.key());
    std::string p = join(path, key);
    const json::value& x = kv.value();
    std::string e;
    if (key == "name") e = check_string(x, p, 1, 255);
    else if (key == "quantity") e = check_integer(x, p, 0, int64_max);
    else if (key == "unit_price") e = check_integer(x, p, int64_min, max_amount);
    else if (key == "total_amount") e = check_integer(x, p, int64_min, max_amount);
    else if (key == "total_discount_amount") e = check_integer(x, p, 0, max_amount);
    else if (key == "tax_rate") e = check_integer(x, p, 0, 2147483647);
    else if (key == "total_tax_amount") e = check_integer(x, p, int64_min, max_amount);
    else if (key == "type") e = check_enum(x, p, line_types());
    else if (key == "reference") e = check_string(x, p, 0, 255);
    else if (key == "quantity_unit") e = check_string(x, p, 0, 10);
    else if (key == "merchant_data") e = check_string(x, p, 0, 1024);
    else if (key == "product_url") e = check_string(x, p, 0, 1024);
    else if (key == "image_url") e = check_string(x, p, 0, 1024);
    else if (key == "product_identifiers") e = check_product_identifiers(x, p);
    else if (key == "subscription") e = check_subscription(x, p);
    else e = unknown_field(path, kv.key());
    if (!e.empty()) return e;
  }
  return check_required(o, path, {"name", "quantity", "unit_price", "total_amount"});
}

std::string check_shipping_info(const json::value& v, const std::string& path) {
  if (auto e = check_object(v, path); !e.empty()) return e;
  for (const auto& kv : v.get_object()) {
    std::string key(kv.key());
    std::string p = join(path, key);
    const json::value& x = kv.value();
    std::string e;
    if (key == "shipping_company" || key == "return_shipping_company") e = check_string(x, p, 0, 100);
    else if (key == "tracking_number" || key == "return_tracking_number") e = check_string(x, p, 0, 100);
    else if (key == "tracking_uri" || key == "return_tracking_uri") e = check_string(x, p, 0, 1024);
    else if (key == "shipping_method") e = check_enum(x, p, shipping_methods());
    else e = unknown_field(path, kv.key());
    if (!e.empty()) return e;
  }
  return {};
}

using ItemCheck = std::string (*)(const json::value&, const std::string&);

std::string check_array(const json::value& v, const std::string& path, std::size_t min_items,
                        std::size_t max_items, ItemCheck item) {
  if (!v.is_array()) return path + ": must be an array, got " + kind(v);
  const auto& a = v.get_array();
  if (a.size() < min_items || a.size() > max_items)
    return path + ": the number of items must be between " + std::to_string(min_items) + " and " +
           std::to_string(max_items) + ", got " + std::to_string(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    std::string e = item(a[i], path + "[" + std::to_string(i) + "]");
    if (!e.empty()) return e;
  }
  return {};
}

// The 2024 spec's `address` (lower case: billing and shipping addresses of orders and captures).
// `country` has no length limit in the spec; kom-sim takes any string there.
std::string check_address(const json::value& v, const std::string& path) {
  if (auto e = check_object(v, path); !e.empty()) return e;
  for (const auto& kv : v.get_object()) {
    std::string key(kv.key());
    std::string p = join(path, key);
    const json::value& x = kv.value();
    std::string e;
    if (key == "attention" || key == "organization_name") e = check_string(x, p, 0, 255);
    else if (key == "city" || key == "region") e = check_string(x, p, 0, 200);
    else if (key == "country") e = check_string(x, p, 0, SIZE_MAX);
    else if (key == "email" || key == "family_name" || key == "given_name" || key == "phone" ||
             key == "street_address" || key == "street_address2")
      e = check_string(x, p, 0, 100);
    else if (key == "postal_code") e = check_string(x, p, 0, 10);
    else if (key == "title") e = check_string(x, p, 0, 20);
    else e = unknown_field(path, kv.key());
    if (!e.empty()) return e;
  }
  return {};
}

// InitialPaymentMethodDto. The spec lists the types in prose ("One of ACCOUNT, ..."); kom-sim
// takes them as a closed set, and wants a type (an order is paid somehow).
std::string check_initial_payment_method(const json::value& v, const std::string& path) {
  static const std::set<std::string> types{
      "ACCOUNT",          "ALTERNATIVE_PAYMENT_METHOD", "BANK_TRANSFER",     "CARD",
      "DEFERRED_INTEREST", "DIRECT_DEBIT",              "FIXED_AMOUNT_BY_CARD", "FIXED_AMOUNT",
      "FIXED_SUM_CREDIT", "INVOICE_BUSINESS",           "INVOICE",           "MOBILEPAY",
      "PAY_BY_CARD",      "PAY_IN_X",                   "PAY_LATER_BY_CARD", "PAY_LATER_IN_PARTS",
      "SWISH",            "OTHER"};
  if (auto e = check_object(v, path); !e.empty()) return e;
  const auto& o = v.get_object();
  for (const auto& kv : o) {
    std::string key(kv.key());
    std::string p = join(path, key);
    std::string e;
    if (key == "type") e = check_enum(kv.value(), p, types);
    else if (key == "description") e = check_string(kv.value(), p, 0, 255);
    else if (key == "number_of_installments") e = check_integer(kv.value(), p, 0, 2147483647);
    else e = unknown_field(path, kv.key());
    if (!e.empty()) return e;
  }
  return check_required(o, path, {"type"});
}

}  // namespace

std::string validate_order_lines(const json::value& v, const std::string& path) {
  return check_array(v, path, 0, 1000, check_order_line);
}

std::string validate_address(const json::value& v, const std::string& path) {
  return check_address(v, path);
}

std::string validate_initial_payment_method(const json::value& v, const std::string& path) {
  return check_initial_payment_method(v, path);
}

std::string validate_refund(const json::value& body) {
  if (auto e = check_object(body, ""); !e.empty()) return e;
  const auto& o = body.get_object();
  for (const auto& kv : o) {
    std::string key(kv.key());
    const json::value& x = kv.value();
    std::string e;
    if (key == "refunded_amount") e = check_integer(x, key, 1, max_amount);
    else if (key == "description" || key == "reference") e = check_string(x, key, 0, 255);
    else if (key == "order_lines") e = validate_order_lines(x, key);
    else e = unknown_field("", kv.key());
    if (!e.empty()) return e;
  }
  return check_required(o, "", {"refunded_amount"});
}

std::string validate_update_authorization(const json::value& body) {
  if (auto e = check_object(body, ""); !e.empty()) return e;
  const auto& o = body.get_object();
  for (const auto& kv : o) {
    std::string key(kv.key());
    const json::value& x = kv.value();
    std::string e;
    if (key == "order_amount") e = check_integer(x, key, 0, max_amount);
    else if (key == "description") e = check_string(x, key, 0, 255);
    else if (key == "order_lines") e = validate_order_lines(x, key);
    else e = unknown_field("", kv.key());
    if (!e.empty()) return e;
  }
  return check_required(o, "", {"order_amount"});
}

std::string validate_merchant_references(const json::value& body) {
  if (auto e = check_object(body, ""); !e.empty()) return e;
  for (const auto& kv : body.get_object()) {
    std::string key(kv.key());
    std::string e;
    if (key == "merchant_reference1" || key == "merchant_reference2")
      e = check_string(kv.value(), key, 0, 255);
    else e = unknown_field("", kv.key());
    if (!e.empty()) return e;
  }
  return {};
}

std::string validate_capture(const json::value& body, std::int64_t max_captured_amount) {
  if (auto e = check_object(body, ""); !e.empty()) return e;
  const auto& o = body.get_object();
  for (const auto& kv : o) {
    std::string key(kv.key());
    const json::value& x = kv.value();
    std::string e;
    if (key == "captured_amount") e = check_integer(x, key, 1, max_captured_amount);
    else if (key == "description" || key == "reference") e = check_string(x, key, 0, 255);
    else if (key == "order_lines") e = validate_order_lines(x, key);
    else if (key == "shipping_info") e = check_array(x, key, 0, 500, check_shipping_info);
    else if (key == "shipping_delay") e = check_integer(x, key, 0, INT64_MAX);
    else e = unknown_field("", kv.key());
    if (!e.empty()) return e;
  }
  return check_required(o, "", {"captured_amount"});
}

std::string validate_update_shipping_info(const json::value& body) {
  if (auto e = check_object(body, ""); !e.empty()) return e;
  const auto& o = body.get_object();
  for (const auto& kv : o) {
    std::string key(kv.key());
    std::string e;
    if (key == "shipping_info") e = check_array(kv.value(), key, 1, 500, check_shipping_info);
    else e = unknown_field("", kv.key());
    if (!e.empty()) return e;
  }
  return check_required(o, "", {"shipping_info"});
}

}  // namespace sim
