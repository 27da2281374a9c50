// Logging for every Basalt process: one spdlog logger per component, lines carry time, level,
// component and the ids the message names (server, inode, chunk).
// Thread-safety: loggers are thread-safe (spdlog _mt sinks); setLogLevel is for start-up.
#pragma once

#include <spdlog/spdlog.h>

#include <memory>
#include <string>

namespace basalt {

using Logger = std::shared_ptr<spdlog::logger>;

// A logger for `component` (e.g. "meta", "chunk#3", "mount") writing to stderr.
// Several loggers with the same name may coexist (several servers in one test process).
Logger makeLogger(const std::string& component);

// "trace", "debug", "info", "warn", "error"; applies to loggers made afterwards and the default.
// Returns false for an unknown level name.
bool setLogLevel(const std::string& level);

}  // namespace basalt
