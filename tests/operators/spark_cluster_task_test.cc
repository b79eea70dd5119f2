// SparkClusterTaskType and ReapOrphanClusters without Spark: validation messages, default names,
// and the create/cancel/recover/delete/reap paths against a fake `spark-class` (a shell script
// that fails or sleeps) and `sleep` processes standing in for daemons of an earlier server.
// Real clusters are tested in tests/integration/spark_operators/.
#include "operators/spark_cluster_task.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <thread>

#include "dag/loader.h"
#include "dag/template.h"
#include "executor/process.h"
#include "operators/cluster_reaper.h"
#include "operators/recording_task_context.h"
#include "spark/local_cluster.h"
#include "store/store.h"

namespace sp::operators {
namespace {

namespace fs = std::filesystem;
using executor::ProcessHandle;
using executor::ProcessLiveness;
using executor::ProcessSupervisor;
using testing::ContextIdentity;
using ::testing::HasSubstr;
using testing::ReadFile;
using testing::RecordingTaskContext;
using testing::ScratchDir;
using ::testing::SizeIs;
using testing::StatusIs;
using testing::WriteScript;
using Json = nlohmann::json;

// The master's pid in a spark_cluster try handle (0 when not started or not a create handle).
int64_t MasterPid(const Json& handle) {
  const Json* p = &handle;
  for (const char* key : {"local", "master", "pid"}) {
    if (!p->is_object() || !p->contains(key)) return 0;
    p = &(*p)[key];
  }
  return p->is_number_integer() ? p->get<int64_t>() : 0;
}

// Waits (up to 10 s) until `h` no longer names a running process.
bool GoneSoon(const ProcessHandle& h) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (executor::CheckProcess(h) == ProcessLiveness::kRunning) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

class SparkClusterTaskTest : public ::testing::Test {
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
    fs::create_directories(dir_.File("spark/jars"));
    FakeSparkClass("echo 'fake master failure: port in use' >&2; exit 1\n");
    type_ = std::make_unique<SparkClusterTaskType>(&services_);
  }

  void FakeSparkClass(const std::string& body) {
    WriteScript(dir_.File("spark/bin/spark-class"), body);
  }

  std::shared_ptr<RecordingTaskContext> Context(Json fields, int64_t run_key = 7,
                                                const std::string& task_id = "cluster") {
    ContextIdentity id;
    id.run_key = run_key;
    id.task_id = task_id;
    id.type = "spark_cluster";
    return std::make_shared<RecordingTaskContext>(&services_, std::move(fields), log_, id);
  }

  TaskResult Run(Json fields, int64_t run_key = 7, const std::string& task_id = "cluster") {
    auto ctx = Context(std::move(fields), run_key, task_id);
    type_->Start(ctx);
    std::optional<TaskResult> r = ctx->WaitForResult();
    EXPECT_TRUE(r.has_value()) << "the try never completed";
    return r.value_or(TaskResult{});
  }

  std::optional<store::ClusterRecord> Record(const std::string& name) {
    Result<std::vector<store::ClusterRecord>> all = store_->ListClusters(true);
    EXPECT_TRUE(all.ok());
    for (const store::ClusterRecord& r : *all) {
      if (r.name == name) return r;
    }
    return std::nullopt;
  }

  // A `sleep` child of another supervisor, standing in for a daemon of an earlier server, and
  // a record whose handle names it as the master.
  ProcessHandle FakeDaemon(const std::string& name, int64_t run_id, const std::string& state,
                           const std::string& created_by_task = "",
                           std::optional<ProcessHandle> owner = std::nullopt) {
    executor::SpawnSpec spec;
    spec.argv = {"sleep", "60"};
    Result<ProcessHandle> h = previous_server_.Spawn(spec, nullptr);
    EXPECT_TRUE(h.ok()) << h.status();
    spark::LocalClusterHandle handle;
    handle.name = name;
    handle.dir = dir_.File("clusters/" + name);
    handle.master_url = "spark://127.0.0.1:1";
    handle.app_id_prefix = "app-" + name;
    handle.master = *h;
    fs::create_directories(handle.dir + "/work");
    store::ClusterRecord r;
    r.name = name;
    r.backend = "local";
    r.run_id = run_id;
    r.state = state;
    r.handle = handle.ToJson();
    if (!created_by_task.empty()) r.handle["created_by_task"] = created_by_task;
    if (owner) r.handle["owner_process"] = owner->ToJson();
    store::Mutation m;
    m.clusters.push_back(r);
    EXPECT_TRUE(store_->Commit(m).ok());
    return *h;
  }

