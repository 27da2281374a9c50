#include "tools/bench/cluster_probe.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <sstream>
#include <thread>

#include "tools/bench/fs_util.h"
#include "tools/bench/spawn.h"
#include "tools/bench/stats.h"
#include "tools/cluster_dir.h"
#include "tools/process.h"

namespace basalt::tools::bench {
namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kWriteSize = 1 << 20;
constexpr uint64_t kFileSlots = 256;  // the writer cycles over a 256 MiB file

// What the writer reports per write, through a pipe (16 bytes: atomic, under PIPE_BUF).
struct WriterEvent {
  int64_t nanos;  // steady_clock (CLOCK_MONOTONIC, shared by all processes) when it was acked
  int32_t error;  // 0, or the errno of the failed step
  int32_t step;   // 0 open, 1 pwrite, 2 fdatasync
};

const char* const kStepNames[] = {"open", "pwrite", "fdatasync"};

[[noreturn]] void writerMain(int out, const std::string& path, std::chrono::milliseconds interval,
                             Clock::time_point deadline, uint64_t seed) {
  auto report = [&](int32_t error, int32_t step) {
    WriterEvent e{Clock::now().time_since_epoch().count(), error, step};
    if (write(out, &e, sizeof(e)) != sizeof(e)) _exit(1);
  };
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    report(errno, 0);
    _exit(1);
  }
  std::string block = randomBytes(kWriteSize, seed);
  auto nextStart = Clock::now();
  for (uint64_t i = 0; Clock::now() < deadline; ++i) {
    std::this_thread::sleep_until(nextStart);
    nextStart = std::max(Clock::now(), nextStart + interval);
    std::memcpy(&block[0], &i, sizeof(i));
    off_t offset = static_cast<off_t>((i % kFileSlots) * kWriteSize);
    if (!writeFully(fd, block.data(), kWriteSize, offset, path).isOk()) {
      report(errno, 1);
      _exit(1);
    }
    if (fdatasync(fd) != 0) {
      report(errno, 2);
      _exit(1);
    }
    report(0, 0);
  }
  _exit(0);
}

// Reads writer events from `fd` until `until` (or EOF).
void collectUntil(int fd, Clock::time_point until, std::vector<WriterEvent>& events) {
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), 100))) <= 0) continue;
    WriterEvent e;
    ssize_t n = read(fd, &e, sizeof(e));
    if (n == sizeof(e)) events.push_back(e);
    if (n == 0) break;  // the writer exited
  }
}

double secondsBetween(int64_t fromNanos, int64_t toNanos) {
  return static_cast<double>(toNanos - fromNanos) / 1e9;
}

int64_t nowNanos() {
  return Clock::now().time_since_epoch().count();
}

// Stops the writer and reaps it, waiting at most a few seconds (a write stuck in the kernel may
// outlive SIGKILL for a while).
void stopWriter(pid_t pid) {
  kill(pid, SIGKILL);
  waitUntil(std::chrono::seconds(5), [&] { return waitpid(pid, nullptr, WNOHANG) != 0; });
}

std::string fmt(double seconds) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2f s", seconds);
  return buf;
}

}  // namespace

