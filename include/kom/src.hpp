// kom/src.hpp: the compiled part of Boost.JSON that kom's response readers use.
//
// Include this in exactly ONE translation unit of your program. It holds only what the
// SAX parser needs (errors, the parser's stack, the default resource), so it builds with
// -fno-exceptions -fno-rtti and adds about 3 KB on a Cortex-M4, where Boost.JSON's own
// <boost/json/src.hpp> does not compile without exceptions.
//
// Boost.JSON documents no parser-only build: the files below are its internal .ipp files, as
// laid out in the Boost version kom is tested with, KOM_TESTED_BOOST_VERSION. kom's test suite
// fails when it is built against another (tests/boost_json_impl.cpp), so a new Boost is tried
// before the README names it; another version may still work, but is not known to.
//
// With exceptions off, Boost wants the program to define boost::throw_exception. kom
// defines it here (it aborts: kom's parsing never reaches it) unless KOM_USER_THROW_EXCEPTION
// is defined, for programs that have their own.
#ifndef KOM_SRC_HPP
#define KOM_SRC_HPP

/// The Boost version whose Boost.JSON internals this file is tested with (BOOST_VERSION's form).
#define KOM_TESTED_BOOST_VERSION 108100

#include <boost/version.hpp>
#include <boost/json/detail/config.hpp>
#include <boost/json/impl/error.ipp>
#include <boost/json/detail/impl/except.ipp>
#include <boost/json/detail/impl/stack.ipp>
#include <boost/json/detail/impl/default_resource.ipp>
#include <boost/json/detail/impl/shared_resource.ipp>  // its typeinfo, which -fsanitize=vptr needs

#if defined(BOOST_NO_EXCEPTIONS) && !defined(KOM_USER_THROW_EXCEPTION)
#include <cstdlib>
#include <exception>
#include <boost/assert/source_location.hpp>

namespace boost {
void throw_exception(std::exception const&) { std::abort(); }
void throw_exception(std::exception const&, boost::source_location const&) { std::abort(); }
}  // namespace boost
#endif

#endif  // KOM_SRC_HPP
