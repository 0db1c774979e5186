// kom-cli: Klarna Order Management from the command line, for a terminal's operator or a
// support desk: capture, ship, refund, void and read orders with kom. See `kom-cli --help`.
#include <cstring>
#include <type_traits>

#include "example_support.hpp"
#include "kom/src.hpp"  // once per program: the part of Boost.JSON kom's readers use

namespace {

constexpr const char* usage_text = R"(usage: kom-cli [options] COMMAND ARGUMENTS

commands:
  capture ORDER_ID AMOUNT [--reference R] [--description D] [--line LINE]...
  capture-remaining ORDER_ID [--reference R] [--description D] [--decided-amount N]
  get-capture ORDER_ID CAPTURE_ID
  list-captures ORDER_ID
  add-shipping ORDER_ID CAPTURE_ID --company C --tracking-number N [--method M]
               [--tracking-uri U] [--return-company C --return-tracking-number N]
  send-out ORDER_ID CAPTURE_ID
  refund ORDER_ID AMOUNT [--reference R] [--description D] [--line LINE]...
  get-refund ORDER_ID REFUND_ID
  cancel ORDER_ID                 void an order nothing was captured of
  release ORDER_ID                release what a partly captured order has left
  extend ORDER_ID                 extend the authorization time
  set-references ORDER_ID [--reference1 R] [--reference2 R]
  update-authorization ORDER_ID AMOUNT [--description D] [--line LINE]...
  get-order ORDER_ID

Amounts are in minor units (2500 is 25.00). A --line is "name;quantity;unit_price[;tax_rate]"
(a physical item; tax_rate in hundredths of a percent, 2500 is 25 %). Its totals are
computed as Klarna documents them:
  total_amount     = quantity * unit_price
  total_tax_amount = total_amount - total_amount * 10000 / (10000 + tax_rate)
and AMOUNT must equal the sum of the lines' total_amount. Before a refund, get-order lists
the order's refunds: a return already there must not be refunded again. set-references sets
merchant_reference1 (the receipt number) and merchant_reference2; one not given stays as it
is. update-authorization's AMOUNT is the order's new total. --method is Klarna's name of a
shipping method: PickUpStore, Home, BoxReg, BoxUnreg, PickUpPoint, Own, Postal,
DHLPackstation, Digital, Undefined, PickUpWarehouse, ClickCollect or PalletDelivery.

options:
  --region eu|na|oc, --env production|playground   Klarna's host (default: eu playground)
  --host H [--port P]   another server (port 443 unless given)
  --ca-file PEM         the CA certificates to trust (default: /etc/ssl/certs/ca-certificates.crt)
  --idempotency-key K   for the commands that change an order (all but get-... and
                        list-captures): the key of an earlier attempt, to send it again
                        safely (Klarna applies it once).
                        Without it a new key is made and printed. capture-remaining
                        prints the amount it decided: give it again as --decided-amount
                        with the key, so that the order is captured once.
  --verbose             one line per request and answer on stderr

environment: KOM_USERNAME and KOM_PASSWORD, or KOM_API_KEY (Klarna's API credentials).
exit status: 0 done, 1 refused (by Klarna, or an invalid request: do not repeat it as it is),
             2 usage, 3 retry later (network, Klarna's 5xx/429/409/408: repeat with the same key),
             4 applied but the new capture or refund id is unknown (find it with list-captures
               or get-order; never repeat)
)";

int usage(const char* why = nullptr) {
  if (why != nullptr) std::fprintf(stderr, "kom-cli: %s\n", why);
  std::fprintf(stderr, "usage: kom-cli [options] COMMAND ARGUMENTS (kom-cli --help tells more)\n");
  return example::exit_usage;
}

// The command's own arguments: positionals, and --name value pairs (repeatable).
struct arguments {
  std::vector<std::string_view> positional;
  std::vector<std::pair<std::string_view, std::string_view>> named;

  std::string_view get(std::string_view name) const {
    for (const auto& [n, v] : named) {
      if (n == name) return v;
    }
    return {};
  }
};

// Splits "name;quantity;unit_price[;tax_rate]" into an order line with Klarna's totals.
bool parse_line(std::string_view text, kom::order_line& line) {
  std::string_view field[4];
  std::size_t count = 0;
  while (count < 4) {
    const std::size_t semicolon = text.find(';');
    field[count++] = text.substr(0, semicolon);
    if (semicolon == std::string_view::npos) break;
    text.remove_prefix(semicolon + 1);
    if (count == 4) return false;  // a fifth field
  }
  std::int64_t quantity = 0, unit_price = 0, tax_rate = 0;
  if (count < 3 || field[0].empty() || !example::parse_int(field[1], quantity) ||
      !example::parse_int(field[2], unit_price) || (count == 4 && !example::parse_int(field[3], tax_rate))) {
    return false;
  }
  // Within Klarna's limits the arithmetic cannot overflow; kom's validation reports the rest.
  if (quantity < 0 || quantity > 1000000000 || unit_price < -200000000 || unit_price > 200000000 || tax_rate < 0 ||
      tax_rate > 1000000) {
    return false;
  }
  line.type = kom::order_line_type::physical;
  line.name = field[0];
  line.quantity = quantity;
  line.unit_price = unit_price;
  line.total_amount = quantity * unit_price;
  if (count == 4) {
    line.tax_rate = tax_rate;
    line.total_tax_amount = line.total_amount - line.total_amount * 10000 / (10000 + tax_rate);
  }
  return true;
}

// All --line options of a command, as order lines; false (with a message) on a bad one.
bool parse_lines(const arguments& a, std::vector<kom::order_line>& lines) {
  for (const auto& [name, value] : a.named) {
    if (name != "--line") continue;
    lines.emplace_back();
    if (!parse_line(value, lines.back())) {
      std::fprintf(stderr, "kom-cli: --line '%.*s': not name;quantity;unit_price[;tax_rate]\n", KOM_EX_SV(value));
      return false;
    }
  }
  return true;
}

// Prints the key of a POST before it is sent, so the operator can retry with it whatever
// happens next.
bool choose_key(kom::client& client, std::string_view given, kom::uuid_text& made, std::string_view& key) {
  if (!given.empty()) {
    key = given;
  } else {
    const kom::result<kom::uuid_text> k = client.new_idempotency_key();
    if (!k) {
      std::fprintf(stderr, "kom-cli: cannot make an idempotency key: %s\n", example::message(k.error()).c_str());
      return false;
    }
    made = *k;
    key = made.view();
  }
  std::printf("Klarna-Idempotency-Key %.*s\n", KOM_EX_SV(key));
  return true;
}

template <class T>
int finish_post(const kom::reply<T>& r) {
  example::print_answer(r);
  if (r.error.code() == kom::errc::below_minimum && r.error.path() == "remaining_authorized_amount") {
    std::printf("  nothing left to capture\n");
  }
  if constexpr (std::is_same_v<T, kom::capture_created>) {
    if (r.ok()) std::printf("capture id %.*s\n", KOM_EX_SV(r.value.capture_id));
  }
  if constexpr (std::is_same_v<T, kom::refund_created>) {
    if (r.ok()) std::printf("refund id %.*s\n", KOM_EX_SV(r.value.refund_id));
  }
  if (r.next_step() == kom::outcome::retry_later) {
    std::printf("  retry with: --idempotency-key %.*s", KOM_EX_SV(r.idempotency_key));
    if constexpr (std::is_same_v<T, kom::capture_created>) {
      if (r.value.captured_amount > 0) std::printf(" (capture-remaining: --decided-amount %lld)", static_cast<long long>(r.value.captured_amount));
    }
    std::printf("\n");
  }
  return example::exit_code_of(r.next_step());
}

int run(kom::client& client, std::string_view command, const arguments& a, std::string_view given_key) {
  const std::vector<std::string_view>& p = a.positional;
  kom::uuid_text made;
  std::string_view key;

  if (command == "capture") {
    std::int64_t amount = 0;
    if (!example::parse_int(p[1], amount)) return usage("capture: AMOUNT is a whole number of minor units");
    std::vector<kom::order_line> lines;
    if (!parse_lines(a, lines)) return example::exit_usage;
    kom::capture_request request;
    request.captured_amount = amount;
    request.reference = a.get("--reference");
    request.description = a.get("--description");
    request.order_lines = {lines.data(), lines.size()};
    if (!choose_key(client, given_key, made, key)) return example::exit_retry_later;
    return finish_post(client.capture(p[0], request, {key}));
  }
  if (command == "capture-remaining") {
    if (!choose_key(client, given_key, made, key)) return example::exit_retry_later;
    kom::remaining_capture what{a.get("--description"), a.get("--reference"), 0};
    if (!a.get("--decided-amount").empty() && !example::parse_int(a.get("--decided-amount"), what.decided_amount))
      return usage("capture-remaining: --decided-amount is a whole number of minor units");
    return finish_post(client.capture_remaining(p[0], {key}, what));
  }
  if (command == "get-capture") {
    kom::capture_storage<kom::capacity::lines<64>, kom::capacity::shipping_entries<16>, kom::capacity::text_bytes<16384>> storage;
    const kom::reply<kom::capture> r = client.get_capture(p[0], p[1], storage);
    example::print_answer(r);
    if (r.ok()) example::print_capture(r.value);
    return example::exit_code_of(r.next_step());
  }
  if (command == "list-captures") {
    static kom::capture captures[64];
    static kom::capture_storage<kom::capacity::lines<256>, kom::capacity::shipping_entries<64>, kom::capacity::text_bytes<65536>> storage;
    kom::read_options read;
    read.allow_truncation = true;
    const kom::reply<kom::capture_list> r = client.list_captures(p[0], captures, storage, read);
    example::print_answer(r);
    if (r.ok()) {
      std::printf("%zu capture(s)%s\n", r.value.captures.size(), r.value.truncated ? " (more than fitted)" : "");
      for (const kom::capture& c : r.value.captures) example::print_capture(c);
    }
    return example::exit_code_of(r.next_step());
  }
  if (command == "add-shipping") {
    kom::shipping_info s;
    s.shipping_company = a.get("--company");
    s.tracking_number = a.get("--tracking-number");
    s.tracking_uri = a.get("--tracking-uri");
    s.return_shipping_company = a.get("--return-company");
    s.return_tracking_number = a.get("--return-tracking-number");
    if (s.shipping_company.empty() || s.tracking_number.empty()) {
      return usage("add-shipping needs --company and --tracking-number");
    }
    if (s.return_shipping_company.empty() != s.return_tracking_number.empty()) {
      return usage("add-shipping: --return-company and --return-tracking-number go together");
    }
    if (const std::string_view m = a.get("--method"); !m.empty()) {
      s.shipping_method = kom::shipping_method_from_string(m);
      if (s.shipping_method == kom::shipping_method::unknown) return usage("add-shipping: unknown --method");
    }
    kom::shipping_info_update update;
    update.shipping_info = {&s, 1};
    if (!choose_key(client, given_key, made, key)) return example::exit_retry_later;
    return finish_post(client.append_shipping_info(p[0], p[1], update, {key}));
  }
  if (command == "send-out") {
    if (!choose_key(client, given_key, made, key)) return example::exit_retry_later;
    return finish_post(client.trigger_send_out(p[0], p[1], {key}));
  }
  if (command == "refund") {
    std::int64_t amount = 0;
    if (!example::parse_int(p[1], amount)) return usage("refund: AMOUNT is a whole number of minor units");
    std::vector<kom::order_line> lines;
    if (!parse_lines(a, lines)) return example::exit_usage;
    kom::refund_request request;
    request.refunded_amount = amount;
    request.reference = a.get("--reference");
    request.description = a.get("--description");
    request.order_lines = {lines.data(), lines.size()};
    if (!choose_key(client, given_key, made, key)) return example::exit_retry_later;
    return finish_post(client.refund(p[0], request, {key}));
  }
  if (command == "get-refund") {
    kom::refund_storage<kom::capacity::lines<64>, kom::capacity::text_bytes<16384>> storage;
    const kom::reply<kom::refund> r = client.get_refund(p[0], p[1], storage);
    example::print_answer(r);
    if (r.ok()) example::print_refund(r.value);
    return example::exit_code_of(r.next_step());
  }
  if (command == "cancel") {
    if (!choose_key(client, given_key, made, key)) return example::exit_retry_later;
    return finish_post(client.cancel(p[0], {key}));
  }
  if (command == "release") {
    if (!choose_key(client, given_key, made, key)) return example::exit_retry_later;
    return finish_post(client.release_remaining_authorization(p[0], {key}));
  }
  if (command == "extend") {
    if (!choose_key(client, given_key, made, key)) return example::exit_retry_later;
    return finish_post(client.extend_authorization_time(p[0], {key}));
  }
  if (command == "set-references") {
    const kom::merchant_references references{a.get("--reference1"), a.get("--reference2")};
    if (references.merchant_reference1.empty() && references.merchant_reference2.empty()) {
      return usage("set-references needs --reference1 or --reference2");
    }
    if (!choose_key(client, given_key, made, key)) return example::exit_retry_later;
    return finish_post(client.update_merchant_references(p[0], references, {key}));
  }
  if (command == "update-authorization") {
    std::int64_t amount = 0;
    if (!example::parse_int(p[1], amount)) return usage("update-authorization: AMOUNT is a whole number of minor units");
    std::vector<kom::order_line> lines;
    if (!parse_lines(a, lines)) return example::exit_usage;
    kom::authorization_update update;
    update.order_amount = amount;
    update.description = a.get("--description");
    update.order_lines = {lines.data(), lines.size()};
    if (!choose_key(client, given_key, made, key)) return example::exit_retry_later;
    return finish_post(client.update_authorization(p[0], update, {key}));
  }
  // get-order
  kom::order_storage<kom::capacity::captures<64>, kom::capacity::refunds<64>, kom::capacity::lines<64>,
                     kom::capacity::text_bytes<16384>> storage;
  const kom::reply<kom::order> r = client.get_order(p[0], storage);
  example::print_answer(r);
  if (r.ok()) example::print_order(r.value);
  return example::exit_code_of(r.next_step());
}

struct command_shape {
  const char* name;
  std::size_t positionals;
  const char* options;  // the --options it takes, space-separated
};

constexpr command_shape commands[] = {
    {"capture", 2, "--reference --description --line"},
    {"capture-remaining", 1, "--reference --description --decided-amount"},
    {"get-capture", 2, ""},
    {"list-captures", 1, ""},
    {"add-shipping", 2,
     "--company --tracking-number --method --tracking-uri --return-company --return-tracking-number"},
    {"send-out", 2, ""},
    {"refund", 2, "--reference --description --line"},
    {"get-refund", 2, ""},
    {"cancel", 1, ""},
    {"release", 1, ""},
    {"extend", 1, ""},
    {"set-references", 1, "--reference1 --reference2"},
    {"update-authorization", 2, "--description --line"},
    {"get-order", 1, ""},
};

bool takes_option(const command_shape& c, std::string_view option) {
  std::string_view list = c.options;
  while (!list.empty()) {
    const std::size_t space = list.find(' ');
    if (list.substr(0, space) == option) return true;
    if (space == std::string_view::npos) break;
    list.remove_prefix(space + 1);
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) {
      std::fputs(usage_text, stdout);
      return example::exit_ok;
    }
  }
  example::options options;
  if (!example::parse_options(argc, argv, options)) return usage();
  options.quiet = true;

  // What parse_options left: the command, its arguments, and options of kom-cli's own.
  std::string_view command, key;
  arguments a;
  bool verbose = false;
  const std::vector<std::string_view>& rest = options.args;
  for (std::size_t i = 0; i < rest.size(); ++i) {
    const std::string_view s = rest[i];
    if (s == "--verbose") {
      verbose = true;
    } else if (s.size() > 2 && s.substr(0, 2) == "--") {
      if (i + 1 >= rest.size()) return usage((std::string(s) + " needs a value").c_str());
      if (s == "--idempotency-key") key = rest[++i];
      else a.named.emplace_back(s, rest[++i]);
    } else if (command.empty()) {
      command = s;
    } else {
      a.positional.push_back(s);
    }
  }
  if (command.empty()) return usage("no command");
  const command_shape* shape = nullptr;
  for (const command_shape& c : commands) {
    if (command == c.name) shape = &c;
  }
  if (shape == nullptr) return usage(("unknown command '" + std::string(command) + "'").c_str());
  if (a.positional.size() != shape->positionals) {
    return usage((std::string(command) + ": wrong number of arguments").c_str());
  }
  for (const auto& [name, value] : a.named) {
    if (!takes_option(*shape, name)) {
      return usage((std::string(command) + " does not take " + std::string(name)).c_str());
    }
  }
  const bool is_post = command.substr(0, 4) != "get-" && command != "list-captures";
  if (!key.empty() && !is_post) return usage("--idempotency-key is for the commands that change an order");
  options.quiet = !verbose;

  example::terminal terminal;
  if (!terminal.open(options)) return example::exit_usage;
  std::printf("server %.*s:%u\n", KOM_EX_SV(terminal.server().host), terminal.server().port);
  return run(terminal.client(), command, a, key);
}
