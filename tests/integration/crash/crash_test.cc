// kill -9 of the server mid-run, then a restart: no run is lost, no run stays running, a
// successful task never runs again, and every execution of a task belongs to a recorded try
// (the gated start guarantees it).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>

#include "integration/harness.h"

namespace sp::testing {
namespace {

int CountLines(const std::string& path) {
  std::string s = ReadFile(path);
  return static_cast<int>(std::count(s.begin(), s.end(), '\n'));
}

TEST(CrashTest, KilledMidTaskThenRestartedRetriesTheTryAndFinishes) {
  TempDir dir;
  std::string d = dir.path();
  std::string marks = d + "/marks";
  // `first` succeeds quickly; `slow` runs long on its first try and fast on later ones.
  WriteFile(d + "/dags/crashy.yaml",
            "id: crashy\ntasks:\n"
            "  - id: first\n    type: bash\n    command: echo x >> " + marks + "/first\n"
            "  - id: slow\n    type: bash\n    depends_on: [first]\n    retries: 2\n"
            "    retry_delay: 0s\n    command: |\n"
            "      echo x >> " + marks + "/slow\n"
            "      if [ $(wc -l < " + marks + "/slow) -eq 1 ]; then echo $$ > " + marks +
            "/slow.pid; sleep 300; fi\n");
  fs::create_directories(marks);
  ServerProcess server(d);
  server.Start();
  ASSERT_EQ(Sparkplane(d, {"dags", "trigger", "crashy", "--run-id", "r"}).exit_code, 0);
  ASSERT_TRUE(WaitFor([&] { return fs::exists(marks + "/slow.pid"); })) << server.Log();
  pid_t orphan = std::stoi(ReadFile(marks + "/slow.pid"));
  server.Kill(SIGKILL);
  EXPECT_EQ(ShowRun(d, "crashy", "r")["state"], "running");
  EXPECT_EQ(::kill(orphan, 0), 0) << "the try should have outlived the server";

  ServerProcess restarted(d);
  restarted.Start();
  ASSERT_TRUE(WaitFor([&] { return RunIsTerminal(ShowRun(d, "crashy", "r")); }))
      << restarted.Log();
  nlohmann::json run = ShowRun(d, "crashy", "r");
  EXPECT_EQ(run["state"], "success");
  EXPECT_EQ(CountLines(marks + "/first"), 1) << "a successful task ran again";
  EXPECT_EQ(CountLines(marks + "/slow"), 2);
  EXPECT_TRUE(WaitFor([&] { return ::kill(orphan, 0) != 0; }, std::chrono::seconds(5)))
      << "the orphaned try was not stopped";
}

TEST(CrashTest, RepeatedKillsAtRandomMomentsLoseNoRun) {
  TempDir dir;
  std::string d = dir.path();
  std::string marks = d + "/marks";
  fs::create_directories(marks);
  // A diamond of quick tasks, each appending to its own file per run.
  std::string yaml = "id: diamond\nmax_active_runs: 4\ntasks:\n";
  const char* tasks[] = {"a", "b", "c", "d"};
  const char* deps[] = {"[]", "[a]", "[a]", "[b, c]"};
  for (int i = 0; i < 4; ++i) {
    yaml += std::string("  - id: ") + tasks[i] + "\n    type: bash\n    depends_on: " + deps[i] +
            "\n    retries: 5\n    retry_delay: 0s\n    command: echo x >> " + marks +
            "/{{ run_id }}." + tasks[i] + "; sleep 0.05\n";
  }
  WriteFile(d + "/dags/diamond.yaml", yaml);
  const int kRuns = 6;
  for (int i = 0; i < kRuns; ++i) {
    ASSERT_EQ(Sparkplane(d, {"dags", "trigger", "diamond", "--run-id", "r" + std::to_string(i)})
                  .exit_code, 0);
  }
  std::mt19937 rng(42);
  for (int round = 0; round < 5; ++round) {
    ServerProcess server(d);
    server.Start();
    std::this_thread::sleep_for(std::chrono::milliseconds(50 + rng() % 250));
    server.Kill(SIGKILL);
  }
  ServerProcess last(d);
  last.Start();
  for (int i = 0; i < kRuns; ++i) {
    std::string id = "r" + std::to_string(i);
    ASSERT_TRUE(WaitFor([&] { return RunIsTerminal(ShowRun(d, "diamond", id)); },
                        std::chrono::seconds(60)))
        << id << " never finished\n" << last.Log();
    nlohmann::json run = ShowRun(d, "diamond", id);
    EXPECT_EQ(run["state"], "success") << run.dump(2);
    for (const auto& t : run["tasks"]) {
      int executions = CountLines(marks + "/" + id + "." + t["task_id"].get<std::string>());
      EXPECT_GE(executions, 1);
      // Every execution is a recorded try: nothing ran without its handle in the store.
      EXPECT_LE(executions, t["try_number"].get<int>()) << id << " " << t.dump();
    }
  }
}

}  // namespace
}  // namespace sp::testing
