// KubeClient at the HTTP level against a ScriptedHttpServer on loopback: request shapes (paths,
// queries, content types, bodies, headers), retries with backoff (503, 429 + Retry-After,
// dropped connections, refused connections) and their limits, no retry on other 4xx, the 401
// credential refresh, fault injection, and Watch: resume after a cut stream from the last
// resourceVersion, bookmarks, 410 Gone -> relist, giving up, cancel. Sleeps are recorded, not
// slept.
#include "k8s/client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

#include "k8s/k8s_test_util.h"
#include "k8s/scripted_http_server.h"

namespace sp::k8s {
namespace {

using nlohmann::json;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::RecordedRequest;
using testing::ScriptedHttpServer;
using testing::ScriptedResponse;
using testing::StatusIs;
using End = ScriptedResponse::End;

json Object(const std::string& name, const std::string& rv) {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", {{"name", name}, {"namespace", "ns"}, {"resourceVersion", rv}}}};
}

json Event(const std::string& type, const json& object) {
  return {{"type", type}, {"object", object}};
}

json ListOf(const std::string& rv, std::vector<json> items, const std::string& cont = "") {
  json list = {{"kind", "ConfigMapList"},
               {"apiVersion", "v1"},
               {"metadata", {{"resourceVersion", rv}}},
               {"items", items}};
  if (!cont.empty()) list["metadata"]["continue"] = cont;
  return list;
}

json StatusBody(int code, const std::string& reason, const std::string& message) {
  return {{"kind", "Status"}, {"apiVersion", "v1"}, {"status", "Failure"},
          {"code", code},     {"reason", reason},   {"message", message}};
}

class KubeClientTest : public ::testing::Test {
 protected:
  // A client for `server` whose waits are recorded in sleeps_.
  std::unique_ptr<KubeClient> Client(const std::string& server, RetryPolicy retry = {}) {
    KubeConfig config;
    config.source = "/tmp/kubeconfig";
    config.user = "robot";
    config.server = server;
    config.token = "t0ken";
    return ClientFor(config, retry);
  }
  std::unique_ptr<KubeClient> ClientFor(const KubeConfig& config, RetryPolicy retry = {}) {
    KubeClientOptions options;
    retry.initial_backoff = Millis(100);
    options.retry = retry;
    options.sleep = [this](Millis d) {
      std::lock_guard<std::mutex> lock(mu_);
      sleeps_.push_back(d.count());
    };
    options.inject_fault = [this](Verb verb, const ResourceRef& ref) {
      return fault_ ? fault_(verb, ref) : OkStatus();
    };
    return std::make_unique<KubeClient>(config, clock_, options);
  }
  std::vector<int64_t> Sleeps() {
    std::lock_guard<std::mutex> lock(mu_);
    return sleeps_;
  }

