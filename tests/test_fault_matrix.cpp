// The fault matrix: every call that changes an order (capture, capture_remaining,
// append_shipping_info, trigger_send_out, refund, cancel, release_remaining_authorization,
// extend_authorization_time, update_merchant_references, update_authorization) and the
// outbox's drain of each (also when Klarna's 201 to a queued capture or refund carries no id,
// so that the drain must find it by listing the captures or reading the order), with
// each failure injected at each point of each exchange, then the documented caller protocol
// followed to its end. What happened is judged by a model of Klarna that lives in this file and shares
// no code with kom: its own HTTP request split, Boost.JSON's DOM for bodies, and order state
// (amounts, captures with ids, shipping info per capture, send-out counts, refunds, status,
// counts of extensions and PATCHes, and an idempotency map that replays the first answer to a
// key, whatever the repeat carries, for 24 hours of the test's wall clock: then it forgets the
// key, as Klarna does, so that a resend with a stale key is applied again).
//
// A case is one operation, one exchange of it (its n-th HTTP request in a run without
// faults), one failure, how long the failure lasts (that exchange only; or every exchange
// from it on during the first round; or during the first three rounds), the client's
// attempts per call (1 or 3), and whole, 97-byte or interrupted (would-block) I/O. A round
// is one call by the till, or one drain of the outbox. The failures:
//   before the exchange: the connect refused; the TLS handshake cut; the request cut after
//     0 bytes, 1 byte, half, all but one byte, all of it (the model applies it, the answer
//     is lost); a kept-alive connection the server closed just before it is reused;
//   the answer: the change applied, then the connection closed before any byte; the answer
//     cut inside its status line, its headers or its body (bodies only: 201 and 204 have none);
//   a status instead of the answer, with the change applied and not: 408, 409, 500, 502,
//     503, 504, 429 with and without Retry-After (applied: Klarna applied it and stored its
//     own answer for the key; a gateway answered the status);
//   Klarna's own 2xx, stored for the key: a 201 without Capture-Id / Refund-Id and Location,
//     a head too large for the work buffer, a body too large for it, a malformed header.
// Checks, against the model only: a reply `done` means applied exactly once, with the
// model's capture id; `refused` never happens here (every failure above is transient or a
// 2xx) and would have to mean not applied; `applied_id_unknown` (captures and refunds) means
// applied exactly once; never two captures or refunds of one logical one, nor two shipping
// entries, send-outs, cancels, releases, extensions or PATCHes of one call; the outbox holds
// nothing marked done that the model lacks; at
// the end each change is applied exactly once. Also: a capture's value.captured_amount is
// its request's amount, and capture_remaining's the amount the order had left once it was
// read; a failure of one exchange only is retried within the call (3 attempts: the first
// round ends it). A case whose failure never took effect fails too, so the matrix cannot
// pass by missing its target. Then the matrix's own tools: fake_transport's request cuts
// and TLS fault.
#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "kom/client.hpp"
#include "kom/testing/fake_transport.hpp"
#include "kom/outbox.hpp"
#include "support/mem_storage.hpp"
#include "support/test_clocks.hpp"

namespace {

namespace json = boost::json;

// ---- the model of Klarna --------------------------------------------------------------------

struct m_capture {
  std::string id;
  std::int64_t amount = 0;
  std::string reference;
  std::string description;
  std::vector<std::string> tracking;  // tracking_number of each shipping_info entry appended
  int send_outs = 0;
};

struct m_refund {
  std::string id;
  std::int64_t amount = 0;
  std::string reference;
};

struct m_order {
  std::string id;
  std::int64_t order_amount = 0;
  std::vector<m_capture> captures;
  std::vector<m_refund> refunds;
  bool cancelled = false;
  bool closed = false;       // released
  int extensions = 0;
  int reference_updates = 0;
  int authorization_updates = 0;
  std::string merchant_reference1;

  std::int64_t refunded() const {
    std::int64_t sum = 0;
    for (const m_refund& r : refunds) sum += r.amount;
    return sum;
  }
  int count_refunds(const std::string& reference) const {
    int n = 0;
    for (const m_refund& r : refunds) n += r.reference == reference;
    return n;
  }
  const m_refund* refund_by(const std::string& reference) const {
    for (const m_refund& r : refunds)
      if (r.reference == reference) return &r;
    return nullptr;
  }

  std::int64_t captured() const {
    std::int64_t sum = 0;
    for (const m_capture& c : captures) sum += c.amount;
    return sum;
  }
  m_capture* find(std::string_view capture_id) {
    for (m_capture& c : captures)
      if (c.id == capture_id) return &c;
    return nullptr;
  }
};

// One request as the model reads it.
struct m_request {
  bool valid = false;
  std::string method;
  std::string path;
  std::string key;  // Klarna-Idempotency-Key
  std::string body;
};

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

// The request line, the headers the model reads, and Content-Length bytes of body.
m_request split_request(std::string_view raw) {
  m_request r;
  const std::size_t head_end = raw.find("\r\n\r\n");
  if (head_end == std::string_view::npos) return r;
  const std::string_view head = raw.substr(0, head_end);
  const std::size_t line_end = head.find("\r\n");
  const std::string_view line = head.substr(0, line_end);
  const std::size_t sp1 = line.find(' ');
  const std::size_t sp2 = line.rfind(' ');
  if (sp1 == std::string_view::npos || sp2 == sp1) return r;
  r.method = std::string(line.substr(0, sp1));
  r.path = std::string(line.substr(sp1 + 1, sp2 - sp1 - 1));
  std::size_t length = 0;
  std::size_t at = line_end;
  while (at != std::string_view::npos && at + 2 <= head.size()) {
    const std::size_t start = at + 2;
    at = head.find("\r\n", start);
    const std::string_view h = head.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start);
    const std::size_t colon = h.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string name = lower(h.substr(0, colon));
    std::string_view value = h.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    if (name == "klarna-idempotency-key") r.key = std::string(value);
    if (name == "content-length") length = static_cast<std::size_t>(std::stoul(std::string(value)));
  }
  r.body = std::string(raw.substr(head_end + 4, length));
  r.valid = true;
  return r;
}

// What the model does to a fresh 2xx answer to a POST before it stores and sends it: Klarna's
// own answer, replayed as it is for every repeat of the key.
enum class twist { none, no_created_id, head_too_large, body_too_large, malformed_head };

struct m_answer {
  int status = 200;
  std::string reason = "OK";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  std::string bytes() const {
    std::string out = "HTTP/1.1 " + std::to_string(status) + " " + reason + "\r\n";
    for (const auto& h : headers) out += h.first + ": " + h.second + "\r\n";
    if (status != 204) out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    out += "\r\n" + body;
    return out;
  }
};

// Inserts a header line right after the status line.
std::string with_header(const std::string& bytes, const std::string& line) {
  const std::size_t eol = bytes.find("\r\n");
  if (eol == std::string::npos) return bytes;
  return bytes.substr(0, eol + 2) + line + "\r\n" + bytes.substr(eol + 2);
}

constexpr std::size_t work_size = 8192;  // the client's work buffer

class klarna_model {
 public:
  std::map<std::string, m_order> orders;
  std::map<std::string, std::string> replay;  // idempotency key -> the bytes of its first answer
  std::map<std::string, std::uint64_t> first_seen;  // idempotency key -> wall time of its first use
  const std::uint64_t* wall = nullptr;               // the test's wall clock, ms
  int applied_posts = 0;
  int requests = 0;

  m_order& add_order(const std::string& id, std::int64_t amount) {
    m_order& o = orders[id];
    o.id = id;
    o.order_amount = amount;
    return o;
  }

  // Answers one request and applies what it asks (once per idempotency key).
  std::string handle(const m_request& r, twist t = twist::none) {
    ++requests;
    if (!r.valid) return error(400, "Bad Request", "BAD_REQUEST", "malformed request").bytes();
    const bool post = r.method != "GET";  // a POST or a PATCH
    if (post && !r.key.empty()) {
      forget_old_keys();
      const auto seen = replay.find(r.key);
      if (seen != replay.end()) return seen->second;  // the first answer again, input ignored
    }
    m_answer a = route(r);
    if (post && a.status >= 200 && a.status < 300) apply_twist(a, t, r);
    std::string bytes = a.bytes();
    if (t == twist::head_too_large && post && a.status >= 200 && a.status < 300)
      bytes = with_header(bytes, "X-Trace: " + std::string(work_size + 1000, 't'));
    if (t == twist::malformed_head && post && a.status >= 200 && a.status < 300)
      bytes = with_header(bytes, "this line is not a header");
    if (post && !r.key.empty()) {
      replay[r.key] = bytes;
      first_seen[r.key] = wall != nullptr ? *wall : 0;
    }
    return bytes;
  }

  // Klarna keeps a key for 24 hours (the outbox's assumption too): older ones are forgotten.
  void forget_old_keys() {
    if (wall == nullptr) return;
    for (auto it = first_seen.begin(); it != first_seen.end();) {
      if (*wall - it->second >= 24ull * 60 * 60 * 1000) {
        replay.erase(it->first);
        it = first_seen.erase(it);
      } else {
        ++it;
      }
    }
  }

