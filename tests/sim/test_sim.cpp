// kom-sim's tests: every path and error over real TLS (see test_support.hpp).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include "test_support.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

using namespace simtest;
namespace json = boost::json;

namespace {

// The shared sim for most tests: credentials u:p, the default read timeout (10 s), long
// enough for a dozen handshakes under sanitizers on a busy machine.
SimProcess& main_sim() {
  static SimProcess sim({"--username", "u", "--password", "p"});
  return sim;
}

std::string unique_order(std::int64_t amount = 10000, const std::string& extra = {}) {
  static std::atomic<int> n{0};
  std::string id = "test-order-" + std::to_string(++n);
  TlsClient c(main_sim().port());
  std::string body = R"({"order_id":")" + id + R"(","order_amount":)" + std::to_string(amount) +
                     R"(,"purchase_currency":"EUR")" + extra + "}";
  auto r = c.request(http("POST", "/_sim/orders", body, {}, false));
  REQUIRE(r.status == 201);
  return id;
}

std::string order_path(const std::string& id) { return "/ordermanagement/v1/orders/" + id; }

HttpResponse send(const std::string& raw, int port = 0) {
  TlsClient c(port == 0 ? main_sim().port() : port);
  return c.request(raw);
}

json::value state(int port = 0) {
  auto r = send(http("GET", "/_sim/state", {}, {}, false), port);
  REQUIRE(r.status == 200);
  return json::parse(r.body);
}

json::object state_order(const std::string& id, int port = 0) {
  const json::value s = state(port);
  for (const auto& o : s.at("orders").as_array())
    if (o.at("order_id").as_string() == id) return o.as_object();
  FAIL("order not in state: " << id);
  return {};
}

std::int64_t applied_posts(int port = 0) { return state(port).at("applied_posts").as_int64(); }

void check_error(const HttpResponse& r, int status, const std::string& code,
                 const std::string& message_part = {}) {
  CHECK(r.status == status);
  auto v = r.json();
  REQUIRE(v.is_object());
  CHECK(v.as_object().size() == 3);
  CHECK(v.at("error_code").as_string() == code.c_str());
  REQUIRE(v.at("error_messages").is_array());
  REQUIRE(v.at("error_messages").as_array().size() == 1);
  std::string msg(v.at("error_messages").as_array()[0].as_string());
  if (!message_part.empty()) CHECK_MESSAGE(msg.find(message_part) != std::string::npos, msg);
  CHECK(is_uuid4(std::string(v.at("correlation_id").as_string())));
  CHECK(r.header("Klarna-Correlation-Id") == std::string(v.at("correlation_id").as_string()));
  CHECK(r.header("Content-Type") == "application/json");
}

std::string capture(const std::string& order, std::int64_t amount, const std::string& extra = {},
                    const std::string& key = {}) {
  std::string hdr = key.empty() ? std::string() : "Klarna-Idempotency-Key: " + key + "\r\n";
  auto r = send(http("POST", order_path(order) + "/captures",
                     R"({"captured_amount":)" + std::to_string(amount) + extra + "}", hdr));
  REQUIRE_MESSAGE(r.status == 201, r.body);
  return r.header("Capture-Id");
}

const char* line_ok = R"({"name":"Widget","quantity":1,"unit_price":1000,"total_amount":1000})";

}  // namespace

TEST_CASE("kom-sim prints its port and answers over TLS") {
  CHECK(main_sim().port() > 0);
  auto r = send(http("GET", order_path("f3392f8b-6116-4073-ab96-e330819e2c07")));
  CHECK(r.status == 200);
  CHECK(is_uuid4(r.header("Klarna-Correlation-Id")));
}

TEST_CASE("make-certs is idempotent") {
  const std::string& d = certs_dir();
  auto read = [&](const char* f) {
    std::string out;
    FILE* fp = std::fopen((d + "/" + f).c_str(), "rb");
    REQUIRE(fp != nullptr);
    char b[4096];
    std::size_t n;
    while ((n = std::fread(b, 1, sizeof b, fp)) > 0) out.append(b, n);
    std::fclose(fp);
    return out;
  };
  std::string ca = read("ca.crt"), key = read("server.key");
  CHECK(ca.find("BEGIN CERTIFICATE") != std::string::npos);
  CHECK(std::system((std::string("bash '") + KOM_SIM_MAKE_CERTS + "' '" + d + "'").c_str()) == 0);
  CHECK(read("ca.crt") == ca);
  CHECK(read("server.key") == key);
  CHECK(std::system((std::string("bash '") + KOM_SIM_MAKE_CERTS + "' 2>/dev/null").c_str()) != 0);
}

TEST_CASE("make-bad-certs makes certificates a client must refuse, idempotently") {
  const std::string& d = bad_certs_dir();
  auto read = [&](const std::string& f) {
    std::string out;
    FILE* fp = std::fopen((d + "/" + f).c_str(), "rb");
    REQUIRE_MESSAGE(fp != nullptr, f);
    char b[4096];
    std::size_t n;
    while ((n = std::fread(b, 1, sizeof b, fp)) > 0) out.append(b, n);
    std::fclose(fp);
    return out;
  };
  const char* names[] = {"other-host", "expired", "not-yet-valid", "self-signed", "untrusted-ca", "untrusted-server"};
  std::vector<std::string> before;
  for (const char* n : names) {
    CAPTURE(n);
    before.push_back(read(std::string(n) + ".crt"));
    CHECK(before.back().find("BEGIN CERTIFICATE") != std::string::npos);
    CHECK(read(std::string(n) + ".key").find("PRIVATE KEY") != std::string::npos);
  }
  CHECK(std::system((std::string("bash '") + KOM_SIM_MAKE_BAD_CERTS + "' '" + d + "'").c_str()) == 0);
  for (std::size_t i = 0; i < before.size(); ++i) CHECK(read(std::string(names[i]) + ".crt") == before[i]);
  // kom-sim serves one, and the test client (test CA, name localhost) refuses it.
  SimProcess expired({"--cert", d + "/expired.crt", "--key", d + "/expired.key"});
  CHECK_THROWS_AS(TlsClient(expired.port()), std::runtime_error);
}

TEST_CASE("TLS sessions resume from the session cache; /_sim/state counts handshakes") {
  SimProcess s({});
  using counts = std::pair<std::int64_t, std::int64_t>;  // full, resumed
  auto handshakes = [](TlsClient& c) {
    auto st = c.request(http("GET", "/_sim/state", {}, {}, false)).json();
    return counts(st.at("handshakes_full").as_int64(), st.at("handshakes_resumed").as_int64());
  };
  TlsSession session;
  {
    TlsClient a(s.port());
    CHECK(handshakes(a) == counts(1, 0));
    CHECK(handshakes(a) == counts(1, 0));  // more requests on one connection: no new handshake
    a.save_session(session);
  }
  {
    TlsClient b(s.port(), 5000, &session);
    CHECK(handshakes(b) == counts(1, 1));
  }
  {
    TlsClient c(s.port());
    CHECK(handshakes(c) == counts(2, 1));
  }
  {
    TlsClient again(s.port(), 5000, &session);  // a cached session resumes more than once
    CHECK(handshakes(again) == counts(2, 2));
  }
  {
    // A session this sim never issued (another kom-sim's) is not in its cache: a full handshake.
    SimProcess other({});
    TlsSession foreign;
    {
      TlsClient o(other.port());
      o.save_session(foreign);
    }
    TlsClient d(s.port(), 5000, &foreign);
    CHECK(handshakes(d) == counts(3, 2));
  }
  // A handshake that fails (a TCP client that never speaks TLS) is not counted.
  int fd = TlsClient::connect_loopback(s.port());
  CHECK(::send(fd, "GET / HTTP/1.1\r\n\r\n", 18, MSG_NOSIGNAL) == 18);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char buf[256];
  while (::recv(fd, buf, sizeof buf, 0) > 0) {
  }  // an alert perhaps, then the sim closes
  ::close(fd);
  TlsClient e(s.port());
  CHECK(handshakes(e) == counts(4, 2));
}

TEST_CASE("GET order: the documented fields, and 404 NO_SUCH_ORDER") {
  std::string id = unique_order(25000);
  auto r = send(http("GET", order_path(id)));
  REQUIRE(r.status == 200);
  CHECK(r.header("Content-Type") == "application/json");
  auto o = r.json().as_object();
  CHECK(o.at("order_id").as_string() == id.c_str());
  CHECK(o.at("status").as_string() == "AUTHORIZED");
  CHECK(o.at("fraud_status").as_string() == "ACCEPTED");
  CHECK(o.at("order_amount").as_int64() == 25000);
  CHECK(o.at("original_order_amount").as_int64() == 25000);
  CHECK(o.at("captured_amount").as_int64() == 0);
  CHECK(o.at("refunded_amount").as_int64() == 0);
  CHECK(o.at("remaining_authorized_amount").as_int64() == 25000);
  CHECK(o.at("purchase_currency").as_string() == "EUR");
  CHECK(o.at("captures").as_array().empty());
  CHECK(o.contains("expires_at"));
  CHECK(o.contains("created_at"));
  CHECK(o.contains("klarna_reference"));

  check_error(send(http("GET", order_path("no-such-order"))), 404, "NO_SUCH_ORDER", "no-such-order");
  check_error(send(http("GET", order_path("no-such-order") + "/captures")), 404, "NO_SUCH_ORDER");
  check_error(send(http("GET", order_path("no-such-order") + "/captures/x")), 404, "NO_SUCH_ORDER");
  check_error(send(http("POST", order_path("no-such-order") + "/captures", R"({"captured_amount":1})")),
              404, "NO_SUCH_ORDER");
}

TEST_CASE("Basic authentication: missing or wrong credentials give 401") {
  std::string path = order_path("f3392f8b-6116-4073-ab96-e330819e2c07");
  auto missing = send(http("GET", path, {}, {}, false));
  check_error(missing, 401, "UNAUTHORIZED");
  CHECK(missing.header("WWW-Authenticate").find("Basic") == 0);
  // "u:x" and "x:p"
  check_error(send("GET " + path + " HTTP/1.1\r\nHost: localhost\r\nAuthorization: Basic dTp4\r\n\r\n"),
              401, "UNAUTHORIZED");
  check_error(send("GET " + path + " HTTP/1.1\r\nHost: localhost\r\nAuthorization: Basic eDpw\r\n\r\n"),
              401, "UNAUTHORIZED");
  check_error(send("GET " + path + " HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer dTpw\r\n\r\n"),
              401, "UNAUTHORIZED");
  check_error(send("GET " + path + " HTTP/1.1\r\nHost: localhost\r\nAuthorization: Basic !!!\r\n\r\n"),
              401, "UNAUTHORIZED");
  // POSTs too, and nothing is applied.
  std::string id = unique_order();
  check_error(send(http("POST", order_path(id) + "/captures", R"({"captured_amount":1})", {}, false)),
              401, "UNAUTHORIZED");
  CHECK(state_order(id).at("captures").as_array().empty());
  // The scheme name is case-insensitive.
  CHECK(send("GET " + path + " HTTP/1.1\r\nHost: localhost\r\nAuthorization: basic dTpw\r\n\r\n").status == 200);
}

