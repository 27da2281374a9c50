#include <doctest/doctest.h>
#include <unistd.h>
#include <sys/syscall.h>

#include <algorithm>
#include <vector>

#include "fuse-client/request.h"

using namespace basalt::client;

TEST_CASE("the Groups line of a /proc status text is parsed") {
  CHECK(parseStatusGroups("Name:\tx\nUmask:\t0022\nGroups:\t4 24 27 1000 \nNStgid:\t1\n") ==
        std::vector<uint32_t>{4, 24, 27, 1000});
  CHECK(parseStatusGroups("Name:\tx\nGroups:\t\nNStgid:\t1\n").empty());
  CHECK(parseStatusGroups("Name:\tx\nGroups:\t7").size() == 1);  // cut at the end of the text
  CHECK(parseStatusGroups("Name:\tx\nUid:\t0\n").empty());
}

TEST_CASE("callerGroups reads this thread's supplementary groups as getgroups(2) sees them") {
  std::vector<gid_t> want(static_cast<size_t>(getgroups(0, nullptr)));
  REQUIRE(getgroups(static_cast<int>(want.size()), want.data()) == static_cast<int>(want.size()));
  auto got = callerGroups(static_cast<uint32_t>(syscall(SYS_gettid)));
  std::vector<uint32_t> w(want.begin(), want.end());
  std::sort(w.begin(), w.end());
  std::sort(got.begin(), got.end());
  CHECK(got == w);
  CHECK(callerGroups(0x7ffffff0u).empty());  // no such thread
}