  // What a gateway in front of Klarna answers instead.
  std::string gateway(int status, bool retry_after) {
    const char* reason = status == 408   ? "Request Timeout"
                         : status == 409 ? "Conflict"
                         : status == 429 ? "Too Many Requests"
                         : status == 500 ? "Internal Server Error"
                         : status == 502 ? "Bad Gateway"
                         : status == 503 ? "Service Unavailable"
                                         : "Gateway Timeout";
    m_answer a = error(status, reason, status == 429 ? "TOO_MANY_REQUESTS" : "TEMPORARY_FAILURE", "try again later");
    if (retry_after) a.headers.emplace_back("Retry-After", "1");
    return a.bytes();
  }

  int count_reference(const std::string& order_id, const std::string& reference) {
    int n = 0;
    for (const m_capture& c : orders[order_id].captures) n += c.reference == reference;
    return n;
  }
  m_capture* by_reference(const std::string& order_id, const std::string& reference) {
    for (m_capture& c : orders[order_id].captures)
      if (c.reference == reference) return &c;
    return nullptr;
  }
  int count_tracking(const std::string& order_id, const std::string& capture_id, const std::string& tracking) {
    m_capture* c = orders[order_id].find(capture_id);
    if (c == nullptr) return 0;
    int n = 0;
    for (const std::string& t : c->tracking) n += t == tracking;
    return n;
  }
  int send_outs(const std::string& order_id, const std::string& capture_id) {
    m_capture* c = orders[order_id].find(capture_id);
    return c == nullptr ? 0 : c->send_outs;
  }

 private:
  m_answer answer(int status, const char* reason) {
    m_answer a;
    a.status = status;
    a.reason = reason;
    a.headers.emplace_back("Klarna-Correlation-Id", "corr-" + std::to_string(requests));
    return a;
  }

  m_answer error(int status, const char* reason, const char* code, const char* message) {
    m_answer a = answer(status, reason);
    a.headers.emplace_back("Content-Type", "application/json");
    json::object b;
    b["error_code"] = code;
    b["error_messages"] = json::array{message};
    b["correlation_id"] = "corr-" + std::to_string(requests);
    a.body = json::serialize(b);
    return a;
  }

  static json::object capture_json(const m_capture& c) {
    json::object o;
    o["capture_id"] = c.id;
    o["klarna_reference"] = "K-" + c.id;
    o["captured_amount"] = c.amount;
    o["captured_at"] = "2026-11-27T10:00:00.000Z";
    if (!c.description.empty()) o["description"] = c.description;
    if (!c.reference.empty()) o["reference"] = c.reference;
    o["order_lines"] = json::array();
    o["refunded_amount"] = 0;
    json::array shipping;
    for (const std::string& t : c.tracking) {
      json::object s;
      s["shipping_company"] = "PostNord";
      s["shipping_method"] = "Home";
      s["tracking_number"] = t;
      shipping.push_back(std::move(s));
    }
    o["shipping_info"] = std::move(shipping);
    return o;
  }

  m_answer route(const m_request& r) {
    constexpr std::string_view prefix = "/ordermanagement/v1/orders/";
    if (r.path.rfind(prefix, 0) != 0) return error(404, "Not Found", "NOT_FOUND", "no such path");
    std::vector<std::string> seg;
    std::string rest = r.path.substr(prefix.size());
    for (std::size_t at = 0;;) {
      const std::size_t slash = rest.find('/', at);
      seg.push_back(rest.substr(at, slash == std::string::npos ? std::string::npos : slash - at));
      if (slash == std::string::npos) break;
      at = slash + 1;
    }
    const auto it = orders.find(seg[0]);
    if (it == orders.end()) return error(404, "Not Found", "NO_SUCH_ORDER", "no such order");
    m_order& o = it->second;
    if (r.method == "GET" && seg.size() == 1) {
      json::object b;
      b["order_id"] = o.id;
      b["status"] = o.cancelled ? "CANCELLED"
                    : o.closed  ? "CLOSED"
                    : o.captured() == 0 ? "AUTHORIZED" : o.captured() < o.order_amount ? "PART_CAPTURED" : "CAPTURED";
      b["order_amount"] = o.order_amount;
      b["original_order_amount"] = o.order_amount;
      b["captured_amount"] = o.captured();
      b["refunded_amount"] = o.refunded();
      b["remaining_authorized_amount"] = o.cancelled || o.closed ? 0 : o.order_amount - o.captured();
      b["purchase_currency"] = "EUR";
      json::array caps;
      for (const m_capture& c : o.captures) caps.push_back(capture_json(c));
      b["captures"] = std::move(caps);
      json::array refunds;
      for (const m_refund& f : o.refunds) {
        json::object j;
        j["refund_id"] = f.id;
        j["refunded_amount"] = f.amount;
        j["refunded_at"] = "2026-11-27T11:00:00.000Z";
        if (!f.reference.empty()) j["reference"] = f.reference;
        refunds.push_back(std::move(j));
      }
      b["refunds"] = std::move(refunds);
      m_answer a = answer(200, "OK");
      a.headers.emplace_back("Content-Type", "application/json");
      a.body = json::serialize(b);
      return a;
    }
    if (r.method == "GET" && seg.size() == 2 && seg[1] == "captures") {
      json::array caps;
      for (const m_capture& c : o.captures) caps.push_back(capture_json(c));
      m_answer a = answer(200, "OK");
      a.headers.emplace_back("Content-Type", "application/json");
      a.body = json::serialize(caps);
      return a;
    }
    if (r.method == "GET" || seg.size() < 2) return error(405, "Method Not Allowed", "METHOD_NOT_ALLOWED", "not here");
    json::error_code ec;
    const json::value body = r.body.empty() ? json::value(json::object()) : json::parse(r.body, ec);
    if (ec || !body.is_object()) return error(400, "Bad Request", "BAD_REQUEST", "body is not JSON");
    const json::object& b = body.get_object();
    if (seg.size() == 2 && seg[1] != "captures") return order_change(r.method, seg[1], o, b);
    if (r.method != "POST" || seg[1] != "captures") return error(405, "Method Not Allowed", "METHOD_NOT_ALLOWED", "not here");
    if (seg.size() == 2) {  // a capture
      const json::value* amount = b.if_contains("captured_amount");
      if (amount == nullptr || !amount->is_int64() || amount->get_int64() < 1)
        return error(422, "Unprocessable Entity", "UNPROCESSABLE_ENTITY", "captured_amount");
      if (amount->get_int64() > o.order_amount - o.captured())
        return error(403, "Forbidden", "CAPTURE_NOT_ALLOWED", "Captured amount is higher than the remaining authorized amount.");
      m_capture c;
      c.id = "cap-" + std::to_string(++next_capture_);
      c.amount = amount->get_int64();
      if (const json::value* v = b.if_contains("reference"); v != nullptr && v->is_string())
        c.reference = std::string(v->get_string());
      if (const json::value* v = b.if_contains("description"); v != nullptr && v->is_string())
        c.description = std::string(v->get_string());
      if (const json::value* v = b.if_contains("shipping_info"); v != nullptr && v->is_array())
        for (const json::value& s : v->get_array())
          if (const json::value* t = s.as_object().if_contains("tracking_number")) c.tracking.emplace_back(t->as_string());
      o.captures.push_back(c);
      ++applied_posts;
      m_answer a = answer(201, "Created");
      a.headers.emplace_back("Capture-Id", c.id);
      a.headers.emplace_back("Location", "https://api.playground.klarna.com" + std::string(prefix) + o.id + "/captures/" + c.id);
      return a;
    }
    m_capture* c = o.find(seg[2]);
    if (c == nullptr) return error(404, "Not Found", "NO_SUCH_CAPTURE", "no such capture");
    if (seg.size() == 4 && seg[3] == "shipping-info") {
      const json::value* s = b.if_contains("shipping_info");
      if (s == nullptr || !s->is_array() || s->get_array().empty())
        return error(422, "Unprocessable Entity", "UNPROCESSABLE_ENTITY", "shipping_info");
      for (const json::value& e : s->get_array()) {
        const json::value* t = e.as_object().if_contains("tracking_number");
        c->tracking.emplace_back(t != nullptr && t->is_string() ? std::string(t->get_string()) : std::string());
      }
      ++applied_posts;
      return answer(204, "No Content");
    }
    if (seg.size() == 4 && seg[3] == "trigger-send-out") {
      ++c->send_outs;
      ++applied_posts;
      return answer(204, "No Content");
    }
    return error(404, "Not Found", "NOT_FOUND", "no such path");
  }

