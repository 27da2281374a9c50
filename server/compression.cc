#include "server/compression.h"

#include <zstd.h>

#include <memory>
#include <string>

namespace basalt::compression {
namespace {

constexpr int kLevel = 1;
constexpr size_t kSample = 4096;

struct CCtxFree {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};
struct DCtxFree {
  void operator()(ZSTD_DCtx* d) const { ZSTD_freeDCtx(d); }
};

// Fast level, with the frame's content checksum: a frame damaged anywhere fails to unpack instead
// of yielding other bytes of the same length.
ZSTD_CCtx* cctx() {
  thread_local std::unique_ptr<ZSTD_CCtx, CCtxFree> c([] {
    ZSTD_CCtx* c = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, kLevel);
    ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
    return c;
  }());
  return c.get();
}

ZSTD_DCtx* dctx() {
  thread_local std::unique_ptr<ZSTD_DCtx, DCtxFree> d(ZSTD_createDCtx());
  return d.get();
}

// Compressed size of `size` bytes at `data`, into `out` (resized to fit); 0 on failure.
size_t compressInto(const uint8_t* data, size_t size, std::vector<uint8_t>& out) {
  out.resize(ZSTD_compressBound(size));
  size_t n = ZSTD_compress2(cctx(), out.data(), out.size(), data, size);
  if (ZSTD_isError(n)) return 0;
  out.resize(n);
  return n;
}

bool saves(size_t packed, size_t raw) { return packed != 0 && packed <= raw - raw / kMinSaving; }

}  // namespace

std::optional<std::vector<uint8_t>> packIfSmaller(const uint8_t* data, size_t size) {
  if (size < kMinSize) return std::nullopt;
  std::vector<uint8_t> out;
  if (size > 2 * kSample) {
    const uint8_t* sample = data + (size / 2 - kSample / 2);
    if (!saves(compressInto(sample, kSample, out), kSample)) return std::nullopt;
  }
  if (!saves(compressInto(data, size, out), size)) return std::nullopt;
  return out;
}

Result<std::vector<uint8_t>> unpack(const uint8_t* data, size_t size, size_t rawLength) {
  unsigned long long declared = ZSTD_getFrameContentSize(data, size);
  if (declared == ZSTD_CONTENTSIZE_ERROR || declared == ZSTD_CONTENTSIZE_UNKNOWN || declared != rawLength) {
    return Status::error(EINVAL, "compressed data is not one zstd frame of " + std::to_string(rawLength) +
                                     " bytes");
  }
  std::vector<uint8_t> out(rawLength);
  size_t n = ZSTD_decompressDCtx(dctx(), out.data(), out.size(), data, size);
  if (ZSTD_isError(n)) {
    return Status::error(EINVAL, std::string("corrupt compressed data: ") + ZSTD_getErrorName(n));
  }
  if (n != rawLength) {
    return Status::error(EINVAL, "compressed data holds " + std::to_string(n) + " bytes, not the " +
                                     std::to_string(rawLength) + " announced");
  }
  return out;
}

}  // namespace basalt::compression
