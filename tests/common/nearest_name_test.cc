// NearestName and DidYouMean: close names only, case and transpositions forgiven.
#include "common/nearest_name.h"

#include <gtest/gtest.h>

namespace sp {
namespace {

TEST(NearestNameTest, SuggestsCloseNamesOnly) {
  const std::vector<std::string> fields = {"command", "shell", "cwd", "retries", "retry_delay"};
  EXPECT_EQ(NearestName("comand", fields), "command");
  EXPECT_EQ(NearestName("Command", fields), "command");
  EXPECT_EQ(NearestName("retires", fields), "retries");  // transposition
  EXPECT_EQ(NearestName("retry_dely", fields), "retry_delay");
  EXPECT_EQ(NearestName("cdw", fields), "cwd");
  EXPECT_EQ(NearestName("image", fields), "");
  EXPECT_EQ(NearestName("x", fields), "");
  EXPECT_EQ(NearestName("command", {}), "");
  EXPECT_EQ(NearestName("command", fields), "") << "a name is not its own suggestion";
  EXPECT_EQ(EditDistance("tabel", "TABLE"), 1u);
  EXPECT_EQ(EditDistance("", "abc"), 3u);
}

TEST(DidYouMeanTest, QuotesTheSuggestionOrSaysNothing) {
  EXPECT_EQ(DidYouMean("singlenode", {"ha", "ha-try", "multi-node", "single-node"}),
            "; did you mean \"single-node\"?");
  EXPECT_EQ(DidYouMean("prdo", {"kind-dev", "prod"}), "; did you mean \"prod\"?");
  EXPECT_EQ(DidYouMean("zzz", {"kind-dev", "prod"}), "");
}

}  // namespace
}  // namespace sp
