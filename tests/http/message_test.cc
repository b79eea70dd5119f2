// Request helpers, percent-coding and problem documents.
#include "http/message.h"

#include <gtest/gtest.h>

namespace sp::http {
namespace {

// Regression: Cookie() read a string_view of a temporary and found no cookie at all.
TEST(MessageTest, CookiesAreFoundAmongOthers) {
  Request r;
  r.headers["cookie"] = "a=1; __Host-sparkplane_session=s3cr3t; b=2";
  EXPECT_EQ(r.Cookie("__Host-sparkplane_session"), "s3cr3t");
  EXPECT_EQ(r.Cookie("a"), "1");
  EXPECT_EQ(r.Cookie("b"), "2");
  EXPECT_EQ(r.Cookie("c"), "");
}

TEST(MessageTest, QueriesAreDecodedAndMalformedPairsSkipped) {
  auto q = ParseQuery("state=failed&dag_id=a%20b&x=%zz&flag&plus=a+b");
  EXPECT_EQ(q.find("state")->second, "failed");
  EXPECT_EQ(q.find("dag_id")->second, "a b");
  EXPECT_EQ(q.count("x"), 0u);
  EXPECT_EQ(q.find("flag")->second, "");
  EXPECT_EQ(q.find("plus")->second, "a b");
}

TEST(MessageTest, StatusesBecomeProblemDocuments) {
  Response r = Problem(NotFoundError("no DAG 'etl'"));
  EXPECT_EQ(r.status, 404);
  auto body = nlohmann::json::parse(r.body);
  EXPECT_EQ(body["detail"], "no DAG 'etl'");
  EXPECT_EQ(body["code"], "NOT_FOUND");
  EXPECT_EQ(body["title"], "Not Found");
  bool problem = false;
  for (auto& [n, v] : r.headers) problem |= n == "Content-Type" && v == "application/problem+json";
  EXPECT_TRUE(problem);
  EXPECT_EQ(HttpStatus(StatusCode::kResourceExhausted), 429);
  EXPECT_EQ(HttpStatus(StatusCode::kUnauthenticated), 401);
  EXPECT_EQ(HttpStatus(StatusCode::kPermissionDenied), 403);
}

}  // namespace
}  // namespace sp::http
