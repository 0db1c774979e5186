// Captures part of an order: two order lines, shipped by UPS.
//   capture [--host H --port P | --region R --env E] [--ca-file PEM] ORDER_ID
// A full capture is the same call with captured_amount = the order's remaining amount
// (or see capture_remaining.cpp).
#include "example_support.hpp"
#include "kom/src.hpp"  // once per program: the part of Boost.JSON kom's readers use

int main(int argc, char** argv) {
  example::options options;
  example::terminal terminal;
  if (!example::parse_options(argc, argv, options) || options.args.size() != 1) {
    std::fprintf(stderr, "usage: capture [--host H --port P | --region R --env E] [--ca-file PEM] ORDER_ID\n");
    return example::exit_usage;
  }
  if (!terminal.open(options)) return example::exit_usage;

  kom::order_line lines[2];
  lines[0].type = kom::order_line_type::physical;
  lines[0].reference = "EM-100";
  lines[0].name = "Espresso machine";
  lines[0].quantity = 1;
  lines[0].unit_price = 12000;     // minor units: 120.00
  lines[0].tax_rate = 2500;        // 25.00 %
  lines[0].total_amount = 12000;   // quantity * unit_price - total_discount_amount (checked)
  lines[0].total_tax_amount = 2400;  // total_amount - total_amount * 10000 / (10000 + tax_rate)

  lines[1].type = kom::order_line_type::physical;
  lines[1].reference = "CB-1KG";
  lines[1].name = "Coffee beans 1 kg";
  lines[1].quantity = 2;
  lines[1].quantity_unit = "pcs";
  lines[1].unit_price = 1500;
  lines[1].tax_rate = 2500;
  lines[1].total_discount_amount = 500;
  lines[1].total_amount = 2500;
  lines[1].total_tax_amount = 500;

  kom::shipping_info parcel;
  parcel.shipping_company = "UPS";
  parcel.shipping_method = kom::shipping_method::home;
  parcel.tracking_number = "1Z999AA10123456784";

  kom::capture_request capture;
  capture.captured_amount = 14500;  // the sum of the lines' total_amount (checked)
  capture.reference = "T-17/4711";  // in the settlement files
  capture.description = "Espresso machine and coffee, shipped";
  capture.order_lines = lines;
  capture.shipping_info = {&parcel, 1};

  // No key given: the client makes one and returns it. A terminal stores it with the sale
  // before sending, or derives it with kom::sale_idempotency_key, to retry after a reboot.
  const kom::reply<kom::capture_created> r = terminal.client().capture(options.args[0], capture);
  example::print_answer(r);
  std::printf("idempotency key %.*s\n", KOM_EX_SV(r.idempotency_key));
  if (r.ok()) std::printf("capture id %.*s\n", KOM_EX_SV(r.value.capture_id));
  return example::exit_code_of(r.next_step());
}
