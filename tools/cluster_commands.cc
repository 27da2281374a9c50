#include "tools/cluster_commands.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <functional>
#include <iostream>
#include <map>

#include "server/text.h"
#include "tools/admin_commands.h"
#include "tools/cluster_dir.h"
#include "tools/process.h"

namespace basalt::tools {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr auto kStartTimeout = seconds(15);
constexpr auto kStopGrace = seconds(10);

std::string mountRecordName(const std::string& mountpoint) {
  std::string name = "mount";
  for (char c : mountpoint) name += (isalnum(static_cast<unsigned char>(c)) ? c : '_');
  return name;
}

// Starts one daemon (unless its record shows it running) and waits for its port file.
// Returns the address it listens on, or "" after printing why it failed.
std::string startServer(const ClusterDir& dir, const std::string& name, const std::string& exe,
                        std::vector<std::string> args, const std::string& wantPort, bool mayMove = true) {
  if (auto r = dir.readRecord(name); r && isRunning(r->pid, exe)) {
    std::cout << "  " << name << " already running (pid " << r->pid << ") on " << r->address << "\n";
    return r->address;
  }
  std::string portFile = dir.runFile(name + ".addr");
  unlink(portFile.c_str());
  args.push_back("--listen");
  args.push_back("127.0.0.1:" + wantPort);
  args.push_back("--port-file");
  args.push_back(portFile);
  std::string error;
  std::string logFile = dir.logFile(name);
  int pid = spawnDaemon(selfDir() + "/" + exe, args, logFile, error);
  if (pid < 0) {
    std::cerr << "basalt: cannot start " << name << ": " << error << "\n";
    return "";
  }
  std::string address;
  bool up = waitUntil(kStartTimeout, [&] {
    if (auto text = readFile(portFile); text && !text->empty() && text->back() == '\n') {
      address = text->substr(0, text->size() - 1);
      return true;
    }
    return !childAlive(pid);
  });
  bool alive = childAlive(pid);
  if (!up || address.empty() || !alive) {
    if (wantPort != "0" && !alive && mayMove) {
      // The recorded port may be taken by now: one more try on a fresh port.
      std::cerr << "  " << name << " could not use port " << wantPort << "; trying a new port\n";
      args.resize(args.size() - 4);
      return startServer(dir, name, exe, args, "0");
    }
    std::cerr << "basalt: " << name << " did not start (log " << logFile << "):\n"
              << tailFile(logFile, 10);
    stopProcess(pid, exe, milliseconds(1000));
    return "";
  }
  dir.writeRecord({name, pid, address, ""});
  std::cout << "  started " << name << " (pid " << pid << ") on " << address << "\n";
  return address;
}


std::string portOf(const std::string& address) {
  auto colon = address.rfind(':');
  return colon == std::string::npos ? "0" : address.substr(colon + 1);
}

// Starts the metadata server(s): one ("meta", DIR/meta), or with metas=N > 1 a replicated group
// ("meta1".."metaN", DIR/metaI) whose ports are fixed at the first start (each must know the
// others' addresses). Returns the addresses clients are given, comma-separated, or "".
std::string startMetas(const ClusterDir& dir, std::map<std::string, std::string>& config,
                       const std::vector<std::string>& common) {
  int metas = config.count("metas") ? std::stoi(config["metas"]) : 1;
  if (metas <= 1) {
    std::vector<std::string> args = {"--data", dir.metaDataDir()};
    args.insert(args.end(), common.begin(), common.end());
    std::string address = startServer(dir, "meta", "basalt-meta", args,
                                      config.count("meta.port") ? config["meta.port"] : "0");
    if (!address.empty()) config["meta.port"] = portOf(address);
    return address;
  }
  std::string peers;
  for (int i = 1; i <= metas; ++i) {
    std::string key = "meta" + std::to_string(i) + ".port";
    if (!config.count(key)) config[key] = std::to_string(freeLocalPort());
    peers += (i > 1 ? "," : "") + std::string("127.0.0.1:") + config[key];
  }
  dir.writeConfig(config);
  for (int i = 1; i <= metas; ++i) {
    std::string name = "meta" + std::to_string(i);
    std::vector<std::string> args = {"--data", dir.metaDataDir(i), "--peers", peers};
    args.insert(args.end(), common.begin(), common.end());
    // A replica's port is part of every replica's configuration: no fallback to a new port.
    std::string address = startServer(dir, name, "basalt-meta", args, config[name + ".port"], false);
    if (address.empty()) return "";
  }
  // Chunk servers and mounts find the leader themselves, but a mount's first call waits only a
  // few seconds: let the election happen first.
  std::string leader;
  if (!waitUntil(kStartTimeout, [&] { return !(leader = leaderOf(peers, true)).empty(); })) {
    std::cerr << "basalt: the metadata servers elected no leader within " << kStartTimeout.count() << " s\n";
    return "";
  }
  std::cout << "  " << leader << " leads the metadata servers\n";
  return peers;
}

}  // namespace

