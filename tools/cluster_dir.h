// The directory of a local cluster (`basalt up --dir DIR`): what it contains and what is running.
//
//   DIR/cluster.conf     the cluster's shape, fixed at first start: chunk count, replicas, ports
//   DIR/run/             what runs now: one file per process, "pid address" (+ mountpoint)
//   DIR/meta/ (or DIR/meta1/.. DIR/metaN/ with --metas N), DIR/chunkN/   the daemons' data dirs
//   DIR/logs/NAME.log    each daemon's stderr
//
// Thread-safety: none needed (the CLI is single-threaded).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "server/small_files.h"

namespace basalt::tools {

// A running (or once-running) process of the cluster, as recorded in DIR/run/NAME.
struct ProcessRecord {
  std::string name;        // "meta" (or "meta1".."metaN" when replicated), "chunk1", "mount-<hash>"
  int pid = 0;
  std::string address;     // HOST:PORT it listens on ("-" for mounts)
  std::string mountpoint;  // mounts only

  bool isMeta() const { return name.rfind("meta", 0) == 0; }
  // The program the process runs ("basalt-meta", "basalt-chunk", "basalt-mount").
  std::string exe() const { return !mountpoint.empty() ? "basalt-mount" : isMeta() ? "basalt-meta" : "basalt-chunk"; }
};

class ClusterDir {
 public:
  explicit ClusterDir(std::string dir);

  const std::string& path() const { return dir_; }
  std::string metaDataDir() const { return dir_ + "/meta"; }
  // Metadata server n of a replicated cluster (cluster.conf metas=N > 1).
  std::string metaDataDir(int n) const { return dir_ + "/meta" + std::to_string(n); }
  std::string chunkDataDir(int n) const { return dir_ + "/chunk" + std::to_string(n); }
  std::string logFile(const std::string& name) const { return dir_ + "/logs/" + name + ".log"; }
  std::string runFile(const std::string& name) const { return dir_ + "/run/" + name; }

  // Creates DIR and its subfolders. Returns an error message, or "" on success.
  std::string create();
  bool exists() const;

  // cluster.conf as key=value pairs; missing file = empty map.
  std::map<std::string, std::string> readConfig() const;
  std::string writeConfig(const std::map<std::string, std::string>& config) const;

  std::vector<ProcessRecord> readRecords() const;
  std::optional<ProcessRecord> readRecord(const std::string& name) const;
  std::string writeRecord(const ProcessRecord& record) const;
  void removeRecord(const std::string& name) const;
  // The metadata servers to give clients: every recorded metadata server's address (running or
  // not: a replicated cluster's clients want them all), comma-separated; "" when none is recorded.
  std::string metaAddresses() const;

 private:
  std::string dir_;
};

}  // namespace basalt::tools
