// kom-sim: a local stand-in for Klarna's Order Management API (a test tool, not part of kom).
// Independent of include/kom/: its own HTTP handling, JSON (Boost.JSON DOM) and validation.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <boost/json.hpp>

namespace sim {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Request {
  std::string method;
  std::string target;  // as sent: path and optional query
  Headers headers;
  std::string body;
  // First header with this name (case-insensitive), or nullptr.
  const std::string* header(const std::string& name) const;
};

struct Response {
  int status = 200;
  Headers headers;  // without Content-Length / Transfer-Encoding / Connection (the server adds them)
  std::string body;
};

struct Options {
  std::string username, password;  // both empty: no authentication
  int rate_limit = 0;               // requests per second on Klarna's paths; 0 = off
  int port = 0;                     // the bound port, for Location headers
  std::int64_t clock_start = 0;     // Unix seconds the sim clock starts at; 0 = now
  std::int64_t max_captured_amount = 200000000;  // the 2024 limit; the 2020 API had 100000000
};

// Lower-case copy (ASCII).
std::string lower(std::string s);
// Unix seconds -> "YYYY-MM-DDTHH:MM:SSZ".
std::string iso8601(std::int64_t t);
// "YYYY-MM-DDTHH:MM:SS[.fff][Z|+HH:MM]" -> Unix seconds; false if malformed.
bool parse_iso8601(const std::string& s, std::int64_t& out);
// A random UUID version 4, lower-case.
std::string uuid4();

// Validation against the 2024 spec's CaptureObject / UpdateShippingInfo. Returns an empty string
// when valid, else a message naming the field path ("order_lines[2].quantity_unit: ...").
std::string validate_capture(const boost::json::value& body, std::int64_t max_captured_amount = 200000000);
std::string validate_update_shipping_info(const boost::json::value& body);
// RefundObject, "Update authorization", "Update merchant references" (the request bodies).
std::string validate_refund(const boost::json::value& body);
std::string validate_update_authorization(const boost::json::value& body);
std::string validate_merchant_references(const boost::json::value& body);
// Parts of a seed order, checked as in requests; `path` prefixes the message.
std::string validate_order_lines(const boost::json::value& v, const std::string& path);
std::string validate_address(const boost::json::value& v, const std::string& path);
std::string validate_initial_payment_method(const boost::json::value& v, const std::string& path);

struct Capture {
  std::string capture_id;
  std::string klarna_reference;
  std::int64_t captured_amount = 0;
  std::string captured_at;
  boost::json::value description;  // string or null (absent)
  boost::json::value reference;
  boost::json::array order_lines;
  boost::json::array shipping_info;
  std::int64_t refunded_amount = 0;  // this capture's share of the order's refunds
  boost::json::value billing_address;   // the order's, when it has one (null: absent)
  boost::json::value shipping_address;
  int send_outs = 0;
};

struct Refund {
  std::string refund_id;
  std::int64_t refunded_amount = 0;
  std::string refunded_at;
  boost::json::value description;  // string or null (absent)
  boost::json::value reference;
  boost::json::value order_lines;  // array or null (absent)
};

struct Order {
  std::string order_id;
  std::int64_t order_amount = 0;
  std::int64_t original_order_amount = 0;  // the first order_amount; PATCH /authorization keeps it
  std::int64_t captured_amount = 0;
  std::int64_t refunded_amount = 0;
  std::string purchase_currency;
  std::string status = "AUTHORIZED";
  std::string fraud_status = "ACCEPTED";
  std::string expires_at;
  std::int64_t expires_epoch = 0;
  std::string created_at;
  std::string klarna_reference;
  boost::json::object extra;  // optional seed fields echoed in GET order (purchase_country, ...)
  boost::json::value merchant_reference1;  // string or null (not set)
  boost::json::value merchant_reference2;
  boost::json::array order_lines;
  boost::json::object initial_payment_method;
  boost::json::value billing_address;   // object or null (not seeded)
  boost::json::value shipping_address;
  std::vector<Capture> captures;
  std::vector<Refund> refunds;
};

class Sim {
 public:
  explicit Sim(Options o);
  // Adds an order from its JSON description (seed file entry or POST /_sim/orders body).
  // Returns an empty string on success, else why not.
  std::string add_order(const boost::json::value& v, bool& duplicate);
  Response handle(const Request& req);
  std::int64_t now() const;  // the sim clock, Unix seconds
  // Counts a completed TLS handshake (for /_sim/state).
  void count_handshake(bool resumed) { ++(resumed ? handshakes_resumed_ : handshakes_full_); }
  // Counts a connection opening (+1) or ending (-1), for /_sim/state's open and peak counts.
  void count_connection(int delta) {
    const std::int64_t open = connections_open_ += delta;
    std::int64_t peak = connections_peak_.load();
    while (open > peak && !connections_peak_.compare_exchange_weak(peak, open)) {
    }
  }

