// basalt-meta's command line: every flag with its default, its range and the checks across flags.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "meta/chunks/chunk_manager.h"
#include "meta/replication/replica.h"

namespace basalt::meta {

struct MetaFlags {
  std::string data, listen, portFile, logLevel = "info";
  uint32_t leaseMs = 10000;
  int replicas = 2;
  uint32_t chunkSize = 64u << 20;
  ChunkOptions chunkOptions;
  bool fsckOnly = false;
  std::string peers;  // empty: a single server
  uint32_t node = 0;
  ReplicaOptions replicaOptions;
};

// Parses argv into `out`. nullopt: go on. Otherwise the exit status to return at once: 0 after
// --help, 1 after printing "basalt-meta: <what is wrong>" to stderr.
std::optional<int> parseFlags(int argc, char** argv, MetaFlags& out);

}  // namespace basalt::meta
