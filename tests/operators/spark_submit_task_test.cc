// SparkSubmitTaskType without Spark: validation messages, pre-launch failures that launch
// nothing (missing application, unknown conn_id, unreachable master), and the launch / exit /
// cancel / recover paths against a fake `spark-submit` shell script. Driver-log scanning (app
// ids, tracebacks) from sample text. Real submits: tests/integration/spark_operators/.
#include "operators/spark_submit_task.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>

#include "executor/process.h"
#include "operators/connections.h"
#include "operators/recording_task_context.h"
#include "spark/history.h"
#include "store/store.h"

namespace sp::operators {
namespace {

namespace fs = std::filesystem;
using executor::ProcessHandle;
using executor::ProcessLiveness;
using executor::ProcessSupervisor;
using testing::ContextIdentity;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using testing::ReadFile;
using testing::RecordingTaskContext;
using testing::ScratchDir;
using testing::StatusIs;
using testing::WriteFile;
using testing::WriteScript;
using Json = nlohmann::json;

// A fake spark-submit that prints its argv ("ARGS ..."), the mode of its --properties-file
// ("PROPS_MODE 600") and each line of that file ("PROP key=value").
constexpr char kEchoSubmit[] =
    "echo \"ARGS $*\"\n"
    "while [ $# -gt 0 ]; do\n"
    "  if [ \"$1\" = --properties-file ]; then\n"
    "    echo \"PROPS_MODE $(stat -c %a \"$2\")\"; sed 's/^/PROP /' \"$2\"\n"
    "  fi\n"
    "  shift\n"
    "done\n";

// A TCP socket listening on a loopback port, or (closed) a port where nothing listens.
class LoopbackPort {
 public:
  LoopbackPort() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    ::listen(fd_, 4);
    socklen_t len = sizeof(addr);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~LoopbackPort() { Close(); }
  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  int port() const { return port_; }
  std::string master() const { return "spark://127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_ = -1;
  int port_ = 0;
};

class SparkSubmitTaskTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<std::unique_ptr<store::Store>> s = store::OpenSqliteStore(":memory:");
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
    services_.store = store_.get();
    services_.processes = &processes_;
    services_.clock = &clock_;
    services_.config.data_dir = dir_.path();
    services_.config.spark_home = dir_.File("spark");
    services_.config.python = "/usr/bin/python3";
    WriteFile(dir_.File("apps/job.py"), "print('hi')\n");
    WriteFile(dir_.File("apps/deps.zip"), "zip");
    FakeSubmit(std::string(kEchoSubmit) + "exit 0\n");
  }

  void FakeSubmit(const std::string& body) {
    WriteScript(dir_.File("spark/bin/spark-submit"), body);
  }

  std::shared_ptr<RecordingTaskContext> Context(Json fields) {
    ContextIdentity id;
    id.task_id = "submit";
    id.type = "spark_submit";
    id.try_number = 2;
    return std::make_shared<RecordingTaskContext>(
        &services_, std::move(fields), log_, id,
        std::map<std::string, std::string>{{"TASK_ENV", "from-task"}});
  }

  TaskResult Run(Json fields, std::shared_ptr<RecordingTaskContext>* out = nullptr) {
    auto ctx = Context(std::move(fields));
    if (out != nullptr) *out = ctx;
    type_.Start(ctx);
    std::optional<TaskResult> r = ctx->WaitForResult();
    EXPECT_TRUE(r.has_value()) << "the try never completed";
    return r.value_or(TaskResult{});
  }

  std::string TryDir() const { return dir_.File("tmp/etl/7/submit/2"); }

