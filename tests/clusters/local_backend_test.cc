// LocalClusterBackend::Adopt on real handle files: a server that took over a run names its own
// lock in the cluster's handle file (what the guard watches), keeping everything else in it.
#include "clusters/local_backend.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "clusters/lifetime.h"
#include "executor/test_util.h"

namespace sp::clusters {
namespace {

namespace fs = std::filesystem;
using executor::testing::TempDir;

nlohmann::json ReadJson(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
}

class LocalBackendAdoptTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_dir_ = dir_.path() + "/clusters/c1";
    fs::create_directories(cluster_dir_);
    spark::LocalClusterHandle h;
    h.name = "c1";
    h.dir = cluster_dir_;
    h.master = executor::CurrentProcess();
    handle_ = h.ToJson();
  }
  std::unique_ptr<LocalClusterBackend> Backend(const std::string& owner_lock) {
    LocalBackendOptions o;
    o.clusters_dir = dir_.path() + "/clusters";
    o.owner_lock = owner_lock;
    return std::make_unique<LocalClusterBackend>(o, &processes_, &clock_, nullptr);
  }

  TempDir dir_;
  std::string cluster_dir_;
  nlohmann::json handle_;
  executor::ProcessSupervisor processes_;
  RealClock clock_;
};

TEST_F(LocalBackendAdoptTest, TheAdoptersLockReplacesTheCreatorsAndTheRestIsKept) {
  nlohmann::json file = handle_;
  Lifetime lifetime;
  lifetime.deadline = FromUnixMillis(4'000'000'000'000);
  file.update(lifetime.ToJson());
  file[kOwnerLockKey] = "/old/data/server.lock";
  ASSERT_TRUE(WriteHandleFile(HandleFile(cluster_dir_), file).ok());

  auto adopter = Backend("/new/data/server.lock");
  ASSERT_TRUE(adopter->Adopt(handle_).ok());
  nlohmann::json after = ReadJson(HandleFile(cluster_dir_));
  EXPECT_EQ(after.value(kOwnerLockKey, ""), "/new/data/server.lock");
  ASSERT_TRUE(Lifetime::FromJson(after).deadline);
  EXPECT_EQ(ToUnixMillis(*Lifetime::FromJson(after).deadline), 4'000'000'000'000);
  EXPECT_EQ(after.value("name", ""), "c1");
  ASSERT_TRUE(adopter->Adopt(handle_).ok()) << "again: nothing to change";
  EXPECT_EQ(ReadJson(HandleFile(cluster_dir_)), after);
}

TEST_F(LocalBackendAdoptTest, NothingIsWrittenForAGoneClusterOrWithoutALock) {
  ASSERT_TRUE(Backend("/new/data/server.lock")->Adopt(handle_).ok());
  EXPECT_FALSE(fs::exists(HandleFile(cluster_dir_))) << "a deleted cluster stays deleted";

  ASSERT_TRUE(WriteHandleFile(HandleFile(cluster_dir_), handle_).ok());
  ASSERT_TRUE(Backend("")->Adopt(handle_).ok());
  EXPECT_FALSE(ReadJson(HandleFile(cluster_dir_)).contains(kOwnerLockKey))
      << "a CLI command owns no cluster past itself";
}

}  // namespace
}  // namespace sp::clusters
