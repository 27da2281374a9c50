#include "server/limits.h"

#include <sys/resource.h>

#include <cerrno>
#include <cstring>

namespace basalt {

std::string raiseOpenFileLimit() {
  rlimit lim;
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return std::string("getrlimit: ") + strerror(errno);
  if (lim.rlim_cur >= lim.rlim_max) return "";
  lim.rlim_cur = lim.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &lim) != 0) return std::string("setrlimit: ") + strerror(errno);
  return "";
}

}  // namespace basalt
