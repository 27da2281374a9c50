#include "tools/bench/options.h"

#include "server/text.h"

namespace basalt::tools::bench {

Sizes sizesFor(bool quick, int runs) {
  Sizes s;
  if (quick) {
    s.runs = 2;
    s.seqBytes = 256ull << 20;
    s.seqMaxTime = std::chrono::seconds(60);
    s.randomFileBytes = 64ull << 20;
    s.randomOps = 5000;
    s.randomMaxTime = std::chrono::seconds(10);
    s.smallFiles = 2000;
    s.smallFilesPhaseMaxTime = std::chrono::seconds(60);
    s.lockTime = std::chrono::seconds(1);
    s.commandTimeout = std::chrono::seconds(300);
    s.stallBaseline = std::chrono::seconds(2);
    s.stallAfterKill = std::chrono::seconds(5);
    s.stallAfterRestart = std::chrono::seconds(3);
  }
  if (runs > 0) s.runs = runs;
  return s;
}


std::string validateOptions(const BenchOptions& o) {
  if (o.dir.empty()) return "DIR is required";
  if (o.runs < 0 || o.runs > 50) return "--runs must be between 1 and 50";
  if (!o.vsDir.empty() && o.vsDir == o.dir) return "--vs LOCALDIR must differ from DIR";
  for (const auto& name : splitList(o.only)) {
    bool known = false;
    for (const char* k : kScenarioKeys) known = known || name == k;
    if (!known) return "--only: no scenario '" + name + "' (sequential, random, small, tree, locks, failover)";
  }
  return "";
}

}  // namespace basalt::tools::bench
