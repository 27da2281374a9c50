#include <doctest/doctest.h>

#include <cmath>

#include "tools/bench/json.h"

using namespace basalt::tools::bench;

TEST_CASE("JSON strings escape quotes, backslashes and control characters") {
  CHECK(jsonString("a\"b\\c") == "\"a\\\"b\\\\c\"");
  CHECK(jsonString("line\nnext\t") == "\"line\\nnext\\u0009\"");
  CHECK(jsonString("≥0.6×") == "\"≥0.6×\"");
}

TEST_CASE("bytes that are not UTF-8 become U+FFFD so the file always parses") {
  CHECK(jsonString(std::string("a\xff") + "b") == "\"a\\ufffdb\"");
  CHECK(jsonString(std::string("\xe2\x89")) == "\"\\ufffd\\ufffd\"");  // truncated sequence
}

TEST_CASE("JSON numbers keep precision and non-finite values become null") {
  CHECK(jsonNumber(1234.5) == "1234.5");
  CHECK(jsonNumber(NAN) == "null");
  CHECK(jsonNumber(INFINITY) == "null");
}

TEST_CASE("the record holds every raw sample, the medians, errors and the verdict") {
  BenchRecord r;
  r.options.dir = "/mnt/x";
  r.options.vsDir = "/tmp/y";
  r.machine.nproc = 2;
  MetricResult m{metricSpec("seq_write"), {}, {}};
  m.basalt.samples = {60, 70, 50};
  m.basalt.errors = {{1, "EIO: pwrite"}};
  m.local.samples = {100, 100, 100};
  r.results.push_back(m);
  std::string json = toJson(r);
  CHECK(json.find("\"samples\": [60, 70, 50]") != std::string::npos);
  CHECK(json.find("\"median\": 60") != std::string::npos);
  CHECK(json.find("\"ratio\": 0.6") != std::string::npos);
  CHECK(json.find("\"verdict\": \"pass\"") != std::string::npos);
  CHECK(json.find("\"text\": \"EIO: pwrite\"") != std::string::npos);
  CHECK(json.find("\"nproc\": 2") != std::string::npos);
}
