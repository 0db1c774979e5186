// The one translation unit of this test binary that compiles Boost.JSON's implementation.
#include "kom/src.hpp"
