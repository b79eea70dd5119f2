// DagFolder: keeps the DAGs of a folder in step with its files. A rescan lists the folder and
// stats each file; only a file whose size or mtime moved is read, and only one whose bytes
// changed is parsed again, so an idle rescan costs one stat per file. Reading, fingerprinting and
// parsing a changed file touch nothing but that file's ChangedFile, which is what lets them run
// on several threads; everything that looks at more than one file happens after, in path order.
#include "dag/dag_folder.h"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <thread>
#include <utility>

#include "common/file_text.h"
#include "dag/internal/fingerprint.h"
#include "dag/internal/ordered_parallel_for.h"

namespace sp::dag {
namespace {

namespace fs = std::filesystem;

bool IsDagFileName(const std::string& name) {
  auto ends_with = [&](std::string_view suffix) {
    return name.size() > suffix.size() &&
           name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  return ends_with(".yaml") || ends_with(".yml");
}

// The DAG files under `dir`, skipping hidden files and folders. False if the listing failed
// part way (a missing folder is an empty listing, not a failure).
bool ListDagFiles(const std::string& dir, std::vector<std::string>* out) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return true;
  fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec);
  for (const fs::recursive_directory_iterator end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    std::error_code type_ec;
    if (!name.empty() && name[0] == '.') {
      if (it->is_directory(type_ec)) it.disable_recursion_pending();
      continue;
    }
    if (IsDagFileName(name) && it->is_regular_file(type_ec)) out->push_back(it->path().string());
  }
  return !ec;
}

// A file whose size or mtime moved since the last rescan (or a new one).
struct ChangedFile {
  std::string path;
  int64_t size = 0;
  int64_t mtime_ns = 0;
  DagPtr previous_dag;  // what the file loaded last time, if it loaded
  // Set by LoadChangedFile:
  bool same_bytes = false;  // touched only: keep the previous load
  LoadedFile loaded;        // otherwise the new load result
};

// Reads, fingerprints and parses one changed file. Safe to run for different files at once:
// it writes only `*f` and reads `checker`, whose callbacks must allow concurrent calls.
void LoadChangedFile(const TaskTypeChecker& checker, ChangedFile* f) {
  Result<std::string> text = ReadFileText(f->path, "DAG file");
  if (!text.ok()) {
    f->loaded.path = f->path;
    f->loaded.errors.push_back(
        DagError{SourceLocation{f->path, 0, 0}, "", text.status().message()});
    return;
  }
  if (f->previous_dag && f->previous_dag->fingerprint == internal::Fingerprint(*text)) {
    f->same_bytes = true;
    return;
  }
  f->loaded = LoadDagText(*text, f->path, checker);
}

}  // namespace

int DagFolder::DefaultParallelism() {
  return std::clamp(static_cast<int>(std::thread::hardware_concurrency()), 1, 8);
}

DagFolder::DagFolder(std::string dir, TaskTypeChecker checker, int parallelism)
    : dir_(std::move(dir)), checker_(std::move(checker)), parallelism_(std::max(parallelism, 1)) {}

FolderChanges DagFolder::Rescan() {
  return Rescan(nullptr);
}

FolderChanges DagFolder::Rescan(const FileLoadedObserver& on_loaded) {
  FolderChanges changes;
  std::vector<std::string> paths;
  // A listing that failed part way would look like deleted files; keep what we have instead.
  if (!ListDagFiles(dir_, &paths)) return changes;
  std::sort(paths.begin(), paths.end());  // the observer sees files in path order

  // Stat everything first (cheap, here); only the files that moved are read.
  std::set<std::string> present;
  std::vector<ChangedFile> changed;
  for (const std::string& path : paths) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) continue;  // removed since the listing
    present.insert(path);
    const int64_t size = st.st_size;
    const int64_t mtime_ns = int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec;
    auto it = files_.find(path);
    // Same size and mtime: unchanged. (A rewrite of the same size within one mtime tick of
    // the filesystem is missed until the next change; editors replace files, which moves it.)
    if (it != files_.end() && it->second.size == size && it->second.mtime_ns == mtime_ns) {
      continue;
    }
    changed.push_back(
        ChangedFile{path, size, mtime_ns, it != files_.end() ? it->second.loaded.dag : nullptr});
  }

  // Read and parse the changed files, on several threads when there are enough of them to pay
  // for starting threads. Each result lands in its own slot; nothing here depends on which
  // finishes first.
  const int count = static_cast<int>(changed.size());
  const int threads = count < kMinFilesForThreads ? 1 : parallelism_;
  std::function<void(int)> report;
  if (on_loaded) {
    report = [&](int i) {
      const ChangedFile& f = changed[i];
      on_loaded(f.same_bytes ? files_.at(f.path).loaded : f.loaded, i + 1, count);
    };
  }
  internal::OrderedParallelFor(
      count, threads, [&](int i) { LoadChangedFile(checker_, &changed[i]); }, report);

  // Merge, in path order.
  for (ChangedFile& f : changed) {
    if (f.same_bytes) {
      FileState& state = files_.at(f.path);  // touched, same bytes: keep the loaded DAG
      state.size = f.size;
      state.mtime_ns = f.mtime_ns;
      continue;
    }
    files_[f.path] = FileState{f.size, f.mtime_ns, std::move(f.loaded)};
  }
  for (auto it = files_.begin(); it != files_.end();) {
    it = present.count(it->first) ? std::next(it) : files_.erase(it);
  }

  // Who owns each DAG id: the current owner keeps it while its file still declares it; a free
  // id goes to the first file by path.
  std::map<std::string, DagPtr> owners;
  for (const auto& [id, dag] : dags_) {
    auto f = files_.find(dag->file);
    if (f != files_.end() && f->second.loaded.dag && f->second.loaded.dag->id == id) {
      owners[id] = f->second.loaded.dag;
    }
  }
  for (const auto& [path, state] : files_) {
    if (state.loaded.dag) owners.emplace(state.loaded.dag->id, state.loaded.dag);
  }

  for (const auto& [id, dag] : owners) {
    auto old = dags_.find(id);
    if (old == dags_.end() || old->second != dag) changes.added_or_changed.push_back(dag);
  }
  for (const auto& [id, dag] : dags_) {
    if (!owners.count(id)) changes.removed_dag_ids.push_back(id);
  }
  dags_ = std::move(owners);
  return changes;
}

std::vector<LoadedFile> DagFolder::Files() const {
  std::vector<LoadedFile> out;
  out.reserve(files_.size());
  for (const auto& [path, state] : files_) {
    LoadedFile f = state.loaded;
    if (f.dag) {
      auto owner = dags_.find(f.dag->id);
      if (owner != dags_.end() && owner->second != f.dag) {
        f.errors.push_back(DagError{SourceLocation{path, 0, 0}, "id",
                                    "DAG id '" + f.dag->id + "' is already defined in " +
                                        owner->second->file +
                                        "; this file is ignored until one of them is renamed"});
        f.dag = nullptr;
      }
    }
    out.push_back(std::move(f));
  }
  return out;
}

DagPtr DagFolder::Find(const std::string& dag_id) const {
  auto it = dags_.find(dag_id);
  return it == dags_.end() ? nullptr : it->second;
}

}  // namespace sp::dag
