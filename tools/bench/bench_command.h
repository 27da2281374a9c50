// `basalt bench DIR [--vs LOCALDIR] [--quick] [--json FILE] [--cluster CLUSTERDIR] [--runs N]`:
// runs the standard workloads in DIR (and LOCALDIR, interleaved), prints progress on stderr and the
// result table on stdout. Returns the exit code: 0 when the bench ran to the end (whatever the
// verdicts), 1 when it could not start or the JSON could not be written, 130 when interrupted.
#pragma once

#include "tools/bench/options.h"

namespace basalt::tools::bench {

int runBench(const BenchOptions& options);

}  // namespace basalt::tools::bench
