// Lowers an order's amount before the goods are collected: the customer dropped the coffee
// beans, only the espresso machine of capture.cpp is left.
//   update_authorization [--host H --port P | --region R --env E] [--ca-file PEM] ORDER_ID
// Klarna refuses (403 NOT_ALLOWED) an amount below what is already captured; a higher amount
// needs Klarna's approval and may be refused too.
#include "example_support.hpp"
#include "kom/src.hpp"  // once per program: the part of Boost.JSON kom's readers use

int main(int argc, char** argv) {
  example::options options;
  example::terminal terminal;
  if (!example::parse_options(argc, argv, options) || options.args.size() != 1) {
    std::fprintf(stderr, "usage: update_authorization [--host H --port P | --region R --env E] [--ca-file PEM] ORDER_ID\n");
    return example::exit_usage;
  }
  if (!terminal.open(options)) return example::exit_usage;

  kom::order_line machine;
  machine.type = kom::order_line_type::physical;
  machine.reference = "EM-100";
  machine.name = "Espresso machine";
  machine.quantity = 1;
  machine.unit_price = 12000;
  machine.tax_rate = 2500;
  machine.total_amount = 12000;
  machine.total_tax_amount = 2400;

  kom::authorization_update update;
  update.order_amount = 12000;  // the new total: the sum of the new lines (checked)
  update.description = "Coffee beans removed before pickup";
  update.order_lines = {&machine, 1};  // replaces the order's lines; none given: they stay

  const kom::reply<kom::no_content> r = terminal.client().update_authorization(options.args[0], update);
  example::print_answer(r);
  std::printf("idempotency key %.*s\n", KOM_EX_SV(r.idempotency_key));
  return example::exit_code_of(r.next_step());
}
