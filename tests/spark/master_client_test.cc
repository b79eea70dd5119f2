// ParseMasterStatus on /json/ bodies captured from a real Spark 4.3.0 master
// (tests/data/spark/master_*.json), malformed bodies, and HttpGet against a closed port.
#include "spark/master_client.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "spark/spark_test_util.h"

namespace sp::spark {
namespace {

using ::testing::HasSubstr;
using testing::StatusIs;

TEST(MasterClientTest, ParsesIdleMasterWithOneWorker) {
  Result<MasterStatus> s =
      ParseMasterStatus(testing::ReadText(testing::DataDir() + "/master_one_worker.json"));
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->url, "spark://127.0.0.1:44065");
  EXPECT_EQ(s->status, "ALIVE");
  EXPECT_TRUE(s->Alive());
  EXPECT_EQ(s->alive_workers, 1);
  EXPECT_EQ(s->cores, 2);
  EXPECT_EQ(s->cores_used, 0);
  EXPECT_EQ(s->memory_mb, 2048);
  ASSERT_EQ(s->workers.size(), 1u);
  const MasterWorker& w = s->workers[0];
  EXPECT_EQ(w.id, "worker-20261126070143-127.0.0.1-44159");
  EXPECT_EQ(w.host, "127.0.0.1");
  EXPECT_EQ(w.port, 44159);
  EXPECT_EQ(w.web_ui_address, "http://127.0.0.1:45437");
  EXPECT_EQ(w.cores_free, 2);
  EXPECT_EQ(w.memory_free_mb, 2048);
  EXPECT_EQ(w.state, "ALIVE");
  EXPECT_EQ(w.last_heartbeat_ms, 1795676504102);
  EXPECT_TRUE(s->active_apps.empty());
  EXPECT_TRUE(s->completed_apps.empty());
}

TEST(MasterClientTest, ParsesActiveAndCompletedApps) {
  Result<MasterStatus> s =
      ParseMasterStatus(testing::ReadText(testing::DataDir() + "/master_active_app.json"));
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(s->active_apps.size(), 1u);
  const MasterApp& a = s->active_apps[0];
  EXPECT_EQ(a.id, "app-cap-20261126070248-0003");
  EXPECT_EQ(a.name, "failing-job");
  EXPECT_EQ(a.state, "RUNNING");
  EXPECT_EQ(a.cores, 2);
  EXPECT_EQ(a.memory_per_executor_mb, 1024);
  EXPECT_EQ(a.user, "root");
  EXPECT_GT(a.start_time_ms, 0);
  ASSERT_EQ(s->completed_apps.size(), 3u);
  EXPECT_EQ(s->completed_apps[2].id, "app-cap-20261126070232-0002");
  EXPECT_EQ(s->completed_apps[2].state, "FINISHED");
  EXPECT_EQ(s->completed_apps[2].duration_ms, 7380);
}

TEST(MasterClientTest, ToleratesMissingAndMistypedOptionalFields) {
  Result<MasterStatus> s =
      ParseMasterStatus(R"({"url":"spark://127.0.0.1:1","status":"STANDBY","aliveworkers":"x",)"
                        R"("workers":[{"id":"w","port":"nope"}, 3],"activeapps":{}})");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_FALSE(s->Alive());
  EXPECT_EQ(s->alive_workers, 0);
  ASSERT_EQ(s->workers.size(), 1u);
  EXPECT_EQ(s->workers[0].port, 0);
  EXPECT_TRUE(s->active_apps.empty());
}

TEST(MasterClientTest, RejectsNonJsonAndMissingRequiredFields) {
  EXPECT_THAT(ParseMasterStatus("<html>Spark Master at spark://...</html>"),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("not a JSON object")));
  EXPECT_THAT(ParseMasterStatus(R"({"status":"ALIVE"})"),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("'url'")));
  EXPECT_THAT(ParseMasterStatus(R"({"url":"spark://x:1"})"),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("'status'")));
  EXPECT_THAT(ParseMasterStatus("[1,2]"), StatusIs(StatusCode::kFailedPrecondition, HasSubstr("")));
}

// A loopback port that nothing listens on: bind, read the port, close.
int ClosedPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

TEST(MasterClientTest, ConnectionRefusedIsUnavailable) {
  std::string url = "http://127.0.0.1:" + std::to_string(ClosedPort());
  EXPECT_THAT(FetchMasterStatus(url + "/", Millis(500)),
              StatusIs(StatusCode::kUnavailable, HasSubstr(url + "/json/")));
}

}  // namespace
}  // namespace sp::spark
