// Tests of DagFolder: picking up added, changed and removed files, isolating broken files, and
// resolving duplicate DAG ids across files, and parsing on several threads with the same results
// as on one. Each test works in its own temporary folder.
#include "dag/dag_folder.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "dag/fake_task_types.h"

namespace sp::dag {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Le;
using ::testing::SizeIs;

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

// ---- parsing on several threads ----------------------------------------------------------

// Everything a rescan shows, as text, so two folders compare with one readable diff.
std::string Describe(const DagFolder& folder, const FolderChanges& changes) {
  std::string out = "changes:\n";
  for (const DagPtr& d : changes.added_or_changed) out += "  + " + d->id + " " + d->file + "\n";
  for (const std::string& id : changes.removed_dag_ids) out += "  - " + id + "\n";
  out += "dags:\n";
  for (const auto& [id, d] : folder.dags()) out += "  " + id + " " + d->file + "\n";
  out += "files:\n";
  for (const LoadedFile& f : folder.Files()) {
    out += "  " + f.path + " -> " + (f.dag ? f.dag->id : "(none)") + "\n";
    for (const DagError& e : f.errors) out += "    " + e.ToString() + "\n";
  }
  return out;
}

// A checker that records, thread-safely, each file whose tasks it validated, in the order the
// validations ended. Optionally it holds the validation of `held` until `awaited` has been
// validated, so that with several threads `awaited` finishes parsing before `held`.
struct RecordingChecker {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::string> validated;  // file of each validate call, in the order they ended
  std::string held, awaited;
  bool hold_timed_out = false;

