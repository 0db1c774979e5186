// Shared by the fuzz_json_*.cpp libFuzzer targets: reads every field of a result (every byte
// of every text, so that ASan sees a view into freed or foreign memory) into a hash, and traps
// when an invariant of kom's readers does not hold:
//   - every text lies inside the storage's text bytes and is valid UTF-8, even when cut;
//   - no list is longer than its storage;
//   - `truncated` is never set unless truncation was allowed;
//   - a body that reads without truncation reads the same with truncation allowed; a body
//     that fails with truncation allowed fails without it too.
#ifndef KOM_TESTS_FUZZ_JSON_COMMON_HPP
#define KOM_TESTS_FUZZ_JSON_COMMON_HPP

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "kom/detail/utf8.hpp"
#include "kom/json_readers.hpp"

namespace kom_fuzz {

inline void check(bool ok) {
  if (!ok) __builtin_trap();
}

class hasher {
 public:
  hasher(const char* text, std::size_t capacity) : text_(text), capacity_(capacity) {}

  void text(std::string_view v) {
    if (!v.empty()) {
      const auto at = reinterpret_cast<std::uintptr_t>(v.data());
      const auto begin = reinterpret_cast<std::uintptr_t>(text_);
      check(at >= begin && at - begin <= capacity_ && v.size() <= capacity_ - (at - begin));
    }
    check(kom::detail::scan_utf8(v).valid);
    for (char c : v) mix(static_cast<unsigned char>(c));
    mix(0x100 + v.size());
  }
  void number(std::int64_t v) { mix(static_cast<std::uint64_t>(v)); }
  void number(const std::optional<std::int64_t>& v) {
    mix(v.has_value());
    if (v) number(*v);
  }
  template <class E>
  void enumerator(E e) {
    mix(static_cast<std::uint64_t>(e));
  }
  std::uint64_t value() const { return hash_; }

 private:
  void mix(std::uint64_t v) {
    hash_ ^= v;
    hash_ *= 0x100000001b3u;  // FNV-1a step
  }

  const char* text_;
  std::size_t capacity_;
  std::uint64_t hash_ = 0xcbf29ce484222325u;
};

inline void touch(hasher& h, const kom::address& a) {
  for (std::string_view v : {a.given_name, a.family_name, a.title, a.street_address, a.street_address2,
                             a.postal_code, a.city, a.region, a.country, a.email, a.phone}) {
    h.text(v);
  }
}

inline void touch(hasher& h, const kom::capture& c, const kom::capture_storage_ref& s) {
  h.text(c.capture_id);
  h.text(c.klarna_reference);
  h.number(c.captured_amount);
  h.text(c.captured_at);
  h.text(c.description);
  h.text(c.reference);
  h.number(c.refunded_amount);
  check(c.order_lines.size() <= s.lines_capacity);
  for (const kom::order_line& l : c.order_lines) {
    check(&l >= s.lines && &l < s.lines + s.lines_capacity);
    h.enumerator(l.type);
    h.text(l.reference);
    h.text(l.name);
    h.number(l.quantity);
    h.text(l.quantity_unit);
    h.number(l.unit_price);
    h.number(l.tax_rate);
    h.number(l.total_amount);
    h.number(l.total_discount_amount);
    h.number(l.total_tax_amount);
    h.text(l.merchant_data);
    h.text(l.product_url);
    h.text(l.image_url);
    if (const kom::product_identifiers* p = l.product_identifiers) {
      check(p >= s.identifiers && p < s.identifiers + s.identifiers_capacity);
      for (std::string_view v : {p->brand, p->category_path, p->global_trade_item_number,
                                 p->manufacturer_part_number, p->color, p->size}) {
        h.text(v);
      }
    }
    if (const kom::subscription* sub = l.subscription) {
      check(sub >= s.subscriptions && sub < s.subscriptions + s.subscriptions_capacity);
      h.text(sub->name);
      h.enumerator(sub->interval);
      h.number(sub->interval_count);
    }
  }
  check(c.shipping_info.size() <= s.shipping_capacity);
  for (const kom::shipping_info& i : c.shipping_info) {
    check(&i >= s.shipping && &i < s.shipping + s.shipping_capacity);
    h.text(i.shipping_company);
    h.enumerator(i.shipping_method);
    for (std::string_view v : {i.tracking_number, i.tracking_uri, i.return_shipping_company,
                               i.return_tracking_number, i.return_tracking_uri}) {
      h.text(v);
    }
  }
  touch(h, c.billing_address);
  touch(h, c.shipping_address);
  h.enumerator(c.truncated);
}

inline void touch(hasher& h, const kom::order& o, const kom::order_storage_ref& s) {
  h.text(o.order_id);
  h.enumerator(o.status);
  h.text(o.status_text);
  // An enum and its text come together: unset with no text, else the text's value.
  check(o.status == kom::order_status::unset ? o.status_text.empty()
                                             : o.status == kom::order_status_from_string(o.status_text));
  h.enumerator(o.fraud_status);
  h.text(o.fraud_status_text);
  check(o.fraud_status == kom::fraud_status::unset ? o.fraud_status_text.empty()
                                                   : o.fraud_status == kom::fraud_status_from_string(o.fraud_status_text));
  h.number(o.order_amount);
  h.number(o.original_order_amount);
  h.number(o.captured_amount);
  h.number(o.refunded_amount);
  h.number(o.remaining_authorized_amount);
  h.text(o.purchase_currency);
  h.text(o.expires_at);
  check(o.captures.size() <= s.captures_capacity);
  for (const kom::order_capture& c : o.captures) {
    h.text(c.capture_id);
    h.text(c.klarna_reference);
    h.text(c.reference);
    h.number(c.captured_amount);
    h.number(c.refunded_amount);
    h.text(c.captured_at);
  }
  h.enumerator(o.truncated);
}

inline void touch(hasher& h, const kom::error_body& b, const kom::error_body_storage_ref& s) {
  h.enumerator(b.error_code);
  h.text(b.error_code_text);
  check(b.error_code == kom::klarna_error_code::unset ? b.error_code_text.empty()
                                                      : b.error_code == kom::klarna_error_code_from_string(b.error_code_text));
  check(b.error_messages.size() <= s.messages_capacity);
  for (std::string_view m : b.error_messages) h.text(m);
  h.text(b.correlation_id);
  h.text(b.service_version);
  h.enumerator(b.truncated);
}

// Reads `body` strictly and with truncation allowed (`read(body, options, hash)` returns the
// error and fills the hash), and checks the two against each other.
template <class Read>
void differential(std::string_view body, Read read) {
  kom::read_options strict;
  kom::read_options lenient;
  lenient.allow_truncation = true;
  std::uint64_t strict_hash = 0, lenient_hash = 0;
  bool strict_truncated = false, lenient_truncated = false;
  const kom::error s = read(body, strict, strict_hash, strict_truncated);
  const kom::error l = read(body, lenient, lenient_hash, lenient_truncated);
  check(!strict_truncated);
  if (s.ok()) {
    check(l.ok());
    check(!lenient_truncated);
    check(strict_hash == lenient_hash);
  }
  if (!l.ok()) check(!s.ok());
  // Errors name a path that fits in a field_path and a rule text.
  char message[160];
  check(!s.describe(message).empty() || s.ok());
}

}  // namespace kom_fuzz

#endif
