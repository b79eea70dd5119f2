// Real Spark 4.3 on loopback: LocalCluster start/ready/scale/stop, the example apps submitted
// with BuildSubmitCommand through the ProcessSupervisor, event logs summarised afterwards.
//
// Every test leaves nothing running even when an assertion fails: clusters are owned by the
// fixture (their destructors stop them; the supervisor's destructor SIGKILLs what remains),
// and TearDown checks that no process has its cwd or command line in the test's directory.
// Set SP_SKIP_SPARK=1 to skip these tests on a machine without Spark.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <iostream>
#include <sstream>
#include <thread>

#include "common/clock.h"
#include "executor/process.h"
#include "spark/history.h"
#include "spark/local_cluster.h"
#include "spark/spark_home.h"
#include "spark/spark_test_util.h"
#include "spark/submit.h"

namespace sp::spark {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using testing::StatusIs;

constexpr char kPythonResult[] = "RESULT total=60000 distinct=13 groups=3 checksum=96919";
constexpr char kJavaResult[] = "RESULT total=200000 distinct=13 groups=3 checksum=1015381";

double Seconds(Millis d) {
  return static_cast<double>(d.count()) / 1000.0;
}

// Pids of processes whose cwd or command line mentions `dir` (Spark JVMs of a test's clusters).
std::vector<std::string> ProcessesUnder(const std::string& dir) {
  std::vector<std::string> found;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/proc", ec)) {
    std::string pid = e.path().filename().string();
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string cwd = fs::read_symlink(e.path() / "cwd", ec).string();
    std::string cmdline = testing::ReadText((e.path() / "cmdline").string());
    if ((!ec && cwd.rfind(dir, 0) == 0) || cmdline.find(dir) != std::string::npos) {
      std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
      found.push_back(pid + " " + cmdline.substr(0, 160));
    }
    ec.clear();
  }
  return found;
}

class SparkClusterTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (const char* skip = std::getenv("SP_SKIP_SPARK");
        skip != nullptr && skip == std::string("1")) {
      return;
    }
    Result<SparkInstall> install = LocateSpark(SP_SOURCE_DIR);
    ASSERT_TRUE(install.ok()) << install.status();
    install_ = new SparkInstall(*install);
    examples_dir_ = new std::string(std::string(SP_BINARY_DIR) + "/examples");
    Result<executor::CommandOutput> built = executor::RunCommand(
        {std::string(SP_SOURCE_DIR) + "/scripts/build_examples.sh", *examples_dir_}, Millis(180000),
        {{"SPARK_HOME", install_->spark_home}});
    ASSERT_TRUE(built.ok()) << built.status();
    ASSERT_EQ(built->exit_code, 0) << built->output;
  }
  static void TearDownTestSuite() {
    delete install_;
    delete examples_dir_;
    install_ = nullptr;
    examples_dir_ = nullptr;
  }

  void SetUp() override {
    if (install_ == nullptr) GTEST_SKIP() << "SP_SKIP_SPARK=1";
    fs::create_directories(dir_ / "clusters");
  }

  void TearDown() override {
    for (auto& c : clusters_) {
      if (c) {
        EXPECT_TRUE(c->Stop(Millis(10000)).ok());
      }
    }
    clusters_.clear();
    EXPECT_THAT(ProcessesUnder(dir_.path()), ::testing::IsEmpty());
  }

  LocalClusterSpec Spec(const std::string& name, int workers) {
    LocalClusterSpec s;
    s.name = name;
    s.clusters_root = dir_ / "clusters";
    s.spark_home = install_->spark_home;
    s.workers = workers;
    s.worker_cores = 2;
    s.worker_memory = "2g";
    s.env = {{"PYSPARK_PYTHON", install_->python}};
    return s;
  }

  LocalCluster* StartCluster(LocalClusterSpec spec) {
    Result<std::unique_ptr<LocalCluster>> c =
        LocalCluster::Start(std::move(spec), processes_, clock_);
    EXPECT_TRUE(c.ok()) << c.status();
    if (!c.ok()) return nullptr;
    std::cout << "[timing] cluster " << (*c)->handle().name << " start->ready "
              << Seconds((*c)->startup_time()) << " s\n";
    clusters_.push_back(std::move(c).value());
    return clusters_.back().get();
  }

  struct DriverRun {
    executor::ExitInfo exit;
    std::string stdout_text;
    std::string stderr_text;
    std::optional<std::string> app_id;
    Millis took{0};
  };

  // Runs spark-submit for `spec` as a supervised child and waits (up to 5 minutes).
  DriverRun Submit(const SubmitSpec& spec, const std::string& name, const std::string& prefix) {
    DriverRun run;
    SubmitSpec with_file = spec;
    with_file.properties_file = dir_ / (name + ".properties");
    Result<SubmitCommand> command = BuildSubmitCommand(with_file, install_->spark_home);
    EXPECT_TRUE(command.ok()) << command.status();
    if (!command.ok()) return run;
    Status written = WriteSubmitProperties(with_file.properties_file, command->properties);
    EXPECT_TRUE(written.ok()) << written;
    executor::SpawnSpec s;
    s.argv = command->argv;
    s.env = BuildSubmitEnv(spec);
    s.cwd = dir_.path();
    s.output_path = dir_ / (name + ".out");
    s.stderr_path = dir_ / (name + ".err");
    auto done = std::make_shared<std::promise<executor::ExitInfo>>();
    Time begin = clock_.Now();
    Result<executor::ProcessHandle> h =
        processes_.Spawn(s, [done](const executor::ExitInfo& e) { done->set_value(e); });
    EXPECT_TRUE(h.ok()) << h.status();
    if (!h.ok()) return run;
    std::future<executor::ExitInfo> f = done->get_future();
    if (f.wait_for(std::chrono::minutes(5)) != std::future_status::ready) {
      processes_.Terminate(h->pid, Millis(5000));
      ADD_FAILURE() << "spark-submit " << name << " did not finish in 5 minutes";
      f.wait();
    }
    run.exit = f.get();
    run.took = std::chrono::duration_cast<Millis>(clock_.Now() - begin);
    run.stdout_text = testing::ReadText(s.output_path);
    run.stderr_text = testing::ReadText(s.stderr_path);
    std::istringstream lines(run.stderr_text);
    for (std::string line; !run.app_id && std::getline(lines, line);) {
      run.app_id = ExtractAppId(line, prefix);
    }
    std::cout << "[timing] spark-submit " << name << " " << Seconds(run.took) << " s\n";
    return run;
  }

  static SparkInstall* install_;
  static std::string* examples_dir_;
  testing::ScratchDir dir_;
  executor::ProcessSupervisor processes_;  // declared before clusters_: outlives them
  RealClock clock_;
  std::vector<std::unique_ptr<LocalCluster>> clusters_;
};

SparkInstall* SparkClusterTest::install_ = nullptr;
std::string* SparkClusterTest::examples_dir_ = nullptr;