  ScratchDir dir_;
  std::string log_ = dir_.File("logs/cluster/1.log");
  ProcessSupervisor previous_server_;
  ProcessSupervisor processes_;
  RealClock clock_;
  std::unique_ptr<store::Store> store_;
  Services services_;
  std::unique_ptr<SparkClusterTaskType> type_;  // made once the configuration is set
};

TEST(DefaultClusterNameTest, IsSafeAndUniquePerRun) {
  EXPECT_EQ(DefaultClusterName("etl", 7), "etl-7");
  EXPECT_EQ(DefaultClusterName("daily.sales_v2", 1234), "daily.sales_v2-1234");
  EXPECT_EQ(DefaultClusterName("_odd name/x", 3), "c_odd-name-x-3");
  std::string long_name = DefaultClusterName(std::string(100, 'a'), 99999);
  EXPECT_EQ(long_name.size(), 64u);
  EXPECT_TRUE(long_name.ends_with("-99999"));
  EXPECT_TRUE(spark::LocalCluster::ValidateName(DefaultClusterName("_odd name/x", 3)).ok());
}

TEST_F(SparkClusterTaskTest, FailedStartRecordsItAndShowsTheDaemonLog) {
  auto ctx = Context({{"workers", 1}});
  type_->Start(ctx);
  std::optional<TaskResult> r = ctx->WaitForResult();
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(r->success);
  EXPECT_TRUE(r->retryable);
  EXPECT_THAT(r->message, HasSubstr("could not create Spark cluster 'etl-7'"));
  EXPECT_THAT(r->message, HasSubstr("fake master failure: port in use"));
  // The handle was saved before the master ran, naming the cluster.
  std::vector<Json> handles = ctx->handles();
  ASSERT_FALSE(handles.empty());
  EXPECT_EQ(handles[0]["action"], "create");
  EXPECT_EQ(handles[0]["cluster"], "etl-7");
  EXPECT_EQ(MasterPid(handles[0]), 0);
  bool saw_master = false;
  for (const Json& h : handles) saw_master |= MasterPid(h) > 0;
  EXPECT_TRUE(saw_master);
  std::optional<store::ClusterRecord> rec = Record("etl-7");
  ASSERT_TRUE(rec.has_value());
  EXPECT_EQ(rec->state, "failed");
  EXPECT_EQ(rec->run_id, 7);
  EXPECT_EQ(rec->backend, "local");
  EXPECT_THAT(ReadFile(log_), HasSubstr("[sparkplane] creating Spark cluster 'etl-7'"));

  // A retry may reuse the name: the failed cluster's dir is cleared first.
  TaskResult again = Run({{"workers", 1}});
  EXPECT_FALSE(again.success);
  EXPECT_THAT(again.message, HasSubstr("fake master failure"));
  EXPECT_THAT(again.message, ::testing::Not(HasSubstr("already exists")));
  EXPECT_EQ(processes_.RunningCount(), 0u);
}

TEST_F(SparkClusterTaskTest, ANameThatMayStillRunIsAConflict) {
  FakeDaemon("shared", 3, "ready");
  TaskResult r = Run({{"name", "shared"}});
  EXPECT_FALSE(r.success);
  EXPECT_FALSE(r.retryable);
  EXPECT_THAT(r.message, HasSubstr("Spark cluster 'shared' already exists (state ready, created "
                                   "by run 3)"));
  EXPECT_EQ(Record("shared")->state, "ready");
}

TEST_F(SparkClusterTaskTest, CancelStopsACreateAndItsDaemons) {
  FakeSparkClass("exec sleep 60\n");
  auto ctx = Context({{"name", "slow"}, {"ready_timeout", "60s"}});
  type_->Start(ctx);
  std::optional<Json> with_master =
      ctx->WaitForHandleWhere([](const Json& h) { return MasterPid(h) > 0; });
  ASSERT_TRUE(with_master.has_value());
  Result<ProcessHandle> master = ProcessHandle::FromJson((*with_master)["local"]["master"]);
  ASSERT_TRUE(master.ok());
  auto start = std::chrono::steady_clock::now();
  type_->Cancel(ctx, *with_master, Millis(5000));
  std::optional<TaskResult> r = ctx->WaitForResult();
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(r->success);
  EXPECT_THAT(r->message, HasSubstr("cancelled"));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(15));
  EXPECT_TRUE(GoneSoon(*master));
  EXPECT_EQ(Record("slow")->state, "failed");
}

