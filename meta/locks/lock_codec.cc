// Serialisation of one inode's held locks.
//
// Format, version 1 (integers little-endian):
//   u8  version (= 1)
//   u32 count
//   count records of 38 bytes, in ascending (session, owner id, owner kind, start) order:
//     u64 session   u64 owner id   u8 owner kind (0 POSIX, 1 OFD, 2 flock)
//     u8  type (1 read/shared, 2 write/exclusive)
//     u64 start     u64 end (inclusive; 2^64-1 = to end of file)   u32 pid
// The order and the coalesced form are canonical, so one state has exactly one encoding and a
// replica that replays the same commands writes the same bytes. Waiters are never encoded.
// A decoder rejects other versions; a new field means a new version, never a reinterpretation.
#include <cerrno>

#include "meta/locks/lock_table.h"

namespace basalt::meta {

namespace {

constexpr uint8_t kVersion = 1;
constexpr size_t kRecordSize = 8 + 8 + 1 + 1 + 8 + 8 + 4;

void putLe(std::string* out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t getLe(const std::string& in, size_t* pos, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) {
    v |= static_cast<uint64_t>(static_cast<uint8_t>(in[*pos + i])) << (8 * i);
  }
  *pos += bytes;
  return v;
}

}  // namespace

std::string LockTable::encodeInode(InodeId ino) const {
  std::vector<HeldLock> locks = locksOf(ino);  // already in canonical order
  std::string out;
  out.reserve(5 + locks.size() * kRecordSize);
  putLe(&out, kVersion, 1);
  putLe(&out, locks.size(), 4);
  for (const HeldLock& l : locks) {
    putLe(&out, l.owner.session, 8);
    putLe(&out, l.owner.id, 8);
    putLe(&out, static_cast<uint8_t>(l.owner.kind), 1);
    putLe(&out, static_cast<uint8_t>(l.type), 1);
    putLe(&out, l.range.start, 8);
    putLe(&out, l.range.end, 8);
    putLe(&out, l.pid, 4);
  }
  return out;
}

int LockTable::restoreInode(InodeId ino, const std::string& bytes) {
  if (bytes.size() < 5) return EINVAL;
  size_t pos = 0;
  if (getLe(bytes, &pos, 1) != kVersion) return EINVAL;
  uint64_t count = getLe(bytes, &pos, 4);
  if (bytes.size() != 5 + count * kRecordSize) return EINVAL;

  InodeLocks decoded;
  std::vector<HeldLock> order;
  for (uint64_t i = 0; i < count; ++i) {
    HeldLock l;
    l.owner.session = getLe(bytes, &pos, 8);
    l.owner.id = getLe(bytes, &pos, 8);
    uint64_t kind = getLe(bytes, &pos, 1);
    uint64_t type = getLe(bytes, &pos, 1);
    l.range.start = getLe(bytes, &pos, 8);
    l.range.end = getLe(bytes, &pos, 8);
    l.pid = static_cast<uint32_t>(getLe(bytes, &pos, 4));
    if (kind > 2 || type < 1 || type > 2) return EINVAL;
    l.owner.kind = static_cast<OwnerKind>(kind);
    l.type = static_cast<LockType>(type);
    if (!order.empty()) {
      const HeldLock& p = order.back();
      bool ascending = p.owner < l.owner || (p.owner == l.owner && p.range.start < l.range.start);
      if (!ascending) return EINVAL;  // not canonical
    }
    order.push_back(l);
    spaceFor(decoded, l.owner)
        .held[l.owner]
        .push_back(HeldRange{l.range.start, l.range.end, l.type, l.pid});
  }
  if (!heldViolation(decoded.record, false).empty() ||
      !heldViolation(decoded.flock, true).empty()) {
    return EINVAL;
  }
  auto it = inodes_.find(ino);
  std::set<uint64_t> sessions = sessionsOn(decoded, waiters_);
  if (it != inodes_.end()) {
    if (!it->second.record.queue.empty() || !it->second.flock.queue.empty()) return EBUSY;
    std::set<uint64_t> before = sessionsOn(it->second, waiters_);
    sessions.insert(before.begin(), before.end());
  }
  inodes_[ino] = std::move(decoded);
  tidy(ino, sessions);
  return 0;
}

}  // namespace basalt::meta
