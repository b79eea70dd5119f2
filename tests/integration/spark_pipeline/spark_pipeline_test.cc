// The whole product with real Spark (label `spark`): the sparkplane binary runs the example DAGs
// on on-demand local standalone clusters (real masters, workers, spark-submit, event logs).
// Each test checks the run's outcome and that no Spark daemon of its clusters is left.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <cstdlib>
#include <optional>

#include "integration/harness.h"

namespace sp::testing {
namespace {

using ::testing::HasSubstr;

class SparkPipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string src = SP_SOURCE_DIR;
    std::string built = std::string(SP_SOURCE_DIR) + "/build/examples";
    ASSERT_TRUE(fs::exists(built + "/job_dependency.zip"))
        << "run scripts/setup.sh first (it builds the example zip and jar)";
    fs::create_directories(apps());
    fs::copy_file(src + "/examples/apps/app.py", apps() + "/app.py");
    fs::copy_file(built + "/job_dependency.zip", apps() + "/job_dependency.zip");
    fs::copy_file(built + "/sparkplane-examples.jar", apps() + "/sparkplane-examples.jar");
    for (const char* dag : {"spark_pipeline.yaml", "java_wordstats.yaml"}) {
      fs::create_directories(data() + "/dags");
      fs::copy_file(src + "/examples/dags/" + dag, data() + "/dags/" + dag);
    }
  }

