#include "tools/bench/bench_command.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <iostream>

#include "server/text.h"
#include "tools/bench/cluster_probe.h"
#include "tools/bench/fs_util.h"
#include "tools/bench/json.h"
#include "tools/bench/report.h"
#include "tools/bench/runner.h"
#include "tools/cluster_dir.h"
#include "tools/process.h"

namespace basalt::tools::bench {
namespace {

// Ctrl-C and SIGTERM stay blocked and are polled (sigpending) between steps, so the bench stops at
// a safe point and still removes its files; child commands get them unblocked.
void blockStopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigprocmask(SIG_BLOCK, &set, nullptr);
}

bool stopRequested() {
  sigset_t pending;
  sigpending(&pending);
  return sigismember(&pending, SIGINT) || sigismember(&pending, SIGTERM);
}

bool isDirectory(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string utcNow() {
  char buf[32];
  std::time_t t = std::time(nullptr);
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

std::vector<Scenario> standardScenarios(const std::string& clusterDir) {
  std::vector<Scenario> s = {
      {"sequential", {"seq_write", "seq_read_cold"}, false, runSequential},
      {"random 4K", {"rand_read", "rand_write"}, false, runRandomIo},
      {"small files", {"create", "stat", "readdir", "unlink"}, false, runSmallFiles},
      {"tree tools",
       {"cp", "rsync", "git_add_commit", "git_status", "git_total"},
       false,
       runTreeTools},
      {"locks", {"locks"}, false, runLocks},
  };
  if (!clusterDir.empty()) {
    s.push_back({"failover", {"failover_stall"}, true, [clusterDir](const RunContext& ctx) {
                   return runFailoverStall(ctx, clusterDir);
                 }});
  }
  return s;
}

// The standard scenarios, or with --only just those whose key (first word of the name) is listed.
std::vector<Scenario> selectedScenarios(const BenchOptions& o) {
  auto all = standardScenarios(o.clusterDir);
  auto only = splitList(o.only);
  if (only.empty()) return all;
  std::vector<Scenario> picked;
  for (auto& s : all) {
    std::string key = s.name.substr(0, s.name.find(' '));
    if (std::find(only.begin(), only.end(), key) != only.end()) picked.push_back(std::move(s));
  }
  return picked;
}

// Checks the directories and resolves them to absolute paths. Returns "" or what is wrong.
std::string prepare(BenchOptions& o) {
  if (auto err = validateOptions(o); !err.empty()) return err;
  if (!isDirectory(o.dir)) return "DIR " + o.dir + " is not a directory";
  o.dir = absolutePath(o.dir);
  if (!o.vsDir.empty()) {
    if (!isDirectory(o.vsDir) && mkdir(o.vsDir.c_str(), 0755) != 0) {
      return "cannot create --vs " + o.vsDir + ": " + strerror(errno);
    }
    o.vsDir = absolutePath(o.vsDir);
    if (o.vsDir == o.dir) return "--vs LOCALDIR must differ from DIR";
  }
  if (!o.clusterDir.empty()) {
    if (!isDirectory(o.clusterDir + "/run")) {
      return "--cluster " + o.clusterDir + " is not a `basalt up` directory (no run/ in it)";
    }
    o.clusterDir = absolutePath(o.clusterDir);
  }
  return "";
}

// A warning when DIR is not inside any mount of the cluster: the probes would then kill a chunk
// server while the writer writes somewhere else.
void warnIfNotOnCluster(const BenchOptions& o) {
  for (const auto& r : ClusterDir(o.clusterDir).readRecords()) {
    const std::string& m = r.mountpoint;
    if (!m.empty() && (o.dir == m || o.dir.rfind(m + "/", 0) == 0)) return;
  }
  std::cerr << "basalt bench: warning: " << o.dir << " is not under a mount recorded in "
            << o.clusterDir << "/run; the cluster probes may not measure this directory\n";
}

void addPeakRss(const std::string& clusterDir, std::vector<MetricResult>& results, bool probed) {
  for (const auto& p : collectPeakRss(clusterDir)) {
    MetricResult r{peakRssSpec(p.who), {}, {}};
    if (p.status.isOk()) {
      r.basalt.samples.push_back(p.mib);
      if (probed && p.who == "chunk1") {
        r.basalt.notes.emplace_back(0, "restarted by the failover probe: peak since the restart");
      }
    } else {
      r.basalt.errors.emplace_back(0, p.status.toString());
    }
    results.push_back(r);
  }
}

}  // namespace

int runBench(const BenchOptions& optionsArg) {
  BenchOptions options = optionsArg;
  if (auto err = prepare(options); !err.empty()) {
    std::cerr << "basalt bench: " << err << "\n";
    return 1;
  }
  if (!options.clusterDir.empty()) warnIfNotOnCluster(options);
  blockStopSignals();

  BenchRecord record;
  record.options = options;
  record.sizes = sizesFor(options.quick, options.runs);
  record.machine = readMachineInfo();
  record.startedUtc = utcNow();
  record.dirFilesystem = filesystemType(options.dir);
  if (!options.vsDir.empty()) record.localFilesystem = filesystemType(options.vsDir);
  auto start = std::chrono::steady_clock::now();

  const std::string leaf = "/basalt-bench." + std::to_string(getpid());
  const std::string basaltDir = options.dir + leaf;
  const std::string localDir = options.vsDir.empty() ? "" : options.vsDir + leaf;
  for (const auto& d : {basaltDir, localDir}) {
    if (d.empty()) continue;
    if (Status s = makeDir(d); !s.isOk()) {
      std::cerr << "basalt bench: " << s.toString() << "\n";
      if (d == localDir) removeTree(basaltDir);
      return 1;
    }
  }
  std::cerr << "basalt bench: " << options.dir << " (" << record.dirFilesystem << ")";
  if (!localDir.empty())
    std::cerr << " vs " << options.vsDir << " (" << record.localFilesystem << ")";
  std::cerr << ", " << record.sizes.runs << " run(s) each" << (options.quick ? ", quick sizes" : "")
            << "; Ctrl-C stops and cleans up\n";

  RunnerConfig config{basaltDir, localDir, record.sizes, stopRequested, std::cerr};
  record.results = runScenarios(selectedScenarios(options), config, &record.interrupted);
  if (!options.clusterDir.empty() && !record.interrupted && options.only.empty()) {
    addPeakRss(options.clusterDir, record.results, true);
  }

  for (const auto& d : {basaltDir, localDir}) {
    if (d.empty()) continue;
    if (Status s = removeTree(d); !s.isOk()) {
      std::cerr << "basalt bench: could not remove " << d << ": " << s.toString() << "\n";
    }
  }
  record.wallSeconds = secondsSince(start);
  record.loadAverageEnd = readLoadAverage();

  std::cout << "\nbasalt bench: " << options.dir;
  if (!localDir.empty()) std::cout << " vs local " << options.vsDir;
  std::cout << "; medians of " << record.sizes.runs << " run(s); " << record.machine.nproc
            << " CPUs, load " << record.machine.loadAverage << " -> " << record.loadAverageEnd
            << (record.interrupted ? "; INTERRUPTED, partial results" : "") << "\n\n"
            << renderReport(record.results, !localDir.empty());
  int rc = record.interrupted ? 130 : 0;
  if (!options.jsonFile.empty()) {
    if (Status s = writeJson(record, options.jsonFile); !s.isOk()) {
      std::cerr << "basalt bench: " << s.toString() << "\n";
      rc = rc ? rc : 1;
    } else {
      std::cerr << "basalt bench: wrote " << options.jsonFile << "\n";
    }
  }
  return rc;
}

}  // namespace basalt::tools::bench
