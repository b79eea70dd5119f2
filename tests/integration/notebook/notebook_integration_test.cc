// `sparkplane notebook` end to end with real JupyterLab, Spark Connect and a local cluster:
// start → a notebook (groupBy, toPandas, SQL) run in a kernel of the notebook's Jupyter →
// stop, with nothing left (processes, ports, state); wrong tokens refused; idle teardown; a
// kill -9 of `notebook start` leaves nothing behind either.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <regex>

#include "integration/harness.h"

namespace sp::testing {
namespace {

using ::testing::HasSubstr;

const std::string kPython = std::string(SP_SOURCE_DIR) + "/.venv/bin/python";

bool HaveJupyter() {
  return std::system(
             (kPython + " -c 'import jupyterlab, pyspark.sql.connect' 2>/dev/null").c_str()) == 0;
}

bool PortAccepts(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

// Processes whose command line, environment or working dir mentions `needle` (the data dir, a
// notebook's marker), described: what must be gone after a stop.
std::vector<std::string> Leftovers(const std::string& needle) {
  return Describe(ProcessesMentioning(needle, /*everywhere=*/true));
}

// Runs a shell command, returning its exit code and output.
std::pair<int, std::string> Shell(const std::string& cmd) {
  std::string out;
  std::FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int status = ::pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

// `sparkplane notebook start NAME ARGS...` in its own process group, killed on destruction.
class NotebookProcess {
 public:
  NotebookProcess(std::string data_dir, std::vector<std::string> args)
      : data_dir_(std::move(data_dir)) {
    out_ = data_dir_ + "/start.out";
    err_ = data_dir_ + "/start.err";
    std::vector<std::string> argv = {"notebook", "start"};
    argv.insert(argv.end(), args.begin(), args.end());
    pid_ = SpawnSparkplane(data_dir_, argv, out_, err_, /*append=*/false);
  }
  ~NotebookProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      Wait(std::chrono::seconds(60));
    }
    if (pid_ > 0) {
      ::kill(-pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }

  // Waits until the notebook says it is ready (true) or the command ends (false).
  bool WaitReady(std::chrono::seconds timeout) {
    return WaitFor([&] { return Out().find("is ready") != std::string::npos || Exited(); },
                   timeout) &&
           Out().find("is ready") != std::string::npos;
  }
  bool Exited() {
    if (pid_ <= 0) return true;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      pid_ = 0;
      return true;
    }
    return false;
  }
  bool Wait(std::chrono::seconds timeout) {
    return WaitFor([&] { return Exited(); }, timeout);
  }
  void Kill9() {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = 0;
  }
  pid_t pid() const { return pid_; }
  int exit_code() const { return exit_code_; }
  std::string Out() const { return ReadFile(out_); }
  std::string Err() const { return ReadFile(err_); }

 private:
  std::string data_dir_, out_, err_;
  pid_t pid_ = 0;
  int exit_code_ = -1;
};

nlohmann::json State(const std::string& data, const std::string& name) {
  return nlohmann::json::parse(ReadFile(data + "/notebooks/" + name + "/state.json"), nullptr,
                               false);
}

// Everything of the notebook is gone: no process mentions the data dir or carries the marker,
// the ports are closed, the state file is removed and no cluster is left.
void ExpectAllGone(const std::string& data, const nlohmann::json& state) {
  const std::string marker = state.value("marker", "?");
  EXPECT_TRUE(WaitFor([&] { return Leftovers(data).empty(); }, std::chrono::seconds(20)))
      << ::testing::PrintToString(Leftovers(data));
  EXPECT_THAT(Leftovers("SPARKPLANE_NOTEBOOK=" + marker), ::testing::IsEmpty());
  EXPECT_FALSE(PortAccepts(state.value("jupyter_port", 0)));
  EXPECT_FALSE(PortAccepts(state.value("connect_port", 0)));
  EXPECT_FALSE(fs::exists(data + "/notebooks/" + state.value("name", "") + "/state.json"));
  CommandResult clusters = Sparkplane(data, {"--json", "cluster", "list"});
  EXPECT_EQ(clusters.Json().size(), 0u) << clusters.out;
}

class NotebookTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!HaveJupyter())
      GTEST_SKIP() << "no jupyterlab/pyspark[connect] in .venv (scripts/setup.sh)";
  }
  TempDir data_;
};

