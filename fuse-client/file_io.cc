#include "fuse-client/file_io.h"

#include <fcntl.h>
#include <linux/falloc.h>

#include <spdlog/fmt/fmt.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstring>

#include "fuse-client/errors.h"

namespace basalt::client {

namespace {
constexpr unsigned kMaxStaleRetries = 5;
// How long a replica that left a read unanswered is tried last (about a repair delay: by then a hung
// server's replicas have been replaced).
constexpr auto kSlowReplicaPenalty = 10 * kj::SECONDS;
using ChunkReadResponse = capnp::Response<rpc::ChunkService::ReadResults>;
using ChunkStatusResponse = capnp::Response<rpc::ChunkService::UpdateResults>;
using ChunkSyncResponse = capnp::Response<rpc::ChunkService::SyncResults>;

kj::Own<Interruptible> ref(Interruptible* i) {
  return i == nullptr ? kj::Own<Interruptible>() : kj::addRef(*i);
}
}  // namespace

namespace {
constexpr uint32_t kBatchPiece = 64 * 1024;  // larger pieces always go alone
constexpr unsigned kBatchInFlight = 4;       // unanswered updates per chunk before pieces wait
constexpr size_t kBatchBytes = 1 << 20;      // the most one batch carries
}  // namespace

struct FileIo::Op {
  uint64_t ino;
  uint32_t chunkSize;
  std::string what;
  kj::Own<Interruptible> intr;
  kj::TimePoint start;
  kj::TimePoint deadline;
  Op(uint64_t i, uint32_t cs, std::string w, kj::Own<Interruptible> in, kj::TimePoint s,
     kj::TimePoint d)
      : ino(i), chunkSize(cs), what(std::move(w)), intr(kj::mv(in)), start(s), deadline(d) {}
};

FileIo::FileIo(EventLoop& loop, MetaSession& meta, ChunkPool& pool, InodeTable& inodes,
               IoConfig config, Logger log)
    : loop_(loop),
      meta_(meta),
      pool_(pool),
      inodes_(inodes),
      config_(config),
      log_(std::move(log)),
      readahead_(config.readAheadBytes,
                 [this](uint64_t ino, uint64_t offset, size_t size) { return fetchForCache(ino, offset, size); }),
      blocks_(config.blockCacheBytes,
              [this](uint64_t ino, uint64_t offset, size_t size) { return fetchForCache(ino, offset, size); }) {}

kj::Promise<kj::Array<kj::byte>> FileIo::fetchForCache(uint64_t ino, uint64_t offset, size_t size) {
  // Like a read: after this client's in-flight writes to the range (a write queued later drops
  // what the caches fetched of the file).
  return settled(ino, offset, offset + size).then([this, ino, offset, size]() {
    return readSettled(ino, offset, size, kj::Own<Interruptible>());
  });
}

std::shared_ptr<FileIo::Op> FileIo::newOp(uint64_t ino, std::string what,
                                          kj::Own<Interruptible> intr) {
  const InodeInfo* info = inodes_.find(ino);
  uint32_t chunkSize = info && info->attr.chunkSize ? info->attr.chunkSize : kDefaultChunkSize;
  auto now = loop_.timer().now();
  auto deadline = now + static_cast<int64_t>(config_.timeoutSec * 1000) * kj::MILLISECONDS;
  return std::make_shared<Op>(ino, chunkSize, std::move(what), kj::mv(intr), now, deadline);
}

uint64_t FileIo::uncommittedEnd(uint64_t ino) const {
  uint64_t end = 0;
  auto it = dirty_.find(ino);
  if (it != dirty_.end()) end = std::max(it->second.pending ? it->second.end : 0, it->second.committing);
  auto b = behind_.find(ino);
  if (b != behind_.end()) end = std::max(end, b->second.unfinished.maxEnd());
  return end;
}

void FileIo::noteTruncate(uint64_t ino, uint64_t size) {
  auto it = dirty_.find(ino);
  if (it != dirty_.end()) {
    it->second.end = std::min(it->second.end, size);
    it->second.committing = std::min(it->second.committing, size);
  }
  dropFetched(ino);
  const InodeInfo* info = inodes_.find(ino);
  uint32_t chunkSize = info && info->attr.chunkSize ? info->attr.chunkSize : kDefaultChunkSize;
  // The chunk holding the new end changed length too; everything after it may be gone.
  layouts_.invalidateFrom(ino, static_cast<uint32_t>(size / chunkSize));
}

void FileIo::forgetInode(uint64_t ino) {
  layouts_.invalidateInode(ino);
  dropFetched(ino);
}

void FileIo::maybeEraseDirty(uint64_t ino) {
  auto it = dirty_.find(ino);
  if (it == dirty_.end()) return;
  const Dirty& d = it->second;
  if (!d.pending && d.committing == 0 && d.unsynced.empty() && d.inflight == nullptr) {
    dirty_.erase(it);
  }
}

kj::Promise<Layout> FileIo::layout(std::shared_ptr<Op> op, uint32_t index, bool forWrite) {
  if (const Layout* l = layouts_.find(op->ino, index, forWrite)) {
    if (!forWrite) return Layout(*l);
    switch (leaseUse(*l, loop_.timer().now())) {
      case LeaseUse::kUse: return Layout(*l);
      case LeaseUse::kUseAndRenew: {
        Layout use = *l;
        renewLease(op, index);
        return use;
      }
      case LeaseUse::kRefetch: break;
    }
  }
  return fetchLayout(op, index, forWrite, 0);
}

void FileIo::renewLease(std::shared_ptr<Op> op, uint32_t index) {
  auto key = std::make_pair(op->ino, index);
  if (!renewing_.insert(key).second) return;  // one question per chunk at a time
  // Not tied to the write: it goes on with the layout it has.
  auto background = newOp(op->ino, fmt::format("lease renewal of chunk {} of inode {}", index, op->ino),
                          kj::Own<Interruptible>());
  fetchLayout(background, index, true, 0)
      .then([this, key](Layout) { renewing_.erase(key); },
            [this, key](kj::Exception&& e) {
              renewing_.erase(key);
              log_->debug("renewing the lease of chunk {} of inode {}: {}", key.second, key.first,
                          e.getDescription().cStr());
            })
      .detach([](kj::Exception&&) {});
}

template <typename T>
kj::Promise<T> FileIo::watchPrimary(std::shared_ptr<Op> op, Layout l) {
  if (config_.hedgeMs == 0 || l.primary >= l.replicas.size()) return kj::NEVER_DONE;
  return loop_.timer()
      .afterDelay(config_.hedgeMs * kj::MILLISECONDS)
      .then([this, op, l]() { return checkPrimary(op, l); })
      .then(
          [this, op, l](Layout now) -> kj::Promise<T> {
            if (now.version == l.version && now.primaryAddress() == l.primaryAddress()) {
              return watchPrimary<T>(op, kj::mv(l));  // only slow: keep waiting for its answer
            }
            log_->info("chunk {} of inode {}: primary {} did not answer within {} ms; the metadata server "
                       "named {} at v{}: resending there",
                       l.index, op->ino, l.primaryAddress(), config_.hedgeMs, now.primaryAddress(),
                       now.version);
            return errnoException(ESTALE, fmt::format("primary {} of chunk {} of inode {} replaced (v{} -> v{})",
                                                      l.primaryAddress(), l.index, op->ino, l.version,
                                                      now.version));
          },
          [](kj::Exception&&) -> kj::Promise<T> {
            return kj::NEVER_DONE;  // the metadata server is unreachable: the call's own deadline rules
          });
}

kj::Promise<Layout> FileIo::checkPrimary(std::shared_ptr<Op> op, const Layout& l) {
  // With write-behind many calls to one primary wait at once: they share one question.
  auto key = std::make_pair(l.chunkId, l.version);
  auto it = primaryChecks_.find(key);
  if (it == primaryChecks_.end()) {
    auto forget = [this, key]() {
      // Not from inside the promise being erased.
      kj::evalLater([this, key]() { primaryChecks_.erase(key); }).detach([](kj::Exception&&) {});
    };
    auto asked = fetchLayout(op, l.index, true, l.replicas[l.primary].id)
                     .then(
                         [forget](Layout now) {
                           forget();
                           return now;
                         },
                         [forget](kj::Exception&& e) -> Layout {
                           forget();
                           kj::throwFatalException(kj::mv(e));
                         })
                     .fork();
    it = primaryChecks_.emplace(key, kj::mv(asked)).first;
  }
  return it->second.addBranch();
}

kj::Promise<Layout> FileIo::fetchLayout(std::shared_ptr<Op> op, uint32_t index, bool forWrite, uint32_t unresponsive) {
  uint64_t ino = op->ino;
  return meta_
      .call<rpc::Session::GetLayoutResults>(
          fmt::format("getLayout {} #{}{}", ino, index, forWrite ? " forWrite" : ""), ref(op->intr.get()),
          [ino, index, forWrite, unresponsive](rpc::Session::Client& s) {
            auto q = s.getLayoutRequest();
            q.setIno(ino);
            q.setIndex(index);
            q.setForWrite(forWrite);
            q.setUnresponsive(unresponsive);
            return q.send();
          })
      .then([this, ino, index, forWrite](capnp::Response<rpc::Session::GetLayoutResults>&& r) {
        auto status = r.getStatus();
        if (status.getCode() != 0) {
          kj::throwFatalException(errnoException(
              errnoFromStatus(status), fmt::format("getLayout of inode {} chunk {}: {}", ino,
                                                   index, status.getMessage().cStr())));
        }
        Layout l = Layout::fromWire(r.getLayout(), forWrite, loop_.timer().now());
        l.index = index;
        layouts_.put(ino, l);
        return l;
      });
}

kj::Promise<void> FileIo::backoffOrFail(std::shared_ptr<Op> op, unsigned attempt,
                                        const std::string& server, const std::string& reason) {
  auto now = loop_.timer().now();
  if (now >= op->deadline) {
    log_->warn("chunk server {} unreachable for {:.1f} s: {} fails with EIO ({})", server,
               static_cast<double>((now - op->start) / kj::MILLISECONDS) / 1000.0, op->what,
               reason);
    return errnoException(EIO, "chunk server " + server + " unreachable: " + reason);
  }
  if (op->intr.get() != nullptr && op->intr->interrupted()) {
    return errnoException(EINTR, op->what + ": interrupted");
  }
  kj::Duration d = 100 * kj::MILLISECONDS;
  for (unsigned i = 0; i < attempt && d < 2 * kj::SECONDS; ++i) d = d * 2;
  d = std::min(std::min(d, 2 * kj::SECONDS), op->deadline - now);
  kj::Promise<void> wait = loop_.timer().afterDelay(d);
  if (op->intr.get() != nullptr) wait = wait.exclusiveJoin(op->intr->whenInterrupted());
  return wait.then([op]() -> kj::Promise<void> {
    if (op->intr.get() != nullptr && op->intr->interrupted()) {
      return errnoException(EINTR, op->what + ": interrupted");
    }
    return kj::READY_NOW;
  });
}

// ---- read ------------------------------------------------------------------------------------

kj::Promise<kj::Array<kj::byte>> FileIo::read(uint64_t ino, uint64_t offset, size_t size,
                                              kj::Own<Interruptible> intr) {
  if (busy(ino, offset, offset + size)) {
    // Reads see this client's writes: wait for the in-flight ones they overlap (and for any that
    // were queued meanwhile).
    auto shared = std::make_shared<kj::Own<Interruptible>>(kj::mv(intr));
    return settled(ino, offset, offset + size).then([this, ino, offset, size, shared]() {
      return read(ino, offset, size, kj::mv(*shared));
    });
  }
  const InodeInfo* info = inodes_.find(ino);
  uint64_t known = info != nullptr ? std::max(info->attr.size, uncommittedEnd(ino)) : 0;
  KJ_IF_MAYBE(served, readahead_.read(ino, offset, size, known)) { return kj::mv(*served); }
  KJ_IF_MAYBE(cached, blocks_.read(ino, offset, size, known)) { return kj::mv(*cached); }
  return readSettled(ino, offset, size, kj::mv(intr));
}

kj::Promise<kj::Array<kj::byte>> FileIo::readSettled(uint64_t ino, uint64_t offset, size_t size,
                                                     kj::Own<Interruptible> intr) {
  const InodeInfo* info = inodes_.find(ino);
  if (info != nullptr) {
    uint64_t known = std::max(info->attr.size, uncommittedEnd(ino));
    if (offset >= known) return kj::heapArray<kj::byte>(0);
    size = static_cast<size_t>(std::min<uint64_t>(size, known - offset));
  }
  auto op = newOp(ino, fmt::format("read of inode {} at {}", ino, offset), kj::mv(intr));
  auto buf = std::make_shared<kj::Array<kj::byte>>(kj::heapArray<kj::byte>(size));
  auto pieces = splitAtChunks(offset, size, op->chunkSize);
  auto promises = kj::heapArrayBuilder<kj::Promise<void>>(pieces.size());
  for (const auto& p : pieces) {
    promises.add(readPiece(op, p, buf->slice(p.bufOffset, p.bufOffset + p.length), 0));
  }
  return kj::joinPromises(promises.finish()).then([buf]() { return kj::mv(*buf); });
}

kj::Promise<void> FileIo::readPiece(std::shared_ptr<Op> op, ChunkPiece piece,
                                    kj::ArrayPtr<kj::byte> out, unsigned attempt) {
  return layout(op, piece.index, false)
      .then([this, op, piece, out](Layout l) mutable -> kj::Promise<void> {
        if (l.isHole()) {
          memset(out.begin(), 0, out.size());
          return kj::READY_NOW;
        }
        // Replicas that recently left a read unanswered go last.
        auto now = loop_.timer().now();
        std::stable_partition(l.replicas.begin(), l.replicas.end(), [this, now](const Replica& r) {
          auto it = slowUntil_.find(r.address);
          return it == slowUntil_.end() || it->second <= now;
        });
        return readReplica(op, kj::mv(l), 0, piece, out, "");
      })
      .catch_([this, op, piece, out, attempt](kj::Exception&& e) -> kj::Promise<void> {
        int err = errnoFromException(e);
        if (err == ESTALE && attempt < kMaxStaleRetries) {
          layouts_.invalidate(op->ino, piece.index);
          return readPiece(op, piece, out, attempt + 1);
        }
        // Still stale after refetching: the chunk is changing primary (its replicas learn the new
        // version within a lease); wait and retry like an unreachable server, up to the deadline.
        if (!isDisconnect(e) && err != ESTALE) return kj::mv(e);
        // Every replica was unreachable: wait, refetch the layout (it may have moved), retry.
        layouts_.invalidate(op->ino, piece.index);
        return backoffOrFail(op, attempt, "replicas of chunk " + std::to_string(piece.index),
                             describeException(e))
            .then([this, op, piece, out, attempt]() {
              return readPiece(op, piece, out, attempt + 1);
            });
      });
}

kj::Promise<void> FileIo::readReplica(std::shared_ptr<Op> op, Layout l, size_t i, ChunkPiece piece,
                                      kj::ArrayPtr<kj::byte> out, std::string lastError) {
  if (i >= l.replicas.size()) {
    if (lastError.empty()) {
      return errnoException(EIO, fmt::format("chunk {} of inode {} has no replica", l.chunkId, op->ino));
    }
    // lastError starts with "!" when the last failure was a server answering an error.
    if (lastError[0] == '!') return errnoException(EIO, lastError.substr(1));
    return KJ_EXCEPTION(DISCONNECTED, lastError);
  }
  std::string address = l.replicas[i].address;
  auto call = pool_.get(address).then([l, piece](rpc::ChunkService::Client c) {
    auto q = c.readRequest();
    l.toChunkRef(q.initChunk());
    q.setOffset(piece.offset);
    q.setLength(piece.length);
    return kj::Promise<ChunkReadResponse>(q.send());
  });
  auto timed = loop_.timer().timeoutAfter(config_.rpcTimeoutMs * kj::MILLISECONDS, kj::mv(call));
  kj::Promise<void> attempt = timed.then(
      [this, op, l, i, piece, out, address](ChunkReadResponse&& r) mutable -> kj::Promise<void> {
        auto status = r.getStatus();
        int code = status.getCode();
        if (code == 0) {
          slowUntil_.erase(address);
          auto data = r.getData();
          size_t n = std::min(data.size(), out.size());
          memcpy(out.begin(), data.begin(), n);
          memset(out.begin() + n, 0, out.size() - n);  // past the chunk's length reads as zeros
          return kj::READY_NOW;
        }
        int err = errnoFromStatus(status);
        std::string msg = fmt::format("chunk server {}: {}", address, status.getMessage().cStr());
        // ESTALE: the version moved on; ENOENT: this server no longer holds the chunk (it was moved
        // or a damaged copy was dropped): refetch the layout. EIO (a bad block) and EAGAIN (a new
        // replica still receiving its copy): the next replica.
        if (err == ESTALE || err == ENOENT) return errnoException(ESTALE, msg);
        if (err == EIO || err == EAGAIN) {
          log_->warn("{} (inode {} chunk {}); trying the next replica", msg, op->ino, l.chunkId);
          return readReplica(op, kj::mv(l), i + 1, piece, out, "!" + msg);
        }
        return errnoException(err, msg);
      },
      [this, op, l, i, piece, out, address](kj::Exception&& e) mutable -> kj::Promise<void> {
        if (!isDisconnect(e)) return kj::mv(e);
        pool_.reset(address);
        slowUntil_.insert_or_assign(address, loop_.timer().now() + kSlowReplicaPenalty);
        std::string why = fmt::format("chunk server {}: {}", address, describeException(e));
        return readReplica(op, kj::mv(l), i + 1, piece, out, why);
      });
  if (config_.hedgeMs == 0 || i + 1 >= l.replicas.size()) return attempt;
  // A replica silent for hedgeMs (hung, or only slow): ask the next one too; the first answer wins
  // (replicas at one version hold the same bytes). Only this attempt's own outcome can fail the
  // read: a failing hedge just stops competing.
  return attempt.exclusiveJoin(
      loop_.timer()
          .afterDelay(config_.hedgeMs * kj::MILLISECONDS)
          .then([this, op, l, i, piece, out, address]() mutable {
            slowUntil_.insert_or_assign(address, loop_.timer().now() + kSlowReplicaPenalty);
            return readReplica(op, kj::mv(l), i + 1, piece, out,
                               fmt::format("chunk server {}: no answer within {} ms", address, config_.hedgeMs));
          })
          .catch_([](kj::Exception&&) -> kj::Promise<void> { return kj::NEVER_DONE; }));
}

// ---- write -----------------------------------------------------------------------------------

kj::Promise<size_t> FileIo::write(uint64_t ino, uint64_t offset, kj::Array<kj::byte> data,
                                  const Credentials& cred, kj::Own<Interruptible> intr, bool behind) {
  dropFetched(ino);  // what was fetched ahead or cached may be older than this write
  auto b = behind_.find(ino);
  if (b != behind_.end() && b->second.error != 0) {
    // A background write of this inode failed: say so now (once), as the kernel does for writeback.
    int err = b->second.error;
    std::string msg = b->second.message;
    b->second.error = 0;
    return kj::Promise<size_t>(errnoException(err, msg));
  }
  if (!behind || config_.writeBehindBytes == 0) {
    uint64_t end = offset + data.size();
    if (!busy(ino, offset, end)) return writeNow(ino, offset, kj::mv(data), cred, kj::mv(intr));
    auto shared = std::make_shared<kj::Array<kj::byte>>(kj::mv(data));
    auto in = std::make_shared<kj::Own<Interruptible>>(kj::mv(intr));
    return settled(ino, offset, end).then([this, ino, offset, shared, cred, in]() {
      return writeNow(ino, offset, kj::mv(*shared), cred, kj::mv(*in));
    });
  }
  size_t n = data.size();
  auto shared = std::make_shared<kj::Array<kj::byte>>(kj::mv(data));
  return roomFor(n).then([this, ino, offset, n, shared, cred]() {
    uint64_t end = offset + n;
    // Overlapping writes land in the order they were made.
    kj::Promise<void> before = settled(ino, offset, end);
    uint64_t id = ++nextWrite_;
    behindBytes_ += n;
    inodes_.noteLocalSize(ino, std::max(end, uncommittedEnd(ino)));
    auto done = before
                    .then([this, ino, offset, shared, cred]() {
                      return writeNow(ino, offset, kj::mv(*shared), cred, kj::Own<Interruptible>(), true);
                    })
                    .then([](size_t) {},
                          [this, ino](kj::Exception&& e) {
                            Behind& b = behind_[ino];
                            if (b.error == 0) {
                              b.error = errnoFromException(e);
                              b.message = describeException(e);
                              log_->warn("background write of inode {} failed: {}", ino, b.message);
                            }
                          })
                    .then([this, ino, id, n]() {
                      behindBytes_ -= n;
                      auto it = behind_.find(ino);
                      if (it != behind_.end()) {
                        auto w = it->second.writes.find(id);
                        if (w != it->second.writes.end()) it->second.unfinished.remove(id, w->second.start);
                      }
                      // Not from here: this runs inside the promise being erased.
                      kj::evalLater([this, ino, id]() {
                        auto it = behind_.find(ino);
                        if (it == behind_.end()) return;
                        it->second.writes.erase(id);
                        if (it->second.writes.empty() && it->second.error == 0) behind_.erase(it);
                      }).detach([](kj::Exception&&) {});
                      while (!roomWaiters_.empty() &&
                             (behindBytes_ == 0 || behindBytes_ + roomWaiters_.front().first <= config_.writeBehindBytes)) {
                        roomWaiters_.front().second->fulfill();
                        roomWaiters_.pop_front();
                      }
                    })
                    .eagerlyEvaluate(nullptr)
                    .fork();
    Behind& b = behind_[ino];
    b.writes.emplace(id, InFlight{offset, kj::mv(done)});
    b.unfinished.add(id, offset, end);  // `done` resolves on a later turn at the earliest
    return n;
  });
}

kj::Promise<void> FileIo::roomFor(size_t bytes) {
  if (roomWaiters_.empty() && (behindBytes_ == 0 || behindBytes_ + bytes <= config_.writeBehindBytes)) {
    return kj::READY_NOW;
  }
  auto paf = kj::newPromiseAndFulfiller<void>();
  roomWaiters_.emplace_back(bytes, kj::mv(paf.fulfiller));
  return kj::mv(paf.promise);
}

bool FileIo::busy(uint64_t ino, uint64_t start, uint64_t end) const {
  auto b = behind_.find(ino);
  if (b == behind_.end()) return false;
  if (end == 0) return !b->second.unfinished.empty();
  return b->second.unfinished.overlaps(start, end);
}

kj::Promise<void> FileIo::settled(uint64_t ino, uint64_t start, uint64_t end) {
  auto b = behind_.find(ino);
  if (b == behind_.end() || b->second.writes.empty()) return kj::READY_NOW;
  kj::Vector<kj::Promise<void>> waits;
  auto& writes = b->second.writes;
  auto wait = [&](uint64_t id) {
    auto w = writes.find(id);
    if (w != writes.end()) waits.add(w->second.done.addBranch());
  };
  if (end == 0) {
    b->second.unfinished.forEach(wait);
  } else {
    b->second.unfinished.forOverlapping(start, end, wait);
  }
  if (waits.empty()) return kj::READY_NOW;
  return kj::joinPromises(waits.releaseAsArray());
}

kj::Promise<void> FileIo::settle(uint64_t ino) {
  if (ino != 0) return settled(ino, 0, 0);
  kj::Vector<kj::Promise<void>> waits;
  for (auto& [i, b] : behind_) waits.add(settled(i, 0, 0));
  return kj::joinPromises(waits.releaseAsArray());
}

kj::Promise<void> FileIo::drainWrites(uint64_t ino) {
  return settled(ino, 0, 0).then([this, ino]() -> kj::Promise<void> {
    if (busy(ino)) return drainWrites(ino);  // written meanwhile
    auto b = behind_.find(ino);
    if (b == behind_.end()) return kj::READY_NOW;
    int err = b->second.error;
    std::string msg = b->second.message;
    behind_.erase(b);
    if (err != 0) return errnoException(err, msg);
    return kj::READY_NOW;
  });
}

kj::Promise<size_t> FileIo::writeNow(uint64_t ino, uint64_t offset, kj::Array<kj::byte> data,
                                     const Credentials& cred, kj::Own<Interruptible> intr, bool behind) {
  auto op = newOp(ino, fmt::format("write of inode {} at {}", ino, offset), kj::mv(intr));
  auto buf = std::make_shared<kj::Array<kj::byte>>(kj::mv(data));
  auto pieces = splitAtChunks(offset, buf->size(), op->chunkSize);
  auto promises = kj::heapArrayBuilder<kj::Promise<void>>(pieces.size());
  const InodeInfo* info = inodes_.find(ino);
  bool kill = cred.uid != 0 && info != nullptr && (info->attr.mode & (S_ISUID | S_ISGID)) != 0;
  for (const auto& p : pieces) {
    auto slice = buf->slice(p.bufOffset, p.bufOffset + p.length).asConst();
    auto sent = behind && p.length <= kBatchPiece ? queuePiece(ino, p, slice, buf) : writePiece(op, p, slice, 0);
    promises.add(
        sent
            .then([this, ino, p, offset, kill]() {
              dirty(ino).unsynced.insert(p.index);
              noteExtent(ino, offset + p.bufOffset + p.length, kill);
            }));
  }
  size_t n = buf->size();
  return kj::joinPromises(promises.finish()).then([buf, n]() { return n; });
}

kj::Promise<void> FileIo::queuePiece(uint64_t ino, ChunkPiece piece, kj::ArrayPtr<const kj::byte> data,
                                     std::shared_ptr<kj::Array<kj::byte>> keep) {
  auto paf = kj::newPromiseAndFulfiller<void>();
  chunkQueues_[{ino, piece.index}].waiting.push_back(Queued{piece.offset, data, std::move(keep), kj::mv(paf.fulfiller)});
  sendQueued(ino, piece.index);
  return kj::mv(paf.promise);
}

void FileIo::sendQueued(uint64_t ino, uint32_t index) {
  auto it = chunkQueues_.find({ino, index});
  if (it == chunkQueues_.end()) return;
  ChunkQueue& q = it->second;
  if (q.waiting.empty()) {
    if (q.inFlight == 0) chunkQueues_.erase(it);
    return;
  }
  if (q.inFlight >= kBatchInFlight) return;
  auto batch = std::make_shared<std::vector<Queued>>();
  size_t bytes = 0;
  while (!q.waiting.empty() && (batch->empty() || bytes + q.waiting.front().data.size() <= kBatchBytes)) {
    bytes += q.waiting.front().data.size();
    batch->push_back(kj::mv(q.waiting.front()));
    q.waiting.pop_front();
  }
  ++q.inFlight;
  auto op = newOp(ino, fmt::format("{} write(s) of {} bytes to inode {} chunk {}", batch->size(), bytes, ino, index),
                  kj::Own<Interruptible>());
  OpFiller fill = [batch](rpc::ChunkOp::Builder b) {
    if (batch->size() == 1) {
      auto w = b.initWrite();
      w.setOffset(batch->front().offset);
      w.setData(batch->front().data);
      return;
    }
    auto list = b.initWrites(static_cast<unsigned>(batch->size()));
    for (size_t i = 0; i < batch->size(); ++i) {
      list[static_cast<unsigned>(i)].setOffset((*batch)[i].offset);
      list[static_cast<unsigned>(i)].setData((*batch)[i].data);
    }
  };
  updatePiece(op, index, fill, 0)
      .then([batch]() {
        for (auto& w : *batch) w.done->fulfill();
      }, [batch](kj::Exception&& e) {
        for (auto& w : *batch) w.done->reject(kj::cp(e));
      })
      .then([this, ino, index]() {
        auto it = chunkQueues_.find({ino, index});
        if (it != chunkQueues_.end()) --it->second.inFlight;
        sendQueued(ino, index);
      })
      .detach([this](kj::Exception&& e) { log_->error("small-write batch: {}", describeException(e)); });
}

void FileIo::noteExtent(uint64_t ino, uint64_t end, bool killSuidGid) {
  auto& d = dirty(ino);
  d.pending = true;
  d.end = std::max(d.end, end);
  d.killSuidGid = d.killSuidGid || killSuidGid;
  inodes_.noteLocalSize(ino, d.end);
}

kj::Promise<void> FileIo::writePiece(std::shared_ptr<Op> op, ChunkPiece piece,
                                     kj::ArrayPtr<const kj::byte> data, unsigned attempt) {
  return updatePiece(
      op, piece.index,
      [piece, data](rpc::ChunkOp::Builder b) {
        auto w = b.initWrite();
        w.setOffset(piece.offset);
        w.setData(data);
      },
      attempt);
}

kj::Promise<void> FileIo::updatePiece(std::shared_ptr<Op> op, uint32_t index, OpFiller fill,
                                      unsigned attempt) {
  return layout(op, index, true)
      .then([this, op, index, fill](Layout l) {
        std::string address = l.primaryAddress();
        if (l.isHole() || address.empty()) {
          kj::throwFatalException(errnoException(
              EIO, fmt::format("getLayout forWrite of inode {} chunk {} named no primary", op->ino,
                               index)));
        }
        auto call = pool_.get(address).then([l, fill](rpc::ChunkService::Client c) {
          auto q = c.updateRequest();
          l.toChunkRef(q.initChunk());
          fill(q.initOp());
          return kj::Promise<ChunkStatusResponse>(q.send());
        });
        return loop_.timer()
            .timeoutAfter(config_.rpcTimeoutMs * kj::MILLISECONDS,
                          call.exclusiveJoin(watchPrimary<ChunkStatusResponse>(op, l)))
            .then(
                [this, op, l, address](ChunkStatusResponse&& r) {
                  auto status = r.getStatus();
                  if (status.getCode() != 0) {
                    kj::throwFatalException(errnoException(
                        errnoFromStatus(status),
                        fmt::format("chunk server {}: {}", address, status.getMessage().cStr())));
                  }
                  // A backup was dropped during the op: the version moved on; refetch next time.
                  if (r.getVersion() > l.version) layouts_.invalidate(op->ino, l.index);
                },
                [this, address](kj::Exception&& e) {
                  if (isDisconnect(e)) pool_.reset(address);
                  kj::throwFatalException(kj::mv(e));
                });
      })
      .catch_([this, op, index, fill, attempt](kj::Exception&& e) -> kj::Promise<void> {
        int err = errnoFromException(e);
        if (err == ESTALE && attempt < kMaxStaleRetries) {
          // The version moved on or the primary changed: refetch and resend (ops at fixed offsets
          // are idempotent).
          layouts_.invalidate(op->ino, index);
          return updatePiece(op, index, fill, attempt + 1);
        }
        // Still stale after refetching: the chunk is changing primary or replica set (several
        // writes in flight each see the versions move on); wait and retry up to the deadline.
        if (!isDisconnect(e) && err != ESTALE) return kj::mv(e);
        layouts_.invalidate(op->ino, index);
        unsigned step = err == ESTALE ? attempt - kMaxStaleRetries : attempt;  // backoff from 100 ms
        return backoffOrFail(op, step, "primary of chunk " + std::to_string(index),
                             describeException(e))
            .then([this, op, index, fill, attempt]() {
              return updatePiece(op, index, fill, attempt + 1);
            });
      });
}

kj::Promise<void> FileIo::zeroPiece(std::shared_ptr<Op> op, ChunkPiece piece) {
  return layout(op, piece.index, false).then([this, op, piece](Layout l) -> kj::Promise<void> {
    if (l.isHole()) return kj::READY_NOW;
    return updatePiece(
        op, piece.index,
        [piece](rpc::ChunkOp::Builder b) {
          auto z = b.initZero();
          z.setOffset(piece.offset);
          z.setLength(piece.length);
        },
        0);
  });
}

namespace {
kj::Promise<void> errnoPromise(int err, const std::string& message) {
  return kj::Promise<void>(errnoException(err, message));
}
}  // namespace

kj::Promise<void> FileIo::fallocate(uint64_t ino, int mode, uint64_t offset, uint64_t length,
                                    const Credentials& cred, kj::Own<Interruptible> intr) {
  if (length == 0) return errnoPromise(EINVAL, "fallocate with length 0");
  if (offset + length < offset) return errnoPromise(EFBIG, "fallocate range overflows");
  const int kPunch = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
  bool zero;
  if (mode == 0 || mode == FALLOC_FL_KEEP_SIZE) {
    zero = false;
  } else if (mode == kPunch || mode == FALLOC_FL_ZERO_RANGE ||
             mode == (FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE)) {
    zero = true;
  } else {
    return errnoPromise(EOPNOTSUPP, fmt::format("fallocate mode {:#x} is not supported on "
                                                "Basalt (supported: 0, KEEP_SIZE, PUNCH_HOLE|"
                                                "KEEP_SIZE, ZERO_RANGE)", mode));
  }
  bool grows = !(mode & FALLOC_FL_KEEP_SIZE);
  dropFetched(ino);
  if (behind_.count(ino) != 0) {
    auto in = std::make_shared<kj::Own<Interruptible>>(kj::mv(intr));
    return drainWrites(ino).then([this, ino, mode, offset, length, cred, in]() {
      return fallocate(ino, mode, offset, length, cred, kj::mv(*in));
    });
  }
  const InodeInfo* info = inodes_.find(ino);
  bool kill = cred.uid != 0 && info != nullptr && (info->attr.mode & (S_ISUID | S_ISGID)) != 0;
  auto op = newOp(ino, fmt::format("fallocate of inode {} at {}+{}", ino, offset, length), kj::mv(intr));
  kj::Promise<void> done = kj::READY_NOW;
  if (zero) {
    auto pieces = splitAtChunks(offset, length, op->chunkSize);
    auto promises = kj::heapArrayBuilder<kj::Promise<void>>(pieces.size());
    for (const auto& p : pieces) {
      promises.add(zeroPiece(op, p).then([this, ino, p]() { dirty(ino).unsynced.insert(p.index); }));
    }
    done = kj::joinPromises(promises.finish());
  }
  return done.then([this, op, ino, offset, length, grows, kill]() {
    if (grows) noteExtent(ino, offset + length, kill);
  });
}

// ---- commit, flush, fsync ---------------------------------------------------------------------

kj::Promise<void> FileIo::flush(uint64_t ino, const Credentials& cred, kj::Own<Interruptible> intr) {
  if (behind_.count(ino) == 0) return flushCommitted(ino, cred, kj::mv(intr));
  auto in = std::make_shared<kj::Own<Interruptible>>(kj::mv(intr));
  // Commit what did land even when a background write failed; report the failure after.
  return drainWrites(ino).then(
      [this, ino, cred, in]() { return flushCommitted(ino, cred, kj::mv(*in)); },
      [this, ino, cred, in](kj::Exception&& e) {
        return flushCommitted(ino, cred, kj::mv(*in)).then([e = kj::mv(e)]() mutable -> kj::Promise<void> {
          return kj::mv(e);
        });
      });
}

kj::Promise<void> FileIo::flushCommitted(uint64_t ino, const Credentials& cred, kj::Own<Interruptible> intr) {
  auto it = dirty_.find(ino);
  if (it == dirty_.end()) return kj::READY_NOW;
  if (it->second.inflight != nullptr) {
    // Wait for the commit in flight (whatever its outcome: a failed commit put its size back),
    // then commit what is still pending.
    auto shared = std::make_shared<kj::Own<Interruptible>>(kj::mv(intr));
    return commitsSettled(ino).then([this, ino, cred, shared]() { return flushCommitted(ino, cred, kj::mv(*shared)); });
  }
  if (!it->second.pending) {
    maybeEraseDirty(ino);
    return kj::READY_NOW;
  }
  auto clear = [this, ino](uint64_t gen) {
    auto it = dirty_.find(ino);
    if (it != dirty_.end() && it->second.inflightGen == gen) it->second.inflight = nullptr;
  };
  uint64_t gen = ++it->second.inflightGen;
  it->second.inflight = commit(ino, cred, kj::mv(intr)).fork();
  KJ_IF_MAYBE(f, it->second.inflight) {
    return f->addBranch().then([clear, gen]() { clear(gen); },
                               [clear, gen](kj::Exception&& e) {
                                 clear(gen);
                                 kj::throwFatalException(kj::mv(e));
                               });
  }
  KJ_UNREACHABLE;
}

FileIo::WriteCommit FileIo::takeCommit(Dirty& d) {
  WriteCommit w{d.end, d.killSuidGid};
  d.pending = false;
  d.end = 0;
  d.killSuidGid = false;
  d.committing = std::max(d.committing, w.size);
  return w;
}

void FileIo::restoreCommit(uint64_t ino, const WriteCommit& w) {
  Dirty& d = dirty(ino);
  d.pending = true;
  d.end = std::max(d.end, w.size);
  d.killSuidGid = d.killSuidGid || w.killSuidGid;
}

void FileIo::noteCommitted(uint64_t ino, rpc::Reply::Reader reply) {
  if (!reply.hasAttr() || reply.getAttr().getIno() != ino) return;
  auto a = reply.getAttr();
  AttrSnapshot s;
  s.ino = ino;
  s.size = a.getSize();
  s.mtime = FileTime{a.getMtime().getSec(), a.getMtime().getNsec()};
  s.chunkSize = a.getChunkSize();
  s.uid = a.getUid();
  s.mode = a.getMode();
  inodes_.noteAttr(s);
  if (onAttr_) onAttr_(a);
}

kj::Promise<void> FileIo::commit(uint64_t ino, const Credentials& cred, kj::Own<Interruptible> intr) {
  WriteCommit w = takeCommit(dirty(ino));
  uint64_t end = w.size;
  bool kill = w.killSuidGid;
  auto restore = [this, ino, w]() { restoreCommit(ino, w); };
  return meta_
      .mutate(fmt::format("commitWrite {} size {}", ino, end), kj::mv(intr), cred,
              [ino, end, kill](rpc::Command::Builder c) {
                auto w = c.initCommitWrite();
                w.setIno(ino);
                w.setSize(end);
                w.setKillSuidGid(kill);
              })
      .then(
          [this, ino, end, restore](capnp::Response<rpc::Session::MutateResults>&& r) {
            auto reply = r.getReply();
            auto status = reply.getStatus();
            if (status.getCode() != 0) {
              restore();
              kj::throwFatalException(errnoException(
                  errnoFromStatus(status), fmt::format("commitWrite of inode {} size {}: {}", ino,
                                                       end, status.getMessage().cStr())));
            }
            noteCommitted(ino, reply);
          },
          [restore](kj::Exception&& e) {
            restore();
            kj::throwFatalException(kj::mv(e));
          })
      .then(
          [this, ino]() {
            auto it = dirty_.find(ino);
            if (it != dirty_.end()) it->second.committing = 0;
          },
          [this, ino](kj::Exception&& e) {
            auto it = dirty_.find(ino);
            if (it != dirty_.end()) it->second.committing = 0;
            kj::throwFatalException(kj::mv(e));
          });
}

kj::Promise<void> FileIo::commitsSettled(uint64_t ino) {
  auto it = dirty_.find(ino);
  if (it == dirty_.end()) return kj::READY_NOW;
  KJ_IF_MAYBE(f, it->second.inflight) {
    uint64_t gen = it->second.inflightGen;
    auto again = [this, ino, gen]() {
      auto it = dirty_.find(ino);
      if (it != dirty_.end() && it->second.inflightGen == gen) it->second.inflight = nullptr;
      return commitsSettled(ino);
    };
    return f->addBranch().then([again]() { return again(); }, [again](kj::Exception&&) { return again(); });
  }
  return kj::READY_NOW;
}

kj::Promise<FileIo::MutateResponse> FileIo::afterWrites(
    uint64_t ino, const Credentials& cred,
    kj::Function<kj::Promise<MutateResponse>(std::optional<WriteCommit>)> send) {
  kj::Promise<void> landed = behind_.count(ino) == 0 ? kj::Promise<void>(kj::READY_NOW) : drainWrites(ino);
  return landed
      .then(
          [this, ino]() { return commitsSettled(ino); },
          [this, ino, cred](kj::Exception&& e) -> kj::Promise<void> {
            // As flush(): commit what did land, then report the background write's failure.
            return flushCommitted(ino, cred, kj::Own<Interruptible>()).then([e = kj::mv(e)]() mutable {
              return kj::Promise<void>(kj::mv(e));
            });
          })
      .then([this, ino, cred, send = kj::mv(send)]() mutable -> kj::Promise<MutateResponse> {
        auto it = dirty_.find(ino);
        if (it == dirty_.end() || !it->second.pending) return send(std::nullopt);
        Dirty& d = it->second;
        WriteCommit w = takeCommit(d);
        // A flush or fsync meanwhile waits for this command, as for a commit of its own.
        auto paf = kj::newPromiseAndFulfiller<void>();
        uint64_t gen = ++d.inflightGen;
        d.inflight = paf.promise.fork();
        auto done = std::make_shared<kj::Own<kj::PromiseFulfiller<void>>>(kj::mv(paf.fulfiller));
        auto settle = [this, ino, gen, done]() {
          auto it = dirty_.find(ino);
          if (it != dirty_.end()) {
            it->second.committing = 0;
            if (it->second.inflightGen == gen) it->second.inflight = nullptr;
          }
          (*done)->fulfill();
        };
        return send(w).then(
            [this, ino, cred, w, settle](MutateResponse&& r) -> kj::Promise<MutateResponse> {
              if (r.getReply().getStatus().getCode() == 0) {
                noteCommitted(ino, r.getReply());
                settle();
                return kj::mv(r);
              }
              // Refused (EPERM, ...): the writes' commit goes on its own; the refusal is the answer.
              restoreCommit(ino, w);
              settle();
              auto refusal = std::make_shared<MutateResponse>(kj::mv(r));
              return flushCommitted(ino, cred, kj::Own<Interruptible>())
                  .then([refusal]() { return kj::mv(*refusal); },
                        [this, ino, refusal](kj::Exception&& e) {
                          log_->warn("inode {}: committing its writes after a refused setattr: {}", ino,
                                     describeException(e));
                          return kj::mv(*refusal);
                        });
            },
            [this, ino, w, settle](kj::Exception&& e) -> kj::Promise<MutateResponse> {
              restoreCommit(ino, w);
              settle();
              return kj::mv(e);
            });
      });
}

kj::Promise<void> FileIo::fsync(uint64_t ino, const Credentials& cred, kj::Own<Interruptible> intr) {
  if (behind_.count(ino) == 0) return fsyncDrained(ino, cred, kj::mv(intr));
  auto in = std::make_shared<kj::Own<Interruptible>>(kj::mv(intr));
  return drainWrites(ino).then([this, ino, cred, in]() { return fsyncDrained(ino, cred, kj::mv(*in)); });
}

kj::Promise<void> FileIo::fsyncDrained(uint64_t ino, const Credentials& cred, kj::Own<Interruptible> intr) {
  auto it = dirty_.find(ino);
  if (it == dirty_.end()) return kj::READY_NOW;
  std::set<uint32_t> chunks = std::move(it->second.unsynced);
  it->second.unsynced.clear();
  auto op = newOp(ino, fmt::format("fsync of inode {}", ino), ref(intr.get()));
  auto promises = kj::heapArrayBuilder<kj::Promise<void>>(chunks.size());
  for (uint32_t index : chunks) promises.add(syncChunk(op, index, 0));
  return kj::joinPromises(promises.finish())
      .then(
          [this, ino, cred, intr = kj::mv(intr)]() mutable { return flushCommitted(ino, cred, kj::mv(intr)); },
          [this, ino, chunks](kj::Exception&& e) -> kj::Promise<void> {
            // Not durable yet: the next fsync must sync these chunks again.
            dirty(ino).unsynced.insert(chunks.begin(), chunks.end());
            return kj::mv(e);
          });
}

kj::Promise<void> FileIo::syncChunk(std::shared_ptr<Op> op, uint32_t index, unsigned attempt) {
  return layout(op, index, true)
      .then([this, op, index](Layout l) -> kj::Promise<void> {
        std::string address = l.primaryAddress();
        if (l.isHole() || address.empty()) return kj::READY_NOW;
        auto call = pool_.get(address).then([l](rpc::ChunkService::Client c) {
          auto q = c.syncRequest();
          l.toChunkRef(q.initChunk());
          return kj::Promise<ChunkSyncResponse>(q.send());
        });
        return loop_.timer()
            .timeoutAfter(config_.rpcTimeoutMs * kj::MILLISECONDS,
                          call.exclusiveJoin(watchPrimary<ChunkSyncResponse>(op, l)))
            .then(
                [address](ChunkSyncResponse&& r) {
                  auto status = r.getStatus();
                  if (status.getCode() != 0) {
                    kj::throwFatalException(errnoException(
                        errnoFromStatus(status),
                        fmt::format("sync on chunk server {}: {}", address,
                                    status.getMessage().cStr())));
                  }
                },
                [this, address](kj::Exception&& e) {
                  if (isDisconnect(e)) pool_.reset(address);
                  kj::throwFatalException(kj::mv(e));
                });
      })
      .catch_([this, op, index, attempt](kj::Exception&& e) -> kj::Promise<void> {
        int err = errnoFromException(e);
        if (err == ESTALE && attempt < kMaxStaleRetries) {
          layouts_.invalidate(op->ino, index);
          return syncChunk(op, index, attempt + 1);
        }
        if (!isDisconnect(e) && err != ESTALE) return kj::mv(e);
        layouts_.invalidate(op->ino, index);
        unsigned step = err == ESTALE ? attempt - kMaxStaleRetries : attempt;
        return backoffOrFail(op, step, "primary of chunk " + std::to_string(index),
                             describeException(e))
            .then([this, op, index, attempt]() { return syncChunk(op, index, attempt + 1); });
      });
}

}  // namespace basalt::client
