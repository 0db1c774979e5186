// Places bytes right before an unreadable, unwritable page, so that code touching even one
// byte past their end faults at once (SIGSEGV) instead of reading garbage. POSIX only.
#ifndef KOM_TESTS_GUARD_PAGE_HPP
#define KOM_TESTS_GUARD_PAGE_HPP

#include <cstddef>
#include <string_view>

namespace kom_test {

/// A mapping of readable and writable pages followed by one PROT_NONE page. Holds up to
/// capacity() bytes; each place() or span() overwrites what the previous one put there.
class guard_page {
 public:
  /// Maps room for at least `capacity` bytes (rounded up to whole pages) plus the guard.
  /// Aborts when mmap or mprotect fails.
  explicit guard_page(std::size_t capacity = 64 * 1024);
  ~guard_page();
  guard_page(const guard_page&) = delete;
  guard_page& operator=(const guard_page&) = delete;

  /// Copies `bytes` so that the copy ends exactly at the guard; returns the copy. An empty
  /// input gives an empty view whose data() is the guard itself. Aborts when `bytes` is
  /// longer than capacity().
  std::string_view place(std::string_view bytes);

  /// `size` writable bytes that end exactly at the guard (an output buffer that must not be
  /// overrun). Their content is unspecified. Aborts when `size` exceeds capacity().
  char* span(std::size_t size);

  /// Bytes available before the guard.
  std::size_t capacity() const noexcept { return capacity_; }

 private:
  char* base_ = nullptr;  // start of the mapping
  std::size_t capacity_ = 0;  // bytes before the guard page
  std::size_t page_ = 0;
};

}  // namespace kom_test

#endif
