// BuildSubmitCommand / BuildSubmitEnv table cases (tests/data/spark/submit_cases.json), the
// properties file that carries every setting (never argv), and ExtractAppId on real driver
// output lines.
#include "spark/submit.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>
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

constexpr char kDefaultPropertiesFile[] = "/tries/1/spark-submit.properties";

// The table's cases write the settings as "--conf", "KEY=VALUE" pairs before the application,
// as spark-submit would take them on a command line: the command in that form. The command's
// own argv must have no --conf at all; the "--properties-file" pair is left out when the case
// named no file (the default one then is the test's).
Result<std::vector<std::string>> FlatArgv(const SubmitSpec& spec) {
  SubmitSpec with_file = spec;
  if (with_file.properties_file.empty()) with_file.properties_file = kDefaultPropertiesFile;
  ASSIGN_OR_RETURN(SubmitCommand command, BuildSubmitCommand(with_file, kSparkHome));
  EXPECT_THAT(command.argv, Not(::testing::Contains("--conf")));
  std::vector<std::string> argv = command.argv;
  if (spec.properties_file.empty()) {
    auto it = std::find(argv.begin(), argv.end(), "--properties-file");
    EXPECT_TRUE(it != argv.end() && it + 1 != argv.end() && *(it + 1) == kDefaultPropertiesFile);
    if (it != argv.end()) argv.erase(it, it + 2);
  }
  std::vector<std::string> conf;
  for (const auto& [key, value] : command.conf)
    conf.insert(conf.end(), {"--conf", key + "=" + value});
  argv.insert(argv.end() - static_cast<std::ptrdiff_t>(spec.application_args.size()) - 1,
              conf.begin(), conf.end());
  return argv;
}

TEST(SubmitArgvTest, TableCases) {
  nlohmann::json cases =
      nlohmann::json::parse(testing::ReadText(testing::DataDir() + "/submit_cases.json"));
  ASSERT_GE(cases.size(), 20u);
  for (const nlohmann::json& c : cases) {
    SCOPED_TRACE(c["name"].get<std::string>() + ": " + c["description"].get<std::string>());
    Result<std::vector<std::string>> argv = FlatArgv(SpecFromJson(c["spec"]));
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
  spec.properties_file = kDefaultPropertiesFile;
  EXPECT_THAT(BuildSubmitCommand(spec, ""),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("Spark not found")));
}

// Hardening issue C: every --conf value went into argv, where `ps` shows it to every local
// user (the log masked secrets, the process table did not).
TEST(SubmitCommandTest, ConfValuesNeverReachArgvOnlyThePrivatePropertiesFile) {
  testing::ScratchDir dir;
  SubmitSpec spec;
  spec.master = "spark://127.0.0.1:7077";
  spec.application = "/apps/app.py";
  spec.application_args = {"--rows", "10"};
  spec.event_log_dir = "/data/history/spark";
  spec.local_dir = dir.path();
  spec.python = "/venv/bin/python";
  spec.properties_file = dir / "spark-submit.properties";
  spec.conf = {{"spark.hadoop.fs.s3a.secret.key", "s3-SECRET-value"},
               {"spark.authenticate.secret", "cluster-SECRET"},
               {"spark.sql.shuffle.partitions", "4"}};
  Result<SubmitCommand> command = BuildSubmitCommand(spec, kSparkHome);
  ASSERT_TRUE(command.ok()) << command.status();
  EXPECT_THAT(command->argv, Not(::testing::Contains("--conf")));
  for (const std::string& arg : command->argv) {
    for (const char* value : {"SECRET", "shuffle", "127.0.0.1=", "spark.ui.enabled",
                              "/data/history/spark", "/venv/bin/python"}) {
      EXPECT_THAT(arg, Not(HasSubstr(value))) << "argv holds a setting: " << arg;
    }
  }
  EXPECT_TRUE(ContainsRun(command->argv, {"--properties-file", spec.properties_file}));
  EXPECT_EQ(command->argv.back(), "10");
  EXPECT_EQ(command->argv[command->argv.size() - 3], "/apps/app.py");
  EXPECT_EQ(command->conf.at("spark.hadoop.fs.s3a.secret.key"), "s3-SECRET-value");
  EXPECT_EQ(command->conf.at("spark.eventLog.dir"), "file:/data/history/spark");
  EXPECT_EQ(command->conf.at("spark.pyspark.python"), "/venv/bin/python");

  ASSERT_TRUE(WriteSubmitProperties(spec.properties_file, command->properties).ok());
  struct stat st {};
  ASSERT_EQ(::stat(spec.properties_file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::string text = testing::ReadText(spec.properties_file);
  EXPECT_THAT(text, HasSubstr("\nspark.authenticate.secret=cluster-SECRET\n"));
  EXPECT_THAT(text, HasSubstr("\nspark.driver.host=127.0.0.1\n"));
  EXPECT_THAT(text, HasSubstr("\nspark.eventLog.dir=file:/data/history/spark\n"));
  // Replacing an existing file keeps it private, and leaves no temporary file behind.
  ::chmod(spec.properties_file.c_str(), 0644);
  ASSERT_TRUE(WriteSubmitProperties(spec.properties_file, "spark.a=b\n").ok());
  ASSERT_EQ(::stat(spec.properties_file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(testing::ReadText(spec.properties_file), "spark.a=b\n");
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    (void)e;
    ++files;
  }
  EXPECT_EQ(files, 1);
}

TEST(SubmitCommandTest, PropertiesFileIsRequiredAndAbsolute) {
  SubmitSpec spec;
  spec.master = "local";
  spec.application = "/a.py";
  EXPECT_THAT(BuildSubmitCommand(spec, kSparkHome),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("properties_file is required")));
  spec.properties_file = "rel/spark.properties";
  EXPECT_THAT(BuildSubmitCommand(spec, kSparkHome),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("must be an absolute path")));
}

TEST(SubmitCommandTest, PropertiesEscapeWhatJavaPropertiesWouldReadDifferently) {
  std::string text = FormatSparkProperties({{"spark.a", "x=y:z #not a comment"},
                                            {"spark.b", " lead\\path\tand\nnewline"},
                                            {"spark.c", std::string("bell\x07") + "caf\xc3\xa9"},
                                            {"spark.d:e", ""}});
  EXPECT_THAT(text, HasSubstr("\nspark.a=x=y:z #not a comment\n"));
  EXPECT_THAT(text, HasSubstr("\nspark.b=\\ lead\\\\path\\tand\\nnewline\n"));
  EXPECT_THAT(text, HasSubstr("\nspark.c=bell\\u0007caf\xc3\xa9\n"));
  EXPECT_THAT(text, HasSubstr("\nspark.d\\:e=\n"));
  EXPECT_EQ(text.rfind("# ", 0), 0u);  // a comment line first, then one line per setting
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 5);
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
