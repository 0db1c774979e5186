// The byte sizes of what a terminal's code holds, as the README's table gives them (64-bit
// Linux; the Cortex-M figures come from scripts/footprint). A change that grows one fails here
// and updates the README with it.
#include <doctest/doctest.h>

#include "kom/client.hpp"
#include "kom/outbox.hpp"
#include "support/seeds.hpp"

TEST_CASE("sizes: errors, replies, storages and outboxes are the README's figures") {
  static_assert(sizeof(kom::error) == 16, "an error is 16 bytes on every target");
  static_assert(sizeof(kom::field_ref) == 6);
  if constexpr (sizeof(void*) == 8) {
    CHECK(sizeof(kom::result<std::size_t>) == 24);
    CHECK(sizeof(kom::reply<kom::order>) == 520);
    CHECK(sizeof(kom::reply<kom::capture_created>) == 184);
    CHECK(sizeof(kom::capture_storage<>) == 8096);
    CHECK(sizeof(kom::order_storage<>) == 10048);
    CHECK(sizeof(kom::outbox) == 22496);
    CHECK(sizeof(kom::basic_outbox<kom::capacity::operations<32>, kom::capacity::record_bytes<512>,
                                   kom::capacity::lines<2>, kom::capacity::shipping_entries<2>>) == 8848);
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

// The README's work-buffer table: each request's exact size with Klarna's documented samples
// (tests/support/seeds.hpp), the EU playground host, Basic credentials and a terminal's
// User-Agent parts. A change here is a change of the table.
TEST_CASE("sizes: each call's request, as the README's work-buffer table gives it") {
  kom::request_config c;
  c.server = kom::klarna_endpoint(kom::region::eu, kom::environment::playground);
  c.credentials.username = "K123456_abcdef";
  c.credentials.password = "sharedsecret";
  c.user_agent = {"FreeRTOS_10.5", "Kiosk-7", "2.4.1"};
  const kom_test::seed_capture capture;
  const kom_test::seed_shipping_update shipping;
  const kom_test::seed_refund refund;
  const kom_test::seed_references references;
  const kom_test::seed_authorization_update update;
  const char* const key = "2ed6657d-e927-568b-95e1-2665a8aea6a2";
  const char* const order = "f3392f8b-6116-4073-ab96-e330819e2c07";
  const char* const item = "4ba29b50-be7b-44f5-a492-113e6a865e22";  // a capture or refund id: both are UUIDs
  const auto size = [](kom::result<std::size_t> r) { return r.ok() ? *r : std::size_t{0}; };
  kom::buffer_writer m(kom::measure_only);
  struct row {
    const char* call;
    std::size_t bytes;
    std::size_t expected;
  };
  const row rows[] = {
      {"capture", size(kom::write_capture_request(m, c, order, capture.request, key)), 892},
      {"append_shipping_info", size(kom::write_shipping_info_request(m, c, order, item, shipping.request, key)), 842},
      {"trigger_send_out", size(kom::write_trigger_send_out_request(m, c, order, item, key)), 454},
      {"get_capture", size(kom::write_get_capture_request(m, c, order, item)), 355},
      {"list_captures", size(kom::write_list_captures_request(m, c, order)), 318},
      {"get_order", size(kom::write_get_order_request(m, c, order)), 309},
      {"refund", size(kom::write_refund_request(m, c, order, refund.request, key)), 702},
      {"get_refund", size(kom::write_get_refund_request(m, c, order, item)), 354},
      {"cancel", size(kom::write_cancel_request(m, c, order, key)), 398},
      {"release_remaining_authorization", size(kom::write_release_remaining_authorization_request(m, c, order, key)), 423},
      {"extend_authorization_time", size(kom::write_extend_authorization_time_request(m, c, order, key)), 417},
      {"update_merchant_references", size(kom::write_merchant_references_request(m, c, order, references.request, key)), 511},
      {"update_authorization", size(kom::write_authorization_update_request(m, c, order, update.request, key)), 606},
  };
  for (const row& r : rows) {
    CAPTURE(r.call);
    MESSAGE(std::string(r.call) << ": " << r.bytes << " B");
    CHECK(r.bytes == r.expected);
  }
}
