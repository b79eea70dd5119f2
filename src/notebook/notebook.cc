// Notebooks on a local cluster; see notebook.h.
#include "notebook/notebook.h"

#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "common/file_text.h"
#include "notebook/internal/cluster_try.h"
#include "notebook/notebook_processes.h"

namespace sp::notebook {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr Millis kJupyterGrace{5000};
constexpr Millis kConnectGrace{10000};

// The last lines of a log, for an error that names why a server did not start.
std::string Tail(const std::string& path, size_t max_chars = 1500) {
  Result<std::string> read = ReadFileText(path, "log");
  std::string text = read.ok() ? std::move(*read) : std::string();
  if (text.size() > max_chars) text = "..." + text.substr(text.size() - max_chars);
  return text;
}

// The transient parts of a notebook dir (tokens, temp files); files/, logs/ and jupyter/ stay.
void RemoveTransient(const NotebookPaths& paths) {
  std::error_code ec;
  fs::remove(paths.state_file, ec);
  fs::remove_all(paths.runtime_dir, ec);
  fs::remove_all(paths.spark_dir, ec);
}

}  // namespace

std::string Describe(EndReason r) {
  switch (r) {
    case EndReason::kStopRequested:
      return "a stop was requested";
    case EndReason::kJupyterExited:
      return "Jupyter exited (its idle shutdown, or it was stopped)";
    case EndReason::kIdle:
      return "it was idle for its idle timeout";
    case EndReason::kMaxAge:
      return "its max age was reached";
    case EndReason::kConnectExited:
      return "the Spark Connect server exited";
  }
  return "?";
}

// The notebook's children, with their exits as flags the exit callbacks set.
struct Notebook::Children {
  std::optional<executor::ProcessHandle> jupyter;
  std::optional<executor::ProcessHandle> connect;
  std::atomic<bool> jupyter_exited{false};
  std::atomic<bool> connect_exited{false};
};

Notebook::Notebook(const operators::Services* services, operators::TaskTypeRegistry* registry,
                   NotebookHost host, std::function<void(const std::string&)> progress)
    : services_(services),
      registry_(registry),
      host_(std::move(host)),
      progress_(std::move(progress)),
      children_(std::make_shared<Children>()) {}

Notebook::~Notebook() {
  if (started_) (void)Stop();
}

Status Notebook::SaveState() {
  return WriteState(paths_.state_file, state_);
}

Result<json> Notebook::RunClusterTry(json fields, const std::function<bool(Millis)>* wait_stop) {
  return internal::RunClusterTry(services_, registry_, std::move(fields), wait_stop, progress_);
}

