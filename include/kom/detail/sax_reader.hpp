// kom/detail/sax_reader.hpp: the one SAX handler under all of kom's JSON response readers.
//
// A reader is a *schema*: tables of the keys it knows in each kind of object (json_field),
// plus a few callbacks that place values into the caller's structs. This handler does the
// rest, the same way for every reader:
//   - tracks where it is (a fixed stack of the known containers it is inside), so every
//     error names its field: "order_lines[3].name";
//   - skips unknown keys and their values, objects and arrays included, at any depth, with
//     a counter instead of frames;
//   - checks each known value's JSON type (null is "absent" and leaves the field alone);
//   - copies text, unescaped, straight from Boost.JSON's string parts into the caller's text
//     arena, and cuts it at a UTF-8 boundary when truncation is allowed;
//   - turns "no room" into json_too_many_items / json_text_overflow, or into a truncation.
// It needs <boost/json/basic_parser_impl.hpp>, which kom/json_readers.hpp includes.
#ifndef KOM_DETAIL_SAX_READER_HPP
#define KOM_DETAIL_SAX_READER_HPP

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <type_traits>

#include <boost/json/basic_parser_impl.hpp>

#include "kom/config.hpp"
#include "kom/error.hpp"
#include "kom/model.hpp"

namespace kom {
namespace detail {

/// What a known key's value must be, and what becomes of it.
enum class json_slot : std::uint8_t {
  text,          ///< a string, copied into the text arena; schema.text(id, view)
  token,         ///< a short string matched against a set (an enum), not kept; schema.text(id, view)
  integer,       ///< an integer within int64; schema.integer(id, value)
  object,        ///< an object of node `id`
  object_list,   ///< an array of objects of node `id`
  text_or_list,  ///< a string or an array of strings, kept as items of list `id` (Klarna's `error_message`)
};

/// One known key of an object node. `id` is the schema's own number: the child node for
/// objects and lists of objects, the field for values and text lists. `index` is the field's
/// place in its node's description (kom/fields.hpp), for schemas that place values by it.
struct json_field {
  std::string_view key;
  json_slot slot = json_slot::text;
  std::uint8_t id = 0;
  std::uint8_t index = 0;
};

/// The parser's fixed limits. The body is already in memory, so these bound work, not
/// memory: each is far beyond what Klarna sends (keys under 40 bytes, strings under 25 KB
/// even for a 6000-character merchant_data, objects under 50 members, lists of at most 1000).
struct json_reader_limits {
  static constexpr std::size_t max_key = 255;        ///< bytes; a longer key fails as json_text_overflow
  static constexpr std::size_t max_string = 65535;   ///< bytes; a longer string fails as json_text_overflow
  static constexpr std::size_t max_members = 1024;   ///< per object; more fails as json_too_many_items
  static constexpr std::size_t max_items = 65535;    ///< per array; more fails as json_too_many_items
  static constexpr std::size_t max_known_depth = 8;  ///< nesting of *known* containers (kom's schemas need 5)
  static constexpr std::size_t scratch = 48;         ///< bytes of a key or token kept for matching
};

/// Longest text among `names`: keys and enum spellings must stay below the scratch size, so
/// that a longer key or token, kept cut to the scratch size, can never equal one of them.
template <std::size_t N>
constexpr std::size_t longest(const std::string_view (&names)[N]) noexcept {
  std::size_t n = 0;
  for (std::string_view s : names) n = s.size() > n ? s.size() : n;
  return n;
}
template <std::size_t N>
constexpr std::size_t longest_key(const json_field (&fields)[N]) noexcept {
  std::size_t n = 0;
  for (const json_field& f : fields) n = f.key.size() > n ? f.key.size() : n;
  return n;
}

/// What a schema does with an object about to be read.
enum class json_open : std::uint8_t {
  opened,   ///< read into the storage
  no_room,  ///< its storage is full: an error, or a truncation when allowed
  skipped,  ///< the caller did not ask for it (a null array): skipped, not a truncation
};

/// A reader's schema seen through a table of plain function pointers. Every reader drives
/// the same handler type, so Boost.JSON's basic_parser (most of a reader's code) is
/// instantiated once in a program, not once per schema: on a Cortex-M4 that was 20 KB of
/// flash per reader. A `Schema` provides:
///   json_field root() const;                          // what the document must be
///   list_view<json_field> fields(std::uint8_t node) const;
///   json_open open_object(const json_field&);         // opened, no room, or not asked for
///   void close_object(const json_field&);
///   bool open_list(const json_field&);                // false: not asked for (skipped)
///   void close_list(const json_field&);
///   bool open_text_item(const json_field&);           // false: the list is full
///   std::size_t capacity(const json_field&) const;    // of a node's or list's storage
///   void text(const json_field&, std::string_view);  void integer(const json_field&, std::int64_t);
///   void mark_truncated();                            // something in the current item was dropped or cut
/// The json_field given is the key's (or, for a list item, its list's).
class schema_ref {
 public:
  // Not for a schema_ref itself: copying one must copy it, not wrap it.
  template <class Schema, class = std::enable_if_t<!std::is_same_v<Schema, schema_ref>>>
  explicit schema_ref(Schema& schema) noexcept : self_(&schema), calls_(&calls_of<Schema>) {}

