// DagFolder: keeps the DAGs of a folder in step with its files. A rescan lists the folder and
// stats each file; only a file whose size or mtime moved is read, and only one whose bytes
// changed is parsed again, so an idle rescan costs one stat per file.
#include "dag/dag_folder.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <utility>

#include "dag/internal/fingerprint.h"

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

bool ReadFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in.is_open()) return false;
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) return false;
  *out = std::move(buf).str();
  return true;
}

}  // namespace

DagFolder::DagFolder(std::string dir, TaskTypeChecker checker)
    : dir_(std::move(dir)), checker_(std::move(checker)) {}

FolderChanges DagFolder::Rescan() {
  FolderChanges changes;
  std::vector<std::string> paths;
  // A listing that failed part way would look like deleted files; keep what we have instead.
  if (!ListDagFiles(dir_, &paths)) return changes;

  std::set<std::string> present;
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
    std::string text;
    if (!ReadFile(path, &text)) {
      LoadedFile broken;
      broken.path = path;
      broken.errors.push_back(DagError{SourceLocation{path, 0, 0}, "", "cannot read the file"});
      files_[path] = FileState{size, mtime_ns, std::move(broken)};
      continue;
    }
    if (it != files_.end() && it->second.loaded.dag &&
        it->second.loaded.dag->fingerprint == internal::Fingerprint(text)) {
      it->second.size = size;  // touched, same bytes: keep the loaded DAG
      it->second.mtime_ns = mtime_ns;
      continue;
    }
    files_[path] = FileState{size, mtime_ns, LoadDagText(text, path, checker_)};
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
