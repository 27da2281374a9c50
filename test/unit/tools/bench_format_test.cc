#include <doctest/doctest.h>

#include <cmath>

#include "tools/bench/format.h"

using namespace basalt::tools::bench;

TEST_CASE("numbers keep three significant figures and group thousands") {
  CHECK(formatNumber(0) == "0.00");
  CHECK(formatNumber(0.01234) == "0.0123");
  CHECK(formatNumber(0.4) == "0.400");
  CHECK(formatNumber(1.234) == "1.23");
  CHECK(formatNumber(12.34) == "12.3");
  CHECK(formatNumber(123.4) == "123");
  CHECK(formatNumber(1234.6) == "1,235");
  CHECK(formatNumber(1234567) == "1,234,567");
  CHECK(formatNumber(-1234) == "-1,234");
  CHECK(formatNumber(999.7) == "1,000");
  CHECK(formatNumber(NAN) == "?");
}

TEST_CASE("ratios and ranges use the multiplication sign and an en dash") {
  CHECK(formatRatio(0.634) == "0.634×");
  CHECK(formatRange(1.5, 2.25) == "1.50–2.25");
}

TEST_CASE("display width counts code points, not bytes") {
  CHECK(displayWidth("abc") == 3);
  CHECK(displayWidth("≥0.6×") == 5);
  CHECK(displayWidth("") == 0);
}

TEST_CASE("a table lines its columns up, right-aligning numbers, even with multi-byte text") {
  TextTable t({{"name", TextTable::Align::kLeft}, {"value", TextTable::Align::kRight}});
  t.addRow({"a", "1"});
  t.addRow({"≥long", "1,234"});
  t.addRow({"short"});
  CHECK(t.render() ==
        "name   value\n"
        "------------\n"
        "a          1\n"
        "≥long  1,234\n"
        "short\n");
}

TEST_CASE("a table row with more cells than columns is a bug") {
  TextTable t({{"only", TextTable::Align::kLeft}});
  CHECK_THROWS(t.addRow({"a", "b"}));
}
