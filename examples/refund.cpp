// Refunds goods returned at the till: one order line, the coffee beans of capture.cpp.
//   refund [--host H --port P | --region R --env E] [--ca-file PEM] ORDER_ID
// Klarna refunds at most what was captured minus what was refunded. Before refunding a
// return, a till looks for it in the order's refunds (get_order.cpp): a refund whose answer
// was lost is there, and must not be made twice.
#include "example_support.hpp"
#include "kom/src.hpp"  // once per program: the part of Boost.JSON kom's readers use

int main(int argc, char** argv) {
  example::options options;
  example::terminal terminal;
  if (!example::parse_options(argc, argv, options) || options.args.size() != 1) {
    std::fprintf(stderr, "usage: refund [--host H --port P | --region R --env E] [--ca-file PEM] ORDER_ID\n");
    return example::exit_usage;
  }
  if (!terminal.open(options)) return example::exit_usage;

  // The line as it was captured (a line read with get_order or get_capture can be sent as it is).
  kom::order_line beans;
  beans.type = kom::order_line_type::physical;
  beans.reference = "CB-1KG";
  beans.name = "Coffee beans 1 kg";
  beans.quantity = 2;
  beans.quantity_unit = "pcs";
  beans.unit_price = 1500;
  beans.tax_rate = 2500;
  beans.total_discount_amount = 500;
  beans.total_amount = 2500;
  beans.total_tax_amount = 500;

  kom::refund_request refund;
  refund.refunded_amount = 2500;       // the sum of the lines' total_amount (checked)
  refund.reference = "T-17/4711-R1";   // the return's own number: how the till finds it in the order's refunds
  refund.description = "Returned: coffee beans";
  refund.order_lines = {&beans, 1};

  // No key given: the client makes one and returns it. A till stores it with the return
  // before sending (or derives it with kom::sale_idempotency_key), to retry after a reboot.
  const kom::reply<kom::refund_created> r = terminal.client().refund(options.args[0], refund);
  example::print_answer(r);
  std::printf("idempotency key %.*s\n", KOM_EX_SV(r.idempotency_key));
  if (r.ok()) std::printf("refund id %.*s\n", KOM_EX_SV(r.value.refund_id));
  return example::exit_code_of(r.next_step());
}
