// Boost.JSON's implementation, once in kom-fault-matrix: the parser kom's readers drive and
// the DOM the test's model of Klarna reads request bodies with.
#include <boost/json/src.hpp>
