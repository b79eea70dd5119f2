// `sparkplane server` with its state in PostgreSQL, driven through the real binary: runs finish
// and every task runs exactly once (a marker line per execution) although PostgreSQL restarts or
// the scheduler's sessions are terminated mid-run; tasks never see the store's URL; `db copy`
// moves a SQLite installation's history; a newer schema is refused. Several servers on one store:
// the standby takes over from a killed or frozen active one (also mid 1+1,000 fan-out, and with a
// Spark cluster up, which is deleted, not leaked), and a 30-round random kill/stop loop over three
// servers keeps one active instance and runs every task exactly once. Names contain "Postgres"
// so that CMake gives them the PostgreSQL fixture.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <stdlib.h>

#include <cctype>
#include <future>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>

#include "integration/harness.h"
#include "store/pg_test_db.h"

namespace sp::testing {
namespace {

using ::sp::store::testing::PgTestDatabase;
using ::testing::HasSubstr;
using ::testing::Not;

// Lines in `path` (0 when it does not exist): how many times a task ran.
int Lines(const std::string& path) {
  std::string text = ReadFile(path);
  return static_cast<int>(std::count(text.begin(), text.end(), '\n'));
}

// The number of rows `sql` returns on `url`, or -1.
int CountRows(const std::string& url, const std::string& sql) {
  PGconn* conn = PQconnectdb(url.c_str());
  int n = -1;
  if (PQstatus(conn) == CONNECTION_OK) {
    PGresult* r = PQexec(conn, sql.c_str());
    if (PQresultStatus(r) == PGRES_TUPLES_OK) n = PQntuples(r);
    PQclear(r);
  }
  PQfinish(conn);
  return n;
}

// A DAG of `width` tasks after one `first` task; each appends a line to <marks>/<task>. `first`
// sleeps `first_sleep` seconds so that a fault can land while it runs.
std::string FanOutDag(const std::string& marks, int width, int first_sleep,
                      const std::string& gate = "") {
  // A gate is waited for up to 2 min (a failed test's task does not wait forever).
  const std::string wait_for_gate =
      gate.empty() ? ""
                   : "; for i in $(seq 1200); do [ -e " + gate + " ] && break; sleep 0.1; done";
  std::string dag =
      "id: fan\ntasks:\n  - id: first\n    type: bash\n    command: sh -c 'echo x >> " + marks +
      "/first; env > " + marks + "/env; sleep " + std::to_string(first_sleep) + wait_for_gate +
      "'\n";
  for (int i = 0; i < width; ++i) {
    std::string id = "t" + std::to_string(i);
    dag += "  - id: " + id +
           "\n    type: bash\n    depends_on: [first]\n    command: sh -c 'echo x >> " + marks +
           "/" + id + "; sleep 0.2'\n";
  }
  return dag;
}

// A PostgreSQL server of the test's own (scripts/pg_test_server.sh), stopped on destruction.
class PrivatePostgres {
 public:
  explicit PrivatePostgres(std::string dir)
      : dir_(std::move(dir)), script_(std::string(SP_SOURCE_DIR) + "/scripts/pg_test_server.sh") {
    // As root the server runs as the `postgres` user, which must be able to reach its directory.
    fs::permissions(fs::path(dir_).parent_path(), fs::perms::others_exec, fs::perm_options::add);
    EXPECT_EQ(std::system((script_ + " start " + dir_ + " >/dev/null").c_str()), 0);
    url_ = ReadFile(dir_ + "/url");
    if (!url_.empty()) url_.erase(url_.find_last_not_of("\n") + 1);
  }
  ~PrivatePostgres() { (void)!std::system((script_ + " stop " + dir_).c_str()); }
  const std::string& url() const { return url_; }
  // PostgreSQL's immediate restart: every session is cut.
  std::string RestartCommand() const { return script_ + " restart " + dir_; }

 private:
  std::string dir_;
  std::string script_;
  std::string url_;
};

class PostgresServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(data() + "/dags");
    fs::create_directories(marks());
  }
  // The data directory whose config file points the store at `url`.
  void UseStore(const std::string& url) {
    WriteFile(data() + "/sparkplane.yaml", "store: " + url + "\n");
  }
  std::string data() const { return dir_.path() + "/data"; }
  std::string marks() const { return dir_.path() + "/marks"; }

  // Triggers `fan` as run r and waits (up to `timeout`) for it to end; the run.
  nlohmann::json RunFan(const std::function<void()>& while_first_runs,
                        std::chrono::seconds timeout = std::chrono::seconds(90)) {
    CommandResult t = Sparkplane(data(), {"dags", "trigger", "fan", "--run-id", "r"});
    EXPECT_EQ(t.exit_code, 0) << t.err;
    EXPECT_TRUE(WaitFor([&] { return Lines(marks() + "/first") == 1; }, std::chrono::seconds(30)));
    while_first_runs();
    nlohmann::json run;
    EXPECT_TRUE(WaitFor(
        [&] {
          run = ShowRun(data(), "fan", "r");
          return RunIsTerminal(run);
        },
        timeout))
        << run.dump();
    return run;
  }

  TempDir dir_;
};

// PostgreSQL restarts (immediate shutdown: every session is cut) while a task runs: the server
// reconnects, records the task's end, and the run finishes with every task run exactly once.
TEST_F(PostgresServerTest, APostgresRestartMidRunLosesNothingAndRunsNothingTwice) {
  // A server of its own: restarting the shared one would cut the other tests' sessions.
  PrivatePostgres pg(dir_.path() + "/pg");
  ASSERT_FALSE(pg.url().empty());
  const std::string url = pg.url();
  UseStore(url);
  WriteFile(data() + "/dags/fan.yaml", FanOutDag(marks(), 10, 3));
  ServerProcess server(data());
  server.Start();
  nlohmann::json run = RunFan([&] { ASSERT_EQ(std::system(pg.RestartCommand().c_str()), 0); });
  EXPECT_EQ(run.value("state", ""), "success") << run.dump() << "\n" << server.Log();
  EXPECT_EQ(Lines(marks() + "/first"), 1);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(Lines(marks() + "/t" + std::to_string(i)), 1) << i;
  EXPECT_EQ(::kill(server.pid(), 0), 0) << "the server died:\n" << server.Log();
  // The restart did reach the server (else this test proves nothing).
  EXPECT_THAT(server.Log(), HasSubstr("lost the PostgreSQL session")) << server.Log();
}

// The scheduler's and the readers' sessions are terminated (an operator's pg_terminate_backend,
// a failover of a managed database) while a task runs: nothing is lost, nothing runs twice, and
// tasks do not inherit the store's URL (its password) from the server's environment.
TEST_F(PostgresServerTest, TerminatedPostgresSessionsLoseNothingAndTasksNeverSeeTheStore) {
  PgTestDatabase db;
  ASSERT_FALSE(db.url().empty());
  // The URL with a password (trust authentication ignores it): it must reach no task.
  std::string with_password = db.url();
  with_password.replace(with_password.find("postgres@"), 9, "postgres:s3cret-pw@");
  ::setenv("SPARKPLANE_STORE", with_password.c_str(), 1);
  WriteFile(data() + "/dags/fan.yaml", FanOutDag(marks(), 10, 3));
  ServerProcess server(data());
  server.Start();
  ::unsetenv("SPARKPLANE_STORE");
  UseStore(db.url());  // for the CLI commands of this test
  nlohmann::json run = RunFan([&] {
    const std::string name = db.url().substr(db.url().rfind('/') + 1);
    EXPECT_GE(CountRows(db.server_url(),
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '" +
                            name +
                            "' AND application_name = 'sparkplane' AND pid <> "
                            "pg_backend_pid()"),
              1);
  });
  EXPECT_EQ(run.value("state", ""), "success") << run.dump() << "\n" << server.Log();
  EXPECT_EQ(Lines(marks() + "/first"), 1);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(Lines(marks() + "/t" + std::to_string(i)), 1) << i;
  std::string env = ReadFile(marks() + "/env");
  EXPECT_THAT(env, HasSubstr("PATH="));  // the task did write its environment
  EXPECT_THAT(env, Not(HasSubstr("s3cret-pw")));
  EXPECT_THAT(env, Not(HasSubstr("SPARKPLANE_STORE")));
}

