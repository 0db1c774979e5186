// libFuzzer target: kom::read_captures (GET …/captures, a list) over any bytes, strict and
// with truncation allowed, each read held to what Boost.JSON's DOM of the same bytes says
// (fuzz_json_oracle.hpp).
// Build: clang++ -std=c++17 -fsanitize=fuzzer,address,undefined -Iinclude tests/fuzz/fuzz_json_captures.cpp
#include <boost/json/src.hpp>  // all of Boost.JSON compiled in: its DOM is the oracle

#include <cstddef>
#include <cstdint>

#include "fuzz_json_common.hpp"
#include "fuzz_json_oracle.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  static kom::capture_storage<kom::capacity::lines<4>, kom::capacity::shipping_entries<2>, kom::capacity::text_bytes<384>, kom::capacity::product_identifiers<2>, kom::capacity::subscriptions<2>> storage;
  const kom_fuzz::dom_reading dom(body);
  kom_fuzz::differential(body, [&](std::string_view b, const kom::read_options& options, std::uint64_t& hash,
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

    kom_fuzz::expected_captures expected(options.allow_truncation, ref);
    const auto want = expected.list(dom.root(), 3);
    kom_fuzz::judge(dom, expected, e, list.truncated, [&] {
      kom_fuzz::check(list.captures.size() == want.size());
      for (std::size_t i = 0; i < want.size(); ++i) kom_fuzz::same(list.captures[i], want[i]);
    });
    return e;
  });
  return 0;
}
