// The footprint programs of scripts/footprint: one source, four programs.
//
//   KOM_FOOTPRINT_OPS   1: capture only: write a capture request, wipe it, parse the 201 answer
//                       2: all operations: every request builder (captures, refunds, cancel,
//                          release, extension, the PATCHes), the response parser, every JSON
//                          reader, uuid_v4, wipe_request
//                       3: a terminal: kom::client (every call) over a transport that answers
//                          at once, and an outbox in RAM flash (open, queue a sale's capture,
//                          shipping info, send-out and refund, drain)
//   KOM_FOOTPRINT_CALLS 1: the kom calls are made; 0: the baseline, the same program with each
//                          kom call replaced by an empty use of the same inputs
//
// kom's flash and static RAM are the calls program's size minus its baseline's: everything
// else (startup, console, stack painting, the inputs, the caller's buffers and storages) is
// in both. Each call runs in a thunk through fw::stack_used, which prints its stack high-water
// mark ("stack <call> <bytes>"); the run ends with the heap-trap count and exits 0 only when
// every call succeeded and nothing touched the heap.
#include <cstddef>
#include <cstdint>
#include <new>
#include <string_view>

// The payload, HTTP and JSON layers, header by header: the part of kom that builds without
// mbedTLS (kom/kom.hpp is all of kom).
#include "kom/http_request.hpp"
#include "kom/http_response.hpp"
#include "kom/json_body.hpp"
#include "kom/json_readers.hpp"
#include "kom/uuid.hpp"
#include "kom/src.hpp"

#include "board.hpp"
#include "fixtures.hpp"
#if KOM_FOOTPRINT_OPS == 3
#include "kom/client.hpp"
#include "kom/outbox.hpp"
#include "ram_flash.hpp"
#endif

#if !defined(KOM_FOOTPRINT_OPS) || !defined(KOM_FOOTPRINT_CALLS)
#error "define KOM_FOOTPRINT_OPS (1: capture only, 2: all operations, 3: client and outbox) and KOM_FOOTPRINT_CALLS (0 or 1)"
#endif

namespace {

#if KOM_FOOTPRINT_OPS == 3
// The terminal's link: answers each request at once, as Klarna would (a GET with the fixture of
// what it reads, anything else 201 with both ids). The terminal's own code, in both programs.
struct canned_link {
  char answer[8192];
  std::size_t size = 0;
  std::size_t at = 0;

