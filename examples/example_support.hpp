// examples/example_support.hpp: the setup every example shares, done the way a Linux-based
// terminal does it once at boot:
//
//   POSIX TCP (kom::posix_tcp) -> TLS by mbedTLS (kom::tls_stream, trusting the CA file)
//   -> kom::client with a CTR-DRBG, a monotonic clock, nanosleep and a log hook on stderr.
//
// Options every example takes:
//   --region eu|na|oc --env production|playground   Klarna's host (default: eu playground)
//   --host H [--port P]                              another server, e.g. kom-sim on localhost
//   --ca-file PEM                                    default: the system bundle
//   --quiet                                          no log line per request on stderr
// Credentials come from the environment: KOM_USERNAME and KOM_PASSWORD, or KOM_API_KEY.
//
// The examples may allocate (the CA file is read into a std::vector, options are strings);
// kom itself never does.
#ifndef KOM_EXAMPLE_SUPPORT_HPP
#define KOM_EXAMPLE_SUPPORT_HPP

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <time.h>

#include "kom/client.hpp"
#include "kom/posix_transport.hpp"
#include "kom/tls.hpp"

namespace example {

inline constexpr const char* system_ca_file = "/etc/ssl/certs/ca-certificates.crt";

/// Exit codes of the examples and kom-cli.
enum exit_code : int { exit_ok = 0, exit_refused = 1, exit_usage = 2, exit_retry_later = 3, exit_applied_id_unknown = 4,
                       exit_unknown = 5 };

/// The options every example takes; the rest of the command line stays in `args`.
struct options {
  kom::region region = kom::region::eu;
  kom::environment environment = kom::environment::playground;
  std::string host;           ///< --host: another server instead of Klarna's
  std::uint16_t port = 443;
  std::string ca_file = system_ca_file;
  bool quiet = false;
  /// The client's log hook, null for one line per record on stderr (--quiet: none).
  void (*log)(void* context, const kom::log_record& record) = nullptr;
  std::vector<std::string_view> args;  ///< positional arguments and options the program knows itself

  kom::endpoint server() const {
    if (!host.empty()) return {host, port};
    return kom::klarna_endpoint(region, environment);
  }
};

template <class Int>
bool parse_int(std::string_view text, Int& out) {
  if (text.empty()) return false;
  const char* end = text.data() + text.size();
  const std::from_chars_result r = std::from_chars(text.data(), end, out);
  return r.ec == std::errc() && r.ptr == end;
}

/// Takes the shared options out of argv. False (with a message on stderr) on a bad one.
inline bool parse_options(int argc, char** argv, options& o) {
  bool port_given = false;
  bool region_given = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    const bool takes_value = a == "--region" || a == "--env" || a == "--host" || a == "--port" || a == "--ca-file";
    if (!takes_value) {
      if (a == "--quiet") o.quiet = true;
      else o.args.push_back(a);
      continue;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "%s needs a value\n", argv[i]);
      return false;
    }
    const std::string_view v = argv[++i];
    if (a == "--region") {
      region_given = true;
      if (v == "eu") o.region = kom::region::eu;
      else if (v == "na") o.region = kom::region::na;
      else if (v == "oc") o.region = kom::region::oc;
      else {
        std::fprintf(stderr, "--region: eu, na or oc, not '%s'\n", argv[i]);
        return false;
      }
    } else if (a == "--env") {
      region_given = true;
      if (v == "production") o.environment = kom::environment::production;
      else if (v == "playground") o.environment = kom::environment::playground;
      else {
        std::fprintf(stderr, "--env: production or playground, not '%s'\n", argv[i]);
        return false;
      }
    } else if (a == "--host") {
      o.host = std::string(v);
    } else if (a == "--port") {
      port_given = true;
      if (!parse_int(v, o.port) || o.port == 0) {
        std::fprintf(stderr, "--port: a number from 1 to 65535, not '%s'\n", argv[i]);
        return false;
      }
    } else {
      o.ca_file = std::string(v);
    }
  }
  if (port_given && o.host.empty()) {
    std::fprintf(stderr, "--port goes with --host\n");
    return false;
  }
  if (region_given && !o.host.empty()) {
    std::fprintf(stderr, "--host replaces --region and --env: give one or the other\n");
    return false;
  }
  return true;
}

/// A whole file, plus a NUL at the end (mbedTLS counts it in a PEM's size).
inline bool read_file(const std::string& path, std::vector<unsigned char>& out) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return false;
  unsigned char chunk[4096];
  std::size_t n = 0;
  while ((n = std::fread(chunk, 1, sizeof chunk, f)) > 0) out.insert(out.end(), chunk, chunk + n);
  const bool ok = std::ferror(f) == 0;
  std::fclose(f);
  out.push_back('\0');
  return ok;
}