TEST_CASE("POST capture: 201, headers, the capture, and the order's amounts and status") {
  std::string id = unique_order(10000);
  std::int64_t before = applied_posts();
  std::string body = R"({"captured_amount":4000,"description":"Shipped","reference":"R-1","order_lines":[)" +
                     std::string(line_ok) +
                     R"(],"shipping_info":[{"shipping_company":"DHL US","shipping_method":"Home","tracking_number":"123"}],"shipping_delay":0})";
  auto r = send(http("POST", order_path(id) + "/captures", body));
  REQUIRE(r.status == 201);
  CHECK(r.body.empty());
  CHECK(r.header("Content-Length") == "0");
  std::string cid = r.header("Capture-Id");
  CHECK(is_uuid4(cid));
  CHECK(r.header("Location") == "https://localhost:" + std::to_string(main_sim().port()) +
                                    order_path(id) + "/captures/" + cid);
  CHECK(is_uuid4(r.header("Klarna-Correlation-Id")));
  CHECK(applied_posts() == before + 1);

  auto g = send(http("GET", order_path(id) + "/captures/" + cid));
  REQUIRE(g.status == 200);
  auto c = g.json().as_object();
  CHECK(c.at("capture_id").as_string() == cid.c_str());
  CHECK(c.at("captured_amount").as_int64() == 4000);
  CHECK(c.at("description").as_string() == "Shipped");
  CHECK(c.at("reference").as_string() == "R-1");
  CHECK(c.at("refunded_amount").as_int64() == 0);
  CHECK(c.at("order_lines") == json::parse(std::string("[") + line_ok + "]"));
  CHECK(c.at("shipping_info") ==
        json::parse(R"([{"shipping_company":"DHL US","shipping_method":"Home","tracking_number":"123"}])"));
  std::string at(c.at("captured_at").as_string());
  CHECK(is_iso8601(at));
  CHECK(at.size() == 20);  // whole seconds, UTC
  std::string kref(c.at("klarna_reference").as_string());
  CHECK(kref.size() > 2);
  CHECK(kref.substr(kref.size() - 2) == "-1");
  CHECK_FALSE(c.contains("shipping_delay"));  // "not returned when reading"

  auto o = send(http("GET", order_path(id))).json().as_object();
  CHECK(o.at("status").as_string() == "PART_CAPTURED");
  CHECK(o.at("captured_amount").as_int64() == 4000);
  CHECK(o.at("remaining_authorized_amount").as_int64() == 6000);
  CHECK(o.at("captures").as_array().size() == 1);

  std::string cid2 = capture(id, 6000);
  CHECK(cid2 != cid);
  o = send(http("GET", order_path(id))).json().as_object();
  CHECK(o.at("status").as_string() == "CAPTURED");
  CHECK(o.at("captured_amount").as_int64() == 10000);
  CHECK(o.at("remaining_authorized_amount").as_int64() == 0);

  auto list = send(http("GET", order_path(id) + "/captures"));
  REQUIRE(list.status == 200);
  auto a = list.json().as_array();
  REQUIRE(a.size() == 2);
  CHECK(a[0].at("capture_id").as_string() == cid.c_str());
  CHECK(a[1].at("capture_id").as_string() == cid2.c_str());
  std::string kref2(a[1].at("klarna_reference").as_string());
  CHECK(kref2.substr(kref2.size() - 2) == "-2");

  check_error(send(http("GET", order_path(id) + "/captures/no-such-capture")), 404, "NO_SUCH_CAPTURE");
}

TEST_CASE("Order ids are percent-decoded in paths and encoded in Location") {
  auto r = send(http("POST", "/_sim/orders", R"({"order_id":"pos 1/ä","order_amount":100,"purchase_currency":"EUR"})", {}, false));
  check_error(r, 400, "BAD_REQUEST", "order_id");  // no '/' in ids
  REQUIRE(send(http("POST", "/_sim/orders", R"({"order_id":"pos 1+ä","order_amount":100,"purchase_currency":"EUR"})", {}, false)).status == 201);
  std::string path = "/ordermanagement/v1/orders/pos%201%2B%C3%A4";
  auto cap = send(http("POST", path + "/captures", R"({"captured_amount":100})"));
  REQUIRE(cap.status == 201);
  CHECK(cap.header("Location") == "https://localhost:" + std::to_string(main_sim().port()) + path +
                                      "/captures/" + cap.header("Capture-Id"));
  CHECK(send(http("GET", path)).json().at("order_id").as_string() == "pos 1+ä");
}

TEST_CASE("POST capture: 403 CAPTURE_NOT_ALLOWED with Klarna's messages") {
  std::string id = unique_order(1000);
  std::int64_t before = applied_posts();
  auto r = send(http("POST", order_path(id) + "/captures", R"({"captured_amount":1001})"));
  check_error(r, 403, "CAPTURE_NOT_ALLOWED",
              "Captured amount is higher than the remaining authorized amount. Capture not possible.");
  capture(id, 600);
  check_error(send(http("POST", order_path(id) + "/captures", R"({"captured_amount":401})")), 403,
              "CAPTURE_NOT_ALLOWED", "higher than the remaining authorized amount");
  capture(id, 400);
  check_error(send(http("POST", order_path(id) + "/captures", R"({"captured_amount":1})")), 403,
              "CAPTURE_NOT_ALLOWED", "higher than the remaining authorized amount");
  CHECK(applied_posts() == before + 2);

  struct Case { const char* extra; const char* message; };
  for (Case k : {Case{R"(,"status":"CANCELLED")", "cancelled"}, Case{R"(,"status":"EXPIRED")", "expired"},
                 Case{R"(,"status":"CLOSED")", "closed"}, Case{R"(,"fraud_status":"PENDING")", "pending"},
                 Case{R"(,"expires_at":"2001-01-01T00:00:00Z")", "expired"}}) {
    CAPTURE(k.extra);
    std::string oid = unique_order(1000, k.extra);
    check_error(send(http("POST", order_path(oid) + "/captures", R"({"captured_amount":1})")), 403,
                "CAPTURE_NOT_ALLOWED", k.message);
  }
  // The seeded ones too.
  for (const char* oid : {"pending-0001", "cancelled-0001", "expired-0001"})
    check_error(send(http("POST", order_path(oid) + "/captures", R"({"captured_amount":1})")), 403,
                "CAPTURE_NOT_ALLOWED");
  CHECK(send(http("GET", order_path("expired-0001"))).json().at("status").as_string() == "EXPIRED");
  CHECK(applied_posts() == before + 2);
}

TEST_CASE("POST capture: every schema limit gives 422 UNPROCESSABLE_ENTITY naming the field") {
  std::string id = unique_order(200000000);
  auto lines = [](const std::string& l) { return R"({"captured_amount":1,"order_lines":[)" + std::string(line_ok) + "," + l + "]}"; };
  auto line = [&](const std::string& fields) {
    return lines(R"({"name":"n","quantity":1,"unit_price":1,"total_amount":1,)" + fields + "}");
  };
  auto ship = [](const std::string& fields) {
    return R"({"captured_amount":1,"shipping_info":[{},{)" + fields + "}]}";
  };
  std::string s256(256, 'a'), s101(101, 'a'), s1025(1025, 'a'), s11(11, 'a');
  struct Case { std::string body; std::string path; };
  std::vector<Case> cases = {
      {"[]", "body"},
      {"{}", "captured_amount: is required"},
      {R"({"captured_amount":"1"})", "captured_amount: must be an integer"},
      {R"({"captured_amount":1.0})", "captured_amount: must be an integer"},
      {R"({"captured_amount":null})", "captured_amount"},
      {R"({"captured_amount":0})", "captured_amount: must be between 1 and 200000000"},
      {R"({"captured_amount":-1})", "captured_amount"},
      {R"({"captured_amount":200000001})", "captured_amount"},
      {R"({"captured_amount":18446744073709551615})", "captured_amount"},
      {R"({"captured_amount":1,"description":")" + s256 + "\"}", "description"},
      {R"({"captured_amount":1,"description":7})", "description: must be a string"},
      {R"({"captured_amount":1,"reference":")" + s256 + "\"}", "reference"},
      {R"({"captured_amount":1,"shipping_delay":-1})", "shipping_delay"},
      {R"({"captured_amount":1,"surprise":true})", "surprise: unknown field"},
      {R"({"captured_amount":1,"order_lines":{}})", "order_lines: must be an array"},
      {R"({"captured_amount":1,"order_lines":[1]})", "order_lines[0]: must be an object"},
      {lines(R"({"quantity":1,"unit_price":1,"total_amount":1})"), "order_lines[1].name: is required"},
      {lines(R"({"name":"n","unit_price":1,"total_amount":1})"), "order_lines[1].quantity: is required"},
      {lines(R"({"name":"n","quantity":1,"total_amount":1})"), "order_lines[1].unit_price: is required"},
      {lines(R"({"name":"n","quantity":1,"unit_price":1})"), "order_lines[1].total_amount: is required"},
      {lines(R"({"name":"","quantity":1,"unit_price":1,"total_amount":1})"), "order_lines[1].name: the size must be between 1 and 255"},
      {lines(R"({"name":")" + s256 + R"(","quantity":1,"unit_price":1,"total_amount":1})"), "order_lines[1].name"},
      {lines(R"({"name":"n","quantity":-1,"unit_price":1,"total_amount":1})"), "order_lines[1].quantity"},
      {lines(R"({"name":"n","quantity":1,"unit_price":200000001,"total_amount":1})"), "order_lines[1].unit_price"},
      {lines(R"({"name":"n","quantity":1,"unit_price":1,"total_amount":200000001})"), "order_lines[1].total_amount"},
      {line(R"("total_discount_amount":-1)"), "order_lines[1].total_discount_amount"},
      {line(R"("total_discount_amount":200000001)"), "order_lines[1].total_discount_amount"},
      {line(R"("tax_rate":-1)"), "order_lines[1].tax_rate"},
      {line(R"("total_tax_amount":200000001)"), "order_lines[1].total_tax_amount"},
      {line(R"("type":"Physical")"), "order_lines[1].type: must be one of"},
      {line(R"("type":"xphysicalx")"), "order_lines[1].type"},
      {line(R"("reference":")" + s256 + "\""), "order_lines[1].reference"},
      {line(R"("quantity_unit":")" + s11 + "\""), "order_lines[1].quantity_unit"},
      {line(R"("merchant_data":")" + s1025 + "\""), "order_lines[1].merchant_data"},
      {line(R"("product_url":")" + s1025 + "\""), "order_lines[1].product_url"},
      {line(R"("image_url":")" + s1025 + "\""), "order_lines[1].image_url"},
      {line(R"("colour":"red")"), "order_lines[1].colour: unknown field"},
      {line(R"("product_identifiers":{"brand":")" + std::string(71, 'b') + "\"}"), "order_lines[1].product_identifiers.brand"},
      {line(R"("product_identifiers":{"category_path":")" + std::string(751, 'b') + "\"}"), "order_lines[1].product_identifiers.category_path"},
      {line(R"("product_identifiers":{"global_trade_item_number":")" + std::string(51, '1') + "\"}"), "order_lines[1].product_identifiers.global_trade_item_number"},
      {line(R"("product_identifiers":{"manufacturer_part_number":")" + std::string(71, '1') + "\"}"), "order_lines[1].product_identifiers.manufacturer_part_number"},
      {line(R"("product_identifiers":{"color":")" + std::string(65, 'c') + "\"}"), "order_lines[1].product_identifiers.color"},
      {line(R"("product_identifiers":{"size":")" + std::string(65, 'c') + "\"}"), "order_lines[1].product_identifiers.size"},
      {line(R"("product_identifiers":{"weight":"1"})"), "order_lines[1].product_identifiers.weight: unknown field"},
      {line(R"("subscription":{"name":"s","interval":"MONTH"})"), "order_lines[1].subscription.interval_count: is required"},
      {line(R"("subscription":{"name":"s","interval_count":1})"), "order_lines[1].subscription.interval: is required"},
      {line(R"("subscription":{"interval":"DAY","interval_count":1})"), "order_lines[1].subscription.name: is required"},
      {line(R"("subscription":{"name":"s","interval":"FORTNIGHT","interval_count":1})"), "order_lines[1].subscription.interval"},
      {line(R"("subscription":{"name":"s","interval":"DAY","interval_count":0})"), "order_lines[1].subscription.interval_count"},
      {line(R"("subscription":{"name":")" + s256 + R"(","interval":"DAY","interval_count":1})"), "order_lines[1].subscription.name"},
      {ship(R"("shipping_company":")" + s101 + "\""), "shipping_info[1].shipping_company"},
      {ship(R"("return_shipping_company":")" + s101 + "\""), "shipping_info[1].return_shipping_company"},
      {ship(R"("tracking_number":")" + s101 + "\""), "shipping_info[1].tracking_number"},
      {ship(R"("return_tracking_number":")" + s101 + "\""), "shipping_info[1].return_tracking_number"},
      {ship(R"("tracking_uri":")" + s1025 + "\""), "shipping_info[1].tracking_uri"},
      {ship(R"("return_tracking_uri":")" + s1025 + "\""), "shipping_info[1].return_tracking_uri"},
      {ship(R"("shipping_method":"home")"), "shipping_info[1].shipping_method: must be one of"},
      {ship(R"("shipping_method":"HomeDelivery")"), "shipping_info[1].shipping_method"},
      {ship(R"("carrier":"x")"), "shipping_info[1].carrier: unknown field"},
  };
  {
    std::string many = R"({"captured_amount":1,"order_lines":[)";
    for (int i = 0; i < 1001; ++i) many += std::string(i ? "," : "") + line_ok;
    cases.push_back({many + "]}", "order_lines: the number of items must be between 0 and 1000"});
    std::string ships = R"({"captured_amount":1,"shipping_info":[)";
    for (int i = 0; i < 501; ++i) ships += std::string(i ? "," : "") + "{}";
    cases.push_back({ships + "]}", "shipping_info: the number of items must be between 0 and 500"});
  }
  std::int64_t before = applied_posts();
  TlsClient c(main_sim().port());  // all on one connection: 422 keeps it open
  for (const auto& k : cases) {
    CAPTURE(k.body.substr(0, 200));
    auto r = c.request(http("POST", order_path(id) + "/captures", k.body));
    check_error(r, 422, "UNPROCESSABLE_ENTITY", k.path);
  }
  CHECK(applied_posts() == before);
  CHECK(state_order(id).at("captures").as_array().empty());
}

