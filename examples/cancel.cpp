// Voids a sale before anything of it was captured: the customer's authorization is freed and
// the order is CANCELLED.
//   cancel [--host H --port P | --region R --env E] [--ca-file PEM] ORDER_ID
// Once anything is captured Klarna refuses (403 CANCEL_NOT_ALLOWED): refund it instead
// (refund.cpp), and release what was not captured (release_remaining_authorization.cpp).
#include "example_support.hpp"
#include "kom/src.hpp"  // once per program: the part of Boost.JSON kom's readers use

int main(int argc, char** argv) {
  example::options options;
  example::terminal terminal;
  if (!example::parse_options(argc, argv, options) || options.args.size() != 1) {
    std::fprintf(stderr, "usage: cancel [--host H --port P | --region R --env E] [--ca-file PEM] ORDER_ID\n");
    return example::exit_usage;
  }
  if (!terminal.open(options)) return example::exit_usage;

  const kom::reply<kom::no_content> r = terminal.client().cancel(options.args[0]);
  example::print_answer(r);
  std::printf("idempotency key %.*s\n", KOM_EX_SV(r.idempotency_key));
  return example::exit_code_of(r.next_step());
}