// ---- the client's hooks --------------------------------------------------------------------

inline std::uint64_t now_ms(void*) {
  using namespace std::chrono;
  return static_cast<std::uint64_t>(duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count());
}

inline void sleep_ms(void*, std::uint32_t ms) {
  timespec left{static_cast<time_t>(ms / 1000), static_cast<long>(ms % 1000) * 1000000L};
  while (::nanosleep(&left, &left) == -1 && errno == EINTR) {
  }
}

inline void log_to_stderr(void*, const kom::log_record& record) {
  char line[600];
  kom::buffer_writer out(line);
  kom::write_log_line(out, record);
  std::fflush(stdout);  // in order with what the program printed so far
  std::fprintf(stderr, "kom: %.*s\n", static_cast<int>(out.view().size()), out.view().data());
}

/// A message of a kom::error, as a std::string for printing.
inline std::string message(const kom::error& e) {
  char text[256];
  return std::string(e.describe(text));
}

// ---- one terminal's connection to Klarna -------------------------------------------------

/// Everything a terminal sets up once: randomness, TCP, TLS, the client and its work buffer.
/// Not copyable or movable (the layers point at each other).
class terminal {
 public:
  terminal() = default;
  terminal(const terminal&) = delete;
  terminal& operator=(const terminal&) = delete;

  /// Sets up from the options and the environment. False (with a message on stderr) when
  /// something is missing; nothing has been sent then.
  bool open(const options& o) {
    if (rng_.seeded != 0) {
      std::fprintf(stderr, "cannot seed the random generator (mbedTLS %d)\n", rng_.seeded);
      return false;
    }
    if (!read_file(o.ca_file, ca_)) {
      std::fprintf(stderr, "cannot read the CA file %s\n", o.ca_file.c_str());
      return false;
    }
    // A positive detail: that many certificates of a bundle did not parse (mbedTLS lacks some
    // algorithms); the others are trusted.
    const kom::error added = tls_.add_ca(ca_.data(), ca_.size());
    if (!added.ok() && added.detail() <= 0) {
      std::fprintf(stderr, "no CA certificate in %s: %s\n", o.ca_file.c_str(), message(added).c_str());
      return false;
    }
    if (!credentials_from_environment()) return false;
    host_ = o.host;
    config_.request.server = o.server();
    if (!host_.empty()) config_.request.server.host = host_;
    config_.request.user_agent = {"Linux", "kom-example", KOM_VERSION_STRING};

    kom::client_hooks hooks;
    hooks.now_ms = &now_ms;
    hooks.sleep_ms = &sleep_ms;
    if (!o.quiet) hooks.log = o.log != nullptr ? o.log : &log_to_stderr;
    hooks.random = kom::random_source::callback();
    hooks.random_context = rng_.context();
    client_.emplace(tls_.transport(), config_, hooks, work_);
    return true;
  }

  kom::client& client() { return *client_; }
  const kom::tls_stream& tls() const { return tls_; }
  const kom::endpoint& server() const { return config_.request.server; }

 private:
  bool credentials_from_environment() {
    const char* api_key = std::getenv("KOM_API_KEY");
    const char* username = std::getenv("KOM_USERNAME");
    const char* password = std::getenv("KOM_PASSWORD");
    if (api_key != nullptr && *api_key != '\0') {
      config_.request.credentials.api_key = api_key;
    } else if (username != nullptr && *username != '\0' && password != nullptr && *password != '\0') {
      config_.request.credentials.username = username;
      config_.request.credentials.password = password;
    } else {
      std::fprintf(stderr, "no credentials: set KOM_USERNAME and KOM_PASSWORD, or KOM_API_KEY\n");
      return false;
    }
    return true;
  }

  struct seeded_drbg : kom::random_source {
    int seeded = seed("kom-example");  // a terminal would add its serial number
  };

  seeded_drbg rng_;
  kom::posix_tcp tcp_;
  std::vector<unsigned char> ca_;
  kom::tls_stream tls_{tcp_.transport(), kom::random_source::callback(), rng_.context()};
  std::string host_;
  kom::client_config config_;
  char work_[16 * 1024] = {};  // one request or one response at a time
  std::optional<kom::client> client_;
};

