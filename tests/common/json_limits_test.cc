// Bounded JSON: depth is counted on the text without recursion (strings and escapes honoured),
// oversized and malformed input is an InvalidArgument with a position, and nothing throws.
#include "common/json_limits.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace sp {
namespace {

using ::testing::HasSubstr;

std::string Nested(int levels, char open = '[', char close = ']') {
  return std::string(levels, open) + std::string(levels, close);
}

TEST(JsonLimitsTest, DepthCountsArraysAndObjects) {
  EXPECT_TRUE(CheckJsonDepth("1").ok());
  EXPECT_TRUE(CheckJsonDepth("[]", 1).ok());
  EXPECT_TRUE(CheckJsonDepth(R"({"a":[1,{"b":2}]})", 3).ok());
  Status s = CheckJsonDepth(R"({"a":[1,{"b":2}]})", 2);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("JSON nested deeper than 2 levels (at byte 8)"));
  // Siblings do not add up: depth is what is open at once.
  EXPECT_TRUE(CheckJsonDepth("[[1],[2],[3],{}]", 2).ok());
}

TEST(JsonLimitsTest, DefaultLimitIs64Levels) {
  EXPECT_TRUE(CheckJsonDepth(Nested(64)).ok());
  EXPECT_THAT(CheckJsonDepth(Nested(65)).message(), HasSubstr("deeper than 64 levels"));
}

TEST(JsonLimitsTest, BracketsInsideStringsDoNotCount) {
  EXPECT_TRUE(CheckJsonDepth(R"(["[[[[{{{{"])", 1).ok());
  // An escaped quote does not end the string; an escaped backslash before a quote does.
  EXPECT_TRUE(CheckJsonDepth(R"(["\"[[[["])", 1).ok());
  EXPECT_FALSE(CheckJsonDepth(R"(["\\",[[]])", 1).ok());
  EXPECT_TRUE(CheckJsonDepth(R"(["\\",1])", 1).ok());
}

TEST(JsonLimitsTest, StrayClosersBuyNoDepth) {
  EXPECT_FALSE(CheckJsonDepth("]]]]" + Nested(3), 2).ok());
}

TEST(JsonLimitsTest, HundredThousandLevelsAreRejectedWithoutRecursion) {
  std::string deep = Nested(100000);
  Result<nlohmann::json> r = ParseJsonBounded(deep);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("JSON nested deeper than 64 levels"));

  std::string objects;
  for (int i = 0; i < 100000; ++i) objects += "{\"a\":";
  objects += "1" + std::string(100000, '}');
  EXPECT_THAT(ParseJsonBounded(objects).status().message(), HasSubstr("deeper than 64"));
}

TEST(JsonLimitsTest, ValueDepthIsCheckedWithoutRecursion) {
  nlohmann::json deep = nlohmann::json::array();
  nlohmann::json* tip = &deep;
  for (int i = 0; i < 100000; ++i) {
    tip->push_back(nlohmann::json::array());
    tip = &tip->back();
  }
  Status s = CheckJsonValueDepth(deep);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("JSON nested deeper than 64 levels"));

  nlohmann::json ok = {{"a", {1, 2, {{"b", nlohmann::json::array()}}}}};
  EXPECT_TRUE(CheckJsonValueDepth(ok, 4).ok());
  EXPECT_FALSE(CheckJsonValueDepth(ok, 3).ok());
  EXPECT_TRUE(CheckJsonValueDepth(nlohmann::json(5), 0).ok());
}

TEST(JsonLimitsTest, ParsesWithinLimits) {
  Result<nlohmann::json> r = ParseJsonBounded(R"( {"a": [1, "x"], "b": null} )");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((*r)["a"][1], "x");
  EXPECT_TRUE((*r)["b"].is_null());
}

TEST(JsonLimitsTest, SizeLimit) {
  JsonLimits limits;
  limits.max_bytes = 8;
  EXPECT_TRUE(ParseJsonBounded("[1,2,3]", limits).ok());
  Result<nlohmann::json> r = ParseJsonBounded("[1,2,3,4,5]", limits);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("JSON text is 11 bytes; the limit is 8"));
}

TEST(JsonLimitsTest, SyntaxErrorsGiveTheByteOffsetAndDoNotThrow) {
  Result<nlohmann::json> r = ParseJsonBounded(R"({"a": tru})");
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  // The '}' at offset 9 is where "tru" turned out not to be a literal.
  EXPECT_THAT(r.status().message(), HasSubstr("invalid JSON at byte 9"));
  EXPECT_THAT(r.status().message(), HasSubstr("line 1, column 10"));
  EXPECT_THAT(r.status().message(), ::testing::Not(HasSubstr("json.exception")));

  EXPECT_THAT(ParseJsonBounded("").status().message(), HasSubstr("invalid JSON"));
  EXPECT_THAT(ParseJsonBounded("[1] [2]").status().message(), HasSubstr("invalid JSON"));
  EXPECT_THAT(ParseJsonBounded(R"(["unterminated)").status().message(), HasSubstr("invalid JSON"));
}

TEST(JsonLimitsTest, ErrorMessagesAreValidUtf8) {
  // nlohmann quotes the bytes it read; a broken sequence must not survive into the message,
  // where a later dump() would throw.
  Result<nlohmann::json> r = ParseJsonBounded("[\"\xff\xfe\"]");
  ASSERT_FALSE(r.ok());
  nlohmann::json carrier = {{"error", r.status().message()}};
  EXPECT_NO_THROW((void)carrier.dump());
}

}  // namespace
}  // namespace sp
