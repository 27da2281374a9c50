#include "server/clock.h"

#include <time.h>

namespace basalt {

WallTime SystemClock::now() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return WallTime{ts.tv_sec, static_cast<uint32_t>(ts.tv_nsec)};
}

void ManualClock::advance(int64_t nanos) {
  int64_t total = static_cast<int64_t>(now_.nsec) + nanos;
  now_.sec += total / 1000000000;
  total %= 1000000000;
  if (total < 0) {
    total += 1000000000;
    now_.sec -= 1;
  }
  now_.nsec = static_cast<uint32_t>(total);
}

}  // namespace basalt
