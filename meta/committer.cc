#include "meta/committer.h"

#include <capnp/serialize.h>
#include <kj/debug.h>

#include <cstring>

#include "server/little_endian.h"
#include "server/rpc.h"

namespace basalt::meta {

struct Committer::Item {
  kj::Own<capnp::MallocMessageBuilder> command;
  kj::Own<kj::PromiseFulfiller<Applied>> fulfiller;
  Applied result;
};

struct Committer::Batch {
  std::vector<std::unique_ptr<Item>> items;
};

Committer::Committer(EventLoop& loop, Store& store, Logger log)
    : loop_(loop), store_(store), log_(std::move(log)) {
  errorHandler_ = kj::heap<TaskLogger>(log_);
  tasks_ = kj::heap<kj::TaskSet>(*errorHandler_);
}

Committer::~Committer() = default;

kj::Promise<Applied> Committer::submit(kj::Own<capnp::MallocMessageBuilder> command) {
  auto paf = kj::newPromiseAndFulfiller<Applied>();
  auto item = std::make_unique<Item>();
  item->command = kj::mv(command);
  item->fulfiller = kj::mv(paf.fulfiller);
  queue_.push_back(std::move(item));
  schedule();
  return kj::mv(paf.promise);
}

kj::Promise<void> Committer::stop() {
  stopped_ = true;  // the Store checkpoints once more when it closes
  return drain();
}

kj::Promise<void> Committer::drain() {
  if (queue_.empty() && !committing_) return kj::READY_NOW;
  auto paf = kj::newPromiseAndFulfiller<void>();
  drainers_.push_back(kj::mv(paf.fulfiller));
  return kj::mv(paf.promise);
}

void Committer::schedule() {
  if (committing_ || scheduled_ || queue_.empty()) return;
  // Start on a later turn of the loop, so that everything submitted in this turn joins the batch.
  scheduled_ = true;
  tasks_->add(kj::evalLater([this]() {
    scheduled_ = false;
    startBatch();
  }));
}

void Committer::startBatch() {
  if (committing_ || queue_.empty()) return;
  committing_ = true;
  auto batch = std::make_shared<Batch>();
  batch->items = std::move(queue_);
  queue_.clear();
  if (batch->items.size() > largestBatch_) largestBatch_ = batch->items.size();
  Store& store = store_;
  Logger log = log_;
  tasks_->add(loop_.offload<bool>([batch, &store, log]() {
                     checkpointIfDue(store, log);  // under a steady load there is no idle moment
                     Txn txn = store.beginWrite();
                     std::vector<const capnp::MallocMessageBuilder*> commands;
                     for (auto& item : batch->items) {
                       item->result = apply(item->command->getRoot<rpc::Command>().asReader(), txn);
                       commands.push_back(item->command.get());
                     }
                     store.commitLogged(txn, encodeBatch(commands));  // durable when this returns
                     return true;
                   })
                  .then([this, batch](bool) { finishBatch(batch, true, ""); },
                        [this, batch](kj::Exception&& e) {
                          finishBatch(batch, false, e.getDescription().cStr());
                        }));
}

bool Committer::checkpointIfDue(Store& store, const Logger& log) {
  Status st = store.checkpointIfDue();
  if (!st.isOk()) log->error("{} (every commit is in the command log; retried in a few seconds)", st.message());
  return st.isOk();
}

void Committer::settled() {
  if (!queue_.empty()) {
    schedule();
    return;
  }
  for (auto& d : drainers_) d->fulfill();
  drainers_.clear();
}

void Committer::finishBatch(std::shared_ptr<Batch> batch, bool committed, std::string error) {
  if (committed) {
    ++commits_;
    commands_ += batch->items.size();
    log_->debug("committed a batch of {} commands", batch->items.size());
  } else {
    log_->error("commit of a batch of {} commands failed: {}", batch->items.size(), error);
  }
  for (auto& item : batch->items) {
    if (!committed) {
      item->result = Applied{};
      item->result.message = kj::heap<capnp::MallocMessageBuilder>();
      Status::error(EIO, "metadata commit failed: " + error)
          .toWire(item->result.message->initRoot<rpc::Reply>().initStatus());
    } else if (afterCommit_) {
      afterCommit_(item->command->getRoot<rpc::Command>().asReader(), item->result);
    }
    item->fulfiller->fulfill(kj::mv(item->result));
  }
  committing_ = false;
  checkpointWhenIdle();  // or the next batch, if one is queued
}

void Committer::checkpointWhenIdle() {
  if (committing_) return;  // whatever runs calls back here, or settles, when it ends
  // With a batch queued, that batch checkpoints first if one is due.
  int64_t dueInMs = stopped_ || !queue_.empty() ? -1 : store_.checkpointDueInMs();
  if (dueInMs > 0) {
    if (!checkpointTimer_) {
      checkpointTimer_ = true;
      tasks_->add(loop_.timer().afterDelay(dueInMs * kj::MILLISECONDS).then([this]() {
        checkpointTimer_ = false;
        checkpointWhenIdle();
      }));
    }
    settled();
  } else if (dueInMs == 0) {
    // Idle: checkpoint now rather than in front of the next batch. It holds the worker's turn
    // (no batch may run beside it); what arrives meanwhile waits for it.
    committing_ = true;
    Store& store = store_;
    Logger log = log_;
    auto done = [this]() {
      committing_ = false;
      settled();
    };
    tasks_->add(loop_.offload<bool>([&store, log]() { return checkpointIfDue(store, log); })
                    .then([done](bool) { done(); },
                          [this, done](kj::Exception&& e) {
                            log_->error("checkpoint failed: {}", e.getDescription().cStr());
                            done();
                          }));
  } else {
    settled();
  }
}

std::string Committer::encodeBatch(const std::vector<const capnp::MallocMessageBuilder*>& commands) {
  std::string out;
  appendLe32(out, static_cast<uint32_t>(commands.size()));
  for (const auto* c : commands) {
    auto words = capnp::messageToFlatArray(const_cast<capnp::MallocMessageBuilder&>(*c));
    appendLe32(out, static_cast<uint32_t>(words.size()));
    auto bytes = words.asBytes();
    out.append(reinterpret_cast<const char*>(bytes.begin()), bytes.size());
  }
  return out;
}

void Committer::replayRecord(Txn& txn, std::string_view record) {
  KJ_REQUIRE(record.size() >= 4, "command log record too short", record.size());
  uint32_t count = readLe32(record, 0);
  size_t at = 4;
  for (uint32_t i = 0; i < count; ++i) {
    KJ_REQUIRE(at + 4 <= record.size(), "command log record cut short", i, count);
    size_t bytes = static_cast<size_t>(readLe32(record, at)) * sizeof(capnp::word);
    at += 4;
    KJ_REQUIRE(at + bytes <= record.size(), "command log record cut short", i, count);
    auto words = kj::heapArray<capnp::word>(bytes / sizeof(capnp::word));
    memcpy(words.begin(), record.data() + at, bytes);
    at += bytes;
    capnp::FlatArrayMessageReader reader(words);
    apply(reader.getRoot<rpc::Command>(), txn);
  }
  KJ_REQUIRE(at == record.size(), "command log record has trailing bytes", at, record.size());
}

}  // namespace basalt::meta
