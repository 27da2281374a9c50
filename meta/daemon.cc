#include "meta/daemon.h"

#include <cstdio>
#include <cstring>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "meta/committer.h"
#include "meta/fsck.h"
#include "meta/store.h"
#include "server/text.h"

namespace basalt::meta {

namespace {
std::vector<std::string> commandLine;
}  // namespace

Leader::Leader(EventLoop& loop, Store& store, Logger log, MetaOptions options, ChunkOptions chunkOptions)
    : server(loop, store, clock, capacity, log, options), chunks(loop, server, makeLogger("meta.chunks"), chunkOptions) {
  capacity.setSource(chunks);
  server.start();
  chunks.start();
}

Status resolvePeers(const std::string& peers, uint32_t node, const std::string& listen, ReplicaOptions& options) {
  options.peers = splitList(peers);
  for (uint32_t i = 0; i < options.peers.size() && node == 0; ++i) {
    if (options.peers[i] == listen) node = i + 1;
  }
  if (node == 0 || node > options.peers.size()) {
    return Status::error(EINVAL, "--listen " + listen + " is not in --peers " + peers + " (or --node is out of range)");
  }
  options.self = node;
  options.heartbeatMs = std::max(20u, options.electionMs / 10);
  return Status::ok();
}

void rememberCommandLine(int argc, char** argv) { commandLine.assign(argv, argv + argc); }

void restartSelf(const std::string& why) {
  fprintf(stderr, "basalt-meta: restarting (%s)\n", why.c_str());
  fflush(stdout);
  fflush(stderr);
  std::vector<char*> args;
  for (auto& a : commandLine) args.push_back(a.data());
  args.push_back(nullptr);
  execv("/proc/self/exe", args.data());
  fprintf(stderr, "basalt-meta: cannot restart: %s\n", strerror(errno));
  _exit(1);
}

std::string withPort(const std::string& listen, unsigned port) {
  auto colon = listen.rfind(':');
  return (colon == std::string::npos ? listen : listen.substr(0, colon)) + ":" + std::to_string(port);
}

int runFsck(const std::string& dir) {
  if (access((dir + "/data.mdb").c_str(), F_OK) != 0) {
    fprintf(stderr, "basalt-meta: no metadata store in %s\n", dir.c_str());
    return 1;
  }
  // Writable: a store left by a crash is only consistent once its command log is replayed.
  auto store = Store::open(dir, false, StoreDefaults{}, Committer::replayRecord);
  if (!store.isOk()) {
    fprintf(stderr, "basalt-meta: %s\n", store.status().message().c_str());
    return 1;
  }
  FsckReport report = fsck(**store);
  for (auto& p : report.problems) printf("%s\n", p.c_str());
  printf("%s: %llu inodes, %llu entries, %llu orphans, %zu problems\n", report.clean() ? "clean" : "INCONSISTENT",
         static_cast<unsigned long long>(report.inodes), static_cast<unsigned long long>(report.dirents),
         static_cast<unsigned long long>(report.orphans), report.problems.size());
  return report.clean() ? 0 : 1;
}

}  // namespace basalt::meta
