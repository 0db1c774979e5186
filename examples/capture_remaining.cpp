// Captures all that an order still has authorized (reads the order, then captures its
// remaining_authorized_amount): the full capture of a sale, or the rest after a partial one.
//   capture_remaining [--host H --port P | --region R --env E] [--ca-file PEM] ORDER_ID
#include "example_support.hpp"
#include "kom/src.hpp"  // once per program: the part of Boost.JSON kom's readers use

int main(int argc, char** argv) {
  example::options options;
  example::terminal terminal;
  if (!example::parse_options(argc, argv, options) || options.args.size() != 1) {
    std::fprintf(stderr, "usage: capture_remaining [--host H --port P | --region R --env E] [--ca-file PEM] ORDER_ID\n");
    return example::exit_usage;
  }
  if (!terminal.open(options)) return example::exit_usage;

  const kom::reply<kom::capture_created> r =
      terminal.client().capture_remaining(options.args[0], {}, {"The rest of the order", "T-17/4711-rest", 0});
  example::print_answer(r);
  std::printf("idempotency key %.*s\n", KOM_EX_SV(r.idempotency_key));
  if (r.ok()) std::printf("capture id %.*s\n", KOM_EX_SV(r.value.capture_id));
  // To call again after retry_later: the same key and this amount (kom::remaining_capture).
  if (r.value.captured_amount > 0) std::printf("amount %lld\n", static_cast<long long>(r.value.captured_amount));
  return example::exit_code_of(r.next_step());
}