TEST_F(SparkClusterTaskTest, RecoverTearsDownAHalfStartedCluster) {
  ProcessHandle daemon = FakeDaemon("etl-7", 7, "creating");
  std::optional<store::ClusterRecord> rec = Record("etl-7");
  auto ctx = Context({});
  type_->Recover(ctx, {{"action", "create"}, {"cluster", "etl-7"}, {"local", rec->handle}});
  std::optional<TaskResult> r = ctx->WaitForResult();
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(r->success);
  EXPECT_TRUE(r->retryable);
  EXPECT_THAT(r->message, HasSubstr("lost on restart: Spark cluster 'etl-7' was being created; "
                                    "it was torn down"));
  EXPECT_TRUE(GoneSoon(daemon));
  EXPECT_EQ(Record("etl-7")->state, "failed");
  EXPECT_FALSE(fs::exists(dir_.File("clusters/etl-7/work")));
}

TEST_F(SparkClusterTaskTest, DeleteTearsDownFromTheRecordAndIsIdempotent) {
  ProcessHandle daemon = FakeDaemon("etl-7", 7, "ready");
  TaskResult r = Run({{"action", "delete"}});
  ASSERT_TRUE(r.success) << r.message;
  EXPECT_EQ(r.outputs["cluster_name"], "etl-7");
  EXPECT_TRUE(GoneSoon(daemon));
  std::optional<store::ClusterRecord> rec = Record("etl-7");
  EXPECT_EQ(rec->state, "deleted");
  EXPECT_TRUE(rec->deleted_at.has_value());

  r = Run({{"action", "delete"}});
  EXPECT_TRUE(r.success) << r.message;
  EXPECT_THAT(ReadFile(log_), HasSubstr("Spark cluster 'etl-7' was already deleted"));
  r = Run({{"action", "delete"}, {"name", "never-made"}});
  EXPECT_TRUE(r.success) << r.message;
  EXPECT_THAT(ReadFile(log_), HasSubstr("no Spark cluster named 'never-made'; nothing to delete"));
}

// Hardening issue A: a create that failed (or timed out, or was cancelled) while the master
// started published no outputs, so a teardown whose name was
// "{{ tasks.create_cluster.outputs.cluster_name }}" could not even be rendered; the record stayed
// `failed` until a reaper pass. The shorthand's delete now finds the cluster from the store.
TEST_F(SparkClusterTaskTest, ShorthandTeardownAfterAFailedCreateDeletesWhatItRecorded) {
  dag::LoadedFile f = dag::LoadDagText(R"(id: etl
cluster: {workers: 1, ready_timeout: 20s}
tasks:
  - id: app
    type: spark_submit
    application: app.py
)",
                                       "etl.yaml", dag::TaskTypeChecker{});
  ASSERT_TRUE(f.errors.empty()) << f.errors[0].ToString();
  const dag::TaskSpec* create = f.dag->FindTask("create_cluster");
  const dag::TaskSpec* del = f.dag->FindTask("delete_cluster");
  ASSERT_TRUE(create != nullptr && del != nullptr);
  std::vector<dag::DagError> errors;
  type_->Validate(*del, &errors);
  EXPECT_TRUE(errors.empty()) << errors[0].message;

  // The create fails as its master starts (the fake master exits), as a timeout would.
  TaskResult created = Run(create->fields, 7, "create_cluster");
  ASSERT_FALSE(created.success);
  EXPECT_TRUE(created.outputs.empty() || !created.outputs.contains("cluster_name"));
  ASSERT_EQ(Record("etl-7")->state, "failed");

  // What the scheduler does before Start: render every field with the run's context, where the
  // failed create has no outputs.
  const Json context = {{"tasks", Json::object()}};
  EXPECT_THAT(
      dag::RenderJson({{"name", "{{ tasks.create_cluster.outputs.cluster_name }}"}}, context),
      StatusIs(StatusCode::kNotFound, HasSubstr("unknown template variable")))
      << "the old form's launch failure";
  Result<Json> rendered = dag::RenderJson(del->fields, context);
  ASSERT_TRUE(rendered.ok()) << rendered.status();
  TaskResult deleted = Run(*rendered, 7, "delete_cluster");
  ASSERT_TRUE(deleted.success) << deleted.message;
  EXPECT_EQ(deleted.outputs["cluster_name"], "etl-7");
  std::optional<store::ClusterRecord> rec = Record("etl-7");
  EXPECT_EQ(rec->state, "deleted");
  EXPECT_TRUE(rec->deleted_at.has_value());
  EXPECT_THAT(ReadFile(log_), HasSubstr("Spark cluster 'etl-7' (state failed) was created by task "
                                        "'create_cluster' of this run"));
}

