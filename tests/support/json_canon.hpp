// Test helpers that read JSON with Boost.JSON's own parser (not kom's code), so that kom's
// output is checked by an independent reader.
#ifndef KOM_TESTS_JSON_CANON_HPP
#define KOM_TESTS_JSON_CANON_HPP

#include <optional>
#include <string>
#include <string_view>

namespace kom_test {

/// The document in a canonical form (object keys sorted, no whitespace, numbers as
/// integers where they are integers), or nothing when it does not parse.
std::optional<std::string> canonical_json(std::string_view json);

/// The decoded text of a document that is one JSON string, or nothing.
std::optional<std::string> decode_json_string(std::string_view json);

/// The document without insignificant whitespace (strings left as they are).
std::string minify_json(std::string_view json);

}  // namespace kom_test

#endif
