// Heap counting for a whole process: heap_count.cpp replaces malloc, calloc, realloc and free,
// keeps the bytes in use and their peak (malloc_usable_size), and attributes each allocation
// made while measuring to the shared object that called it: libmbedtls/libmbedx509/
// libmbedcrypto, libc (getaddrinfo while connecting) or anything else (kom is header-only, so
// what it allocated would show as the program's). Link heap_count.cpp into the program itself,
// never under a sanitizer (which replaces malloc too). Single-threaded use only.
#ifndef KOM_TESTS_HEAP_COUNT_HPP
#define KOM_TESTS_HEAP_COUNT_HPP

#include <cstddef>

namespace heap_count {

struct counts {
  std::size_t current = 0;
  std::size_t peak = 0;
  std::size_t mbedtls_calls = 0;
  std::size_t libc_calls = 0;   // getaddrinfo while connecting
  std::size_t other_calls = 0;  // this program: kom and the test
};

/// The process's counts; allocation calls are counted only while `measuring` is set.
extern counts process;
extern bool measuring;

struct measured {
  std::size_t peak_above_start;
  std::size_t mbedtls_calls;
  std::size_t libc_calls;
  std::size_t other_calls;
};

/// Runs `call` and returns its peak heap above the bytes in use when it started, with the
/// allocation calls it made.
template <class F>
measured measure(F&& call) {
  process.peak = process.current;
  const std::size_t start = process.current;
  process.mbedtls_calls = process.libc_calls = process.other_calls = 0;
  measuring = true;
  call();
  measuring = false;
  return {process.peak - start, process.mbedtls_calls, process.libc_calls, process.other_calls};
}

}  // namespace heap_count

#endif
