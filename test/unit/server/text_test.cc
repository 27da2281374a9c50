#include <doctest/doctest.h>

#include "server/text.h"

using basalt::splitList;

TEST_CASE("splitList drops empty parts") {
  CHECK(splitList("a,b") == std::vector<std::string>{"a", "b"});
  CHECK(splitList(",a,,b,") == std::vector<std::string>{"a", "b"});
  CHECK(splitList("").empty());
  CHECK(splitList(",,").empty());
  CHECK(splitList("one") == std::vector<std::string>{"one"});
  CHECK(splitList("x:y", ':') == std::vector<std::string>{"x", "y"});
}