  ScratchDir dir_;
  std::string log_ = dir_.File("logs/submit/2.log");
  ProcessSupervisor processes_;
  RealClock clock_;
  std::unique_ptr<store::Store> store_;
  Services services_;
  SparkSubmitTaskType type_{&services_};
};

TEST_F(SparkSubmitTaskTest, RunsSparkSubmitWithTheMappedOptions) {
  std::shared_ptr<RecordingTaskContext> ctx;
  TaskResult r = Run({{"master", "local[2]"},
                      {"application", "job.py"},
                      {"py_files", Json::array({"deps.zip"})},
                      {"conf",
                       {{"spark.sql.shuffle.partitions", 4},
                        {"spark.hadoop.fs.s3a.secret.key", "s3-secret-value"}}},
                      {"driver_memory", "512m"},
                      {"name", "nightly"},
                      {"application_args", Json::array({"--rows", 100})},
                      {"env", {{"EXTRA", "1"}}}},
                     &ctx);
  ASSERT_TRUE(r.success) << r.message;
  EXPECT_EQ(r.exit_code, 0);
  std::string log = ReadFile(log_);
  std::string apps = dir_.File("apps");
  EXPECT_THAT(log, HasSubstr("ARGS --master local[2] --deploy-mode client --name nightly"));
  EXPECT_THAT(log, HasSubstr("--py-files " + apps + "/deps.zip"));
  EXPECT_THAT(log, HasSubstr("--driver-memory 512m"));
  EXPECT_THAT(log, HasSubstr("PROP spark.eventLog.dir=file:" + dir_.File("history/spark")));
  EXPECT_THAT(log, HasSubstr("PROP spark.local.dir=" + TryDir()));
  EXPECT_THAT(log, HasSubstr("PROP spark.sql.shuffle.partitions=4"));
  EXPECT_THAT(log, HasSubstr(apps + "/job.py --rows 100"));
  // The settings in the log mask secret-looking values (the process still gets them).
  EXPECT_THAT(log, HasSubstr("[sparkplane] running "));
  EXPECT_THAT(log, HasSubstr("spark.hadoop.fs.s3a.secret.key=***"));
  EXPECT_THAT(log, HasSubstr("PROP spark.hadoop.fs.s3a.secret.key=s3-secret-value"));
  EXPECT_TRUE(fs::is_directory(dir_.File("history/spark")));
  EXPECT_FALSE(fs::exists(TryDir()));  // removed after the try
  std::optional<Json> handle = ctx->WaitForHandle();
  ASSERT_TRUE(handle.has_value());
  EXPECT_TRUE(ProcessHandle::FromJson(*handle).ok());
  EXPECT_EQ((*handle)["local_dir"], TryDir());
  EXPECT_EQ(r.outputs["master"], "local[2]");
}

// Hardening issue C: conf values were passed as --conf KEY=VALUE, so `ps` showed every
// secret to every local user. Now argv holds none; spark-submit reads them from a 0600 file.
TEST_F(SparkSubmitTaskTest, ConfValuesReachSparkSubmitOnlyThroughAPrivateFile) {
  TaskResult r = Run({{"master", "local[2]"},
                      {"application", "job.py"},
                      {"conf",
                       {{"spark.hadoop.fs.s3a.access.key", "AKIA-VISIBLE-NOWHERE"},
                        {"spark.hadoop.fs.s3a.secret.key", "s3-secret-value"},
                        {"spark.executor.extraJavaOptions", "-Dx=1 -Dy=2"}}}});
  ASSERT_TRUE(r.success) << r.message;
  std::string log = ReadFile(log_);
  size_t at = log.find("ARGS ");
  ASSERT_NE(at, std::string::npos) << log;
  std::string args = log.substr(at, log.find('\n', at) - at);
  EXPECT_THAT(args, Not(HasSubstr("--conf")));
  EXPECT_THAT(args, HasSubstr("--properties-file " + TryDir() + "/spark-submit.properties"));
  for (const char* value : {"AKIA-VISIBLE-NOWHERE", "s3-secret-value", "-Dx=1", "spark.",
                            "file:", "/usr/bin/python3"}) {
    EXPECT_THAT(args, Not(HasSubstr(value))) << "argv holds a setting: " << args;
  }
  EXPECT_THAT(log, HasSubstr("PROPS_MODE 600"));
  EXPECT_THAT(log, HasSubstr("PROP spark.hadoop.fs.s3a.access.key=AKIA-VISIBLE-NOWHERE\n"));
  EXPECT_THAT(log, HasSubstr("PROP spark.executor.extraJavaOptions=-Dx=1 -Dy=2\n"));
  // Sparkplane's own lines mask both secret-looking keys.
  EXPECT_THAT(log, HasSubstr("spark.hadoop.fs.s3a.access.key=*** "));
  EXPECT_FALSE(fs::exists(TryDir()));  // the file went with the try's dir
}

// Hardening issue B: Spark's event log says ExitCode 0 for a driver that raised after its
// jobs, and `history` / `runs show` called it succeeded. The try records the exit code
// beside the event log and publishes it.
TEST_F(SparkSubmitTaskTest, DriverExitCodeIsRecordedBesideTheEventLog) {
  const std::string app = "app-20261126100000-0000";
  std::string history = dir_.File("history/spark");
  fs::create_directories(history);
  fs::copy_file(std::string(SP_SOURCE_DIR) + "/tests/data/spark/history/" + app,
                history + "/" + app);
  ASSERT_EQ(spark::SummarizeApplication(history, app)->status, spark::AppStatus::kSucceeded);
  FakeSubmit("echo 'INFO StandaloneSchedulerBackend: Connected to Spark cluster with app ID " +
             app + "' >&2\necho 'RuntimeError: after the jobs'\nexit 1\n");
  TaskResult r = Run({{"master", "local"}, {"application", "job.py"}});
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.outputs["app_id"], app);
  EXPECT_EQ(r.outputs["exit_code"], 1);
  Result<std::optional<spark::DriverExit>> exit = spark::ReadDriverExit(history, app);
  ASSERT_TRUE(exit.ok()) << exit.status();
  ASSERT_TRUE(exit->has_value());
  EXPECT_EQ((*exit)->exit_code, 1);
  EXPECT_EQ((*exit)->task_id, "submit");
  EXPECT_EQ((*exit)->try_number, 2);
  Result<spark::AppSummary> summary = spark::SummarizeApplication(history, app);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->status, spark::AppStatus::kFailed);
  EXPECT_EQ(summary->exit_code, 1);
  EXPECT_THAT(summary->status_reason, HasSubstr("driver exit code 1"));

  // The retry that succeeds says so too.
  FakeSubmit("echo 'INFO StandaloneSchedulerBackend: Connected to Spark cluster with app ID " +
             app + "' >&2\nexit 0\n");
  r = Run({{"master", "local"}, {"application", "job.py"}});
  EXPECT_TRUE(r.success) << r.message;
  EXPECT_EQ(r.outputs["exit_code"], 0);
  EXPECT_EQ(spark::SummarizeApplication(history, app)->status, spark::AppStatus::kSucceeded);
}

