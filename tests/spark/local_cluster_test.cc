// LocalCluster without Spark: spec validation, handle JSON round trip, and TearDown's guard
// against deleting directories named by a corrupt handle. Real clusters are in
// tests/integration/spark/.
#include "spark/local_cluster.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <sstream>

#include "spark/spark_test_util.h"

namespace sp::spark {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using testing::StatusIs;

class LocalClusterSpecTest : public ::testing::Test {
 protected:
  LocalClusterSpec Spec() {
    LocalClusterSpec s;
    s.name = "c1";
    s.clusters_root = dir_.path();
    s.spark_home = "/nonexistent/spark";
    return s;
  }
  Status StartError(const LocalClusterSpec& spec) {
    return LocalCluster::Start(spec, processes_, clock_).status();
  }

  testing::ScratchDir dir_;
  executor::ProcessSupervisor processes_;
  RealClock clock_;
};

TEST_F(LocalClusterSpecTest, InvalidSpecs) {
  LocalClusterSpec s = Spec();
  s.name = "bad name";
  EXPECT_THAT(StartError(s),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("cluster name 'bad name'")));
  s = Spec();
  s.name = "../escape";
  EXPECT_THAT(StartError(s), StatusIs(StatusCode::kInvalidArgument, HasSubstr("cluster name")));
  s = Spec();
  s.clusters_root = "relative";
  EXPECT_THAT(StartError(s), StatusIs(StatusCode::kInvalidArgument, HasSubstr("absolute path")));
  s = Spec();
  s.workers = -1;
  EXPECT_THAT(StartError(s),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("workers must be >= 0")));
  s = Spec();
  s.worker_cores = 0;
  EXPECT_THAT(StartError(s), StatusIs(StatusCode::kInvalidArgument, HasSubstr("worker_cores")));
  s = Spec();
  s.worker_memory = "lots";
  EXPECT_THAT(StartError(s),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("worker_memory 'lots'")));
  s = Spec();
  s.app_id_prefix = "app%d";
  EXPECT_THAT(StartError(s), StatusIs(StatusCode::kInvalidArgument, HasSubstr("app_id_prefix")));
  s = Spec();
  s.worker_conf = {{"spark.worker.opts", "a b"}};
  EXPECT_THAT(StartError(s),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("worker_conf entry")));
  EXPECT_FALSE(fs::exists(dir_ / "c1"));
}

TEST_F(LocalClusterSpecTest, MissingSparkIsFailedPrecondition) {
  EXPECT_THAT(StartError(Spec()),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("Spark not found")));
}

TEST_F(LocalClusterSpecTest, ExistingDirIsAlreadyExistsAndLeftAlone) {
  LocalClusterSpec s = Spec();
  s.spark_home = dir_ / "spark";
  fs::create_directories(s.spark_home + "/bin");
  testing::WriteText(s.spark_home + "/bin/spark-class", "#!/bin/sh\nexit 1\n");
  fs::permissions(s.spark_home + "/bin/spark-class", fs::perms::owner_all);
  fs::create_directories(dir_ / "c1/work");
  testing::WriteText(dir_ / "c1/master.log", "old");
  EXPECT_THAT(StartError(s), StatusIs(StatusCode::kAlreadyExists, HasSubstr("already exists")));
  EXPECT_EQ(testing::ReadText(dir_ / "c1/master.log"), "old");
  EXPECT_TRUE(fs::exists(dir_ / "c1/work"));
}

TEST_F(LocalClusterSpecTest, DaemonThatExitsFailsFastWithItsLog) {
  // A fake spark-class that prints and exits: the start fails at once, not after the timeout.
  LocalClusterSpec s = Spec();
  s.spark_home = dir_ / "spark";
  fs::create_directories(s.spark_home + "/bin");
  testing::WriteText(
      s.spark_home + "/bin/spark-class",
      "#!/bin/sh\necho \"fake master: $* opts=$SPARK_MASTER_OPTS ip=$SPARK_LOCAL_IP\"\n"
      "exit 3\n");
  fs::permissions(s.spark_home + "/bin/spark-class", fs::perms::owner_all);
  s.workers = 0;  // a worker exiting first would be reported first
  s.ready_timeout = Millis(60000);
  RealClock clock;
  Time begin = clock.Now();
  Status st = StartError(s);
  EXPECT_LT(clock.Now() - begin, Millis(20000));
  EXPECT_THAT(st, StatusIs(StatusCode::kFailedPrecondition,
                           HasSubstr("the Spark master exited with code 3")));
  EXPECT_THAT(st.message(), HasSubstr("master.log (last 20 lines)"));
  EXPECT_THAT(st.message(), ::testing::ContainsRegex(
                                "fake master: org.apache.spark.deploy.master.Master --host "
                                "127.0.0.1 --port [1-9][0-9]* --webui-port [1-9][0-9]* "
                                "opts=-Dspark.master.rest.enabled=false -Dspark.port.maxRetries=0 "
                                "-Dspark.deploy.appIdPattern=app-c1-%s-%04d ip=127.0.0.1"));
  EXPECT_TRUE(fs::exists(dir_ / "c1/master.log"));  // logs kept
  EXPECT_FALSE(fs::exists(dir_ / "c1/work"));       // scratch removed
}

