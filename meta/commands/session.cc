// OpenSession and CloseSession: the durable list of sessions (ids stay unique across restarts and
// resumable); closing forgets the session's dedup records. Handles are the leader's memory.
#include <vector>

#include "meta/commands/command.h"

namespace basalt::meta {

Status applyOpenSession(CommandContext& c) {
  auto o = c.cmd.getOpenSession();
  if (o.getId() == 0) return Status::error(EINVAL, "session id 0");
  c.txn.put(Table::kSessions, be64(o.getId()), o.getClientName().cStr());
  return Status::ok();
}

Status applyCloseSession(CommandContext& c) {
  uint64_t id = c.cmd.getCloseSession().getId();
  if (!c.txn.del(Table::kSessions, be64(id))) return Status::error(ENOENT, "no session " + std::to_string(id));
  std::vector<std::string> keys;
  c.txn.scan(Table::kDedup, be64(id), [&](std::string_view k, std::string_view) {
    keys.emplace_back(k);
    return true;
  });
  for (auto& k : keys) c.txn.del(Table::kDedup, k);
  return Status::ok();
}

}  // namespace basalt::meta
