#include <doctest/doctest.h>

#include <set>

#include "tools/bench/metrics.h"

using namespace basalt::tools::bench;

namespace {
Summary of(double median, double min, double max) {
  Summary s;
  s.count = 3;
  s.median = median;
  s.min = min;
  s.max = max;
  return s;
}
}  // namespace

TEST_CASE("a rate passes when Basalt's median is at least the target fraction of local") {
  const MetricSpec& seq = metricSpec("seq_write");
  Judgement pass = judge(seq, of(60, 50, 70), of(100, 90, 110));
  CHECK(pass.verdict == Verdict::kPass);
  CHECK(*pass.ratio == doctest::Approx(0.6));
  CHECK(judge(seq, of(59, 50, 70), of(100, 90, 110)).verdict == Verdict::kMiss);
}

TEST_CASE("a time passes when Basalt takes at most the target multiple of local's time") {
  const MetricSpec& cp = metricSpec("cp");
  CHECK(judge(cp, of(5, 4, 6), of(1, 1, 1)).verdict == Verdict::kPass);
  CHECK(judge(cp, of(5.1, 4, 6), of(1, 1, 1)).verdict == Verdict::kMiss);
}

TEST_CASE("a ratio target without a local median cannot be judged") {
  Judgement j = judge(metricSpec("stat"), of(1000, 900, 1100), std::nullopt);
  CHECK(j.verdict == Verdict::kNoData);
  CHECK_FALSE(j.ratio.has_value());
  CHECK(judge(metricSpec("stat"), std::nullopt, of(1, 1, 1)).verdict == Verdict::kNoData);
}

TEST_CASE("absolute targets are judged on Basalt alone") {
  CHECK(judge(metricSpec("locks"), of(10000, 9000, 11000), std::nullopt).verdict == Verdict::kPass);
  CHECK(judge(metricSpec("locks"), of(9999, 9000, 11000), std::nullopt).verdict == Verdict::kMiss);
}

TEST_CASE("the writer stall is judged on the worst run, not the median") {
  const MetricSpec& stall = metricSpec("failover_stall");
  CHECK(judge(stall, of(0.5, 0.2, 1.9), std::nullopt).verdict == Verdict::kPass);
  CHECK(judge(stall, of(0.5, 0.2, 2.5), std::nullopt).verdict == Verdict::kMiss);
}

TEST_CASE("a metric without a target is reported with its ratio but not judged") {
  Judgement j = judge(metricSpec("readdir"), of(50, 50, 50), of(100, 100, 100));
  CHECK(j.verdict == Verdict::kNoTarget);
  CHECK(*j.ratio == doctest::Approx(0.5));
  CHECK(judge(peakRssSpec("chunk1"), of(80, 80, 80), std::nullopt).verdict == Verdict::kNoTarget);
}

TEST_CASE("targets read as in the brief") {
  CHECK(describeTarget(metricSpec("seq_read_cold")) == "≥0.35× local");
  CHECK(describeTarget(metricSpec("git_total")) == "≤3× local");
  CHECK(describeTarget(metricSpec("locks")) == "≥10,000 pairs/s");
  CHECK(describeTarget(metricSpec("failover_stall")) == "≤2 s (worst)");
  CHECK(describeTarget(metricSpec("unlink")) == "");
}

TEST_CASE("metric ids are unique and unknown ids are a bug") {
  std::set<std::string> ids;
  for (const auto& m : standardMetrics()) CHECK(ids.insert(m.id).second);
  CHECK_THROWS(metricSpec("no_such_metric"));
}
