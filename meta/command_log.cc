#include "meta/command_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "server/crc32c.h"
#include "server/little_endian.h"

namespace basalt::meta {

namespace {

constexpr uint32_t kMagic = 0x314C4342;  // "BCL1" read as little-endian bytes

// Header: magic u32, crc u32 (CRC32C of bytes 8.. of the header and the payload), seq u64, length
// u32, reserved u32 (0). Little-endian.
uint32_t recordCrc(const uint8_t* header, std::string_view payload) {
  uint32_t crc = crc32c(header + 8, CommandLog::kHeaderSize - 8);
  return crc32c(payload.data(), payload.size(), crc);
}

Status ioError(const std::string& what, const std::string& path, int err) {
  return Status::error(err, what + " " + path + ": " + strerror(err));
}

Status writeAll(int fd, const void* data, size_t n, uint64_t off, const std::string& path) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = ::pwrite(fd, p, n, static_cast<off_t>(off));
    if (w < 0) {
      if (errno == EINTR) continue;
      return ioError("cannot write", path, errno);
    }
    p += w;
    n -= static_cast<size_t>(w);
    off += static_cast<uint64_t>(w);
  }
  return Status::ok();
}

bool readAll(int fd, void* data, size_t n, uint64_t off) {
  char* p = static_cast<char*>(data);
  while (n > 0) {
    ssize_t r = ::pread(fd, p, n, static_cast<off_t>(off));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
    off += static_cast<uint64_t>(r);
  }
  return true;
}

}  // namespace

Result<std::unique_ptr<CommandLog>> CommandLog::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return ioError("cannot open the command log", path, errno);
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int e = errno;
    ::close(fd);
    return ioError("cannot stat the command log", path, e);
  }
  return std::unique_ptr<CommandLog>(new CommandLog(path, fd, static_cast<uint64_t>(st.st_size)));
}

CommandLog::~CommandLog() { ::close(fd_); }

Status CommandLog::replay(uint64_t after, const std::function<Status(uint64_t, std::string_view)>& fn) {
  restart(after + 1);
  std::vector<uint8_t> header(kHeaderSize);
  std::string payload;
  while (offset_ + kHeaderSize <= size_) {
    if (!readAll(fd_, header.data(), kHeaderSize, offset_)) break;
    if (getLe(&header[0], 4) != kMagic || getLe(&header[8], 8) != nextSeq_) break;
    uint64_t len = getLe(&header[16], 4);
    if (len > kMaxRecord || offset_ + kHeaderSize + len > size_) break;
    payload.resize(len);
    if (!readAll(fd_, payload.data(), len, offset_ + kHeaderSize)) break;
    if (getLe(&header[4], 4) != recordCrc(header.data(), payload)) break;  // torn
    Status st = fn(nextSeq_, payload);
    if (!st.isOk()) return st;
    lastOffset_ = offset_;
    offset_ += kHeaderSize + len;
    ++nextSeq_;
  }
  return Status::ok();
}

void CommandLog::restart(uint64_t nextSeq) {
  offset_ = 0;
  lastOffset_ = 0;
  nextSeq_ = nextSeq;
}

Status CommandLog::ensureSize(uint64_t end) {
  if (end <= size_) return Status::ok();
  // Zeros written (not a hole, not fallocate's unwritten extents), so that appending later changes
  // no file metadata and fdatasync is one data write and one flush.
  uint64_t target = (end + kGrowStep - 1) / kGrowStep * kGrowStep;
  std::vector<char> zeros(1u << 20, 0);
  for (uint64_t off = size_; off < target; off += zeros.size()) {
    Status st = writeAll(fd_, zeros.data(), std::min<uint64_t>(zeros.size(), target - off), off, path_);
    if (!st.isOk()) return st;
  }
  if (::fsync(fd_) != 0) return ioError("cannot sync", path_, errno);
  size_ = target;
  return Status::ok();
}

Status CommandLog::append(std::string_view payload) {
  if (payload.size() > kMaxRecord) {
    return Status::error(EFBIG, "a batch of " + std::to_string(payload.size()) + " bytes is larger than the command log's limit");
  }
  uint64_t end = offset_ + kHeaderSize + payload.size();
  Status st = ensureSize(end);
  if (!st.isOk()) return st;
  std::string record(kHeaderSize + payload.size(), '\0');
  auto* h = reinterpret_cast<uint8_t*>(record.data());
  putLe(&h[0], kMagic, 4);
  putLe(&h[8], nextSeq_, 8);
  putLe(&h[16], payload.size(), 4);
  memcpy(h + kHeaderSize, payload.data(), payload.size());
  putLe(&h[4], recordCrc(h, payload), 4);
  st = writeAll(fd_, record.data(), record.size(), offset_, path_);
  if (st.isOk() && ::fdatasync(fd_) != 0) st = ioError("cannot sync", path_, errno);
  if (!st.isOk()) {
    // Its batch fails: it must not be replayed if it reached the disk after all (best effort).
    uint8_t zeros[kHeaderSize] = {};
    if (writeAll(fd_, zeros, kHeaderSize, offset_, path_).isOk()) (void)::fdatasync(fd_);
    return st;
  }
  lastOffset_ = offset_;
  offset_ = end;
  ++nextSeq_;
  return Status::ok();
}

Status CommandLog::retract() {
  if (offset_ == lastOffset_) return Status::error(EINVAL, "no record to retract in " + path_);
  uint8_t zeros[kHeaderSize] = {};
  Status st = writeAll(fd_, zeros, kHeaderSize, lastOffset_, path_);
  if (!st.isOk()) return st;
  if (::fdatasync(fd_) != 0) return ioError("cannot sync", path_, errno);
  offset_ = lastOffset_;
  --nextSeq_;
  return Status::ok();
}

}  // namespace basalt::meta
