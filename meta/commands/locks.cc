// SetLocks: the durable copy of one inode's held locks and of its lock delegation. The leader's
// LockManager is the authority (its table also holds the waiters, which are in-flight calls and
// never stored); after every change to an inode's held locks or delegation it commits the inode's
// whole state here before anyone hears of the change, and restores from these records when it
// starts. Replaying the command stores the same bytes again, so duplicates are harmless.
#include "meta/commands/command.h"
#include "meta/locks/lock_table.h"

namespace basalt::meta {

Status applySetLocks(CommandContext& c) {
  auto sl = c.cmd.getSetLocks();
  uint64_t ino = sl.getIno();
  auto state = sl.getState();
  std::string bytes(reinterpret_cast<const char*>(state.begin()), state.size());
  bool held = false;
  if (!bytes.empty()) {
    LockTable check;  // a record that cannot be restored must never reach the store
    if (check.restoreInode(ino, bytes) != 0) {
      return Status::error(EINVAL, "malformed lock state for inode " + std::to_string(ino));
    }
    held = !check.locksOf(ino).empty();
  }
  uint64_t delegate = sl.getDelegate();
  if (delegate != 0 && (held || sl.getDelegation() == 0)) {
    return Status::error(EINVAL, "lock delegation of inode " + std::to_string(ino) +
                                     " with server-side locks or without a generation");
  }
  if ((held || delegate != 0) && !c.txn.exists(Table::kInodes, inoKey(ino))) {
    return Status::error(ENOENT, "locks on inode " + std::to_string(ino) + ", which does not exist");
  }
  if (held) {
    c.txn.put(Table::kLocks, inoKey(ino), bytes);
  } else {
    c.txn.del(Table::kLocks, inoKey(ino));
  }
  if (delegate != 0) {
    c.txn.put(Table::kDelegations, inoKey(ino), be64(delegate) + be64(sl.getDelegation()));
  } else {
    c.txn.del(Table::kDelegations, inoKey(ino));
  }
  return Status::ok();
}

}  // namespace basalt::meta
