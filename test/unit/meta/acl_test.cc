// POSIX access ACLs: parsing, and what setxattr/chmod do with them (as Linux: meta/acl.h).
#include "meta/acl.h"
#include "test/unit/meta/test_util.h"

using namespace basalt::meta;
using namespace basalt::meta::test;

namespace {
struct E {
  uint16_t tag, perm;
  uint32_t id;
};
std::string acl(std::initializer_list<E> entries) {
  std::string v = {2, 0, 0, 0};
  for (const auto& e : entries) {
    for (int i = 0; i < 2; ++i) v.push_back(static_cast<char>(e.tag >> (8 * i)));
    for (int i = 0; i < 2; ++i) v.push_back(static_cast<char>(e.perm >> (8 * i)));
    for (int i = 0; i < 4; ++i) v.push_back(static_cast<char>(e.id >> (8 * i)));
  }
  return v;
}
constexpr uint32_t kU = 0xffffffff;
// u::rw-, g::r--, o::r-- (what cp -a sets for a 0644 file).
const std::string kMinimal644 = acl({{kAclUserObj, 6, kU}, {kAclGroupObj, 4, kU}, {kAclOther, 4, kU}});
// u::rw-, u:1000:r--, g::r--, m::rw-, o::---
const std::string kNamed = acl({{kAclUserObj, 6, kU}, {kAclUser, 4, 1000}, {kAclGroupObj, 4, kU},
                                {kAclMask, 6, kU}, {kAclOther, 0, kU}});
}  // namespace

TEST_CASE("ACL values are validated as Linux does") {
  CHECK(parseAcl(kMinimal644).isOk());
  CHECK(parseAcl(kNamed).isOk());
  CHECK(parseAcl(acl({})).isOk());  // empty: no ACL
  CHECK(parseAcl("abc").status().code() == EINVAL);
  CHECK(parseAcl(std::string{3, 0, 0, 0}).status().code() == EOPNOTSUPP);
  CHECK(parseAcl(kMinimal644 + "x").status().code() == EINVAL);
  // out of order, missing other, named user without mask, duplicate id, bad perm
  CHECK(parseAcl(acl({{kAclGroupObj, 4, kU}, {kAclUserObj, 6, kU}, {kAclOther, 4, kU}})).status().code() == EINVAL);
  CHECK(parseAcl(acl({{kAclUserObj, 6, kU}, {kAclGroupObj, 4, kU}})).status().code() == EINVAL);
  CHECK(parseAcl(acl({{kAclUserObj, 6, kU}, {kAclUser, 4, 5}, {kAclGroupObj, 4, kU}, {kAclOther, 4, kU}}))
            .status().code() == EINVAL);
  CHECK(parseAcl(acl({{kAclUserObj, 6, kU}, {kAclUser, 4, 5}, {kAclUser, 4, 5}, {kAclGroupObj, 4, kU},
                      {kAclMask, 4, kU}, {kAclOther, 4, kU}})).status().code() == EINVAL);
  CHECK(parseAcl(acl({{kAclUserObj, 9, kU}, {kAclGroupObj, 4, kU}, {kAclOther, 4, kU}})).status().code() == EINVAL);
  // ids of the unnamed entries are canonical after a round trip
  auto odd = parseAcl(acl({{kAclUserObj, 6, 7}, {kAclGroupObj, 4, 8}, {kAclOther, 4, 9}}));
  REQUIRE(odd.isOk());
  CHECK(encodeAcl(*odd) == kMinimal644);
}

TEST_CASE("mode bits from an ACL: group from the mask when there is one; chmod rewrites the ACL") {
  auto a = parseAcl(kNamed);
  REQUIRE(a.isOk());
  CHECK_FALSE(aclIsMinimal(*a));
  CHECK(aclModeBits(*a) == 0660);
  auto after = aclChmod(*a, 0751);
  CHECK(aclModeBits(after) == 0751);
  CHECK(after[1].perm == 4);  // the named entry keeps its permissions
  CHECK(after[2].perm == 4);  // GROUP_OBJ is masked, not changed
}

namespace {
void publicRoot(Fixture& f) {
  REQUIRE(code(f.setAttr(kRootIno, [](auto s) {
    s.setValid(basalt::rpc::SET_MODE);
    s.setMode(0777);
  })) == 0);
}
}  // namespace

TEST_CASE("setting a minimal access ACL sets the mode and stores nothing (cp -a)") {
  Fixture f;
  publicRoot(f);
  uint64_t ino = inoOf(f.file(kRootIno, "f", 0600, kAlice));
  REQUIRE(code(f.setXattr(ino, "system.posix_acl_access", kMinimal644, 0, kAlice)) == 0);
  CHECK((f.inode(ino).mode & 07777) == 0644);
  CHECK(getXattr(*f.store, kAlice, ino, "system.posix_acl_access").status().code() == ENODATA);
  CHECK(code(f.setXattr(ino, "system.posix_acl_access", kMinimal644, 0, kBob)) == EPERM);
  CHECK(code(f.setXattr(ino, "system.posix_acl_access", "ab", 0, kAlice)) == EINVAL);
  f.expectClean();
}

TEST_CASE("a full access ACL is stored and sets the group bits from its mask; chmod updates it") {
  Fixture f;
  publicRoot(f);
  uint64_t ino = inoOf(f.file(kRootIno, "f", 0600, kAlice));
  REQUIRE(code(f.setXattr(ino, "system.posix_acl_access", kNamed, 0, kAlice)) == 0);
  CHECK((f.inode(ino).mode & 07777) == 0660);
  auto stored = getXattr(*f.store, kAlice, ino, "system.posix_acl_access");
  REQUIRE(stored.isOk());
  CHECK(*stored == kNamed);
  REQUIRE(code(f.setAttr(ino, [](auto s) {
    s.setValid(basalt::rpc::SET_MODE);
    s.setMode(0640);
  }, kAlice)) == 0);
  auto after = parseAcl(*getXattr(*f.store, kAlice, ino, "system.posix_acl_access"));
  REQUIRE(after.isOk());
  CHECK(aclModeBits(*after) == 0640);
  f.expectClean();
}

TEST_CASE("a default ACL is for directories only") {
  Fixture f;
  uint64_t file = inoOf(f.file(kRootIno, "f"));
  uint64_t dir = inoOf(f.mkdir(kRootIno, "d"));
  CHECK(code(f.setXattr(file, "system.posix_acl_default", kMinimal644)) == EACCES);
  CHECK(code(f.setXattr(dir, "system.posix_acl_default", kMinimal644)) == 0);
  CHECK(getXattr(*f.store, kRoot, dir, "system.posix_acl_default").isOk());
  CHECK((f.inode(dir).mode & 07777) == 0755);  // a default ACL does not touch the mode
}