  // The calls on the whole order: refunds, cancel, release, extension, the PATCHes, by
  // Klarna's rules.
  m_answer order_change(const std::string& method, const std::string& what, m_order& o, const json::object& b) {
    const bool post = method == "POST";
    if (post && what == "refunds") {
      const json::value* amount = b.if_contains("refunded_amount");
      if (amount == nullptr || !amount->is_int64() || amount->get_int64() < 1)
        return error(422, "Unprocessable Entity", "UNPROCESSABLE_ENTITY", "refunded_amount");
      if (o.captures.empty() || amount->get_int64() > o.captured() - o.refunded())
        return error(403, "Forbidden", "REFUND_NOT_ALLOWED", "Refund not possible");
      m_refund f;
      f.id = "ref-" + std::to_string(++next_refund_);
      f.amount = amount->get_int64();
      if (const json::value* v = b.if_contains("reference"); v != nullptr && v->is_string())
        f.reference = std::string(v->get_string());
      o.refunds.push_back(f);
      ++applied_posts;
      m_answer a = answer(201, "Created");
      a.headers.emplace_back("Refund-Id", f.id);
      a.headers.emplace_back("Location", "https://api.playground.klarna.com/ordermanagement/v1/orders/" + o.id + "/refunds/" + f.id);
      return a;
    }
    if (post && what == "cancel") {
      if (!o.captures.empty() || o.cancelled || o.closed)
        return error(403, "Forbidden", "CANCEL_NOT_ALLOWED", "Order has previous captures. Cancel not possible");
      o.cancelled = true;
    } else if (post && what == "release-remaining-authorization") {
      if (o.captures.empty() || o.cancelled || o.closed || o.captured() >= o.order_amount)
        return error(403, "Forbidden", "NOT_ALLOWED", "Can not release");
      o.closed = true;
    } else if (post && what == "extend-authorization-time") {
      if (o.cancelled || o.closed) return error(403, "Forbidden", "NOT_ALLOWED", "Can not extend");
      ++o.extensions;
    } else if (method == "PATCH" && what == "merchant-references") {
      if (const json::value* v = b.if_contains("merchant_reference1"); v != nullptr && v->is_string())
        o.merchant_reference1 = std::string(v->get_string());
      ++o.reference_updates;
    } else if (method == "PATCH" && what == "authorization") {
      const json::value* amount = b.if_contains("order_amount");
      if (amount == nullptr || !amount->is_int64()) return error(422, "Unprocessable Entity", "UNPROCESSABLE_ENTITY", "order_amount");
      if (amount->get_int64() < o.captured()) return error(403, "Forbidden", "NOT_ALLOWED", "less than captured");
      o.order_amount = amount->get_int64();
      ++o.authorization_updates;
    } else {
      return error(404, "Not Found", "NOT_FOUND", "no such path");
    }
    ++applied_posts;
    return answer(204, "No Content");
  }

  void apply_twist(m_answer& a, twist t, const m_request& r) {
    const auto ends = [&r](std::string_view tail) {
      return r.path.size() >= tail.size() && r.path.compare(r.path.size() - tail.size(), tail.size(), tail) == 0;
    };
    const bool created = ends("/captures") || ends("/refunds");
    switch (t) {
      case twist::none:
      case twist::head_too_large:  // added to the bytes, before the ids
      case twist::malformed_head: break;
      case twist::no_created_id:
        if (!created) break;
        for (std::size_t i = 0; i < a.headers.size();) {
          if (a.headers[i].first == "Capture-Id" || a.headers[i].first == "Refund-Id" || a.headers[i].first == "Location") {
            a.headers.erase(a.headers.begin() + static_cast<std::ptrdiff_t>(i));
          } else {
            ++i;
          }
        }
        break;
      case twist::body_too_large:
        if (a.status == 204) {
          a.status = 200;
          a.reason = "OK";
        }
        a.headers.emplace_back("Content-Type", "application/json");
        a.body = R"({"trace":")" + std::string(work_size + 1000, 'b') + R"("})";
        break;
    }
  }

  int next_capture_ = 0;
  int next_refund_ = 0;
};

// ---- the cases ------------------------------------------------------------------------------

// The outbox_*_id_lost operations: Klarna answers every capture of the case with a 201
// without Capture-Id and Location, so the drain finds the capture by listing (and the
// failures also hit that listing, and the shipping info and send-out that need its id).
// outbox_return: a capture and a refund of it, queued by record; outbox_refund_id_lost: Klarna
// answers the refund with a 201 without Refund-Id and Location, so the drain reads the order.
enum class op_kind {
  capture, capture_remaining, shipping_info, send_out,
  refund, cancel, release, extend, references, authorization,
  outbox_capture, outbox_shipping_info, outbox_send_out, outbox_sale, outbox_capture_id_lost, outbox_sale_id_lost,
  outbox_refund, outbox_return, outbox_refund_id_lost, outbox_cancel, outbox_release, outbox_extend,
  outbox_references, outbox_authorization
};
constexpr op_kind all_ops[] = {op_kind::capture,
                               op_kind::capture_remaining,
                               op_kind::shipping_info,
                               op_kind::send_out,
                               op_kind::refund,
                               op_kind::cancel,
                               op_kind::release,
                               op_kind::extend,
                               op_kind::references,
                               op_kind::authorization,
                               op_kind::outbox_capture,
                               op_kind::outbox_shipping_info,
                               op_kind::outbox_send_out,
                               op_kind::outbox_sale,
                               op_kind::outbox_capture_id_lost,
                               op_kind::outbox_sale_id_lost,
                               op_kind::outbox_refund,
                               op_kind::outbox_return,
                               op_kind::outbox_refund_id_lost,
                               op_kind::outbox_cancel,
                               op_kind::outbox_release,
                               op_kind::outbox_extend,
                               op_kind::outbox_references,
                               op_kind::outbox_authorization};

// The change a direct call or a queued one makes, when it is not a capture.
enum class change { none, shipping_info, send_out, refund, cancel, release, extend, references, authorization };

bool queues_capture(op_kind op) {
  return op == op_kind::outbox_capture || op == op_kind::outbox_sale || op == op_kind::outbox_capture_id_lost ||
         op == op_kind::outbox_sale_id_lost || op == op_kind::outbox_return;
}
bool queues_refund(op_kind op) {
  return op == op_kind::outbox_refund || op == op_kind::outbox_return || op == op_kind::outbox_refund_id_lost;
}
// The order-wide change an operation makes (direct or queued).
change order_change_of(op_kind op) {
  switch (op) {
    case op_kind::cancel: case op_kind::outbox_cancel: return change::cancel;
    case op_kind::release: case op_kind::outbox_release: return change::release;
    case op_kind::extend: case op_kind::outbox_extend: return change::extend;
    case op_kind::references: case op_kind::outbox_references: return change::references;
    case op_kind::authorization: case op_kind::outbox_authorization: return change::authorization;
    default: return change::none;
  }
}
bool queues_shipping_info(op_kind op) {
  return op == op_kind::outbox_shipping_info || op == op_kind::outbox_sale || op == op_kind::outbox_sale_id_lost;
}
bool queues_send_out(op_kind op) {
  return op == op_kind::outbox_send_out || op == op_kind::outbox_sale || op == op_kind::outbox_sale_id_lost;
}

const char* name_of(op_kind op) {
  switch (op) {
    case op_kind::capture: return "capture";
    case op_kind::capture_remaining: return "capture_remaining";
    case op_kind::shipping_info: return "append_shipping_info";
    case op_kind::send_out: return "trigger_send_out";
    case op_kind::outbox_capture: return "outbox capture";
    case op_kind::outbox_shipping_info: return "outbox shipping_info";
    case op_kind::outbox_send_out: return "outbox send_out";
    case op_kind::outbox_sale: return "outbox capture+shipping_info+send_out";
    case op_kind::outbox_capture_id_lost: return "outbox capture, its id lost";
    case op_kind::outbox_sale_id_lost: return "outbox capture+shipping_info+send_out, the capture's id lost";
    case op_kind::refund: return "refund";
    case op_kind::cancel: return "cancel";
    case op_kind::release: return "release_remaining_authorization";
    case op_kind::extend: return "extend_authorization_time";
    case op_kind::references: return "update_merchant_references";
    case op_kind::authorization: return "update_authorization";
    case op_kind::outbox_refund: return "outbox refund";
    case op_kind::outbox_return: return "outbox capture+refund of it";
    case op_kind::outbox_refund_id_lost: return "outbox refund, its id lost";
    case op_kind::outbox_cancel: return "outbox cancel";
    case op_kind::outbox_release: return "outbox release";
    case op_kind::outbox_extend: return "outbox extend";
    case op_kind::outbox_references: return "outbox merchant references";
    case op_kind::outbox_authorization: return "outbox authorization update";
  }
  return "?";
}


enum class fk {
  none,
  // before the exchange
  connect_refused, tls_cut, cut_0, cut_1, cut_half, cut_all_but_one, cut_all, stale_keepalive,
  // the answer
  applied_then_close, cut_status_line, cut_headers, cut_body,
  status,
  created_without_id, head_too_large, body_too_large, malformed_head,
};

bool before_exchange(fk k) { return k >= fk::connect_refused && k <= fk::stale_keepalive; }
bool klarna_2xx(fk k) { return k >= fk::created_without_id; }

struct fault {
  fk kind = fk::none;
  int status = 0;
  bool retry_after = false;
  bool applied = false;

