// Test harness for integration tests that drive the real `sparkplane` binary: temp data dirs,
// running CLI commands, and a server fixture that always kills its process group, even when an
// assertion fails.
#pragma once

#include <dirent.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace sp::testing {

namespace fs = std::filesystem;

// A fresh directory under /tmp, removed at the end.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "sptest-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline void WriteFile(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path) << text;
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
  nlohmann::json Json() const { return nlohmann::json::parse(out, nullptr, false); }
};

// Runs `sparkplane --data-dir DATA ARGS...` and captures stdout and stderr separately.
// `input`, when given, is the command's standard input (else it inherits the test's).
inline CommandResult Sparkplane(const std::string& data_dir, std::vector<std::string> args,
                                const std::optional<std::string>& input = std::nullopt) {
  std::vector<std::string> argv = {SP_BINARY, "--data-dir", data_dir};
  argv.insert(argv.end(), args.begin(), args.end());
  fs::path out_file = fs::path(data_dir) / ".cmd.out", err_file = fs::path(data_dir) / ".cmd.err";
  fs::path in_file = fs::path(data_dir) / ".cmd.in";
  if (input) WriteFile(in_file, *input);
  pid_t pid = ::fork();
  if (pid == 0) {
    if (input && std::freopen(in_file.c_str(), "r", stdin) == nullptr) _exit(126);
    std::FILE* o = std::freopen(out_file.c_str(), "w", stdout);
    std::FILE* e = std::freopen(err_file.c_str(), "w", stderr);
    (void)o;
    (void)e;
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    ::execv(cargv[0], cargv.data());
    _exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  CommandResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = ReadFile(out_file);
  r.err = ReadFile(err_file);
  if (input) fs::remove(in_file);  // it may hold a secret
  return r;
}

// Polls `cond` every 20 ms until it holds or `timeout` passes.
inline bool WaitFor(const std::function<bool()>& cond,
                    std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return cond();
}

// Forks and execs `sparkplane --data-dir DATA_DIR ARGS...` as the leader of a new process group,
// stdout to `out` and stderr to `err` (appended, or truncated first); its pid. A `wrapper`
// (a command and its options, found through PATH) runs it instead: WRAPPER... sparkplane ...
inline pid_t SpawnSparkplane(const std::string& data_dir, const std::vector<std::string>& args,
                             const std::string& out, const std::string& err, bool append,
                             const std::vector<std::string>& wrapper = {}) {
  pid_t pid = ::fork();
  if (pid == 0) {
    ::setpgid(0, 0);
    const char* mode = append ? "a" : "w";
    std::FILE* o = std::freopen(out.c_str(), mode, stdout);
    std::FILE* e = out == err ? std::freopen(out.c_str(), "a", stderr)
                              : std::freopen(err.c_str(), mode, stderr);
    (void)o;
    (void)e;
    std::vector<std::string> argv = wrapper;
    argv.insert(argv.end(), {SP_BINARY, "--data-dir", data_dir});
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    ::execvp(cargv[0], cargv.data());
    _exit(127);
  }
  ::setpgid(pid, pid);
  return pid;
}

// The control sockets of a data directory's server: sparkplane.sock, or sparkplane.HOST.sock on a
// PostgreSQL store (cli/config.h).
inline std::vector<fs::path> ServerSockets(const std::string& data_dir) {
  std::vector<fs::path> found;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(data_dir + "/history/scheduler", ec)) {
    std::string name = e.path().filename().string();
    if (name.starts_with("sparkplane") && name.ends_with(".sock")) found.push_back(e.path());
  }
  return found;
}

// Removes the socket files a killed server left, before another server starts in `data_dir`.
inline void RemoveServerSockets(const std::string& data_dir) {
  for (const fs::path& old : ServerSockets(data_dir)) ::unlink(old.c_str());
}

// A `sparkplane server` child in its own process group; killed (group) on destruction.
// `extra_args` go after `server`; without them the HTTP server is off, so that tests running
// in parallel do not compete for its default port.
class ServerProcess {
 public:
  explicit ServerProcess(std::string data_dir,
                         std::vector<std::string> extra_args = {"--http-address", "off"})
      : data_dir_(std::move(data_dir)), extra_args_(std::move(extra_args)) {}
  ~ServerProcess() { Kill(SIGKILL); }

