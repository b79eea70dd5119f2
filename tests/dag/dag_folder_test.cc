// Tests of DagFolder: picking up added, changed and removed files, isolating broken files, and
// resolving duplicate DAG ids across files. Each test works in its own temporary folder.
#include "dag/dag_folder.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "dag/fake_task_types.h"

namespace sp::dag {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::string DagText(const std::string& id, const std::string& command = "echo hi") {
  return "id: " + id + "\ntasks:\n  - id: t\n    type: bash\n    command: " + command + "\n";
}

class DagFolderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::path(::testing::TempDir()) / "dag_folder_XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::string Write(const std::string& name, const std::string& text) {
    const fs::path path = fs::path(dir_) / name;
    fs::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
    return path.string();
  }
  // Moves the file's mtime forward, as a later write would.
  void Touch(const std::string& name, int seconds) {
    const fs::path path = fs::path(dir_) / name;
    fs::last_write_time(path, fs::last_write_time(path) + std::chrono::seconds(seconds));
  }
  void Remove(const std::string& name) { fs::remove(fs::path(dir_) / name); }

  static std::vector<std::string> Ids(const FolderChanges& c) {
    std::vector<std::string> ids;
    for (const DagPtr& d : c.added_or_changed) ids.push_back(d->id);
    return ids;
  }

  std::string dir_;
  DagFolder Make() { return DagFolder(dir_, fakes::FakeBashChecker()); }
};

TEST_F(DagFolderTest, MissingFolderIsEmpty) {
  DagFolder folder(dir_ + "/does-not-exist", fakes::FakeBashChecker());
  EXPECT_FALSE(folder.Rescan().any());
  EXPECT_THAT(folder.dags(), IsEmpty());
  EXPECT_THAT(folder.Files(), IsEmpty());
}

TEST_F(DagFolderTest, PicksUpAddedFilesOnce) {
  DagFolder folder = Make();
  Write("a.yaml", DagText("alpha"));
  Write("nested/b.yml", DagText("beta"));
  Write("notes.txt", "not a dag");
  Write(".hidden/c.yaml", DagText("hidden"));
  Write(".d.yaml", DagText("hidden_file"));

  FolderChanges first = folder.Rescan();
  EXPECT_THAT(Ids(first), ElementsAre("alpha", "beta"));
  EXPECT_THAT(first.removed_dag_ids, IsEmpty());
  ASSERT_NE(folder.Find("alpha"), nullptr);
  EXPECT_EQ(folder.Find("alpha")->file, dir_ + "/a.yaml");
  EXPECT_EQ(folder.Find("hidden"), nullptr);
  EXPECT_EQ(folder.Find("nope"), nullptr);

  // Nothing changed: nothing reported, and the same objects are kept.
  const DagPtr before = folder.Find("alpha");
  EXPECT_FALSE(folder.Rescan().any());
  EXPECT_EQ(folder.Find("alpha"), before);
}

TEST_F(DagFolderTest, ReloadsChangedContent) {
  DagFolder folder = Make();
  Write("a.yaml", DagText("alpha", "echo one"));
  folder.Rescan();
  const DagPtr v1 = folder.Find("alpha");

  Write("a.yaml", DagText("alpha", "echo two, longer"));
  FolderChanges changes = folder.Rescan();
  EXPECT_THAT(Ids(changes), ElementsAre("alpha"));
  EXPECT_THAT(changes.removed_dag_ids, IsEmpty());
  const DagPtr v2 = folder.Find("alpha");
  EXPECT_NE(v1, v2);
  EXPECT_EQ(v2->tasks[0].fields.at("command"), "echo two, longer");
  EXPECT_NE(v1->fingerprint, v2->fingerprint);
  // The old definition stays intact for runs still holding it.
  EXPECT_EQ(v1->tasks[0].fields.at("command"), "echo one");
}

TEST_F(DagFolderTest, NoticesSameSizeEditsByMtime) {
  DagFolder folder = Make();
  Write("a.yaml", DagText("alpha", "echo one"));
  folder.Rescan();
  Write("a.yaml", DagText("alpha", "echo two"));
  Touch("a.yaml", 5);
  EXPECT_THAT(Ids(folder.Rescan()), ElementsAre("alpha"));
  EXPECT_EQ(folder.Find("alpha")->tasks[0].fields.at("command"), "echo two");
}

TEST_F(DagFolderTest, TouchWithoutChangeIsNotAChange) {
  DagFolder folder = Make();
  Write("a.yaml", DagText("alpha"));
  folder.Rescan();
  const DagPtr before = folder.Find("alpha");
  Touch("a.yaml", 10);
  EXPECT_FALSE(folder.Rescan().any());
  EXPECT_EQ(folder.Find("alpha"), before);
}

