#include "fuse-client/idle_spin.h"

#include <doctest/doctest.h>

using namespace basalt::client;
using std::chrono::microseconds;

TEST_CASE("the mount polls while polling catches requests, and stops after a run of misses") {
  IdleSpin s(20);
  CHECK(s.budget().count() == 0);  // nothing seen yet: sleep
  s.wokeAfter(microseconds(500));  // a slow caller: polling would not have caught it
  CHECK(s.budget().count() == 0);
  s.wokeAfter(microseconds(5));  // a caller that comes back at once
  CHECK(s.budget() == microseconds(20));
  for (int i = 0; i < IdleSpin::kCredits - 1; ++i) s.missed();
  CHECK(s.budget() == microseconds(20));
  s.caught();  // a catch restores the credits
  for (int i = 0; i < IdleSpin::kCredits - 1; ++i) s.missed();
  CHECK(s.budget() == microseconds(20));
  s.missed();
  CHECK(s.budget().count() == 0);  // idle now: no more polling
  s.missed();
  CHECK(s.budget().count() == 0);
}

TEST_CASE("spin_us=0 never polls") {
  IdleSpin s(0);
  s.wokeAfter(microseconds(0));  // wake-ups never arm a zero window
  CHECK(s.budget().count() == 0);
}
