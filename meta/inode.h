// The inode record as stored in the inodes table, and its conversion to the wire's Attr.
// Pure data and functions; thread-safe.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "rpc-schema/common.capnp.h"

namespace basalt::meta {

constexpr uint64_t kRootIno = 1;
constexpr uint32_t kDefaultChunkSize = 64u << 20;
constexpr uint8_t kDefaultReplication = 3;
constexpr uint32_t kMaxLink = 65000;      // EMLINK beyond this (like ext4)
constexpr size_t kMaxName = 255;
constexpr size_t kMaxSymlink = 4095;
constexpr uint64_t kFirstCookie = 3;      // 1 and 2 are "." and ".."

struct Timespec {
  int64_t sec = 0;
  uint32_t nsec = 0;
};

struct Inode {
  uint64_t ino = 0;
  uint32_t mode = 0;
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint32_t nlink = 0;
  uint64_t size = 0;
  uint64_t rdev = 0;
  uint64_t generation = 0;
  Timespec atime, mtime, ctime;
  uint8_t replication = kDefaultReplication;
  uint32_t chunkSize = kDefaultChunkSize;
  // Directories only: the parent directory (root: itself) and the next cookie to hand out.
  uint64_t parent = 0;
  uint64_t nextCookie = kFirstCookie;

  bool isDir() const { return S_ISDIR(mode); }
  bool isReg() const { return S_ISREG(mode); }
  bool isLnk() const { return S_ISLNK(mode); }
};

// Fixed little-endian layout, version byte first (docs/formats.md).
std::string encodeInode(const Inode& inode);
// Returns nothing for a record of an unknown layout or wrong length.
std::optional<Inode> decodeInode(uint64_t ino, std::string_view bytes);

void fillAttr(const Inode& inode, rpc::Attr::Builder out);

}  // namespace basalt::meta
