// kom-pos-demo: three sales at a point-of-sale terminal, as a transcript.
//   Sale N:   captured in two parts (with their lines), shipped, the receipt number set on the
//             order; then the customer returns one line at the till and it is refunded, once.
//   Sale N+1: voided before anything was handed over (cancel).
//   Sale N+2: partly collected; the rest is not coming, so its authorization is released.
// It needs three AUTHORIZED orders whose lines are the till's baskets below (scripts/demo
// seeds them in kom-sim), and exits non-zero when a step does not give the expected result.
//
//   kom-pos-demo [--host H --port P | --region R --env E] [--ca-file PEM] [--sale N]
//                SALE_ORDER_ID VOID_ORDER_ID PARTIAL_ORDER_ID
//
// Every POST and PATCH carries a Klarna-Idempotency-Key derived from the terminal, the sale
// number and the purpose (kom::sale_idempotency_key): the same after a reboot, so a terminal
// that lost an answer sends the request again and Klarna applies it once.
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
bool expect(bool expected, const char* what) {
  if (!expected) {
    std::printf("   FAILED: step %d: %s\n", step_number, what);
    return false;
  }
  std::printf("   ok: %s\n", what);
  return true;
}

template <class T>
bool check(const kom::reply<T>& r, bool expected, const char* what) {
  if (!r.ok()) {
    example::print_answer(r, "   ");
    std::printf("   FAILED: step %d\n", step_number);
    return false;
  }
  return expect(expected, what);
}

// One sale of this terminal: its number (on the receipt) and its Klarna order.
struct sale {
  std::uint64_t number = 0;
  std::string_view order_id;

  std::string receipt() const { return std::string(terminal_id) + "/" + std::to_string(number); }
};

// Idempotency keys: v5 UUIDs in the merchant's namespace of "T-17/<sale>/<purpose>".
kom::uuid merchant_namespace;

kom::uuid_text key(const sale& s, std::string_view purpose) {
  const kom::result<kom::uuid_text> k = kom::sale_idempotency_key(merchant_namespace, terminal_id, s.number, purpose);
  return k ? *k : kom::uuid_text();
}

kom::uuid_text show_key(const sale& s, const char* purpose) {
  const kom::uuid_text k = key(s, purpose);
  std::printf("   Klarna-Idempotency-Key %s (%.*s/%llu/%s)\n", k.c_str(), KOM_EX_SV(terminal_id),
              static_cast<unsigned long long>(s.number), purpose);
  return k;
}

// A line of the till's basket. Prices include VAT (German style); total_tax_amount is its share.
kom::order_line item(std::string_view sku, std::string_view name, std::int64_t quantity, std::int64_t unit_price,
                     std::int64_t discount, std::int64_t tax_rate, std::int64_t tax) {
  kom::order_line l;
  l.type = kom::order_line_type::physical;
  l.reference = sku;
  l.name = name;
  l.quantity = quantity;
  l.quantity_unit = "pcs";
  l.unit_price = unit_price;
  l.total_discount_amount = discount;
  l.total_amount = quantity * unit_price - discount;  // checked by kom before sending
  l.tax_rate = tax_rate;                              // 1900 = 19 %
  l.total_tax_amount = tax;
  return l;
}

std::int64_t sum(kom::list_view<kom::order_line> lines) {
  std::int64_t total = 0;
  for (const kom::order_line& l : lines) total += l.total_amount;
  return total;
}

const kom::order_line* find_line(const kom::order& o, std::string_view sku) {
  for (const kom::order_line& l : o.order_lines) {
    if (l.reference == sku) return &l;
  }
  return nullptr;
}

// The order lists what the till sold: the same SKUs, quantities and totals.
bool lines_are(const kom::order& o, kom::list_view<kom::order_line> basket) {
  if (o.order_lines.size() != basket.size()) return false;
  for (const kom::order_line& b : basket) {
    const kom::order_line* l = find_line(o, b.reference);
    if (l == nullptr || l->quantity != b.quantity || l->total_amount != b.total_amount) return false;
  }
  return true;
}