  std::string name() const {
    switch (kind) {
      case fk::none: return "no fault";
      case fk::connect_refused: return "connect refused";
      case fk::tls_cut: return "TLS handshake cut";
      case fk::cut_0: return "request cut after 0 bytes";
      case fk::cut_1: return "request cut after 1 byte";
      case fk::cut_half: return "request cut at half";
      case fk::cut_all_but_one: return "request cut before its last byte";
      case fk::cut_all: return "request cut after all of it (applied, answer lost)";
      case fk::stale_keepalive: return "kept-alive connection closed before reuse";
      case fk::applied_then_close: return "applied, closed before any answer byte";
      case fk::cut_status_line: return "answer cut in its status line";
      case fk::cut_headers: return "answer cut in its headers";
      case fk::cut_body: return "answer cut in its body";
      case fk::status:
        return std::to_string(status) + (retry_after ? " with Retry-After" : "") + (applied ? ", applied" : ", not applied");
      case fk::created_without_id: return "201 without its id and Location";
      case fk::head_too_large: return "2xx head too large for the work buffer";
      case fk::body_too_large: return "2xx body too large for the work buffer";
      case fk::malformed_head: return "2xx with a malformed header";
    }
    return "?";
  }
};

std::vector<fault> all_faults() {
  std::vector<fault> out;
  for (fk k : {fk::connect_refused, fk::tls_cut, fk::cut_0, fk::cut_1, fk::cut_half, fk::cut_all_but_one, fk::cut_all,
               fk::stale_keepalive, fk::applied_then_close, fk::cut_status_line, fk::cut_headers, fk::cut_body})
    out.push_back({k, 0, false, false});
  for (int s : {408, 409, 500, 502, 503, 504, 429})
    for (bool applied : {false, true}) out.push_back({fk::status, s, false, applied});
  for (bool applied : {false, true}) out.push_back({fk::status, 429, true, applied});
  for (fk k : {fk::created_without_id, fk::head_too_large, fk::body_too_large, fk::malformed_head})
    out.push_back({k, 0, false, true});
  return out;
}

// What an exchange of a run without faults was.
// order_change: a 204 call on the whole order (cancel, release, extension, a PATCH).
enum class ex_type { get, capture, shipping_info, send_out, refund, order_change, other };

ex_type type_of(const m_request& r) {
  const auto ends = [&r](std::string_view tail) {
    return r.path.size() >= tail.size() && r.path.compare(r.path.size() - tail.size(), tail.size(), tail) == 0;
  };
  if (r.method == "GET") return ex_type::get;
  if (r.path.find("/shipping-info") != std::string::npos) return ex_type::shipping_info;
  if (r.path.find("/trigger-send-out") != std::string::npos) return ex_type::send_out;
  if (ends("/captures")) return ex_type::capture;
  if (ends("/refunds")) return ex_type::refund;
  if (ends("/cancel") || ends("/release-remaining-authorization") || ends("/extend-authorization-time") ||
      ends("/merchant-references") || ends("/authorization"))
    return ex_type::order_change;
  return ex_type::other;
}

// Whether a failure means something at an exchange of this type.
bool applies(const fault& f, ex_type t) {
  switch (t) {
    case ex_type::get:  // nothing to apply, and no 2xx to a POST
      return !(f.kind == fk::status && f.applied) && !klarna_2xx(f.kind);
    case ex_type::capture:
    case ex_type::refund: return f.kind != fk::cut_body;  // a 201 has no body
    case ex_type::shipping_info:
    case ex_type::send_out:
    case ex_type::order_change: return f.kind != fk::cut_body && f.kind != fk::created_without_id;  // a 204 has none
    case ex_type::other: return false;
  }
  return false;
}

struct case_spec {
  op_kind op = op_kind::capture;
  int point = 1;           // the exchange the failure hits (1: the first request of the operation)
  fault f;
  int faulted_rounds = 0;  // 0: that exchange only; n: every exchange from it during rounds 1..n
  std::uint32_t attempts = 3;
  int io = 0;  // 0: whole sends and receives; 1: 97 bytes at most; 2: 512 at most, every 2nd call would_block first
  // Outbox operations only: rounds 25 hours apart, so that every drain after the first takes
  // the 24-hour rule (a listing or an order read first, then a new key when not found).
  bool day_apart = false;

  std::string name() const {
    return std::string(name_of(op)) + ", exchange " + std::to_string(point) + ": " + f.name() + ", " +
           (faulted_rounds == 0 ? std::string("once") : "from it on for " + std::to_string(faulted_rounds) + " round(s)") +
           ", " + std::to_string(attempts) + " attempt(s)" + (io == 1 ? ", 97-byte I/O" : io == 2 ? ", would-block I/O" : "") +
           (day_apart ? ", drains 25 h apart" : "");
  }
};

// ---- one case --------------------------------------------------------------------------------

constexpr int max_rounds = 8;
constexpr std::int64_t order_amount = 10000;
const std::string order_id = "order-1";
const std::string earlier_capture = "pre-1";  // captured before the case: 3000 of the 10000
constexpr const char* capture_key = "0b6f2a4e-5c1d-4e8f-9a3b-7c6d5e4f3a21";
constexpr const char* shipping_key = "1c7a3b5f-6d2e-4f90-8b4c-8d7e6f5a4b32";
constexpr const char* send_out_key = "2d8b4c6a-7e3f-4a01-9c5d-9e8f7a6b5c43";
constexpr const char* refund_key = "3e9c5d7b-8f40-4b12-8d6e-0f9a8b7c6d54";
constexpr const char* change_key = "4fad6e8c-9051-4c23-9e7f-1a0b9c8d7e65";

// The change a queued operation makes.
change change_of(kom::outbox_op op) {
  switch (op) {
    case kom::outbox_op::capture: return change::none;
    case kom::outbox_op::shipping_info: return change::shipping_info;
    case kom::outbox_op::send_out: return change::send_out;
    case kom::outbox_op::refund: return change::refund;
    case kom::outbox_op::cancel: return change::cancel;
    case kom::outbox_op::release_remaining_authorization: return change::release;
    case kom::outbox_op::extend_authorization_time: return change::extend;
    case kom::outbox_op::merchant_references: return change::references;
    case kom::outbox_op::authorization_update: return change::authorization;
  }
  return change::none;
}

using small_outbox = kom::basic_outbox<kom::capacity::operations<16>, kom::capacity::record_bytes<1024>, kom::capacity::lines<2>, kom::capacity::shipping_entries<2>>;

kom::testing::fake_transport& the_fake() {
  static kom::testing::fake_transport f;  // 256 KiB: not on the stack
  return f;
}

const char* outcome_name(kom::outcome o) {
  switch (o) {
    case kom::outcome::done: return "done";
    case kom::outcome::refused: return "refused";
    case kom::outcome::retry_later: return "retry_later";
    case kom::outcome::applied_id_unknown: return "applied_id_unknown";
    case kom::outcome::unknown: return "unknown";
  }
  return "?";
}

class runner {
 public:
  explicit runner(const case_spec& c) : spec_(c), fake_(the_fake()) {
    fake_.reset();
    fake_.set_responder(&runner::respond, this);
    if (c.io == 1) fake_.max_io(97);
    if (c.io == 2) {
      fake_.max_io(512);
      fake_.block_every(2);
    }
    model_.add_order(order_id, order_amount);
    model_.wall = &clocks_.wall;
    if (c.op == op_kind::outbox_capture_id_lost || c.op == op_kind::outbox_sale_id_lost ||
        c.op == op_kind::outbox_refund_id_lost)
      base_ = twist::no_created_id;
    // An earlier capture for the calls that need one; a cancel needs an order without any.
    if (c.op != op_kind::capture && !queues_capture(c.op) && order_change_of(c.op) != change::cancel) {
      m_capture earlier;
      earlier.id = earlier_capture;
      earlier.amount = 3000;
      earlier.reference = "earlier-sale";
      model_.orders[order_id].captures.push_back(earlier);
    }
    kom::client_config config;
    config.request.server = {"api.playground.klarna.com", 443};
    config.request.credentials.username = "merchant_user";
    config.request.credentials.password = "s3cret-Pa55";
    config.retry.max_attempts = c.attempts;
    client_ = std::make_unique<kom::client>(fake_.transport(), config, hooks_for(clocks_), work_, sizeof work_);
  }

  ~runner() {
    client_.reset();
    fake_.reset();
  }

