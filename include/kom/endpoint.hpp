// kom/endpoint.hpp: which server a request goes to. Klarna's six hosts (EU, NA, OC, each in
// production and playground) or a custom host and port, for a test server.
#ifndef KOM_ENDPOINT_HPP
#define KOM_ENDPOINT_HPP

#include <cstdint>
#include <string_view>

namespace kom {

/// Klarna's API regions: Europe, North America, Oceania.
enum class region : std::uint8_t { eu, na, oc };
/// Live orders, or Klarna's test environment.
enum class environment : std::uint8_t { production, playground };

/// A host name and TCP port. Credentials are per region and environment: playground
/// credentials get 401 from production.
struct endpoint {
  std::string_view host;     ///< not copied: the text must outlive the endpoint
  std::uint16_t port = 443;  ///< TCP port
};

/// Klarna's API host for a region and environment (always HTTPS on port 443).
constexpr endpoint klarna_endpoint(region r, environment e) noexcept {
  const bool live = e == environment::production;
  switch (r) {
    case region::na: return {live ? "api-na.klarna.com" : "api-na.playground.klarna.com", 443};
    case region::oc: return {live ? "api-oc.klarna.com" : "api-oc.playground.klarna.com", 443};
    case region::eu: break;
  }
  return {live ? "api.klarna.com" : "api.playground.klarna.com", 443};
}

}  // namespace kom

#endif  // KOM_ENDPOINT_HPP