TEST_F(DagFolderTest, DropsRemovedFiles) {
  DagFolder folder = Make();
  Write("a.yaml", DagText("alpha"));
  Write("b.yaml", DagText("beta"));
  folder.Rescan();
  Remove("a.yaml");
  FolderChanges changes = folder.Rescan();
  EXPECT_THAT(Ids(changes), IsEmpty());
  EXPECT_THAT(changes.removed_dag_ids, ElementsAre("alpha"));
  EXPECT_EQ(folder.Find("alpha"), nullptr);
  EXPECT_EQ(folder.Files().size(), 1u);
}

TEST_F(DagFolderTest, ReportsRenamedIdsAsRemovedAndAdded) {
  DagFolder folder = Make();
  Write("a.yaml", DagText("alpha"));
  folder.Rescan();
  Write("a.yaml", DagText("alpha_v2"));
  FolderChanges changes = folder.Rescan();
  EXPECT_THAT(Ids(changes), ElementsAre("alpha_v2"));
  EXPECT_THAT(changes.removed_dag_ids, ElementsAre("alpha"));
}

TEST_F(DagFolderTest, BrokenFileDoesNotStopOthers) {
  DagFolder folder = Make();
  Write("a.yaml", DagText("alpha"));
  Write("b.yaml", "id: beta\ntasks: [unclosed\n");
  Write("c.yaml", DagText("gamma"));
  EXPECT_THAT(Ids(folder.Rescan()), ElementsAre("alpha", "gamma"));

  std::vector<LoadedFile> files = folder.Files();
  ASSERT_EQ(files.size(), 3u);
  EXPECT_EQ(files[1].path, dir_ + "/b.yaml");
  EXPECT_EQ(files[1].dag, nullptr);
  ASSERT_FALSE(files[1].errors.empty());
  EXPECT_THAT(files[1].errors[0].ToString(), HasSubstr("b.yaml:3:1: YAML syntax error"));
  EXPECT_TRUE(files[0].errors.empty());

  // Fixing it brings the DAG in.
  Write("b.yaml", DagText("beta"));
  EXPECT_THAT(Ids(folder.Rescan()), ElementsAre("beta"));
}

TEST_F(DagFolderTest, BreakingAFileRemovesItsDag) {
  DagFolder folder = Make();
  Write("a.yaml", DagText("alpha"));
  folder.Rescan();
  Write("a.yaml", "id: alpha\ntasks:\n  - id: t\n    type: bash\n    comand: echo\n");
  FolderChanges changes = folder.Rescan();
  EXPECT_THAT(changes.removed_dag_ids, ElementsAre("alpha"));
  std::string errors;
  const std::vector<LoadedFile> files = folder.Files();
  for (const DagError& e : files[0].errors) errors += e.ToString() + "\n";
  EXPECT_THAT(errors, HasSubstr("a.yaml:5:5: tasks[0].comand: unknown field 'comand' for task "
                                "type 'bash'; did you mean 'command'?"));
}

TEST_F(DagFolderTest, DuplicateIdsKeepTheFirstFileAndFlagTheSecond) {
  DagFolder folder = Make();
  Write("a.yaml", DagText("same"));
  Write("b.yaml", DagText("same", "echo from b"));
  EXPECT_THAT(Ids(folder.Rescan()), ElementsAre("same"));
  EXPECT_EQ(folder.Find("same")->file, dir_ + "/a.yaml");

  std::vector<LoadedFile> files = folder.Files();
  ASSERT_EQ(files.size(), 2u);
  EXPECT_TRUE(files[0].errors.empty());
  EXPECT_EQ(files[1].dag, nullptr);
  ASSERT_EQ(files[1].errors.size(), 1u);
  EXPECT_THAT(files[1].errors[0].ToString(),
              HasSubstr("b.yaml: id: DAG id 'same' is already defined in " + dir_ + "/a.yaml"));

  // The owner keeps the id while it exists, even when a file sorting earlier claims it.
  Write("0.yaml", DagText("same", "echo from 0"));
  EXPECT_FALSE(folder.Rescan().any());
  EXPECT_EQ(folder.Find("same")->file, dir_ + "/a.yaml");

  // When the owner goes, the next file (by path) takes over and that is a change.
  Remove("a.yaml");
  FolderChanges changes = folder.Rescan();
  EXPECT_THAT(Ids(changes), ElementsAre("same"));
  EXPECT_THAT(changes.removed_dag_ids, IsEmpty());
  EXPECT_EQ(folder.Find("same")->file, dir_ + "/0.yaml");
}

}  // namespace
}  // namespace sp::dag
