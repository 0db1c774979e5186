// libFuzzer target: kom::read_error_body over any bytes, strict and with truncation allowed.
// Build: clang++ -std=c++17 -fsanitize=fuzzer,address,undefined -Iinclude tests/fuzz/fuzz_json_error.cpp
#include "kom/src.hpp"  // Boost.JSON's compiled part: this target is its own program

#include <cstddef>
#include <cstdint>

#include "fuzz_json_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  static kom::error_body_storage<2, 96> storage;
  kom_fuzz::differential(body, [](std::string_view b, const kom::read_options& options, std::uint64_t& hash,
                                  bool& truncated) {
    kom::error_body error_body;
    const kom::error e = kom::read_error_body(b, error_body, storage, options);
    const kom::error_body_storage_ref ref = storage;
    kom_fuzz::hasher h(ref.text, ref.text_capacity);
    kom_fuzz::touch(h, error_body, ref);
    hash = h.value();
    truncated = error_body.truncated;
    return e;
  });
  return 0;
}