  // Runs the case: the warm-up read (exchange 0, which leaves a kept-alive connection), then
  // the operation by its caller protocol.
  void run() {
    auto storage = std::make_unique<kom::order_storage<kom::capacity::captures<4>, kom::capacity::text_bytes<1024>>>();
    const kom::reply<kom::order> warm = client_->get_order(order_id, *storage);
    if (!warm.ok()) problem("the warm-up read failed: " + how(warm));
    round_ = 1;
    switch (spec_.op) {
      case op_kind::capture: run_capture(); break;
      case op_kind::capture_remaining: run_capture_remaining(); break;
      case op_kind::shipping_info: run_shipping_info(); break;
      case op_kind::send_out: run_send_out(); break;
      case op_kind::refund: run_refund(); break;
      case op_kind::cancel:
      case op_kind::release:
      case op_kind::extend:
      case op_kind::references:
      case op_kind::authorization: run_order_change(); break;
      default: run_outbox(); break;
    }
    if (spec_.f.kind != fk::none && !fired()) problem("the failure never took effect");
    // One failed exchange is retried within the call (within the drain): with 3 attempts the
    // first round ends the protocol.
    if (spec_.faulted_rounds == 0 && spec_.attempts >= 3 && round_ != 1)
      problem("a failure of one exchange, with 3 attempts per call, took " + std::to_string(rounds()) + " rounds");
  }

  const std::vector<std::string>& problems() const { return problems_; }
  const std::vector<ex_type>& exchanges() const { return types_; }
  int rounds() const { return round_ > max_rounds ? max_rounds : round_; }
  // The till's last outcome (direct calls), or done for a drained outbox.
  kom::outcome last() const { return last_; }

 private:
  // ---- the caller protocols ----

  void run_capture() {
    kom::capture_request c;
    c.captured_amount = 6000;
    c.reference = "sale-1";
    c.description = "Sale 1";
    kom::post_options post;
    post.idempotency_key = capture_key;
    kom::outcome last = kom::outcome::retry_later;
    for (; round_ <= max_rounds; end_round()) {
      const kom::reply<kom::capture_created> r = client_->capture(order_id, c, post);
      last = r.next_step();
      check_capture_reply(last, r, "sale-1", 6000);
      if (r.value.captured_amount != 6000)
        problem(how(r) + ": value.captured_amount " + std::to_string(r.value.captured_amount) + ", the request's is 6000");
      if (last != kom::outcome::retry_later) break;
    }
    last_ = last;
    finish_capture(last, "sale-1", 6000);
  }

  void run_capture_remaining() {
    kom::remaining_capture what{"The rest of sale 2", "sale-2", 0};
    kom::post_options post;
    post.idempotency_key = capture_key;
    kom::outcome last = kom::outcome::retry_later;
    for (; round_ <= max_rounds; end_round()) {
      const int posts_before = capture_posts_;
      const kom::reply<kom::capture_created> r = client_->capture_remaining(order_id, post, what);
      last = r.next_step();
      check_capture_reply(last, r, "sale-2", 7000);
      // The amount decided is in the reply once known: after the order was read, and when
      // it was given back.
      const bool decided = last == kom::outcome::done || last == kom::outcome::applied_id_unknown ||
                           what.decided_amount != 0 || capture_posts_ != posts_before;
      const std::int64_t amount = r.value.captured_amount;
      if (decided ? amount != 7000 : amount != 0 && amount != 7000)
        problem(how(r) + ": value.captured_amount " + std::to_string(r.value.captured_amount) +
                ", the order had 7000 left");
      if (last != kom::outcome::retry_later) break;
      what.decided_amount = r.value.captured_amount;  // kept with the key
    }
    last_ = last;
    finish_capture(last, "sale-2", 7000);
  }

  void run_shipping_info() {
    kom::shipping_info s[1];
    s[0].shipping_company = "PostNord";
    s[0].shipping_method = kom::shipping_method::home;
    s[0].tracking_number = "TRK-1";
    kom::shipping_info_update u;
    u.shipping_info = s;
    kom::post_options post;
    post.idempotency_key = shipping_key;
    kom::outcome last = kom::outcome::retry_later;
    for (; round_ <= max_rounds; end_round()) {
      const kom::reply<kom::no_content> r = client_->append_shipping_info(order_id, earlier_capture, u, post);
      last = r.next_step();
      check_once_reply(last, r, "shipping info", model_.count_tracking(order_id, earlier_capture, "TRK-1"));
      if (last != kom::outcome::retry_later) break;
    }
    last_ = last;
    finish_once(last, "shipping info", model_.count_tracking(order_id, earlier_capture, "TRK-1"));
  }

  void run_send_out() {
    kom::post_options post;
    post.idempotency_key = send_out_key;
    kom::outcome last = kom::outcome::retry_later;
    for (; round_ <= max_rounds; end_round()) {
      const kom::reply<kom::no_content> r = client_->trigger_send_out(order_id, earlier_capture, post);
      last = r.next_step();
      check_once_reply(last, r, "send-out", model_.send_outs(order_id, earlier_capture));
      if (last != kom::outcome::retry_later) break;
    }
    last_ = last;
    finish_once(last, "send-out", model_.send_outs(order_id, earlier_capture));
  }

  static constexpr std::int64_t refund_amount = 1000;

  void run_refund() {
    kom::refund_request f;
    f.refunded_amount = refund_amount;
    f.reference = "return-1";
    f.description = "Returned at the till";
    kom::post_options post;
    post.idempotency_key = refund_key;
    kom::outcome last = kom::outcome::retry_later;
    for (; round_ <= max_rounds; end_round()) {
      const kom::reply<kom::refund_created> r = client_->refund(order_id, f, post);
      last = r.next_step();
      check_refund_reply(last, r);
      if (r.value.refunded_amount != refund_amount) problem(how(r) + ": value.refunded_amount is not the request's");
      if (last != kom::outcome::retry_later) break;
    }
    last_ = last;
    if (last == kom::outcome::retry_later) problem("still retry_later after " + std::to_string(max_rounds) + " rounds");
    const int n = model_.orders[order_id].count_refunds("return-1");
    if (n != (last == kom::outcome::refused ? 0 : 1)) problem("at the end the model holds " + std::to_string(n) + " refunds of return-1");
  }

  // What the model applied of an order-wide change: how many times.
  int applied_count(change c) {
    const m_order& o = model_.orders[order_id];
    switch (c) {
      case change::cancel: return o.cancelled ? 1 : 0;
      case change::release: return o.closed ? 1 : 0;
      case change::extend: return o.extensions;
      case change::references: return o.reference_updates;
      case change::authorization: return o.authorization_updates;
      case change::refund: return o.count_refunds("return-1");
      case change::shipping_info:
      case change::send_out:
      case change::none: break;
    }
    return 0;
  }

  static const char* change_name(change c) {
    switch (c) {
      case change::cancel: return "cancel";
      case change::release: return "release";
      case change::extend: return "extension";
      case change::references: return "merchant references update";
      case change::authorization: return "authorization update";
      case change::refund: return "refund";
      case change::shipping_info: return "shipping info";
      case change::send_out: return "send-out";
      case change::none: break;
    }
    return "?";
  }

  static kom::merchant_references the_references() { return {"R-2026-0001", "T-17"}; }
  static kom::authorization_update the_authorization() {
    kom::authorization_update u;
    u.order_amount = 8000;  // above the 3000 captured before the case
    u.description = "One item out of stock";
    return u;
  }

  void run_order_change() {
    const change c = order_change_of(spec_.op);
    kom::post_options post;
    post.idempotency_key = change_key;
    const kom::merchant_references refs = the_references();
    const kom::authorization_update update = the_authorization();
    kom::outcome last = kom::outcome::retry_later;
    for (; round_ <= max_rounds; end_round()) {
      kom::reply<kom::no_content> r;
      switch (c) {
        case change::cancel: r = client_->cancel(order_id, post); break;
        case change::release: r = client_->release_remaining_authorization(order_id, post); break;
        case change::extend: r = client_->extend_authorization_time(order_id, post); break;
        case change::references: r = client_->update_merchant_references(order_id, refs, post); break;
        default: r = client_->update_authorization(order_id, update, post); break;
      }
      last = r.next_step();
      check_once_reply(last, r, change_name(c), applied_count(c));
      if (last != kom::outcome::retry_later) break;
    }
    last_ = last;
    finish_once(last, change_name(c), applied_count(c));
  }

