// Statistics over a workload's samples: median, quartiles, range; and the longest gap between
// acknowledged writes. Pure functions.
#pragma once

#include <optional>
#include <vector>

namespace basalt::tools::bench {

struct Summary {
  int count = 0;
  double median = 0;
  double min = 0;
  double max = 0;
  double q1 = 0;  // quartiles, linearly interpolated between order statistics
  double q3 = 0;
};

// nullopt when there are no samples. Non-finite samples are a caller bug (not checked).
std::optional<Summary> summarize(std::vector<double> samples);

// The q-quantile (0 <= q <= 1) of sorted, non-empty `sorted`, linear between neighbours.
double quantile(const std::vector<double>& sorted, double q);

// The longest time a writer waited for an acknowledgement: the largest difference between
// successive acknowledgement times `acks` (seconds, ascending), counting the open gap from the
// last one to `end` (a writer stuck at the end stalled at least that long). nullopt if `acks` is
// empty.
std::optional<double> longestAckGap(const std::vector<double>& acks, double end);

}  // namespace basalt::tools::bench
