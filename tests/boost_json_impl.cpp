// The one translation unit of this test binary that compiles Boost.JSON's implementation.
#include "kom/src.hpp"

#include <doctest/doctest.h>

// kom/src.hpp includes Boost.JSON's internal files, which Boost does not promise to keep: the
// suite runs against the version it names, and fails on another until that one is tried.
TEST_CASE("Boost is the version kom/src.hpp is tested with") {
  CHECK_MESSAGE(BOOST_VERSION == KOM_TESTED_BOOST_VERSION,
                "Boost " << BOOST_VERSION << ": try kom/src.hpp with it, then update KOM_TESTED_BOOST_VERSION and the README");
}