  json_field root() const noexcept { return calls_->root(self_); }
  list_view<json_field> fields(std::uint8_t node) const noexcept { return calls_->fields(self_, node); }
  json_open open_object(const json_field& f) const noexcept { return calls_->open_object(self_, f); }
  void close_object(const json_field& f) const noexcept { calls_->close_object(self_, f); }
  bool open_list(const json_field& f) const noexcept { return calls_->open_list(self_, f); }
  void close_list(const json_field& f) const noexcept { calls_->close_list(self_, f); }
  bool open_text_item(const json_field& f) const noexcept { return calls_->open_text_item(self_, f); }
  std::size_t capacity(const json_field& f) const noexcept { return calls_->capacity(self_, f); }
  void text(const json_field& f, std::string_view v) const noexcept { calls_->text(self_, f, v); }
  void integer(const json_field& f, std::int64_t v) const noexcept { calls_->integer(self_, f, v); }
  void mark_truncated() const noexcept { calls_->mark_truncated(self_); }

 private:
  struct calls {
    json_field (*root)(const void*) noexcept;
    list_view<json_field> (*fields)(const void*, std::uint8_t) noexcept;
    json_open (*open_object)(void*, const json_field&) noexcept;
    void (*close_object)(void*, const json_field&) noexcept;
    bool (*open_list)(void*, const json_field&) noexcept;
    void (*close_list)(void*, const json_field&) noexcept;
    bool (*open_text_item)(void*, const json_field&) noexcept;
    std::size_t (*capacity)(const void*, const json_field&) noexcept;
    void (*text)(void*, const json_field&, std::string_view) noexcept;
    void (*integer)(void*, const json_field&, std::int64_t) noexcept;
    void (*mark_truncated)(void*) noexcept;
  };

  template <class S>
  static constexpr calls calls_of = {
      [](const void* s) noexcept { return static_cast<const S*>(s)->root(); },
      [](const void* s, std::uint8_t n) noexcept { return static_cast<const S*>(s)->fields(n); },
      [](void* s, const json_field& f) noexcept { return static_cast<S*>(s)->open_object(f); },
      [](void* s, const json_field& f) noexcept { static_cast<S*>(s)->close_object(f); },
      [](void* s, const json_field& f) noexcept { return static_cast<S*>(s)->open_list(f); },
      [](void* s, const json_field& f) noexcept { static_cast<S*>(s)->close_list(f); },
      [](void* s, const json_field& f) noexcept { return static_cast<S*>(s)->open_text_item(f); },
      [](const void* s, const json_field& f) noexcept { return static_cast<const S*>(s)->capacity(f); },
      [](void* s, const json_field& f, std::string_view v) noexcept { static_cast<S*>(s)->text(f, v); },
      [](void* s, const json_field& f, std::int64_t v) noexcept { static_cast<S*>(s)->integer(f, v); },
      [](void* s) noexcept { static_cast<S*>(s)->mark_truncated(); },
  };

  void* self_;
  const calls* calls_;
};

/// The handler Boost.JSON's basic_parser drives, for every schema.
class sax_reader {
 public:
  static constexpr std::size_t max_object_size = json_reader_limits::max_members;
  static constexpr std::size_t max_array_size = json_reader_limits::max_items;
  static constexpr std::size_t max_key_size = json_reader_limits::max_key;
  static constexpr std::size_t max_string_size = json_reader_limits::max_string;

