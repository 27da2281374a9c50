#include "meta/command_log.h"

#include <kj/debug.h>

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
// u32, term u32 (the leader's Raft term; 0 on a single metadata server). Little-endian.
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
  return walk(after, 0, fn);
}

Status CommandLog::scan(uint64_t after, uint64_t afterTerm) {
  return walk(after, afterTerm, [](uint64_t, std::string_view) { return Status::ok(); });
}

Status CommandLog::walk(uint64_t after, uint64_t afterTerm,
                        const std::function<Status(uint64_t, std::string_view)>& fn) {
  restart(after + 1, afterTerm);
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
    index_.push_back(Slot{offset_, getLe(&header[20], 4), static_cast<uint32_t>(len)});
    offset_ += kHeaderSize + len;
    ++nextSeq_;
  }
  return Status::ok();
}

void CommandLog::restart(uint64_t nextSeq, uint64_t prevTerm) {
  offset_ = 0;
  nextSeq_ = nextSeq;
  prevTerm_ = prevTerm;
  index_.clear();
  retractable_ = false;
}

std::optional<uint64_t> CommandLog::termAt(uint64_t seq) const {
  uint64_t first = firstSeq();
  if (seq + 1 == first) return prevTerm_;
  if (seq < first || seq >= nextSeq_) return std::nullopt;
  return index_[seq - first].term;
}

std::vector<CommandLog::Entry> CommandLog::read(uint64_t from, uint64_t to, size_t maxBytes) const {
  std::vector<Entry> out;
  uint64_t first = firstSeq();
  size_t bytes = 0;
  for (uint64_t seq = from; seq <= to && seq >= first && seq < nextSeq_; ++seq) {
    const Slot& slot = index_[seq - first];
    if (!out.empty() && bytes + slot.length > maxBytes) break;
    Entry e{seq, slot.term, std::string(slot.length, '\0')};
    if (!readAll(fd_, e.payload.data(), slot.length, slot.offset + kHeaderSize)) break;
    bytes += slot.length;
    out.push_back(std::move(e));
  }
  return out;
}

Status CommandLog::truncateFrom(uint64_t seq) {
  uint64_t first = firstSeq();
  if (seq >= nextSeq_) return Status::ok();
  if (seq < first) {
    return Status::error(EINVAL, "cannot truncate " + path_ + " from record " + std::to_string(seq) +
                                     ": the current run starts at " + std::to_string(first));
  }
  uint64_t at = index_[seq - first].offset;
  uint8_t zeros[kHeaderSize] = {};
  Status st = writeAll(fd_, zeros, kHeaderSize, at, path_);
  if (!st.isOk()) return st;
  if (::fdatasync(fd_) != 0) return ioError("cannot sync", path_, errno);
  index_.resize(seq - first);
  retractable_ = false;
  offset_ = at;
  nextSeq_ = seq;
  return Status::ok();
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

Status CommandLog::append(std::string_view payload, uint64_t term) {
  Status st = write(payload, term);
  if (!st.isOk()) return st;
  return sync();
}

Status CommandLog::write(std::string_view payload, uint64_t term) {
  KJ_REQUIRE(!pending_.has_value(), "CommandLog::write before the previous record's sync", path_);
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
  putLe(&h[20], term, 4);
  memcpy(h + kHeaderSize, payload.data(), payload.size());
  putLe(&h[4], recordCrc(h, payload), 4);
  st = writeAll(fd_, record.data(), record.size(), offset_, path_);
  if (!st.isOk()) {
    eraseAt(offset_);
    return st;
  }
  pending_ = Slot{offset_, term, static_cast<uint32_t>(payload.size())};
  return Status::ok();
}

Status CommandLog::sync() {
  KJ_REQUIRE(pending_.has_value(), "CommandLog::sync without a written record", path_);
  Slot slot = *pending_;
  pending_.reset();
  if (::fdatasync(fd_) != 0) {
    Status st = ioError("cannot sync", path_, errno);
    eraseAt(slot.offset);
    return st;
  }
  index_.push_back(slot);
  retractable_ = true;
  offset_ = slot.offset + kHeaderSize + slot.length;
  ++nextSeq_;
  return Status::ok();
}

void CommandLog::eraseAt(uint64_t offset) {
  // Its batch fails: it must not be replayed if it reached the disk after all (best effort).
  uint8_t zeros[kHeaderSize] = {};
  if (writeAll(fd_, zeros, kHeaderSize, offset, path_).isOk()) (void)::fdatasync(fd_);
}

Status CommandLog::retract() {
  if (!retractable_ || index_.empty()) return Status::error(EINVAL, "no record to retract in " + path_);
  retractable_ = false;
  return truncateFrom(nextSeq_ - 1);
}

}  // namespace basalt::meta