  ManualClock clock_{FromUnixMillis(1'900'000'000'000)};
  std::function<Status(Verb, const ResourceRef&)> fault_;
  std::mutex mu_;
  std::vector<int64_t> sleeps_;
};

// --- request shapes -------------------------------------------------------------------------

TEST_F(KubeClientTest, CreateGetDeleteRequests) {
  ScriptedHttpServer server(ScriptedHttpServer::Sequence({
      ScriptedResponse::Json(201, Object("conf", "5")),
      ScriptedResponse::Json(200, Object("conf", "5")),
      ScriptedResponse::Json(200, StatusBody(200, "", "")),
      ScriptedResponse::Json(404, StatusBody(404, "NotFound", "configmaps \"conf\" not found")),
  }));
  auto client = Client(server.url());
  Result<json> created = client->Create(Ref(kConfigMaps, "ns"), {{"metadata", {{"name", "conf"}}}});
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ((*created)["metadata"]["resourceVersion"], "5");
  ASSERT_TRUE(client->Get(Ref(kConfigMaps, "ns", "conf")).ok());
  EXPECT_THAT(client->Delete(Ref(kConfigMaps, "ns", "conf"),
                             DeleteOptions{Propagation::kForeground, std::nullopt}),
              ::testing::Truly([](const Result<bool>& r) { return r.ok() && *r; }));
  Result<bool> again = client->Delete(Ref(kConfigMaps, "ns", "conf"));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_FALSE(*again);

  std::vector<RecordedRequest> r = server.requests();
  ASSERT_EQ(r.size(), 4u);
  EXPECT_EQ(r[0].method, "POST");
  EXPECT_EQ(r[0].target, "/api/v1/namespaces/ns/configmaps?fieldManager=sparkplane");
  EXPECT_EQ(r[0].Header("content-type"), "application/json");
  EXPECT_EQ(r[0].Header("authorization"), "Bearer t0ken");
  EXPECT_EQ(r[0].Header("accept"), "application/json");
  EXPECT_THAT(r[0].Header("user-agent"), HasSubstr("sparkplane/"));
  json body = json::parse(r[0].body);
  EXPECT_EQ(body["apiVersion"], "v1");  // filled in from the type
  EXPECT_EQ(body["kind"], "ConfigMap");
  EXPECT_EQ(r[1].method, "GET");
  EXPECT_EQ(r[1].target, "/api/v1/namespaces/ns/configmaps/conf");
  EXPECT_EQ(r[2].method, "DELETE");
  EXPECT_EQ(json::parse(r[2].body)["propagationPolicy"], "Foreground");
  EXPECT_EQ(json::parse(r[3].body)["propagationPolicy"], "Background");

  KubeRequestStats stats = client->Stats();
  EXPECT_EQ(stats.Count(Verb::kCreate), 1u);
  EXPECT_EQ(stats.Count(Verb::kGet), 1u);
  EXPECT_EQ(stats.Count(Verb::kDelete), 2u);
  EXPECT_EQ(stats.Total(), 4u);
  EXPECT_EQ(stats.ToString(), "get=1 create=1 delete=2 (retries=0, failures=0, relists=0)");
  client->ResetStats();
  EXPECT_EQ(client->Stats().Total(), 0u);
}

TEST_F(KubeClientTest, ApplyAndPatchRequests) {
  ScriptedHttpServer server(ScriptedHttpServer::Sequence({
      ScriptedResponse::Json(200, Object("m", "1")),
      ScriptedResponse::Json(200, Object("m", "2")),
      ScriptedResponse::Json(200, Object("m", "3")),
      ScriptedResponse::Json(200, Object("m", "4")),
      ScriptedResponse::Json(200, Object("m", "5")),
  }));
  auto client = Client(server.url());
  ResourceRef ref = Ref(kDeployments, "ns", "m");
  ASSERT_TRUE(client->ServerSideApply(ref, {{"spec", {{"replicas", 1}}}}).ok());
  ASSERT_TRUE(
      client->ServerSideApply(ref, {{"spec", {{"replicas", 2}}}}, ApplyConflicts::kForce).ok());
  ASSERT_TRUE(client->Patch(ref, PatchType::kMerge, {{"spec", {{"paused", true}}}}).ok());
  ASSERT_TRUE(
      client->Patch(ref, PatchType::kJson, json::array({{{"op", "remove"}, {"path", "/x"}}})).ok());
  ASSERT_TRUE(
      client->PatchStatus(ref, PatchType::kStrategicMerge, {{"status", {{"replicas", 1}}}}).ok());

  std::vector<RecordedRequest> r = server.requests();
  ASSERT_EQ(r.size(), 5u);
  EXPECT_EQ(r[0].method, "PATCH");
  EXPECT_EQ(r[0].target, "/apis/apps/v1/namespaces/ns/deployments/m?fieldManager=sparkplane");
  EXPECT_EQ(r[0].Header("content-type"), "application/apply-patch+yaml");
  json applied = json::parse(r[0].body);
  EXPECT_EQ(applied["apiVersion"], "apps/v1");
  EXPECT_EQ(applied["kind"], "Deployment");
  EXPECT_EQ(applied["metadata"]["name"], "m");
  EXPECT_EQ(applied["metadata"]["namespace"], "ns");
  EXPECT_TRUE(r[1].HasQuery("force=true"));
  EXPECT_EQ(r[2].Header("content-type"), "application/merge-patch+json");
  EXPECT_EQ(r[3].Header("content-type"), "application/json-patch+json");
  EXPECT_EQ(r[4].Header("content-type"), "application/strategic-merge-patch+json");
  EXPECT_EQ(r[4].Path(), "/apis/apps/v1/namespaces/ns/deployments/m/status");
  EXPECT_EQ(client->Stats().Count(Verb::kPatch), 5u);
}

TEST_F(KubeClientTest, ListEscapesSelectorsAndListAllFollowsContinue) {
  ScriptedHttpServer server(ScriptedHttpServer::Sequence({
      ScriptedResponse::Json(200, ListOf("40", {Object("a", "1")}, "tok+/=")),
      ScriptedResponse::Json(200, ListOf("41", {Object("b", "2")})),
  }));
  auto client = Client(server.url());
  ListOptions options;
  options.label_selector = "app=spark,tier in (a,b)";
  options.field_selector = "metadata.name!=x";
  options.limit = 1;
  Result<ObjectList> all = client->ListAll(Ref(kConfigMaps, "ns"), options);
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->items.size(), 2u);
  EXPECT_EQ(all->resource_version, "40");  // the first page's: a consistent snapshot
  EXPECT_EQ(all->items[1]["kind"], "ConfigMap");
  std::vector<RecordedRequest> r = server.requests();
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].target,
            "/api/v1/namespaces/ns/configmaps?labelSelector=app%3Dspark%2Ctier%20in%20%28a%2Cb%29"
            "&fieldSelector=metadata.name%21%3Dx&limit=1");
  EXPECT_TRUE(r[1].HasQuery("continue=tok%2B%2F%3D"));
}

