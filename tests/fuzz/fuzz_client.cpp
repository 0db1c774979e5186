// libFuzzer target for kom::client over kom::testing::fake_transport: the server's bytes, the network's
// partial I/O and its faults are the fuzzer's.
//
// Input: eight option bytes, then the server's bytes. The options:
//   [0] max_io (0: no limit)          [1] block_every (low 3 bits)
//   [2] op number of a fault          [3] its kind (fake_fault, mod 8), high bit: on a connect
//   [4] work buffer: 256 + 64 * [4]   [5] low 2 bits: max attempts - 1; bit 2: no retries of
//                                         GETs; bit 3: the server closes after each reply
//   [6] op number of a second fault   [7] its kind
// The server's bytes are split at each "\n~~\n" into the answers of successive requests (the
// calls are capture, get_capture, get_order, refund, get_refund, in that order, with
// retries); a request beyond the last answer gets none (its read times out). The work buffer
// is heap-allocated at exactly its size, so AddressSanitizer sees a byte read or written past it.
//
// Checked with __builtin_trap(): no heap allocation during the calls (malloc hooks), every
// reply's outcome agrees with its error, status, attempts and `sent`, every view lies in the
// work buffer or the caller's storage, the transport's contract is kept, and no credentials
// are left in the work buffer after a call.
#include "kom/src.hpp"  // Boost.JSON's compiled part: this target is its own program

#include <sanitizer/allocator_interface.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>

#include "kom/client.hpp"
#include "kom/fields.hpp"
#include "kom/testing/fake_transport.hpp"

namespace {

void require(bool ok) {
  if (!ok) __builtin_trap();
}

// Allocations made by this thread while `counting` is set. Per thread: libFuzzer's own
// threads (the -rss_limit_mb watcher) allocate at any time, and those are not kom's. The hook
// runs inside the allocator, so these are trivial, constant-initialised thread_locals: in an
// executable they are read at a fixed offset from the thread pointer, with no TLS wrapper or
// __tls_get_addr call that could allocate.
thread_local bool counting = false;
thread_local std::size_t allocations = 0;
void on_malloc(const volatile void*, std::size_t) {
  if (counting) ++allocations;
}
void on_free(const volatile void*) {}
const int hooks_installed = __sanitizer_install_malloc_and_free_hooks(on_malloc, on_free);

constexpr std::string_view separator = "\n~~\n";
constexpr std::size_t max_answers = 32;
// base64("fuzz_user:fuzz-Pa55")
constexpr std::string_view basic_token = "ZnV6el91c2VyOmZ1enotUGE1NQ==";

using fake_type = kom::testing::basic_fake_transport<65536, 65536, 16384>;

struct server {
  std::string_view answers[max_answers];
  std::size_t count = 0;
  std::size_t next = 0;
  bool close_after = false;

