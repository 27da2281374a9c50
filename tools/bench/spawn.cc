#include "tools/bench/spawn.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "tools/bench/fs_util.h"

namespace basalt::tools::bench {
namespace {

constexpr size_t kKeepOutput = 16 * 1024;

[[noreturn]] void execChild(const CommandSpec& spec, int outFd) {
  setpgid(0, 0);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  dup2(devnull, 0);
  dup2(outFd, 1);
  dup2(outFd, 2);
  if (!spec.cwd.empty() && chdir(spec.cwd.c_str()) != 0) {
    dprintf(2, "chdir %s: %s\n", spec.cwd.c_str(), strerror(errno));
    _exit(127);
  }
  for (const auto& e : spec.env) putenv(const_cast<char*>(e.c_str()));
  std::vector<char*> argv;
  for (const auto& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  execvp(argv[0], argv.data());
  dprintf(2, "exec %s: %s\n", argv[0], strerror(errno));
  _exit(127);
}

void drain(int fd, std::string& output) {
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) {
    output.append(buf, static_cast<size_t>(n));
    if (output.size() > 2 * kKeepOutput) output.erase(0, output.size() - kKeepOutput);
  }
}

// The command as a person would type it, minus "-c NAME=VALUE" settings (git's), which only
// make error messages long.
std::string describeCommand(const std::vector<std::string>& argv) {
  std::string s;
  for (size_t i = 0; i < argv.size(); ++i) {
    if (argv[i] == "-c" && i + 1 < argv.size() && argv[i + 1].find('=') != std::string::npos) {
      ++i;
      continue;
    }
    s += (s.empty() ? "" : " ") + argv[i];
  }
  return s;
}

}  // namespace

Result<CommandOutcome> runCommand(const CommandSpec& spec, const std::function<bool()>& cancelled) {
  if (spec.argv.empty()) return Status::error(EINVAL, "runCommand: empty argv");
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return errnoStatus("pipe", "for " + spec.argv[0]);
  auto start = std::chrono::steady_clock::now();
  pid_t pid = fork();
  if (pid < 0) {
    Status s = errnoStatus("fork", "for " + spec.argv[0]);
    close(fds[0]);
    close(fds[1]);
    return s;
  }
  if (pid == 0) execChild(spec, fds[1]);
  setpgid(pid, pid);  // also in the child: whichever runs first
  close(fds[1]);
  fcntl(fds[0], F_SETFL, O_NONBLOCK);

  CommandOutcome outcome;
  int status = 0;
  bool killed = false;
  while (true) {
    pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) break;
    if (done < 0 && errno != EINTR) break;
    if (!killed) {
      auto now = std::chrono::steady_clock::now();
      outcome.timedOut = now - start >= spec.timeout;
      outcome.cancelled = cancelled && cancelled();
      if (outcome.timedOut || outcome.cancelled) {
        kill(-pid, SIGKILL);
        killed = true;
      }
    }
    pollfd p{fds[0], POLLIN, 0};
    poll(&p, 1, 50);
    drain(fds[0], outcome.output);
  }
  outcome.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // Grandchildren (daemons) may hold the pipe; it is non-blocking, so this never waits for them.
  drain(fds[0], outcome.output);
  close(fds[0]);
  if (outcome.output.size() > kKeepOutput) {
    outcome.output.erase(0, outcome.output.size() - kKeepOutput);
  }
  outcome.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return outcome;
}

Status commandStatus(const CommandSpec& spec, const CommandOutcome& outcome) {
  if (outcome.exitCode == 0 && !outcome.timedOut && !outcome.cancelled) return Status::ok();
  std::string what = describeCommand(spec.argv);
  if (outcome.timedOut) {
    what += ": timed out after " + std::to_string(spec.timeout.count() / 1000) + " s";
  } else if (outcome.cancelled) {
    what += ": interrupted";
  } else {
    what += ": exited " + std::to_string(outcome.exitCode);
  }
  // The last few lines of output usually say why.
  std::string tail = outcome.output;
  while (!tail.empty() && tail.back() == '\n') tail.pop_back();
  size_t cut = tail.size();
  for (int lines = 0; lines < 3 && cut != std::string::npos && cut > 0; ++lines) {
    cut = tail.rfind('\n', cut - 1);
  }
  if (cut != std::string::npos && cut < tail.size()) tail = tail.substr(cut + 1);
  if (tail.size() > 400) tail = "..." + tail.substr(tail.size() - 400);
  for (auto& c : tail) {
    if (c == '\n') c = '|';
  }
  if (!tail.empty()) what += ": " + tail;
  return Status::error(outcome.timedOut ? ETIMEDOUT : outcome.cancelled ? EINTR : EIO, what);
}

}  // namespace basalt::tools::bench