TEST_F(KubeClientTest, AddressingMistakesFailBeforeARequest) {
  ScriptedHttpServer server(ScriptedHttpServer::Sequence({}));
  auto client = Client(server.url());
  EXPECT_THAT(client->Get(Ref(kDeployments, "", "m")),
              StatusIs(StatusCode::kInvalidArgument,
                       HasSubstr("get deployments.apps: no namespace given")));
  EXPECT_THAT(client->Delete(Ref(kDeployments, "ns")),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("no object name given")));
  EXPECT_THAT(client->Create(Ref(kPods, ""), json::object()),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("no namespace given")));
  EXPECT_TRUE(server.requests().empty());
}

TEST_F(KubeClientTest, InvalidUtf8InACallersObjectIsReplacedNotThrown) {
  ScriptedHttpServer server(
      ScriptedHttpServer::Sequence({ScriptedResponse::Json(201, Object("c", "1"))}));
  auto client = Client(server.url());
  ASSERT_TRUE(client
                  ->Create(Ref(kConfigMaps, "ns"),
                           {{"metadata", {{"name", "c"}}}, {"data", {{"k", "a\xff"}}}})
                  .ok());
  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_THAT(server.requests()[0].body, HasSubstr("\"k\":\"a\xEF\xBF\xBD\""));
}

// --- retries --------------------------------------------------------------------------------

TEST_F(KubeClientTest, RetriesServerErrorsWithJitteredExponentialBackoff) {
  ScriptedHttpServer server(ScriptedHttpServer::Sequence({
      ScriptedResponse::Json(503, StatusBody(503, "ServiceUnavailable", "etcd not ready")),
      ScriptedResponse::Json(500, StatusBody(500, "InternalError", "oops")),
      ScriptedResponse::Json(200, Object("conf", "1")),
  }));
  auto client = Client(server.url());
  ASSERT_TRUE(client->Get(Ref(kConfigMaps, "ns", "conf")).ok());
  std::vector<int64_t> sleeps = Sleeps();
  ASSERT_EQ(sleeps.size(), 2u);
  EXPECT_GE(sleeps[0], 50);  // base 100 ms, half of it jitter
  EXPECT_LE(sleeps[0], 100);
  EXPECT_GE(sleeps[1], 100);  // base 200 ms
  EXPECT_LE(sleeps[1], 200);
  EXPECT_EQ(client->Stats().Count(Verb::kGet), 3u);
  EXPECT_EQ(client->Stats().retries, 2u);
}

