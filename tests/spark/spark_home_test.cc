// FindSparkHome / FindPython / FindJava against fake installations in a scratch dir, with an
// injected environment.
#include "spark/spark_home.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "spark/spark_test_util.h"

namespace sp::spark {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using testing::StatusIs;

EnvLookup Env(std::map<std::string, std::string> vars) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

void MakeExecutable(const std::string& path) {
  fs::create_directories(fs::path(path).parent_path());
  testing::WriteText(path, "#!/bin/sh\n");
  ::chmod(path.c_str(), 0755);
}

// A fake pip-installed Spark under <root>/.venv.
std::string MakeVenvSpark(const std::string& root, const std::string& python = "python3.11") {
  std::string home = root + "/.venv/lib/" + python + "/site-packages/pyspark";
  MakeExecutable(home + "/bin/spark-submit");
  MakeExecutable(home + "/bin/spark-class");
  fs::create_directories(home + "/jars");
  MakeExecutable(root + "/.venv/bin/python");
  return home;
}

TEST(SparkHomeTest, FindsTheProjectVenv) {
  testing::ScratchDir root;
  std::string home = MakeVenvSpark(root.path());
  EXPECT_EQ(*FindSparkHome(root.path(), Env({})), home);
  EXPECT_EQ(*FindPython(root.path(), home, Env({})), root / ".venv/bin/python");
}

TEST(SparkHomeTest, EnvSparkHomeWins) {
  testing::ScratchDir root;
  MakeVenvSpark(root.path());
  std::string other = MakeVenvSpark(root / "other");
  EXPECT_EQ(*FindSparkHome(root.path(), Env({{"SPARK_HOME", other}})), other);
}

TEST(SparkHomeTest, BadEnvSparkHomeSaysWhatIsMissing) {
  testing::ScratchDir root;
  fs::create_directories(root / "spark/bin");
  EXPECT_THAT(FindSparkHome(root.path(), Env({{"SPARK_HOME", root / "spark"}})),
              StatusIs(StatusCode::kFailedPrecondition,
                       HasSubstr("is not a Spark installation (no executable bin/spark-submit)")));
}

TEST(SparkHomeTest, MissingSparkTellsHowToFix) {
  testing::ScratchDir root;
  EXPECT_THAT(FindSparkHome(root.path(), Env({})),
              StatusIs(StatusCode::kFailedPrecondition,
                       HasSubstr("Spark not found: set SPARK_HOME or run scripts/setup.sh")));
}

TEST(SparkHomeTest, PythonFromTheVenvHoldingSparkHome) {
  testing::ScratchDir root;
  std::string home = MakeVenvSpark(root / "elsewhere");
  EXPECT_EQ(*FindPython(root.path(), home, Env({})), root / "elsewhere/.venv/bin/python");
}

TEST(SparkHomeTest, PythonFromEnvOrPath) {
  testing::ScratchDir root;
  MakeExecutable(root / "bin/python3");
  MakeExecutable(root / "custom/py");
  EXPECT_EQ(*FindPython(root.path(), "/opt/spark", Env({{"PYSPARK_PYTHON", root / "custom/py"}})),
            root / "custom/py");
  EXPECT_EQ(*FindPython(root.path(), "/opt/spark", Env({{"PATH", "/nope:" + (root / "bin")}})),
            root / "bin/python3");
  EXPECT_THAT(FindPython(root.path(), "/opt/spark", Env({{"PATH", "/nope"}})),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("python not found")));
}

TEST(SparkHomeTest, Java) {
  testing::ScratchDir root;
  MakeExecutable(root / "jdk/bin/java");
  EXPECT_EQ(*FindJava(Env({{"JAVA_HOME", root / "jdk"}})), root / "jdk/bin/java");
  EXPECT_EQ(*FindJava(Env({{"PATH", root / "jdk/bin"}})), root / "jdk/bin/java");
  EXPECT_THAT(FindJava(Env({{"JAVA_HOME", root / "nojdk"}})),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("has no bin/java")));
  EXPECT_THAT(FindJava(Env({{"PATH", "/nonexistent"}})),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("Java not found")));
}

TEST(SparkHomeTest, LocateSparkAll) {
  testing::ScratchDir root;
  std::string home = MakeVenvSpark(root.path());
  MakeExecutable(root / "jdk/bin/java");
  Result<SparkInstall> install = LocateSpark(root.path(), Env({{"JAVA_HOME", root / "jdk"}}));
  ASSERT_TRUE(install.ok()) << install.status();
  EXPECT_EQ(install->spark_home, home);
  EXPECT_EQ(install->SparkSubmit(), home + "/bin/spark-submit");
  EXPECT_EQ(install->java, root / "jdk/bin/java");
}

}  // namespace
}  // namespace sp::spark
