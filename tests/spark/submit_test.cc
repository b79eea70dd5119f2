// BuildSubmitArgv / BuildSubmitEnv table cases (tests/data/spark/submit_cases.json) and
// ExtractAppId on real driver output lines.
#include "spark/submit.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "spark/spark_home.h"
#include "spark/spark_test_util.h"

namespace sp::spark {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::StatusIs;

constexpr char kSparkHome[] = "/opt/spark";

SubmitSpec SpecFromJson(const nlohmann::json& j) {
  SubmitSpec s;
  auto str = [&](const char* k, std::string& out) {
    if (j.contains(k)) out = j[k].get<std::string>();
  };
  auto list = [&](const char* k, std::vector<std::string>& out) {
    if (j.contains(k)) out = j[k].get<std::vector<std::string>>();
  };
  auto num = [&](const char* k, std::optional<int>& out) {
    if (j.contains(k)) out = j[k].get<int>();
  };
  str("master", s.master);
  str("application", s.application);
  str("java_class", s.java_class);
  list("py_files", s.py_files);
  list("jars", s.jars);
  list("files", s.files);
  list("archives", s.archives);
  list("packages", s.packages);
  if (j.contains("conf")) s.conf = j["conf"].get<std::map<std::string, std::string>>();
  str("driver_memory", s.driver_memory);
  str("executor_memory", s.executor_memory);
  num("driver_cores", s.driver_cores);
  num("executor_cores", s.executor_cores);
  num("total_executor_cores", s.total_executor_cores);
  str("name", s.name);
  list("application_args", s.application_args);
  str("deploy_mode", s.deploy_mode);
  str("event_log_dir", s.event_log_dir);
  str("local_dir", s.local_dir);
  str("properties_file", s.properties_file);
  str("python", s.python);
  return s;
}

// True when `needle` appears in `argv` as consecutive elements.
bool ContainsRun(const std::vector<std::string>& argv, const std::vector<std::string>& needle) {
  return std::search(argv.begin(), argv.end(), needle.begin(), needle.end()) != argv.end();
}

TEST(SubmitArgvTest, TableCases) {
  nlohmann::json cases =
      nlohmann::json::parse(testing::ReadText(testing::DataDir() + "/submit_cases.json"));
  ASSERT_GE(cases.size(), 20u);
  for (const nlohmann::json& c : cases) {
    SCOPED_TRACE(c["name"].get<std::string>() + ": " + c["description"].get<std::string>());
    Result<std::vector<std::string>> argv = BuildSubmitArgv(SpecFromJson(c["spec"]), kSparkHome);
    if (c.contains("error")) {
      EXPECT_THAT(argv,
                  StatusIs(StatusCode::kInvalidArgument, HasSubstr(c["error"].get<std::string>())));
      continue;
    }
    ASSERT_TRUE(argv.ok()) << argv.status();
    if (c.contains("argv")) {
      std::vector<std::string> want;
      for (std::string a : c["argv"].get<std::vector<std::string>>()) {
        if (a.rfind("$SPARK_HOME", 0) == 0) a = kSparkHome + a.substr(11);
        want.push_back(a);
      }
      EXPECT_EQ(*argv, want);
    }
    for (const auto& run : c.value("contains", nlohmann::json::array())) {
      EXPECT_TRUE(ContainsRun(*argv, run.get<std::vector<std::string>>())) << run.dump();
    }
    for (const auto& absent : c.value("absent", nlohmann::json::array())) {
      EXPECT_THAT(*argv, Not(::testing::Contains(absent.get<std::string>())));
    }
  }
}

TEST(SubmitArgvTest, MissingSparkHomeIsFailedPrecondition) {
  SubmitSpec spec;
  spec.master = "local";
  spec.application = "/a.py";
  EXPECT_THAT(BuildSubmitArgv(spec, ""),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("Spark not found")));
}

