#include <doctest/doctest.h>

#include "tools/bench/report.h"

using namespace basalt::tools::bench;

namespace {
bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}
}  // namespace

TEST_CASE("a row shows both medians, ranges, the ratio, the target and the verdict") {
  MetricResult m{metricSpec("seq_write"), {}, {}};
  m.basalt.samples = {300, 320, 310};
  m.local.samples = {400, 420, 410};
  std::string text = renderReport({m}, true);
  CHECK(contains(text, "seq write + fsync"));
  CHECK(contains(text, "310"));
  CHECK(contains(text, "300–320"));
  CHECK(contains(text, "410"));
  CHECK(contains(text, "0.756×"));
  CHECK(contains(text, "≥0.6× local"));
  CHECK(contains(text, "pass"));
}

TEST_CASE("errors and notes become numbered footnotes that name the row, side and runs") {
  MetricResult m{metricSpec("seq_read_cold"), {}, {}};
  m.basalt.errors = {{0, "EIO: pread /mnt/f"}, {2, "EIO: pread /mnt/f"}};
  m.local.samples = {1000};
  m.local.notes = {{0, "warm cache"}};
  std::string text = renderReport({m}, true);
  CHECK(contains(text, "error [1]"));
  CHECK(contains(text, "1,000 [2]"));
  CHECK(contains(text, "[1] seq read, cold cache (Basalt, runs 1,3): ERROR EIO: pread /mnt/f"));
  CHECK(contains(text, "[2] seq read, cold cache (local, run 1): warm cache"));
  CHECK(contains(text, "no data"));
}

TEST_CASE("an unsupported feature says so instead of failing") {
  MetricResult m{metricSpec("locks"), {}, {}};
  m.basalt.notSupported = "fcntl F_SETLK: Function not implemented";
  std::string text = renderReport({m}, false);
  CHECK(contains(text, "not supported"));
  CHECK_FALSE(contains(text, "ERROR"));
}

TEST_CASE("without --vs the local column is a dash and ratio targets are not judged") {
  MetricResult m{metricSpec("create"), {}, {}};
  m.basalt.samples = {500};
  std::string text = renderReport({m}, false);
  CHECK(contains(text, "no data"));
  CHECK_FALSE(contains(text, "pass"));
  CHECK_FALSE(contains(text, "MISS"));
}
