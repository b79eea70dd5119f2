// Daemon JVM options and the archive lookup, on fake Spark and Java homes: an archive is used
// only when the manifest names this SPARK_HOME and its size matches (a truncated archive would
// crash the JVM).
#include "spark/jvm_archives.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "spark/spark_test_util.h"

namespace sp::spark {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

class JvmArchivesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(dir_ / "spark/jars");
    testing::WriteText(dir_ / "spark/jars/spark-core_2.13-4.3.0.jar", "");
    testing::WriteText(dir_ / "spark/jars/spark-sql_2.13-4.3.0.jar", "");
    fs::create_directories(dir_ / "jdk/bin");
    testing::WriteText(dir_ / "jdk/bin/java", "#!/bin/sh\n");
    fs::permissions(dir_ / "jdk/bin/java", fs::perms::owner_all);
    testing::WriteText(dir_ / "jdk/release", "IMPLEMENTOR=\"Debian\"\nJAVA_VERSION=\"17.0.15\"\n");
    env_ = {{"JAVA_HOME", dir_ / "jdk"}};
  }

  EnvLookup Env() {
    return [this](const std::string& name) -> std::optional<std::string> {
      auto it = env_.find(name);
      if (it == env_.end()) return std::nullopt;
      return it->second;
    };
  }

  // A published archive dir as scripts/build_spark_cds.sh leaves it.
  std::string Publish(const std::string& spark_home) {
    std::string d = dir_ / "cds/spark-4.3.0_java-17.0.15";
    fs::create_directories(d);
    testing::WriteText(d + "/master.jsa", "master-archive");
    testing::WriteText(d + "/worker.jsa", "worker");
    testing::WriteText(d + "/manifest",
                       "spark_home=" + spark_home + "\nmaster.jsa=14\nworker.jsa=6\n");
    return d;
  }

  testing::ScratchDir dir_;
  std::map<std::string, std::string> env_;
};

TEST_F(JvmArchivesTest, KeyIsSparkAndJavaVersion) {
  EXPECT_EQ(JvmArchiveKey(dir_ / "spark", dir_ / "jdk"), "spark-4.3.0_java-17.0.15");
  EXPECT_EQ(JvmArchiveKey(dir_ / "nospark", dir_ / "jdk"), "");
  EXPECT_EQ(JvmArchiveKey(dir_ / "spark", dir_ / "nojdk"), "");
}

TEST_F(JvmArchivesTest, FindsPublishedArchives) {
  std::string d = Publish(dir_ / "spark");
  DaemonJvmArchives found = FindDaemonJvmArchives(dir_ / "cds", dir_ / "spark", Env());
  EXPECT_EQ(found.master, d + "/master.jsa");
  EXPECT_EQ(found.worker, d + "/worker.jsa");
}

TEST_F(JvmArchivesTest, IgnoresArchivesOfAnotherSparkHomeOrWithTheWrongSize) {
  std::string d = Publish(dir_ / "other-spark");
  DaemonJvmArchives found = FindDaemonJvmArchives(dir_ / "cds", dir_ / "spark", Env());
  EXPECT_EQ(found.master, "");
  EXPECT_EQ(found.worker, "");

  Publish(dir_ / "spark");
  testing::WriteText(d + "/master.jsa", "trunc");  // not the recorded 14 bytes
  found = FindDaemonJvmArchives(dir_ / "cds", dir_ / "spark", Env());
  EXPECT_EQ(found.master, "");
  EXPECT_EQ(found.worker, d + "/worker.jsa");

  fs::remove(d + "/manifest");  // not (or not yet) published
  found = FindDaemonJvmArchives(dir_ / "cds", dir_ / "spark", Env());
  EXPECT_EQ(found.worker, "");
}

TEST_F(JvmArchivesTest, NoJavaOrNoRootMeansNoArchives) {
  Publish(dir_ / "spark");
  env_ = {{"JAVA_HOME", dir_ / "nojdk"}};
  EXPECT_EQ(FindDaemonJvmArchives(dir_ / "cds", dir_ / "spark", Env()).master, "");
  env_ = {{"JAVA_HOME", dir_ / "jdk"}};
  EXPECT_EQ(FindDaemonJvmArchives("", dir_ / "spark", Env()).master, "");
}

TEST_F(JvmArchivesTest, DefaultRootFollowsXdgThenHome) {
  env_ = {{"HOME", "/home/u"}};
  EXPECT_EQ(DefaultJvmArchiveRoot(Env()), "/home/u/.cache/sparkplane/cds");
  env_["XDG_CACHE_HOME"] = "/var/cache/u";
  EXPECT_EQ(DefaultJvmArchiveRoot(Env()), "/var/cache/u/sparkplane/cds");
  env_.clear();
  EXPECT_EQ(DefaultJvmArchiveRoot(Env()), "");
}

TEST(DaemonJavaOptsTest, FlagsAlwaysArchiveWhenGiven) {
  EXPECT_EQ(DaemonJavaOpts(""), "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC");
  EXPECT_THAT(DaemonJavaOpts(""), Not(HasSubstr("SharedArchiveFile")));
  EXPECT_EQ(DaemonJavaOpts("/c/m.jsa"),
            "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -XX:SharedArchiveFile=/c/m.jsa "
            "-Xlog:cds=off -Xlog:cds+dynamic=off");
}

}  // namespace
}  // namespace sp::spark