TEST_F(KubeClientTest, HonoursRetryAfterOn429) {
  ScriptedResponse throttled =
      ScriptedResponse::Json(429, StatusBody(429, "TooManyRequests", "slow down"));
  throttled.headers = {{"Retry-After", "3"}};
  ScriptedHttpServer server(
      ScriptedHttpServer::Sequence({throttled, ScriptedResponse::Json(200, Object("c", "1"))}));
  auto client = Client(server.url());
  ASSERT_TRUE(client->Get(Ref(kConfigMaps, "ns", "c")).ok());
  EXPECT_THAT(Sleeps(), ElementsAre(3000));
}

TEST_F(KubeClientTest, GivesUpAfterMaxAttempts) {
  ScriptedResponse unavailable =
      ScriptedResponse::Json(503, StatusBody(503, "ServiceUnavailable", "etcd not ready"));
  ScriptedHttpServer server(ScriptedHttpServer::Sequence({unavailable, unavailable, unavailable}));
  RetryPolicy retry;
  retry.max_attempts = 3;
  auto client = Client(server.url(), retry);
  EXPECT_THAT(client->Get(Ref(kPods, "ns", "p")),
              StatusIs(StatusCode::kUnavailable,
                       AllOf(HasSubstr("get pods \"p\" in namespace \"ns\""),
                             HasSubstr("failed (HTTP 503): etcd not ready (3 attempts)"))));
  EXPECT_EQ(server.requests().size(), 3u);
  EXPECT_EQ(Sleeps().size(), 2u);
  EXPECT_EQ(client->Stats().failures, 1u);
}

TEST_F(KubeClientTest, NeverRetriesOtherClientErrors) {
  ScriptedHttpServer server(ScriptedHttpServer::Sequence({
      ScriptedResponse::Json(403, StatusBody(403, "Forbidden", "nope")),
      ScriptedResponse::Json(404, StatusBody(404, "NotFound", "gone")),
      ScriptedResponse::Json(409, StatusBody(409, "AlreadyExists", "exists")),
      ScriptedResponse::Json(422, StatusBody(422, "Invalid", "bad")),
      ScriptedResponse::Json(401, StatusBody(401, "Unauthorized", "Unauthorized")),
  }));
  auto client = Client(server.url());
  EXPECT_THAT(client->Get(Ref(kPods, "ns", "p")),
              StatusIs(StatusCode::kPermissionDenied, HasSubstr("forbidden")));
  EXPECT_THAT(client->Get(Ref(kPods, "ns", "p")),
              StatusIs(StatusCode::kNotFound, HasSubstr("gone")));
  EXPECT_THAT(client->Create(Ref(kPods, "ns"), {{"metadata", {{"name", "p"}}}}),
              StatusIs(StatusCode::kAlreadyExists,
                       HasSubstr("create pods \"p\" in namespace \"ns\": already exists")));
  EXPECT_THAT(client->Get(Ref(kPods, "ns", "p")),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("invalid")));
  // A static token cannot be refreshed, so a 401 is final at once.
  EXPECT_THAT(
      client->Get(Ref(kPods, "ns", "p")),
      StatusIs(StatusCode::kUnauthenticated,
               AllOf(HasSubstr("rejected the credentials (bearer token of user \"robot\" in "
                               "/tmp/kubeconfig)"),
                     ::testing::Not(HasSubstr("t0ken")))));
  EXPECT_EQ(server.requests().size(), 5u);
  EXPECT_TRUE(Sleeps().empty());
}

TEST_F(KubeClientTest, UnreachableServerIsUnavailableNamingTheUrl) {
  int port;
  {
    ScriptedHttpServer closed(ScriptedHttpServer::Sequence({}));
    port = closed.port();
  }  // closed: nothing listens there now
  RetryPolicy retry;
  retry.max_attempts = 3;
  auto client = Client("http://127.0.0.1:" + std::to_string(port), retry);
  EXPECT_THAT(
      client->Get(Ref(kPods, "ns", "p")),
      StatusIs(StatusCode::kUnavailable,
               AllOf(HasSubstr("cannot reach the Kubernetes API server at http://127.0.0.1:" +
                               std::to_string(port)),
                     HasSubstr("(3 attempts)"))));
  EXPECT_EQ(Sleeps().size(), 2u);
  EXPECT_EQ(client->Stats().Count(Verb::kGet), 3u);
}