TEST_F(SparkSubmitTaskTest, PassesTheEnvironment) {
  FakeSubmit("echo \"ENV $TASK_ENV $EXTRA $PYSPARK_PYTHON $SPARKPLANE_TRY_NUMBER\"; pwd\n");
  TaskResult r = Run({{"master", "local"}, {"application", "job.py"}, {"env", {{"EXTRA", "x"}}}});
  ASSERT_TRUE(r.success) << r.message;
  std::string log = ReadFile(log_);
  EXPECT_THAT(log, HasSubstr("ENV from-task x /usr/bin/python3 2"));
  EXPECT_THAT(log, HasSubstr(TryDir() + "\n"));  // the driver's cwd is the try's scratch dir
}

TEST_F(SparkSubmitTaskTest, AppIdAndTracebackOfAFailedDriver) {
  FakeSubmit(
      "echo '26/01/01 00:00:01 INFO StandaloneSchedulerBackend: Connected to Spark cluster with "
      "app ID app-20260101000001-0003' >&2\n"
      "echo 'Traceback (most recent call last):'\n"
      "echo '  File \"/apps/job.py\", line 3, in <module>'\n"
      "echo '    raise RuntimeError(\"boom\")'\n"
      "echo 'RuntimeError: boom'\n"
      "echo '26/01/01 00:00:02 INFO ShutdownHookManager: Shutdown hook called' >&2\n"
      "exit 1\n");
  TaskResult r = Run({{"master", "local"}, {"application", "job.py"}});
  EXPECT_FALSE(r.success);
  EXPECT_TRUE(r.retryable);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.outputs["app_id"], "app-20260101000001-0003");
  EXPECT_EQ(r.message,
            "spark-submit exited with code 1 (application app-20260101000001-0003): "
            "RuntimeError: boom");
}