  static TaskTypeChecker Make(std::shared_ptr<RecordingChecker> r) {
    TaskTypeChecker checker = fakes::FakeBashChecker();
    checker.validate = [r, inner = checker.validate](const TaskSpec& spec,
                                                     std::vector<DagError>* errors) {
      inner(spec, errors);
      std::unique_lock<std::mutex> lock(r->mu);
      const std::string& file = spec.location.file;
      if (!r->held.empty() && file == r->held) {
        // Bounded, so that a broken pool fails the test instead of hanging it.
        auto seen = [&] {
          return std::find(r->validated.begin(), r->validated.end(), r->awaited) !=
                 r->validated.end();
        };
        if (!r->cv.wait_for(lock, std::chrono::seconds(30), seen)) r->hold_timed_out = true;
      }
      r->validated.push_back(file);
      r->cv.notify_all();
    };
    return checker;
  }
  std::vector<std::string> Validated() {
    std::lock_guard<std::mutex> lock(mu);
    return validated;
  }
};

// The name of file `i` of the mixed folder: f00.yaml .. f49.yaml, every tenth in a subfolder.
std::string MixedName(int i) {
  char name[24];
  std::snprintf(name, sizeof name, "%sf%02d.yaml", i % 10 == 9 ? "sub/" : "", i);
  return name;
}

// 50 files: valid ones, broken ones of several kinds, and one id declared by three files.
void WriteMixedFolder(const std::function<void(const std::string&, const std::string&)>& write) {
  for (int i = 0; i < 50; ++i) {
    std::string id = "dag_" + std::to_string(i);
    if (i == 3 || i == 20 || i == 40) id = "shared";
    std::string text = DagText(id, "echo " + std::to_string(i));
    if (i == 7) text = "id: dag_7\ntasks: [unclosed\n";
    if (i == 11) text = "id: dag_11\ntasks:\n  - id: t\n    type: bash\n    comand: echo\n";
    if (i == 15) text = "id: dag_15\ntasks:\n  - id: t\n    type: bash\n";  // no command
    if (i == 25) text = "";
    if (i == 30) {
      text =
          "id: dag_30\ntasks:\n  - id: a\n    type: bash\n    depends_on: [b]\n    command: x\n"
          "  - id: b\n    type: bash\n    depends_on: [a]\n    command: y\n";
    }
    write(MixedName(i), text);
  }
}

TEST_F(DagFolderTest, ParsingOnSeveralThreadsGivesTheSameResultsAsOnOne) {
  WriteMixedFolder([&](const std::string& name, const std::string& text) { Write(name, text); });
  // f03 declares 'shared' first by path, f20 and f40 too. On the threads, f03's parse is held
  // until f40's has been validated, so completion order and path order disagree.
  auto recorder = std::make_shared<RecordingChecker>();
  recorder->held = dir_ + "/f03.yaml";
  recorder->awaited = dir_ + "/f40.yaml";
  DagFolder sequential(dir_, fakes::FakeBashChecker(), 1);
  DagFolder threaded(dir_, RecordingChecker::Make(recorder), 4);

  const std::string expected = Describe(sequential, sequential.Rescan());
  std::vector<std::string> reported;
  const std::thread::id caller = std::this_thread::get_id();
  FolderChanges changes = threaded.Rescan([&](const LoadedFile& file, int loaded, int to_load) {
    EXPECT_EQ(std::this_thread::get_id(), caller);
    EXPECT_EQ(loaded, static_cast<int>(reported.size()) + 1);
    EXPECT_EQ(to_load, 50);
    reported.push_back(file.path);
  });
  EXPECT_EQ(Describe(threaded, changes), expected);

  EXPECT_FALSE(recorder->hold_timed_out);
  const std::vector<std::string> order = recorder->Validated();
  const auto pos = [&](const std::string& name) {
    return std::find(order.begin(), order.end(), dir_ + "/" + name) - order.begin();
  };
  ASSERT_LT(pos("f40.yaml"), pos("f03.yaml")) << "the test no longer reorders the parses";
  ASSERT_NE(threaded.Find("shared"), nullptr);
  EXPECT_EQ(threaded.Find("shared")->file, dir_ + "/f03.yaml");
  EXPECT_THAT(expected, HasSubstr("f20.yaml -> (none)\n    " + dir_ +
                                  "/f20.yaml: id: DAG id 'shared' is already defined in " + dir_ +
                                  "/f03.yaml"));
  EXPECT_THAT(expected, HasSubstr("f07.yaml -> (none)\n    " + dir_ + "/f07.yaml:3:1: YAML"));
  EXPECT_THAT(expected, HasSubstr("f30.yaml -> (none)\n    " + dir_ + "/f30.yaml:"));
  EXPECT_EQ(threaded.dags().size(), 50u - 5 - 2);  // 5 broken files, 2 duplicates

  // Observed in path order, one report per file.
  std::vector<std::string> paths;
  for (const LoadedFile& f : sequential.Files()) paths.push_back(f.path);
  EXPECT_THAT(reported, ElementsAreArray(paths));

  // Later rescans stay in step: many edits at once (on the threads), an owner removed, files
  // touched without a change.
  const std::vector<std::function<void()>> edits = {
      [&] {
        for (int i = 0; i < 12; ++i) Write("g" + std::to_string(i) + ".yaml", DagText("g_dag"));
        Write("f07.yaml", DagText("dag_7"));
        Write("f12.yaml", DagText("dag_12", "echo a longer command now"));
        Remove("f03.yaml");
      },
      [&] {
        for (int i = 10; i < 30; ++i) Touch(MixedName(i), 30);
      },
      [&] {
        for (int i = 40; i < 49; ++i) Write(MixedName(i), "tasks: oops\n");
        Remove("f20.yaml");
      },
  };
  for (size_t step = 0; step < edits.size(); ++step) {
    edits[step]();
    const std::string want = Describe(sequential, sequential.Rescan());
    EXPECT_EQ(Describe(threaded, threaded.Rescan()), want) << "after edit " << step;
  }
}

TEST_F(DagFolderTest, RescanAfterOneEditParsesOnlyThatFile) {
  WriteMixedFolder([&](const std::string& name, const std::string& text) { Write(name, text); });
  auto recorder = std::make_shared<RecordingChecker>();
  DagFolder folder(dir_, RecordingChecker::Make(recorder), 4);
  folder.Rescan();
  const size_t checked = recorder->Validated().size();
  ASSERT_GT(checked, 40u);
  const DagPtr untouched = folder.Find("dag_13");

  Write("f12.yaml", DagText("dag_12", "echo a longer command now"));
  std::vector<std::string> reported;
  FolderChanges changes =
      folder.Rescan([&](const LoadedFile& file, int, int) { reported.push_back(file.path); });
  EXPECT_THAT(Ids(changes), ElementsAre("dag_12"));
  EXPECT_THAT(reported, ElementsAre(dir_ + "/f12.yaml"));
  const std::vector<std::string> validated = recorder->Validated();
  ASSERT_EQ(validated.size(), checked + 1);
  EXPECT_EQ(validated.back(), dir_ + "/f12.yaml");
  EXPECT_EQ(folder.Find("dag_13"), untouched);
}

TEST_F(DagFolderTest, ManyTouchedFilesKeepTheirDagsOnTheThreads) {
  for (int i = 0; i < 20; ++i)
    Write("d" + std::to_string(i) + ".yaml", DagText("d" + std::to_string(i)));
  auto recorder = std::make_shared<RecordingChecker>();
  DagFolder folder(dir_, RecordingChecker::Make(recorder), 4);
  folder.Rescan();
  const DagPtr before = folder.Find("d7");
  for (int i = 0; i < 20; ++i) Touch("d" + std::to_string(i) + ".yaml", 10);
  int reports = 0;
  EXPECT_FALSE(folder
                   .Rescan([&](const LoadedFile& f, int, int) {
                     EXPECT_NE(f.dag, nullptr);  // the kept load
                     ++reports;
                   })
                   .any());
  EXPECT_EQ(reports, 20);
  EXPECT_EQ(folder.Find("d7"), before);
  EXPECT_THAT(recorder->Validated(), SizeIs(20));  // parsed once, at the first rescan
}

TEST(DagFolderParallelismTest, DefaultFollowsTheHardwareWithinLimits) {
  EXPECT_THAT(DagFolder::DefaultParallelism(), ::testing::AllOf(::testing::Ge(1), Le(8)));
}

}  // namespace
}  // namespace sp::dag
