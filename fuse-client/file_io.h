// File data: reads and writes against chunk servers (chunk.capnp), with layouts from the metadata
// session (Session.getLayout) and sizes committed back to it (Command.commitWrite).
//
// Read: clamp to the size this client knows (EOF without any RPC at or past it); split at chunk
// boundaries; per chunk, a layout (cached per (inode, index)); a hole (chunk id 0) reads as zeros
// without a chunk RPC; otherwise read from a replica, trying the next one on EIO or an unreachable
// server, and refetching the layout on ESTALE.
// Write: split at chunk boundaries; per chunk a layout fetched forWrite and ChunkService.update to
// its primary (ESTALE: refetch the layout and resend; the write is an idempotent overwrite). The new
// size is committed in batches: at the latest on flush, fsync and release (and before a truncate).
// Until then the size this client reports includes its uncommitted writes.
// Write-behind (writeBehindBytes > 0): write() answers once the data is copied and its update is
// under way; up to writeBehindBytes are in flight (then write waits: backpressure). A write waits
// for in-flight writes it overlaps (so they land in order), a read for those it overlaps; flush,
// fsync and fallocate wait for all of the inode's. A failed background write is reported by the
// next write, flush or fsync of the inode (its errno), as Linux reports writeback errors.
// Sequential reads are served by readahead (readahead.h) once detected; small random reads by the
// block cache (block_cache.h).
// fsync: ChunkService.sync on every chunk written since the last fsync, then the commit.
// Unreachable chunk servers are retried with backoff until the `timeout` deadline (then EIO and one
// log line naming the server); a FUSE interrupt cuts the wait short (EINTR).
// Thread-safety: loop thread only.
#pragma once

#include <kj/async.h>
#include <kj/function.h>

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>

#include "fuse-client/chunk_pool.h"
#include "fuse-client/inode_table.h"
#include "fuse-client/layout.h"
#include "fuse-client/meta_session.h"
#include "fuse-client/block_cache.h"
#include "fuse-client/readahead.h"
#include "fuse-client/request.h"
#include "fuse-client/write_ranges.h"
#include "server/event_loop.h"
#include "server/log.h"

namespace basalt::client {

struct IoConfig {
  uint32_t rpcTimeoutMs = 5000;
  double timeoutSec = 60.0;
  // A call to a chunk's primary unanswered this long: ask the metadata server (with the primary's
  // id) whether the chunk has another primary by now, and resend there if so; else keep waiting.
  // A hung primary then costs about its lease (2 s), not rpcTimeoutMs (docs/client.md). A read
  // unanswered this long also asks the next replica. 0 = never.
  uint32_t hedgeMs = 1000;
  uint64_t writeBehindBytes = 0;  // 0: every write waits for its replicas
  uint64_t readAheadBytes = 0;    // 0: no readahead (readahead.h)
  uint64_t blockCacheBytes = 0;   // 0: no block cache for small reads (block_cache.h)
};

class FileIo {
 public:
  FileIo(EventLoop& loop, MetaSession& meta, ChunkPool& pool, InodeTable& inodes, IoConfig config,
         Logger log);
  KJ_DISALLOW_COPY(FileIo);

  // Up to `size` bytes at `offset`; fewer (or none) at the end of the file.
  kj::Promise<kj::Array<kj::byte>> read(uint64_t ino, uint64_t offset, size_t size,
                                        kj::Own<Interruptible> intr);
  // Writes all of `data` at `offset` (resolves with its size) or fails with an errno exception.
  // `behind`: may answer before the replicas have it (see write-behind above); false for O_SYNC,
  // O_DSYNC and O_DIRECT writes.
  kj::Promise<size_t> write(uint64_t ino, uint64_t offset, kj::Array<kj::byte> data,
                            const Credentials& cred, kj::Own<Interruptible> intr, bool behind = false);
  // fallocate(2): mode 0 extends the size (space is not reserved: chunk servers allocate on write);
  // FALLOC_FL_PUNCH_HOLE|KEEP_SIZE and FALLOC_FL_ZERO_RANGE (with or without KEEP_SIZE) make the
  // range read as zeros on every replica; KEEP_SIZE alone does nothing. Other modes: EOPNOTSUPP.
  kj::Promise<void> fallocate(uint64_t ino, int mode, uint64_t offset, uint64_t length,
                              const Credentials& cred, kj::Own<Interruptible> intr);
  // Commits the size/mtime of this inode's writes so far (waits for a commit already in flight).
  kj::Promise<void> flush(uint64_t ino, const Credentials& cred, kj::Own<Interruptible> intr);
  // A change that must come after this inode's writes so far (a truncate, explicit times), with
  // their size commit folded into it: `send` gets the pending commit (nothing when none is
  // pending) and sends one command carrying both (SetAttr with setCommitWrite), so the metadata
  // server commits once where flush() and the change took two. Waits for the writes in flight
  // first, as flush() does. If the server refuses the command, the writes' commit is sent on its
  // own before the refusal is returned: a refused utimensat does not lose the size.
  struct WriteCommit {
    uint64_t size = 0;
    bool killSuidGid = false;
  };
  using MutateResponse = capnp::Response<rpc::Session::MutateResults>;
  kj::Promise<MutateResponse> afterWrites(
      uint64_t ino, const Credentials& cred,
      kj::Function<kj::Promise<MutateResponse>(std::optional<WriteCommit>)> send);
  // Makes this inode's written chunks durable on every replica, then commits.
  kj::Promise<void> fsync(uint64_t ino, const Credentials& cred, kj::Own<Interruptible> intr);