// `db copy` moves a SQLite installation (runs, task instances, users) into an empty PostgreSQL
// database, refuses a second copy into the now non-empty one, and never prints a password.
TEST_F(PostgresServerTest, DbCopyMovesASqliteHistoryToPostgresOnce) {
  WriteFile(data() + "/dags/fan.yaml", FanOutDag(marks(), 2, 0));
  {
    ServerProcess server(data());
    server.Start();
    nlohmann::json run = RunFan([] {});
    ASSERT_EQ(run.value("state", ""), "success") << run.dump();
    ASSERT_EQ(Sparkplane(data(), {"users", "create", "ann", "--role", "admin", "--password-stdin"},
                         std::string("long-enough-password\n"))
                  .exit_code,
              0);
    ASSERT_EQ(Sparkplane(data(), {"tokens", "create", "--user", "ann", "--name", "ci"}).exit_code,
              0);
    ASSERT_EQ(Sparkplane(data(), {"connections", "keygen"}).exit_code, 0);
    ASSERT_EQ(Sparkplane(data(),
                         {"connections", "add", "warehouse", "--uri", "spark://127.0.0.1:7077",
                          "--password-stdin"},
                         std::string("conn-secret\n"))
                  .exit_code,
              0);
    server.Stop();
  }
  PgTestDatabase db;
  ASSERT_FALSE(db.url().empty());
  std::string with_password = db.url();
  with_password.replace(with_password.find("postgres@"), 9, "postgres:s3cret-pw@");
  const std::string sqlite = "sqlite:" + data() + "/history/scheduler/sparkplane.db";
  CommandResult copy = Sparkplane(data(), {"db", "copy", "--from", sqlite, "--to", with_password});
  ASSERT_EQ(copy.exit_code, 0) << copy.err;
  EXPECT_THAT(copy.out, HasSubstr("1 runs, 3 task instances"));
  EXPECT_THAT(copy.out + copy.err, Not(HasSubstr("s3cret-pw")));

  CommandResult again = Sparkplane(data(), {"db", "copy", "--from", sqlite, "--to", db.url()});
  EXPECT_NE(again.exit_code, 0);
  EXPECT_THAT(again.err, HasSubstr("not empty"));

  UseStore(with_password);
  CommandResult check = Sparkplane(data(), {"db", "check"});
  EXPECT_EQ(check.exit_code, 0) << check.err;
  EXPECT_THAT(check.out, HasSubstr("current"));
  EXPECT_THAT(check.out, Not(HasSubstr("s3cret-pw")));
  nlohmann::json run = ShowRun(data(), "fan", "r");
  EXPECT_EQ(run.value("state", ""), "success") << run.dump();
  EXPECT_EQ(TaskState(run, "t1"), "success");
  CommandResult users = Sparkplane(data(), {"users", "list"});
  EXPECT_THAT(users.out, HasSubstr("ann"));
  CommandResult tokens = Sparkplane(data(), {"tokens", "list"});
  EXPECT_THAT(tokens.out, HasSubstr("ci"));
  // The sealed password came over as it was: the same key opens it.
  CommandResult conn = Sparkplane(data(), {"connections", "get", "warehouse", "--reveal"});
  EXPECT_EQ(conn.exit_code, 0) << conn.err;
  EXPECT_EQ(conn.Json().value("password", ""), "conn-secret") << conn.out;
}

// A database written by a newer sparkplane is refused by `db check` and by the server, with the
// versions in the message, and left as it is.
TEST_F(PostgresServerTest, ANewerPostgresSchemaIsRefused) {
  PgTestDatabase db;
  ASSERT_FALSE(db.url().empty());
  UseStore(db.url());
  ASSERT_EQ(Sparkplane(data(), {"db", "migrate"}).exit_code, 0);
  ASSERT_TRUE(db.Exec("UPDATE sparkplane_schema SET version = 99"));
  CommandResult check = Sparkplane(data(), {"db", "check"});
  EXPECT_EQ(check.exit_code, 1);
  EXPECT_THAT(check.out, HasSubstr("schema version 99 of"));
  CommandResult server = Sparkplane(data(), {"server", "--http-address", "off"});
  EXPECT_NE(server.exit_code, 0);
  EXPECT_THAT(server.err, HasSubstr("schema version 99 is newer than this sparkplane"));
}

// True once `pid` has exited (a zombie not reaped yet counts).
bool Exited(pid_t pid) {
  std::string stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  size_t paren = stat.rfind(')');
  return stat.empty() || (paren != std::string::npos && stat.substr(paren + 2, 1) == "Z");
}

// Two servers on one PostgreSQL store, each with its own data directory (as two pods): one is
// active, the other a standby until the active one dies or freezes.
class PostgresFailoverTest : public PostgresServerTest {
 protected:
  void SetUp() override {
    PostgresServerTest::SetUp();
    ASSERT_FALSE(db_.url().empty());
    fs::create_directories(standby_data() + "/dags");
    UseStore(db_.url());
    WriteFile(standby_data() + "/sparkplane.yaml", "store: " + db_.url() + "\n");
    AddDag("fan", FanOutDag(marks(), 10, 3));
  }
  std::string standby_data() const { return dir_.path() + "/standby"; }

  // Starts the active server, then the standby (once it logs that it waits).
  void StartBoth(ServerProcess& active) {
    active.Start();
    pid_t pid = SpawnSparkplane(standby_data(), {"server", "--http-address", "off"},
                                standby_data() + "/server.log", standby_data() + "/server.log",
                                /*append=*/true, standby_wrapper_);
    standby_pid_ = pid;
    ASSERT_TRUE(WaitFor([&] { return StandbyLog().find("standby: instance") != std::string::npos; },
                        std::chrono::seconds(20)))
        << StandbyLog();
  }
  std::string StandbyLog() const { return ReadFile(standby_data() + "/server.log"); }
  // Gives both servers dags/<dag>.yaml.
  void AddDag(const std::string& dag, const std::string& text) {
    WriteFile(data() + "/dags/" + dag + ".yaml", text);
    WriteFile(standby_data() + "/dags/" + dag + ".yaml", text);
  }
  // Starts both servers and triggers run r of `dag` through the active one.
  void StartBothAndTrigger(ServerProcess& active, const std::string& dag) {
    StartBoth(active);
    if (HasFatalFailure()) return;
    CommandResult t = Sparkplane(data(), {"dags", "trigger", dag, "--run-id", "r"});
    ASSERT_EQ(t.exit_code, 0) << t.err;
  }
  void TearDown() override {
    if (standby_pid_ > 0) {
      ::kill(standby_pid_, SIGKILL);
      ::waitpid(standby_pid_, nullptr, 0);
    }
  }

  // Waits for the standby to log that it took over; the seconds that took since `since`.
  double TakeoverSeconds(std::chrono::steady_clock::time_point since) {
    EXPECT_TRUE(WaitFor([&] { return StandbyLog().find("active: instance") != std::string::npos; },
                        std::chrono::seconds(30)))
        << StandbyLog();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
  }

  // Every task of a FanOutDag of `width` ran exactly once.
  void ExpectEveryTaskRanOnce(int width = 10) {
    EXPECT_EQ(Lines(marks() + "/first"), 1);
    int missing = 0, twice = 0;
    for (int i = 0; i < width; ++i) {
      int n = Lines(marks() + "/t" + std::to_string(i));
      missing += n == 0;
      twice += n > 1;
      EXPECT_EQ(n, 1) << "t" << i;
    }
    EXPECT_EQ(missing, 0) << "tasks never ran";
    EXPECT_EQ(twice, 0) << "tasks ran more than once";
  }

