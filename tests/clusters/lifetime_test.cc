// Cluster lifetimes and the local cluster guard (clusters/lifetime.h) on real processes: `sleep`
// children stand in for the daemons a handle names (the guard only signals and waits for them),
// a real lock file for the server's lock.
#include "clusters/lifetime.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <future>

#include "executor/test_util.h"
#include "spark/local_cluster.h"

namespace sp::clusters {
namespace {

namespace fs = std::filesystem;
using executor::testing::TempDir;
using executor::testing::WaitFor;
using ::testing::HasSubstr;

TEST(LifetimeTest, JsonRoundTripAndExpiry) {
  Lifetime l;
  EXPECT_TRUE(l.empty());
  EXPECT_EQ(l.ToJson(), (nlohmann::json{{"deadline_ms", nullptr}, {"idle_timeout_ms", 0}}));
  EXPECT_TRUE(Lifetime::HasLifetime(l.ToJson()));
  EXPECT_TRUE(Lifetime::FromJson(l.ToJson()).empty());
  l.deadline = FromUnixMillis(5000);
  l.idle_timeout = Millis(300);
  nlohmann::json handle = {{"name", "c"}};
  handle.update(l.ToJson());
  Lifetime back = Lifetime::FromJson(handle);
  ASSERT_TRUE(back.deadline);
  EXPECT_EQ(ToUnixMillis(*back.deadline), 5000);
  EXPECT_EQ(back.idle_timeout, Millis(300));
  EXPECT_TRUE(Lifetime::FromJson(nlohmann::json::array()).empty());
  EXPECT_TRUE(Lifetime::FromJson({{"deadline_ms", "soon"}}).empty());

  EXPECT_FALSE(Expired(l, FromUnixMillis(4999), std::nullopt));
  EXPECT_TRUE(Expired(l, FromUnixMillis(5000), std::nullopt));
  Lifetime idle;
  idle.idle_timeout = Millis(300);
  EXPECT_FALSE(Expired(idle, FromUnixMillis(1299), FromUnixMillis(1000)));
  EXPECT_TRUE(Expired(idle, FromUnixMillis(1300), FromUnixMillis(1000)));
  EXPECT_FALSE(Expired(idle, FromUnixMillis(9999), std::nullopt));  // never seen: not idle
}

TEST(GuardArgsTest, RoundTripAndErrors) {
  GuardOptions o;
  o.handle_file = "/d/c/handle.json";
  o.lifetime.deadline = FromUnixMillis(123456);
  o.lifetime.idle_timeout = Millis(60000);
  o.owner = executor::ProcessHandle{42, 77};
  o.owner_grace = Millis(5000);
  Result<GuardOptions> back = ParseGuardArgs(GuardArgs(o));
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->handle_file, o.handle_file);
  EXPECT_EQ(ToUnixMillis(*back->lifetime.deadline), 123456);
  EXPECT_EQ(back->lifetime.idle_timeout, Millis(60000));
  ASSERT_TRUE(back->owner);
  EXPECT_EQ(back->owner->pid, 42);
  EXPECT_EQ(back->owner->start_ticks, 77u);
  EXPECT_EQ(back->owner_grace, Millis(5000));
  EXPECT_TRUE(back->owner_lock.empty());

  o.owner_lock = "/d/server.lock";
  back = ParseGuardArgs(GuardArgs(o));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->owner_lock, "/d/server.lock");
  EXPECT_FALSE(back->owner);  // the lock wins

  EXPECT_THAT(ParseGuardArgs({"--grace-ms", "x", "--handle-file", "f"}).status().message(),
              HasSubstr("--grace-ms expects an integer"));
  EXPECT_THAT(ParseGuardArgs({"--bogus", "1"}).status().message(), HasSubstr("unknown flag"));
  EXPECT_THAT(ParseGuardArgs({}).status().message(), HasSubstr("--handle-file is required"));
}

