// Input injection: every caller-provided path id and header value, fed with CR, LF, NUL, the
// other control characters, DEL, '/', '?', '%', '#', space and non-ASCII bytes, through every
// request builder and through kom::client over kom::testing::fake_transport. A refused value gives
// its error and field path, writes nothing (a guard-filled buffer stays as it was) and sends
// nothing (no connect, send or recv at all).
//
// What each field takes (http_request.hpp's check_* functions):
//   order_id, capture_id      1..255 unreserved characters (A-Z a-z 0-9 - . _ ~), not "." or ".."
//   server.host               1..253 characters of A-Z a-z 0-9 - . _ (a DNS name or IPv4 address)
//   idempotency key,          visible ASCII (0x21..0x7E): '/', '?', '%', '#' are taken as they
//   API key, User-Agent parts   are (they cannot end or split a header line); no space
//   username, password        anything but controls (0x00..0x1F, 0x7F): they travel inside
//                               base64, so space, '/', '?', '%', '#' and UTF-8 are fine;
//                               a ':' in the username is refused (RFC 7617)
#include <doctest/doctest.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "kom/client.hpp"
#include "kom/testing/fake_transport.hpp"
#include "support/seeds.hpp"

namespace {

constexpr unsigned char guard = 0xA5;
constexpr const char* good_key = "2ed6657d-e927-568b-95e1-2665a8aea6a2";

kom::request_config base_config() {
  kom::request_config c;
  c.server = {"api.playground.klarna.com", 443};
  c.credentials.username = "K123456_abcdef";
  c.credentials.password = "sharedsecret";
  c.user_agent.os = "Linux_5.10";
  c.user_agent.pos_model = "Kiosk-7";
  c.user_agent.firmware = "2.4.1";
  return c;
}

// The bytes fed into every field, each in the middle of a valid value and at its end.
struct probe {
  std::string bytes;
  std::string name;
};

std::vector<probe> probes() {
  std::vector<probe> p;
  for (int c = 0; c < 0x20; ++c) p.push_back({std::string(1, static_cast<char>(c)), "control " + std::to_string(c)});
  p.push_back({"\x7f", "DEL"});
  p.push_back({"/", "slash"});
  p.push_back({"?", "question mark"});
  p.push_back({"%", "percent"});
  p.push_back({"%2F", "encoded slash"});
  p.push_back({"#", "hash"});
  p.push_back({" ", "space"});
  p.push_back({"\r\nX-Injected: 1\r\n", "CRLF and a header"});
  p.push_back({"\x80", "byte 0x80"});
  p.push_back({"\xC3\xA9", "UTF-8 e-acute"});
  p.push_back({"\xFF", "byte 0xFF"});
  return p;
}

bool is_control(const std::string& bytes) {
  for (char ch : bytes) {
    const auto b = static_cast<unsigned char>(ch);
    if (b < 0x20 || b == 0x7F) return true;
  }
  return false;
}

bool is_visible_ascii(const std::string& bytes) {
  for (char ch : bytes) {
    const auto b = static_cast<unsigned char>(ch);
    if (b < 0x21 || b > 0x7E) return false;
  }
  return true;
}

// The fields a caller gives, and the rule each follows.
enum class rule { path_id, host, header, secret };

struct field {
  const char* path;  // the error's field path
  rule kind;
};

const field fields[] = {
    {"order_id", rule::path_id},
    {"capture_id", rule::path_id},
    {"idempotency_key", rule::header},
    {"server.host", rule::host},
    {"credentials.api_key", rule::header},
    {"credentials.username", rule::secret},
    {"credentials.password", rule::secret},
    {"user_agent.os", rule::header},
    {"user_agent.pos_model", rule::header},
    {"user_agent.firmware", rule::header},
};

// Whether a value with `bytes` in it is taken by a field of this rule.
bool accepted(rule kind, const std::string& bytes) {
  switch (kind) {
    case rule::path_id:
    case rule::host: return false;  // no probe is a name character
    case rule::header: return is_visible_ascii(bytes);
    case rule::secret: return !is_control(bytes);
  }
  return false;
}

kom::errc refusal(rule kind) {
  return kind == rule::path_id ? kom::errc::invalid_path_id : kom::errc::invalid_header_value;
}

// One request's inputs, all valid until a field is set to a probe.
struct inputs {
  kom::request_config config = base_config();
  std::string order_id = "order-1";
  std::string capture_id = "capture-1";
  std::string key = good_key;
  std::string api_key;  // kept here so config's view stays valid

