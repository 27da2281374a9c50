#include "tools/process.h"

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <fstream>
#include <sstream>
#include <thread>

#include "tools/cluster_dir.h"

namespace basalt::tools {

std::string selfDir() {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return ".";
  std::string path(buf, n);
  return path.substr(0, path.rfind('/'));
}

int spawnDaemon(const std::string& exe, const std::vector<std::string>& args,
                const std::string& logFile, std::string& error) {
  if (access(exe.c_str(), X_OK) != 0) {
    error = exe + ": " + strerror(errno);
    return -1;
  }
  int logFd = open(logFile.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (logFd < 0) {
    error = "cannot open log " + logFile + ": " + strerror(errno);
    return -1;
  }
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(exe.c_str()));
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = fork();
  if (pid < 0) {
    error = std::string("fork: ") + strerror(errno);
    close(logFd);
    return -1;
  }
  if (pid == 0) {
    setsid();
    int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, 0);
    dup2(logFd, 1);
    dup2(logFd, 2);
    execv(exe.c_str(), argv.data());
    dprintf(2, "exec %s: %s\n", exe.c_str(), strerror(errno));
    _exit(127);
  }
  close(logFd);
  return pid;
}

bool isRunning(int pid, const std::string& programName) {
  if (pid <= 0) return false;
  int status;
  if (waitpid(pid, &status, WNOHANG) == pid) return false;  // our child, and it exited
  if (kill(pid, 0) != 0 && errno == ESRCH) return false;
  auto cmdline = readFile("/proc/" + std::to_string(pid) + "/cmdline");
  if (!cmdline) return false;
  std::string argv0 = cmdline->substr(0, cmdline->find('\0'));
  auto stat = readFile("/proc/" + std::to_string(pid) + "/stat");
  if (stat) {
    auto close = stat->rfind(')');
    if (close != std::string::npos && close + 2 < stat->size() && (*stat)[close + 2] == 'Z') {
      return false;  // a zombie is not running
    }
  }
  return argv0.find(programName) != std::string::npos;
}

bool childAlive(int pid) {
  int status;
  return pid > 0 && waitpid(pid, &status, WNOHANG) == 0;
}

bool waitUntil(std::chrono::milliseconds timeout, const std::function<bool()>& done) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return done();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

int freeLocalPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  ::close(fd);
  return port;
}

std::string stopProcess(int pid, const std::string& programName,
                        std::chrono::milliseconds grace) {
  if (!isRunning(pid, programName)) return "was not running";
  kill(pid, SIGTERM);
  if (waitUntil(grace, [&] { return !isRunning(pid, programName); })) return "stopped";
  kill(pid, SIGKILL);
  waitUntil(std::chrono::seconds(5), [&] { return !isRunning(pid, programName); });
  return "did not stop within " + std::to_string(grace.count()) + " ms; killed";
}

namespace {
std::string unescapeMountField(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 3), nullptr, 8));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}
}  // namespace

std::vector<MountEntry> readMounts() {
  std::vector<MountEntry> mounts;
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id, parent, dev, root, mnt;
    fields >> id >> parent >> dev >> root >> mnt;
    auto dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    MountEntry m;
    m.mountpoint = unescapeMountField(mnt);
    std::istringstream rest(line.substr(dash + 3));
    rest >> m.fstype >> m.source;
    mounts.push_back(std::move(m));
  }
  return mounts;
}

std::optional<MountEntry> mountContaining(const std::string& path) {
  std::optional<MountEntry> best;
  for (auto& m : readMounts()) {
    bool under = path == m.mountpoint || m.mountpoint == "/" ||
                 (path.rfind(m.mountpoint, 0) == 0 && path.size() > m.mountpoint.size() &&
                  path[m.mountpoint.size()] == '/');
    if (under && (!best || m.mountpoint.size() >= best->mountpoint.size())) best = m;
  }
  return best;
}

bool isFuseMounted(const std::string& mountpoint) {
  for (const auto& m : readMounts()) {
    if (m.mountpoint == mountpoint && m.fstype.rfind("fuse", 0) == 0) return true;
  }
  return false;
}

std::string absolutePath(const std::string& path) {
  char buf[PATH_MAX];
  if (realpath(path.c_str(), buf)) return buf;
  return path;
}

std::string tailFile(const std::string& path, int lines) {
  std::ifstream in(path);
  std::deque<std::string> last;
  std::string line;
  while (std::getline(in, line)) {
    last.push_back(line);
    if (static_cast<int>(last.size()) > lines) last.pop_front();
  }
  std::string out;
  for (const auto& l : last) out += "    " + l + "\n";
  return out;
}

}  // namespace basalt::tools
