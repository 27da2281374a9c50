// Runs the scenarios: for each scenario, run 1 on Basalt, run 1 locally, run 2 on Basalt, ... so
// that noise on the machine hits both sides alike. Each run gets a fresh directory, removed after.
// Prints one progress line per scenario run. Collects every sample, error and note per metric.
// Thread-safety: none needed; runs on one thread.
#pragma once

#include <functional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "tools/bench/metrics.h"
#include "tools/bench/workload.h"

namespace basalt::tools::bench {

struct SideResult {
  std::vector<double> samples;
  std::vector<std::pair<int, std::string>> errors;  // (0-based run, what failed)
  std::vector<std::pair<int, std::string>> notes;   // (0-based run, note on that sample)
  std::string notSupported;                         // why, when the filesystem lacks the feature
};

struct MetricResult {
  MetricSpec spec;
  SideResult basalt;
  SideResult local;
};

struct RunnerConfig {
  std::string basaltDir;  // the bench's own directory inside DIR
  std::string localDir;   // ... inside LOCALDIR, or "" without --vs
  const Sizes& sizes;
  std::function<bool()> cancelled;
  std::ostream& progress;
};

// One MetricResult per metric of the scenarios, in scenario order. Sets *interrupted when the
// run stopped early because cancelled() turned true.
std::vector<MetricResult> runScenarios(const std::vector<Scenario>& scenarios,
                                       const RunnerConfig& config, bool* interrupted);

// Files `m` under `result` (the side's results for m.metric), for run `run`.
void record(SideResult& side, int run, const Measurement& m);

// A progress line is written in two parts, so a slow step shows what it is waiting on:
// progressHead before the run, "[ 3/12] sequential   run 1/3  basalt  ", and progressResult after
// it, " seq_write 512 MB/s, seq_read_cold 1,204 MB/s  (4.2 s)".
std::string progressHead(int step, int steps, const Scenario& scenario, int run, int runs,
                         const std::string& side);
std::string progressResult(const std::vector<Measurement>& measurements, double seconds);

}  // namespace basalt::tools::bench