  void set(const char* path, const std::string& value) {
    const std::string_view p = path;
    if (p == "order_id") order_id = value;
    else if (p == "capture_id") capture_id = value;
    else if (p == "idempotency_key") key = value;
    else if (p == "server.host") config.server.host = store(value);
    else if (p == "credentials.api_key") config.credentials.api_key = api_key = value;
    else if (p == "credentials.username") config.credentials.username = store(value);
    else if (p == "credentials.password") config.credentials.password = store(value);
    else if (p == "user_agent.os") config.user_agent.os = store(value);
    else if (p == "user_agent.pos_model") config.user_agent.pos_model = store(value);
    else if (p == "user_agent.firmware") config.user_agent.firmware = store(value);
    else FAIL("unknown field " << path);
  }

  std::string_view store(const std::string& value) {
    held.push_back(value);
    return held.back();
  }
  // Views into config must stay valid: a list that never moves its strings (reserved).
  std::vector<std::string> held = [] {
    std::vector<std::string> v;
    v.reserve(16);
    return v;
  }();
};

// The operations, each as a builder call and as a client call.
enum class op { capture, get_capture, list_captures, append_shipping_info, trigger_send_out, get_order, capture_remaining };

const op all_ops[] = {op::capture,          op::get_capture, op::list_captures,    op::append_shipping_info,
                      op::trigger_send_out, op::get_order,   op::capture_remaining};

const char* name_of(op o) {
  switch (o) {
    case op::capture: return "capture";
    case op::get_capture: return "get_capture";
    case op::list_captures: return "list_captures";
    case op::append_shipping_info: return "append_shipping_info";
    case op::trigger_send_out: return "trigger_send_out";
    case op::get_order: return "get_order";
    case op::capture_remaining: return "capture_remaining";
  }
  return "?";
}

bool uses(op o, std::string_view path) {
  const bool capture_id = o == op::get_capture || o == op::append_shipping_info || o == op::trigger_send_out;
  // capture_remaining's own POST is never reached when its GET is refused; its key is given
  // only to the capture, which is refused by the same config checks first.
  const bool key = o == op::capture || o == op::append_shipping_info || o == op::trigger_send_out;
  if (path == "capture_id") return capture_id;
  if (path == "idempotency_key") return key;
  return true;  // order_id and the config's fields: every operation
}

const kom_test::seed_capture& seed() {
  static const kom_test::seed_capture s;
  return s;
}
const kom_test::seed_shipping_update& update() {
  static const kom_test::seed_shipping_update u;
  return u;
}

// The builder of `o` (capture_remaining has none of its own: it is a get_order, then a capture).
kom::result<std::size_t> build(op o, kom::buffer_writer& out, const inputs& in) {
  switch (o) {
    case op::capture: return kom::write_capture_request(out, in.config, in.order_id, seed().request, in.key);
    case op::get_capture: return kom::write_get_capture_request(out, in.config, in.order_id, in.capture_id);
    case op::list_captures: return kom::write_list_captures_request(out, in.config, in.order_id);
    case op::append_shipping_info:
      return kom::write_shipping_info_request(out, in.config, in.order_id, in.capture_id, update().request, in.key);
    case op::trigger_send_out:
      return kom::write_trigger_send_out_request(out, in.config, in.order_id, in.capture_id, in.key);
    case op::get_order:
    case op::capture_remaining: break;
  }
  return kom::write_get_order_request(out, in.config, in.order_id);
}

// The head holds visible ASCII and spaces, with CR only as the first byte of a line's CRLF.
bool clean_head(std::string_view request) {
  const std::size_t end = request.find("\r\n\r\n");
  if (end == std::string_view::npos) return false;
  for (std::size_t i = 0; i < end + 4; ++i) {
    const auto b = static_cast<unsigned char>(request[i]);
    if (b == '\r' && i + 1 < request.size() && request[i + 1] == '\n') continue;
    if (b == '\n' && i > 0 && request[i - 1] == '\r') continue;
    if (b < 0x20 || b > 0x7E) return false;
  }
  return true;
}

bool all_guard(const unsigned char* b, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i)
    if (b[i] != guard) return false;
  return true;
}