  // Run r of `dag`, read through the standby's data directory (the CLI reads the shared store),
  // once it ended.
  nlohmann::json WaitForRun(const std::string& dag = "fan",
                            std::chrono::seconds timeout = std::chrono::seconds(90)) {
    nlohmann::json run;
    EXPECT_TRUE(WaitFor(
        [&] {
          run = ShowRun(standby_data(), dag, "r");
          return RunIsTerminal(run);
        },
        timeout))
        << run.dump() << "\n"
        << StandbyLog();
    return run;
  }

  PgTestDatabase db_;
  pid_t standby_pid_ = 0;
  std::vector<std::string> standby_wrapper_;  // what the standby runs under (unshare)
};

// kill -9 of the active server while a task runs: the standby takes over (the target is 3 s; the
// time is printed and recorded, not asserted), adopts the running try, and finishes the run with
// every task run exactly once. `schedulers list` shows who is active.
TEST_F(PostgresFailoverTest, KillingTheActivePostgresSchedulerHandsOverWithoutRunningTwice) {
  // first runs until the takeover, however slow the machine.
  const std::string gate = dir_.path() + "/gate";
  AddDag("fan", FanOutDag(marks(), 10, 0, gate));
  ServerProcess active(data());
  ASSERT_NO_FATAL_FAILURE(StartBothAndTrigger(active, "fan"));
  ASSERT_TRUE(WaitFor([&] { return Lines(marks() + "/first") == 1; }));
  // What each holds: the active one the run and its running first task, the standby nothing.
  CommandResult before = Sparkplane(data(), {"schedulers", "list", "--json"});
  ASSERT_EQ(before.exit_code, 0) << before.err;
  nlohmann::json both = before.Json();
  ASSERT_TRUE(both.is_array() && both.size() == 2) << before.out;
  EXPECT_EQ(both[0].value("role", ""), "active");
  EXPECT_EQ(both[0]["holds"],
            nlohmann::json({{"runs", 1}, {"tries", 1}, {"clusters", 0}, {"commands", 0}}))
      << before.out;
  EXPECT_TRUE(both[1]["holds"].is_null()) << before.out;
  auto killed = std::chrono::steady_clock::now();
  active.Kill(SIGKILL);
  double took = TakeoverSeconds(killed);
  std::printf("takeover after kill -9: %.2f s\n", took);
  std::fflush(stdout);  // before the next fork copies the buffer
  RecordProperty("takeover_after_kill_ms", static_cast<int>(took * 1000));
  WriteFile(gate, "");
  nlohmann::json run = WaitForRun();
  EXPECT_EQ(run.value("state", ""), "success") << run.dump() << "\n" << StandbyLog();
  ExpectEveryTaskRanOnce();
  CommandResult list = Sparkplane(standby_data(), {"schedulers", "list", "--json"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  nlohmann::json instances = list.Json();
  ASSERT_TRUE(instances.is_array() && instances.size() == 1) << list.out;
  EXPECT_EQ(instances[0].value("role", ""), "active");
  EXPECT_EQ(instances[0].value("pid", 0), standby_pid_);
  EXPECT_EQ(instances[0]["holds"].value("runs", -1), 0) << list.out;
}

// The standby runs in a pid namespace of its own, as a replica in another pod does, so the
// active's pids mean nothing to it. kill -9 of the active while its first task sleeps: the
// standby follows that try through its log's heartbeat and its exit record (the two data
// directories share a file system, as the `ha` overlay's replicas share their volume) and takes
// its end; nothing runs twice. Before the handles named their process space, the standby found
// no such pid and ran the task again.
TEST_F(PostgresFailoverTest, ATakeoverFromAnotherPidNamespaceFollowsTheRunningTryThroughItsFiles) {
  if (std::system("unshare --pid --fork --mount-proc true >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "unshare(1) cannot make a pid namespace here (it needs root)";
  }
  standby_wrapper_ = {"unshare", "--pid", "--fork", "--mount-proc", "--kill-child"};
  ServerProcess active(data());
  ASSERT_NO_FATAL_FAILURE(StartBothAndTrigger(active, "fan"));
  ASSERT_TRUE(WaitFor([&] { return Lines(marks() + "/first") == 1; }));
  active.Kill(SIGKILL);
  TakeoverSeconds(std::chrono::steady_clock::now());
  nlohmann::json run = WaitForRun();
  EXPECT_EQ(run.value("state", ""), "success") << run.dump() << "\n" << StandbyLog();
  ExpectEveryTaskRanOnce();
  std::string first_log;
  std::error_code ec;
  for (const auto& e : fs::recursive_directory_iterator(standby_data(), ec)) {
    if (e.path().string().find("/fan/r/first/") != std::string::npos)
      first_log += ReadFile(e.path());
  }
  EXPECT_THAT(first_log, HasSubstr("through its log and exit record")) << StandbyLog();
  EXPECT_THAT(first_log, HasSubstr("its recorded exit is used"));
}

// The active server freezes (SIGSTOP) while a task runs: its session times out, the standby
// takes over (target 10 s), and when the frozen one resumes it finds its lease gone and exits
// without writing or stopping the try the new one adopted; nothing runs twice.
TEST_F(PostgresFailoverTest, AFrozenActivePostgresSchedulerIsFencedAndStepsDown) {
  ServerProcess active(data());
  ASSERT_NO_FATAL_FAILURE(StartBothAndTrigger(active, "fan"));
  ASSERT_TRUE(WaitFor([&] { return Lines(marks() + "/first") == 1; }));
  auto frozen = std::chrono::steady_clock::now();
  ASSERT_EQ(::kill(active.pid(), SIGSTOP), 0);
  double took = TakeoverSeconds(frozen);
  std::printf("takeover after SIGSTOP: %.2f s\n", took);
  std::fflush(stdout);
  RecordProperty("takeover_after_freeze_ms", static_cast<int>(took * 1000));
  ASSERT_EQ(::kill(active.pid(), SIGCONT), 0);
  EXPECT_TRUE(WaitFor([&] { return Exited(active.pid()); }, std::chrono::seconds(20)))
      << active.Log();
  EXPECT_THAT(active.Log(), HasSubstr("lost the scheduler lease"));
  nlohmann::json run = WaitForRun();
  EXPECT_EQ(run.value("state", ""), "success") << run.dump() << "\n" << StandbyLog();
  ExpectEveryTaskRanOnce();
}

// The fan-out's tasks t0, t1, ... that started at least once (each writes its marker first).
int FanTasksStarted(const std::string& marks) {
  int n = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(marks, ec)) {
    std::string name = e.path().filename().string();
    n += name.size() > 1 && name[0] == 't' && std::isdigit(static_cast<unsigned char>(name[1]));
  }
  return n;
}

// kill -9 of the active one of two servers in the middle of a 1+1,000 fan-out of short tasks:
// the standby adopts the tries that were running and launches the rest; every task runs exactly
// once and the run succeeds. The takeover time is printed (the target is 3 s), not asserted.
TEST_F(PostgresFailoverTest, KillingTheActivePostgresSchedulerMidThousandTaskFanOutRunsEachOnce) {
  constexpr int kWidth = 1000;
  AddDag("fan", FanOutDag(marks(), kWidth, 0));
  ServerProcess active(data());
  ASSERT_NO_FATAL_FAILURE(StartBothAndTrigger(active, "fan"));
  // A tenth of the fan-out has started: tries are running (each sleeps 0.2 s, 32 at a time), so
  // the kill leaves running tries to adopt and most of the fan-out still to launch.
  ASSERT_TRUE(
      WaitFor([&] { return FanTasksStarted(marks()) >= kWidth / 10; }, std::chrono::seconds(120)))
      << active.Log();
  auto killed = std::chrono::steady_clock::now();
  active.Kill(SIGKILL);
  const int started_before = FanTasksStarted(marks());
  double took = TakeoverSeconds(killed);
  std::printf("takeover after kill -9 with %d of %d fan-out tasks started: %.2f s\n",
              started_before, kWidth, took);
  std::fflush(stdout);
  RecordProperty("takeover_after_kill_mid_fan_out_ms", static_cast<int>(took * 1000));
  // Else the kill came after the fan-out and proved nothing about it.
  EXPECT_LT(started_before, kWidth);
  nlohmann::json run = WaitForRun("fan", std::chrono::seconds(240));
  EXPECT_EQ(run.value("state", ""), "success") << run.dump().substr(0, 2000);
  ExpectEveryTaskRanOnce(kWidth);
}

// A local Spark cluster created by the active server, which is killed (kill -9) while a task of
// the run works: the standby (another data directory, so another server lock) takes over and
// adopts the cluster, whose guard then watches the standby's lock: the cluster outlives the
// killed server's owner grace (10 s here: adoption must come first, even on a loaded machine)
// while its run needs it (`work` waits for a gate), and the run's teardown deletes it. The run
// succeeds, the cluster's record is deleted and no Spark daemon of it is left. Needs pyspark in
// .venv and Java (label `spark`).
TEST_F(PostgresFailoverTest, AClusterOfAKilledPostgresSchedulerIsDeletedNotLeaked) {
  const std::string gate = dir_.path() + "/gate";
  const std::string dag =
      "id: clus\ntasks:\n"
      "  - id: create_cluster\n    type: spark_cluster\n    setup: true\n    action: create\n"
      "    workers: 1\n    worker_cores: 1\n    worker_memory: 1g\n"
      "  - id: work\n    type: bash\n    depends_on: [create_cluster]\n"
      "    command: echo x >> " +
      marks() + "/work; for i in $(seq 1200); do [ -e " + gate +
      " ] && break; sleep 0.1; done\n"
      "  - id: delete_cluster\n    type: spark_cluster\n    teardown: true\n"
      "    depends_on: [create_cluster, work]\n    action: delete\n"
      "    cluster_from: create_cluster\n";
  AddDag("clus", dag);
  for (const std::string& d : {data(), standby_data()}) {
    WriteFile(d + "/sparkplane.yaml",
              "store: " + db_.url() + "\ncluster_owner_grace: 10s\ncluster_reap_interval: 1s\n");
  }
  ServerProcess active(data());
  ASSERT_NO_FATAL_FAILURE(StartBothAndTrigger(active, "clus"));
  ASSERT_TRUE(WaitFor([&] { return Lines(marks() + "/work") == 1; }, std::chrono::seconds(240)))
      << active.Log();
  // The cluster runs: its daemons, from its handle.
  CommandResult before = Sparkplane(standby_data(), {"cluster", "list", "--json"});
  ASSERT_EQ(before.exit_code, 0) << before.err;
  ASSERT_EQ(before.Json().size(), 1u) << before.out;
  const nlohmann::json handle = before.Json()[0]["handle"];
  std::vector<int> daemons;
  CollectPids(handle, &daemons);
  ASSERT_GE(daemons.size(), 2u) << before.out;                    // a master and a worker
  const std::string master_url = handle.value("master_url", "");  // spark://127.0.0.1:PORT
  const std::string port = master_url.substr(master_url.rfind(':') + 1);
  ASSERT_FALSE(port.empty()) << before.out;
  // What is left of the cluster: its master (`--port PORT`), workers (the master's URL) and
  // anything else started from this test's directory (the cluster's guard, tries), the standby
  // server aside.
  auto cluster_processes = [&] {
    std::set<pid_t> found;
    for (const std::string& needle : {"--port " + port + " ", master_url + " ", dir_.path()}) {
      for (pid_t pid : ProcessesMentioning(needle)) found.insert(pid);
    }
    found.erase(standby_pid_);
    return found;
  };
  std::set<pid_t> running = cluster_processes();
  for (int pid : daemons) {
    EXPECT_TRUE(running.contains(pid)) << "daemon " << pid << " is not running\n" << before.out;
  }

  auto killed = std::chrono::steady_clock::now();
  active.Kill(SIGKILL);
  double took = TakeoverSeconds(killed);
  std::printf("takeover after kill -9 with a cluster up: %.2f s\n", took);
  std::fflush(stdout);
  // Past the killed server's owner grace (and two reaps), while `work` still waits: the cluster
  // still runs (before adoption its guard stopped it here, watching the dead server's lock).
  ASSERT_TRUE(WaitFor(
      [&] { return StandbyLog().find("is now guarded for this server") != std::string::npos; },
      std::chrono::seconds(30)))
      << StandbyLog();
  std::this_thread::sleep_until(killed + std::chrono::seconds(13));
  ASSERT_EQ(ShowRun(standby_data(), "clus", "r").value("state", ""), "running");
  ASSERT_EQ(TaskState(ShowRun(standby_data(), "clus", "r"), "work"), "running");
  running = cluster_processes();
  for (int pid : daemons) {
    EXPECT_TRUE(running.contains(pid)) << "daemon " << pid << " was stopped during its run";
  }
  WriteFile(gate, "");
  nlohmann::json run = WaitForRun("clus", std::chrono::seconds(240));
  EXPECT_EQ(run.value("state", ""), "success") << run.dump(2) << "\n" << StandbyLog();
  EXPECT_EQ(Lines(marks() + "/work"), 1);
  EXPECT_EQ(TaskState(run, "delete_cluster"), "success") << run.dump(2);

  CommandResult after = Sparkplane(standby_data(), {"cluster", "list", "--all", "--json"});
  ASSERT_EQ(after.exit_code, 0) << after.err;
  ASSERT_EQ(after.Json().size(), 1u) << after.out;
  EXPECT_EQ(after.Json()[0].value("state", ""), "deleted") << after.out;
  EXPECT_TRUE(WaitFor([&] { return cluster_processes().empty(); }, std::chrono::seconds(30)))
      << "left running: " << ::testing::PrintToString(cluster_processes());
}

// A command with no server of its own on a PostgreSQL store where a scheduler is active elsewhere
// (here: given in the standby's data directory, as in its pod) is relayed to the active one
// through the database: the run it triggers is created and run there, once; a command the active
// scheduler refuses comes back with its error.
TEST_F(PostgresFailoverTest, ACommandBesideAnActivePostgresSchedulerIsRelayedToIt) {
  AddDag("fan", FanOutDag(marks(), 1, 0));
  ServerProcess active(data());
  ASSERT_NO_FATAL_FAILURE(StartBoth(active));
  auto t0 = std::chrono::steady_clock::now();
  CommandResult t = Sparkplane(standby_data(), {"dags", "trigger", "fan", "--run-id", "r"});
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_EQ(t.exit_code, 0) << t.err << "\n" << active.Log();
  std::printf("relayed trigger answered in %.3f s\n", took);
  std::fflush(stdout);
  RecordProperty("relayed_trigger_ms", static_cast<int>(took * 1000));
  nlohmann::json run = WaitForRun("fan", std::chrono::seconds(60));
  EXPECT_EQ(run.value("state", ""), "success") << run.dump() << "\n" << active.Log();
  EXPECT_EQ(Lines(marks() + "/first"), 1);
  EXPECT_EQ(Lines(marks() + "/t0"), 1);
  EXPECT_EQ(CountRows(db_.url(), "SELECT 1 FROM relayed_commands WHERE state = 'done'"), 1);

  CommandResult refused = Sparkplane(standby_data(), {"dags", "trigger", "nope"});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_THAT(refused.err, HasSubstr("nope"));
  // Refused by the active scheduler, through the relay: answered, nothing created.
  EXPECT_EQ(CountRows(db_.url(), "SELECT 1 FROM relayed_commands WHERE state = 'done'"), 2);
  EXPECT_EQ(CountRows(db_.url(), "SELECT 1 FROM relayed_commands WHERE state = 'pending'"), 0);
  EXPECT_EQ(CountRows(db_.url(), "SELECT 1 FROM dag_runs"), 1);
}

// A command relayed while the active scheduler is frozen (SIGSTOP) waits; the scheduler that
// takes over (or the command itself, should it get the lease first) applies it once, and the
// frozen one, resumed, exits without having applied it: one run, its task run once.
TEST_F(PostgresFailoverTest, ACommandRelayedToAFrozenPostgresSchedulerIsAppliedOnceAfterTakeover) {
  AddDag("fan", FanOutDag(marks(), 1, 0));
  ServerProcess active(data());
  ASSERT_NO_FATAL_FAILURE(StartBoth(active));
  ASSERT_EQ(::kill(active.pid(), SIGSTOP), 0);
  std::string laptop = dir_.path() + "/laptop";
  fs::create_directories(laptop + "/dags");
  WriteFile(laptop + "/sparkplane.yaml", "store: " + db_.url() + "\n");
  WriteFile(laptop + "/dags/fan.yaml", FanOutDag(marks(), 1, 0));
  CommandResult t = Sparkplane(laptop, {"dags", "trigger", "fan", "--run-id", "r"});
  ASSERT_EQ(::kill(active.pid(), SIGCONT), 0);
  EXPECT_EQ(t.exit_code, 0) << t.err << "\n" << StandbyLog();
  nlohmann::json run = WaitForRun("fan", std::chrono::seconds(60));
  EXPECT_EQ(run.value("state", ""), "success") << run.dump() << "\n" << StandbyLog();
  EXPECT_TRUE(WaitFor([&] { return Exited(active.pid()); }, std::chrono::seconds(20)))
      << active.Log();
  EXPECT_EQ(CountRows(db_.url(), "SELECT 1 FROM dag_runs"), 1);
  EXPECT_EQ(Lines(marks() + "/t0"), 1);
  EXPECT_EQ(CountRows(db_.url(), "SELECT 1 FROM relayed_commands WHERE state = 'pending'"), 0);
}

// A command relayed to an active scheduler that freezes with no standby to take over: while the
// frozen one's session lives it waits, shown held by it (and a second command from the same
// directory is relayed beside it); once that session ends, the command
// takes the lease itself, withdraws its relayed copy (so the frozen scheduler, resumed, cannot
// apply it too) and applies it here: the run is created once, and no task of it starts before a
// scheduler acts again. The active server's failover_timeout is 2 min, so how long a loaded
// machine takes to start the command does not matter (with 6 s, the command once came after
// the session had ended, and found no one to relay to); the session is then ended by hand.
TEST_F(PostgresFailoverTest, ACommandWhosePostgresSchedulerFreezesWithNoStandbyAppliesItself) {
  AddDag("fan", FanOutDag(marks(), 1, 0));
  WriteFile(data() + "/sparkplane.yaml", "store: " + db_.url() + "\nfailover_timeout: 2m\n");
  ServerProcess active(data());
  active.Start();
  ASSERT_EQ(::kill(active.pid(), SIGSTOP), 0);
  const auto frozen_at = std::chrono::steady_clock::now();
  std::future<CommandResult> trigger = std::async(std::launch::async, [&] {
    return Sparkplane(standby_data(), {"dags", "trigger", "fan", "--run-id", "r"});
  });
  const std::string pending = "SELECT 1 FROM relayed_commands WHERE state = 'pending'";
  ASSERT_TRUE(WaitFor([&] { return CountRows(db_.url(), pending) == 1; }, std::chrono::seconds(60)))
      << active.Log()
      << (trigger.wait_for(std::chrono::seconds(0)) == std::future_status::ready
              ? "the command ended: " + trigger.get().err
              : std::string("the command still waits"));
  CommandResult list = Sparkplane(data(), {"schedulers", "list", "--json"});
  nlohmann::json instances = list.Json();
  ASSERT_TRUE(instances.is_array() && !instances.empty()) << list.out << list.err;
  EXPECT_EQ(instances[0]["holds"].value("commands", -1), 1) << list.out;
  // A second command from the same directory is relayed too: a waiting one does not hold the
  // data directory's lock (it used to, and the second failed after 10 s naming a server).
  std::future<CommandResult> second = std::async(std::launch::async, [&] {
    return Sparkplane(standby_data(), {"dags", "trigger", "fan", "--run-id", "r2"});
  });
  EXPECT_TRUE(
      WaitFor([&] { return CountRows(db_.url(), pending) == 2; }, std::chrono::seconds(60)));
  // Past the default 6 s the frozen scheduler still holds the lease (failover_timeout): the
  // commands still wait for it.
  std::this_thread::sleep_until(frozen_at + std::chrono::seconds(9));
  EXPECT_EQ(CountRows(db_.url(), pending), 2);
  EXPECT_EQ(trigger.wait_for(std::chrono::seconds(0)), std::future_status::timeout);
  // Its session ends, as failover_timeout would end it.
  EXPECT_EQ(CountRows(db_.url(),
                      "SELECT pg_terminate_backend(s.session_pid) FROM schedulers s "
                      "JOIN scheduler_lease l ON l.holder = s.id WHERE l.id = 1"),
            1);
  CommandResult t = trigger.get();
  EXPECT_EQ(t.exit_code, 0) << t.err;
  CommandResult t2 = second.get();
  EXPECT_EQ(t2.exit_code, 0) << t2.err;
  EXPECT_EQ(CountRows(db_.url(), "SELECT 1 FROM relayed_commands WHERE state = 'withdrawn'"), 2);
  ASSERT_EQ(::kill(active.pid(), SIGCONT), 0);
  EXPECT_TRUE(WaitFor([&] { return Exited(active.pid()); }, std::chrono::seconds(20)))
      << active.Log();
  for (const char* id : {"r", "r2"}) {
    nlohmann::json run = ShowRun(standby_data(), "fan", id);
    EXPECT_TRUE(run.is_object() && !RunIsTerminal(run)) << run.dump();
  }
  EXPECT_EQ(CountRows(db_.url(), "SELECT 1 FROM dag_runs"), 2);
  EXPECT_EQ(Lines(marks() + "/first"), 0);
}

// PostgreSQL restarts while a standby waits: the restart ends every session, but the active
// server takes its lease back (a standby gives it failover_timeout after the restart), so there is
// no takeover, the run finishes, and nothing runs twice.
TEST_F(PostgresServerTest, APostgresRestartWithAStandbyKeepsTheActiveServer) {
  // A server of its own: restarting the shared one would cut the other tests' sessions.
  PrivatePostgres pg(dir_.path() + "/pg");
  ASSERT_FALSE(pg.url().empty());
  const std::string url = pg.url();
  // The standby leaves the active server failover_timeout after PostgreSQL's start to reconnect:
  // 30 s, so that a loaded machine's slow restart (crash recovery, the reconnect backoff) is no
  // takeover.
  const std::string config = "store: " + url + "\nfailover_timeout: 30s\n";
  WriteFile(data() + "/sparkplane.yaml", config);
  const std::string standby = dir_.path() + "/standby";
  fs::create_directories(standby + "/dags");
  WriteFile(standby + "/sparkplane.yaml", config);
  std::string dag = FanOutDag(marks(), 10, 3);
  WriteFile(data() + "/dags/fan.yaml", dag);
  WriteFile(standby + "/dags/fan.yaml", dag);
  ServerProcess server(data());
  server.Start();
  pid_t standby_pid = SpawnSparkplane(standby, {"server", "--http-address", "off"},
                                      standby + "/server.log", standby + "/server.log", true);
  struct KillStandby {
    pid_t pid;
    ~KillStandby() {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  } kill_standby{standby_pid};
  ASSERT_TRUE(WaitFor([&] {
    return ReadFile(standby + "/server.log").find("standby: instance") != std::string::npos;
  }));
  nlohmann::json run = RunFan([&] { ASSERT_EQ(std::system(pg.RestartCommand().c_str()), 0); });
  EXPECT_EQ(run.value("state", ""), "success") << run.dump() << "\n" << server.Log();
  EXPECT_EQ(Lines(marks() + "/first"), 1);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(Lines(marks() + "/t" + std::to_string(i)), 1) << i;
  EXPECT_EQ(::kill(server.pid(), 0), 0) << "the active server exited:\n" << server.Log();
  EXPECT_THAT(server.Log(), HasSubstr("took the lease back"));
  EXPECT_THAT(ReadFile(standby + "/server.log"), Not(HasSubstr("active: instance")));
}

// Three servers on one PostgreSQL store, each in a data directory of its own (three pods on one
// host): one is active, two wait. A member's process may be replaced; each process writes a log
// of its own, so that what one process said is not mixed with its predecessor's.
class PostgresFleetTest : public PostgresServerTest {
 protected:
  static constexpr int kMembers = 3;
  static constexpr char kFailoverTimeout[] = "10s";
  struct Member {
    std::string dir;
    std::string log;
    pid_t pid = 0;  // 0: no process (killed or exited, and reaped)
  };

  void SetUp() override {
    PostgresServerTest::SetUp();
    ASSERT_FALSE(db_.url().empty());
    UseStore(db_.url());  // data(): the CLI's reads of the shared store
    for (int i = 0; i < kMembers; ++i) {
      Member m;
      m.dir = dir_.path() + "/member" + std::to_string(i);
      fs::create_directories(m.dir + "/dags");
      // A freeze of up to 3 s keeps the lease with room to spare on a loaded machine.
      WriteFile(m.dir + "/sparkplane.yaml",
                "store: " + db_.url() + "\nfailover_timeout: " + kFailoverTimeout + "\n");
      members_.push_back(m);
    }
  }
  void TearDown() override {
    for (Member& m : members_) {
      if (m.pid <= 0) continue;
      ::kill(m.pid, SIGKILL);  // a stopped process is killed too
      ::waitpid(m.pid, nullptr, 0);
    }
  }

  void AddDag(const std::string& file, const std::string& text) {
    for (const Member& m : members_) WriteFile(m.dir + "/dags/" + file, text);
  }

  // Starts a server for `m` and waits until it is active or waiting as a standby.
  void Spawn(Member& m) {
    RemoveServerSockets(m.dir);  // a dead predecessor's socket is no sign of this process
    m.log = m.dir + "/server." + std::to_string(++spawned_) + ".log";
    m.pid = SpawnSparkplane(m.dir, {"server", "--http-address", "off"}, m.log, m.log,
                            /*append=*/false);
    ASSERT_TRUE(WaitFor(
        [&] {
          std::string log = ReadFile(m.log);
          return log.find("standby: instance") != std::string::npos ||
                 log.find("active: instance") != std::string::npos;
        },
        std::chrono::seconds(30)))
        << ReadFile(m.log);
  }

  // Reaps the members' processes that ended; each must have been killed by the test or have
  // exited because it lost the lease (75), never for another reason.
  void Reap() {
    for (Member& m : members_) {
      int status = 0;
      if (m.pid <= 0 || ::waitpid(m.pid, &status, WNOHANG) != m.pid) continue;
      EXPECT_TRUE((WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) ||
                  (WIFEXITED(status) && WEXITSTATUS(status) == 75))
          << "server " << m.pid << " ended with status " << status << ":\n"
          << ReadFile(m.log);
      m.pid = 0;
    }
  }

  // The member whose process `schedulers list` shows as the active instance, when exactly one
  // is and it is a live member; else -1.
  int ActiveMember() {
    CommandResult list = Sparkplane(data(), {"schedulers", "list", "--json"});
    nlohmann::json instances = list.Json();
    if (list.exit_code != 0 || !instances.is_array()) return -1;
    int active = -1, n = 0;
    for (const auto& i : instances) {
      if (i.value("role", "") != "active") continue;
      ++n;
      for (int k = 0; k < kMembers; ++k) {
        if (members_[k].pid > 0 && members_[k].pid == i.value("pid", 0)) active = k;
      }
    }
    return n == 1 ? active : -1;
  }

  // The fleet as it must be between faults: `schedulers list` shows one active and the other
  // live members as standbys, and only the active process ever said it holds the lease.
  void ExpectOneActiveAndStandbys(int active) {
    CommandResult list = Sparkplane(data(), {"schedulers", "list", "--json"});
    ASSERT_EQ(list.exit_code, 0) << list.err;
    std::map<int, std::string> roles;
    for (const auto& i : list.Json()) roles[i.value("pid", 0)] = i.value("role", "");
    for (int k = 0; k < kMembers; ++k) {
      const Member& m = members_[k];
      if (m.pid <= 0) continue;
      EXPECT_EQ(roles[m.pid], k == active ? "active" : "standby") << list.out;
      EXPECT_EQ(ReadFile(m.log).find("active: instance") != std::string::npos, k == active)
          << ReadFile(m.log);
    }
  }

  std::string Logs() const {
    std::string all;
    for (const Member& m : members_) all += "--- " + m.log + ":\n" + ReadFile(m.log);
    return all;
  }

  PgTestDatabase db_;
  std::vector<Member> members_;
  int spawned_ = 0;
};

// A small DAG for the fault loop: first, six tasks after it, last; each appends a line to
// <marks>/<run id>.<task>.
std::string FleetDag(const std::string& marks) {
  auto task = [&](const std::string& id, const std::string& deps, const std::string& sleep) {
    return "  - id: " + id + "\n    type: bash\n    depends_on: " + deps +
           "\n    command: echo x >> " + marks + "/{{ run_id }}." + id + "; sleep " + sleep + "\n";
  };
  std::string dag = "id: flt\ntasks:\n" + task("first", "[]", "0.5");
  std::string fan;
  for (int i = 0; i < 6; ++i) {
    dag += task("f" + std::to_string(i), "[first]", "0.3");
    fan += (i ? ", f" : "f") + std::to_string(i);
  }
  return dag + task("last", "[" + fan + "]", "0");
}

enum class Fault { kKill, kShortStop, kLongStop, kStopAndCut };

const char* FaultName(Fault f) {
  switch (f) {
    case Fault::kKill:
      return "kill -9";
    case Fault::kShortStop:
      return "SIGSTOP 1-3 s";
    case Fault::kLongStop:
      return "SIGSTOP 9 s (past the 6 s session timeout)";
    case Fault::kStopAndCut:
      return "SIGSTOP + its lease session terminated";
  }
  return "?";
}

// 30 rounds over three servers: a run is triggered, and while it runs the active server is hit
// by a fault picked at random: kill -9; a freeze shorter than the session timeout (it stays
// active); a freeze until a standby took over (past the session timeout: the resumed one is
// fenced and exits); a freeze whose lease session an operator terminates (the same, at once).
// Then the fleet is brought back to three. Every round: exactly one active instance, every task of
// the run ran exactly once and the run succeeded. SPARKPLANE_FAULT_SEED=N replays the printed seed.
TEST_F(PostgresFleetTest, ThirtyRandomFaultRoundsOverThreePostgresSchedulersRunEachTaskOnce) {
  const char* seed_env = std::getenv("SPARKPLANE_FAULT_SEED");
  const unsigned seed = seed_env != nullptr
                            ? static_cast<unsigned>(std::strtoul(seed_env, nullptr, 10))
                            : std::random_device{}();
  std::printf("fault loop seed %u (replay: SPARKPLANE_FAULT_SEED=%u)\n", seed, seed);
  std::fflush(stdout);
  RecordProperty("seed", static_cast<int>(seed));
  std::mt19937 rng(seed);
  AddDag("flt.yaml", FleetDag(marks()));
  Spawn(members_[0]);
  ASSERT_TRUE(WaitFor([&] { return ActiveMember() == 0; })) << Logs();
  for (int k = 1; k < kMembers; ++k) Spawn(members_[k]);

  constexpr int kRounds = 30;
  std::map<Fault, int> faults;
  int takeovers = 0;
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round) + " of seed " + std::to_string(seed));
    int a = -1;
    ASSERT_TRUE(WaitFor([&] { return (a = ActiveMember()) >= 0; })) << Logs();
    Member& m = members_[a];
    // The trigger goes through the active server's socket (its data directory).
    ASSERT_TRUE(WaitFor([&] { return !ServerSockets(m.dir).empty(); })) << ReadFile(m.log);
    const std::string id = "r" + std::to_string(round);
    CommandResult t = Sparkplane(m.dir, {"dags", "trigger", "flt", "--run-id", id});
    ASSERT_EQ(t.exit_code, 0) << t.err << Logs();
    ASSERT_TRUE(WaitFor([&] { return Lines(marks() + "/" + id + ".first") >= 1; })) << Logs();
    // While first runs, as the fan-out starts, or later.
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 1500));

    const unsigned pick = rng() % 20;
    const Fault fault = pick < 7    ? Fault::kKill
                        : pick < 12 ? Fault::kShortStop
                        : pick < 15 ? Fault::kLongStop
                                    : Fault::kStopAndCut;
    ++faults[fault];
    const pid_t victim = m.pid;
    if (fault == Fault::kKill) {
      ::kill(victim, SIGKILL);
      Reap();
    } else {
      ASSERT_EQ(::kill(victim, SIGSTOP), 0);
      if (fault == Fault::kShortStop) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1000 + rng() % 2000));
      } else if (fault == Fault::kLongStop) {
        // Frozen until its session ended (failover_timeout) and another member took over.
        EXPECT_TRUE(WaitFor(
            [&] {
              int now = ActiveMember();
              return now >= 0 && now != a;
            },
            std::chrono::seconds(60)))
            << Logs();
      } else {
        EXPECT_EQ(CountRows(db_.url(),
                            "SELECT pg_terminate_backend(session_pid) FROM schedulers "
                            "WHERE pid = " +
                                std::to_string(victim) + " AND stopped_at IS NULL"),
                  1);
        // Resumed only once another member holds the lease: it must find itself fenced.
        EXPECT_TRUE(WaitFor([&] {
          int now = ActiveMember();
          return now >= 0 && now != a;
        })) << Logs();
      }
      ASSERT_EQ(::kill(victim, SIGCONT), 0);
    }
    // The fault settles: one live member is active, and the victim is either still that one or
    // has ended (killed, or exited on finding the lease taken).
    int now = -1;
    ASSERT_TRUE(WaitFor(
        [&] {
          Reap();
          now = ActiveMember();
          return now >= 0 && (now == a || m.pid != victim);
        },
        std::chrono::seconds(60)))
        << FaultName(fault) << "\n"
        << Logs();
    if (now != a) ++takeovers;
    // A freeze shorter than the session timeout keeps the lease; one past it, or a cut session,
    // hands it over.
    if (fault == Fault::kShortStop) {
      EXPECT_EQ(now, a) << "a scheduler frozen for under 3 s lost the lease (failover_timeout "
                        << kFailoverTimeout << ")";
    } else if (fault == Fault::kLongStop || fault == Fault::kStopAndCut) {
      EXPECT_NE(now, a) << "a scheduler frozen past its session timeout kept the lease";
    }
    ExpectOneActiveAndStandbys(now);
    for (Member& each : members_) {
      if (each.pid == 0) Spawn(each);
    }
    ExpectOneActiveAndStandbys(now);

    nlohmann::json run;
    ASSERT_TRUE(WaitFor(
        [&] {
          run = ShowRun(data(), "flt", id);
          return RunIsTerminal(run);
        },
        std::chrono::seconds(60)))
        << FaultName(fault) << " " << run.dump() << "\n"
        << Logs();
    EXPECT_EQ(run.value("state", ""), "success") << FaultName(fault) << " " << run.dump(2);
    ASSERT_EQ(run["tasks"].size(), 8u) << run.dump(2);
    for (const auto& task : run["tasks"]) {
      const std::string name = task.value("task_id", "");
      EXPECT_EQ(Lines(marks() + "/" + id + "." + name), 1)
          << FaultName(fault) << ": " << id << "." << name << " ran this many times";
    }
    if (HasFatalFailure()) return;
  }
  std::printf(
      "faults: %d kill -9, %d short stops, %d long stops, %d stops with the session "
      "cut; %d takeovers\n",
      faults[Fault::kKill], faults[Fault::kShortStop], faults[Fault::kLongStop],
      faults[Fault::kStopAndCut], takeovers);
  std::fflush(stdout);
  CommandResult all = Sparkplane(data(), {"runs", "list", "--json", "--limit", "1000"});
  ASSERT_EQ(all.exit_code, 0) << all.err;
  EXPECT_EQ(all.Json().size(), static_cast<size_t>(kRounds)) << "runs appeared or vanished";
}

