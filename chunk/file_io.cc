#include "chunk/file_io.h"

#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>

namespace basalt::chunk {

ssize_t PosixFileIo::pread(int fd, void* buf, size_t len, off_t offset) {
  size_t done = 0;
  while (done < len) {
    ssize_t n = ::pread(fd, static_cast<char*>(buf) + done, len - done, offset + done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -errno;
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  return static_cast<ssize_t>(done);
}

ssize_t PosixFileIo::pwrite(int fd, const void* buf, size_t len, off_t offset) {
  size_t done = 0;
  while (done < len) {
    ssize_t n = ::pwrite(fd, static_cast<const char*>(buf) + done, len - done, offset + done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -errno;
    done += static_cast<size_t>(n);
  }
  return static_cast<ssize_t>(done);
}

int PosixFileIo::fallocate(int fd, int mode, off_t offset, off_t len) {
  return ::fallocate(fd, mode, offset, len) == 0 ? 0 : -errno;
}

int PosixFileIo::ftruncate(int fd, off_t len) { return ::ftruncate(fd, len) == 0 ? 0 : -errno; }

int PosixFileIo::fsync(int fd) { return ::fsync(fd) == 0 ? 0 : -errno; }

ssize_t PosixFileIo::preadCached(int fd, void* buf, size_t len, off_t offset) {
  size_t done = 0;
  while (done < len) {
    struct iovec v = {static_cast<char*>(buf) + done, len - done};
    ssize_t n = ::preadv2(fd, &v, 1, offset + static_cast<off_t>(done), RWF_NOWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -errno;
    if (n == 0) break;  // EOF
    done += static_cast<size_t>(n);
    // A short count may only mean that the rest is not cached: the next call says which.
  }
  return static_cast<ssize_t>(done);
}

void PosixFileIo::startWriteback(int fd, off_t offset, off_t len) {
  (void)::sync_file_range(fd, offset, len, SYNC_FILE_RANGE_WRITE);  // a hint; fsync still decides
}

}  // namespace basalt::chunk