  using ec_t = boost::json::error_code;
  using sv_t = boost::json::string_view;

  sax_reader(schema_ref schema, char* text, std::size_t text_capacity, bool allow_truncation) noexcept
      : schema_(schema), root_(schema.root()), text_(text), text_capacity_(text ? text_capacity : 0),
        allow_truncation_(allow_truncation) {}

  sax_reader(const sax_reader&) = delete;
  sax_reader& operator=(const sax_reader&) = delete;

  const ::kom::error& failure() const noexcept { return error_; }
  bool truncated() const noexcept { return truncated_; }

  /// The path of the deepest known container, for the parser's own errors.
  field_ref container_path() const noexcept { return frames_path(depth_, false); }

  // ---- Boost.JSON handler interface ------------------------------------------------------
  bool on_document_begin(ec_t&) noexcept { return true; }
  bool on_document_end(ec_t&) noexcept { return true; }
  bool on_comment_part(sv_t, ec_t&) noexcept { return true; }  // comments are off in kom's options
  bool on_comment(sv_t, ec_t&) noexcept { return true; }

  bool on_object_begin(ec_t& ec) noexcept { return begin_container(false, ec); }
  bool on_array_begin(ec_t& ec) noexcept { return begin_container(true, ec); }
  bool on_object_end(std::size_t, ec_t&) noexcept { return end_container(); }
  bool on_array_end(std::size_t, ec_t&) noexcept { return end_container(); }

  bool on_key_part(sv_t s, std::size_t, ec_t&) noexcept {
    if (skip_depth_ == 0) keep_scratch(s);
    return true;
  }
  bool on_key(sv_t s, std::size_t, ec_t&) noexcept {
    if (skip_depth_ != 0) return true;
    keep_scratch(s);
    pending_ = lookup({scratch_, scratch_size_});
    scratch_size_ = 0;
    return true;
  }

  bool on_string_part(sv_t s, std::size_t, ec_t& ec) noexcept { return string_piece({s.data(), s.size()}, false, ec); }
  bool on_string(sv_t s, std::size_t, ec_t& ec) noexcept { return string_piece({s.data(), s.size()}, true, ec); }

  bool on_number_part(sv_t s, ec_t&) noexcept {
    number_not_integer_ = number_not_integer_ || not_integer_text({s.data(), s.size()});
    return true;
  }
  bool on_int64(std::int64_t v, sv_t, ec_t& ec) noexcept {
    number_not_integer_ = false;
    const target t = next_value();
    switch (expected(t)) {
      case expect::skip: return true;
      case expect::integer: schema_.integer(*t.field, v); return true;
      default: return fail(ec, errc::json_wrong_type, t);
    }
  }
  bool on_uint64(std::uint64_t, sv_t, ec_t& ec) noexcept {
    number_not_integer_ = false;
    const target t = next_value();
    switch (expected(t)) {
      case expect::skip: return true;
      case expect::integer: return fail(ec, errc::json_number_out_of_range, t);  // above INT64_MAX
      default: return fail(ec, errc::json_wrong_type, t);
    }
  }
  bool on_double(double, sv_t s, ec_t& ec) noexcept {
    // Boost.JSON hands integers beyond 64 bits over as doubles too: an integer text is out
    // of range, a fraction or an exponent is not an amount at all.
    const bool not_integer = number_not_integer_ || not_integer_text({s.data(), s.size()});
    number_not_integer_ = false;
    const target t = next_value();
    switch (expected(t)) {
      case expect::skip: return true;
      case expect::integer: return fail(ec, not_integer ? errc::json_wrong_type : errc::json_number_out_of_range, t);
      default: return fail(ec, errc::json_wrong_type, t);
    }
  }
  bool on_bool(bool, ec_t& ec) noexcept {
    const target t = next_value();
    return expected(t) == expect::skip || fail(ec, errc::json_wrong_type, t);
  }
  bool on_null(ec_t& ec) noexcept {
    const bool root = skip_depth_ == 0 && depth_ == 0;
    const target t = next_value();  // null is "absent": counted as an item, otherwise ignored
    return !root || fail(ec, errc::json_wrong_type, t);  // but a body of just `null` is not a reply
  }

