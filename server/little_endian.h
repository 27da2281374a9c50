// Little-endian integers in byte buffers, for the formats that are not LMDB keys (the metadata
// server's command log and checkpoint file, the POSIX ACL xattr value; keys are big-endian,
// meta/keys.h).
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace basalt {

// Writes the low `n` bytes of `v` at `p`, least significant first.
inline void putLe(uint8_t* p, uint64_t v, int n) {
  for (int i = 0; i < n; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

inline uint64_t getLe(const uint8_t* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return v;
}

// Appends the low `n` (at most 8) bytes of `v`, least significant first.
inline void appendLe(std::string& out, uint64_t v, int n) {
  uint8_t b[8];
  putLe(b, v, n);
  out.append(reinterpret_cast<const char*>(b), static_cast<size_t>(n));
}
inline void appendLe32(std::string& out, uint32_t v) { appendLe(out, v, 4); }

// The `n` bytes at `at` (the caller checked that they are there).
inline uint64_t readLe(std::string_view in, size_t at, int n) {
  return getLe(reinterpret_cast<const uint8_t*>(in.data()) + at, n);
}
inline uint32_t readLe32(std::string_view in, size_t at) { return static_cast<uint32_t>(readLe(in, at, 4)); }

}  // namespace basalt
