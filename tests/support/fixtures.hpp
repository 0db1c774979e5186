// Test fixtures: documented samples kept as files under tests/fixtures/.
#ifndef KOM_TESTS_FIXTURES_HPP
#define KOM_TESTS_FIXTURES_HPP

#include <fstream>
#include <sstream>
#include <string>

#include "support/seeds.hpp"

namespace kom_test {

inline std::string read_fixture(const std::string& name) {
  std::ifstream in(std::string(KOM_TEST_FIXTURES) + "/" + name, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace kom_test

#endif
