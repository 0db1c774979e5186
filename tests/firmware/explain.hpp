// The firmware programs' report of a failed kom call: its error, under the check it failed.
#ifndef KOM_FIRMWARE_EXPLAIN_HPP
#define KOM_FIRMWARE_EXPLAIN_HPP

#include "board.hpp"
#include "kom/error.hpp"

namespace fw {

inline void explain(const kom::error& e) noexcept {
  if (e.ok()) return;
  char why[128];
  print("     error: ");
  print(e.describe(why));
  print("\n");
}

}  // namespace fw

#endif
