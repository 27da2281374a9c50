// An in-process cluster for the chunk tests: real ChunkServers over real RpcServer sockets on
// 127.0.0.1, disk stores in temp dirs, a fake ChunkRegistry, and a fake "assign" driver standing in
// for the metadata server. No globals: several clusters may coexist.
#pragma once

#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "chunk/chunk_service.h"
#include "chunk/disk_chunk_store.h"
#include "chunk/mem_chunk_store.h"
#include "rpc-schema/meta.capnp.h"
#include "server/rpc.h"
#include "test_util.h"

namespace basalt::chunk::test {

// The metadata server's side, as far as chunk servers see it.
class FakeRegistry final : public rpc::ChunkRegistry::Server {
 public:
  struct Report {
    uint64_t chunk, version;
    uint32_t serverId;
    std::string reason;
  };
  std::vector<Report> reports;
  std::vector<uint32_t> registeredIds;
  uint32_t nextId = 100;
  uint64_t heartbeats = 0;
  bool refuse = false;  // answer reportFailure with EIO

  kj::Promise<void> register_(RegisterContext context) override {
    auto p = context.getParams();
    uint32_t id = p.getId() ? p.getId() : nextId++;
    registeredIds.push_back(id);
    auto r = context.getResults();
    Status::ok().toWire(r.initStatus());
    r.setId(id);
    r.setHeartbeatMs(20);
    return kj::READY_NOW;
  }
  kj::Promise<void> heartbeat(HeartbeatContext context) override {
    ++heartbeats;
    Status::ok().toWire(context.getResults().initStatus());
    return kj::READY_NOW;
  }
  kj::Promise<void> reportFailure(ReportFailureContext context) override {
    auto p = context.getParams();
    reports.push_back(Report{p.getChunk().getId(), p.getChunk().getVersion(), p.getServerId(), p.getReason()});
    auto r = context.getResults();
    if (refuse) {
      Status::error(EIO, "refused by the test").toWire(r.initStatus());
      return kj::READY_NOW;
    }
    Status::ok().toWire(r.initStatus());
    r.setNewVersion(p.getChunk().getVersion() + 1);
    return kj::READY_NOW;
  }
};

struct Node {
  std::unique_ptr<TempDir> dir;
  std::unique_ptr<ChunkStore> store;
  std::unique_ptr<ChunkServer> server;
  std::unique_ptr<RpcServer> rpc;
  rpc::ChunkService::Client cap = nullptr;
  std::string address;
  uint32_t id = 0;
  Replica replica() const { return Replica{id, address}; }
};

class Cluster {
 public:
  explicit Cluster(uint32_t forwardTimeoutMs = 2000) : timeoutMs_(forwardTimeoutMs) {
    auto reg = kj::heap<FakeRegistry>();
    registry = reg.get();
    registryCap = kj::mv(reg);
  }
  bool compressPeers = true;  // for the nodes added from now on

  ~Cluster() {
    for (auto& n : nodes) n->rpc.reset();
    clients_.clear();
  }

  // Starts a chunk server with a disk store (or the given store) and registers it with the fake.
  Node& addNode(std::unique_ptr<ChunkStore> store = nullptr) {
    auto n = std::make_unique<Node>();
    n->id = static_cast<uint32_t>(nodes.size() + 1);
    if (!store) {
      n->dir = std::make_unique<TempDir>();
      auto s = DiskChunkStore::open(n->dir->path(), makeLogger("store" + std::to_string(n->id)));
      REQUIRE(s.isOk());
      store = std::move(*s);
    }
    n->store = std::move(store);
    ChunkServerConfig cfg;
    cfg.forwardTimeoutMs = timeoutMs_;
    cfg.compressPeers = compressPeers;
    auto log = makeLogger("chunk" + std::to_string(n->id));
    n->server = std::make_unique<ChunkServer>(loop, *n->store, log, cfg);
    n->server->start().wait(loop.waitScope());
    n->cap = kj::heap<ChunkServiceImpl>(*n->server);
    n->rpc = std::make_unique<RpcServer>(loop, n->cap, log);
    uint port = n->rpc->listen("127.0.0.1:0").wait(loop.waitScope());
    n->address = "127.0.0.1:" + std::to_string(port);
    n->server->setIdentity(n->id, n->address);
    n->server->setRegistry(registryCap, "fake-meta");
    nodes.push_back(std::move(n));
    return *nodes.back();
  }

  // A ChunkService as a client reaches it over TCP.
  rpc::ChunkService::Client client(const std::string& address) {
    clients_.push_back(std::make_unique<RpcClient>(loop, address));
    return clients_.back()->bootstrap().wait(loop.waitScope()).castAs<rpc::ChunkService>();
  }

  // The fake metadata server's "assign" driver: the primary first, then the backups.
  Status assign(uint64_t id, uint64_t version, const std::vector<Replica>& set, uint32_t primary,
                uint32_t leaseMs = 60000, bool fresh = false) {
    std::vector<uint32_t> order{primary};
    for (uint32_t i = 0; i < set.size(); ++i) {
      if (i != primary) order.push_back(i);
    }
    for (uint32_t i : order) {
      auto req = client(set[i].address).assignRequest();
      req.initChunk().setId(id);
      req.getChunk().setVersion(version);
      auto list = req.initReplicas(static_cast<unsigned>(set.size()));
      for (unsigned j = 0; j < set.size(); ++j) {
        list[j].setId(set[j].id);
        list[j].setAddress(set[j].address);
      }
      req.setPrimary(primary);
      req.setLeaseMs(leaseMs);
      req.setFresh(fresh);
      Status st = Status::fromWire(req.send().wait(loop.waitScope()).getStatus());
      if (!st.isOk()) return st;
    }
    return Status::ok();
  }

  EventLoop loop;
  FakeRegistry* registry;
  rpc::ChunkRegistry::Client registryCap = nullptr;
  std::vector<std::unique_ptr<Node>> nodes;

 private:
  uint32_t timeoutMs_;
  std::vector<std::unique_ptr<RpcClient>> clients_;
};

inline auto writeRequest(rpc::ChunkService::Client& c, uint64_t id, uint64_t version, uint32_t off,
                         const std::vector<uint8_t>& data) {
  auto req = c.updateRequest();
  req.initChunk().setId(id);
  req.getChunk().setVersion(version);
  auto w = req.initOp().initWrite();
  w.setOffset(off);
  w.setData(kj::arrayPtr(data.data(), data.size()));
  return req.send();
}

inline Status readChunk(Cluster& cl, const std::string& addr, uint64_t id, uint64_t version,
                        uint32_t off, uint32_t len, std::vector<uint8_t>* out) {
  auto c = cl.client(addr);
  auto req = c.readRequest();
  req.initChunk().setId(id);
  req.getChunk().setVersion(version);
  req.setOffset(off);
  req.setLength(len);
  auto resp = req.send().wait(cl.loop.waitScope());
  auto d = resp.getData();
  if (out) out->assign(d.begin(), d.end());
  return Status::fromWire(resp.getStatus());
}

inline std::vector<uint8_t> fetchChunk(Cluster& cl, const std::string& addr, uint64_t id, uint64_t version) {
  auto c = cl.client(addr);
  auto req = c.fetchRequest();
  req.initChunk().setId(id);
  req.getChunk().setVersion(version);
  auto resp = req.send().wait(cl.loop.waitScope());
  Status st = Status::fromWire(resp.getStatus());
  REQUIRE_MESSAGE(st.isOk(), st.toString());
  auto d = resp.getData();
  return std::vector<uint8_t>(d.begin(), d.end());
}

}  // namespace basalt::chunk::test
