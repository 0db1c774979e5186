// Asks Klarna to send the customer communication of a capture again (e.g. the customer
// lost the e-mail with the payment details).
//   trigger_send_out [--host H --port P | --region R --env E] [--ca-file PEM] ORDER_ID CAPTURE_ID
#include "example_support.hpp"
#include "kom/src.hpp"  // once per program: the part of Boost.JSON kom's readers use

int main(int argc, char** argv) {
  example::options options;
  example::terminal terminal;
  if (!example::parse_options(argc, argv, options) || options.args.size() != 2) {
    std::fprintf(stderr,
                 "usage: trigger_send_out [--host H --port P | --region R --env E] [--ca-file PEM] ORDER_ID CAPTURE_ID\n");
    return example::exit_usage;
  }
  if (!terminal.open(options)) return example::exit_usage;

  const kom::reply<kom::no_content> r = terminal.client().trigger_send_out(options.args[0], options.args[1]);
  example::print_answer(r);
  std::printf("idempotency key %.*s\n", KOM_EX_SV(r.idempotency_key));
  return example::exit_code_of(r.next_step());
}
