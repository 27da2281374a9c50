// Admin commands that talk to a running cluster over RPC: `basalt verify`, `setrepl`, `drain`.
// Each returns the process exit code and prints what it found or did.
#pragma once

#include <string>

namespace basalt::tools {

// Of a comma-separated list of metadata servers, the one that leads now (the only one that answers
// clusterInfo); the address itself for a single one; "" after printing why not.
std::string leaderOf(const std::string& addresses, bool quiet = false);
// The (leading) metadata server of a cluster directory (DIR/run/meta*), or "" after printing why not.
std::string metaAddressOfCluster(const std::string& dir);
// The (leading) metadata server a Basalt mount containing `path` talks to (from its fsname
// "basalt:HOST:PORT" or "basalt:HOST:PORT;HOST:PORT;..." in /proc/self/mountinfo), or "".
std::string metaAddressOfPath(const std::string& path);

// Reads every replica of every chunk in full and compares them. 0 when all are identical. `list`:
// first prints each chunk's replicas with their zones ("chunk ID vV inode I index N: #S@ZONE ...").
int runVerify(const std::string& metaAddress, bool list = false);
// `basalt drain`: marks `server` (an id or HOST:PORT) draining, or not with `undrain`. `wait`: until
// the chunk map places nothing on it and it holds no chunk (1 after `timeoutSec`).
int runDrain(const std::string& metaAddress, const std::string& server, bool undrain, bool wait,
             uint32_t timeoutSec);
// Sets the replication of PATH (a directory: inherited by new files; a file: its chunks allocated
// from now on). 0 on success.
int runSetRepl(const std::string& path, int replicas);

}  // namespace basalt::tools