// ---- printing ----------------------------------------------------------------------------
// Text kom reads is a view into a buffer, not NUL-terminated: print it with its size.
#define KOM_EX_SV(v) static_cast<int>((v).size()), (v).data()

inline std::string_view or_dash(std::string_view v) { return v.empty() ? std::string_view("-") : v; }

/// What the caller does next, as an exit code.
inline int exit_code_of(kom::outcome o) {
  switch (o) {
    case kom::outcome::done: return exit_ok;
    case kom::outcome::refused: return exit_refused;
    case kom::outcome::retry_later: return exit_retry_later;
    case kom::outcome::applied_id_unknown: return exit_applied_id_unknown;
    case kom::outcome::unknown: return exit_unknown;
  }
  return exit_refused;
}

/// "HTTP 201, Klarna-Correlation-Id 1a2b...", and when the call failed, why.
template <class T>
void print_answer(const kom::reply<T>& r, const char* indent = "") {
  if (r.status != 0) {
    std::printf("%sHTTP %d, Klarna-Correlation-Id %.*s\n", indent, r.status, KOM_EX_SV(or_dash(r.correlation_id)));
  } else {
    std::printf("%s%s\n", indent, r.sent ? "no HTTP answer" : "not sent");
  }
  if (r.ok()) return;
  std::printf("%sfailed: %s\n", indent, message(r.error).c_str());
  if (r.klarna.error_code != kom::klarna_error_code::unset) {
    std::printf("%s  error_code %.*s\n", indent, KOM_EX_SV(r.klarna.error_code_text));
  }
  for (std::string_view m : r.klarna.error_messages) std::printf("%s  message    %.*s\n", indent, KOM_EX_SV(m));
  switch (r.next_step()) {
    case kom::outcome::done: break;
    case kom::outcome::refused: std::printf("%s  refused: sending it again fails the same way\n", indent); break;
    case kom::outcome::retry_later:
      std::printf("%s  not applied, or not known to be: send it again later%s\n", indent,
                  r.idempotency_key.empty() ? "" : " with the same idempotency key");
      break;
    case kom::outcome::applied_id_unknown:
      std::printf("%s  applied (HTTP %d), but the new id could not be read: look for it in the order's captures or "
                  "refunds, do not send it again\n", indent, r.status);
      break;
    case kom::outcome::unknown:
      std::printf("%s  sent without an idempotency key and not answered: read the order before anything else\n", indent);
      break;
  }
}

inline void print_shipping_info(const kom::shipping_info& s, const char* indent = "  ") {
  std::printf("%sshipping: %.*s", indent, KOM_EX_SV(or_dash(s.shipping_company)));
  if (s.shipping_method != kom::shipping_method::unset) {
    std::printf(" (%.*s)", KOM_EX_SV(or_dash(kom::to_string(s.shipping_method))));
  }
  if (!s.tracking_number.empty()) std::printf(", tracking %.*s", KOM_EX_SV(s.tracking_number));
  if (!s.return_tracking_number.empty()) {
    std::printf(", return %.*s %.*s", KOM_EX_SV(or_dash(s.return_shipping_company)), KOM_EX_SV(s.return_tracking_number));
  }
  std::printf("\n");
}

/// An order line: "line: 2 x Coffee beans 1 kg (SKU-BEAN-1KG) at 2500, 500 off = 4500".
inline void print_line(const kom::order_line& l, const char* indent = "  ") {
  std::printf("%s  line: %lld x %.*s", indent, static_cast<long long>(l.quantity), KOM_EX_SV(l.name));
  if (!l.reference.empty()) std::printf(" (%.*s)", KOM_EX_SV(l.reference));
  std::printf(" at %lld", static_cast<long long>(l.unit_price));
  if (l.total_discount_amount.value_or(0) != 0) std::printf(", %lld off", static_cast<long long>(*l.total_discount_amount));
  std::printf(" = %lld\n", static_cast<long long>(l.total_amount));
}

/// A capture, amounts in minor units.
inline void print_capture(const kom::capture& c, const char* indent = "  ") {
  std::printf("%scapture %.*s (%.*s): %lld captured at %.*s", indent, KOM_EX_SV(c.capture_id),
              KOM_EX_SV(or_dash(c.klarna_reference)), static_cast<long long>(c.captured_amount),
              KOM_EX_SV(or_dash(c.captured_at)));
  if (c.refunded_amount != 0) std::printf(", %lld refunded", static_cast<long long>(c.refunded_amount));
  std::printf("\n");
  if (!c.reference.empty()) std::printf("%s  reference %.*s\n", indent, KOM_EX_SV(c.reference));
  if (!c.description.empty()) std::printf("%s  description %.*s\n", indent, KOM_EX_SV(c.description));
  for (const kom::order_line& l : c.order_lines) print_line(l, indent);
  const std::string deeper = std::string(indent) + "  ";
  for (const kom::shipping_info& s : c.shipping_info) print_shipping_info(s, deeper.c_str());
  if (c.truncated) std::printf("%s  (more than fitted the storage)\n", indent);
}