TEST(HandleFileTest, WrittenPrivately) {
  TempDir dir;
  std::string path = HandleFile(dir.path());
  ASSERT_TRUE(WriteHandleFile(path, {{"name", "c"}}).ok());
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  EXPECT_FALSE(fs::exists(path + ".tmp"));
}

// A cluster dir whose handle names a `sleep` as its master.
class GuardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = dir.path() + "/c1";
    fs::create_directories(dir_);
    executor::SpawnSpec spec;
    spec.argv = {"sleep", "60"};
    Result<executor::ProcessHandle> p = processes_.Spawn(spec, nullptr);
    ASSERT_TRUE(p.ok()) << p.status().message();
    daemon_ = *p;
    spark::LocalClusterHandle h;
    h.name = "c1";
    h.dir = dir_;
    h.master = daemon_;
    ASSERT_TRUE(WriteHandleFile(HandleFile(dir_), h.ToJson()).ok());
    options_.handle_file = HandleFile(dir_);
    options_.poll = Millis(10);
    options_.stop_grace = Millis(2000);
    options_.owner_grace = Millis(50);
    options_.owner = executor::CurrentProcess();
  }
  bool DaemonRuns() const {
    return executor::CheckProcess(daemon_) == executor::ProcessLiveness::kRunning;
  }

  TempDir dir;
  std::string dir_;
  executor::ProcessSupervisor processes_;
  executor::ProcessHandle daemon_;
  GuardOptions options_;
  RealClock clock_;
};

TEST_F(GuardTest, StopsTheDaemonsAtTheDeadline) {
  options_.lifetime.deadline = clock_.Now() + Millis(200);
  Result<std::string> ended = RunGuard(options_, clock_);
  ASSERT_TRUE(ended.ok()) << ended.status().message();
  EXPECT_THAT(*ended, HasSubstr("max age was reached"));
  EXPECT_TRUE(WaitFor([&] { return !DaemonRuns(); }));
  EXPECT_FALSE(fs::exists(HandleFile(dir_)));  // the cue for whoever looks next
}

TEST_F(GuardTest, TheHandleFilesLifetimeWinsOverItsFlags) {
  // A pooled cluster started with the pool's far deadline, then taken by a run whose deadline
  // is now: the handle file says so.
  options_.lifetime.deadline = clock_.Now() + Millis(3600 * 1000);
  spark::LocalClusterHandle h;
  h.name = "c1";
  h.dir = dir_;
  h.master = daemon_;
  Lifetime run;
  run.deadline = clock_.Now() + Millis(100);
  nlohmann::json handle = h.ToJson();
  handle.update(run.ToJson());
  ASSERT_TRUE(WriteHandleFile(HandleFile(dir_), handle).ok());
  Result<std::string> ended = RunGuard(options_, clock_);
  ASSERT_TRUE(ended.ok());
  EXPECT_THAT(*ended, HasSubstr("max age was reached"));
  EXPECT_TRUE(WaitFor([&] { return !DaemonRuns(); }));
}

TEST_F(GuardTest, StopsTheDaemonsWhenTheOwnerProcessIsGone) {
  executor::SpawnSpec spec;
  spec.argv = {"sleep", "60"};
  Result<executor::ProcessHandle> owner = processes_.Spawn(spec, nullptr);
  ASSERT_TRUE(owner.ok());
  options_.owner = *owner;
  auto guard = std::async(std::launch::async, [&] { return RunGuard(options_, clock_); });
  EXPECT_EQ(guard.wait_for(std::chrono::milliseconds(300)), std::future_status::timeout);
  EXPECT_TRUE(DaemonRuns());  // the owner lives: nothing happens
  processes_.Terminate(owner->pid, Millis(100));
  Result<std::string> ended = guard.get();
  ASSERT_TRUE(ended.ok()) << ended.status().message();
  EXPECT_THAT(*ended, HasSubstr("the process that created it"));
  EXPECT_TRUE(WaitFor([&] { return !DaemonRuns(); }));
}

