// basalt-chunk: serves the chunks in --data on --listen and registers with --meta.
#include <sys/statvfs.h>
#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "server/limits.h"
#include "chunk/chunk_service.h"
#include "chunk/disk_chunk_store.h"
#include "chunk/registrar.h"
#include "chunk/scrubber.h"
#include "server/rpc.h"
#include "server/small_files.h"

using namespace basalt;
using namespace basalt::chunk;

namespace {

int fail(const std::string& msg) {
  std::cerr << "basalt-chunk: " << msg << std::endl;
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  basalt::raiseOpenFileLimit();  // best effort: many sockets and chunk files
  CLI::App app{"basalt-chunk: a Basalt chunk server"};
  std::string dataDir, listen, meta, zone, portFile, level = "info";
  uint64_t capacity = 0;
  ChunkServerConfig cfg;
  app.add_option("--data", dataDir, "data directory (created if missing)")->required();
  app.add_option("--listen", listen, "HOST:PORT to serve on (port 0: any)")->required();
  app.add_option("--meta", meta, "HOST:PORT of the metadata server (several comma-separated: a replicated cluster)")->required();
  app.add_option("--zone", zone, "failure zone name");
  app.add_option("--capacity", capacity, "bytes offered (default: the data dir's filesystem size)");
  app.add_option("--port-file", portFile, "write HOST:PORT here once listening");
  app.add_option("--forward-timeout-ms", cfg.forwardTimeoutMs, "deadline of calls to peers");
  app.add_option("--compress-peers", cfg.compressPeers,
                 "zstd on data sent to other chunk servers where it pays (true/false; default true)");
  ScrubberConfig scrub;
  app.add_option("--scrub-rate", scrub.bytesPerSecond, "bytes/s the scrubber re-reads (0: off)");
  double scrubIntervalSec = static_cast<double>(scrub.intervalMs) / 1000;
  app.add_option("--scrub-interval", scrubIntervalSec, "seconds from one scrub pass's start to the next's (default: a week)")
      ->check(CLI::PositiveNumber);
  app.add_option("--log-level", level, "trace, debug, info, warn, error");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return fail(e.what());
  }
  if (!setLogLevel(level)) return fail("unknown log level '" + level + "'");
  if (::mkdir(dataDir.c_str(), 0755) != 0 && errno != EEXIST) {
    return fail("cannot create " + dataDir + ": " + strerror(errno));
  }
  if (capacity == 0) {
    struct statvfs vfs;
    if (statvfs(dataDir.c_str(), &vfs) != 0) return fail("statvfs " + dataDir + ": " + strerror(errno));
    capacity = uint64_t{vfs.f_blocks} * vfs.f_frsize;
  }

  auto log = makeLogger("chunk");
  EventLoop loop;
  auto store = DiskChunkStore::open(dataDir, log);
  if (!store.isOk()) return fail("cannot open the chunk store: " + store.status().toString());
  ChunkServer server(loop, **store, log, cfg);
  server.start().wait(loop.waitScope());
  rpc::ChunkService::Client cap = kj::heap<ChunkServiceImpl>(server);

  auto rpcServer = std::make_unique<RpcServer>(loop, cap, log);
  auto bound = rpcServer->listen(listen).then([](uint port) { return static_cast<int>(port); },
                                              [](kj::Exception&&) { return -1; });
  int port = bound.wait(loop.waitScope());
  if (port < 0) return fail("cannot listen on " + listen);
  std::string host = listen.substr(0, listen.rfind(':'));
  std::string address = host + ":" + std::to_string(port);
  server.setIdentity(Registrar::loadId(dataDir), address);
  (*store)->setServerName(server.name());
  if (!portFile.empty()) {
    Status st = writeFileAtomically(portFile, address + "\n");
    if (!st.isOk()) return fail(st.message());
  }
  log->info("serving {} on {}", dataDir, address);

  RegistrarConfig rc{meta, dataDir, zone, capacity, cfg.forwardTimeoutMs};
  Registrar registrar(loop, server, **store, cap, log, rc);
  registrar.start();
  scrub.intervalMs = static_cast<uint64_t>(scrubIntervalSec * 1000);
  scrub.stateFile = dataDir + "/scrub-state";
  Scrubber scrubber(loop, server, log, scrub);
  scrubber.start();

  int sig = loop.onSignal({SIGINT, SIGTERM}).wait(loop.waitScope());
  log->info("signal {}: finishing in-flight requests", sig);
  loop.timer()
      .timeoutAfter(10 * kj::SECONDS, server.drain())
      .then([]() {}, [&log](kj::Exception&&) { log->warn("in-flight requests did not finish in 10 s"); })
      .wait(loop.waitScope());
  rpcServer->stop();
  rpcServer.reset();
  const PeerTraffic& t = server.peerTraffic();
  log->info("stopped; sent {} bytes of data to peers as {} bytes", t.rawBytes, t.wireBytes);
  return 0;
}