Result<NotebookState> Notebook::Start(const NotebookRequest& r,
                                      const std::function<bool(Millis)>& wait_stop) {
  RETURN_IF_ERROR(ValidateNotebookName(r.name));
  if (host_.spark_home.empty()) {
    return FailedPreconditionError(
        "Spark is not installed: run scripts/setup.sh or set SPARK_HOME");
  }
  if (host_.python.empty()) {
    return FailedPreconditionError(
        "no Python with JupyterLab: run scripts/setup.sh (it installs it into .venv) or set "
        "python in sparkplane.yaml");
  }
  paths_ = NotebookPaths::For(host_.data_dir, r.name);
  if (Result<NotebookState> old = ReadState(paths_.state_file); old.ok()) {
    if (executor::CheckProcess(old->owner) == executor::ProcessLiveness::kRunning) {
      return AlreadyExistsError("notebook '" + r.name + "' is already running (owner pid " +
                                std::to_string(old->owner.pid) + "): " + old->JupyterUrl());
    }
    progress_("[sparkplane] cleaning up what is left of an earlier notebook '" + r.name + "'");
    RETURN_IF_ERROR(TearDown(*old, paths_, host_.cluster_delete_command));
  }
  RETURN_IF_ERROR(CreateNotebookDirs(paths_));

  const Time now = services_->clock->Now();
  state_ = NotebookState{};
  state_.name = r.name;
  state_.phase = "starting";
  state_.cluster = "notebook-" + r.name;
  state_.root_dir = r.root_dir.empty() ? paths_.files_dir : r.root_dir;
  std::error_code ec;
  fs::create_directories(state_.root_dir, ec);
  if (ec) return UnavailableError("cannot create " + state_.root_dir + ": " + ec.message());
  ASSIGN_OR_RETURN(state_.jupyter_token, RandomToken());
  ASSIGN_OR_RETURN(state_.connect_token, RandomToken());
  ASSIGN_OR_RETURN(std::string nonce, RandomToken());
  state_.marker = r.name + "-" + nonce.substr(0, 16);
  ASSIGN_OR_RETURN(state_.jupyter_port, PickFreePort());
  ASSIGN_OR_RETURN(state_.connect_port, PickFreePort());
  while (state_.connect_port == state_.jupyter_port) {
    ASSIGN_OR_RETURN(state_.connect_port, PickFreePort());
  }
  state_.owner = executor::CurrentProcess();
  state_.created = now;
  state_.idle_timeout = r.idle_timeout;
  if (r.max_age_ms.count() > 0) state_.deadline = now + r.max_age_ms;
  // The state file exists before anything starts, so the guard and `notebook stop` know it all.
  RETURN_IF_ERROR(SaveState());
  started_ = true;

  auto fail = [&](Status s) -> Status {
    progress_("[sparkplane] " + s.message() + "; stopping what was started");
    (void)Stop();
    return s;
  };

  if (!host_.guard_command.empty()) {
    NotebookGuardOptions g;
    g.state_file = paths_.state_file;
    g.owner = state_.owner;
    g.cluster_delete_command = host_.cluster_delete_command;
    std::vector<std::string> argv = host_.guard_command;
    argv.push_back("--");
    for (std::string& a : NotebookGuardArgs(g)) argv.push_back(std::move(a));
    argv.insert(argv.end(), {"--log", paths_.logs_dir + "/guard.log"});
    Result<executor::CommandOutput> out = executor::RunCommand(argv, Millis(10000));
    if (!out.ok()) return fail(out.status().With("starting the notebook guard"));
    if (out->exit_code != 0) {
      return fail(UnavailableError("the notebook guard did not start: " + out->output));
    }
  }

  // Jupyter first: it needs nothing from Spark to start, and starts while the cluster does.
  std::shared_ptr<Children> children = children_;
  LaunchSpec jupyter = JupyterSpec(host_.python, state_, paths_, host_.allow_root);
  executor::SpawnSpec js;
  js.argv = jupyter.argv;
  js.env = jupyter.env;
  js.cwd = state_.root_dir;
  js.output_path = paths_.logs_dir + "/jupyter.log";
  Result<executor::ProcessHandle> jh = services_->processes->Spawn(
      js, [children](const executor::ExitInfo&) { children->jupyter_exited = true; });
  if (!jh.ok()) return fail(jh.status().With("starting JupyterLab"));
  children_->jupyter = *jh;
  state_.jupyter = *jh;
  if (Status s = SaveState(); !s.ok()) return fail(s);
  progress_("[sparkplane] JupyterLab starting on 127.0.0.1:" + std::to_string(state_.jupyter_port));

  json fields = {
      {"action", "create"}, {"name", state_.cluster}, {"backend", "local"}, {"workers", r.workers}};
  if (r.worker_cores > 0) fields["worker_cores"] = r.worker_cores;
  if (!r.worker_memory.empty()) fields["worker_memory"] = r.worker_memory;
  if (!r.max_age.empty()) fields["max_age"] = r.max_age;
  // The cluster's idle timeout is a backstop: the Connect server is an application, so the
  // cluster is idle only once Connect is gone; the slack covers Connect's start.
  if (r.idle_timeout.count() > 0) {
    fields["idle_timeout"] = std::to_string((r.idle_timeout + Millis(60000)).count()) + "ms";
  }
  cluster_created_ = true;  // from here on, Stop deletes it (idempotent when nothing was made)
  Result<json> created = RunClusterTry(fields, &wait_stop);
  if (!created.ok()) return fail(created.status().With("creating cluster " + state_.cluster));
  state_.master_url = created->value("master_url", "");
  if (state_.master_url.empty()) return fail(InternalError("the cluster has no master_url"));

  LaunchSpec connect =
      ConnectServerSpec(host_.spark_home, state_, paths_, host_.data_dir + "/history/spark");
  executor::SpawnSpec cs;
  cs.argv = connect.argv;
  cs.env = connect.env;
  if (!host_.python.empty()) cs.env["PYSPARK_PYTHON"] = host_.python;
  cs.cwd = paths_.spark_dir;
  cs.output_path = paths_.logs_dir + "/connect.log";
  fs::create_directories(paths_.spark_dir + "/tmp", ec);
  fs::create_directories(paths_.spark_dir + "/local", ec);
  Result<executor::ProcessHandle> ch = services_->processes->Spawn(
      cs, [children](const executor::ExitInfo&) { children->connect_exited = true; });
  if (!ch.ok()) return fail(ch.status().With("starting the Spark Connect server"));
  children_->connect = *ch;
  state_.connect = *ch;
  if (Status s = SaveState(); !s.ok()) return fail(s);
  progress_("[sparkplane] Spark Connect server starting on 127.0.0.1:" +
            std::to_string(state_.connect_port));

  const Time give_up = services_->clock->Now() + r.ready_timeout;
  bool connect_ready = false, jupyter_ready = false;
  while (!connect_ready || !jupyter_ready) {
    if (children_->jupyter_exited) {
      return fail(UnavailableError("JupyterLab exited while starting; its log (" + paths_.logs_dir +
                                   "/jupyter.log) ends with:\n" +
                                   Tail(paths_.logs_dir + "/jupyter.log")));
    }
    if (children_->connect_exited) {
      return fail(UnavailableError("the Spark Connect server exited while starting; its log (" +
                                   paths_.logs_dir + "/connect.log) ends with:\n" +
                                   Tail(paths_.logs_dir + "/connect.log")));
    }
    if (!connect_ready && PortAccepts(state_.connect_port)) {
      connect_ready = true;
      progress_("[sparkplane] Spark Connect is up");
    }
    if (!jupyter_ready && JupyterStatus(state_.jupyter_port, state_.jupyter_token).ok()) {
      jupyter_ready = true;
      progress_("[sparkplane] JupyterLab is up");
    }
    if (connect_ready && jupyter_ready) break;
    if (services_->clock->Now() >= give_up) {
      return fail(DeadlineExceededError(
          std::string("the notebook was not ready within the ready timeout (") +
          (connect_ready ? "" : "Spark Connect ") + (jupyter_ready ? "" : "JupyterLab ") +
          "not up)"));
    }
    if (wait_stop(Millis(200))) return fail(CancelledError("notebook start was cancelled"));
  }
  state_.phase = "ready";
  state_.ready_at = services_->clock->Now();
  if (Status s = SaveState(); !s.ok()) return fail(s);
  return state_;
}

