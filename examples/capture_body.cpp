// Builds the body of a capture, Klarna's documented sample, into a stack buffer and prints
// it. No heap, no exceptions: errors come back as values.
#include <cstdio>

#include "kom/kom.hpp"

int main() {
  kom::order_line tomatoes;
  tomatoes.type = kom::order_line_type::physical;
  tomatoes.reference = "123050";
  tomatoes.name = "Tomatoes";
  tomatoes.quantity = 10;
  tomatoes.quantity_unit = "kg";
  tomatoes.unit_price = 600;
  tomatoes.tax_rate = 2500;  // 25.00 %
  tomatoes.total_amount = 6000;
  tomatoes.total_tax_amount = 1200;

  kom::shipping_info parcel;
  parcel.shipping_company = "DHL US";
  parcel.tracking_number = "1234567890";
  parcel.return_shipping_company = "UPS";
  parcel.return_tracking_number = "112233445566778899";

  kom::capture_request capture;
  capture.captured_amount = 6000;  // minor units: 60.00
  capture.reference = "c9a94cf1-7126-4f55-92fa-4d34f416ed7f";
  capture.description = "Shipped the full order";
  capture.order_lines = {&tomatoes, 1};
  capture.shipping_info = {&parcel, 1};

  char body[512];
  const kom::result<std::size_t> size = kom::write_body(capture, body);
  if (!size) {
    char message[128];
    std::fprintf(stderr, "capture refused: %.*s\n", static_cast<int>(size.error().describe(message).size()),
                 message);
    return 1;
  }
  std::printf("POST /ordermanagement/v1/orders/{order_id}/captures (%zu bytes)\n%.*s\n", *size,
              static_cast<int>(*size), body);
  return 0;
}
