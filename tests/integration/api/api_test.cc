// The HTTP API of `sparkplane server`, driven over loopback with libcurl like any client.
#include <curl/curl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <regex>
#include <set>
#include <thread>

#include "executor/process.h"
#include "integration/harness.h"
#include "integration/http_client.h"
#include "spark/local_cluster.h"
#include "store/store.h"

namespace sp::testing {
namespace {

using nlohmann::json;
using ::testing::AllOf;
using ::testing::HasSubstr;

std::string Encode(const std::string& s) {
  CURL* c = curl_easy_init();
  char* e = curl_easy_escape(c, s.c_str(), static_cast<int>(s.size()));
  std::string out(e);
  curl_free(e);
  curl_easy_cleanup(c);
  return out;
}

constexpr char kDags[] = R"(id: hello
tasks:
  - id: greet
    type: bash
    command: echo hello
  - id: reply
    type: bash
    depends_on: [greet]
    command: echo reply
)";

// `flaky` fails until the marker file exists; `after` then sees upstream_failed.
std::string FlakyDag(const std::string& marker) {
  return "id: flaky\nparams:\n  n:\n    default: 1\ntasks:\n  - id: work\n    type: bash\n"
         "    command: test -e " +
         marker +
         "\n  - id: after\n    type: bash\n"
         "    depends_on: [work]\n    command: echo after\n";
}

constexpr char kSlowDag[] = R"(id: slow
tasks:
  - id: talk
    type: bash
    command: for i in 1 2 3 4 5; do echo line-$i; sleep 0.3; done
)";

// A run that stays active until cancelled.
constexpr char kHoldDag[] = R"(id: hold
tasks:
  - id: wait
    type: bash
    command: sleep 120
)";

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    marker_ = dir_.path() + "/marker";
    WriteFile(dir_.path() + "/dags/hello.yaml", kDags);
    WriteFile(dir_.path() + "/dags/flaky.yaml", FlakyDag(marker_));
    WriteFile(dir_.path() + "/dags/slow.yaml", kSlowDag);
    WriteFile(dir_.path() + "/dags/hold.yaml", kHoldDag);
    WriteFile(dir_.path() + "/sparkplane.yaml", "dags_folder: " + dir_.path() + "/dags\n");
    for (const char* role : {"viewer", "operator", "admin"}) {
      CommandResult r =
          Sparkplane(data(), {"users", "create", role, "--role", role, "--password-stdin"},
                     std::string(role) + "-password\n");
      ASSERT_EQ(r.exit_code, 0) << r.err;
      CommandResult t = Sparkplane(data(), {"--json", "tokens", "create", "--user", role});
      ASSERT_EQ(t.exit_code, 0) << t.err;
      tokens_[role] = t.Json()["token"];
    }
    StartServer();
  }

  void StartServer() {
    server_ = std::make_unique<ServerProcess>(
        data(), std::vector<std::string>{"--http-address", "127.0.0.1:0"});
    // The log is appended to across restarts: look only at what this start wrote.
    size_t from = ReadFile(data() + "/server.log").size();
    server_->Start();
    ASSERT_TRUE(WaitFor([&] {
      std::string log = server_->Log().substr(from);
      std::regex re("web UI http://127\\.0\\.0\\.1:([0-9]+)/");
      std::string::const_iterator start = log.cbegin();
      std::smatch last;
      bool any = false;
      while (std::regex_search(start, log.cend(), last, re)) {
        port_ = last[1];
        any = true;
        start = last.suffix().first;
      }
      return any;
    })) << server_->Log();
  }

  std::string data() const { return dir_.path(); }
  std::string Url(const std::string& path) const { return "http://127.0.0.1:" + port_ + path; }
  std::vector<std::string> As(const std::string& role) const {
    return {"Authorization: Bearer " + tokens_.at(role)};
  }
  Reply Get(const std::string& path, const std::string& role = "viewer") {
    return Http("GET", Url(path), "", As(role));
  }
  Reply Post(const std::string& path, const json& body, const std::string& role = "operator") {
    return Http("POST", Url(path), body.dump(), As(role));
  }
  json Trigger(const std::string& dag, const json& body = json::object()) {
    Reply r = Post("/api/v1/dags/" + dag + "/runs", body);
    EXPECT_EQ(r.status, 201) << r.body;
    return r.Json();
  }
  json WaitRun(const std::string& dag, const std::string& run_id) {
    json run;
    EXPECT_TRUE(WaitFor([&] {
      run = Get("/api/v1/dags/" + dag + "/runs/" + Encode(run_id)).Json();
      std::string s = run.value("state", "");
      return s == "success" || s == "failed" || s == "cancelled";
    })) << run.dump();
    return run;
  }
  // The newest event id in the server's store (its SQLite file, read beside it).
  int64_t MaxEventId() {
    Result<std::unique_ptr<store::Store>> db =
        store::OpenSqliteStore(data() + "/history/scheduler/sparkplane.db");
    EXPECT_TRUE(db.ok()) << db.status();
    if (!db.ok()) return -1;
    Result<int64_t> max = (*db)->MaxEventId();
    EXPECT_TRUE(max.ok()) << max.status();
    return max.ok() ? *max : -1;
  }
  // The frame of event `id`, for Http's `until`.
  static std::string Frame(int64_t id) { return "id: " + std::to_string(id) + "\n"; }

  TempDir dir_;
  std::string marker_;
  std::map<std::string, std::string> tokens_;
  std::unique_ptr<ServerProcess> server_;
  std::string port_;
};