TEST_CASE("POST capture: values at the limits are accepted (code points, not bytes)") {
  std::string id = unique_order(200000000);
  std::string s255;
  for (int i = 0; i < 255; ++i) s255 += "\xC3\xA9";  // é: 255 code points, 510 bytes
  std::string types[] = {"physical", "discount", "shipping_fee", "sales_tax", "store_credit",
                         "gift_card", "digital", "surcharge", "return_fee"};
  std::string methods[] = {"PickUpStore", "Home", "BoxReg", "BoxUnreg", "PickUpPoint", "Own", "Postal",
                           "DHLPackstation", "Digital", "Undefined", "PickUpWarehouse", "ClickCollect",
                           "PalletDelivery"};
  std::string ls;
  for (const auto& t : types)
    ls += std::string(ls.empty() ? "" : ",") + R"({"name":")" + s255 + R"(","quantity":0,"unit_price":-200000000,"total_amount":200000000,"total_discount_amount":200000000,"tax_rate":0,"total_tax_amount":-5,"type":")" + t +
          R"(","reference":"r","quantity_unit":")" + std::string(10, 'u') + R"(","merchant_data":")" + std::string(1024, 'm') +
          R"(","product_url":"https://x","image_url":"https://y","product_identifiers":{"brand":")" + std::string(70, 'b') +
          R"(","category_path":"a > b","global_trade_item_number":")" + std::string(50, '1') +
          R"(","manufacturer_part_number":"m","color":")" + std::string(64, 'c') + R"(","size":"XL"},"subscription":{"name":"s","interval":"YEAR","interval_count":1}})";
  std::string ss;
  for (const auto& m : methods)
    ss += std::string(ss.empty() ? "" : ",") + R"({"shipping_company":")" + std::string(100, 's') + R"(","shipping_method":")" + m +
          R"(","tracking_number":"1","tracking_uri":")" + std::string(1024, 'u') + R"(","return_shipping_company":"r","return_tracking_number":"2","return_tracking_uri":"u"})";
  std::string body = R"({"captured_amount":200000000,"description":")" + s255 + R"(","reference":")" + s255 +
                     R"(","order_lines":[)" + ls + R"(],"shipping_info":[)" + ss + R"(],"shipping_delay":5})";
  auto r = send(http("POST", order_path(id) + "/captures", body));
  CHECK_MESSAGE(r.status == 201, r.body);
  auto c = send(http("GET", order_path(id) + "/captures/" + r.header("Capture-Id"))).json();
  CHECK(c.at("order_lines").as_array().size() == 9);
  CHECK(c.at("shipping_info").as_array().size() == 13);
  CHECK(c.at("description").as_string() == s255.c_str());
}

TEST_CASE("POST capture: a body that is not JSON gives 400") {
  std::string id = unique_order();
  check_error(send(http("POST", order_path(id) + "/captures", "{captured_amount: 1}")), 400, "BAD_REQUEST");
  check_error(send(http("POST", order_path(id) + "/captures", "")), 400, "BAD_REQUEST");
  check_error(send(http("POST", order_path(id) + "/captures", "{\"captured_amount\":1,\"description\":\"\xFF\"}")), 400,
              "BAD_REQUEST");
}

TEST_CASE("POST shipping-info: validated, appended, 204; 404 NO_SUCH_CAPTURE / NO_SUCH_ORDER") {
  std::string id = unique_order();
  std::string cid = capture(id, 100, R"(,"shipping_info":[{"shipping_method":"Home"}])");
  std::string path = order_path(id) + "/captures/" + cid + "/shipping-info";
  std::int64_t before = applied_posts();
  auto r = send(http("POST", path, R"({"shipping_info":[{"shipping_company":"PostNord","tracking_number":"A1"},{"shipping_method":"PickUpPoint"}]})"));
  CHECK(r.status == 204);
  CHECK(r.body.empty());
  CHECK_FALSE(r.has_header("Content-Length"));
  CHECK(is_uuid4(r.header("Klarna-Correlation-Id")));
  auto si = send(http("GET", order_path(id) + "/captures/" + cid)).json().at("shipping_info").as_array();
  REQUIRE(si.size() == 3);
  CHECK(si[0].at("shipping_method").as_string() == "Home");
  CHECK(si[1].at("tracking_number").as_string() == "A1");
  CHECK(si[2].at("shipping_method").as_string() == "PickUpPoint");
  CHECK(applied_posts() == before + 1);

  check_error(send(http("POST", path, R"({"shipping_info":[]})")), 422, "UNPROCESSABLE_ENTITY",
              "shipping_info: the number of items must be between 1 and 500");
  check_error(send(http("POST", path, R"({})")), 422, "UNPROCESSABLE_ENTITY", "shipping_info: is required");
  check_error(send(http("POST", path, R"({"shipping_info":[{}],"extra":1})")), 422, "UNPROCESSABLE_ENTITY",
              "extra: unknown field");
  check_error(send(http("POST", path, R"({"shipping_info":[{"shipping_method":"Drone"}]})")), 422,
              "UNPROCESSABLE_ENTITY", "shipping_info[0].shipping_method");
  check_error(send(http("POST", path, R"({"shipping_info":[{"tracking_number":")" + std::string(101, '9') + "\"}]}")),
              422, "UNPROCESSABLE_ENTITY", "shipping_info[0].tracking_number");
  std::string many = R"({"shipping_info":[)";
  for (int i = 0; i < 501; ++i) many += std::string(i ? "," : "") + "{}";
  check_error(send(http("POST", path, many + "]}")), 422, "UNPROCESSABLE_ENTITY", "between 1 and 500");
  check_error(send(http("POST", path, "nope")), 400, "BAD_REQUEST");
  CHECK(applied_posts() == before + 1);

  check_error(send(http("POST", order_path(id) + "/captures/nope/shipping-info", R"({"shipping_info":[{}]})")),
              404, "NO_SUCH_CAPTURE", "Shipping info cannot be added to capture nope");
  check_error(send(http("POST", order_path("nope") + "/captures/" + cid + "/shipping-info", R"({"shipping_info":[{}]})")),
              404, "NO_SUCH_ORDER");
}

TEST_CASE("POST trigger-send-out: 204, counted per capture; 404 NO_SUCH_CAPTURE") {
  std::string id = unique_order();
  std::string c1 = capture(id, 100), c2 = capture(id, 100);
  std::string p1 = order_path(id) + "/captures/" + c1 + "/trigger-send-out";
  TlsClient c(main_sim().port());
  for (int i = 0; i < 3; ++i) {
    auto r = c.request(http("POST", p1));
    CHECK(r.status == 204);
    CHECK(r.body.empty());
  }
  CHECK(c.request(http("POST", order_path(id) + "/captures/" + c2 + "/trigger-send-out")).status == 204);
  auto caps = state_order(id).at("captures").as_array();
  CHECK(caps[0].at("send_out_count").as_int64() == 3);
  CHECK(caps[1].at("send_out_count").as_int64() == 1);
  check_error(c.request(http("POST", order_path(id) + "/captures/nope/trigger-send-out")), 404, "NO_SUCH_CAPTURE");
  check_error(c.request(http("POST", order_path("nope") + "/captures/" + c1 + "/trigger-send-out")), 404,
              "NO_SUCH_ORDER");
}

TEST_CASE("shipping-info and trigger-send-out on an order without captures: 403 NOT_ALLOWED") {
  std::string id = unique_order();
  std::int64_t before = applied_posts();
  check_error(send(http("POST", order_path(id) + "/captures/nope/shipping-info", R"({"shipping_info":[{}]})")),
              403, "NOT_ALLOWED", "Order has no captures");
  check_error(send(http("POST", order_path(id) + "/captures/nope/trigger-send-out")), 403, "NOT_ALLOWED",
              "Order has no captures");
  CHECK(applied_posts() == before);
}

TEST_CASE("Unknown paths give 404 NOT_FOUND, wrong methods 405") {
  check_error(send(http("GET", "/")), 404, "NOT_FOUND");
  check_error(send(http("GET", "/ordermanagement/v1/orders")), 404, "NOT_FOUND");
  check_error(send(http("GET", "/ordermanagement/v1/orders/x/customer-details")), 404, "NOT_FOUND");
  check_error(send(http("GET", "/ordermanagement/v1/orders/x/captures/y/z/w")), 404, "NOT_FOUND");
  auto r = send(http("DELETE", order_path("f3392f8b-6116-4073-ab96-e330819e2c07")));
  check_error(r, 405, "METHOD_NOT_ALLOWED");
  CHECK(r.header("Allow") == "GET");
  check_error(send(http("PUT", order_path("x") + "/captures", "{}")), 405, "METHOD_NOT_ALLOWED");
  check_error(send(http("GET", order_path("x") + "/captures/y/shipping-info")), 405, "METHOD_NOT_ALLOWED");
  check_error(send(http("GET", "/_sim/clock", {}, {}, false)), 405, "METHOD_NOT_ALLOWED");
}

TEST_CASE("Idempotency: a repeated key replays the first response and applies once") {
  std::string id = unique_order(10000);
  std::string key = "idem-" + id;
  std::string hdr = "Klarna-Idempotency-Key: " + key + "\r\n";
  std::int64_t before = applied_posts();
  auto first = send(http("POST", order_path(id) + "/captures", R"({"captured_amount":1000})", hdr));
  REQUIRE(first.status == 201);
  // A different body, even an invalid one: the first response again, byte for byte.
  for (const char* body : {R"({"captured_amount":5000})", R"({"captured_amount":"junk"})", "not json"}) {
    auto again = send(http("POST", order_path(id) + "/captures", body, hdr));
    CHECK(again.status == 201);
    CHECK(again.raw_head == first.raw_head);
    CHECK(again.body == first.body);
  }
  CHECK(applied_posts() == before + 1);
  auto o = state_order(id);
  CHECK(o.at("captured_amount").as_int64() == 1000);
  CHECK(o.at("captures").as_array().size() == 1);
  // Without the key, or with another, it applies again.
  capture(id, 1000);
  capture(id, 1000, {}, key + "-other");
  CHECK(applied_posts() == before + 3);

  // An error first response is replayed too (status, headers, body).
  std::string k2 = "Klarna-Idempotency-Key: err-" + id + "\r\n";
  auto e1 = send(http("POST", order_path(id) + "/captures", R"({"captured_amount":99999})", k2));
  check_error(e1, 403, "CAPTURE_NOT_ALLOWED");
  auto e2 = send(http("POST", order_path(id) + "/captures", R"({"captured_amount":1})", k2));
  CHECK(e2.raw_head == e1.raw_head);
  CHECK(e2.body == e1.body);
  CHECK(applied_posts() == before + 3);

  // Keys on shipping-info and trigger-send-out too.
  std::string cid = first.header("Capture-Id");
  std::string k3 = "Klarna-Idempotency-Key: ship-" + id + "\r\n";
  std::string sp = order_path(id) + "/captures/" + cid + "/shipping-info";
  CHECK(send(http("POST", sp, R"({"shipping_info":[{"tracking_number":"1"}]})", k3)).status == 204);
  CHECK(send(http("POST", sp, R"({"shipping_info":[{"tracking_number":"2"}]})", k3)).status == 204);
  std::string k4 = "Klarna-Idempotency-Key: send-" + id + "\r\n";
  std::string tp = order_path(id) + "/captures/" + cid + "/trigger-send-out";
  CHECK(send(http("POST", tp, {}, k4)).status == 204);
  CHECK(send(http("POST", tp, {}, k4)).status == 204);
  auto cap = state_order(id).at("captures").as_array()[0];
  CHECK(cap.at("shipping_info").as_array().size() == 1);
  CHECK(cap.at("send_out_count").as_int64() == 1);
  CHECK(applied_posts() == before + 5);
}

