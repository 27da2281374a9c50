#include "meta/replication/raft_state.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "server/crc32c.h"
#include "server/little_endian.h"

namespace basalt::meta {

namespace {
constexpr size_t kSize = 16;
std::string path(const std::string& dir) { return dir + "/raft-state"; }
}  // namespace

Result<RaftState> RaftState::load(const std::string& dir) {
  RaftState st;
  int fd = ::open(path(dir).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return st;
    return Status::error(errno, "cannot open " + path(dir) + ": " + strerror(errno));
  }
  uint8_t buf[kSize];
  ssize_t n = ::pread(fd, buf, kSize, 0);
  ::close(fd);
  if (n != static_cast<ssize_t>(kSize) || getLe(buf + 12, 4) != crc32c(buf, 12)) {
    return Status::error(EIO, path(dir) + " is damaged (its term and vote cannot be trusted)");
  }
  st.term = getLe(buf, 8);
  st.vote = static_cast<uint32_t>(getLe(buf + 8, 4));
  return st;
}

Status RaftState::save(const std::string& dir) const {
  uint8_t buf[kSize];
  putLe(buf, term, 8);
  putLe(buf + 8, vote, 4);
  putLe(buf + 12, crc32c(buf, 12), 4);
  std::string tmp = path(dir) + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::error(errno, "cannot create " + tmp + ": " + strerror(errno));
  bool ok = ::pwrite(fd, buf, kSize, 0) == static_cast<ssize_t>(kSize) && ::fsync(fd) == 0;
  int e = errno;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path(dir).c_str()) != 0) {
    if (ok) e = errno;
    return Status::error(e, "cannot write " + path(dir) + ": " + strerror(e));
  }
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    (void)::fsync(dfd);
    ::close(dfd);
  }
  return Status::ok();
}

}  // namespace basalt::meta
