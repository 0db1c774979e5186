// The firmware programs' view of the emulated board (qemu-system-arm -M mps2-an386): console
// output and exit status through semihosting, the heap trap, and stack measurement by painting.
#ifndef KOM_FIRMWARE_BOARD_HPP
#define KOM_FIRMWARE_BOARD_HPP

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace fw {

/// Console output (semihosting SYS_WRITE0), buffered up to each newline.
void print(std::string_view text) noexcept;
void print_uint(std::uint64_t value) noexcept;
void print_int(std::int64_t value) noexcept;
void flush() noexcept;

/// One check's line, "ok   <what>" or "FAIL <what>", counted for report().
void check(bool ok, std::string_view what) noexcept;
/// Prints "kom firmware tests: N passed, M failed" (scripts/test counts it); true when none failed.
bool report() noexcept;

/// Ends the run: qemu exits with 0 for success, 1 otherwise (semihosting SYS_EXIT).
[[noreturn]] void exit(bool success) noexcept;

/// Calls of malloc, calloc, realloc (and their _r forms, which operator new and newlib use)
/// and _sbrk so far. Each is trapped: it is counted, reported, and fails (returns null).
std::size_t heap_calls() noexcept;

/// Bytes of stack `fn(context)` used: the stack below the caller is painted with a pattern,
/// `fn` runs, and the deepest word no longer holding the pattern marks its high-water mark.
/// It includes the call into `fn` itself (a thunk of a few words). A result equal to
/// stack_capacity() means the painted stack was all used (the measurement saturated).
std::size_t stack_used(void (*fn)(void*), void* context) noexcept;
std::size_t stack_capacity() noexcept;

/// Makes the compiler assume `p` and what it points to are used (for the footprint baselines).
inline void keep(const void* p) noexcept { __asm__ volatile("" : : "r"(p) : "memory"); }

}  // namespace fw

#endif