// Step "read the order" of a new sale: AUTHORIZED and ACCEPTED, nothing captured, and the
// till's basket.
bool read_new_order(kom::client& client, const sale& s, kom::list_view<kom::order_line> basket) {
  step("Read the order");
  kom::order_storage<> store;
  const kom::reply<kom::order> r = client.get_order(s.order_id, store);
  if (r.ok()) example::print_order(r.value, "   ");
  const kom::order& o = r.value;
  return check(r,
               o.status == kom::order_status::authorized && o.fraud_status == kom::fraud_status::accepted &&
                   o.captured_amount.value_or(0) == 0 && o.order_amount == sum(basket) &&
                   o.remaining_authorized_amount == o.order_amount && lines_are(o, basket),
               "AUTHORIZED and ACCEPTED, nothing captured, its lines are the till's basket");
}

// A return at the till. The till reads the order and looks for the return's reference among
// its refunds first: a refund whose answer was lost, or a return booked twice, is there and is
// not refunded again (nor when a refund of the line's amount is listed without a reference, as
// Klarna's 2020 API lists them). Otherwise it refunds the returned line as the order lists it. Returns
// the refund's id (empty on failure); `sent` says whether a refund was sent.
std::string book_return(kom::client& client, const sale& s, std::string_view sku, std::string_view return_reference,
                        bool& sent) {
  sent = false;
  kom::order_storage<> store;
  const kom::reply<kom::order> o = client.get_order(s.order_id, store);
  if (!o.ok()) {
    example::print_answer(o, "   ");
    return {};
  }
  for (const kom::order_refund& f : o.value.refunds) {
    if (f.reference == return_reference) {
      std::printf("   the order's refunds have %.*s already: refund %.*s of %lld; nothing is sent\n",
                  KOM_EX_SV(return_reference), KOM_EX_SV(f.refund_id), static_cast<long long>(f.refunded_amount));
      return std::string(f.refund_id);
    }
  }
  const kom::order_line* returned = find_line(o.value, sku);
  if (returned == nullptr) {
    std::printf("   the order has no line %.*s\n", KOM_EX_SV(sku));
    return {};
  }
  // Klarna's 2020 refunds carry no reference: one of the line's amount without a reference may
  // be this return, so the till does not refund again and leaves it to the back office.
  for (const kom::order_refund& f : o.value.refunds) {
    if (f.reference.empty() && f.refunded_amount == returned->total_amount) {
      std::printf("   refund %.*s of %lld has no reference: it may be this return; nothing is sent\n",
                  KOM_EX_SV(f.refund_id), static_cast<long long>(f.refunded_amount));
      return {};
    }
  }
  std::printf("   %.*s is not among the order's %zu refund(s); refunding its line as the order lists it:\n",
              KOM_EX_SV(return_reference), o.value.refunds.size());
  example::print_line(*returned, "   ");

  const std::string description = "Returned: " + std::string(returned->name);
  kom::refund_request refund;
  refund.refunded_amount = returned->total_amount;  // the sum of the lines (checked)
  refund.reference = return_reference;              // how the next look finds it
  refund.description = description;
  refund.order_lines = {returned, 1};
  const kom::uuid_text k = show_key(s, "return-1");
  sent = true;
  const kom::reply<kom::refund_created> r = client.refund(s.order_id, refund, {k.view()});
  if (!r.ok()) {
    example::print_answer(r, "   ");
    return {};
  }
  std::printf("   refund id %.*s, %lld refunded\n", KOM_EX_SV(r.value.refund_id),
              static_cast<long long>(r.value.refunded_amount));
  return std::string(r.value.refund_id);
}

