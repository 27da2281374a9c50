// Small pieces of the basalt-meta process that main.cc wires together.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "meta/capacity.h"
#include "meta/chunks/chunk_manager.h"
#include "meta/meta_server.h"
#include "server/clock.h"
#include "server/status.h"

namespace basalt::meta {

// What a serving (leader) metadata server runs: the MetaServer and the data path's ChunkManager
// over one store. Constructed at start on a single server, when elected on a replicated one.
struct Leader {
  Leader(EventLoop& loop, Store& store, Logger log, MetaOptions options, ChunkOptions chunkOptions);
  CapacityProxy capacity;
  SystemClock clock;
  MetaServer server;
  ChunkManager chunks;
};

// Replaces this process with a fresh run of the same command line (a replica stepping down, or
// installing a snapshot: every in-memory state goes, as in a restart). Does not return.
[[noreturn]] void restartSelf(const std::string& why);
// Remembers argv for restartSelf.
void rememberCommandLine(int argc, char** argv);

// "HOST:PORT" with the port replaced (e.g. the port 0 asked for by the real one).
std::string withPort(const std::string& listen, unsigned port);

// `basalt-meta --fsck --data DIR`: prints the findings; returns the process exit code (0 = clean,
// 1 = inconsistent or unreadable).
int runFsck(const std::string& dir);

}  // namespace basalt::meta
