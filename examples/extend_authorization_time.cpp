// Extends the authorization of an order that waits longer than planned (click and collect),
// then reads the order for its new expires_at: capture only before that time.
//   extend_authorization_time [--host H --port P | --region R --env E] [--ca-file PEM] ORDER_ID
#include "example_support.hpp"
#include "kom/src.hpp"  // once per program: the part of Boost.JSON kom's readers use

int main(int argc, char** argv) {
  example::options options;
  example::terminal terminal;
  if (!example::parse_options(argc, argv, options) || options.args.size() != 1) {
    std::fprintf(stderr,
                 "usage: extend_authorization_time [--host H --port P | --region R --env E] [--ca-file PEM] ORDER_ID\n");
    return example::exit_usage;
  }
  if (!terminal.open(options)) return example::exit_usage;

  const kom::reply<kom::no_content> r = terminal.client().extend_authorization_time(options.args[0]);
  example::print_answer(r);
  std::printf("idempotency key %.*s\n", KOM_EX_SV(r.idempotency_key));
  if (!r.ok()) return example::exit_code_of(r.next_step());

  // The answer is a bare 204: the new expiry is in the order.
  kom::order_storage<> storage;
  const kom::reply<kom::order> o = terminal.client().get_order(options.args[0], storage);
  if (!o.ok()) {
    example::print_answer(o);
    return example::exit_code_of(o.next_step());
  }
  std::printf("expires %.*s\n", KOM_EX_SV(example::or_dash(o.value.expires_at)));
  return example::exit_ok;
}