TEST_F(GuardTest, KeepsTheClusterWhileTheServerLockIsHeldAndAcrossARestart) {
  std::string lock_path = dir.path() + "/server.lock";
  int lock = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  ASSERT_GE(lock, 0);
  ASSERT_EQ(::flock(lock, LOCK_EX | LOCK_NB), 0);
  options_.owner_lock = lock_path;
  // A grace a loaded machine's restart below cannot overrun.
  options_.owner_grace = Millis(3000);
  std::stop_source stop;
  auto guard =
      std::async(std::launch::async, [&] { return RunGuard(options_, clock_, stop.get_token()); });
  EXPECT_EQ(guard.wait_for(std::chrono::milliseconds(300)), std::future_status::timeout);
  // A restart: the lock is free for less than the grace, then held again.
  ::flock(lock, LOCK_UN);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_EQ(::flock(lock, LOCK_EX | LOCK_NB), 0);
  // Past the grace counted from the unlock: the guard goes on.
  EXPECT_EQ(guard.wait_for(std::chrono::milliseconds(3500)), std::future_status::timeout);
  EXPECT_TRUE(DaemonRuns());
  // The server goes for good.
  ::close(lock);
  Result<std::string> ended = guard.get();
  ASSERT_TRUE(ended.ok()) << ended.status().message();
  EXPECT_THAT(*ended, HasSubstr("the server holding " + lock_path));
  EXPECT_TRUE(WaitFor([&] { return !DaemonRuns(); }));
}

TEST_F(GuardTest, TheHandleFilesOwnerLockWinsOverItsFlag) {
  // Started for a server whose lock is free (it died), the cluster was adopted by another
  // server, which wrote its held lock into the handle file: the guard follows that one.
  options_.owner_lock = dir.path() + "/dead-server.lock";
  options_.owner_grace = Millis(100);
  std::string adopter = dir.path() + "/adopter.lock";
  int lock = ::open(adopter.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  ASSERT_GE(lock, 0);
  ASSERT_EQ(::flock(lock, LOCK_EX | LOCK_NB), 0);
  spark::LocalClusterHandle h;
  h.name = "c1";
  h.dir = dir_;
  h.master = daemon_;
  nlohmann::json handle = h.ToJson();
  handle[kOwnerLockKey] = adopter;
  ASSERT_TRUE(WriteHandleFile(HandleFile(dir_), handle).ok());
  auto guard = std::async(std::launch::async, [&] { return RunGuard(options_, clock_); });
  EXPECT_EQ(guard.wait_for(std::chrono::milliseconds(600)), std::future_status::timeout)
      << "stopped although its adopter holds its lock";
  EXPECT_TRUE(DaemonRuns());
  ::close(lock);
  Result<std::string> ended = guard.get();
  ASSERT_TRUE(ended.ok()) << ended.status().message();
  EXPECT_THAT(*ended, HasSubstr("the server holding " + adopter));
  EXPECT_TRUE(WaitFor([&] { return !DaemonRuns(); }));
}

TEST_F(GuardTest, EndsQuietlyWhenTheClusterWasDeleted) {
  fs::remove(HandleFile(dir_));
  Result<std::string> ended = RunGuard(options_, clock_);
  ASSERT_TRUE(ended.ok());
  EXPECT_EQ(*ended, "");
  EXPECT_TRUE(DaemonRuns());  // not its business any more
}

TEST_F(GuardTest, CleansUpAfterDaemonsThatDied) {
  processes_.Terminate(daemon_.pid, Millis(100));
  Result<std::string> ended = RunGuard(options_, clock_);
  ASSERT_TRUE(ended.ok());
  EXPECT_THAT(*ended, HasSubstr("its daemons are gone"));
  EXPECT_FALSE(fs::exists(HandleFile(dir_)));
}

}  // namespace
}  // namespace sp::clusters
