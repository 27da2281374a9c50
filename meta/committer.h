// Group commit: every mutation goes through here. Commands are queued on the loop thread; while no
// batch is committing, everything queued so far becomes one batch, applied on a worker thread
// (EventLoop::offload) in one LMDB write transaction (each command in its own nested transaction)
// and committed durably: the batch's commands are one command-log record, synced before the
// transaction commits (Store::commitLogged). Only then, back on the loop thread, does each
// submitter's promise resolve: a resolved promise means the change is on disk. After a crash,
// replayRecord applies the records after the last checkpoint again (Store::recover).
//
// Thread-safety: submit/drain/stats on the loop thread only. The worker touches only the batch and
// the Store.
#pragma once

#include <capnp/message.h>
#include <kj/async.h>

#include <functional>
#include <memory>
#include <vector>

#include "meta/apply.h"
#include "meta/store.h"
#include "server/event_loop.h"
#include "server/log.h"

namespace basalt::meta {

class Committer {
 public:
  // Called on the loop thread for every command of a committed batch, in order, before its
  // submitter hears of it (the leader's in-memory bookkeeping: handles, orphans).
  using AfterCommit = std::function<void(rpc::Command::Reader, Applied&)>;

  Committer(EventLoop& loop, Store& store, Logger log);
  ~Committer();

  void setAfterCommit(AfterCommit fn) { afterCommit_ = std::move(fn); }

  // `command`'s root is a complete rpc::Command (leader fields filled). Resolves after the batch
  // holding it is durable; when the commit itself fails every command of the batch answers EIO.
  kj::Promise<Applied> submit(kj::Own<capnp::MallocMessageBuilder> command);

  // Resolves when nothing is queued or committing.
  kj::Promise<void> drain();
  // drain(), and no more checkpoints while idle: nothing runs on the worker once it resolves (the
  // Store may close).
  kj::Promise<void> stop();

  // A batch as its command-log record: the count (u32, little-endian), then each command as a
  // Cap'n Proto flat array preceded by its length in words (u32).
  static std::string encodeBatch(const std::vector<const capnp::MallocMessageBuilder*>& commands);
  // Applies the commands of one record to `txn` as the batch applied them (for Store::recover).
  // Throws (kj exception) on a malformed record.
  static void replayRecord(Txn& txn, std::string_view record);

  uint64_t commits() const { return commits_; }
  uint64_t commandsCommitted() const { return commands_; }
  size_t largestBatch() const { return largestBatch_; }

 private:
  struct Item;
  struct Batch;
  void schedule();
  void startBatch();
  void finishBatch(std::shared_ptr<Batch> batch, bool committed, std::string error);
  // Nothing committing: the next batch if one is queued, else the drainers are told.
  void settled();
  // With nothing to commit: checkpoint on the worker if one is due, or once it is (a timer).
  void checkpointWhenIdle();
  // On the worker: Store::checkpointIfDue, its failure logged.
  static bool checkpointIfDue(Store& store, const Logger& log);

  EventLoop& loop_;
  Store& store_;
  Logger log_;
  AfterCommit afterCommit_;
  std::vector<std::unique_ptr<Item>> queue_;
  bool committing_ = false;
  bool scheduled_ = false;
  bool checkpointTimer_ = false;
  bool stopped_ = false;
  std::vector<kj::Own<kj::PromiseFulfiller<void>>> drainers_;
  uint64_t commits_ = 0;
  uint64_t commands_ = 0;
  size_t largestBatch_ = 0;
  kj::Own<kj::TaskSet> tasks_;
  kj::Own<kj::TaskSet::ErrorHandler> errorHandler_;
};

}  // namespace basalt::meta
