// libFuzzer target: kom::read_error_body over any bytes, strict and with truncation allowed,
// each read held to what Boost.JSON's DOM of the same bytes says (fuzz_json_oracle.hpp).
// Build: clang++ -std=c++17 -fsanitize=fuzzer,address,undefined -Iinclude tests/fuzz/fuzz_json_error.cpp
#include <boost/json/src.hpp>  // all of Boost.JSON compiled in: its DOM is the oracle

#include <cstddef>
#include <cstdint>

#include "fuzz_json_common.hpp"
#include "fuzz_json_oracle.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  static kom::error_body_storage<kom::capacity::messages<2>, kom::capacity::text_bytes<96>> storage;
  const kom_fuzz::dom_reading dom(body);
  kom_fuzz::differential(body, [&](std::string_view b, const kom::read_options& options, std::uint64_t& hash,
                                   bool& truncated) {
    kom::error_body error_body;
    const kom::error e = kom::read_error_body(b, error_body, storage, options);
    const kom::error_body_storage_ref ref = storage;
    kom_fuzz::hasher h(ref.text, ref.text_capacity);
    kom_fuzz::touch(h, error_body, ref);
    hash = h.value();
    truncated = error_body.truncated;

    kom_fuzz::expected_error_body expected(options.allow_truncation, ref);
    const kom::error_body want = expected.read(dom.root());
    kom_fuzz::judge(dom, expected, e, error_body.truncated, [&] { kom_fuzz::same(error_body, want); });
    return e;
  });
  return 0;
}