  void run_outbox() {
    mem_storage blocks(1024, 8);  // flash semantics, no power cuts here
    auto box = std::make_unique<small_outbox>(blocks.storage(), wall_of(clocks_));
    if (!box->open().ok()) {
      problem("the outbox did not open");
      return;
    }
    kom::capture_request capture;
    capture.captured_amount = 6000;
    capture.reference = "sale-1";
    capture.description = "Sale 1";
    kom::shipping_info s[1];
    s[0].shipping_company = "PostNord";
    s[0].shipping_method = kom::shipping_method::home;
    s[0].tracking_number = "TRK-1";
    kom::shipping_info_update update;
    update.shipping_info = s;
    kom::capture_ref target = kom::capture_ref::id(earlier_capture);
    if (queues_capture(spec_.op)) {
      const kom::result<std::uint32_t> seq = box->append_capture(order_id, capture, capture_key);
      if (!seq) {
        problem("append_capture refused");
        return;
      }
      target = kom::capture_ref::of_record(*seq);
    }
    if (queues_shipping_info(spec_.op))
      if (!box->append_shipping_info(order_id, target, update, shipping_key)) problem("append_shipping_info refused");
    if (queues_send_out(spec_.op))
      if (!box->append_send_out(order_id, target, send_out_key)) problem("append_send_out refused");
    if (queues_refund(spec_.op)) {
      kom::refund_request f;
      f.refunded_amount = refund_amount;
      f.reference = "return-1";
      const kom::capture_ref returns = queues_capture(spec_.op) ? target : kom::capture_ref{};
      if (!box->append_refund(order_id, f, refund_key, returns)) problem("append_refund refused");
    }
    const kom::merchant_references refs = the_references();
    const kom::authorization_update new_amount = the_authorization();
    bool queued = true;
    switch (order_change_of(spec_.op)) {
      case change::cancel: queued = box->append_cancel(order_id, change_key).ok(); break;
      case change::release: queued = box->append_release_remaining_authorization(order_id, change_key).ok(); break;
      case change::extend: queued = box->append_extend_authorization_time(order_id, change_key).ok(); break;
      case change::references: queued = box->append_merchant_references(order_id, refs, change_key).ok(); break;
      case change::authorization: queued = box->append_authorization_update(order_id, new_amount, change_key).ok(); break;
      default: break;
    }
    if (!queued) problem("the outbox refused the order's change");

    kom::capture items[8];
    auto scratch = std::make_unique<kom::capture_storage<>>();
    for (; round_ <= max_rounds; end_round()) {
      const kom::outbox_drain d = box->drain(*client_, items, *scratch);
      (void)d;
      check_outbox(*box, false);
      if (box->pending() == 0) break;
    }
    check_outbox(*box, true);
    last_ = box->pending() == 0 ? kom::outcome::done : kom::outcome::retry_later;
  }

  // ---- the checks, against the model ----

  void problem(const std::string& what) { problems_.push_back(what); }

  template <class T>
  std::string how(const kom::reply<T>& r) const {
    return "round " + std::to_string(round_) + ": " + outcome_name(r.next_step()) + " (status " +
           std::to_string(r.status) + ", errc " + std::to_string(static_cast<int>(r.error.code())) + ")";
  }

  void check_capture_reply(kom::outcome o, const kom::reply<kom::capture_created>& r, const std::string& reference,
                           std::int64_t amount) {
    const int n = model_.count_reference(order_id, reference);
    const m_capture* c = model_.by_reference(order_id, reference);
    if (n > 1) problem(how(r) + ": the model holds " + std::to_string(n) + " captures of " + reference);
    switch (o) {
      case kom::outcome::done:
        if (n != 1) {
          problem(how(r) + " but the model holds " + std::to_string(n) + " captures of " + reference);
        } else {
          if (r.value.capture_id != c->id)
            problem(how(r) + " with capture id '" + std::string(r.value.capture_id) + "', the model's is " + c->id);
          if (c->amount != amount)
            problem(how(r) + ": captured " + std::to_string(c->amount) + ", not " + std::to_string(amount));
        }
        break;
      case kom::outcome::refused:
        problem(how(r) + " after a transient failure or a 2xx");
        if (n != 0) problem(how(r) + " but the model applied it");
        break;
      case kom::outcome::applied_id_unknown:
        if (n != 1) problem(how(r) + " but the model holds " + std::to_string(n) + " captures of " + reference);
        break;
      case kom::outcome::unknown: problem(how(r) + ": every call here carries a key"); break;
      case kom::outcome::retry_later: break;
    }
  }

  void check_refund_reply(kom::outcome o, const kom::reply<kom::refund_created>& r) {
    const m_order& order = model_.orders[order_id];
    const int n = order.count_refunds("return-1");
    if (n > 1) problem(how(r) + ": the model holds " + std::to_string(n) + " refunds of return-1");
    switch (o) {
      case kom::outcome::done:
        if (n != 1) problem(how(r) + " but the model holds " + std::to_string(n) + " refunds of return-1");
        else if (r.value.refund_id != order.refund_by("return-1")->id)
          problem(how(r) + " with refund id '" + std::string(r.value.refund_id) + "', the model's is " +
                  order.refund_by("return-1")->id);
        break;
      case kom::outcome::refused:
        problem(how(r) + " after a transient failure or a 2xx");
        if (n != 0) problem(how(r) + " but the model applied it");
        break;
      case kom::outcome::applied_id_unknown:
        if (n != 1) problem(how(r) + " but the model holds " + std::to_string(n) + " refunds of return-1");
        break;
      case kom::outcome::unknown: problem(how(r) + ": every call here carries a key"); break;
      case kom::outcome::retry_later: break;
    }
  }

  void finish_capture(kom::outcome last, const std::string& reference, std::int64_t amount) {
    if (last == kom::outcome::retry_later) problem("still retry_later after " + std::to_string(max_rounds) + " rounds");
    const int n = model_.count_reference(order_id, reference);
    const int want = last == kom::outcome::refused ? 0 : 1;
    if (n != want)
      problem("at the end the model holds " + std::to_string(n) + " captures of " + reference + ", not " +
              std::to_string(want));
    const m_capture* c = model_.by_reference(order_id, reference);
    if (c != nullptr && c->amount != amount)
      problem("at the end the capture is of " + std::to_string(c->amount) + ", not " + std::to_string(amount));
  }

  template <class T>
  void check_once_reply(kom::outcome o, const kom::reply<T>& r, const char* what, int applied) {
    if (applied > 1) problem(how(r) + ": the model applied the " + std::string(what) + " " + std::to_string(applied) + " times");
    switch (o) {
      case kom::outcome::done:
        if (applied != 1)
          problem(how(r) + " but the model applied the " + std::string(what) + " " + std::to_string(applied) + " times");
        break;
      case kom::outcome::refused:
        problem(how(r) + " after a transient failure or a 2xx");
        if (applied != 0) problem(how(r) + " but the model applied it");
        break;
      case kom::outcome::applied_id_unknown: problem(how(r) + ": only a capture or a refund has an id to lose"); break;
      case kom::outcome::unknown: problem(how(r) + ": every call here carries a key"); break;
      case kom::outcome::retry_later: break;
    }
  }

  void finish_once(kom::outcome last, const char* what, int applied) {
    if (last == kom::outcome::retry_later) problem("still retry_later after " + std::to_string(max_rounds) + " rounds");
    const int want = last == kom::outcome::refused ? 0 : 1;
    if (applied != want)
      problem("at the end the model applied the " + std::string(what) + " " + std::to_string(applied) + " times, not " +
              std::to_string(want));
  }

  // Every operation the outbox marked done is in the model once; none is failed; at the end
  // nothing is pending and every queued change is applied exactly once.
  void check_outbox(small_outbox& box, bool at_end) {
    const std::string when = at_end ? "at the end" : "after drain " + std::to_string(round_);
    if (model_.count_reference(order_id, "sale-1") > 1)
      problem(when + ": the model holds " + std::to_string(model_.count_reference(order_id, "sale-1")) + " captures of sale-1");
    std::string capture_id = earlier_capture;  // what the shipping info and send-out are for
    if (const m_capture* c = model_.by_reference(order_id, "sale-1")) capture_id = c->id;
    const int tracking = model_.count_tracking(order_id, capture_id, "TRK-1");
    const int send_outs = model_.send_outs(order_id, capture_id);
    if (tracking > 1 && !may_repeat(change::shipping_info))
      problem(when + ": the model holds the shipping info " + std::to_string(tracking) + " times");
    if (send_outs > 1 && !may_repeat(change::send_out))
      problem(when + ": the model counts " + std::to_string(send_outs) + " send-outs");
    for (std::size_t i = 0; i < box.size(); ++i) {
      kom::outbox_item item;
      const std::uint32_t seq = box.seq_at(i);
      if (!box.read(seq, item).ok()) {
        problem(when + ": operation " + std::to_string(seq) + " does not read back");
        continue;
      }
      const change c = change_of(item.op);
      const char* what = item.op == kom::outbox_op::capture ? "capture" : change_name(c);
      bool in_model = false;
      if (item.op == kom::outbox_op::capture) {
        const m_capture* m = model_.by_reference(order_id, "sale-1");
        in_model = m != nullptr && m->amount == item.capture.captured_amount;
        if (item.state == kom::outbox_state::done && m != nullptr && item.capture_id != m->id)
          problem(when + ": the capture is done with id '" + std::string(item.capture_id) + "', the model's is " + m->id);
      } else if (item.op == kom::outbox_op::shipping_info) {
        in_model = tracking >= 1;
      } else if (item.op == kom::outbox_op::send_out) {
        in_model = send_outs >= 1;
      } else {
        in_model = applied_count(c) >= 1;
        const m_refund* m = model_.orders[order_id].refund_by("return-1");
        if (item.op == kom::outbox_op::refund && item.state == kom::outbox_state::done && m != nullptr &&
            item.refund_id != m->id)
          problem(when + ": the refund is done with id '" + std::string(item.refund_id) + "', the model's is " + m->id);
      }
      if (applied_count(c) > 1 && c != change::shipping_info && c != change::send_out && !may_repeat(c))
        problem(when + ": the model applied the " + what + " " + std::to_string(applied_count(c)) + " times");
      switch (item.state) {
        case kom::outbox_state::done:
          if (!in_model) problem(when + ": the " + what + " is marked done, but the model does not have it");
          break;
        case kom::outbox_state::failed:
          problem(when + ": the " + what + " is marked failed (errc " + std::to_string(static_cast<int>(item.failure.code)) +
                  ", status " + std::to_string(item.failure.status) + ")");
          if (in_model) problem(when + ": the " + what + " is marked failed, but the model applied it");
          break;
        case kom::outbox_state::pending:
          if (at_end) problem("still pending after " + std::to_string(max_rounds) + " drains: the " + what);
          break;
        case kom::outbox_state::forgotten: problem(when + ": the " + what + " is forgotten"); break;
      }
    }
    if (at_end) {
      if (queues_capture(spec_.op) && model_.count_reference(order_id, "sale-1") != 1)
        problem("at the end the model holds " + std::to_string(model_.count_reference(order_id, "sale-1")) +
                " captures of sale-1, not 1");
      if (queues_shipping_info(spec_.op) && (tracking < 1 || (tracking > 1 && !may_repeat(change::shipping_info))))
        problem("at the end the model holds the shipping info " + std::to_string(tracking) + " times, not 1");
      if (queues_send_out(spec_.op) && (send_outs < 1 || (send_outs > 1 && !may_repeat(change::send_out))))
        problem("at the end the model counts " + std::to_string(send_outs) + " send-outs, not 1");
      if (queues_refund(spec_.op) && applied_count(change::refund) != 1)
        problem("at the end the model holds " + std::to_string(applied_count(change::refund)) + " refunds, not 1");
      const change c = order_change_of(spec_.op);
      if (c != change::none && (applied_count(c) < 1 || (applied_count(c) > 1 && !may_repeat(c))))
        problem("at the end the model applied the " + std::string(change_name(c)) + " " +
                std::to_string(applied_count(c)) + " times, not 1");
    }
  }

