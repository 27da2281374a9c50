#include "tools/cluster_dir.h"
#include "tools/process.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <sstream>

namespace basalt::tools {

namespace {
// "" or the error, as ClusterDir's callers print it.
std::string writeOrError(const std::string& path, const std::string& content) {
  Status st = writeFileAtomically(path, content);
  return st.isOk() ? "" : st.message();
}
}  // namespace

ClusterDir::ClusterDir(std::string dir) : dir_(std::move(dir)) {
  while (dir_.size() > 1 && dir_.back() == '/') dir_.pop_back();
}

bool ClusterDir::exists() const {
  struct stat st;
  return stat((dir_ + "/cluster.conf").c_str(), &st) == 0;
}

std::string ClusterDir::create() {
  for (const std::string& d : {dir_, dir_ + "/run", dir_ + "/logs"}) {
    if (mkdir(d.c_str(), 0755) != 0 && errno != EEXIST) {
      return "cannot create " + d + ": " + strerror(errno);
    }
  }
  return "";
}

std::map<std::string, std::string> ClusterDir::readConfig() const {
  std::map<std::string, std::string> config;
  auto text = readFile(dir_ + "/cluster.conf");
  if (!text) return config;
  std::istringstream in(*text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    config[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return config;
}

std::string ClusterDir::writeConfig(const std::map<std::string, std::string>& config) const {
  std::string text = "# basalt local cluster; written by `basalt up`\n";
  for (const auto& [k, v] : config) text += k + "=" + v + "\n";
  return writeOrError(dir_ + "/cluster.conf", text);
}

std::optional<ProcessRecord> ClusterDir::readRecord(const std::string& name) const {
  auto text = readFile(runFile(name));
  if (!text) return std::nullopt;
  ProcessRecord r;
  r.name = name;
  std::istringstream in(*text);
  in >> r.pid >> r.address;
  std::getline(in >> std::ws, r.mountpoint);
  if (r.pid <= 0) return std::nullopt;
  return r;
}

std::vector<ProcessRecord> ClusterDir::readRecords() const {
  std::vector<ProcessRecord> out;
  DIR* d = opendir((dir_ + "/run").c_str());
  if (!d) return out;
  while (auto* e = readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == ".." || name.find('.') != std::string::npos) continue;
    if (auto r = readRecord(name)) out.push_back(*r);
  }
  closedir(d);
  // meta first, then chunk servers, then mounts: the order things start in.
  auto rank = [](const std::string& n) { return n.rfind("meta", 0) == 0 ? 0 : n.rfind("chunk", 0) == 0 ? 1 : 2; };
  std::sort(out.begin(), out.end(), [&](const ProcessRecord& a, const ProcessRecord& b) {
    return std::make_pair(rank(a.name), a.name) < std::make_pair(rank(b.name), b.name);
  });
  return out;
}

std::string ClusterDir::writeRecord(const ProcessRecord& r) const {
  return writeOrError(runFile(r.name), std::to_string(r.pid) + " " +
                                                  (r.address.empty() ? "-" : r.address) + " " +
                                                  r.mountpoint + "\n");
}

void ClusterDir::removeRecord(const std::string& name) const { unlink(runFile(name).c_str()); }

std::string ClusterDir::metaAddresses() const {
  std::string out;
  for (const auto& r : readRecords()) {
    if (!r.isMeta()) continue;
    out += (out.empty() ? "" : ",") + r.address;
  }
  return out;
}

}  // namespace basalt::tools
