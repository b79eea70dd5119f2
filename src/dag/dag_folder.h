// DagFolder: the set of DAG files in a dags folder, re-scanned while the server runs.
// Rescan() reloads only files whose size/mtime/content changed, drops removed files and reports
// what changed. Duplicate DAG ids across files: the file loaded first keeps the id; the other
// gets an error naming both files.
//
// A rescan stats every file on the calling thread, then reads and parses the changed ones on up
// to `parallelism` threads it starts and joins before returning (the calling thread is one of
// them; fewer than kMinFilesForThreads changed files are parsed on the calling thread alone),
// then merges the results in path order: what it reports and which file keeps a duplicate id
// never depend on which parse finished first.
//
// Thread safety: not thread-safe; owned by the scheduler's loop (or the CLI). The checker's
// `field_names` and `validate` are called concurrently from Rescan()'s threads, so they must be
// safe to call concurrently — read-only, as the operators registry's checker is (the registry
// is immutable once built and TaskType::Validate is const and touches no shared state).
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "dag/loader.h"

namespace sp::dag {

struct FolderChanges {
  std::vector<DagPtr> added_or_changed;
  std::vector<std::string> removed_dag_ids;
  bool any() const { return !added_or_changed.empty() || !removed_dag_ids.empty(); }
};

class DagFolder {
 public:
  // Below this many changed files a rescan starts no threads: the server's periodic rescans,
  // which see a file or two, pay no thread start.
  static constexpr int kMinFilesForThreads = 8;
  // The hardware's threads, clamped to [1, 8].
  static int DefaultParallelism();

  // `parallelism`: how many threads parse changed files at once, the calling thread included
  // (values below 1 count as 1).
  DagFolder(std::string dir, TaskTypeChecker checker, int parallelism = DefaultParallelism());

  // Scans *.yaml and *.yml files (not recursive into hidden dirs). A missing folder is empty.
  FolderChanges Rescan();

  // Called on the thread that called Rescan(), in path order, for each file read in this
  // rescan (new, or its size or mtime moved), as soon as that file and the ones before it are
  // loaded — while later files may still be parsing: `loaded` of `to_load` (1-based). `file` is
  // the file's own load result, before duplicate ids across files are resolved (a DAG whose id
  // another file keeps is reported here with its DAG; Files() flags it). For a progress report
  // while a large folder loads; the FolderChanges Rescan() returns stay what to act on.
  using FileLoadedObserver = std::function<void(const LoadedFile& file, int loaded, int to_load)>;
  // Same as Rescan(), reporting each file read to `on_loaded` (may be empty).
  FolderChanges Rescan(const FileLoadedObserver& on_loaded);

  const std::map<std::string, DagPtr>& dags() const { return dags_; }  // by dag id
  // Every file's load result, including broken files, sorted by path.
  std::vector<LoadedFile> Files() const;
  DagPtr Find(const std::string& dag_id) const;

 private:
  struct FileState {
    int64_t size = -1;
    int64_t mtime_ns = -1;
    LoadedFile loaded;
  };
  std::string dir_;
  TaskTypeChecker checker_;
  int parallelism_;
  std::map<std::string, FileState> files_;  // by path
  std::map<std::string, DagPtr> dags_;      // by dag id
};

}  // namespace sp::dag
