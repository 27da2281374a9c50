// The human-readable result: one table row per metric (Basalt median and range, local median and
// range, ratio, target, pass/MISS) and numbered footnotes for every error and note behind a cell.
// Pure: builds text from results.
#pragma once

#include <string>
#include <vector>

#include "tools/bench/runner.h"

namespace basalt::tools::bench {

// The table and its footnotes. `hasLocal`: --vs was given (else the local columns say "–").
std::string renderReport(const std::vector<MetricResult>& results, bool hasLocal);

// "pass", "MISS", "no data" or "" (no target).
std::string verdictText(Verdict verdict);

}  // namespace basalt::tools::bench