// The client's hooks: a clock that sleeping advances, and a counter as randomness.
struct env {
  std::uint64_t now = 1000;
  std::uint32_t counter = 0;
};

kom::client_hooks hooks_for(env& state) {
  kom::client_hooks h;
  h.context = &state;
  h.now_ms = [](void* c) { return static_cast<env*>(c)->now; };
  h.sleep_ms = [](void* c, std::uint32_t ms) { static_cast<env*>(c)->now += ms; };
  h.random = [](void* c, unsigned char* out, std::size_t n) {
    auto* e = static_cast<env*>(c);
    for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<unsigned char>(++e->counter);
    return 0;
  };
  h.random_context = &state;
  return h;
}

// A server that answers anything; it must never be asked.
void answer_anything(void*, kom::testing::fake_transport& fake, std::string_view) {
  fake.reply("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n");
}

struct client_call {
  kom::error error;
  bool sent = false;
  std::uint32_t attempts = 0;
  kom::outcome next = kom::outcome::done;
};

template <class T>
client_call result_of(const kom::reply<T>& r) {
  return {r.error, r.sent, r.attempts, r.next_step()};
}

client_call call(op o, kom::client& c, const inputs& in) {
  static kom::capture_storage<> capture_store;
  static kom::order_storage<> order_store;
  static kom::capture items[4];
  const kom::post_options post{in.key};
  switch (o) {
    case op::capture: return result_of(c.capture(in.order_id, seed().request, post));
    case op::get_capture: return result_of(c.get_capture(in.order_id, in.capture_id, capture_store));
    case op::list_captures: return result_of(c.list_captures(in.order_id, items, capture_store));
    case op::append_shipping_info:
      return result_of(c.append_shipping_info(in.order_id, in.capture_id, update().request, post));
    case op::trigger_send_out: return result_of(c.trigger_send_out(in.order_id, in.capture_id, post));
    case op::get_order: return result_of(c.get_order(in.order_id, order_store));
    case op::capture_remaining: return result_of(c.capture_remaining(in.order_id, post));
  }
  return {};
}

// The value a probe is put into: in the middle of a valid value, or at its end.
std::string with_probe(const char* path, const std::string& bytes, bool at_end) {
  const std::string_view p = path;
  std::string base = p == "server.host" ? "api.playground.klarna.com" : p == "idempotency_key" ? "key-1" : "value-1";
  if (p == "credentials.api_key") base = "klarna_test_api_abc";
  return at_end ? base + bytes : base.substr(0, 3) + bytes + base.substr(3);
}

}  // namespace

TEST_CASE("injection: every builder refuses each bad byte in each field, and writes nothing") {
  std::size_t refused = 0, taken = 0;
  for (const probe& pr : probes()) {
    for (const field& f : fields) {
      for (const op o : all_ops) {
        if (o == op::capture_remaining || !uses(o, f.path)) continue;
        for (const bool at_end : {false, true}) {
          CAPTURE(pr.name);
          CAPTURE(f.path);
          CAPTURE(name_of(o));
          CAPTURE(at_end);
          inputs in;
          in.set(f.path, with_probe(f.path, pr.bytes, at_end));
          unsigned char buf[4096];
          std::memset(buf, guard, sizeof buf);
          kom::buffer_writer out(reinterpret_cast<char*>(buf), sizeof buf);
          const kom::result<std::size_t> r = build(o, out, in);
          if (accepted(f.kind, pr.bytes)) {
            // Taken as it is: a header keeps it on its own line; a secret goes in base64.
            REQUIRE(r.ok());
            const std::string_view request(reinterpret_cast<const char*>(buf), *r);
            CHECK(request.find("X-Injected") == std::string_view::npos);
            CHECK(clean_head(request));
            ++taken;
            continue;
          }
          REQUIRE(!r.ok());
          CHECK(r.error().code() == refusal(f.kind));
          CHECK(r.error().path() == f.path);
          CHECK(out.size() == 0);
          CHECK(out.written() == 0);
          CHECK(all_guard(buf, sizeof buf));
          ++refused;
        }
      }
    }
  }
  CHECK(refused > 0);
  CHECK(taken > 0);
}

