#include <doctest/doctest.h>

#include "tools/bench/options.h"

using namespace basalt::tools::bench;

TEST_CASE("the full bench writes 1 GiB and 10,000 files, three runs each") {
  Sizes s = sizesFor(false, 0);
  CHECK(s.runs == 3);
  CHECK(s.seqBytes == (1ull << 30));
  CHECK(s.smallFiles == 10000);
  CHECK(s.randomFileBytes == (256ull << 20));
}

TEST_CASE("--quick shrinks every size and the run count") {
  Sizes full = sizesFor(false, 0), quick = sizesFor(true, 0);
  CHECK(quick.runs == 2);
  CHECK(quick.seqBytes == (256ull << 20));
  CHECK(quick.smallFiles == 2000);
  CHECK(quick.randomOps < full.randomOps);
  CHECK(quick.lockTime < full.lockTime);
  CHECK(quick.stallAfterKill < full.stallAfterKill);
}

TEST_CASE("--runs overrides the mode's run count but not its sizes") {
  CHECK(sizesFor(true, 5).runs == 5);
  CHECK(sizesFor(true, 5).seqBytes == (256ull << 20));
  CHECK(sizesFor(false, 1).runs == 1);
}

TEST_CASE("options are rejected when DIR is missing, runs are out of range or --vs equals DIR") {
  BenchOptions o;
  CHECK(validateOptions(o) != "");
  o.dir = "/mnt";
  CHECK(validateOptions(o) == "");
  o.runs = -1;
  CHECK(validateOptions(o) != "");
  o.runs = 51;
  CHECK(validateOptions(o) != "");
  o.runs = 3;
  o.vsDir = "/mnt";
  CHECK(validateOptions(o) != "");
  o.vsDir = "/tmp/local";
  CHECK(validateOptions(o) == "");
}

TEST_CASE("--only takes known scenario keys, comma-separated") {
  BenchOptions o;
  o.dir = "/mnt";
  o.only = "sequential,random";
  CHECK(validateOptions(o) == "");
  o.only = "sequential,bogus";
  CHECK(validateOptions(o).find("bogus") != std::string::npos);
}