TEST(SubmitArgvTest, EnvForLoopbackPythonApp) {
  SubmitSpec spec;
  spec.master = "spark://127.0.0.1:7077";
  spec.python = "/venv/bin/python";
  spec.env = {{"PYSPARK_PYTHON", "/other/python"}, {"EXTRA", "1"}};
  std::map<std::string, std::string> env = BuildSubmitEnv(spec);
  EXPECT_EQ(env["SPARK_LOCAL_IP"], "127.0.0.1");
  EXPECT_EQ(env["PYSPARK_DRIVER_PYTHON"], "/venv/bin/python");
  EXPECT_EQ(env["PYSPARK_PYTHON"], "/other/python");  // the user's env wins
  EXPECT_EQ(env["EXTRA"], "1");

  spec.master = "spark://10.0.0.1:7077";
  spec.env.clear();
  EXPECT_EQ(BuildSubmitEnv(spec).count("SPARK_LOCAL_IP"), 0u);
}

TEST(SubmitArgvTest, MemorySizes) {
  for (const char* ok : {"1", "512m", "2g", "2G", "1536mb", "4096k", "1t", "10b"}) {
    EXPECT_TRUE(IsValidMemorySize(ok)) << ok;
  }
  for (const char* bad : {"", "0", "g", "1.5g", "-1g", "2gbb", "2 g", "2x", "012m"}) {
    EXPECT_FALSE(IsValidMemorySize(bad)) << bad;
  }
}

TEST(SubmitArgvTest, DeployMode) {
  EXPECT_EQ(*ParseDeployMode(""), DeployMode::kClient);
  EXPECT_EQ(*ParseDeployMode("client"), DeployMode::kClient);
  EXPECT_EQ(*ParseDeployMode("cluster"), DeployMode::kCluster);
  EXPECT_THAT(ParseDeployMode("Client"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("'Client'")));
}

TEST(ExtractAppIdTest, ConnectedLine) {
  EXPECT_EQ(ExtractAppId("26/11/26 07:01:49 INFO StandaloneSchedulerBackend: Connected to Spark "
                         "cluster with app ID app-cap-20261126070149-0000"),
            "app-cap-20261126070149-0000");
  EXPECT_EQ(ExtractAppId("INFO StandaloneSchedulerBackend: Connected to Spark cluster with app ID "
                         "app-20261126050639-0000\r"),
            "app-20261126050639-0000");
}

TEST(ExtractAppIdTest, PatternForm) {
  EXPECT_EQ(ExtractAppId("INFO StandaloneSchedulerBackend: Granted executor ID "
                         "app-20261126070149-0000/0 on hostPort 127.0.0.1:44159"),
            "app-20261126070149-0000");
  EXPECT_EQ(ExtractAppId("Granted executor ID sprun-r42-20261126052037-0012/1 on ...", "sprun-r42"),
            "sprun-r42-20261126052037-0012");
  EXPECT_EQ(ExtractAppId("file:/h/eventlog_v2_app-20261126052037-0003/events_1", "app"),
            "app-20261126052037-0003");
  // With a per-cluster prefix, the default form is not this cluster's id.
  EXPECT_EQ(ExtractAppId("Granted executor ID app-20261126052037-0000/0", "app-c1"), std::nullopt);
}

TEST(ExtractAppIdTest, NoId) {
  EXPECT_EQ(ExtractAppId(""), std::nullopt);
  EXPECT_EQ(ExtractAppId("RESULT total=60000 distinct=13 groups=3"), std::nullopt);
  EXPECT_EQ(ExtractAppId("app-2026112607014-0000 (13 digits)"), std::nullopt);
  EXPECT_EQ(ExtractAppId("myapp-20261126070149-0000 belongs to another prefix"), std::nullopt);
  EXPECT_EQ(ExtractAppId("app-20261126070149-00 short counter"), std::nullopt);
}

TEST(ExtractAppIdTest, AppIdPattern) {
  EXPECT_EQ(AppIdPattern(), "app-%s-%04d");
  EXPECT_EQ(AppIdPattern("app-r42"), "app-r42-%s-%04d");
}

}  // namespace
}  // namespace sp::spark