// Several active schedulers (`scheduler_partitions: 4`): two servers, each with its own data
// directory, share the partitions out and each schedules the DAGs of its own; commands given to
// one for the other's DAGs reach the other. kill -9 of one while its tries wait on a gate: the
// survivor takes its partitions within seconds, adopts the tries, and every task runs once.
class PostgresPartitionsTest : public PostgresServerTest {
 protected:
  static constexpr int kDags = 8;
  void SetUp() override {
    PostgresServerTest::SetUp();
    ASSERT_FALSE(db_.url().empty());
    UseStore(db_.url());
    for (const std::string& d : {a(), b()}) {
      fs::create_directories(d + "/dags");
      WriteFile(d + "/sparkplane.yaml", "store: " + db_.url() + "\nscheduler_partitions: 4\n");
      for (int i = 0; i < kDags; ++i) {
        const std::string id = "d" + std::to_string(i);
        // A run waits for <gate>.<run id> (up to 2 min) once it marked that it ran.
        WriteFile(d + "/dags/" + id + ".yaml",
                  "id: " + id +
                      "\ntasks:\n  - id: t\n    type: bash\n    command: sh -c 'echo x "
                      ">> " +
                      marks() + "/" + id + ".{{ run_id }}; for i in $(seq 1200); do [ -e " +
                      gate() + ".{{ run_id }} ] && break; sleep 0.1; done'\n");
      }
    }
  }
  std::string a() const { return dir_.path() + "/a"; }
  std::string b() const { return dir_.path() + "/b"; }
  std::string gate() const { return dir_.path() + "/gate"; }

