#include <doctest/doctest.h>

#include "tools/bench/spawn.h"

using namespace basalt::tools::bench;
using namespace std::chrono_literals;

namespace {
bool never() {
  return false;
}
}  // namespace

TEST_CASE("a command's exit code and output come back, with arguments passed unquoted") {
  CommandSpec spec;
  spec.argv = {"sh", "-c", "echo \"$1\"; echo oops >&2; exit 3", "sh", "it's a 'path' with spaces"};
  auto r = runCommand(spec, never);
  REQUIRE(r.isOk());
  CHECK(r->exitCode == 3);
  CHECK(r->output == "it's a 'path' with spaces\noops\n");
  basalt::Status s = commandStatus(spec, r.value());
  CHECK_FALSE(s.isOk());
  CHECK(s.message().find("exited 3") != std::string::npos);
  CHECK(s.message().find("oops") != std::string::npos);
}

TEST_CASE("a command runs in the given directory with the extra environment") {
  CommandSpec spec;
  spec.argv = {"sh", "-c", "pwd; echo $BENCH_TEST_VAR"};
  spec.cwd = "/usr";
  spec.env = {"BENCH_TEST_VAR=hello"};
  auto r = runCommand(spec, never);
  REQUIRE(r.isOk());
  CHECK(r->exitCode == 0);
  CHECK(r->output == "/usr\nhello\n");
  CHECK(commandStatus(spec, r.value()).isOk());
}

TEST_CASE("a command past its time limit is killed with its children") {
  CommandSpec spec;
  spec.argv = {"sh", "-c", "sleep 30 & sleep 30"};
  spec.timeout = 200ms;
  auto r = runCommand(spec, never);
  REQUIRE(r.isOk());
  CHECK(r->timedOut);
  CHECK(r->seconds < 10);
  CHECK(commandStatus(spec, r.value()).code() == ETIMEDOUT);
}

TEST_CASE("a cancelled command is killed and reported as interrupted") {
  CommandSpec spec;
  spec.argv = {"sleep", "30"};
  auto r = runCommand(spec, [] { return true; });
  REQUIRE(r.isOk());
  CHECK(r->cancelled);
  CHECK(commandStatus(spec, r.value()).code() == EINTR);
}

TEST_CASE("a program that does not exist fails with exit 127 and says why") {
  CommandSpec spec;
  spec.argv = {"basalt-no-such-program"};
  auto r = runCommand(spec, never);
  REQUIRE(r.isOk());
  CHECK(r->exitCode == 127);
  CHECK(r->output.find("basalt-no-such-program") != std::string::npos);
}
