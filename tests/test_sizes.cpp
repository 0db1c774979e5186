// The byte sizes of what a terminal's code holds, as the README's table gives them (64-bit
// Linux; the Cortex-M figures come from scripts/footprint). A change that grows one fails here
// and updates the README with it.
#include <doctest/doctest.h>

#include "kom/client.hpp"
#include "kom/outbox.hpp"

TEST_CASE("sizes: errors, replies, storages and outboxes are the README's figures") {
  static_assert(sizeof(kom::error) == 16, "an error is 16 bytes on every target");
  static_assert(sizeof(kom::field_ref) == 6);
  if constexpr (sizeof(void*) == 8) {
    CHECK(sizeof(kom::result<std::size_t>) == 24);
    CHECK(sizeof(kom::reply<kom::order>) == 344);
    CHECK(sizeof(kom::reply<kom::capture_created>) == 184);
    CHECK(sizeof(kom::capture_storage<>) == 8096);
    CHECK(sizeof(kom::order_storage<>) == 1664);
    CHECK(sizeof(kom::outbox) == 21344);
    CHECK(sizeof(kom::basic_outbox<kom::capacity::operations<32>, kom::capacity::record_bytes<512>,
                                   kom::capacity::lines<2>, kom::capacity::shipping_entries<2>>) == 7696);
  }
}

TEST_CASE("sizes: named capacities give what they name, the rest their defaults") {
  using small = kom::capture_storage<kom::capacity::text_bytes<256>, kom::capacity::lines<4>>;
  CHECK(small::lines_capacity == 4);
  CHECK(small::text_capacity == 256);
  CHECK(small::shipping_capacity == 4);
  CHECK(small::identifiers_capacity == 4);
  CHECK(small::subscriptions_capacity == 4);
  using box = kom::basic_outbox<kom::capacity::shipping_entries<1>>;
  CHECK(box::max_ops == 64);
  CHECK(box::max_record == 4096);
  CHECK(box::max_lines == 16);
  CHECK(box::max_shipping == 1);
  CHECK(kom::order_storage<kom::capacity::captures<2>>::captures_capacity == 2);
  CHECK(kom::error_body_storage<kom::capacity::messages<1>>::text_capacity == 512);
}