TEST_F(KubeClientTest, DroppedConnectionIsRetriedAndFlagsAPossiblyAppliedCreate) {
  ScriptedHttpServer server(ScriptedHttpServer::Sequence({
      ScriptedResponse::Drop(),
      ScriptedResponse::Json(409,
                             StatusBody(409, "AlreadyExists", "configmaps \"c\" already exists")),
  }));
  auto client = Client(server.url());
  EXPECT_THAT(client->Create(Ref(kConfigMaps, "ns"), {{"metadata", {{"name", "c"}}}}),
              StatusIs(StatusCode::kAlreadyExists,
                       HasSubstr("an earlier attempt of this request failed in transit and may "
                                 "have created it")));
  EXPECT_EQ(server.requests().size(), 2u);
}

TEST_F(KubeClientTest, DeleteThatMayHaveLandedBeforeADropCountsAsExisting) {
  ScriptedHttpServer server(ScriptedHttpServer::Sequence({
      ScriptedResponse::Drop(),
      ScriptedResponse::Json(404, StatusBody(404, "NotFound", "configmaps \"c\" not found")),
  }));
  auto client = Client(server.url());
  Result<bool> existed = client->Delete(Ref(kConfigMaps, "ns", "c"));
  ASSERT_TRUE(existed.ok()) << existed.status();
  EXPECT_TRUE(*existed);
}

TEST_F(KubeClientTest, Refreshes401CredentialsOnceThroughTheExecPlugin) {
  testing::ScratchDir dir;
  testing::WriteText(dir / "plugin.sh", R"(#!/bin/sh
n=$(cat "$0.count" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "$0.count"
echo '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"token-'$n'"}}'
)",
                     0755);
  ScriptedHttpServer server(ScriptedHttpServer::Sequence({
      ScriptedResponse::Json(401, StatusBody(401, "Unauthorized", "Unauthorized")),
      ScriptedResponse::Json(200, Object("c", "1")),
      ScriptedResponse::Json(401, StatusBody(401, "Unauthorized", "Unauthorized")),
      ScriptedResponse::Json(401, StatusBody(401, "Unauthorized", "Unauthorized")),
  }));
  KubeConfig config;
  config.server = server.url();
  config.user = "u";
  config.source = dir / "kubeconfig";
  config.exec =
      ExecPluginConfig{"client.authentication.k8s.io/v1", dir / "plugin.sh", {}, {}, "", false};
  auto client = ClientFor(config);
  ASSERT_TRUE(client->Get(Ref(kConfigMaps, "ns", "c")).ok());
  EXPECT_THAT(
      client->Get(Ref(kConfigMaps, "ns", "c")),
      StatusIs(StatusCode::kUnauthenticated, HasSubstr("exec plugin " + (dir / "plugin.sh"))));
  std::vector<RecordedRequest> r = server.requests();
  ASSERT_EQ(r.size(), 4u);
  EXPECT_EQ(r[0].Header("authorization"), "Bearer token-1");
  EXPECT_EQ(r[1].Header("authorization"), "Bearer token-2");
  EXPECT_EQ(r[2].Header("authorization"), "Bearer token-2");
  EXPECT_EQ(r[3].Header("authorization"), "Bearer token-3");
  EXPECT_TRUE(Sleeps().empty());
}

TEST_F(KubeClientTest, InjectedFaultFailsTheCallWithoutARequest) {
  ScriptedHttpServer server(
      ScriptedHttpServer::Sequence({ScriptedResponse::Json(201, Object("c", "1"))}));
  auto client = Client(server.url());
  fault_ = [](Verb verb, const ResourceRef& ref) {
    return verb == Verb::kCreate ? AbortedError("injected conflict on " + ref.Describe())
                                 : OkStatus();
  };
  EXPECT_THAT(client->Create(Ref(kConfigMaps, "ns"), {{"metadata", {{"name", "c"}}}}),
              StatusIs(StatusCode::kAborted, HasSubstr("injected conflict")));
  EXPECT_TRUE(server.requests().empty());
}