int runUp(const UpOptions& options) {
  ClusterDir dir(options.dir);
  bool existed = dir.exists();
  if (auto err = dir.create(); !err.empty()) {
    std::cerr << "basalt: " << err << "\n";
    return 1;
  }
  dir = ClusterDir(absolutePath(options.dir));
  auto config = dir.readConfig();
  if (!existed) {
    config["metas"] = std::to_string(options.metas);
    config["chunks"] = std::to_string(options.chunks);
    config["replicas"] = std::to_string(options.replicas);
    if (options.chunkSize) config["chunk-size"] = std::to_string(options.chunkSize);
  }
  if (options.sessionLeaseMs) config["session-lease-ms"] = std::to_string(options.sessionLeaseMs);
  if (options.scrubIntervalSec > 0) config["scrub-interval"] = std::to_string(options.scrubIntervalSec);
  if (!options.zones.empty()) {
    if (splitList(options.zones).empty()) {
      std::cerr << "basalt: --zones needs at least one zone name, e.g. --zones a,b\n";
      return 1;
    }
    if (existed && config.count("zones") && config["zones"] != options.zones) {
      std::cerr << "basalt: note: chunk servers started before keep their zone; new ones get zones from "
                << options.zones << "\n";
    }
    config["zones"] = options.zones;
  }
  if (existed) {
    if (options.chunksGiven && options.chunks > std::stoi(config["chunks"])) {
      config["chunks"] = std::to_string(options.chunks);  // grow the cluster
    }
    if (options.replicasGiven && std::to_string(options.replicas) != config["replicas"]) {
      std::cerr << "basalt: note: the cluster in " << dir.path() << " keeps replicas="
                << config["replicas"] << " (use `basalt setrepl` to change a directory)\n";
    }
  }
  int chunks = std::stoi(config["chunks"]);
  std::string metas = config.count("metas") ? config["metas"] : "1";  // clusters made before --metas: 1
  if (existed && options.metasGiven && std::to_string(options.metas) != metas) {
    std::cerr << "basalt: note: the cluster in " << dir.path() << " keeps its " << metas
              << " metadata server(s)\n";
  }
  if (chunks < 1 || std::stoi(config["replicas"]) < 1) {
    std::cerr << "basalt: --chunks and --replicas must be at least 1\n";
    return 1;
  }
  std::cout << (existed ? "Restarting" : "Starting") << " the Basalt cluster in " << dir.path()
            << "\n";

  std::vector<std::string> metaArgs = {"--replicas", config["replicas"]};
  if (config.count("chunk-size")) {
    metaArgs.push_back("--chunk-size");
    metaArgs.push_back(config["chunk-size"]);
  }
  if (config.count("session-lease-ms")) {
    metaArgs.push_back("--lease-ms");
    metaArgs.push_back(config["session-lease-ms"]);
  }
  std::string metaAddress = startMetas(dir, config, metaArgs);
  if (metaAddress.empty()) return 1;
  dir.writeConfig(config);

  for (int i = 1; i <= chunks; ++i) {
    std::string name = "chunk" + std::to_string(i);
    // A server's zone is fixed at its first start and recorded, so restarts keep it.
    if (!config.count(name + ".zone") && config.count("zones")) {
      auto zones = splitList(config["zones"]);
      if (!zones.empty()) config[name + ".zone"] = zones[(i - 1) % zones.size()];
    }
    std::vector<std::string> args = {"--data", dir.chunkDataDir(i), "--meta", metaAddress};
    if (config.count("scrub-interval")) {
      args.push_back("--scrub-interval");
      args.push_back(config["scrub-interval"]);
    }
    if (config.count(name + ".zone") && !config[name + ".zone"].empty()) {
      args.push_back("--zone");
      args.push_back(config[name + ".zone"]);
    }
    std::string address =
        startServer(dir, name, "basalt-chunk", args, config.count(name + ".port") ? config[name + ".port"] : "0");
    if (address.empty()) return 1;
    config[name + ".port"] = portOf(address);
    dir.writeConfig(config);
  }

  if (!options.mount.empty()) {
    int rc = runMount(dir.path(), options.mount);
    if (rc != 0) return rc;
  }
  std::cout << "The cluster is up: metadata server" << (metaAddress.find(',') != std::string::npos ? "s " : " ")
            << metaAddress << ", " << chunks
            << " chunk servers, " << config["replicas"] << " replicas per chunk.\n";
  if (!options.mount.empty()) {
    std::cout << "Use it at " << absolutePath(options.mount) << "; stop it with: basalt down --dir "
              << dir.path() << "\n";
  }
  return 0;
}

