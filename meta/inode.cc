#include "meta/inode.h"

#include <cstring>

namespace basalt::meta {
namespace {

constexpr uint8_t kInodeLayout = 1;
constexpr size_t kInodeBytes = 1 + 4 * 4 + 8 * 3 + 3 * 12 + 1 + 4 + 8 * 2;

template <typename T>
void put(std::string& out, T v) {
  for (size_t i = 0; i < sizeof(T); ++i) out.push_back(static_cast<char>((static_cast<uint64_t>(v) >> (8 * i)) & 0xff));
}
template <typename T>
T get(std::string_view in, size_t& at) {
  uint64_t v = 0;
  for (size_t i = 0; i < sizeof(T); ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(in[at + i])) << (8 * i);
  at += sizeof(T);
  return static_cast<T>(v);
}
void putTime(std::string& out, Timespec t) {
  put<int64_t>(out, t.sec);
  put<uint32_t>(out, t.nsec);
}
Timespec getTime(std::string_view in, size_t& at) {
  Timespec t;
  t.sec = get<int64_t>(in, at);
  t.nsec = get<uint32_t>(in, at);
  return t;
}

}  // namespace

std::string encodeInode(const Inode& n) {
  std::string out;
  out.reserve(kInodeBytes);
  put<uint8_t>(out, kInodeLayout);
  put(out, n.mode);
  put(out, n.uid);
  put(out, n.gid);
  put(out, n.nlink);
  put(out, n.size);
  put(out, n.rdev);
  put(out, n.generation);
  putTime(out, n.atime);
  putTime(out, n.mtime);
  putTime(out, n.ctime);
  put(out, n.replication);
  put(out, n.chunkSize);
  put(out, n.parent);
  put(out, n.nextCookie);
  return out;
}

std::optional<Inode> decodeInode(uint64_t ino, std::string_view in) {
  if (in.size() != kInodeBytes || static_cast<uint8_t>(in[0]) != kInodeLayout) return std::nullopt;
  size_t at = 1;
  Inode n;
  n.ino = ino;
  n.mode = get<uint32_t>(in, at);
  n.uid = get<uint32_t>(in, at);
  n.gid = get<uint32_t>(in, at);
  n.nlink = get<uint32_t>(in, at);
  n.size = get<uint64_t>(in, at);
  n.rdev = get<uint64_t>(in, at);
  n.generation = get<uint64_t>(in, at);
  n.atime = getTime(in, at);
  n.mtime = getTime(in, at);
  n.ctime = getTime(in, at);
  n.replication = get<uint8_t>(in, at);
  n.chunkSize = get<uint32_t>(in, at);
  n.parent = get<uint64_t>(in, at);
  n.nextCookie = get<uint64_t>(in, at);
  return n;
}

void fillAttr(const Inode& n, rpc::Attr::Builder out) {
  out.setIno(n.ino);
  out.setGeneration(n.generation);
  out.setMode(n.mode);
  out.setNlink(n.nlink);
  out.setUid(n.uid);
  out.setGid(n.gid);
  out.setRdev(n.rdev);
  // Directories report one 4 KiB block, as ext4 does, so tools that compare trees agree.
  uint64_t size = n.isDir() ? 4096 : n.size;
  out.setSize(size);
  out.setBlocks((size + 511) / 512);
  auto setTime = [](rpc::Time::Builder b, Timespec t) {
    b.setSec(t.sec);
    b.setNsec(t.nsec);
  };
  setTime(out.initAtime(), n.atime);
  setTime(out.initMtime(), n.mtime);
  setTime(out.initCtime(), n.ctime);
  out.setReplication(n.replication);
  out.setChunkSize(n.chunkSize);
}

}  // namespace basalt::meta
