// Control requests: JSON lines -> scheduler events, and errors for bad requests.
#include "api/control_socket.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace sp::api {
namespace {

using ::testing::HasSubstr;

TEST(ControlSocketTest, ParsesEveryOp) {
  auto trigger = ParseControlRequest(
      {{"op", "trigger"}, {"dag_id", "d"}, {"conf", {{"a", 1}}}, {"logical_date", "2026-11-26"}});
  ASSERT_TRUE(trigger.ok()) << trigger.status();
  const auto& t = std::get<scheduler::TriggerRun>(*trigger);
  EXPECT_EQ(t.dag_id, "d");
  EXPECT_EQ(t.conf["a"], 1);
  EXPECT_EQ(FormatTime(*t.logical_date), "2026-11-26T00:00:00Z");

  auto clear = ParseControlRequest(
      {{"op", "clear"}, {"run", 4}, {"tasks", {"a", "b"}}, {"downstream", true}});
  ASSERT_TRUE(clear.ok());
  EXPECT_EQ(std::get<scheduler::ClearTasks>(*clear).tasks.size(), 2u);
  EXPECT_TRUE(std::get<scheduler::ClearTasks>(*clear).include_downstream);

  auto mark = ParseControlRequest({{"op", "mark"}, {"run", 4}, {"task", "a"}, {"state", "failed"}});
  ASSERT_TRUE(mark.ok());
  EXPECT_EQ(std::get<scheduler::MarkTask>(*mark).state, store::TaskState::kFailed);
  EXPECT_TRUE(std::get<scheduler::SetPaused>(*ParseControlRequest({{"op", "pause"}, {"dag_id", "d"}})).paused);
}

TEST(ControlSocketTest, RejectsBadRequests) {
  EXPECT_THAT(ParseControlRequest({{"op", "explode"}}).status().message(),
              HasSubstr("unknown op 'explode'"));
  EXPECT_THAT(ParseControlRequest(nlohmann::json::array()).status().message(),
              HasSubstr("JSON object"));
  EXPECT_THAT(ParseControlRequest({{"op", "trigger"}, {"logical_date", "yesterday"}})
                  .status()
                  .message(),
              HasSubstr("expected a date such as 2026-11-26"));
  EXPECT_THAT(ParseControlRequest({{"op", "trigger"}, {"logical_date", "2026-11-26T02:00:00+02:00"}})
                  .status()
                  .message(),
              HasSubstr("only UTC"));
}

TEST(ControlSocketTest, NoServerIsUnavailable) {
  auto r = SendControlRequest("/tmp/sparkplane-no-such.sock", {{"op", "ping"}}, Millis(100));
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_THAT(r.status().message(), HasSubstr("no server listening"));
}

}  // namespace
}  // namespace sp::api
