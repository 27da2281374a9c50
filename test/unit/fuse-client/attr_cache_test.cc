#include <doctest/doctest.h>

#include "fuse-client/attr_cache.h"

using namespace basalt::client;

TEST_CASE("xattr answers are cached only for caller-independent names") {
  AttrCache c;
  CHECK(AttrCache::cacheableXattr("security.capability"));
  CHECK(AttrCache::cacheableXattr("system.posix_acl_access"));
  CHECK_FALSE(AttrCache::cacheableXattr("user.mime"));     // needs read permission
  CHECK_FALSE(AttrCache::cacheableXattr("trusted.x"));     // root only
  CHECK_FALSE(AttrCache::cacheableXattr("security." + std::string(300, 'a')));  // ERANGE
  c.putXattr(5, "user.mime", std::string("x"), c.epoch());
  CHECK(c.getXattr(5, "user.mime") == nullptr);
  c.putXattr(5, "security.capability", std::nullopt, c.epoch());
  REQUIRE(c.getXattr(5, "security.capability") != nullptr);
  CHECK_FALSE(c.getXattr(5, "security.capability")->has_value());
  c.putXattr(5, "system.posix_acl_access", std::string("acl"), c.epoch());
  CHECK(**c.getXattr(5, "system.posix_acl_access") == "acl");
  CHECK(c.getXattr(5, "security.selinux") == nullptr);  // never asked: unknown
}

TEST_CASE("a new inode has no xattrs; dropping it forgets that") {
  AttrCache c;
  c.putNoXattrs(7);
  REQUIRE(c.getXattr(7, "security.capability") != nullptr);
  CHECK_FALSE(c.getXattr(7, "security.capability")->has_value());
  CHECK(c.getXattr(7, "user.x") == nullptr);  // not cacheable: still asked
  c.drop(7);
  CHECK(c.getXattr(7, "security.capability") == nullptr);
  c.putNoXattrs(7);
  c.dropAll();
  CHECK(c.getXattr(7, "security.capability") == nullptr);
}

TEST_CASE("an answer fetched while something was dropped is not kept") {
  AttrCache c;
  uint64_t before = c.epoch();
  c.drop(9);  // e.g. this client's setxattr on 9 completed while the getxattr was out
  c.putXattr(9, "security.capability", std::string("old"), before);
  CHECK(c.getXattr(9, "security.capability") == nullptr);
  c.putXattr(9, "security.capability", std::string("new"), c.epoch());
  CHECK(**c.getXattr(9, "security.capability") == "new");
}

TEST_CASE("large values are not cached") {
  AttrCache c;
  c.putXattr(3, "security.big", std::string(5000, 'v'), c.epoch());
  CHECK(c.getXattr(3, "security.big") == nullptr);
}

TEST_CASE("an inode is known to have no xattrs only while nothing cacheable was found on it") {
  AttrCache c;
  CHECK_FALSE(c.knownWithoutXattrs(7));
  c.putNoXattrs(7);
  CHECK(c.knownWithoutXattrs(7));
  c.putXattr(7, "security.capability", std::nullopt, c.epoch());  // asked again: still none
  CHECK(c.knownWithoutXattrs(7));
  c.putXattr(7, "system.posix_acl_access", std::string("acl"), c.epoch());
  CHECK_FALSE(c.knownWithoutXattrs(7));
  c.drop(7);
  CHECK_FALSE(c.knownWithoutXattrs(7));
  c.putXattr(8, "security.capability", std::nullopt, c.epoch());  // one name: not the whole list
  CHECK_FALSE(c.knownWithoutXattrs(8));
}
