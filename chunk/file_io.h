// The system calls the disk chunk store makes on its files, behind an interface so tests can
// inject failures (a full disk) at an exact point. Each returns 0 / a byte count, or -errno.
// Thread-safety: PosixFileIo is stateless and thread-safe; fakes must be too.
#pragma once

#include <sys/types.h>

#include <cerrno>
#include <cstddef>

namespace basalt::chunk {

class FileIo {
 public:
  virtual ~FileIo() = default;
  virtual ssize_t pread(int fd, void* buf, size_t len, off_t offset) = 0;
  virtual ssize_t pwrite(int fd, const void* buf, size_t len, off_t offset) = 0;
  virtual int fallocate(int fd, int mode, off_t offset, off_t len) = 0;
  virtual int ftruncate(int fd, off_t len) = 0;
  virtual int fsync(int fd) = 0;
  // Starts writing [offset, offset + len) to disk without waiting (a hint: large sequential writes
  // then stream to disk instead of piling up for the next fsync).
  virtual void startWriteback(int, off_t, off_t) {}
  // A pread that never waits for the disk: all `len` bytes from the page cache, or -EAGAIN when
  // any of them is not there (a short count only at EOF). Fakes may always say -EAGAIN.
  virtual ssize_t preadCached(int, void*, size_t, off_t) { return -EAGAIN; }
};

class PosixFileIo : public FileIo {
 public:
  // Full-length pread/pwrite (retrying short transfers and EINTR); a short pread means EOF.
  ssize_t pread(int fd, void* buf, size_t len, off_t offset) override;
  ssize_t pwrite(int fd, const void* buf, size_t len, off_t offset) override;
  int fallocate(int fd, int mode, off_t offset, off_t len) override;
  int ftruncate(int fd, off_t len) override;
  int fsync(int fd) override;
  void startWriteback(int fd, off_t offset, off_t len) override;
  // preadv2 with RWF_NOWAIT (a partly cached range is -EAGAIN, not a short read).
  ssize_t preadCached(int fd, void* buf, size_t len, off_t offset) override;
};

}  // namespace basalt::chunk
