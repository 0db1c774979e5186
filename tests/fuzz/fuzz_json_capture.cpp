// libFuzzer target: kom::read_capture over any bytes, strict and with truncation allowed,
// each read held to what Boost.JSON's DOM of the same bytes says (fuzz_json_oracle.hpp).
// Build: clang++ -std=c++17 -fsanitize=fuzzer,address,undefined -Iinclude tests/fuzz/fuzz_json_capture.cpp
#include <boost/json/src.hpp>  // all of Boost.JSON compiled in: its DOM is the oracle

#include <cstddef>
#include <cstdint>

#include "fuzz_json_common.hpp"
#include "fuzz_json_oracle.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  // Small capacities, so that "no room" happens often.
  static kom::capture_storage<kom::capacity::lines<4>, kom::capacity::shipping_entries<2>, kom::capacity::text_bytes<256>, kom::capacity::product_identifiers<2>, kom::capacity::subscriptions<2>> storage;
  const kom_fuzz::dom_reading dom(body);
  kom_fuzz::differential(body, [&](std::string_view b, const kom::read_options& options, std::uint64_t& hash,
                                   bool& truncated) {
    kom::capture capture;
    const kom::error e = kom::read_capture(b, capture, storage, options);
    const kom::capture_storage_ref ref = storage;
    kom_fuzz::hasher h(ref.text, ref.text_capacity);
    kom_fuzz::touch(h, capture, ref);
    hash = h.value();
    truncated = capture.truncated;

    kom_fuzz::expected_captures expected(options.allow_truncation, ref);
    const kom::capture want = expected.one(dom.root());
    kom_fuzz::judge(dom, expected, e, capture.truncated, [&] { kom_fuzz::same(capture, want); });
    return e;
  });
  return 0;
}