int Rank(const std::string& role) {
  return role == "viewer" ? 0 : role == "operator" ? 1 : role == "admin" ? 2 : -1;
}

TEST_F(ApiTest, EveryRoleGetsWhatTheDocumentPromisesOnEveryOperation) {
  json run = Trigger("hello");
  WaitRun("hello", run["run_id"]);
  json spec = Http("GET", Url("/api/v1/openapi.json")).Json();
  ASSERT_TRUE(spec.contains("paths")) << spec.dump();
  std::map<std::string, std::string> values = {
      {"dag_id", "hello"},    {"run_id", Encode(run["run_id"])},
      {"task_id", "greet"},   {"try_number", "1"},
      {"app_id", "app-none"}, {"token_id", "tok_none"},
      {"username", "nobody"}, {"name", "no-such-cluster"}};
  int checked = 0;
  for (const auto& [path, item] : spec["paths"].items()) {
    for (const auto& [method, op] : item.items()) {
      if (method == "parameters") continue;
      std::string role = op.value("x-required-role", "");
      ASSERT_FALSE(role.empty()) << method << " " << path << " declares no x-required-role";
      std::string url = path;
      for (const auto& [k, v] : values) {
        std::string key = "{" + k + "}";
        for (size_t p; (p = url.find(key)) != std::string::npos;) url.replace(p, key.size(), v);
      }
      std::string m = method;
      for (char& ch : m) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      // Event streams never end by themselves: a short timeout keeps the status.
      long timeout =
          url.find("/events") != std::string::npos || url.find("/stream") != std::string::npos
              ? 1500
              : 10000;
      std::string body = m == "GET" || m == "DELETE" ? "" : "{}";
      if (role == "public") {
        // Reachable without credentials (a login with none is refused for what it sent).
        Reply r = Http(m, Url(url), body, {}, timeout);
        EXPECT_LT(r.status, 500) << m << " " << url;
        EXPECT_NE(r.status, 403) << m << " " << url;
        if (m == "GET") {
          EXPECT_EQ(r.status, 200) << m << " " << url;
        }
        ++checked;
        continue;
      }
      Reply anonymous = Http(m, Url(url), body, {}, timeout);
      EXPECT_EQ(anonymous.status, 401) << m << " " << url << ": " << anonymous.body;
      for (const std::string who : {"viewer", "operator", "admin"}) {
        Reply r = Http(m, Url(url), body, As(who), timeout);
        if (Rank(who) < Rank(role)) {
          EXPECT_EQ(r.status, 403) << who << " " << m << " " << url << ": " << r.body;
        } else {
          EXPECT_NE(r.status, 401) << who << " " << m << " " << url << ": " << r.body;
          EXPECT_NE(r.status, 403) << who << " " << m << " " << url << ": " << r.body;
          EXPECT_LT(r.status, 500) << who << " " << m << " " << url << ": " << r.body;
        }
        ++checked;
      }
    }
  }
  EXPECT_GT(checked, 80);
}

