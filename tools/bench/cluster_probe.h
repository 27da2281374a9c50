// Probes that need the cluster itself (--cluster CLUSTERDIR, a `basalt up` directory): how long a
// writer stalls when a chunk server dies, and how much memory each process peaked at.
// Thread-safety: none needed; the bench is single-threaded (the stall probe forks a writer).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "tools/bench/workload.h"

namespace basalt::tools::bench {

// A writer process appends 1 MiB + fdatasync every stallWriteInterval (or back to back when that
// is slower) to a file in ctx.dir. After stallBaseline, chunk1 (pid from CLUSTERDIR/run/chunk1)
// gets SIGKILL; after stallAfterKill, `basalt up --dir CLUSTERDIR --mount ""` restarts it; the
// writer goes on for stallAfterRestart. Measures "failover_stall": the longest gap between two
// acknowledged writes (or from the last one to the end, if the writer is stuck). A failed write
// is an error, with the step and the time since the kill.
std::vector<Measurement> runFailoverStall(const RunContext& ctx, const std::string& clusterDir);

struct PeakRss {
  std::string who;  // "meta", "chunk1", ..., "basalt-mount /path/mnt"
  int pid = 0;
  Status status;   // why there is no number (process not running, /proc unreadable)
  double mib = 0;  // VmHWM
};

// VmHWM of every process recorded in CLUSTERDIR/run, in the order `basalt up` starts them.
std::vector<PeakRss> collectPeakRss(const std::string& clusterDir);

// The VmHWM line of a /proc/PID/status text, in KiB; nullopt if absent or malformed.
std::optional<long> parseVmHwmKiB(const std::string& procStatus);

}  // namespace basalt::tools::bench
