// apply(): the only code that changes metadata. One deterministic function of a Command and the
// current state: the leader fills in time, new inode numbers, generations, handles and session ids
// before a command gets here (meta_server.cc).
//
// A command runs in a nested transaction of the caller's write transaction: a command that fails
// leaves no trace except its dedup record, so one bad command never poisons a group commit.
// Commands with (session != 0, seq != 0) are recorded with their encoded Reply in the dedup table;
// the same (session, seq) later is answered from there and not applied again. Per session only
// entries with seq > (latest seq - kDedupWindow) are kept, so a client may have at most
// kDedupWindow requests outstanding for retries to be recognised.
//
// Thread-safety: apply() touches only `txn` and `cmd`; run it on the thread that owns the txn.
#pragma once

#include <capnp/message.h>

#include <cstdint>
#include <vector>

#include "meta/store.h"
#include "rpc-schema/meta.capnp.h"

namespace basalt::meta {

constexpr uint64_t kDedupWindow = 1024;

// What the leader must do after the commit, besides replying.
struct Effects {
  std::vector<uint64_t> orphaned;   // inodes whose nlink reached 0 (now in the orphans table)
  std::vector<uint64_t> reclaimed;  // inodes freed by Reclaim
  bool replayed = false;            // answered from the dedup table, nothing applied
};

struct Applied {
  kj::Own<capnp::MallocMessageBuilder> message;  // its root is the rpc::Reply
  Effects effects;
  rpc::Reply::Reader reply() { return message->getRoot<rpc::Reply>().asReader(); }
};

// Requires a write txn. Never throws for a failing command (its Reply carries the errno); a store
// failure inside the command becomes EIO for that command alone.
Applied apply(rpc::Command::Reader cmd, Txn& txn);

}  // namespace basalt::meta
