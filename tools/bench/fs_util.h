// Small file-system helpers the workloads share. Each failure comes back as a Status that names
// the step and the path, so a workload row can say exactly what broke.
// Thread-safety: functions only; safe to call from several threads on different paths.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "server/status.h"

namespace basalt::tools::bench {

// A Status for the current errno: "STEP PATH: strerror".
Status errnoStatus(const std::string& step, const std::string& path);

// Creates one directory (mode 0755). An existing one is an error: every run starts fresh.
Status makeDir(const std::string& path);

// Removes `path` and everything below it (like rm -rf, never following symlinks). A missing path
// is success. Keeps going past failures and returns the first.
Status removeTree(const std::string& path);

// sync(), then `echo 3 > /proc/sys/vm/drop_caches`. False when that is not permitted (not root,
// or a container that forbids it): the caller must then call its read "warm".
bool dropCaches();

// pwrite/pread all `size` bytes at `offset`, retrying short transfers and EINTR.
// readFully stops early at end of file and sets *got (may be null) to the bytes read.
Status writeFully(int fd, const char* data, size_t size, off_t offset, const std::string& path);
Status readFully(int fd, char* data, size_t size, off_t offset, const std::string& path,
                 size_t* got);

// `size` pseudo-random bytes from `seed`: file contents that do not compress, so a filesystem
// that compresses (Basalt may) is measured on the bytes it really moves.
std::string randomBytes(size_t size, uint64_t seed);

}  // namespace basalt::tools::bench
