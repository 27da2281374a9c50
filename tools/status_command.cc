// `basalt status`: every process of a local cluster with its health, and what the metadata server
// knows (chunk servers, sessions).
#include <iomanip>
#include <iostream>

#include "rpc-schema/meta.capnp.h"
#include "server/event_loop.h"
#include "server/rpc.h"
#include "tools/cluster_commands.h"
#include "tools/admin_commands.h"
#include "tools/cluster_dir.h"
#include "tools/process.h"

namespace basalt::tools {
namespace {

std::string humanBytes(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  snprintf(buf, sizeof(buf), "%.1f %s", v, units[u]);
  return buf;
}

// Asks the metadata server at `address` for its view of the cluster; prints it. False if unreachable.
bool printClusterInfo(const std::string& address) {
  EventLoop loop;
  RpcClient client(loop, address);
  auto request = client.bootstrap(3000).then([](capnp::Capability::Client cap) {
    return cap.castAs<rpc::MetaService>().clusterInfoRequest().send();
  });
  auto promise = loop.timer().timeoutAfter(5 * kj::SECONDS, kj::mv(request));
  bool ok = true;
  promise
      .then(
          [&](capnp::Response<rpc::MetaService::ClusterInfoResults>&& response) {
            auto info = response.getInfo();
            std::cout << "\nMetadata server " << address << ": up " << info.getUptimeMs() / 1000
                      << " s, " << info.getInodes() << " inodes, " << info.getSessions().size()
                      << " client sessions\n";
            std::cout << "Chunks: " << info.getChunks() << ", under-replicated " << info.getUnderReplicated()
                      << ", missing " << info.getMissing() << "; repairs done " << info.getRepairsDone()
                      << ", in flight " << info.getRepairsInFlight() << "\n";
            std::cout << "Locks: " << info.getLockedInodes() << " inodes decided here, " << info.getLockDelegations()
                      << " delegated to mounts; " << info.getLockDelegationsGranted() << " delegations granted, "
                      << info.getLockRecalls() << " recalled since start\n";
            std::cout << "Rebalance: " << info.getRebalanceToMove() << " chunks to move, "
                      << info.getRebalanceInFlight() << " in flight, " << info.getRebalanceDone() << " done\n";
            std::cout << "Commits: " << info.getCommits() << " holding " << info.getCommandsCommitted()
                      << " commands (largest batch " << info.getLargestBatch() << "); reads asked: "
                      << info.getLookupRequests() << " lookups, " << info.getGetAttrRequests() << " getattrs, "
                      << info.getReadDirRequests() << " readdirs, " << info.getLayoutRequests() << " layouts\n";
            if (info.getMetaNodes().size() > 0) {
              std::cout << "Metadata servers (Raft term " << info.getMetaNodes()[0].getTerm() << "):\n";
              for (auto n : info.getMetaNodes()) {
                std::cout << "  #" << n.getNode() << " " << n.getAddress().cStr() << "  " << n.getRole().cStr()
                          << "  log to entry " << n.getLastSeq() << ", "
                          << (n.getNode() == info.getMetaNodes()[0].getNode() ? "applied " : "has on disk ")
                          << n.getAppliedSeq() << "\n";
              }
            }
            auto servers = info.getChunkServers();
            std::cout << "Chunk servers known to it: " << servers.size() << "\n";
            for (auto s : servers) {
              const char* state = s.getState() == rpc::ClusterInfo::ServerState::ALIVE     ? "alive"
                                  : s.getState() == rpc::ClusterInfo::ServerState::SUSPECT ? "SUSPECT"
                                                                                            : "DEAD";
              std::cout << "  #" << s.getId() << " " << s.getAddress().cStr()
                        << (s.getZone().size() ? " zone " + std::string(s.getZone().cStr()) : "") << "  " << state
                        << "  " << s.getChunks() << " chunks, " << humanBytes(s.getUsedBytes()) << " used of "
                        << humanBytes(s.getCapacityBytes()) << ", last heartbeat " << s.getLastHeartbeatMsAgo()
                        << " ms ago\n";
              if (s.getDraining()) {
                std::cout << "      draining: " << s.getChunksInMap() << " chunks left on it, "
                          << s.getMovesOffInFlight() << " moves in flight, " << s.getMovesOffDone() << " done"
                          << (s.getChunksInMap() == 0 && s.getMovesOffInFlight() == 0 ? " (empty)" : "") << "\n";
              }
            }
            for (auto s : info.getSessions()) {
              std::cout << "  session " << std::hex << s.getId() << std::dec << " ("
                        << s.getClientName().cStr() << "): lease " << s.getLeaseRemainingMs()
                        << " ms left, " << s.getOpenHandles() << " open files\n";
            }
          },
          [&](kj::Exception&& e) {
            std::cout << "\nMetadata server " << address << " does not answer: "
                      << e.getDescription().cStr() << "\n";
            ok = false;
          })
      .wait(loop.waitScope());
  return ok;
}

}  // namespace

int runStatus(const std::string& dirPath) {
  ClusterDir dir(absolutePath(dirPath));
  if (!dir.exists()) {
    std::cerr << "basalt: no cluster in " << dirPath << " (create one with `basalt up`)\n";
    return 1;
  }
  auto records = dir.readRecords();
  std::cout << "Cluster " << dir.path() << "\n";
  if (records.empty()) std::cout << "  nothing running\n";
  int unhealthy = 0;
  std::string metaAddress;
  for (const auto& r : records) {
    bool isMount = !r.mountpoint.empty();
    std::string exe = r.exe();
    bool running = isRunning(r.pid, exe);
    bool healthy = running && (!isMount || isFuseMounted(r.mountpoint));
    if (!healthy) ++unhealthy;
    if (r.isMeta() && running) metaAddress += (metaAddress.empty() ? "" : ",") + r.address;
    std::cout << "  " << std::left << std::setw(8) << (isMount ? "mount" : r.name) << " pid "
              << std::setw(8) << r.pid << (isMount ? r.mountpoint : r.address) << "  "
              << (healthy ? "ok" : running ? "NOT MOUNTED" : "NOT RUNNING") << "\n";
  }
  if (!metaAddress.empty()) metaAddress = leaderOf(metaAddress);
  if (!metaAddress.empty() && !printClusterInfo(metaAddress)) ++unhealthy;
  return unhealthy == 0 ? 0 : 1;
}

}  // namespace basalt::tools
