// libFuzzer target: kom::read_order over any bytes, strict and with truncation allowed.
// Build: clang++ -std=c++17 -fsanitize=fuzzer,address,undefined -Iinclude tests/fuzz/fuzz_json_order.cpp
#include "kom/src.hpp"  // Boost.JSON's compiled part: this target is its own program

#include <cstddef>
#include <cstdint>

#include "fuzz_json_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  static kom::order_storage<3, 160> storage;
  kom_fuzz::differential(body, [](std::string_view b, const kom::read_options& options, std::uint64_t& hash,
                                  bool& truncated) {
    kom::order order;
    const kom::error e = kom::read_order(b, order, storage, options);
    const kom::order_storage_ref ref = storage;
    kom_fuzz::hasher h(ref.text, ref.text_capacity);
    kom_fuzz::touch(h, order, ref);
    hash = h.value();
    truncated = order.truncated;
    return e;
  });
  return 0;
}
