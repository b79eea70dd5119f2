// Config resolution: flags over environment over the config file over defaults.
#include "cli/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace sp::cli {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("spcfg-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    for (const char* v : {"SPARKPLANE_DATA_DIR", "SPARKPLANE_DAGS_FOLDER", "SPARKPLANE_CONFIG",
                          "SPARKPLANE_PARALLELISM", "SPARKPLANE_LOG_LEVEL"}) {
      ::unsetenv(v);
    }
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
    return (dir_ / name).string();
  }
  fs::path dir_;
};

TEST_F(ConfigTest, FlagsWinOverEnvironmentWhichWinsOverTheFile) {
  std::string file = Write("c.yaml", "dags_folder: /from/file\nparallelism: 7\n");
  ::setenv("SPARKPLANE_DAGS_FOLDER", "/from/env", 1);
  ConfigFlags flags{(dir_ / "data").string(), "", file};
  Result<Config> c = ResolveConfig(flags);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->dags_folder, "/from/env");
  EXPECT_EQ(c->parallelism, 7);
  EXPECT_EQ(c->data_dir, (dir_ / "data").string());
  flags.dags_folder = "/from/flag";
  EXPECT_EQ(ResolveConfig(flags)->dags_folder, "/from/flag");
  ::unsetenv("SPARKPLANE_DAGS_FOLDER");
  flags.dags_folder.clear();
  EXPECT_EQ(ResolveConfig(flags)->dags_folder, "/from/file");
}

// Kubernetes settings follow kubectl instead: flag, then the file, then the environment.
TEST_F(ConfigTest, KubernetesSettingsGoFlagThenFileThenEnvironment) {
  std::string kubeconfig = Write("kube.yaml", "apiVersion: v1\nkind: Config\n");
  std::string file = Write(
      "c.yaml", "kubeconfig: " + kubeconfig + "\nkube_context: file-ctx\nnamespace: file-ns\n");
  ::unsetenv("KUBERNETES_SERVICE_HOST");
  ::setenv("KUBECONFIG", "/from/env/kubeconfig", 1);
  ::setenv("SPARKPLANE_NAMESPACE", "env-ns", 1);
  ConfigFlags flags{(dir_ / "data").string(), "", file};
  Result<Config> c = ResolveConfig(flags);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->kubeconfig, kubeconfig);
  EXPECT_EQ(c->kube_context, "file-ctx");
  EXPECT_EQ(c->kube_namespace, "file-ns");

  flags.kubeconfig = "/from/flag/kubeconfig";
  flags.kube_context = "flag-ctx";
  flags.kube_namespace = "flag-ns";
  c = ResolveConfig(flags);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->kubeconfig, "/from/flag/kubeconfig");
  EXPECT_EQ(c->kube_context, "flag-ctx");
  EXPECT_EQ(c->kube_namespace, "flag-ns");

  c = ResolveConfig({(dir_ / "data").string(), "", Write("empty.yaml", "log_level: info\n")});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->kubeconfig, "/from/env/kubeconfig");
  EXPECT_EQ(c->kube_context, "");
  EXPECT_EQ(c->kube_namespace, "env-ns");
  ::unsetenv("KUBECONFIG");
  ::unsetenv("SPARKPLANE_NAMESPACE");
}

TEST_F(ConfigTest, DefaultsFollowTheDataDir) {
  Result<Config> c = ResolveConfig({(dir_ / "d").string(), "", ""});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->dags_folder, (dir_ / "d" / "dags").string());
  EXPECT_EQ(c->DatabasePath(), (dir_ / "d" / "history/scheduler/sparkplane.db").string());
  EXPECT_EQ(c->parallelism, 32);
  EXPECT_EQ(c->task_nice, 10);
}

TEST_F(ConfigTest, TaskNiceIsZeroToNineteen) {
  std::string file = Write("nice.yaml", "task_nice: 0\n");
  Result<Config> c = ResolveConfig({"", "", file});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->task_nice, 0);
  for (const char* bad : {"-1", "20", "low"}) {
    file = Write("bad_nice.yaml", std::string("task_nice: ") + bad + "\n");
    EXPECT_THAT(
        ResolveConfig({"", "", file}).status().message(),
        HasSubstr(std::string("task_nice: expected an integer from 0 to 19; got '") + bad + "'"));
  }
}

TEST_F(ConfigTest, BadSettingsAreLocated) {
  std::string file = Write("bad.yaml", "parallelism: 4\ndag_folder: x\n");
  Result<Config> c = ResolveConfig({"", "", file});
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("bad.yaml:2: unknown setting 'dag_folder'"));
  file = Write("bad2.yaml", "parallelism: many\n");
  EXPECT_THAT(ResolveConfig({"", "", file}).status().message(),
              HasSubstr("parallelism: expected a positive integer; got 'many'"));
  EXPECT_EQ(ResolveConfig({"", "", (dir_ / "missing.yaml").string()}).status().code(),
            StatusCode::kNotFound);
  file = Write("bad3.yaml", "parallelism: 4\nlog_level: [info\n");
  EXPECT_THAT(ResolveConfig({"", "", file}).status().message(),
              HasSubstr("bad3.yaml:3:1: YAML syntax error: flow sequence without a closing "
                        "bracket"));
  file = Write("bad4.yaml", "parallelism:\n  - 4\n");
  EXPECT_THAT(ResolveConfig({"", "", file}).status().message(),
              HasSubstr("bad4.yaml:2: parallelism: expected a single value"));
}

