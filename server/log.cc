#include "server/log.h"

#include <spdlog/sinks/stdout_sinks.h>

#include <atomic>

namespace basalt {
namespace {
std::atomic<int> gLevel{spdlog::level::info};

std::shared_ptr<spdlog::sinks::sink> stderrSink() {
  static auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  return sink;
}
}  // namespace

Logger makeLogger(const std::string& component) {
  auto logger = std::make_shared<spdlog::logger>(component, stderrSink());
  logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %L [%n] %v");
  logger->set_level(static_cast<spdlog::level::level_enum>(gLevel.load()));
  logger->flush_on(spdlog::level::warn);
  return logger;
}

bool setLogLevel(const std::string& level) {
  auto parsed = spdlog::level::from_str(level);
  if (parsed == spdlog::level::off && level != "off") return false;
  gLevel = parsed;
  return true;
}

}  // namespace basalt
