#include <doctest/doctest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <sstream>
#include <stdexcept>

#include "tools/bench/fs_util.h"
#include "tools/bench/runner.h"

using namespace basalt::tools::bench;

namespace {

struct Dirs {
  std::string root, basalt, local;
  Dirs() {
    char name[] = "/tmp/bench-runner-XXXXXX";
    REQUIRE(mkdtemp(name) != nullptr);
    root = name;
    basalt = root + "/b";
    local = root + "/l";
    REQUIRE(makeDir(basalt).isOk());
    REQUIRE(makeDir(local).isOk());
  }
  ~Dirs() { removeTree(root); }
};

bool isDir(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

}  // namespace

TEST_CASE("runs alternate Basalt and local per run, each in a fresh directory removed afterwards") {
  Dirs dirs;
  Sizes sizes = sizesFor(true, 3);
  std::vector<std::string> calls;
  std::vector<std::string> runDirs;
  Scenario s{"seq", {"seq_write", "seq_read_cold"}, false, [&](const RunContext& ctx) {
               bool basalt = ctx.dir.rfind(dirs.basalt, 0) == 0;
               calls.push_back((basalt ? "B" : "L") + std::to_string(ctx.run));
               CHECK(isDir(ctx.dir));
               runDirs.push_back(ctx.dir);
               double v = (basalt ? 100 : 200) + ctx.run;
               return std::vector<Measurement>{Measurement::of("seq_write", v),
                                               Measurement::of("seq_read_cold", v * 2, "warm")};
             }};
  std::ostringstream progress;
  RunnerConfig config{dirs.basalt, dirs.local, sizes, [] { return false; }, progress};
  bool interrupted = true;
  auto results = runScenarios({s}, config, &interrupted);
  CHECK_FALSE(interrupted);
  CHECK(calls == std::vector<std::string>{"B0", "L0", "B1", "L1", "B2", "L2"});
  for (const auto& d : runDirs) CHECK_FALSE(isDir(d));
  REQUIRE(results.size() == 2);
  CHECK(results[0].spec.id == "seq_write");
  CHECK(results[0].basalt.samples == std::vector<double>{100, 101, 102});
  CHECK(results[0].local.samples == std::vector<double>{200, 201, 202});
  CHECK(results[1].basalt.notes.size() == 3);
  std::string text = progress.str();
  CHECK(std::count(text.begin(), text.end(), '\n') == 6);
  CHECK(text.find("[ 6/6] seq") != std::string::npos);
  CHECK(text.find("run 1/3  local   seq_write 200 MB/s, seq_read_cold 400 MB/s") !=
        std::string::npos);
}

TEST_CASE(
    "errors, missing measurements and exceptions are filed per metric and the bench goes on") {
  Dirs dirs;
  Sizes sizes = sizesFor(true, 1);
  int lockRuns = 0;
  std::vector<Scenario> scenarios = {
      {"broken",
       {"create", "stat"},
       false,
       [](const RunContext&) {
         return std::vector<Measurement>{
             Measurement::failed("create", basalt::Status::error(ENOSPC, "create /x: full"))};
       }},
      {"throws",
       {"cp"},
       false,
       [](const RunContext&) -> std::vector<Measurement> { throw std::runtime_error("oops"); }},
      {"locks",
       {"locks"},
       false,
       [&](const RunContext&) {
         ++lockRuns;
         return std::vector<Measurement>{Measurement::unsupported("locks", "ENOSYS")};
       }},
  };
  std::ostringstream progress;
  RunnerConfig config{dirs.basalt, dirs.local, sizes, [] { return false; }, progress};
  bool interrupted = false;
  auto results = runScenarios(scenarios, config, &interrupted);
  REQUIRE(results.size() == 4);
  REQUIRE(results[0].basalt.errors.size() == 1);
  CHECK(results[0].basalt.errors[0].second.find("ENOSPC") != std::string::npos);
  REQUIRE(results[1].basalt.errors.size() == 1);
  CHECK(results[1].basalt.errors[0].second.find("measured nothing") != std::string::npos);
  REQUIRE(results[2].local.errors.size() == 1);
  CHECK(results[2].local.errors[0].second.find("oops") != std::string::npos);
  CHECK(results[3].basalt.notSupported == "ENOSYS");
  CHECK(lockRuns == 2);
}

TEST_CASE("Basalt-only scenarios and a run without --vs touch no local directory") {
  Dirs dirs;
  Sizes sizes = sizesFor(true, 2);
  int localRuns = 0, runs = 0;
  Scenario probe{"failover", {"failover_stall"}, true, [&](const RunContext& ctx) {
                   ++runs;
                   if (ctx.dir.rfind(dirs.local, 0) == 0) ++localRuns;
                   return std::vector<Measurement>{Measurement::of("failover_stall", 0.3)};
                 }};
  std::ostringstream progress;
  bool interrupted = false;
  runScenarios({probe},
               RunnerConfig{dirs.basalt, dirs.local, sizes, [] { return false; }, progress},
               &interrupted);
  CHECK(runs == 2);
  CHECK(localRuns == 0);
}

TEST_CASE("cancelling stops before the next run and says the results are partial") {
  Dirs dirs;
  Sizes sizes = sizesFor(true, 3);
  int runs = 0;
  Scenario s{"locks", {"locks"}, false, [&](const RunContext&) {
               ++runs;
               return std::vector<Measurement>{Measurement::of("locks", 1)};
             }};
  std::ostringstream progress;
  bool interrupted = false;
  auto results = runScenarios(
      {s}, RunnerConfig{dirs.basalt, dirs.local, sizes, [&] { return runs >= 2; }, progress},
      &interrupted);
  CHECK(interrupted);
  CHECK(runs == 2);
  CHECK(results[0].basalt.samples.size() == 1);
}