 private:
  Response route(const Request& req, const std::string& correlation_id);
  Response post_capture(Order& o, const boost::json::value& body, const std::string& cid);
  Response post_refund(Order& o, const boost::json::value& body, const std::string& cid);
  Response post_cancel(Order& o, const std::string& cid);
  Response post_release(Order& o, const std::string& cid);
  Response post_extend(Order& o, const std::string& cid);
  Response patch_merchant_references(Order& o, const boost::json::value& body, const std::string& cid);
  Response patch_authorization(Order& o, const boost::json::value& body, const std::string& cid);
  Response with_idempotency(const std::string& key, const Request& req, const std::string& cid);

  boost::json::object capture_json(const Capture& c, bool with_sim_fields) const;
  boost::json::object refund_json(const Refund& r) const;
  boost::json::object order_json(const Order& o, bool with_sim_fields) const;
  std::string effective_status(const Order& o) const;
  static std::int64_t remaining_authorized(const Order& o);

  Options opt_;
  mutable std::mutex mu_;  // orders, clock, counters
  std::map<std::string, Order> orders_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::int64_t clock_base_ = 0;
  std::atomic<std::int64_t> clock_offset_{0};  // read without mu_ by the idempotency check
  std::int64_t applied_posts_ = 0;
  std::int64_t requests_ = 0;
  std::atomic<std::int64_t> handshakes_full_{0};
  std::atomic<std::int64_t> handshakes_resumed_{0};
  std::atomic<std::int64_t> connections_open_{0};
  std::atomic<std::int64_t> connections_peak_{0};

  struct KeyEntry {
    std::mutex mu;                  // held while the first request is applied
    std::atomic<bool> done{false};  // read without mu (expiry check under keys_mu_)
    std::int64_t first_seen = 0;
    Response response;
  };
  std::mutex keys_mu_;
  std::map<std::string, std::shared_ptr<KeyEntry>> keys_;

  // The merchant-wide rate limit: a token bucket holding at most rate_limit tokens (one
  // second's worth), refilled at rate_limit per second of real time; each request on Klarna's
  // paths takes one, and a request that finds less than one is answered 429.
  struct RateDecision {
    bool limited = false;
    int remaining = 0;          // whole tokens left
    std::int64_t reset_s = 0;   // seconds until the bucket is full again
    std::int64_t retry_s = 0;   // on 429: seconds until a token is there (at least 1)
  };
  RateDecision take_token();
  std::mutex rate_mu_;
  double rate_tokens_ = 0;
  std::chrono::steady_clock::time_point rate_last_{};
  bool rate_started_ = false;
  std::int64_t rate_limited_ = 0;  // requests answered 429
};

// Error body {"error_code","error_messages":[msg],"correlation_id"} with Content-Type.
Response error_response(int status, const std::string& code, const std::string& message,
                        const std::string& correlation_id);

}  // namespace sim
