#include <doctest/doctest.h>

#include <algorithm>
#include <set>

#include "meta/placement/move_plan.h"

using basalt::meta::ByteThrottle;
using basalt::meta::Move;
using basalt::meta::PlacementRing;
using basalt::meta::planMove;
using basalt::meta::scheduleWork;

namespace {
constexpr int kChunks = 5000;

PlacementRing ringOf(std::initializer_list<uint32_t> ids) {
  PlacementRing ring;
  for (uint32_t id : ids) ring.addServer(id, "", 1.0);
  return ring;
}

bool allUsable(uint32_t) { return true; }

bool has(const std::vector<uint32_t>& v, uint32_t x) { return std::find(v.begin(), v.end(), x) != v.end(); }

// Applies planned moves until none is left (as the rebalancer does, one step at a time); returns
// how many kAdd steps it took in total.
size_t settle(const PlacementRing& ring, std::vector<std::vector<uint32_t>>& sets, int r) {
  size_t adds = 0;
  for (size_t c = 0; c < sets.size(); ++c) {
    for (int step = 0; step < 10; ++step) {
      Move m = planMove(ring, c + 1, sets[c], r, allUsable);
      if (m.kind == Move::Kind::kNone) break;
      if (m.kind == Move::Kind::kAdd) {
        REQUIRE(!has(sets[c], m.to));
        sets[c].push_back(m.to);
        ++adds;
      } else {
        REQUIRE(sets[c].size() > static_cast<size_t>(r));  // a trim never goes below r replicas
        sets[c].erase(std::find(sets[c].begin(), sets[c].end(), m.from));
      }
    }
  }
  return adds;
}
}  // namespace

TEST_CASE("a chunk where the ring puts it does not move") {
  PlacementRing ring = ringOf({1, 2, 3, 4});
  for (uint64_t c = 1; c <= 1000; ++c) {
    CHECK(planMove(ring, c, ring.place(c, 2), 2, allUsable).kind == Move::Kind::kNone);
  }
}

TEST_CASE("when a 5th server joins only the chunks whose placement changed move, about 1/5, all to it") {
  PlacementRing before = ringOf({1, 2, 3, 4});
  PlacementRing after = ringOf({1, 2, 3, 4, 5});
  std::vector<std::vector<uint32_t>> sets;
  for (uint64_t c = 1; c <= kChunks; ++c) sets.push_back(before.place(c, 2));
  size_t moving = 0;
  for (uint64_t c = 1; c <= kChunks; ++c) {
    Move m = planMove(after, c, sets[c - 1], 2, allUsable);
    if (m.kind == Move::Kind::kNone) continue;
    ++moving;
    CHECK(m.kind == Move::Kind::kAdd);
    CHECK(m.to == 5);                        // only the new server receives
    CHECK(has(sets[c - 1], m.from));
    CHECK(!has(after.place(c, 2), m.from));  // what leaves is what the ring no longer names
  }
  size_t adds = settle(after, sets, 2);
  CHECK(adds == moving);  // one replica per moving chunk
  double fraction = static_cast<double>(adds) / (2.0 * kChunks);
  CHECK(fraction > 0.15);
  CHECK(fraction < 0.25);
  for (uint64_t c = 1; c <= kChunks; ++c) {
    std::set<uint32_t> got(sets[c - 1].begin(), sets[c - 1].end()), want;
    for (uint32_t id : after.place(c, 2)) want.insert(id);
    CHECK(got == want);
  }
}

TEST_CASE("a server leaving the ring (drained) has every chunk moved off it, to the others") {
  PlacementRing full = ringOf({1, 2, 3, 4, 5});
  PlacementRing drained = ringOf({1, 2, 3, 4});  // #5 is draining: out of the ring, still usable
  std::vector<std::vector<uint32_t>> sets;
  size_t onFive = 0;
  for (uint64_t c = 1; c <= kChunks; ++c) {
    sets.push_back(full.place(c, 2));
    onFive += has(sets.back(), 5);
  }
  size_t adds = settle(drained, sets, 2);
  CHECK(adds == onFive);  // exactly the chunks it held move, one replica each
  for (const auto& s : sets) {
    CHECK(s.size() == 2);
    CHECK(!has(s, 5));
  }
  // New chunks are never placed on it.
  for (uint64_t c = kChunks + 1; c <= kChunks + 2000; ++c) CHECK(!has(drained.place(c, 2), 5));
}