EndReason Notebook::Run(const std::function<bool(Millis)>& wait_stop) {
  Time next_idle_check = services_->clock->Now();
  for (;;) {
    if (wait_stop(Millis(500))) return EndReason::kStopRequested;
    if (children_->jupyter_exited) return EndReason::kJupyterExited;
    if (children_->connect_exited) return EndReason::kConnectExited;
    const Time now = services_->clock->Now();
    if (state_.deadline && now >= *state_.deadline) return EndReason::kMaxAge;
    if (state_.idle_timeout.count() > 0 && now >= next_idle_check) {
      next_idle_check = now + std::min<Millis>(Millis(5000), state_.idle_timeout / 4);
      Result<json> status = JupyterStatus(state_.jupyter_port, state_.jupyter_token);
      Result<json> kernels = JupyterKernels(state_.jupyter_port, state_.jupyter_token);
      if (status.ok() && kernels.ok() && JupyterIdle(*status, *kernels, now, state_.idle_timeout)) {
        return EndReason::kIdle;
      }
    }
  }
}

Status Notebook::Stop() {
  if (!started_) return OkStatus();
  state_.phase = "stopping";
  (void)SaveState();
  Status result = OkStatus();
  // Jupyter first, with its kernels: a client whose Connect server vanished blocks for minutes.
  auto stop_child = [&](const std::optional<executor::ProcessHandle>& h,
                        const std::atomic<bool>& exited, Millis grace) {
    if (!h || exited) return;
    services_->processes->Terminate(h->pid, grace);
    auto until = std::chrono::steady_clock::now() + grace + Millis(3000);
    while (!exited && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(Millis(50));
    }
  };
  if (children_->jupyter) progress_("[sparkplane] stopping JupyterLab");
  stop_child(children_->jupyter, children_->jupyter_exited, kJupyterGrace);
  if (!SweepMarked(state_.marker, Millis(3000))) {
    result = UnavailableError("some of notebook '" + state_.name + "''s kernels did not stop");
  }
  if (children_->connect) progress_("[sparkplane] stopping the Spark Connect server");
  stop_child(children_->connect, children_->connect_exited, kConnectGrace);
  (void)SweepMarked(ConnectMarker(state_.marker), Millis(2000));
  if (cluster_created_) {
    progress_("[sparkplane] deleting cluster " + state_.cluster);
    Result<json> deleted = RunClusterTry(
        {{"action", "delete"}, {"name", state_.cluster}, {"backend", "local"}}, nullptr);
    if (!deleted.ok() && result.ok()) result = deleted.status().With("deleting the cluster");
    cluster_created_ = false;
  }
  RemoveTransient(paths_);
  started_ = false;
  return result;
}

