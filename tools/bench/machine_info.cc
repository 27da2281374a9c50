#include "tools/bench/machine_info.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "tools/cluster_dir.h"
#include "tools/process.h"

namespace basalt::tools::bench {
namespace {

// The value after "key:" on the first line of `path` that starts with `key`.
std::string field(const std::string& path, const std::string& key) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) != 0) continue;
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    auto value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    return value;
  }
  return "";
}

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

std::string readLoadAverage() {
  std::istringstream in(readFile("/proc/loadavg").value_or(""));
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

MachineInfo readMachineInfo() {
  MachineInfo m;
  m.nproc = sysconf(_SC_NPROCESSORS_ONLN);
  std::istringstream mem(field("/proc/meminfo", "MemTotal"));
  mem >> m.memTotalKiB;
  utsname u;
  if (uname(&u) == 0) m.kernel = u.release;
  m.cpuModel = field("/proc/cpuinfo", "model name");
  m.loadAverage = readLoadAverage();
  return m;
}

std::string filesystemType(const std::string& pathArg) {
  std::string path = absolutePath(pathArg);
  std::ifstream in("/proc/self/mountinfo");
  std::string line, best, bestType;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id, parent, dev, root, mnt;
    fields >> id >> parent >> dev >> root >> mnt;
    mnt = unescapeMountField(mnt);
    bool under = path == mnt || mnt == "/" ||
                 (path.rfind(mnt, 0) == 0 && path.size() > mnt.size() && path[mnt.size()] == '/');
    auto dash = line.find(" - ");
    if (!under || dash == std::string::npos || mnt.size() < best.size()) continue;
    std::istringstream rest(line.substr(dash + 3));
    best = mnt;
    rest >> bestType;
  }
  return bestType;
}

}  // namespace basalt::tools::bench
