// Puts the till's receipt number on an order, so that the customer's Klarna app, the
// settlement files and the back office show the number printed on the receipt.
//   update_merchant_references [--host H --port P | --region R --env E] [--ca-file PEM] ORDER_ID
#include "example_support.hpp"
#include "kom/src.hpp"  // once per program: the part of Boost.JSON kom's readers use

int main(int argc, char** argv) {
  example::options options;
  example::terminal terminal;
  if (!example::parse_options(argc, argv, options) || options.args.size() != 1) {
    std::fprintf(stderr,
                 "usage: update_merchant_references [--host H --port P | --region R --env E] [--ca-file PEM] ORDER_ID\n");
    return example::exit_usage;
  }
  if (!terminal.open(options)) return example::exit_usage;

  kom::merchant_references references;
  references.merchant_reference1 = "T-17/4711";        // the receipt number the customer sees
  references.merchant_reference2 = "store 042, shift A";  // internal; a reference left empty stays as it is

  const kom::reply<kom::no_content> r = terminal.client().update_merchant_references(options.args[0], references);
  example::print_answer(r);
  std::printf("idempotency key %.*s\n", KOM_EX_SV(r.idempotency_key));
  return example::exit_code_of(r.next_step());
}
