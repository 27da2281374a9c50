// 4 KiB random reads, then 4 KiB random writes with one fdatasync at the end, on one file written
// beforehand (untimed). Reads start from a cold cache on a fresh open, with POSIX_FADV_RANDOM so
// readahead does not turn them into sequential I/O. Each direction stops after randomOps
// operations or randomMaxTime, whichever comes first; the rate is operations / elapsed time.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>

#include "tools/bench/fs_util.h"
#include "tools/bench/workload.h"

namespace basalt::tools::bench {
namespace {

constexpr size_t kPage = 4096;
constexpr size_t kBlock = 1 << 20;

Status writeFile(const RunContext& ctx, const std::string& path) {
  std::string block = randomBytes(kBlock, ctx.seed + 1);
  auto start = std::chrono::steady_clock::now();
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return errnoStatus("create", path);
  Status status;
  for (uint64_t off = 0; off < ctx.sizes.randomFileBytes && status.isOk(); off += kBlock) {
    if (ctx.cancelled()) status = Status::error(EINTR, "interrupted");
    if (secondsSince(start) > static_cast<double>(ctx.sizes.seqMaxTime.count())) {
      status = Status::error(ETIMEDOUT, "writing the " +
                                            std::to_string(ctx.sizes.randomFileBytes >> 20) +
                                            " MiB test file " + path + " took too long");
    }
    if (status.isOk()) status = writeFully(fd, block.data(), kBlock, static_cast<off_t>(off), path);
  }
  if (status.isOk() && fsync(fd) != 0) status = errnoStatus("fsync", path);
  if (close(fd) != 0 && status.isOk()) status = errnoStatus("close", path);
  return status;
}

// Runs `op(i)` until randomOps are done or time is up; returns ops/s, counting `finish()` in.
Result<double> timedLoop(const RunContext& ctx, const std::function<Status(int)>& op,
                         const std::function<Status()>& finish) {
  const double maxSeconds = static_cast<double>(ctx.sizes.randomMaxTime.count());
  auto start = std::chrono::steady_clock::now();
  int done = 0;
  for (; done < ctx.sizes.randomOps; ++done) {
    if (done % 64 == 0) {
      if (ctx.cancelled()) return Status::error(EINTR, "interrupted");
      if (secondsSince(start) > maxSeconds) break;
    }
    Status s = op(done);
    if (!s.isOk()) return s;
  }
  Status s = finish();
  if (!s.isOk()) return s;
  return done / secondsSince(start);
}

}  // namespace

std::vector<Measurement> runRandomIo(const RunContext& ctx) {
  const std::vector<std::string> metrics = {"rand_read", "rand_write"};
  const std::string path = ctx.dir + "/random.dat";
  if (Status s = writeFile(ctx, path); !s.isOk()) {
    return allFailed(metrics, Status::error(s.code(), "setup: " + s.message()));
  }
  const uint64_t pages = ctx.sizes.randomFileBytes / kPage;
  std::vector<Measurement> out;
  std::string note = dropCaches() ? "" : "warm cache: could not drop caches (needs root)";
  int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return allFailed(metrics, errnoStatus("open", path));
  posix_fadvise(fd, 0, 0, POSIX_FADV_RANDOM);  // advisory: ignoring a failure is fine

  std::mt19937_64 rng(ctx.seed + 2);
  std::uniform_int_distribution<uint64_t> page(0, pages - 1);
  std::string buf(kPage, '\0');
  auto reads = timedLoop(
      ctx,
      [&](int) {
        size_t got = 0;
        Status s = readFully(fd, &buf[0], kPage, static_cast<off_t>(page(rng) * kPage), path, &got);
        if (s.isOk() && got != kPage) s = Status::error(EIO, "pread " + path + ": short read");
        return s;
      },
      [] { return Status::ok(); });
  out.push_back(reads.isOk() ? Measurement::of("rand_read", reads.value(), note)
                             : Measurement::failed("rand_read", reads.status()));

  buf = randomBytes(kPage, ctx.seed + 3);
  auto writes = timedLoop(
      ctx,
      [&](int i) {
        std::memcpy(&buf[0], &i, sizeof(i));  // every write differs
        return writeFully(fd, buf.data(), kPage, static_cast<off_t>(page(rng) * kPage), path);
      },
      [&] { return fdatasync(fd) == 0 ? Status::ok() : errnoStatus("fdatasync", path); });
  out.push_back(writes.isOk() ? Measurement::of("rand_write", writes.value())
                              : Measurement::failed("rand_write", writes.status()));
  close(fd);
  return out;
}

}  // namespace basalt::tools::bench
