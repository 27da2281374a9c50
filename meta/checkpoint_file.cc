#include "meta/checkpoint_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "server/crc32c.h"
#include "server/little_endian.h"

namespace basalt::meta {

namespace {

constexpr uint32_t kMagic = 0x504B4342;  // "BCKP" read as little-endian bytes
constexpr uint32_t kVersion = 1;
constexpr uint32_t kHeaderBytes = 32;    // magic, version, seq, txnid, pageSize, crc

// CRC32C of the header before the crc field, then of the pages.
uint32_t slotCrc(const uint8_t* header, const std::string& pages) {
  return crc32c(pages.data(), pages.size(), crc32c(header, 28));
}

std::optional<CheckpointImage> decodeSlot(const std::string& slot) {
  auto* h = reinterpret_cast<const uint8_t*>(slot.data());
  if (getLe(h, 4) != kMagic || getLe(h + 4, 4) != kVersion) return std::nullopt;
  CheckpointImage img;
  img.seq = getLe(h + 8, 8);
  img.txnid = getLe(h + 16, 8);
  img.pageSize = static_cast<uint32_t>(getLe(h + 24, 4));
  if (img.pageSize == 0 || img.pageSize > CheckpointFile::kMaxPageSize) return std::nullopt;
  img.pages = slot.substr(CheckpointFile::kMaxPageSize, 2 * img.pageSize);
  if (getLe(h + 28, 4) != slotCrc(h, img.pages)) return std::nullopt;
  return img;
}

}  // namespace

uint64_t lmdbMetaTxnid(const std::string& pages, uint32_t pageSize, int index) {
  // MDB_page header: pgno (8), pad (2), flags (2), lower/upper (4); P_META = 0x08. MDB_meta after
  // it: magic (4) = 0xBEEFC0DE, version (4), address (8), mapsize (8), two MDB_db (48 each),
  // last_pg (8), txnid (8).
  constexpr size_t kFlags = 10, kMetaMagic = 16, kTxnid = 16 + 128;
  size_t base = static_cast<size_t>(index) * pageSize;
  if (pages.size() < base + kTxnid + 8) return 0;
  auto* p = reinterpret_cast<const uint8_t*>(pages.data()) + base;
  if ((getLe(p + kFlags, 2) & 0x08) == 0 || getLe(p + kMetaMagic, 4) != 0xBEEFC0DE) return 0;
  return getLe(p + kTxnid, 8);
}

Result<std::unique_ptr<CheckpointFile>> CheckpointFile::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Status::error(errno, "cannot open checkpoint file " + path + ": " + strerror(errno));
  std::unique_ptr<CheckpointFile> f(new CheckpointFile(path, fd));
  for (int slot = 0; slot < 2; ++slot) {
    std::string buf(kSlotSize, '\0');
    ssize_t n = ::pread(fd, buf.data(), buf.size(), static_cast<off_t>(slot) * kSlotSize);
    if (n != static_cast<ssize_t>(buf.size())) continue;  // never written
    auto img = decodeSlot(buf);
    // The newer one: a later log record, or at the same record (commits without a record: the
    // store's own start-up write, tests) a later LMDB transaction.
    if (img && (!f->latest_ || std::make_pair(img->seq, img->txnid) > std::make_pair(f->latest_->seq, f->latest_->txnid))) {
      f->latest_ = std::move(img);
      f->latestSlot_ = slot;
    }
  }
  return f;
}

CheckpointFile::~CheckpointFile() { ::close(fd_); }

Status CheckpointFile::write(const CheckpointImage& image) {
  if (image.pageSize == 0 || image.pageSize > kMaxPageSize || image.pages.size() != 2 * image.pageSize) {
    return Status::error(EINVAL, "checkpoint of LMDB pages of " + std::to_string(image.pageSize) + " bytes");
  }
  std::string slot(kSlotSize, '\0');
  auto* h = reinterpret_cast<uint8_t*>(slot.data());
  putLe(h, kMagic, 4);
  putLe(h + 4, kVersion, 4);
  putLe(h + 8, image.seq, 8);
  putLe(h + 16, image.txnid, 8);
  putLe(h + 24, image.pageSize, 4);
  putLe(h + 28, slotCrc(h, image.pages), 4);
  static_assert(kHeaderBytes <= kMaxPageSize);
  memcpy(slot.data() + kMaxPageSize, image.pages.data(), image.pages.size());
  int target = latestSlot_ == 0 ? 1 : 0;
  ssize_t n = ::pwrite(fd_, slot.data(), slot.size(), static_cast<off_t>(target) * kSlotSize);
  int e = 0;
  if (n != static_cast<ssize_t>(slot.size())) {
    e = n < 0 ? errno : EIO;
  } else if (::fdatasync(fd_) != 0) {
    e = errno;
  }
  if (e != 0) return Status::error(e, "cannot write checkpoint file " + path_ + ": " + strerror(e));
  latestSlot_ = target;
  latest_ = image;
  return Status::ok();
}

}  // namespace basalt::meta
