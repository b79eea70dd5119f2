// `make demo`'s last step (scripts/demo.sh): after its runs it serves the web UI on them until
// Ctrl-C. Run for real but quickly: only the `hello` DAG (no Spark), SPARKPLANE_DEMO_SERVE=1 on
// a free loopback port (127.0.0.1:0) in a temporary data directory. A client logs in as `admin`
// with the password the script printed, finds hello's successful run through the HTTP API and
// fetches the UI's page; then the server is stopped as a terminal's Ctrl-C would (SIGINT to the
// process group) and must exit 0 with no process of the group left.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <regex>
#include <string>

#include "integration/harness.h"
#include "integration/http_client.h"

namespace sp::testing {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

// scripts/demo.sh as the leader of a process group of its own (a terminal's foreground job),
// stdout and stderr to `output`. The group is killed when the object goes, whatever happened.
class DemoProcess {
 public:
  DemoProcess(const std::string& output, const std::map<std::string, std::string>& env) {
    pid_ = ::fork();
    if (pid_ == 0) {
      ::setpgid(0, 0);
      if (std::freopen(output.c_str(), "w", stdout) == nullptr) _exit(126);
      if (::dup2(::fileno(stdout), STDERR_FILENO) < 0) _exit(126);
      if (std::freopen("/dev/null", "r", stdin) == nullptr) _exit(126);
      for (const auto& [name, value] : env) ::setenv(name.c_str(), value.c_str(), 1);
      std::string script = std::string(SP_SOURCE_DIR) + "/scripts/demo.sh";
      ::execl(script.c_str(), script.c_str(), SP_BINARY, static_cast<char*>(nullptr));
      _exit(127);
    }
    ::setpgid(pid_, pid_);
  }
  ~DemoProcess() {
    if (pid_ > 0) ::kill(-pid_, SIGKILL);
    if (!reaped_ && pid_ > 0) ::waitpid(pid_, nullptr, 0);
  }
  DemoProcess(const DemoProcess&) = delete;
  DemoProcess& operator=(const DemoProcess&) = delete;

  pid_t pid() const { return pid_; }
  // Waits (up to `limit`) for the script, or the server it became, to exit; its wait status.
  std::optional<int> Wait(std::chrono::seconds limit) {
    std::optional<int> status;
    WaitFor(
        [&] {
          int s = 0;
          if (::waitpid(pid_, &s, WNOHANG) == pid_) status = s;
          return status.has_value();
        },
        limit);
    reaped_ = status.has_value();
    return status;
  }

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
};

TEST(DemoTest, ServesTheWebUiOnItsRunsUntilCtrlC) {
  TempDir dir;
  const std::string output = dir.path() + "/demo.out";
  DemoProcess demo(output, {{"SPARKPLANE_DEMO_DIR", dir.path() + "/demo"},
                            {"SPARKPLANE_DEMO_DAGS", "hello"},
                            {"SPARKPLANE_DEMO_SERVE", "1"},
                            {"SPARKPLANE_DEMO_HTTP", "127.0.0.1:0"}});

  // The password the script prints once, and the port in the server's "ready" line.
  std::string password, port;
  const std::regex password_re("user admin, password (\\S+); shown once");
  const std::regex port_re("web UI http://127\\.0\\.0\\.1:([0-9]+)/");
  ASSERT_TRUE(WaitFor(
      [&] {
        std::string text = ReadFile(output);
        std::smatch m;
        if (password.empty() && std::regex_search(text, m, password_re)) password = m[1];
        if (port.empty() && std::regex_search(text, m, port_re)) port = m[1];
        return !password.empty() && !port.empty();
      },
      std::chrono::seconds(90)))
      << ReadFile(output);
  std::string text = ReadFile(output);
  EXPECT_THAT(text, HasSubstr("== dags test hello"));
  EXPECT_THAT(text, HasSubstr("demo: all runs succeeded"));
  EXPECT_THAT(text, ::testing::Not(HasSubstr("== dags test spark_pipeline")));
  const std::string base = "http://127.0.0.1:" + port;

  EXPECT_EQ(Http("GET", base + "/api/v1/runs").status, 401) << "the runs need a login";
  Reply login = Http("POST", base + "/api/v1/auth/login",
                     json{{"username", "admin"}, {"password", password}}.dump());
  ASSERT_EQ(login.status, 200) << login.body;
  const std::string cookie =
      login.headers["set-cookie"].substr(0, login.headers["set-cookie"].find(';'));
  ASSERT_FALSE(cookie.empty());
  EXPECT_EQ(Http("POST", base + "/api/v1/auth/login",
                 json{{"username", "admin"}, {"password", password + "x"}}.dump())
                .status,
            401);

  Reply runs = Http("GET", base + "/api/v1/runs?dag_id=hello", "", {"Cookie: " + cookie});
  ASSERT_EQ(runs.status, 200) << runs.body;
  json page = json::parse(runs.body, nullptr, false);
  ASSERT_TRUE(page.contains("runs")) << runs.body;
  int succeeded = 0;
  for (const json& run : page["runs"]) {
    EXPECT_EQ(run.value("dag_id", ""), "hello") << run.dump();
    succeeded += run.value("state", "") == "success" ? 1 : 0;
  }
  EXPECT_EQ(succeeded, 1) << runs.body;

  Reply index = Http("GET", base + "/");
  EXPECT_EQ(index.status, 200);
  EXPECT_THAT(index.headers["content-type"], HasSubstr("text/html"));
  EXPECT_THAT(index.body, HasSubstr("<html"));

  // Ctrl-C: SIGINT to the foreground group. The server stops and exits 0, leaving nothing.
  ASSERT_EQ(::kill(-demo.pid(), SIGINT), 0);
  std::optional<int> status = demo.Wait(std::chrono::seconds(60));
  ASSERT_TRUE(status.has_value()) << "the server did not stop on SIGINT\n" << ReadFile(output);
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << "wait status " << *status << "\n"
                                                               << ReadFile(output);
  EXPECT_THAT(ReadFile(output), HasSubstr("received SIGINT"));
  errno = 0;
  EXPECT_EQ(::kill(-demo.pid(), 0), -1) << "a process of the demo's group is still running";
  EXPECT_EQ(errno, ESRCH);
  // Nor elsewhere: tries and daemons run in groups of their own, named by their paths.
  EXPECT_TRUE(WaitFor([&] { return ProcessesMentioning(dir.path()).empty(); }))
      << "a process of the demo outlived it";
}

}  // namespace
}  // namespace sp::testing
