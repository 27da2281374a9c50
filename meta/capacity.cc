#include "meta/capacity.h"

#include <sys/statvfs.h>

#include <cerrno>
#include <cstring>

namespace basalt::meta {

Result<Capacity> StatvfsCapacity::capacity() {
  struct statvfs st;
  if (statvfs(dir_.c_str(), &st) != 0) return Status::error(errno, "statvfs " + dir_ + ": " + strerror(errno));
  Capacity c;
  c.blockSize = static_cast<uint32_t>(st.f_frsize);
  c.blocks = st.f_blocks;
  c.blocksFree = st.f_bfree;
  c.blocksAvail = st.f_bavail;
  return c;
}

}  // namespace basalt::meta
