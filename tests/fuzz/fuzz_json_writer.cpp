// libFuzzer target: kom::json_writer over fuzzer-chosen keys and string values.
//
// Input: one byte that picks a buffer size, then pieces, each a length byte and that many
// bytes (any bytes: controls, quotes, backslashes, UTF-8 valid or not). The first piece is a
// key; the rest are values: { "n": 1, key: [values...] }. It is written three ways: into a
// roomy buffer (the one-pass path), into a heap buffer of exactly the chosen size (the bounded
// path near its end; ASan sees any byte past it) and measure-only. Checked with
// __builtin_trap():
//   - all three end with the same status; the measured size equals the roomy output's size
//     and the small buffer's; the small buffer holds a prefix of the roomy output;
//   - on success the output is JSON that Boost.JSON parses back to the same key and values;
//   - on invalid_utf8 one piece is not UTF-8 (Boost.JSON's own check, on the piece written
//     alone as a JSON string), and the output stops where that piece would have begun.
#include <boost/json/src.hpp>  // all of Boost.JSON compiled in: its DOM checks the output

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "kom/json_writer.hpp"

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

struct result {
  kom::errc status;
  std::size_t size;
  std::string text;
};

result write(kom::buffer_writer& out, const std::vector<std::string_view>& pieces) {
  kom::json_writer w(out);
  w.begin_object();
  w.member("n", std::int64_t{1});
  w.key(pieces[0]);
  w.begin_array();
  for (std::size_t i = 1; i < pieces.size(); ++i) w.string(pieces[i]);
  w.end_array();
  w.end_object();
  return {w.status(), out.size(), std::string(out.view())};
}

// Boost.JSON's verdict on raw bytes as the contents of a JSON string: escape what JSON
// requires escaped, leave every other byte as it is, and let its parser check the UTF-8.
bool boost_says_utf8(std::string_view s) {
  std::string doc = "\"";
  for (char c : s) {
    const auto b = static_cast<unsigned char>(c);
    if (b < 0x20 || c == '"' || c == '\\') {
      static const char hex[] = "0123456789abcdef";
      doc += "\\u00";
      doc += hex[b >> 4];
      doc += hex[b & 0xF];
    } else {
      doc += c;
    }
  }
  doc += '"';
  boost::json::error_code ec;
  boost::json::parse(doc, ec);
  return !ec;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::size_t small_size = data[0] * 4u;
  std::vector<std::string_view> pieces;
  for (std::size_t at = 1; at < size && pieces.size() < 16;) {
    const std::size_t n = data[at++];
    const std::size_t take = n < size - at ? n : size - at;
    pieces.emplace_back(reinterpret_cast<const char*>(data + at), take);
    at += take;
  }
  if (pieces.empty()) return 0;

  std::vector<char> roomy_buffer(64 + 8 * size);
  kom::buffer_writer roomy(roomy_buffer.data(), roomy_buffer.size());
  const result big = write(roomy, pieces);
  check(!roomy.overflow());

  std::unique_ptr<char[]> small_buffer(new char[small_size == 0 ? 1 : small_size]);
  kom::buffer_writer small(small_size == 0 ? nullptr : small_buffer.get(), small_size);
  const result cut = write(small, pieces);
  kom::buffer_writer measure(kom::measure_only);
  const result counted = write(measure, pieces);

  check(big.status == cut.status && big.status == counted.status);
  check(counted.size == big.size && cut.size == big.size);
  check(big.text.compare(0, cut.text.size(), cut.text) == 0);
  if (small_size != 0) check(cut.text.size() == (big.size < small_size ? big.size : small_size));

  bool all_utf8 = true;
  for (std::string_view p : pieces) all_utf8 = all_utf8 && boost_says_utf8(p);
  if (big.status == kom::errc::ok) {
    check(all_utf8);
    boost::json::error_code ec;
    const boost::json::value v = boost::json::parse(big.text, ec);
    check(!ec && v.is_object());
    if (pieces[0] == "n") return 0;  // a duplicate key: which one a parser keeps is its own choice
    check(v.as_object().size() == 2);
    const boost::json::value* list = v.as_object().if_contains(boost::json::string_view(pieces[0].data(), pieces[0].size()));
    check(list != nullptr && list->is_array() && list->as_array().size() == pieces.size() - 1);
    for (std::size_t i = 1; i < pieces.size(); ++i) {
      const boost::json::string& s = list->as_array()[i - 1].as_string();
      check(std::string_view(s.data(), s.size()) == pieces[i]);
    }
  } else {
    check(big.status == kom::errc::invalid_utf8 && !all_utf8);
    // Nothing of the bad piece (nor its comma) is written, and nothing after it.
    const std::size_t bad = [&] {
      for (std::size_t i = 0; i < pieces.size(); ++i)
        if (!boost_says_utf8(pieces[i])) return i;
      return pieces.size();
    }();
    kom::buffer_writer before_buffer(roomy_buffer.data(), roomy_buffer.size());
    std::vector<std::string_view> good(pieces.begin(), pieces.begin() + static_cast<std::ptrdiff_t>(bad));
    kom::json_writer w(before_buffer);
    w.begin_object();
    w.member("n", std::int64_t{1});
    if (bad > 0) {
      w.key(pieces[0]);
      w.begin_array();
      for (std::size_t i = 1; i < bad; ++i) w.string(pieces[i]);
    }
    check(w.status() == kom::errc::ok && before_buffer.view() == big.text);
  }
  return 0;
}
