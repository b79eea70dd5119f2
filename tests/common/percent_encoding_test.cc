// Percent-encoding, shared by connection URIs and the HTTP API.
#include "common/percent_encoding.h"

#include <gtest/gtest.h>

namespace sp {
namespace {

TEST(PercentEncodingTest, DecodesEscapesAndPlusByContext) {
  EXPECT_EQ(PercentDecode("a%20b%2Fc"), "a b/c");
  EXPECT_EQ(PercentDecode("a+b"), "a+b") << "'+' is a plus sign in a path";
  EXPECT_EQ(PercentDecode("a+b", PlusIs::kSpace), "a b");
  EXPECT_FALSE(PercentDecode("%4").has_value());
  EXPECT_FALSE(PercentDecode("%zz").has_value());
}

TEST(PercentEncodingTest, EncodesAllButUnreservedAndRoundTrips) {
  EXPECT_EQ(PercentEncode("run:1+2/3"), "run%3A1%2B2%2F3");
  std::string all;
  for (int c = 0; c < 256; ++c) all += static_cast<char>(c);
  EXPECT_EQ(PercentDecode(PercentEncode(all)), all);
}

}  // namespace
}  // namespace sp
