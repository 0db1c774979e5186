// The request models of Klarna's "Capture and track orders" page (the models of
// tests/fixtures/*.json). No I/O and no heap, so the firmware tests share them.
#ifndef KOM_TESTS_SEEDS_HPP
#define KOM_TESTS_SEEDS_HPP

#include "kom/model.hpp"

namespace kom_test {

/// The capture request of Klarna's "Capture and track orders" sample, as kom's model.
struct seed_capture {
  kom::order_line lines[1];
  kom::shipping_info shipping[1];
  kom::capture_request request;

  seed_capture() {
    kom::order_line& l = lines[0];
    l.type = kom::order_line_type::physical;
    l.reference = "123050";
    l.name = "Tomatoes";
    l.quantity = 10;
    l.quantity_unit = "kg";
    l.unit_price = 600;
    l.tax_rate = 2500;
    l.total_amount = 6000;
    l.total_tax_amount = 1200;

    kom::shipping_info& s = shipping[0];
    s.shipping_company = "DHL US";
    s.tracking_number = "1234567890";
    s.return_shipping_company = "UPS";
    s.return_tracking_number = "112233445566778899";

    request.captured_amount = 6000;
    request.reference = "c9a94cf1-7126-4f55-92fa-4d34f416ed7f";
    request.description = "Shipped the full order";
    request.order_lines = lines;
    request.shipping_info = shipping;
  }
  seed_capture(const seed_capture&) = delete;
};

// A return at the till: one line of the seed capture (two kg of its tomatoes) refunded.
struct seed_refund {
  kom::order_line lines[1];
  kom::refund_request request;

  seed_refund() {
    kom::order_line& l = lines[0];
    l.type = kom::order_line_type::physical;
    l.reference = "123050";
    l.name = "Tomatoes";
    l.quantity = 2;
    l.quantity_unit = "kg";
    l.unit_price = 600;
    l.tax_rate = 2500;
    l.total_amount = 1200;
    l.total_tax_amount = 240;

    request.refunded_amount = 1200;
    request.description = "Returned at the till";
    request.reference = "RET-0001";
    request.order_lines = lines;
  }
  seed_refund(const seed_refund&) = delete;
};

// The till's receipt number on the order.
struct seed_references {
  kom::merchant_references request{"R-2026-0001", "T-17"};
};

// A basket that shrank before pickup: one line of 4000.
struct seed_authorization_update {
  kom::order_line lines[1];
  kom::authorization_update request;

  seed_authorization_update() {
    kom::order_line& l = lines[0];
    l.reference = "123050";
    l.name = "Tomatoes";
    l.quantity = 5;
    l.unit_price = 800;
    l.total_amount = 4000;
    request.order_amount = 4000;
    request.description = "One item out of stock";
    request.order_lines = lines;
  }
  seed_authorization_update(const seed_authorization_update&) = delete;
};

/// The shipping-info update of the same page.
struct seed_shipping_update {
  kom::shipping_info shipping[1];
  kom::shipping_info_update request;

  seed_shipping_update() {
    kom::shipping_info& s = shipping[0];
    s.return_shipping_company = "DHL US";
    s.return_tracking_number = "93456415674545679888";
    s.return_tracking_uri = "http://shipping.example/findmypackage?93456415674545679888";
    s.shipping_company = "DHL US";
    s.shipping_method = kom::shipping_method::home;
    s.tracking_number = "63456415674545679874";
    s.tracking_uri = "http://shipping.example/findmypackage?63456415674545679874";
    request.shipping_info = shipping;
  }
  seed_shipping_update(const seed_shipping_update&) = delete;
};

}  // namespace kom_test

#endif
