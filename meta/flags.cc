#include "meta/flags.h"

#include <CLI/CLI.hpp>
#include <cstdio>

#include "server/log.h"

namespace basalt::meta {
namespace {
int fail(const std::string& message) {
  fprintf(stderr, "basalt-meta: %s\n", message.c_str());
  return 1;
}
}  // namespace

std::optional<int> parseFlags(int argc, char** argv, MetaFlags& f) {
  CLI::App app{"basalt-meta: the Basalt metadata server"};
  ChunkOptions& c = f.chunkOptions;
  app.add_option("--data", f.data, "data directory (created if missing)")->required();
  app.add_option("--listen", f.listen, "HOST:PORT to serve on (port 0 picks a free one)");
  app.add_option("--port-file", f.portFile, "once listening, write HOST:PORT here");
  app.add_option("--lease-ms", f.leaseMs, "session lease in milliseconds")->check(CLI::Range(100u, 3600000u));
  app.add_option("--replicas", f.replicas, "replicas per chunk of a new cluster (the root directory's setting)")
      ->check(CLI::Range(1, 16));
  app.add_option("--chunk-size", f.chunkSize, "bytes per chunk of a new cluster's files")
      ->check(CLI::Range(65536u, 1u << 30));
  app.add_option("--heartbeat-ms", c.heartbeatMs, "how often chunk servers heartbeat")
      ->check(CLI::Range(50u, 60000u));
  app.add_option("--repair-delay-ms", c.repairDelayMs,
                 "a replica on a server silent this long is copied elsewhere")->check(CLI::Range(0u, 86400000u));
  app.add_option("--chunk-lease-ms", c.leaseMs, "a chunk primary's lease")->check(CLI::Range(500u, 600000u));
  app.add_option("--suspect-ms", c.suspectMs,
                 "a chunk server silent this long is suspect: no new chunks or primaries on it "
                 "(default: 3 heartbeats, at least 1000)")->check(CLI::Range(100u, 3600000u));
  app.add_option("--dead-ms", c.deadMs,
                 "a chunk server silent this long is dead: it must register again")->check(CLI::Range(1000u, 86400000u));
  app.add_option("--call-timeout-ms", c.callTimeoutMs,
                 "deadline of calls to chunk servers (more than their --forward-timeout-ms)")
      ->check(CLI::Range(100u, 600000u));
  app.add_option("--max-repairs", c.maxRepairs, "chunk repairs in flight at once")->check(CLI::Range(1u, 1024u));
  app.add_option("--max-moves", c.maxMoves, "rebalancing moves in flight at once (0: no rebalancing)")
      ->check(CLI::Range(0u, 1024u));
  app.add_option("--move-bytes-per-sec", c.moveBytesPerSec, "bound on the bytes/s rebalancing copies (0: unbounded)");
  app.add_option("--peers", f.peers,
                 "HOST:PORT of every metadata server of a replicated cluster, this one included, comma-separated "
                 "(the same list, in the same order, on each)");
  app.add_option("--node", f.node, "this server's place in --peers, from 1 (default: where --listen is)");
  app.add_option("--election-ms", f.replicaOptions.electionMs,
                 "a follower waits a random 1-2x this for the leader before standing")->check(CLI::Range(100u, 60000u));
  app.add_option("--log-level", f.logLevel, "trace, debug, info, warn or error");
  app.add_flag("--fsck", f.fsckOnly, "check the store in --data offline and exit (1 if inconsistent)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return fail(e.what());
  }
  if (!setLogLevel(f.logLevel)) return fail("unknown log level '" + f.logLevel + "'");
  if (f.fsckOnly) return std::nullopt;
  if (f.listen.empty()) return fail("--listen HOST:PORT is required");
  if (f.chunkSize % 65536 != 0) return fail("--chunk-size must be a multiple of 64 KiB (the checksum block)");
  if (app.count("--suspect-ms") == 0) c.suspectMs = std::max(3 * c.heartbeatMs, 1000u);
  if (c.deadMs < std::max(c.suspectMs, c.repairDelayMs)) {
    return fail("--dead-ms must be at least --suspect-ms and --repair-delay-ms (a dead server's replicas are "
                "already being re-replicated)");
  }
  return std::nullopt;
}

}  // namespace basalt::meta
