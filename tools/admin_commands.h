// Admin commands that talk to a running cluster over RPC: `basalt verify`, `basalt setrepl`.
// Each returns the process exit code and prints what it found or did.
#pragma once

#include <string>

namespace basalt::tools {

// The metadata server of a cluster directory (DIR/run/meta), or "" after printing why not.
std::string metaAddressOfCluster(const std::string& dir);
// The metadata server a Basalt mount containing `path` talks to (from its fsname
// "basalt:HOST:PORT" in /proc/self/mountinfo), or "".
std::string metaAddressOfPath(const std::string& path);

// Reads every replica of every chunk in full and compares them. 0 when all are identical.
int runVerify(const std::string& metaAddress);
// Sets the replication of PATH (a directory: inherited by new files; a file: its chunks allocated
// from now on). 0 on success.
int runSetRepl(const std::string& path, int replicas);

}  // namespace basalt::tools