TEST_F(SparkClusterTaskTest, DeleteByCreateTaskTearsDownAFailedCreatesDaemons) {
  // A failed create whose daemon is still up (stopping it failed, or the server died).
  ProcessHandle daemon = FakeDaemon("etl-7", 7, "failed", "create_cluster");
  ProcessHandle other_task = FakeDaemon("side", 7, "ready", "create_side_cluster");
  ProcessHandle other_run = FakeDaemon("etl-6", 6, "ready", "create_cluster");
  TaskResult r =
      Run({{"action", "delete"}, {"cluster_from", "create_cluster"}}, 7, "delete_cluster");
  ASSERT_TRUE(r.success) << r.message;
  EXPECT_TRUE(GoneSoon(daemon));
  EXPECT_EQ(Record("etl-7")->state, "deleted");
  EXPECT_THAT(ReadFile(log_), HasSubstr("its create failed; tearing down what it recorded"));
  // Only that task's cluster of that run.
  EXPECT_EQ(executor::CheckProcess(other_task), ProcessLiveness::kRunning);
  EXPECT_EQ(executor::CheckProcess(other_run), ProcessLiveness::kRunning);
  EXPECT_EQ(Record("side")->state, "ready");
  EXPECT_EQ(Record("etl-6")->state, "ready");
  // Idempotent.
  r = Run({{"action", "delete"}, {"cluster_from", "create_cluster"}}, 7, "delete_cluster");
  EXPECT_TRUE(r.success) << r.message;
  EXPECT_THAT(ReadFile(log_), HasSubstr("Spark cluster 'etl-7' was already deleted"));
}

TEST_F(SparkClusterTaskTest, DeleteByCreateTaskWithNothingRecordedSucceeds) {
  TaskResult r =
      Run({{"action", "delete"}, {"cluster_from", "create_cluster"}}, 7, "delete_cluster");
  ASSERT_TRUE(r.success) << r.message;
  EXPECT_EQ(r.outputs["cluster_name"], "");
  EXPECT_THAT(ReadFile(log_), HasSubstr("task 'create_cluster' of this run recorded no Spark "
                                        "cluster (it never started one); nothing to delete"));
}

TEST_F(SparkClusterTaskTest, DeleteByCreateTaskStopsAndAwaitsACreateStillRunning) {
  FakeSparkClass("exec sleep 60\n");
  auto create = Context({{"ready_timeout", "60s"}}, 7, "create_cluster");
  type_->Start(create);
  std::optional<Json> with_master =
      create->WaitForHandleWhere([](const Json& h) { return MasterPid(h) > 0; });
  ASSERT_TRUE(with_master.has_value());
  Result<ProcessHandle> master = ProcessHandle::FromJson((*with_master)["local"]["master"]);
  ASSERT_TRUE(master.ok());
  TaskResult r =
      Run({{"action", "delete"}, {"cluster_from", "create_cluster"}}, 7, "delete_cluster");
  ASSERT_TRUE(r.success) << r.message;
  std::optional<TaskResult> c = create->WaitForResult();
  ASSERT_TRUE(c.has_value());
  EXPECT_FALSE(c->success);
  EXPECT_TRUE(GoneSoon(*master));
  EXPECT_EQ(Record("etl-7")->state, "deleted");
}

TEST_F(SparkClusterTaskTest, RecoverOfADeleteByCreateTaskDeletesAgain) {
  ProcessHandle daemon = FakeDaemon("etl-7", 7, "deleting", "create_cluster");
  auto ctx = Context({}, 7, "delete_cluster");
  type_->Recover(ctx, {{"action", "delete"}, {"cluster_from", "create_cluster"}});
  std::optional<TaskResult> r = ctx->WaitForResult();
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->success) << r->message;
  EXPECT_TRUE(GoneSoon(daemon));
  EXPECT_EQ(Record("etl-7")->state, "deleted");
}

