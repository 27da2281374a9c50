// basalt: the admin CLI and local-cluster launcher. Only parses the command line and dispatches.
#include <CLI/CLI.hpp>

#include "tools/admin_commands.h"
#include "tools/bench/bench_command.h"
#include "tools/cluster_commands.h"

int main(int argc, char** argv) {
  CLI::App app{"basalt: run and administer a Basalt distributed filesystem"};
  app.require_subcommand(1);

  basalt::tools::UpOptions up;
  auto* upCmd = app.add_subcommand("up", "Start a local cluster (or restart it) and mount it");
  upCmd->add_option("--dir", up.dir, "Cluster directory (data, logs, pids)")->capture_default_str();
  upCmd->add_option("--mount", up.mount, "Mountpoint (\"\" for none)")->capture_default_str();
  auto* metasOpt = upCmd->add_option("--metas", up.metas,
                                     "Metadata servers (1, or 3 or 5: they replicate their state and fail over)")
                       ->capture_default_str()
                       ->check(CLI::Range(1, 7));
  auto* chunksOpt = upCmd->add_option("--chunks", up.chunks, "Chunk servers")->capture_default_str();
  auto* replOpt = upCmd->add_option("--replicas", up.replicas, "Replicas per chunk")->capture_default_str();
  upCmd->add_option("--chunk-size", up.chunkSize, "Bytes per chunk of new files (default: 64 MiB)");
  upCmd->add_option("--zones", up.zones,
                    "Failure zones, comma-separated: chunk server i gets zones[(i-1) % n] (kept in the cluster dir)");
  upCmd->add_option("--session-lease-ms", up.sessionLeaseMs,
                    "Session lease of mounts: a dead mount's locks are released after it (default: 10000)")
      ->check(CLI::Range(100u, 3600000u));
  upCmd->add_option("--scrub-interval", up.scrubIntervalSec,
                    "Seconds from one scrub pass of a chunk server to the next (default: a week; kept)")
      ->check(CLI::PositiveNumber);

  std::string dir = ".basalt";
  auto* downCmd = app.add_subcommand("down", "Unmount and stop everything `basalt up` started");
  downCmd->add_option("--dir", dir, "Cluster directory")->capture_default_str();

  std::string addZone;
  auto* addChunkCmd = app.add_subcommand("add-chunk", "Add one chunk server to a running local cluster");
  addChunkCmd->add_option("--dir", dir, "Cluster directory")->capture_default_str();
  addChunkCmd->add_option("--zone", addZone, "Its failure zone (default: the next of the cluster's --zones)");

  std::string mountpoint;
  auto* mountCmd = app.add_subcommand("mount", "Mount the cluster of DIR once more (another client)");
  mountCmd->add_option("--dir", dir, "Cluster directory")->capture_default_str();
  mountCmd->add_option("MOUNTPOINT", mountpoint, "Where to mount")->required();

  auto* statusCmd = app.add_subcommand("status", "Show every server and mount with its health");
  statusCmd->add_option("--dir", dir, "Cluster directory")->capture_default_str();

  basalt::tools::bench::BenchOptions bench;
  auto* benchCmd = app.add_subcommand("bench", "Run the standard workloads in DIR (vs local)");
  benchCmd->add_option("DIR", bench.dir, "Where to run (inside a Basalt mount)")->required();
  benchCmd->add_option("--vs", bench.vsDir, "Run the same workloads on LOCALDIR, interleaved");
  benchCmd->add_flag("--quick", bench.quick, "Fewer runs and smaller sizes (a couple of minutes)");
  benchCmd->add_option("--json", bench.jsonFile, "Write all samples, medians, machine info");
  benchCmd->add_option("--cluster", bench.clusterDir, "`basalt up` dir: kill-a-server probe, RSS");
  benchCmd->add_option("--runs", bench.runs, "Runs per workload (default 3, --quick 2)");
  benchCmd->add_option("--only", bench.only,
                       "Just these scenarios, comma-separated: sequential, random, small, tree, "
                       "locks, failover");

  std::string meta;
  bool verifyList = false;
  auto* verifyCmd = app.add_subcommand("verify", "Read every replica of every chunk and compare them");
  verifyCmd->add_option("--dir", dir, "Cluster directory")->capture_default_str();
  verifyCmd->add_option("--meta", meta, "Metadata server HOST:PORT (instead of --dir)");
  verifyCmd->add_flag("--list", verifyList, "Also print every chunk's replicas with their zones");

  std::string drainServer;
  bool undrain = false, drainWait = false;
  uint32_t drainTimeout = 3600;
  auto* drainCmd = app.add_subcommand("drain", "Move every chunk off a chunk server (it leaves the placement ring)");
  drainCmd->add_option("SERVER", drainServer, "The chunk server: its id as `basalt status` shows it, or HOST:PORT")
      ->required();
  drainCmd->add_option("--dir", dir, "Cluster directory")->capture_default_str();
  drainCmd->add_option("--meta", meta, "Metadata server HOST:PORT (instead of --dir)");
  drainCmd->add_flag("--wait", drainWait, "Wait until the server holds no chunk");
  drainCmd->add_option("--timeout", drainTimeout, "With --wait: give up after this many seconds")->capture_default_str();
  drainCmd->add_flag("--undrain", undrain, "Stop draining: the server takes chunks again");

  std::string replPath;
  int replicas = 0;
  auto* setreplCmd = app.add_subcommand("setrepl", "Set the replicas per chunk of a directory or file");
  setreplCmd->add_option("PATH", replPath, "A directory (inherited by new entries) or a file in a mount")->required();
  setreplCmd->add_option("REPLICAS", replicas, "Replicas per chunk (1..16)")->required()->check(CLI::Range(1, 16));

  CLI11_PARSE(app, argc, argv);
  if (verifyCmd->parsed()) {
    if (meta.empty()) meta = basalt::tools::metaAddressOfCluster(dir);
    return meta.empty() ? 1 : basalt::tools::runVerify(meta, verifyList);
  }
  if (drainCmd->parsed()) {
    if (meta.empty()) meta = basalt::tools::metaAddressOfCluster(dir);
    return meta.empty() ? 1 : basalt::tools::runDrain(meta, drainServer, undrain, drainWait, drainTimeout);
  }
  if (setreplCmd->parsed()) return basalt::tools::runSetRepl(replPath, replicas);
  if (upCmd->parsed()) {
    up.chunksGiven = chunksOpt->count() > 0;
    up.metasGiven = metasOpt->count() > 0;
    up.replicasGiven = replOpt->count() > 0;
    return basalt::tools::runUp(up);
  }
  if (downCmd->parsed()) return basalt::tools::runDown(dir);
  if (addChunkCmd->parsed()) return basalt::tools::runAddChunk(dir, addZone);
  if (mountCmd->parsed()) return basalt::tools::runMount(dir, mountpoint);
  if (statusCmd->parsed()) return basalt::tools::runStatus(dir);
  if (benchCmd->parsed()) return basalt::tools::bench::runBench(bench);
  return 2;
}
