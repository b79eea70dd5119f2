// Test doubles and helpers for task types driven without a scheduler:
//   RecordingTaskContext  a TaskContext that records every handle saved (optionally failing
//                         SaveHandle) and the first Complete; WaitForResult/WaitForHandle block
//                         with a deadline, so tests need no sleeps
//   StatusIs              matcher for Status / Result<T> (code + message matcher)
//   ScratchDir            a temp dir removed at destruction
// Used by the unit tests in tests/operators/ and the Spark tests in
// tests/integration/spark_operators/.
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "common/status.h"
#include "operators/task_type.h"

namespace sp::operators::testing {

inline ::sp::Status GetStatus(const ::sp::Status& s) {
  return s;
}
template <typename T>
::sp::Status GetStatus(const ::sp::Result<T>& r) {
  return r.status();
}

// Matches a Status or Result<T> whose code is `code` and whose message matches `message`.
MATCHER_P2(StatusIs, code, message,
           std::string("has code ") + StatusCodeName(code) + " and a message that " +
               ::testing::DescribeMatcher<std::string>(message, negation)) {
  ::sp::Status s = GetStatus(arg);
  *result_listener << "status is " << s.ToString();
  return s.code() == code && ::testing::ExplainMatchResult(::testing::Matcher<std::string>(message),
                                                           s.message(), result_listener);
}

class ScratchDir {
 public:
  ScratchDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "sp-ops-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data()) != nullptr ? tmpl : "";
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void WriteFile(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

// Writes an executable shell script.
inline void WriteScript(const std::string& path, const std::string& body) {
  WriteFile(path, "#!/bin/sh\n" + body);
  std::filesystem::permissions(path, std::filesystem::perms::owner_all |
                                         std::filesystem::perms::group_read |
                                         std::filesystem::perms::others_read);
}

struct ContextIdentity {
  std::string dag_id = "etl";
  std::string run_id = "manual__2026-01-01T00:00:00Z";
  int64_t run_key = 7;
  std::string task_id = "task";
  int try_number = 1;
  std::string type = "bash";
};

class RecordingTaskContext : public TaskContext {
 public:
  RecordingTaskContext(const Services* services, nlohmann::json fields, std::string log_path,
                       ContextIdentity id = {}, std::map<std::string, std::string> env = {}) {
    dag_id_ = id.dag_id;
    run_id_ = id.run_id;
    run_key_ = id.run_key;
    task_id_ = id.task_id;
    try_number_ = id.try_number;
    log_path_ = std::move(log_path);
    fields_ = std::move(fields);
    env_ = std::move(env);
    services_ = services;
    spec_storage_.id = task_id_;
    spec_storage_.type = id.type;
    spec_storage_.fields = fields_;
    spec_ = &spec_storage_;
  }

  Status SaveHandle(const nlohmann::json& handle) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!save_status_.ok()) return save_status_;
    if (result_) ++saves_after_complete_;
    handles_.push_back(handle);
    cv_.notify_all();
    return OkStatus();
  }

  void Complete(TaskResult result) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++complete_calls_;
    if (!result_) result_ = std::move(result);
    cv_.notify_all();
  }

  void FailSaveHandle(Status status) {
    std::lock_guard<std::mutex> lock(mu_);
    save_status_ = std::move(status);
  }

  std::optional<TaskResult> WaitForResult(
      std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, timeout, [this] { return result_.has_value(); });
    return result_;
  }

  // The first handle saved.
  std::optional<nlohmann::json> WaitForHandle(
      std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    return WaitForHandleWhere([](const nlohmann::json&) { return true; }, timeout);
  }

  // The first saved handle for which `pred` holds.
  template <typename Pred>
  std::optional<nlohmann::json> WaitForHandleWhere(
      Pred pred, std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    std::unique_lock<std::mutex> lock(mu_);
    std::optional<nlohmann::json> found;
    cv_.wait_for(lock, timeout, [&] {
      for (const nlohmann::json& h : handles_) {
        if (pred(h)) {
          found = h;
          return true;
        }
      }
      return false;
    });
    return found;
  }

  std::vector<nlohmann::json> handles() const {
    std::lock_guard<std::mutex> lock(mu_);
    return handles_;
  }
  std::optional<nlohmann::json> last_handle() const {
    std::lock_guard<std::mutex> lock(mu_);
    if (handles_.empty()) return std::nullopt;
    return handles_.back();
  }
  int complete_calls() const {
    std::lock_guard<std::mutex> lock(mu_);
    return complete_calls_;
  }
  int saves_after_complete() const {
    std::lock_guard<std::mutex> lock(mu_);
    return saves_after_complete_;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<nlohmann::json> handles_;
  Status save_status_;
  std::optional<TaskResult> result_;
  int complete_calls_ = 0;
  int saves_after_complete_ = 0;
  dag::TaskSpec spec_storage_;
};

}  // namespace sp::operators::testing
