#include <doctest/doctest.h>

#include <random>
#include <set>
#include <vector>

#include "fuse-client/write_ranges.h"

using namespace basalt::client;

namespace {
std::set<uint64_t> overlapping(const WriteRanges& r, uint64_t start, uint64_t end) {
  std::set<uint64_t> ids;
  r.forOverlapping(start, end, [&ids](uint64_t id) { ids.insert(id); });
  return ids;
}
}  // namespace

TEST_CASE("overlap queries find exactly the ranges that intersect") {
  WriteRanges r;
  r.add(1, 0, 4096);
  r.add(2, 8192, 12288);
  r.add(3, 4096, 1 << 20);  // a long one starting early
  CHECK(overlapping(r, 4096, 8192) == std::set<uint64_t>{3});
  CHECK(overlapping(r, 0, 1) == std::set<uint64_t>{1});
  CHECK(overlapping(r, 500000, 500001) == std::set<uint64_t>{3});
  CHECK(overlapping(r, 1 << 20, 2 << 20).empty());
  CHECK(overlapping(r, 5, 5).empty());
  CHECK(r.maxEnd() == (1u << 20));
  r.remove(3, 4096);
  CHECK(overlapping(r, 500000, 500001).empty());
  CHECK(r.maxEnd() == 12288);
  r.remove(1, 0);
  r.remove(2, 8192);
  CHECK(r.empty());
  CHECK(r.maxEnd() == 0);
}

TEST_CASE("random ranges: the index agrees with a linear scan") {
  std::mt19937_64 rng(7);
  WriteRanges r;
  struct R { uint64_t id, start, end; };
  std::vector<R> live;
  for (uint64_t id = 1; id < 3000; ++id) {
    if (!live.empty() && rng() % 3 == 0) {
      size_t i = rng() % live.size();
      r.remove(live[i].id, live[i].start);
      live.erase(live.begin() + static_cast<long>(i));
    }
    uint64_t start = rng() % (64 << 20), len = 1 + rng() % (1 << 20);
    r.add(id, start, start + len);
    live.push_back({id, start, start + len});
    uint64_t qs = rng() % (64 << 20), qe = qs + 1 + rng() % 65536;
    std::set<uint64_t> expect;
    uint64_t maxEnd = 0;
    for (const auto& l : live) {
      if (l.start < qe && qs < l.end) expect.insert(l.id);
      maxEnd = std::max(maxEnd, l.end);
    }
    REQUIRE(overlapping(r, qs, qe) == expect);
    REQUIRE(r.maxEnd() == maxEnd);
  }
}
