// Fault loops against the real `sparkplane server` (label `crash`): kill -9 of the server at
// any moment and a restart, DAG files rewritten broken/valid while runs execute, CLI clients
// killed mid-request. Invariants: no run is lost, none stays running, a task that finished is
// never run again (each execution appends a line to a marker file), every execution belongs to
// a recorded try (the gated start guarantees it), no process is left behind, and the server
// keeps serving everything else throughout.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>
#include <set>

#include "integration/harness.h"

namespace sp::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

int CountLines(const std::string& path) {
  std::string s = ReadFile(path);
  return static_cast<int>(std::count(s.begin(), s.end(), '\n'));
}

// Starts `sparkplane ARGS` detached from our stdio; returns its pid.
pid_t StartCli(const std::string& data_dir, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {SP_BINARY, "--data-dir", data_dir};
  argv.insert(argv.end(), args.begin(), args.end());
  pid_t pid = ::fork();
  if (pid == 0) {
    int null = ::open("/dev/null", O_RDWR);
    ::dup2(null, 0);
    ::dup2(null, 1);
    ::dup2(null, 2);
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    ::execv(cargv[0], cargv.data());
    _exit(127);
  }
  return pid;
}

// A one-task DAG whose task appends to marks/<name> and then waits for marks/<name>.go.
std::string GatedDag(const std::string& marks) {
  return "id: gated\ntasks:\n"
         "  - id: first\n    type: bash\n    command: echo x >> " +
         marks +
         "/first\n"
         "  - id: slow\n    type: bash\n    depends_on: [first]\n    retries: 2\n"
         "    retry_delay: 0s\n    command: |\n"
         "      echo $$ > " +
         marks +
         "/slow.pid\n"
         "      while [ ! -e " +
         marks +
         "/go ]; do sleep 0.05; done\n"
         "      echo x >> " +
         marks + "/slow\n";
}

class CrashTest : public ::testing::Test {
 protected:
  void SetUp() override { fs::create_directories(marks()); }
  void TearDown() override {
    // Whatever a test left running dies with it.
    for (pid_t pid : ProcessesMentioning(d())) ::kill(pid, SIGKILL);
  }
  std::string d() const { return dir_.path(); }
  std::string marks() const { return dir_.path() + "/marks"; }

  // Triggers gated/r, waits until `slow` runs, and kills the server.
  void StartSlowTryAndKillTheServer() {
    WriteFile(d() + "/dags/gated.yaml", GatedDag(marks()));
    ServerProcess server(d());
    server.Start();
    ASSERT_EQ(Sparkplane(d(), {"dags", "trigger", "gated", "--run-id", "r"}).exit_code, 0);
    ASSERT_TRUE(WaitFor([&] { return fs::exists(marks() + "/slow.pid"); })) << server.Log();
    server.Kill(SIGKILL);
    ASSERT_EQ(ShowRun(d(), "gated", "r")["state"], "running");
  }

  pid_t SlowPid() { return std::stoi(ReadFile(marks() + "/slow.pid")); }

  nlohmann::json FinishAfterRestart(ServerProcess* server) {
    server->Start();
    EXPECT_TRUE(WaitFor([&] { return RunIsTerminal(ShowRun(d(), "gated", "r")); }))
        << server->Log();
    return ShowRun(d(), "gated", "r");
  }

  TempDir dir_;
};

// The try finished while the server was down: its recorded exit stands. Before exit records,
// the restart called it lost and ran `slow` a second time.
TEST_F(CrashTest, TryThatFinishedWhileTheServerWasDownIsNotRunAgain) {
  StartSlowTryAndKillTheServer();
  pid_t slow = SlowPid();
  WriteFile(marks() + "/go", "");
  ASSERT_TRUE(WaitFor([&] { return ::kill(slow, 0) != 0; })) << "the try did not finish";

  ServerProcess restarted(d());
  nlohmann::json run = FinishAfterRestart(&restarted);
  EXPECT_EQ(run["state"], "success") << run.dump(2);
  EXPECT_EQ(CountLines(marks() + "/first"), 1) << "a successful task ran again";
  EXPECT_EQ(CountLines(marks() + "/slow"), 1) << "a finished try ran again";
  EXPECT_EQ(TaskState(run, "slow"), "success");
  for (const auto& t : run["tasks"]) EXPECT_EQ(t["try_number"], 1) << t.dump();
}

