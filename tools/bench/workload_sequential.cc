// Sequential write of one big file in 1 MiB blocks with fsync at the end, then a sequential read
// of it after dropping the page cache (cold) from a fresh open.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "tools/bench/fs_util.h"
#include "tools/bench/workload.h"

namespace basalt::tools::bench {
namespace {

constexpr size_t kBlock = 1 << 20;

// Each block carries its index in its first 8 bytes: no two blocks are equal (nothing for a
// deduplicating store to skip), and the read can check it got the right block back.
void stampBlock(std::string& block, uint64_t index) {
  std::memcpy(&block[0], &index, 8);
}

std::string partialNote(uint64_t bytes, uint64_t wanted) {
  return "hit the time limit after " + std::to_string(bytes >> 20) + " of " +
         std::to_string(wanted >> 20) + " MiB";
}

}  // namespace

std::vector<Measurement> runSequential(const RunContext& ctx) {
  const std::vector<std::string> metrics = {"seq_write", "seq_read_cold"};
  const std::string path = ctx.dir + "/sequential.dat";
  const double maxSeconds = static_cast<double>(ctx.sizes.seqMaxTime.count());
  std::string block = randomBytes(kBlock, ctx.seed);
  std::vector<Measurement> out;

  auto start = std::chrono::steady_clock::now();
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return allFailed(metrics, errnoStatus("create", path));
  uint64_t written = 0;
  bool partial = false;
  Status status;
  while (written < ctx.sizes.seqBytes && status.isOk()) {
    if (ctx.cancelled()) status = Status::error(EINTR, "interrupted");
    if (secondsSince(start) > maxSeconds) partial = true;
    if (partial || !status.isOk()) break;
    stampBlock(block, written / kBlock);
    status = writeFully(fd, block.data(), kBlock, static_cast<off_t>(written), path);
    if (status.isOk()) written += kBlock;
  }
  if (status.isOk() && fsync(fd) != 0) status = errnoStatus("fsync", path);
  if (close(fd) != 0 && status.isOk()) status = errnoStatus("close", path);
  double seconds = secondsSince(start);
  if (!status.isOk()) return allFailed(metrics, status);  // no file to read back
  out.push_back(Measurement::of("seq_write", static_cast<double>(written) / 1e6 / seconds,
                                partial ? partialNote(written, ctx.sizes.seqBytes) : ""));

  // A fresh open after dropping caches: the kernel (and a FUSE client) must fetch every byte.
  std::string note = dropCaches() ? "" : "warm cache: could not drop caches (needs root)";
  start = std::chrono::steady_clock::now();
  fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    out.push_back(Measurement::failed("seq_read_cold", errnoStatus("open", path)));
    return out;
  }
  uint64_t read = 0;
  partial = false;
  while (read < written && status.isOk()) {
    if (ctx.cancelled()) status = Status::error(EINTR, "interrupted");
    if (secondsSince(start) > maxSeconds) partial = true;
    if (partial || !status.isOk()) break;
    size_t got = 0;
    status = readFully(fd, &block[0], kBlock, static_cast<off_t>(read), path, &got);
    if (!status.isOk()) break;
    uint64_t index;
    std::memcpy(&index, block.data(), 8);
    if (got != kBlock || index != read / kBlock) {
      status =
          Status::error(EIO, "read " + path + ": block at offset " + std::to_string(read) +
                                 (got != kBlock ? " is short (" + std::to_string(got) + " bytes)"
                                                : " holds other data than was written"));
      break;
    }
    read += kBlock;
  }
  close(fd);
  seconds = secondsSince(start);
  if (!status.isOk()) {
    out.push_back(Measurement::failed("seq_read_cold", status));
  } else {
    if (partial) note += (note.empty() ? "" : "; ") + partialNote(read, written);
    out.push_back(
        Measurement::of("seq_read_cold", static_cast<double>(read) / 1e6 / seconds, note));
  }
  return out;
}

}  // namespace basalt::tools::bench