TEST_F(ApiTest, SessionCookiesNeedTheCsrfTokenOnUnsafeMethods) {
  Reply login = Http("POST", Url("/api/v1/auth/login"),
                     json{{"username", "operator"}, {"password", "operator-password"}}.dump());
  ASSERT_EQ(login.status, 200) << login.body;
  std::string cookie = login.headers["set-cookie"];
  EXPECT_THAT(cookie, ::testing::HasSubstr("HttpOnly"));
  EXPECT_THAT(cookie, ::testing::HasSubstr("SameSite=Lax"));
  std::string value = cookie.substr(0, cookie.find(';'));
  std::string csrf = login.Json()["csrf_token"];

  Reply me = Http("GET", Url("/api/v1/auth/me"), "", {"Cookie: " + value});
  EXPECT_EQ(me.status, 200);
  EXPECT_EQ(me.Json()["role"], "operator");

  Reply no_token = Http("POST", Url("/api/v1/dags/hello/runs"), "{}", {"Cookie: " + value});
  EXPECT_EQ(no_token.status, 403);
  EXPECT_EQ(no_token.Json()["code"], "CSRF");
  Reply wrong = Http("POST", Url("/api/v1/dags/hello/runs"), "{}",
                     {"Cookie: " + value, "X-CSRF-Token: " + csrf + "x"});
  EXPECT_EQ(wrong.status, 403);
  Reply cross = Http("POST", Url("/api/v1/dags/hello/runs"), "{}",
                     {"Cookie: " + value, "X-CSRF-Token: " + csrf, "Origin: http://evil.example"});
  EXPECT_EQ(cross.status, 403);
  Reply ok = Http("POST", Url("/api/v1/dags/hello/runs"), "{}",
                  {"Cookie: " + value, "X-CSRF-Token: " + csrf});
  EXPECT_EQ(ok.status, 201) << ok.body;

  Reply out =
      Http("POST", Url("/api/v1/auth/logout"), "", {"Cookie: " + value, "X-CSRF-Token: " + csrf});
  EXPECT_EQ(out.status, 204);
  EXPECT_EQ(out.set_cookies.size(), 2u) << "both cookie names are cleared";
  EXPECT_EQ(Http("GET", Url("/api/v1/auth/me"), "", {"Cookie: " + value}).status, 401)
      << "a session must be revoked by logout";
}

TEST_F(ApiTest, FailedLoginsAreRateLimitedEvenForTheRightPassword) {
  for (int i = 0; i < 5; ++i) {
    Reply r = Http("POST", Url("/api/v1/auth/login"),
                   json{{"username", "viewer"}, {"password", "wrong-password"}}.dump());
    EXPECT_EQ(r.status, 401);
  }
  Reply r = Http("POST", Url("/api/v1/auth/login"),
                 json{{"username", "viewer"}, {"password", "viewer-password"}}.dump());
  EXPECT_EQ(r.status, 429) << r.body;
  EXPECT_EQ(r.headers["retry-after"], "60");
  // Another user from the same address is not locked out by the first one's guesses.
  EXPECT_EQ(Http("POST", Url("/api/v1/auth/login"),
                 json{{"username", "admin"}, {"password", "admin-password"}}.dump())
                .status,
            200);
}

TEST_F(ApiTest, RevokedTokensAndDeletedUsersLoseAccess) {
  EXPECT_EQ(Get("/api/v1/dags", "viewer").status, 200);
  std::string id =
      Sparkplane(data(), {"--json", "tokens", "list", "--user", "viewer"}).Json()[0]["id"];
  ASSERT_EQ(Sparkplane(data(), {"tokens", "revoke", id}).exit_code, 0);
  EXPECT_EQ(Get("/api/v1/dags/hello", "viewer").status, 401);
  // The list pages kept in memory follow within a second (CachedRunListsRefuseRevokedTokens).
  EXPECT_TRUE(WaitFor([&] { return Get("/api/v1/dags", "viewer").status == 401; }));
  EXPECT_EQ(Get("/api/v1/dags", "operator").status, 200);
  EXPECT_EQ(Http("DELETE", Url("/api/v1/users/operator"), "", As("admin")).status, 204);
  EXPECT_EQ(Get("/api/v1/dags", "operator").status, 401) << "deleted here: at once";
}

