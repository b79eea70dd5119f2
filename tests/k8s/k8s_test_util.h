// Test helpers for the k8s module: a StatusIs matcher (Abseil style), fixture paths under
// tests/data/k8s, scratch directories and small file writers.
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "common/status.h"

namespace sp::k8s::testing {

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

inline std::string DataDir() {
  return std::string(SP_SOURCE_DIR) + "/tests/data/k8s";
}

inline std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

inline void WriteText(const std::string& path, const std::string& text, int mode = 0644) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
  }
  ::chmod(path.c_str(), static_cast<mode_t>(mode));
}

// A fresh directory named after the running test, removed at destruction.
class ScratchDir {
 public:
  ScratchDir() {
    const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = std::filesystem::temp_directory_path() /
            ("sp-k8s-" + std::string(info->test_suite_name()) + "-" + info->name() + "-" +
             std::to_string(::getpid()));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string path() const { return path_.string(); }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

}  // namespace sp::k8s::testing
