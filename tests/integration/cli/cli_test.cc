// The real binary on bash DAGs: validation, dags test, the server and its control socket,
// cancel, timeouts, DAG folder rescans, offline commands.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "integration/harness.h"

namespace sp::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const char* kHello = R"(id: hello
params:
  name: world
tasks:
  - id: greet
    type: bash
    command: echo "hello {{ params.name }}"; echo "::sparkplane-output greeting=hi-{{ params.name }}"
  - id: reply
    type: bash
    depends_on: [greet]
    command: ["echo", "got {{ tasks.greet.outputs.greeting }}"]
)";

class CliTest : public ::testing::Test {
 protected:
  std::string data() const { return dir_.path(); }
  std::string dags() const { return dir_.path() + "/dags"; }
  void AddDag(const std::string& name, const std::string& text) {
    WriteFile(dags() + "/" + name, text);
  }
  TempDir dir_;
};

TEST_F(CliTest, ValidateListsEveryErrorWithLocationAndExitsOne) {
  AddDag("hello.yaml", kHello);
  AddDag("typo.yaml", "id: typo\ntasks:\n  - id: a\n    type: bash\n    comand: echo\n");
  AddDag("cycle.yaml",
         "id: cycle\ntasks:\n  - id: a\n    type: bash\n    command: x\n    depends_on: [b]\n"
         "  - id: b\n    type: bash\n    command: y\n    depends_on: [a]\n");
  CommandResult r = Sparkplane(data(), {"dags", "validate", dags()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("typo.yaml:5:5"));
  EXPECT_THAT(r.err, HasSubstr("did you mean 'command'"));
  EXPECT_THAT(r.err, HasSubstr("cycle"));
  EXPECT_THAT(r.out, HasSubstr("3 file(s), 1 valid DAG(s)"));

  // The valid DAG still loads and can be listed.
  r = Sparkplane(data(), {"dags", "list", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(r.Json().size(), 1u);
  EXPECT_EQ(r.Json()[0]["dag_id"], "hello");
}

TEST_F(CliTest, ValidateExitsZeroOnTheExamples) {
  CommandResult r =
      Sparkplane(data(), {"dags", "validate", std::string(SP_SOURCE_DIR) + "/examples/dags"});
  EXPECT_EQ(r.exit_code, 0) << r.err << r.out;
}

TEST_F(CliTest, DagsTestRunsToSuccessAndStreamsLogs) {
  AddDag("hello.yaml", kHello);
  CommandResult r = Sparkplane(data(), {"dags", "test", "hello", "--conf", R"({"name":"sp"})"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("[greet#1] hello sp"));
  EXPECT_THAT(r.out, HasSubstr("[reply#1] got hi-sp"));
  EXPECT_THAT(r.out, HasSubstr(": success"));
  CommandResult logs = Sparkplane(data(), {"tasks", "logs", "hello", "latest", "reply"});
  EXPECT_EQ(logs.exit_code, 0) << logs.err;
  EXPECT_THAT(logs.out, HasSubstr("got hi-sp"));
}

TEST_F(CliTest, DagsTestFailsAfterRetriesWithTheExitCode) {
  AddDag("flaky.yaml",
         "id: flaky\ntasks:\n  - id: a\n    type: bash\n    retries: 1\n    retry_delay: 0s\n"
         "    command: exit 3\n");
  CommandResult r = Sparkplane(data(), {"dags", "test", "flaky", "--json"});
  EXPECT_EQ(r.exit_code, 1);
  nlohmann::json run = r.Json();
  ASSERT_TRUE(run.is_object()) << r.out;
  EXPECT_EQ(run["state"], "failed");
  EXPECT_EQ(run["tasks"][0]["try_number"], 2);
  EXPECT_EQ(run["tasks"][0]["exit_code"], 3);
}

TEST_F(CliTest, BadConfIsRefusedAndCreatesNothing) {
  AddDag("hello.yaml", kHello);
  CommandResult r = Sparkplane(data(), {"dags", "trigger", "hello", "--conf", R"({"nmae":"x"})"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("did you mean 'name'"));
  r = Sparkplane(data(), {"dags", "trigger", "helo"});
  EXPECT_THAT(r.err, HasSubstr("did you mean 'hello'"));
  r = Sparkplane(data(), {"runs", "list", "--json"});
  EXPECT_EQ(r.Json().size(), 0u);
}

// A bad lifetime flag of `cluster create` is refused before any daemon starts, naming the flag
// and the value, and leaves no cluster (no record, no cluster folder).
TEST_F(CliTest, BadClusterLifetimeFlagsAreRefusedAndCreateNothing) {
  for (const auto& [flag, value] :
       std::vector<std::pair<std::string, std::string>>{{"--max-age", "BAD"},
                                                        {"--idle-timeout", "BAD"},
                                                        {"--max-age", "0s"},
                                                        {"--idle-timeout", "none"}}) {
    SCOPED_TRACE(flag + " " + value);
    CommandResult r =
        Sparkplane(data(), {"cluster", "create", "c1", "--backend", "local", flag, value});
    EXPECT_EQ(r.exit_code, 1) << r.out;
    EXPECT_THAT(r.err, HasSubstr(flag + ": expected a positive duration such as 30m or 2h"));
    EXPECT_THAT(r.err, HasSubstr("got '" + value + "'"));
    // Nothing was started: the spark_cluster try (which would print "[sparkplane] ...") never ran.
    EXPECT_THAT(r.err, Not(HasSubstr("[sparkplane]")));
  }
  CommandResult listed = Sparkplane(data(), {"cluster", "list", "--json"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_EQ(listed.Json(), nlohmann::json::array());
  std::error_code ec;
  EXPECT_TRUE(!fs::exists(data() + "/clusters", ec) || fs::is_empty(data() + "/clusters", ec));
}

// `notebook start --backend kubernetes` without --notebook-image takes sparkplane.yaml's
// notebook_image: a bad one is refused by name before anything is made (the API server in the
// kubeconfig is never reached).
TEST_F(CliTest, NotebookImageSettingIsTheDefaultOfTheFlag) {
  WriteFile(data() + "/kube.yaml", R"(apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:9"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u, namespace: ns}}]
current-context: x
)");
  WriteFile(data() + "/sparkplane.yaml",
            "kubeconfig: " + data() + "/kube.yaml\nnotebook_image: \"not an image\"\n");
  CommandResult r = Sparkplane(data(), {"notebook", "start", "nb", "--backend", "kubernetes"});
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_THAT(r.err, HasSubstr("notebook_image: expected an image reference"));
  EXPECT_THAT(r.err, HasSubstr("got 'not an image'"));
  EXPECT_THAT(r.err, Not(HasSubstr("creating cluster")));
}

// Hardening issue, item 5: `--password` puts the secret in argv, where `ps` shows it to every
// user. `--password-stdin` reads it from standard input instead.
TEST_F(CliTest, PasswordFromStdinIsStoredAndNeverOnTheCommandLine) {
  ASSERT_EQ(Sparkplane(data(), {"connections", "keygen"}).exit_code, 0);
  CommandResult r = Sparkplane(data(),
                               {"connections", "add", "warehouse", "--conn-type", "postgres",
                                "--host", "db", "--login", "etl", "--password-stdin"},
                               std::string("s3cr et\r\nignored\n"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, Not(HasSubstr("s3cr et")));
  r = Sparkplane(data(), {"connections", "get", "warehouse", "--reveal"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.Json().value("password", ""), "s3cr et");

  r = Sparkplane(data(), {"connections", "add", "other", "--conn-type", "x", "--password-stdin"},
                 std::string(""));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("standard input held no password"));
  r = Sparkplane(
      data(),
      {"connections", "add", "other", "--conn-type", "x", "--password", "a", "--password-stdin"},
      std::string("b\n"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("excludes"));
  EXPECT_EQ(Sparkplane(data(), {"connections", "get", "other"}).exit_code, 1);
}

// Hardening issue, item 5: a planted server secret and connection secrets must not show up in
// any task's environment or log, any listing, or any file of the data directory (the database
// holds them sealed).
TEST_F(CliTest, PlantedSecretsAppearNowhere) {
  const std::string key(64, 'c');  // the server's own secret, as containers pass it
  const std::string password = "PLANTED-pw-4711", token = "PLANTED-token-4711";
  ASSERT_EQ(::setenv("SPARKPLANE_SECRET_KEY", key.c_str(), 1), 0);
  struct Unset {
    ~Unset() { ::unsetenv("SPARKPLANE_SECRET_KEY"); }
  } unset;
  ASSERT_EQ(Sparkplane(data(),
                       {"connections", "add", "warehouse", "--conn-type", "postgres", "--host",
                        "db", "--password-stdin"},
                       password + "\n")
                .exit_code,
            0);
  ASSERT_EQ(
      Sparkplane(data(), {"connections", "add", "api", "--uri", "http://h:80/?token=" + token})
          .exit_code,
      0);
  AddDag("leaky.yaml",
         "id: leaky\ntasks:\n  - id: a\n    type: bash\n    command: |\n"
         "      env\n      for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < $f; echo; done\n"
         "      echo done-listing\n");
  ServerProcess server(data());
  server.Start();
  ASSERT_EQ(Sparkplane(data(), {"dags", "trigger", "leaky", "--run-id", "r"}).exit_code, 0);
  ASSERT_TRUE(WaitFor([&] { return RunIsTerminal(ShowRun(data(), "leaky", "r")); }))
      << server.Log();
  CommandResult log = Sparkplane(data(), {"tasks", "logs", "leaky", "r", "a"});
  ASSERT_THAT(log.out, HasSubstr("done-listing"));
  ASSERT_THAT(log.out, HasSubstr("PATH="));  // the environment was printed

  std::vector<std::string> seen = {log.out, server.Log()};
  for (std::vector<std::string> args : {std::vector<std::string>{"connections", "list"},
                                        {"connections", "list", "--json"},
                                        {"connections", "get", "warehouse"},
                                        {"connections", "get", "api", "--json"},
                                        {"runs", "show", "leaky", "r", "--json"}}) {
    CommandResult r = Sparkplane(data(), args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    seen.push_back(r.out + r.err);
  }
  server.Stop();
  for (const auto& entry : fs::recursive_directory_iterator(data())) {
    if (entry.is_regular_file()) seen.push_back(ReadFile(entry.path().string()));
  }
  for (const std::string& secret : {key, password, token}) {
    for (const std::string& text : seen) {
      EXPECT_THAT(text, Not(HasSubstr(secret))) << secret;
    }
  }
  // The key works: the sealed password is still there for whoever holds it.
  EXPECT_EQ(Sparkplane(data(), {"connections", "get", "warehouse", "--reveal"})
                .Json()
                .value("password", ""),
            password);
}

// Hardening issue, bounded growth: `db clean` deletes finished runs older than the cutoff with
// their task logs, and old Spark event logs; active runs and recent logs stay; --dry-run only
// lists.
TEST_F(CliTest, DbCleanDeletesOldFinishedRunsAndTheirLogsOnly) {
  AddDag("hello.yaml", kHello);
  ASSERT_EQ(Sparkplane(data(), {"dags", "test", "hello"}).exit_code, 0);
  const std::string old_run = ShowRun(data(), "hello", "latest")["run_id"];
  const std::string old_logs = data() + "/history/scheduler/logs/hello/" + old_run;
  ASSERT_TRUE(fs::is_directory(old_logs));
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  ASSERT_EQ(Sparkplane(data(), {"dags", "trigger", "hello", "--run-id", "fresh"}).exit_code, 0);
  const std::string spark = data() + "/history/spark/";
  const std::string events =
      "{\"Event\":\"SparkListenerApplicationStart\",\"App ID\":\"x\",\"Timestamp\":1}\n";
  WriteFile(spark + "app-20250101000000-0000", events);
  WriteFile(spark + "app-20261203000000-0001", events);
  const auto two_days_ago = fs::file_time_type::clock::now() - std::chrono::hours(48);
  fs::last_write_time(spark + "app-20250101000000-0000", two_days_ago);

  CommandResult dry = Sparkplane(data(), {"db", "clean", "--older-than", "1d", "--dry-run"});
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_THAT(dry.out, HasSubstr("would delete 0 finished runs"));
  EXPECT_THAT(dry.out, HasSubstr("would delete Spark event log app-20250101000000-0000"));
  dry = Sparkplane(data(), {"db", "clean", "--older-than", "1s", "--dry-run"});
  EXPECT_THAT(dry.out, HasSubstr("would delete run hello " + old_run));
  EXPECT_TRUE(fs::is_directory(old_logs));
  EXPECT_TRUE(fs::exists(spark + "app-20250101000000-0000"));

  CommandResult clean = Sparkplane(data(), {"db", "clean", "--older-than", "1s", "--json"});
  ASSERT_EQ(clean.exit_code, 0) << clean.err;
  EXPECT_EQ(clean.Json()["runs"], 1);
  EXPECT_FALSE(fs::exists(old_logs));
  EXPECT_TRUE(ShowRun(data(), "hello", old_run).is_null());
  EXPECT_EQ(ShowRun(data(), "hello", "fresh")["state"], "running");  // active: kept
  EXPECT_FALSE(fs::exists(spark + "app-20250101000000-0000"));
  EXPECT_TRUE(fs::exists(spark + "app-20261203000000-0001"));
  EXPECT_EQ(Sparkplane(data(), {"db", "clean", "--older-than", "soon"}).exit_code, 1);
}

// The server's `retention` setting applies the same cleaning by itself (at start, then hourly).
TEST_F(CliTest, ServerRetentionSettingDeletesOldRuns) {
  AddDag("hello.yaml", kHello);
  ASSERT_EQ(Sparkplane(data(), {"dags", "test", "hello"}).exit_code, 0);
  const std::string old_run = ShowRun(data(), "hello", "latest")["run_id"];
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  WriteFile(data() + "/sparkplane.yaml", "retention: 1s\n");
  ServerProcess server(data());
  server.Start();
  EXPECT_TRUE(WaitFor([&] { return ShowRun(data(), "hello", old_run).is_null(); })) << server.Log();
  EXPECT_THAT(server.Log(), HasSubstr("deleted 1 finished runs"));
}

// Hardening issue, item 7: `--conf` nested deeper than 64 levels is refused before anything
// recursive copies or prints it.
TEST_F(CliTest, DeeplyNestedConfIsRefused) {
  AddDag("hello.yaml", kHello);
  std::string deep = "{\"name\":" + std::string(10000, '[') + std::string(10000, ']') + "}";
  CommandResult r = Sparkplane(data(), {"dags", "trigger", "hello", "--conf", deep});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("nested deeper than 64 levels"));
  EXPECT_EQ(Sparkplane(data(), {"runs", "list", "--json"}).Json().size(), 0u);
}

// Speed issue: the control socket opens before the DAG folder is parsed. With 2,000 files to
// load (about a second here), the first ping is answered while loading, a command sent then
// waits for the folder and succeeds, and later pings say the server is loaded.
TEST_F(CliTest, ServerAnswersWhileItLoadsItsDagFolder) {
  std::string tasks;
  for (int t = 0; t < 10; ++t) {
    tasks += "  - id: t" + std::to_string(t) + "\n    type: bash\n    command: 'echo " +
             std::to_string(t) + "'\n" +
             (t > 0 ? "    depends_on: [t" + std::to_string(t - 1) + "]\n" : "");
  }
  for (int i = 0; i < 2000; ++i) {
    AddDag("d" + std::to_string(i) + ".yaml",
           "id: d" + std::to_string(i) + "\nschedule: none\ntasks:\n" + tasks);
  }
  ServerProcess server(data());
  server.Start();
  CommandResult first = Sparkplane(data(), {"health", "--json"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_EQ(first.Json()["loading"], true) << server.Log();
  CommandResult r = Sparkplane(data(), {"dags", "trigger", "d1999", "--run-id", "early"});
  EXPECT_EQ(r.exit_code, 0) << r.err << server.Log();
  EXPECT_EQ(Sparkplane(data(), {"health", "--json"}).Json()["loading"], false);
  EXPECT_FALSE(ShowRun(data(), "d1999", "early").is_null());
  EXPECT_THAT(server.Log(), HasSubstr("parsed 1000 of 2000 DAG files"));
  EXPECT_THAT(server.Log(), HasSubstr("parsed 2000 of 2000 DAG files"));
}

TEST_F(CliTest, ServerRunsTriggeredRunsAndPicksUpNewDagFiles) {
  AddDag("hello.yaml", kHello);
  ServerProcess server(data());
  server.Start();
  CommandResult r = Sparkplane(data(), {"dags", "trigger", "hello", "--run-id", "first"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(WaitFor([&] { return RunIsTerminal(ShowRun(data(), "hello", "first")); }))
      << server.Log();
  nlohmann::json run = ShowRun(data(), "hello", "first");
  EXPECT_EQ(run["state"], "success");
  EXPECT_EQ(run["tasks"][0]["outputs"]["greeting"], "hi-world");

  // A new file is picked up without a restart; a removed one disappears.
  AddDag("later.yaml", "id: later\ntasks:\n  - id: a\n    type: bash\n    command: 'true'\n");
  ASSERT_TRUE(WaitFor(
      [&] {
        return Sparkplane(data(), {"dags", "trigger", "later", "--run-id", "x"}).exit_code == 0;
      },
      std::chrono::seconds(60)));
  ASSERT_TRUE(
      WaitFor([&] { return ShowRun(data(), "later", "x").value("state", "") == "success"; }));
  fs::remove(dags() + "/later.yaml");
  ASSERT_TRUE(WaitFor(
      [&] {
        CommandResult t = Sparkplane(data(), {"dags", "trigger", "later"});
        return t.exit_code == 1 && t.err.find("unknown DAG") != std::string::npos;
      },
      std::chrono::seconds(60)));
}

TEST_F(CliTest, CancelKillsTheProcessGroupAndStillRunsTeardown) {
  std::string pidfile = data() + "/grandchild.pid", torn = data() + "/torn";
  AddDag("long.yaml",
         "id: long\ntasks:\n"
         "  - id: setup\n    type: bash\n    setup: true\n    command: 'true'\n"
         "  - id: work\n    type: bash\n    depends_on: [setup]\n"
         "    command: sleep 300 & echo $! > " +
             pidfile +
             "; wait\n"
             "  - id: teardown\n    type: bash\n    teardown: true\n"
             "    depends_on: [setup, work]\n    command: touch " +
             torn + "\n");
  ServerProcess server(data());
  server.Start();
  ASSERT_EQ(Sparkplane(data(), {"dags", "trigger", "long", "--run-id", "r"}).exit_code, 0);
  ASSERT_TRUE(WaitFor([&] { return fs::exists(pidfile) && fs::file_size(pidfile) > 0; }));
  pid_t grandchild = std::stoi(ReadFile(pidfile));
  CommandResult c = Sparkplane(data(), {"runs", "cancel", "long", "r"});
  ASSERT_EQ(c.exit_code, 0) << c.err;
  ASSERT_TRUE(WaitFor([&] { return RunIsTerminal(ShowRun(data(), "long", "r")); })) << server.Log();
  nlohmann::json run = ShowRun(data(), "long", "r");
  EXPECT_EQ(run["state"], "cancelled");
  EXPECT_EQ(TaskState(run, "work"), "failed");
  EXPECT_EQ(TaskState(run, "teardown"), "success");
  EXPECT_TRUE(fs::exists(torn));
  EXPECT_TRUE(WaitFor([&] { return ::kill(grandchild, 0) != 0; }, std::chrono::seconds(30)))
      << "the task's child process survived the cancel";
}

TEST_F(CliTest, ExecutionTimeoutFailsTheTry) {
  AddDag("slow.yaml",
         "id: slow\ntasks:\n  - id: a\n    type: bash\n"
         "    execution_timeout: 1s\n    command: sleep 30\n");
  CommandResult r = Sparkplane(data(), {"dags", "test", "slow", "--json"});
  EXPECT_EQ(r.exit_code, 1);
  nlohmann::json run = r.Json();
  ASSERT_TRUE(run.is_object()) << r.out << r.err;
  EXPECT_EQ(run["tasks"][0]["state"], "failed");
  EXPECT_EQ(run["tasks"][0]["exit_code"], 143);  // SIGTERM
}

TEST_F(CliTest, OfflineTriggerIsRunWhenTheServerStarts) {
  AddDag("hello.yaml", kHello);
  CommandResult r = Sparkplane(data(), {"dags", "trigger", "hello", "--run-id", "offline"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("created run offline"));
  EXPECT_EQ(ShowRun(data(), "hello", "offline")["state"], "running");
  ServerProcess server(data());
  server.Start();
  ASSERT_TRUE(WaitFor([&] { return RunIsTerminal(ShowRun(data(), "hello", "offline")); }))
      << server.Log();
  EXPECT_EQ(ShowRun(data(), "hello", "offline")["state"], "success");
}

TEST_F(CliTest, ClearRunsATaskAgain) {
  AddDag("hello.yaml", kHello);
  ASSERT_EQ(Sparkplane(data(), {"dags", "test", "hello"}).exit_code, 0);
  CommandResult c =
      Sparkplane(data(), {"tasks", "clear", "hello", "latest", "greet", "--downstream"});
  ASSERT_EQ(c.exit_code, 0) << c.err;
  nlohmann::json run = Sparkplane(data(), {"runs", "show", "hello", "latest", "--json"}).Json();
  EXPECT_EQ(run["state"], "running");
  EXPECT_EQ(TaskState(run, "greet"), "scheduled");
  ServerProcess server(data());
  server.Start();
  ASSERT_TRUE(WaitFor([&] {
    nlohmann::json r = Sparkplane(data(), {"runs", "show", "hello", "latest", "--json"}).Json();
    return RunIsTerminal(r);
  })) << server.Log();
  run = Sparkplane(data(), {"runs", "show", "hello", "latest", "--json"}).Json();
  EXPECT_EQ(run["state"], "success");
  EXPECT_EQ(run["tasks"][0]["try_number"], 2);
}

TEST_F(CliTest, NextExecutionAndBackfillDryRunFollowTheSchedule) {
  AddDag("nightly.yaml",
         "id: nightly\nschedule: '0 2 * * *'\nstart_date: 2030-01-01\n"
         "tasks:\n  - id: a\n    type: bash\n    command: 'true'\n");
  CommandResult r = Sparkplane(data(), {"dags", "next-execution", "nightly", "-n", "3"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "2030-01-01T02:00:00Z\n2030-01-02T02:00:00Z\n2030-01-03T02:00:00Z\n");
  r = Sparkplane(data(), {"dags", "backfill", "nightly", "-s", "2026-11-01", "-E", "2026-11-03",
                          "--dry-run", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(r.Json().size(), 3u);
  EXPECT_EQ(r.Json()[0]["run_id"], "backfill__2026-11-01T02:00:00+00:00");
  r = Sparkplane(data(), {"runs", "list", "--json"});
  EXPECT_EQ(r.Json().size(), 0u);  // a dry run creates nothing
}

}  // namespace
}  // namespace sp::testing
