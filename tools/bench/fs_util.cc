#include "tools/bench/fs_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>
#include <vector>

namespace basalt::tools::bench {
namespace {

// Removes `name` relative to `parentFd`; `path` is only for messages.
Status removeAt(int parentFd, const std::string& name, const std::string& path) {
  if (unlinkat(parentFd, name.c_str(), 0) == 0 || errno == ENOENT) return Status::ok();
  if (errno != EISDIR && errno != EPERM) return errnoStatus("unlink", path);
  int fd = openat(parentFd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return errnoStatus("open directory", path);
  DIR* dir = fdopendir(fd);
  if (!dir) {
    Status s = errnoStatus("fdopendir", path);
    close(fd);
    return s;
  }
  // Collect first, then remove: deleting while a readdir stream is open may skip entries.
  std::vector<std::string> names;
  errno = 0;
  while (auto* entry = readdir(dir)) {
    std::string child = entry->d_name;
    if (child != "." && child != "..") names.push_back(child);
  }
  Status first = errno != 0 ? errnoStatus("readdir", path) : Status::ok();
  for (const auto& child : names) {
    Status s = removeAt(dirfd(dir), child, path + "/" + child);
    if (first.isOk() && !s.isOk()) first = s;
  }
  closedir(dir);
  if (unlinkat(parentFd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT && first.isOk()) {
    first = errnoStatus("rmdir", path);
  }
  return first;
}

}  // namespace

Status errnoStatus(const std::string& step, const std::string& path) {
  int code = errno;
  return Status::error(code, step + " " + path + ": " + strerror(code));
}

Status makeDir(const std::string& path) {
  if (mkdir(path.c_str(), 0755) != 0) return errnoStatus("mkdir", path);
  return Status::ok();
}

Status removeTree(const std::string& path) {
  return removeAt(AT_FDCWD, path, path);
}

bool dropCaches() {
  sync();
  int fd = open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = write(fd, "3\n", 2) == 2;
  close(fd);
  return ok;
}

Status writeFully(int fd, const char* data, size_t size, off_t offset, const std::string& path) {
  size_t done = 0;
  while (done < size) {
    ssize_t n = pwrite(fd, data + done, size - done, offset + static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errnoStatus("pwrite", path);
    if (n == 0) return Status::error(EIO, "pwrite " + path + ": wrote 0 bytes");
    done += static_cast<size_t>(n);
  }
  return Status::ok();
}

Status readFully(int fd, char* data, size_t size, off_t offset, const std::string& path,
                 size_t* got) {
  size_t done = 0;
  while (done < size) {
    ssize_t n = pread(fd, data + done, size - done, offset + static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errnoStatus("pread", path);
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  if (got) *got = done;
  return Status::ok();
}

std::string randomBytes(size_t size, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string out(size, '\0');
  size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    uint64_t v = rng();
    std::memcpy(&out[i], &v, 8);
  }
  for (; i < size; ++i) out[i] = static_cast<char>(rng());
  return out;
}

}  // namespace basalt::tools::bench