  void add(std::string_view text) {
    for (char c : text)
      if (size < sizeof answer) answer[size++] = c;
  }
  static int connect(void*, std::string_view, std::uint16_t, std::uint32_t) { return kom::io::ok; }
  static int send(void* context, const unsigned char* data, std::size_t n) {
    auto* l = static_cast<canned_link*>(context);
    const std::string_view request(reinterpret_cast<const char*>(data), n);
    if (request.rfind("GET ", 0) == 0 || request.rfind("POST ", 0) == 0 || request.rfind("PATCH ", 0) == 0) {
      l->size = l->at = 0;
      if (request.rfind("GET ", 0) != 0) {
        l->add("HTTP/1.1 201 Created\r\nCapture-Id: cap-1\r\nRefund-Id: ref-1\r\nContent-Length: 0\r\n\r\n");
      } else {
        const std::string_view path = request.substr(4, request.find(' ', 4) - 4);
        std::string_view json = fx::json_order_part_captured;
        if (path.size() >= 9 && path.substr(path.size() - 9) == "/captures") json = fx::json_captures;
        else if (path.find("/captures/") != std::string_view::npos) json = fx::json_capture_min;
        else if (path.find("/refunds/") != std::string_view::npos) json = fx::json_spec2024_refund;
        char length[24];
        std::size_t k = sizeof length;
        std::size_t v = json.size();
        do {
          length[--k] = static_cast<char>('0' + v % 10);
          v /= 10;
        } while (v != 0);
        l->add("HTTP/1.1 200 OK\r\nContent-Length: ");
        l->add({length + k, sizeof length - k});
        l->add("\r\n\r\n");
        l->add(json);
      }
    }
    return static_cast<int>(n);
  }
  static int recv(void* context, unsigned char* data, std::size_t n, std::uint32_t) {
    auto* l = static_cast<canned_link*>(context);
    std::size_t k = l->size - l->at < n ? l->size - l->at : n;
    std::memcpy(data, l->answer + l->at, k);
    l->at += k;
    return k == 0 ? kom::io::timed_out : static_cast<int>(k);
  }
  static void close(void*) {}
  kom::transport transport() {
    kom::transport t;
    t.context = this;
    t.connect = connect;
    t.send = send;
    t.recv = recv;
    t.close = close;
    return t;
  }
};

using terminal_outbox = kom::basic_outbox<kom::capacity::operations<16>, kom::capacity::record_bytes<512>,
                                          kom::capacity::lines<2>, kom::capacity::shipping_entries<2>>;
std::uint64_t now = 1'800'000'000'000ULL;
std::uint32_t random_state = 1;
#endif

// Everything the calls use, reached only through one pointer, so that the baseline keeps it all.
struct inputs {
  kom::request_config config;
  kom::order_line lines[1];
  kom::product_identifiers identifiers;
  kom::subscription subscription;
  kom::shipping_info shipping[1];
  kom::capture_request capture;          // every optional part of a line and a shipping entry set
  kom::order_line documented_lines[1];
  kom::shipping_info documented_shipping[1];
  kom::capture_request documented;       // Klarna's documented capture (tests/fixtures/capture_request.json)
  kom::shipping_info update_items[1];
  kom::shipping_info_update update;
  kom::refund_request refund;            // a return: one line of the capture
  kom::merchant_references references;
  kom::authorization_update authorization;
  std::string_view order_id;
  std::string_view capture_id;
  std::string_view key;
  std::string_view http_201;
  std::string_view http_200_chunked;
  std::string_view json_capture;
  std::string_view json_captures;
  std::string_view json_order;
  std::string_view json_error;
  std::string_view json_refund;
  unsigned char random_state = 0;
  char request[2048];
  char response[4096];
  // The caller's parser object (constructed in place by the calls) and result storages.
  alignas(kom::http_response_parser) unsigned char parser[sizeof(kom::http_response_parser)];
  kom::capture capture_out;
  kom::capture_list list;
  kom::capture items[4];
  kom::order order;
  kom::refund refund_out;
  kom::error_body error_body;
  kom::capture_storage<> capture_storage;
  kom::order_storage<> order_storage;
  kom::error_body_storage<> error_storage;
#if KOM_FOOTPRINT_OPS == 3
  canned_link link;
  kom::transport transport;
  kom::client_config client_config;
  kom::client_hooks hooks;
  char work[8192];
  alignas(kom::client) unsigned char client_memory[sizeof(kom::client)];
  kom::client* client = nullptr;
  kom::refund_storage<> refund_storage;
  fw::ram_flash<512, 8> flash;
  kom::wall_clock wall;
  alignas(terminal_outbox) unsigned char outbox_memory[sizeof(terminal_outbox)];
  terminal_outbox* box = nullptr;
  std::uint32_t queued = 0;
#endif
};

inputs in;
int failures = 0;

void note(bool ok) {
  if (!ok) ++failures;
}

void run(const char* name, void (*thunk)(void*)) {
  const std::size_t used = fw::stack_used(thunk, &in);
  fw::print("stack ");
  fw::print(name);
  fw::print(" ");
  fw::print_uint(used);
  fw::print("\n");
}

void print_size(const char* name, std::size_t size) {
  fw::print("sizeof ");
  fw::print(name);
  fw::print(" ");
  fw::print_uint(size);
  fw::print("\n");
}

#if KOM_FOOTPRINT_CALLS
#define KOM_CALL(name, ...)                           \
  run(name, [](void* context) {                       \
    inputs& x = *static_cast<inputs*>(context);       \
    [[maybe_unused]] kom::buffer_writer out(x.request); \
    note(__VA_ARGS__);                                \
  })
#else
#define KOM_CALL(name, ...)   \
  run(name, [](void* context) { \
    fw::keep(context);        \
    note(true);               \
  })
#endif

[[maybe_unused]] int counting_random(void* context, unsigned char* out, std::size_t size) {
  auto* next = static_cast<unsigned char*>(context);
  for (std::size_t i = 0; i < size; ++i) out[i] = (*next)++;
  return 0;
}

void set_up() {
  in.config.server = kom::klarna_endpoint(kom::region::eu, kom::environment::playground);
  in.config.credentials.username = "K123456_abcdef";
  in.config.credentials.password = "sharedsecret";
  in.config.user_agent.os = "FreeRTOS_10.5";
  in.config.user_agent.pos_model = "Kiosk-7";
  in.config.user_agent.firmware = "2.4.1";

  kom::order_line& l = in.lines[0];
  l.type = kom::order_line_type::physical;
  l.reference = "123050";
  l.name = "Tomatoes";
  l.quantity = 10;
  l.quantity_unit = "kg";
  l.unit_price = 600;
  l.tax_rate = 2500;
  l.total_amount = 6000;
  l.total_tax_amount = 1200;
  l.merchant_data = "{\"aisle\":7}";
  l.product_url = "https://shop.example/tomatoes";
  // Optional parts too, so that the stack measured covers validation's deepest path.
  in.identifiers.brand = "Kiosk Farms";
  in.identifiers.category_path = "Food > Vegetables";
  in.identifiers.global_trade_item_number = "735858293167";
  in.identifiers.manufacturer_part_number = "TOM-10";
  in.identifiers.color = "red";
  in.identifiers.size = "10 kg";
  l.product_identifiers = &in.identifiers;
  in.subscription.name = "Weekly vegetables";
  in.subscription.interval = kom::subscription_interval::week;
  in.subscription.interval_count = 1;
  l.subscription = &in.subscription;
  kom::shipping_info& s = in.shipping[0];
  s.shipping_company = "DHL US";
  s.shipping_method = kom::shipping_method::home;
  s.tracking_number = "1234567890";
  s.tracking_uri = "http://shipping.example/findmypackage?1234567890";
  s.return_shipping_company = "UPS";
  s.return_tracking_number = "112233445566778899";
  s.return_tracking_uri = "http://shipping.example/findmypackage?112233445566778899";
  in.capture.captured_amount = 6000;
  in.capture.reference = "c9a94cf1-7126-4f55-92fa-4d34f416ed7f";
  in.capture.order_lines = in.lines;
  in.capture.shipping_info = in.shipping;

  kom::order_line& d = in.documented_lines[0];
  d.type = kom::order_line_type::physical;
  d.reference = "123050";
  d.name = "Tomatoes";
  d.quantity = 10;
  d.quantity_unit = "kg";
  d.unit_price = 600;
  d.tax_rate = 2500;
  d.total_amount = 6000;
  d.total_tax_amount = 1200;
  in.documented.captured_amount = 6000;
  in.documented.reference = "c9a94cf1-7126-4f55-92fa-4d34f416ed7f";
  in.documented.description = "Shipped the full order";
  in.documented.order_lines = in.documented_lines;
  kom::shipping_info& ds = in.documented_shipping[0];
  ds.shipping_company = "DHL US";
  ds.tracking_number = "1234567890";
  ds.return_shipping_company = "UPS";
  ds.return_tracking_number = "112233445566778899";
  in.documented.shipping_info = in.documented_shipping;

  kom::shipping_info& u = in.update_items[0];
  u.shipping_company = "DHL US";
  u.shipping_method = kom::shipping_method::home;
  u.tracking_number = "63456415674545679874";
  in.update.shipping_info = in.update_items;

  in.order_id = "f3392f8b-6116-4073-ab96-e330819e2c07";
  in.capture_id = "4ba29b50-be7b-44f5-a492-113e6a865e22";
  in.key = "2ed6657d-e927-568b-95e1-2665a8aea6a2";
  in.http_201 = fx::http_capture_created_201;
  in.http_200_chunked = fx::http_get_capture_200_chunked;
  in.json_capture = fx::json_capture_min;
  in.json_captures = fx::json_captures;
  in.json_order = fx::json_order_part_captured;
  in.json_error = fx::json_error_no_such_order;
  in.json_refund = fx::json_spec2024_refund;

  in.refund.refunded_amount = 6000;
  in.refund.reference = "RET-0001";
  in.refund.description = "Returned at the till";
  in.refund.order_lines = in.lines;
  in.references.merchant_reference1 = "R-2026-0001";
  in.references.merchant_reference2 = "T-17";
  in.authorization.order_amount = 6000;
  in.authorization.description = "One item out of stock";
  in.authorization.order_lines = in.lines;
#if KOM_FOOTPRINT_OPS == 3
  in.client_config.request = in.config;
  in.hooks.now_ms = [](void*) { return now; };
  in.hooks.sleep_ms = [](void*, std::uint32_t ms) { now += ms; };
  in.hooks.random = [](void*, unsigned char* out, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<unsigned char>(random_state = random_state * 1103515245u + 12345u);
    return 0;
  };
  in.wall.now_ms = [](void*) { return now; };
  in.flash.wipe();
  in.transport = in.link.transport();  // the link's code is the terminal's: in the baseline too
  fw::keep(&in.transport);
#endif
}

}  // namespace