// --- watch ----------------------------------------------------------------------------------

struct Seen {
  std::vector<std::string> lines;  // "ADDED a 11", "RELISTED 2 20", ...
  WatchHandler Handler(std::function<bool(const WatchEvent&)> stop_when) {
    return [this, stop_when](const WatchEvent& e) {
      std::string line = WatchEventTypeName(e.type);
      if (e.type == WatchEventType::kRelisted) {
        line += " " + std::to_string(e.items.size());
      } else if (e.type != WatchEventType::kBookmark) {
        line += " " + e.object["metadata"]["name"].get<std::string>();
      }
      lines.push_back(line + " " + e.resource_version);
      return stop_when(e) ? WatchControl::kStop : WatchControl::kContinue;
    };
  }
};

TEST_F(KubeClientTest, WatchResumesAfterACutStreamAndRelistsOn410) {
  json bookmark = {
      {"kind", "ConfigMap"}, {"apiVersion", "v1"}, {"metadata", {{"resourceVersion", "15"}}}};
  ScriptedHttpServer server(ScriptedHttpServer::Sequence({
      // The initial list.
      ScriptedResponse::Json(200, ListOf("10", {Object("a", "9")})),
      // Two events, then the connection drops.
      ScriptedResponse::Events(
          {Event("ADDED", Object("b", "11")), Event("MODIFIED", Object("b", "12"))}, End::kCut),
      // Resumed from 12: a bookmark, then the server ends the stream (timeoutSeconds).
      ScriptedResponse::Events({Event("BOOKMARK", bookmark)}, End::kComplete),
      // Resumed from 15 (the bookmark): the version is gone, as after an API server restart.
      ScriptedResponse::Events(
          {Event("ERROR", StatusBody(410, "Expired", "too old resource version: 15 (30)"))},
          End::kComplete),
      // The relist, and a watch from its version.
      ScriptedResponse::Json(200, ListOf("30", {Object("a", "9"), Object("b", "12")})),
      ScriptedResponse::Events(
          {Event("DELETED", Object("a", "31")), Event("ADDED", Object("c", "32"))}, End::kHoldOpen),
  }));
  auto client = Client(server.url());
  Seen seen;
  WatchOptions options;
  options.label_selector = "app=spark";
  options.timeout_seconds = 60;
  Status s = client->Watch(Ref(kConfigMaps, "ns"), options, seen.Handler([](const WatchEvent& e) {
    return e.type == WatchEventType::kAdded && e.object["metadata"]["name"] == "c";
  }));
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_THAT(seen.lines, ElementsAre("RELISTED 1 10", "ADDED b 11", "MODIFIED b 12", "BOOKMARK 15",
                                      "RELISTED 2 30", "DELETED a 31", "ADDED c 32"));

  std::vector<RecordedRequest> r = server.requests();
  ASSERT_EQ(r.size(), 6u);
  EXPECT_EQ(r[0].target, "/api/v1/namespaces/ns/configmaps?labelSelector=app%3Dspark&limit=500");
  EXPECT_EQ(r[1].target,
            "/api/v1/namespaces/ns/configmaps?watch=1&resourceVersion=10&allowWatchBookmarks=true"
            "&timeoutSeconds=60&labelSelector=app%3Dspark");
  EXPECT_TRUE(r[2].HasQuery("resourceVersion=12"));
  EXPECT_TRUE(r[3].HasQuery("resourceVersion=15"));
  EXPECT_FALSE(r[4].HasQuery("watch=1"));
  EXPECT_TRUE(r[5].HasQuery("resourceVersion=30"));
  // The cut stream waited one first backoff step (a server going away); the clean end did not.
  std::vector<int64_t> sleeps = Sleeps();
  ASSERT_EQ(sleeps.size(), 1u);
  EXPECT_LE(sleeps[0], 100);
  KubeRequestStats stats = client->Stats();
  EXPECT_EQ(stats.Count(Verb::kList), 2u);
  EXPECT_EQ(stats.Count(Verb::kWatch), 4u);
  EXPECT_EQ(stats.relists, 1u);
}

