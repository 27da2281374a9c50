// CRC32C (Castagnoli, the iSCSI/ext4 polynomial) over byte ranges, computed by Intel ISA-L.
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>

namespace basalt {

// The CRC32C of `len` bytes, continuing from `crc` (the CRC of the bytes before them; 0 to start).
// crc32c("123456789") == 0xE3069283.
uint32_t crc32c(const void* data, size_t len, uint32_t crc = 0);

}  // namespace basalt
