#include "tools/bench/runner.h"

#include <cstdio>
#include <exception>

#include "tools/bench/format.h"
#include "tools/bench/fs_util.h"

namespace basalt::tools::bench {
namespace {

constexpr uint64_t kSeed = 0xBA5A17;

std::string slug(const std::string& name) {
  std::string s;
  for (char c : name) s += isalnum(static_cast<unsigned char>(c)) ? c : '-';
  return s;
}

// Runs one scenario once in the fresh directory ctx.dir, then removes it; never throws.
// *cleanup says whether the removal worked.
std::vector<Measurement> runOnce(const Scenario& scenario, const RunContext& ctx, Status* cleanup) {
  if (Status s = makeDir(ctx.dir); !s.isOk()) return allFailed(scenario.metrics, s);
  std::vector<Measurement> out;
  try {
    out = scenario.run(ctx);
  } catch (const std::exception& e) {  // a bug in the bench: report it in the rows, go on
    out = allFailed(scenario.metrics, Status::error(EFAULT, std::string("bench bug: ") + e.what()));
  }
  *cleanup = removeTree(ctx.dir);
  return out;
}

}  // namespace

void record(SideResult& side, int run, const Measurement& m) {
  switch (m.kind) {
    case Measurement::Kind::kValue:
      side.samples.push_back(m.value);
      if (!m.detail.empty()) side.notes.emplace_back(run, m.detail);
      break;
    case Measurement::Kind::kError:
      side.errors.emplace_back(run, m.detail);
      break;
    case Measurement::Kind::kNotSupported:
      side.notSupported = m.detail;
      break;
  }
}

std::string progressHead(int step, int steps, const Scenario& scenario, int run, int runs,
                         const std::string& side) {
  char head[128];
  std::snprintf(head, sizeof(head), "[%2d/%d] %-12s run %d/%d  %-6s ", step, steps,
                scenario.name.c_str(), run + 1, runs, side.c_str());
  return head;
}

std::string progressResult(const std::vector<Measurement>& measurements, double seconds) {
  std::string line;
  bool first = true;
  for (const auto& m : measurements) {
    line += first ? " " : ", ";
    first = false;
    line += m.metric + " ";
    switch (m.kind) {
      case Measurement::Kind::kValue:
        line += formatNumber(m.value) + " " + metricSpec(m.metric).unit;
        break;
      case Measurement::Kind::kError:
        line += "ERROR (" + m.detail + ")";
        break;
      case Measurement::Kind::kNotSupported:
        line += "not supported";
        break;
    }
  }
  char tail[32];
  std::snprintf(tail, sizeof(tail), "  (%.1f s)", seconds);
  return line + tail;
}

std::vector<MetricResult> runScenarios(const std::vector<Scenario>& scenarios,
                                       const RunnerConfig& config, bool* interrupted) {
  std::vector<MetricResult> results;
  for (const auto& s : scenarios) {
    for (const auto& id : s.metrics) results.push_back({metricSpec(id), {}, {}});
  }
  auto find = [&](const std::string& id) -> MetricResult* {
    for (auto& r : results) {
      if (r.spec.id == id) return &r;
    }
    return nullptr;
  };
  const int runs = config.sizes.runs;
  int steps = 0;
  for (const auto& s : scenarios) {
    steps += runs * (s.basaltOnly || config.localDir.empty() ? 1 : 2);
  }
  int step = 0;
  *interrupted = false;
  for (const auto& scenario : scenarios) {
    for (int run = 0; run < runs; ++run) {
      for (bool onBasalt : {true, false}) {
        if (!onBasalt && (scenario.basaltOnly || config.localDir.empty())) continue;
        if (config.cancelled()) {
          *interrupted = true;
          return results;
        }
        const std::string& base = onBasalt ? config.basaltDir : config.localDir;
        RunContext ctx{base + "/" + slug(scenario.name) + "-" + std::to_string(run + 1),
                       config.sizes, run, kSeed + static_cast<uint64_t>(run), config.cancelled};
        // The head now, the numbers when done: a slow step shows what it is waiting on.
        config.progress << progressHead(++step, steps, scenario, run, runs,
                                        onBasalt ? "basalt" : "local")
                        << std::flush;
        auto start = std::chrono::steady_clock::now();
        Status cleanup;
        auto measurements = runOnce(scenario, ctx, &cleanup);
        double seconds = secondsSince(start);
        for (const auto& id : scenario.metrics) {
          bool got = false;
          for (const auto& m : measurements) got = got || m.metric == id;
          if (!got) {
            measurements.push_back(Measurement::failed(
                id, Status::error(EFAULT, "bench bug: the workload measured nothing")));
          }
        }
        for (const auto& m : measurements) {
          if (MetricResult* r = find(m.metric)) record(onBasalt ? r->basalt : r->local, run, m);
        }
        if (!cleanup.isOk() && !scenario.metrics.empty()) {
          MetricResult* r = find(scenario.metrics.front());
          (onBasalt ? r->basalt : r->local)
              .notes.emplace_back(run, "cleanup: " + cleanup.toString());
        }
        config.progress << progressResult(measurements, seconds) << std::endl;
      }
    }
  }
  *interrupted = config.cancelled();
  return results;
}

}  // namespace basalt::tools::bench
