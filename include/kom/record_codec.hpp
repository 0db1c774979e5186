// kom/record_codec.hpp: the compact binary form the outbox keeps requests in on flash.
//
// Varints (LEB128; signed ones zigzag) and strings (varint length, bytes). A request is
// written field by field as kom/fields.hpp describes it, in the description's order:
//   text              the string
//   integer           signed varint
//   optional integer  one byte 0 (absent) or 1, then the signed varint
//   enum              Klarna's spelling as a string ("" for unset): never the C++ ordinal,
//                     so a firmware that adds an enum value reads older records unchanged
//   object            one byte 0 (null) or 1, then its fields
//   list              varint count, then each item
// Each object starts with its number of fields: fields are only ever added at the end of a
// description, so a record written before one was added still reads (the new field keeps its
// default), and the order of a description is the order on flash: the golden record test in
// tests/test_record_codec.cpp fails when it changes. This is record format 2. Format 1 (kom 0.1.0) wrote enums as ordinals and in a fixed
// field order; detail::v1 reads it, frozen, so that an outbox written by 0.1.0 migrates.
// No heap, no exceptions.
#ifndef KOM_RECORD_CODEC_HPP
#define KOM_RECORD_CODEC_HPP

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "kom/fields.hpp"
#include "kom/model.hpp"

namespace kom {
namespace detail {

// Where a streaming record_writer sends each full chunk.
struct record_sink {
  void* context = nullptr;
  void (*put)(void* context, const unsigned char* data, std::size_t size) = nullptr;
};

// Writes the compact form into a bounded buffer; `overflow` once it did not fit. With a sink,
// the buffer is a chunk that is handed to the sink whenever it is full (and by finish()).
class record_writer {
 public:
  record_writer(unsigned char* data, std::size_t capacity, record_sink sink = {}) noexcept
      : data_(data), capacity_(capacity), sink_(sink) {}
  void byte(std::uint8_t b) noexcept {
    if (fill_ == capacity_ && sink_.put != nullptr) finish();
    if (fill_ < capacity_) data_[fill_++] = b;
    else overflow_ = true;
    ++size_;
  }
  // Hands what the chunk holds to the sink.
  void finish() noexcept {
    if (sink_.put != nullptr && fill_ != 0) sink_.put(sink_.context, data_, fill_);
    fill_ = 0;
  }
  void uvar(std::uint64_t v) noexcept {
    while (v >= 0x80) {
      byte(static_cast<std::uint8_t>(v | 0x80));
      v >>= 7;
    }
    byte(static_cast<std::uint8_t>(v));
  }
  void svar(std::int64_t v) noexcept {
    const std::uint64_t u = static_cast<std::uint64_t>(v);
    uvar((u << 1) ^ (0u - (u >> 63)));
  }
  void text(std::string_view s) noexcept {
    uvar(s.size());
    for (char c : s) byte(static_cast<std::uint8_t>(c));
  }
  std::size_t size() const noexcept { return size_; }
  bool overflow() const noexcept { return overflow_; }

 private:
  unsigned char* data_;
  std::size_t capacity_;
  record_sink sink_;
  std::size_t fill_ = 0;
  std::size_t size_ = 0;
  bool overflow_ = false;
};

// Reads it back; `bad` once the data ended early, a number did not fit, or a list had no room.
class record_reader {
 public:
  record_reader(const unsigned char* data, std::size_t size) noexcept : data_(data), size_(size) {}
  std::uint8_t byte() noexcept {
    if (at_ >= size_) {
      bad_ = true;
      return 0;
    }
    return data_[at_++];
  }
  std::uint64_t uvar() noexcept {
    std::uint64_t v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
      const std::uint8_t b = byte();
      v |= static_cast<std::uint64_t>(b & 0x7F) << shift;
      if ((b & 0x80) == 0) return v;
    }
    bad_ = true;
    return 0;
  }
  std::int64_t svar() noexcept {
    const std::uint64_t u = uvar();
    return static_cast<std::int64_t>((u >> 1) ^ (0u - (u & 1u)));
  }
  std::string_view text() noexcept {
    const std::uint64_t n = uvar();
    if (bad_ || n > size_ - at_) {
      bad_ = true;
      return {};
    }
    const std::string_view s(reinterpret_cast<const char*>(data_ + at_), static_cast<std::size_t>(n));
    at_ += static_cast<std::size_t>(n);
    return s;
  }
  void fail() noexcept { bad_ = true; }
  bool bad() const noexcept { return bad_; }

 private:
  const unsigned char* data_;
  std::size_t size_;
  std::size_t at_ = 0;
  bool bad_ = false;
};

// The pools of one decoded request, picked by item type.
struct record_space {
  item_pool<order_line> lines;
  item_pool<product_identifiers> identifiers;
  item_pool<subscription> subscriptions;
  item_pool<shipping_info> shipping;

