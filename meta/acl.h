// POSIX access ACLs (system.posix_acl_access) as Linux treats them, so that `cp -a`, `setfacl` and
// `chmod` give the same modes and ACLs as on ext4 (fs/posix_acl.c):
//  - setting an ACL sets the mode's permission bits from it (owner from USER_OBJ, group from MASK
//    if present else GROUP_OBJ, other from OTHER); an ACL with no named users or groups says no
//    more than the mode and is not stored;
//  - chmod of a file that has an ACL rewrites the ACL's USER_OBJ, MASK (or GROUP_OBJ) and OTHER.
// The value is the kernel's xattr form: u32 version 2, then entries {u16 tag, u16 perm, u32 id},
// all little-endian, ordered USER_OBJ, USER (ascending ids), GROUP_OBJ, GROUP (ascending), MASK,
// OTHER. Pure functions; no store access.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "server/status.h"

namespace basalt::meta {

struct AclEntry {
  uint16_t tag = 0;
  uint16_t perm = 0;
  uint32_t id = 0;
};

enum AclTag : uint16_t {
  kAclUserObj = 0x01,
  kAclUser = 0x02,
  kAclGroupObj = 0x04,
  kAclGroup = 0x08,
  kAclMask = 0x10,
  kAclOther = 0x20,
};

// Parses and validates an ACL value (EINVAL for a malformed or misordered one, EOPNOTSUPP for
// another version). An empty list is a valid "no ACL".
Result<std::vector<AclEntry>> parseAcl(std::string_view value);
// The canonical value (ids of the *_OBJ, MASK and OTHER entries as 0xffffffff).
std::string encodeAcl(const std::vector<AclEntry>& acl);
// True when the ACL has no named user or group entries (it says no more than a mode).
bool aclIsMinimal(const std::vector<AclEntry>& acl);
// The 0777 permission bits the ACL gives the mode.
uint32_t aclModeBits(const std::vector<AclEntry>& acl);
// The ACL after chmod to `mode`.
std::vector<AclEntry> aclChmod(std::vector<AclEntry> acl, uint32_t mode);

}  // namespace basalt::meta