// Still running at the restart: the new server adopts the try and takes its result when it
// ends, instead of stopping it and starting over.
TEST_F(CrashTest, TryStillRunningAtTheRestartIsAdoptedNotRestarted) {
  StartSlowTryAndKillTheServer();
  pid_t slow = SlowPid();
  ServerProcess restarted(d());
  restarted.Start();
  CommandResult logs;
  ASSERT_TRUE(WaitFor([&] {
    logs = Sparkplane(d(), {"tasks", "logs", "gated", "r", "slow"});
    return logs.out.find("watching it") != std::string::npos;
  })) << logs.out
      << restarted.Log();
  EXPECT_EQ(::kill(slow, 0), 0) << "the adopted try was stopped";
  WriteFile(marks() + "/go", "");
  ASSERT_TRUE(WaitFor([&] { return RunIsTerminal(ShowRun(d(), "gated", "r")); }))
      << restarted.Log();
  nlohmann::json run = ShowRun(d(), "gated", "r");
  EXPECT_EQ(run["state"], "success") << run.dump(2);
  EXPECT_EQ(CountLines(marks() + "/slow"), 1);
  EXPECT_EQ(TaskState(run, "slow"), "success");
}

// Killed (with its watcher) while the server was down: no result was recorded, so the try is
// lost and retried, exactly once more.
TEST_F(CrashTest, TryKilledWhileTheServerWasDownIsRetried) {
  StartSlowTryAndKillTheServer();
  pid_t slow = SlowPid();
  pid_t group = ::getpgid(slow);
  ASSERT_GT(group, 0);
  ASSERT_EQ(::kill(-group, SIGKILL), 0);
  WriteFile(marks() + "/go", "");
  ServerProcess restarted(d());
  nlohmann::json run = FinishAfterRestart(&restarted);
  EXPECT_EQ(run["state"], "success") << run.dump(2);
  EXPECT_EQ(CountLines(marks() + "/first"), 1);
  EXPECT_EQ(CountLines(marks() + "/slow"), 1);  // the killed try never reached its echo
  for (const auto& t : run["tasks"]) {
    if (t["task_id"] == "slow") {
      EXPECT_EQ(t["try_number"], 2) << t.dump();
    }
  }
}

// A try that failed while the server was down keeps its real exit code (3, not "lost"), and
// the retry policy applies to it as to any failure: try 2 runs once and succeeds.
TEST_F(CrashTest, TryThatFailedWhileTheServerWasDownKeepsItsExitCodeAndIsRetried) {
  WriteFile(d() + "/dags/flaky.yaml",
            "id: flaky\ntasks:\n  - id: t\n    type: bash\n    retries: 1\n"
            "    retry_delay: 0s\n    command: |\n"
            "      echo x >> " +
                marks() +
                "/runs\n"
                "      if [ ! -e " +
                marks() +
                "/failed ]; then\n"
                "        touch " +
                marks() +
                "/started\n"
                "        while [ ! -e " +
                marks() +
                "/go ]; do sleep 0.05; done\n"
                "        touch " +
                marks() +
                "/failed; exit 3\n"
                "      fi\n");
  {
    ServerProcess server(d());
    server.Start();
    ASSERT_EQ(Sparkplane(d(), {"dags", "trigger", "flaky", "--run-id", "r"}).exit_code, 0);
    ASSERT_TRUE(WaitFor([&] { return fs::exists(marks() + "/started"); })) << server.Log();
    server.Kill(SIGKILL);
  }
  WriteFile(marks() + "/go", "");
  ASSERT_TRUE(WaitFor([&] { return fs::exists(marks() + "/failed"); }));
  ServerProcess restarted(d());
  restarted.Start();
  ASSERT_TRUE(WaitFor([&] { return RunIsTerminal(ShowRun(d(), "flaky", "r")); }))
      << restarted.Log();
  nlohmann::json run = ShowRun(d(), "flaky", "r");
  EXPECT_EQ(run["state"], "success") << run.dump(2);
  EXPECT_EQ(run["tasks"][0]["try_number"], 2) << run.dump(2);
  EXPECT_EQ(CountLines(marks() + "/runs"), 2) << "each try ran exactly once";
  CommandResult first = Sparkplane(d(), {"tasks", "logs", "flaky", "r", "t", "--try", "1"});
  EXPECT_THAT(first.out, HasSubstr("recorded exit is used")) << first.out << first.err;
  EXPECT_THAT(first.out, HasSubstr("command exited with code 3")) << first.out;
}

