// What every command's apply function gets, the functions themselves (one per file in this
// folder), and the helpers they share. Internal to apply.cc and commands/.
#pragma once

#include <optional>
#include <string>

#include "meta/apply.h"
#include "meta/inode.h"
#include "meta/keys.h"
#include "meta/perm.h"
#include "meta/store.h"

// Return early with a failed Status; bind the value of an ok Result.
#define META_TRY(expr)              \
  do {                              \
    ::basalt::Status s_ = (expr);   \
    if (!s_.isOk()) return s_;      \
  } while (0)
#define META_ASSIGN(var, expr)                       \
  auto var##Result_ = (expr);                        \
  if (!var##Result_.isOk()) return var##Result_.status(); \
  auto var = std::move(var##Result_.value())

namespace basalt::meta {

struct CommandContext {
  rpc::Command::Reader cmd;
  Txn& txn;  // the command's own nested transaction
  Cred cred;
  Timespec now;
  rpc::Reply::Builder reply;
  Effects& effects;
};

Status applyCreate(CommandContext& c);
Status applyLink(CommandContext& c);
Status applyRemove(CommandContext& c);
Status applyRename(CommandContext& c);
Status applySetAttr(CommandContext& c);
Status applySetXattr(CommandContext& c);
Status applyRemoveXattr(CommandContext& c);
Status applyCommitWrite(CommandContext& c);
Status applyReclaim(CommandContext& c);
Status applyOpenSession(CommandContext& c);
Status applyCloseSession(CommandContext& c);
Status applySetChunk(CommandContext& c);
Status applyRegisterServer(CommandContext& c);
Status applyDropGarbage(CommandContext& c);
Status applySetServerDraining(CommandContext& c);
Status applySetLocks(CommandContext& c);

// ---- helpers shared by commands and reads (commands/helpers.cc) ----

// ENOENT when absent; EIO for an undecodable record.
Result<Inode> loadInode(const Txn& txn, uint64_t ino);
void saveInode(Txn& txn, const Inode& n);
// A live directory: ENOENT (absent or removed), ENOTDIR.
Result<Inode> loadDir(const Txn& txn, uint64_t ino);
// EINVAL for "" or a name with '/', ENAMETOOLONG beyond 255 bytes. "." and ".." pass.
Status validateName(const std::string& name);
bool isDotOrDotDot(const std::string& name);
std::optional<DirentValue> findEntry(const Txn& txn, uint64_t parent, const std::string& name);
// Adds `name` -> child under `parent` with the parent's next cookie (the caller saves `parent`).
void addEntry(Txn& txn, Inode& parent, const std::string& name, uint64_t child);
void removeEntry(Txn& txn, uint64_t parent, const std::string& name, DirentValue entry);
bool dirIsEmpty(const Txn& txn, uint64_t dir);
// Moves the chunk-map entries of `ino` with index >= firstIndex to the garbage table.
void dropChunks(Txn& txn, uint64_t ino, uint32_t firstIndex);
// nlink reached 0: record the orphan (durable) and tell the leader.
void orphan(CommandContext& c, const Inode& n);
// Linux's kill of S_ISUID, and of S_ISGID when group-executable.
void killSuidSgid(Inode& n);
// What a CommitWrite does to regular file `n` (commit_write.cc): at least `size` long, mtime and
// ctime now, suid/sgid cleared for a non-root writer when `killSuidGid`. The caller saves `n`.
void commitWrite(const CommandContext& c, Inode& n, uint64_t size, bool killSuidGid);
// After a chmod: the inode's stored access ACL (if any) takes the new permission bits (xattr.cc).
void chmodAccessAcl(Txn& txn, const Inode& n);

// Chunk-map value: BE64(chunk id) ‖ BE64(version) ‖ BE32(replica server id)*.
struct ChunkEntry {
  uint64_t id = 0;
  uint64_t version = 0;
  std::vector<uint32_t> replicas;
};
std::string encodeChunk(const ChunkEntry& e);
ChunkEntry decodeChunk(std::string_view v);

// Servers-table value: address ‖ '\0' ‖ zone [‖ '\0' ‖ "draining"]. Records written before drain
// existed have no third field (not draining).
struct ServerRecord {
  std::string address, zone;
  bool draining = false;
};
std::string encodeServer(const ServerRecord& r);
ServerRecord decodeServer(std::string_view v);

}  // namespace basalt::meta
