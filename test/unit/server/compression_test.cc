#include <doctest/doctest.h>

#include <random>
#include <string>

#include "server/compression.h"

using namespace basalt;

namespace {

std::vector<uint8_t> text(size_t n) {
  std::string line = "#define BASALT_CONFIG_VALUE_%d 0x10 /* a header line, as /usr/include has */\n";
  std::vector<uint8_t> out;
  for (size_t i = 0; out.size() < n; ++i) {
    std::string l = line + std::to_string(i);
    out.insert(out.end(), l.begin(), l.end());
  }
  out.resize(n);
  return out;
}

std::vector<uint8_t> noise(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> out(n);
  for (auto& b : out) b = static_cast<uint8_t>(rng());
  return out;
}

}  // namespace

TEST_CASE("compressible data is packed and comes back byte for byte") {
  auto raw = text(1 << 20);
  auto packed = compression::packIfSmaller(raw.data(), raw.size());
  REQUIRE(packed.has_value());
  CHECK(packed->size() < raw.size() / 4);
  auto back = compression::unpack(packed->data(), packed->size(), raw.size());
  REQUIRE_MESSAGE(back.isOk(), back.status().toString());
  CHECK(*back == raw);
}

TEST_CASE("incompressible, small and barely compressible data stays raw") {
  auto random = noise(1 << 20, 1);
  CHECK_FALSE(compression::packIfSmaller(random.data(), random.size()).has_value());
  auto small = text(compression::kMinSize - 1);
  CHECK_FALSE(compression::packIfSmaller(small.data(), small.size()).has_value());
  // Compressible at both ends but random around the middle: the sample says raw.
  auto mixed = noise(64 * 1024, 2);
  auto t = text(16 * 1024);
  std::copy(t.begin(), t.end(), mixed.begin());
  std::copy(t.begin(), t.end(), mixed.end() - static_cast<long>(t.size()));
  CHECK_FALSE(compression::packIfSmaller(mixed.data(), mixed.size()).has_value());
  // Compressible around the middle only, by less than 1/8 overall: raw after the full pass.
  auto mostly = noise(256 * 1024, 3);
  auto m = text(8 * 1024);
  std::copy(m.begin(), m.end(), mostly.begin() + 124 * 1024);
  CHECK_FALSE(compression::packIfSmaller(mostly.data(), mostly.size()).has_value());
}

TEST_CASE("a corrupt, truncated or mislabelled frame is refused with EINVAL") {
  auto raw = text(100000);
  auto packed = *compression::packIfSmaller(raw.data(), raw.size());
  SUBCASE("wrong length announced") {
    auto r = compression::unpack(packed.data(), packed.size(), raw.size() + 1);
    CHECK(r.status().code() == EINVAL);
  }
  SUBCASE("truncated") {
    auto r = compression::unpack(packed.data(), packed.size() / 2, raw.size());
    CHECK(r.status().code() == EINVAL);
  }
  SUBCASE("not a frame at all") {
    auto r = compression::unpack(raw.data(), 1000, raw.size());
    CHECK(r.status().code() == EINVAL);
  }
  SUBCASE("bytes flipped inside") {
    for (size_t i = packed.size() / 3; i < packed.size() / 3 + 64; ++i) packed[i] ^= 0x5a;
    auto r = compression::unpack(packed.data(), packed.size(), raw.size());
    // The frame's checksum catches what the decoder itself would not.
    CHECK(r.status().code() == EINVAL);
  }
}
