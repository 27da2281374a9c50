// Running an external program (cp, rsync, git, basalt up) with fork/exec: arguments passed as a
// vector (no shell, so no quoting), a working directory, a hard time limit, and cancellation.
// Thread-safety: none needed; call from one thread.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "server/status.h"

namespace basalt::tools::bench {

struct CommandSpec {
  std::vector<std::string> argv;  // argv[0] is looked up in PATH
  std::string cwd;                // "" = the bench's own
  std::vector<std::string> env;   // "NAME=value" added to the inherited environment
  std::chrono::milliseconds timeout{60000};
};

struct CommandOutcome {
  int exitCode = 0;  // the exit status, or 128 + signal if it was killed
  bool timedOut = false;
  bool cancelled = false;
  double seconds = 0;  // from fork to exit (steady_clock)
  std::string output;  // stdout and stderr together, the last 16 KiB
};

// Runs the command in its own process group with signals unblocked and stdin from /dev/null.
// When `timeout` passes or `cancelled()` turns true (polled every 50 ms), the whole group gets
// SIGKILL. Returns an error Status only if the process could not be started.
Result<CommandOutcome> runCommand(const CommandSpec& spec, const std::function<bool()>& cancelled);

// A Status for a command that did not succeed: "cp -a ... exited 1: <last lines of output>",
// or ok when it exited 0.
Status commandStatus(const CommandSpec& spec, const CommandOutcome& outcome);

}  // namespace basalt::tools::bench
