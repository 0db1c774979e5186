// Boost.JSON's implementation, compiled once for kom-sim and its tests (its own translation
// unit because it is slow to compile).
#include <boost/json/src.hpp>
