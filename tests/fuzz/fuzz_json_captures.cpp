// libFuzzer target: kom::read_captures (GET …/captures, a list) over any bytes, strict and
// with truncation allowed.
// Build: clang++ -std=c++17 -fsanitize=fuzzer,address,undefined -Iinclude tests/fuzz/fuzz_json_captures.cpp
#include "kom/src.hpp"  // Boost.JSON's compiled part: this target is its own program

#include <cstddef>
#include <cstdint>

#include "fuzz_json_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  static kom::capture_storage<4, 2, 384, 2, 2> storage;
  kom_fuzz::differential(body, [](std::string_view b, const kom::read_options& options, std::uint64_t& hash,
                                  bool& truncated) {
    kom::capture items[3];
    kom::capture_list list;
    const kom::error e = kom::read_captures(b, list, items, storage, options);
    const kom::capture_storage_ref ref = storage;
    kom_fuzz::hasher h(ref.text, ref.text_capacity);
    kom_fuzz::check(list.captures.size() <= 3);
    kom_fuzz::check(list.captures.empty() || list.captures.begin() == items);
    bool any_truncated = false;
    for (const kom::capture& c : list.captures) {
      kom_fuzz::touch(h, c, ref);
      any_truncated = any_truncated || c.truncated;
    }
    kom_fuzz::check(!any_truncated || list.truncated);
    hash = h.value();
    truncated = list.truncated;
    return e;
  });
  return 0;
}