TEST_F(SparkClusterTest, PythonAndJavaAppsOnOneWorkerCluster) {
  LocalCluster* cluster = StartCluster(Spec("one", 1));
  ASSERT_NE(cluster, nullptr);
  LocalClusterHandle handle = cluster->handle();
  EXPECT_THAT(handle.master_url, StartsWith("spark://127.0.0.1:"));
  EXPECT_THAT(handle.ui_url, StartsWith("http://127.0.0.1:"));
  ASSERT_EQ(handle.workers.size(), 1u);
  Result<MasterStatus> status = cluster->FetchStatus();
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->alive_workers, 1);
  EXPECT_EQ(status->url, handle.master_url);

  std::string history = dir_ / "history";
  fs::create_directories(history);
  fs::create_directories(dir_ / "try-py/local");
  SubmitSpec py;
  py.master = cluster->master_url();
  py.application = std::string(SP_SOURCE_DIR) + "/examples/apps/app.py";
  py.py_files = {*examples_dir_ + "/job_dependency.zip"};
  py.event_log_dir = history;
  py.local_dir = dir_ / "try-py/local";
  py.python = install_->python;
  py.application_args = {"--rows", "20000", "--output", dir_ / "out"};
  DriverRun run = Submit(py, "driver-py", handle.app_id_prefix);
  EXPECT_EQ(run.exit.exit_code, 0)
      << run.stdout_text
      << run.stderr_text.substr(run.stderr_text.size() > 4000 ? run.stderr_text.size() - 4000 : 0);
  EXPECT_THAT(run.stdout_text, HasSubstr(kPythonResult));
  ASSERT_TRUE(run.app_id.has_value()) << "no app id in driver stderr";
  EXPECT_THAT(*run.app_id, StartsWith("app-one-"));
  bool wrote_csv = false;
  for (const auto& e : fs::directory_iterator(dir_ / "out")) {
    wrote_csv |= e.path().extension() == ".csv";
  }
  EXPECT_TRUE(wrote_csv);
  EXPECT_TRUE(fs::is_empty(dir_ / "try-py/local")) << "driver scratch left behind";

  fs::create_directories(dir_ / "try-java/local");
  SubmitSpec java;
  java.master = cluster->master_url();
  java.application = *examples_dir_ + "/sparkplane-examples.jar";
  java.java_class = "sparkplane.examples.WordStats";
  java.event_log_dir = history;
  java.local_dir = dir_ / "try-java/local";
  java.application_args = {"200000"};
  DriverRun java_run = Submit(java, "driver-java", handle.app_id_prefix);
  EXPECT_EQ(java_run.exit.exit_code, 0) << java_run.stdout_text;
  EXPECT_THAT(java_run.stdout_text, HasSubstr(kJavaResult));

  status = cluster->FetchStatus();
  ASSERT_TRUE(status.ok()) << status.status();
  ASSERT_EQ(status->completed_apps.size(), 2u);
  EXPECT_EQ(status->completed_apps[0].id, *run.app_id);

  Time stop_begin = clock_.Now();
  ASSERT_TRUE(cluster->Stop().ok());
  std::cout << "[timing] stop "
            << Seconds(std::chrono::duration_cast<Millis>(clock_.Now() - stop_begin)) << " s\n";
  EXPECT_NE(executor::CheckProcess(handle.master), executor::ProcessLiveness::kRunning);
  EXPECT_NE(executor::CheckProcess(handle.workers[0].process), executor::ProcessLiveness::kRunning);
  EXPECT_FALSE(fs::exists(cluster->dir() + "/work"));
  EXPECT_FALSE(fs::exists(cluster->dir() + "/local"));
  EXPECT_TRUE(fs::exists(cluster->dir() + "/master.log"));
  EXPECT_TRUE(cluster->Stop().ok());  // idempotent

  // Spark's default event log: rolling dir, zstd.
  Result<std::vector<AppSummary>> apps = ListApplications(history);
  ASSERT_TRUE(apps.ok()) << apps.status();
  ASSERT_EQ(apps->size(), 2u);
  const AppSummary& a = (*apps)[0];
  EXPECT_EQ(a.app_id, *run.app_id);
  EXPECT_EQ(a.name, "sparkplane-example-wordcount");
  EXPECT_EQ(a.status, AppStatus::kSucceeded) << a.status_reason;
  EXPECT_EQ(a.codec, EventLogCodec::kZstd);
  EXPECT_GT(a.jobs_succeeded, 0);
  EXPECT_EQ(a.jobs_failed, 0);
  EXPECT_GT(a.tasks_succeeded, 0);
  EXPECT_GT(a.shuffle_write_bytes, 0);
  EXPECT_GT(a.shuffle_read_bytes, 0);
  EXPECT_GE(a.executors_added, 1);
  EXPECT_GT(a.duration_ms, 0);
  Result<AppSummary> java_summary = SummarizeApplication(history, (*apps)[1].app_id);
  ASSERT_TRUE(java_summary.ok()) << java_summary.status();
  EXPECT_EQ(java_summary->name, "sparkplane-example-wordstats");
  EXPECT_EQ(java_summary->status, AppStatus::kSucceeded);
}

