#include "meta/daemon.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "meta/fsck.h"
#include "meta/store.h"

namespace basalt::meta {

Status writeFileAtomically(const std::string& path, const std::string& content) {
  std::string tmp = path + ".tmp." + std::to_string(getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::error(errno, "cannot create " + tmp + ": " + strerror(errno));
  bool ok = ::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size()) && fsync(fd) == 0;
  int e = errno;
  ::close(fd);
  if (!ok || rename(tmp.c_str(), path.c_str()) != 0) {
    if (ok) e = errno;
    unlink(tmp.c_str());
    return Status::error(e, "cannot write " + path + ": " + strerror(e));
  }
  return Status::ok();
}

std::string withPort(const std::string& listen, unsigned port) {
  auto colon = listen.rfind(':');
  return (colon == std::string::npos ? listen : listen.substr(0, colon)) + ":" + std::to_string(port);
}

int runFsck(const std::string& dir) {
  auto store = Store::open(dir, /*readOnly=*/true);
  if (!store.isOk()) {
    fprintf(stderr, "basalt-meta: %s\n", store.status().message().c_str());
    return 1;
  }
  FsckReport report = fsck(**store);
  for (auto& p : report.problems) printf("%s\n", p.c_str());
  printf("%s: %llu inodes, %llu entries, %llu orphans, %zu problems\n", report.clean() ? "clean" : "INCONSISTENT",
         static_cast<unsigned long long>(report.inodes), static_cast<unsigned long long>(report.dirents),
         static_cast<unsigned long long>(report.orphans), report.problems.size());
  return report.clean() ? 0 : 1;
}

}  // namespace basalt::meta