TEST_CASE("injection: what each header field takes, byte for byte in the request") {
  // Visible ASCII goes into a header as it is; a secret's bytes go into base64 only.
  inputs in;
  in.set("idempotency_key", "a/b?c%d#e");
  in.set("user_agent.os", "Linux/5.10?#%");
  in.set("credentials.password", "pass word/?%#\xC3\xA9");
  char buf[4096];
  kom::buffer_writer out(buf);
  const auto r = kom::write_trigger_send_out_request(out, in.config, "o-1", "c-1", in.key);
  REQUIRE(r.ok());
  const std::string_view request = out.view();
  CHECK(request.find("\r\nKlarna-Idempotency-Key: a/b?c%d#e\r\n") != std::string_view::npos);
  CHECK(request.find(" OS/Linux/5.10?#% ") != std::string_view::npos);
  CHECK(request.find("pass word") == std::string_view::npos);
  CHECK(request.find("\xC3\xA9") == std::string_view::npos);
  // Every line of the head is one header: no CR or LF but at the ends of lines.
  std::size_t lines = 0;
  for (std::size_t at = 0; (at = request.find("\r\n", at)) != std::string_view::npos; at += 2) ++lines;
  CHECK(lines == 9);  // request line, 7 headers, the blank line
}

TEST_CASE("injection: a ':' in the username is refused, in the password it is fine") {
  inputs in;
  in.set("credentials.username", "user:name");
  kom::buffer_writer out(kom::measure_only);
  auto r = kom::write_get_order_request(out, in.config, "o-1");
  CHECK(r.error().code() == kom::errc::invalid_header_value);
  CHECK(r.error().path() == "credentials.username");
  inputs ok;
  ok.set("credentials.password", "pass:word");
  CHECK(kom::write_get_order_request(out, ok.config, "o-1").ok());
}

TEST_CASE("injection: dot-segment ids are refused, so a path cannot climb out of its order") {
  const kom::request_config cfg = base_config();
  for (const char* id : {".", ".."}) {
    CAPTURE(id);
    unsigned char buf[2048];
    std::memset(buf, guard, sizeof buf);
    kom::buffer_writer out(reinterpret_cast<char*>(buf), sizeof buf);
    auto r = kom::write_get_order_request(out, cfg, id);
    REQUIRE(!r.ok());
    CHECK(r.error().code() == kom::errc::invalid_path_id);
    CHECK(r.error().path() == "order_id");
    r = kom::write_shipping_info_request(out, cfg, "o-1", id, update().request, good_key);
    REQUIRE(!r.ok());
    CHECK(r.error().path() == "capture_id");
    r = kom::write_list_captures_request(out, cfg, id);
    CHECK(r.error().path() == "order_id");
    CHECK(all_guard(buf, sizeof buf));
  }
  // Dots are fine inside an id, and as ids that are not dot-segments.
  kom::buffer_writer out(kom::measure_only);
  CHECK(kom::write_get_order_request(out, cfg, "...").ok());
  CHECK(kom::write_get_order_request(out, cfg, ".a").ok());
  CHECK(kom::write_get_capture_request(out, cfg, "o.1", "..c").ok());
}

TEST_CASE("injection: the client refuses each bad byte in each field, and sends nothing") {
  const std::vector<probe> all = probes();
  std::size_t refused = 0;
  for (const probe& pr : all) {
    for (const field& f : fields) {
      if (accepted(f.kind, pr.bytes)) continue;
      for (const op o : all_ops) {
        if (!uses(o, f.path)) continue;
        CAPTURE(pr.name);
        CAPTURE(f.path);
        CAPTURE(name_of(o));
        inputs in;
        in.set(f.path, with_probe(f.path, pr.bytes, false));
        kom::client_config config;
        config.request = in.config;
        static kom::testing::fake_transport fake;
        fake.reset();
        fake.set_responder(&answer_anything, nullptr);
        env e;
        static unsigned char work[8192];
        std::memset(work, guard, sizeof work);
        {
          kom::client c(fake.transport(), config, hooks_for(e), reinterpret_cast<char*>(work), sizeof work);
          const client_call r = call(o, c, in);
          REQUIRE(!r.error.ok());
          CHECK(r.error.code() == refusal(f.kind));
          CHECK(r.error.path() == f.path);
          CHECK_FALSE(r.sent);
          CHECK(r.attempts == 0);
          CHECK(r.next == kom::outcome::refused);
          CHECK(c.stats().connects == 0);
          CHECK(c.stats().requests == 0);
        }
        CHECK(fake.operations() == 0);
        CHECK(fake.connect_calls() == 0);
        CHECK(fake.sent().empty());
        CHECK(fake.requests() == 0);
        CHECK(all_guard(work, sizeof work));
        ++refused;
      }
    }
  }
  CHECK(refused > 0);
}