  // After 24 hours the outbox resends, with a new key, what Klarna gives no way to look up
  // (documented: a second shipping entry, e-mail, extension or the same update again is the
  // price of never losing one). Captures, refunds, cancels and releases are looked up: once.
  bool may_repeat(change c) const {
    return spec_.day_apart && (c == change::shipping_info || c == change::send_out || c == change::extend ||
                               c == change::references || c == change::authorization);
  }

  // ---- the failure ----

  // Whether the failure is on for exchange n.
  bool active(int n) const {
    if (spec_.f.kind == fk::none) return false;
    if (spec_.faulted_rounds == 0) return n == spec_.point;
    return n >= spec_.point && round_ <= spec_.faulted_rounds;
  }

  bool fired() const {
    switch (spec_.f.kind) {
      case fk::connect_refused:
      case fk::tls_cut: return connect_armed_ && fake_.connect_calls() > connects_at_arming_;
      case fk::cut_0:
      case fk::cut_1:
      case fk::cut_half:
      case fk::cut_all_but_one:
      case fk::cut_all: return fake_.cut_count() > 0;
      default: return fired_;
    }
  }

  static void respond(void* context, kom::testing::fake_transport& fake, std::string_view raw) {
    static_cast<runner*>(context)->on_request(fake, raw);
  }

  void on_request(kom::testing::fake_transport& fake, std::string_view raw) {
    const int n = ++exchange_;
    const m_request req = split_request(raw);
    types_.push_back(type_of(req));
    if (type_of(req) == ex_type::capture) ++capture_posts_;
    const fault& f = spec_.f;
    std::string bytes;
    bool close_after = false;
    if (!active(n) || before_exchange(f.kind)) {
      bytes = model_.handle(req, base_);
    } else {
      const bool post = req.method != "GET";  // a POST or a PATCH
      switch (f.kind) {
        case fk::applied_then_close:
          model_.handle(req, base_);
          close_after = true;
          fired_ = true;
          break;
        case fk::cut_status_line:
        case fk::cut_headers:
        case fk::cut_body: {
          bytes = model_.handle(req, base_);
          const std::size_t status_end = bytes.find("\r\n") + 2;
          const std::size_t head_end = bytes.find("\r\n\r\n") + 4;
          std::size_t keep = f.kind == fk::cut_status_line ? 10 : f.kind == fk::cut_headers ? status_end + (head_end - 2 - status_end) / 2 : 0;
          if (f.kind == fk::cut_body) keep = bytes.size() - head_end >= 2 ? head_end + (bytes.size() - head_end) / 2 : bytes.size();
          if (keep < bytes.size()) fired_ = true;
          bytes.resize(keep);
          close_after = true;
          break;
        }
        case fk::status:
          if (f.applied) model_.handle(req, base_);
          bytes = model_.gateway(f.status, f.retry_after);
          fired_ = true;
          break;
        case fk::created_without_id:
        case fk::head_too_large:
        case fk::body_too_large:
        case fk::malformed_head: {
          const twist t = f.kind == fk::created_without_id ? twist::no_created_id
                          : f.kind == fk::head_too_large   ? twist::head_too_large
                          : f.kind == fk::body_too_large   ? twist::body_too_large
                                                           : twist::malformed_head;
          model_.forget_old_keys();
          const bool fresh = post && model_.replay.find(req.key) == model_.replay.end();
          bytes = model_.handle(req, t);
          if (fresh && (f.kind != fk::created_without_id || type_of(req) == ex_type::capture ||
                        type_of(req) == ex_type::refund))
            fired_ = true;
          break;
        }
        default: bytes = model_.handle(req, base_); break;
      }
    }
    // A failure of the next exchange that happens before it reaches the model.
    if (active(n + 1) && before_exchange(f.kind)) {
      switch (f.kind) {
        case fk::connect_refused:
        case fk::tls_cut:
          // The server ends this connection, so the next exchange connects, and that fails.
          bytes = with_header(bytes, "Connection: close");
          if (!connect_armed_) {
            connect_armed_ = true;
            connects_at_arming_ = fake.connect_calls();
            const std::size_t count = spec_.faulted_rounds == 0 ? 1 : 24;
            for (std::size_t i = 1; i <= count; ++i)
              fake.fault_on_connect(connects_at_arming_ + i, f.kind == fk::tls_cut ? kom::testing::fake_fault::tls_cut : kom::testing::fake_fault::refuse);
            armed_until_ = connects_at_arming_ + count;
          }
          break;
        case fk::cut_0:
        case fk::cut_1:
        case fk::cut_half:
        case fk::cut_all_but_one:
        case fk::cut_all: {
          const kom::testing::fake_cut where = f.kind == fk::cut_0           ? kom::testing::fake_cut::at_start
                                      : f.kind == fk::cut_1         ? kom::testing::fake_cut::after_first
                                      : f.kind == fk::cut_half      ? kom::testing::fake_cut::at_half
                                      : f.kind == fk::cut_all_but_one ? kom::testing::fake_cut::before_last
                                                                    : kom::testing::fake_cut::after_last;
          if (fake.cuts_waiting() == 0) fake.cut_requests(where, spec_.faulted_rounds == 0 ? 1 : 1000);
          break;
        }
        case fk::stale_keepalive:
          close_after = true;
          fired_ = true;
          break;
        default: break;
      }
    }
    if (!bytes.empty()) fake.reply(bytes);
    if (close_after) fake.close_after_reply();
  }

  // Between rounds: a till waits before it calls again; a lasting failure ends after its rounds.
  void end_round() {
    ++round_;
    clocks_.mono += 30000;
    clocks_.wall += spec_.day_apart ? 25ull * 60 * 60 * 1000 : 30000;
    if (spec_.faulted_rounds != 0 && round_ > spec_.faulted_rounds) {
      fake_.cut_requests(kom::testing::fake_cut::none, 0);
      for (std::size_t i = fake_.connect_calls() + 1; i <= armed_until_; ++i)
        fake_.fault_on_connect(i, kom::testing::fake_fault::none);
    }
  }

  case_spec spec_;
  kom::testing::fake_transport& fake_;
  klarna_model model_;
  twist base_ = twist::none;  // what every fresh 2xx answer to a POST gets (the *_id_lost operations)
  clocks clocks_;
  char work_[work_size];
  std::unique_ptr<kom::client> client_;
  int exchange_ = -1;  // the warm-up read is exchange 0
  int capture_posts_ = 0;  // capture requests that reached the model
  int round_ = 0;
  bool fired_ = false;
  kom::outcome last_ = kom::outcome::retry_later;
  bool connect_armed_ = false;
  std::size_t connects_at_arming_ = 0;
  std::size_t armed_until_ = 0;
  std::vector<ex_type> types_;
  std::vector<std::string> problems_;
};

}  // namespace

