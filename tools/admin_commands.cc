#include "tools/admin_commands.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "rpc-schema/chunk.capnp.h"
#include "rpc-schema/meta.capnp.h"
#include "server/event_loop.h"
#include "server/rpc.h"
#include "server/text.h"
#include "tools/cluster_dir.h"
#include "tools/process.h"

namespace basalt::tools {
namespace {

constexpr auto kCallTimeout = 30 * kj::SECONDS;

template <typename T>
kj::Promise<T> deadline(EventLoop& loop, kj::Promise<T> p) {
  return loop.timer().timeoutAfter(kCallTimeout, kj::mv(p));
}

std::string chunkName(uint64_t id, uint64_t version) {
  return "chunk " + std::to_string(id) + " v" + std::to_string(version);
}

}  // namespace

std::string leaderOf(const std::string& addresses, bool quiet) {
  auto list = splitList(addresses);
  if (list.size() <= 1) return addresses;
  EventLoop loop;
  for (const auto& address : list) {
    RpcClient client(loop, address);
    bool answered = false;
    auto ask = client.bootstrap(2000).then([](capnp::Capability::Client cap) {
      return cap.castAs<rpc::MetaService>().clusterInfoRequest().send().ignoreResult();
    });
    loop.timer().timeoutAfter(3 * kj::SECONDS, kj::mv(ask)).then([&]() { answered = true; }, [](kj::Exception&&) {})
        .wait(loop.waitScope());
    if (answered) return address;  // only the leader answers clusterInfo
  }
  if (!quiet) std::cerr << "basalt: none of the metadata servers " << addresses << " is the leader now\n";
  return "";
}

std::string metaAddressOfCluster(const std::string& dirPath) {
  ClusterDir dir(absolutePath(dirPath));
  std::string all = dir.metaAddresses();
  if (all.empty()) {
    std::cerr << "basalt: no metadata server recorded in " << dir.path() << "\n";
    return "";
  }
  return leaderOf(all);
}

std::string metaAddressOfPath(const std::string& path) {
  auto m = mountContaining(absolutePath(path));
  if (!m || m->fstype != "fuse.basalt" || m->source.rfind("basalt:", 0) != 0) {
    std::cerr << "basalt: " << path << " is not inside a Basalt mount\n";
    return "";
  }
  std::string addresses = m->source.substr(7);
  std::replace(addresses.begin(), addresses.end(), ';', ',');  // how a mount writes a list there
  return leaderOf(addresses);
}

int runVerify(const std::string& metaAddress, bool list) {
  EventLoop loop;
  RpcClient metaClient(loop, metaAddress);
  std::map<std::string, kj::Own<RpcClient>> chunkClients;
  auto chunkService = [&](const std::string& address) {
    auto& c = chunkClients[address];
    if (!c) c = kj::heap<RpcClient>(loop, address);
    return c->bootstrap(5000).then([](capnp::Capability::Client cap) { return cap.castAs<rpc::ChunkService>(); });
  };
  uint64_t chunks = 0, replicas = 0, bytes = 0, problems = 0;
  uint64_t after = 0;
  try {
    auto meta = metaClient.bootstrap(5000).wait(loop.waitScope()).castAs<rpc::MetaService>();
    for (bool done = false; !done;) {
      auto req = meta.listChunksRequest();
      req.setAfter(after);
      req.setMax(256);
      auto page = deadline(loop, req.send()).wait(loop.waitScope());
      done = page.getDone();
      for (auto c : page.getChunks()) {
        after = c.getChunk().getId();
        ++chunks;
        std::string name = chunkName(c.getChunk().getId(), c.getChunk().getVersion()) + " (inode " +
                           std::to_string(c.getIno()) + " chunk " + std::to_string(c.getIndex()) + ")";
        if (list) {
          std::cout << "chunk " << c.getChunk().getId() << " v" << c.getChunk().getVersion() << " inode "
                    << c.getIno() << " index " << c.getIndex() << ":";
          auto zones = c.getZones();
          for (unsigned i = 0; i < c.getReplicas().size(); ++i) {
            std::cout << " #" << c.getReplicas()[i].getId() << "@"
                      << (i < zones.size() && zones[i].size() ? zones[i].cStr() : "-");
          }
          std::cout << "\n";
        }
        kj::Maybe<kj::Array<kj::byte>> first;
        std::string firstAddress;
        for (auto r : c.getReplicas()) {
          ++replicas;
          std::string address = r.getAddress();
          // The replica's bytes, or the reason it could not be read (never thrown: one bad replica
          // is a finding, not the end of the check).
          std::string why;
          kj::Maybe<kj::Array<kj::byte>> fetched =
              chunkService(address)
                  .then([&](rpc::ChunkService::Client s) {
                    auto f = s.fetchRequest();
                    f.setChunk(c.getChunk());
                    return deadline(loop, f.send());
                  })
                  .then([&why](auto&& resp) -> kj::Maybe<kj::Array<kj::byte>> {
                    if (resp.getStatus().getCode() != 0) {
                      why = resp.getStatus().getMessage().cStr();
                      return nullptr;
                    }
                    return kj::heapArray<kj::byte>(resp.getData());
                  })
                  .catch_([&why](kj::Exception&& e) -> kj::Maybe<kj::Array<kj::byte>> {
                    why = e.getDescription().cStr();
                    return nullptr;
                  })
                  .wait(loop.waitScope());
          KJ_IF_MAYBE(data, fetched) {
            bytes += data->size();
            KJ_IF_MAYBE(f, first) {
              if (f->size() != data->size() || memcmp(f->begin(), data->begin(), data->size()) != 0) {
                std::cout << name << ": replica on #" << r.getId() << " (" << address << ", " << data->size()
                          << " bytes) differs from the one on " << firstAddress << " (" << f->size()
                          << " bytes)\n";
                ++problems;
              }
            } else {
              first = kj::mv(*data);
              firstAddress = address;
            }
          } else {
            std::cout << name << ": cannot read the replica on #" << r.getId() << " (" << address
                      << "): " << why << "\n";
            ++problems;
          }
        }
      }
    }
  } catch (const kj::Exception& e) {
    std::cerr << "basalt verify: " << e.getDescription().cStr() << "\n";
    return 1;
  }
  std::cout << chunks << " chunks, " << replicas << " replicas, " << (bytes >> 20) << " MiB read: "
            << (problems == 0 ? "all replicas identical" : std::to_string(problems) + " problems") << "\n";
  return problems == 0 ? 0 : 1;
}

int runSetRepl(const std::string& path, int replicas) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    std::cerr << "basalt setrepl: " << path << ": " << strerror(errno) << "\n";
    return 1;
  }
  std::string address = metaAddressOfPath(path);
  if (address.empty()) return 1;
  EventLoop loop;
  RpcClient client(loop, address);
  try {
    auto meta = client.bootstrap(5000).wait(loop.waitScope()).castAs<rpc::MetaService>();
    auto open = meta.openSessionRequest();
    open.setClientName("basalt setrepl");
    auto session = deadline(loop, open.send()).wait(loop.waitScope());
    if (session.getStatus().getCode() != 0) {
      std::cerr << "basalt setrepl: " << session.getStatus().getMessage().cStr() << "\n";
      return 1;
    }
    auto req = session.getSession().mutateRequest();
    auto cmd = req.initCommand();
    auto cred = cmd.initCred();
    cred.setUid(geteuid());
    cred.setGid(getegid());
    cmd.setSeq(1);
    auto sa = cmd.initSetAttr();
    sa.setIno(st.st_ino);
    sa.setValid(rpc::SET_REPLICATION);
    sa.setReplication(static_cast<uint8_t>(replicas));
    auto response = deadline(loop, req.send()).wait(loop.waitScope());  // owns the reply's message
    auto reply = response.getReply();
    if (reply.getStatus().getCode() != 0) {
      std::cerr << "basalt setrepl: " << path << ": " << strerror(reply.getStatus().getCode()) << " ("
                << reply.getStatus().getMessage().cStr() << ")\n";
      return 1;
    }
    std::cout << path << ": " << static_cast<int>(reply.getAttr().getReplication()) << " replicas per chunk"
              << (S_ISDIR(st.st_mode) ? " for new files and directories in it" : " for chunks written from now on")
              << "\n";
  } catch (const kj::Exception& e) {
    std::cerr << "basalt setrepl: " << e.getDescription().cStr() << "\n";
    return 1;
  }
  return 0;
}

