// Reads an order: its status and amounts, and what may still be captured.
//   get_order [--host H --port P | --region R --env E] [--ca-file PEM] ORDER_ID
#include "example_support.hpp"
#include "kom/src.hpp"  // once per program: the part of Boost.JSON kom's readers use

int main(int argc, char** argv) {
  example::options options;
  example::terminal terminal;
  if (!example::parse_options(argc, argv, options) || options.args.size() != 1) {
    std::fprintf(stderr, "usage: get_order [--host H --port P | --region R --env E] [--ca-file PEM] ORDER_ID\n");
    return example::exit_usage;
  }
  if (!terminal.open(options)) return example::exit_usage;

  kom::order_storage<> storage;  // 8 captures' ids and amounts, 1 KB of text
  const kom::reply<kom::order> r = terminal.client().get_order(options.args[0], storage);
  example::print_answer(r);
  if (!r.ok()) return example::exit_code_of(r.next_step());

  example::print_order(r.value);
  const kom::order& o = r.value;
  const bool capturable = (o.status == kom::order_status::authorized || o.status == kom::order_status::part_captured) &&
                          o.fraud_status == kom::fraud_status::accepted && o.remaining_authorized_amount.value_or(0) > 0;
  std::printf("%s\n", capturable ? "can be captured" : "cannot be captured now");
  return example::exit_ok;
}
