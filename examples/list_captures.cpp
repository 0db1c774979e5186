// Lists the captures of an order.
//   list_captures [--host H --port P | --region R --env E] [--ca-file PEM] ORDER_ID
#include "example_support.hpp"
#include "kom/src.hpp"  // once per program: the part of Boost.JSON kom's readers use

int main(int argc, char** argv) {
  example::options options;
  example::terminal terminal;
  if (!example::parse_options(argc, argv, options) || options.args.size() != 1) {
    std::fprintf(stderr, "usage: list_captures [--host H --port P | --region R --env E] [--ca-file PEM] ORDER_ID\n");
    return example::exit_usage;
  }
  if (!terminal.open(options)) return example::exit_usage;

  // Up to 8 captures, sharing one storage for their lines, shipping entries and text. With
  // allow_truncation, what does not fit is dropped and `truncated` says so; without it, the
  // read fails naming the field that did not fit.
  kom::capture captures[8];
  kom::capture_storage<kom::capacity::lines<32>, kom::capacity::shipping_entries<8>, kom::capacity::text_bytes<8192>> storage;
  kom::read_options read;
  read.allow_truncation = true;
  const kom::reply<kom::capture_list> r = terminal.client().list_captures(options.args[0], captures, storage, read);
  example::print_answer(r);
  if (r.ok()) {
    std::printf("%zu capture(s)%s\n", r.value.captures.size(), r.value.truncated ? ", more than fitted" : "");
    for (const kom::capture& c : r.value.captures) example::print_capture(c);
  }
  return example::exit_code_of(r.next_step());
}
