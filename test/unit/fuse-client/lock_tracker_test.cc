#include "fuse-client/lock_tracker.h"

#include <doctest/doctest.h>

using namespace basalt::client;

TEST_CASE("locks taken under a session that was replaced are reported lost until the last close") {
  LockTracker t;
  CHECK(!t.mayHold(5));
  t.noteLocked(5, 100);
  CHECK(t.mayHold(5));
  CHECK(!t.lostUnder(5, 100));
  CHECK(t.lostUnder(5, 200) == 100u);
  t.noteLocked(5, 200);  // a later grant under the new session does not hide the loss
  CHECK(t.lostUnder(5, 200) == 100u);
  CHECK(!t.lostUnder(6, 200));
  t.forget(5);
  CHECK(!t.mayHold(5));
  CHECK(!t.lostUnder(5, 200));
  CHECK(t.newWaiter() != t.newWaiter());
}
