// kom/kom.hpp: all of kom. Header-only; include what you use or this.
#ifndef KOM_KOM_HPP
#define KOM_KOM_HPP

#include "kom/config.hpp"
#include "kom/buffer_writer.hpp"
#include "kom/error.hpp"
#include "kom/json_writer.hpp"
#include "kom/model.hpp"
#include "kom/validate.hpp"
#include "kom/json_body.hpp"

#endif  // KOM_KOM_HPP
