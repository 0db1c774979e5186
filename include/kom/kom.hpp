// kom/kom.hpp: kom's I/O-free core: building and checking requests, writing them as HTTP,
// and reading Klarna's answers. Header-only; include what you use or this. It opens no
// connection and touches no file; for that, include as well:
//   kom/client.hpp           kom::client, the calls with retries over a kom::transport
//   kom/tls.hpp              kom::tls_stream, TLS by mbedTLS over any transport
//   kom/posix_transport.hpp  kom::posix_tcp, TCP over POSIX sockets
//   kom/outbox.hpp           kom::outbox, operations queued offline in the terminal's storage
//   kom/file_storage.hpp     kom::file_storage, the outbox's blocks in a file (POSIX)
// Needs Boost (1.81+, headers only) for the response readers: include kom/src.hpp in one
// .cpp of the program. Uses mbedTLS (link mbedcrypto) unless the whole program is built
// with KOM_USE_MBEDTLS=0 (kom/config.hpp).
#ifndef KOM_KOM_HPP
#define KOM_KOM_HPP

#include "kom/config.hpp"
#include "kom/buffer_writer.hpp"
#include "kom/error.hpp"

// Requests: model, validation, JSON bodies, HTTP/1.1 requests, idempotency keys.
#include "kom/json_writer.hpp"
#include "kom/model.hpp"
#include "kom/validate.hpp"
#include "kom/json_body.hpp"
#include "kom/endpoint.hpp"
#include "kom/operations.hpp"
#include "kom/http_request.hpp"
#include "kom/uuid.hpp"

// Responses: HTTP/1.1 parsing and the JSON readers.
#include "kom/http_response.hpp"
#include "kom/response_model.hpp"
#include "kom/json_readers.hpp"

#endif  // KOM_KOM_HPP
