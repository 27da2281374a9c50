// basalt-fsx: a randomized file exerciser. Runs N random operations on one file (writes, reads,
// truncates up and down, punch hole, zero range, mmap writes and reads, fsync, close and reopen)
// and checks every read against an in-memory model of the file. Exits 1 at the first mismatch, with
// the offset, the expected and actual bytes, and the last operations.
//
//   basalt-fsx FILE [--ops N] [--seed S] [--max-size BYTES] [--max-io BYTES] [--no-fallocate]
//              [--no-mmap]
#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <random>
#include <string>
#include <vector>

namespace {

struct Options {
  std::string path;
  uint64_t ops = 100000;
  uint64_t seed = 1;
  uint64_t maxSize = 8ull << 20;
  uint64_t maxIo = 256ull << 10;
  bool fallocate = true;
  bool mmap = true;
};

class Exerciser {
 public:
  explicit Exerciser(const Options& o) : o_(o), rng_(o.seed) {}

  int run() {
    fd_ = open(o_.path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd_ < 0) return fatal("open " + o_.path + ": " + strerror(errno));
    for (uint64_t i = 0; i < o_.ops; ++i) {
      opIndex_ = i;
      if (!step()) return 1;
      if (i % 10000 == 9999) {
        if (!verifyAll("periodic check")) return 1;
        fprintf(stderr, "basalt-fsx: %" PRIu64 " ops, size %zu, ok\n", i + 1, model_.size());
      }
    }
    if (!reopen() || !verifyAll("final check")) return 1;
    close(fd_);
    printf("basalt-fsx: %" PRIu64 " operations, seed %" PRIu64 ", final size %zu: no mismatch\n",
           o_.ops, o_.seed, model_.size());
    return 0;
  }

 private:
  uint64_t pick(uint64_t lo, uint64_t hi) {  // inclusive
    return std::uniform_int_distribution<uint64_t>(lo, hi)(rng_);
  }