// Runs lists are answered from memory (the server's I/O thread) for a caller verified less than
// a second ago: a token revoked through the API loses them at once, one revoked by another
// process within that second.
TEST_F(ApiTest, CachedRunListsRefuseRevokedTokens) {
  WaitRun("hello", Trigger("hello")["run_id"]);
  // The event feed (every 250 ms) has read the store's runs version: pages are kept from now on.
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  for (const char* role : {"viewer", "operator"}) {
    for (int i = 0; i < 3; ++i) ASSERT_EQ(Get("/api/v1/dags/hello/runs", role).status, 200);
  }
  std::string viewer_id =
      Sparkplane(data(), {"--json", "tokens", "list", "--user", "viewer"}).Json()[0]["id"];
  ASSERT_EQ(Sparkplane(data(), {"tokens", "revoke", viewer_id}).exit_code, 0);
  EXPECT_TRUE(WaitFor([&] { return Get("/api/v1/dags/hello/runs").status == 401; }))
      << "a token revoked by the CLI still reads runs";
  EXPECT_EQ(Get("/api/v1/runs").status, 401);

  std::string operator_id =
      Sparkplane(data(), {"--json", "tokens", "list", "--user", "operator"}).Json()[0]["id"];
  ASSERT_EQ(Http("DELETE", Url("/api/v1/tokens/" + operator_id), "", As("operator")).status, 204);
  EXPECT_EQ(Get("/api/v1/dags/hello/runs", "operator").status, 401) << "revoked here: at once";
}

TEST_F(ApiTest, ErrorsAreProblemDocumentsWithTheCliMessage) {
  Reply unknown = Get("/api/v1/nope");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(unknown.headers["content-type"], "application/problem+json");
  Reply wrong_method = Http("PUT", Url("/api/v1/dags"), "", As("admin"));
  EXPECT_EQ(wrong_method.status, 405);
  EXPECT_EQ(wrong_method.headers["allow"], "GET");
  Reply head = Http("HEAD", Url("/api/v1/health"));
  EXPECT_EQ(head.status, 200);
  EXPECT_TRUE(head.body.empty());
  EXPECT_NE(head.headers["content-length"], "0") << "HEAD says how long GET's body is";
  EXPECT_EQ(Http("GET", Url("/api/v1/health")).status, 200) << "the connection stays usable";
  Reply trace = Http("TRACE", Url("/api/v1/dags/hello"), "", As("admin"));
  EXPECT_EQ(trace.status, 405);
  EXPECT_EQ(trace.headers["allow"], "GET, PATCH");
  Reply big =
      Http("POST", Url("/api/v1/dags/hello/runs"), std::string(2 << 20, ' '), As("operator"));
  EXPECT_EQ(big.status, 413);
  Reply bad_json = Http("POST", Url("/api/v1/dags/hello/runs"), "{\"conf\": ", As("operator"));
  EXPECT_EQ(bad_json.status, 400);
  EXPECT_EQ(bad_json.headers["content-type"], "application/problem+json");

  // A conf the params reject: the same words as the CLI's.
  Reply bad_conf = Post("/api/v1/dags/flaky/runs", {{"conf", {{"nope", 1}}}});
  EXPECT_EQ(bad_conf.status, 400) << bad_conf.body;
  CommandResult cli = Sparkplane(data(), {"dags", "trigger", "flaky", "--conf", "{\"nope\": 1}"});
  EXPECT_NE(cli.exit_code, 0);
  std::string detail = bad_conf.Json()["detail"];
  EXPECT_THAT(cli.err, ::testing::HasSubstr(detail));
  EXPECT_EQ(Post("/api/v1/dags/nope/runs", json::object()).status, 404);
}

