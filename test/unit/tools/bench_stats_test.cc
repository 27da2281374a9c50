#include <doctest/doctest.h>

#include "tools/bench/cluster_probe.h"
#include "tools/bench/stats.h"

using namespace basalt::tools::bench;

TEST_CASE("the summary of no samples is absent") {
  CHECK_FALSE(summarize({}).has_value());
}

TEST_CASE("the median of an odd count is the middle sample, whatever the input order") {
  auto s = summarize({9, 1, 5});
  REQUIRE(s);
  CHECK(s->count == 3);
  CHECK(s->median == 5);
  CHECK(s->min == 1);
  CHECK(s->max == 9);
  CHECK(s->q1 == 3);
  CHECK(s->q3 == 7);
}

TEST_CASE("the median of an even count is the mean of the two middle samples") {
  auto s = summarize({4, 1, 3, 2});
  REQUIRE(s);
  CHECK(s->median == doctest::Approx(2.5));
  CHECK(s->q1 == doctest::Approx(1.75));
  CHECK(s->q3 == doctest::Approx(3.25));
}

TEST_CASE("one sample is its own median, minimum and maximum") {
  auto s = summarize({42});
  REQUIRE(s);
  CHECK(s->median == 42);
  CHECK(s->min == 42);
  CHECK(s->q3 == 42);
}

TEST_CASE("the longest ack gap is the largest step between acknowledgements") {
  CHECK(*longestAckGap({0, 0.1, 0.2, 1.7, 1.8}, 1.85) == doctest::Approx(1.5));
}

TEST_CASE("a writer stuck since its last acknowledgement stalled until the end") {
  CHECK(*longestAckGap({0, 0.1, 0.2}, 5.2) == doctest::Approx(5.0));
  CHECK_FALSE(longestAckGap({}, 3.0).has_value());
}

TEST_CASE("VmHWM is read in KiB from /proc/PID/status text") {
  CHECK(*parseVmHwmKiB(
            "Name:\tbasalt-mount\nVmPeak:\t  900 kB\nVmHWM:\t   51200 kB\nVmRSS:\t 4 kB\n") ==
        51200);
  CHECK_FALSE(parseVmHwmKiB("Name:\tx\nVmRSS:\t 4 kB\n").has_value());
  CHECK_FALSE(parseVmHwmKiB("VmHWM:\t lots\n").has_value());
}
