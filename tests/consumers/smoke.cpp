// The program every consumer check builds (Meson subproject, a copied include/, pkg-config,
// the single header): Klarna's documented capture sample is built and validated, written as
// an HTTP request, and a 201 answer and a capture body are parsed. Prints one line; exit 0/1.
//
// KOM_SMOKE_SINGLE_HEADER: build against the single header (kom.hpp in the include path,
// KOM_IMPLEMENTATION in this one translation unit) instead of include/kom/.
#include <cstdio>
#include <cstring>
#include <string_view>

#ifdef KOM_SMOKE_SINGLE_HEADER
#define KOM_IMPLEMENTATION  // this translation unit holds Boost.JSON's compiled part
#include "kom.hpp"
#else
#include "kom/kom.hpp"
#include "kom/src.hpp"  // once per program
#endif

#ifndef KOM_SMOKE_NAME
#define KOM_SMOKE_NAME "consumer"
#endif

namespace {

int failures = 0;

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "check failed: %s\n", what);
    ++failures;
  }
}

bool contains(std::string_view text, std::string_view part) { return text.find(part) != std::string_view::npos; }

const char capture_body[] = R"({
  "capture_id": "5b33ed47-79d0-4d76-99ea-4afaa7c8e552",
  "klarna_reference": "4K7Q6QF6-1",
  "captured_amount": 6000,
  "captured_at": "2017-01-10T10:31:17.973Z",
  "description": "Shipped the full order",
  "order_lines": [{"reference": "123050", "type": "physical", "quantity": 10, "quantity_unit": "kg",
                   "name": "Tomatoes", "total_amount": 6000, "unit_price": 600,
                   "total_discount_amount": 0, "tax_rate": 2500, "total_tax_amount": 1200}],
  "refunded_amount": 0,
  "shipping_info": [{"shipping_company": "DHL US", "tracking_number": "1234567890",
                     "return_shipping_company": "UPS", "return_tracking_number": "112233445566778899"}]
})";

const char created_201[] =
    "HTTP/1.1 201 Created\r\n"
    "Content-Length: 0\r\n"
    "Capture-Id: 4ba29b50-be7b-44f5-a492-113e6a865e22\r\n"
    "Klarna-Correlation-Id: 2f9a6b1c-8d3e-4b7a-9c51-0e6d4f3a2b18\r\n"
    "\r\n";

}  // namespace

int main() {
  // Klarna's documented capture sample.
  kom::order_line tomatoes;
  tomatoes.type = kom::order_line_type::physical;
  tomatoes.reference = "123050";
  tomatoes.name = "Tomatoes";
  tomatoes.quantity = 10;
  tomatoes.quantity_unit = "kg";
  tomatoes.unit_price = 600;
  tomatoes.tax_rate = 2500;
  tomatoes.total_amount = 6000;
  tomatoes.total_tax_amount = 1200;

  kom::shipping_info parcel;
  parcel.shipping_company = "DHL US";
  parcel.tracking_number = "1234567890";
  parcel.return_shipping_company = "UPS";
  parcel.return_tracking_number = "112233445566778899";

  kom::capture_request capture;
  capture.captured_amount = 6000;
  capture.reference = "c9a94cf1-7126-4f55-92fa-4d34f416ed7f";
  capture.description = "Shipped the full order";
  capture.order_lines = {&tomatoes, 1};
  capture.shipping_info = {&parcel, 1};

  check(kom::validate(capture).ok(), "the sample validates");
  kom::capture_request wrong = capture;
  wrong.captured_amount = 6001;
  check(!kom::validate(wrong).ok(), "a wrong captured_amount is refused");

  // The whole HTTP request.
  kom::request_config config;
  config.server = kom::klarna_endpoint(kom::region::eu, kom::environment::playground);
  config.credentials.username = "K123456_abcdef";
  config.credentials.password = "secret";
  config.user_agent = {"Linux_5.10", "Kiosk-7", "2.4.1"};
  char request[2048];
  kom::buffer_writer out(request);
  const kom::result<std::size_t> size = kom::write_capture_request(
      out, config, "f3392f8b-6116-4073-ab96-e330819e2c07", capture, "9a2b6f0e-4c1d-4e8f-a1b2-c3d4e5f60718");
  check(size.ok(), "the request is written");
  if (size) {
    const std::string_view text(request, *size);
    check(text.rfind("POST /ordermanagement/v1/orders/f3392f8b-6116-4073-ab96-e330819e2c07/captures HTTP/1.1\r\n", 0) == 0,
          "request line");
    check(contains(text, "Host: api.playground.klarna.com\r\n"), "Host header");
    check(contains(text, "Klarna-Idempotency-Key: 9a2b6f0e-4c1d-4e8f-a1b2-c3d4e5f60718\r\n"), "idempotency key");
    check(contains(text, "\"captured_amount\":6000"), "body");
  }
  kom::wipe_request(request);

  // Klarna's 201 answer, fed in two pieces.
  char response_buffer[1024];
  kom::http_response_parser response(response_buffer);
  std::size_t used = 0;
  const std::size_t half = sizeof created_201 / 2;
  kom::parse_status s = response.feed(created_201, half, used);
  if (s == kom::parse_status::need_more) s = response.feed(created_201 + half, sizeof created_201 - 1 - half, used);
  check(s == kom::parse_status::done, "the 201 parses");
  check(response.status() == 201, "status 201");
  check(response.capture_id() == "4ba29b50-be7b-44f5-a492-113e6a865e22", "Capture-Id");
  check(response.correlation_id() == "2f9a6b1c-8d3e-4b7a-9c51-0e6d4f3a2b18", "correlation id");

  // A capture body (GET …/captures/{capture_id}).
  kom::capture_storage<> storage;
  kom::capture read;
  const kom::error e = kom::read_capture(capture_body, read, storage);
  check(e.ok(), "the capture body reads");
  check(read.capture_id == "5b33ed47-79d0-4d76-99ea-4afaa7c8e552", "capture_id");
  check(read.captured_amount == 6000, "captured_amount");
  check(read.order_lines.size() == 1 && read.order_lines[0].name == "Tomatoes", "order line");
  check(read.shipping_info.size() == 1 && read.shipping_info[0].tracking_number == "1234567890", "shipping info");

  std::printf("kom %s smoke (%s): %s\n", KOM_VERSION_STRING, KOM_SMOKE_NAME, failures == 0 ? "ok" : "FAILED");
  return failures == 0 ? 0 : 1;
}