TEST_CASE("Idempotency: 8 concurrent requests with one key apply once") {
  std::string id = unique_order(10000);
  std::string hdr = "Klarna-Idempotency-Key: conc-" + id + "\r\n";
  std::int64_t before = applied_posts();
  constexpr int n = 8;
  std::vector<std::unique_ptr<TlsClient>> clients;
  for (int i = 0; i < n; ++i) clients.push_back(std::make_unique<TlsClient>(main_sim().port()));
  std::vector<HttpResponse> results(n);
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i)
    threads.emplace_back([&, i] {
      ++ready;
      while (ready.load() < n) std::this_thread::yield();
      results[static_cast<std::size_t>(i)] =
          clients[static_cast<std::size_t>(i)]->request(http("POST", order_path(id) + "/captures",
                                                             R"({"captured_amount":)" + std::to_string(100 + i) + "}", hdr));
    });
  for (auto& t : threads) t.join();
  std::set<std::string> ids;
  for (const auto& r : results) {
    CHECK(r.status == 201);
    ids.insert(r.header("Capture-Id"));
    CHECK(r.raw_head == results[0].raw_head);
  }
  CHECK(ids.size() == 1);
  CHECK(applied_posts() == before + 1);
  CHECK(state_order(id).at("captures").as_array().size() == 1);
}

TEST_CASE("Idempotency: the 24 h window follows the sim clock") {
  std::string id = unique_order(10000);
  std::string hdr = "Klarna-Idempotency-Key: window-" + id + "\r\n";
  auto first = send(http("POST", order_path(id) + "/captures", R"({"captured_amount":100})", hdr));
  REQUIRE(first.status == 201);
  auto clock = [](std::int64_t s) {
    auto r = send(http("POST", "/_sim/clock", R"({"advance_seconds":)" + std::to_string(s) + "}", {}, false));
    REQUIRE(r.status == 200);
    return r.json().at("now_epoch").as_int64();
  };
  std::int64_t t0 = state().at("now_epoch").as_int64();
  std::int64_t t1 = clock(23 * 3600);
  CHECK(t1 - t0 >= 23 * 3600);
  auto again = send(http("POST", order_path(id) + "/captures", R"({"captured_amount":100})", hdr));
  CHECK(again.header("Capture-Id") == first.header("Capture-Id"));
  clock(3600 + 5);
  auto later = send(http("POST", order_path(id) + "/captures", R"({"captured_amount":100})", hdr));
  REQUIRE(later.status == 201);
  CHECK(later.header("Capture-Id") != first.header("Capture-Id"));
  CHECK(state_order(id).at("captures").as_array().size() == 2);
  // And the new first response is replayed from now on.
  auto replay = send(http("POST", order_path(id) + "/captures", R"({"captured_amount":100})", hdr));
  CHECK(replay.header("Capture-Id") == later.header("Capture-Id"));

  check_error(send(http("POST", "/_sim/clock", R"({"advance_seconds":-1})", {}, false)), 400, "BAD_REQUEST");
  check_error(send(http("POST", "/_sim/clock", R"({"seconds":1})", {}, false)), 400, "BAD_REQUEST");
}

TEST_CASE("Test-only paths: /_sim/orders and /_sim/state") {
  std::string id = unique_order(777, R"(,"purchase_country":"SE","locale":"sv-SE","fraud_status":"ACCEPTED")");
  auto o = send(http("GET", order_path(id))).json();
  CHECK(o.at("purchase_country").as_string() == "SE");
  CHECK(o.at("locale").as_string() == "sv-SE");
  auto dup = send(http("POST", "/_sim/orders", R"({"order_id":")" + id + R"(","order_amount":1,"purchase_currency":"EUR"})", {}, false));
  check_error(dup, 409, "CONFLICT");
  for (const char* bad : {R"({"order_amount":1,"purchase_currency":"EUR"})", R"({"order_id":"a","purchase_currency":"EUR"})",
                          R"({"order_id":"b","order_amount":1})", R"({"order_id":"c","order_amount":-1,"purchase_currency":"EUR"})",
                          R"({"order_id":"d","order_amount":1,"purchase_currency":"EUR","status":"WEIRD"})",
                          R"({"order_id":"e","order_amount":1,"purchase_currency":"EUR","expires_at":"tomorrow"})",
                          R"({"order_id":"f","order_amount":1,"purchase_currency":"EUR","bogus":1})", "[]", "x"}) {
    CAPTURE(bad);
    check_error(send(http("POST", "/_sim/orders", bad, {}, false)), 400, "BAD_REQUEST");
  }
  auto s = state();
  CHECK(s.at("orders").as_array().size() >= 4);
  CHECK(s.at("applied_posts").is_int64());
  CHECK(s.at("now").is_string());
}

TEST_CASE("Keep-alive: several requests on one connection, many clients one after another") {
  std::string id = unique_order(10000);
  TlsClient c(main_sim().port());
  for (int i = 0; i < 5; ++i) {
    auto r = c.request(http("GET", order_path(id)));
    CHECK(r.status == 200);
    CHECK_FALSE(r.has_header("Connection"));
    CHECK(c.request(http("POST", order_path(id) + "/captures", R"({"captured_amount":10})")).status == 201);
  }
  // Two requests in one write (pipelined) are answered in order.
  CHECK(c.write(http("GET", order_path(id)) + http("GET", order_path("nope"))));
  CHECK(c.read_response().status == 200);
  CHECK(c.read_response().status == 404);
  // An empty line before a request is ignored.
  CHECK(c.request("\r\n" + http("GET", order_path(id))).status == 200);
  // Connection: close is honoured.
  auto last = c.request("GET " + order_path(id) + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n" + basic_auth() + "\r\n");
  CHECK(last.status == 200);
  CHECK(last.header("Connection") == "close");
  CHECK(c.closed_by_peer());
  for (int i = 0; i < 20; ++i) CHECK(send(http("GET", order_path(id))).status == 200);
  CHECK(state_order(id).at("captured_amount").as_int64() == 50);
}

TEST_CASE("At least 8 connections at once") {
  std::string id = unique_order(10000);
  constexpr int n = 12;
  std::vector<std::unique_ptr<TlsClient>> clients;
  for (int i = 0; i < n; ++i) clients.push_back(std::make_unique<TlsClient>(main_sim().port()));
  // All open; answer in reverse order of connecting, then interleaved.
  for (int i = n - 1; i >= 0; --i) CHECK(clients[static_cast<std::size_t>(i)]->request(http("GET", order_path(id))).status == 200);
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < n; ++i)
    threads.emplace_back([&, i] {
      for (int k = 0; k < 5; ++k)
        if (clients[static_cast<std::size_t>(i)]->request(http("POST", order_path(id) + "/captures", R"({"captured_amount":1})")).status == 201)
          ++ok;
    });
  for (auto& t : threads) t.join();
  CHECK(ok.load() == n * 5);
  CHECK(state_order(id).at("captured_amount").as_int64() == n * 5);
}

TEST_CASE("Malformed HTTP gives 400 and closes the connection") {
  const char* bad[] = {
      "GARBAGE\r\n\r\n",
      "GET /x\r\n\r\n",
      "GET /x HTTP/1.1 extra\r\n\r\n",
      "GET /x HTTP/2.0\r\nHost: localhost\r\n\r\n",
      "GET x HTTP/1.1\r\nHost: localhost\r\n\r\n",
      "GET /x HTTP/1.1\r\nNo colon here\r\n\r\n",
      "GET /x HTTP/1.1\r\nBad Name: v\r\n\r\n",
      "GET /x HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n",
      "POST /x HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
      "POST /x HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
      "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
      "G(T /x HTTP/1.1\r\n\r\n",
  };
  for (const char* raw : bad) {
    CAPTURE(raw);
    TlsClient c(main_sim().port());
    auto r = c.request(raw);
    check_error(r, 400, "BAD_REQUEST");
    CHECK(r.header("Connection") == "close");
    CHECK(c.closed_by_peer());
  }
  // Percent-escapes in the path are decoded; a broken one is a 400 too, but keeps the connection.
  TlsClient c(main_sim().port());
  check_error(c.request(http("GET", "/ordermanagement/v1/orders/%zz")), 400, "BAD_REQUEST");
  CHECK(c.request(http("GET", "/ordermanagement/v1/orders/%66%33392f8b-6116-4073-ab96-e330819e2c07")).status == 200);
  // And the server is still fine.
  CHECK(send(http("GET", order_path("f3392f8b-6116-4073-ab96-e330819e2c07"))).status == 200);
}

TEST_CASE("Heads and bodies over 1 MB give 413 REQUEST_TOO_LARGE") {
  {
    TlsClient c(main_sim().port());
    auto r = c.request("POST " + order_path("x") + "/captures HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1048577\r\n\r\n");
    check_error(r, 413, "REQUEST_TOO_LARGE");
    CHECK(c.closed_by_peer());
  }
  {
    TlsClient c(main_sim().port());
    std::string big = "GET / HTTP/1.1\r\nHost: localhost\r\nX-Big: " + std::string(1100 * 1024, 'a') + "\r\n\r\n";
    c.write(big);  // the server may stop reading half way; its answer is there anyway
    check_error(c.read_response(), 413, "REQUEST_TOO_LARGE");
  }
  {
    // Exactly 1 MB of body is accepted (and here refused by validation, not by size).
    std::string id = unique_order();
    auto r = send(http("POST", order_path(id) + "/captures", R"({"captured_amount":1,"reference":")" + std::string(1024 * 1024 - 40, 'r') + "\"}"));
    check_error(r, 422, "UNPROCESSABLE_ENTITY", "reference");
  }
  CHECK(send(http("GET", order_path("f3392f8b-6116-4073-ab96-e330819e2c07"))).status == 200);
}

TEST_CASE("A stalled client is timed out") {
  using clock = std::chrono::steady_clock;
  SimProcess sim({"--read-timeout-ms", "1500"});
  {
    TlsClient c(sim.port(), 20000);
    c.write("GET / HTTP/1.1\r\nHost: loc");  // and then nothing
    auto t0 = clock::now();
    CHECK(c.closed_by_peer());
    auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - t0).count();
    CHECK(waited >= 1000);
    CHECK(waited < 15000);  // timed out by the sim, not by the client's 20 s
  }
  {
    // A TCP client that never starts TLS.
    int fd = TlsClient::connect_loopback(sim.port());
    pollfd p{fd, POLLIN, 0};
    auto t0 = clock::now();
    REQUIRE(::poll(&p, 1, 20000) == 1);
    char ch;
    CHECK(::recv(fd, &ch, 1, 0) <= 0);
    auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - t0).count();
    CHECK(waited < 15000);  // timed out by the sim, not by the client's 20 s
    ::close(fd);
  }
  {
    // An idle keep-alive connection is closed as well.
    TlsClient c(sim.port(), 20000);
    CHECK(c.request(http("GET", order_path("f3392f8b-6116-4073-ab96-e330819e2c07"), {}, {}, false)).status == 200);
    CHECK(c.closed_by_peer());
  }
}

TEST_CASE("--chunked serves bodies chunked; empty answers stay empty") {
  SimProcess chunked({"--chunked"});
  TlsClient c(chunked.port());
  auto r = c.request(http("GET", order_path("f3392f8b-6116-4073-ab96-e330819e2c07"), {}, {}, false));
  CHECK(r.status == 200);
  CHECK(r.chunked);
  CHECK_FALSE(r.has_header("Content-Length"));
  CHECK(r.json().at("order_amount").as_int64() == 50000);
  auto cap = c.request(http("POST", order_path("f3392f8b-6116-4073-ab96-e330819e2c07") + "/captures", R"({"captured_amount":1})", {}, false));
  CHECK(cap.status == 201);
  CHECK(cap.chunked);
  CHECK(cap.body.empty());
  std::string cid = cap.header("Capture-Id");
  auto so = c.request(http("POST", order_path("f3392f8b-6116-4073-ab96-e330819e2c07") + "/captures/" + cid + "/trigger-send-out", {}, {}, false));
  CHECK(so.status == 204);
  CHECK_FALSE(so.has_header("Transfer-Encoding"));
  auto err = c.request(http("GET", order_path("nope"), {}, {}, false));
  CHECK(err.chunked);
  check_error(err, 404, "NO_SUCH_ORDER");
  // Without --username, no credentials are needed.
  CHECK(chunked.stop() == 0);
}

