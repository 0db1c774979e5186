// kom-pos-demo: one sale at a point-of-sale terminal, from the authorized order to the
// shipped goods, as a transcript. It needs an AUTHORIZED order with nothing captured yet and
// more than 156.60 authorized (scripts/demo seeds one in kom-sim), and exits non-zero when a
// step does not give the expected result.
//
//   kom-pos-demo [--host H --port P | --region R --env E] [--ca-file PEM] [--sale N] ORDER_ID
//
// Every POST carries a Klarna-Idempotency-Key derived from the terminal, the sale number and
// the purpose (kom::sale_idempotency_key): the same after a reboot, so a terminal that lost
// an answer sends the request again and Klarna applies it once.
#include <ctime>

#include "example_support.hpp"
#include "kom/src.hpp"  // once per program: the part of Boost.JSON kom's readers use

namespace {

constexpr std::string_view terminal_id = "T-17";

// Each response (and failure) the client logs, as a line of the transcript.
void log_exchange(void*, const kom::log_record& record) {
  if (record.what == kom::log_record::kind::request) return;
  char line[600];
  kom::buffer_writer out(line);
  kom::write_log_line(out, record);
  std::printf("   %.*s\n", KOM_EX_SV(out.view()));
}

int step_number = 0;

void step(const char* title) { std::printf("\n%d. %s\n", ++step_number, title); }

// Prints "ok" or what went wrong; false when the step failed.
template <class T>
bool check(const kom::reply<T>& r, bool expected, const char* what) {
  if (!r.ok()) {
    example::print_answer(r, "   ");
    std::printf("   FAILED: step %d\n", step_number);
    return false;
  }
  if (!expected) {
    std::printf("   FAILED: step %d: %s\n", step_number, what);
    return false;
  }
  std::printf("   ok: %s\n", what);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  example::options options;
  if (!example::parse_options(argc, argv, options)) return example::exit_usage;
  std::uint64_t sale = static_cast<std::uint64_t>(std::time(nullptr));  // the terminal's transaction number
  std::string_view order_id;
  for (std::size_t i = 0; i < options.args.size(); ++i) {
    if (options.args[i] == "--sale" && i + 1 < options.args.size()) {
      if (!example::parse_int(options.args[++i], sale)) return example::exit_usage;
    } else if (order_id.empty() && options.args[i].substr(0, 2) != "--") {
      order_id = options.args[i];
    } else {
      order_id = {};
      break;
    }
  }
  if (order_id.empty()) {
    std::fprintf(stderr,
                 "usage: kom-pos-demo [--host H --port P | --region R --env E] [--ca-file PEM] [--sale N] ORDER_ID\n");
    return example::exit_usage;
  }
  if (!options.quiet) options.log = &log_exchange;

  example::terminal terminal;
  if (!terminal.open(options)) return example::exit_usage;
  kom::client& client = terminal.client();

  // Idempotency keys: v5 UUIDs in the merchant's namespace of "T-17/<sale>/<purpose>".
  const kom::result<kom::uuid> merchant = kom::uuid_v5(kom::uuid_namespace::dns, "pos-demo.merchant.example");
  const auto key = [&](std::string_view purpose) {
    const kom::result<kom::uuid_text> k = kom::sale_idempotency_key(*merchant, terminal_id, sale, purpose);
    return k ? *k : kom::uuid_text();
  };
  const auto show_key = [&](const kom::uuid_text& k, const char* purpose) {
    std::printf("   Klarna-Idempotency-Key %s (%.*s/%llu/%s)\n", k.c_str(), KOM_EX_SV(terminal_id),
                static_cast<unsigned long long>(sale), purpose);
  };
  const kom::uuid_text capture_key = key("capture"), rest_key = key("capture-rest"),
                       shipping_key = key("shipping-info-1"), send_out_key = key("send-out-1");

  std::printf("kom point-of-sale demo: order %.*s at %.*s:%u\n", KOM_EX_SV(order_id),
              KOM_EX_SV(terminal.server().host), terminal.server().port);
  std::printf("terminal %.*s, sale %llu; amounts in minor units\n", KOM_EX_SV(terminal_id),
              static_cast<unsigned long long>(sale));

  // ---- 1. the order as the customer's Klarna purchase left it ------------------------------
  step("Read the order");
  kom::order_storage<> order_store;
  {
    const kom::reply<kom::order> r = client.get_order(order_id, order_store);
    if (r.ok()) example::print_order(r.value, "   ");
    const kom::order& o = r.value;
    const std::int64_t authorized = o.order_amount.value_or(0);
    if (!check(r,
               o.status == kom::order_status::authorized && o.fraud_status == kom::fraud_status::accepted &&
                   o.captured_amount.value_or(0) == 0 && o.remaining_authorized_amount == o.order_amount &&
                   authorized > 15660,
               "AUTHORIZED and ACCEPTED, nothing captured, more than 15660 to capture")) {
      return 1;
    }
  }

  // ---- 2. the goods leave the store: capture them -------------------------------------------
  step("Capture part of it: espresso machine, coffee beans (500 off), 8 % sales tax; shipped by UPS");
  kom::order_line lines[3];
  lines[0].type = kom::order_line_type::physical;
  lines[0].reference = "EM-100";
  lines[0].name = "Espresso machine";
  lines[0].quantity = 1;
  lines[0].unit_price = 12000;
  lines[0].total_amount = 12000;  // quantity * unit_price - total_discount_amount
  lines[1].type = kom::order_line_type::physical;
  lines[1].reference = "CB-1KG";
  lines[1].name = "Coffee beans 1 kg";
  lines[1].quantity = 2;
  lines[1].unit_price = 1500;
  lines[1].total_discount_amount = 500;
  lines[1].total_amount = 2500;
  lines[2].type = kom::order_line_type::sales_tax;  // US style: tax as a line of its own
  lines[2].name = "Sales tax";
  lines[2].quantity = 1;
  lines[2].unit_price = 1160;
  lines[2].total_amount = 1160;

  kom::shipping_info ups;
  ups.shipping_company = "UPS";
  ups.shipping_method = kom::shipping_method::home;
  ups.tracking_number = "1Z999AA10123456784";

  kom::capture_request capture;
  capture.captured_amount = 15660;  // the sum of the lines' total_amount (checked before sending)
  const std::string reference = std::string(terminal_id) + "/" + std::to_string(sale);
  const std::string rest_reference = reference + "-rest";
  capture.reference = reference;  // in the settlement files
  capture.description = "Espresso machine and coffee beans";
  capture.order_lines = lines;
  capture.shipping_info = {&ups, 1};

  std::string first;  // the capture's id, kept: a reply's views last until the next call
  {
    show_key(capture_key, "capture");
    const kom::reply<kom::capture_created> r = client.capture(order_id, capture, {capture_key.view()});
    if (r.ok()) {
      std::printf("   capture id %.*s\n", KOM_EX_SV(r.value.capture_id));
      first = std::string(r.value.capture_id);
    }
    if (!check(r, !first.empty(), "captured 15660")) return 1;
  }

  // ---- 3. the answer was lost: send the same capture again -----------------------------------
  step("Send the same capture again with the same key, as after a lost answer");
  {
    show_key(capture_key, "capture");
    const kom::reply<kom::capture_created> r = client.capture(order_id, capture, {capture_key.view()});
    if (r.ok()) std::printf("   capture id %.*s\n", KOM_EX_SV(r.value.capture_id));
    if (!check(r, r.value.capture_id == first, "the same capture id: Klarna applied it once")) return 1;
  }

  // ---- 4. the rest of the order is handed over too ----------------------------------------
  step("Capture the rest (capture_remaining: reads the order, captures what is left)");
  {
    show_key(rest_key, "capture-rest");
    const kom::reply<kom::capture_created> r =
        client.capture_remaining(order_id, {rest_key.view()}, {"The rest of the order", rest_reference, 0});
    if (r.ok()) std::printf("   capture id %.*s\n", KOM_EX_SV(r.value.capture_id));
    if (!check(r, !r.value.capture_id.empty() && r.value.capture_id != first, "a second capture")) return 1;
  }

  // ---- 5. what Klarna recorded for the first capture ----------------------------------------
  step("Read the first capture");
  kom::capture_storage<> capture_store;
  {
    const kom::reply<kom::capture> r = client.get_capture(order_id, first, capture_store);
    if (r.ok()) example::print_capture(r.value, "   ");
    if (!check(r,
               r.value.captured_amount == 15660 && r.value.order_lines.size() == 3 && r.value.shipping_info.size() == 1,
               "15660 with 3 lines and 1 parcel")) {
      return 1;
    }
  }

  // ---- 6. a second parcel for the first capture ---------------------------------------------
  step("Add shipping information to it: the beans ship separately by USPS");
  {
    kom::shipping_info usps;
    usps.shipping_company = "USPS";
    usps.shipping_method = kom::shipping_method::postal;
    usps.tracking_number = "9400110200881234567890";
    usps.return_shipping_company = "USPS";
    usps.return_tracking_number = "9202090153540022000000";
    kom::shipping_info_update update;
    update.shipping_info = {&usps, 1};
    show_key(shipping_key, "shipping-info-1");
    const kom::reply<kom::no_content> r = client.append_shipping_info(order_id, first, update, {shipping_key.view()});
    if (!check(r, r.status == 204, "appended")) return 1;
  }

  // ---- 7. the customer asks for the payment e-mail again --------------------------------------
  step("Trigger the send-out of the first capture's customer communication");
  {
    show_key(send_out_key, "send-out-1");
    const kom::reply<kom::no_content> r = client.trigger_send_out(order_id, first, {send_out_key.view()});
    if (!check(r, r.status == 204, "sent out again")) return 1;
  }

  // ---- 8. and 9.: the order at the end of the day -------------------------------------------
  step("List the captures");
  std::int64_t captured_total = 0;
  {
    kom::capture captures[8];
    const kom::reply<kom::capture_list> r = client.list_captures(order_id, captures, capture_store);
    std::int64_t sum = 0;
    bool first_has_both_parcels = false;
    for (const kom::capture& c : r.value.captures) {
      example::print_capture(c, "   ");
      sum += c.captured_amount;
      if (c.capture_id == first) first_has_both_parcels = c.shipping_info.size() == 2;
    }
    captured_total = sum;
    if (!check(r, r.value.captures.size() == 2 && first_has_both_parcels, "2 captures, the first with 2 parcels")) {
      return 1;
    }
  }

  step("Read the order again");
  {
    const kom::reply<kom::order> r = client.get_order(order_id, order_store);
    if (r.ok()) example::print_order(r.value, "   ");
    const kom::order& o = r.value;
    if (!check(r,
               o.status == kom::order_status::captured && o.remaining_authorized_amount == 0 &&
                   o.captured_amount == o.order_amount && o.order_amount == captured_total && o.captures.size() == 2,
               "CAPTURED, all of it in 2 captures, 0 remaining")) {
      return 1;
    }
  }

  const kom::tls_stream::handshake_counts tls = terminal.tls().handshakes();
  const kom::client_stats& stats = client.stats();
  std::printf("\nTLS handshakes: %u full, %u resumed\n", tls.full, tls.resumed);
  std::printf("client: %u connection(s), %u requests, %u retries\n", stats.connects, stats.requests, stats.retries);
  std::printf("all %d steps gave the expected result\n", step_number);
  return 0;
}
