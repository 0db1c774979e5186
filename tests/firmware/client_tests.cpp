// kom::client and kom::outbox on an emulated Cortex-M4 (qemu-system-arm -M mps2-an386), with
// no mbedTLS on the target: every call of the client, with retries, over an in-memory transport
// (kom::testing::basic_fake_transport) playing Klarna, and an outbox in RAM block storage
// drained through a power cut at every write, then a reboot. Klarna is a model here with fixed
// storage that applies each idempotency key once and answers a key's first attempt 503 and its
// second 429 (Retry-After: 1), so every call retries twice; what was applied is judged by the
// model, not by kom's replies.
//
// Each call runs through fw::stack_used and prints "stack <call> <bytes>" (scripts/footprint
// reads them); the run ends with "kom firmware tests: N passed, M failed" and exits 0 only when
// all passed and nothing touched the heap.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <string_view>

#include "kom/client.hpp"
#include "kom/outbox.hpp"
#include "kom/src.hpp"
#include "kom/testing/fake_transport.hpp"

#include "board.hpp"
#include "explain.hpp"
#include "ram_flash.hpp"
#include "fixtures.hpp"

static_assert(KOM_USE_MBEDTLS == 0, "the Cortex-M4 build has no mbedTLS");

namespace {

using std::string_view;

using fw::check;
using fw::explain;


// ---- a small text builder for the model's answers ---------------------------------------

struct text {
  char data[512];
  std::size_t size = 0;
  text& operator<<(string_view s) {
    for (char c : s)
      if (size < sizeof data) data[size++] = c;
    return *this;
  }
  text& operator<<(std::uint64_t n) {
    char digits[20];
    std::size_t k = 0;
    do {
      digits[k++] = static_cast<char>('0' + n % 10);
      n /= 10;
    } while (n != 0);
    while (k > 0) *this << string_view(&digits[--k], 1);
    return *this;
  }
  string_view view() const { return {data, size}; }
};

bool ends_with(string_view s, string_view tail) {
  return s.size() >= tail.size() && s.substr(s.size() - tail.size()) == tail;
}

// The value after `"name":` in a JSON body: a number, or a string's text.
string_view json_value(string_view body, string_view name) {
  char pattern[40] = "\"";
  std::size_t n = 1;
  for (char c : name) pattern[n++] = c;
  pattern[n++] = '"';
  pattern[n++] = ':';
  const std::size_t at = body.find(string_view(pattern, n));
  if (at == string_view::npos) return {};
  std::size_t from = at + n;
  if (from < body.size() && body[from] == '"') {
    const std::size_t end = body.find('"', from + 1);
    return end == string_view::npos ? string_view{} : body.substr(from + 1, end - from - 1);
  }
  std::size_t end = from;
  while (end < body.size() && body[end] >= '0' && body[end] <= '9') ++end;
  return body.substr(from, end - from);
}

std::int64_t number(string_view digits) {
  std::int64_t v = 0;
  for (char c : digits) v = v * 10 + (c - '0');
  return v;
}

// ---- Klarna, as a model with fixed storage ----------------------------------------------

using fake_type = kom::testing::basic_fake_transport<8192, 8192, 8192>;

struct klarna_model {
  static constexpr int max_keys = 64;
  static constexpr int max_items = 16;
  struct key_state {
    char key[64];
    std::size_t size = 0;
    int attempts = 0;
    bool applied = false;
    int item = -1;  // the capture or refund it made
  };
  key_state keys[max_keys];
  int key_count = 0;
  struct capture {
    std::int64_t amount = 0;
    char reference[32] = {};
    int shipping = 0;
    int send_outs = 0;
  };
  capture captures[max_items];
  int capture_count = 0;
  std::int64_t refunds[max_items] = {};
  int refund_count = 0;
  int cancels = 0, releases = 0, extensions = 0, reference_updates = 0, authorization_updates = 0;
  int requests = 0;
  bool flaky = true;  // a key's first attempt: 503; its second: 429

  void reset() { *this = klarna_model(); }

