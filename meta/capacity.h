// Where statfs(2)'s capacity numbers come from. For now the data dir's file system
// (StatvfsCapacity); the data path will replace it with the sum over chunk servers.
// Thread-safety: implementations are called on the loop thread only.
#pragma once

#include <cstdint>
#include <string>

#include "server/status.h"

namespace basalt::meta {

struct Capacity {
  uint32_t blockSize = 4096;
  uint64_t blocks = 0;
  uint64_t blocksFree = 0;
  uint64_t blocksAvail = 0;
};

class CapacitySource {
 public:
  virtual ~CapacitySource() = default;
  virtual Result<Capacity> capacity() = 0;
};

class StatvfsCapacity final : public CapacitySource {
 public:
  explicit StatvfsCapacity(std::string dir) : dir_(std::move(dir)) {}
  Result<Capacity> capacity() override;

 private:
  std::string dir_;
};

// Forwards to a source set after construction (the chunk manager, which needs the server first).
class CapacityProxy final : public CapacitySource {
 public:
  void setSource(CapacitySource& source) { source_ = &source; }
  Result<Capacity> capacity() override {
    if (!source_) return Capacity{};
    return source_->capacity();
  }

 private:
  CapacitySource* source_ = nullptr;
};

class FixedCapacity final : public CapacitySource {
 public:
  explicit FixedCapacity(Capacity c) : c_(c) {}
  Result<Capacity> capacity() override { return c_; }

 private:
  Capacity c_;
};

}  // namespace basalt::meta