  // The partitions each live server holds, by pid, once both hold two.
  std::map<int, std::vector<int>> Shared() {
    std::map<int, std::vector<int>> held;
    EXPECT_TRUE(WaitFor(
        [&] {
          held.clear();
          CommandResult list = Sparkplane(data(), {"schedulers", "list", "--json"});
          for (const auto& i : list.Json()) {
            if (i.value("role", "") != "active") continue;
            held[i.value("pid", 0)] = i["holds"].value("partitions", std::vector<int>());
          }
          return held.size() == 2 && held.begin()->second.size() == 2 &&
                 held.rbegin()->second.size() == 2;
        },
        std::chrono::seconds(30)))
        << ReadFile(a() + "/server.log") << ReadFile(b() + "/server.log");
    return held;
  }
  // Whether the server with data directory `dir` ran DAG `dag`'s run `run` (its log is there).
  static bool RanHere(const std::string& dir, const std::string& dag, const std::string& run) {
    return fs::exists(dir + "/history/scheduler/logs/" + dag + "/" + run + "/t/1.log");
  }
  // Triggers run `run` of every DAG through server `dir`'s CLI.
  void TriggerAll(const std::string& dir, const std::string& run) {
    for (int i = 0; i < kDags; ++i) {
      CommandResult t =
          Sparkplane(dir, {"dags", "trigger", "d" + std::to_string(i), "--run-id", run});
      ASSERT_EQ(t.exit_code, 0) << t.err;
    }
  }
  // Whether every DAG's run `run` has started (marked that it ran), within a minute.
  bool AllMarked(const std::string& run) {
    return WaitFor(
        [&] {
          for (int i = 0; i < kDags; ++i) {
            if (Lines(marks() + "/d" + std::to_string(i) + "." + run) != 1) return false;
          }
          return true;
        },
        std::chrono::seconds(60));
  }
  // Whether the server `pid` comes to hold all four partitions within `timeout`.
  bool HoldsAll(pid_t pid, std::chrono::seconds timeout) {
    return WaitFor(
        [&] {
          CommandResult list = Sparkplane(data(), {"schedulers", "list", "--json"});
          for (const auto& i : list.Json()) {
            if (i.value("pid", 0) == pid &&
                i["holds"].value("partitions", std::vector<int>()).size() == 4) {
              return true;
            }
          }
          return false;
        },
        timeout);
  }
  // Waits for run `run` of every DAG to succeed; each task ran once.
  void ExpectAllRanOnce(const std::string& run) {
    for (int i = 0; i < kDags; ++i) {
      const std::string dag = "d" + std::to_string(i);
      nlohmann::json shown;
      EXPECT_TRUE(WaitFor(
          [&] {
            shown = ShowRun(data(), dag, run);
            return RunIsTerminal(shown);
          },
          std::chrono::seconds(90)))
          << dag << " " << shown.dump() << ReadFile(a() + "/server.log")
          << ReadFile(b() + "/server.log");
      EXPECT_EQ(shown.value("state", ""), "success") << dag << " " << shown.dump();
      EXPECT_EQ(Lines(marks() + "/" + dag + "." + run), 1) << dag << " run " << run;
    }
  }