int main() {
  set_up();
  fw::print(KOM_FOOTPRINT_OPS == 1 ? "footprint capture-only" : KOM_FOOTPRINT_OPS == 2 ? "footprint all-ops" : "footprint client+outbox");
  fw::print(KOM_FOOTPRINT_CALLS ? "\n" : " baseline\n");
  fw::print("stack available ");
  fw::print_uint(fw::stack_capacity());
  fw::print("\n");
  run("(empty thunk)", [](void*) {});

#if KOM_FOOTPRINT_OPS == 3
  KOM_CALL("client: constructor", (x.client = new (x.client_memory) kom::client(x.transport, x.client_config, x.hooks, x.work), true));
  KOM_CALL("client.capture", x.client->capture(x.order_id, x.documented, {x.key}).ok());
  KOM_CALL("client.get_capture", x.client->get_capture(x.order_id, x.capture_id, x.capture_storage).ok());
  KOM_CALL("client.list_captures", x.client->list_captures(x.order_id, x.items, x.capture_storage).ok());
  KOM_CALL("client.get_order", x.client->get_order(x.order_id, x.order_storage).ok());
  KOM_CALL("client.append_shipping_info", x.client->append_shipping_info(x.order_id, x.capture_id, x.update, {x.key}).ok());
  KOM_CALL("client.trigger_send_out", x.client->trigger_send_out(x.order_id, x.capture_id, {x.key}).ok());
  KOM_CALL("client.refund", x.client->refund(x.order_id, x.refund, {x.key}).ok());
  KOM_CALL("client.get_refund", x.client->get_refund(x.order_id, "ref-1", x.refund_storage).ok());
  KOM_CALL("client.cancel", x.client->cancel(x.order_id, {x.key}).ok());
  KOM_CALL("client.release_remaining_authorization", x.client->release_remaining_authorization(x.order_id, {x.key}).ok());
  KOM_CALL("client.extend_authorization_time", x.client->extend_authorization_time(x.order_id, {x.key}).ok());
  KOM_CALL("client.update_merchant_references", x.client->update_merchant_references(x.order_id, x.references, {x.key}).ok());
  KOM_CALL("client.update_authorization", x.client->update_authorization(x.order_id, x.authorization, {x.key}).ok());
  KOM_CALL("client.capture_remaining", x.client->capture_remaining(x.order_id, {x.key}).ok());
  KOM_CALL("outbox: open", [&x] {
    x.box = new (x.outbox_memory) terminal_outbox(x.flash.storage(), x.wall);
    return x.box->open().ok();
  }());
  KOM_CALL("outbox: queue capture, shipping info, send-out, refund", [&x] {
    const auto cap = x.box->append_capture(x.order_id, x.documented, "3f1c0a9e-0000-4000-8000-000000000001");
    return cap.ok() &&
           x.box->append_shipping_info(x.order_id, kom::capture_ref::of_record(*cap), x.update,
                                       "3f1c0a9e-0000-4000-8000-000000000002").ok() &&
           x.box->append_send_out(x.order_id, kom::capture_ref::of_record(*cap), "3f1c0a9e-0000-4000-8000-000000000003").ok() &&
           x.box->append_refund(x.order_id, x.refund, "3f1c0a9e-0000-4000-8000-000000000004",
                                kom::capture_ref::of_record(*cap)).ok();
  }());
  KOM_CALL("outbox: drain (4 operations)", [&x] {
    const kom::outbox_drain d = x.box->drain(*x.client, x.items, x.capture_storage);
    return d.done == 4 && d.pending == 0;
  }());
#else
  KOM_CALL("write_capture_request (documented capture)",
           kom::write_capture_request(out, x.config, x.order_id, x.documented, x.key).ok());
  KOM_CALL("write_capture_request (line with product_identifiers, subscription)",
           kom::write_capture_request(out, x.config, x.order_id, x.capture, x.key).ok());
  KOM_CALL("wipe_request", (kom::wipe_request(x.request), true));
  KOM_CALL("http_response_parser+feed (201)", [&x] {
    auto* p = new (x.parser) kom::http_response_parser(x.response);
    std::size_t used = 0;
    return p->feed(x.http_201.data(), x.http_201.size(), used) == kom::parse_status::done && p->status() == 201 &&
           p->capture_id() == x.capture_id;
  }());
#endif

#if KOM_FOOTPRINT_OPS == 2
  KOM_CALL("write_get_capture_request",
           kom::write_get_capture_request(out, x.config, x.order_id,
                                          x.capture_id)
               .ok());
  KOM_CALL("write_list_captures_request",
           kom::write_list_captures_request(out, x.config, x.order_id).ok());
  KOM_CALL("write_shipping_info_request",
           kom::write_shipping_info_request(out, x.config, x.order_id,
                                            x.capture_id, x.update, x.key)
               .ok());
  KOM_CALL("write_trigger_send_out_request",
           kom::write_trigger_send_out_request(out, x.config, x.order_id,
                                               x.capture_id, x.key)
               .ok());
  KOM_CALL("write_get_order_request",
           kom::write_get_order_request(out, x.config, x.order_id).ok());
  KOM_CALL("write_refund_request (line with product_identifiers, subscription)",
           kom::write_refund_request(out, x.config, x.order_id, x.refund, x.key).ok());
  KOM_CALL("write_get_refund_request", kom::write_get_refund_request(out, x.config, x.order_id, x.capture_id).ok());
  KOM_CALL("write_cancel_request", kom::write_cancel_request(out, x.config, x.order_id, x.key).ok());
  KOM_CALL("write_release_remaining_authorization_request",
           kom::write_release_remaining_authorization_request(out, x.config, x.order_id, x.key).ok());
  KOM_CALL("write_extend_authorization_time_request",
           kom::write_extend_authorization_time_request(out, x.config, x.order_id, x.key).ok());
  KOM_CALL("write_merchant_references_request",
           kom::write_merchant_references_request(out, x.config, x.order_id, x.references, x.key).ok());
  KOM_CALL("write_authorization_update_request (line with product_identifiers, subscription)",
           kom::write_authorization_update_request(out, x.config, x.order_id, x.authorization, x.key).ok());
  KOM_CALL("validate (line with product_identifiers, subscription)", kom::validate(x.capture).ok());
  KOM_CALL("write_body (line with product_identifiers, subscription)", kom::write_body(x.capture, out).ok());
  KOM_CALL("uuid_v4+uuid_text", [&x] {
    const kom::result<kom::uuid> u = kom::uuid_v4(counting_random, &x.random_state);
    return u.ok() && kom::uuid_text(*u).view().size() == 36;
  }());
  KOM_CALL("parse_uuid", [&x] {
    kom::uuid u;
    return kom::parse_uuid(x.key, u);
  }());
  KOM_CALL("http_response_parser+feed (200 chunked)", [&x] {
    auto* p = new (x.parser) kom::http_response_parser(x.response);
    std::size_t used = 0;
    return p->feed(x.http_200_chunked.data(), x.http_200_chunked.size(), used) == kom::parse_status::done &&
           p->body().size() == 1005;
  }());
  KOM_CALL("read_capture", kom::read_capture(x.json_capture, x.capture_out, x.capture_storage).ok() &&
                               x.capture_out.captured_amount == 6000);
  KOM_CALL("read_captures", kom::read_captures(x.json_captures, x.list, x.items, x.capture_storage).ok() &&
                                x.list.captures.size() == 2);
  KOM_CALL("read_order", kom::read_order(x.json_order, x.order, x.order_storage).ok() && x.order.captures.size() == 2);
  KOM_CALL("read_refund", kom::read_refund(x.json_refund, x.refund_out, x.capture_storage).ok() &&
                              x.refund_out.order_lines.size() == 1);
  KOM_CALL("read_error_body", kom::read_error_body(x.json_error, x.error_body, x.error_storage).ok() &&
                                  x.error_body.error_messages.size() == 1);
#endif

  print_size("http_response_parser", sizeof(kom::http_response_parser));
  print_size("capture_storage<>", sizeof(kom::capture_storage<>));
  print_size("order_storage<>", sizeof(kom::order_storage<>));
  print_size("error_body_storage<>", sizeof(kom::error_body_storage<>));
#if KOM_FOOTPRINT_OPS == 3
  print_size("client", sizeof(kom::client));
  print_size("basic_outbox<operations<16>,record_bytes<512>,lines<2>,shipping_entries<2>>", sizeof(terminal_outbox));
#endif
  fw::print("heap calls ");
  fw::print_uint(fw::heap_calls());
  fw::print("\nfailed calls ");
  fw::print_uint(static_cast<std::uint64_t>(failures));
  fw::print("\n");
  return failures == 0 && fw::heap_calls() == 0 ? 0 : 1;
}
