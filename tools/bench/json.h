// The machine-readable record of a bench (--json FILE): options, machine, every raw sample, error
// and note, medians, ratios and verdicts. The docs' tables are made from it.
#pragma once

#include <string>
#include <vector>

#include "server/status.h"
#include "tools/bench/machine_info.h"
#include "tools/bench/options.h"
#include "tools/bench/runner.h"

namespace basalt::tools::bench {

// A JSON string literal for `text` (quotes included); control characters as \u00XX, and bytes
// that are not valid UTF-8 replaced by U+FFFD, so the output always parses.
std::string jsonString(const std::string& text);
// A JSON number; non-finite values become null.
std::string jsonNumber(double value);

struct BenchRecord {
  BenchOptions options;
  Sizes sizes;
  MachineInfo machine;  // at the start
  std::string loadAverageEnd;
  std::string startedUtc;  // ISO 8601
  double wallSeconds = 0;
  std::string dirFilesystem, localFilesystem;
  bool interrupted = false;
  std::vector<MetricResult> results;
};

std::string toJson(const BenchRecord& record);

// Writes toJson(record) to `path` (temp file + rename).
Status writeJson(const BenchRecord& record, const std::string& path);

}  // namespace basalt::tools::bench
