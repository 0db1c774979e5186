#include "bench_report.hpp"

#include <benchmark/benchmark.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>

namespace kom_bench {
namespace {

struct figure {
  std::int64_t family = 0;  // registration order
  double ns = 0;
  std::map<std::string, double> counters;
};

// Google Benchmark's console output, with every figure kept for the summary.
class summary_reporter : public benchmark::ConsoleReporter {
 public:
  // Colors only on a terminal: the output is also kept in logs and the README.
  explicit summary_reporter(const summary_options& options)
      : ConsoleReporter(isatty(STDOUT_FILENO) ? OO_Defaults : OO_Tabular), options_(options) {}

  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs) {
      if (run.error_occurred) {
        failed_ = true;
        continue;
      }
      // The median of repetitions, or the single run when there are none.
      const bool aggregate = run.run_type == Run::RT_Aggregate;
      if (aggregate && run.aggregate_name != "median") continue;
      if (!aggregate && run.repetitions > 1) continue;
      const double t = options_.real_time ? run.GetAdjustedRealTime() : run.GetAdjustedCPUTime();
      figure f;
      f.family = run.family_index;
      f.ns = t * 1e9 / benchmark::GetTimeUnitMultiplier(run.time_unit);
      for (const auto& c : run.counters)
        if (c.first != "bytes_per_second" && c.first != "items_per_second") f.counters[c.first] = c.second.value;
      const std::string& name = run.run_name.function_name;
      const auto slash = name.find('/');
      if (slash == std::string::npos) continue;
      const std::string group = name.substr(0, slash);
      if (figures_.find(group) == figures_.end()) order_.push_back(group);
      figures_[group].emplace_back(name.substr(slash + 1), f);
    }
  }

  void Finalize() override {
    ConsoleReporter::Finalize();
    std::printf("\nsummary (%s time, median of repetitions where repeated)\n",
                options_.real_time ? "wall-clock" : "CPU");
    // In registration order, whatever order the runs came in.
    const auto by_family = [](const auto& a, const auto& b) { return a.second.family < b.second.family; };
    for (auto& [group, variants] : figures_) std::sort(variants.begin(), variants.end(), by_family);
    std::sort(order_.begin(), order_.end(), [&](const std::string& a, const std::string& b) {
      return figures_[a].front().second.family < figures_[b].front().second.family;
    });
    for (const std::string& group : order_) {
      const figure* base = find(group, options_.baseline);
      std::printf("%s\n", group.c_str());
      for (const auto& [variant, f] : figures_[group]) {
        std::printf("  %-38s %s", variant.c_str(), time_text(f.ns).c_str());
        if (base != nullptr && variant != options_.baseline) {
          const double ratio = f.ns / base->ns;
          std::printf(ratio >= 100 ? "  = %.0fx %s" : "  = %.3gx %s", ratio, options_.baseline.c_str());
        }
        for (const auto& [name, value] : f.counters) std::printf("  %s %.0f", name.c_str(), value);
        std::printf("\n");
      }
      for (const goal& g : options_.goals) {
        if (g.group != group) continue;
        const std::string& kom_name = g.base.empty() ? options_.baseline : g.base;
        const figure* kom_figure = find(group, kom_name);
        const figure* other = find(group, g.variant);
        if (kom_figure == nullptr || other == nullptr) {
          std::printf("  goal: %s vs %s: NOT measured\n", kom_name.c_str(), g.variant.c_str());
          continue;
        }
        const double ratio = other->ns / kom_figure->ns;  // > 1: the baseline is faster
        if (g.within) {
          const bool met = kom_figure->ns <= g.factor * other->ns;
          std::printf("  goal: %s within %gx of %s: %.2fx slower: %s\n", kom_name.c_str(), g.factor,
                      g.variant.c_str(), 1.0 / ratio, met ? "met" : "NOT met");
        } else {
          const bool met = g.factor > 1 ? ratio >= g.factor : ratio > 1;
          char wanted[32] = "faster";
          if (g.factor > 1) std::snprintf(wanted, sizeof wanted, "at least %gx faster", g.factor);
          std::printf("  goal: %s %s than %s: %.2fx: %s\n", kom_name.c_str(), wanted, g.variant.c_str(),
                      ratio, met ? "met" : "NOT met");
        }
      }
    }
    std::fflush(stdout);
  }

  bool failed() const { return failed_; }

 private:
  const figure* find(const std::string& group, const std::string& variant) const {
    const auto it = figures_.find(group);
    if (it == figures_.end()) return nullptr;
    for (const auto& [name, f] : it->second)
      if (name == variant) return &f;
    return nullptr;
  }

  static std::string time_text(double ns) {
    char text[32];
    if (ns >= 1e6)
      std::snprintf(text, sizeof text, "%9.3f ms", ns / 1e6);
    else if (ns >= 1e4)
      std::snprintf(text, sizeof text, "%9.2f us", ns / 1e3);
    else
      std::snprintf(text, sizeof text, "%9.1f ns", ns);
    return text;
  }

  const summary_options& options_;
  std::vector<std::string> order_;
  std::map<std::string, std::vector<std::pair<std::string, figure>>> figures_;
  bool failed_ = false;
};

}  // namespace

int run_and_summarize(int argc, char** argv, const summary_options& options) {
  // Repetitions of different benchmarks interleaved, so that a load that comes and goes on a
  // shared machine falls on all of them alike (a later flag on the command line wins).
  std::vector<char*> args(argv, argv + argc);
  char interleave[] = "--benchmark_enable_random_interleaving=true";
  if (options.interleave) args.insert(args.begin() + 1, interleave);
  argc = static_cast<int>(args.size());
  args.push_back(nullptr);
  argv = args.data();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  summary_reporter reporter(options);
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return reporter.failed() ? 1 : 0;
}

void fail_check(const std::string& why) {
  std::fprintf(stderr, "benchmark check failed: %s\n", why.c_str());
  std::exit(1);
}

}  // namespace kom_bench
