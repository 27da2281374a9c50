#include "chunk/scrubber.h"

namespace basalt::chunk {

Scrubber::Scrubber(EventLoop& loop, ChunkServer& server, Logger log, ScrubberConfig config)
    : loop_(loop), server_(server), log_(std::move(log)), config_(config) {}

void Scrubber::start() {
  if (config_.bytesPerSecond == 0) return;
  task_ = pass().eagerlyEvaluate([this](kj::Exception&& e) {
    log_->error("the scrubber stopped: {}", e.getDescription().cStr());
  });
}

kj::Promise<void> Scrubber::pass() {
  return server_.list().then([this](std::vector<ChunkMeta> chunks) {
    return scrub(std::move(chunks), 0).then([this]() {
      ++passes_;
      log_->debug("scrub pass {} done: {} chunks checked, {} damaged so far", passes_, checked_, damaged_);
      return loop_.timer().afterDelay(config_.pauseBetweenPassesMs * kj::MILLISECONDS).then([this]() { return pass(); });
    });
  });
}

kj::Promise<void> Scrubber::scrub(std::vector<ChunkMeta> chunks, size_t next) {
  while (next < chunks.size() && chunks[next].state != ChunkState::kOk) ++next;
  if (next >= chunks.size()) return kj::READY_NOW;
  ChunkMeta c = chunks[next];
  // Pieces of one chunk, one after the other; stop at the first damage (it is reported).
  auto piece = std::make_shared<std::function<kj::Promise<void>(uint32_t)>>();
  *piece = [this, c, piece](uint32_t offset) -> kj::Promise<void> {
    if (offset >= c.length) return kj::READY_NOW;
    return scrubPiece(c, offset).then([this, c, piece, offset](bool ok) -> kj::Promise<void> {
      if (!ok) return kj::READY_NOW;
      return (*piece)(offset + config_.pieceBytes);
    });
  };
  return (*piece)(0).then([this, chunks = std::move(chunks), next, piece]() mutable {
    ++checked_;
    *piece = nullptr;  // break the self-reference
    return scrub(std::move(chunks), next + 1);
  });
}

kj::Promise<bool> Scrubber::scrubPiece(const ChunkMeta& c, uint32_t offset) {
  uint32_t len = std::min<uint64_t>(config_.pieceBytes, c.length - offset);
  auto started = loop_.timer().now();
  return server_.read(c.id, c.version, offset, len).then([this, c, len, started](ReadResult r) {
    bool ok = true;
    if (r.status.code() == EIO) {
      // ChunkServer::read reported a CRC mismatch already; count it.
      ++damaged_;
      log_->warn("scrubber: chunk {} v{} is damaged: {}", c.id, c.version, r.status.message());
      ok = false;
    } else if (!r.status.isOk()) {
      ok = false;  // gone, re-versioned or busy meanwhile: the next pass sees it again
    }
    // Keep to the read budget: this piece may take len / bytesPerSecond seconds in all.
    auto budget = static_cast<int64_t>(len) * 1000000 / static_cast<int64_t>(config_.bytesPerSecond) * kj::MICROSECONDS;
    auto spent = loop_.timer().now() - started;
    kj::Promise<void> wait = spent < budget ? loop_.timer().afterDelay(budget - spent) : kj::Promise<void>(kj::READY_NOW);
    return wait.then([ok]() { return ok; });
  });
}

}  // namespace basalt::chunk
