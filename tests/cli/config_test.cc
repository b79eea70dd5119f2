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
}

}  // namespace
}  // namespace sp::cli
