// POSIX byte-range locks: F_SETLK a write lock on a 4 KiB range, then F_UNLCK it, as fast as one
// process can, for lockTime; the ranges rotate over 256 pages of one file. A filesystem without
// lock support (ENOSYS, EOPNOTSUPP, EINVAL on the first lock) is "not supported", not an error.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "tools/bench/fs_util.h"
#include "tools/bench/workload.h"

namespace basalt::tools::bench {

std::vector<Measurement> runLocks(const RunContext& ctx) {
  const std::string path = ctx.dir + "/locks.dat";
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return {Measurement::failed("locks", errnoStatus("create", path))};
  const double maxSeconds = static_cast<double>(ctx.sizes.lockTime.count());
  auto start = std::chrono::steady_clock::now();
  long pairs = 0;
  Status status;
  for (;; ++pairs) {
    if (pairs % 256 == 0 && (ctx.cancelled() || secondsSince(start) >= maxSeconds)) break;
    struct flock lock {};
    lock.l_type = F_WRLCK;
    lock.l_whence = SEEK_SET;
    lock.l_start = (pairs % 256) * 4096;
    lock.l_len = 4096;
    if (fcntl(fd, F_SETLK, &lock) != 0) {
      int code = errno;
      if (pairs == 0 && (code == ENOSYS || code == EOPNOTSUPP || code == EINVAL)) {
        close(fd);
        return {Measurement::unsupported("locks", std::string("fcntl F_SETLK: ") + strerror(code))};
      }
      status = errnoStatus("fcntl F_SETLK", path);
      break;
    }
    lock.l_type = F_UNLCK;
    if (fcntl(fd, F_SETLK, &lock) != 0) {
      status = errnoStatus("fcntl F_UNLCK", path);
      break;
    }
  }
  double seconds = secondsSince(start);
  close(fd);
  if (ctx.cancelled()) status = Status::error(EINTR, "interrupted");
  if (!status.isOk()) return {Measurement::failed("locks", status)};
  return {Measurement::of("locks", static_cast<double>(pairs) / seconds)};
}

}  // namespace basalt::tools::bench