TEST_CASE("injection: a dot-segment id through the client is refused before any I/O") {
  for (const op o : all_ops) {
    for (const char* path : {"order_id", "capture_id"}) {
      if (!uses(o, path)) continue;
      CAPTURE(name_of(o));
      CAPTURE(path);
      inputs in;
      in.set(path, "..");
      kom::client_config config;
      config.request = in.config;
      static kom::testing::fake_transport fake;
      fake.reset();
      fake.set_responder(&answer_anything, nullptr);
      env e;
      char work[8192];
      kom::client c(fake.transport(), config, hooks_for(e), work);
      const client_call r = call(o, c, in);
      CHECK(r.error.code() == kom::errc::invalid_path_id);
      CHECK(r.error.path() == path);
      CHECK_FALSE(r.sent);
      CHECK(fake.operations() == 0);
      CHECK(fake.sent().empty());
    }
  }
}

// ---- credentials never stay in the work buffer ---------------------------------------------
// tests/test_client.cpp covers a capture that succeeds after a retry; these are the paths
// that end in failure.

namespace {

// base64("K123456_abcdef:sharedsecret"), as base_config() sends it.
constexpr std::string_view basic_token = "SzEyMzQ1Nl9hYmNkZWY6c2hhcmVkc2VjcmV0";

// No piece of the credentials (any 8 bytes of the token, the password, the header name).
bool holds_no_credentials(const unsigned char* work, std::size_t size, std::string_view token = basic_token) {
  const std::string_view w(reinterpret_cast<const char*>(work), size);
  for (std::size_t i = 0; i + 8 <= token.size(); ++i)
    if (w.find(token.substr(i, 8)) != std::string_view::npos) return false;
  return w.find("Authorization") == std::string_view::npos && w.find("sharedsecret") == std::string_view::npos &&
         w.find("SECRETKEY") == std::string_view::npos;
}

struct failing_rig {
  kom::testing::fake_transport fake;
  env e;
  unsigned char work[4096];
  kom::client client;

  explicit failing_rig(kom::client_config config = make_config())
      : client(fake.transport(), config, hooks_for(e), reinterpret_cast<char*>(work), sizeof work) {
    std::memset(work, guard, sizeof work);
  }
  static kom::client_config make_config() {
    kom::client_config c;
    c.request = base_config();
    c.retry.max_attempts = 3;
    return c;
  }
  bool clean() const { return holds_no_credentials(work, sizeof work); }
};

std::string created_201() {
  return "HTTP/1.1 201 Created\r\nCapture-Id: cap-1\r\nContent-Length: 0\r\n\r\n";
}

void answer_created(void*, kom::testing::fake_transport& fake, std::string_view) { fake.reply(created_201()); }

}  // namespace

TEST_CASE("credentials: a send that fails on every attempt leaves none in the work buffer") {
  SUBCASE("the connection resets at the first send of each attempt") {
    failing_rig t;
    // Each attempt is a connect, then a send that is reset.
    for (std::size_t op = 2; op <= 6; op += 2) t.fake.fault_at(op, kom::testing::fake_fault::reset);
    const auto r = t.client.capture("o-1", seed().request, {good_key});
    CHECK(r.error.code() == kom::errc::connection_closed);
    CHECK(r.sent);
    CHECK(r.attempts == 3);
    CHECK(r.next_step() == kom::outcome::retry_later);
    CHECK(t.clean());
  }
  SUBCASE("half the request went out, then the link failed") {
    kom::client_config once = failing_rig::make_config();
    once.retry.max_attempts = 1;
    failing_rig t(once);
    t.fake.max_io(200);
    t.fake.fault_at(4, kom::testing::fake_fault::fail);  // connect, send 200, send 200, fail
    const auto r = t.client.capture("o-1", seed().request, {good_key});
    CHECK(r.error.code() == kom::errc::io_failed);
    CHECK(r.sent);
    CHECK(t.fake.sent().size() == 400);
    CHECK(t.fake.sent().find(basic_token) != std::string_view::npos);  // it went out
    CHECK(t.clean());
  }
  SUBCASE("sends that would block many times, then no answer") {
    failing_rig t;
    for (std::size_t op = 2; op < 32; ++op) t.fake.fault_at(op, kom::testing::fake_fault::would_block);
    const auto r = t.client.get_order("o-1", *std::make_unique<kom::order_storage<>>());
    CHECK_FALSE(r.ok());
    CHECK(t.clean());
  }
}

