// What `basalt bench` was asked to do, and the sizes and time limits that follow from it.
// Pure values: no I/O here, so the rules are unit-tested.
// Thread-safety: plain values, no shared state.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace basalt::tools::bench {

struct BenchOptions {
  std::string dir;         // DIR: where the Basalt workloads run (normally inside the mount)
  std::string vsDir;       // --vs LOCALDIR: the same workloads on a local filesystem ("" = none)
  bool quick = false;      // --quick: fewer runs, smaller sizes
  std::string jsonFile;    // --json FILE ("" = none)
  std::string clusterDir;  // --cluster CLUSTERDIR: a `basalt up` directory ("" = no cluster probes)
  int runs = 0;            // --runs N (0 = the default for the mode)
  std::string only;        // --only NAME[,NAME]: just these scenarios ("" = all)
};

// Every size and time bound of a bench. Each workload stops at its limit and says so, so a slow or
// hung filesystem cannot make the bench run for ever.
struct Sizes {
  int runs = 3;
  uint64_t seqBytes = 1ull << 30;           // sequential write, then read back cold
  std::chrono::seconds seqMaxTime{300};     // per direction
  uint64_t randomFileBytes = 256ull << 20;  // the file the 4 KiB random I/O runs on
  int randomOps = 20000;                    // per direction ...
  std::chrono::seconds randomMaxTime{30};   // ... or this long, whichever ends first
  int smallFiles = 10000;                   // create / stat / readdir / unlink
  std::chrono::seconds smallFilesPhaseMaxTime{300};
  std::chrono::seconds lockTime{3};          // lock+unlock pairs for this long
  std::chrono::seconds commandTimeout{900};  // cp, rsync, git: each call
  // The writer-stall probe: steady writes, then chunk1 is killed, then restarted.
  std::chrono::milliseconds stallWriteInterval{100};
  std::chrono::seconds stallBaseline{3};
  std::chrono::seconds stallAfterKill{8};
  std::chrono::seconds stallAfterRestart{4};
  std::chrono::seconds restartTimeout{60};
};

// The sizes for a mode; `runs` (from --runs) overrides the mode's run count when positive.
Sizes sizesFor(bool quick, int runs);

// The key of each standard scenario (the first word of its name), for --only.
inline constexpr const char* kScenarioKeys[] = {"sequential", "random", "small",
                                                 "tree",       "locks",  "failover"};

// Checks the options that need no filesystem access. Returns "" or what is wrong, for the user.
std::string validateOptions(const BenchOptions& options);

}  // namespace basalt::tools::bench