TEST_CASE("--rate-limit: a token bucket of N a second; past it 429 with Retry-After and X-Ratelimit-*") {
  SimProcess limited({"--rate-limit", "1"});
  TlsClient c(limited.port());
  std::string path = order_path("f3392f8b-6116-4073-ab96-e330819e2c07");
  // The bucket starts full (one token) and gains one a second: of six requests sent at once
  // (well within the second the next token takes) one finds a token.
  std::vector<HttpResponse> rs;
  for (int i = 0; i < 6; ++i) rs.push_back(c.request(http("GET", path, {}, {}, false)));
  int ok = 0, limited_n = 0;
  for (const auto& r : rs) {
    CHECK(r.header("X-Ratelimit-Limit") == "1, 1;w=1");  // Klarna's form: 1 in a 1-second window
    CHECK(r.header("X-Ratelimit-Remaining") == "0");
    CHECK(r.header("X-Ratelimit-Reset") == "1");  // the bucket is full again within a second
    if (r.status == 200) {
      ++ok;
      CHECK_FALSE(r.has_header("Retry-After"));
    }
    if (r.status == 429) {
      ++limited_n;
      check_error(r, 429, "TOO_MANY_REQUESTS");
      CHECK(r.header("Retry-After") == "1");
    }
  }
  CHECK(ok == 1);
  CHECK(limited_n == 5);
  CHECK(rs[0].status == 200);
  // A token is back after a second.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  CHECK(c.request(http("GET", path, {}, {}, false)).status == 200);
  // The test-only paths are neither limited nor take tokens.
  for (int i = 0; i < 6; ++i) CHECK(c.request(http("GET", "/_sim/state", {}, {}, false)).status == 200);
  const json::value st = json::parse(c.request(http("GET", "/_sim/state", {}, {}, false)).body);
  CHECK(st.at("rate_limited").as_int64() == 5);
  CHECK(limited.stop() == 0);

  // With N = 3: a burst of three, Remaining counting down.
  SimProcess three({"--rate-limit", "3"});
  TlsClient d(three.port());
  const HttpResponse first = d.request(http("GET", path, {}, {}, false));
  CHECK(first.status == 200);
  CHECK(first.header("X-Ratelimit-Limit") == "3, 3;w=1");
  CHECK(first.header("X-Ratelimit-Remaining") == "2");
  CHECK(three.stop() == 0);
}

TEST_CASE("kom-sim serves 1,000 concurrent keep-alive TLS connections") {
  // Each connection has its own thread (with a small stack); 1,000 at once, each answering a
  // request after all are open, and each kept open. Descriptors: one per connection here, one
  // in kom-sim (which raises its own limit).
  rlimit files{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &files) == 0);
  if (files.rlim_cur < 2100) {
    files.rlim_cur = 4096;
    if (files.rlim_max < files.rlim_cur) files.rlim_max = files.rlim_cur;  // root may raise it
    REQUIRE_MESSAGE(::setrlimit(RLIMIT_NOFILE, &files) == 0, "1,000 connections need 2,100 descriptors");
  }
  REQUIRE(files.rlim_cur >= 2100);
  SimProcess s({"--read-timeout-ms", "120000"});  // opening 1,000 takes longer than the default idle time
  constexpr int n = 1000;
  std::vector<std::unique_ptr<TlsClient>> conns;
  conns.reserve(n);
  for (int i = 0; i < n; ++i) conns.push_back(std::make_unique<TlsClient>(s.port()));
  const std::string path = order_path("f3392f8b-6116-4073-ab96-e330819e2c07");
  int answered = 0;
  for (auto& c : conns) answered += c->request(http("GET", path, {}, {}, false)).status == 200 ? 1 : 0;
  CHECK(answered == n);
  for (auto& c : conns) answered += c->request(http("GET", path, {}, {}, false)).status == 200 ? 1 : 0;
  CHECK(answered == 2 * n);  // the same connections, kept alive
  const json::value st = json::parse(TlsClient(s.port()).request(http("GET", "/_sim/state", {}, {}, false)).body);
  CHECK(st.at("connections_open").as_int64() == n + 1);
  CHECK(st.at("connections_peak").as_int64() == n + 1);
  CHECK(st.at("handshakes_full").as_int64() == n + 1);
  conns.clear();
  CHECK(s.stop() == 0);
}

TEST_CASE("SIGTERM stops kom-sim cleanly, also with open connections") {
  SimProcess s({});
  TlsClient idle(s.port());
  CHECK(idle.request(http("GET", "/_sim/state", {}, {}, false)).status == 200);
  auto t0 = std::chrono::steady_clock::now();
  int status = s.stop();
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(3));
}

TEST_CASE("--max-captured-amount lowers the captured_amount limit (422 above it)") {
  SimProcess low({"--max-captured-amount", "100000000"});
  const std::string o = order_path("f3392f8b-6116-4073-ab96-e330819e2c07");
  TlsClient c(low.port());
  check_error(c.request(http("POST", o + "/captures", R"({"captured_amount":100000001})", {}, false)), 422,
              "UNPROCESSABLE_ENTITY", "captured_amount");
  CHECK(c.request(http("POST", o + "/captures", R"({"captured_amount":100})", {}, false)).status == 201);
}


// ---- refunds and order changes ---------------------------------------------------------------

namespace {

std::string refund(const std::string& order, std::int64_t amount, const std::string& extra = {},
                   const std::string& key = {}) {
  std::string hdr = key.empty() ? std::string() : "Klarna-Idempotency-Key: " + key + "\r\n";
  auto r = send(http("POST", order_path(order) + "/refunds",
                     R"({"refunded_amount":)" + std::to_string(amount) + extra + "}", hdr));
  REQUIRE_MESSAGE(r.status == 201, r.body);
  return r.header("Refund-Id");
}

HttpResponse post(const std::string& order, const std::string& call, const std::string& body = {},
                  const std::string& extra = {}) {
  return send(http("POST", order_path(order) + call, body, extra));
}

HttpResponse patch(const std::string& order, const std::string& call, const std::string& body,
                   const std::string& extra = {}) {
  return send(http("PATCH", order_path(order) + call, body, extra));
}

json::object get_order(const std::string& id) {
  auto r = send(http("GET", order_path(id)));
  REQUIRE(r.status == 200);
  return r.json().as_object();
}

std::string key_header(const std::string& key) { return "Klarna-Idempotency-Key: " + key + "\r\n"; }

// "YYYY-MM-DDTHH:MM:SSZ" (as the sim writes it) -> Unix seconds.
std::int64_t epoch_of(const json::value& v) {
  const std::string s(v.as_string());
  REQUIRE(is_iso8601(s));
  REQUIRE(s.size() == 20);
  int y = std::stoi(s.substr(0, 4));
  const int m = std::stoi(s.substr(5, 2)), d = std::stoi(s.substr(8, 2));
  y -= m <= 2;  // days from the civil date, March-based years
  const int era = (y >= 0 ? y : y - 399) / 400;
  const int yoe = y - era * 400;
  const int doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  const std::int64_t days = static_cast<std::int64_t>(era) * 146097 + doe - 719468;
  return days * 86400 + std::stoi(s.substr(11, 2)) * 3600 + std::stoi(s.substr(14, 2)) * 60 +
         std::stoi(s.substr(17, 2));
}

constexpr std::int64_t days28 = 28 * 86400;

}  // namespace

TEST_CASE("epoch_of reads the sim's timestamps") {
  CHECK(epoch_of(json::value("1970-01-01T00:00:00Z")) == 0);
  CHECK(epoch_of(json::value("2000-03-01T00:00:01Z")) == 951868801);
  CHECK(epoch_of(json::value("2099-12-31T23:59:59Z")) == 4102444799);
}

TEST_CASE("POST refund: 201, Refund-Id and Location, the refund, and the order's amounts") {
  std::string id = unique_order(10000);
  std::string c1 = capture(id, 4000), c2 = capture(id, 3000);
  const std::int64_t before = applied_posts();
  const std::int64_t t0 = state().at("now_epoch").as_int64();
  auto r = post(id, "/refunds",
                R"({"refunded_amount":5000,"description":"Returned","reference":"RF-1","order_lines":[)" +
                    std::string(line_ok) + "]}");
  REQUIRE(r.status == 201);
  CHECK(r.body.empty());
  CHECK(r.header("Content-Length") == "0");
  const std::string rid = r.header("Refund-Id");
  CHECK(is_uuid4(rid));
  CHECK(r.header("Location") == "https://localhost:" + std::to_string(main_sim().port()) + order_path(id) +
                                    "/refunds/" + rid);
  CHECK(is_uuid4(r.header("Klarna-Correlation-Id")));
  CHECK(applied_posts() == before + 1);
  const std::int64_t t1 = state().at("now_epoch").as_int64();

  auto g = send(http("GET", order_path(id) + "/refunds/" + rid));
  REQUIRE(g.status == 200);
  CHECK(g.header("Content-Type") == "application/json");
  const json::object f = g.json().as_object();
  CHECK(f.size() == 6);
  CHECK(f.at("refund_id").as_string() == rid.c_str());
  CHECK(f.at("refunded_amount").as_int64() == 5000);
  CHECK(f.at("description").as_string() == "Returned");
  CHECK(f.at("reference").as_string() == "RF-1");
  CHECK(f.at("order_lines") == json::parse(std::string("[") + line_ok + "]"));
  const std::int64_t at = epoch_of(f.at("refunded_at"));  // on the sim clock
  CHECK(at >= t0);
  CHECK(at <= t1);

  // The order: refunded_amount grows, the status stays, the refund is listed.
  auto o = get_order(id);
  CHECK(o.at("status").as_string() == "PART_CAPTURED");
  CHECK(o.at("captured_amount").as_int64() == 7000);
  CHECK(o.at("refunded_amount").as_int64() == 5000);
  CHECK(o.at("remaining_authorized_amount").as_int64() == 3000);
  REQUIRE(o.at("refunds").as_array().size() == 1);
  CHECK(o.at("refunds").as_array()[0] == json::value(f));
  // Spread over the captures, oldest first.
  auto caps = send(http("GET", order_path(id) + "/captures")).json().as_array();
  CHECK(caps[0].at("refunded_amount").as_int64() == 4000);
  CHECK(caps[1].at("refunded_amount").as_int64() == 1000);
  CHECK(send(http("GET", order_path(id) + "/captures/" + c1)).json().at("refunded_amount").as_int64() == 4000);
  CHECK(send(http("GET", order_path(id) + "/captures/" + c2)).json().at("refunded_amount").as_int64() == 1000);

  // What is left of the captured amount, and not a cent more.
  check_error(post(id, "/refunds", R"({"refunded_amount":2001})"), 403, "REFUND_NOT_ALLOWED",
              "Refunded amount is higher than the captured amount. Refund not possible.");
  const std::string rid2 = refund(id, 2000);
  CHECK(rid2 != rid);
  check_error(post(id, "/refunds", R"({"refunded_amount":1})"), 403, "REFUND_NOT_ALLOWED",
              "higher than the captured amount");
  // Optional fields not given are left out.
  const json::object f2 = send(http("GET", order_path(id) + "/refunds/" + rid2)).json().as_object();
  CHECK(f2.size() == 3);
  CHECK(f2.at("refunded_amount").as_int64() == 2000);
  CHECK_FALSE(f2.contains("description"));
  CHECK_FALSE(f2.contains("reference"));
  CHECK_FALSE(f2.contains("order_lines"));
  caps = send(http("GET", order_path(id) + "/captures")).json().as_array();
  CHECK(caps[0].at("refunded_amount").as_int64() == 4000);
  CHECK(caps[1].at("refunded_amount").as_int64() == 3000);
  o = get_order(id);
  CHECK(o.at("refunded_amount").as_int64() == 7000);
  CHECK(o.at("refunds").as_array().size() == 2);
  CHECK(applied_posts() == before + 2);

  // A fully captured order stays CAPTURED when refunded in full.
  std::string full = unique_order(1000);
  capture(full, 1000);
  refund(full, 1000);
  o = get_order(full);
  CHECK(o.at("status").as_string() == "CAPTURED");
  CHECK(o.at("refunded_amount").as_int64() == 1000);
  CHECK(o.at("remaining_authorized_amount").as_int64() == 0);
}

