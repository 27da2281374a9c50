// Big-endian key encoding for the store: memcmp order of an encoded key is numeric order, so range
// scans over a parent's entries or a file's chunks are prefix scans. Header-only, pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace basalt::meta {

inline void appendBe64(std::string& out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
inline void appendBe32(std::string& out, uint32_t v) {
  for (int i = 3; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
// Requires at least 8 (4) bytes at `p`.
inline uint64_t readBe64(std::string_view s, size_t at = 0) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(s[at + i]);
  return v;
}
inline uint32_t readBe32(std::string_view s, size_t at = 0) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(s[at + i]);
  return v;
}

inline std::string be64(uint64_t v) {
  std::string s;
  appendBe64(s, v);
  return s;
}
inline std::string inoKey(uint64_t ino) { return be64(ino); }
inline std::string direntKey(uint64_t parent, std::string_view name) {
  std::string s = be64(parent);
  s.append(name);
  return s;
}
inline std::string cookieKey(uint64_t parent, uint64_t cookie) {
  std::string s = be64(parent);
  appendBe64(s, cookie);
  return s;
}
inline std::string xattrKey(uint64_t ino, std::string_view name) { return direntKey(ino, name); }
inline std::string chunkKey(uint64_t ino, uint32_t index) {
  std::string s = be64(ino);
  appendBe32(s, index);
  return s;
}
inline std::string dedupKey(uint64_t session, uint64_t seq) { return cookieKey(session, seq); }

// A directory entry's value: the child and the entry's cookie in its parent.
struct DirentValue {
  uint64_t child = 0;
  uint64_t cookie = 0;
};
inline std::string encodeDirent(DirentValue d) {
  std::string s = be64(d.child);
  appendBe64(s, d.cookie);
  return s;
}
inline DirentValue decodeDirent(std::string_view s) { return {readBe64(s, 0), readBe64(s, 8)}; }

}  // namespace basalt::meta