  void note(const char* fmt, ...) __attribute__((format(printf, 2, 3))) {
    char buf[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    history_.push_back("#" + std::to_string(opIndex_) + " " + buf);
    if (history_.size() > 30) history_.pop_front();
  }

  int fatal(const std::string& why) {
    fprintf(stderr, "basalt-fsx: FAILED at op %" PRIu64 " (seed %" PRIu64 "): %s\nlast operations:\n",
            opIndex_, o_.seed, why.c_str());
    for (const auto& h : history_) fprintf(stderr, "  %s\n", h.c_str());
    return 1;
  }

  // Start and length of a random range, biased towards the current size and chunk-ish boundaries.
  std::pair<uint64_t, uint64_t> range(uint64_t maxLen) {
    uint64_t limit = std::max<uint64_t>(model_.size(), 4096);
    uint64_t start = pick(0, std::min(o_.maxSize - 1, limit + limit / 4));
    if (pick(0, 9) == 0) start = (start / 65536) * 65536;  // block-aligned now and then
    uint64_t len = pick(1, maxLen);
    if (start + len > o_.maxSize) len = o_.maxSize - start;
    return {start, len};
  }

  bool step() {
    switch (pick(0, 15)) {
      case 0: case 1: case 2: case 3: case 4: return doWrite();
      case 5: case 6: case 7: case 8: return doRead();
      case 9: return doTruncate();
      case 10: return o_.fallocate ? doPunch() : doWrite();
      case 11: return o_.fallocate ? doZero() : doRead();
      case 12: return o_.mmap ? doMmapWrite() : doWrite();
      case 13: return o_.mmap ? doMmapRead() : doRead();
      case 14: return doFsync();
      default: return pick(0, 3) == 0 ? reopen() : doRead();
    }
  }

  bool doWrite() {
    auto [off, len] = range(o_.maxIo);
    std::vector<char> data(len);
    uint64_t tag = rng_();
    for (uint64_t i = 0; i < len; ++i) data[i] = static_cast<char>((tag >> (i % 56)) + i * 131);
    note("write off=%" PRIu64 " len=%" PRIu64, off, len);
    ssize_t n = pwrite(fd_, data.data(), len, off);
    if (n != static_cast<ssize_t>(len)) return !fatal("pwrite: " + std::string(n < 0 ? strerror(errno) : "short"));
    if (model_.size() < off + len) model_.resize(off + len, 0);
    memcpy(model_.data() + off, data.data(), len);
    return true;
  }

  bool compare(uint64_t off, const char* got, uint64_t len, const char* how) {
    for (uint64_t i = 0; i < len; ++i) {
      char want = off + i < model_.size() ? model_[off + i] : 0;
      if (got[i] != want) {
        char msg[200];
        snprintf(msg, sizeof(msg), "%s: byte at offset %" PRIu64 " is 0x%02x, expected 0x%02x", how,
                 off + i, static_cast<unsigned char>(got[i]), static_cast<unsigned char>(want));
        fatal(msg);
        return false;
      }
    }
    return true;
  }

  bool doRead() {
    auto [off, len] = range(o_.maxIo);
    note("read off=%" PRIu64 " len=%" PRIu64, off, len);
    std::vector<char> buf(len);
    ssize_t n = pread(fd_, buf.data(), len, off);
    if (n < 0) return !fatal(std::string("pread: ") + strerror(errno));
    uint64_t expect = off >= model_.size() ? 0 : std::min<uint64_t>(len, model_.size() - off);
    if (static_cast<uint64_t>(n) != expect) {
      return !fatal("pread returned " + std::to_string(n) + " bytes, expected " + std::to_string(expect));
    }
    return compare(off, buf.data(), n, "pread");
  }

  bool doTruncate() {
    uint64_t size = pick(0, 3) == 0 ? pick(0, o_.maxSize) : pick(0, std::max<uint64_t>(model_.size(), 1) * 5 / 4);
    size = std::min(size, o_.maxSize);
    note("truncate %" PRIu64 " (from %zu)", size, model_.size());
    if (ftruncate(fd_, size) != 0) return !fatal(std::string("ftruncate: ") + strerror(errno));
    model_.resize(size, 0);
    return checkSize("after truncate");
  }

  bool checkSize(const char* when) {
    struct stat st;
    if (fstat(fd_, &st) != 0) return !fatal(std::string("fstat: ") + strerror(errno));
    if (static_cast<uint64_t>(st.st_size) != model_.size()) {
      return !fatal(std::string(when) + ": size is " + std::to_string(st.st_size) + ", expected " +
                    std::to_string(model_.size()));
    }
    return true;
  }

  bool doPunch() {
    auto [off, len] = range(o_.maxIo * 4);
    note("punch off=%" PRIu64 " len=%" PRIu64, off, len);
    if (fallocate(fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len) != 0) {
      return !fatal(std::string("fallocate(PUNCH_HOLE|KEEP_SIZE): ") + strerror(errno));
    }
    for (uint64_t i = off; i < off + len && i < model_.size(); ++i) model_[i] = 0;
    return checkSize("after punch");
  }

  bool doZero() {
    auto [off, len] = range(o_.maxIo * 4);
    bool keep = pick(0, 1) == 0;
    note("zero-range off=%" PRIu64 " len=%" PRIu64 "%s", off, len, keep ? " keep-size" : "");
    if (fallocate(fd_, FALLOC_FL_ZERO_RANGE | (keep ? FALLOC_FL_KEEP_SIZE : 0), off, len) != 0) {
      return !fatal(std::string("fallocate(ZERO_RANGE): ") + strerror(errno));
    }
    for (uint64_t i = off; i < off + len && i < model_.size(); ++i) model_[i] = 0;
    if (!keep && model_.size() < off + len) model_.resize(off + len, 0);
    return checkSize("after zero range");
  }

  bool doMmapWrite() {
    if (model_.empty()) return doWrite();
    uint64_t page = sysconf(_SC_PAGESIZE);
    uint64_t off = pick(0, model_.size() - 1);
    uint64_t len = std::min<uint64_t>(pick(1, o_.maxIo), model_.size() - off);
    uint64_t mapStart = off / page * page;
    uint64_t mapLen = off + len - mapStart;
    note("mmap-write off=%" PRIu64 " len=%" PRIu64, off, len);
    void* p = mmap(nullptr, mapLen, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, mapStart);
    if (p == MAP_FAILED) return !fatal(std::string("mmap(MAP_SHARED, rw): ") + strerror(errno));
    char* base = static_cast<char*>(p) + (off - mapStart);
    uint8_t tag = static_cast<uint8_t>(rng_());
    for (uint64_t i = 0; i < len; ++i) {
      base[i] = static_cast<char>(tag + i * 7);
      model_[off + i] = base[i];
    }
    bool ok = msync(p, mapLen, MS_SYNC) == 0;
    int err = errno;
    munmap(p, mapLen);
    if (!ok) return !fatal(std::string("msync: ") + strerror(err));
    return true;
  }

  bool doMmapRead() {
    if (model_.empty()) return doRead();
    uint64_t page = sysconf(_SC_PAGESIZE);
    uint64_t off = pick(0, model_.size() - 1);
    uint64_t len = std::min<uint64_t>(pick(1, o_.maxIo), model_.size() - off);
    uint64_t mapStart = off / page * page;
    uint64_t mapLen = off + len - mapStart;
    note("mmap-read off=%" PRIu64 " len=%" PRIu64, off, len);
    void* p = mmap(nullptr, mapLen, PROT_READ, MAP_SHARED, fd_, mapStart);
    if (p == MAP_FAILED) return !fatal(std::string("mmap(MAP_SHARED, r): ") + strerror(errno));
    bool ok = compare(off, static_cast<char*>(p) + (off - mapStart), len, "mmap read");
    munmap(p, mapLen);
    return ok;
  }

  bool doFsync() {
    note("fsync");
    if (fsync(fd_) != 0) return !fatal(std::string("fsync: ") + strerror(errno));
    return checkSize("after fsync");
  }

  bool reopen() {
    note("close+reopen");
    if (close(fd_) != 0) return !fatal(std::string("close: ") + strerror(errno));
    fd_ = open(o_.path.c_str(), O_RDWR);
    if (fd_ < 0) return !fatal(std::string("reopen: ") + strerror(errno));
    return checkSize("after reopen");
  }

  bool verifyAll(const char* why) {
    note("%s", why);
    if (!checkSize(why)) return false;
    std::vector<char> buf(1 << 20);
    for (uint64_t off = 0; off < model_.size(); off += buf.size()) {
      uint64_t len = std::min<uint64_t>(buf.size(), model_.size() - off);
      ssize_t n = pread(fd_, buf.data(), len, off);
      if (n != static_cast<ssize_t>(len)) return !fatal(std::string(why) + ": short read");
      if (!compare(off, buf.data(), len, why)) return false;
    }
    return true;
  }

  Options o_;
  std::mt19937_64 rng_;
  std::vector<char> model_;
  int fd_ = -1;
  uint64_t opIndex_ = 0;
  std::deque<std::string> history_;
};

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> uint64_t {
      if (i + 1 >= argc) {
        fprintf(stderr, "basalt-fsx: %s needs a value\n", a.c_str());
        exit(2);
      }
      return strtoull(argv[++i], nullptr, 0);
    };
    if (a == "--ops") o.ops = next();
    else if (a == "--seed") o.seed = next();
    else if (a == "--max-size") o.maxSize = next();
    else if (a == "--max-io") o.maxIo = next();
    else if (a == "--no-fallocate") o.fallocate = false;
    else if (a == "--no-mmap") o.mmap = false;
    else if (a[0] != '-' && o.path.empty()) o.path = a;
    else {
      fprintf(stderr, "usage: basalt-fsx FILE [--ops N] [--seed S] [--max-size B] [--max-io B] [--no-fallocate] [--no-mmap]\n");
      return 2;
    }
  }
  if (o.path.empty() || o.maxSize == 0 || o.maxIo == 0) {
    fprintf(stderr, "usage: basalt-fsx FILE [--ops N] ...\n");
    return 2;
  }
  return Exerciser(o).run();
}