// 30 rounds of: start the server, trigger a run through it, kill -9 it at a random moment.
// Then one last server finishes everything: every triggered run exists and succeeded, every
// task ran exactly once (the server's death never kills or repeats a task), nothing is left
// running.
TEST_F(CrashTest, ThirtyKillRestartRoundsLoseNothingAndRepeatNothing) {
  std::string yaml = "id: diamond\nmax_active_runs: 8\ntasks:\n";
  const char* tasks[] = {"a", "b", "c", "d"};
  const char* deps[] = {"[]", "[a]", "[a]", "[b, c]"};
  for (int i = 0; i < 4; ++i) {
    yaml += std::string("  - id: ") + tasks[i] + "\n    type: bash\n    depends_on: " + deps[i] +
            "\n    retries: 5\n    retry_delay: 0s\n    command: sleep 0.0" +
            std::to_string(i + 1) + "; echo x >> " + marks() + "/{{ run_id }}." + tasks[i] + "\n";
  }
  WriteFile(d() + "/dags/diamond.yaml", yaml);
  std::mt19937 rng(20261203);
  std::set<std::string> triggered;
  const int kRounds = 30;
  for (int round = 0; round < kRounds; ++round) {
    ServerProcess server(d());
    server.Start();
    std::string id = "r" + std::to_string(round);
    CommandResult r = Sparkplane(d(), {"dags", "trigger", "diamond", "--run-id", id});
    EXPECT_EQ(r.exit_code, 0) << "round " << round << ": " << r.err << server.Log();
    if (r.exit_code == 0) triggered.insert(id);
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 300));
    server.Kill(SIGKILL);
  }
  EXPECT_EQ(triggered.size(), static_cast<size_t>(kRounds));
  ServerProcess last(d());
  last.Start();
  for (const std::string& id : triggered) {
    ASSERT_TRUE(WaitFor([&] { return RunIsTerminal(ShowRun(d(), "diamond", id)); },
                        std::chrono::seconds(60)))
        << id << " never finished\n"
        << last.Log();
    nlohmann::json run = ShowRun(d(), "diamond", id);
    EXPECT_EQ(run["state"], "success") << run.dump(2);
    for (const auto& t : run["tasks"]) {
      EXPECT_EQ(CountLines(marks() + "/" + id + "." + t["task_id"].get<std::string>()), 1)
          << id << " " << t.dump();
    }
  }
  CommandResult all = Sparkplane(d(), {"runs", "list", "--json", "--limit", "1000"});
  ASSERT_EQ(all.exit_code, 0) << all.err;
  EXPECT_EQ(all.Json().size(), triggered.size()) << "runs appeared or vanished";
  last.Stop();
  EXPECT_TRUE(WaitFor([&] { return ProcessesMentioning(d()).empty(); }, std::chrono::seconds(10)))
      << ProcessesMentioning(d()).size() << " processes left behind";
}

