// kom-sim's model of Klarna Order Management: orders, captures, refunds, order changes (cancel,
// release, extend, merchant references, authorization), idempotency, rate limit, authentication
// and the test-only /_sim paths. The server (main.cpp) hands each parsed request to Sim::handle.

#include "sim.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <random>

#include <mbedtls/base64.h>

namespace sim {
namespace json = boost::json;

const std::string* Request::header(const std::string& name) const {
  for (const auto& h : headers)
    if (h.first.size() == name.size() && lower(h.first) == lower(name)) return &h.second;
  return nullptr;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

namespace {

// Days since 1970-01-01 of a civil date (proleptic Gregorian).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

bool digits(const std::string& s, std::size_t pos, std::size_t n, int& out) {
  if (pos + n > s.size()) return false;
  out = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

std::mutex rng_mu;
std::mt19937_64& rng() {
  static std::mt19937_64 g{[] {
    std::random_device rd;
    return (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  }()};
  return g;
}

const std::string orders_prefix = "/ordermanagement/v1/orders/";

// What POST /extend-authorization-time adds to expires_at.
constexpr std::int64_t extension_seconds = 28 * 86400;

// Splits a path into segments, percent-decoding each; false on a bad escape.
bool split_path(const std::string& path, std::vector<std::string>& out) {
  std::size_t i = 0;
  while (i < path.size()) {
    if (path[i] != '/') return false;
    std::size_t j = path.find('/', i + 1);
    if (j == std::string::npos) j = path.size();
    std::string seg;
    for (std::size_t k = i + 1; k < j; ++k) {
      if (path[k] == '%') {
        if (k + 2 >= j) return false;
        if (!std::isxdigit(static_cast<unsigned char>(path[k + 1])) ||
            !std::isxdigit(static_cast<unsigned char>(path[k + 2])))
          return false;
        seg += static_cast<char>(std::stoi(path.substr(k + 1, 2), nullptr, 16));
        k += 2;
      } else {
        seg += path[k];
      }
    }
    out.push_back(seg);
    i = j;
  }
  return true;
}

// Percent-encodes a path segment (everything but RFC 3986 unreserved characters).
std::string encode_segment(const std::string& s) {
  std::string out;
  for (char ch : s) {
    auto u = static_cast<unsigned char>(ch);
    if (std::isalnum(u) || ch == '-' || ch == '.' || ch == '_' || ch == '~') {
      out += ch;
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", static_cast<unsigned>(u));
      out += buf;
    }
  }
  return out;
}

}  // namespace

std::string iso8601(std::int64_t t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[80];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

bool parse_iso8601(const std::string& s, std::int64_t& out) {
  int y, mo, d, h, mi, se;
  if (!digits(s, 0, 4, y) || s.size() < 20 || s[4] != '-' || !digits(s, 5, 2, mo) ||
      s[7] != '-' || !digits(s, 8, 2, d) || (s[10] != 'T' && s[10] != 't') ||
      !digits(s, 11, 2, h) || s[13] != ':' || !digits(s, 14, 2, mi) || s[16] != ':' ||
      !digits(s, 17, 2, se))
    return false;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) return false;
  std::size_t i = 19;
  if (i < s.size() && s[i] == '.') {
    ++i;
    std::size_t start = i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
    if (i == start) return false;
  }
  std::int64_t offset = 0;
  if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
    ++i;
  } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    int oh, om;
    if (!digits(s, i + 1, 2, oh) || i + 3 >= s.size() || s[i + 3] != ':' || !digits(s, i + 4, 2, om))
      return false;
    offset = (oh * 3600 + om * 60) * (s[i] == '+' ? 1 : -1);
    i += 6;
  } else {
    return false;
  }
  if (i != s.size()) return false;
  out = days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * 86400 +
        h * 3600 + mi * 60 + se - offset;
  return true;
}

std::string uuid4() {
  std::uint64_t a, b;
  {
    std::lock_guard<std::mutex> lock(rng_mu);
    a = rng()();
    b = rng()();
  }
  a = (a & 0xFFFFFFFFFFFF0FFFULL) | 0x0000000000004000ULL;  // version 4
  b = (b & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;  // variant 10
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx",
                static_cast<unsigned>(a >> 32), static_cast<unsigned>((a >> 16) & 0xFFFF),
                static_cast<unsigned>(a & 0xFFFF), static_cast<unsigned>(b >> 48),
                static_cast<unsigned long long>(b & 0xFFFFFFFFFFFFULL));
  return buf;
}

Response error_response(int status, const std::string& code, const std::string& message,
                        const std::string& correlation_id) {
  Response r;
  r.status = status;
  json::object o;
  o["error_code"] = code;
  json::array msgs;
  msgs.emplace_back(message);
  o["error_messages"] = std::move(msgs);
  o["correlation_id"] = correlation_id;
  r.body = json::serialize(o);
  r.headers.emplace_back("Content-Type", "application/json");
  return r;
}

namespace {

Response json_response(int status, const json::value& v) {
  Response r;
  r.status = status;
  r.body = json::serialize(v);
  r.headers.emplace_back("Content-Type", "application/json");
  return r;
}

Response empty_response(int status) {
  Response r;
  r.status = status;
  return r;
}

std::string random_reference() {
  static const char alphabet[] = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
  std::string s = "K";
  std::lock_guard<std::mutex> lock(rng_mu);
  for (int i = 0; i < 6; ++i) s += alphabet[rng()() % (sizeof alphabet - 1)];
  return s;
}

}  // namespace

Sim::Sim(Options o) : opt_(std::move(o)) {
  clock_base_ = opt_.clock_start != 0 ? opt_.clock_start
                                      : static_cast<std::int64_t>(std::time(nullptr));
}

std::int64_t Sim::now() const {
  auto elapsed = std::chrono::duration_cast<std::chrono::seconds>(
                     std::chrono::steady_clock::now() - started_)
                     .count();
  return clock_base_ + clock_offset_.load() + static_cast<std::int64_t>(elapsed);
}

std::string Sim::add_order(const json::value& v, bool& duplicate) {
  duplicate = false;
  if (!v.is_object()) return "an order must be a JSON object";
  const auto& o = v.get_object();
  Order ord;
  bool have_payment_method = false;
  for (const auto& kv : o) {
    std::string k(kv.key());
    const json::value& x = kv.value();
    auto need_string = [&](std::string& into) -> std::string {
      if (!x.is_string()) return k + ": must be a string";
      into = std::string(x.get_string());
      return {};
    };
    std::string e;
    if (k == "order_id") {
      e = need_string(ord.order_id);
      if (e.empty() && (ord.order_id.empty() || ord.order_id.size() > 255 ||
                        ord.order_id.find('/') != std::string::npos))
        e = "order_id: must be 1..255 characters without '/'";
    } else if (k == "order_amount") {
      if (!x.is_int64() || x.get_int64() < 0) e = "order_amount: must be a non-negative integer";
      else ord.order_amount = x.get_int64();
    } else if (k == "captured_amount") {
      if (!x.is_int64() || x.get_int64() < 0) e = "captured_amount: must be a non-negative integer";
      else ord.captured_amount = x.get_int64();
    } else if (k == "purchase_currency") {
      e = need_string(ord.purchase_currency);
    } else if (k == "status") {
      e = need_string(ord.status);
      static const char* const statuses[] = {"AUTHORIZED", "PART_CAPTURED", "CAPTURED",
                                             "CANCELLED",  "EXPIRED",       "CLOSED"};
      if (e.empty() && std::none_of(std::begin(statuses), std::end(statuses),
                                    [&](const char* s) { return ord.status == s; }))
        e = "status: must be one of AUTHORIZED, PART_CAPTURED, CAPTURED, CANCELLED, EXPIRED, CLOSED";
    } else if (k == "fraud_status") {
      e = need_string(ord.fraud_status);
    } else if (k == "expires_at") {
      e = need_string(ord.expires_at);
      if (e.empty() && !parse_iso8601(ord.expires_at, ord.expires_epoch))
        e = "expires_at: must be an ISO 8601 date-time";
    } else if (k == "created_at") {
      std::int64_t ignored;
      e = need_string(ord.created_at);
      if (e.empty() && !parse_iso8601(ord.created_at, ignored))
        e = "created_at: must be an ISO 8601 date-time";
    } else if (k == "klarna_reference") {
      e = need_string(ord.klarna_reference);
    } else if (k == "purchase_country" || k == "locale" || k == "merchant_data") {
      if (!x.is_string()) e = k + ": must be a string";
      else ord.extra[k] = x;
    } else if (k == "merchant_reference1" || k == "merchant_reference2") {
      // Checked as PATCH /merchant-references checks them.
      json::object one;
      one[k] = x;
      e = validate_merchant_references(one);
      if (e.empty()) (k == "merchant_reference1" ? ord.merchant_reference1 : ord.merchant_reference2) = x;
    } else if (k == "order_lines") {
      e = validate_order_lines(x, k);
      if (e.empty()) ord.order_lines = x.get_array();
    } else if (k == "initial_payment_method") {
      e = validate_initial_payment_method(x, k);
      if (e.empty()) {
        ord.initial_payment_method = x.get_object();
        have_payment_method = true;
      }
    } else if (k == "billing_address" || k == "shipping_address") {
      e = validate_address(x, k);
      if (e.empty()) (k == "billing_address" ? ord.billing_address : ord.shipping_address) = x;
    } else {
      e = k + ": unknown field (known: order_id, order_amount, captured_amount, purchase_currency, "
              "status, fraud_status, expires_at, created_at, klarna_reference, purchase_country, "
              "locale, merchant_reference1, merchant_reference2, merchant_data, order_lines, "
              "initial_payment_method, billing_address, shipping_address)";
    }
    if (!e.empty()) return e;
  }
  if (ord.order_id.empty()) return "order_id: is required";
  if (o.find("order_amount") == o.end()) return "order_amount: is required";
  if (ord.purchase_currency.empty()) return "purchase_currency: is required";
  if (ord.captured_amount > ord.order_amount) return "captured_amount: exceeds order_amount";
  ord.original_order_amount = ord.order_amount;
  if (!have_payment_method) {
    // Klarna always names how the customer paid; a plain invoice is the most common.
    ord.initial_payment_method["type"] = "INVOICE";
    ord.initial_payment_method["description"] = "Pay later in 30 days";
  }

  std::lock_guard<std::mutex> lock(mu_);
  std::int64_t t = now();
  if (ord.expires_at.empty()) {
    ord.expires_epoch = t + 28 * 86400;
    ord.expires_at = iso8601(ord.expires_epoch);
  }
  if (ord.created_at.empty()) ord.created_at = iso8601(t);
  if (ord.klarna_reference.empty()) ord.klarna_reference = random_reference();
  if (orders_.count(ord.order_id) != 0) {
    duplicate = true;
    return "order_id: an order " + ord.order_id + " already exists";
  }
  std::string id = ord.order_id;
  orders_.emplace(id, std::move(ord));
  return {};
}

std::string Sim::effective_status(const Order& o) const {
  if (o.status == "AUTHORIZED" && now() > o.expires_epoch) return "EXPIRED";
  return o.status;
}

std::int64_t Sim::remaining_authorized(const Order& o) {
  // A cancelled order, or one whose remaining authorization was released, has nothing left.
  if (o.status == "CANCELLED" || o.status == "CLOSED") return 0;
  return o.order_amount - o.captured_amount;
}

json::object Sim::capture_json(const Capture& c, bool with_sim_fields) const {
  json::object o;
  o["capture_id"] = c.capture_id;
  o["klarna_reference"] = c.klarna_reference;
  o["captured_amount"] = c.captured_amount;
  o["captured_at"] = c.captured_at;
  if (!c.description.is_null()) o["description"] = c.description;
  if (!c.reference.is_null()) o["reference"] = c.reference;
  o["order_lines"] = c.order_lines;
  o["refunded_amount"] = c.refunded_amount;
  o["shipping_info"] = c.shipping_info;
  if (!c.billing_address.is_null()) o["billing_address"] = c.billing_address;
  if (!c.shipping_address.is_null()) o["shipping_address"] = c.shipping_address;
  if (with_sim_fields) o["send_out_count"] = c.send_outs;
  return o;
}

json::object Sim::refund_json(const Refund& r) const {
  json::object o;
  o["refund_id"] = r.refund_id;
  o["refunded_amount"] = r.refunded_amount;
  o["refunded_at"] = r.refunded_at;
  if (!r.description.is_null()) o["description"] = r.description;
  if (!r.reference.is_null()) o["reference"] = r.reference;
  if (!r.order_lines.is_null()) o["order_lines"] = r.order_lines;
  return o;
}

json::object Sim::order_json(const Order& o, bool with_sim_fields) const {
  json::object j;
  j["order_id"] = o.order_id;
  j["status"] = effective_status(o);
  j["fraud_status"] = o.fraud_status;
  j["order_amount"] = o.order_amount;
  j["original_order_amount"] = o.original_order_amount;
  j["captured_amount"] = o.captured_amount;
  j["refunded_amount"] = o.refunded_amount;
  j["remaining_authorized_amount"] = remaining_authorized(o);
  j["purchase_currency"] = o.purchase_currency;
  j["klarna_reference"] = o.klarna_reference;
  j["created_at"] = o.created_at;
  j["expires_at"] = o.expires_at;
  for (const auto& kv : o.extra) j[kv.key()] = kv.value();
  // Klarna leaves unset references out; /_sim/state shows them as null, so tests can read them.
  if (!o.merchant_reference1.is_null() || with_sim_fields) j["merchant_reference1"] = o.merchant_reference1;
  if (!o.merchant_reference2.is_null() || with_sim_fields) j["merchant_reference2"] = o.merchant_reference2;
  j["order_lines"] = o.order_lines;
  json::array caps;
  for (const auto& c : o.captures) caps.emplace_back(capture_json(c, with_sim_fields));
  j["captures"] = std::move(caps);
  json::array refs;
  for (const auto& r : o.refunds) refs.emplace_back(refund_json(r));
  j["refunds"] = std::move(refs);
  j["initial_payment_method"] = o.initial_payment_method;
  if (!o.billing_address.is_null()) j["billing_address"] = o.billing_address;
  if (!o.shipping_address.is_null()) j["shipping_address"] = o.shipping_address;
  if (with_sim_fields) j["expires_at_epoch"] = o.expires_epoch;
  return j;
}

Response Sim::post_capture(Order& o, const json::value& body, const std::string& cid) {
  // Called with mu_ held and the body already validated.
  const auto& b = body.get_object();
  std::int64_t amount = b.at("captured_amount").get_int64();
  const std::string status = effective_status(o);
  const char* refusal = nullptr;
  if (status == "CANCELLED") refusal = "Order is cancelled. Capture not possible.";
  else if (status == "EXPIRED") refusal = "Order has expired. Capture not possible.";
  else if (status == "CLOSED") refusal = "Order is closed. Capture not possible.";
  else if (o.fraud_status == "PENDING")
    refusal = "Order is pending fraud review. Capture not possible.";
  else if (amount > o.order_amount - o.captured_amount)
    refusal = "Captured amount is higher than the remaining authorized amount. Capture not possible.";
  if (refusal != nullptr) return error_response(403, "CAPTURE_NOT_ALLOWED", refusal, cid);

  Capture c;
  c.capture_id = uuid4();
  c.klarna_reference = o.klarna_reference + "-" + std::to_string(o.captures.size() + 1);
  c.captured_amount = amount;
  c.captured_at = iso8601(now());
  if (auto it = b.find("description"); it != b.end()) c.description = it->value();
  if (auto it = b.find("reference"); it != b.end()) c.reference = it->value();
  if (auto it = b.find("order_lines"); it != b.end()) c.order_lines = it->value().get_array();
  if (auto it = b.find("shipping_info"); it != b.end()) c.shipping_info = it->value().get_array();
  // The capture carries the order's addresses as they are when it is made.
  c.billing_address = o.billing_address;
  c.shipping_address = o.shipping_address;
  o.captured_amount += amount;
  o.status = o.captured_amount >= o.order_amount ? "CAPTURED" : "PART_CAPTURED";
  ++applied_posts_;

  Response r = empty_response(201);
  r.headers.emplace_back("Capture-Id", c.capture_id);
  r.headers.emplace_back("Location", "https://localhost:" + std::to_string(opt_.port) +
                                         orders_prefix + encode_segment(o.order_id) + "/captures/" +
                                         c.capture_id);
  o.captures.push_back(std::move(c));
  return r;
}

Response Sim::post_refund(Order& o, const json::value& body, const std::string& cid) {
  // Called with mu_ held and the body already validated.
  const auto& b = body.get_object();
  std::int64_t amount = b.at("refunded_amount").get_int64();
  // "Has captures" is judged by the amount, so a seed with captured_amount (and no capture
  // objects) can be refunded too.
  if (o.captured_amount == 0)
    return error_response(403, "REFUND_NOT_ALLOWED", "Order has no captures. Refund not possible", cid);
  if (amount > o.captured_amount - o.refunded_amount)
    return error_response(403, "REFUND_NOT_ALLOWED",
                          "Refunded amount is higher than the captured amount. Refund not possible.", cid);

  Refund rf;
  rf.refund_id = uuid4();
  rf.refunded_amount = amount;
  rf.refunded_at = iso8601(now());
  if (auto it = b.find("description"); it != b.end()) rf.description = it->value();
  if (auto it = b.find("reference"); it != b.end()) rf.reference = it->value();
  if (auto it = b.find("order_lines"); it != b.end()) rf.order_lines = it->value();
  o.refunded_amount += amount;
  // Spread over the captures, oldest first, each up to what it captured, so that GET captures
  // shows each capture's share. Seeded captured_amount without capture objects takes the rest.
  std::int64_t left = amount;
  for (auto& c : o.captures) {
    std::int64_t share = std::min(left, c.captured_amount - c.refunded_amount);
    c.refunded_amount += share;
    left -= share;
    if (left == 0) break;
  }
  ++applied_posts_;

  Response r = empty_response(201);
  r.headers.emplace_back("Refund-Id", rf.refund_id);
  r.headers.emplace_back("Location", "https://localhost:" + std::to_string(opt_.port) +
                                         orders_prefix + encode_segment(o.order_id) + "/refunds/" +
                                         rf.refund_id);
  o.refunds.push_back(std::move(rf));
  return r;
}

Response Sim::post_cancel(Order& o, const std::string& cid) {
  const std::string status = effective_status(o);
  const char* refusal = nullptr;
  if (o.captured_amount > 0 || !o.captures.empty())
    refusal = "Order has previous captures. Cancel not possible.";
  else if (status == "CANCELLED") refusal = "Order is already cancelled. Cancel not possible.";
  else if (status == "EXPIRED") refusal = "Order has expired. Cancel not possible.";
  else if (status == "CLOSED") refusal = "Order is closed. Cancel not possible.";
  else if (status != "AUTHORIZED") refusal = "Order is not authorized. Cancel not possible.";
  if (refusal != nullptr) return error_response(403, "CANCEL_NOT_ALLOWED", refusal, cid);
  o.status = "CANCELLED";
  ++applied_posts_;
  return empty_response(204);
}

Response Sim::post_release(Order& o, const std::string& cid) {
  const std::string status = effective_status(o);
  const char* refusal = nullptr;
  if (status == "CANCELLED" || o.captured_amount == 0)
    refusal = "Can not release when order is cancelled or has no captures.";
  else if (status == "CLOSED")
    refusal = "Order is closed. Remaining authorization cannot be released.";
  else if (status == "EXPIRED")
    refusal = "Order has expired. Remaining authorization cannot be released.";
  else if (o.captured_amount >= o.order_amount)
    refusal = "Order is fully captured. Remaining authorization cannot be released.";
  if (refusal != nullptr) return error_response(403, "NOT_ALLOWED", refusal, cid);
  o.status = "CLOSED";  // remaining_authorized_amount reads 0 from now on
  ++applied_posts_;
  return empty_response(204);
}

Response Sim::post_extend(Order& o, const std::string& cid) {
  const std::string status = effective_status(o);
  const char* refusal = nullptr;
  if (status == "CANCELLED") refusal = "Order is cancelled. Authorization time cannot be extended.";
  else if (status == "CLOSED") refusal = "Order is closed. Authorization time cannot be extended.";
  else if (status == "CAPTURED")
    refusal = "Order is fully captured. Authorization time cannot be extended.";
  else if (status == "EXPIRED" || now() > o.expires_epoch)
    refusal = "Order has expired. Authorization time cannot be extended.";
  if (refusal != nullptr) return error_response(403, "NOT_ALLOWED", refusal, cid);
  // Each extension adds 28 days to expires_at (not to now), so the result is exact on any clock.
  o.expires_epoch += extension_seconds;
  o.expires_at = iso8601(o.expires_epoch);
  ++applied_posts_;
  return empty_response(204);
}

Response Sim::patch_merchant_references(Order& o, const json::value& body, const std::string& cid) {
  const std::string status = effective_status(o);
  // The spec's 403 says "Can not update a cancelled order."; an expired one is refused alike.
  if (status == "CANCELLED")
    return error_response(403, "NOT_ALLOWED", "Can not update a cancelled order.", cid);
  if (status == "EXPIRED")
    return error_response(403, "NOT_ALLOWED", "Can not update an expired order.", cid);
  const auto& b = body.get_object();
  if (auto it = b.find("merchant_reference1"); it != b.end()) o.merchant_reference1 = it->value();
  if (auto it = b.find("merchant_reference2"); it != b.end()) o.merchant_reference2 = it->value();
  ++applied_posts_;
  return empty_response(204);
}

Response Sim::patch_authorization(Order& o, const json::value& body, const std::string& cid) {
  const auto& b = body.get_object();
  const std::int64_t amount = b.at("order_amount").get_int64();
  const std::string status = effective_status(o);
  std::string refusal;
  if (status == "CANCELLED" || status == "CLOSED" || status == "EXPIRED")
    refusal = "Order is " + lower(status) + ". Authorization cannot be updated.";
  else if (status == "CAPTURED")
    refusal = "Order is fully captured. Authorization cannot be updated.";
  else if (amount < o.captured_amount)
    refusal = "Resulting authorization amount " + std::to_string(amount) +
              " cannot be less than the captured amount " + std::to_string(o.captured_amount) + ".";
  else if (amount > o.original_order_amount)
    refusal = "Resulting authorization amount " + std::to_string(amount) +
              " cannot be higher than the authorized amount " +
              std::to_string(o.original_order_amount) + ".";
  if (!refusal.empty()) return error_response(403, "NOT_ALLOWED", refusal, cid);
  o.order_amount = amount;
  if (auto it = b.find("order_lines"); it != b.end()) o.order_lines = it->value().get_array();
  if (o.captured_amount > 0 && o.captured_amount == amount) o.status = "CAPTURED";
  ++applied_posts_;
  return empty_response(204);
}

Sim::RateDecision Sim::take_token() {
  std::lock_guard<std::mutex> lock(rate_mu_);
  const double rate = opt_.rate_limit;
  const auto t = std::chrono::steady_clock::now();
  if (!rate_started_) {
    rate_started_ = true;
    rate_tokens_ = rate;  // a full bucket: one second's burst
  } else {
    rate_tokens_ = std::min(rate, rate_tokens_ + std::chrono::duration<double>(t - rate_last_).count() * rate);
  }
  rate_last_ = t;
  RateDecision d;
  if (rate_tokens_ >= 1) {
    rate_tokens_ -= 1;
  } else {
    d.limited = true;
    ++rate_limited_;
    d.retry_s = std::max<std::int64_t>(1, static_cast<std::int64_t>(std::ceil((1 - rate_tokens_) / rate)));
  }
  d.remaining = static_cast<int>(std::floor(rate_tokens_));
  d.reset_s = static_cast<std::int64_t>(std::ceil((rate - rate_tokens_) / rate));
  return d;
}

Response Sim::handle(const Request& req) {
  const std::string cid = uuid4();
  Response r;
  const std::string path = req.target.substr(0, req.target.find('?'));
  const bool sim_path = path.rfind("/_sim/", 0) == 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++requests_;
  }
  RateDecision rate;
  if (opt_.rate_limit > 0 && !sim_path) rate = take_token();
  const bool limited = rate.limited;
  if (limited) {
    r = error_response(429, "TOO_MANY_REQUESTS", "Too many requests. Please slow down.", cid);
  } else if (!sim_path && !opt_.username.empty() && [&] {
               const std::string* auth = req.header("Authorization");
               if (auth == nullptr || lower(auth->substr(0, 6)) != "basic ") return true;
               std::string b64 = auth->substr(6);
               while (!b64.empty() && b64.front() == ' ') b64.erase(0, 1);
               while (!b64.empty() && b64.back() == ' ') b64.pop_back();
               unsigned char out[1024];
               std::size_t n = 0;
               if (mbedtls_base64_decode(out, sizeof out, &n,
                                         reinterpret_cast<const unsigned char*>(b64.data()),
                                         b64.size()) != 0)
                 return true;
               return std::string(reinterpret_cast<char*>(out), n) !=
                      opt_.username + ":" + opt_.password;
             }()) {
    r = error_response(401, "UNAUTHORIZED", "Missing or invalid credentials.", cid);
    r.headers.emplace_back("WWW-Authenticate", "Basic realm=\"kom-sim\"");
  } else {
    const std::string* key = req.header("Klarna-Idempotency-Key");
    if ((req.method == "POST" || req.method == "PATCH") && key != nullptr && !sim_path)
      r = with_idempotency(*key, req, cid);
    else
      r = route(req, cid);
  }
  if (opt_.rate_limit > 0 && !sim_path) {
    // As Klarna writes them: "40, 40;w=1" is 40 requests in a window of 1 second.
    const std::string n = std::to_string(opt_.rate_limit);
    r.headers.emplace_back("X-Ratelimit-Limit", n + ", " + n + ";w=1");
    r.headers.emplace_back("X-Ratelimit-Remaining", std::to_string(rate.remaining));
    r.headers.emplace_back("X-Ratelimit-Reset", std::to_string(rate.reset_s));
    if (limited) r.headers.emplace_back("Retry-After", std::to_string(rate.retry_s));
  }
  bool has_cid = false;
  for (const auto& h : r.headers)
    if (h.first == "Klarna-Correlation-Id") has_cid = true;
  if (!has_cid) r.headers.emplace_back("Klarna-Correlation-Id", cid);
  return r;
}

Response Sim::with_idempotency(const std::string& key, const Request& req, const std::string& cid) {
  std::shared_ptr<KeyEntry> e;
  {
    std::lock_guard<std::mutex> lock(keys_mu_);
    auto& slot = keys_[key];
    const std::int64_t t = now();
    if (slot == nullptr) {
      slot = std::make_shared<KeyEntry>();
      slot->first_seen = t;
    } else if (slot->done && t - slot->first_seen >= 24 * 3600) {
      // Outside the 24 h window the key is honoured no more: start afresh.
      {
        slot = std::make_shared<KeyEntry>();
        slot->first_seen = t;
      }
    }
    e = slot;
  }
  std::lock_guard<std::mutex> lock(e->mu);
  if (!e->done) {
    Response r = route(req, cid);
    r.headers.emplace_back("Klarna-Correlation-Id", cid);
    e->response = r;
    e->done = true;  // after the response is stored, and under e->mu
    return r;
  }
  return e->response;
}

Response Sim::route(const Request& req, const std::string& cid) {
  const std::string path = req.target.substr(0, req.target.find('?'));
  std::vector<std::string> seg;
  if (!split_path(path, seg))
    return error_response(400, "BAD_REQUEST", "Malformed request path.", cid);
  auto method_not_allowed = [&](const char* allow) {
    Response r = error_response(405, "METHOD_NOT_ALLOWED",
                                "Method " + req.method + " is not allowed on " + path + ".", cid);
    r.headers.emplace_back("Allow", allow);
    return r;
  };
  auto parse_body = [&](json::value& out) -> bool {
    boost::system::error_code ec;
    out = json::parse(req.body, ec);
    return !ec;
  };

  // ---- test-only paths -------------------------------------------------------------------
  if (seg.size() == 2 && seg[0] == "_sim") {
    if (seg[1] == "orders") {
      if (req.method != "POST") return method_not_allowed("POST");
      json::value v;
      if (!parse_body(v)) return error_response(400, "BAD_REQUEST", "Body is not valid JSON.", cid);
      bool dup = false;
      std::string e = add_order(v, dup);
      if (!e.empty()) return error_response(dup ? 409 : 400, dup ? "CONFLICT" : "BAD_REQUEST", e, cid);
      std::lock_guard<std::mutex> lock(mu_);
      return json_response(201, order_json(orders_.at(std::string(v.at("order_id").get_string())), false));
    }
    if (seg[1] == "state") {
      if (req.method != "GET") return method_not_allowed("GET");
      std::lock_guard<std::mutex> lock(mu_);
      json::object s;
      s["now"] = iso8601(now());
      s["now_epoch"] = now();
      s["applied_posts"] = applied_posts_;
      s["requests"] = requests_;
      s["handshakes_full"] = handshakes_full_.load();
      s["handshakes_resumed"] = handshakes_resumed_.load();
      s["connections_open"] = connections_open_.load();
      s["connections_peak"] = connections_peak_.load();
      {
        std::lock_guard<std::mutex> rlock(rate_mu_);
        s["rate_limited"] = rate_limited_;
      }
      json::array os;
      for (const auto& kv : orders_) os.emplace_back(order_json(kv.second, true));
      s["orders"] = std::move(os);
      {
        std::lock_guard<std::mutex> klock(keys_mu_);
        s["idempotency_keys"] = keys_.size();
      }
      return json_response(200, s);
    }
    if (seg[1] == "clock") {
      if (req.method != "POST") return method_not_allowed("POST");
      json::value v;
      if (!parse_body(v) || !v.is_object() || v.as_object().size() != 1 ||
          !v.as_object().contains("advance_seconds") || !v.at("advance_seconds").is_int64() ||
          v.at("advance_seconds").get_int64() < 0)
        return error_response(400, "BAD_REQUEST",
                              "Body must be {\"advance_seconds\": N} with N >= 0.", cid);
      std::lock_guard<std::mutex> lock(mu_);
      clock_offset_ += v.at("advance_seconds").get_int64();
      json::object s;
      s["now"] = iso8601(now());
      s["now_epoch"] = now();
      return json_response(200, s);
    }
  }

  // ---- Klarna's paths --------------------------------------------------------------------
  if (seg.size() < 4 || seg[0] != "ordermanagement" || seg[1] != "v1" || seg[2] != "orders" ||
      seg.size() > 7)
    return error_response(404, "NOT_FOUND", "No such resource: " + path, cid);
  const std::string& order_id = seg[3];
  enum class Kind {
    none, order, captures, capture, shipping, sendout, refunds, refund,
    cancel, release, extend, merchant_references, authorization
  };
  Kind kind = Kind::none;
  const char* allow = "";  // the methods the resource takes, as the Allow header lists them
  const std::string sub = seg.size() > 4 ? seg[4] : std::string();
  if (seg.size() == 4) {
    kind = Kind::order, allow = "GET";
  } else if (seg.size() == 5) {
    if (sub == "captures") kind = Kind::captures, allow = "GET, POST";
    else if (sub == "refunds") kind = Kind::refunds, allow = "POST";
    else if (sub == "cancel") kind = Kind::cancel, allow = "POST";
    else if (sub == "release-remaining-authorization") kind = Kind::release, allow = "POST";
    else if (sub == "extend-authorization-time") kind = Kind::extend, allow = "POST";
    else if (sub == "merchant-references") kind = Kind::merchant_references, allow = "PATCH";
    else if (sub == "authorization") kind = Kind::authorization, allow = "PATCH";
  } else if (seg.size() == 6) {
    if (sub == "captures") kind = Kind::capture, allow = "GET";
    else if (sub == "refunds") kind = Kind::refund, allow = "GET";
  } else if (sub == "captures") {
    if (seg[6] == "shipping-info") kind = Kind::shipping, allow = "POST";
    else if (seg[6] == "trigger-send-out") kind = Kind::sendout, allow = "POST";
  }
  if (kind == Kind::none) return error_response(404, "NOT_FOUND", "No such resource: " + path, cid);
  {
    bool allowed = false;
    const std::string list = std::string(allow) + ", ";
    for (std::size_t at = 0, comma; (comma = list.find(", ", at)) != std::string::npos; at = comma + 2)
      if (list.compare(at, comma - at, req.method) == 0) allowed = true;
    if (!allowed) return method_not_allowed(allow);
  }

  std::unique_lock<std::mutex> lock(mu_);
  auto oit = orders_.find(order_id);
  if (oit == orders_.end())
    return error_response(404, "NO_SUCH_ORDER", "Order " + order_id + " cannot be found.", cid);
  Order& o = oit->second;

  // For calls with a body: parse and validate without the state lock (400 not JSON, 422
  // invalid), then apply to the order under it. Orders are never removed, so it is still there.
  auto with_body = [&](auto validate, auto apply) -> Response {
    lock.unlock();
    json::value v;
    if (!parse_body(v)) return error_response(400, "BAD_REQUEST", "Body is not valid JSON.", cid);
    std::string e = validate(v);
    if (!e.empty()) return error_response(422, "UNPROCESSABLE_ENTITY", e, cid);
    lock.lock();
    return apply(orders_.at(order_id), v);
  };

  switch (kind) {
    case Kind::order:
      return json_response(200, order_json(o, false));
    case Kind::captures:
      if (req.method == "GET") {
        json::array a;
        for (const auto& c : o.captures) a.emplace_back(capture_json(c, false));
        return json_response(200, a);
      }
      return with_body([&](const json::value& v) { return validate_capture(v, opt_.max_captured_amount); },
                       [&](Order& ord, const json::value& v) { return post_capture(ord, v, cid); });
    case Kind::refunds:
      return with_body([](const json::value& v) { return validate_refund(v); },
                       [&](Order& ord, const json::value& v) { return post_refund(ord, v, cid); });
    case Kind::refund: {
      for (const auto& rf : o.refunds)
        if (rf.refund_id == seg[5]) return json_response(200, refund_json(rf));
      return error_response(404, "NOT_FOUND", "Refund " + seg[5] + " could not be found.", cid);
    }
    case Kind::cancel:
      return post_cancel(o, cid);  // no body is defined; one sent is ignored
    case Kind::release:
      return post_release(o, cid);
    case Kind::extend:
      return post_extend(o, cid);
    case Kind::merchant_references:
      return with_body([](const json::value& v) { return validate_merchant_references(v); },
                       [&](Order& ord, const json::value& v) { return patch_merchant_references(ord, v, cid); });
    case Kind::authorization:
      return with_body([](const json::value& v) { return validate_update_authorization(v); },
                       [&](Order& ord, const json::value& v) { return patch_authorization(ord, v, cid); });
    case Kind::capture:
    case Kind::shipping:
    case Kind::sendout:
    case Kind::none:
      break;
  }

  const bool is_shipping = kind == Kind::shipping, is_sendout = kind == Kind::sendout;
  const std::string& capture_id = seg[5];
  auto cit = std::find_if(o.captures.begin(), o.captures.end(),
                          [&](const Capture& c) { return c.capture_id == capture_id; });
  // Klarna refuses shipping info and send-outs on an order without any capture with 403 NOT_ALLOWED
  // ("Order has no captures"); an order that has captures, but not this one, gives 404.
  if (o.captures.empty() && (is_shipping || is_sendout))
    return error_response(403, "NOT_ALLOWED", "Order has no captures.", cid);
  if (cit == o.captures.end()) {
    std::string what = is_shipping ? " Shipping info cannot be added to capture " + capture_id + "."
                       : is_sendout ? " Send out cannot be triggered for capture " + capture_id + "."
                                    : "";
    return error_response(404, "NO_SUCH_CAPTURE", "Capture could not be found." + what, cid);
  }
  if (kind == Kind::capture) return json_response(200, capture_json(*cit, false));
  if (is_sendout) {
    ++cit->send_outs;
    ++applied_posts_;
    return empty_response(204);
  }
  return with_body([](const json::value& v) { return validate_update_shipping_info(v); },
                   [&](Order& ord, const json::value& v) {
                     // Captures are never removed, so the capture is still there; find it
                     // again (the vector may have grown meanwhile).
                     for (auto& c : ord.captures) {
                       if (c.capture_id == capture_id) {
                         for (const auto& si : v.at("shipping_info").get_array())
                           c.shipping_info.push_back(si);
                         ++applied_posts_;
                         return empty_response(204);
                       }
                     }
                     return error_response(404, "NO_SUCH_CAPTURE", "Capture could not be found.", cid);
                   });
}

}  // namespace sim