TEST_CASE("a chunk with a replica on an unusable server or too few replicas is left to the repair loop") {
  PlacementRing ring = ringOf({1, 2, 3, 4, 5});
  uint64_t c = 7;
  std::vector<uint32_t> want = ring.place(c, 2);
  std::vector<uint32_t> misplaced;
  for (uint32_t id = 1; id <= 5 && misplaced.size() < 2; ++id) {
    if (!has(want, id)) misplaced.push_back(id);
  }
  REQUIRE(planMove(ring, c, misplaced, 2, allUsable).kind == Move::Kind::kAdd);
  uint32_t down = misplaced[1];
  CHECK(planMove(ring, c, misplaced, 2, [down](uint32_t id) { return id != down; }).kind == Move::Kind::kNone);
  CHECK(planMove(ring, c, {misplaced[0]}, 2, allUsable).kind == Move::Kind::kNone);
}

TEST_CASE("no move when the ring has fewer servers than the replication") {
  PlacementRing ring = ringOf({1});
  CHECK(planMove(ring, 3, {2, 3}, 2, allUsable).kind == Move::Kind::kNone);
}

TEST_CASE("an over-replicated chunk whose ring servers all hold it is trimmed of the misplaced one") {
  PlacementRing ring = ringOf({1, 2, 3, 4});
  uint64_t c = 11;
  std::vector<uint32_t> set = ring.place(c, 2);
  uint32_t extra = 0;
  for (uint32_t id = 1; id <= 4; ++id) {
    if (!has(set, id)) extra = id;
  }
  set.push_back(extra);
  Move m = planMove(ring, c, set, 2, allUsable);
  CHECK(m.kind == Move::Kind::kTrim);
  CHECK(m.from == extra);
}

TEST_CASE("repairs take priority: no move starts while a repair waits for a slot") {
  // 6 repairs waiting, 4 slots: 4 repairs start, no move.
  auto s = scheduleWork(6, 10, 0, 0, 4, 2);
  CHECK(s.repairs == 4);
  CHECK(s.moves == 0);
  // Repair slots all busy and one still waiting: nothing starts.
  s = scheduleWork(1, 10, 4, 0, 4, 2);
  CHECK(s.repairs == 0);
  CHECK(s.moves == 0);
  // Every waiting repair started: moves fill their own slots.
  s = scheduleWork(2, 10, 1, 1, 4, 2);
  CHECK(s.repairs == 2);
  CHECK(s.moves == 1);
  s = scheduleWork(0, 10, 0, 0, 4, 2);
  CHECK(s.moves == 2);
  s = scheduleWork(0, 1, 0, 0, 4, 2);
  CHECK(s.moves == 1);
}

TEST_CASE("the move throttle bounds bytes per second and still lets a large chunk through") {
  ByteThrottle t(10 << 20);  // 10 MiB/s
  CHECK(t.tryTake(4 << 20, 0));
  CHECK(t.tryTake(4 << 20, 0));
  CHECK(t.tryTake(4 << 20, 0));   // into debt: -2 MiB
  CHECK(!t.tryTake(1, 0));
  CHECK(!t.tryTake(1, 100));      // +1 MiB: still -1 MiB
  CHECK(t.tryTake(64 << 20, 300));  // +3 MiB: out of debt; a 64 MiB chunk may go
  CHECK(!t.tryTake(1, 5000));     // paid back only after 6.4 s
  CHECK(t.tryTake(1, 7000));
  ByteThrottle unlimited(0);
  for (int i = 0; i < 100; ++i) CHECK(unlimited.tryTake(1ull << 30, 0));
}
