#include <doctest/doctest.h>

#include <fuse3/fuse_lowlevel.h>

#include <string>

#include "fuse-client/ops.h"

using basalt::client::ops::minimalAclPermissions;

namespace {
// posix_acl_xattr: u32 version 2, then {u16 tag, u16 perm, u32 id} entries, little-endian.
std::string acl(std::initializer_list<std::pair<uint16_t, uint16_t>> entries) {
  std::string v = {2, 0, 0, 0};
  for (auto [tag, perm] : entries) {
    v += static_cast<char>(tag & 0xff);
    v += static_cast<char>(tag >> 8);
    v += static_cast<char>(perm);
    v += '\0';
    v += std::string("\xff\xff\xff\xff", 4);
  }
  return v;
}
}  // namespace

TEST_CASE("a minimal access ACL is recognised with its mode bits") {
  uint32_t perm = 0;
  CHECK(minimalAclPermissions(acl({{0x01, 6}, {0x04, 4}, {0x20, 4}}), &perm));
  CHECK(perm == 0644);
  CHECK(minimalAclPermissions(acl({{0x01, 7}, {0x04, 5}, {0x20, 0}}), &perm));
  CHECK(perm == 0750);
}

TEST_CASE("anything more than owner, group and other is not minimal") {
  uint32_t perm = 0;
  CHECK_FALSE(minimalAclPermissions(acl({{0x01, 6}, {0x02, 4}, {0x04, 4}, {0x10, 4}, {0x20, 4}}), &perm));
  CHECK_FALSE(minimalAclPermissions(acl({{0x01, 6}, {0x04, 4}}), &perm));
  CHECK_FALSE(minimalAclPermissions(acl({{0x04, 6}, {0x01, 4}, {0x20, 4}}), &perm));  // out of order
  CHECK_FALSE(minimalAclPermissions(acl({{0x01, 9}, {0x04, 4}, {0x20, 4}}), &perm));  // bad perm
  std::string v1 = acl({{0x01, 6}, {0x04, 4}, {0x20, 4}});
  v1[0] = 1;  // unknown version
  CHECK_FALSE(minimalAclPermissions(v1, &perm));
  CHECK_FALSE(minimalAclPermissions("", &perm));
}
