#include "chunk/registrar.h"

#include <kj/debug.h>

#include <cstdio>
#include <fstream>

#include "chunk/chunk_service.h"
#include "server/small_files.h"
#include "server/text.h"

namespace basalt::chunk {

Registrar::Registrar(EventLoop& loop, ChunkServer& server, ChunkStore& store,
                     rpc::ChunkService::Client self, Logger log, RegistrarConfig config)
    : loop_(loop), server_(server), store_(store), self_(kj::mv(self)), log_(std::move(log)),
      config_(std::move(config)) {
  addresses_ = splitList(config_.metaAddress);
  if (addresses_.empty()) addresses_.push_back(config_.metaAddress);
  meta_ = kj::heap<RpcClient>(loop_, addresses_[0]);
}

uint32_t Registrar::loadId(const std::string& dataDir) {
  std::ifstream in(dataDir + "/server-id");
  uint32_t id = 0;
  if (in >> id) return id;
  return 0;
}

Status Registrar::saveId(const std::string& dataDir, uint32_t id) {
  return writeFileAtomically(dataDir + "/server-id", std::to_string(id) + "\n");
}

void Registrar::start() {
  task_ = run().eagerlyEvaluate([this](kj::Exception&& e) {
    log_->error("registration stopped: {}", e.getDescription().cStr());
  });
}

template <typename T>
kj::Promise<T> Registrar::deadline(kj::Promise<T> p, const char* what) {
  uint32_t ms = config_.callTimeoutMs;
  std::string addr = meta_->address();
  return p.exclusiveJoin(loop_.timer().afterDelay(ms * kj::MILLISECONDS).then([ms, addr, what]() -> T {
    kj::throwFatalException(kj::Exception(kj::Exception::Type::DISCONNECTED, __FILE__, __LINE__,
                                          kj::str(what, " to ", addr.c_str(), ": no answer within ", ms, " ms")));
  }));
}

void Registrar::setState(bool up, const std::string& why) {
  if (up && !registered_) {
    log_->info("registered with the metadata server {} as {}", meta_->address(), server_.name());
  } else if (!up && (registered_ || !everTried_)) {
    log_->warn("metadata server {} unreachable ({}); retrying with backoff, still serving chunks",
               meta_->address(), why);
  }
  registered_ = up;
  everTried_ = true;
}

kj::Promise<void> Registrar::run() {
  return registerOnce()
      .then([this]() {
        backoffMs_ = 100;
        triedSinceUp_ = 0;
        return heartbeatLoop();
      })
      .catch_([this](kj::Exception&& e) {
        setState(false, e.getDescription().cStr());
        server_.clearRegistry();
        registry_ = nullptr;
        meta_->reset();
        // Several metadata servers (a replicated cluster): the next one may be the leader; back
        // off only once every one was tried.
        if (addresses_.size() > 1) {
          current_ = (current_ + 1) % addresses_.size();
          meta_ = kj::heap<RpcClient>(loop_, addresses_[current_]);
          if (++triedSinceUp_ < addresses_.size()) return loop_.timer().afterDelay(20 * kj::MILLISECONDS);
          triedSinceUp_ = 0;
        }
        uint32_t wait = backoffMs_;
        backoffMs_ = std::min<uint32_t>(backoffMs_ * 2, addresses_.size() > 1 ? 400 : 5000);
        return loop_.timer().afterDelay(wait * kj::MILLISECONDS);
      })
      .then([this]() { return run(); });
}

kj::Promise<void> Registrar::registerOnce() {
  std::string dir = config_.dataDir;
  auto idP = loop_.offload<uint32_t>([dir]() { return loadId(dir); });
  auto regP = meta_->bootstrap(config_.callTimeoutMs).then([](capnp::Capability::Client c) {
    return c.castAs<rpc::MetaService>().chunkRegistryRequest().send().then(
        [](auto resp) { return resp.getRegistry(); });
  });
  ChunkStore* store = &store_;
  auto chunksP = loop_.offload<std::vector<ChunkMeta>>([store]() { return store->list(); });
  return deadline<rpc::ChunkRegistry::Client>(kj::mv(regP), "chunkRegistry")
      .then([this, idP = kj::mv(idP), chunksP = kj::mv(chunksP)](rpc::ChunkRegistry::Client reg) mutable {
        return idP.then([this, reg, chunksP = kj::mv(chunksP)](uint32_t id) mutable {
          return chunksP.then([this, reg, id](std::vector<ChunkMeta> chunks) mutable {
            auto req = reg.registerRequest();
            req.setId(id);
            req.setAddress(server_.address());
            req.setZone(config_.zone);
            req.setCapacityBytes(config_.capacityBytes);
            uint64_t used = 0;
            for (auto& m : chunks) used += m.length;
            req.setUsedBytes(used);
            usage_ = {used, chunks.size()};
            auto list = req.initChunks(static_cast<unsigned>(chunks.size()));
            for (size_t i = 0; i < chunks.size(); ++i) infoToWire(chunks[i], list[static_cast<unsigned>(i)]);
            req.setService(self_);
            return deadline(req.send().then([](auto resp) {
                              Status st = Status::fromWire(resp.getStatus());
                              if (!st.isOk()) {
                                kj::throwFatalException(KJ_EXCEPTION(FAILED, "register refused", st.toString().c_str()));
                              }
                              return std::make_pair(resp.getId(), resp.getHeartbeatMs());
                            }),
                            "register")
                .then([this, reg](std::pair<uint32_t, uint32_t> r) mutable {
                  uint32_t id = r.first;
                  heartbeatMs_ = r.second ? r.second : 1000;
                  std::string dir = config_.dataDir;
                  return loop_.offload<Status>([dir, id]() { return saveId(dir, id); })
                      .then([this, reg, id](Status st) mutable {
                        if (!st.isOk()) log_->error("server id {} not kept: {}", id, st.toString());
                        server_.setIdentity(id, server_.address());
                        server_.setRegistry(reg, meta_->address());
                        registry_ = reg;
                        setState(true, "");
                      });
                });
          });
        });
      });
}

void Registrar::refreshUsage() {
  if (refreshing_) return;
  refreshing_ = true;
  ChunkStore* store = &store_;
  usageTask_ = loop_.offload<StoreUsage>([store]() { return store->usage(); })
                   .then([this](StoreUsage usage) {
                     usage_ = usage;
                     refreshing_ = false;
                   })
                   .eagerlyEvaluate([this](kj::Exception&& e) {
                     refreshing_ = false;
                     log_->warn("cannot compute the space used: {}", e.getDescription().cStr());
                   });
}

kj::Promise<void> Registrar::heartbeatLoop() {
  return loop_.timer().afterDelay(heartbeatMs_ * kj::MILLISECONDS).then([this]() {
    refreshUsage();
    return kj::evalNow([this]() -> kj::Promise<Status> {
          StoreUsage usage = usage_;
          KJ_IF_MAYBE(reg, registry_) {
            auto req = reg->heartbeatRequest();
            req.setId(server_.id());
            req.setCapacityBytes(config_.capacityBytes);
            req.setUsedBytes(usage.bytes);
            req.setChunkCount(usage.chunks);
            return deadline(req.send().then([](auto resp) { return Status::fromWire(resp.getStatus()); }),
                            "heartbeat");
          }
          return kj::Promise<Status>(Status::error(ENOTCONN, "not registered"));
        })
        .then([this](Status st) {
          if (!st.isOk()) {
            // The metadata server forgot us (e.g. it restarted): register again.
            kj::throwFatalException(KJ_EXCEPTION(DISCONNECTED, "heartbeat refused", st.toString().c_str()));
          }
          ++heartbeats_;
          return heartbeatLoop();
        });
  });
}

}  // namespace basalt::chunk
