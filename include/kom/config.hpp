// kom/config.hpp: version and the compile-time settings of kom, with their defaults.
//
// Every setting is a macro that a project may define before including any kom header
// (or on the compiler command line). The defaults suit a point-of-sale terminal.
#ifndef KOM_CONFIG_HPP
#define KOM_CONFIG_HPP

/// @file
/// kom's version and compile-time settings.

// The version lives here only: meson.build and scripts/single-header read these three lines.
#define KOM_VERSION_MAJOR 0  ///< kom's major version
#define KOM_VERSION_MINOR 1  ///< kom's minor version
#define KOM_VERSION_PATCH 0  ///< kom's patch version
/// The text of a macro's value (KOM_VERSION_STRING is made with it).
#define KOM_DETAIL_TEXT_OF(x) KOM_DETAIL_TEXT(x)
/// Its argument as a string literal.
#define KOM_DETAIL_TEXT(x) #x
/// The version as text, "MAJOR.MINOR.PATCH": a string literal, made from the numbers above.
#define KOM_VERSION_STRING \
  KOM_DETAIL_TEXT_OF(KOM_VERSION_MAJOR) "." KOM_DETAIL_TEXT_OF(KOM_VERSION_MINOR) "." KOM_DETAIL_TEXT_OF(KOM_VERSION_PATCH)

/// 1 (the default): kom is built with mbedTLS. Base64 and zeroize are mbedTLS's (link
/// mbedcrypto), kom/uuid.hpp has uuid_v5, sale_idempotency_key and random_source, and
/// kom/tls.hpp is there (link mbedtls and mbedx509 too). 0: kom needs no mbedTLS (a firmware
/// whose TLS stack is another): kom's own Base64 and zeroize are used (kom/detail/crypto.hpp),
/// and kom/tls.hpp refuses to compile. kom's inline functions differ between the two, so a
/// program defines it once for all of its sources (on the command line), never per file.
#ifndef KOM_USE_MBEDTLS
#define KOM_USE_MBEDTLS 1
#endif
#if KOM_USE_MBEDTLS != 0 && KOM_USE_MBEDTLS != 1
#error "KOM_USE_MBEDTLS is 0 or 1"
#endif

/// Bytes of a field path rendered as text, e.g. "order_lines[999].product_identifiers.brand"
/// (an error keeps its field compactly and renders it only for a message). The longest path
/// kom can report is 69 characters ("[4094].order_lines[2046].product_identifiers.
/// global_trade_item_number"); a longer one would be cut, never overrun.
#ifndef KOM_MAX_FIELD_PATH
#define KOM_MAX_FIELD_PATH 72
#endif

/// Deepest JSON nesting the writer accepts (at most 64). kom's own bodies nest at most 4 deep.
#ifndef KOM_JSON_WRITER_MAX_DEPTH
#define KOM_JSON_WRITER_MAX_DEPTH 16
#endif

// HTTP response limits (defaults of kom::http_limits).
#ifndef KOM_HTTP_MAX_HEAD
#define KOM_HTTP_MAX_HEAD 8192  ///< status line and headers, bytes
#endif
#ifndef KOM_HTTP_MAX_HEADERS
#define KOM_HTTP_MAX_HEADERS 32  ///< header lines of a response (at least 1); the parser's table size
#endif
#ifndef KOM_HTTP_MAX_CHUNK_LINE
#define KOM_HTTP_MAX_CHUNK_LINE 256  ///< a chunk size line with its extensions, bytes
#endif

/// Deepest JSON nesting the response readers accept; Klarna's bodies nest at most 5 deep.
#ifndef KOM_JSON_READER_MAX_DEPTH
#define KOM_JSON_READER_MAX_DEPTH 16
#endif

#if KOM_JSON_WRITER_MAX_DEPTH > 64
#error "KOM_JSON_WRITER_MAX_DEPTH is at most 64 (one bit per level)"
#endif

#endif  // KOM_CONFIG_HPP