  item_pool<order_line>& pool(const order_line*) noexcept { return lines; }
  item_pool<product_identifiers>& pool(const product_identifiers*) noexcept { return identifiers; }
  item_pool<subscription>& pool(const subscription*) noexcept { return subscriptions; }
  item_pool<shipping_info>& pool(const shipping_info*) noexcept { return shipping; }
};

template <class T>
void encode_object(record_writer& w, const T& object) noexcept;

template <class T, class D>
void encode_field(record_writer& w, const T& object, const D& d) noexcept {
  if constexpr (D::kind == field_kind::text) {
    w.text(object.*d.member);
  } else if constexpr (D::kind == field_kind::integer) {
    w.svar(object.*d.member);
  } else if constexpr (D::kind == field_kind::optional_integer) {
    const auto& v = object.*d.member;
    w.byte(v ? 1 : 0);
    if (v) w.svar(*v);
  } else if constexpr (D::kind == field_kind::enumeration) {
    w.text(spelling_of(object.*d.member));
  } else if constexpr (D::kind == field_kind::object) {
    const auto* child = object.*d.member;
    w.byte(child ? 1 : 0);
    if (child) encode_object(w, *child);
  } else if constexpr (D::kind == field_kind::embedded) {
    encode_object(w, object.*d.member);
  } else if constexpr (D::kind == field_kind::list) {
    const auto& list = object.*d.member;
    w.uvar(list.size());
    for (const auto& item : list) encode_object(w, item);
  }
}

/// Writes `object` (format 2): its number of fields, then each field.
template <class T>
void encode_object(record_writer& w, const T& object) noexcept {
  w.uvar(field_count<T>());
  fields_of<T>::visit([&](const auto& d) { encode_field(w, object, d); });
}

template <class T>
void decode_object(record_reader& r, T& object, record_space& space) noexcept;

template <class T, class D>
void decode_field(record_reader& r, T& object, const D& d, record_space& space) noexcept {
  if (r.bad()) return;
  if constexpr (D::kind == field_kind::text) {
    object.*d.member = r.text();
  } else if constexpr (D::kind == field_kind::integer) {
    object.*d.member = r.svar();
  } else if constexpr (D::kind == field_kind::optional_integer) {
    if (r.byte() != 0) object.*d.member = r.svar();
  } else if constexpr (D::kind == field_kind::enumeration) {
    using E = typename D::enum_type;
    const std::string_view text = r.text();
    object.*d.member = text.empty() ? E::unset : enum_from_spelling<E>(text);
  } else if constexpr (D::kind == field_kind::object) {
    using C = child_of<D>;
    if (r.byte() == 0) return;
    C* child = space.pool(static_cast<const C*>(nullptr)).take(1);
    if (child == nullptr) return r.fail();
    *child = C{};
    decode_object(r, *child, space);
    object.*d.member = child;
  } else if constexpr (D::kind == field_kind::embedded) {
    decode_object(r, object.*d.member, space);
  } else if constexpr (D::kind == field_kind::list) {
    using C = child_of<D>;
    const std::uint64_t n = r.uvar();
    auto& pool = space.pool(static_cast<const C*>(nullptr));
    if (r.bad() || n > pool.capacity - pool.used) return r.fail();
    C* items = pool.take(static_cast<std::size_t>(n));
    if (n != 0 && items == nullptr) return r.fail();
    for (std::size_t i = 0; i < n; ++i) {
      items[i] = C{};
      decode_object(r, items[i], space);
    }
    object.*d.member = {items, static_cast<std::size_t>(n)};
  }
}

/// Reads the first `n` fields of `object` back (format 2), their lists and nested objects
/// into `space`, and leaves the rest of the record unread. Check r.bad(). A record written
/// before a field was added has fewer fields: the rest keep their defaults. One with more
/// fields than this description knows was written by a newer kom: refused (bad), never half
/// read.
template <class T>
void decode_fields(record_reader& r, T& object, record_space& space, std::size_t n) noexcept {
  const std::uint64_t written = r.uvar();
  if (written > field_count<T>()) return r.fail();
  std::size_t i = 0;
  fields_of<T>::visit([&](const auto& d) {
    if (i < written && i < n) decode_field(r, object, d, space);
    ++i;
  });
}

/// Reads `object` back whole (format 2); see decode_fields.
template <class T>
void decode_object(record_reader& r, T& object, record_space& space) noexcept {
  decode_fields(r, object, space, field_count<T>());
}

// ---- format 1, frozen --------------------------------------------------------------------------
// How kom 0.1.0 wrote a request: a fixed field order, enums as the C++ ordinals of that
// release (listed here by their spelling, so later enum values do not move them), flags
// bytes for the optional parts. Read only, to migrate an outbox written by it.
namespace v1 {

inline constexpr std::string_view order_line_types[] = {
    "", "physical", "discount", "shipping_fee", "sales_tax", "store_credit", "gift_card", "digital",
    "surcharge", "return_fee"};
inline constexpr std::string_view shipping_methods[] = {
    "", "PickUpStore", "Home", "BoxReg", "BoxUnreg", "PickUpPoint", "Own", "Postal", "DHLPackstation",
    "Digital", "Undefined", "PickUpWarehouse", "ClickCollect", "PalletDelivery"};
inline constexpr std::string_view subscription_intervals[] = {"", "DAY", "WEEK", "MONTH", "YEAR"};

template <class E, std::size_t N>
E enum_of(std::uint8_t ordinal, const std::string_view (&spellings)[N]) noexcept {
  if (ordinal == 0) return E::unset;
  return ordinal < N ? enum_from_spelling<E>(spellings[ordinal]) : E::unknown;
}

inline void decode_shipping(record_reader& r, shipping_info& s) noexcept {
  s.shipping_company = r.text();
  s.shipping_method = enum_of<shipping_method>(r.byte(), shipping_methods);
  s.tracking_number = r.text();
  s.tracking_uri = r.text();
  s.return_shipping_company = r.text();
  s.return_tracking_number = r.text();
  s.return_tracking_uri = r.text();
}

inline void decode_line(record_reader& r, order_line& l, record_space& space) noexcept {
  l = order_line{};
  l.type = enum_of<order_line_type>(r.byte(), order_line_types);
  l.reference = r.text();
  l.name = r.text();
  l.quantity = r.svar();
  l.quantity_unit = r.text();
  l.unit_price = r.svar();
  const std::uint8_t flags = r.byte();
  l.total_amount = r.svar();
  if (flags & 1) l.tax_rate = r.svar();
  if (flags & 2) l.total_discount_amount = r.svar();
  if (flags & 4) l.total_tax_amount = r.svar();
  l.merchant_data = r.text();
  l.product_url = r.text();
  l.image_url = r.text();
  if (flags & 8) {
    product_identifiers* p = space.identifiers.take(1);
    if (p == nullptr) return r.fail();
    p->brand = r.text();
    p->category_path = r.text();
    p->global_trade_item_number = r.text();
    p->manufacturer_part_number = r.text();
    p->color = r.text();
    p->size = r.text();
    l.product_identifiers = p;
  }
  if (flags & 16) {
    subscription* s = space.subscriptions.take(1);
    if (s == nullptr) return r.fail();
    s->name = r.text();
    s->interval = enum_of<subscription_interval>(r.byte(), subscription_intervals);
    s->interval_count = r.svar();
    l.subscription = s;
  }
}

// A list's count, then its items taken from `pool`; null when it does not fit.
template <class T>
T* take_list(record_reader& r, item_pool<T>& pool, std::size_t& n) noexcept {
  const std::uint64_t count = r.uvar();
  if (r.bad() || count > pool.capacity - pool.used) return nullptr;
  n = static_cast<std::size_t>(count);
  return pool.take(n);
}

// The start of a capture's body after the common prefix: amount, description, reference.
inline void decode_capture_head(record_reader& r, capture_request& c) noexcept {
  c.captured_amount = r.svar();
  c.description = r.text();
  c.reference = r.text();
}

// A capture's body after the common prefix: its head, flags (bit 0: shipping_delay),
// [delay], lines, shipping entries.
inline void decode_capture(record_reader& r, capture_request& c, record_space& space) noexcept {
  decode_capture_head(r, c);
  if (r.byte() & 1) c.shipping_delay = r.svar();
  std::size_t lines = 0, ships = 0;
  order_line* l = take_list(r, space.lines, lines);
  if (l == nullptr) return r.fail();
  for (std::size_t i = 0; i < lines; ++i) decode_line(r, l[i], space);
  c.order_lines = {l, lines};
  shipping_info* s = take_list(r, space.shipping, ships);
  if (s == nullptr) return r.fail();
  for (std::size_t i = 0; i < ships; ++i) decode_shipping(r, s[i]);
  c.shipping_info = {s, ships};
}

inline void decode_update(record_reader& r, shipping_info_update& u, record_space& space) noexcept {
  std::size_t ships = 0;
  shipping_info* s = take_list(r, space.shipping, ships);
  if (s == nullptr) return r.fail();
  for (std::size_t i = 0; i < ships; ++i) decode_shipping(r, s[i]);
  u.shipping_info = {s, ships};
}

}  // namespace v1
}  // namespace detail
}  // namespace kom

#endif  // KOM_RECORD_CODEC_HPP