  // Fails the test if any daemon recorded for any cluster of this data dir still runs, or a
  // record is not deleted (with `failed_create`: or failed, a create that stopped what it had
  // started).
  void ExpectNoClusterLeft(bool failed_create = false) {
    CommandResult r = Sparkplane(data(), {"cluster", "list", "--all", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    for (const auto& c : r.Json()) {
      EXPECT_TRUE(c["state"] == "deleted" || (failed_create && c["state"] == "failed"))
          << c.dump(2);
      std::vector<int> pids;
      CollectPids(c["handle"], &pids);
      for (int pid : pids) {
        EXPECT_TRUE(WaitFor([&] { return ::kill(pid, 0) != 0; }, std::chrono::seconds(20)))
            << "Spark daemon " << pid << " of cluster " << c["name"] << " is still running";
      }
    }
  }

  void AddDag(const std::string& name, const std::string& text) {
    WriteFile(data() + "/dags/" + name, text);
  }
  std::string data() const { return dir_.path(); }
  std::string apps() const { return dir_.path() + "/apps"; }
  TempDir dir_;
};

TEST_F(SparkPipelineTest, ReferencePipelineRunsPySparkWithPyFilesAndTearsDown) {
  CommandResult r =
      Sparkplane(data(), {"dags", "test", "spark_pipeline", "--conf", R"({"rows": 3000})"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("RESULT total=9000"));  // app.py: 3 words per row
  nlohmann::json run = ShowRun(data(), "spark_pipeline", "latest");
  for (const char* t : {"create_cluster", "create_connection", "spark_application",
                        "delete_connection", "delete_cluster"}) {
    EXPECT_EQ(TaskState(run, t), "success") << t;
  }
  std::string app_id;
  for (const auto& t : run["tasks"]) {
    if (t["task_id"] == "spark_application") app_id = t["outputs"].value("app_id", "");
  }
  ASSERT_FALSE(app_id.empty()) << run.dump(2);
  CommandResult h = Sparkplane(data(), {"history", "show", app_id, "--json"});
  ASSERT_EQ(h.exit_code, 0) << h.err;
  EXPECT_EQ(h.Json()["status"], "succeeded");
  EXPECT_GT(h.Json()["jobs"]["succeeded"].get<int>(), 0);
  EXPECT_EQ(Sparkplane(data(), {"connections", "list", "--json"}).Json().size(), 0u);
  ExpectNoClusterLeft();
}

TEST_F(SparkPipelineTest, JavaJobWithClusterShorthand) {
  CommandResult r = Sparkplane(data(), {"dags", "test", "java_wordstats"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("RESULT total=200000"));
  ExpectNoClusterLeft();
}

TEST_F(SparkPipelineTest, FailingAppIsRetriedAndTheClusterStillDeleted) {
  AddDag("failing.yaml", R"(id: failing
cluster: {workers: 1, worker_cores: 1, worker_memory: 1g}
tasks:
  - id: app
    type: spark_submit
    application: app.py
    py_files: [job_dependency.zip]
    application_args: ["--rows", "500", "--fail"]
    executor_memory: 512m
    retries: 1
    retry_delay: 0s
)");
  CommandResult r = Sparkplane(data(), {"dags", "test", "failing", "--json"});
  EXPECT_EQ(r.exit_code, 1);
  nlohmann::json run = r.Json();
  ASSERT_TRUE(run.is_object()) << r.out << r.err;
  EXPECT_EQ(run["state"], "failed");
  std::string app_id;
  for (const auto& t : run["tasks"]) {
    if (t["task_id"] == "app") {
      EXPECT_EQ(t["state"], "failed");
      EXPECT_EQ(t["try_number"], 2);
      EXPECT_EQ(t["exit_code"], 1);
      app_id = t["outputs"].value("app_id", "");
      EXPECT_EQ(t["outputs"].value("exit_code", -1), 1) << t.dump(2);
    }
    if (t["task_id"] == "delete_cluster") {
      EXPECT_EQ(t["state"], "success");
    }
  }
  // Hardening issue B: the driver raised after its jobs ran, so Spark's event log says
  // ExitCode 0; history and runs show must still call the application failed.
  ASSERT_FALSE(app_id.empty()) << run.dump(2);
  CommandResult h = Sparkplane(data(), {"history", "show", app_id, "--json"});
  ASSERT_EQ(h.exit_code, 0) << h.err;
  EXPECT_EQ(h.Json()["status"], "failed") << h.out;
  EXPECT_EQ(h.Json()["exit_code"], 1) << h.out;
  EXPECT_EQ(h.Json()["exit_code_source"], "driver") << h.out;
  EXPECT_GT(h.Json()["jobs"]["succeeded"].get<int>(), 0) << h.out;  // it failed after its jobs
  CommandResult list = Sparkplane(data(), {"history", "list", "--json"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  ASSERT_EQ(list.Json().size(), 2u) << list.out;  // one application per try
  for (const auto& app : list.Json()) {
    EXPECT_EQ(app["status"], "failed") << app.dump(2);
    EXPECT_EQ(app["exit_code"], 1) << app.dump(2);
  }
  CommandResult shown = Sparkplane(data(), {"runs", "show", "failing", "latest"});
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_THAT(shown.out, HasSubstr("Spark application " + app_id + " failed"));
  ExpectNoClusterLeft();
}

// A create that timed out (or failed, or was cancelled) while the master started: nothing of the
// cluster may keep running. The create stops what it started (its record says failed; the
// server's reaper marks it deleted once the run is over), and the delete_cluster teardown
// follows Airflow's rule (all_done_setup_success): its only setup failed, so it is
// upstream_failed. No JVM here: a fake spark-class whose "master" never gets ready (sleep) or
// dies at once (exit 1).
class FailedCreateTeardownTest : public SparkPipelineTest {
 protected:
  void UseFakeSpark(const std::string& spark_class_body) {
    std::string home = data() + "/fake-spark";
    fs::create_directories(home + "/jars");
    WriteFile(home + "/bin/spark-class", "#!/bin/sh\n" + spark_class_body);
    fs::permissions(home + "/bin/spark-class", fs::perms::owner_all);
    WriteFile(data() + "/sparkplane.yaml", "spark_home: " + home + "\n");
    // The configuration file only counts when SPARK_HOME is not set.
    if (const char* env = std::getenv("SPARK_HOME")) saved_spark_home_ = env;
    ::unsetenv("SPARK_HOME");
  }
  void TearDown() override {
    if (saved_spark_home_) ::setenv("SPARK_HOME", saved_spark_home_->c_str(), 1);
  }
  std::optional<std::string> saved_spark_home_;
};

TEST_F(FailedCreateTeardownTest, ShorthandTeardownAfterACreateTimedOut) {
  UseFakeSpark("exec sleep 60\n");
  AddDag("stuck.yaml", R"(id: stuck
cluster: {workers: 1, ready_timeout: 3s}
tasks:
  - id: app
    type: spark_submit
    application: app.py
)");
  CommandResult r = Sparkplane(data(), {"dags", "test", "stuck", "--json"});
  EXPECT_EQ(r.exit_code, 1);
  nlohmann::json run = r.Json();
  ASSERT_TRUE(run.is_object()) << r.out << r.err;
  EXPECT_EQ(run["state"], "failed");
  EXPECT_EQ(TaskState(run, "create_cluster"), "failed") << run.dump(2);
  // Airflow's teardown rule (all_done_setup_success): no setup succeeded, so the teardown does
  // not run; the create that timed out stopped its own daemons.
  EXPECT_EQ(TaskState(run, "delete_cluster"), "upstream_failed") << run.dump(2);
  ExpectNoClusterLeft(/*failed_create=*/true);
}

TEST_F(FailedCreateTeardownTest, ReferencePipelineTeardownAfterACreateFailed) {
  UseFakeSpark("echo 'fake master: cannot bind' >&2\nexit 1\n");
  CommandResult r = Sparkplane(data(), {"dags", "test", "spark_pipeline", "--json"});
  EXPECT_EQ(r.exit_code, 1);
  nlohmann::json run = r.Json();
  ASSERT_TRUE(run.is_object()) << r.out << r.err;
  EXPECT_EQ(TaskState(run, "create_cluster"), "failed") << run.dump(2);
  EXPECT_EQ(TaskState(run, "delete_cluster"), "upstream_failed") << run.dump(2);
  ExpectNoClusterLeft(/*failed_create=*/true);
}

TEST_F(SparkPipelineTest, BadInputsFailBeforeLaunchingAnything) {
  AddDag("bad.yaml", R"(id: bad
tasks:
  - id: missing_app
    type: spark_submit
    master: spark://127.0.0.1:1
    application: no_such_app.py
  - id: unknown_conn
    type: spark_submit
    conn_id: spark_remot
    application: app.py
  - id: unreachable
    type: spark_submit
    master: spark://127.0.0.1:1
    application: app.py
)");
  ASSERT_EQ(
      Sparkplane(data(), {"connections", "add", "spark_remote", "--uri", "spark://127.0.0.1:1"})
          .exit_code,
      0);
  CommandResult r = Sparkplane(data(), {"dags", "test", "bad", "--json"});
  EXPECT_EQ(r.exit_code, 1);
  nlohmann::json run = r.Json();
  ASSERT_TRUE(run.is_object()) << r.out << r.err;
  std::map<std::string, std::string> reasons;
  for (const auto& t : run["tasks"]) {
    EXPECT_EQ(t["state"], "failed") << t.dump();
    EXPECT_TRUE(t["exit_code"].is_null()) << "a process was launched: " << t.dump();
    reasons[t["task_id"]] = t["reason"];
  }
  EXPECT_THAT(reasons["missing_app"], HasSubstr("no_such_app.py"));
  EXPECT_THAT(reasons["unknown_conn"], HasSubstr("did you mean 'spark_remote'"));
  EXPECT_THAT(reasons["unreachable"], HasSubstr("127.0.0.1:1"));

  // A bad conf value is a load-time error, located in the file.
  AddDag("badconf.yaml",
         "id: badconf\ntasks:\n  - id: a\n    type: spark_submit\n"
         "    master: local\n    application: app.py\n"
         "    executor_memory: lots\n");
  CommandResult v = Sparkplane(data(), {"dags", "validate"});
  EXPECT_EQ(v.exit_code, 1);
  EXPECT_THAT(v.err, HasSubstr("badconf.yaml:7"));
}

TEST_F(SparkPipelineTest, CancelMidJobKillsTheDriverAndDeletesTheCluster) {
  AddDag("long.yaml", R"(id: long
cluster: {workers: 1, worker_cores: 1, worker_memory: 1g}
tasks:
  - id: app
    type: spark_submit
    application: app.py
    py_files: [job_dependency.zip]
    application_args: ["--rows", "50000000", "--partitions", "64"]
    executor_memory: 512m
)");
  ServerProcess server(data());
  server.Start();
  ASSERT_EQ(Sparkplane(data(), {"dags", "trigger", "long", "--run-id", "r"}).exit_code, 0);
  ASSERT_TRUE(WaitFor([&] { return TaskState(ShowRun(data(), "long", "r"), "app") == "running"; },
                      std::chrono::seconds(180)))
      << server.Log();
  std::this_thread::sleep_for(std::chrono::seconds(5));  // let the driver get going
  ASSERT_EQ(Sparkplane(data(), {"runs", "cancel", "long", "r"}).exit_code, 0);
  ASSERT_TRUE(WaitFor([&] { return RunIsTerminal(ShowRun(data(), "long", "r")); },
                      std::chrono::seconds(120)))
      << server.Log();
  nlohmann::json run = ShowRun(data(), "long", "r");
  EXPECT_EQ(run["state"], "cancelled");
  EXPECT_EQ(TaskState(run, "app"), "failed");
  EXPECT_EQ(TaskState(run, "delete_cluster"), "success");
  ExpectNoClusterLeft();
}

TEST_F(SparkPipelineTest, ServerKilledMidJobAdoptsTheDriverAndRunsItOnce) {
  ServerProcess server(data());
  server.Start();
  ASSERT_EQ(Sparkplane(data(), {"dags", "trigger", "spark_pipeline", "--run-id", "r", "--conf",
                                R"({"rows": 2000})"})
                .exit_code,
            0);
  ASSERT_TRUE(WaitFor(
      [&] {
        return TaskState(ShowRun(data(), "spark_pipeline", "r"), "spark_application") == "running";
      },
      std::chrono::seconds(180)))
      << server.Log();
  server.Kill(SIGKILL);

  ServerProcess restarted(data());
  restarted.Start();
  ASSERT_TRUE(WaitFor([&] { return RunIsTerminal(ShowRun(data(), "spark_pipeline", "r")); },
                      std::chrono::seconds(300)))
      << restarted.Log();
  nlohmann::json run = ShowRun(data(), "spark_pipeline", "r");
  // The driver outlived the server (its supervisor recorded its exit): the restarted server
  // adopts it, its first try succeeds with its app id, nothing runs twice; the teardowns
  // delete everything.
  EXPECT_EQ(run["state"], "success") << run.dump(2);
  for (const auto& t : run["tasks"]) {
    if (t["task_id"] != "spark_application") continue;
    EXPECT_EQ(t["try_number"], 1) << t.dump(2);
    EXPECT_THAT(t["outputs"].value("app_id", ""), ::testing::StartsWith("app-")) << t.dump(2);
  }
  EXPECT_THAT(Sparkplane(data(), {"tasks", "logs", "spark_pipeline", "r", "spark_application"}).out,
              HasSubstr("watching it"));
  EXPECT_EQ(TaskState(run, "delete_cluster"), "success");
  ExpectNoClusterLeft();
}

TEST_F(SparkPipelineTest, OrphanClusterIsReapedWhenItsRunIsOver) {
  // A DAG that forgets to delete its cluster: the server's reaper does it.
  AddDag("forgetful.yaml",
         "id: forgetful\ntasks:\n  - id: create\n    type: spark_cluster\n"
         "    action: create\n    workers: 1\n    worker_cores: 1\n");
  WriteFile(data() + "/sparkplane.yaml", "cluster_reap_interval: 1s\n");
  ServerProcess server(data());
  server.Start();
  ASSERT_EQ(Sparkplane(data(), {"dags", "trigger", "forgetful", "--run-id", "r"}).exit_code, 0);
  ASSERT_TRUE(WaitFor([&] { return RunIsTerminal(ShowRun(data(), "forgetful", "r")); },
                      std::chrono::seconds(180)))
      << server.Log();
  EXPECT_EQ(ShowRun(data(), "forgetful", "r")["state"], "success");
  ASSERT_TRUE(WaitFor(
      [&] {
        return Sparkplane(data(), {"cluster", "list", "--json"}).Json().empty();
      },
      std::chrono::seconds(60)))
      << server.Log();
  ExpectNoClusterLeft();
}

TEST_F(SparkPipelineTest, TwoRunsAtOnceGetTwoClusters) {
  ServerProcess server(data());
  server.Start();
  ASSERT_EQ(Sparkplane(data(), {"dags", "trigger", "java_wordstats", "--run-id", "a"}).exit_code,
            0);
  ASSERT_EQ(Sparkplane(data(), {"dags", "trigger", "java_wordstats", "--run-id", "b"}).exit_code,
            0);
  for (const char* id : {"a", "b"}) {
    ASSERT_TRUE(WaitFor([&] { return RunIsTerminal(ShowRun(data(), "java_wordstats", id)); },
                        std::chrono::seconds(400)))
        << id << "\n"
        << server.Log();
    EXPECT_EQ(ShowRun(data(), "java_wordstats", id)["state"], "success") << id;
  }
  CommandResult all = Sparkplane(data(), {"cluster", "list", "--all", "--json"});
  ASSERT_EQ(all.Json().size(), 2u);
  EXPECT_NE(all.Json()[0]["name"], all.Json()[1]["name"]);
  ExpectNoClusterLeft();
}

// The pids of the daemons of the clusters `cluster list --json` shows (not deleted), not their
// owners'.
std::vector<int> DaemonPids(const std::string& data_dir) {
  std::vector<int> pids;
  for (const auto& c : Sparkplane(data_dir, {"cluster", "list", "--json"}).Json()) {
    nlohmann::json daemons = c["handle"];
    daemons.erase("owner_process");  // a pooled cluster's: the server
    CollectPids(daemons, &pids);
  }
  return pids;
}

bool AllGone(const std::vector<int>& pids) {
  for (int pid : pids) {
    if (::kill(pid, 0) == 0) return false;
  }
  return true;
}

TEST_F(SparkPipelineTest, Issue14KilledServerNeverRestartedLeavesNoSparkDaemon) {
  // Each local cluster's guard deletes it once no process has held the server's lock for
  // cluster_owner_grace. The reaper is kept out of the way (10m) and the server never restarts.
  AddDag("held.yaml",
         "id: held\ntasks:\n  - id: create\n    type: spark_cluster\n    workers: 1\n"
         "    worker_cores: 1\n");
  WriteFile(data() + "/sparkplane.yaml", "cluster_reap_interval: 10m\ncluster_owner_grace: 2s\n");
  ServerProcess server(data());
  server.Start();
  ASSERT_EQ(Sparkplane(data(), {"dags", "trigger", "held", "--run-id", "r"}).exit_code, 0);
  ASSERT_TRUE(
      WaitFor([&] { return TaskState(ShowRun(data(), "held", "r"), "create") == "success"; },
              std::chrono::seconds(180)))
      << server.Log();
  std::vector<int> pids = DaemonPids(data());
  ASSERT_EQ(pids.size(), 2u) << server.Log();
  server.Kill(SIGKILL);
  EXPECT_FALSE(AllGone(pids)) << "the daemons went with the server; the guard was not tested";
  EXPECT_TRUE(WaitFor([&] { return AllGone(pids); }, std::chrono::seconds(30)))
      << "Spark daemons outlived their server";
  std::string guard_log = ReadFile(data() + "/clusters/held-1/guard.log");
  EXPECT_THAT(guard_log, HasSubstr("has been gone for 2000 ms")) << guard_log;
}

TEST_F(SparkPipelineTest, Issue14MaxAgeAndIdleTimeoutDeleteClustersWhileTheirRunGoesOn) {
  AddDag("lifetimes.yaml", R"(id: lifetimes
tasks:
  - id: old
    type: spark_cluster
    name: lt-old
    max_age: 25s
  - id: idle
    type: spark_cluster
    name: lt-idle
    idle_timeout: 3s
    max_age: none
  - id: wait
    type: bash
    command: sleep 40
    depends_on: [old, idle]
)");
  WriteFile(data() + "/sparkplane.yaml", "cluster_reap_interval: 1s\n");
  ServerProcess server(data());
  server.Start();
  ASSERT_EQ(Sparkplane(data(), {"dags", "trigger", "lifetimes", "--run-id", "r"}).exit_code, 0);
  ASSERT_TRUE(
      WaitFor([&] { return TaskState(ShowRun(data(), "lifetimes", "r"), "wait") == "running"; },
              std::chrono::seconds(180)))
      << server.Log();
  std::vector<int> pids = DaemonPids(data());
  ASSERT_EQ(pids.size(), 4u) << server.Log();
  // `cluster list` says when each goes.
  for (const auto& c : Sparkplane(data(), {"cluster", "list", "--json"}).Json()) {
    EXPECT_EQ(c["deadline"].is_string(), c["name"] == "lt-old") << c.dump(2);
    EXPECT_EQ(c["idle_timeout"], c["name"] == "lt-idle" ? nlohmann::json("3s") : nlohmann::json())
        << c.dump(2);
  }
  EXPECT_THAT(Sparkplane(data(), {"cluster", "list"}).out, HasSubstr("DEADLINE"));
  // Both go while the run is still active: lt-old at its deadline (25 s after its create
  // began), lt-idle 3 s after it was ready without an application; the reaper then marks both
  // records deleted.
  EXPECT_TRUE(WaitFor([&] { return AllGone(pids); }, std::chrono::seconds(30))) << server.Log();
  EXPECT_TRUE(WaitFor(
      [&] {
        return Sparkplane(data(), {"cluster", "list", "--json"}).Json().empty();
      },
      std::chrono::seconds(20)))
      << server.Log();
  EXPECT_EQ(TaskState(ShowRun(data(), "lifetimes", "r"), "wait"), "running");
  EXPECT_THAT(server.Log(), HasSubstr("reaped cluster 'lt-old'"));
  EXPECT_THAT(ReadFile(data() + "/clusters/lt-idle/guard.log"), HasSubstr("idle timeout"));
  EXPECT_THAT(ReadFile(data() + "/clusters/lt-old/guard.log"), HasSubstr("max age"));
  ASSERT_TRUE(WaitFor([&] { return RunIsTerminal(ShowRun(data(), "lifetimes", "r")); },
                      std::chrono::seconds(60)));
  ExpectNoClusterLeft();
}

TEST_F(SparkPipelineTest, Issue14WarmPoolServesACreateAtOnceAndRefills) {
  WriteFile(data() + "/sparkplane.yaml",
            "pools:\n  - {name: small, size: 1, workers: 1, worker_cores: 1, max_age: 10m}\n");
  AddDag("pooled.yaml", R"(id: pooled
tasks:
  - id: create
    type: spark_cluster
    workers: 1
    worker_cores: 1
  - id: app
    type: spark_submit
    depends_on: [create]
    master: "{{ tasks.create.outputs.master_url }}"
    application: app.py
    py_files: [job_dependency.zip]
    application_args: ["--rows", "100"]
    executor_memory: 512m
  - id: delete
    type: spark_cluster
    action: delete
    cluster_from: create
    depends_on: [app]
    trigger_rule: all_done
)");
  ServerProcess server(data());
  server.Start();
  // The idle pooled cluster, once ready.
  auto idle = [&]() -> nlohmann::json {
    for (const auto& p : Sparkplane(data(), {"pool", "list", "--json"}).Json()) {
      for (const auto& c : p["clusters"]) {
        if (c["state"] == "ready") return c;
      }
    }
    return nullptr;
  };
  ASSERT_TRUE(WaitFor([&] { return !idle().is_null(); }, std::chrono::seconds(120)))
      << server.Log();
  nlohmann::json pooled = idle();
  std::vector<int> pooled_pids = DaemonPids(data());
  ASSERT_EQ(pooled_pids.size(), 2u);

  ASSERT_EQ(Sparkplane(data(), {"dags", "trigger", "pooled", "--run-id", "r"}).exit_code, 0);
  ASSERT_TRUE(WaitFor([&] { return RunIsTerminal(ShowRun(data(), "pooled", "r")); },
                      std::chrono::seconds(180)))
      << server.Log();
  nlohmann::json run = ShowRun(data(), "pooled", "r");
  EXPECT_EQ(run["state"], "success") << run.dump(2);
  for (const auto& t : run["tasks"]) {
    if (t["task_id"] != "create") continue;
    // The pooled cluster itself, under the run's name.
    EXPECT_EQ(t["outputs"]["master_url"], pooled["master_url"]) << t.dump(2);
    EXPECT_EQ(t["outputs"]["cluster_name"], "pooled-1") << t.dump(2);
  }
  EXPECT_THAT(Sparkplane(data(), {"tasks", "logs", "pooled", "r", "create"}).out,
              HasSubstr("from warm pool 'small'"));
  // Used by one run only: deleted with it. The pool starts another.
  EXPECT_TRUE(WaitFor([&] { return AllGone(pooled_pids); }, std::chrono::seconds(20)));
  ASSERT_TRUE(WaitFor(
      [&] {
        nlohmann::json next = idle();
        return !next.is_null() && next["name"] != pooled["name"];
      },
      std::chrono::seconds(120)))
      << server.Log();
  std::vector<int> refill_pids = DaemonPids(data());
  server.Stop();
  EXPECT_TRUE(WaitFor([&] { return AllGone(refill_pids); }, std::chrono::seconds(20)))
      << "a pooled cluster outlived the server's stop";
}

}  // namespace
}  // namespace sp::testing
