/* Startup code of the firmware tests for the emulated Cortex-M4 (qemu-system-arm -M mps2-an386):
 * the vector table, the reset handler (copy .data, zero .bss, run static constructors, call
 * main) and the fault handlers, plus the two semihosting calls everything else is built on.
 * Linked with -nostartfiles and mps2-an386.ld. No interrupt is ever enabled. */
#include <stdint.h>

extern uint32_t __data_load[], __data_start[], __data_end[], __bss_start[], __bss_end[], __stack_top[];
extern void (*__preinit_array_start[])(void);
extern void (*__preinit_array_end[])(void);
extern void (*__init_array_start[])(void);
extern void (*__init_array_end[])(void);

int main(void);
void Reset_Handler(void);
void fw_fault_entry(void);
int fw_semihost(int op, const void *arg);
void fw_exit(int success) __attribute__((noreturn));
void fw_fault_report(const uint32_t *frame) __attribute__((noreturn, used));

/* One semihosting call: operation in r0, its argument in r1, the result back in r0. qemu
 * implements it for `bkpt 0xab` when started with -semihosting-config enable=on. */
int fw_semihost(int op, const void *arg) {
  register int r0 __asm__("r0") = op;
  register const void *r1 __asm__("r1") = arg;
  __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
  return r0;
}

/* SYS_EXIT (0x18, angel_SWIExit) with ADP_Stopped_ApplicationExit (0x20026): qemu exits with
 * status 0. Any other reason, here ADP_Stopped_RunTimeErrorUnknown (0x20023), exits with 1. */
void fw_exit(int success) {
  fw_semihost(0x18, (const void *)(uintptr_t)(success ? 0x20026u : 0x20023u));
  for (;;) {
  }
}

static void put_hex(char *out, uint32_t v) {
  static const char hex[] = "0123456789abcdef";
  for (int i = 7; i >= 0; --i) {
    out[i] = hex[v & 0xFu];
    v >>= 4;
  }
}

/* Reports a fault with the stacked PC and LR and fails the run. `frame` is the exception frame
 * (r0-r3, r12, lr, pc, xpsr). */
void fw_fault_report(const uint32_t *frame) {
  static char line[] = "kom firmware: fault at pc 0x........ lr 0x........\n";
  put_hex(line + 28, frame[6]);
  put_hex(line + 42, frame[5]);
  fw_semihost(0x04, line); /* SYS_WRITE0 */
  fw_exit(0);
}

/* Every fault lands here (the configurable faults are not enabled, so they escalate to
 * HardFault): hand the frame the hardware stacked to fw_fault_report. */
__attribute__((naked)) void fw_fault_entry(void) {
  __asm__ volatile(
      "tst lr, #4\n"
      "ite eq\n"
      "mrseq r0, msp\n"
      "mrsne r0, psp\n"
      "b fw_fault_report\n");
}

static void unexpected_interrupt(void) {
  fw_semihost(0x04, "kom firmware: unexpected interrupt\n");
  fw_exit(0);
}

void Reset_Handler(void) {
  /* volatile: the compiler must not turn these loops into memcpy/memset calls. */
  volatile uint32_t *dst = __data_start;
  const volatile uint32_t *src = __data_load;
  while (dst < __data_end) *dst++ = *src++;
  for (dst = __bss_start; dst < __bss_end;) *dst++ = 0;
  for (void (**f)(void) = __preinit_array_start; f < __preinit_array_end; ++f) (*f)();
  for (void (**f)(void) = __init_array_start; f < __init_array_end; ++f) (*f)();
  fw_exit(main() == 0);
}

/* The Cortex-M vector table: initial stack pointer, then the handlers (Thumb addresses). */
__attribute__((section(".isr_vector"), used)) const uintptr_t fw_vectors[16] = {
    (uintptr_t)__stack_top,
    (uintptr_t)Reset_Handler,
    (uintptr_t)unexpected_interrupt, /* NMI */
    (uintptr_t)fw_fault_entry,       /* HardFault */
    (uintptr_t)fw_fault_entry,       /* MemManage */
    (uintptr_t)fw_fault_entry,       /* BusFault */
    (uintptr_t)fw_fault_entry,       /* UsageFault */
    0,
    0,
    0,
    0,
    (uintptr_t)unexpected_interrupt, /* SVCall */
    (uintptr_t)unexpected_interrupt, /* DebugMonitor */
    0,
    (uintptr_t)unexpected_interrupt, /* PendSV */
    (uintptr_t)unexpected_interrupt, /* SysTick */
};