// ---- sale 1: two captures, shipping, a return ------------------------------------------------
bool sale_with_return(kom::client& client, const sale& s) {
  const kom::order_line basket[] = {
      item("SKU-ESP-100", "Espresso machine", 1, 24000, 0, 1900, 3832),
      item("SKU-BEAN-1KG", "Coffee beans 1 kg", 2, 2500, 0, 700, 327),
      item("SKU-JUG-03", "Milk jug", 1, 1500, 500, 1900, 160),
  };
  const std::string receipt = s.receipt();
  std::printf("\n== Sale %llu, order %.*s: an espresso machine, coffee beans and a milk jug\n",
              static_cast<unsigned long long>(s.number), KOM_EX_SV(s.order_id));
  if (!read_new_order(client, s, basket)) return false;

  step("Put the receipt number on the order (merchant_reference1)");
  {
    kom::merchant_references references;
    references.merchant_reference1 = receipt;  // what the customer's Klarna app and the settlement show
    const kom::uuid_text k = show_key(s, "references");
    const kom::reply<kom::no_content> r = client.update_merchant_references(s.order_id, references, {k.view()});
    if (!check(r, r.status == 204, "the receipt number is on the order")) return false;
  }

  step("Capture part 1: the espresso machine and the milk jug, delivered by UPS");
  const kom::order_line part1[] = {basket[0], basket[2]};
  kom::shipping_info ups;
  ups.shipping_company = "UPS";
  ups.shipping_method = kom::shipping_method::home;
  ups.tracking_number = "1Z999AA10123456784";
  const std::string reference1 = receipt + "-1";
  kom::capture_request capture;
  capture.captured_amount = sum(part1);  // 25000: the sum of the lines' total_amount (checked)
  capture.reference = reference1;        // in the settlement files
  capture.description = "Espresso machine and milk jug, delivered";
  capture.order_lines = part1;
  capture.shipping_info = {&ups, 1};
  const kom::uuid_text capture_key = show_key(s, "capture-1");
  std::string first;  // the capture's id, kept: a reply's views last until the next call
  {
    const kom::reply<kom::capture_created> r = client.capture(s.order_id, capture, {capture_key.view()});
    if (r.ok()) {
      std::printf("   capture id %.*s\n", KOM_EX_SV(r.value.capture_id));
      first = std::string(r.value.capture_id);
    }
    if (!check(r, !first.empty(), "captured 25000")) return false;
  }

  step("Send the same capture again with the same key, as after a lost answer");
  {
    show_key(s, "capture-1");
    const kom::reply<kom::capture_created> r = client.capture(s.order_id, capture, {capture_key.view()});
    if (r.ok()) std::printf("   capture id %.*s\n", KOM_EX_SV(r.value.capture_id));
    if (!check(r, r.value.capture_id == first, "the same capture id: Klarna applied it once")) return false;
  }

  step("Capture part 2: the coffee beans, collected the next day");
  {
    const kom::order_line part2[] = {basket[1]};
    const std::string reference2 = receipt + "-2";
    kom::capture_request rest;
    rest.captured_amount = sum(part2);  // 5000
    rest.reference = reference2;
    rest.description = "Coffee beans, collected";
    rest.order_lines = part2;
    const kom::uuid_text k = show_key(s, "capture-2");
    const kom::reply<kom::capture_created> r = client.capture(s.order_id, rest, {k.view()});
    if (r.ok()) std::printf("   capture id %.*s\n", KOM_EX_SV(r.value.capture_id));
    if (!check(r, !r.value.capture_id.empty() && r.value.capture_id != first, "a second capture of 5000")) return false;
  }

  step("Read the first capture");
  kom::capture_storage<> capture_store;
  {
    const kom::reply<kom::capture> r = client.get_capture(s.order_id, first, capture_store);
    if (r.ok()) example::print_capture(r.value, "   ");
    if (!check(r,
               r.value.captured_amount == 25000 && r.value.order_lines.size() == 2 && r.value.shipping_info.size() == 1,
               "25000 with 2 lines and 1 parcel")) {
      return false;
    }
  }

  step("Add shipping information to it: the milk jug ships separately by DHL, with a return label");
  {
    kom::shipping_info dhl;
    dhl.shipping_company = "DHL";
    dhl.shipping_method = kom::shipping_method::postal;
    dhl.tracking_number = "00340434161094042557";
    dhl.return_shipping_company = "DHL";
    dhl.return_tracking_number = "00340434161094042564";
    kom::shipping_info_update update;
    update.shipping_info = {&dhl, 1};
    const kom::uuid_text k = show_key(s, "shipping-info-1");
    const kom::reply<kom::no_content> r = client.append_shipping_info(s.order_id, first, update, {k.view()});
    if (!check(r, r.status == 204, "appended")) return false;
  }

  step("Trigger the send-out of the first capture's customer communication");
  {
    const kom::uuid_text k = show_key(s, "send-out-1");
    const kom::reply<kom::no_content> r = client.trigger_send_out(s.order_id, first, {k.view()});
    if (!check(r, r.status == 204, "sent out again")) return false;
  }

  step("List the captures");
  {
    kom::capture captures[8];
    const kom::reply<kom::capture_list> r = client.list_captures(s.order_id, captures, capture_store);
    std::int64_t total = 0;
    bool first_has_both_parcels = false;
    for (const kom::capture& c : r.value.captures) {
      example::print_capture(c, "   ");
      total += c.captured_amount;
      if (c.capture_id == first) first_has_both_parcels = c.shipping_info.size() == 2;
    }
    if (!check(r, r.value.captures.size() == 2 && first_has_both_parcels && total == sum(basket),
               "2 captures, 30000 in all, the first with 2 parcels")) {
      return false;
    }
  }

  const std::string return_reference = receipt + "-R1";
  std::string refund_id;
  step("The customer brings the milk jug back: look for the return in the order's refunds, then refund its line");
  {
    bool sent = false;
    refund_id = book_return(client, s, "SKU-JUG-03", return_reference, sent);
    if (!expect(sent && !refund_id.empty(), "refunded 1000")) return false;
  }

  step("Read the refund");
  {
    kom::refund_storage<> refund_store;
    const kom::reply<kom::refund> r = client.get_refund(s.order_id, refund_id, refund_store);
    if (r.ok()) example::print_refund(r.value, "   ");
    if (!check(r,
               r.value.refunded_amount == 1000 && r.value.reference == return_reference &&
                   r.value.order_lines.size() == 1 && r.value.order_lines[0].reference == "SKU-JUG-03",
               "1000 for the milk jug's line")) {
      return false;
    }
  }

  step("Book the same return again, as a till that restarted before printing the return slip");
  {
    const std::uint32_t requests = client.stats().requests;
    bool sent = true;
    const std::string again = book_return(client, s, "SKU-JUG-03", return_reference, sent);
    const bool only_read = client.stats().requests == requests + 1;
    if (!expect(!sent && only_read && again == refund_id, "found with the same refund id; only the order was read"))
      return false;
  }

  step("Read the order again");
  {
    kom::order_storage<> store;
    const kom::reply<kom::order> r = client.get_order(s.order_id, store);
    if (r.ok()) example::print_order(r.value, "   ");
    const kom::order& o = r.value;
    if (!check(r,
               o.status == kom::order_status::captured && o.captured_amount == sum(basket) &&
                   o.remaining_authorized_amount == 0 && o.refunded_amount == 1000 && o.captures.size() == 2 &&
                   o.refunds.size() == 1 && o.refunds[0].refund_id == refund_id &&
                   o.merchant_reference1 == receipt,
               "CAPTURED, 30000 in 2 captures, 1000 refunded once, the receipt number on it")) {
      return false;
    }
  }
  return true;
}