Status TearDown(const NotebookState& s, const NotebookPaths& paths,
                const std::vector<std::string>& cluster_delete_command) {
  if (s.jupyter) executor::ProcessSupervisor::TerminateForeign(*s.jupyter, kJupyterGrace);
  Status result = OkStatus();
  if (!SweepMarked(s.marker, Millis(3000))) {
    result = UnavailableError("some of notebook '" + s.name + "''s kernels did not stop");
  }
  if (s.connect) executor::ProcessSupervisor::TerminateForeign(*s.connect, kConnectGrace);
  (void)SweepMarked(ConnectMarker(s.marker), Millis(2000));
  if (!cluster_delete_command.empty() && !s.cluster.empty()) {
    std::vector<std::string> argv = cluster_delete_command;
    argv.push_back(s.cluster);
    Result<executor::CommandOutput> out = executor::RunCommand(argv, Millis(60000));
    if (!out.ok()) {
      if (result.ok()) result = out.status().With("deleting cluster " + s.cluster);
    } else if (out->exit_code != 0 && result.ok()) {
      result = UnavailableError("deleting cluster " + s.cluster + " failed: " + out->output);
    }
  }
  RemoveTransient(paths);
  return result;
}

std::vector<std::string> NotebookGuardArgs(const NotebookGuardOptions& o) {
  std::vector<std::string> args = {"--state-file",  o.state_file,
                                   "--owner-pid",   std::to_string(o.owner.pid),
                                   "--owner-start", std::to_string(o.owner.start_ticks),
                                   "--poll-ms",     std::to_string(o.poll.count())};
  if (!o.cluster_delete_command.empty()) {
    args.push_back("--cluster-delete");
    args.insert(args.end(), o.cluster_delete_command.begin(), o.cluster_delete_command.end());
  }
  return args;
}

Result<NotebookGuardOptions> ParseNotebookGuardArgs(const std::vector<std::string>& args) {
  NotebookGuardOptions o;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& flag = args[i];
    if (flag == "--cluster-delete") {  // the rest of the line
      o.cluster_delete_command.assign(args.begin() + static_cast<long>(i) + 1, args.end());
      break;
    }
    if (i + 1 >= args.size())
      return InvalidArgumentError("notebook guard: " + flag + " needs a value");
    const std::string& v = args[++i];
    try {
      if (flag == "--state-file") {
        o.state_file = v;
      } else if (flag == "--owner-pid") {
        o.owner.pid = static_cast<pid_t>(std::stol(v));
      } else if (flag == "--owner-start") {
        o.owner.start_ticks = std::stoull(v);
      } else if (flag == "--poll-ms") {
        o.poll = Millis(std::max<long>(10, std::stol(v)));
      } else {
        return InvalidArgumentError("notebook guard: unknown flag " + flag);
      }
    } catch (const std::exception&) {
      return InvalidArgumentError("notebook guard: " + flag + " expects a number; got '" + v + "'");
    }
  }
  if (o.state_file.empty() || o.owner.pid <= 0) {
    return InvalidArgumentError("notebook guard: --state-file and --owner-pid are required");
  }
  return o;
}

Result<std::string> RunNotebookGuard(const NotebookGuardOptions& o) {
  for (;; std::this_thread::sleep_for(o.poll)) {
    Result<NotebookState> s = ReadState(o.state_file);
    if (!s.ok() && s.status().code() == StatusCode::kNotFound) return std::string();
    if (executor::CheckProcess(o.owner) == executor::ProcessLiveness::kRunning) continue;
    // The owner may have just finished a normal stop: the file's absence says so.
    s = ReadState(o.state_file);
    if (!s.ok() && s.status().code() == StatusCode::kNotFound) return std::string();
    if (!s.ok()) return s.status();
    NotebookPaths paths = NotebookPaths::For(
        fs::path(o.state_file).parent_path().parent_path().parent_path().string(), s->name);
    if (Status torn = TearDown(*s, paths, o.cluster_delete_command); !torn.ok()) {
      return torn.With("tearing down notebook '" + s->name + "'");
    }
    return "tore down notebook '" + s->name + "' because its owner (pid " +
           std::to_string(o.owner.pid) + ") is gone";
  }
}

}  // namespace sp::notebook
