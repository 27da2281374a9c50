#include "tools/bench/metrics.h"

#include <cstdio>
#include <stdexcept>

#include "tools/bench/format.h"

namespace basalt::tools::bench {
namespace {

using K = Target::Kind;

// Targets read as written in the docs: "5", "0.35", "10,000".
std::string formatBound(double bound) {
  if (bound >= 1000) return formatNumber(bound);
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%g", bound);
  return buf;
}

MetricSpec rate(std::string id, std::string name, std::string unit, Target target) {
  return {std::move(id), std::move(name), std::move(unit), true, target};
}
MetricSpec duration(std::string id, std::string name, Target target) {
  return {std::move(id), std::move(name), "s", false, target};
}

}  // namespace

const std::vector<MetricSpec>& standardMetrics() {
  static const std::vector<MetricSpec> metrics = {
      rate("seq_write", "seq write + fsync", "MB/s", {K::kRatioAtLeast, 0.6}),
      rate("seq_read_cold", "seq read, cold cache", "MB/s", {K::kRatioAtLeast, 0.35}),
      rate("rand_read", "4K random reads", "ops/s", {K::kRatioAtLeast, 0.7}),
      rate("rand_write", "4K random writes + fdatasync", "ops/s", {K::kRatioAtLeast, 0.15}),
      rate("create", "create 4 KiB files", "files/s", {K::kRatioAtLeast, 0.1}),
      rate("stat", "stat those files", "stats/s", {K::kRatioAtLeast, 0.3}),
      rate("readdir", "readdir of them", "entries/s", {}),
      rate("unlink", "remove them", "files/s", {}),
      duration("cp", "cp -a /usr/include", {K::kRatioAtMost, 5}),
      duration("rsync", "rsync -a /usr/include/", {K::kRatioAtMost, 5}),
      duration("git_add_commit", "git add -A + commit", {}),
      duration("git_status", "git status", {}),
      duration("git_total", "git add+commit+status", {K::kRatioAtMost, 3}),
      rate("locks", "fcntl lock+unlock pairs", "pairs/s", {K::kAtLeast, 10000}),
      duration("failover_stall", "writer stall, chunk1 killed", {K::kAtMost, 2, true}),
  };
  return metrics;
}

const MetricSpec& metricSpec(const std::string& id) {
  for (const auto& m : standardMetrics()) {
    if (m.id == id) return m;
  }
  throw std::logic_error("unknown bench metric " + id);
}

MetricSpec peakRssSpec(const std::string& who) {
  return {"peak_rss." + who, "peak RSS " + who, "MiB", false, {}};
}

std::string describeTarget(const MetricSpec& spec) {
  const Target& t = spec.target;
  std::string unit = spec.unit == "s" ? " s" : " " + spec.unit;
  switch (t.kind) {
    case K::kNone:
      return "";
    case K::kRatioAtLeast:
      return "≥" + formatBound(t.bound) + "× local";
    case K::kRatioAtMost:
      return "≤" + formatBound(t.bound) + "× local";
    case K::kAtLeast:
      return "≥" + formatBound(t.bound) + unit;
    case K::kAtMost:
      return "≤" + formatBound(t.bound) + unit + (t.judgeWorst ? " (worst)" : "");
  }
  return "";
}

Judgement judge(const MetricSpec& spec, const std::optional<Summary>& basalt,
                const std::optional<Summary>& local) {
  Judgement j;
  if (basalt && local && local->median != 0) j.ratio = basalt->median / local->median;
  const Target& t = spec.target;
  if (t.kind == K::kNone) {
    j.verdict = Verdict::kNoTarget;
    return j;
  }
  if (!basalt) {
    j.verdict = Verdict::kNoData;
    return j;
  }
  double value = basalt->median;
  if (t.judgeWorst) value = spec.higherIsBetter ? basalt->min : basalt->max;
  bool pass = false;
  switch (t.kind) {
    case K::kRatioAtLeast:
    case K::kRatioAtMost:
      if (!j.ratio) {
        j.verdict = Verdict::kNoData;
        return j;
      }
      pass = t.kind == K::kRatioAtLeast ? *j.ratio >= t.bound : *j.ratio <= t.bound;
      break;
    case K::kAtLeast:
      pass = value >= t.bound;
      break;
    case K::kAtMost:
      pass = value <= t.bound;
      break;
    case K::kNone:
      break;
  }
  j.verdict = pass ? Verdict::kPass : Verdict::kMiss;
  return j;
}

}  // namespace basalt::tools::bench