TEST_CASE("credentials: no answer, a dropped answer and a refused answer leave none behind") {
  SUBCASE("the server never answers (read timeouts, retried)") {
    failing_rig t;
    t.fake.stall_recv();
    const auto r = t.client.capture("o-1", seed().request, {good_key});
    CHECK(r.error.code() == kom::errc::timed_out);
    CHECK(r.attempts == 3);
    CHECK(t.fake.requests() == 3);
    CHECK(t.clean());
  }
  SUBCASE("the server closes without answering") {
    failing_rig t;
    t.fake.set_responder([](void*, kom::testing::fake_transport& f, std::string_view) { f.close_after_reply(); }, nullptr);
    const auto r = t.client.trigger_send_out("o-1", "c-1", {good_key});
    CHECK_FALSE(r.ok());
    CHECK(r.sent);
    CHECK(t.clean());
  }
  SUBCASE("a 401 answer") {
    failing_rig t;
    t.fake.set_responder(
        [](void*, kom::testing::fake_transport& f, std::string_view) {
          f.reply("HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n");
        },
        nullptr);
    const auto r = t.client.get_order("o-1", *std::make_unique<kom::order_storage<>>());
    CHECK(r.status == 401);
    CHECK(r.next_step() == kom::outcome::refused);
    CHECK(t.clean());
  }
}

TEST_CASE("credentials: buffer_too_small writes none, for the request and for the answer") {
  SUBCASE("a request bigger than the work buffer is never written") {
    kom::testing::fake_transport fake;
    env e;
    unsigned char small[300];  // a capture request needs about 900 bytes
    std::memset(small, guard, sizeof small);
    kom::client c(fake.transport(), failing_rig::make_config(), hooks_for(e), reinterpret_cast<char*>(small),
                  sizeof small);
    const auto r = c.capture("o-1", seed().request, {good_key});
    CHECK(r.error.code() == kom::errc::buffer_too_small);
    CHECK(r.error.detail() > static_cast<std::int64_t>(sizeof small));
    CHECK_FALSE(r.sent);
    CHECK(fake.operations() == 0);
    CHECK(all_guard(small, sizeof small));
  }
  SUBCASE("an answer bigger than the work buffer") {
    failing_rig t;
    t.fake.set_responder(
        [](void*, kom::testing::fake_transport& f, std::string_view) {
          f.reply("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{\"order_id\":");
        },
        nullptr);
    const auto r = t.client.get_order("o-1", *std::make_unique<kom::order_storage<>>());
    CHECK(r.error.code() == kom::errc::buffer_too_small);
    CHECK(r.sent);
    CHECK(t.clean());
  }
}

TEST_CASE("credentials: an API key leaves the work buffer on failure too") {
  kom::client_config config = failing_rig::make_config();
  config.request.credentials = {};
  config.request.credentials.api_key = "klarna_test_api_SECRETKEY";
  failing_rig t(config);
  t.fake.stall_recv();
  const auto r = t.client.capture("o-1", seed().request, {good_key});
  CHECK(r.error.code() == kom::errc::timed_out);
  CHECK(t.fake.sent().find("SECRETKEY") != std::string_view::npos);
  CHECK(holds_no_credentials(t.work, sizeof t.work, "klarna_test_api_SECRETKEY"));
  // And after a success on the same client.
  t.fake.resume_recv();
  t.fake.set_responder(&answer_created, nullptr);
  CHECK(t.client.capture("o-1", seed().request, {good_key}).ok());
  CHECK(holds_no_credentials(t.work, sizeof t.work, "klarna_test_api_SECRETKEY"));
}
