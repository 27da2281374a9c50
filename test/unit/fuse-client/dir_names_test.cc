#include <doctest/doctest.h>

#include "fuse-client/dir_names.h"

using namespace basalt::client;

TEST_CASE("a directory this mount made is known in full until it is forgotten") {
  DirNames n;
  CHECK_FALSE(n.knownAbsent(5, "a", 0));  // never made here: ask the server
  n.madeEmpty(5, 1000, 0755);
  CHECK(n.knownAbsent(5, "a", 0));
  n.added(5, "a");
  CHECK_FALSE(n.knownAbsent(5, "a", 0));
  CHECK(n.knownAbsent(5, "b", 0));
  n.removed(5, "a");
  CHECK(n.knownAbsent(5, "a", 0));
  // "." and ".." are never answered here.
  CHECK_FALSE(n.knownAbsent(5, ".", 0));
  CHECK_FALSE(n.knownAbsent(5, "..", 0));
  n.forget(5);
  CHECK_FALSE(n.knownAbsent(5, "a", 0));
  // Names added to a directory not known in full are not recorded.
  n.added(5, "c");
  CHECK(n.entries() == 0);
}

TEST_CASE("only root and the owner with search permission are answered without the server") {
  DirNames n;
  n.madeEmpty(7, 1000, 0700);
  CHECK(n.knownAbsent(7, "x", 0));
  CHECK(n.knownAbsent(7, "x", 1000));
  CHECK_FALSE(n.knownAbsent(7, "x", 1001));  // group and others: the server decides (groups, ACLs)
  n.madeEmpty(8, 1000, 0600);               // no search permission for the owner
  CHECK_FALSE(n.knownAbsent(8, "x", 1000));
  CHECK(n.knownAbsent(8, "x", 0));
}

TEST_CASE("directory names stay within their budget") {
  DirNames n(4);
  n.madeEmpty(1, 0, 0755);
  n.added(1, "a");
  n.added(1, "b");
  n.madeEmpty(2, 0, 0755);
  CHECK(n.entries() == 4);
  n.added(2, "c");  // does not fit: directory 2 is forgotten
  CHECK_FALSE(n.knownAbsent(2, "d", 0));
  CHECK(n.entries() == 3);
  n.madeEmpty(3, 0, 0755);  // fits again
  CHECK(n.knownAbsent(3, "e", 0));
  n.madeEmpty(4, 0, 0755);  // does not fit: not recorded
  CHECK_FALSE(n.knownAbsent(4, "e", 0));
  n.madeEmpty(1, 0, 0755);  // made again (a reused number): starts empty
  CHECK(n.knownAbsent(1, "a", 0));
  CHECK(n.entries() == 2);
  n.forgetAll();
  CHECK(n.entries() == 0);
  CHECK(n.directories() == 0);
}

TEST_CASE("this mount's own chmod or chown of a known directory keeps its names, with the new owner and mode") {
  DirNames n;
  n.madeEmpty(7, 1000, 0700);
  n.added(7, "a");
  n.attrsChanged(7, 1000, 0755);  // rsync: mkdir 0700, then the source's mode
  CHECK(n.knownAbsent(7, "x", 1000));
  CHECK_FALSE(n.knownAbsent(7, "a", 1000));
  n.attrsChanged(7, 1000, 0600);  // the owner took away its own search permission
  CHECK_FALSE(n.knownAbsent(7, "x", 1000));
  CHECK(n.knownAbsent(7, "x", 0));
  n.attrsChanged(7, 2000, 0700);  // chown: the old owner is asked at the server
  CHECK_FALSE(n.knownAbsent(7, "x", 1000));
  CHECK(n.knownAbsent(7, "x", 2000));
  n.attrsChanged(9, 0, 0777);  // not known: stays unknown
  CHECK_FALSE(n.knownAbsent(9, "x", 0));
}
