// Little-endian integers in byte buffers, for the on-disk formats that are not LMDB keys (the
// metadata server's command log and checkpoint file; keys are big-endian, meta/keys.h).
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

inline void appendLe32(std::string& out, uint32_t v) {
  uint8_t b[4];
  putLe(b, v, 4);
  out.append(reinterpret_cast<const char*>(b), 4);
}

inline uint32_t readLe32(std::string_view in, size_t at) {
  return static_cast<uint32_t>(getLe(reinterpret_cast<const uint8_t*>(in.data()) + at, 4));
}

}  // namespace basalt
