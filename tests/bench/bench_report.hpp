// The summary kom's benchmarks print after Google Benchmark's own output: per group, kom's
// time, each alternative's time and its ratio to kom, then one line per goal, met or NOT met.
// Benchmarks are named "group/variant"; the variant named `baseline` is the one the others
// are compared with. With repetitions, the median is used.
#ifndef KOM_BENCH_REPORT_HPP
#define KOM_BENCH_REPORT_HPP

#include <string>
#include <vector>

namespace kom_bench {

/// `baseline` at least `factor` times faster than `variant` (time(variant) >= factor *
/// time(baseline)); with `within`, `baseline` at most `factor` times slower than `variant`.
struct goal {
  std::string group;
  std::string variant;
  double factor;
  bool within = false;
  std::string base = {};  // another of kom's variants instead of the baseline
};

struct summary_options {
  std::string baseline = "kom";
  bool real_time = false;   // compare wall-clock time instead of CPU time
  bool interleave = false;  // run the repetitions of all benchmarks in random order
  std::vector<goal> goals;
};

/// Runs the registered benchmarks (command line as Google Benchmark takes it), then prints the
/// summary. Returns the process's exit status: 0 unless a benchmark failed to run.
int run_and_summarize(int argc, char** argv, const summary_options& options);

/// Prints `why` and exits non-zero: the alternatives do not compute the same result.
[[noreturn]] void fail_check(const std::string& why);

}  // namespace kom_bench

#endif
