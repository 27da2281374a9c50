#include "chunk/scrubber.h"

#include <algorithm>
#include <chrono>
#include <spdlog/fmt/fmt.h>
#include <sstream>

#include "server/small_files.h"

namespace basalt::chunk {

namespace {
constexpr int64_t kSaveEveryMs = 10000;         // progress reaches the disk at least this often
constexpr int64_t kRecheckClockMs = 3600000;    // a long wait looks at the wall clock again hourly

std::string describeMs(uint64_t ms) {
  if (ms >= 86400000) return fmt::format("{:.1f} days", static_cast<double>(ms) / 86400000);
  if (ms >= 3600000) return fmt::format("{:.1f} h", static_cast<double>(ms) / 3600000);
  return fmt::format("{:.1f} s", static_cast<double>(ms) / 1000);
}

double mib(uint64_t bytes) { return static_cast<double>(bytes) / (1 << 20); }
}  // namespace

std::string ScrubProgress::encode() const {
  return "started " + std::to_string(passStartedMs) + "\nfinished " + (finished ? "1" : "0") + "\nnext " +
         std::to_string(nextChunk) + "\n";
}

std::optional<ScrubProgress> ScrubProgress::decode(const std::string& text) {
  std::istringstream in(text);
  std::string k1, k2, k3;
  ScrubProgress p;
  int finished = -1;
  if (!(in >> k1 >> p.passStartedMs >> k2 >> finished >> k3 >> p.nextChunk)) return std::nullopt;
  if (k1 != "started" || k2 != "finished" || k3 != "next" || (finished != 0 && finished != 1)) return std::nullopt;
  if (p.passStartedMs < 0) return std::nullopt;
  p.finished = finished == 1;
  return p;
}

Scrubber::Scrubber(EventLoop& loop, ChunkServer& server, Logger log, ScrubberConfig config)
    : loop_(loop), server_(server), log_(std::move(log)), config_(std::move(config)), lastSave_(loop_.timer().now()) {
  if (config_.pieceBytes == 0) config_.pieceBytes = 1u << 20;
}

int64_t Scrubber::now() const {
  if (config_.nowMs) return config_.nowMs();
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void Scrubber::start() {
  if (config_.bytesPerSecond == 0) {
    log_->info("scrubber off (--scrub-rate 0)");
    return;
  }
  if (!config_.stateFile.empty()) {
    if (auto text = readFile(config_.stateFile)) {
      if (auto p = ScrubProgress::decode(*text)) {
        progress_ = *p;
      } else {
        log_->warn("scrubber: {} is not a scrub record; starting a new pass", config_.stateFile);
      }
    }
  }
  task_ = next().eagerlyEvaluate([this](kj::Exception&& e) {
    log_->error("the scrubber stopped: {}", e.getDescription().cStr());
  });
}

kj::Promise<void> Scrubber::next() {
  int64_t t = now();
  if (progress_.passStartedMs != 0 && !progress_.finished) {
    log_->info("scrubber: resuming the pass started {} s ago at chunk {}", (t - progress_.passStartedMs) / 1000,
               progress_.nextChunk);
    return pass();
  }
  int64_t interval = static_cast<int64_t>(config_.intervalMs);
  int64_t wait = progress_.passStartedMs == 0 ? 0 : progress_.passStartedMs + interval - t;
  if (wait <= 0) {
    progress_ = ScrubProgress{t, false, 0};
    save(true);
    log_->info("scrubber: pass {} starts ({:.1f} MiB/s at most)", passes_ + 1, mib(config_.bytesPerSecond));
    return pass();
  }
  // A clock set back must not stretch the wait past one interval; a long wait looks again hourly.
  wait = std::min({wait, interval, kRecheckClockMs});
  return loop_.timer().afterDelay(wait * kj::MILLISECONDS).then([this]() { return next(); });
}

kj::Promise<void> Scrubber::pass() {
  passChunks_ = passBytes_ = passDamaged_ = 0;
  auto started = loop_.timer().now();
  return server_.list()
      .then([this](std::vector<ChunkMeta> chunks) {
        std::sort(chunks.begin(), chunks.end(), [](const ChunkMeta& a, const ChunkMeta& b) { return a.id < b.id; });
        uint64_t from = progress_.nextChunk;
        chunks.erase(std::remove_if(chunks.begin(), chunks.end(), [from](const ChunkMeta& c) { return c.id < from; }),
                     chunks.end());
        return scrub(std::move(chunks), 0);
      })
      .then([this, started]() {
        progress_.finished = true;
        save(true);
        ++passes_;
        auto tookMs = static_cast<uint64_t>((loop_.timer().now() - started) / kj::MILLISECONDS);
        log_->info("scrubber: pass {} done in {}: {} chunks, {:.1f} MiB read, {} damaged; the next starts {} after it began",
                   passes_, describeMs(tookMs), passChunks_, mib(passBytes_), passDamaged_, describeMs(config_.intervalMs));
        return next();
      });
}

kj::Promise<void> Scrubber::scrub(std::vector<ChunkMeta> chunks, size_t next) {
  if (next >= chunks.size()) return kj::READY_NOW;
  ChunkMeta c = chunks[next];
  auto done = [this, chunks = std::move(chunks), next, id = c.id]() mutable {
    progress_.nextChunk = id + 1;
    save(false);
    return scrub(std::move(chunks), next + 1);
  };
  if (c.state != ChunkState::kOk) return kj::evalLater(kj::mv(done));
  // Pieces of one chunk, one after the other; stop at the first damage (it is reported).
  auto piece = std::make_shared<std::function<kj::Promise<void>(uint32_t)>>();
  *piece = [this, c, piece](uint32_t offset) -> kj::Promise<void> {
    if (offset >= c.length) return kj::READY_NOW;
    return scrubPiece(c, offset).then([this, piece, offset](bool ok) -> kj::Promise<void> {
      if (!ok) return kj::READY_NOW;
      return (*piece)(offset + config_.pieceBytes);
    });
  };
  return (*piece)(0).then([this, piece, done = kj::mv(done)]() mutable {
    ++checked_;
    ++passChunks_;
    *piece = nullptr;  // break the self-reference
    return done();
  });
}

kj::Promise<bool> Scrubber::scrubPiece(const ChunkMeta& c, uint32_t offset) {
  uint32_t len = static_cast<uint32_t>(std::min<uint64_t>(config_.pieceBytes, c.length - offset));
  auto started = loop_.timer().now();
  return server_.read(c.id, c.version, offset, len).then([this, c, len, started](ReadResult r) {
    bool ok = true;
    bytesRead_ += len;
    passBytes_ += len;
    if (r.status.code() == EIO) {
      // ChunkServer::read reported a CRC mismatch already; count it.
      ++damaged_;
      ++passDamaged_;
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

void Scrubber::save(bool force) {
  if (config_.stateFile.empty()) return;
  auto t = loop_.timer().now();
  if (!force && t - lastSave_ < kSaveEveryMs * kj::MILLISECONDS) return;
  lastSave_ = t;
  // Written by a worker (the loop never waits for the disk), one write after the other.
  saving_ = saving_
                .then([this, path = config_.stateFile, text = progress_.encode()]() {
                  return loop_.offload<Status>([path, text]() { return writeFileAtomically(path, text); });
                })
                .then([this](Status st) {
                  if (!st.isOk() && !saveFailing_) {
                    log_->warn("scrubber: progress not kept ({}); a restart repeats the pass", st.message());
                  } else if (st.isOk() && saveFailing_) {
                    log_->info("scrubber: progress kept again in {}", config_.stateFile);
                  }
                  saveFailing_ = !st.isOk();
                })
                .eagerlyEvaluate(nullptr);
}

}  // namespace basalt::chunk
