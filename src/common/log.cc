#include "common/log.h"

namespace sp {

void Logger::Log(LogLevel level, const std::string& component, const std::string& message) {
  if (!Enabled(level) || sink_ == nullptr) return;
  static constexpr const char* kNames[] = {"DEBUG", "INFO ", "WARN ", "ERROR", "OFF  "};
  std::string line = FormatTime(clock_.Now()) + " " + kNames[static_cast<int>(level)] + " " +
                     component + ": " + message + "\n";
  std::lock_guard<std::mutex> lock(mu_);
  std::fwrite(line.data(), 1, line.size(), sink_);
  std::fflush(sink_);
}

}  // namespace sp
