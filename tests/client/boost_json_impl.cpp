// Boost.JSON's implementation, once in this test binary (the tests read kom-sim's JSON with
// Boost.JSON's DOM, through tests/sim/test_support.hpp).
#include <boost/json/src.hpp>