 private:
  enum class expect : std::uint8_t { skip, text, token, integer, object, list, text_item, text_or_list };

  // Where a value that starts now goes: a known field, an item of a known list, or nowhere.
  struct target {
    const json_field* field;  // null: skip the value
    bool item;                // an item of the list `field`
  };

  struct frame {
    const json_field* field;  // how the container was reached; for a list item, the list's field
    std::size_t items;        // arrays: values begun so far
    bool is_array;
    bool is_item;             // an object that is an item of the array below it
  };

  enum class string_mode : std::uint8_t { none, skip, text, token };

  static bool not_integer_text(std::string_view s) noexcept {
    return s.find_first_of(".eE") != std::string_view::npos;
  }

  const json_field* lookup(std::string_view key) const noexcept {
    if (depth_ == 0) return nullptr;
    const frame& top = frames_[depth_ - 1];
    if (top.is_array) return nullptr;
    for (const json_field& f : schema_.fields(top.field->id)) {
      if (f.key == key) return &f;
    }
    return nullptr;
  }

  // Consumes the pending key, or counts an array item.
  target next_value() noexcept {
    if (skip_depth_ != 0) return {nullptr, false};
    if (depth_ == 0) return {&root_, false};
    frame& top = frames_[depth_ - 1];
    if (top.is_array) {
      ++top.items;
      return {top.field, true};
    }
    const json_field* f = pending_;
    pending_ = nullptr;
    return {f, false};
  }

  static expect expected(const target& t) noexcept {
    if (t.field == nullptr) return expect::skip;
    if (t.item) return t.field->slot == json_slot::object_list ? expect::object : expect::text_item;
    switch (t.field->slot) {
      case json_slot::text: return expect::text;
      case json_slot::token: return expect::token;
      case json_slot::integer: return expect::integer;
      case json_slot::object: return expect::object;
      case json_slot::object_list: return expect::list;
      case json_slot::text_or_list: return expect::text_or_list;
    }
    return expect::skip;
  }

  // ---- paths ----
  // The type the document starts in: the root's node, or a list of them.
  field_ref root_path() const noexcept {
    return field_ref::in(root_.slot == json_slot::object_list ? model_type::capture_list
                                                               : static_cast<model_type>(root_.id));
  }

  // The first n known containers as a path; the items of the last one's list indexed only
  // when `index_of_last`.
  field_ref frames_path(std::size_t n, bool index_of_last) const noexcept {
    field_ref p = root_path();
    for (std::size_t i = 0; i < n; ++i) {
      const frame& f = frames_[i];
      if (!f.is_item && f.field != &root_) p = p.field(f.field->index);
      if (f.is_array && f.items != 0 && (i + 1 < n || index_of_last)) p = p.item(f.items - 1);
    }
    return p;
  }

  // The value's own path: "order_lines[2].name", "error_messages[1]".
  field_ref path_of(const target& t) const noexcept {
    field_ref p = frames_path(depth_, t.item);
    if (!t.item && t.field != nullptr && t.field != &root_) p = p.field(t.field->index);
    return p;
  }

  // The path of the list (or single-object slot) that has no room: "order_lines".
  field_ref path_of_full(const target& t) const noexcept {
    field_ref p = frames_path(depth_, false);
    if (!t.item && t.field != nullptr && t.field != &root_) p = p.field(t.field->index);
    return p;
  }

  bool fail(ec_t& ec, errc code, const target& t, std::int64_t detail = 0) noexcept {
    return fail_at(ec, ::kom::error(code, path_of(t), detail));
  }
  bool fail_at(ec_t& ec, const ::kom::error& e) noexcept {
    if (error_.ok()) error_ = e;
    ec = boost::json::error::syntax;  // any code stops the parser; error_ says what happened
    return false;
  }

  // No room for an item or a slot: an error, or (when allowed) skip it and say so.
  bool no_room(ec_t& ec, const target& t, const json_field& field) noexcept {
    if (!allow_truncation_) {
      return fail_at(ec, ::kom::error(errc::json_too_many_items, path_of_full(t),
                                      static_cast<std::int64_t>(schema_.capacity(field))));
    }
    note_truncated();
    return true;
  }

