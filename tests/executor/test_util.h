// Helpers shared by the executor tests: a temp directory, an exit recorder that waits for exit
// callbacks with a deadline, and file / condition polling with deadlines (no fixed sleeps).
#pragma once

#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>

#include "executor/process.h"

namespace sp::executor::testing {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "sp-exec-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data()) != nullptr ? tmpl : "";
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Records the ExitInfo of one child; Wait() blocks until it arrives or the deadline passes.
class ExitRecorder {
 public:
  ProcessSupervisor::ExitCallback Callback() {
    return [this](const ExitInfo& info) {
      std::lock_guard<std::mutex> lock(mu_);
      info_ = info;
      cv_.notify_all();
    };
  }
  std::optional<ExitInfo> Wait(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, timeout, [this] { return info_.has_value(); });
    return info_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<ExitInfo> info_;
};

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Polls `condition` every millisecond until it holds or `timeout` passes.
inline bool WaitFor(const std::function<bool()>& condition,
                    std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return condition();
}

}  // namespace sp::executor::testing
