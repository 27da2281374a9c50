#include "meta/acl.h"

#include <cerrno>

#include "server/little_endian.h"

namespace basalt::meta {
namespace {

constexpr uint32_t kVersion = 2;
constexpr uint32_t kUndefinedId = 0xffffffff;

// The position of each tag in the required order.
int rank(uint16_t tag) {
  switch (tag) {
    case kAclUserObj: return 0;
    case kAclUser: return 1;
    case kAclGroupObj: return 2;
    case kAclGroup: return 3;
    case kAclMask: return 4;
    case kAclOther: return 5;
  }
  return -1;
}

bool named(uint16_t tag) { return tag == kAclUser || tag == kAclGroup; }

}  // namespace

Result<std::vector<AclEntry>> parseAcl(std::string_view value) {
  if (value.size() < 4) return Status::error(EINVAL, "ACL of " + std::to_string(value.size()) + " bytes");
  if (readLe32(value, 0) != kVersion) {
    return Status::error(EOPNOTSUPP, "ACL version " + std::to_string(readLe32(value, 0)) + " (only 2)");
  }
  if ((value.size() - 4) % 8 != 0) return Status::error(EINVAL, "ACL size " + std::to_string(value.size()) + " is not 4 + 8n");
  std::vector<AclEntry> acl;
  int seen[6] = {0, 0, 0, 0, 0, 0};
  int last = -1;
  uint32_t lastId = 0;
  for (size_t at = 4; at < value.size(); at += 8) {
    AclEntry e{static_cast<uint16_t>(readLe(value, at, 2)), static_cast<uint16_t>(readLe(value, at + 2, 2)),
               readLe32(value, at + 4)};
    int r = rank(e.tag);
    if (r < 0) return Status::error(EINVAL, "ACL entry with unknown tag " + std::to_string(e.tag));
    if (e.perm & ~7u) return Status::error(EINVAL, "ACL entry with permissions " + std::to_string(e.perm));
    if (r < last) return Status::error(EINVAL, "ACL entries out of order");
    if (named(e.tag)) {
      if (r == last && seen[r] > 0 && e.id <= lastId) return Status::error(EINVAL, "ACL names an id twice or out of order");
      lastId = e.id;
    } else {
      if (seen[r] > 0) return Status::error(EINVAL, "ACL has two entries of tag " + std::to_string(e.tag));
      e.id = kUndefinedId;
    }
    ++seen[r];
    last = r;
    acl.push_back(e);
  }
  if (acl.empty()) return acl;
  if (seen[0] != 1 || seen[2] != 1 || seen[5] != 1) {
    return Status::error(EINVAL, "ACL lacks its owner, group or other entry");
  }
  if ((seen[1] > 0 || seen[3] > 0) && seen[4] == 0) {
    return Status::error(EINVAL, "ACL with named users or groups needs a mask entry");
  }
  return acl;
}

std::string encodeAcl(const std::vector<AclEntry>& acl) {
  std::string out;
  appendLe(out, kVersion, 4);
  for (const auto& e : acl) {
    appendLe(out, e.tag, 2);
    appendLe(out, e.perm, 2);
    appendLe(out, named(e.tag) ? e.id : kUndefinedId, 4);
  }
  return out;
}

bool aclIsMinimal(const std::vector<AclEntry>& acl) {
  for (const auto& e : acl) {
    if (named(e.tag)) return false;
  }
  return true;
}

uint32_t aclModeBits(const std::vector<AclEntry>& acl) {
  uint32_t owner = 0, group = 0, other = 0, mask = 0;
  bool hasMask = false;
  for (const auto& e : acl) {
    if (e.tag == kAclUserObj) owner = e.perm;
    if (e.tag == kAclGroupObj) group = e.perm;
    if (e.tag == kAclOther) other = e.perm;
    if (e.tag == kAclMask) {
      mask = e.perm;
      hasMask = true;
    }
  }
  return owner << 6 | (hasMask ? mask : group) << 3 | other;
}

std::vector<AclEntry> aclChmod(std::vector<AclEntry> acl, uint32_t mode) {
  bool hasMask = false;
  for (const auto& e : acl) hasMask = hasMask || e.tag == kAclMask;
  for (auto& e : acl) {
    if (e.tag == kAclUserObj) e.perm = static_cast<uint16_t>((mode >> 6) & 7);
    if (e.tag == (hasMask ? kAclMask : kAclGroupObj)) e.perm = static_cast<uint16_t>((mode >> 3) & 7);
    if (e.tag == kAclOther) e.perm = static_cast<uint16_t>(mode & 7);
  }
  return acl;
}

}  // namespace basalt::meta