TEST_F(ApiTest, RunsPageWithACursorWithoutGapsOrRepeats) {
  std::set<std::string> made;
  for (int i = 0; i < 5; ++i) made.insert(Trigger("hello")["run_id"].get<std::string>());
  std::set<std::string> seen;
  std::string cursor;
  int pages = 0;
  for (;;) {
    Reply r = Get("/api/v1/dags/hello/runs?limit=2" + (cursor.empty() ? "" : "&cursor=" + cursor));
    ASSERT_EQ(r.status, 200) << r.body;
    json page = r.Json();
    EXPECT_LE(page["runs"].size(), 2u);
    for (const auto& run : page["runs"]) EXPECT_TRUE(seen.insert(run["run_id"]).second);
    ++pages;
    if (page["next_cursor"].is_null()) break;
    cursor = page["next_cursor"];
  }
  EXPECT_EQ(seen, made);
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(Get("/api/v1/runs?limit=0").status, 400);
  EXPECT_EQ(Get("/api/v1/runs?state=bogus").status, 400);
}

// The runs list keeps rendered pages, but never past a change: each command's effect is in the
// very next list.
TEST_F(ApiTest, TheRunsListShowsEveryChangeAtOnce) {
  auto listed = [&](const std::string& run_id) -> json {
    json page = Get("/api/v1/dags/hold/runs").Json();
    for (const json& r : page["runs"]) {
      if (r["run_id"] == run_id) return r;
    }
    return nullptr;
  };
  ASSERT_EQ(Get("/api/v1/dags/hold/runs").status, 200);  // a page is now kept
  json run = Trigger("hold");
  std::string id = run["run_id"];
  ASSERT_FALSE(listed(id).is_null()) << "a triggered run is listed at once";
  ASSERT_TRUE(WaitFor([&] { return listed(id)["state"] == "running"; }));
  Reply cancel = Post("/api/v1/dags/hold/runs/" + Encode(id) + "/cancel", json::object());
  ASSERT_EQ(cancel.status, 200) << cancel.body;
  json now = listed(id);
  EXPECT_TRUE(now["cancel_requested"] == true || now["state"] == "cancelled") << now.dump();
  json ended = WaitRun("hold", id);
  EXPECT_EQ(listed(id)["state"], ended["state"]);
}

TEST_F(ApiTest, TheDagListShowsAPauseAndARunAtOnce) {
  auto hello = [&]() -> json {
    json page = Get("/api/v1/dags").Json();
    for (const json& d : page["dags"]) {
      if (d["dag_id"] == "hello") return d;
    }
    return nullptr;
  };
  // The event feed (every 250 ms) has read the store's runs version: pages are kept from now on.
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  for (bool paused : {true, false, true}) {
    ASSERT_EQ(hello()["paused"], !paused);  // a page is now kept
    Reply r =
        Http("PATCH", Url("/api/v1/dags/hello"), json{{"paused", paused}}.dump(), As("operator"));
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(hello()["paused"], paused) << "a pause shows in the DAG list at once";
  }
  ASSERT_TRUE(hello()["recent_runs"].empty());
  json run = Trigger("hello");
  json recent = hello()["recent_runs"];
  ASSERT_EQ(recent.size(), 1u) << "a triggered run shows in the DAG list at once";
  EXPECT_EQ(recent[0]["run_id"], run["run_id"]);
}

TEST_F(ApiTest, MetricsCountRunsTasksAndRequestsByRoute) {
  json run = Trigger("hello");
  WaitRun("hello", run["run_id"]);
  Get("/api/v1/dags/hello");
  Get("/api/v1/no-such-thing");
  Reply m = Get("/metrics");
  ASSERT_EQ(m.status, 200);
  EXPECT_THAT(m.headers["content-type"], ::testing::StartsWith("text/plain"));
  EXPECT_THAT(m.body, ::testing::HasSubstr("sparkplane_runs{state=\"success\"} 1\n"));
  EXPECT_THAT(m.body, ::testing::HasSubstr("sparkplane_task_instances{state=\"success\"} 2\n"));
  EXPECT_THAT(m.body, ::testing::HasSubstr(
                          "sparkplane_http_responses_total{method=\"GET\",route=\"/api/v1/dags/"
                          "{dag_id}\",status=\"200\"} 1\n"));
  EXPECT_THAT(m.body,
              ::testing::HasSubstr("method=\"OTHER\",route=\"(unmatched)\",status=\"404\"} 1"));
  EXPECT_THAT(m.body, ::testing::ContainsRegex("sparkplane_scheduling_pass_seconds_count [1-9]"));
  EXPECT_THAT(m.body,
              ::testing::ContainsRegex("sparkplane_task_start_latency_seconds_count [1-9]"));
  EXPECT_THAT(m.body, ::testing::HasSubstr("sparkplane_event_streams 0\n"));
}

