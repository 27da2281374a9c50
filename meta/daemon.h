// Small pieces of the basalt-meta process that main.cc wires together.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "meta/capacity.h"
#include "meta/chunks/chunk_manager.h"
#include "meta/meta_server.h"
#include "meta/replication/replica.h"
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

// Fills `options.peers` from the comma-separated `peers` and `options.self` from `node` (from 1),
// or when it is 0 from where `listen` stands in the list; the heartbeat follows the election timeout.
Status resolvePeers(const std::string& peers, uint32_t node, const std::string& listen, ReplicaOptions& options);

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