TEST_F(SparkSubmitTaskTest, AppIdWithOurClustersPrefix) {
  LoopbackPort master;
  store::ClusterRecord cluster;
  cluster.name = "etl-7";
  cluster.backend = "local";
  cluster.run_id = 7;
  cluster.state = "ready";
  cluster.handle = {{"name", "etl-7"},
                    {"dir", dir_.File("clusters/etl-7")},
                    {"master_url", master.master()},
                    {"app_id_prefix", "app-etl-7"}};
  store::Mutation m;
  m.clusters.push_back(cluster);
  ASSERT_TRUE(store_->Commit(m).ok());
  FakeSubmit("echo 'INFO Granted executor ID app-etl-7-20260101000001-0000/0 on hostPort x' >&2\n");
  TaskResult r = Run({{"master", master.master()}, {"application", "job.py"}});
  ASSERT_TRUE(r.success) << r.message;
  EXPECT_EQ(r.outputs["app_id"], "app-etl-7-20260101000001-0000");
  EXPECT_EQ(r.message, "application app-etl-7-20260101000001-0000 succeeded");
}

TEST_F(SparkSubmitTaskTest, ConnIdNamesTheMaster) {
  LoopbackPort master;
  ConnectionInput in;
  in.conn_id = "spark_default";
  in.conn_type = "spark";
  in.host = "127.0.0.1";
  in.port = master.port();
  ASSERT_TRUE(AddConnection(*store_, in, {""}).ok());
  TaskResult r = Run({{"conn_id", "spark_default"}, {"application", "job.py"}});
  ASSERT_TRUE(r.success) << r.message;
  EXPECT_THAT(ReadFile(log_), HasSubstr("ARGS --master " + master.master()));
}

TEST_F(SparkSubmitTaskTest, MissingApplicationLaunchesNothing) {
  std::shared_ptr<RecordingTaskContext> ctx;
  TaskResult r = Run({{"master", "local"}, {"application", "missing.py"}}, &ctx);
  EXPECT_FALSE(r.success);
  EXPECT_FALSE(r.retryable);
  EXPECT_THAT(r.message, HasSubstr("application file not found: " + dir_.File("apps/missing.py")));
  EXPECT_THAT(ctx->handles(), IsEmpty());
  EXPECT_EQ(processes_.RunningCount(), 0u);
  EXPECT_THAT(ReadFile(log_), Not(HasSubstr("ARGS")));
  EXPECT_FALSE(fs::exists(TryDir()));
}

TEST_F(SparkSubmitTaskTest, MissingPyFilesLaunchNothing) {
  std::shared_ptr<RecordingTaskContext> ctx;
  TaskResult r =
      Run({{"master", "local"}, {"application", "job.py"}, {"py_files", "deps.zip,/nope/lib.zip"}},
          &ctx);
  EXPECT_FALSE(r.success);
  EXPECT_FALSE(r.retryable);
  EXPECT_THAT(r.message, HasSubstr("py_files file not found: /nope/lib.zip"));
  EXPECT_THAT(ctx->handles(), IsEmpty());
}

TEST_F(SparkSubmitTaskTest, UnknownConnIdSuggestsTheNearestOne) {
  ConnectionInput in;
  in.conn_id = "spark_default";
  in.conn_type = "spark";
  in.host = "127.0.0.1";
  ASSERT_TRUE(AddConnection(*store_, in, {""}).ok());
  std::shared_ptr<RecordingTaskContext> ctx;
  TaskResult r = Run({{"conn_id", "spark_defualt"}, {"application", "job.py"}}, &ctx);
  EXPECT_FALSE(r.success);
  EXPECT_FALSE(r.retryable);
  EXPECT_THAT(r.message,
              HasSubstr("unknown connection 'spark_defualt'; did you mean 'spark_default'?"));
  EXPECT_THAT(ctx->handles(), IsEmpty());
  EXPECT_EQ(processes_.RunningCount(), 0u);
}

TEST_F(SparkSubmitTaskTest, UnreachableMasterLaunchesNothing) {
  LoopbackPort closed;
  std::string master = closed.master();
  closed.Close();
  std::shared_ptr<RecordingTaskContext> ctx;
  TaskResult r = Run({{"master", master}, {"application", "job.py"}}, &ctx);
  EXPECT_FALSE(r.success);
  EXPECT_FALSE(r.retryable);
  EXPECT_THAT(r.message, HasSubstr("Spark master " + master + " is not reachable"));
  EXPECT_THAT(r.message, HasSubstr("refused"));
  EXPECT_THAT(ctx->handles(), IsEmpty());
  EXPECT_EQ(processes_.RunningCount(), 0u);
}