// The SSE frames' ids in `text`.
std::vector<int64_t> Ids(const std::string& text) {
  std::vector<int64_t> ids;
  std::regex re("(^|\n)id: ([0-9]+)\n");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), re); it != std::sregex_iterator();
       ++it) {
    ids.push_back(std::stoll((*it)[2]));
  }
  return ids;
}

TEST_F(ApiTest, TheEventStreamResumesAcrossAServerRestartWithoutGaps) {
  json first = Trigger("hello");
  WaitRun("hello", first["run_id"]);
  // Read until the newest event came (however long a loaded machine takes).
  Reply seen = Http("GET", Url("/api/v1/events"), "",
                    {"Authorization: Bearer " + tokens_["viewer"], "Last-Event-ID: 0"}, 30000,
                    Frame(MaxEventId()));
  EXPECT_EQ(seen.status, 200);
  EXPECT_EQ(seen.headers["content-type"], "text/event-stream");
  std::vector<int64_t> before = Ids(seen.body);
  ASSERT_FALSE(before.empty()) << seen.body;
  int64_t last = before.back();

  // While the server is down a run is triggered (offline) and its events are written.
  server_->Stop();
  CommandResult offline = Sparkplane(data(), {"dags", "trigger", "hello"});
  ASSERT_EQ(offline.exit_code, 0) << offline.err;
  StartServer();
  // Until the newest event written while it was down, and a second more (a gap's `reset` or a
  // repeated event would come then).
  Reply resumed =
      Http("GET", Url("/api/v1/events"), "",
           {"Authorization: Bearer " + tokens_["viewer"], "Last-Event-ID: " + std::to_string(last)},
           30000, Frame(MaxEventId()), 1000);
  std::vector<int64_t> after = Ids(resumed.body);
  ASSERT_FALSE(after.empty()) << resumed.body;
  EXPECT_EQ(after.front(), last + 1) << "the first event after the resume point is sent first";
  for (size_t i = 1; i < after.size(); ++i) EXPECT_EQ(after[i], after[i - 1] + 1) << resumed.body;
  EXPECT_THAT(resumed.body, ::testing::Not(::testing::HasSubstr("event: reset")));
}

// A resume from before the hub's buffer is read from the store, which may already hold events
// the feed has not published yet (it looks every feed_interval): those must come once, in order,
// not be sent early and then again after an `event: reset` (the restart test's flake under load).
TEST_F(ApiTest, AResumeFromTheStoreDoesNotRunAheadOfTheFeed) {
  json run = Trigger("hello");
  WaitRun("hello", run["run_id"]);
  server_->Stop();
  StartServer();  // the buffer is empty: every resume below is read from the store
  Result<std::unique_ptr<store::Store>> db =
      store::OpenSqliteStore(data() + "/history/scheduler/sparkplane.db");
  ASSERT_TRUE(db.ok()) << db.status();
  Result<int64_t> first = (*db)->MaxEventId();
  ASSERT_TRUE(first.ok() && *first > 2) << first.status();
  for (int round = 0; round < 3; ++round) {
    // Events written by another process just now: the server's feed has not read them yet.
    store::Mutation m;
    for (int i = 0; i < 3; ++i) {
      store::StateEvent e;
      e.run_id = run["key"].get<int64_t>();
      e.from_state = "success";
      e.to_state = "success";
      e.reason = "round " + std::to_string(round) + " event " + std::to_string(i);
      e.at = std::chrono::time_point_cast<Millis>(std::chrono::system_clock::now());
      m.events.push_back(e);
    }
    ASSERT_TRUE((*db)->Commit(m).ok());
    Result<int64_t> max = (*db)->MaxEventId();
    ASSERT_TRUE(max.ok()) << max.status();
    // Until the newest event, and a second more (the early copies' `reset` and repeats would
    // come then).
    Reply r = Http("GET", Url("/api/v1/events"), "", {As("viewer")[0], "Last-Event-ID: 1"}, 30000,
                   Frame(*max), 1000);
    ASSERT_EQ(r.status, 200);
    std::vector<int64_t> ids = Ids(r.body);
    std::vector<int64_t> want;
    for (int64_t id = 2; id <= *max; ++id) want.push_back(id);
    EXPECT_EQ(ids, want) << "round " << round << ":\n" << r.body;
    EXPECT_THAT(r.body, ::testing::Not(HasSubstr("event: reset"))) << "round " << round;
  }
}

