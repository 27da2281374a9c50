#include <doctest/doctest.h>

#include <cstring>

#include "server/crc32c.h"

using namespace basalt;

TEST_CASE("CRC32C of \"123456789\" is the known answer E3069283") {
  const char* s = "123456789";
  CHECK(crc32c(s, strlen(s)) == 0xE3069283u);
  CHECK(crc32c(s, 0) == 0u);
}

TEST_CASE("CRC32C continued over two pieces equals CRC32C of the whole") {
  const char* s = "the quick brown fox jumps over the lazy dog";
  size_t n = strlen(s);
  CHECK(crc32c(s + 10, n - 10, crc32c(s, 10)) == crc32c(s, n));
  CHECK(crc32c("a", 1) != crc32c("b", 1));
}
