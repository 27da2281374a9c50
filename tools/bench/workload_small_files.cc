// Many small files in one directory: create N files of 4 KiB (open O_CREAT|O_EXCL, write, close),
// lstat each, read the directory once, unlink each. Each phase has its own time limit; a phase
// that hits it reports the rate over what it did and says so, and the next phases work on the
// files that exist.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>

#include "tools/bench/fs_util.h"
#include "tools/bench/workload.h"

namespace basalt::tools::bench {
namespace {

constexpr size_t kFileSize = 4096;

std::string fileName(const std::string& dir, int i) {
  char name[32];
  std::snprintf(name, sizeof(name), "/f%06d", i);
  return dir + name;
}

struct PhaseResult {
  Status status;
  int done = 0;
  double seconds = 0;
  bool hitLimit = false;
};

// Runs `op(i)` for i in [0, count) until an error, cancellation or the phase's time limit.
PhaseResult phase(const RunContext& ctx, int count, const std::function<Status(int)>& op) {
  const double maxSeconds = static_cast<double>(ctx.sizes.smallFilesPhaseMaxTime.count());
  PhaseResult r;
  auto start = std::chrono::steady_clock::now();
  for (; r.done < count; ++r.done) {
    if (r.done % 64 == 0) {
      if (ctx.cancelled()) {
        r.status = Status::error(EINTR, "interrupted");
        break;
      }
      if (secondsSince(start) > maxSeconds) {
        r.hitLimit = true;
        break;
      }
    }
    r.status = op(r.done);
    if (!r.status.isOk()) break;
  }
  r.seconds = secondsSince(start);
  return r;
}

Measurement measurementOf(const std::string& metric, const PhaseResult& r, int wanted) {
  if (!r.status.isOk()) return Measurement::failed(metric, r.status);
  if (wanted == 0)
    return Measurement::failed(metric, Status::error(ENOENT, "skipped: no files were created"));
  std::string note;
  if (r.hitLimit) {
    note = "hit the time limit after " + std::to_string(r.done) + " of " + std::to_string(wanted);
  }
  return Measurement::of(metric, r.done / std::max(r.seconds, 1e-9), note);
}

}  // namespace

std::vector<Measurement> runSmallFiles(const RunContext& ctx) {
  const std::string dir = ctx.dir + "/files";
  if (Status s = makeDir(dir); !s.isOk()) {
    return allFailed({"create", "stat", "readdir", "unlink"}, s);
  }
  const std::string data = randomBytes(kFileSize, ctx.seed + 4);
  const int wanted = ctx.sizes.smallFiles;
  std::vector<Measurement> out;

  PhaseResult created = phase(ctx, wanted, [&](int i) {
    std::string path = fileName(dir, i);
    int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) return errnoStatus("create", path);
    Status s = writeFully(fd, data.data(), data.size(), 0, path);
    if (close(fd) != 0 && s.isOk()) s = errnoStatus("close", path);
    return s;
  });
  out.push_back(measurementOf("create", created, wanted));
  // A file whose create failed half-way may exist; the later phases skip it either way.
  const int files = created.done;

  PhaseResult stated = phase(ctx, files, [&](int i) {
    std::string path = fileName(dir, i);
    struct stat st;
    if (lstat(path.c_str(), &st) != 0) return errnoStatus("lstat", path);
    if (st.st_size != static_cast<off_t>(kFileSize)) {
      return Status::error(EIO, "lstat " + path + ": size " + std::to_string(st.st_size) +
                                    ", wrote " + std::to_string(kFileSize));
    }
    return Status::ok();
  });
  out.push_back(measurementOf("stat", stated, files));

  PhaseResult listed;
  auto start = std::chrono::steady_clock::now();
  if (DIR* d = opendir(dir.c_str())) {
    errno = 0;
    while (auto* entry = readdir(d)) {
      if (entry->d_name[0] != '.') ++listed.done;
    }
    if (errno != 0) listed.status = errnoStatus("readdir", dir);
    closedir(d);
  } else {
    listed.status = errnoStatus("opendir", dir);
  }
  listed.seconds = secondsSince(start);
  if (listed.status.isOk() && listed.done != files) {
    listed.status = Status::error(EIO, "readdir " + dir + ": " + std::to_string(listed.done) +
                                           " entries, created " + std::to_string(files));
  }
  out.push_back(measurementOf("readdir", listed, files));

  PhaseResult removed = phase(ctx, files, [&](int i) {
    std::string path = fileName(dir, i);
    return unlink(path.c_str()) == 0 ? Status::ok() : errnoStatus("unlink", path);
  });
  out.push_back(measurementOf("unlink", removed, files));
  return out;
}

}  // namespace basalt::tools::bench
