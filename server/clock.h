// Wall-clock time for timestamps the leader puts into commands. An interface so tests can use a
// fixed, manual clock. (Deadlines and leases use kj::Timer, which is monotonic.)
// Thread-safety: SystemClock is; ManualClock is not.
#pragma once

#include <cstdint>

namespace basalt {

struct WallTime {
  int64_t sec = 0;
  uint32_t nsec = 0;
};

class Clock {
 public:
  virtual ~Clock() = default;
  virtual WallTime now() = 0;
};

class SystemClock final : public Clock {
 public:
  WallTime now() override;
};

class ManualClock final : public Clock {
 public:
  explicit ManualClock(WallTime start) : now_(start) {}
  WallTime now() override { return now_; }
  void advance(int64_t nanos);

 private:
  WallTime now_;
};

}  // namespace basalt