TEST_CASE("POST refund: checked in order: 404 NO_SUCH_ORDER, 400, 422, 403 REFUND_NOT_ALLOWED") {
  check_error(post("no-such-order", "/refunds", "not json"), 404, "NO_SUCH_ORDER");
  std::string id = unique_order(10000);
  const std::int64_t before = applied_posts();
  check_error(post(id, "/refunds", "{refunded_amount: 1}"), 400, "BAD_REQUEST");
  check_error(post(id, "/refunds", ""), 400, "BAD_REQUEST");
  check_error(post(id, "/refunds", R"({"refunded_amount":0})"), 422, "UNPROCESSABLE_ENTITY", "refunded_amount");
  check_error(post(id, "/refunds", R"({"refunded_amount":1})"), 403, "REFUND_NOT_ALLOWED",
              "Order has no captures. Refund not possible");
  capture(id, 5000);

  auto lines = [](const std::string& l) { return R"({"refunded_amount":1,"order_lines":[)" + std::string(line_ok) + "," + l + "]}"; };
  std::string s256(256, 'a');
  struct Case { std::string body; std::string path; };
  std::vector<Case> cases = {
      {"[]", "body"},
      {"{}", "refunded_amount: is required"},
      {R"({"refunded_amount":0})", "refunded_amount: must be between 1 and 200000000, got 0"},
      {R"({"refunded_amount":-1})", "refunded_amount"},
      {R"({"refunded_amount":200000001})", "refunded_amount"},
      {R"({"refunded_amount":"1"})", "refunded_amount: must be an integer"},
      {R"({"refunded_amount":1.0})", "refunded_amount: must be an integer"},
      {R"({"refunded_amount":null})", "refunded_amount"},
      {R"({"refunded_amount":1,"description":")" + s256 + "\"}", "description"},
      {R"({"refunded_amount":1,"description":7})", "description: must be a string"},
      {R"({"refunded_amount":1,"reference":")" + s256 + "\"}", "reference"},
      {R"({"refunded_amount":1,"reference":null})", "reference"},
      {R"({"refunded_amount":1,"captured_amount":1})", "captured_amount: unknown field"},
      {R"({"refunded_amount":1,"shipping_info":[]})", "shipping_info: unknown field"},
      {R"({"refunded_amount":1,"order_lines":{}})", "order_lines: must be an array"},
      {lines(R"({"name":"n","quantity":1,"unit_price":1})"), "order_lines[1].total_amount: is required"},
      {lines(R"({"name":"","quantity":1,"unit_price":1,"total_amount":1})"), "order_lines[1].name"},
      {lines(R"({"name":"n","quantity":1,"unit_price":1,"total_amount":1,"quantity_unit":"elevenchars"})"),
       "order_lines[1].quantity_unit"},
      {lines(R"({"name":"n","quantity":1,"unit_price":1,"total_amount":1,"type":"Physical"})"), "order_lines[1].type"},
      {lines(R"({"name":"n","quantity":1,"unit_price":1,"total_amount":1,"colour":"red"})"),
       "order_lines[1].colour: unknown field"},
  };
  {
    std::string many = R"({"refunded_amount":1,"order_lines":[)";
    for (int i = 0; i < 1001; ++i) many += std::string(i ? "," : "") + line_ok;
    cases.push_back({many + "]}", "order_lines: the number of items must be between 0 and 1000"});
  }
  const std::int64_t mid = applied_posts();
  TlsClient c(main_sim().port());
  for (const auto& k : cases) {
    CAPTURE(k.body.substr(0, 200));
    check_error(c.request(http("POST", order_path(id) + "/refunds", k.body)), 422, "UNPROCESSABLE_ENTITY", k.path);
  }
  CHECK(applied_posts() == mid);
  CHECK(state_order(id).at("refunds").as_array().empty());
  CHECK(state_order(id).at("refunded_amount").as_int64() == 0);
  CHECK(applied_posts() == before + 1);  // the capture only

  // The limits themselves are accepted: 255 code points, 1000 lines.
  std::string s255;
  for (int i = 0; i < 255; ++i) s255 += "\xC3\xA9";
  std::string many = R"({"refunded_amount":5000,"description":")" + s255 + R"(","reference":")" + std::string(255, 'r') +
                     R"(","order_lines":[)";
  for (int i = 0; i < 1000; ++i) many += std::string(i ? "," : "") + line_ok;
  auto r = post(id, "/refunds", many + "]}");
  REQUIRE_MESSAGE(r.status == 201, r.body);
  auto f = send(http("GET", order_path(id) + "/refunds/" + r.header("Refund-Id"))).json();
  CHECK(f.at("order_lines").as_array().size() == 1000);
  CHECK(f.at("description").as_string() == s255.c_str());

  // A seeded captured_amount (without capture objects) can be refunded.
  std::string seeded = unique_order(1000, R"(,"status":"PART_CAPTURED","captured_amount":600)");
  refund(seeded, 600);
  check_error(post(seeded, "/refunds", R"({"refunded_amount":1})"), 403, "REFUND_NOT_ALLOWED");
  CHECK(get_order(seeded).at("refunded_amount").as_int64() == 600);
}

TEST_CASE("GET refund: 404 NOT_FOUND for an unknown refund, NO_SUCH_ORDER for an unknown order") {
  std::string id = unique_order(1000), other = unique_order(1000);
  capture(id, 1000);
  std::string rid = refund(id, 100);
  CHECK(send(http("GET", order_path(id) + "/refunds/" + rid)).status == 200);
  check_error(send(http("GET", order_path(id) + "/refunds/no-such-refund")), 404, "NOT_FOUND", "no-such-refund");
  check_error(send(http("GET", order_path(other) + "/refunds/" + rid)), 404, "NOT_FOUND");
  check_error(send(http("GET", order_path("no-such-order") + "/refunds/" + rid)), 404, "NO_SUCH_ORDER");
}

TEST_CASE("POST cancel: 204 on an authorized order without captures, else 403 CANCEL_NOT_ALLOWED") {
  std::string id = unique_order(5000);
  const std::int64_t before = applied_posts();
  auto r = post(id, "/cancel");
  CHECK(r.status == 204);
  CHECK(r.body.empty());
  CHECK(is_uuid4(r.header("Klarna-Correlation-Id")));
  auto o = get_order(id);
  CHECK(o.at("status").as_string() == "CANCELLED");
  CHECK(o.at("remaining_authorized_amount").as_int64() == 0);
  CHECK(o.at("order_amount").as_int64() == 5000);
  CHECK(applied_posts() == before + 1);
  check_error(post(id, "/cancel"), 403, "CANCEL_NOT_ALLOWED", "Order is already cancelled. Cancel not possible.");
  check_error(post(id, "/captures", R"({"captured_amount":1})"), 403, "CAPTURE_NOT_ALLOWED", "cancelled");

  // A body is not defined for cancel; one sent is ignored, JSON or not.
  CHECK(post(unique_order(), "/cancel", R"({"reason":"changed my mind"})").status == 204);
  CHECK(post(unique_order(), "/cancel", "not json").status == 204);
  CHECK(applied_posts() == before + 3);

  // Captured in part or in full: Klarna's message.
  std::string part = unique_order(5000), full = unique_order(5000);
  capture(part, 1000);
  capture(full, 5000);
  const std::int64_t mid = applied_posts();
  check_error(post(part, "/cancel"), 403, "CANCEL_NOT_ALLOWED", "Order has previous captures. Cancel not possible");
  check_error(post(full, "/cancel"), 403, "CANCEL_NOT_ALLOWED", "Order has previous captures. Cancel not possible");
  struct Case { const char* extra; const char* message; };
  for (Case k : {Case{R"(,"status":"CLOSED")", "Order is closed"}, Case{R"(,"status":"EXPIRED")", "Order has expired"},
                 Case{R"(,"expires_at":"2001-01-01T00:00:00Z")", "Order has expired"},
                 Case{R"(,"status":"CANCELLED")", "already cancelled"},
                 Case{R"(,"status":"PART_CAPTURED","captured_amount":1)", "previous captures"},
                 Case{R"(,"status":"CAPTURED")", "Order is not authorized"}}) {
    CAPTURE(k.extra);
    check_error(post(unique_order(1000, k.extra), "/cancel"), 403, "CANCEL_NOT_ALLOWED", k.message);
  }
  check_error(post("cancelled-0001", "/cancel"), 403, "CANCEL_NOT_ALLOWED", "cancelled");
  check_error(post("expired-0001", "/cancel"), 403, "CANCEL_NOT_ALLOWED", "expired");
  CHECK(get_order(part).at("status").as_string() == "PART_CAPTURED");
  CHECK(applied_posts() == mid);
  check_error(post("no-such-order", "/cancel"), 404, "NO_SUCH_ORDER");
}

TEST_CASE("POST release-remaining-authorization: 204 and CLOSED on a part-captured order, else 403 NOT_ALLOWED") {
  std::string id = unique_order(10000);
  check_error(post(id, "/release-remaining-authorization"), 403, "NOT_ALLOWED",
              "Can not release when order is cancelled or has no captures.");
  capture(id, 4000);
  const std::int64_t before = applied_posts();
  auto r = post(id, "/release-remaining-authorization");
  CHECK(r.status == 204);
  CHECK(r.body.empty());
  auto o = get_order(id);
  CHECK(o.at("status").as_string() == "CLOSED");
  CHECK(o.at("order_amount").as_int64() == 10000);
  CHECK(o.at("original_order_amount").as_int64() == 10000);
  CHECK(o.at("captured_amount").as_int64() == 4000);
  CHECK(o.at("remaining_authorized_amount").as_int64() == 0);
  CHECK(applied_posts() == before + 1);
  check_error(post(id, "/release-remaining-authorization"), 403, "NOT_ALLOWED", "closed");
  check_error(post(id, "/captures", R"({"captured_amount":1})"), 403, "CAPTURE_NOT_ALLOWED", "closed");
  check_error(post(id, "/cancel"), 403, "CANCEL_NOT_ALLOWED", "previous captures");
  // What was captured can still be refunded.
  refund(id, 4000);
  CHECK(get_order(id).at("status").as_string() == "CLOSED");

  std::string full = unique_order(1000);
  capture(full, 1000);
  check_error(post(full, "/release-remaining-authorization"), 403, "NOT_ALLOWED",
              "Order is fully captured. Remaining authorization cannot be released.");
  std::string cancelled = unique_order(1000);
  REQUIRE(post(cancelled, "/cancel").status == 204);
  check_error(post(cancelled, "/release-remaining-authorization"), 403, "NOT_ALLOWED",
              "Can not release when order is cancelled or has no captures.");
  check_error(post("cancelled-0001", "/release-remaining-authorization"), 403, "NOT_ALLOWED", "cancelled");
  check_error(post(unique_order(1000, R"(,"status":"EXPIRED","captured_amount":500)"), "/release-remaining-authorization"),
              403, "NOT_ALLOWED", "Order has expired");
  // A seeded captured_amount counts as captured.
  CHECK(post(unique_order(1000, R"(,"status":"PART_CAPTURED","captured_amount":500)"), "/release-remaining-authorization")
            .status == 204);
  check_error(post("no-such-order", "/release-remaining-authorization"), 404, "NO_SUCH_ORDER");
}

TEST_CASE("POST extend-authorization-time: expires_at moves 28 days on while AUTHORIZED or PART_CAPTURED") {
  std::string id = unique_order(10000);
  const std::int64_t e0 = epoch_of(get_order(id).at("expires_at"));
  CHECK(state_order(id).at("expires_at_epoch").as_int64() == e0);
  const std::int64_t before = applied_posts();
  auto r = post(id, "/extend-authorization-time");
  CHECK(r.status == 204);
  CHECK(r.body.empty());
  CHECK(epoch_of(get_order(id).at("expires_at")) == e0 + days28);
  CHECK(state_order(id).at("expires_at_epoch").as_int64() == e0 + days28);
  CHECK(post(id, "/extend-authorization-time").status == 204);
  CHECK(epoch_of(get_order(id).at("expires_at")) == e0 + 2 * days28);
  capture(id, 1000);
  CHECK(post(id, "/extend-authorization-time").status == 204);  // PART_CAPTURED
  CHECK(epoch_of(get_order(id).at("expires_at")) == e0 + 3 * days28);
  CHECK(applied_posts() == before + 4);

  capture(id, 9000);
  const std::int64_t mid = applied_posts();
  check_error(post(id, "/extend-authorization-time"), 403, "NOT_ALLOWED", "fully captured");
  struct Case { const char* extra; const char* message; };
  for (Case k : {Case{R"(,"status":"CANCELLED")", "cancelled"}, Case{R"(,"status":"CLOSED")", "closed"},
                 Case{R"(,"status":"EXPIRED")", "expired"}, Case{R"(,"expires_at":"2001-01-01T00:00:00Z")", "expired"},
                 Case{R"(,"status":"PART_CAPTURED","captured_amount":500,"expires_at":"2001-01-01T00:00:00Z")", "expired"}}) {
    CAPTURE(k.extra);
    std::string oid = unique_order(1000, k.extra);
    const std::string was(get_order(oid).at("expires_at").as_string());
    check_error(post(oid, "/extend-authorization-time"), 403, "NOT_ALLOWED", k.message);
    CHECK(get_order(oid).at("expires_at").as_string() == was.c_str());
  }
  check_error(post("expired-0001", "/extend-authorization-time"), 403, "NOT_ALLOWED", "Order has expired");
  CHECK(applied_posts() == mid);
  check_error(post("no-such-order", "/extend-authorization-time"), 404, "NO_SUCH_ORDER");
}