std::vector<Measurement> runFailoverStall(const RunContext& ctx, const std::string& clusterDir) {
  const std::string metric = "failover_stall";
  const Sizes& z = ctx.sizes;
  ClusterDir cluster(clusterDir);
  auto victim = cluster.readRecord("chunk1");
  if (!victim || !isRunning(victim->pid, "basalt-chunk")) {
    return {Measurement::failed(
        metric, Status::error(ESRCH, "chunk1 is not running (" + cluster.runFile("chunk1") + ")"))};
  }
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return {Measurement::failed(metric, errnoStatus("pipe", ""))};
  const std::string path = ctx.dir + "/stall.dat";
  auto start = Clock::now();
  auto writerDeadline = start + z.stallBaseline + z.stallAfterKill + z.restartTimeout +
                        z.stallAfterRestart + std::chrono::seconds(30);
  pid_t writer = fork();
  if (writer < 0) return {Measurement::failed(metric, errnoStatus("fork", "writer"))};
  if (writer == 0) {
    close(fds[0]);
    writerMain(fds[1], path, z.stallWriteInterval, writerDeadline, ctx.seed + 5);
  }
  close(fds[1]);
  std::vector<WriterEvent> events;
  collectUntil(fds[0], start + z.stallBaseline, events);
  Status status;
  if (!events.empty() && events.back().error != 0) {
    const WriterEvent& e = events.back();
    status = Status::error(e.error, std::string("before any server was killed, the writer's ") +
                                        kStepNames[e.step] + " of " + path +
                                        " failed: " + strerror(e.error));
  } else if (events.empty()) {
    status = Status::error(ETIMEDOUT, "the writer got no write acknowledged in the first " +
                                          std::to_string(z.stallBaseline.count()) +
                                          " s, before any server was killed");
  }
  size_t baselineCount = events.size();
  int64_t killNanos = 0, restartNanos = 0;
  if (status.isOk()) {
    killNanos = nowNanos();
    if (kill(victim->pid, SIGKILL) != 0)
      status = errnoStatus("kill chunk1 pid", std::to_string(victim->pid));
  }
  if (status.isOk()) {
    collectUntil(fds[0], Clock::now() + z.stallAfterKill, events);
    CommandSpec up;
    up.argv = {selfDir() + "/basalt", "up", "--dir", clusterDir, "--mount", ""};
    up.timeout = z.restartTimeout;
    auto outcome = runCommand(up, ctx.cancelled);
    restartNanos = nowNanos();
    if (!outcome.isOk()) {
      status = outcome.status();
    } else if (Status s = commandStatus(up, outcome.value()); !s.isOk()) {
      status = Status::error(s.code(), "restarting chunk1: " + s.message());
    } else {
      collectUntil(fds[0], Clock::now() + z.stallAfterRestart, events);
    }
  }
  int64_t endNanos = nowNanos();
  stopWriter(writer);
  close(fds[0]);
  unlink(path.c_str());
  if (!status.isOk()) return {Measurement::failed(metric, status)};

  std::vector<double> acks, baselineAcks;
  for (size_t i = 0; i < events.size(); ++i) {
    const WriterEvent& e = events[i];
    if (e.error != 0) {
      return {Measurement::failed(
          metric, Status::error(e.error, std::string("the writer's ") + kStepNames[e.step] +
                                             " failed " + fmt(secondsBetween(killNanos, e.nanos)) +
                                             " after chunk1 was killed: " + strerror(e.error)))};
    }
    double t = secondsBetween(events.front().nanos, e.nanos);
    acks.push_back(t);
    if (i < baselineCount) baselineAcks.push_back(t);
  }
  double end = secondsBetween(events.front().nanos, endNanos);
  double killAt = secondsBetween(events.front().nanos, killNanos);
  double longest = *longestAckGap(acks, end);
  std::string note = std::to_string(acks.size()) + " writes; before the kill the longest gap was " +
                     fmt(*longestAckGap(baselineAcks, killAt)) + "; chunk1 restarted " +
                     fmt(secondsBetween(killNanos, restartNanos)) + " after the kill";
  return {Measurement::of(metric, longest, note)};
}

std::optional<long> parseVmHwmKiB(const std::string& procStatus) {
  std::istringstream in(procStatus);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) != 0) continue;
    std::istringstream fields(line.substr(6));
    long kib = -1;
    std::string unit;
    if (fields >> kib >> unit && kib >= 0 && unit == "kB") return kib;
    return std::nullopt;
  }
  return std::nullopt;
}

std::vector<PeakRss> collectPeakRss(const std::string& clusterDir) {
  std::vector<PeakRss> out;
  for (const auto& r : ClusterDir(clusterDir).readRecords()) {
    bool isMount = !r.mountpoint.empty();
    std::string exe = r.exe();
    PeakRss p;
    p.who = isMount ? "basalt-mount " + r.mountpoint : r.name;
    p.pid = r.pid;
    std::string statusPath = "/proc/" + std::to_string(r.pid) + "/status";
    auto text = readFile(statusPath);
    if (!isRunning(r.pid, exe)) {
      p.status = Status::error(ESRCH, exe + " pid " + std::to_string(r.pid) + " is not running");
    } else if (!text) {
      p.status = Status::error(EACCES, "cannot read " + statusPath);
    } else if (auto kib = parseVmHwmKiB(*text)) {
      p.mib = static_cast<double>(*kib) / 1024.0;
    } else {
      p.status = Status::error(EINVAL, "no VmHWM in " + statusPath);
    }
    out.push_back(p);
  }
  return out;
}

}  // namespace basalt::tools::bench