// A DAG file rewritten broken/valid every ~150 ms while runs of it and of another DAG execute:
// the other DAG is served throughout, the flapping DAG keeps its record and its runs finish.
TEST_F(CrashTest, DagFileFlappingBetweenBrokenAndValidWedgesNothing) {
  std::string steady = "id: steady\ntasks:\n  - id: a\n    type: bash\n    command: 'true'\n";
  std::string valid = "id: flappy\ntasks:\n  - id: a\n    type: bash\n    command: sleep 0.2\n";
  std::string broken = "id: flappy\ntasks:\n  - id: a\n    type: bash\n    comand: [";
  WriteFile(d() + "/dags/steady.yaml", steady);
  WriteFile(d() + "/dags/flappy.yaml", valid);
  ServerProcess server(d());
  server.Start();
  ASSERT_EQ(Sparkplane(d(), {"dags", "pause", "flappy"}).exit_code, 0);
  ASSERT_EQ(Sparkplane(d(), {"dags", "trigger", "flappy", "--run-id", "f0"}).exit_code, 0);
  int steady_runs = 0;
  for (int i = 0; i < 40; ++i) {
    // Not atomic on purpose: an editor saving in place is seen half-written too.
    WriteFile(d() + "/dags/flappy.yaml", i % 2 == 0 ? broken : valid);
    if (i % 4 == 1) {
      CommandResult r = Sparkplane(
          d(), {"dags", "trigger", "steady", "--run-id", "s" + std::to_string(steady_runs)});
      ASSERT_EQ(r.exit_code, 0) << "round " << i << ": " << r.err << server.Log();
      ++steady_runs;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
  }
  WriteFile(d() + "/dags/flappy.yaml", valid);
  for (int i = 0; i < steady_runs; ++i) {
    std::string id = "s" + std::to_string(i);
    ASSERT_TRUE(WaitFor([&] { return RunIsTerminal(ShowRun(d(), "steady", id)); })) << id << "\n"
                                                                                    << server.Log();
    EXPECT_EQ(ShowRun(d(), "steady", id)["state"], "success");
  }
  ASSERT_TRUE(WaitFor([&] { return RunIsTerminal(ShowRun(d(), "flappy", "f0")); })) << server.Log();
  EXPECT_EQ(ShowRun(d(), "flappy", "f0")["state"], "success");
  // The flapping never dropped the DAG's record: it is still paused.
  CommandResult list = Sparkplane(d(), {"dags", "list", "--json"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  bool found = false;
  for (const auto& dag : list.Json()) {
    if (dag.value("dag_id", "") != "flappy") continue;
    found = true;
    EXPECT_EQ(dag.value("paused", false), true) << dag.dump();
  }
  EXPECT_TRUE(found) << list.out;
  EXPECT_THAT(server.Log(), Not(HasSubstr("already has a run")));
}

// 40 CLI clients killed with SIGKILL at random moments of their requests: the server stays up
// and answers the next command; triggers that were answered made their runs, the others none.
TEST_F(CrashTest, CliClientsKilledMidRequestNeverHurtTheServer) {
  WriteFile(d() + "/dags/hello.yaml",
            "id: hello\ntasks:\n  - id: a\n    type: bash\n    command: 'true'\n");
  ServerProcess server(d());
  server.Start();
  std::mt19937 rng(7);
  for (int i = 0; i < 40; ++i) {
    std::vector<std::string> args;
    switch (i % 4) {
      case 0:
        args = {"dags", "trigger", "hello", "--run-id", "k" + std::to_string(i)};
        break;
      case 1:
        args = {"runs", "list", "--json"};
        break;
      case 2:
        args = {"dags", "pause", "hello"};
        break;
      default:
        args = {"health"};
        break;
    }
    pid_t cli = StartCli(d(), args);
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 40000));
    ::kill(cli, SIGKILL);
    int status = 0;
    ::waitpid(cli, &status, 0);
    ASSERT_EQ(::kill(server.pid(), 0), 0) << "the server died at client " << i << "\n"
                                          << server.Log();
  }
  EXPECT_EQ(Sparkplane(d(), {"health"}).exit_code, 0) << server.Log();
  CommandResult r = Sparkplane(d(), {"dags", "trigger", "hello", "--run-id", "after"});
  ASSERT_EQ(r.exit_code, 0) << r.err << server.Log();
  ASSERT_TRUE(WaitFor([&] { return RunIsTerminal(ShowRun(d(), "hello", "after")); }))
      << server.Log();
  EXPECT_EQ(ShowRun(d(), "hello", "after")["state"], "success");
}

}  // namespace
}  // namespace sp::testing
