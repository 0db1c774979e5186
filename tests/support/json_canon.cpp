#include "json_canon.hpp"

#include <boost/json/basic_parser_impl.hpp>

#include <cstdint>
#include <map>
#include <vector>

namespace kom_test {
namespace {

struct node {
  enum kind_t { null, boolean, number, string, array, object } kind = null;
  std::string text;  // boolean, number (canonical text), string (decoded)
  std::vector<node> items;
  std::map<std::string, node> members;
};

std::string quote(const std::string& s) {
  std::string out = "\"";
  static const char hex[] = "0123456789abcdef";
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\' || c < 0x20) {
      out += "\\u00";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

void print(const node& n, std::string& out) {
  switch (n.kind) {
    case node::null: out += "null"; break;
    case node::boolean:
    case node::number: out += n.text; break;
    case node::string: out += quote(n.text); break;
    case node::array: {
      out += '[';
      bool first = true;
      for (const node& i : n.items) {
        if (!first) out += ',';
        first = false;
        print(i, out);
      }
      out += ']';
      break;
    }
    case node::object: {
      out += '{';
      bool first = true;
      for (const auto& [k, v] : n.members) {
        if (!first) out += ',';
        first = false;
        out += quote(k);
        out += ':';
        print(v, out);
      }
      out += '}';
      break;
    }
  }
}

// Builds the tree; a stack of open containers and the pending key of each object.
struct tree_handler {
  static constexpr std::size_t max_object_size = 100000;
  static constexpr std::size_t max_array_size = 100000;
  static constexpr std::size_t max_key_size = 100000;
  static constexpr std::size_t max_string_size = 1000000;

  node root;
  std::vector<node*> open;
  std::vector<std::string> keys;
  std::string partial;
  bool duplicate_key = false;

  void add(node n) {
    if (open.empty()) {
      root = std::move(n);
      return;
    }
    node* top = open.back();
    if (top->kind == node::array) {
      top->items.push_back(std::move(n));
    } else {
      if (top->members.count(keys.back())) duplicate_key = true;
      top->members[keys.back()] = std::move(n);
    }
  }
  node* add_container(node::kind_t k) {
    node n;
    n.kind = k;
    if (open.empty()) {
      root = std::move(n);
      return &root;
    }
    node* top = open.back();
    if (top->kind == node::array) {
      top->items.push_back(std::move(n));
      return &top->items.back();
    }
    if (top->members.count(keys.back())) duplicate_key = true;
    node& slot = top->members[keys.back()];
    slot = std::move(n);
    return &slot;
  }

  using ec_t = boost::json::error_code;
  bool on_document_begin(ec_t&) { return true; }
  bool on_document_end(ec_t&) { return true; }
  bool on_array_begin(ec_t&) {
    open.push_back(add_container(node::array));
    keys.emplace_back();
    return true;
  }
  bool on_array_end(std::size_t, ec_t&) {
    open.pop_back();
    keys.pop_back();
    return true;
  }
  bool on_object_begin(ec_t&) {
    open.push_back(add_container(node::object));
    keys.emplace_back();
    return true;
  }
  bool on_object_end(std::size_t, ec_t&) {
    open.pop_back();
    keys.pop_back();
    return true;
  }
  bool on_string_part(boost::json::string_view s, std::size_t, ec_t&) {
    partial.append(s.data(), s.size());
    return true;
  }
  bool on_string(boost::json::string_view s, std::size_t, ec_t&) {
    partial.append(s.data(), s.size());
    node n;
    n.kind = node::string;
    n.text = std::move(partial);
    partial.clear();
    add(std::move(n));
    return true;
  }
  bool on_key_part(boost::json::string_view s, std::size_t, ec_t&) {
    partial.append(s.data(), s.size());
    return true;
  }
  bool on_key(boost::json::string_view s, std::size_t, ec_t&) {
    partial.append(s.data(), s.size());
    keys.back() = std::move(partial);
    partial.clear();
    return true;
  }
  bool on_number_part(boost::json::string_view, ec_t&) { return true; }
  bool on_int64(std::int64_t v, boost::json::string_view, ec_t&) { return number(std::to_string(v)); }
  bool on_uint64(std::uint64_t v, boost::json::string_view, ec_t&) { return number(std::to_string(v)); }
  bool on_double(double, boost::json::string_view raw, ec_t&) { return number(std::string(raw.data(), raw.size())); }
  bool number(std::string text) {
    node n;
    n.kind = node::number;
    n.text = std::move(text);
    add(std::move(n));
    return true;
  }
  bool on_bool(bool b, ec_t&) {
    node n;
    n.kind = node::boolean;
    n.text = b ? "true" : "false";
    add(std::move(n));
    return true;
  }
  bool on_null(ec_t&) {
    add(node{});
    return true;
  }
  bool on_comment_part(boost::json::string_view, ec_t&) { return true; }
  bool on_comment(boost::json::string_view, ec_t&) { return true; }
};

std::optional<node> parse(std::string_view json) {
  boost::json::basic_parser<tree_handler> p(boost::json::parse_options{});
  boost::json::error_code ec;
  const std::size_t used = p.write_some(false, json.data(), json.size(), ec);
  if (ec || used != json.size() || p.handler().duplicate_key) return std::nullopt;
  return std::move(p.handler().root);
}

}  // namespace

std::optional<std::string> canonical_json(std::string_view json) {
  auto n = parse(json);
  if (!n) return std::nullopt;
  std::string out;
  print(*n, out);
  return out;
}

std::optional<std::string> decode_json_string(std::string_view json) {
  auto n = parse(json);
  if (!n || n->kind != node::string) return std::nullopt;
  return n->text;
}

std::string minify_json(std::string_view json) {
  std::string out;
  bool in_string = false, escaped = false;
  for (char c : json) {
    if (in_string) {
      out += c;
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
      out += c;
    } else if (c != ' ' && c != '\n' && c != '\r' && c != '\t') {
      out += c;
    }
  }
  return out;
}

}  // namespace kom_test