inline void print_amount(const char* indent, const char* name, const std::optional<std::int64_t>& v) {
  if (v) std::printf("%s  %-28s %lld\n", indent, name, static_cast<long long>(*v));
  else std::printf("%s  %-28s -\n", indent, name);
}

/// A refund, amounts in minor units.
inline void print_refund(const kom::refund& f, const char* indent = "  ") {
  std::printf("%srefund %.*s: %lld refunded at %.*s\n", indent, KOM_EX_SV(f.refund_id),
              static_cast<long long>(f.refunded_amount), KOM_EX_SV(or_dash(f.refunded_at)));
  if (!f.reference.empty()) std::printf("%s  reference %.*s\n", indent, KOM_EX_SV(f.reference));
  if (!f.description.empty()) std::printf("%s  description %.*s\n", indent, KOM_EX_SV(f.description));
  for (const kom::order_line& l : f.order_lines) print_line(l, indent);
  if (f.truncated) std::printf("%s  (more than fitted the storage)\n", indent);
}

/// An order, amounts in minor units: what a till shows before it captures, refunds or voids.
inline void print_order(const kom::order& o, const char* indent = "  ") {
  std::printf("%sorder %.*s: %.*s, fraud status %.*s, currency %.*s, expires %.*s\n", indent, KOM_EX_SV(o.order_id),
              KOM_EX_SV(or_dash(o.status_text)), KOM_EX_SV(or_dash(o.fraud_status_text)),
              KOM_EX_SV(or_dash(o.purchase_currency)), KOM_EX_SV(or_dash(o.expires_at)));
  // The references the customer and the back office know the sale by.
  std::printf("%s  klarna_reference %.*s, merchant_reference1 %.*s, merchant_reference2 %.*s\n", indent,
              KOM_EX_SV(or_dash(o.klarna_reference)), KOM_EX_SV(or_dash(o.merchant_reference1)),
              KOM_EX_SV(or_dash(o.merchant_reference2)));
  std::printf("%s  bought %.*s in %.*s (%.*s), paid by %.*s", indent, KOM_EX_SV(or_dash(o.created_at)),
              KOM_EX_SV(or_dash(o.purchase_country)), KOM_EX_SV(or_dash(o.locale)),
              KOM_EX_SV(or_dash(o.initial_payment_method.type)));
  if (!o.initial_payment_method.description.empty())
    std::printf(" (%.*s)", KOM_EX_SV(o.initial_payment_method.description));
  if (o.initial_payment_method.number_of_installments)
    std::printf(", %lld installments", static_cast<long long>(*o.initial_payment_method.number_of_installments));
  std::printf("\n");
  print_amount(indent, "order_amount", o.order_amount);
  print_amount(indent, "captured_amount", o.captured_amount);
  print_amount(indent, "refunded_amount", o.refunded_amount);
  print_amount(indent, "remaining_authorized_amount", o.remaining_authorized_amount);
  for (const kom::order_line& l : o.order_lines) print_line(l, indent);
  for (const kom::order_capture& c : o.captures) {
    std::printf("%s  capture %.*s (%.*s): %lld at %.*s", indent, KOM_EX_SV(c.capture_id),
                KOM_EX_SV(or_dash(c.klarna_reference)), static_cast<long long>(c.captured_amount),
                KOM_EX_SV(or_dash(c.captured_at)));
    if (c.refunded_amount != 0) std::printf(", %lld refunded", static_cast<long long>(c.refunded_amount));
    std::printf("\n");
  }
  // A till looks here before it refunds a return, so that it never refunds it twice.
  for (const kom::order_refund& f : o.refunds) {
    std::printf("%s  refund %.*s: %lld at %.*s, reference %.*s\n", indent, KOM_EX_SV(f.refund_id),
                static_cast<long long>(f.refunded_amount), KOM_EX_SV(or_dash(f.refunded_at)),
                KOM_EX_SV(or_dash(f.reference)));
  }
  if (o.truncated) std::printf("%s  (more than fitted the storage)\n", indent);
}

}  // namespace example

#endif  // KOM_EXAMPLE_SUPPORT_HPP
