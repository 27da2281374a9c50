// Small files read and written whole: port files, server ids, cluster configuration, schedules.
// A write never leaves a half-written file behind: the content goes to a temporary file beside the
// target, is fsynced, and is renamed over it.
#pragma once

#include <optional>
#include <string>

#include "server/status.h"

namespace basalt {

// Writes `content` to `path` atomically. The error names the file and the errno.
Status writeFileAtomically(const std::string& path, const std::string& content);

// The whole content of `path`, or nothing when it cannot be opened (also works for /proc files).
std::optional<std::string> readFile(const std::string& path);

}  // namespace basalt
