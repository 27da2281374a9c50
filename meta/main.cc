// basalt-meta: the metadata server. Parses flags and wires store, server and RPC together.
#include <signal.h>

#include <cstdio>
#include <filesystem>

#include "server/limits.h"
#include "meta/capacity.h"
#include "meta/chunks/chunk_manager.h"
#include "meta/daemon.h"
#include "meta/flags.h"
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
  meta::MetaFlags f;
  if (auto exitCode = meta::parseFlags(argc, argv, f)) return *exitCode;
  if (f.fsckOnly) return meta::runFsck(f.data);
  std::string listen = f.listen;
  meta::ChunkOptions& chunkOptions = f.chunkOptions;
  meta::ReplicaOptions& replicaOptions = f.replicaOptions;

  std::error_code ec;
  std::filesystem::create_directories(f.data, ec);
  if (ec) return fail("cannot create data dir " + f.data + ": " + ec.message());
  bool replicated = !f.peers.empty();
  if (replicated) {
    Status st = meta::resolvePeers(f.peers, f.node, listen, replicaOptions);
    if (!st.isOk()) return fail(st.message());
    listen = replicaOptions.peers[replicaOptions.self - 1];
    meta::rememberCommandLine(argc, argv);
  }
  auto store = meta::Store::open(f.data, false,
                                 meta::StoreDefaults{static_cast<uint8_t>(f.replicas), f.chunkSize, replicated},
                                 meta::Committer::replayRecord);
  if (!store.isOk()) return fail(store.status().message());

  auto log = makeLogger("meta");
  if ((*store)->replayed() > 0) {
    log->info("crash recovery: applied {} command log records again", (*store)->replayed());
  }
  EventLoop loop;
  meta::MetaOptions metaOptions{f.leaseMs};
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
  if (!f.portFile.empty()) {
    Status st = writeFileAtomically(f.portFile, address + "\n");
    if (!st.isOk()) return fail(st.message());
  }
  log->info("basalt-meta serving {} on {}", f.data, address);
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
