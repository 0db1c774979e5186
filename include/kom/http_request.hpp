// kom/http_request.hpp: complete HTTP/1.1 requests for every Order Management call kom covers
// (kom/operations.hpp), written into the caller's buffer through one buffer_writer.
//
// Everything the caller gives is checked before a byte is written: path ids, header values,
// credentials, and the body (kom/validate.hpp). A request that fails writes nothing; a buffer
// that is too small gives errc::buffer_too_small with the size needed, and what was written
// (credentials included) is wiped. Call wipe_request() once the request is sent. Nothing
// here allocates.
#ifndef KOM_HTTP_REQUEST_HPP
#define KOM_HTTP_REQUEST_HPP

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "kom/buffer_writer.hpp"
#include "kom/config.hpp"
#include "kom/detail/crypto.hpp"
#include "kom/endpoint.hpp"
#include "kom/error.hpp"
#include "kom/json_body.hpp"
#include "kom/json_writer.hpp"
#include "kom/model.hpp"
#include "kom/operations.hpp"
#include "kom/validate.hpp"

namespace kom {

/// How a request authenticates. Either username and password, sent as
/// `Authorization: Basic base64(username:password)`, or a Klarna API key
/// (`klarna_live_api_…`), sent as `Authorization: Basic <API key>` as Klarna documents.
struct credentials {
  std::string_view username;  ///< at most limits::max_header_value bytes, no ':' and no control characters
  std::string_view password;  ///< at most limits::max_header_value bytes, no control characters
  std::string_view api_key;  ///< used when set; username and password are then ignored
};

/// The parts of Klarna's SDK User-Agent the caller knows; empty parts are left out:
/// `Library/kom_<version> Language/C++_17 OS/<os> Platform/<pos_model>_<firmware>`.
struct user_agent_info {
  std::string_view os;         ///< e.g. "Linux_5.10" or "FreeRTOS_10.5"
  std::string_view pos_model;  ///< e.g. "Kiosk-7"
  std::string_view firmware;   ///< e.g. "2.4.1"
};

/// What every request of one terminal shares.
struct request_config {
  endpoint server;                  ///< host (a DNS name or IPv4 address: A-Z a-z 0-9 - . _, at most 253) and port (not 0)
  ::kom::credentials credentials;   ///< the Authorization header
  user_agent_info user_agent;       ///< parts of the User-Agent header
};

namespace limits {
/// Longest order or capture id (characters A-Z a-z 0-9 - . _ ~); longer: invalid_path_id.
inline constexpr std::size_t max_path_id = 255;
/// Longest server host name (a DNS name's limit); longer: too_long.
inline constexpr std::size_t max_host = 253;
/// Longest header value kom writes from the caller's text (host, credentials, User-Agent
/// parts, idempotency key); longer: too_long.
inline constexpr std::size_t max_header_value = 1024;
}  // namespace limits

namespace detail {

inline error header_error(errc code, parameter field, std::int64_t detail = 0) noexcept {
  return {code, field, detail};
}

// Order and capture ids go into the path as they are: 1..255 unreserved characters
// (RFC 3986), so nothing needs encoding and nothing can change the request's meaning. "." and
// ".." are unreserved too, but as a whole segment they are dot-segments that a server or proxy
// resolves (…/orders/../captures is /ordermanagement/v1/captures): refused.
inline constexpr bool ascii_alnum(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

inline error check_path_id(parameter field, std::string_view id) noexcept {
  if (id.empty() || id.size() > limits::max_path_id) return header_error(errc::invalid_path_id, field);
  if (id == "." || id == "..") return header_error(errc::invalid_path_id, field);
  for (char c : id) {
    const bool unreserved = ascii_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
    if (!unreserved) return header_error(errc::invalid_path_id, field);
  }
  return {};
}

// A caller's header value: visible ASCII and (unless `no_space`) spaces. CR, LF, NUL, other
// controls and non-ASCII bytes could split or smuggle headers.
inline error check_header_value(parameter field, std::string_view value, bool required,
                                bool no_space = false) noexcept {
  if (required && value.empty()) return header_error(errc::required, field);
  if (value.size() > limits::max_header_value)
    return header_error(errc::too_long, field, static_cast<std::int64_t>(limits::max_header_value));
  for (char c : value) {
    const auto b = static_cast<unsigned char>(c);
    if (b < 0x20 || b > 0x7E || (no_space && b == ' ')) return header_error(errc::invalid_header_value, field);
  }
  return {};
}

// Username and password travel inside base64, so any UTF-8 is safe there; control
// characters are still refused, since no real credential holds them.
inline error check_secret(parameter field, std::string_view value) noexcept {
  if (value.empty()) return header_error(errc::missing_credentials, parameter::credentials);
  if (value.size() > limits::max_header_value)
    return header_error(errc::too_long, field, static_cast<std::int64_t>(limits::max_header_value));
  for (char c : value) {
    const auto b = static_cast<unsigned char>(c);
    if (b < 0x20 || b == 0x7F) return header_error(errc::invalid_header_value, field);
  }
  return {};
}

// The server's name goes into the Host header, the TLS server name and the resolver: a DNS
// name or an IPv4 address, 1..253 characters of A-Z a-z 0-9 - . _ (underscore for internal
// names). '/', '@', ':', '?', '#' and '%' could make it a URL that means another server.
inline error check_host(std::string_view host) noexcept {
  if (host.empty()) return header_error(errc::required, parameter::server_host);
  if (host.size() > limits::max_host)
    return header_error(errc::too_long, parameter::server_host, static_cast<std::int64_t>(limits::max_host));
  for (char c : host) {
    const bool name_char = ascii_alnum(c) || c == '-' || c == '.' || c == '_';
    if (!name_char) return header_error(errc::invalid_header_value, parameter::server_host);
  }
  return {};
}

inline error check_config(const request_config& c) noexcept {
  if (auto e = check_host(c.server.host); !e.ok()) return e;
  if (c.server.port == 0) return header_error(errc::below_minimum, parameter::server_port, 1);
  const credentials& k = c.credentials;
  if (!k.api_key.empty()) {
    if (auto e = check_header_value(parameter::credentials_api_key, k.api_key, true, true); !e.ok()) return e;
  } else {
    if (auto e = check_secret(parameter::credentials_username, k.username); !e.ok()) return e;
    if (auto e = check_secret(parameter::credentials_password, k.password); !e.ok()) return e;
    // RFC 7617: a user-id with a colon could not be told apart from the password.
    if (k.username.find(':') != std::string_view::npos)
      return header_error(errc::invalid_header_value, parameter::credentials_username);
  }
  const user_agent_info& ua = c.user_agent;
  if (auto e = check_header_value(parameter::user_agent_os, ua.os, false, true); !e.ok()) return e;
  if (auto e = check_header_value(parameter::user_agent_pos_model, ua.pos_model, false, true); !e.ok()) return e;
  if (auto e = check_header_value(parameter::user_agent_firmware, ua.firmware, false, true); !e.ok()) return e;
  return {};
}

// base64(username ":" password) with the backend's encoder (kom/detail/crypto.hpp), three
// bytes at a time so the joined secret never sits in a temporary buffer of its own. `encode`
// is there for the tests, which run both encoders.
inline error append_basic_credentials(buffer_writer& out, std::string_view user, std::string_view password,
                                      base64_encoder encode = &base64_encode) noexcept {
  const std::size_t total = user.size() + 1 + password.size();
  const auto byte_at = [&](std::size_t i) -> unsigned char {
    if (i < user.size()) return static_cast<unsigned char>(user[i]);
    if (i == user.size()) return ':';
    return static_cast<unsigned char>(password[i - user.size() - 1]);
  };
  unsigned char group[3];
  unsigned char encoded[5];  // four characters and the encoder's NUL
  int rc = 0;
  for (std::size_t i = 0; i < total && rc == 0; i += 3) {
    const std::size_t n = total - i < 3 ? total - i : 3;
    for (std::size_t k = 0; k < n; ++k) group[k] = byte_at(i + k);
    std::size_t written = 0;
    rc = encode(encoded, sizeof encoded, &written, group, n);
    if (rc == 0) out.append(reinterpret_cast<const char*>(encoded), written);
  }
  zeroize(group, sizeof group);
  zeroize(encoded, sizeof encoded);
  if (rc != 0) return error(errc::crypto_failed, rc);
  return {};
}

inline void append_header(buffer_writer& out, std::string_view name, std::string_view value) noexcept {
  out.append(name);
  out.append(": ");
  out.append(value);
  out.append("\r\n");
}

// The path of a call (kom/operations.hpp): /ordermanagement/v1/orders/{order_id}, then
// /captures/{item_id} or /refunds/{item_id} as the row names, then its tail. The log line
// writes it too.
inline void append_path(buffer_writer& out, const operation_info& row, std::string_view order_id,
                        std::string_view item_id) noexcept {
  out.append("/ordermanagement/v1/orders/");
  out.append(order_id);
  if (row.item != path_item::order) {
    out.append(row.item == path_item::capture ? "/captures/" : "/refunds/");
    out.append(item_id);
  }
  out.append(row.tail);
}

// The body writer of a request: none, or one of the validated bodies of json_body.hpp.
struct no_body {};

// The body_kind (kom/operations.hpp) of each body type, so that a call's row and the body
// it is given are checked against each other when the request writer is instantiated.
template <class Body> struct body_kind_of;
template <> struct body_kind_of<no_body> { static constexpr body_kind value = body_kind::none; };
template <> struct body_kind_of<capture_request> { static constexpr body_kind value = body_kind::capture_request; };
template <> struct body_kind_of<shipping_info_update> { static constexpr body_kind value = body_kind::shipping_info_update; };
template <> struct body_kind_of<refund_request> { static constexpr body_kind value = body_kind::refund_request; };
template <> struct body_kind_of<merchant_references> { static constexpr body_kind value = body_kind::merchant_references; };
template <> struct body_kind_of<authorization_update> { static constexpr body_kind value = body_kind::authorization_update; };

// A request's body seen through two functions, so that one request writer serves every body
// type (a copy per body type cost 800 to 900 bytes of Cortex-M4 flash each).
struct body_ref {
  const void* body = nullptr;
  error (*validate)(const void* body, const validation_options& options) noexcept = nullptr;
  void (*write)(json_writer& w, const void* body) noexcept = nullptr;
};

inline body_ref body_of(const no_body&) noexcept { return {}; }
template <class Body>
body_ref body_of(const Body& body) noexcept {
  body_ref b;
  b.body = &body;
  b.validate = [](const void* p, const validation_options& o) noexcept { return validate(*static_cast<const Body*>(p), o); };
  b.write = [](json_writer& w, const void* p) noexcept { write_json(w, *static_cast<const Body*>(p)); };
  return b;
}

// Writes head and body of the call `row` describes. Inputs are validated first; nothing is
// written when they are not valid. `keyless_post`: a keyed call sent without its
// Klarna-Idempotency-Key (the client's post_options::without_key). The row and the body are
// read at run time, so every call shares one copy of this code (firmware flash).
inline result<std::size_t> write_request(buffer_writer& out, const request_config& config, const operation_info& row,
                                         std::string_view order_id, std::string_view item_id,
                                         std::string_view idempotency_key, const body_ref& body,
                                         const validation_options& options, bool keyless_post = false) noexcept {
  if (auto e = check_path_id(parameter::order_id, order_id); !e.ok()) return e;
  if (row.item != path_item::order) {
    const parameter which = row.item == path_item::capture ? parameter::capture_id : parameter::refund_id;
    if (auto e = check_path_id(which, item_id); !e.ok()) return e;
  }
  // Every public builder requires a key; only the client's explicit keyless mode sends none.
  const bool send_key = row.idempotency_key && !keyless_post;
  if (send_key) {
    if (auto e = check_header_value(parameter::idempotency_key, idempotency_key, true, true); !e.ok()) return e;
  }
  if (auto e = check_config(config); !e.ok()) return e;
  if (body.validate != nullptr) {
    if (auto e = body.validate(body.body, options); !e.ok()) return e;
  }

  const bool has_body = body.write != nullptr;
  std::size_t body_size = 0;
  if (has_body) {
    buffer_writer measure(measure_only);
    json_writer w(measure);
    body.write(w, body.body);
    body_size = measure.size();
  }

  const std::size_t start = out.size();
  out.append(row.method);
  out.put(' ');
  append_path(out, row, order_id, item_id);
  out.append(" HTTP/1.1\r\nHost: ");
  out.append(config.server.host);
  if (config.server.port != 443) {
    out.put(':');
    out.append_uint(config.server.port);
  }
  out.append("\r\nAuthorization: Basic ");
  const credentials& k = config.credentials;
  if (!k.api_key.empty()) {
    out.append(k.api_key);
  } else if (auto e = append_basic_credentials(out, k.username, k.password); !e.ok()) {
    return e;
  }
  out.append("\r\nUser-Agent: Library/kom_" KOM_VERSION_STRING " Language/C++_17");
  const user_agent_info& ua = config.user_agent;
  if (!ua.os.empty()) {
    out.append(" OS/");
    out.append(ua.os);
  }
  if (!ua.pos_model.empty()) {
    out.append(" Platform/");
    out.append(ua.pos_model);
    if (!ua.firmware.empty()) {
      out.put('_');
      out.append(ua.firmware);
    }
  }
  out.append("\r\n");
  append_header(out, "Accept", "application/json");
  if (has_body) append_header(out, "Content-Type", "application/json");
  if (row.changes()) {
    out.append("Content-Length: ");
    out.append_uint(body_size);
    out.append("\r\n");
  }
  if (send_key) append_header(out, "Klarna-Idempotency-Key", idempotency_key);
  out.append("Connection: keep-alive\r\n\r\n");
  if (has_body) {
    json_writer w(out);
    body.write(w, body.body);
  }
  if (out.overflow()) {
    // Part of the credentials may be in the buffer: a request that is not sent leaves none.
    if (out.written() > start) zeroize(out.data() + start, out.written() - start);
    return error(errc::buffer_too_small, static_cast<std::int64_t>(out.size()));
  }
  return out.size() - start;
}

// Call Op with its body: what the row names and what is given are checked against each other
// when this is compiled.
template <operation Op, class Body>
result<std::size_t> write_call(buffer_writer& out, const request_config& config, std::string_view order_id,
                               std::string_view item_id, std::string_view idempotency_key, const Body& body,
                               const validation_options& options, bool keyless_post = false) noexcept {
  static_assert(body_kind_of<Body>::value == info_of(Op).body, "the body given is not the one this call's row names");
  return write_request(out, config, info_of(Op), order_id, item_id, idempotency_key, body_of(body), options,
                       keyless_post);
}

}  // namespace detail

// ---- one builder per operation -------------------------------------------------------------
// Each returns the request's size in bytes. `out` may be measure-only (kom::measure_only) to learn the
// size. Errors: invalid_path_id, invalid_header_value, required, too_long, missing_credentials,
// the body's validation errors (kom/validate.hpp), buffer_too_small (detail = bytes needed).

/// POST …/orders/{order_id}/captures: a full or partial capture.
inline result<std::size_t> write_capture_request(buffer_writer& out, const request_config& config,
                                                 std::string_view order_id, const capture_request& capture,
                                                 std::string_view idempotency_key,
                                                 const validation_options& options = {}) noexcept {
  return detail::write_call<operation::capture>(out, config, order_id, {}, idempotency_key, capture, options);
}

/// GET …/orders/{order_id}/captures/{capture_id}.
inline result<std::size_t> write_get_capture_request(buffer_writer& out, const request_config& config,
                                                     std::string_view order_id, std::string_view capture_id) noexcept {
  return detail::write_call<operation::get_capture>(out, config, order_id, capture_id, {}, detail::no_body{}, {});
}

/// GET …/orders/{order_id}/captures.
inline result<std::size_t> write_list_captures_request(buffer_writer& out, const request_config& config,
                                                       std::string_view order_id) noexcept {
  return detail::write_call<operation::list_captures>(out, config, order_id, {}, {}, detail::no_body{}, {});
}

/// POST …/captures/{capture_id}/shipping-info: appends 1..500 shipping entries.
inline result<std::size_t> write_shipping_info_request(buffer_writer& out, const request_config& config,
                                                       std::string_view order_id, std::string_view capture_id,
                                                       const shipping_info_update& update,
                                                       std::string_view idempotency_key) noexcept {
  return detail::write_call<operation::append_shipping_info>(out, config, order_id, capture_id, idempotency_key,
                                                             update, {});
}

/// POST …/captures/{capture_id}/trigger-send-out: no body, Content-Length: 0.
inline result<std::size_t> write_trigger_send_out_request(buffer_writer& out, const request_config& config,
                                                          std::string_view order_id, std::string_view capture_id,
                                                          std::string_view idempotency_key) noexcept {
  return detail::write_call<operation::trigger_send_out>(out, config, order_id, capture_id, idempotency_key,
                                                         detail::no_body{}, {});
}

/// GET …/orders/{order_id}.
inline result<std::size_t> write_get_order_request(buffer_writer& out, const request_config& config,
                                                   std::string_view order_id) noexcept {
  return detail::write_call<operation::get_order>(out, config, order_id, {}, {}, detail::no_body{}, {});
}

/// POST …/orders/{order_id}/refunds: a refund (a return at the till).
inline result<std::size_t> write_refund_request(buffer_writer& out, const request_config& config,
                                                std::string_view order_id, const refund_request& refund,
                                                std::string_view idempotency_key,
                                                const validation_options& options = {}) noexcept {
  return detail::write_call<operation::refund>(out, config, order_id, {}, idempotency_key, refund, options);
}

/// GET …/orders/{order_id}/refunds/{refund_id}.
inline result<std::size_t> write_get_refund_request(buffer_writer& out, const request_config& config,
                                                    std::string_view order_id, std::string_view refund_id) noexcept {
  return detail::write_call<operation::get_refund>(out, config, order_id, refund_id, {}, detail::no_body{}, {});
}

/// POST …/orders/{order_id}/cancel: voids an order nothing was captured of. No body.
inline result<std::size_t> write_cancel_request(buffer_writer& out, const request_config& config,
                                                std::string_view order_id, std::string_view idempotency_key) noexcept {
  return detail::write_call<operation::cancel>(out, config, order_id, {}, idempotency_key, detail::no_body{}, {});
}

/// POST …/orders/{order_id}/release-remaining-authorization: no more captures. No body.
inline result<std::size_t> write_release_remaining_authorization_request(buffer_writer& out,
                                                                         const request_config& config,
                                                                         std::string_view order_id,
                                                                         std::string_view idempotency_key) noexcept {
  return detail::write_call<operation::release_remaining_authorization>(out, config, order_id, {}, idempotency_key,
                                                                        detail::no_body{}, {});
}

/// POST …/orders/{order_id}/extend-authorization-time. No body.
inline result<std::size_t> write_extend_authorization_time_request(buffer_writer& out, const request_config& config,
                                                                   std::string_view order_id,
                                                                   std::string_view idempotency_key) noexcept {
  return detail::write_call<operation::extend_authorization_time>(out, config, order_id, {}, idempotency_key,
                                                                  detail::no_body{}, {});
}

/// PATCH …/orders/{order_id}/merchant-references.
inline result<std::size_t> write_merchant_references_request(buffer_writer& out, const request_config& config,
                                                             std::string_view order_id,
                                                             const merchant_references& references,
                                                             std::string_view idempotency_key) noexcept {
  return detail::write_call<operation::update_merchant_references>(out, config, order_id, {}, idempotency_key,
                                                                   references, {});
}

/// PATCH …/orders/{order_id}/authorization: a new order amount (and lines) before pickup.
inline result<std::size_t> write_authorization_update_request(buffer_writer& out, const request_config& config,
                                                              std::string_view order_id,
                                                              const authorization_update& update,
                                                              std::string_view idempotency_key,
                                                              const validation_options& options = {}) noexcept {
  return detail::write_call<operation::update_authorization>(out, config, order_id, {}, idempotency_key, update,
                                                             options);
}

/// Wipes a buffer that held a request (its Authorization header) once it is sent, in a way
/// the compiler cannot drop (mbedtls_platform_zeroize, or stores through a volatile pointer
/// without mbedTLS: kom/detail/crypto.hpp).
inline void wipe_request(char* data, std::size_t size) noexcept {
  if (data != nullptr && size != 0) detail::zeroize(data, size);
}

/// Wipes all N bytes of `buffer`, as wipe_request(buffer, N).
template <std::size_t N>
void wipe_request(char (&buffer)[N]) noexcept {
  wipe_request(buffer, N);
}

}  // namespace kom

#endif  // KOM_HTTP_REQUEST_HPP
