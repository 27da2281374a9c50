#include <doctest/doctest.h>

#include "fuse-client/mount_options.h"

using namespace basalt::client;

namespace {
bool has(const std::vector<std::string>& v, const std::string& s) {
  for (const auto& x : v) {
    if (x == s) return true;
  }
  return false;
}
}  // namespace

TEST_CASE("defaults: fsname and subtype are set, cache timeouts 60 s (changes are pushed), deadline 60 s") {
  auto r = parseMountArgs({"127.0.0.1:7000", "/mnt/b"}, false, "host");
  REQUIRE(r.isOk());
  CHECK(r->metaAddress == "127.0.0.1:7000");
  CHECK(r->mountpoint == "/mnt/b");
  CHECK_FALSE(r->foreground);
  CHECK(r->attrTimeout == 60.0);
  CHECK(r->entryTimeout == 60.0);
  CHECK(r->timeoutSec == 60.0);
  CHECK(r->rpcTimeoutMs == 5000);
  CHECK(r->clientName == "host:/mnt/b");
  CHECK(r->lockDelegation);
  CHECK(r->spinUs == 20);
  CHECK(has(r->fuseOptions, "fsname=basalt:127.0.0.1:7000"));
  CHECK(has(r->fuseOptions, "subtype=basalt"));
  CHECK_FALSE(has(r->fuseOptions, "allow_other"));
}

TEST_CASE("Basalt's options are consumed and FUSE options pass through") {
  auto r = parseMountArgs({"h:1", "/m", "-o", "attr_timeout=2.5,entry_timeout=0,ro,allow_other",
                           "-otimeout=7,rpc_timeout_ms=250,name=c1,default_permissions,lock_delegation=0,spin_us=0", "-f"},
                          false, "host");
  REQUIRE(r.isOk());
  CHECK(r->attrTimeout == 2.5);
  CHECK(r->entryTimeout == 0.0);
  CHECK(r->timeoutSec == 7.0);
  CHECK(r->rpcTimeoutMs == 250);
  CHECK(r->clientName == "c1");
  CHECK_FALSE(r->lockDelegation);
  CHECK(r->spinUs == 0);
  CHECK_FALSE(has(r->fuseOptions, "lock_delegation=0"));
  CHECK(r->foreground);
  CHECK(r->readOnly);
  CHECK(has(r->fuseOptions, "ro"));
  CHECK(has(r->fuseOptions, "allow_other"));
  CHECK(has(r->fuseOptions, "default_permissions"));
  CHECK_FALSE(has(r->fuseOptions, "attr_timeout=2.5"));
  CHECK_FALSE(has(r->fuseOptions, "name=c1"));
  auto argv = fuseArgs(*r);
  REQUIRE(argv.size() == 3);
  CHECK(argv[1] == "-o");
  CHECK(argv[2].find("timeout") == std::string::npos);
}

TEST_CASE("root mounts add allow_other once; an explicit fsname is kept") {
  auto r = parseMountArgs({"h:1", "/m", "-o", "fsname=mine"}, true, "host");
  REQUIRE(r.isOk());
  CHECK(has(r->fuseOptions, "allow_other"));
  CHECK(has(r->fuseOptions, "fsname=mine"));
  CHECK_FALSE(has(r->fuseOptions, "fsname=basalt:h:1"));
  auto twice = parseMountArgs({"h:1", "/m", "-o", "allow_other"}, true, "host");
  int n = 0;
  for (const auto& o : twice->fuseOptions) n += o == "allow_other";
  CHECK(n == 1);
}

TEST_CASE("-d means foreground with debug logging") {
  auto r = parseMountArgs({"-d", "h:1", "/m"}, false, "host");
  REQUIRE(r.isOk());
  CHECK(r->foreground);
  CHECK(r->logLevel == "debug");
  CHECK(has(r->fuseOptions, "debug"));
}

TEST_CASE("bad command lines are rejected with a message") {
  CHECK_FALSE(parseMountArgs({"h:1"}, false, "x").isOk());
  CHECK_FALSE(parseMountArgs({"h:1", "/m", "/extra"}, false, "x").isOk());
  CHECK_FALSE(parseMountArgs({"nohostport", "/m"}, false, "x").isOk());
  CHECK_FALSE(parseMountArgs({"h:99999", "/m"}, false, "x").isOk());
  CHECK_FALSE(parseMountArgs({"h:1", "/m", "-o", "attr_timeout=abc"}, false, "x").isOk());
  CHECK_FALSE(parseMountArgs({"h:1", "/m", "-o", "timeout=0"}, false, "x").isOk());
  CHECK_FALSE(parseMountArgs({"h:1", "/m", "-o", "rpc_timeout_ms=-5"}, false, "x").isOk());
  CHECK_FALSE(parseMountArgs({"h:1", "/m", "-o"}, false, "x").isOk());
  CHECK_FALSE(parseMountArgs({"h:1", "/m", "-o", "lock_delegation=yes"}, false, "x").isOk());
  CHECK_FALSE(parseMountArgs({"h:1", "/m", "-o", "spin_us=5000"}, false, "x").isOk());
  CHECK_FALSE(parseMountArgs({"h:1", "/m", "-x"}, false, "x").isOk());
  auto r = parseMountArgs({"h:1", "/m", "-o", "entry_timeout=x"}, false, "x");
  CHECK(r.status().message().find("entry_timeout=x") != std::string::npos);
}

TEST_CASE("--help asks for the usage") {
  auto r = parseMountArgs({"--help"}, false, "x");
  REQUIRE(r.isOk());
  CHECK(r->showHelp);
}
