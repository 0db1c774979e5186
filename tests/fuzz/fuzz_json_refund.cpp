// libFuzzer target: kom::read_refund over any bytes, strict and with truncation allowed,
// each read held to what Boost.JSON's DOM of the same bytes says (fuzz_json_oracle.hpp).
// Build: clang++ -std=c++17 -fsanitize=fuzzer,address,undefined -Iinclude tests/fuzz/fuzz_json_refund.cpp
#include <boost/json/src.hpp>  // all of Boost.JSON compiled in: its DOM is the oracle

#include <cstddef>
#include <cstdint>

#include "fuzz_json_common.hpp"
#include "fuzz_json_oracle.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  // Small capacities, so that "no room" happens often; text enough for the spec's refunds,
  // so that their strict reads are compared too.
  static kom::refund_storage<kom::capacity::lines<3>, kom::capacity::product_identifiers<1>,
                             kom::capacity::subscriptions<1>, kom::capacity::text_bytes<384>>
      storage;
  const kom_fuzz::dom_reading dom(body);
  kom_fuzz::differential(body, [&](std::string_view b, const kom::read_options& options, std::uint64_t& hash,
                                   bool& truncated) {
    kom::refund refund;
    const kom::error e = kom::read_refund(b, refund, storage, options);
    const kom::capture_storage_ref ref = storage;
    kom_fuzz::hasher h(ref.text, ref.text_capacity);
    kom_fuzz::touch(h, refund, ref);
    hash = h.value();
    truncated = refund.truncated;

    kom_fuzz::expected_refund expected(options.allow_truncation, ref);
    const kom::refund want = expected.read(dom.root());
    kom_fuzz::judge(dom, expected, e, refund.truncated, [&] { kom_fuzz::same(refund, want); });
    return e;
  });
  return 0;
}