TEST_F(LocalClusterSpecTest, HandleIsRecordedBeforeTheDaemonRuns) {
  LocalClusterSpec s = Spec();
  s.spark_home = dir_ / "spark";
  fs::create_directories(s.spark_home + "/bin");
  std::string marker = dir_ / "ran";
  testing::WriteText(s.spark_home + "/bin/spark-class",
                     "#!/bin/sh\ntouch " + marker + "\nexit 1\n");
  fs::permissions(s.spark_home + "/bin/spark-class", fs::perms::owner_all);
  std::vector<LocalClusterHandle> seen;
  s.on_handle = [&](const LocalClusterHandle& h) {
    seen.push_back(h);
    EXPECT_FALSE(fs::exists(marker));  // gated: nothing ran yet
    return UnavailableError("store down");
  };
  EXPECT_THAT(StartError(s), StatusIs(StatusCode::kUnavailable, HasSubstr("store down")));
  ASSERT_EQ(seen.size(), 1u);
  // Master and worker are recorded together, with the master URL picked up front.
  EXPECT_GT(seen[0].master.pid, 0);
  ASSERT_EQ(seen[0].workers.size(), 1u);
  EXPECT_GT(seen[0].workers[0].process.pid, 0);
  EXPECT_THAT(seen[0].master_url, ::testing::MatchesRegex("spark://127\\.0\\.0\\.1:[0-9]+"));
  EXPECT_THAT(seen[0].ui_url, ::testing::MatchesRegex("http://127\\.0\\.0\\.1:[0-9]+"));
  EXPECT_FALSE(fs::exists(marker));
}

TEST_F(LocalClusterSpecTest, MasterPortClashIsRetriedWithNewPortsAFewTimes) {
  // A fake master that always fails to bind, as Spark's does when a picked port was taken:
  // each attempt gets fresh ports, its workers are stopped, and the start gives up after 3.
  LocalClusterSpec s = Spec();
  s.spark_home = dir_ / "spark";
  fs::create_directories(s.spark_home + "/bin");
  std::string calls = dir_ / "calls";
  testing::WriteText(s.spark_home + "/bin/spark-class",
                     "#!/bin/sh\necho \"$*\" >>" + calls +
                         "\n"
                         "case \"$1\" in *Master)\n"
                         "  echo \"java.net.BindException: bind(..) failed with error(-98): "
                         "Address already in use: Service 'sparkMaster' failed after 0 "
                         "retries\"\n"
                         "  exit 1;;\n"
                         "esac\n"
                         "exec sleep 60\n");
  fs::permissions(s.spark_home + "/bin/spark-class", fs::perms::owner_all);
  std::vector<LocalClusterHandle> seen;
  s.on_handle = [&](const LocalClusterHandle& h) {
    seen.push_back(h);
    return OkStatus();
  };
  RealClock clock;
  Time begin = clock.Now();
  Status st = StartError(s);
  EXPECT_LT(clock.Now() - begin, Millis(30000));
  EXPECT_THAT(st, StatusIs(StatusCode::kFailedPrecondition,
                           HasSubstr("could not bind its picked ports in 3 attempt(s)")));
  EXPECT_THAT(st.message(), HasSubstr("Address already in use"));  // the log tail
  std::vector<std::string> masters, workers;
  std::istringstream lines(testing::ReadText(calls));
  for (std::string line; std::getline(lines, line);) {
    (line.rfind("org.apache.spark.deploy.master.Master", 0) == 0 ? masters : workers)
        .push_back(line);
  }
  ASSERT_EQ(masters.size(), 3u);
  // Each attempt recorded its master and a worker together; a worker that ran was told that
  // attempt's master URL (one may be stopped before its script runs).
  std::set<std::string> urls;
  std::set<int> worker_indexes;
  for (const LocalClusterHandle& h : seen) {
    if (h.master_url.empty()) continue;
    urls.insert(h.master_url);
    ASSERT_EQ(h.workers.size(), 1u);
    worker_indexes.insert(h.workers[0].index);
  }
  EXPECT_EQ(urls.size(), 3u);
  EXPECT_EQ(worker_indexes, (std::set<int>{1, 2, 3}));
  EXPECT_LE(workers.size(), 3u);
  for (const std::string& w : workers) {
    EXPECT_TRUE(std::any_of(urls.begin(), urls.end(), [&](const std::string& url) {
      return w.find(url) != std::string::npos;
    })) << w;
  }
  EXPECT_TRUE(fs::exists(dir_ / "c1/master.port-clash-1.log"));
  EXPECT_TRUE(fs::exists(dir_ / "c1/master.port-clash-2.log"));
  // No worker was left running: every one is gone from the last handle and not alive.
  ASSERT_FALSE(seen.empty());
  for (const LocalClusterHandle& h : seen) {
    for (const LocalClusterWorker& w : h.workers) {
      EXPECT_NE(executor::CheckProcess(w.process), executor::ProcessLiveness::kRunning);
    }
  }
}

