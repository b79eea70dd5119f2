// Logging for the server's own diagnostics (not task logs, which the executor writes to files).
// A Logger is passed explicitly; there is no global logger. Lines are
// "2026-11-26T06:56:52.120Z INFO  scheduler: message" on the sink (stderr by default).
// Secrets must never reach a Logger: callers redact before logging.
//
// Thread safety: Log() may be called from any thread.
#pragma once

#include <cstdio>
#include <mutex>
#include <string>

#include "common/clock.h"

namespace sp {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3, kOff = 4 };

class Logger {
 public:
  Logger(const Clock& clock, LogLevel level, std::FILE* sink = stderr)
      : clock_(clock), level_(level), sink_(sink) {}

  void Log(LogLevel level, const std::string& component, const std::string& message);
  void Debug(const std::string& c, const std::string& m) { Log(LogLevel::kDebug, c, m); }
  void Info(const std::string& c, const std::string& m) { Log(LogLevel::kInfo, c, m); }
  void Warn(const std::string& c, const std::string& m) { Log(LogLevel::kWarn, c, m); }
  void Error(const std::string& c, const std::string& m) { Log(LogLevel::kError, c, m); }
  bool Enabled(LogLevel level) const { return level >= level_; }

 private:
  const Clock& clock_;
  LogLevel level_;
  std::FILE* sink_;
  std::mutex mu_;
};

}  // namespace sp
