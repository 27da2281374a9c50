#include "tools/bench/stats.h"

#include <algorithm>
#include <cmath>

namespace basalt::tools::bench {

double quantile(const std::vector<double>& sorted, double q) {
  double pos = q * static_cast<double>(sorted.size() - 1);
  auto lower = static_cast<size_t>(std::floor(pos));
  size_t upper = std::min(lower + 1, sorted.size() - 1);
  double frac = pos - static_cast<double>(lower);
  return sorted[lower] + (sorted[upper] - sorted[lower]) * frac;
}

std::optional<Summary> summarize(std::vector<double> samples) {
  if (samples.empty()) return std::nullopt;
  std::sort(samples.begin(), samples.end());
  Summary s;
  s.count = static_cast<int>(samples.size());
  s.min = samples.front();
  s.max = samples.back();
  s.median = quantile(samples, 0.5);
  s.q1 = quantile(samples, 0.25);
  s.q3 = quantile(samples, 0.75);
  return s;
}

std::optional<double> longestAckGap(const std::vector<double>& acks, double end) {
  if (acks.empty()) return std::nullopt;
  double longest = std::max(0.0, end - acks.back());
  for (size_t i = 1; i < acks.size(); ++i) longest = std::max(longest, acks[i] - acks[i - 1]);
  return longest;
}

}  // namespace basalt::tools::bench
