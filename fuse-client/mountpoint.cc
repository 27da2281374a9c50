#include "fuse-client/mountpoint.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>

namespace basalt::client {

namespace {

std::string unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '3') {
      out.push_back(static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0')));
      i += 3;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

}  // namespace

std::vector<MountEntry> parseMountInfo(std::string_view text) {
  std::vector<MountEntry> out;
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    // id parent major:minor root mountpoint options [optional fields...] - fstype source superopts
    std::istringstream fields(line);
    std::vector<std::string> f;
    std::string word;
    while (fields >> word) f.push_back(word);
    size_t dash = 0;
    for (size_t i = 6; i < f.size(); ++i) {
      if (f[i] == "-") {
        dash = i;
        break;
      }
    }
    if (dash == 0 || dash + 1 >= f.size()) continue;
    MountEntry e;
    e.mountPoint = unescape(f[4]);
    e.fsType = f[dash + 1];
    e.source = dash + 2 < f.size() ? unescape(f[dash + 2]) : "";
    out.push_back(std::move(e));
  }
  return out;
}

std::string normalizePath(const std::string& path, const std::string& cwd) {
  std::string full = (!path.empty() && path[0] == '/') ? path : cwd + "/" + path;
  std::vector<std::string> parts;
  std::istringstream in(full);
  std::string part;
  while (std::getline(in, part, '/')) {
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
      continue;
    }
    parts.push_back(part);
  }
  std::string out;
  for (const auto& p : parts) out += "/" + p;
  return out.empty() ? "/" : out;
}

bool isBasaltMount(const std::vector<MountEntry>& mounts, const std::string& mountpoint) {
  for (const auto& m : mounts) {
    if (m.mountPoint == mountpoint &&
        (m.fsType == "fuse.basalt" || m.source.rfind("basalt:", 0) == 0)) {
      return true;
    }
  }
  return false;
}

Status checkMountpoint(const std::string& mountpoint) {
  char cwd[4096];
  std::string dir = getcwd(cwd, sizeof(cwd)) ? cwd : "/";
  std::string path = normalizePath(mountpoint, dir);
  std::ifstream f("/proc/self/mountinfo");
  std::stringstream text;
  text << f.rdbuf();
  if (isBasaltMount(parseMountInfo(text.str()), path)) {
    return Status::error(EBUSY, "mountpoint " + mountpoint + ": already a basalt mount");
  }
  struct stat st;
  if (stat(mountpoint.c_str(), &st) != 0) {
    int err = errno;
    if (err == ENOENT) return Status::error(err, "mountpoint " + mountpoint + ": no such directory");
    if (err == ENOTCONN) {
      return Status::error(err, "mountpoint " + mountpoint +
                                    ": stale FUSE mount (run fusermount3 -u " + mountpoint + ")");
    }
    return Status::error(err, "mountpoint " + mountpoint + ": " + strerror(err));
  }
  if (!S_ISDIR(st.st_mode)) {
    return Status::error(ENOTDIR, "mountpoint " + mountpoint + ": not a directory");
  }
  return Status::ok();
}

}  // namespace basalt::client
