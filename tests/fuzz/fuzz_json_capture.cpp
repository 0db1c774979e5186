// libFuzzer target: kom::read_capture over any bytes, strict and with truncation allowed.
// Build: clang++ -std=c++17 -fsanitize=fuzzer,address,undefined -Iinclude tests/fuzz/fuzz_json_capture.cpp
#include "kom/src.hpp"  // Boost.JSON's compiled part: this target is its own program

#include <cstddef>
#include <cstdint>

#include "fuzz_json_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  // Small capacities, so that "no room" happens often.
  static kom::capture_storage<4, 2, 256, 2, 2> storage;
  kom_fuzz::differential(body, [](std::string_view b, const kom::read_options& options, std::uint64_t& hash,
                                  bool& truncated) {
    kom::capture capture;
    const kom::error e = kom::read_capture(b, capture, storage, options);
    const kom::capture_storage_ref ref = storage;
    kom_fuzz::hasher h(ref.text, ref.text_capacity);
    kom_fuzz::touch(h, capture, ref);
    hash = h.value();
    truncated = capture.truncated;
    return e;
  });
  return 0;
}
