// Notebook names, state files, launch specs (tokens never in argv) and Jupyter's idle test.
#include "notebook/notebook.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "notebook/notebook_processes.h"
#include "notebook/notebook_state.h"

namespace sp::notebook {
namespace {

using nlohmann::json;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;

NotebookState Sample() {
  NotebookState s;
  s.name = "explore";
  s.phase = "ready";
  s.cluster = "notebook-explore";
  s.master_url = "spark://127.0.0.1:7077";
  s.root_dir = "/data/notebooks/explore/files";
  s.marker = "explore-0123";
  s.jupyter_port = 8888;
  s.connect_port = 15002;
  s.jupyter_token = "jtok";
  s.connect_token = "ctok";
  s.owner = {123, 456};
  s.jupyter = executor::ProcessHandle{124, 457};
  s.created = FromUnixMillis(1'700'000'000'000);
  s.idle_timeout = Millis(60000);
  return s;
}

TEST(NotebookName, AcceptsDnsLikeNamesOnly) {
  EXPECT_TRUE(ValidateNotebookName("explore-2").ok());
  for (const char* bad :
       {"", "-a", "a-", "Caps", "a_b", "a.b", "a-very-long-name-that-is-longer-than-forty-chars"}) {
    EXPECT_THAT(ValidateNotebookName(bad).message(), HasSubstr("[a-z0-9-]")) << bad;
  }
}

TEST(NotebookState, RoundTripsThroughJson) {
  NotebookState s = Sample();
  Result<NotebookState> back = NotebookState::FromJson(s.ToJson());
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->ToJson(), s.ToJson());
  EXPECT_EQ(back->JupyterUrl(), "http://127.0.0.1:8888/lab");
  EXPECT_EQ(back->JupyterUrlWithToken(), "http://127.0.0.1:8888/lab?token=jtok");
  EXPECT_EQ(back->SparkRemote(), "sc://localhost:15002");  // never 127.0.0.1: TLS, hangs
}

TEST(NotebookState, FileIsPrivateAndListed) {
  std::string data = ::testing::TempDir() + "/nbstate";
  std::filesystem::remove_all(data);
  NotebookPaths p = NotebookPaths::For(data, "explore");
  ASSERT_TRUE(CreateNotebookDirs(p).ok());
  ASSERT_TRUE(WriteState(p.state_file, Sample()).ok());
  struct stat st {};
  ASSERT_EQ(::stat(p.state_file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(p.dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(::stat(p.runtime_dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  std::vector<NotebookState> all = ListStates(data);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].name, "explore");
  EXPECT_EQ(ReadState(data + "/notebooks/none/state.json").status().code(), StatusCode::kNotFound);
}

TEST(LaunchSpecs, TokensTravelInTheEnvironmentOnly) {
  NotebookState s = Sample();
  NotebookPaths p = NotebookPaths::For("/data", "explore");
  LaunchSpec connect = ConnectServerSpec("/spark", s, p, "/data/history/spark");
  LaunchSpec jupyter = JupyterSpec("/venv/bin/python", s, p, /*allow_root=*/true);
  for (const LaunchSpec* spec : {&connect, &jupyter}) {
    for (const std::string& a : spec->argv) {
      EXPECT_THAT(a, Not(HasSubstr("jtok")));
      EXPECT_THAT(a, Not(HasSubstr("ctok")));
    }
  }
  EXPECT_EQ(connect.env.at("SPARK_CONNECT_AUTHENTICATE_TOKEN"), "ctok");
  EXPECT_THAT(connect.argv, Contains("spark.connect.grpc.binding.address=127.0.0.1"));
  EXPECT_THAT(connect.argv,
              Contains("spark.driver.extraJavaOptions=-Djava.io.tmpdir=" + p.spark_dir + "/tmp"));
  EXPECT_EQ(connect.env.at(kMarkerEnv), ConnectMarker(s.marker));
  EXPECT_EQ(jupyter.env.at("JUPYTER_TOKEN"), "jtok");
  EXPECT_EQ(jupyter.env.at("SPARK_REMOTE"), "sc://localhost:15002");
  EXPECT_EQ(jupyter.env.at("SPARK_CONNECT_AUTHENTICATE_TOKEN"), "ctok");
  EXPECT_EQ(jupyter.env.at("JUPYTER_RUNTIME_DIR"), p.runtime_dir);
  EXPECT_EQ(jupyter.env.at(kMarkerEnv), s.marker);
  EXPECT_THAT(jupyter.argv, Contains("--ServerApp.ip=127.0.0.1"));
  EXPECT_THAT(jupyter.argv, Contains("--MappingKernelManager.cull_idle_timeout=60"));
  EXPECT_THAT(jupyter.argv, Contains("--ServerApp.shutdown_no_activity_timeout=60"));
  EXPECT_THAT(jupyter.argv, Contains("--allow-root"));
  EXPECT_THAT(JupyterSpec("/p", s, p, false).argv, Not(Contains("--allow-root")));
}

TEST(JupyterIdle, IdleOnlyWhenNothingIsBusyAndTheNewestActivityIsOldEnough) {
  Time now = FromUnixMillis(1'700'000'100'000);  // 2023-11-14T22:15:00Z
  json status = {{"last_activity", "2023-11-14T22:13:00.123456Z"}, {"kernels", 1}};
  json idle_kernel = json::array(
      {{{"execution_state", "idle"}, {"last_activity", "2023-11-14T22:14:00.000000Z"}}});
  EXPECT_TRUE(JupyterIdle(status, json::array(), now, Millis(60000)));
  EXPECT_FALSE(JupyterIdle(status, json::array(), now, Millis(180000)));
  // The kernel's activity is newer than the server's.
  EXPECT_TRUE(JupyterIdle(status, idle_kernel, now, Millis(60000)));
  EXPECT_FALSE(JupyterIdle(status, idle_kernel, now, Millis(61000)));
  // A busy cell is never idle, however old the activity.
  json busy = idle_kernel;
  busy[0]["execution_state"] = "busy";
  EXPECT_FALSE(JupyterIdle(status, busy, now, Millis(1000)));
  // Unreadable answers are not idle.
  EXPECT_FALSE(JupyterIdle(json::object(), json::array(), now, Millis(1000)));
  EXPECT_FALSE(JupyterIdle(status, json::object(), now, Millis(1000)));
}

TEST(NotebookGuard, ArgsRoundTrip) {
  NotebookGuardOptions o;
  o.state_file = "/d/notebooks/x/state.json";
  o.owner = {42, 99};
  o.cluster_delete_command = {"/bin/sparkplane", "--data-dir", "/d", "cluster", "delete"};
  Result<NotebookGuardOptions> back = ParseNotebookGuardArgs(NotebookGuardArgs(o));
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->state_file, o.state_file);
  EXPECT_EQ(back->owner.pid, 42);
  EXPECT_EQ(back->owner.start_ticks, 99u);
  EXPECT_EQ(back->cluster_delete_command, o.cluster_delete_command);
  EXPECT_THAT(ParseNotebookGuardArgs({"--bogus", "1"}).status().message(),
              HasSubstr("unknown flag --bogus"));
}

}  // namespace
}  // namespace sp::notebook
