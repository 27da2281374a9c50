// The chunk map's commands: a chunk allocated or given a new version and replica set (SetChunk), a
// chunk server's identity (RegisterServer), a freed chunk deleted everywhere (DropGarbage). The
// leader picks chunk ids, versions and replica sets; these only record them.
#include <sys/stat.h>

#include "meta/commands/command.h"

namespace basalt::meta {

namespace {
std::string ownerValue(uint64_t ino, uint32_t index) {
  std::string v = be64(ino);
  appendBe32(v, index);
  return v;
}
}  // namespace

Status applySetChunk(CommandContext& c) {
  auto sc = c.cmd.getSetChunk();
  uint64_t ino = sc.getIno();
  uint32_t index = sc.getIndex();
  std::string name = "chunk " + std::to_string(index) + " of inode " + std::to_string(ino);
  if (sc.getChunkId() == 0 || sc.getVersion() == 0) return Status::error(EINVAL, name + ": no chunk id or version");
  if (sc.getReplicas().size() == 0) return Status::error(EINVAL, name + ": no replicas");
  META_ASSIGN(n, loadInode(c.txn, ino));
  if (!n.isReg()) return Status::error(EINVAL, name + ": not a regular file");
  std::string key = chunkKey(ino, index);
  auto existing = c.txn.get(Table::kChunks, key);
  if (sc.getExpectVersion() == 0) {
    if (existing) return Status::error(EEXIST, name + " is already allocated");
  } else {
    if (!existing) return Status::error(ESTALE, name + " is no longer allocated");
    ChunkEntry old = decodeChunk(*existing);
    uint64_t expectId = sc.getReplacesChunk() != 0 ? sc.getReplacesChunk() : sc.getChunkId();
    if (old.id != expectId || old.version != sc.getExpectVersion()) {
      return Status::error(ESTALE, name + " is chunk " + std::to_string(old.id) + " v" + std::to_string(old.version) +
                                       ", not v" + std::to_string(sc.getExpectVersion()));
    }
    if (sc.getReplacesChunk() != 0) {
      std::string replicas;
      for (uint32_t r : old.replicas) appendBe32(replicas, r);
      c.txn.put(Table::kGarbage, be64(old.id), replicas);
      c.txn.del(Table::kChunkOwners, be64(old.id));
    } else if (sc.getVersion() <= old.version) {
      return Status::error(EINVAL, name + ": a new version must grow");
    }
  }
  ChunkEntry e;
  e.id = sc.getChunkId();
  e.version = sc.getVersion();
  for (uint32_t r : sc.getReplicas()) e.replicas.push_back(r);
  c.txn.put(Table::kChunks, key, encodeChunk(e));
  c.txn.put(Table::kChunkOwners, be64(e.id), ownerValue(ino, index));
  auto next = c.txn.get(Table::kMeta, "next_chunk");
  if (!next || readBe64(*next) <= e.id) c.txn.put(Table::kMeta, "next_chunk", be64(e.id + 1));
  return Status::ok();
}

Status applyRegisterServer(CommandContext& c) {
  auto rs = c.cmd.getRegisterServer();
  if (rs.getId() == 0) return Status::error(EINVAL, "chunk server id 0 is reserved");
  std::string value = std::string(rs.getAddress().cStr()) + '\0' + rs.getZone().cStr();
  std::string key;
  appendBe32(key, rs.getId());
  c.txn.put(Table::kServers, key, value);
  return Status::ok();
}

Status applyDropGarbage(CommandContext& c) {
  c.txn.del(Table::kGarbage, be64(c.cmd.getDropGarbage().getChunkId()));
  return Status::ok();
}

}  // namespace basalt::meta
