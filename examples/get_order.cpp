// Reads an order: its status and amounts, its references, lines and refunds, and what may still
// be captured or refunded.
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

  // 8 captures and 8 refunds (ids and amounts), 16 lines, 2 KB of text: the order's text
  // fields are views into it. Nothing is allocated.
  kom::order_storage<> storage;
  const kom::reply<kom::order> r = terminal.client().get_order(options.args[0], storage);
  example::print_answer(r);
  if (!r.ok()) return example::exit_code_of(r.next_step());

  example::print_order(r.value);
  const kom::order& o = r.value;
  const bool capturable = (o.status == kom::order_status::authorized || o.status == kom::order_status::part_captured) &&
                          o.fraud_status == kom::fraud_status::accepted && o.remaining_authorized_amount.value_or(0) > 0;
  std::printf("%s\n", capturable ? "can be captured" : "cannot be captured now");
  // Klarna refunds at most what was captured minus what was refunded, whatever the status.
  const std::int64_t refundable = o.captured_amount.value_or(0) - o.refunded_amount.value_or(0);
  if (refundable > 0) std::printf("up to %lld can be refunded\n", static_cast<long long>(refundable));
  // Nothing captured yet: the sale can still be voided (cancel.cpp).
  if (o.status == kom::order_status::authorized && o.captured_amount.value_or(0) == 0) std::printf("can be cancelled\n");
  return example::exit_ok;
}