  PgTestDatabase db_;
};

TEST_F(PostgresPartitionsTest,
       TwoPostgresSchedulersShareThePartitionsAndATakeoverRunsNothingTwice) {
  ServerProcess server_a(a());
  server_a.Start();
  ServerProcess server_b(b());
  server_b.Start();
  std::map<int, std::vector<int>> held = Shared();
  ASSERT_EQ(held.size(), 2u);
  // Both act at once: every DAG is triggered through A, B's are relayed to B, and each runs
  // where its partition is held.
  WriteFile(gate() + ".r1", "");
  ASSERT_NO_FATAL_FAILURE(TriggerAll(a(), "r1"));
  ExpectAllRanOnce("r1");
  int on_a = 0, on_b = 0;
  for (int i = 0; i < kDags; ++i) {
    const std::string dag = "d" + std::to_string(i);
    const bool here_a = RanHere(a(), dag, "r1"), here_b = RanHere(b(), dag, "r1");
    EXPECT_NE(here_a, here_b) << dag;
    on_a += here_a;
    on_b += here_b;
  }
  EXPECT_GT(on_a, 0);
  EXPECT_GT(on_b, 0);
  std::printf("partitions: a holds %d DAGs' runs, b %d\n", on_a, on_b);
  std::fflush(stdout);  // before the next fork copies the buffer

  // kill -9 of B while every run r2 waits on its gate: A takes B's partitions over and adopts
  // B's tries (the same host: through their processes), and nothing runs twice.
  ASSERT_NO_FATAL_FAILURE(TriggerAll(b(), "r2"));
  ASSERT_TRUE(AllMarked("r2"));
  // `schedulers list` says what each holds: its partitions, and their runs and waiting tries.
  CommandResult list = Sparkplane(data(), {"schedulers", "list", "--json"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  int64_t runs = 0, tries = 0;
  for (const auto& i : list.Json()) {
    if (i.value("role", "") != "active") continue;
    EXPECT_GT(i["holds"].value("runs", 0), 0) << list.out;
    runs += i["holds"].value("runs", 0);
    tries += i["holds"].value("tries", 0);
  }
  EXPECT_EQ(runs, kDags) << list.out;
  EXPECT_EQ(tries, kDags) << list.out;
  auto killed = std::chrono::steady_clock::now();
  server_b.Kill(SIGKILL);
  ASSERT_TRUE(HoldsAll(server_a.pid(), std::chrono::seconds(30))) << server_a.Log();
  const double took =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - killed).count();
  std::printf("partitions taken over after kill -9: %.2f s\n", took);
  std::fflush(stdout);
  WriteFile(gate() + ".r2", "");
  ExpectAllRanOnce("r2");
  EXPECT_THAT(server_a.Log(), HasSubstr("took up partitions"));

  // A command from a directory with no server goes to the holder of its DAG's partition.
  WriteFile(gate() + ".r3", "");
  ASSERT_NO_FATAL_FAILURE(TriggerAll(data(), "r3"));
  ExpectAllRanOnce("r3");
  // `db clean` with no server left takes every partition and deletes every DAG's finished runs.
  server_a.Kill(SIGKILL);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  CommandResult clean = Sparkplane(data(), {"db", "clean", "--older-than", "1s"});
  ASSERT_EQ(clean.exit_code, 0) << clean.err << clean.out;
  CommandResult left = Sparkplane(data(), {"runs", "list", "--json", "--limit", "1000"});
  ASSERT_EQ(left.exit_code, 0) << left.err;
  EXPECT_TRUE(left.Json().empty()) << left.out;
}

// SIGSTOP of one of two partitioned servers while its tries wait on a gate: after its session's
// timeout the other takes all the partitions and adopts the tries; the frozen one, resumed,
// finds its partitions gone and exits (75) without a write, and every task runs once.
TEST_F(PostgresPartitionsTest, AFrozenPartitionedPostgresSchedulerIsFencedAndItsPartitionsMove) {
  ServerProcess server_a(a());
  server_a.Start();
  ServerProcess server_b(b());
  server_b.Start();
  ASSERT_EQ(Shared().size(), 2u);
  ASSERT_NO_FATAL_FAILURE(TriggerAll(a(), "r1"));
  ASSERT_TRUE(AllMarked("r1"));
  const pid_t frozen = server_b.pid();
  auto stopped = std::chrono::steady_clock::now();
  ASSERT_EQ(::kill(frozen, SIGSTOP), 0);
  ASSERT_TRUE(HoldsAll(server_a.pid(), std::chrono::seconds(40))) << server_a.Log();
  std::printf("partitions taken over after SIGSTOP: %.2f s\n",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - stopped).count());
  std::fflush(stdout);
  WriteFile(gate() + ".r1", "");
  ExpectAllRanOnce("r1");
  ASSERT_EQ(::kill(frozen, SIGCONT), 0);
  int status = 0;
  ASSERT_TRUE(WaitFor([&] { return ::waitpid(frozen, &status, WNOHANG) == frozen; },
                      std::chrono::seconds(30)))
      << ReadFile(b() + "/server.log");
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 75) << status;
  EXPECT_THAT(ReadFile(b() + "/server.log"), HasSubstr("lost its scheduler partitions"));
  for (int i = 0; i < kDags; ++i) {
    EXPECT_EQ(Lines(marks() + "/d" + std::to_string(i) + ".r1"), 1) << "d" << i;
  }
}

}  // namespace
}  // namespace sp::testing