TEST_F(SparkClusterTaskTest, RecoverOfADeleteDeletesAgain) {
  ProcessHandle daemon = FakeDaemon("etl-7", 7, "deleting");
  auto ctx = Context({});
  type_->Recover(ctx, {{"action", "delete"}, {"cluster", "etl-7"}});
  std::optional<TaskResult> r = ctx->WaitForResult();
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->success) << r->message;
  EXPECT_TRUE(GoneSoon(daemon));
  EXPECT_EQ(Record("etl-7")->state, "deleted");
}

TEST_F(SparkClusterTaskTest, ScaleNeedsALiveCluster) {
  TaskResult r = Run({{"action", "scale"}, {"workers", 2}});
  EXPECT_FALSE(r.success);
  EXPECT_FALSE(r.retryable);
  EXPECT_THAT(r.message, HasSubstr("no running Spark cluster named 'etl-7' to scale"));
  FakeDaemon("old", 7, "ready");
  r = Run({{"action", "scale"}, {"workers", 2}, {"name", "old"}});
  EXPECT_FALSE(r.success);
  EXPECT_THAT(r.message, HasSubstr("is a local cluster this process did not start"));
}

TEST_F(SparkClusterTaskTest, UnknownBackendFromTheConfigFailsAtStart) {
  services_.config.default_cluster_backend = "yarn";
  TaskResult r = Run({});
  EXPECT_FALSE(r.success);
  EXPECT_FALSE(r.retryable);
  EXPECT_THAT(r.message, HasSubstr("unknown cluster backend 'yarn'"));
  EXPECT_THAT(r.message, HasSubstr("known backends: local, kubernetes"));
}

TEST_F(SparkClusterTaskTest, ReaperTearsDownClustersOfInactiveRunsOnly) {
  ProcessHandle orphan = FakeDaemon("orphan", 1, "ready");
  ProcessHandle active = FakeDaemon("active", 2, "ready");
  ProcessHandle adhoc = FakeDaemon("adhoc", 0, "ready");
  Status s = ReapOrphanClusters(services_, [](int64_t run) { return run == 2; });
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_TRUE(GoneSoon(orphan));
  EXPECT_EQ(Record("orphan")->state, "deleted");
  EXPECT_TRUE(Record("orphan")->deleted_at.has_value());
  EXPECT_EQ(executor::CheckProcess(active), ProcessLiveness::kRunning);
  EXPECT_EQ(executor::CheckProcess(adhoc), ProcessLiveness::kRunning);
  EXPECT_EQ(Record("active")->state, "ready");
  EXPECT_EQ(Record("adhoc")->state, "ready");
  Result<std::vector<store::ClusterRecord>> live = store_->ListClusters(false);
  ASSERT_TRUE(live.ok());
  EXPECT_THAT(*live, SizeIs(2));
}

// An ad-hoc cluster whose command was killed -9 has no run and no command left to delete it.
TEST_F(SparkClusterTaskTest, ReaperTearsDownAdHocClustersWhoseCommandIsGone) {
  executor::SpawnSpec command;
  command.argv = {"sleep", "60"};
  Result<ProcessHandle> alive = previous_server_.Spawn(command, nullptr);
  Result<ProcessHandle> killed = previous_server_.Spawn(command, nullptr);
  ASSERT_TRUE(alive.ok() && killed.ok());
  ASSERT_EQ(::kill(killed->pid, SIGKILL), 0);
  ASSERT_TRUE(GoneSoon(*killed));
  ProcessHandle held = FakeDaemon("held", 0, "ready", "", *alive);
  ProcessHandle abandoned = FakeDaemon("abandoned", 0, "ready", "", *killed);
  ProcessHandle half_made = FakeDaemon("half-made", 0, "creating", "", *killed);
  ProcessHandle unowned = FakeDaemon("unowned", 0, "ready");  // recorded before owners were
  Status s = ReapOrphanClusters(services_, [](int64_t) { return false; });
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_TRUE(GoneSoon(abandoned));
  EXPECT_TRUE(GoneSoon(half_made));
  EXPECT_EQ(Record("abandoned")->state, "deleted");
  EXPECT_EQ(Record("half-made")->state, "deleted");
  EXPECT_EQ(executor::CheckProcess(held), ProcessLiveness::kRunning);
  EXPECT_EQ(executor::CheckProcess(unowned), ProcessLiveness::kRunning);
  EXPECT_EQ(Record("held")->state, "ready");
  EXPECT_EQ(Record("unowned")->state, "ready");
}

struct ValidationCase {
  const char* name;
  const char* fields;   // JSON
  const char* field;    // expected DagError::field
  const char* message;  // expected substring
};