// ---- sale 2: voided before anything was handed over ------------------------------------------
bool voided_sale(kom::client& client, const sale& s) {
  kom::order_line basket[] = {item("SKU-COURSE-B1", "Barista course voucher", 1, 12000, 0, 1900, 1916)};
  basket[0].type = kom::order_line_type::digital;
  std::printf("\n== Sale %llu, order %.*s: a barista course voucher, voided before it was issued\n",
              static_cast<unsigned long long>(s.number), KOM_EX_SV(s.order_id));
  if (!read_new_order(client, s, basket)) return false;

  step("Void the sale: cancel the order (nothing was captured)");
  {
    const kom::uuid_text k = show_key(s, "cancel");
    const kom::reply<kom::no_content> r = client.cancel(s.order_id, {k.view()});
    if (!check(r, r.status == 204, "cancelled")) return false;
  }

  step("Read the order again");
  {
    kom::order_storage<> store;
    const kom::reply<kom::order> r = client.get_order(s.order_id, store);
    if (r.ok()) example::print_order(r.value, "   ");
    const kom::order& o = r.value;
    if (!check(r,
               o.status == kom::order_status::cancelled && o.captured_amount.value_or(0) == 0 &&
                   o.remaining_authorized_amount.value_or(-1) == 0 && o.captures.empty(),
               "CANCELLED, nothing captured, nothing left authorized")) {
      return false;
    }
  }
  return true;
}

