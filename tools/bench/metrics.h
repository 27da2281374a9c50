// The catalog of what `basalt bench` measures, each metric's target, and how a result is judged
// against it. Pure: the runner fills samples in, the report reads verdicts out.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "tools/bench/stats.h"

namespace basalt::tools::bench {

struct Target {
  enum class Kind {
    kNone,          // reported, not judged
    kRatioAtLeast,  // Basalt median / local median >= bound (rates)
    kRatioAtMost,   // Basalt median / local median <= bound (times)
    kAtLeast,       // Basalt value >= bound, absolute
    kAtMost,        // Basalt value <= bound, absolute
  };
  Kind kind = Kind::kNone;
  double bound = 0;
  // Judge the worst Basalt sample instead of the median (for "longest stall": one bad run counts).
  bool judgeWorst = false;
};

struct MetricSpec {
  std::string id;    // stable key in the JSON output, e.g. "seq_write"
  std::string name;  // the table's row label
  std::string unit;  // "MB/s", "files/s", "s", "MiB", ...
  bool higherIsBetter = true;
  Target target;
};

// The standard metrics, in table order. The cluster ones are included even without --cluster.
const std::vector<MetricSpec>& standardMetrics();
// The spec for `id` from standardMetrics(); a bug if it is unknown (throws std::logic_error).
const MetricSpec& metricSpec(const std::string& id);
// Peak RSS of one cluster process (`who` e.g. "basalt-mount /mnt", "chunk2"): reported, not judged.
MetricSpec peakRssSpec(const std::string& who);

// "≥0.6× local", "≤5× local", "≥10000 pairs/s", "≤2 s", or "" for none.
std::string describeTarget(const MetricSpec& spec);

enum class Verdict {
  kPass,
  kMiss,
  kNoTarget,  // the metric has no target
  kNoData,    // a needed median is missing (error, not supported, or no --vs for a ratio)
};

struct Judgement {
  Verdict verdict = Verdict::kNoData;
  std::optional<double> ratio;  // Basalt median / local median, when both exist and local != 0
};

Judgement judge(const MetricSpec& spec, const std::optional<Summary>& basalt,
                const std::optional<Summary>& local);

}  // namespace basalt::tools::bench