TEST_F(SparkSubmitTaskTest, BadRenderedConfFailsWithoutRetry) {
  TaskResult r = Run({{"master", "local"},
                      {"application", "job.py"},
                      {"driver_memory", "{{ params.mem }}"}});  // as if rendered to this text
  EXPECT_FALSE(r.success);
  EXPECT_FALSE(r.retryable);
  EXPECT_THAT(r.message, HasSubstr("invalid spark_submit task: driver_memory: expected a JVM "
                                   "memory size"));
}

TEST_F(SparkSubmitTaskTest, CancelStopsTheDriver) {
  FakeSubmit("echo started\nexec sleep 60\n");
  auto ctx = Context({{"master", "local"}, {"application", "job.py"}});
  type_.Start(ctx);
  std::optional<Json> handle = ctx->WaitForHandle();
  ASSERT_TRUE(handle.has_value());
  Result<ProcessHandle> h = ProcessHandle::FromJson(*handle);
  ASSERT_TRUE(h.ok());
  // Wait until the driver runs (released from its gate).
  for (int i = 0; i < 500 && ReadFile(log_).find("started\n") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  type_.Cancel(ctx, *handle, Millis(5000));
  std::optional<TaskResult> r = ctx->WaitForResult();
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(r->success);
  EXPECT_EQ(r->exit_code, 128 + SIGTERM);
  EXPECT_THAT(r->message, HasSubstr("spark-submit was killed by signal 15 (SIGTERM)"));
  EXPECT_THAT(r->message, HasSubstr("after a cancel"));
  EXPECT_NE(executor::CheckProcess(*h), ProcessLiveness::kRunning);
  EXPECT_FALSE(fs::exists(TryDir()));
}

TEST_F(SparkSubmitTaskTest, RecoverStopsASurvivingDriver) {
  ProcessSupervisor previous_server;
  executor::SpawnSpec spec;
  spec.argv = {"sleep", "60"};
  Result<ProcessHandle> h = previous_server.Spawn(spec, nullptr);
  ASSERT_TRUE(h.ok());
  fs::create_directories(TryDir());
  Json handle = h->ToJson();
  handle["local_dir"] = TryDir();
  auto ctx = Context({{"master", "local"}, {"application", "job.py"}});
  type_.Recover(ctx, handle);
  std::optional<TaskResult> r = ctx->WaitForResult();
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(r->success);
  EXPECT_TRUE(r->retryable);
  EXPECT_THAT(r->message, HasSubstr("the server restarted while the driver ran"));
  EXPECT_NE(executor::CheckProcess(*h), ProcessLiveness::kRunning);
  EXPECT_FALSE(fs::exists(TryDir()));
}

// A spark-submit adopted from another host or pod (a fake: the handle of a try started here, its
// process space rewritten) is followed through its files: the heartbeat keeps it alive, its
// recorded exit ends the try, and the app id and error come from the log the handle names, not
// from the adopter's own log path.
TEST_F(SparkSubmitTaskTest, RecoverFollowsASparkSubmitElsewhereThroughItsFiles) {
  services_.config.try_silence = Millis(2500);  // the 4 s driver outlives it by its heartbeat
  FakeSubmit(
      "echo 'INFO StandaloneSchedulerBackend: Connected to Spark cluster with app ID "
      "app-20261205100000-0001' >&2\n"
      "sleep 4\necho 'Traceback (most recent call last):'\necho 'RuntimeError: boom'\nexit 1\n");
  auto first = Context({{"master", "local"}, {"application", "job.py"}});
  type_.Start(first);
  std::optional<Json> handle = first->WaitForHandle();
  ASSERT_TRUE(handle.has_value());
  Json elsewhere = *handle;
  elsewhere["space"] = "another-host-boot-id/4026531836";
  EXPECT_EQ(elsewhere.value("log", ""), log_);

  SparkSubmitTaskType adopter(&services_);
  const std::string adopter_log = dir_.File("adopter/logs/submit/2.log");
  ContextIdentity id;
  id.task_id = "submit";
  id.type = "spark_submit";
  id.try_number = 2;
  auto ctx = std::make_shared<RecordingTaskContext>(
      &services_, Json{{"master", "local"}, {"application", "job.py"}}, adopter_log, id);
  adopter.Recover(ctx, elsewhere);
  std::optional<TaskResult> r = ctx->WaitForResult();
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(r->success);
  EXPECT_EQ(r->exit_code, 1) << r->message;
  EXPECT_EQ(r->outputs["app_id"], "app-20261205100000-0001");
  EXPECT_THAT(r->message, HasSubstr("RuntimeError: boom"));
  EXPECT_THAT(ReadFile(adopter_log), HasSubstr("its recorded exit is used"));
  ASSERT_TRUE(first->WaitForResult().has_value());
}

TEST(ScanDriverLogTest, FindsTheAppIdAndTheLastException) {
  ScratchDir dir;
  std::string path = dir.File("driver.log");
  WriteFile(path,
            "old line before this try: Traceback is not here\n"
            "26/01/01 00:00:01 INFO SparkContext: Running Spark version 4.3.0\n"
            "26/01/01 00:00:02 INFO StandaloneSchedulerBackend: Connected to Spark cluster with "
            "app ID app-etl-7-20260101000002-0000\n"
            "Traceback (most recent call last):\n"
            "  File \"x.py\", line 1, in f\n"
            "KeyError: 'a'\n"
            "\n"
            "During handling of the above exception, another exception occurred:\n"
            "\n"
            "Traceback (most recent call last):\n"
            "  File \"x.py\", line 4, in <module>\n"
            "    g()\n"
            "ValueError: bad value\n"
            "26/01/01 00:00:03 ERROR Executor: Exception in task 0.0\n");
  DriverLogFacts facts = ScanDriverLog(path, 0, "app-etl-7");
  EXPECT_EQ(facts.app_id, "app-etl-7-20260101000002-0000");
  EXPECT_EQ(facts.error_line, "ValueError: bad value");

  WriteFile(path,
            "x\n26/01/01 00:00:03 ERROR SparkContext: Error initializing SparkContext.\n"
            "26/01/01 00:00:04 INFO Granted executor ID app-20260101000001-0012/0 on hostPort\n");
  facts = ScanDriverLog(path, 2, "app-other");
  EXPECT_EQ(facts.app_id, "app-20260101000001-0012");  // the default prefix as a fallback
  EXPECT_EQ(facts.error_line,
            "26/01/01 00:00:03 ERROR SparkContext: Error initializing SparkContext.");

  WriteFile(path,
            "26/11/26 07:52:51 INFO RollingEventLogFilesWriter: Logging events to "
            "file:/h/eventlog_v2_local-1795679569249/events_1_local-1795679569249.zstd\n");
  EXPECT_EQ(ScanDriverLog(path, 0, "app").app_id, "local-1795679569249");
  WriteFile(path,
            "26/11/26 07:52:51 INFO SingleEventLogFileWriter: Logging events to "
            "file:/h/local-1795679569249.zstd.inprogress\n");
  EXPECT_EQ(ScanDriverLog(path, 0, "app").app_id, "local-1795679569249");

  facts = ScanDriverLog(dir.File("none.log"), 0, "app");
  EXPECT_FALSE(facts.app_id.has_value());
  EXPECT_EQ(facts.error_line, "");
}

TEST(CheckMasterReachableTest, ListeningPortIsReachable) {
  LoopbackPort open;
  EXPECT_TRUE(CheckMasterReachable(open.master(), Millis(2000)).ok());
  EXPECT_TRUE(CheckMasterReachable("local[*]", Millis(2000)).ok());
  EXPECT_THAT(CheckMasterReachable("spark://no-such-host.invalid:7077", Millis(2000)),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("cannot resolve host")));
}

