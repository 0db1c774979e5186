// kom/kom.hpp: all of kom. Header-only; include what you use or this.
// Needs Boost (1.81+, headers only) for the response readers: include kom/src.hpp in one
// .cpp of the program. mbedTLS is used when its headers are found (link mbedcrypto), and is
// optional otherwise: see kom/detail/crypto.hpp.
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
#include "kom/http_request.hpp"
#include "kom/uuid.hpp"

// Responses: HTTP/1.1 parsing and the JSON readers.
#include "kom/http_response.hpp"
#include "kom/response_model.hpp"
#include "kom/json_readers.hpp"

#endif  // KOM_KOM_HPP
