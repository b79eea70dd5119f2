// `sparkplane server` with its state in PostgreSQL, driven through the real binary: runs finish
// and every task runs exactly once (a marker line per execution) although PostgreSQL restarts or
// the scheduler's sessions are terminated mid-run; tasks never see the store's URL; `db copy`
// moves a SQLite installation's history; a newer schema is refused. Names contain "Postgres" so
// that CMake gives them the PostgreSQL fixture.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <stdlib.h>

#include <string>

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
std::string FanOutDag(const std::string& marks, int width, int first_sleep) {
  std::string dag =
      "id: fan\ntasks:\n  - id: first\n    type: bash\n    command: sh -c 'echo x >> " + marks +
      "/first; env > " + marks + "/env; sleep " + std::to_string(first_sleep) + "'\n";
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
    std::string dag = FanOutDag(marks(), 10, 3);
    WriteFile(data() + "/dags/fan.yaml", dag);
    WriteFile(standby_data() + "/dags/fan.yaml", dag);
  }
  std::string standby_data() const { return dir_.path() + "/standby"; }

  // Starts the active server, then the standby (once it logs that it waits).
  void StartBoth(ServerProcess& active) {
    active.Start();
    pid_t pid = SpawnSparkplane(standby_data(), {"server", "--http-address", "off"},
                                standby_data() + "/server.log", standby_data() + "/server.log",
                                /*append=*/true);
    standby_pid_ = pid;
    ASSERT_TRUE(WaitFor([&] { return StandbyLog().find("standby: instance") != std::string::npos; },
                        std::chrono::seconds(20)))
        << StandbyLog();
  }
  std::string StandbyLog() const { return ReadFile(standby_data() + "/server.log"); }
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

  void ExpectEveryTaskRanOnce() {
    EXPECT_EQ(Lines(marks() + "/first"), 1);
    for (int i = 0; i < 10; ++i) EXPECT_EQ(Lines(marks() + "/t" + std::to_string(i)), 1) << i;
  }

  // The run, read through the standby's data directory (the CLI reads the shared store).
  nlohmann::json WaitForRun() {
    nlohmann::json run;
    EXPECT_TRUE(WaitFor(
        [&] {
          run = ShowRun(standby_data(), "fan", "r");
          return RunIsTerminal(run);
        },
        std::chrono::seconds(90)))
        << run.dump();
    return run;
  }

  PgTestDatabase db_;
  pid_t standby_pid_ = 0;
};

// kill -9 of the active server while a task runs: the standby takes over (the target is 3 s; the
// time is printed and recorded, not asserted), adopts the running try, and finishes the run with
// every task run exactly once. `schedulers list` shows who is active.
TEST_F(PostgresFailoverTest, KillingTheActivePostgresSchedulerHandsOverWithoutRunningTwice) {
  ServerProcess active(data());
  StartBoth(active);
  CommandResult t = Sparkplane(data(), {"dags", "trigger", "fan", "--run-id", "r"});
  ASSERT_EQ(t.exit_code, 0) << t.err;
  ASSERT_TRUE(WaitFor([&] { return Lines(marks() + "/first") == 1; }));
  auto killed = std::chrono::steady_clock::now();
  active.Kill(SIGKILL);
  double took = TakeoverSeconds(killed);
  std::printf("takeover after kill -9: %.2f s\n", took);
  std::fflush(stdout);  // before the next fork copies the buffer
  RecordProperty("takeover_after_kill_ms", static_cast<int>(took * 1000));
  nlohmann::json run = WaitForRun();
  EXPECT_EQ(run.value("state", ""), "success") << run.dump() << "\n" << StandbyLog();
  ExpectEveryTaskRanOnce();
  CommandResult list = Sparkplane(standby_data(), {"schedulers", "list", "--json"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  nlohmann::json instances = list.Json();
  ASSERT_TRUE(instances.is_array() && instances.size() == 1) << list.out;
  EXPECT_EQ(instances[0].value("role", ""), "active");
  EXPECT_EQ(instances[0].value("pid", 0), standby_pid_);
}

// The active server freezes (SIGSTOP) while a task runs: its session times out, the standby
// takes over (target 10 s), and when the frozen one resumes it finds its lease gone and exits
// without writing or stopping the try the new one adopted; nothing runs twice.
TEST_F(PostgresFailoverTest, AFrozenActivePostgresSchedulerIsFencedAndStepsDown) {
  ServerProcess active(data());
  StartBoth(active);
  CommandResult t = Sparkplane(data(), {"dags", "trigger", "fan", "--run-id", "r"});
  ASSERT_EQ(t.exit_code, 0) << t.err;
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

// A command with no server of its own on a PostgreSQL store where a scheduler is active elsewhere
// is refused with who is active, instead of writing beside it.
TEST_F(PostgresFailoverTest, AnOfflineCommandBesideAnActivePostgresSchedulerIsRefused) {
  ServerProcess active(data());
  active.Start();
  std::string other = dir_.path() + "/laptop";
  fs::create_directories(other + "/dags");
  WriteFile(other + "/sparkplane.yaml", "store: " + db_.url() + "\n");
  WriteFile(other + "/dags/fan.yaml", FanOutDag(marks(), 1, 0));
  CommandResult t = Sparkplane(other, {"dags", "trigger", "fan", "--run-id", "from-laptop"});
  EXPECT_NE(t.exit_code, 0);
  EXPECT_THAT(t.err, HasSubstr("a scheduler is active on this PostgreSQL store (instance"));
  EXPECT_FALSE(ShowRun(data(), "fan", "from-laptop").is_object());
}

// PostgreSQL restarts while a standby waits: the restart ends every session, but the active
// server takes its lease back (a standby gives it PostgreSQL's restart grace first), so there is
// no takeover, the run finishes, and nothing runs twice.
TEST_F(PostgresServerTest, APostgresRestartWithAStandbyKeepsTheActiveServer) {
  // A server of its own: restarting the shared one would cut the other tests' sessions.
  PrivatePostgres pg(dir_.path() + "/pg");
  ASSERT_FALSE(pg.url().empty());
  const std::string url = pg.url();
  UseStore(url);
  const std::string standby = dir_.path() + "/standby";
  fs::create_directories(standby + "/dags");
  WriteFile(standby + "/sparkplane.yaml", "store: " + url + "\n");
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

}  // namespace
}  // namespace sp::testing