TEST_F(ApiTest, ALogIsFollowedLiveUntilItsTryEnds) {
  json run = Trigger("slow");
  std::string base = "/api/v1/dags/slow/runs/" + Encode(run["run_id"]) + "/tasks/talk";
  ASSERT_TRUE(WaitFor([&] { return Get(base).Json().value("state", "") == "running"; }));
  Reply stream = Http("GET", Url(base + "/logs/1/stream"), "", As("viewer"), 15000);
  EXPECT_EQ(stream.status, 200);
  for (int i = 1; i <= 5; ++i)
    EXPECT_THAT(stream.body, ::testing::HasSubstr("line-" + std::to_string(i)));
  EXPECT_THAT(stream.body, ::testing::HasSubstr("event: end")) << "the stream ends with the try";
  Reply tail = Get(base + "/logs/1?offset=-20");
  ASSERT_EQ(tail.status, 200);
  EXPECT_EQ(tail.Json()["next_offset"], tail.Json()["size"]);
  EXPECT_TRUE(tail.Json()["complete"].get<bool>());
  EXPECT_LE(tail.Json()["content"].get<std::string>().size(), 20u);
  EXPECT_EQ(Get(base + "/logs/2").status, 404);
  Reply unknown = Get("/api/v1/dags/slow/runs/" + Encode(run["run_id"]) + "/tasks/nope");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_THAT(unknown.body, HasSubstr("has no task 'nope'"));
}

TEST_F(ApiTest, RepairRerunsTheFailedTasksAndTheirDownstreamInTheSameRun) {
  json run = Trigger("flaky");
  std::string rid = run["run_id"];
  EXPECT_EQ(WaitRun("flaky", rid)["state"], "failed");
  std::string base = "/api/v1/dags/flaky/runs/" + Encode(rid);
  json tasks = Get(base + "/tasks").Json()["tasks"];
  EXPECT_EQ(tasks[0]["state"], "failed");
  EXPECT_EQ(tasks[1]["state"], "upstream_failed");

  WriteFile(marker_, "");
  Reply viewer = Post(base + "/repair", json::object(), "viewer");
  EXPECT_EQ(viewer.status, 403);
  Reply r = Post(base + "/repair", json::object());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_THAT(r.Json()["cleared"], ::testing::UnorderedElementsAre("work", "after"));
  EXPECT_EQ(WaitRun("flaky", rid)["state"], "success");
  tasks = Get(base + "/tasks").Json()["tasks"];
  EXPECT_EQ(tasks[0]["try_number"], 2) << "the repaired task's earlier try is kept";
  EXPECT_EQ(tasks[1]["state"], "success");
  EXPECT_EQ(Get("/api/v1/dags/flaky/runs").Json()["runs"].size(), 1u) << "no new run";
  Reply again = Post(base + "/repair", json::object());
  EXPECT_EQ(again.status, 409) << "nothing left to repair";
}

}  // namespace
}  // namespace sp::testing

namespace sp::testing {
namespace {

// Stands for a local cluster's daemon: a process the record names (pid + start time).
class FakeClusterRecords {
 public:
  explicit FakeClusterRecords(const std::string& data_dir) {
    Result<std::unique_ptr<store::Store>> s =
        store::OpenSqliteStore(data_dir + "/history/scheduler/sparkplane.db");
    EXPECT_TRUE(s.ok()) << s.status();
    if (s.ok()) store_ = std::move(*s);
  }

  executor::ProcessHandle Add(const std::string& name, int64_t run_key) {
    executor::SpawnSpec spec;
    spec.argv = {"sleep", "60"};
    Result<executor::ProcessHandle> daemon = processes_.Spawn(spec, nullptr);
    EXPECT_TRUE(daemon.ok()) << daemon.status();
    spark::LocalClusterHandle handle;
    handle.name = name;
    handle.dir = "/nonexistent/clusters/" + name;
    handle.master = *daemon;
    store::ClusterRecord r;
    r.name = name;
    r.backend = "local";
    r.run_id = run_key;
    r.state = "ready";
    r.handle = handle.ToJson();
    store::Mutation m;
    m.clusters.push_back(r);
    EXPECT_TRUE(store_->Commit(m).ok());
    return *daemon;
  }

