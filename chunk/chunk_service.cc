#include "chunk/chunk_service.h"

namespace basalt::chunk {

void infoToWire(const ChunkMeta& m, rpc::ChunkInfo::Builder out) {
  out.initChunk().setId(m.id);
  out.getChunk().setVersion(m.version);
  out.setLength(m.length);
  switch (m.state) {
    case ChunkState::kOk: out.setState(rpc::ReplicaState::OK); break;
    case ChunkState::kSyncing: out.setState(rpc::ReplicaState::SYNCING); break;
    case ChunkState::kDamaged: out.setState(rpc::ReplicaState::DAMAGED); break;
  }
}

kj::Promise<void> ChunkServiceImpl::update(UpdateContext context) {
  auto p = context.getParams();
  auto op = Op::fromWire(p.getOp());
  if (!op.isOk()) {
    op.status().toWire(context.getResults().initStatus());
    return kj::READY_NOW;
  }
  return server_.update(p.getChunk().getId(), p.getChunk().getVersion(), kj::mv(*op))
      .then([context](UpdateResult r) mutable {
        auto res = context.getResults();
        r.status.toWire(res.initStatus());
        res.setVersion(r.version);
      });
}

kj::Promise<void> ChunkServiceImpl::read(ReadContext context) {
  auto p = context.getParams();
  return server_.read(p.getChunk().getId(), p.getChunk().getVersion(), p.getOffset(), p.getLength())
      .then([context](ReadResult r) mutable {
        size_t n = r.data ? r.data->size() : 0;
        context.initResults(capnp::MessageSize{n / 8 + 32, 0});
        auto res = context.getResults();
        r.status.toWire(res.initStatus());
        if (r.data) res.setData(kj::arrayPtr(r.data->data(), r.data->size()));
      });
}

kj::Promise<void> ChunkServiceImpl::sync(SyncContext context) {
  auto c = context.getParams().getChunk();
  return server_.sync(c.getId(), c.getVersion()).then([context](Status st) mutable {
    st.toWire(context.getResults().initStatus());
  });
}

kj::Promise<void> ChunkServiceImpl::forward(ForwardContext context) {
  auto p = context.getParams();
  auto op = Op::fromWire(p.getOp());
  if (!op.isOk()) {
    op.status().toWire(context.getResults().initStatus());
    return kj::READY_NOW;
  }
  return server_.forward(p.getChunk().getId(), p.getChunk().getVersion(), p.getSeq(), kj::mv(*op))
      .then([context](Status st) mutable { st.toWire(context.getResults().initStatus()); });
}

kj::Promise<void> ChunkServiceImpl::assign(AssignContext context) {
  auto p = context.getParams();
  std::vector<Replica> replicas;
  for (auto r : p.getReplicas()) replicas.push_back(Replica{r.getId(), r.getAddress()});
  return server_
      .assign(p.getChunk().getId(), p.getChunk().getVersion(), std::move(replicas), p.getPrimary(),
              p.getLeaseMs(), p.getFresh())
      .then([context](InfoResult r) mutable {
        auto res = context.getResults();
        r.status.toWire(res.initStatus());
        if (r.status.isOk()) infoToWire(r.info, res.initInfo());
      });
}

kj::Promise<void> ChunkServiceImpl::delete_(DeleteContext context) {
  auto p = context.getParams();
  return server_.remove(p.getChunkId(), p.getBelowVersion()).then([context](Status st) mutable {
    st.toWire(context.getResults().initStatus());
  });
}

kj::Promise<void> ChunkServiceImpl::fetch(FetchContext context) {
  auto c = context.getParams().getChunk();
  return server_.fetch(c.getId(), c.getVersion()).then([context](InfoResult r) mutable {
    size_t n = r.data ? r.data->size() : 0;
    context.initResults(capnp::MessageSize{n / 8 + 64, 0});
    auto res = context.getResults();
    r.status.toWire(res.initStatus());
    if (r.status.isOk()) {
      infoToWire(r.info, res.initInfo());
      res.setData(kj::arrayPtr(r.data->data(), r.data->size()));
    }
  });
}

kj::Promise<void> ChunkServiceImpl::list(ListContext context) {
  return server_.list().then([context](std::vector<ChunkMeta> metas) mutable {
    auto res = context.getResults();
    Status::ok().toWire(res.initStatus());
    auto out = res.initChunks(static_cast<unsigned>(metas.size()));
    for (size_t i = 0; i < metas.size(); ++i) infoToWire(metas[i], out[static_cast<unsigned>(i)]);
  });
}

kj::Promise<void> ChunkServiceImpl::install(InstallContext context) {
  auto p = context.getParams();
  auto d = p.getData();
  if (p.getRawLength() > kMaxChunkLength) {
    Status::error(EFBIG, "install beyond the largest chunk").toWire(context.getResults().initStatus());
    return kj::READY_NOW;
  }
  Payload data{std::make_shared<const std::vector<uint8_t>>(d.begin(), d.end()), p.getRawLength()};
  return server_.install(p.getChunk().getId(), p.getChunk().getVersion(), std::move(data))
      .then([context](Status st) mutable { st.toWire(context.getResults().initStatus()); });
}

}  // namespace basalt::chunk
