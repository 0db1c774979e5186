// Counts heap allocations in this test binary: global operator new (every form) and the
// malloc family of the code compiled into it (linked with -Wl,--wrap=malloc,...).
#ifndef KOM_TESTS_ALLOC_COUNTER_HPP
#define KOM_TESTS_ALLOC_COUNTER_HPP

#include <cstddef>

namespace kom_test {

std::size_t allocation_count() noexcept;

/// Allocations made while this object lives.
class alloc_scope {
 public:
  alloc_scope() noexcept : start_(allocation_count()) {}
  std::size_t count() const noexcept { return allocation_count() - start_; }

 private:
  std::size_t start_;
};

}  // namespace kom_test

#endif