int runMount(const std::string& dirPath, const std::string& mountpointArg) {
  ClusterDir dir(absolutePath(dirPath));
  std::string metaAddress = dir.metaAddresses();
  auto records = dir.readRecords();
  if (metaAddress.empty() || std::none_of(records.begin(), records.end(), [](const ProcessRecord& r) {
        return r.isMeta() && isRunning(r.pid, r.exe());
      })) {
    std::cerr << "basalt: no running metadata server in " << dir.path()
              << " (start the cluster with `basalt up --dir " << dirPath << "`)\n";
    return 1;
  }
  if (mkdir(mountpointArg.c_str(), 0755) != 0 && errno != EEXIST) {
    std::cerr << "basalt: cannot create mountpoint " << mountpointArg << ": " << strerror(errno)
              << "\n";
    return 1;
  }
  std::string mountpoint = absolutePath(mountpointArg);
  std::string name = mountRecordName(mountpoint);
  if (auto r = dir.readRecord(name); r && isRunning(r->pid, "basalt-mount") &&
                                     isFuseMounted(mountpoint)) {
    std::cout << "  " << mountpoint << " already mounted (pid " << r->pid << ")\n";
    return 0;
  }
  if (isFuseMounted(mountpoint)) {
    std::cerr << "basalt: " << mountpoint << " is already a FUSE mount of something else\n";
    return 1;
  }
  std::string error;
  std::string logFile = dir.logFile(name);
  int pid = spawnDaemon(selfDir() + "/basalt-mount", {metaAddress, mountpoint, "-f"}, logFile,
                        error);
  if (pid < 0) {
    std::cerr << "basalt: cannot start basalt-mount: " << error << "\n";
    return 1;
  }
  bool mounted = waitUntil(kStartTimeout, [&] {
    return isFuseMounted(mountpoint) || !childAlive(pid);
  });
  if (!mounted || !childAlive(pid)) {
    std::cerr << "basalt: mounting " << mountpoint << " failed (log " << logFile << "):\n"
              << tailFile(logFile, 10);
    stopProcess(pid, "basalt-mount", milliseconds(1000));
    return 1;
  }
  dir.writeRecord({name, pid, "-", mountpoint});
  std::cout << "  mounted " << mountpoint << " (basalt-mount pid " << pid << ")\n";
  return 0;
}

int runDown(const std::string& dirPath) {
  ClusterDir dir(absolutePath(dirPath));
  auto records = dir.readRecords();
  if (records.empty()) {
    std::cout << "Nothing is running for " << dir.path() << "\n";
    return 0;
  }
  int failures = 0;
  // Mounts first (so no client sees servers vanish), then chunk servers, then the metadata servers.
  std::reverse(records.begin(), records.end());
  for (const auto& r : records) {
    bool isMount = !r.mountpoint.empty();
    std::string exe = r.exe();
    if (isMount && isFuseMounted(r.mountpoint)) {
      int rc = system(("fusermount3 -u '" + r.mountpoint + "' 2>/dev/null").c_str());
      if (rc != 0 || !waitUntil(kStopGrace, [&] { return !isRunning(r.pid, exe); })) {
        system(("fusermount3 -u -z '" + r.mountpoint + "' 2>/dev/null").c_str());
        std::cout << "  " << r.mountpoint << " was busy; detached it lazily\n";
      }
    }
    std::string what = stopProcess(r.pid, exe, kStopGrace);
    if (isMount && what == "was not running") what = "basalt-mount exited";  // the unmount ended it
    if (what.find("killed") != std::string::npos) ++failures;
    std::cout << "  " << (isMount ? "unmounted " + r.mountpoint + ": " : r.name + ": ") << what
              << " (pid " << r.pid << ")\n";
    dir.removeRecord(r.name);
  }
  std::cout << "The cluster in " << dir.path() << " is down; its data stays there ("
            << "`basalt up --dir " << dirPath << "` starts it again).\n";
  return failures == 0 ? 0 : 1;
}

int runAddChunk(const std::string& dirPath, const std::string& zone) {
  ClusterDir dir(absolutePath(dirPath));
  if (!dir.exists()) {
    std::cerr << "basalt: no cluster in " << dirPath << " (create one with `basalt up`)\n";
    return 1;
  }
  auto config = dir.readConfig();
  if (!config.count("chunks")) {
    std::cerr << "basalt: " << dir.path() << "/cluster.conf has no chunk count\n";
    return 1;
  }
  int n = std::stoi(config["chunks"]) + 1;
  config["chunks"] = std::to_string(n);
  if (!zone.empty()) config["chunk" + std::to_string(n) + ".zone"] = zone;
  if (std::string err = dir.writeConfig(config); !err.empty()) {
    std::cerr << "basalt: " << err << "\n";
    return 1;
  }
  std::cout << "Adding chunk server " << n << " to " << dir.path() << "\n";
  UpOptions up;
  up.dir = dir.path();
  up.mount = "";
  return runUp(up);
}

}  // namespace basalt::tools