  // Resolves when this client's in-flight writes to `ino` (every inode: 0) have landed or failed
  // (a failure stays to be reported by the next write, flush or fsync).
  kj::Promise<void> settle(uint64_t ino);

  // The end of this client's uncommitted writes to `ino` (0 when none).
  uint64_t uncommittedEnd(uint64_t ino) const;
  // A truncate to `size` was applied: forget uncommitted ends past it and layouts beyond it.
  void noteTruncate(uint64_t ino, uint64_t size);
  // The file changed under this client (an open saw a new size/mtime): drop its cached layouts.
  void fileChanged(uint64_t ino) {
    layouts_.invalidateInode(ino);
    dropFetched(ino);
  }
  // The kernel forgot the inode: drop its layouts (uncommitted state is kept until committed).
  void forgetInode(uint64_t ino);

  LayoutCache& layouts() { return layouts_; }
  // Called with the attributes a size commit answers with.
  void onAttr(std::function<void(rpc::Attr::Reader)> fn) { onAttr_ = std::move(fn); }

 private:
  struct Op;
  struct Dirty {
    bool pending = false;       // written since the last commit
    uint64_t end = 0;           // the largest end written since the last commit
    uint64_t committing = 0;    // the end of the commit in flight
    bool killSuidGid = false;
    std::set<uint32_t> unsynced;  // chunk indexes written since the last fsync
    kj::Maybe<kj::ForkedPromise<void>> inflight;
    uint64_t inflightGen = 0;
  };