namespace {

struct DrainProgress {
  bool found = false;
  uint32_t id = 0;
  bool draining = false;
  uint64_t chunksLeft = 0, held = 0, done = 0;
  uint32_t inFlight = 0;
};

DrainProgress drainProgress(EventLoop& loop, rpc::MetaService::Client& meta, uint32_t id) {
  auto info = deadline(loop, meta.clusterInfoRequest().send()).wait(loop.waitScope()).getInfo();
  DrainProgress p;
  for (auto s : info.getChunkServers()) {
    if (s.getId() != id) continue;
    p.found = true;
    p.id = id;
    p.draining = s.getDraining();
    p.chunksLeft = s.getChunksInMap();
    p.held = s.getChunks();
    p.inFlight = s.getMovesOffInFlight();
    p.done = s.getMovesOffDone();
  }
  return p;
}

}  // namespace

int runDrain(const std::string& metaAddress, const std::string& server, bool undrain, bool wait,
             uint32_t timeoutSec) {
  EventLoop loop;
  RpcClient client(loop, metaAddress);
  try {
    auto meta = client.bootstrap(5000).wait(loop.waitScope()).castAs<rpc::MetaService>();
    auto req = meta.drainRequest();
    req.setServer(server);
    req.setUndrain(undrain);
    auto reply = deadline(loop, req.send()).wait(loop.waitScope());
    if (reply.getStatus().getCode() != 0) {
      std::cerr << "basalt drain: " << server << ": " << strerror(reply.getStatus().getCode()) << " ("
                << reply.getStatus().getMessage().cStr() << ")\n";
      return 1;
    }
    uint32_t id = reply.getId();
    if (undrain) {
      std::cout << "chunk server #" << id << " is no longer draining: it takes new chunks again, and chunks the "
                << "ring places on it move back\n";
      return 0;
    }
    DrainProgress p = drainProgress(loop, meta, id);
    std::cout << "chunk server #" << id << " is draining: " << p.chunksLeft << " chunks left on it, " << p.inFlight
              << " moves in flight, " << p.done << " done\n";
    if (!wait) return 0;
    auto start = std::chrono::steady_clock::now();
    auto last = start;
    for (;;) {
      p = drainProgress(loop, meta, id);
      if (!p.found || !p.draining) {
        std::cerr << "basalt drain: chunk server #" << id << " is no longer draining (undrained meanwhile?)\n";
        return 1;
      }
      if (p.chunksLeft == 0 && p.inFlight == 0 && p.held == 0) {
        std::cout << "chunk server #" << id << " is empty: " << p.done << " chunks moved off it\n";
        return 0;
      }
      auto now = std::chrono::steady_clock::now();
      if (now - start > std::chrono::seconds(timeoutSec)) {
        std::cerr << "basalt drain: chunk server #" << id << " still has " << p.chunksLeft
                  << " chunks in the chunk map (" << p.held << " on its disk, " << p.inFlight
                  << " moves in flight) after " << timeoutSec << " s\n";
        return 1;
      }
      if (now - last > std::chrono::seconds(5)) {
        std::cout << "  " << p.chunksLeft << " chunks left, " << p.inFlight << " in flight, " << p.done << " done\n";
        last = now;
      }
      loop.timer().afterDelay(500 * kj::MILLISECONDS).wait(loop.waitScope());
    }
  } catch (const kj::Exception& e) {
    std::cerr << "basalt drain: " << e.getDescription().cStr() << "\n";
    return 1;
  }
}

}  // namespace basalt::tools
