// The real `sparkplane server` behind its control socket, against clients that misbehave: they
// hang up before the answer, idle, send fields of the wrong type or JSON nested 100,000 deep.
// The server must answer everyone else throughout, and the tasks it starts must not inherit the
// server's ignored SIGPIPE.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

#include "integration/harness.h"

namespace sp::testing {
namespace {

using ::testing::HasSubstr;

class ControlSocketCliTest : public ::testing::Test {
 protected:
  void TearDown() override {
    for (int fd : clients_) ::close(fd);
  }

  std::string data() const { return dir_.path(); }
  std::string socket() const { return dir_.path() + "/history/scheduler/sparkplane.sock"; }

  int Connect() {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    EXPECT_GE(fd, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::string path = socket();
    EXPECT_LT(path.size(), sizeof(addr.sun_path));
    std::copy(path.begin(), path.end(), addr.sun_path);
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    clients_.push_back(fd);
    return fd;
  }

  void Close(int fd) {
    ::close(fd);
    std::erase(clients_, fd);
  }

  static void SendText(int fd, const std::string& text) {
    size_t off = 0;
    while (off < text.size()) {
      ssize_t n = ::send(fd, text.data() + off, text.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return;
      off += static_cast<size_t>(n);
    }
  }

  // Sends one raw request line and returns the parsed answer.
  nlohmann::json RoundTrip(const std::string& line) {
    int fd = Connect();
    SendText(fd, line);
    std::string got;
    char buf[4096];
    for (;;) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 10000) <= 0) break;
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      got.append(buf, static_cast<size_t>(n));
    }
    Close(fd);
    return nlohmann::json::parse(got, nullptr, /*allow_exceptions=*/false);
  }

  // `sparkplane health` succeeds within a few seconds (slots of hung-up clients free quickly).
  bool HealthySoon() {
    return WaitFor([&] { return Sparkplane(data(), {"health"}).exit_code == 0; },
                   std::chrono::seconds(5));
  }

  TempDir dir_;
  std::vector<int> clients_;
};

TEST_F(ControlSocketCliTest, ServerOutlivesClientsThatHangUpOrSendBadRequests) {
  WriteFile(data() + "/dags/hello.yaml",
            "id: hello\ntasks:\n  - id: a\n    type: bash\n    command: 'true'\n");
  ServerProcess server(data());
  server.Start();

  for (int i = 0; i < 50; ++i) Close(Connect());
  for (int i = 0; i < 50; ++i) {
    int fd = Connect();
    SendText(fd, i % 2 == 0 ? "{\"op\":\"ping\"}\n" : "{\"op\":\"pause\",\"dag_id\":\"hello\"}\n");
    Close(fd);
  }
  ASSERT_TRUE(HealthySoon()) << server.Log();

  nlohmann::json a = RoundTrip("{\"op\":\"clear\",\"run\":1,\"downstream\":\"yes\"}\n");
  EXPECT_EQ(a["code"], "INVALID_ARGUMENT");
  EXPECT_THAT(a.value("error", ""), HasSubstr("field 'downstream' must be a boolean, got string"));

  a = RoundTrip("{\"op\":\"trigger\",\"dag_id\":\"hello\",\"conf\":" + std::string(100000, '[') +
                std::string(100000, ']') + "}\n");
  EXPECT_EQ(a["code"], "INVALID_ARGUMENT");
  EXPECT_THAT(a.value("error", ""), HasSubstr("JSON nested deeper than 64 levels"));

  CommandResult r = Sparkplane(data(), {"dags", "unpause", "hello"});
  EXPECT_EQ(r.exit_code, 0) << r.err << server.Log();
  EXPECT_EQ(Sparkplane(data(), {"health"}).exit_code, 0) << server.Log();
}

TEST_F(ControlSocketCliTest, IdleClientsDoNotDelayCommands) {
  WriteFile(data() + "/dags/hello.yaml",
            "id: hello\ntasks:\n  - id: a\n    type: bash\n    command: 'true'\n");
  ServerProcess server(data());
  server.Start();
  // Never send; each used to hold the server for 5 s, so the command would have taken 30 s:
  // the bound leaves a loaded machine room to start the command.
  for (int i = 0; i < 6; ++i) Connect();
  auto start = std::chrono::steady_clock::now();
  CommandResult r = Sparkplane(data(), {"dags", "pause", "hello"});
  EXPECT_EQ(r.exit_code, 0) << r.err << server.Log();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(20));
}

// The server ignores SIGPIPE; a task must start with SIGPIPE at its default, or `producer | head`
// pipelines in bash tasks would see EPIPE errors instead of ending quietly.
TEST_F(ControlSocketCliTest, TasksStartWithSigpipeAtItsDefault) {
  WriteFile(data() + "/dags/sig.yaml",
            "id: sig\ntasks:\n  - id: a\n    type: bash\n    command: echo "
            "\"::sparkplane-output ignored=$(awk '/^SigIgn/ {print $2}' /proc/self/status)\"\n");
  ServerProcess server(data());
  server.Start();
  CommandResult r = Sparkplane(data(), {"dags", "trigger", "sig", "--run-id", "r"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(WaitFor([&] { return RunIsTerminal(ShowRun(data(), "sig", "r")); })) << server.Log();
  nlohmann::json run = ShowRun(data(), "sig", "r");
  ASSERT_EQ(run["state"], "success") << run.dump(2);
  std::string mask = run["tasks"][0]["outputs"].value("ignored", "");
  ASSERT_FALSE(mask.empty()) << run.dump(2);
  unsigned long long ignored = std::strtoull(mask.c_str(), nullptr, 16);
  EXPECT_EQ(ignored & (1ULL << (SIGPIPE - 1)), 0u) << "SigIgn " << mask;
}

}  // namespace
}  // namespace sp::testing
