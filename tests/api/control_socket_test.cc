// Control requests: JSON lines -> scheduler events, and errors for bad requests. The server part
// runs a real ControlServer on a temporary socket in front of a real Scheduler (SQLite store,
// empty DAG folder) and plays clients that hang up, idle, send too much or nest too deep.
//
// This process does not ignore SIGPIPE on purpose: a server write to a client that has gone
// must not raise it (MSG_NOSIGNAL), or the test process dies like the server would.
#include "api/control_socket.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/log.h"
#include "executor/process.h"
#include "operators/registry.h"
#include "store/store.h"

namespace sp::api {
namespace {

namespace fs = std::filesystem;
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
  // Issue 12: `tasks mark ... skipped`, as Airflow offers.
  auto skip =
      ParseControlRequest({{"op", "mark"}, {"run", 4}, {"task", "a"}, {"state", "skipped"}});
  ASSERT_TRUE(skip.ok()) << skip.status();
  EXPECT_EQ(std::get<scheduler::MarkTask>(*skip).state, store::TaskState::kSkipped);
  EXPECT_TRUE(
      std::get<scheduler::SetPaused>(*ParseControlRequest({{"op", "pause"}, {"dag_id", "d"}}))
          .paused);
}

// Regression: times with milliseconds (what the API and the CLI's whole-day backfill end
// send: "2025-09-26T23:59:59.999Z") were refused as "not UTC".
TEST(ControlSocketTest, TimesTakeMillisecondsAndOffsets) {
  auto b = ParseControlRequest({{"op", "backfill"},
                                {"dag_id", "d"},
                                {"from", "2025-09-26"},
                                {"to", "2025-09-26T23:59:59.999Z"}});
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(FormatTime(std::get<scheduler::Backfill>(*b).to), "2025-09-26T23:59:59.999Z");
  auto t = ParseControlRequest(
      {{"op", "trigger"}, {"dag_id", "d"}, {"logical_date", "2026-11-26T02:00:00.5+00:00"}});
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(FormatTime(*std::get<scheduler::TriggerRun>(*t).logical_date),
            "2026-11-26T02:00:00.500Z");
  EXPECT_FALSE(
      ParseControlRequest({{"op", "trigger"}, {"dag_id", "d"}, {"logical_date", "soon"}}).ok());
}

TEST(ControlSocketTest, OptionalFieldsMayBeAbsentOrNull) {
  // What the CLI sends: an empty run_id, no logical_date.
  auto trigger = ParseControlRequest({{"op", "trigger"},
                                      {"dag_id", "d"},
                                      {"conf", nlohmann::json::object()},
                                      {"run_id", ""},
                                      {"logical_date", nullptr}});
  ASSERT_TRUE(trigger.ok()) << trigger.status();
  EXPECT_FALSE(std::get<scheduler::TriggerRun>(*trigger).logical_date.has_value());

  auto clear = ParseControlRequest({{"op", "clear"}, {"run", 4}});
  ASSERT_TRUE(clear.ok()) << clear.status();
  EXPECT_FALSE(std::get<scheduler::ClearTasks>(*clear).include_downstream);
  EXPECT_TRUE(ParseControlRequest({{"op", "ping"}}).ok());
}

TEST(ControlSocketTest, RejectsBadRequests) {
  EXPECT_THAT(ParseControlRequest({{"op", "explode"}}).status().message(),
              HasSubstr("unknown op 'explode'"));
  EXPECT_THAT(ParseControlRequest(nlohmann::json::array()).status().message(),
              HasSubstr("JSON object"));
  EXPECT_THAT(
      ParseControlRequest({{"op", "trigger"}, {"dag_id", "d"}, {"logical_date", "yesterday"}})
          .status()
          .message(),
      HasSubstr("expected a date such as 2026-11-26"));
}

// Issue 12: --logical-date takes any ISO-8601 offset and fractional seconds, as YAML start_date
// does (one parser), and means the same instant in UTC.
TEST(ControlSocketTest, Issue12LogicalDateTakesAnyOffset) {
  struct Case {
    const char* text;
    const char* utc;
  } cases[] = {{"2026-11-26T02:00:00+02:00", "2026-11-26T00:00:00Z"},
               {"2026-11-25T19:00:00-05:00", "2026-11-26T00:00:00Z"},
               {"2026-11-26T05:30:00.250+05:30", "2026-11-26T00:00:00.250Z"},
               {"2026-11-26T00:00:00.5Z", "2026-11-26T00:00:00.500Z"},
               {"2026-11-26", "2026-11-26T00:00:00Z"}};
  for (const Case& c : cases) {
    Result<Time> t = ParseUtcTime(c.text, "--logical-date");
    ASSERT_TRUE(t.ok()) << c.text << ": " << t.status();
    EXPECT_EQ(FormatTime(*t), c.utc) << c.text;
    auto trigger =
        ParseControlRequest({{"op", "trigger"}, {"dag_id", "d"}, {"logical_date", c.text}});
    ASSERT_TRUE(trigger.ok()) << trigger.status();
    EXPECT_EQ(*std::get<scheduler::TriggerRun>(*trigger).logical_date, *t);
  }
  EXPECT_THAT(ParseUtcTime("2026-11-26T02:00:00+25:00", "--logical-date").status().message(),
              HasSubstr("--logical-date: expected a date"));
}

// Each request has one field of the wrong type (or a missing one); the error names it.
TEST(ControlSocketTest, WrongTypedFieldsAreInvalidArgumentsNamingTheField) {
  struct Case {
    const char* request;
    const char* error;
  };
  const Case cases[] = {
      {R"({"op":"clear","run":4,"downstream":"yes"})",
       "field 'downstream' must be a boolean, got string"},
      {R"({"op":"clear","run":4,"downstream":1})",
       "field 'downstream' must be a boolean, got number"},
      {R"({"op":"clear","run":"4"})",
       "field 'run' must be a positive integer (a run key), got string"},
      {R"({"op":"clear","run":4,"tasks":"a"})",
       "field 'tasks' must be an array of strings, got string"},
      {R"({"op":"clear","run":4,"tasks":["a",1]})",
       "field 'tasks' must be an array of strings, got number at index 1"},
      {R"({"op":"cancel"})", "field 'run' is required for op 'cancel'"},
      {R"({"op":"cancel","run":0})", "field 'run' must be a positive integer (a run key), got 0"},
      {R"({"op":"cancel","run":-3})", "field 'run' must be a positive integer (a run key), got -3"},
      {R"({"op":"cancel","run":1.5})",
       "field 'run' must be a positive integer (a run key), got 1.5"},
      {R"({"op":"cancel","run":18446744073709551615})", "field 'run' must be a positive integer"},
      {R"({"op":"cancel","run":{"key":1}})",
       "field 'run' must be a positive integer (a run key), got object"},
      {R"({"op":"trigger","dag_id":5})", "field 'dag_id' must be a string, got number"},
      {R"({"op":"trigger"})", "field 'dag_id' is required for op 'trigger'"},
      {R"({"op":"trigger","dag_id":""})", "field 'dag_id' is empty"},
      {R"({"op":"trigger","dag_id":"d","conf":"x"})", "field 'conf' must be an object, got string"},
      {R"({"op":"trigger","dag_id":"d","conf":[1]})", "field 'conf' must be an object, got array"},
      {R"({"op":"trigger","dag_id":"d","run_id":[]})",
       "field 'run_id' must be a string, got array"},
      {R"({"op":"trigger","dag_id":"d","logical_date":20261126})",
       "field 'logical_date' must be a string, got number"},
      {R"({"op":"trigger","dag_id":"d","type":"odd"})",
       "field 'type' must be \"manual\" or \"test\""},
      {R"({"op":"backfill","dag_id":"d","to":"2026-11-26"})",
       "field 'from' is required for op 'backfill'"},
      {R"({"op":"backfill","dag_id":"d","from":true,"to":"2026-11-26"})",
       "field 'from' must be a string, got boolean"},
      {R"({"op":"mark","run":4,"state":"failed"})", "field 'task' is required for op 'mark'"},
      {R"({"op":"mark","run":4,"task":"a","state":"running"})",
       "field 'state' must be \"success\", \"failed\" or \"skipped\", got 'running'"},
      {R"({"op":"mark","run":4,"task":"a","state":false})",
       "field 'state' must be a string, got boolean"},
      {R"({"op":"pause"})", "field 'dag_id' is required for op 'pause'"},
      {R"({"op":"unpause","dag_id":null})", "field 'dag_id' is required for op 'unpause'"},
      {R"({"op":7})", "field 'op' must be a string, got number"},
      {R"({"dag_id":"d"})", "must be a JSON object with an \"op\""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.request);
    Result<scheduler::Event> r = ParseControlRequest(nlohmann::json::parse(c.request));
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_THAT(r.status().message(), HasSubstr(c.error));
  }
}

TEST(ControlSocketTest, DeeplyNestedConfIsRejectedWithoutCrash) {
  nlohmann::json conf = nlohmann::json::object();
  nlohmann::json* tip = &conf;
  for (int i = 0; i < 100000; ++i) tip = &((*tip)["a"] = nlohmann::json::object());
  nlohmann::json request = {{"op", "trigger"}, {"dag_id", "d"}};
  request["conf"] = std::move(conf);
  Result<scheduler::Event> r = ParseControlRequest(request);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("JSON nested deeper than 64 levels"));
}