 private:
  executor::ProcessSupervisor processes_;
  std::unique_ptr<store::Store> store_;
};

TEST_F(ApiTest, ClustersAreDeletedUnlessTheirRunIsActive) {
  FakeClusterRecords records(data());
  // The event stream tells of the cluster's states (the feed looks at clusters every 2 s): read
  // until it told of the deletion (a loaded machine may take its time).
  Reply stream;
  std::thread reader([&] {
    stream = Http("GET", Url("/api/v1/events"), "", As("viewer"), 60000, R"("state":"deleted")");
  });
  EXPECT_TRUE(WaitFor([&] {
    return Get("/metrics").body.find("sparkplane_event_streams 1") != std::string::npos;
  }));
  executor::ProcessHandle adhoc = records.Add("adhoc", 0);
  // Deleted only once the feed told of it as ready (seen here on a stream of its own).
  Reply ready = Http("GET", Url("/api/v1/events"), "", As("viewer"), 60000, R"("state":"ready")");
  EXPECT_THAT(ready.body, HasSubstr(R"("state":"ready")"));
  Reply denied = Http("DELETE", Url("/api/v1/clusters/adhoc"), "", As("viewer"));
  EXPECT_EQ(denied.status, 403) << denied.body;
  Reply deleted = Http("DELETE", Url("/api/v1/clusters/adhoc"), "", As("operator"));
  ASSERT_EQ(deleted.status, 200) << deleted.body;
  EXPECT_EQ(deleted.Json()["message"], "deleted Spark cluster 'adhoc'");
  EXPECT_TRUE(WaitFor(
      [&] { return executor::CheckProcess(adhoc) != executor::ProcessLiveness::kRunning; }));
  reader.join();
  EXPECT_THAT(stream.body, HasSubstr("event: cluster"));
  EXPECT_THAT(stream.body, HasSubstr(R"("name":"adhoc")"));
  EXPECT_THAT(stream.body, HasSubstr(R"("state":"ready")"));
  EXPECT_THAT(stream.body, HasSubstr(R"("state":"deleted")"));
  // Its lifetime is in the cluster histogram.
  EXPECT_THAT(Get("/metrics").body,
              HasSubstr(R"(sparkplane_cluster_phase_seconds_count{phase="lifetime"} 1)"));
  json live = Get("/api/v1/clusters").Json();
  for (const json& c : live["clusters"]) EXPECT_NE(c["name"], "adhoc");
  EXPECT_EQ(Http("DELETE", Url("/api/v1/clusters/adhoc"), "", As("operator")).status, 404);

  // A cluster of a run still running belongs to the run's teardown.
  json run = Trigger("hold");
  executor::ProcessHandle owned = records.Add("of-run", run["key"].get<int64_t>());
  Reply busy = Http("DELETE", Url("/api/v1/clusters/of-run"), "", As("operator"));
  EXPECT_EQ(busy.status, 409) << busy.body;
  EXPECT_THAT(
      busy.Json()["detail"].get<std::string>(),
      AllOf(HasSubstr("belongs to run " + run["run_id"].get<std::string>() + " of DAG 'hold'"),
            HasSubstr("its teardown deletes it")));
  EXPECT_EQ(executor::CheckProcess(owned), executor::ProcessLiveness::kRunning);
  // Once the run is over, it may be deleted (if the reaper has not been quicker).
  Post("/api/v1/dags/hold/runs/" + Encode(run["run_id"]) + "/cancel", json::object());
  WaitRun("hold", run["run_id"]);
  Reply after = Http("DELETE", Url("/api/v1/clusters/of-run"), "", As("operator"));
  EXPECT_TRUE(after.status == 200 || after.status == 404) << after.body;
  EXPECT_TRUE(WaitFor(
      [&] { return executor::CheckProcess(owned) != executor::ProcessLiveness::kRunning; }));
}

}  // namespace
}  // namespace sp::testing
