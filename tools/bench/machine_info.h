// What the machine was like when the bench ran, for the JSON record: CPUs, memory, kernel, load,
// and the filesystem type under each bench directory.
#pragma once

#include <string>

namespace basalt::tools::bench {

struct MachineInfo {
  long nproc = 0;
  long memTotalKiB = 0;
  std::string kernel;       // uname -r
  std::string cpuModel;     // "model name" from /proc/cpuinfo, "" if absent
  std::string loadAverage;  // the first three fields of /proc/loadavg
};

MachineInfo readMachineInfo();

// The load average now ("0.15 0.20 0.18").
std::string readLoadAverage();

// The type of the filesystem that holds `path` ("fuse.basalt", "ext4", ...): the mountinfo entry
// whose mount point is the longest prefix of the absolute path. "" if unknown.
std::string filesystemType(const std::string& path);

}  // namespace basalt::tools::bench
