// libFuzzer target: kom::read_order over any bytes, strict and with truncation allowed, each
// read held to what Boost.JSON's DOM of the same bytes says (fuzz_json_oracle.hpp). Each body
// is read twice: into the whole storage, then with some of its arrays null (those lists are
// skipped, not truncated) or given no room (capacity 0).
// Build: clang++ -std=c++17 -fsanitize=fuzzer,address,undefined -Iinclude tests/fuzz/fuzz_json_order.cpp
#include <boost/json/src.hpp>  // all of Boost.JSON compiled in: its DOM is the oracle

#include <cstddef>
#include <cstdint>

#include "fuzz_json_common.hpp"
#include "fuzz_json_oracle.hpp"

namespace {

// Small capacities, so that "no room" happens often.
using fuzz_order_storage =
    kom::order_storage<kom::capacity::captures<3>, kom::capacity::refunds<2>, kom::capacity::lines<3>,
                       kom::capacity::product_identifiers<1>, kom::capacity::subscriptions<1>,
                       kom::capacity::text_bytes<160>>;

// Leaves one array of a storage as it is (state 0), or makes it null (1: the read skips its
// list) or roomless (2: capacity 0, an error or a truncation).
template <class T>
void set_array(T*& items, std::size_t& capacity, unsigned state) {
  if (state == 1) items = nullptr;
  if (state == 2) capacity = 0;
}

// The whole storage with each of its five arrays in one of those states, picked by `n`, so
// that every mix comes up over a corpus.
kom::order_storage_ref mixed(kom::order_storage_ref ref, std::size_t n) {
  set_array(ref.captures, ref.captures_capacity, n % 3);
  set_array(ref.refunds, ref.refunds_capacity, n / 3 % 3);
  set_array(ref.lines, ref.lines_capacity, n / 9 % 3);
  set_array(ref.identifiers, ref.identifiers_capacity, n / 27 % 3);
  set_array(ref.subscriptions, ref.subscriptions_capacity, n / 81 % 3);
  return ref;
}

void read_into(std::string_view body, const kom_fuzz::dom_reading& dom, const kom::order_storage_ref& ref) {
  kom_fuzz::differential(body, [&](std::string_view b, const kom::read_options& options, std::uint64_t& hash,
                                   bool& truncated) {
    kom::order order;
    const kom::error e = kom::read_order(b, order, ref, options);
    kom_fuzz::hasher h(ref.text, ref.text_capacity);
    kom_fuzz::touch(h, order, ref);
    hash = h.value();
    truncated = order.truncated;

    kom_fuzz::expected_order expected(options.allow_truncation, ref);
    const kom::order want = expected.read(dom.root());
    kom_fuzz::judge(dom, expected, e, order.truncated, [&] { kom_fuzz::same(order, want); });
    return e;
  });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  static fuzz_order_storage storage;
  const kom_fuzz::dom_reading dom(body);
  read_into(body, dom, storage);
  // By the body's length: a mutation that keeps the length keeps the mix. 3^5 mixes;
  // mix 0 is the whole storage again, so it takes the one with every array null (an order
  // read for its amounts, as client::capture_remaining does).
  const std::size_t mix = size % 243;
  read_into(body, dom, mixed(storage, mix == 0 ? 1 + 3 + 9 + 27 + 81 : mix));
  return 0;
}
