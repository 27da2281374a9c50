// Small pieces of the basalt-meta process that main.cc wires together.
#pragma once

#include <string>

#include "server/status.h"

namespace basalt::meta {

// "HOST:PORT" with the port replaced (e.g. the port 0 asked for by the real one).
std::string withPort(const std::string& listen, unsigned port);

// `basalt-meta --fsck --data DIR`: prints the findings; returns the process exit code (0 = clean,
// 1 = inconsistent or unreadable).
int runFsck(const std::string& dir);

}  // namespace basalt::meta