TEST_F(KubeClientTest, WatchFromAGivenVersionRelistsOnHttp410) {
  ScriptedHttpServer server(ScriptedHttpServer::Sequence({
      ScriptedResponse::Json(410, StatusBody(410, "Expired", "too old resource version")),
      ScriptedResponse::Json(200, ListOf("50", {})),
      ScriptedResponse::Events({Event("ADDED", Object("x", "51"))}, End::kHoldOpen),
  }));
  auto client = Client(server.url());
  Seen seen;
  WatchOptions options;
  options.resource_version = "7";
  Status s = client->Watch(Ref(kConfigMaps, "ns"), options, seen.Handler([](const WatchEvent& e) {
    return e.type == WatchEventType::kAdded;
  }));
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_THAT(seen.lines, ElementsAre("RELISTED 0 50", "ADDED x 51"));
  EXPECT_TRUE(server.requests()[0].HasQuery("resourceVersion=7"));
}

TEST_F(KubeClientTest, WatchBacksOffOnFailuresAndGivesUp) {
  ScriptedResponse unavailable =
      ScriptedResponse::Json(503, StatusBody(503, "ServiceUnavailable", "starting"));
  ScriptedHttpServer server(ScriptedHttpServer::Sequence({
      ScriptedResponse::Drop(),
      unavailable,
      ScriptedResponse::Events({Event("ERROR", StatusBody(500, "InternalError", "boom"))},
                               End::kComplete),
  }));
  auto client = Client(server.url());
  WatchOptions options;
  options.resource_version = "7";
  options.max_consecutive_failures = 3;
  Seen seen;
  EXPECT_THAT(
      client->Watch(Ref(kConfigMaps, "ns"), options,
                    seen.Handler([](const WatchEvent&) { return false; })),
      StatusIs(StatusCode::kUnavailable,
               AllOf(HasSubstr("boom"), HasSubstr("watch gave up after 3 failures in a row"))));
  std::vector<int64_t> sleeps = Sleeps();
  ASSERT_EQ(sleeps.size(), 2u);
  EXPECT_LE(sleeps[0], 100);
  EXPECT_GE(sleeps[1], 100);
  for (const RecordedRequest& r : server.requests()) EXPECT_TRUE(r.HasQuery("resourceVersion=7"));
}

TEST_F(KubeClientTest, WatchReturnsPermanentErrors) {
  ScriptedHttpServer server(ScriptedHttpServer::Sequence({
      ScriptedResponse::Json(
          403, StatusBody(403, "Forbidden",
                          "configmaps is forbidden: User \"u\" cannot watch resource "
                          "\"configmaps\" in API group \"\" in the namespace \"ns\"")),
  }));
  auto client = Client(server.url());
  WatchOptions options;
  options.resource_version = "1";
  Seen seen;
  EXPECT_THAT(client->Watch(Ref(kConfigMaps, "ns"), options,
                            seen.Handler([](const WatchEvent&) { return false; })),
              StatusIs(StatusCode::kPermissionDenied,
                       HasSubstr("sparkplane may not watch configmaps in namespace \"ns\"")));
}

TEST_F(KubeClientTest, WatchCancelEndsAnIdleStream) {
  ScriptedHttpServer server(ScriptedHttpServer::Sequence({
      ScriptedResponse::Events({Event("ADDED", Object("x", "2"))}, End::kHoldOpen),
  }));
  auto client = Client(server.url());
  WatchCancel cancel;
  WatchOptions options;
  options.resource_version = "1";
  options.cancel = &cancel;
  Seen seen;
  std::thread canceller;
  Status s = client->Watch(Ref(kConfigMaps, "ns"), options, seen.Handler([&](const WatchEvent&) {
    canceller = std::thread([&] { cancel.Cancel(); });
    return false;
  }));
  canceller.join();
  EXPECT_THAT(s, StatusIs(StatusCode::kCancelled,
                          HasSubstr("watch of configmaps in namespace \"ns\" cancelled")));
  EXPECT_THAT(seen.lines, ElementsAre("ADDED x 2"));
}

}  // namespace
}  // namespace sp::k8s