  void Start() {
    std::string log = data_dir_ + "/server.log";
    RemoveServerSockets(data_dir_);  // a killed server's socket file is no sign of this one

    std::vector<std::string> args = {"server"};
    args.insert(args.end(), extra_args_.begin(), extra_args_.end());
    pid_ = SpawnSparkplane(data_dir_, args, log, log, /*append=*/true);
    ASSERT_TRUE(
        WaitFor([&] { return !ServerSockets(data_dir_).empty(); }, std::chrono::seconds(20)))
        << "server did not start; log:\n"
        << ReadFile(log);
  }

  // SIGKILL only the server process (not its task children, which live in their own groups).
  void Kill(int sig) {
    if (pid_ <= 0) return;
    ::kill(pid_, sig);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = 0;
  }

  // Graceful stop: SIGTERM and wait.
  void Stop() { Kill(SIGTERM); }

  pid_t pid() const { return pid_; }
  std::string Log() const { return ReadFile(data_dir_ + "/server.log"); }

 private:
  std::string data_dir_;
  std::vector<std::string> extra_args_;
  pid_t pid_ = 0;
};

// The state of a run, from `runs show --json`.
inline nlohmann::json ShowRun(const std::string& data_dir, const std::string& dag,
                              const std::string& run_id) {
  CommandResult r = Sparkplane(data_dir, {"runs", "show", dag, run_id, "--json"});
  return r.exit_code == 0 ? r.Json() : nlohmann::json();
}

inline bool RunIsTerminal(const nlohmann::json& run) {
  if (!run.is_object()) return false;
  std::string s = run.value("state", "");
  return s == "success" || s == "failed" || s == "cancelled";
}

inline std::string TaskState(const nlohmann::json& run, const std::string& task) {
  if (!run.is_object() || !run.contains("tasks")) return "";
  for (const auto& t : run["tasks"]) {
    if (t.value("task_id", "") == task) return t.value("state", "");
  }
  return "";
}

// Every pid in a cluster handle (master and workers), wherever it sits in the JSON.
inline void CollectPids(const nlohmann::json& j, std::vector<int>* out) {
  if (j.is_object()) {
    for (const auto& [k, v] : j.items()) {
      if (k == "pid" && v.is_number_integer()) out->push_back(v.get<int>());
      CollectPids(v, out);
    }
  } else if (j.is_array()) {
    for (const auto& v : j) CollectPids(v, out);
  }
}

// A process's command line with spaces between the arguments ("" once it is gone).
inline std::string CommandLineOf(pid_t pid) {
  std::string cmdline = ReadFile("/proc/" + std::to_string(pid) + "/cmdline");
  std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
  return cmdline;
}

// Pids of processes whose command line mentions `needle` (the test's temp dir), other than us;
// with `everywhere`, also those whose environment or working directory does.
inline std::vector<pid_t> ProcessesMentioning(const std::string& needle, bool everywhere = false) {
  std::vector<pid_t> found;
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return found;
  while (dirent* e = ::readdir(proc)) {
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (*end != '\0' || pid <= 0 || pid == ::getpid()) continue;
    const std::string dir = "/proc/" + std::string(e->d_name);
    bool mentions = CommandLineOf(static_cast<pid_t>(pid)).find(needle) != std::string::npos;
    if (!mentions && everywhere) {
      std::error_code ec;
      mentions = ReadFile(dir + "/environ").find(needle) != std::string::npos ||
                 fs::read_symlink(dir + "/cwd", ec).string().find(needle) != std::string::npos;
    }
    if (mentions) found.push_back(static_cast<pid_t>(pid));
  }
  ::closedir(proc);
  return found;
}

// "PID: command line" of each process, for messages.
inline std::vector<std::string> Describe(const std::vector<pid_t>& pids) {
  std::vector<std::string> out;
  for (pid_t pid : pids)
    out.push_back(std::to_string(pid) + ": " + CommandLineOf(pid).substr(0, 200));
  return out;
}

}  // namespace sp::testing
