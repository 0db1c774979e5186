// The emulated board's services for the firmware programs (see board.hpp). The vector table and
// the reset handler are in startup.c.
#include "board.hpp"

extern "C" {
int fw_semihost(int op, const void* arg);
[[noreturn]] void fw_exit(int success);
extern std::uint32_t __stack_limit[];
}

namespace fw {
namespace {

constexpr int sys_write0 = 0x04;

char line[160];
std::size_t line_size = 0;
std::size_t heap_call_count = 0;

// The pattern painted on the free stack before a measured call.
constexpr std::uint32_t paint = 0xC5A3E10Bu;

}  // namespace

void flush() noexcept {
  if (line_size == 0) return;
  line[line_size] = '\0';
  fw_semihost(sys_write0, line);
  line_size = 0;
}

void print(std::string_view text) noexcept {
  for (char c : text) {
    if (c == '\0') c = '?';  // SYS_WRITE0 would stop there
    line[line_size++] = c;
    if (c == '\n' || line_size == sizeof line - 1) flush();
  }
}

void print_uint(std::uint64_t value) noexcept {
  char digits[20];
  std::size_t n = 0;
  do {
    digits[n++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value != 0);
  char out[20];
  for (std::size_t i = 0; i < n; ++i) out[i] = digits[n - 1 - i];
  print({out, n});
}

namespace {
std::uint64_t checks_passed = 0;
std::uint64_t checks_failed = 0;
}  // namespace

void check(bool ok, std::string_view what) noexcept {
  print(ok ? "ok   " : "FAIL ");
  print(what);
  print("\n");
  ++(ok ? checks_passed : checks_failed);
}

bool report() noexcept {
  print("kom firmware tests: ");
  print_uint(checks_passed);
  print(" passed, ");
  print_uint(checks_failed);
  print(" failed\n");
  flush();
  return checks_failed == 0;
}

void print_int(std::int64_t value) noexcept {
  if (value < 0) {
    print("-");
    print_uint(static_cast<std::uint64_t>(-(value + 1)) + 1);
  } else {
    print_uint(static_cast<std::uint64_t>(value));
  }
}

void exit(bool success) noexcept {
  flush();
  fw_exit(success ? 1 : 0);
}

std::size_t heap_calls() noexcept { return heap_call_count; }

std::size_t stack_capacity() noexcept {
  std::uint32_t* sp;
  __asm__ volatile("mov %0, sp" : "=r"(sp));
  return static_cast<std::size_t>(reinterpret_cast<char*>(sp) - reinterpret_cast<char*>(__stack_limit));
}

__attribute__((noinline)) std::size_t stack_used(void (*fn)(void*), void* context) noexcept {
  std::uint32_t* sp;
  __asm__ volatile("mov %0, sp" : "=r"(sp));
  // Paint [__stack_limit, sp): everything below this frame. Through a volatile pointer, so the
  // loop is not turned into a memset call (whose own frame would lie inside the painted range).
  volatile std::uint32_t* const low = __stack_limit;
  volatile std::uint32_t* const high = sp;
  for (volatile std::uint32_t* p = low; p < high; ++p) *p = paint;
  fn(context);
  volatile std::uint32_t* p = low;
  while (p < high && *p == paint) ++p;
  return static_cast<std::size_t>(reinterpret_cast<volatile char*>(high) - reinterpret_cast<volatile char*>(p));
}

}  // namespace fw

// ---- the heap trap: kom and Boost.JSON must never allocate ---------------------------------
// Linked with -Wl,--wrap=malloc,--wrap=_malloc_r,... so every call of these, from any object
// (libstdc++'s operator new and newlib included), lands here instead of newlib's allocator.
namespace {
void* heap_trap(const char* name, std::size_t size) noexcept {
  ++fw::heap_call_count;
  fw::print("heap trap: ");
  fw::print(name);
  fw::print("(");
  fw::print_uint(size);
  fw::print(") called\n");
  return nullptr;
}
}  // namespace

extern "C" {
void* __wrap_malloc(std::size_t size) { return heap_trap("malloc", size); }
void* __wrap__malloc_r(void*, std::size_t size) { return heap_trap("_malloc_r", size); }
void* __wrap_calloc(std::size_t n, std::size_t size) { return heap_trap("calloc", n * size); }
void* __wrap__calloc_r(void*, std::size_t n, std::size_t size) { return heap_trap("_calloc_r", n * size); }
void* __wrap_realloc(void*, std::size_t size) { return heap_trap("realloc", size); }
void* __wrap__realloc_r(void*, void*, std::size_t size) { return heap_trap("_realloc_r", size); }
void* __wrap__sbrk(std::ptrdiff_t increment) {
  heap_trap("_sbrk", static_cast<std::size_t>(increment));
  return reinterpret_cast<void*>(-1);
}

// Linked with -nostartfiles, so without crtbegin.o: the handle C++ passes when it registers a
// static object's destructor (Boost.JSON's default resource has one), and the registration
// itself, which does nothing: firmware never runs static destructors.
void* __dso_handle = nullptr;
int __aeabi_atexit(void*, void (*)(void*), void*) { return 0; }

// Replacing newlib's: abort() would otherwise raise a signal through libgloss, and a failed
// assert() would print through stdio (which allocates its buffers).
[[noreturn]] void abort(void) {
  fw::print("\nkom firmware: abort() called\n");
  fw::exit(false);
}
[[noreturn]] void __assert_func(const char* file, int line, const char*, const char* expression) {
  fw::print("\nkom firmware: assertion failed: ");
  fw::print(expression != nullptr ? expression : "?");
  fw::print(" at ");
  fw::print(file != nullptr ? file : "?");
  fw::print(":");
  fw::print_int(line);
  fw::print("\n");
  fw::exit(false);
}
}
