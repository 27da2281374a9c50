// Starting, watching and stopping the daemons of a local cluster.
// Thread-safety: none needed (the CLI is single-threaded).
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace basalt::tools {

// The directory holding this executable (where basalt-meta etc. are installed beside it).
std::string selfDir();

// Starts `exe args...` as a daemon in its own session, stdin from /dev/null, stdout and stderr
// appended to `logFile`. Returns the pid, or -1 with `error` set.
int spawnDaemon(const std::string& exe, const std::vector<std::string>& args,
                const std::string& logFile, std::string& error);

// True if `pid` runs a program whose name contains `programName` (guards against reused pids).
// Reaps `pid` first if it is our exited child.
bool isRunning(int pid, const std::string& programName);

// Polls `done` every 20 ms until it returns true or `timeout` passes. Returns done()'s last value.
bool waitUntil(std::chrono::milliseconds timeout, const std::function<bool()>& done);

// True while `pid`, a child this process spawned, has not exited (reaps it when it has). Unlike
// isRunning, right after spawnDaemon this is true even before the child has exec'd its program.
bool childAlive(int pid);

// A TCP port on 127.0.0.1 that nothing listens on now (bound and released: another process may
// take it before it is used, so a caller must cope with a failed bind). 0 on failure.
int freeLocalPort();

// SIGTERM, wait up to `grace`, then SIGKILL. Returns a description of what happened.
std::string stopProcess(int pid, const std::string& programName, std::chrono::milliseconds grace);

// One line of /proc/self/mountinfo.
struct MountEntry {
  std::string mountpoint;  // unescaped (mountinfo writes space, tab, newline, backslash as \ooo)
  std::string fstype;      // e.g. "ext4", "fuse.basalt"
  std::string source;      // e.g. "/dev/vda", "basalt:127.0.0.1:7000"
};
std::vector<MountEntry> readMounts();
// The innermost mount holding `absolutePath` (the longest mountpoint that is a prefix of it).
std::optional<MountEntry> mountContaining(const std::string& absolutePath);

// True if `mountpoint` (absolute) is a mount point of a FUSE filesystem right now.
bool isFuseMounted(const std::string& mountpoint);

// Absolute, normalised form of `path` (which must exist).
std::string absolutePath(const std::string& path);

// The last `lines` lines of a file, for error messages.
std::string tailFile(const std::string& path, int lines);

}  // namespace basalt::tools
