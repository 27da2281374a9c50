// basalt-meta: the metadata server. Parses flags and wires store, server and RPC together.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>

#include "server/limits.h"
#include "meta/capacity.h"
#include "meta/chunks/chunk_manager.h"
#include "meta/daemon.h"
#include "meta/meta_server.h"
#include "meta/replication/replica.h"
#include "meta/service.h"
#include "meta/store.h"
#include "server/rpc.h"
#include "server/small_files.h"

using namespace basalt;

namespace {
int fail(const std::string& message) {
  fprintf(stderr, "basalt-meta: %s\n", message.c_str());
  return 1;
}
}  // namespace

int main(int argc, char** argv) {
  basalt::raiseOpenFileLimit();  // best effort: many sockets and chunk files
  CLI::App app{"basalt-meta: the Basalt metadata server"};
  std::string data, listen, portFile, logLevel = "info";
  uint32_t leaseMs = 10000;
  int replicas = 2;
  uint32_t chunkSize = 64u << 20;
  meta::ChunkOptions chunkOptions;
  bool fsckOnly = false;
  std::string peers;
  uint32_t node = 0;
  meta::ReplicaOptions replicaOptions;
  app.add_option("--data", data, "data directory (created if missing)")->required();
  app.add_option("--listen", listen, "HOST:PORT to serve on (port 0 picks a free one)");
  app.add_option("--port-file", portFile, "once listening, write HOST:PORT here");
  app.add_option("--lease-ms", leaseMs, "session lease in milliseconds")->check(CLI::Range(100u, 3600000u));
  app.add_option("--replicas", replicas, "replicas per chunk of a new cluster (the root directory's setting)")
      ->check(CLI::Range(1, 16));
  app.add_option("--chunk-size", chunkSize, "bytes per chunk of a new cluster's files")
      ->check(CLI::Range(65536u, 1u << 30));
  app.add_option("--heartbeat-ms", chunkOptions.heartbeatMs, "how often chunk servers heartbeat")
      ->check(CLI::Range(50u, 60000u));
  app.add_option("--repair-delay-ms", chunkOptions.repairDelayMs,
                 "a replica on a server silent this long is copied elsewhere")->check(CLI::Range(0u, 86400000u));
  app.add_option("--chunk-lease-ms", chunkOptions.leaseMs, "a chunk primary's lease")->check(CLI::Range(500u, 600000u));
  app.add_option("--suspect-ms", chunkOptions.suspectMs,
                 "a chunk server silent this long is suspect: no new chunks or primaries on it "
                 "(default: 3 heartbeats, at least 1000)")->check(CLI::Range(100u, 3600000u));
  app.add_option("--dead-ms", chunkOptions.deadMs,
                 "a chunk server silent this long is dead: it must register again")->check(CLI::Range(1000u, 86400000u));
  app.add_option("--call-timeout-ms", chunkOptions.callTimeoutMs,
                 "deadline of calls to chunk servers (more than their --forward-timeout-ms)")
      ->check(CLI::Range(100u, 600000u));
  app.add_option("--max-repairs", chunkOptions.maxRepairs, "chunk repairs in flight at once")->check(CLI::Range(1u, 1024u));
  app.add_option("--max-moves", chunkOptions.maxMoves, "rebalancing moves in flight at once (0: no rebalancing)")
      ->check(CLI::Range(0u, 1024u));
  app.add_option("--move-bytes-per-sec", chunkOptions.moveBytesPerSec,
                 "bound on the bytes/s rebalancing copies (0: unbounded)");
  app.add_option("--peers", peers,
                 "HOST:PORT of every metadata server of a replicated cluster, this one included, comma-separated "
                 "(the same list, in the same order, on each)");
  app.add_option("--node", node, "this server's place in --peers, from 1 (default: where --listen is)");
  app.add_option("--election-ms", replicaOptions.electionMs,
                 "a follower waits a random 1-2x this for the leader before standing")->check(CLI::Range(100u, 60000u));
  app.add_option("--log-level", logLevel, "trace, debug, info, warn or error");
  app.add_flag("--fsck", fsckOnly, "check the store in --data offline and exit (1 if inconsistent)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return fail(e.what());
  }
  if (!setLogLevel(logLevel)) return fail("unknown log level '" + logLevel + "'");
  if (fsckOnly) return meta::runFsck(data);
  if (listen.empty()) return fail("--listen HOST:PORT is required");

  std::error_code ec;
  std::filesystem::create_directories(data, ec);
  if (ec) return fail("cannot create data dir " + data + ": " + ec.message());
  if (chunkSize % 65536 != 0) return fail("--chunk-size must be a multiple of 64 KiB (the checksum block)");
  bool replicated = !peers.empty();
  if (replicated) {
    Status st = meta::resolvePeers(peers, node, listen, replicaOptions);
    if (!st.isOk()) return fail(st.message());
    listen = replicaOptions.peers[replicaOptions.self - 1];
    meta::rememberCommandLine(argc, argv);
  }
  auto store = meta::Store::open(data, false,
                                 meta::StoreDefaults{static_cast<uint8_t>(replicas), chunkSize, replicated},
                                 meta::Committer::replayRecord);
  if (!store.isOk()) return fail(store.status().message());

  auto log = makeLogger("meta");
  if ((*store)->replayed() > 0) {
    log->info("crash recovery: applied {} command log records again", (*store)->replayed());
  }
  EventLoop loop;
  if (app.count("--suspect-ms") == 0) chunkOptions.suspectMs = std::max(3 * chunkOptions.heartbeatMs, 1000u);
  if (chunkOptions.deadMs < std::max(chunkOptions.suspectMs, chunkOptions.repairDelayMs)) {
    return fail("--dead-ms must be at least --suspect-ms and --repair-delay-ms (a dead server's replicas are "
                "already being re-replicated)");
  }
  meta::MetaOptions metaOptions{leaseMs};
  kj::Own<meta::Replica> replica;  // outlives the leader: its commits replicate through it
  kj::Own<meta::Leader> leader;
  kj::Own<meta::MetaServiceImpl> service;
  if (replicated) {
    replica = kj::heap<meta::Replica>(loop, **store, meta::Committer::replayRecord, log, replicaOptions,
                                      [](const std::string& why) { meta::restartSelf(why); });
    service = kj::heap<meta::MetaServiceImpl>(*replica, listen);
  } else {
    leader = kj::heap<meta::Leader>(loop, **store, log, metaOptions, chunkOptions);
    service = kj::heap<meta::MetaServiceImpl>(leader->server, listen, &leader->chunks);
  }
  auto& serviceRef = *service;
  auto rpc = kj::heap<RpcServer>(loop, kj::mv(service), log);
  auto signal = loop.onSignal({SIGINT, SIGTERM});

  uint port = 0;
  KJ_IF_MAYBE(e, kj::runCatchingExceptions([&]() { port = rpc->listen(listen).wait(loop.waitScope()); })) {
    return fail("cannot listen on " + listen + ": " + e->getDescription().cStr());
  }
  std::string address = meta::withPort(listen, port);
  serviceRef.setAddress(address);
  if (!portFile.empty()) {
    Status st = writeFileAtomically(portFile, address + "\n");
    if (!st.isOk()) return fail(st.message());
  }
  log->info("basalt-meta serving {} on {}", data, address);
  kj::Promise<void> elected = nullptr;
  if (replicated) {
    Status st = replica->start();
    if (!st.isOk()) return fail(st.message());
    elected = replica->leadership().then([&]() {
      leader = kj::heap<meta::Leader>(loop, **store, log, metaOptions, chunkOptions);
      serviceRef.setLeader(leader->server, leader->chunks);
    }).eagerlyEvaluate([](kj::Exception&& e) { meta::restartSelf(e.getDescription().cStr()); });
  }

  int sig = signal.wait(loop.waitScope());
  log->info("signal {}: stopping", sig);
  rpc->stop();
  if (leader) leader->server.shutdown().wait(loop.waitScope());
  rpc = nullptr;
  log->info("stopped cleanly");
  return 0;
}
