#include "tools/bench/workload.h"

namespace basalt::tools::bench {

std::vector<Measurement> allFailed(const std::vector<std::string>& metrics, const Status& status) {
  std::vector<Measurement> out;
  for (const auto& m : metrics) out.push_back(Measurement::failed(m, status));
  return out;
}

double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace basalt::tools::bench