  key_state* key_of(string_view key) {
    for (int i = 0; i < key_count; ++i)
      if (string_view(keys[i].key, keys[i].size) == key) return &keys[i];
    if (key_count == max_keys || key.size() > sizeof keys[0].key) return nullptr;
    key_state& k = keys[key_count++];
    std::memcpy(k.key, key.data(), key.size());
    k.size = key.size();
    return &k;
  }

  static void answer(void* context, fake_type& fake, string_view request) {
    static_cast<klarna_model*>(context)->respond(fake, request);
  }

  void respond(fake_type& fake, string_view request) {
    ++requests;
    const std::size_t line_end = request.find("\r\n");
    const string_view line = request.substr(0, line_end);
    const std::size_t sp1 = line.find(' ');
    const std::size_t sp2 = line.find(' ', sp1 + 1);
    const string_view method = line.substr(0, sp1);
    const string_view path = line.substr(sp1 + 1, sp2 - sp1 - 1);
    const std::size_t head_end = request.find("\r\n\r\n");
    const string_view body = request.substr(head_end + 4);
    // The answer is built in static storage: the model runs inside the client's send(), so its
    // own frames would count in the call's stack high-water mark.
    static text out;
    out.size = 0;
    const std::size_t key_at = request.find("Klarna-Idempotency-Key: ");
    string_view key;
    if (key_at != string_view::npos && key_at < head_end) {
      const std::size_t from = key_at + 24;
      key = request.substr(from, request.find("\r\n", from) - from);
    }
    if (method == "GET") {
      string_view json = fx::json_order_part_captured;
      if (ends_with(path, "/captures")) json = fx::json_captures;
      else if (path.find("/captures/") != string_view::npos) json = fx::json_capture_min;
      else if (path.find("/refunds/") != string_view::npos) json = fx::json_spec2024_refund;
      out << "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
          << static_cast<std::uint64_t>(json.size()) << "\r\n\r\n";
      fake.reply(out.view());
      fake.reply(json);
      return;
    }
    key_state* k = key.empty() ? nullptr : key_of(key);
    if (k == nullptr) {
      fake.reply("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
      return;
    }
    ++k->attempts;
    if (flaky && !k->applied && k->attempts == 1) {
      fake.reply("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n");
      return;
    }
    if (flaky && !k->applied && k->attempts == 2) {
      fake.reply("HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Length: 0\r\n\r\n");
      return;
    }
    if (!k->applied) apply(*k, method, path, body);  // later attempts: the first answer again
    if (ends_with(path, "/captures")) {
      out << "HTTP/1.1 201 Created\r\nCapture-Id: cap-" << static_cast<std::uint64_t>(k->item)
          << "\r\nContent-Length: 0\r\n\r\n";
    } else if (ends_with(path, "/refunds")) {
      out << "HTTP/1.1 201 Created\r\nRefund-Id: ref-" << static_cast<std::uint64_t>(k->item)
          << "\r\nContent-Length: 0\r\n\r\n";
    } else {
      out << "HTTP/1.1 204 No Content\r\n\r\n";
    }
    fake.reply(out.view());
  }

  void apply(key_state& k, string_view method, string_view path, string_view body) {
    k.applied = true;
    if (method == "POST" && ends_with(path, "/captures") && capture_count < max_items) {
      capture& c = captures[capture_count];
      c.amount = number(json_value(body, "captured_amount"));
      const string_view ref = json_value(body, "reference");
      std::memcpy(c.reference, ref.data(), ref.size() < sizeof c.reference ? ref.size() : sizeof c.reference - 1);
      k.item = capture_count++;
    } else if (ends_with(path, "/shipping-info") || ends_with(path, "/trigger-send-out")) {
      // …/captures/cap-N/shipping-info: the capture's number
      const std::size_t at = path.find("/captures/cap-");
      const int n = at == string_view::npos ? -1 : static_cast<int>(number(path.substr(at + 14, 1)));
      if (n >= 0 && n < capture_count) (ends_with(path, "/shipping-info") ? captures[n].shipping : captures[n].send_outs) += 1;
    } else if (ends_with(path, "/refunds") && refund_count < max_items) {
      refunds[refund_count] = number(json_value(body, "refunded_amount"));
      k.item = refund_count++;
    } else if (ends_with(path, "/cancel")) {
      ++cancels;
    } else if (ends_with(path, "/release-remaining-authorization")) {
      ++releases;
    } else if (ends_with(path, "/extend-authorization-time")) {
      ++extensions;
    } else if (ends_with(path, "/merchant-references")) {
      ++reference_updates;
    } else if (ends_with(path, "/authorization")) {
      ++authorization_updates;
    }
  }
};

// ---- the terminal -----------------------------------------------------------------------

fake_type fake;
klarna_model klarna;
std::uint64_t clock_ms = 1'800'000'000'000ULL;  // a wall clock in 2027; sleeps move it
std::uint32_t random_state = 12345;

kom::client_hooks hooks() {
  kom::client_hooks h;
  h.now_ms = [](void*) { return clock_ms; };
  h.sleep_ms = [](void*, std::uint32_t ms) { clock_ms += ms; };
  h.random = [](void*, unsigned char* out, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
      random_state = random_state * 1103515245u + 12345u;
      out[i] = static_cast<unsigned char>(random_state >> 16);
    }
    return 0;
  };
  return h;
}

kom::client_config config() {
  kom::client_config c;
  c.request.server = kom::klarna_endpoint(kom::region::eu, kom::environment::playground);
  c.request.credentials.username = "K123456_abcdef";
  c.request.credentials.password = "sharedsecret";
  c.request.user_agent.os = "FreeRTOS_10.5";
  c.request.user_agent.pos_model = "Kiosk-7";
  c.request.user_agent.firmware = "2.4.1";
  return c;
}

char work[8192];  // an order with its lines is 6.5 KB
kom::client* terminal = nullptr;

// What the calls need, in static storage (a firmware task's stack holds only the calls' own).
struct call_state {
  kom::order_line line;
  kom::capture_request capture;
  kom::shipping_info shipping[1];
  kom::shipping_info_update update;
  kom::refund_request refund;
  kom::merchant_references references;
  kom::authorization_update authorization;
  kom::capture items[4];
  kom::capture_storage<> capture_storage;
  kom::refund_storage<> refund_storage;
  kom::order_storage<> order_storage;
  char capture_id[16] = {};
  std::size_t capture_id_size = 0;
  char refund_id[16] = {};
  std::size_t refund_id_size = 0;
  bool ok = false;
  std::uint32_t attempts = 0;
  kom::error error;
};
call_state st;

template <class Reply>
void note(const Reply& r) {
  st.ok = r.ok();
  st.attempts = r.attempts;
  st.error = r.error;
}

void run(const char* name, void (*thunk)(void*)) {
  st.ok = false;
  st.error = {};
  const std::size_t used = fw::stack_used(thunk, nullptr);
  fw::print("stack client.");
  fw::print(name);
  fw::print(" ");
  fw::print_uint(used);
  fw::print("\n");
  check(st.ok, name);
  explain(st.error);
}

void set_up_inputs() {
  st.line.type = kom::order_line_type::physical;
  st.line.reference = "123050";
  st.line.name = "Tomatoes";
  st.line.quantity = 10;
  st.line.quantity_unit = "kg";
  st.line.unit_price = 600;
  st.line.tax_rate = 2500;
  st.line.total_amount = 6000;
  st.line.total_tax_amount = 1200;
  st.capture.captured_amount = 6000;
  st.capture.reference = "till-7/4711";
  st.capture.order_lines = {&st.line, 1};
  st.shipping[0].shipping_company = "DHL US";
  st.shipping[0].shipping_method = kom::shipping_method::home;
  st.shipping[0].tracking_number = "63456415674545679874";
  st.update.shipping_info = st.shipping;
  st.refund.refunded_amount = 6000;
  st.refund.reference = "till-7/4711-R1";
  st.refund.order_lines = {&st.line, 1};
  st.references.merchant_reference1 = "R-2026-0001";
  st.authorization.order_amount = 6000;
  st.authorization.order_lines = {&st.line, 1};
}

constexpr string_view order_id = "f3392f8b-6116-4073-ab96-e330819e2c07";

void client_calls() {
  set_up_inputs();
  run("capture", [](void*) {
    const auto r = terminal->capture(order_id, st.capture);
    note(r);
    if (r.ok()) {
      st.capture_id_size = r.value.capture_id.size() < sizeof st.capture_id ? r.value.capture_id.size() : 0;
      std::memcpy(st.capture_id, r.value.capture_id.data(), st.capture_id_size);
    }
  });
  check(st.attempts == 3, "capture: a 503 and a 429 retried with the same key, then 201");
  check(klarna.capture_count == 1 && klarna.captures[0].amount == 6000, "Klarna holds the capture once, 6000");
  check(string_view(st.capture_id, st.capture_id_size) == "cap-0", "the capture id is Klarna's");
  const string_view capture_id(st.capture_id, st.capture_id_size);
  (void)capture_id;
  run("get_capture", [](void*) {
    note(terminal->get_capture(order_id, string_view(st.capture_id, st.capture_id_size), st.capture_storage));
  });
  run("list_captures", [](void*) { note(terminal->list_captures(order_id, st.items, st.capture_storage)); });
  run("get_order", [](void*) { note(terminal->get_order(order_id, st.order_storage)); });
  run("append_shipping_info", [](void*) {
    note(terminal->append_shipping_info(order_id, string_view(st.capture_id, st.capture_id_size), st.update));
  });
  run("trigger_send_out", [](void*) {
    note(terminal->trigger_send_out(order_id, string_view(st.capture_id, st.capture_id_size)));
  });
  check(klarna.captures[0].shipping == 1 && klarna.captures[0].send_outs == 1,
        "Klarna holds one shipping entry and one send-out for the capture");
  run("refund", [](void*) {
    const auto r = terminal->refund(order_id, st.refund);
    note(r);
    if (r.ok()) {
      st.refund_id_size = r.value.refund_id.size() < sizeof st.refund_id ? r.value.refund_id.size() : 0;
      std::memcpy(st.refund_id, r.value.refund_id.data(), st.refund_id_size);
    }
  });
  run("get_refund", [](void*) {
    note(terminal->get_refund(order_id, string_view(st.refund_id, st.refund_id_size), st.refund_storage));
  });
  run("update_merchant_references",
      [](void*) { note(terminal->update_merchant_references(order_id, st.references)); });
  run("update_authorization", [](void*) { note(terminal->update_authorization(order_id, st.authorization)); });
  run("extend_authorization_time", [](void*) { note(terminal->extend_authorization_time(order_id)); });
  run("release_remaining_authorization",
      [](void*) { note(terminal->release_remaining_authorization(order_id)); });
  run("cancel", [](void*) { note(terminal->cancel("another-order")); });
  run("capture_remaining", [](void*) {
    kom::remaining_capture what;
    what.reference = "till-7/4712";
    note(terminal->capture_remaining(order_id, {}, what));
  });
  check(klarna.refund_count == 1 && klarna.refunds[0] == 6000, "Klarna holds the refund once, 6000");
  check(klarna.reference_updates == 1 && klarna.authorization_updates == 1 && klarna.extensions == 1 &&
            klarna.releases == 1 && klarna.cancels == 1,
        "Klarna applied each update, extension, release and cancel once");
  check(klarna.capture_count == 2, "capture_remaining captured once more");
}

// ---- the outbox in RAM, through a power cut at every write ------------------------------

using terminal_outbox = kom::basic_outbox<kom::capacity::operations<16>, kom::capacity::record_bytes<512>,
                                          kom::capacity::lines<2>, kom::capacity::shipping_entries<2>>;

fw::ram_flash<512, 8> flash;
alignas(terminal_outbox) unsigned char box_memory[sizeof(terminal_outbox)];
terminal_outbox* box = nullptr;
kom::outbox_drain drained;

kom::wall_clock wall() {
  kom::wall_clock w;
  w.now_ms = [](void*) { return clock_ms; };
  return w;
}

// The terminal boots: a new outbox object over the flash as it is.
bool boot() {
  if (box != nullptr) box->~terminal_outbox();
  box = new (box_memory) terminal_outbox(flash.storage(), wall());
  return box->open().ok();
}

bool queue_sale() {
  kom::capture_request c;
  c.captured_amount = 2500;
  c.reference = "till-7/5001";
  const auto cap = box->append_capture(order_id, c, "3f1c0a9e-0000-4000-8000-000000000001");
  if (!cap) return false;
  static kom::shipping_info entry[1];
  entry[0].shipping_company = "PostNord";
  entry[0].shipping_method = kom::shipping_method::pick_up_store;
  entry[0].tracking_number = "TRK-5001";
  kom::shipping_info_update u;
  u.shipping_info = entry;
  kom::refund_request r;
  r.refunded_amount = 500;
  r.reference = "till-7/5001-R1";
  return box->append_shipping_info(order_id, kom::capture_ref::of_record(*cap), u,
                                   "3f1c0a9e-0000-4000-8000-000000000002")
             .ok() &&
         box->append_send_out(order_id, kom::capture_ref::of_record(*cap), "3f1c0a9e-0000-4000-8000-000000000003")
             .ok() &&
         box->append_refund(order_id, r, "3f1c0a9e-0000-4000-8000-000000000004", kom::capture_ref::of_record(*cap))
             .ok();
}

bool sale_applied_once() {
  return klarna.capture_count == 1 && klarna.captures[0].amount == 2500 &&
         string_view(klarna.captures[0].reference) == "till-7/5001" && klarna.captures[0].shipping == 1 &&
         klarna.captures[0].send_outs == 1 && klarna.refund_count == 1 && klarna.refunds[0] == 500;
}

void drain_now(void*) { drained = box->drain(*terminal, st.items, st.capture_storage); }

void outbox_calls() {
  // A drain without a power cut: how many writes it makes, and its stack.
  flash.wipe();
  klarna.reset();
  check(boot() && queue_sale(), "outbox: the sale's four operations queued in RAM flash");
  flash.writes = 0;
  const std::size_t used = fw::stack_used(drain_now, nullptr);
  fw::print("stack outbox.drain (4 operations, each retried twice) ");
  fw::print_uint(used);
  fw::print("\n");
  const std::size_t writes = flash.writes;
  check(drained.done == 4 && drained.pending == 0 && !drained.stopped, "outbox: the drain applied all four");
  check(sale_applied_once(), "outbox: Klarna holds the capture, shipping entry, send-out and refund once each");

  // The power goes at each write and erase of the drain in turn; the terminal reboots and
  // drains again. Klarna must hold everything once each time.
  int good = 0, replays = 0;
  for (std::size_t cut = 0; cut <= writes; ++cut) {
    flash.wipe();
    klarna.reset();
    if (!boot() || !queue_sale()) break;
    flash.writes = 0;
    flash.budget = cut;
    box->drain(*terminal, st.items, st.capture_storage);
    terminal->close();  // the reboot drops the connection too
    flash.reboot();
    if (!boot()) break;
    const kom::outbox_drain after = box->drain(*terminal, st.items, st.capture_storage);
    if (after.pending == 0 && !after.stopped && sale_applied_once()) ++good;
    for (int k = 0; k < klarna.key_count; ++k) replays += klarna.keys[k].attempts > 3 ? 1 : 0;
  }
  fw::print("     power cuts: ");
  fw::print_uint(writes + 1);
  fw::print(" points, ");
  fw::print_uint(static_cast<std::uint64_t>(replays));
  fw::print(" resends of an applied operation after the reboot\n");
  check(good == static_cast<int>(writes) + 1, "outbox: after a power cut at any write and a reboot, everything once");
  check(replays > 0, "outbox: some cuts came after Klarna applied an operation (its key was sent again)");
}

}  // namespace

int main() {
  fw::print("kom client and outbox on a Cortex-M4\n");
  fw::print("stack available ");
  fw::print_uint(fw::stack_capacity());
  fw::print("\n");
  fake.set_responder(&klarna_model::answer, &klarna);
  static kom::client c(fake.transport(), config(), hooks(), work);
  terminal = &c;
  client_calls();
  outbox_calls();
  fw::print("sizeof client ");
  fw::print_uint(sizeof(kom::client));
  fw::print("\nsizeof outbox (16 operations) ");
  fw::print_uint(sizeof(terminal_outbox));
  fw::print("\n");
  check(fw::heap_calls() == 0, "no heap: malloc, calloc, realloc and _sbrk never called");
  return fw::report() ? 0 : 1;
}
