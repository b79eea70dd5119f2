// Notebook state files; see notebook_state.h.
#include "notebook/notebook_state.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace sp::notebook {

namespace fs = std::filesystem;
using nlohmann::json;

Status ValidateNotebookName(const std::string& name) {
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  bool ok = !name.empty() && name.size() <= 40 && alnum(name.front()) && alnum(name.back()) &&
            std::all_of(name.begin(), name.end(), [&](char c) { return alnum(c) || c == '-'; });
  if (ok) return OkStatus();
  return InvalidArgumentError(
      "notebook name: expected 1-40 of [a-z0-9-], starting and ending "
      "with a letter or digit; got '" +
      name + "'");
}

NotebookPaths NotebookPaths::For(const std::string& data_dir, const std::string& name) {
  NotebookPaths p;
  p.dir = (fs::path(Root(data_dir)) / name).string();
  p.state_file = p.dir + "/state.json";
  p.runtime_dir = p.dir + "/runtime";
  p.jupyter_dir = p.dir + "/jupyter";
  p.spark_dir = p.dir + "/spark";
  p.files_dir = p.dir + "/files";
  p.logs_dir = p.dir + "/logs";
  return p;
}

std::string NotebookPaths::Root(const std::string& data_dir) {
  return (fs::path(data_dir) / "notebooks").string();
}

std::string NotebookState::JupyterUrl() const {
  return "http://127.0.0.1:" + std::to_string(jupyter_port) + "/lab";
}

std::string NotebookState::JupyterUrlWithToken() const {
  return JupyterUrl() + "?token=" + jupyter_token;
}

std::string NotebookState::SparkRemote() const {
  return "sc://localhost:" + std::to_string(connect_port);
}

json NotebookState::ToJson() const {
  json j = {{"name", name},
            {"phase", phase},
            {"cluster", cluster},
            {"master_url", master_url},
            {"root_dir", root_dir},
            {"marker", marker},
            {"jupyter_port", jupyter_port},
            {"connect_port", connect_port},
            {"jupyter_token", jupyter_token},
            {"connect_token", connect_token},
            {"owner", owner.ToJson()},
            {"created_ms", ToUnixMillis(created)},
            {"idle_timeout_ms", idle_timeout.count()}};
  if (jupyter) j["jupyter"] = jupyter->ToJson();
  if (connect) j["connect"] = connect->ToJson();
  if (ready_at) j["ready_ms"] = ToUnixMillis(*ready_at);
  if (deadline) j["deadline_ms"] = ToUnixMillis(*deadline);
  return j;
}

Result<NotebookState> NotebookState::FromJson(const json& j) {
  if (!j.is_object() || !j.contains("name") || !j["name"].is_string()) {
    return FailedPreconditionError("notebook state: expected an object with a name");
  }
  NotebookState s;
  try {
    s.name = j.value("name", "");
    s.phase = j.value("phase", "");
    s.cluster = j.value("cluster", "");
    s.master_url = j.value("master_url", "");
    s.root_dir = j.value("root_dir", "");
    s.marker = j.value("marker", "");
    s.jupyter_port = j.value("jupyter_port", 0);
    s.connect_port = j.value("connect_port", 0);
    s.jupyter_token = j.value("jupyter_token", "");
    s.connect_token = j.value("connect_token", "");
    s.created = FromUnixMillis(j.value("created_ms", int64_t{0}));
    s.idle_timeout = Millis(j.value("idle_timeout_ms", int64_t{0}));
    if (j.contains("ready_ms")) s.ready_at = FromUnixMillis(j["ready_ms"].get<int64_t>());
    if (j.contains("deadline_ms")) s.deadline = FromUnixMillis(j["deadline_ms"].get<int64_t>());
  } catch (const json::exception& e) {
    return FailedPreconditionError(std::string("notebook state: ") + e.what());
  }
  if (j.contains("owner")) {
    ASSIGN_OR_RETURN(s.owner, executor::ProcessHandle::FromJson(j["owner"]));
  }
  if (j.contains("jupyter")) {
    ASSIGN_OR_RETURN(s.jupyter, executor::ProcessHandle::FromJson(j["jupyter"]));
  }
  if (j.contains("connect")) {
    ASSIGN_OR_RETURN(s.connect, executor::ProcessHandle::FromJson(j["connect"]));
  }
  return s;
}

Status WriteState(const std::string& path, const NotebookState& state) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return UnavailableError("cannot write " + tmp + ": " + std::strerror(errno));
  std::string body = state.ToJson().dump(2) + "\n";
  bool ok = ::write(fd, body.data(), body.size()) == static_cast<ssize_t>(body.size());
  ok = ::close(fd) == 0 && ok;
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    return UnavailableError("cannot write " + path + ": " + std::strerror(errno));
  }
  return OkStatus();
}

Result<NotebookState> ReadState(const std::string& path) {
  std::ifstream in(path);
  if (!in) return NotFoundError("no notebook state at " + path);
  json j = json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return FailedPreconditionError(path + ": not JSON");
  Result<NotebookState> s = NotebookState::FromJson(j);
  if (!s.ok()) return s.status().With(path);
  return s;
}

std::vector<NotebookState> ListStates(const std::string& data_dir) {
  std::vector<NotebookState> out;
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(NotebookPaths::Root(data_dir), ec)) {
    Result<NotebookState> s = ReadState((e.path() / "state.json").string());
    if (s.ok()) out.push_back(std::move(*s));
  }
  std::sort(out.begin(), out.end(),
            [](const NotebookState& a, const NotebookState& b) { return a.name < b.name; });
  return out;
}

Status CreateNotebookDirs(const NotebookPaths& p) {
  std::error_code ec;
  fs::create_directories(NotebookPaths::Root(fs::path(p.dir).parent_path().parent_path()), ec);
  for (const std::string& d : {p.dir, p.runtime_dir, p.jupyter_dir, p.spark_dir, p.logs_dir}) {
    fs::create_directories(d, ec);
    if (ec) return UnavailableError("cannot create " + d + ": " + ec.message());
  }
  for (const std::string& d : {p.dir, p.runtime_dir}) {
    if (::chmod(d.c_str(), 0700) != 0) {
      return UnavailableError("cannot chmod " + d + ": " + std::strerror(errno));
    }
  }
  return OkStatus();
}

}  // namespace sp::notebook