  kj::Promise<kj::Array<kj::byte>> readSettled(uint64_t ino, uint64_t offset, size_t size,
                                               kj::Own<Interruptible> intr);
  // What readahead and the block cache fetch with: a read without an interrupt.
  kj::Promise<kj::Array<kj::byte>> fetchForCache(uint64_t ino, uint64_t offset, size_t size);
  kj::Promise<Layout> layout(std::shared_ptr<Op> op, uint32_t index, bool forWrite);
  // Asks the metadata server (bypassing the cache; caches the answer). `unresponsive`: see
  // Session.getLayout.
  kj::Promise<Layout> fetchLayout(std::shared_ptr<Op> op, uint32_t index, bool forWrite, uint32_t unresponsive);
  // Never resolves while the metadata server keeps `l`'s primary; fails with ESTALE once it names
  // another (checked every hedgeMs), so the caller resends there. Joined with a call to the
  // primary, which cancels it when the call is answered.
  template <typename T>
  kj::Promise<T> watchPrimary(std::shared_ptr<Op> op, Layout l);
  // Asks for the layout of chunk `index` of op's inode in the background (renewing its primary's
  // lease, see leaseUse), once at a time per chunk; the answer replaces the cached layout.
  void renewLease(std::shared_ptr<Op> op, uint32_t index);
  std::set<std::pair<uint64_t, uint32_t>> renewing_;
  // One question to the metadata server per (chunk, version) at a time, shared by every waiting call.
  kj::Promise<Layout> checkPrimary(std::shared_ptr<Op> op, const Layout& l);
  std::map<std::pair<uint64_t, uint64_t>, kj::ForkedPromise<Layout>> primaryChecks_;
  kj::Promise<void> readPiece(std::shared_ptr<Op> op, ChunkPiece piece, kj::ArrayPtr<kj::byte> out,
                              unsigned attempt);
  kj::Promise<void> readReplica(std::shared_ptr<Op> op, Layout l, size_t i, ChunkPiece piece,
                                kj::ArrayPtr<kj::byte> out, std::string lastError);
  kj::Promise<void> writePiece(std::shared_ptr<Op> op, ChunkPiece piece,
                               kj::ArrayPtr<const kj::byte> data, unsigned attempt);
  // Sends one ChunkOp (filled by `fill`) for chunk `index` to its primary; retries like a write.
  using OpFiller = std::function<void(rpc::ChunkOp::Builder)>;
  kj::Promise<void> updatePiece(std::shared_ptr<Op> op, uint32_t index, OpFiller fill,
                                unsigned attempt);
  // Zeroes `piece` of an allocated chunk (a hole already reads as zeros).
  kj::Promise<void> zeroPiece(std::shared_ptr<Op> op, ChunkPiece piece);
  // Records that this client made the file at least `end` bytes long (committed later).
  void noteExtent(uint64_t ino, uint64_t end, bool killSuidGid);
  // The write itself: resolves when every replica has it. `behind`: a write-behind write, whose
  // small pieces may travel in a batch (below).
  kj::Promise<size_t> writeNow(uint64_t ino, uint64_t offset, kj::Array<kj::byte> data,
                               const Credentials& cred, kj::Own<Interruptible> intr, bool behind = false);
  // ---- small-write batching. Write-behind pieces of at most kBatchPiece bytes bound for one chunk
  // go out at once while fewer than kBatchInFlight updates of that chunk are unanswered; beyond that
  // they wait, and leave together as one `writes` op (chunk.capnp) when an answer comes back. One
  // RPC, one log entry and one forward then carry up to kBatchBytes of small writes: the chunk
  // servers' per-op cost, not the bytes, bounds 4 KiB random writes. Pieces queued together never
  // overlap a write still in flight (write-behind orders overlapping writes before they get here).
  struct Queued {
    uint32_t offset;
    kj::ArrayPtr<const kj::byte> data;
    std::shared_ptr<kj::Array<kj::byte>> keep;  // owns `data`
    kj::Own<kj::PromiseFulfiller<void>> done;
  };
  struct ChunkQueue {
    unsigned inFlight = 0;
    std::deque<Queued> waiting;
  };
  kj::Promise<void> queuePiece(uint64_t ino, ChunkPiece piece, kj::ArrayPtr<const kj::byte> data,
                               std::shared_ptr<kj::Array<kj::byte>> keep);
  // Sends the chunk's waiting pieces (up to kBatchBytes) as one update, if one may go out now.
  void sendQueued(uint64_t ino, uint32_t index);
  std::map<std::pair<uint64_t, uint32_t>, ChunkQueue> chunkQueues_;
  // ---- write-behind
  struct InFlight {
    uint64_t start;
    kj::ForkedPromise<void> done;  // never rejects; erased a turn after it resolves (not from its
                                   // own callback), but out of `unfinished` at once
  };
  struct Behind {
    std::map<uint64_t, InFlight> writes;  // by write number
    WriteRanges unfinished;               // the ranges of the writes not landed or failed yet
    int error = 0;                        // the first failure not reported yet
    std::string message;
  };
  // Resolves when the inode's in-flight writes that overlap [start, end) are done (all: end = 0).
  kj::Promise<void> settled(uint64_t ino, uint64_t start, uint64_t end);
  // Whether an unfinished write of `ino` overlaps [start, end) (any: end = 0).
  bool busy(uint64_t ino, uint64_t start = 0, uint64_t end = 0) const;
  // Waits for all of the inode's in-flight writes, then fails with a background write's error.
  kj::Promise<void> drainWrites(uint64_t ino);
  kj::Promise<void> roomFor(size_t bytes);
  kj::Promise<void> flushCommitted(uint64_t ino, const Credentials& cred, kj::Own<Interruptible> intr);
  kj::Promise<void> fsyncDrained(uint64_t ino, const Credentials& cred, kj::Own<Interruptible> intr);
  kj::Promise<void> syncChunk(std::shared_ptr<Op> op, uint32_t index, unsigned attempt);
  kj::Promise<void> commit(uint64_t ino, const Credentials& cred, kj::Own<Interruptible> intr);
  // Resolves once no commit of `ino` is in flight (whatever their outcome).
  kj::Promise<void> commitsSettled(uint64_t ino);
  // Takes the pending commit out of `d` (marked in flight), and puts a failed one back.
  WriteCommit takeCommit(Dirty& d);
  void restoreCommit(uint64_t ino, const WriteCommit& w);
  // The attributes a commit answered with.
  void noteCommitted(uint64_t ino, rpc::Reply::Reader reply);
  // After a chunk server could not be reached: waits before the next attempt, or fails with EIO
  // (deadline passed, logged) or EINTR (interrupted).
  kj::Promise<void> backoffOrFail(std::shared_ptr<Op> op, unsigned attempt,
                                  const std::string& server, const std::string& reason);
  std::shared_ptr<Op> newOp(uint64_t ino, std::string what, kj::Own<Interruptible> intr);
  Dirty& dirty(uint64_t ino) { return dirty_[ino]; }
  void maybeEraseDirty(uint64_t ino);

  EventLoop& loop_;
  MetaSession& meta_;
  ChunkPool& pool_;
  InodeTable& inodes_;
  IoConfig config_;
  Logger log_;
  LayoutCache layouts_;
  ReadAhead readahead_;
  BlockCache blocks_;
  // What was read ahead or cached of `ino` may be older than what comes next: drop it.
  void dropFetched(uint64_t ino) {
    readahead_.drop(ino);
    blocks_.drop(ino);
  }
  // Chunk servers that left a read unanswered for hedgeMs: reads try them last until then (a hung
  // server would otherwise cost every read piece a hedge delay). Cleared by an answer.
  std::map<std::string, kj::TimePoint> slowUntil_;
  std::unordered_map<uint64_t, Dirty> dirty_;
  std::unordered_map<uint64_t, Behind> behind_;
  std::function<void(rpc::Attr::Reader)> onAttr_;
  uint64_t behindBytes_ = 0;
  uint64_t nextWrite_ = 0;
  std::deque<std::pair<size_t, kj::Own<kj::PromiseFulfiller<void>>>> roomWaiters_;
};

}  // namespace basalt::client
