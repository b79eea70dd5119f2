// Router: literal segments beat parameters, parameters are decoded, 404 vs 405 with Allow.
#include "http/router.h"

#include <gtest/gtest.h>

namespace sp::http {
namespace {

Handler Named(std::string name) {
  return [name](Request&) {
    Response r;
    r.body = name;
    return r;
  };
}

std::string Answer(const RouteMatch& m) {
  Request req;
  return m.route ? m.route->handler(req).body : "";
}

TEST(RouterTest, MatchesParametersAndPrefersLiteralSegments) {
  Router r;
  r.Add("GET", "/api/v1/dags/{dag_id}", Named("dag"));
  r.Add("GET", "/api/v1/dags/{dag_id}/runs/{run_id}", Named("run"));
  r.Add("GET", "/api/v1/dags/{dag_id}/grid", Named("grid"));
  r.Add("GET", "/api/v1/dags/{dag_id}/{other}", Named("other"));
  RouteMatch m = r.Find("GET", "/api/v1/dags/etl/runs/manual__2026-12-04T00%3A00%3A00%2B00%3A00");
  ASSERT_EQ(m.status, 200);
  EXPECT_EQ(Answer(m), "run");
  EXPECT_EQ(m.params["dag_id"], "etl");
  EXPECT_EQ(m.params["run_id"], "manual__2026-12-04T00:00:00+00:00");
  EXPECT_EQ(Answer(r.Find("GET", "/api/v1/dags/etl/grid")), "grid");
  EXPECT_EQ(Answer(r.Find("GET", "/api/v1/dags/etl/source")), "other");
  EXPECT_EQ(Answer(r.Find("GET", "/api/v1/dags/etl/")), "dag")
      << "a trailing slash is the same path";
}

TEST(RouterTest, AnEncodedSlashStaysInsideItsParameter) {
  Router r;
  r.Add("GET", "/x/{id}", Named("x"));
  RouteMatch m = r.Find("GET", "/x/a%2Fb");
  ASSERT_EQ(m.status, 200);
  EXPECT_EQ(m.params["id"], "a/b");
  EXPECT_EQ(r.Find("GET", "/x/a/b").status, 404);
  EXPECT_EQ(r.Find("GET", "/x/%zz").status, 404) << "a malformed escape matches nothing";
}

TEST(RouterTest, UnknownPathsAre404AndOtherMethods405WithAllow) {
  Router r;
  r.Add("GET", "/api/v1/dags/{dag_id}", Named("get"));
  r.Add("PATCH", "/api/v1/dags/{dag_id}", Named("patch"));
  EXPECT_EQ(r.Find("GET", "/api/v1/nope").status, 404);
  RouteMatch m = r.Find("TRACE", "/api/v1/dags/etl");
  EXPECT_EQ(m.status, 405);
  EXPECT_EQ(m.route, nullptr);
  EXPECT_EQ(m.allow, "GET, PATCH");
}

}  // namespace
}  // namespace sp::http
