// libFuzzer target: kom::read_order over any bytes, strict and with truncation allowed, each
// read held to what Boost.JSON's DOM of the same bytes says (fuzz_json_oracle.hpp).
// Build: clang++ -std=c++17 -fsanitize=fuzzer,address,undefined -Iinclude tests/fuzz/fuzz_json_order.cpp
#include <boost/json/src.hpp>  // all of Boost.JSON compiled in: its DOM is the oracle

#include <cstddef>
#include <cstdint>

#include "fuzz_json_common.hpp"
#include "fuzz_json_oracle.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  static kom::order_storage<kom::capacity::captures<3>, kom::capacity::text_bytes<160>> storage;
  const kom_fuzz::dom_reading dom(body);
  kom_fuzz::differential(body, [&](std::string_view b, const kom::read_options& options, std::uint64_t& hash,
                                   bool& truncated) {
    kom::order order;
    const kom::error e = kom::read_order(b, order, storage, options);
    const kom::order_storage_ref ref = storage;
    kom_fuzz::hasher h(ref.text, ref.text_capacity);
    kom_fuzz::touch(h, order, ref);
    hash = h.value();
    truncated = order.truncated;

    kom_fuzz::expected_order expected(options.allow_truncation, ref);
    const kom::order want = expected.read(dom.root());
    kom_fuzz::judge(dom, expected, e, order.truncated, [&] { kom_fuzz::same(order, want); });
    return e;
  });
  return 0;
}