  void note_truncated() noexcept {
    truncated_ = true;
    schema_.mark_truncated();
  }

  // ---- containers ------------------------------------------------------------------------
  bool push(const json_field* field, bool is_array, bool is_item, ec_t& ec) noexcept {
    if (depth_ == json_reader_limits::max_known_depth) {  // not reached by kom's own schemas
      return fail_at(ec, ::kom::error(errc::json_too_deep, container_path(),
                                      static_cast<std::int64_t>(json_reader_limits::max_known_depth)));
    }
    frames_[depth_++] = frame{field, 0, is_array, is_item};
    return true;
  }

  bool begin_container(bool is_array, ec_t& ec) noexcept {
    if (skip_depth_ != 0) {
      ++skip_depth_;
      return true;
    }
    const target t = next_value();
    const expect e = expected(t);
    if (e == expect::skip) {
      skip_depth_ = 1;
      return true;
    }
    if (is_array) {
      if (e != expect::list && e != expect::text_or_list) return fail(ec, errc::json_wrong_type, t);
      if (!schema_.open_list(*t.field)) {  // not asked for: skipped whole
        skip_depth_ = 1;
        return true;
      }
      return push(t.field, true, false, ec);
    }
    if (e != expect::object) return fail(ec, errc::json_wrong_type, t);
    const json_open opened = schema_.open_object(*t.field);
    if (opened != json_open::opened) {
      if (opened == json_open::no_room && !no_room(ec, t, *t.field)) return false;
      skip_depth_ = 1;
      return true;
    }
    return push(t.field, false, t.item, ec);
  }

  bool end_container() noexcept {
    if (skip_depth_ != 0) {
      --skip_depth_;
      return true;
    }
    if (depth_ == 0) return true;  // not reached: Boost.JSON balances begin and end
    const frame f = frames_[--depth_];
    pending_ = nullptr;
    if (f.is_array) schema_.close_list(*f.field);
    else schema_.close_object(*f.field);
    return true;
  }

  // ---- strings ---------------------------------------------------------------------------
  void keep_scratch(std::string_view s) noexcept {
    const std::size_t room = sizeof scratch_ - scratch_size_;
    const std::size_t n = s.size() < room ? s.size() : room;
    if (n != 0) std::memcpy(scratch_ + scratch_size_, s.data(), n);
    scratch_size_ += n;
  }

  bool begin_string(ec_t& ec) noexcept {
    string_target_ = next_value();
    string_cut_ = false;
    scratch_size_ = 0;
    switch (expected(string_target_)) {
      case expect::skip: mode_ = string_mode::skip; return true;
      case expect::token: mode_ = string_mode::token; return true;
      case expect::text: break;
      case expect::text_item:
      case expect::text_or_list:
        if (!schema_.open_text_item(*string_target_.field)) {
          mode_ = string_mode::skip;
          return no_room(ec, string_target_, *string_target_.field);
        }
        break;
      default: return fail(ec, errc::json_wrong_type, string_target_);
    }
    mode_ = string_mode::text;
    text_start_ = text_used_;
    return true;
  }

  bool string_piece(std::string_view s, bool last, ec_t& ec) noexcept {
    if (mode_ == string_mode::none && !begin_string(ec)) return false;
    if (mode_ == string_mode::token) keep_scratch(s);
    if (mode_ == string_mode::text && !append_text(s, ec)) return false;
    if (!last) return true;
    const string_mode mode = mode_;
    mode_ = string_mode::none;
    if (mode == string_mode::token) {
      schema_.text(*string_target_.field, {scratch_, scratch_size_});
      scratch_size_ = 0;  // the next key starts from empty
    } else if (mode == string_mode::text) {
      schema_.text(*string_target_.field, {text_ + text_start_, text_used_ - text_start_});
    }
    return true;
  }