// `notebook start --backend kubernetes` without --notebook-image uses notebook_image.
TEST_F(ConfigTest, NotebookImageComesFromTheFileElseTheDefault) {
  Result<Config> c = ResolveConfig({(dir_ / "d").string(), "", ""});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->notebook_image, "quay.io/jupyter/pyspark-notebook:spark-4.0.1");
  std::string file = Write("nb.yaml", "notebook_image: registry.example/lab:1\n");
  c = ResolveConfig({(dir_ / "d").string(), "", file});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->notebook_image, "registry.example/lab:1");
  // The key is known by its exact name only: the unknown-key check still locates a near miss.
  file = Write("nb-typo.yaml", "notebook_image: x\nnotebook_images: y\n");
  EXPECT_THAT(ResolveConfig({(dir_ / "d").string(), "", file}).status().message(),
              HasSubstr("nb-typo.yaml:2: unknown setting 'notebook_images'"));
}

// failover_timeout: 6 s by default, longer from the file or the environment, never below 6 s.
TEST_F(ConfigTest, FailoverTimeoutDefaultsToSixSecondsAndIsBounded) {
  Result<Config> c = ResolveConfig({(dir_ / "d").string(), "", ""});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->failover_timeout, Millis(6000));
  c = ResolveConfig({"", "", Write("f.yaml", "failover_timeout: 2m\n")});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->failover_timeout, Millis(120000));
  for (const char* bad : {"5s", "2h", "soon"}) {
    Result<Config> refused =
        ResolveConfig({"", "", Write("f.yaml", std::string("failover_timeout: ") + bad + "\n")});
    ASSERT_FALSE(refused.ok()) << bad;
    EXPECT_THAT(refused.status().message(),
                HasSubstr("failover_timeout: expected a duration from 6s to 1h"))
        << bad;
  }
}

// scheduler_partitions: 1 (one active scheduler) by default, 1 to 64 from the file.
TEST_F(ConfigTest, SchedulerPartitionsDefaultToOneAndAreBounded) {
  Result<Config> c = ResolveConfig({(dir_ / "d").string(), "", ""});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->scheduler_partitions, 1);
  c = ResolveConfig({"", "", Write("f.yaml", "scheduler_partitions: 16\n")});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->scheduler_partitions, 16);
  for (const char* bad : {"0", "65", "many"}) {
    Result<Config> refused = ResolveConfig(
        {"", "", Write("f.yaml", std::string("scheduler_partitions: ") + bad + "\n")});
    ASSERT_FALSE(refused.ok()) << bad;
    EXPECT_THAT(refused.status().message(),
                HasSubstr("scheduler_partitions: expected a whole number from 1 to 64"))
        << bad;
  }
}

TEST_F(ConfigTest, LifetimesAndPools) {
  std::string file = Write("pools.yaml",
                           "cluster_max_age: 8h\ncluster_owner_grace: 5s\npools:\n"
                           "  - {name: small, size: 2, workers: 1, worker_cores: 1}\n"
                           "  - name: big\n    workers: 4\n    worker_memory: 2g\n"
                           "    max_age: 30m\n");
  Result<Config> c = ResolveConfig({"", "", file});
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->cluster_max_age, Millis(8 * 3600 * 1000));
  EXPECT_EQ(c->cluster_owner_grace, Millis(5000));
  ASSERT_EQ(c->cluster_pools.size(), 2u);
  EXPECT_EQ(c->cluster_pools[0].name, "small");
  EXPECT_EQ(c->cluster_pools[0].size, 2);
  EXPECT_EQ(c->cluster_pools[1].workers, 4);
  EXPECT_EQ(c->cluster_pools[1].worker_memory, "2g");
  EXPECT_EQ(c->cluster_pools[1].max_age, Millis(30 * 60 * 1000));

  EXPECT_EQ(ResolveConfig({"", "", Write("none.yaml", "cluster_max_age: none\n")})->cluster_max_age,
            Millis(0));
  for (const auto& [text, error] : std::vector<std::pair<std::string, std::string>>{
           {"pools:\n  - {name: Small}\n", "pools.yaml:2: pools: pool name 'Small'"},
           {"pools:\n  - {name: a, size: 0}\n", "size must be 1-16"},
           {"pools:\n  - {name: a, cores: 2}\n", "unknown field 'cores'"},
           {"pools:\n  - {name: a}\n  - {name: a}\n", "pool 'a' is defined twice"},
           {"pools:\n  - {name: a, workers: two}\n", "workers: expected an integer"},
           {"pools: small\n", "expected a list of pools"},
           {"cluster_max_age: soon\n", "cluster_max_age: expected a duration"}}) {
    Result<Config> bad = ResolveConfig({"", "", Write("pools.yaml", text)});
    ASSERT_FALSE(bad.ok()) << text;
    EXPECT_THAT(bad.status().message(), HasSubstr(error)) << text;
  }
}

}  // namespace
}  // namespace sp::cli
