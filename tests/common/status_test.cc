#include "common/status.h"

#include <gtest/gtest.h>

namespace sp {
namespace {

Result<int> Half(int x) {
  if (x % 2 != 0) return InvalidArgumentError("odd: " + std::to_string(x));
  return x / 2;
}

Result<int> Quarter(int x) {
  ASSIGN_OR_RETURN(int h, Half(x));
  ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}

TEST(StatusTest, ResultCarriesValueOrError) {
  EXPECT_EQ(*Quarter(8), 2);
  Result<int> bad = Quarter(6);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message(), "odd: 3");
}

TEST(StatusTest, WithAddsContext) {
  Status s = NotFoundError("no such dag").With("trigger");
  EXPECT_EQ(s.ToString(), "NOT_FOUND: trigger: no such dag");
  EXPECT_TRUE(OkStatus().With("x").ok());
}

}  // namespace
}  // namespace sp