  // Copies a piece of the current string into the arena. Strings are contiguous in the
  // arena, so a cut can step back over a code point begun in an earlier piece.
  bool append_text(std::string_view s, ec_t& ec) noexcept {
    if (string_cut_) return true;
    const std::size_t room = text_capacity_ - text_used_;
    if (s.size() <= room) {
      if (!s.empty()) std::memcpy(text_ + text_used_, s.data(), s.size());
      text_used_ += s.size();
      return true;
    }
    if (!allow_truncation_) {
      return fail(ec, errc::json_text_overflow, string_target_, static_cast<std::int64_t>(text_capacity_));
    }
    if (room != 0) std::memcpy(text_ + text_used_, s.data(), room);
    text_used_ += room;
    // Boost.JSON delivers valid UTF-8 only. If the first byte left out continues a code
    // point, drop that code point's bytes already copied: its continuation bytes, then its lead.
    if ((static_cast<unsigned char>(s[room]) & 0xC0) == 0x80) {
      while (text_used_ > text_start_ && (static_cast<unsigned char>(text_[text_used_ - 1]) & 0xC0) == 0x80) --text_used_;
      if (text_used_ > text_start_) --text_used_;
    }
    string_cut_ = true;
    note_truncated();
    return true;
  }

  schema_ref schema_;
  const json_field root_;
  char* text_;
  std::size_t text_capacity_;
  std::size_t text_used_ = 0;
  std::size_t text_start_ = 0;
  bool allow_truncation_;
  bool truncated_ = false;
  bool string_cut_ = false;
  bool number_not_integer_ = false;
  string_mode mode_ = string_mode::none;
  target string_target_{nullptr, false};
  const json_field* pending_ = nullptr;
  std::size_t skip_depth_ = 0;
  std::size_t depth_ = 0;
  frame frames_[json_reader_limits::max_known_depth] = {};
  char scratch_[json_reader_limits::scratch] = {};
  std::size_t scratch_size_ = 0;
  ::kom::error error_;
};

/// Parses `body` whole with `schema`: one write_some(false, ...) over the complete body, so
/// Boost.JSON's parser never suspends and allocates nothing.
inline ::kom::error run_sax_reader(std::string_view body, schema_ref schema, char* text, std::size_t text_capacity,
                                   bool allow_truncation, bool* truncated) noexcept {
  boost::json::parse_options options;
  options.max_depth = KOM_JSON_READER_MAX_DEPTH;  // the rest stays strict RFC 8259 (no comments, no trailing commas, valid UTF-8)
  boost::json::basic_parser<sax_reader> parser(options, schema, text, text_capacity, allow_truncation);
  boost::json::error_code ec;
  // A null data pointer with size 0 is an empty body: give the parser a valid empty range.
  const char* data = body.data() != nullptr ? body.data() : "";
  const std::size_t used = parser.write_some(false, data, body.size(), ec);
  const sax_reader& h = parser.handler();
  if (truncated != nullptr) *truncated = h.truncated();
  if (!h.failure().ok()) return h.failure();
  if (ec) {
    using boost::json::error;
    // By value: only Boost.JSON's parser and this handler set `ec`, both with Boost.JSON's
    // category. error_code's operator== would name Boost.System's system and interop
    // categories, whose message() functions keep newlib's strerror and printf (5.7 KB of a
    // Cortex-M4 image, scripts/footprint).
    const int code = ec.value();
    const auto is = [code](error e) noexcept { return code == static_cast<int>(e); };
    if (is(error::too_deep)) return {errc::json_too_deep, h.container_path(), std::int64_t{KOM_JSON_READER_MAX_DEPTH}};
    if (is(error::string_too_large)) {
      return {errc::json_text_overflow, h.container_path(), static_cast<std::int64_t>(json_reader_limits::max_string)};
    }
    if (is(error::key_too_large)) {
      return {errc::json_text_overflow, h.container_path(), static_cast<std::int64_t>(json_reader_limits::max_key)};
    }
    if (is(error::array_too_large)) {
      return {errc::json_too_many_items, h.container_path(), static_cast<std::int64_t>(json_reader_limits::max_items)};
    }
    if (is(error::object_too_large)) {
      return {errc::json_too_many_items, h.container_path(), static_cast<std::int64_t>(json_reader_limits::max_members)};
    }
    if (is(error::exponent_overflow)) return {errc::json_number_out_of_range, h.container_path()};
    return {errc::json_syntax, static_cast<std::int64_t>(used)};
  }
  // A complete document followed by more than whitespace ("{} x", "[1] [2]").
  if (used != body.size()) return {errc::json_syntax, static_cast<std::int64_t>(used)};
  return {};
}

}  // namespace detail
}  // namespace kom

#endif  // KOM_DETAIL_SAX_READER_HPP
