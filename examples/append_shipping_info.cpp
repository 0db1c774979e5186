// Adds shipping information to a capture: a second parcel, with its return label.
//   append_shipping_info [--host H --port P | --region R --env E] [--ca-file PEM] ORDER_ID CAPTURE_ID
#include "example_support.hpp"
#include "kom/src.hpp"  // once per program: the part of Boost.JSON kom's readers use

int main(int argc, char** argv) {
  example::options options;
  example::terminal terminal;
  if (!example::parse_options(argc, argv, options) || options.args.size() != 2) {
    std::fprintf(stderr,
                 "usage: append_shipping_info [--host H --port P | --region R --env E] [--ca-file PEM] ORDER_ID CAPTURE_ID\n");
    return example::exit_usage;
  }
  if (!terminal.open(options)) return example::exit_usage;

  kom::shipping_info parcel;
  parcel.shipping_company = "USPS";
  parcel.shipping_method = kom::shipping_method::postal;
  parcel.tracking_number = "9400110200881234567890";
  parcel.tracking_uri = "https://tools.usps.com/go/TrackConfirmAction?tLabels=9400110200881234567890";
  parcel.return_shipping_company = "USPS";
  parcel.return_tracking_number = "9202090153540022000000";

  kom::shipping_info_update update;
  update.shipping_info = {&parcel, 1};  // 1 to 500 entries, appended to those the capture has

  const kom::reply<kom::no_content> r = terminal.client().append_shipping_info(options.args[0], options.args[1], update);
  example::print_answer(r);
  std::printf("idempotency key %.*s\n", KOM_EX_SV(r.idempotency_key));
  return example::exit_code_of(r.next_step());
}
