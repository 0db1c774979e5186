#include "guard_page.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace kom_test {

guard_page::guard_page(std::size_t capacity) {
  page_ = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  capacity_ = (capacity + page_ - 1) / page_ * page_;
  if (capacity_ == 0) capacity_ = page_;
  void* map = mmap(nullptr, capacity_ + page_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (map == MAP_FAILED) {
    std::perror("guard_page: mmap");
    std::abort();
  }
  base_ = static_cast<char*>(map);
  if (mprotect(base_ + capacity_, page_, PROT_NONE) != 0) {
    std::perror("guard_page: mprotect");
    std::abort();
  }
}

guard_page::~guard_page() { munmap(base_, capacity_ + page_); }

std::string_view guard_page::place(std::string_view bytes) {
  char* at = span(bytes.size());
  if (!bytes.empty()) std::memcpy(at, bytes.data(), bytes.size());
  return {at, bytes.size()};
}

char* guard_page::span(std::size_t size) {
  if (size > capacity_) {
    std::fprintf(stderr, "guard_page: %zu bytes do not fit in %zu\n", size, capacity_);
    std::abort();
  }
  return base_ + capacity_ - size;
}

}  // namespace kom_test