TEST_CASE("fault matrix: every failure at every point of every changing call, judged by a model of Klarna") {
  // The exchanges of each operation without a failure (and that run must pass).
  std::map<op_kind, std::vector<ex_type>> clean;
  for (op_kind op : all_ops) {
    case_spec c;
    c.op = op;
    runner r(c);
    r.run();
    for (const std::string& p : r.problems()) FAIL_CHECK(std::string(name_of(op)) << " without a failure: " << p);
    std::vector<ex_type> ex(r.exchanges().begin() + 1, r.exchanges().end());  // without the warm-up
    REQUIRE_MESSAGE(!ex.empty(), std::string(name_of(op)));
    clean[op] = ex;
  }

  const std::vector<fault> faults = all_faults();
  std::size_t cases = 0, failed = 0, shown = 0, more_rounds = 0, exchanges = 0, day_cases = 0;
  std::map<kom::outcome, std::size_t> outcomes;
  std::map<std::string, std::size_t> failed_by_kind;  // operation and failure, over the other dimensions
  for (op_kind op : all_ops) {
    const std::vector<ex_type>& ex = clean[op];
    for (std::size_t point = 1; point <= ex.size(); ++point) {
      for (const fault& f : faults) {
        if (!applies(f, ex[point - 1])) continue;
        for (int rounds : {0, 1, 3}) {
          for (std::uint32_t attempts : {1u, 3u}) {
            for (int io : {0, 1, 2}) {
             for (bool day_apart : {false, true}) {
              if (day_apart && op < op_kind::outbox_capture) continue;  // direct calls have no 24-hour rule
              case_spec c;
              c.op = op;
              c.point = static_cast<int>(point);
              c.f = f;
              c.faulted_rounds = rounds;
              c.attempts = attempts;
              c.io = io;
              c.day_apart = day_apart;
              if (day_apart) ++day_cases;
              runner r(c);
              r.run();
              ++cases;
              ++outcomes[r.last()];
              exchanges += r.exchanges().size();
              if (r.rounds() > 1) ++more_rounds;
              if (r.problems().empty()) continue;
              ++failed;
              // The first failed case of each operation, exchange and failure, in full.
              if (failed_by_kind[std::string(name_of(op)) + ", exchange " + std::to_string(point) + ": " + f.name()]++ == 0 &&
                  shown < 150) {
                ++shown;
                std::string all;
                for (const std::string& p : r.problems()) all += "\n    " + p;
                std::printf("FAILED: %s%s\n", c.name().c_str(), all.c_str());
              }
             }
            }
          }
        }
      }
    }
  }
  if (!failed_by_kind.empty()) {
    std::printf("failed cases by operation and failure (over rounds, attempts and I/O):\n");
    for (const auto& k : failed_by_kind) std::printf("  %4zu  %s\n", k.second, k.first.c_str());
  }
  std::printf("fault matrix: last outcomes: done %zu, applied_id_unknown %zu, refused %zu, retry_later %zu; "
              "%zu cases needed more than one round; %zu requests reached the model\n",
              outcomes[kom::outcome::done], outcomes[kom::outcome::applied_id_unknown], outcomes[kom::outcome::refused],
              outcomes[kom::outcome::retry_later], more_rounds, exchanges);
  std::printf("fault matrix: %zu cases (%zu with drains 25 h apart), %zu failed\n", cases, day_cases, failed);
  std::fflush(stdout);
  CHECK(cases > 1000);
  CHECK(failed == 0);
}

// ---- the tools the matrix relies on ----------------------------------------------------------

namespace {

int send_text(kom::testing::fake_transport& f, std::string_view s) {
  return f.send(reinterpret_cast<const unsigned char*>(s.data()), s.size());
}

void count_and_answer(void* context, kom::testing::fake_transport& fake, std::string_view) {
  ++*static_cast<int*>(context);
  fake.reply("HTTP/1.1 204 No Content\r\n\r\n");
}

}  // namespace

TEST_CASE("fault matrix tools: fake_transport cuts a request where asked") {
  const std::string request = "POST /x HTTP/1.1\r\nContent-Length: 4\r\n\r\nbody";  // 42 bytes
  struct expectation {
    kom::testing::fake_cut where;
    std::size_t taken;
  };
  const expectation cases[] = {{kom::testing::fake_cut::at_start, 0},
                               {kom::testing::fake_cut::after_first, 1},
                               {kom::testing::fake_cut::at_half, request.size() / 2},
                               {kom::testing::fake_cut::before_last, request.size() - 1},
                               {kom::testing::fake_cut::after_last, request.size()}};
  for (bool small_io : {false, true}) {
    for (const expectation& c : cases) {
      CAPTURE(static_cast<int>(c.where));
      CAPTURE(small_io);
      auto f = std::make_unique<kom::testing::fake_transport>();
      int answered = 0;
      f->set_responder(&count_and_answer, &answered);
      if (small_io) f->max_io(5);
      REQUIRE(f->connect("h", 443, 1000) == kom::io::ok);
      f->cut_requests(c.where);
      CHECK(f->cuts_waiting() == 1);
      // The client offers what is left of the request until a call fails.
      std::size_t sent = 0;
      int last = 0;
      while (sent < request.size()) {
        last = send_text(*f, std::string_view(request).substr(sent));
        if (last <= 0) break;
        sent += static_cast<std::size_t>(last);
      }
      CHECK(sent == c.taken);
      CHECK(f->sent() == request.substr(0, c.taken));
      CHECK(f->cut_count() == 1);
      CHECK(f->cuts_waiting() == 0);
      CHECK_FALSE(f->connected());
      if (c.taken < request.size()) {
        CHECK(last == kom::io::closed);
        CHECK(f->error().code() == kom::errc::connection_closed);
      }
      // A request cut before its end never reaches the responder; a whole one does, and
      // its answer is lost with the connection.
      CHECK(answered == (c.where == kom::testing::fake_cut::after_last ? 1 : 0));
      CHECK(f->pending_reply().empty());
      unsigned char b[64];
      CHECK(f->recv(b, sizeof b, 10) == kom::io::closed);
      // The cut happened once: the next connection carries the request whole.
      f->close();
      REQUIRE(f->connect("h", 443, 1000) == kom::io::ok);
      std::size_t again = 0;
      while (again < request.size()) {
        const int n = send_text(*f, std::string_view(request).substr(again));
        REQUIRE(n > 0);
        again += static_cast<std::size_t>(n);
      }
      CHECK(answered == (c.where == kom::testing::fake_cut::after_last ? 2 : 1));
      CHECK(f->connected());
    }
  }
}

TEST_CASE("fault matrix tools: fake_transport cuts as many requests as asked, and cancels") {
  auto f = std::make_unique<kom::testing::fake_transport>();
  int answered = 0;
  f->set_responder(&count_and_answer, &answered);
  const std::string request = "GET /x HTTP/1.1\r\n\r\n";
  f->cut_requests(kom::testing::fake_cut::at_half, 2);
  for (int i = 0; i < 2; ++i) {
    REQUIRE(f->connect("h", 443, 1000) == kom::io::ok);
    CHECK(send_text(*f, request) == static_cast<int>(request.size() / 2));
    CHECK_FALSE(f->connected());
    f->close();
  }
  CHECK(f->cut_count() == 2);
  REQUIRE(f->connect("h", 443, 1000) == kom::io::ok);
  CHECK(send_text(*f, request) == static_cast<int>(request.size()));
  CHECK(answered == 1);
  f->cut_requests(kom::testing::fake_cut::at_start, 5);
  f->cut_requests(kom::testing::fake_cut::none);
  CHECK(f->cuts_waiting() == 0);
  CHECK(send_text(*f, request) == static_cast<int>(request.size()));
  CHECK(answered == 2);
  f->cut_requests(kom::testing::fake_cut::at_start, 1);
  f->reset();
  CHECK(f->cuts_waiting() == 0);
  CHECK(f->cut_count() == 0);
}

TEST_CASE("fault matrix tools: fake_transport's tls_cut fails a connect with a TLS error") {
  auto f = std::make_unique<kom::testing::fake_transport>();
  f->fault_on_connect(1, kom::testing::fake_fault::tls_cut);
  CHECK(f->connect("h", 443, 1000) == kom::io::failed);
  CHECK(f->error().code() == kom::errc::tls_handshake_failed);
  CHECK_FALSE(f->connected());
  REQUIRE(f->connect("h", 443, 1000) == kom::io::ok);
  f->fault_at(f->operations() + 1, kom::testing::fake_fault::tls_cut);
  CHECK(send_text(*f, "GET") == kom::io::failed);
  CHECK(f->error().code() == kom::errc::tls_failed);
  CHECK_FALSE(f->connected());
  // kom's client takes either as a failed link: retry_later, nothing sent.
  clocks c;
  kom::client_config config;
  config.request.server = {"api.playground.klarna.com", 443};
  config.request.credentials.username = "merchant_user";
  config.request.credentials.password = "s3cret-Pa55";
  config.retry.max_attempts = 1;
  static char work[4096];
  f->reset();
  f->fault_on_connect(1, kom::testing::fake_fault::tls_cut);
  kom::client client(f->transport(), config, hooks_for(c), work);
  const kom::reply<kom::no_content> r = client.trigger_send_out("order-1", "cap-1", {capture_key});
  CHECK(r.error.code() == kom::errc::tls_handshake_failed);
  CHECK_FALSE(r.sent);
  CHECK(r.next_step() == kom::outcome::retry_later);
}
