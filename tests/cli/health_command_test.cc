// `sparkplane health` (the scheduler pod's probes): exit 0 when a server answers the ping on the
// control socket, 1 when nothing listens or the answer is an error. The server is a stand-in
// that answers one request line with a canned response line.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <thread>

#include "cli/deploy_commands.h"

namespace sp::cli {
namespace {

namespace fs = std::filesystem;

class HealthCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("sp-health-" + std::to_string(::getpid()));
    fs::create_directories(dir_ / "history" / "scheduler");
    for (const char* v : {"SPARKPLANE_DATA_DIR", "SPARKPLANE_CONFIG", "SPARKPLANE_DAGS_FOLDER"}) {
      ::unsetenv(v);
    }
    options_.config.data_dir = dir_.string();
  }
  void TearDown() override {
    if (server_.joinable()) server_.join();
    if (listen_fd_ >= 0) ::close(listen_fd_);
    fs::remove_all(dir_);
  }

  // Listens on the data dir's control socket; answers one connection with `response` and
  // records the request line.
  void ServeOnce(const std::string& response) {
    std::string path = (dir_ / "history" / "scheduler" / "sparkplane.sock").string();
    listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(listen_fd_, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    ASSERT_LT(path.size(), sizeof(addr.sun_path));
    std::copy(path.begin(), path.end(), addr.sun_path);
    ASSERT_EQ(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ASSERT_EQ(::listen(listen_fd_, 1), 0);
    server_ = std::thread([this, response] {
      int fd = ::accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) return;
      char c;
      while (::read(fd, &c, 1) == 1 && c != '\n') request_ += c;
      std::string line = response + "\n";
      if (::write(fd, line.data(), line.size()) < 0) request_ += " (write failed)";
      ::close(fd);
    });
  }

  fs::path dir_;
  GlobalOptions options_;
  int listen_fd_ = -1;
  std::thread server_;
  std::string request_;
};

TEST_F(HealthCommandTest, ServerThatAnswersIsHealthy) {
  ServeOnce(R"({"ok":true,"created_runs":[]})");
  EXPECT_EQ(HealthCommand(options_), 0);
  server_.join();
  EXPECT_EQ(request_, R"({"op":"ping"})");
}

TEST_F(HealthCommandTest, NoServerIsUnhealthy) {
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(HealthCommand(options_), 1);
  EXPECT_NE(
      ::testing::internal::GetCapturedStderr().find(
          "no server answers on " + (dir_ / "history" / "scheduler" / "sparkplane.sock").string()),
      std::string::npos);
}

TEST_F(HealthCommandTest, ErrorAnswerIsUnhealthy) {
  ServeOnce(R"({"ok":false,"code":"INTERNAL","error":"loop stopped"})");
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(HealthCommand(options_), 1);
  EXPECT_NE(::testing::internal::GetCapturedStderr().find("answered the ping with an error"),
            std::string::npos);
}

}  // namespace
}  // namespace sp::cli
