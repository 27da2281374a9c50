// Checks on the mountpoint made before mounting. /proc/self/mountinfo is read instead of stat()ing
// a path that may be a (possibly hung) FUSE mount: a daemon must never touch its own mountpoint.
// Thread-safety: pure functions, plus checkMountpoint which reads /proc and stats the path.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "server/status.h"

namespace basalt::client {

struct MountEntry {
  std::string mountPoint;  // unescaped (\040 → space)
  std::string fsType;      // e.g. "fuse.basalt"
  std::string source;      // e.g. "basalt:127.0.0.1:7000"
};

// Parses the text of /proc/PID/mountinfo; malformed lines are skipped.
std::vector<MountEntry> parseMountInfo(std::string_view text);

// `path` made absolute against `cwd` with "." , ".." and repeated slashes removed, without following
// symlinks (following them could stat a hung mount).
std::string normalizePath(const std::string& path, const std::string& cwd);

// Whether `mountpoint` (already normalized) is a Basalt mount in `mounts`.
bool isBasaltMount(const std::vector<MountEntry>& mounts, const std::string& mountpoint);

// The mountpoint exists, is a directory and is not already a Basalt mount. The error message is the
// one line the user sees ("mountpoint /x: no such directory").
Status checkMountpoint(const std::string& mountpoint);

}  // namespace basalt::client
