// Reclaim: free an orphan (no names, no open handle anywhere). Its chunks go to the garbage table
// for deletion on the chunk servers. Idempotent: reclaiming what is gone or not an orphan is a no-op.
#include <vector>

#include "meta/commands/command.h"

namespace basalt::meta {

Status applyReclaim(CommandContext& c) {
  uint64_t ino = c.cmd.getReclaim().getIno();
  if (!c.txn.exists(Table::kOrphans, inoKey(ino))) return Status::ok();
  auto n = loadInode(c.txn, ino);
  if (n.isOk() && n->nlink != 0) {  // cannot happen through apply; keep the inode, drop the mark
    c.txn.del(Table::kOrphans, inoKey(ino));
    return Status::ok();
  }
  dropChunks(c.txn, ino, 0);
  std::vector<std::string> xattrs;
  c.txn.scan(Table::kXattrs, be64(ino), [&](std::string_view k, std::string_view) {
    xattrs.emplace_back(k);
    return true;
  });
  for (auto& k : xattrs) c.txn.del(Table::kXattrs, k);
  c.txn.del(Table::kSymlinks, inoKey(ino));
  c.txn.del(Table::kLocks, inoKey(ino));
  c.txn.del(Table::kDelegations, inoKey(ino));
  c.txn.del(Table::kInodes, inoKey(ino));
  c.txn.del(Table::kOrphans, inoKey(ino));
  c.effects.reclaimed.push_back(ino);
  return Status::ok();
}

}  // namespace basalt::meta
