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
  auto m = mountContaining(absolutePath(pathArg));
  return m ? m->fstype : "";
}

}  // namespace basalt::tools::bench
