// Id rules (issue 9: a run id with "../" wrote outside the data dir; ESC and newlines reached
// terminals; `latest` and all-digit run ids clashed with the CLI's run selectors).
#include "dag/ids.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace sp::dag {
namespace {

using ::testing::HasSubstr;

TEST(IdsTest, RunIdsArePathSafeAndUnambiguous) {
  for (const char* ok : {"manual__2026-11-26T00:00:00Z", "nightly.v2", "a~b+c", "r-1_x"}) {
    EXPECT_TRUE(CheckRunId(ok).ok()) << ok;
  }
  EXPECT_THAT(CheckRunId("../../../../etc/x").message(), HasSubstr("invalid run id"));
  EXPECT_THAT(CheckRunId("a/b").message(), HasSubstr("invalid run id"));
  EXPECT_THAT(CheckRunId(".hidden").message(), HasSubstr("not '.' first"));
  EXPECT_THAT(CheckRunId("x\x1b[2Jy").message(), HasSubstr("x\\x1b[2Jy"));
  EXPECT_THAT(CheckRunId("line\nbreak").message(), HasSubstr("line\\x0abreak"));
  EXPECT_THAT(CheckRunId("latest").message(), HasSubstr("reserved"));
  EXPECT_THAT(CheckRunId("12345").message(), HasSubstr("all digits"));
  EXPECT_THAT(CheckRunId("").message(), HasSubstr("must not be empty"));
  EXPECT_THAT(CheckRunId(std::string(251, 'a')).message(), HasSubstr("at most 250"));
}

TEST(IdsTest, DagAndTaskIds) {
  EXPECT_TRUE(CheckDagId("etl.daily-v2_x").ok());
  EXPECT_EQ(CheckDagId("..").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(CheckDagId(".x").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(CheckDagId("a/b").code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(CheckTaskId("create_cluster-1").ok());
  EXPECT_EQ(CheckTaskId("a.b").code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace sp::dag
