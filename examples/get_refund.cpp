// Reads one refund: its amount, reference and the lines returned.
//   get_refund [--host H --port P | --region R --env E] [--ca-file PEM] ORDER_ID REFUND_ID
#include "example_support.hpp"
#include "kom/src.hpp"  // once per program: the part of Boost.JSON kom's readers use

int main(int argc, char** argv) {
  example::options options;
  example::terminal terminal;
  if (!example::parse_options(argc, argv, options) || options.args.size() != 2) {
    std::fprintf(stderr, "usage: get_refund [--host H --port P | --region R --env E] [--ca-file PEM] ORDER_ID REFUND_ID\n");
    return example::exit_usage;
  }
  if (!terminal.open(options)) return example::exit_usage;

  // The refund is read into this storage (16 lines, 4 KB of text): its text fields are views
  // into it. Nothing is allocated.
  kom::refund_storage<> storage;
  const kom::reply<kom::refund> r = terminal.client().get_refund(options.args[0], options.args[1], storage);
  example::print_answer(r);
  if (r.ok()) example::print_refund(r.value);
  return example::exit_code_of(r.next_step());
}
