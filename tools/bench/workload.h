// What a workload is to the runner: a named scenario that, given a fresh directory, measures one
// or more metrics (ids from metrics.h) and says, for each, a value, an error, or "not supported".
// A scenario never throws for a filesystem failure: it reports it and returns.
// Thread-safety: a scenario runs on the runner's thread; it may fork helpers but must reap them.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "server/status.h"
#include "tools/bench/options.h"

namespace basalt::tools::bench {

struct Measurement {
  enum class Kind { kValue, kError, kNotSupported };
  std::string metric;  // a MetricSpec id
  Kind kind = Kind::kValue;
  double value = 0;    // kValue only, in the metric's unit
  std::string detail;  // kValue: a note ("warm cache: ..."), else the error or why unsupported

  static Measurement of(std::string metric, double value, std::string note = "") {
    return {std::move(metric), Kind::kValue, value, std::move(note)};
  }
  static Measurement failed(std::string metric, const Status& status) {
    return {std::move(metric), Kind::kError, 0, status.toString()};
  }
  static Measurement unsupported(std::string metric, std::string why) {
    return {std::move(metric), Kind::kNotSupported, 0, std::move(why)};
  }
};

struct RunContext {
  std::string dir;  // an empty directory of this run; the runner removes it afterwards
  const Sizes& sizes;
  int run;                          // 0-based run index
  uint64_t seed;                    // the same for both sides of one run: they do the same I/O
  std::function<bool()> cancelled;  // true once the user pressed Ctrl-C: stop soon
};

struct Scenario {
  std::string name;                  // "sequential", "small files", ...
  std::vector<std::string> metrics;  // what it measures, in table order
  bool basaltOnly = false;           // cluster probes: nothing to compare locally
  std::function<std::vector<Measurement>(const RunContext&)> run;
};

// The standard scenarios, each in its own file.
std::vector<Measurement> runSequential(const RunContext& ctx);  // seq_write, seq_read_cold
std::vector<Measurement> runRandomIo(const RunContext& ctx);    // rand_read, rand_write
std::vector<Measurement> runSmallFiles(const RunContext& ctx);  // create, stat, readdir, unlink
std::vector<Measurement> runTreeTools(const RunContext& ctx);   // cp, rsync, git_*
std::vector<Measurement> runLocks(const RunContext& ctx);       // locks

// Every metric of `metrics` as failed with `status` (a setup step failed before any was measured).
std::vector<Measurement> allFailed(const std::vector<std::string>& metrics, const Status& status);

// Seconds elapsed since `start` on steady_clock.
double secondsSince(std::chrono::steady_clock::time_point start);

}  // namespace basalt::tools::bench