TEST_CASE("An extended order outlives its first expiry on the sim clock") {
  SimProcess sim({});  // its own clock: the shared sim's orders must not expire
  TlsClient c(sim.port());
  auto call = [&](const std::string& method, const std::string& target, const std::string& body = {}) {
    return c.request(http(method, target, body, {}, false));
  };
  for (const char* id : {"keep", "lapse"})
    REQUIRE(call("POST", "/_sim/orders", std::string(R"({"order_id":")") + id + R"(","order_amount":1000,"purchase_currency":"EUR"})")
                .status == 201);
  // Default expiry is 28 days after creation; extend "keep" on day 27, then look on day 29.
  REQUIRE(call("POST", "/_sim/clock", R"({"advance_seconds":)" + std::to_string(27 * 86400) + "}").status == 200);
  CHECK(call("POST", order_path("keep") + "/extend-authorization-time").status == 204);
  REQUIRE(call("POST", "/_sim/clock", R"({"advance_seconds":)" + std::to_string(2 * 86400) + "}").status == 200);
  CHECK(call("GET", order_path("keep")).json().at("status").as_string() == "AUTHORIZED");
  CHECK(call("GET", order_path("lapse")).json().at("status").as_string() == "EXPIRED");
  check_error(call("POST", order_path("lapse") + "/extend-authorization-time"), 403, "NOT_ALLOWED", "expired");
  check_error(call("POST", order_path("lapse") + "/cancel"), 403, "CANCEL_NOT_ALLOWED", "expired");
  CHECK(call("POST", order_path("keep") + "/captures", R"({"captured_amount":1000})").status == 201);
}

TEST_CASE("PATCH merchant-references: present fields overwrite, 204; 422, 403 NOT_ALLOWED") {
  std::string id = unique_order(1000);
  const std::int64_t before = applied_posts();
  auto r = patch(id, "/merchant-references", R"({"merchant_reference1":"POS-1001"})");
  CHECK(r.status == 204);
  CHECK(r.body.empty());
  auto o = get_order(id);
  CHECK(o.at("merchant_reference1").as_string() == "POS-1001");
  CHECK_FALSE(o.contains("merchant_reference2"));  // never set: left out, as Klarna does
  CHECK(state_order(id).at("merchant_reference2").is_null());
  CHECK(patch(id, "/merchant-references", R"({"merchant_reference2":"till-7"})").status == 204);
  o = get_order(id);
  CHECK(o.at("merchant_reference1").as_string() == "POS-1001");
  CHECK(o.at("merchant_reference2").as_string() == "till-7");
  CHECK(patch(id, "/merchant-references", R"({"merchant_reference1":"","merchant_reference2":"B"})").status == 204);
  CHECK(patch(id, "/merchant-references", "{}").status == 204);
  o = get_order(id);
  CHECK(o.at("merchant_reference1").as_string() == "");
  CHECK(o.at("merchant_reference2").as_string() == "B");
  CHECK(applied_posts() == before + 4);

  std::string s255;
  for (int i = 0; i < 255; ++i) s255 += "\xC3\xA9";
  CHECK(patch(id, "/merchant-references", R"({"merchant_reference1":")" + s255 + "\"}").status == 204);
  CHECK(get_order(id).at("merchant_reference1").as_string() == s255.c_str());

  struct Case { std::string body; std::string path; };
  for (const Case& k : {Case{"[]", "body"}, Case{R"({"merchant_reference1":null})", "merchant_reference1"},
                        Case{R"({"merchant_reference2":7})", "merchant_reference2: must be a string"},
                        Case{R"({"merchant_reference1":")" + std::string(256, 'a') + "\"}", "merchant_reference1"},
                        Case{R"({"merchant_reference3":"x"})", "merchant_reference3: unknown field"}}) {
    CAPTURE(k.body);
    check_error(patch(id, "/merchant-references", k.body), 422, "UNPROCESSABLE_ENTITY", k.path);
  }
  check_error(patch(id, "/merchant-references", "x"), 400, "BAD_REQUEST");
  check_error(send(http("PATCH", order_path(id) + "/merchant-references")), 400, "BAD_REQUEST");  // no body
  CHECK(get_order(id).at("merchant_reference1").as_string() == s255.c_str());

  // Refused on cancelled and expired orders (after validation); fine on captured and closed ones.
  check_error(patch("cancelled-0001", "/merchant-references", R"({"merchant_reference1":"x"})"), 403, "NOT_ALLOWED",
              "Can not update a cancelled order.");
  check_error(patch("expired-0001", "/merchant-references", R"({"merchant_reference1":"x"})"), 403, "NOT_ALLOWED",
              "expired");
  check_error(patch("cancelled-0001", "/merchant-references", R"({"bogus":"x"})"), 422, "UNPROCESSABLE_ENTITY");
  CHECK_FALSE(get_order("cancelled-0001").contains("merchant_reference1"));
  std::string captured = unique_order(1000), closed = unique_order(1000);
  capture(captured, 1000);
  capture(closed, 10);
  REQUIRE(post(closed, "/release-remaining-authorization").status == 204);
  CHECK(patch(captured, "/merchant-references", R"({"merchant_reference1":"c"})").status == 204);
  CHECK(patch(closed, "/merchant-references", R"({"merchant_reference1":"d"})").status == 204);
  CHECK(get_order(closed).at("merchant_reference1").as_string() == "d");
  check_error(patch("no-such-order", "/merchant-references", "{}"), 404, "NO_SUCH_ORDER");

  // Seeded references show too.
  auto seeded = get_order(unique_order(1, R"(,"merchant_reference1":"A","merchant_reference2":"B")"));
  CHECK(seeded.at("merchant_reference1").as_string() == "A");
  CHECK(seeded.at("merchant_reference2").as_string() == "B");
}

TEST_CASE("PATCH authorization: lowers the order amount within what is captured and authorized") {
  std::string id = unique_order(10000);
  const std::int64_t before = applied_posts();
  const std::string lines = std::string("[") + line_ok + "]";
  auto r = patch(id, "/authorization", R"({"order_amount":8000,"description":"Removed an item","order_lines":)" + lines + "}");
  CHECK(r.status == 204);
  CHECK(r.body.empty());
  auto o = get_order(id);
  CHECK(o.at("status").as_string() == "AUTHORIZED");
  CHECK(o.at("order_amount").as_int64() == 8000);
  CHECK(o.at("original_order_amount").as_int64() == 10000);
  CHECK(o.at("remaining_authorized_amount").as_int64() == 8000);
  CHECK(o.at("order_lines") == json::parse(lines));

  capture(id, 3000);
  CHECK(get_order(id).at("remaining_authorized_amount").as_int64() == 5000);
  check_error(patch(id, "/authorization", R"({"order_amount":2999})"), 403, "NOT_ALLOWED",
              "Resulting authorization amount 2999 cannot be less than the captured amount 3000");
  check_error(patch(id, "/authorization", R"({"order_amount":10001})"), 403, "NOT_ALLOWED",
              "Resulting authorization amount 10001 cannot be higher than the authorized amount 10000");
  // Back up to what was authorized first is fine; order lines not given are kept.
  CHECK(patch(id, "/authorization", R"({"order_amount":10000})").status == 204);
  o = get_order(id);
  CHECK(o.at("order_amount").as_int64() == 10000);
  CHECK(o.at("remaining_authorized_amount").as_int64() == 7000);
  CHECK(o.at("order_lines") == json::parse(lines));
  // Down to what is captured: the order is then fully captured.
  CHECK(patch(id, "/authorization", R"({"order_amount":3000,"order_lines":[]})").status == 204);
  o = get_order(id);
  CHECK(o.at("status").as_string() == "CAPTURED");
  CHECK(o.at("order_amount").as_int64() == 3000);
  CHECK(o.at("original_order_amount").as_int64() == 10000);
  CHECK(o.at("remaining_authorized_amount").as_int64() == 0);
  CHECK(o.at("order_lines").as_array().empty());
  CHECK(applied_posts() == before + 4);  // three updates and the capture
  check_error(patch(id, "/authorization", R"({"order_amount":3000})"), 403, "NOT_ALLOWED", "fully captured");
  check_error(post(id, "/captures", R"({"captured_amount":1})"), 403, "CAPTURE_NOT_ALLOWED");

  // Down to zero on an order without captures: still AUTHORIZED, nothing left to capture.
  std::string zero = unique_order(500);
  CHECK(patch(zero, "/authorization", R"({"order_amount":0})").status == 204);
  o = get_order(zero);
  CHECK(o.at("status").as_string() == "AUTHORIZED");
  CHECK(o.at("remaining_authorized_amount").as_int64() == 0);
  check_error(post(zero, "/captures", R"({"captured_amount":1})"), 403, "CAPTURE_NOT_ALLOWED");

  // 400 and 422 come before the state checks.
  std::string other = unique_order(1000);
  struct Case { std::string body; std::string path; };
  std::string many = R"({"order_amount":1,"order_lines":[)";
  for (int i = 0; i < 1001; ++i) many += std::string(i ? "," : "") + line_ok;
  for (const Case& k : {Case{"[]", "body"}, Case{"{}", "order_amount: is required"},
                        Case{R"({"order_amount":-1})", "order_amount: must be between 0 and 200000000"},
                        Case{R"({"order_amount":200000001})", "order_amount"},
                        Case{R"({"order_amount":"1"})", "order_amount: must be an integer"},
                        Case{R"({"order_amount":1.5})", "order_amount"},
                        Case{R"({"order_amount":1,"description":")" + std::string(256, 'd') + "\"}", "description"},
                        Case{R"({"order_amount":1,"order_lines":[{"name":""}]})", "order_lines[0].name"},
                        Case{many + "]}", "order_lines: the number of items must be between 0 and 1000"},
                        Case{R"({"order_amount":1,"captured_amount":1})", "captured_amount: unknown field"}}) {
    CAPTURE(k.body.substr(0, 100));
    check_error(patch(other, "/authorization", k.body), 422, "UNPROCESSABLE_ENTITY", k.path);
    check_error(patch("cancelled-0001", "/authorization", k.body), 422, "UNPROCESSABLE_ENTITY", k.path);
  }
  check_error(patch(other, "/authorization", "nope"), 400, "BAD_REQUEST");
  CHECK(get_order(other).at("order_amount").as_int64() == 1000);

  check_error(patch("cancelled-0001", "/authorization", R"({"order_amount":1})"), 403, "NOT_ALLOWED", "cancelled");
  check_error(patch("expired-0001", "/authorization", R"({"order_amount":1})"), 403, "NOT_ALLOWED", "expired");
  std::string closed = unique_order(1000);
  capture(closed, 10);
  REQUIRE(post(closed, "/release-remaining-authorization").status == 204);
  check_error(patch(closed, "/authorization", R"({"order_amount":500})"), 403, "NOT_ALLOWED", "closed");
  CHECK(get_order(closed).at("order_amount").as_int64() == 1000);
  check_error(patch("no-such-order", "/authorization", R"({"order_amount":1})"), 404, "NO_SUCH_ORDER");
}

