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
#include "kom/fields.hpp"
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

// Where a read may put objects: each pointer kom hands out must lie inside its storage's
// array of that type (a capture's or a refund's lines in a capture_storage, an order's in an
// order_storage). A null array holds nothing.
struct storage_bounds {
  template <class T>
  struct array {
    const T* first = nullptr;
    std::size_t capacity = 0;
    array() = default;
    array(const T* items, std::size_t n) : first(items), capacity(items != nullptr ? n : 0) {}
    bool holds(const T* p) const { return p >= first && p < first + capacity; }
  };

  array<kom::order_line> lines;
  array<kom::shipping_info> shipping;
  array<kom::product_identifiers> identifiers;
  array<kom::subscription> subscriptions;
  array<kom::order_capture> captures;
  array<kom::order_refund> refunds;

  explicit storage_bounds(const kom::capture_storage_ref& s)
      : lines(s.lines, s.lines_capacity), shipping(s.shipping, s.shipping_capacity),
        identifiers(s.identifiers, s.identifiers_capacity), subscriptions(s.subscriptions, s.subscriptions_capacity) {}
  explicit storage_bounds(const kom::order_storage_ref& s)
      : lines(s.lines, s.lines_capacity), identifiers(s.identifiers, s.identifiers_capacity),
        subscriptions(s.subscriptions, s.subscriptions_capacity), captures(s.captures, s.captures_capacity),
        refunds(s.refunds, s.refunds_capacity) {}

  bool holds(const kom::order_line* p) const { return lines.holds(p); }
  bool holds(const kom::shipping_info* p) const { return shipping.holds(p); }
  bool holds(const kom::product_identifiers* p) const { return identifiers.holds(p); }
  bool holds(const kom::subscription* p) const { return subscriptions.holds(p); }
  bool holds(const kom::order_capture* p) const { return captures.holds(p); }
  bool holds(const kom::order_refund* p) const { return refunds.holds(p); }
};

template <class T>
void touch_object(hasher& h, const T& object, const storage_bounds& s);

// One field, by its description in kom/fields.hpp: every field of every described type is
// read, so a field added there is read here too.
template <class T, class D>
void touch_field(hasher& h, const T& object, const D& d, const storage_bounds& s) {
  if constexpr (D::kind == kom::field_kind::text) {
    h.text(object.*d.member);
  } else if constexpr (D::kind == kom::field_kind::integer || D::kind == kom::field_kind::optional_integer) {
    h.number(object.*d.member);
  } else if constexpr (D::kind == kom::field_kind::enumeration) {
    const auto v = object.*d.member;
    h.enumerator(v);
    if (d.text != nullptr) {
      // An enum and its text come together: unset with no text, else the text's value.
      const std::string_view text = object.*d.text;
      h.text(text);
      using E = typename D::enum_type;
      check(v == E::unset ? text.empty() : v == kom::enum_from_spelling<E>(text));
    }
  } else if constexpr (D::kind == kom::field_kind::object) {
    if (const auto* child = object.*d.member) {
      check(s.holds(child));
      touch_object(h, *child, s);
    }
  } else if constexpr (D::kind == kom::field_kind::embedded) {
    touch_object(h, object.*d.member, s);
  } else if constexpr (D::kind == kom::field_kind::list) {
    for (const auto& item : object.*d.member) {
      check(s.holds(&item));
      touch_object(h, item, s);
    }
  }
}

template <class T>
void touch_object(hasher& h, const T& object, const storage_bounds& s) {
  kom::fields_of<T>::visit([&](const auto& d) { touch_field(h, object, d, s); });
}

inline void touch(hasher& h, const kom::capture& c, const kom::capture_storage_ref& s) {
  check(c.order_lines.size() <= s.lines_capacity);
  check(c.shipping_info.size() <= s.shipping_capacity);
  touch_object(h, c, storage_bounds(s));
  h.enumerator(c.truncated);
}

inline void touch(hasher& h, const kom::refund& r, const kom::capture_storage_ref& s) {
  check(r.order_lines.size() <= s.lines_capacity);
  touch_object(h, r, storage_bounds(s));
  h.enumerator(r.truncated);
}

// A list whose array the storage leaves null stays empty (storage_bounds holds nothing there).
inline void touch(hasher& h, const kom::order& o, const kom::order_storage_ref& s) {
  check(o.captures.size() <= s.captures_capacity);
  check(o.refunds.size() <= s.refunds_capacity);
  check(o.order_lines.size() <= s.lines_capacity);
  touch_object(h, o, storage_bounds(s));
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
