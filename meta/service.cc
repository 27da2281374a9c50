#include "meta/service.h"

#include <kj/debug.h>

#include "meta/chunks/registry_service.h"
#include "meta/commands/command.h"
#include "meta/keys.h"
#include "meta/reads.h"
#include "meta/replication/peer_service.h"

namespace basalt::meta {

// ---- MetaService ---------------------------------------------------------------------------

MetaServer& MetaServiceImpl::server() {
  if (server_ == nullptr) {
    kj::throwFatalException(KJ_EXCEPTION(DISCONNECTED, "this metadata server is not the leader", address_));
  }
  return *server_;
}

kj::Promise<void> MetaServiceImpl::peer(PeerContext context) {
  KJ_REQUIRE(replica_ != nullptr, "this metadata server is not replicated (no --peers)");
  context.getResults().setPeer(kj::heap<PeerServiceImpl>(*replica_));
  return kj::READY_NOW;
}

kj::Promise<void> MetaServiceImpl::openSession(OpenSessionContext context) {
  auto params = context.getParams();
  return server().openSession(params.getClientName(), params.getResume())
      .then([this, context](Result<SessionGrant> grant) mutable {
        auto results = context.getResults();
        grant.status().toWire(results.initStatus());
        if (!grant.isOk()) return;
        results.setId(grant->id);
        results.setLeaseMs(grant->leaseMs);
        results.setSession(kj::heap<SessionImpl>(server(), grant->id, chunks_));
      });
}

kj::Promise<void> MetaServiceImpl::clusterInfo(ClusterInfoContext context) {
  auto info = context.getResults().initInfo();
  info.setMetaAddress(address_);
  info.setInodes(inodeCount(server().store()));
  info.setUptimeMs(server().uptimeMs());
  info.setLockedInodes(server().locks().table().inodesWithLocks().size());
  info.setLockDelegations(server().locks().delegationCount());
  info.setLockDelegationsGranted(server().locks().delegationsGranted());
  info.setLockRecalls(server().locks().recallsDone());
  info.setCommits(server().committer().commits());
  info.setCommandsCommitted(server().committer().commandsCommitted());
  info.setLargestBatch(static_cast<uint32_t>(server().committer().largestBatch()));
  const MetaServer::ReadCounts& reads = server().readCounts();
  info.setLookupRequests(reads.lookup);
  info.setGetAttrRequests(reads.getAttr);
  info.setReadDirRequests(reads.readDir);
  info.setLayoutRequests(reads.getLayout);
  if (replica_ != nullptr) {
    auto nodes = replica_->nodes();
    auto out = info.initMetaNodes(nodes.size());
    for (size_t i = 0; i < nodes.size(); ++i) {
      out[i].setNode(nodes[i].node);
      out[i].setAddress(nodes[i].address);
      out[i].setRole(nodes[i].role);
      out[i].setTerm(nodes[i].term);
      out[i].setLastSeq(nodes[i].lastSeq);
      out[i].setAppliedSeq(nodes[i].appliedSeq);
    }
  }
  auto sessions = server().sessions();
  auto list = info.initSessions(sessions.size());
  for (size_t i = 0; i < sessions.size(); ++i) {
    list[i].setId(sessions[i].id);
    list[i].setClientName(sessions[i].clientName);
    list[i].setLeaseRemainingMs(sessions[i].leaseRemainingMs);
    list[i].setOpenHandles(sessions[i].openHandles);
  }
  if (chunks_) {
    const RepairStats& rs = chunks_->repairStats();
    info.setChunks(rs.chunks);
    info.setUnderReplicated(rs.underReplicated);
    info.setMissing(rs.missing);
    info.setRepairsDone(rs.repairsDone);
    info.setRepairsInFlight(rs.inFlight);
    const RebalanceStats& rb = chunks_->rebalanceStats();
    info.setRebalanceToMove(rb.toMove);
    info.setRebalanceInFlight(rb.inFlight);
    info.setRebalanceDone(rb.done);
  }
  auto servers = chunks_ ? chunks_->servers() : std::vector<ServerView>{};
  auto out = info.initChunkServers(servers.size());
  for (size_t i = 0; i < servers.size(); ++i) {
    out[i].setId(servers[i].id);
    out[i].setAddress(servers[i].address);
    out[i].setZone(servers[i].zone);
    out[i].setAlive(servers[i].alive);
    out[i].setCapacityBytes(servers[i].capacity);
    out[i].setUsedBytes(servers[i].used);
    out[i].setChunks(servers[i].chunks);
    out[i].setLastHeartbeatMsAgo(servers[i].lastHeartbeatMsAgo);
    out[i].setState(servers[i].state == ServerState::kAlive     ? rpc::ClusterInfo::ServerState::ALIVE
                    : servers[i].state == ServerState::kSuspect ? rpc::ClusterInfo::ServerState::SUSPECT
                                                                : rpc::ClusterInfo::ServerState::DEAD);
    out[i].setDraining(servers[i].draining);
    out[i].setChunksInMap(servers[i].chunksInMap);
    out[i].setMovesOffInFlight(servers[i].movesOffInFlight);
    out[i].setMovesOffDone(servers[i].movesOffDone);
  }
  return kj::READY_NOW;
}

kj::Promise<void> MetaServiceImpl::chunkRegistry(ChunkRegistryContext context) {
  server();  // a follower sends chunk servers on to the leader
  KJ_REQUIRE(chunks_ != nullptr, "this metadata server has no data path");
  context.getResults().setRegistry(kj::heap<ChunkRegistryImpl>(*chunks_));
  return kj::READY_NOW;
}

kj::Promise<void> MetaServiceImpl::drain(DrainContext context) {
  server();
  if (chunks_ == nullptr) {
    Status::error(ENOTSUP, "this metadata server has no data path").toWire(context.getResults().initStatus());
    return kj::READY_NOW;
  }
  auto p = context.getParams();
  return chunks_->setDraining(p.getServer().cStr(), !p.getUndrain()).then([context](Result<uint32_t> id) mutable {
    auto r = context.getResults();
    id.status().toWire(r.initStatus());
    if (id.isOk()) r.setId(*id);
  });
}

kj::Promise<void> MetaServiceImpl::listChunks(ListChunksContext context) {
  auto p = context.getParams();
  uint32_t max = std::min<uint32_t>(std::max<uint32_t>(p.getMax(), 1), 4096);
  std::vector<std::pair<uint64_t, std::string>> owners;  // chunk id -> BE64(ino) ‖ BE32(index)
  bool more = false;
  {
    Txn txn = server().store().beginRead();
    txn.scan(Table::kChunkOwners, "", be64(p.getAfter() + 1), [&](std::string_view k, std::string_view v) {
      if (owners.size() == max) {
        more = true;
        return false;
      }
      owners.emplace_back(readBe64(k), std::string(v));
      return true;
    });
  }
  auto r = context.getResults();
  r.initStatus();
  auto list = r.initChunks(owners.size());
  Txn txn = server().store().beginRead();
  for (size_t i = 0; i < owners.size(); ++i) {
    uint64_t ino = readBe64(owners[i].second);
    uint32_t index = readBe32(owners[i].second, 8);
    list[i].setIno(ino);
    list[i].setIndex(index);
    auto v = txn.get(Table::kChunks, chunkKey(ino, index));
    if (!v) continue;
    ChunkEntry e = decodeChunk(*v);
    list[i].initChunk().setId(e.id);
    list[i].getChunk().setVersion(e.version);
    auto reps = list[i].initReplicas(e.replicas.size());
    auto zones = list[i].initZones(e.replicas.size());
    for (size_t j = 0; j < e.replicas.size(); ++j) {
      reps[j].setId(e.replicas[j]);
      reps[j].setAddress(chunks_ ? chunks_->addressOf(e.replicas[j]) : "");
      zones.set(j, chunks_ ? chunks_->zoneOf(e.replicas[j]) : "");
    }
  }
  r.setDone(!more);
  return kj::READY_NOW;
}

// ---- Session -------------------------------------------------------------------------------

// Every Session call first checks (and extends) the session; a closed one answers ESTALE.
#define SESSION_CHECK(results)                      \
  do {                                              \
    Status st_ = server_.touch(id_);                \
    if (!st_.isOk()) {                              \
      st_.toWire((results).initStatus());           \
      return kj::READY_NOW;                         \
    }                                               \
  } while (0)

kj::Promise<void> SessionImpl::mutate(MutateContext context) {
  auto command = context.getParams().getCommand();
  ChunkManager* chunks = MetaServer::createsRegularFile(command) ? chunks_ : nullptr;
  return server_.mutate(id_, command).then([context, chunks](Applied a) mutable {
    auto reply = a.reply();
    context.getResults().setReply(reply);
    if (!chunks || reply.getStatus().getCode() != 0 || reply.getExisted()) return;
    KJ_IF_MAYBE(l, chunks->heldLayout(reply.getAttr().getIno(), 0)) {
      layoutToWire(*l, context.getResults().initLayout());
    }
  });
}

kj::Promise<void> SessionImpl::lookup(LookupContext context) {
  ++server_.readCounts().lookup;
  auto p = context.getParams();
  auto r = context.getResults();
  SESSION_CHECK(r);
  auto n = meta::lookup(server_.store(), Cred::fromWire(p.getCred()), p.getParent(), p.getName());
  n.status().toWire(r.initStatus());
  if (n.isOk()) fillAttr(*n, r.initAttr());
  return kj::READY_NOW;
}

kj::Promise<void> SessionImpl::getAttr(GetAttrContext context) {
  ++server_.readCounts().getAttr;
  auto r = context.getResults();
  SESSION_CHECK(r);
  auto n = meta::getAttr(server_.store(), context.getParams().getIno());
  n.status().toWire(r.initStatus());
  if (n.isOk()) fillAttr(*n, r.initAttr());
  return kj::READY_NOW;
}

kj::Promise<void> SessionImpl::readDir(ReadDirContext context) {
  ++server_.readCounts().readDir;
  auto p = context.getParams();
  auto r = context.getResults();
  SESSION_CHECK(r);
  auto page = meta::readDir(server_.store(), Cred::fromWire(p.getCred()), p.getIno(), p.getCookie(),
                            p.getMaxEntries(), p.getPlus());
  page.status().toWire(r.initStatus());
  if (!page.isOk()) return kj::READY_NOW;
  auto list = r.initEntries(page->entries.size());
  for (size_t i = 0; i < page->entries.size(); ++i) {
    auto& e = page->entries[i];
    list[i].setName(e.name);
    list[i].setIno(e.ino);
    list[i].setMode(e.mode);
    list[i].setCookie(e.cookie);
    if (p.getPlus()) fillAttr(e.attr, list[i].initAttr());
  }
  r.setEof(page->eof);
  return kj::READY_NOW;
}

kj::Promise<void> SessionImpl::readLink(ReadLinkContext context) {
  auto r = context.getResults();
  SESSION_CHECK(r);
  auto target = meta::readLink(server_.store(), context.getParams().getIno());
  target.status().toWire(r.initStatus());
  if (target.isOk()) r.setTarget(*target);
  return kj::READY_NOW;
}

kj::Promise<void> SessionImpl::getXattr(GetXattrContext context) {
  auto p = context.getParams();
  auto r = context.getResults();
  SESSION_CHECK(r);
  auto v = meta::getXattr(server_.store(), Cred::fromWire(p.getCred()), p.getIno(), p.getName());
  v.status().toWire(r.initStatus());
  if (v.isOk()) r.setValue(kj::arrayPtr(reinterpret_cast<const kj::byte*>(v->data()), v->size()));
  return kj::READY_NOW;
}

kj::Promise<void> SessionImpl::listXattr(ListXattrContext context) {
  auto p = context.getParams();
  auto r = context.getResults();
  SESSION_CHECK(r);
  auto names = meta::listXattr(server_.store(), Cred::fromWire(p.getCred()), p.getIno());
  names.status().toWire(r.initStatus());
  if (!names.isOk()) return kj::READY_NOW;
  auto list = r.initNames(names->size());
  for (size_t i = 0; i < names->size(); ++i) list.set(i, (*names)[i]);
  return kj::READY_NOW;
}

kj::Promise<void> SessionImpl::statFs(StatFsContext context) {
  auto r = context.getResults();
  SESSION_CHECK(r);
  auto cap = server_.capacity();
  cap.status().toWire(r.initStatus());
  if (!cap.isOk()) return kj::READY_NOW;
  auto st = r.initStat();
  st.setBlockSize(cap->blockSize);
  st.setBlocks(cap->blocks);
  st.setBlocksFree(cap->blocksFree);
  st.setBlocksAvail(cap->blocksAvail);
  uint64_t used = inodeCount(server_.store());
  constexpr uint64_t kFilesFree = 1ull << 32;  // inode numbers are 64-bit: report a large, fixed headroom
  st.setFiles(used + kFilesFree);
  st.setFilesFree(kFilesFree);
  st.setNameMax(kMaxName);
  return kj::READY_NOW;
}

kj::Promise<void> SessionImpl::access(AccessContext context) {
  auto p = context.getParams();
  auto r = context.getResults();
  SESSION_CHECK(r);
  meta::access(server_.store(), Cred::fromWire(p.getCred()), p.getIno(), p.getMask()).toWire(r.initStatus());
  return kj::READY_NOW;
}

kj::Promise<void> SessionImpl::open(OpenContext context) {
  auto p = context.getParams();
  return server_.open(id_, Cred::fromWire(p.getCred()), p.getIno(), p.getFlags(), p.getSeq())
      .then([context](Result<Opened> o) mutable {
        auto r = context.getResults();
        o.status().toWire(r.initStatus());
        if (!o.isOk()) return;
        fillAttr(o->attr, r.initAttr());
        r.setHandle(o->handle);
      });
}

kj::Promise<void> SessionImpl::release(ReleaseContext context) {
  server_.release(id_, context.getParams().getHandle()).toWire(context.getResults().initStatus());
  return kj::READY_NOW;
}

kj::Promise<void> SessionImpl::renew(RenewContext context) {
  std::vector<uint64_t> inodes;
  for (uint64_t ino : context.getParams().getOpenInodes()) inodes.push_back(ino);
  auto r = context.getResults();
  auto lease = server_.renew(id_, inodes);
  lease.status().toWire(r.initStatus());
  if (lease.isOk()) r.setLeaseMs(*lease);
  return kj::READY_NOW;
}

kj::Promise<void> SessionImpl::getLayout(GetLayoutContext context) {
  ++server_.readCounts().getLayout;
  auto r = context.getResults();
  SESSION_CHECK(r);
  if (!chunks_) {
    Status::error(ENOTSUP, "this metadata server has no data path").toWire(r.initStatus());
    return kj::READY_NOW;
  }
  auto p = context.getParams();
  return chunks_->getLayout(p.getIno(), p.getIndex(), p.getForWrite(), p.getUnresponsive()).then([context](Result<Layout> l) mutable {
    auto r = context.getResults();
    l.status().toWire(r.initStatus());
    if (l.isOk()) layoutToWire(*l, r.initLayout());
  });
}

// ---- Locks (meta/locks/lock_manager.h) ----------------------------------------------------

namespace {
// The wire's kind and type bytes (rpc::LOCK_KIND_*, rpc::LOCK_TYPE_*) are the domain enums' values.
bool lockOwnerFromWire(uint64_t id, uint8_t kind, LockOwner* out) {
  if (kind > static_cast<uint8_t>(OwnerKind::kFlock)) return false;
  out->id = id;
  out->kind = static_cast<OwnerKind>(kind);
  return true;
}
bool lockTypeFromWire(uint8_t type, LockType* out) {
  if (type > static_cast<uint8_t>(LockType::kWrite)) return false;
  *out = static_cast<LockType>(type);
  return true;
}
Status badLockArgs() { return Status::error(EINVAL, "lock call with an unknown owner kind, lock type or range"); }
// Status and delegation, the answer of every lock call that can be delegated.
template <typename Results>
void lockAnswerToWire(const LockAnswer& a, Results r) {
  a.status.toWire(r.initStatus());
  r.setDelegation(a.delegation);
}
}  // namespace

kj::Promise<void> SessionImpl::setLock(SetLockContext context) {
  auto p = context.getParams();
  LockRequest req;
  if (!lockOwnerFromWire(p.getOwner(), p.getKind(), &req.owner) || !lockTypeFromWire(p.getType(), &req.type) ||
      p.getStart() > p.getEnd()) {
    badLockArgs().toWire(context.getResults().initStatus());
    return kj::READY_NOW;
  }
  req.range = ByteRange{p.getStart(), p.getEnd()};
  req.pid = p.getPid();
  req.wait = p.getWait();
  // A blocked call whose client goes away is dropped, which cancels its waiter.
  if (req.wait) context.allowCancellation();
  return server_.locks()
      .setLock(id_, p.getIno(), req, p.getWaiter(), p.getMayDelegate())
      .then([context](LockAnswer a) mutable { lockAnswerToWire(a, context.getResults()); });
}

kj::Promise<void> SessionImpl::getLock(GetLockContext context) {
  auto p = context.getParams();
  auto r = context.getResults();
  LockOwner owner;
  LockType type;
  if (!lockOwnerFromWire(p.getOwner(), p.getKind(), &owner) || !lockTypeFromWire(p.getType(), &type) ||
      p.getStart() > p.getEnd()) {
    badLockArgs().toWire(r.initStatus());
    return kj::READY_NOW;
  }
  return server_.locks()
      .getLock(id_, p.getIno(), owner, ByteRange{p.getStart(), p.getEnd()}, type)
      .then([context](LockAnswer a) mutable {
        auto r = context.getResults();
        lockAnswerToWire(a, r);
        if (a.status.isOk() && a.conflict) {
          r.setConflict(true);
          r.setType(static_cast<uint8_t>(a.conflict->type));
          r.setStart(a.conflict->range.start);
          r.setEnd(a.conflict->range.end);
          r.setPid(a.conflict->pid);
        }
      });
}

kj::Promise<void> SessionImpl::cancelLock(CancelLockContext context) {
  server_.locks().cancel(id_, context.getParams().getWaiter()).toWire(context.getResults().initStatus());
  return kj::READY_NOW;
}

kj::Promise<void> SessionImpl::releaseLocks(ReleaseLocksContext context) {
  auto p = context.getParams();
  LockOwner owner;
  if (!lockOwnerFromWire(p.getOwner(), p.getKind(), &owner)) {
    badLockArgs().toWire(context.getResults().initStatus());
    return kj::READY_NOW;
  }
  return server_.locks().releaseOwner(id_, p.getIno(), owner).then([context](LockAnswer a) mutable {
    lockAnswerToWire(a, context.getResults());
  });
}

kj::Promise<void> SessionImpl::returnLocks(ReturnLocksContext context) {
  auto p = context.getParams();
  auto state = p.getState();
  return server_.locks()
      .returnDelegation(id_, p.getIno(), p.getDelegation(),
                        std::string(reinterpret_cast<const char*>(state.begin()), state.size()))
      .then([context](Status st) mutable { st.toWire(context.getResults().initStatus()); });
}

kj::Promise<void> SessionImpl::watch(WatchContext context) {
  auto p = context.getParams();
  Status st = p.hasWatcher() ? server_.watch(id_, p.getWatcher())
                             : Status::error(EINVAL, "watch without a watcher");
  st.toWire(context.getResults().initStatus());
  return kj::READY_NOW;
}

}  // namespace basalt::meta
