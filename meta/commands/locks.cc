// SetLocks: the durable copy of one inode's held locks. The leader's LockTable is the authority
// (it also holds the waiters, which are in-flight calls and never stored); after every change to an
// inode's held locks it commits the inode's whole encoded state here before anyone hears of the
// change, and restores the table from these records when it starts. Replaying the command stores
// the same bytes again, so duplicates are harmless.
#include "meta/commands/command.h"
#include "meta/locks/lock_table.h"

namespace basalt::meta {

Status applySetLocks(CommandContext& c) {
  auto sl = c.cmd.getSetLocks();
  uint64_t ino = sl.getIno();
  auto state = sl.getState();
  if (state.size() == 0) {
    c.txn.del(Table::kLocks, inoKey(ino));
    return Status::ok();
  }
  std::string bytes(reinterpret_cast<const char*>(state.begin()), state.size());
  LockTable check;  // a record that cannot be restored must never reach the store
  if (check.restoreInode(ino, bytes) != 0) {
    return Status::error(EINVAL, "malformed lock state for inode " + std::to_string(ino));
  }
  if (check.locksOf(ino).empty()) {
    c.txn.del(Table::kLocks, inoKey(ino));
    return Status::ok();
  }
  if (!c.txn.exists(Table::kInodes, inoKey(ino))) {
    return Status::error(ENOENT, "locks on inode " + std::to_string(ino) + ", which does not exist");
  }
  c.txn.put(Table::kLocks, inoKey(ino), bytes);
  return Status::ok();
}

}  // namespace basalt::meta