TEST_F(NotebookTest, RunsANotebookInItsKernelAndStopsCleanly) {
  const std::string& data = data_.path();
  NotebookProcess nb(data, {"demo", "--idle-timeout", "10m"});
  ASSERT_TRUE(nb.WaitReady(std::chrono::seconds(120))) << nb.Out() << nb.Err();
  nlohmann::json state = State(data, "demo");
  ASSERT_FALSE(state.is_discarded());
  const int jport = state["jupyter_port"], cport = state["connect_port"];
  const std::string jtoken = state["jupyter_token"], ctoken = state["connect_token"];
  EXPECT_THAT(nb.Out(),
              HasSubstr("http://127.0.0.1:" + std::to_string(jport) + "/lab?token=" + jtoken));
  // The token never shows in a command line.
  for (const std::string& p : Leftovers(data)) {
    EXPECT_THAT(p, ::testing::Not(HasSubstr(ctoken)));
    EXPECT_THAT(p, ::testing::Not(HasSubstr(jtoken)));
  }

  CommandResult again = Sparkplane(data, {"notebook", "start", "demo"});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_THAT(again.err, HasSubstr("notebook 'demo' is already running"));

  CommandResult list = Sparkplane(data, {"--json", "notebook", "list"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  ASSERT_EQ(list.Json().size(), 1u) << list.out;
  EXPECT_EQ(list.Json()[0]["url"], "http://127.0.0.1:" + std::to_string(jport) + "/lab");
  EXPECT_EQ(list.Json()[0]["state"], "ready");
  EXPECT_THAT(list.out, ::testing::Not(HasSubstr(jtoken)));

  // Wrong tokens are refused, by Jupyter and by Spark Connect.
  auto [code, http] =
      Shell("curl -s -o /dev/null -w '%{http_code}' 'http://127.0.0.1:" + std::to_string(jport) +
            "/api/kernels?token=wrong'");
  EXPECT_EQ(http, "403");
  auto [rc, out] = Shell("SPARK_REMOTE='sc://localhost:" + std::to_string(cport) +
                         "/;token=wrong' timeout 60 " + kPython +
                         " -c 'from pyspark.sql import SparkSession; "
                         "SparkSession.builder.getOrCreate().range(1).count()'");
  EXPECT_NE(rc, 0);
  EXPECT_THAT(out, HasSubstr("Invalid authentication token"));

  // The demo notebook in a kernel of the notebook's Jupyter (its environment: SPARK_REMOTE).
  auto [nrc, nout] =
      Shell("timeout 120 " + kPython + " " + SP_TEST_DIR + "/run_in_kernel.py " +
            std::to_string(jport) + " " + jtoken + " " + SP_TEST_DIR + "/demo.ipynb");
  EXPECT_EQ(nrc, 0) << nout;
  EXPECT_THAT(nout, HasSubstr("demo ok 200000 7"));

  // Stop with the kernel still running: everything goes.
  CommandResult stop = Sparkplane(data, {"notebook", "stop", "demo"});
  EXPECT_EQ(stop.exit_code, 0) << stop.err;
  ASSERT_TRUE(nb.Wait(std::chrono::seconds(10)));
  EXPECT_EQ(nb.exit_code(), 0) << nb.Err();
  ExpectAllGone(data, state);
  EXPECT_THAT(Sparkplane(data, {"notebook", "list"}).out, HasSubstr("no notebooks"));
}

TEST_F(NotebookTest, AnIdleNotebookTearsItselfDown) {
  const std::string& data = data_.path();
  NotebookProcess nb(data, {"idle", "--idle-timeout", "6s"});
  ASSERT_TRUE(nb.WaitReady(std::chrono::seconds(120))) << nb.Out() << nb.Err();
  nlohmann::json state = State(data, "idle");
  ASSERT_TRUE(nb.Wait(std::chrono::seconds(40))) << "still running; stderr:\n" << nb.Err();
  EXPECT_EQ(nb.exit_code(), 0) << nb.Err();
  EXPECT_THAT(nb.Err(), HasSubstr("stopping notebook idle: it was idle for its idle timeout"));
  ExpectAllGone(data, state);
}

TEST_F(NotebookTest, ABusyCellOutlivesTheIdleTimeout) {
  const std::string& data = data_.path();
  NotebookProcess nb(data, {"busy", "--idle-timeout", "5s"});
  ASSERT_TRUE(nb.WaitReady(std::chrono::seconds(120))) << nb.Out() << nb.Err();
  nlohmann::json state = State(data, "busy");
  WriteFile(data + "/busy.ipynb", R"({"cells": [{"cell_type": "code", "execution_count": null,
    "id": "s", "metadata": {}, "outputs": [],
    "source": ["import time\n", "time.sleep(14)\n", "print('slept')\n"]}],
    "metadata": {}, "nbformat": 4, "nbformat_minor": 5})");
  auto [rc, out] = Shell("timeout 60 " + kPython + " " + SP_TEST_DIR + "/run_in_kernel.py " +
                         std::to_string(state.value("jupyter_port", 0)) + " " +
                         state.value("jupyter_token", "") + " " + data + "/busy.ipynb");
  EXPECT_EQ(rc, 0) << out;
  EXPECT_THAT(out, HasSubstr("slept"));  // 14 s busy with an idle timeout of 5 s
  EXPECT_FALSE(nb.Exited()) << nb.Err();
  // Idle once the cell is done.
  ASSERT_TRUE(nb.Wait(std::chrono::seconds(40))) << "still running; stderr:\n" << nb.Err();
  EXPECT_THAT(nb.Err(), HasSubstr("stopping notebook busy: it was idle for its idle timeout"));
  ExpectAllGone(data, state);
}

