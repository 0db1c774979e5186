// kom/config.hpp: version and the compile-time settings of kom, with their defaults.
//
// Every setting is a macro that a project may define before including any kom header
// (or on the compiler command line). The defaults suit a point-of-sale terminal.
#ifndef KOM_CONFIG_HPP
#define KOM_CONFIG_HPP

/// @file
/// kom's version and compile-time settings.

#define KOM_VERSION_MAJOR 0          ///< kom's major version
#define KOM_VERSION_MINOR 1          ///< kom's minor version
#define KOM_VERSION_PATCH 0          ///< kom's patch version
#define KOM_VERSION_STRING "0.1.0"  ///< the version as text

/// Bytes kept of a field path in an error, e.g. "order_lines[999].product_identifiers.brand".
/// The longest path kom can report is 61 characters; a longer path is cut, never overrun.
#ifndef KOM_MAX_FIELD_PATH
#define KOM_MAX_FIELD_PATH 64
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