  static void respond(void* c, fake_type& fake, std::string_view) {
    auto* s = static_cast<server*>(c);
    if (s->next < s->count) {
      if (!s->answers[s->next].empty()) fake.reply(s->answers[s->next]);
      if (s->close_after) fake.close_after_reply();
    }
    ++s->next;
  }
};

struct fake_clock {
  std::uint64_t now = 1000;
  std::uint32_t random_state = 7;
  std::uint32_t limited = 0;  // 429 answers (attempts that do not count against max_attempts)
};

// The 429s the last call met, which may add to its attempts; counting starts again.
std::uint32_t limited_since(fake_clock& c) {
  const std::uint32_t n = c.limited;
  c.limited = 0;
  return n;
}

kom::client_hooks hooks_for(fake_clock& c) {
  kom::client_hooks h;
  h.context = &c;
  h.now_ms = [](void* p) { return static_cast<fake_clock*>(p)->now; };
  h.sleep_ms = [](void* p, std::uint32_t ms) { static_cast<fake_clock*>(p)->now += ms == 0 ? 1 : ms; };
  h.random = [](void* p, unsigned char* out, std::size_t n) {
    auto* k = static_cast<fake_clock*>(p);
    for (std::size_t i = 0; i < n; ++i) {
      k->random_state = k->random_state * 1103515245u + 12345u;
      out[i] = static_cast<unsigned char>(k->random_state >> 16);
    }
    return 0;
  };
  h.random_context = &c;
  h.log = [](void* p, const kom::log_record& r) {
    if (r.what == kom::log_record::kind::response && r.status == 429) ++static_cast<fake_clock*>(p)->limited;
  };
  return h;
}

struct bounds {
  const char* begin;
  std::size_t size;
  bool holds(std::string_view v) const {
    if (v.empty()) return true;
    const auto at = reinterpret_cast<std::uintptr_t>(v.data());
    const auto b = reinterpret_cast<std::uintptr_t>(begin);
    return at >= b && at - b <= size && v.size() <= size - (at - b);
  }
};

volatile std::size_t sink = 0;

// Reads every byte of a view (ASan sees a stale or foreign one) that must lie in one of two places.
void touch(std::string_view v, const bounds& a, const bounds& b) {
  require(a.holds(v) || b.holds(v));
  std::size_t sum = 0;
  for (char c : v) sum += static_cast<unsigned char>(c);
  sink = sink + sum;
}

template <class T>
void touch_object(const T& object, const bounds& work, const bounds& storage);

// Every view of a read reply, by kom/fields.hpp's descriptions (so a field added there is
// touched too): texts in the work buffer or the storage, objects and list items in the storage.
template <class T, class D>
void touch_field(const T& object, const D& d, const bounds& work, const bounds& storage) {
  if constexpr (D::kind == kom::field_kind::text) {
    touch(object.*d.member, work, storage);
  } else if constexpr (D::kind == kom::field_kind::enumeration) {
    if (d.text != nullptr) touch(object.*d.text, work, storage);
  } else if constexpr (D::kind == kom::field_kind::object) {
    if (const auto* child = object.*d.member) {
      require(storage.holds({reinterpret_cast<const char*>(child), sizeof *child}));
      touch_object(*child, work, storage);
    }
  } else if constexpr (D::kind == kom::field_kind::embedded) {
    touch_object(object.*d.member, work, storage);
  } else if constexpr (D::kind == kom::field_kind::list) {
    for (const auto& item : object.*d.member) {
      require(storage.holds({reinterpret_cast<const char*>(&item), sizeof item}));
      touch_object(item, work, storage);
    }
  }
}

template <class T>
void touch_object(const T& object, const bounds& work, const bounds& storage) {
  kom::fields_of<T>::visit([&](const auto& d) { touch_field(object, d, work, storage); });
}

// Klarna's error body is read into storage inside the client object. `missing_id`: a POST's
// error for a 2xx without the new item's id.
template <class T>
void check_reply(const kom::reply<T>& r, int expected, std::uint32_t max_attempts, const bounds& work,
                 const bounds& storage, const bounds& client, kom::errc missing_id = kom::errc::missing_capture_id) {
  const kom::outcome next = r.next_step();
  const bool post = expected == 201;  // the capture and the refund; the other calls here are GETs
  const bool success_status = r.status >= 200 && r.status < 300;
  require(r.ok() == (next == kom::outcome::done));
  require(r.ok() == r.error.ok());
  if (r.ok()) {
    require(r.sent && (r.status == expected || (post && success_status)));
  }
  // A 2xx to a POST means Klarna applied it: never reported as not applied.
  if (post && r.sent && success_status) require(next != kom::outcome::refused);
  require(next != kom::outcome::unknown);  // every POST here carries a key
  if (next == kom::outcome::applied_id_unknown) {
    require(post && r.sent && success_status && r.error.code() == missing_id);
  }
  require(r.attempts <= max_attempts);
  if (r.sent) require(r.attempts >= 1);
  if (r.attempts == 0) {
    // Refused before any attempt: the request could not be written (a bad id from the
    // server's answer, or a work buffer too small for it).
    require(!r.sent && next == kom::outcome::refused);
    require(r.error.code() == kom::errc::invalid_path_id || r.error.code() == kom::errc::buffer_too_small);
  }
  if (r.status != 0) require(r.sent && r.status >= 100 && r.status <= 599);
  if (!r.sent) require(r.status == 0 && r.correlation_id.empty());
  if (r.error.code() == kom::errc::http_error) {
    require(r.status >= 400 && r.error.detail() == r.status);
    require(next != kom::outcome::done);
  }
  const bool retryable = r.status == 408 || r.status == 409 || r.status == 429 || r.status >= 500;
  if (r.sent && retryable) require(next == kom::outcome::retry_later);
  if (r.sent && r.status >= 400 && !retryable) require(next == kom::outcome::refused);
  touch(r.correlation_id, work, storage);
  touch(r.klarna.error_code_text, work, client);
  touch(r.klarna.correlation_id, work, client);
  for (std::string_view m : r.klarna.error_messages) touch(m, work, client);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  constexpr std::size_t options = 8;
  if (size < options) return 0;
  require(hooks_installed != 0);
  const std::size_t work_size = 256 + 64 * std::size_t{data[4]};
  const std::uint32_t max_attempts = 1u + (data[5] & 3u);

  static fake_type fake;  // 160 KiB: not on the stack
  fake.reset();
  server srv;
  const std::string_view rest(reinterpret_cast<const char*>(data + options), size - options);
  for (std::size_t at = 0; srv.count < max_answers;) {
    const std::size_t end = rest.find(separator, at);
    srv.answers[srv.count++] = rest.substr(at, end == std::string_view::npos ? std::string_view::npos : end - at);
    if (end == std::string_view::npos) break;
    at = end + separator.size();
  }
  srv.close_after = (data[5] & 8u) != 0;
  fake.set_responder(&server::respond, &srv);
  fake.max_io(data[0]);
  fake.block_every(data[1] & 7u);
  const auto fault = [](std::uint8_t at, std::uint8_t kind) {
    const auto f = static_cast<kom::testing::fake_fault>(kind % 8u);
    if ((kind & 0x80u) != 0) {
      fake.fault_on_connect(at % 8u, f);
    } else {
      fake.fault_at(at, f);
    }
  };
  fault(data[2], data[3]);
  fault(data[6], data[7]);

  kom::client_config config;
  config.request.server = {"api.playground.klarna.com", 443};
  config.request.credentials.username = "fuzz_user";
  config.request.credentials.password = "fuzz-Pa55";
  config.retry.max_attempts = max_attempts;
  config.retry.retry_gets = (data[5] & 4u) == 0;
  config.timeouts.read_ms = 1000;
  config.timeouts.response_ms = 5000;

  static kom::capture_storage<> capture_store;
  static kom::order_storage<> order_store;
  static kom::refund_storage<> refund_store;
  const bounds capture_bounds{reinterpret_cast<const char*>(&capture_store), sizeof capture_store};
  const bounds order_bounds{reinterpret_cast<const char*>(&order_store), sizeof order_store};
  const bounds refund_bounds{reinterpret_cast<const char*>(&refund_store), sizeof refund_store};

  std::unique_ptr<char[]> work(new char[work_size]);
  std::memset(work.get(), 0, work_size);
  const bounds work_bounds{work.get(), work_size};
  fake_clock time;

  kom::order_line line;
  line.type = kom::order_line_type::physical;
  line.reference = "ESP-1";
  line.name = "Espresso machine";
  line.quantity = 1;
  line.unit_price = 3000;
  line.total_amount = 3000;
  kom::capture_request request;
  request.captured_amount = 3000;
  request.reference = "till-7/4711";
  request.order_lines = {&line, 1};
  const std::string_view key = "2d5c5c8e-3a8e-4d4f-9b7f-6a3f1c0a9e11";
  kom::refund_request refund_request;
  refund_request.refunded_amount = 3000;
  refund_request.reference = "till-7/4711-R1";
  refund_request.order_lines = {&line, 1};
  const std::string_view refund_key = "7a1e4c2b-5d3f-4e8a-9c6b-1f2d3e4a5b6c";
  const std::string_view work_text(work.get(), work_size);
  // The credentials must not stay in the work buffer, unless the server's bytes hold them
  // (its answer is kept there).
  const bool server_sent_token = rest.find(basic_token.substr(0, 4)) != std::string_view::npos;
  const auto no_credentials = [&] {
    require(server_sent_token || work_text.find(basic_token) == std::string_view::npos);
  };

  {
    kom::client c(fake.transport(), config, hooks_for(time), work.get(), work_size);
    const bounds client_bounds{reinterpret_cast<const char*>(&c), sizeof c};
    allocations = 0;
    counting = true;

    const kom::reply<kom::capture_created> cap = c.capture("order-1", request, {key});
    counting = false;
    check_reply(cap, 201, max_attempts + limited_since(time), work_bounds, work_bounds, client_bounds);
    require(cap.idempotency_key == key);
    touch(cap.value.capture_id, work_bounds, work_bounds);
    touch(cap.value.location, work_bounds, work_bounds);
    if (cap.ok()) require(!cap.value.capture_id.empty());
    no_credentials();

    // The capture id, when one came and is a valid path id, else a fixed one.
    char id[64] = "cap-1";
    std::size_t id_size = 5;
    if (cap.ok() && cap.value.capture_id.size() < sizeof id) {
      id_size = cap.value.capture_id.size();
      std::memcpy(id, cap.value.capture_id.data(), id_size);
    }
    counting = true;
    const kom::reply<kom::capture> got = c.get_capture("order-1", {id, id_size}, capture_store);
    counting = false;
    check_reply(got, 200, max_attempts + limited_since(time), work_bounds, capture_bounds, client_bounds);
    if (got.error.code() == kom::errc::invalid_path_id) require(!got.sent && got.attempts == 0);
    touch_object(got.value, work_bounds, capture_bounds);
    no_credentials();

    counting = true;
    const kom::reply<kom::order> ord = c.get_order("order-1", order_store);
    counting = false;
    check_reply(ord, 200, max_attempts + limited_since(time), work_bounds, order_bounds, client_bounds);
    touch_object(ord.value, work_bounds, order_bounds);  // its lines, refunds and payment method too
    no_credentials();

    counting = true;
    const kom::reply<kom::refund_created> ref = c.refund("order-1", refund_request, {refund_key});
    counting = false;
    check_reply(ref, 201, max_attempts + limited_since(time), work_bounds, work_bounds, client_bounds, kom::errc::missing_refund_id);
    require(ref.idempotency_key == refund_key);
    touch(ref.value.refund_id, work_bounds, work_bounds);
    touch(ref.value.location, work_bounds, work_bounds);
    if (ref.ok()) require(!ref.value.refund_id.empty());
    no_credentials();

    // The refund id, as the capture id above.
    char refund_id[64] = "ref-1";
    std::size_t refund_id_size = 5;
    if (ref.ok() && ref.value.refund_id.size() < sizeof refund_id) {
      refund_id_size = ref.value.refund_id.size();
      std::memcpy(refund_id, ref.value.refund_id.data(), refund_id_size);
    }
    counting = true;
    const kom::reply<kom::refund> got_refund = c.get_refund("order-1", {refund_id, refund_id_size}, refund_store);
    counting = false;
    check_reply(got_refund, 200, max_attempts + limited_since(time), work_bounds, refund_bounds, client_bounds);
    if (got_refund.error.code() == kom::errc::invalid_path_id) require(!got_refund.sent && got_refund.attempts == 0);
    touch_object(got_refund.value, work_bounds, refund_bounds);
    no_credentials();
    require(allocations == 0);
  }
  require(fake.contract_violations() == 0);
  return 0;
}