// ---- sale 3: partly collected, the rest released ----------------------------------------------
bool partly_collected_sale(kom::client& client, const sale& s) {
  const kom::order_line basket[] = {
      item("SKU-GRIND-20", "Coffee grinder", 1, 15000, 0, 1900, 2395),
      item("SKU-DESC-05", "Descaler", 2, 2500, 0, 1900, 798),
  };
  std::printf("\n== Sale %llu, order %.*s: a coffee grinder and descaler; the descaler never comes\n",
              static_cast<unsigned long long>(s.number), KOM_EX_SV(s.order_id));
  if (!read_new_order(client, s, basket)) return false;

  step("Capture the coffee grinder, collected at the store");
  {
    const kom::order_line collected[] = {basket[0]};
    const std::string reference = s.receipt() + "-1";
    kom::capture_request capture;
    capture.captured_amount = sum(collected);  // 15000
    capture.reference = reference;
    capture.description = "Coffee grinder, collected";
    capture.order_lines = collected;
    const kom::uuid_text k = show_key(s, "capture-1");
    const kom::reply<kom::capture_created> r = client.capture(s.order_id, capture, {k.view()});
    if (r.ok()) std::printf("   capture id %.*s\n", KOM_EX_SV(r.value.capture_id));
    if (!check(r, !r.value.capture_id.empty(), "captured 15000")) return false;
  }

  step("Release the remaining authorization: the descaler is out of stock for good");
  {
    const kom::uuid_text k = show_key(s, "release");
    const kom::reply<kom::no_content> r = client.release_remaining_authorization(s.order_id, {k.view()});
    if (!check(r, r.status == 204, "released")) return false;
  }

  step("Read the order again");
  {
    kom::order_storage<> store;
    const kom::reply<kom::order> r = client.get_order(s.order_id, store);
    if (r.ok()) example::print_order(r.value, "   ");
    const kom::order& o = r.value;
    if (!check(r,
               o.status == kom::order_status::closed && o.captured_amount == 15000 && o.order_amount == sum(basket) &&
                   o.remaining_authorized_amount.value_or(-1) == 0 && o.captures.size() == 1,
               "CLOSED, 15000 captured, nothing left authorized")) {
      return false;
    }
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  example::options options;
  if (!example::parse_options(argc, argv, options)) return example::exit_usage;
  std::uint64_t first_sale = static_cast<std::uint64_t>(std::time(nullptr));  // the terminal's transaction number
  std::vector<std::string_view> order_ids;
  bool bad = false;
  for (std::size_t i = 0; i < options.args.size(); ++i) {
    if (options.args[i] == "--sale" && i + 1 < options.args.size()) {
      if (!example::parse_int(options.args[++i], first_sale)) bad = true;
    } else if (options.args[i].substr(0, 2) != "--") {
      order_ids.push_back(options.args[i]);
    } else {
      bad = true;
    }
  }
  if (bad || order_ids.size() != 3) {
    std::fprintf(stderr,
                 "usage: kom-pos-demo [--host H --port P | --region R --env E] [--ca-file PEM] [--sale N]\n"
                 "                    SALE_ORDER_ID VOID_ORDER_ID PARTIAL_ORDER_ID\n");
    return example::exit_usage;
  }
  if (!options.quiet) options.log = &log_exchange;

  example::terminal terminal;
  if (!terminal.open(options)) return example::exit_usage;
  kom::client& client = terminal.client();
  const kom::result<kom::uuid> merchant = kom::uuid_v5(kom::uuid_namespace::dns, "pos-demo.merchant.example");
  if (!merchant) return example::exit_usage;
  merchant_namespace = *merchant;

  const sale sales[] = {{first_sale, order_ids[0]}, {first_sale + 1, order_ids[1]}, {first_sale + 2, order_ids[2]}};
  std::printf("kom point-of-sale demo at %.*s:%u\n", KOM_EX_SV(terminal.server().host), terminal.server().port);
  std::printf("terminal %.*s, sales %llu to %llu; amounts in minor units\n", KOM_EX_SV(terminal_id),
              static_cast<unsigned long long>(sales[0].number), static_cast<unsigned long long>(sales[2].number));

  if (!sale_with_return(client, sales[0]) || !voided_sale(client, sales[1]) ||
      !partly_collected_sale(client, sales[2])) {
    return 1;
  }

  const kom::tls_stream::handshake_counts tls = terminal.tls().handshakes();
  const kom::client_stats& stats = client.stats();
  std::printf("\nTLS handshakes: %u full, %u resumed\n", tls.full, tls.resumed);
  std::printf("client: %u connection(s), %u requests, %u retries\n", stats.connects, stats.requests, stats.retries);
  std::printf("all %d steps gave the expected result\n", step_number);
  return 0;
}