class SparkClusterValidationTest : public ::testing::TestWithParam<ValidationCase> {};

TEST_P(SparkClusterValidationTest, ReportsLocatedErrors) {
  const ValidationCase& c = GetParam();
  dag::TaskSpec spec;
  spec.id = "cluster";
  spec.type = "spark_cluster";
  spec.fields = Json::parse(c.fields);
  spec.location = {"dags/etl.yaml", 10, 5};
  for (const auto& [key, value] : spec.fields.items()) {
    spec.field_locations[key] = {"dags/etl.yaml", 20, 7};
  }
  Services services;
  SparkClusterTaskType type(&services);
  std::vector<dag::DagError> errors;
  type.Validate(spec, &errors);
  std::string all;
  for (const dag::DagError& e : errors) all += "\n  " + e.field + ": " + e.message;
  ASSERT_EQ(errors.size(), 1u) << c.name << all;
  EXPECT_EQ(errors[0].field, c.field);
  EXPECT_THAT(errors[0].message, HasSubstr(c.message));
  std::string key = errors[0].field.substr(0, errors[0].field.find_first_of(".["));
  EXPECT_EQ(errors[0].location.line, spec.fields.contains(key) ? 20 : 10) << c.name;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, SparkClusterValidationTest,
    ::testing::Values(
        ValidationCase{"bad action", R"({"action": "destroy"})", "action",
                       "expected create, scale or delete; got 'destroy'"},
        ValidationCase{"action typo", R"({"action": "delte"})", "action", "did you mean 'delete'?"},
        ValidationCase{"negative workers", R"({"workers": -1})", "workers",
                       "expected an integer from 0 to 256; got -1"},
        ValidationCase{"workers text", R"({"workers": "many"})", "workers", "got string \"many\""},
        ValidationCase{"zero cores", R"({"worker_cores": 0})", "worker_cores",
                       "expected an integer from 1 to 1024"},
        ValidationCase{"memory", R"({"worker_memory": "1.5g"})", "worker_memory",
                       "expected a JVM memory size such as 1g or 1536m; got '1.5g'"},
        ValidationCase{"backend", R"({"backend": "yarn"})", "backend",
                       "expected local or kubernetes; got 'yarn'"},
        ValidationCase{"timeout", R"({"ready_timeout": "soon"})", "ready_timeout",
                       "expected a duration such as 30s"},
        ValidationCase{"name", R"({"name": "bad name!"})", "name", "expected 1-64 letters, digits"},
        ValidationCase{"scale without workers", R"({"action": "scale"})", "workers",
                       "scale needs the number of workers"},
        ValidationCase{"conf value", R"({"master_conf": {"spark.x": "a b"}})",
                       "master_conf.spark.x", "hold no spaces"},
        ValidationCase{"conf not map", R"({"worker_conf": "spark.x=1"})", "worker_conf",
                       "expected a mapping"},
        ValidationCase{"cluster_from on create", R"({"cluster_from": "create_cluster"})",
                       "cluster_from", "applies to action delete only"},
        ValidationCase{"cluster_from and name",
                       R"({"action": "delete", "name": "c", "cluster_from": "create_cluster"})",
                       "cluster_from", "give either name or cluster_from, not both"},
        ValidationCase{"cluster_from id", R"({"action": "delete", "cluster_from": "a/b"})",
                       "cluster_from", "a/b"}),
    [](const ::testing::TestParamInfo<ValidationCase>& info) {
      std::string name = info.param.name;
      for (char& ch : name) {
        if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
      }
      return name;
    });

TEST(SparkClusterValidationTemplates, TemplatesAndDefaultsPass) {
  dag::TaskSpec spec;
  spec.id = "cluster";
  spec.type = "spark_cluster";
  spec.fields = {{"name", "{{ params.cluster }}"},
                 {"workers", "{{ params.workers }}"},
                 {"worker_memory", "{{ params.mem }}"},
                 {"master_conf", {{"spark.deploy.retainedApplications", 10}}},
                 {"ready_timeout", 90}};
  Services services;
  SparkClusterTaskType type(&services);
  std::vector<dag::DagError> errors;
  type.Validate(spec, &errors);
  EXPECT_TRUE(errors.empty()) << errors[0].field << ": " << errors[0].message;
  spec.fields = Json::object();
  type.Validate(spec, &errors);
  EXPECT_TRUE(errors.empty());
}

}  // namespace
}  // namespace sp::operators