TEST_F(SparkClusterTest, TwoClustersAtOnceThenScaleAndTearDownFromHandle) {
  // Start both at the same time so that their port choices race.
  std::unique_ptr<LocalCluster> a_owned, b_owned;
  Status a_status, b_status;
  std::thread ta([&] {
    auto r = LocalCluster::Start(Spec("a", 1), processes_, clock_);
    a_status = r.status();
    if (r.ok()) a_owned = std::move(r).value();
  });
  std::thread tb([&] {
    auto r = LocalCluster::Start(Spec("b", 1), processes_, clock_);
    b_status = r.status();
    if (r.ok()) b_owned = std::move(r).value();
  });
  ta.join();
  tb.join();
  clusters_.push_back(std::move(a_owned));
  clusters_.push_back(std::move(b_owned));
  ASSERT_TRUE(a_status.ok()) << a_status;
  ASSERT_TRUE(b_status.ok()) << b_status;
  LocalCluster* a = clusters_[0].get();
  LocalCluster* b = clusters_[1].get();
  std::cout << "[timing] concurrent start->ready a " << Seconds(a->startup_time()) << " s, b "
            << Seconds(b->startup_time()) << " s\n";
  EXPECT_NE(a->master_url(), b->master_url());
  EXPECT_NE(a->ui_url(), b->ui_url());
  for (LocalCluster* c : {a, b}) {
    Result<MasterStatus> s = c->FetchStatus();
    ASSERT_TRUE(s.ok()) << s.status();
    EXPECT_EQ(s->alive_workers, 1);
    EXPECT_EQ(s->url, c->master_url());
  }

  // Usually worker-1; worker-2 when the first worker reached the master before it was ALIVE
  // and was replaced (see local_cluster.h).
  int first = a->handle().workers[0].index;
  std::string first_dir = a->dir() + "/work/worker-" + std::to_string(first);
  Time scale_begin = clock_.Now();
  ASSERT_TRUE(a->Scale(2).ok());
  std::cout << "[timing] scale 1->2 "
            << Seconds(std::chrono::duration_cast<Millis>(clock_.Now() - scale_begin)) << " s\n";
  EXPECT_EQ(a->worker_count(), 2);
  EXPECT_EQ(a->FetchStatus()->alive_workers, 2);
  ASSERT_EQ(a->handle().workers.size(), 2u);
  int added = a->handle().workers[1].index;
  EXPECT_GT(added, first);
  std::string added_dir = a->dir() + "/work/worker-" + std::to_string(added);
  EXPECT_TRUE(fs::exists(added_dir));
  executor::ProcessHandle second = a->handle().workers[1].process;
  scale_begin = clock_.Now();
  ASSERT_TRUE(a->Scale(1).ok());
  std::cout << "[timing] scale 2->1 "
            << Seconds(std::chrono::duration_cast<Millis>(clock_.Now() - scale_begin)) << " s\n";
  EXPECT_EQ(a->worker_count(), 1);
  EXPECT_EQ(a->handle().workers[0].index, first);
  EXPECT_EQ(a->FetchStatus()->alive_workers, 1);
  EXPECT_NE(executor::CheckProcess(second), executor::ProcessLiveness::kRunning);
  EXPECT_FALSE(fs::exists(added_dir));
  EXPECT_TRUE(fs::exists(first_dir));

  // The restart path: tear b down from its serialized handle alone.
  Result<LocalClusterHandle> handle =
      LocalClusterHandle::FromJson(nlohmann::json::parse(b->handle().ToJson().dump()));
  ASSERT_TRUE(handle.ok()) << handle.status();
  Time teardown_begin = clock_.Now();
  EXPECT_TRUE(LocalCluster::TearDown(*handle, Millis(10000)).ok());
  std::cout << "[timing] teardown from handle "
            << Seconds(std::chrono::duration_cast<Millis>(clock_.Now() - teardown_begin)) << " s\n";
  EXPECT_NE(executor::CheckProcess(handle->master), executor::ProcessLiveness::kRunning);
  EXPECT_NE(executor::CheckProcess(handle->workers[0].process),
            executor::ProcessLiveness::kRunning);
  EXPECT_FALSE(fs::exists(b->dir() + "/work"));
  EXPECT_EQ(a->FetchStatus()->alive_workers, 1);  // a is untouched
}