TEST_F(NotebookTest, KillNineOfTheOwnerLeavesNothingRunning) {
  const std::string& data = data_.path();
  NotebookProcess nb(data, {"orphan", "--idle-timeout", "10m"});
  ASSERT_TRUE(nb.WaitReady(std::chrono::seconds(120))) << nb.Out() << nb.Err();
  nlohmann::json state = State(data, "orphan");
  nb.Kill9();
  // The notebook guard tears it down: Jupyter, Connect, then the cluster.
  EXPECT_TRUE(WaitFor([&] { return Leftovers(data).empty(); }, std::chrono::seconds(40)))
      << ::testing::PrintToString(Leftovers(data)) << "\nguard log:\n"
      << ReadFile(data + "/notebooks/orphan/logs/guard.log");
  ExpectAllGone(data, state);
  EXPECT_THAT(ReadFile(data + "/notebooks/orphan/logs/guard.log"),
              HasSubstr("tore down notebook 'orphan' because its owner"));
}

// A `type: notebook` task in a DAG: the run's cluster, parameters from the DAG's params, the
// executed notebook next to the task log; a failing cell fails the task with its error.
class NotebookTaskTest : public NotebookTest {
 protected:
  void SetUp() override {
    NotebookTest::SetUp();
    if (IsSkipped()) return;
    fs::create_directories(data_.path() + "/apps");
    fs::copy_file(std::string(SP_TEST_DIR) + "/report.ipynb", data_.path() + "/apps/report.ipynb");
    WriteFile(data_.path() + "/dags/nbtask.yaml", R"(id: nbtask
params:
  rows: 1000
tasks:
  - id: create_cluster
    type: spark_cluster
    setup: true
    action: create
    workers: 1
    worker_cores: 1
    worker_memory: 1g
  - id: report
    type: notebook
    depends_on: [create_cluster]
    notebook: report.ipynb
    master: "{{ tasks.create_cluster.outputs.master_url }}"
    parameters:
      rows: "{{ params.rows }}"
      label: nightly
  - id: delete_cluster
    type: spark_cluster
    teardown: true
    depends_on: [create_cluster, report]
    action: delete
    cluster_from: create_cluster
)");
  }
  std::vector<std::string> ExecutedNotebooks() {
    std::vector<std::string> found;
    for (const auto& e :
         fs::recursive_directory_iterator(data_.path() + "/history/scheduler/logs")) {
      if (e.path().extension() == ".ipynb") found.push_back(e.path());
    }
    return found;
  }
};

TEST_F(NotebookTaskTest, ExecutesTheNotebookWithParametersOnTheRunsCluster) {
  CommandResult r = Sparkplane(data_.path(), {"dags", "test", "nbtask"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  std::vector<std::string> executed = ExecutedNotebooks();
  ASSERT_EQ(executed.size(), 1u);
  std::string nb = ReadFile(executed[0]);
  EXPECT_THAT(nb, HasSubstr("REPORT nightly 1000"));
  EXPECT_THAT(nb, HasSubstr("injected-parameters"));
  nlohmann::json run = ShowRun(data_.path(), "nbtask", "latest");
  EXPECT_EQ(TaskState(run, "report"), "success");
  EXPECT_EQ(TaskState(run, "delete_cluster"), "success");
  EXPECT_TRUE(WaitFor([&] { return Leftovers(data_.path()).empty(); }, std::chrono::seconds(20)))
      << ::testing::PrintToString(Leftovers(data_.path()));
}

TEST_F(NotebookTaskTest, AFailingCellFailsTheTaskWithItsError) {
  CommandResult r =
      Sparkplane(data_.path(), {"dags", "test", "nbtask", "--conf", R"({"rows": -5})"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_THAT(r.out + r.err, HasSubstr("negative rows: -5"));
  EXPECT_THAT(r.out + r.err, HasSubstr("cell 2 failed"));
  nlohmann::json run = ShowRun(data_.path(), "nbtask", "latest");
  EXPECT_EQ(TaskState(run, "report"), "failed");
  EXPECT_EQ(TaskState(run, "delete_cluster"), "success");
  std::vector<std::string> executed = ExecutedNotebooks();
  ASSERT_EQ(executed.size(), 1u);
  EXPECT_THAT(ReadFile(executed[0]), HasSubstr("ValueError"));
  EXPECT_THAT(ReadFile(executed[0]), ::testing::Not(HasSubstr("REPORT nightly")));
  EXPECT_TRUE(WaitFor([&] { return Leftovers(data_.path()).empty(); }, std::chrono::seconds(20)))
      << ::testing::PrintToString(Leftovers(data_.path()));
}

}  // namespace
}  // namespace sp::testing
