// DagFolder: the set of DAG files in a dags folder, re-scanned while the server runs.
// Rescan() reloads only files whose size/mtime/content changed, drops removed files and reports
// what changed. Duplicate DAG ids across files: the file loaded first keeps the id; the other
// gets an error naming both files.
//
// Thread safety: not thread-safe; owned by the scheduler's loop (or the CLI).
#pragma once

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
  DagFolder(std::string dir, TaskTypeChecker checker);

  // Scans *.yaml and *.yml files (not recursive into hidden dirs). A missing folder is empty.
  FolderChanges Rescan();

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
  std::map<std::string, FileState> files_;  // by path
  std::map<std::string, DagPtr> dags_;      // by dag id
};

}  // namespace sp::dag