struct ValidationCase {
  const char* name;
  const char* fields;   // JSON
  const char* field;    // expected DagError::field
  const char* message;  // expected substring
};

class SparkSubmitValidationTest : public ::testing::TestWithParam<ValidationCase> {};

TEST_P(SparkSubmitValidationTest, ReportsLocatedErrors) {
  const ValidationCase& c = GetParam();
  dag::TaskSpec spec;
  spec.id = "submit";
  spec.type = "spark_submit";
  spec.fields = Json::parse(c.fields);
  spec.location = {"dags/etl.yaml", 10, 5};
  for (const auto& [key, value] : spec.fields.items()) {
    spec.field_locations[key] = {"dags/etl.yaml", 20, 7};
  }
  Services services;
  SparkSubmitTaskType type(&services);
  std::vector<dag::DagError> errors;
  type.Validate(spec, &errors);
  std::string all;
  for (const dag::DagError& e : errors) all += "\n  " + e.field + ": " + e.message;
  ASSERT_EQ(errors.size(), 1u) << c.name << all;
  EXPECT_EQ(errors[0].field, c.field);
  EXPECT_THAT(errors[0].message, HasSubstr(c.message));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, SparkSubmitValidationTest,
    ::testing::Values(
        ValidationCase{"no master", R"({"application": "a.py"})", "conn_id",
                       "missing 'conn_id' or 'master'"},
        ValidationCase{"both", R"({"application": "a.py", "conn_id": "c", "master": "local"})",
                       "master", "give either conn_id or master, not both"},
        ValidationCase{"bad master", R"({"application": "a.py", "master": "mesos://h:1"})",
                       "master", "expected spark://HOST:PORT, local, local[N], k8s://URL or yarn"},
        ValidationCase{"no application", R"({"master": "local"})", "application",
                       "missing required field 'application'"},
        ValidationCase{"memory", R"({"master": "local", "application": "a.py",
                                     "executor_memory": "2 GB"})",
                       "executor_memory", "expected a JVM memory size such as 512m or 2g"},
        ValidationCase{"deploy mode", R"({"master": "local", "application": "a.py",
                                          "deploy_mode": "clent"})",
                       "deploy_mode", "did you mean 'client'?"},
        ValidationCase{"conf key", R"({"master": "local", "application": "a.py",
                                       "conf": {"executor.memory": "1g"}})",
                       "conf.executor.memory", "did you mean 'spark.executor.memory'?"},
        ValidationCase{"cores", R"({"master": "local", "application": "a.py",
                                    "driver_cores": 0})",
                       "driver_cores", "expected an integer from 1 to 4096; got 0"},
        ValidationCase{"twin", R"({"master": "local", "application": "a.py",
                                   "driver_memory": "1g", "conf": {"spark.driver.memory": "2g"}})",
                       "driver_memory", "both driver_memory and conf spark.driver.memory are set"},
        ValidationCase{"args", R"({"master": "local", "application": "a.py",
                                   "application_args": [{"a": 1}]})",
                       "application_args[0]", "expected a string"},
        ValidationCase{"py_files", R"({"master": "local", "application": "a.py",
                                       "py_files": 3})",
                       "py_files", "expected a list of strings; got number 3"},
        ValidationCase{"conn id", R"({"conn_id": "bad id", "application": "a.py"})", "conn_id",
                       "expected 1-250 letters"}),
    [](const ::testing::TestParamInfo<ValidationCase>& info) {
      std::string name = info.param.name;
      for (char& ch : name) {
        if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
      }
      return name;
    });

TEST(SparkSubmitValidationTemplates, TemplatedValuesAreCheckedAfterRendering) {
  dag::TaskSpec spec;
  spec.id = "submit";
  spec.type = "spark_submit";
  spec.fields = {{"master", "{{ tasks.cluster.outputs.master_url }}"},
                 {"application", "{{ params.app }}"},
                 {"driver_memory", "{{ params.mem }}"},
                 {"driver_cores", "{{ params.cores }}"},
                 {"deploy_mode", "{{ params.mode }}"},
                 {"py_files", "{{ params.deps }}"},
                 {"conf", {{"spark.executor.memory", "{{ params.mem }}"}}},
                 {"application_args", Json::array({"--date", "{{ ds }}", 3})}};
  Services services;
  SparkSubmitTaskType type(&services);
  std::vector<dag::DagError> errors;
  type.Validate(spec, &errors);
  EXPECT_TRUE(errors.empty()) << errors[0].field << ": " << errors[0].message;
}

}  // namespace
}  // namespace sp::operators
