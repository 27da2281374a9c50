// `basalt up`, `down`, `mount`, `status`, `add-chunk`: the local-cluster launcher.
// Each returns the process exit code and prints what it did.
#pragma once

#include <cstdint>
#include <string>

namespace basalt::tools {

struct UpOptions {
  std::string dir = ".basalt";
  std::string mount = "mnt";   // "" = do not mount
  int metas = 1;                // metadata servers: 1, or 3/5 replicating their state (fixed at creation)
  int chunks = 3;
  int replicas = 2;
  uint64_t chunkSize = 0;       // bytes per chunk of new files; 0 = the metadata server's default
  uint32_t sessionLeaseMs = 0;  // a mount's session lease (locks of a dead mount go after it); 0 = default
  double scrubIntervalSec = 0;  // seconds between chunk servers' scrub passes; 0 = their default (kept)
  std::string zones;            // "a,b": chunk server i gets zone i-1 mod n ("" = keep what is recorded)
  bool chunksGiven = false;    // --chunks was passed (else the cluster's recorded count)
  bool replicasGiven = false;
  bool metasGiven = false;
};

int runUp(const UpOptions& options);
int runDown(const std::string& dir);
// Grows a running cluster by one chunk server (in `zone`, or the next of the recorded zones) and
// starts it (and whatever else of the cluster is not running).
int runAddChunk(const std::string& dir, const std::string& zone);
int runMount(const std::string& dir, const std::string& mountpoint);
int runStatus(const std::string& dir);

}  // namespace basalt::tools