// A loopback TCP socket bound to port 0 (listening when asked); closed at destruction.
class LoopbackPort {
 public:
  explicit LoopbackPort(bool listen) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0 &&
        (!listen || ::listen(fd_, 4) == 0)) {
      port_ = ntohs(addr.sin_port);
    }
  }
  ~LoopbackPort() { ::close(fd_); }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

TEST_F(SparkClusterTest, MasterPortTakenBeforeTheMasterBindsIsRetriedWithNewPorts) {
  // The port picked for the master's RPC is taken (we listen on it) before the master binds
  // it: the master exits with a BindException instead of walking to port+1, and the start
  // tries again with new ports; the first attempt's worker is replaced.
  LoopbackPort held(/*listen=*/true);
  ASSERT_GT(held.port(), 0);
  LocalClusterSpec spec = Spec("clash", 1);
  int picks = 0;
  spec.pick_port = [&]() -> Result<int> {
    if (picks++ == 0) return held.port();
    return LoopbackPort(false).port();
  };
  LocalCluster* cluster = StartCluster(spec);
  ASSERT_NE(cluster, nullptr);
  EXPECT_EQ(picks, 4);  // RPC + UI, twice
  EXPECT_NE(cluster->master_url(), "spark://127.0.0.1:" + std::to_string(held.port()));
  std::string clash_log = testing::ReadText(cluster->dir() + "/master.port-clash-1.log");
  EXPECT_THAT(clash_log, HasSubstr("Address already in use"));
  EXPECT_THAT(clash_log, HasSubstr(std::to_string(held.port())));
  Result<MasterStatus> status = cluster->FetchStatus();
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->alive_workers, 1);
  EXPECT_EQ(status->url, cluster->master_url());
  LocalClusterHandle handle = cluster->handle();
  ASSERT_EQ(handle.workers.size(), 1u);
  EXPECT_GE(handle.workers[0].index, 2);  // worker-1 belonged to the failed attempt
  // The daemons run with the measured JVM flags (spark/jvm_archives.h).
  std::string cmdline =
      testing::ReadText("/proc/" + std::to_string(handle.master.pid) + "/cmdline");
  EXPECT_THAT(cmdline, HasSubstr("-XX:TieredStopAtLevel=1"));
}

TEST_F(SparkClusterTest, ReadinessTimeoutReportsLogsAndLeavesNothingRunning) {
  LocalClusterSpec spec = Spec("slow", 1);
  spec.ready_timeout = Millis(500);  // a cluster starts in about 2 s here
  std::vector<LocalClusterHandle> handles;
  spec.on_handle = [&handles](const LocalClusterHandle& h) {
    handles.push_back(h);
    return OkStatus();
  };
  Result<std::unique_ptr<LocalCluster>> c = LocalCluster::Start(spec, processes_, clock_);
  ASSERT_FALSE(c.ok());
  std::cout << "[error] " << c.status() << "\n";
  EXPECT_THAT(c, StatusIs(StatusCode::kDeadlineExceeded, HasSubstr("not ready within 0.5 s")));
  EXPECT_THAT(c.status().message(), HasSubstr("starting Spark cluster 'slow'"));
  EXPECT_THAT(c.status().message(), HasSubstr("master.log (last 20 lines) ---"));
  ASSERT_FALSE(handles.empty());
  for (const LocalClusterHandle& h : handles) {
    EXPECT_NE(executor::CheckProcess(h.master), executor::ProcessLiveness::kRunning);
    for (const LocalClusterWorker& w : h.workers) {
      EXPECT_NE(executor::CheckProcess(w.process), executor::ProcessLiveness::kRunning);
    }
  }
  EXPECT_FALSE(fs::exists(dir_ / "clusters/slow/work"));
}

}  // namespace
}  // namespace sp::spark
