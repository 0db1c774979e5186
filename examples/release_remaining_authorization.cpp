// Releases what a partly captured order still has authorized: the rest of the goods is not
// coming (out of stock, not collected). The customer's limit is freed and the order is CLOSED.
//   release_remaining_authorization [--host H --port P | --region R --env E] [--ca-file PEM] ORDER_ID
// Klarna refuses (403 NOT_ALLOWED) an order without captures (cancel it instead) and a fully
// captured one. Captures of a CLOSED order can still be refunded.
#include "example_support.hpp"
#include "kom/src.hpp"  // once per program: the part of Boost.JSON kom's readers use

int main(int argc, char** argv) {
  example::options options;
  example::terminal terminal;
  if (!example::parse_options(argc, argv, options) || options.args.size() != 1) {
    std::fprintf(stderr, "usage: release_remaining_authorization [--host H --port P | --region R --env E] "
                         "[--ca-file PEM] ORDER_ID\n");
    return example::exit_usage;
  }
  if (!terminal.open(options)) return example::exit_usage;

  const kom::reply<kom::no_content> r = terminal.client().release_remaining_authorization(options.args[0]);
  example::print_answer(r);
  std::printf("idempotency key %.*s\n", KOM_EX_SV(r.idempotency_key));
  return example::exit_code_of(r.next_step());
}