TEST_F(LocalClusterSpecTest, PickPortErrorFailsTheStart) {
  LocalClusterSpec s = Spec();
  s.spark_home = dir_ / "spark";
  fs::create_directories(s.spark_home + "/bin");
  testing::WriteText(s.spark_home + "/bin/spark-class", "#!/bin/sh\nexit 1\n");
  fs::permissions(s.spark_home + "/bin/spark-class", fs::perms::owner_all);
  s.pick_port = []() -> Result<int> { return UnavailableError("no ports left"); };
  EXPECT_THAT(StartError(s), StatusIs(StatusCode::kUnavailable, HasSubstr("no ports left")));
}

TEST(LocalClusterHandleTest, JsonRoundTrip) {
  LocalClusterHandle h;
  h.name = "r42-t1";
  h.dir = "/data/clusters/r42-t1";
  h.master_url = "spark://127.0.0.1:41257";
  h.ui_url = "http://127.0.0.1:41991";
  h.app_id_prefix = "app-r42-t1";
  h.master = {1234, 99887766};
  h.workers = {{1, {1240, 99887800}}, {3, {1300, 99887900}}};
  Result<LocalClusterHandle> back = LocalClusterHandle::FromJson(h.ToJson());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->ToJson(), h.ToJson());
  EXPECT_EQ(back->workers[1].index, 3);
  EXPECT_EQ(back->workers[1].process.start_ticks, 99887900u);
}

TEST(LocalClusterHandleTest, BadJson) {
  EXPECT_THAT(LocalClusterHandle::FromJson(nlohmann::json::array()),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("expected an object")));
  EXPECT_THAT(LocalClusterHandle::FromJson({{"name", "x"}}),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("'dir'")));
  EXPECT_THAT(
      LocalClusterHandle::FromJson({{"name", "x"}, {"dir", "/d/x"}, {"workers", {{{"index", 1}}}}}),
      StatusIs(StatusCode::kInvalidArgument, HasSubstr("'index' and 'process'")));
}

TEST(LocalClusterHandleTest, TearDownRefusesDirNotNamedAfterCluster) {
  testing::ScratchDir dir;
  fs::create_directories(dir / "precious/work");
  LocalClusterHandle h;
  h.name = "c1";
  h.dir = dir / "precious";
  EXPECT_THAT(LocalCluster::TearDown(h, Millis(100), DirCleanup::kRemoveAll),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("ending in the cluster name")));
  EXPECT_TRUE(fs::exists(dir / "precious/work"));
}

TEST(LocalClusterHandleTest, TearDownOfGoneProcessesCleansDir) {
  testing::ScratchDir dir;
  fs::create_directories(dir / "c1/work/worker-1");
  fs::create_directories(dir / "c1/local/worker-1");
  testing::WriteText(dir / "c1/master.log", "log");
  LocalClusterHandle h;
  h.name = "c1";
  h.dir = dir / "c1";
  h.master = {999999, 1};  // no such process
  h.workers = {{1, {999998, 1}}};
  EXPECT_TRUE(LocalCluster::TearDown(h, Millis(100)).ok());
  EXPECT_FALSE(fs::exists(dir / "c1/work"));
  EXPECT_FALSE(fs::exists(dir / "c1/local"));
  EXPECT_TRUE(fs::exists(dir / "c1/master.log"));
}

}  // namespace
}  // namespace sp::spark
