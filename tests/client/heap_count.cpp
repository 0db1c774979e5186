#include "heap_count.hpp"

#include <dlfcn.h>
#include <malloc.h>

#include <cstring>

extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void __libc_free(void*);
}

namespace heap_count {
counts process;
bool measuring = false;
}  // namespace heap_count

namespace {

thread_local bool inside = false;

std::size_t& caller_count(void* caller) {
  Dl_info info;
  if (dladdr(caller, &info) != 0 && info.dli_fname != nullptr) {
    if (std::strstr(info.dli_fname, "libmbed") != nullptr) return heap_count::process.mbedtls_calls;
    if (std::strstr(info.dli_fname, "libc.so") != nullptr) return heap_count::process.libc_calls;
  }
  return heap_count::process.other_calls;
}

void note_alloc(void* p, void* caller) {
  if (p == nullptr || inside) return;
  inside = true;
  heap_count::counts& c = heap_count::process;
  c.current += malloc_usable_size(p);
  if (c.current > c.peak) c.peak = c.current;
  if (heap_count::measuring) ++caller_count(caller);
  inside = false;
}

void note_free(void* p) {
  if (p == nullptr) return;
  const std::size_t n = malloc_usable_size(p);
  heap_count::counts& c = heap_count::process;
  c.current = n > c.current ? 0 : c.current - n;
}

}  // namespace

extern "C" {
void* malloc(std::size_t n) {
  void* p = __libc_malloc(n);
  note_alloc(p, __builtin_return_address(0));
  return p;
}
void* calloc(std::size_t a, std::size_t b) {
  void* p = __libc_calloc(a, b);
  note_alloc(p, __builtin_return_address(0));
  return p;
}
void* realloc(void* old, std::size_t n) {
  note_free(old);
  void* p = __libc_realloc(old, n);
  note_alloc(p, __builtin_return_address(0));
  return p;
}
void free(void* p) {
  note_free(p);
  __libc_free(p);
}
}
