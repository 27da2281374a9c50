#include "tools/bench/json.h"

#include <cmath>
#include <cstdio>

#include "tools/bench/report.h"
#include "tools/cluster_dir.h"

namespace basalt::tools::bench {
namespace {

// The length of the valid UTF-8 sequence at s[i], or 0 if it is not one.
size_t utf8Length(const std::string& s, size_t i) {
  auto c = static_cast<unsigned char>(s[i]);
  size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
  if (len == 0 || i + len > s.size()) return 0;
  for (size_t k = 1; k < len; ++k) {
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 0;
  }
  return len;
}

class Object {
 public:
  Object& add(const std::string& key, const std::string& rawJson) {
    body_ += (body_.empty() ? "" : ",") + std::string("\n") + jsonString(key) + ": " + rawJson;
    return *this;
  }
  Object& str(const std::string& key, const std::string& value) {
    return add(key, jsonString(value));
  }
  Object& num(const std::string& key, double value) { return add(key, jsonNumber(value)); }
  Object& boolean(const std::string& key, bool value) { return add(key, value ? "true" : "false"); }
  std::string done() const { return "{" + body_ + "\n}"; }

 private:
  std::string body_;
};

std::string array(const std::vector<std::string>& rawItems) {
  std::string out = "[";
  for (size_t i = 0; i < rawItems.size(); ++i) out += (i ? ", " : "") + rawItems[i];
  return out + "]";
}

std::string runTexts(const std::vector<std::pair<int, std::string>>& items) {
  std::vector<std::string> out;
  for (const auto& [run, text] : items) {
    out.push_back(Object().num("run", run + 1).str("text", text).done());
  }
  return array(out);
}

std::string sideJson(const SideResult& side) {
  std::vector<std::string> samples;
  for (double v : side.samples) samples.push_back(jsonNumber(v));
  Object o;
  o.add("samples", array(samples));
  if (auto s = summarize(side.samples)) {
    o.num("median", s->median)
        .num("min", s->min)
        .num("max", s->max)
        .num("q1", s->q1)
        .num("q3", s->q3);
  }
  o.add("errors", runTexts(side.errors)).add("notes", runTexts(side.notes));
  if (!side.notSupported.empty()) o.str("notSupported", side.notSupported);
  return o.done();
}

}  // namespace

std::string jsonString(const std::string& text) {
  std::string out = "\"";
  for (size_t i = 0; i < text.size();) {
    size_t len = utf8Length(text, i);
    if (len == 0) {
      out += "\\ufffd";
      ++i;
      continue;
    }
    char c = text[i];
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", c);
      out += buf;
    } else {
      out.append(text, i, len);
    }
    i += len;
  }
  return out + "\"";
}

std::string jsonNumber(double value) {
  if (!std::isfinite(value)) return "null";
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.9g", value);
  return buf;
}

std::string toJson(const BenchRecord& r) {
  const Sizes& z = r.sizes;
  Object options;
  options.str("dir", r.options.dir)
      .str("vs", r.options.vsDir)
      .boolean("quick", r.options.quick)
      .str("cluster", r.options.clusterDir)
      .num("runs", z.runs);
  Object sizes;
  sizes.num("seqBytes", static_cast<double>(z.seqBytes))
      .num("randomFileBytes", static_cast<double>(z.randomFileBytes))
      .num("randomOps", z.randomOps)
      .num("randomMaxSeconds", static_cast<double>(z.randomMaxTime.count()))
      .num("smallFiles", z.smallFiles)
      .num("lockSeconds", static_cast<double>(z.lockTime.count()))
      .num("stallWriteIntervalMs", static_cast<double>(z.stallWriteInterval.count()));
  Object machine;
  machine.num("nproc", static_cast<double>(r.machine.nproc))
      .num("memTotalKiB", static_cast<double>(r.machine.memTotalKiB))
      .str("kernel", r.machine.kernel)
      .str("cpuModel", r.machine.cpuModel)
      .str("loadAverageStart", r.machine.loadAverage)
      .str("loadAverageEnd", r.loadAverageEnd)
      .str("dirFilesystem", r.dirFilesystem)
      .str("localFilesystem", r.localFilesystem);
  std::vector<std::string> metrics;
  for (const auto& m : r.results) {
    Judgement j = judge(m.spec, summarize(m.basalt.samples), summarize(m.local.samples));
    Object o;
    o.str("id", m.spec.id)
        .str("name", m.spec.name)
        .str("unit", m.spec.unit)
        .boolean("higherIsBetter", m.spec.higherIsBetter)
        .add("basalt", sideJson(m.basalt));
    if (!r.options.vsDir.empty()) o.add("local", sideJson(m.local));
    o.add("ratio", j.ratio ? jsonNumber(*j.ratio) : "null")
        .str("target", describeTarget(m.spec))
        .str("verdict", verdictText(j.verdict));
    metrics.push_back(o.done());
  }
  Object top;
  top.num("formatVersion", 1)
      .str("startedUtc", r.startedUtc)
      .num("wallSeconds", r.wallSeconds)
      .boolean("interrupted", r.interrupted)
      .add("options", options.done())
      .add("sizes", sizes.done())
      .add("machine", machine.done())
      .add("metrics", array(metrics));
  return top.done() + "\n";
}

Status writeJson(const BenchRecord& record, const std::string& path) {
  return writeFileAtomically(path, toJson(record));
}

}  // namespace basalt::tools::bench