TEST_CASE("Idempotency: refunds, cancel, release, extend and both PATCHes replay the first response") {
  std::string id = unique_order(10000);
  capture(id, 5000);
  const std::int64_t before = applied_posts();
  const std::int64_t e0 = state_order(id).at("expires_at_epoch").as_int64();

  const std::string k1 = key_header("rf-" + id);
  auto r1 = post(id, "/refunds", R"({"refunded_amount":1000})", k1);
  auto r2 = post(id, "/refunds", R"({"refunded_amount":2000})", k1);
  REQUIRE(r1.status == 201);
  CHECK(r2.raw_head == r1.raw_head);
  CHECK(r2.header("Refund-Id") == r1.header("Refund-Id"));

  const std::string k2 = key_header("mr-" + id);
  CHECK(patch(id, "/merchant-references", R"({"merchant_reference1":"first"})", k2).status == 204);
  CHECK(patch(id, "/merchant-references", R"({"merchant_reference1":"second"})", k2).status == 204);

  const std::string k3 = key_header("au-" + id);
  CHECK(patch(id, "/authorization", R"({"order_amount":9000})", k3).status == 204);
  CHECK(patch(id, "/authorization", R"({"order_amount":8000})", k3).status == 204);

  const std::string k4 = key_header("ex-" + id);
  CHECK(post(id, "/extend-authorization-time", {}, k4).status == 204);
  CHECK(post(id, "/extend-authorization-time", {}, k4).status == 204);

  const std::string k5 = key_header("rl-" + id);
  CHECK(post(id, "/release-remaining-authorization", {}, k5).status == 204);
  auto again = post(id, "/release-remaining-authorization", {}, k5);  // a replay, though now CLOSED
  CHECK(again.status == 204);

  auto o = state_order(id);
  CHECK(o.at("refunds").as_array().size() == 1);
  CHECK(o.at("refunded_amount").as_int64() == 1000);
  CHECK(o.at("merchant_reference1").as_string() == "first");
  CHECK(o.at("order_amount").as_int64() == 9000);
  CHECK(o.at("expires_at_epoch").as_int64() == e0 + days28);
  CHECK(o.at("status").as_string() == "CLOSED");
  CHECK(applied_posts() == before + 5);

  std::string other = unique_order(1000);
  const std::string k6 = key_header("cn-" + other);
  auto c1 = post(other, "/cancel", {}, k6);
  auto c2 = post(other, "/cancel", {}, k6);
  CHECK(c1.status == 204);
  CHECK(c2.raw_head == c1.raw_head);
  CHECK(applied_posts() == before + 6);

  // An error first response is replayed, even after the order has changed.
  std::string late = unique_order(1000);
  const std::string k7 = key_header("rf-err-" + late);
  auto e1 = post(late, "/refunds", R"({"refunded_amount":100})", k7);
  check_error(e1, 403, "REFUND_NOT_ALLOWED", "Order has no captures");
  capture(late, 1000);
  auto e2 = post(late, "/refunds", R"({"refunded_amount":100})", k7);
  CHECK(e2.raw_head == e1.raw_head);
  CHECK(e2.body == e1.body);
  CHECK(state_order(late).at("refunds").as_array().empty());
}

TEST_CASE("405 lists each path's methods (PATCH where defined); unsimulated paths are 404") {
  struct Case { const char* method; const char* call; const char* allow; };
  for (Case k : {Case{"GET", "/refunds", "POST"}, Case{"PATCH", "/refunds", "POST"}, Case{"POST", "/refunds/r", "GET"},
                 Case{"GET", "/cancel", "POST"}, Case{"DELETE", "/cancel", "POST"},
                 Case{"GET", "/release-remaining-authorization", "POST"}, Case{"PUT", "/extend-authorization-time", "POST"},
                 Case{"POST", "/merchant-references", "PATCH"}, Case{"GET", "/merchant-references", "PATCH"},
                 Case{"POST", "/authorization", "PATCH"}, Case{"PUT", "/authorization", "PATCH"},
                 Case{"PATCH", "", "GET"}, Case{"PATCH", "/captures", "GET, POST"},
                 Case{"PATCH", "/captures/c/shipping-info", "POST"}}) {
    CAPTURE(k.method);
    CAPTURE(k.call);
    auto r = send(http(k.method, order_path("f3392f8b-6116-4073-ab96-e330819e2c07") + k.call, "{}"));
    check_error(r, 405, "METHOD_NOT_ALLOWED");
    CHECK(r.header("Allow") == k.allow);
  }
  for (const char* call : {"/refunds/r/x", "/customer-details", "/acknowledge", "/cancel/x", "/authorization/x"}) {
    CAPTURE(call);
    check_error(send(http("GET", order_path("x") + call)), 404, "NOT_FOUND");
  }
}

TEST_CASE("GET order: order lines, payment method, addresses and references from the seed") {
  const std::string billing =
      R"({"organization_name":"Rösterei Nord GmbH","attention":"Accounts payable","given_name":"Jonas","family_name":"Berg",)"
      R"("email":"ap@example.com","street_address":"Hafenweg 3","street_address2":"Hof","postal_code":"20457","city":"Hamburg",)"
      R"("region":"HH","country":"DE","phone":"+49 40 1","title":"Herr"})";
  const std::string shipping = R"({"given_name":"Jonas","street_address":"Kai 1","postal_code":"20457","city":"Hamburg","country":"DE"})";
  const std::string method = R"({"type":"PAY_IN_X","description":"Pay in 3","number_of_installments":3})";
  std::string id = unique_order(2000, std::string(R"(,"order_lines":[)") + line_ok + "," + line_ok +
                                          R"(],"initial_payment_method":)" + method + R"(,"billing_address":)" + billing +
                                          R"(,"shipping_address":)" + shipping + R"(,"merchant_reference1":"R1")");
  auto o = get_order(id);
  CHECK(o.at("order_lines").as_array().size() == 2);
  CHECK(o.at("initial_payment_method") == json::parse(method));
  CHECK(o.at("billing_address") == json::parse(billing));
  CHECK(o.at("shipping_address") == json::parse(shipping));
  CHECK(o.at("merchant_reference1").as_string() == "R1");
  CHECK_FALSE(o.contains("merchant_reference2"));
  // Captures carry the order's addresses.
  auto c = send(http("GET", order_path(id) + "/captures/" + capture(id, 1000))).json();
  CHECK(c.at("billing_address") == json::parse(billing));
  CHECK(c.at("shipping_address") == json::parse(shipping));

  // Defaults: an invoice, no addresses, no lines.
  std::string plain = unique_order(2000);
  o = get_order(plain);
  CHECK(o.at("initial_payment_method") == json::parse(R"({"type":"INVOICE","description":"Pay later in 30 days"})"));
  CHECK(o.at("order_lines").as_array().empty());
  CHECK(o.at("refunds").as_array().empty());
  CHECK_FALSE(o.contains("billing_address"));
  CHECK_FALSE(o.contains("shipping_address"));
  CHECK_FALSE(o.contains("merchant_reference1"));
  c = send(http("GET", order_path(plain) + "/captures/" + capture(plain, 1000))).json();
  CHECK_FALSE(c.as_object().contains("billing_address"));
  CHECK_FALSE(c.as_object().contains("shipping_address"));

  // Bad seeds: 400 naming the field.
  struct Case { std::string extra; std::string path; };
  for (const Case& k : {Case{R"(,"order_lines":{})", "order_lines: must be an array"},
                        Case{R"(,"order_lines":[{"name":"n"}])", "order_lines[0].quantity: is required"},
                        Case{R"(,"billing_address":"Main St")", "billing_address: must be an object"},
                        Case{R"(,"billing_address":{"street":"x"})", "billing_address.street: unknown field"},
                        Case{R"(,"shipping_address":{"postal_code":"12345678901"})", "shipping_address.postal_code"},
                        Case{R"(,"billing_address":{"organization_name":")" + std::string(256, 'o') + "\"}", "billing_address.organization_name"},
                        Case{R"(,"initial_payment_method":{"type":"CASH"})", "initial_payment_method.type: must be one of"},
                        Case{R"(,"initial_payment_method":{"description":"x"})", "initial_payment_method.type: is required"},
                        Case{R"(,"initial_payment_method":{"type":"INVOICE","number_of_installments":-1})",
                             "initial_payment_method.number_of_installments"},
                        Case{R"(,"merchant_reference1":7)", "merchant_reference1: must be a string"},
                        Case{R"(,"merchant_reference2":")" + std::string(256, 'm') + "\"", "merchant_reference2"}}) {
    CAPTURE(k.extra.substr(0, 100));
    check_error(send(http("POST", "/_sim/orders", R"({"order_id":"bad-seed","order_amount":1,"purchase_currency":"EUR")" + k.extra + "}",
                          {}, false)),
                400, "BAD_REQUEST", k.path);
  }
  check_error(send(http("GET", order_path("bad-seed"))), 404, "NO_SUCH_ORDER");
}

TEST_CASE("orders.json: the seed orders, and three POS demo sales whose lines add up") {
  SimProcess sim({});  // fresh state: as seeded
  TlsClient c(sim.port());
  auto order = [&](const std::string& id) {
    auto r = c.request(http("GET", order_path(id), {}, {}, false));
    REQUIRE(r.status == 200);
    return r.json().as_object();
  };
  struct Seed { const char* id; std::int64_t amount; const char* currency; const char* status; };
  for (Seed s : {Seed{"f3392f8b-6116-4073-ab96-e330819e2c07", 50000, "EUR", "AUTHORIZED"},
                 Seed{"pending-0001", 10000, "SEK", "AUTHORIZED"}, Seed{"cancelled-0001", 10000, "SEK", "CANCELLED"},
                 Seed{"expired-0001", 10000, "USD", "EXPIRED"}}) {
    CAPTURE(s.id);
    auto o = order(s.id);
    CHECK(o.at("order_amount").as_int64() == s.amount);
    CHECK(o.at("purchase_currency").as_string() == s.currency);
    CHECK(o.at("status").as_string() == s.status);
  }
  struct Demo { const char* id; std::int64_t amount; std::size_t lines; };
  std::set<std::string> references;
  for (Demo d : {Demo{"demo-sale-1", 30000, 3}, Demo{"demo-sale-2", 12000, 1}, Demo{"demo-sale-3", 20000, 2}}) {
    CAPTURE(d.id);
    auto o = order(d.id);
    CHECK(o.at("status").as_string() == "AUTHORIZED");
    CHECK(o.at("order_amount").as_int64() == d.amount);
    CHECK(o.at("purchase_currency").as_string() == "EUR");
    CHECK(o.at("purchase_country").as_string() == "DE");
    CHECK(o.at("locale").as_string() == "de-DE");
    references.insert(std::string(o.at("klarna_reference").as_string()));
    CHECK(o.at("initial_payment_method").as_object().contains("type"));
    const auto& lines = o.at("order_lines").as_array();
    CHECK(lines.size() == d.lines);
    std::int64_t sum = 0;
    for (const auto& lv : lines) {
      const auto& l = lv.as_object();
      CAPTURE(json::serialize(l));
      for (const char* f : {"name", "quantity", "unit_price", "total_amount", "tax_rate", "total_tax_amount", "reference"})
        CHECK_MESSAGE(l.contains(f), f);
      const std::int64_t discount = l.contains("total_discount_amount") ? l.at("total_discount_amount").as_int64() : 0;
      const std::int64_t total = l.at("total_amount").as_int64();
      CHECK(total == l.at("quantity").as_int64() * l.at("unit_price").as_int64() - discount);
      // Tax included in the total: total - total * 10000 / (10000 + tax_rate), rounded.
      const std::int64_t rate = l.at("tax_rate").as_int64();
      const std::int64_t net2 = 2 * total * 10000 / (10000 + rate);  // twice the net, for rounding
      CHECK(l.at("total_tax_amount").as_int64() == total - (net2 + 1) / 2);
      sum += total;
    }
    CHECK(sum == d.amount);
  }
  CHECK(references.size() == 3);
  CHECK(order("demo-sale-2").at("billing_address").as_object().contains("organization_name"));
}

TEST_CASE("/_sim/state shows each order's amounts, expiry, references, refunds and captures") {
  std::string id = unique_order(10000);
  std::string cid = capture(id, 6000);
  std::string rid = refund(id, 1000);
  REQUIRE(patch(id, "/merchant-references", R"({"merchant_reference1":"M"})").status == 204);
  auto o = state_order(id);
  CHECK(o.at("status").as_string() == "PART_CAPTURED");
  CHECK(o.at("order_amount").as_int64() == 10000);
  CHECK(o.at("original_order_amount").as_int64() == 10000);
  CHECK(o.at("captured_amount").as_int64() == 6000);
  CHECK(o.at("refunded_amount").as_int64() == 1000);
  CHECK(o.at("remaining_authorized_amount").as_int64() == 4000);
  CHECK(epoch_of(o.at("expires_at")) == o.at("expires_at_epoch").as_int64());
  CHECK(o.at("merchant_reference1").as_string() == "M");
  CHECK(o.at("merchant_reference2").is_null());
  REQUIRE(o.at("refunds").as_array().size() == 1);
  CHECK(o.at("refunds").as_array()[0].at("refund_id").as_string() == rid.c_str());
  CHECK(o.at("refunds").as_array()[0].at("refunded_amount").as_int64() == 1000);
  REQUIRE(o.at("captures").as_array().size() == 1);
  const auto& cap = o.at("captures").as_array()[0];
  CHECK(cap.at("capture_id").as_string() == cid.c_str());
  CHECK(cap.at("refunded_amount").as_int64() == 1000);
  CHECK(cap.at("send_out_count").as_int64() == 0);
}
