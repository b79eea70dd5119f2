// RunCommand: captured output, exit codes, timeouts that kill the whole group, launch errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <string>

#include "executor/process.h"

namespace sp::executor {
namespace {

using ::testing::HasSubstr;

TEST(RunCommandTest, CapturesOutputAndExitCode) {
  Result<CommandOutput> r =
      RunCommand({"/bin/sh", "-c", "echo out; echo err >&2; exit 4"}, Millis(10000));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 4);
  EXPECT_EQ(r->output, "out\nerr\n");
}

TEST(RunCommandTest, PassesEnvironment) {
  Result<CommandOutput> r =
      RunCommand({"/bin/sh", "-c", "echo $SP_X"}, Millis(10000), {{"SP_X", "y z"}});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->output, "y z\n");
}

TEST(RunCommandTest, CapturesLargeOutput) {
  Result<CommandOutput> r =
      RunCommand({"/bin/sh", "-c", "head -c 1000000 /dev/zero"}, Millis(10000));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->output.size(), 1000000u);
}

TEST(RunCommandTest, DoesNotWaitForBackgroundChildren) {
  // A daemon started by the command keeps the pipe open; the command's own exit ends the wait,
  // while the daemon still runs.
  Result<CommandOutput> r = RunCommand({"/bin/sh", "-c", "sleep 30 & echo $!"}, Millis(20000));
  ASSERT_TRUE(r.ok()) << r.status();
  const pid_t daemon = static_cast<pid_t>(std::stol(r->output));
  EXPECT_EQ(::kill(daemon, 0), 0) << "the daemon ended before the wait did";
  ::kill(daemon, SIGKILL);
}

TEST(RunCommandTest, TimeoutKillsTheGroup) {
  auto start = std::chrono::steady_clock::now();
  Result<CommandOutput> r =
      RunCommand({"/bin/sh", "-c", "echo begun; sleep 30; echo never"}, Millis(200));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_THAT(r.status().message(), HasSubstr("did not finish within 200 ms"));
  EXPECT_THAT(r.status().message(), HasSubstr("begun"));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST(RunCommandTest, ProgramNotFound) {
  Result<CommandOutput> r = RunCommand({"no-such-program-sparkplane"}, Millis(1000));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(r.status().message(), HasSubstr("not found in PATH"));
}

}  // namespace
}  // namespace sp::executor
