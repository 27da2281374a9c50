// Small text helpers shared by the daemons, the mount and the CLI (option values, config entries).
#pragma once

#include <string>
#include <vector>

namespace basalt {

// "a,,b," -> {"a", "b"}: the parts between `sep`, empty ones dropped.
std::vector<std::string> splitList(const std::string& s, char sep = ',');

}  // namespace basalt
