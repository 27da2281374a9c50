// Ordinary tools on a real source tree (/usr/include: thousands of small files, symlinks,
// subdirectories): `cp -a` it in, `rsync -a` it in (a second copy), then in the cp copy `git init`
// (untimed), `git add -A` + `git commit`, and `git status`. Each is a child process with a time
// limit; the wall time of each is the result.
#include <cerrno>

#include "tools/bench/spawn.h"
#include "tools/bench/workload.h"

namespace basalt::tools::bench {
namespace {

const char* const kSourceTree = "/usr/include";

// git with no system or user configuration, so everyone measures the same git.
std::vector<std::string> git(std::vector<std::string> args) {
  std::vector<std::string> argv = {"git",
                                   "-c",
                                   "user.name=basalt bench",
                                   "-c",
                                   "user.email=bench@basalt.invalid",
                                   "-c",
                                   "gc.auto=0",
                                   "-c",
                                   "commit.gpgsign=false",
                                   "-c",
                                   "init.defaultBranch=main",
                                   "-c",
                                   "safe.directory=*"};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

// Runs one command; its seconds, or why it failed.
Result<double> timed(const RunContext& ctx, std::vector<std::string> argv, const std::string& cwd,
                     std::string* output = nullptr) {
  CommandSpec spec;
  spec.argv = std::move(argv);
  spec.cwd = cwd;
  spec.env = {"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "LC_ALL=C"};
  spec.timeout = ctx.sizes.commandTimeout;
  auto outcome = runCommand(spec, ctx.cancelled);
  if (!outcome.isOk()) return outcome.status();
  if (Status s = commandStatus(spec, outcome.value()); !s.isOk()) return s;
  if (output) *output = outcome->output;
  return outcome->seconds;
}

Measurement measurementOf(const std::string& metric, const Result<double>& r,
                          std::string note = "") {
  return r.isOk() ? Measurement::of(metric, r.value(), std::move(note))
                  : Measurement::failed(metric, r.status());
}

}  // namespace

std::vector<Measurement> runTreeTools(const RunContext& ctx) {
  std::vector<Measurement> out;
  const std::string tree = ctx.dir + "/tree";
  auto cp = timed(ctx, {"cp", "-a", kSourceTree, tree}, "");
  out.push_back(measurementOf("cp", cp));
  auto rsync = timed(ctx, {"rsync", "-a", std::string(kSourceTree) + "/", ctx.dir + "/rsync/"}, "");
  out.push_back(measurementOf("rsync", rsync));

  const std::vector<std::string> gitMetrics = {"git_add_commit", "git_status", "git_total"};
  if (!cp.isOk()) {
    for (const auto& m : gitMetrics) {
      out.push_back(
          Measurement::failed(m, Status::error(cp.status().code(), "skipped: cp -a failed")));
    }
    return out;
  }
  Result<double> commit = Status::ok();
  if (auto init = timed(ctx, git({"init", "-q"}), tree); !init.isOk()) {
    commit = Status::error(init.status().code(), "setup: " + init.status().message());
  } else if (auto add = timed(ctx, git({"add", "-A"}), tree); !add.isOk()) {
    commit = add;
  } else {
    auto c = timed(ctx, git({"commit", "-q", "-m", "basalt bench"}), tree);
    commit = c.isOk() ? Result<double>(add.value() + c.value()) : c;
  }
  out.push_back(measurementOf("git_add_commit", commit));
  Result<double> status = Status::error(EINVAL, "skipped: git add/commit failed");
  std::string porcelain, note;
  if (commit.isOk()) status = timed(ctx, git({"status", "--porcelain"}), tree, &porcelain);
  if (status.isOk() && !porcelain.empty()) {
    std::string changes = porcelain.substr(0, 200);
    for (auto& c : changes) c = c == '\n' ? '|' : c;  // one footnote line
    note = "git status found changes right after the commit: " + changes;
  }
  out.push_back(measurementOf("git_status", status, note));
  Result<double> total = status.isOk() ? Result<double>(commit.value() + status.value())
                                       : Result<double>(status.status());
  out.push_back(measurementOf("git_total", total));
  return out;
}

}  // namespace basalt::tools::bench