TEST(ControlSocketTest, NoServerIsUnavailable) {
  auto r = SendControlRequest("/tmp/sparkplane-no-such.sock", {{"op", "ping"}}, Millis(100));
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_THAT(r.status().message(), HasSubstr("no server listening"));
}

// ---- a real server ---------------------------------------------------------------------------

class ControlSocketServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("spctl-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "dags");
    socket_ = (dir_ / "s.sock").string();
    Result<std::unique_ptr<store::Store>> opened =
        store::OpenSqliteStore((dir_ / "db.sqlite").string());
    ASSERT_TRUE(opened.ok()) << opened.status();
    db_ = std::move(*opened);
    logger_ = std::make_unique<Logger>(clock_, LogLevel::kOff);
    services_.clock = &clock_;
    services_.logger = logger_.get();
    services_.processes = &processes_;
    services_.store = db_.get();
    services_.config.data_dir = dir_.string();
    registry_ = operators::BuildRegistry(&services_);
    scheduler::SchedulerOptions opts;
    opts.dags_folder = (dir_ / "dags").string();
    sched_ = std::make_unique<scheduler::Scheduler>(&services_, registry_.get(), opts);
    ASSERT_TRUE(sched_->Start().ok());
  }

  void TearDown() override {
    for (int fd : clients_) ::close(fd);
    // A command handed to a loop that never ran would wait for ever: let it run first.
    if (!loop_running_ && sched_) RunLoop();
    server_.reset();
    if (sched_) {
      sched_->Stop();
      sched_->Join();
      sched_.reset();
    }
    fs::remove_all(dir_);
  }

  void RunLoop() {
    sched_->RunInBackground();
    loop_running_ = true;
  }

  void StartServer(ControlServerOptions options = {}, bool run_loop = true) {
    if (run_loop) RunLoop();
    server_ = std::make_unique<ControlServer>(socket_, sched_.get(), options);
    Status s = server_->Start();
    ASSERT_TRUE(s.ok()) << s;
  }

  // A raw client connection, closed at TearDown unless closed before.
  int Connect() {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    EXPECT_GE(fd, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::copy(socket_.begin(), socket_.end(), addr.sun_path);
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0)
        << std::strerror(errno);
    clients_.push_back(fd);
    return fd;
  }

  void Close(int fd) {
    ::close(fd);
    std::erase(clients_, fd);
  }

  static void SendText(int fd, const std::string& text) {
    size_t off = 0;
    while (off < text.size()) {
      ssize_t n = ::send(fd, text.data() + off, text.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return;  // the server may refuse the rest (too large); its answer tells
      off += static_cast<size_t>(n);
    }
  }

  // Reads until the server closes (10 s at most) and parses the one answer line.
  static nlohmann::json ReadAnswer(int fd) {
    std::string got;
    char buf[4096];
    for (;;) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 10000) <= 0) break;
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      got.append(buf, static_cast<size_t>(n));
    }
    EXPECT_FALSE(got.empty()) << "no answer";
    return nlohmann::json::parse(got, nullptr, /*allow_exceptions=*/false);
  }

  nlohmann::json RoundTrip(const std::string& text) {
    int fd = Connect();
    SendText(fd, text);
    nlohmann::json answer = ReadAnswer(fd);
    Close(fd);
    return answer;
  }

  // The server answers a ping (through SendControlRequest, as `sparkplane health` does).
  void ExpectPingAnswered(Millis timeout = Millis(10000)) {
    Result<nlohmann::json> r = SendControlRequest(socket_, {{"op", "ping"}}, timeout);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(*r, nlohmann::json({{"ok", true}}));
  }

  // Pings until the server answers {"ok":true}, for up to 5 s.
  bool PingAnsweredSoon() {
    for (int i = 0; i < 500; ++i) {
      Result<nlohmann::json> r = SendControlRequest(socket_, {{"op", "ping"}}, Millis(3000));
      if (r.ok() && *r == nlohmann::json({{"ok", true}})) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  static inline int counter_ = 0;
  fs::path dir_;
  std::string socket_;
  RealClock clock_;
  std::unique_ptr<Logger> logger_;
  std::unique_ptr<store::Store> db_;
  executor::ProcessSupervisor processes_;
  operators::Services services_;
  std::unique_ptr<operators::TaskTypeRegistry> registry_;
  std::unique_ptr<scheduler::Scheduler> sched_;
  bool loop_running_ = false;
  std::unique_ptr<ControlServer> server_;
  std::vector<int> clients_;
};

TEST_F(ControlSocketServerTest, AnswersCommandsThroughTheScheduler) {
  StartServer();
  Result<nlohmann::json> r =
      SendControlRequest(socket_, {{"op", "pause"}, {"dag_id", "nope"}}, Millis(10000));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((*r)["ok"], false);
  EXPECT_EQ((*r)["code"], "NOT_FOUND");
  ExpectPingAnswered();
}

TEST_F(ControlSocketServerTest, ClientsThatHangUpEarlyDoNotStopTheServer) {
  StartServer();
  for (int i = 0; i < 50; ++i) Close(Connect());  // connect and go, without a request
  for (int i = 0; i < 50; ++i) {                  // a request, gone before the answer
    int fd = Connect();
    SendText(fd, i % 2 == 0 ? "{\"op\":\"ping\"}\n" : "{\"op\":\"pause\",\"dag_id\":\"x\"}\n");
    Close(fd);
  }
  for (int i = 0; i < 20; ++i) {  // half a request
    int fd = Connect();
    SendText(fd, "{\"op\":\"pi");
    Close(fd);
  }
  // The last of these may still hold connection slots for a moment; the server answers once
  // their threads end (on the old code, the first write to a gone client killed this process).
  EXPECT_TRUE(PingAnsweredSoon());
}

TEST_F(ControlSocketServerTest, IdleConnectionsDoNotDelayOtherClients) {
  StartServer();
  for (int i = 0; i < 3; ++i) Connect();  // connected, never send
  // One at a time, each idle client would hold the server for its 5 s read timeout.
  auto start = std::chrono::steady_clock::now();
  ExpectPingAnswered(Millis(3000));
  Result<nlohmann::json> r =
      SendControlRequest(socket_, {{"op", "pause"}, {"dag_id", "nope"}}, Millis(3000));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((*r)["code"], "NOT_FOUND");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
}

TEST_F(ControlSocketServerTest, PingIsAnsweredWhileTheLoopIsNotRunning) {
  StartServer({}, /*run_loop=*/false);
  ExpectPingAnswered(Millis(3000));
}

TEST_F(ControlSocketServerTest, MalformedRequestsGetErrorsAndTheServerStaysUp) {
  StartServer();
  nlohmann::json a = RoundTrip("{\"op\":\"clear\",\"run\":1,\"downstream\":\"yes\"}\n");
  EXPECT_EQ(a["code"], "INVALID_ARGUMENT");
  EXPECT_THAT(a.value("error", ""), HasSubstr("field 'downstream' must be a boolean, got string"));

  std::string deep = "{\"op\":\"trigger\",\"dag_id\":\"d\",\"conf\":" + std::string(100000, '[') +
                     std::string(100000, ']') + "}\n";
  a = RoundTrip(deep);
  EXPECT_EQ(a["code"], "INVALID_ARGUMENT");
  EXPECT_THAT(a.value("error", ""), HasSubstr("JSON nested deeper than 64 levels"));

  a = RoundTrip("{\"op\":\"ping\"\n");
  EXPECT_EQ(a["code"], "INVALID_ARGUMENT");
  EXPECT_THAT(a.value("error", ""), HasSubstr("invalid JSON at byte"));

  a = RoundTrip("[\"\xff\xfe\n");  // broken UTF-8 quoted back in the error
  EXPECT_EQ(a["code"], "INVALID_ARGUMENT");

  a = RoundTrip(std::string(2 << 20, ' ') + "{}\n");
  EXPECT_EQ(a["code"], "INVALID_ARGUMENT");
  EXPECT_THAT(a.value("error", ""), HasSubstr("request larger than 1048576 bytes"));

  ExpectPingAnswered();
}

TEST_F(ControlSocketServerTest, SlowClientsTimeOut) {
  ControlServerOptions options;
  options.request_timeout = Millis(200);
  StartServer(options);
  int fd = Connect();
  SendText(fd, "{\"op\":");
  nlohmann::json a = ReadAnswer(fd);
  EXPECT_EQ(a["code"], "DEADLINE_EXCEEDED");
  EXPECT_THAT(a.value("error", ""), HasSubstr("no complete request"));
}

TEST_F(ControlSocketServerTest, TooManyClientsAreTurnedAwayAtOnce) {
  ControlServerOptions options;
  options.max_clients = 2;
  StartServer(options);
  int idle_a = Connect();
  int idle_b = Connect();
  // Connections are accepted in the order they were made: the idle ones hold both slots.
  Result<nlohmann::json> r = SendControlRequest(socket_, {{"op", "ping"}}, Millis(3000));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((*r)["ok"], false);
  EXPECT_EQ((*r)["code"], "UNAVAILABLE");
  EXPECT_THAT(r->value("error", ""), HasSubstr("too many clients"));

  Close(idle_a);
  Close(idle_b);
  // Their threads end when they see the hang-up; then a slot is free again.
  EXPECT_TRUE(PingAnsweredSoon());
}

TEST_F(ControlSocketServerTest, StopDoesNotWaitForIdleClients) {
  StartServer();
  for (int i = 0; i < 3; ++i) Connect();
  ExpectPingAnswered();  // the idle clients' threads are running by now
  auto start = std::chrono::steady_clock::now();
  server_->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
  EXPECT_FALSE(fs::exists(socket_));
}

}  // namespace
}  // namespace sp::api
