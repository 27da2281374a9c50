// zstd for bulk data between servers (a primary's forwards to its backups, the installs that bring
// a replica up to date): compressed only when it pays, and incompressible data (already compressed
// files, media, random bytes) is recognised from a small sample, so it costs a few microseconds
// instead of a full compression pass.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "server/status.h"

namespace basalt::compression {

// Smaller pieces are always sent raw: the saving would not pay for the call into zstd.
constexpr size_t kMinSize = 4096;
// Compression must save at least 1/kMinSaving of the bytes, on the sample and on the whole.
constexpr size_t kMinSaving = 8;

// One zstd frame (fast level) holding `data`, or nullopt when it should travel raw: shorter than
// kMinSize, a 4 KiB sample from its middle shrinks by less than 1/8, or the whole does.
// Thread-safe (one compression context per thread).
std::optional<std::vector<uint8_t>> packIfSmaller(const uint8_t* data, size_t size);

// The bytes of a frame made by packIfSmaller. EINVAL unless `data` is one valid zstd frame that
// holds exactly `rawLength` bytes (a corrupt or lying frame never yields a wrong length).
Result<std::vector<uint8_t>> unpack(const uint8_t* data, size_t size, size_t rawLength);

}  // namespace basalt::compression
