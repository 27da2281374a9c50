// The chunk map's commands: a chunk allocated or given a new version and replica set (SetChunk), a
// chunk server's identity (RegisterServer) and draining state (SetServerDraining), a freed chunk
// deleted everywhere (DropGarbage). The
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
  std::string key;
  appendBe32(key, rs.getId());
  ServerRecord r;
  if (auto old = c.txn.get(Table::kServers, key)) r = decodeServer(*old);  // keeps `draining`
  r.address = rs.getAddress().cStr();
  r.zone = rs.getZone().cStr();
  c.txn.put(Table::kServers, key, encodeServer(r));
  return Status::ok();
}

Status applySetServerDraining(CommandContext& c) {
  auto sd = c.cmd.getSetServerDraining();
  std::string key;
  appendBe32(key, sd.getId());
  auto old = c.txn.get(Table::kServers, key);
  if (!old) return Status::error(ENOENT, "no chunk server #" + std::to_string(sd.getId()));
  ServerRecord r = decodeServer(*old);
  r.draining = sd.getDraining();
  c.txn.put(Table::kServers, key, encodeServer(r));
  return Status::ok();
}

std::string encodeServer(const ServerRecord& r) {
  std::string v = r.address + '\0' + r.zone;
  if (r.draining) v += std::string(1, '\0') + "draining";
  return v;
}

ServerRecord decodeServer(std::string_view v) {
  ServerRecord r;
  auto first = v.find('\0');
  r.address = std::string(v.substr(0, first));
  if (first == std::string_view::npos) return r;
  std::string_view rest = v.substr(first + 1);
  auto second = rest.find('\0');
  r.zone = std::string(rest.substr(0, second));
  r.draining = second != std::string_view::npos && rest.substr(second + 1) == "draining";
  return r;
}

Status applyDropGarbage(CommandContext& c) {
  c.txn.del(Table::kGarbage, be64(c.cmd.getDropGarbage().getChunkId()));
  return Status::ok();
}

}  // namespace basalt::meta
