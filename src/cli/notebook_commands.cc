// `sparkplane notebook start|list|stop|guard`; see notebook_commands.h.
#include "cli/notebook_commands.h"

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <thread>

#include "cli/stop_signals.h"
#include "cli/table.h"
#include "clusters/lifetime.h"
#include "dag/cron.h"
#include "notebook/kubernetes_notebook.h"
#include "notebook/notebook.h"

namespace sp::cli {

namespace {

using nlohmann::json;

// A duration flag: "none" (and "0") is 0.
Result<Millis> DurationFlag(const std::string& flag, const std::string& text) {
  if (text == "none" || text == "0") return Millis(0);
  Result<Millis> d = dag::ParseDuration(text);
  if (!d.ok()) {
    return InvalidArgumentError(flag + ": expected a duration such as 30m, or none; got '" + text +
                                "'");
  }
  return d;
}

std::string Self() {
  std::error_code ec;
  return std::filesystem::read_symlink("/proc/self/exe", ec).string();
}

// The command that deletes a cluster of this data dir (and config), for the notebook guard.
std::vector<std::string> ClusterDeleteCommand(const GlobalOptions& g, const Config& c) {
  std::vector<std::string> argv = {Self(), "--data-dir", c.data_dir};
  if (!g.config.config_file.empty()) argv.insert(argv.end(), {"--config", c.config_file});
  argv.insert(argv.end(), {"cluster", "delete", "--backend", "local"});
  return argv;
}

// `notebook start --backend kubernetes`: returns once the pod is ready; see
// notebook/kubernetes_notebook.h.
int NotebookStartKubernetes(const GlobalOptions& g, const NotebookStartArgs& a, Runtime& rt,
                            const notebook::NotebookRequest& local, StopSignals& signals) {
  if (!a.root_dir.empty()) {
    return Fail(
        "--root-dir is for local notebooks; on Kubernetes the notebooks live in the pod's "
        "home (" +
        std::string(k8s::kJupyterHome) + "/work)");
  }
  notebook::KubeNotebookRequest request;
  request.cluster = local;
  request.notebook_image = a.notebook_image.empty() ? rt.config.notebook_image : a.notebook_image;
  request.jupyter_node_port = a.node_port;
  auto wait_stop = [&](Millis ms) { return signals.Wait(static_cast<long>(ms.count())); };
  Result<notebook::StartedKubeNotebook> started = notebook::StartKubernetesNotebook(
      &rt.services, rt.registry.get(), request, wait_stop,
      [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); });
  if (!started.ok()) return Fail(started.status());
  const k8s::KubeNotebook& nb = started->notebook;
  const std::string port = std::to_string(k8s::kJupyterPort);
  const std::string forward = "kubectl port-forward -n " + nb.namespace_name + " svc/" +
                              nb.service + " " + port + ":" + port;
  const std::string local_url = "http://localhost:" + port + "/lab?token=" + started->jupyter_token;
  if (g.json) {
    json out = {{"name", nb.name},
                {"backend", "kubernetes"},
                {"namespace", nb.namespace_name},
                {"url", nb.url},
                {"port_forward", forward},
                {"local_url", local_url},
                {"cluster", nb.cluster},
                {"master_url", started->master_url},
                {"pod", nb.pod},
                {"service", nb.service},
                {"secret", nb.secret}};
    if (started->node_port != 0) out["node_port"] = started->node_port;
    std::printf("%s\n", out.dump().c_str());
    return 0;
  }
  std::printf("notebook %s is ready in namespace %s\n", nb.name.c_str(), nb.namespace_name.c_str());
  std::printf("  open     %s\n           then %s\n", forward.c_str(), local_url.c_str());
  if (started->node_port != 0) {
    std::printf(
        "           or http://<node-address>:%d/lab?token=%s (`sparkplane services` names the "
        "node)\n",
        started->node_port, started->jupyter_token.c_str());
  }
  std::printf(
      "  inside   %s (pods of the namespace)\n  spark    sc://localhost:%d in its kernels (Spark "
      "Connect in the notebook pod, token in its environment)\n  cluster  %s (%s)\n  token    "
      "secret %s, key %s\n",
      nb.url.c_str(), k8s::kConnectPort, nb.cluster.c_str(), started->master_url.c_str(),
      nb.secret.c_str(), k8s::kJupyterTokenKey);
  std::printf(
      "  stop     sparkplane notebook stop %s --backend kubernetes%s\n", nb.name.c_str(),
      request.cluster.idle_timeout.count() > 0
          ? (" (or leave it idle for " + dag::FormatDuration(request.cluster.idle_timeout) + ")")
                .c_str()
          : "");
  return 0;
}

}  // namespace

int NotebookStart(const GlobalOptions& g, const NotebookStartArgs& a) {
  StopSignals signals;  // before any thread starts, so every thread inherits the mask
  if (Status s = notebook::ValidateNotebookName(a.name); !s.ok()) return Fail(s);
  notebook::NotebookRequest request;
  request.name = a.name;
  request.workers = a.workers;
  request.worker_cores = a.worker_cores;
  request.worker_memory = a.worker_memory;
  request.root_dir = a.root_dir.empty() ? "" : std::filesystem::absolute(a.root_dir).string();
  Result<Millis> idle = DurationFlag("--idle-timeout", a.idle_timeout);
  if (!idle.ok()) return Fail(idle.status());
  request.idle_timeout = *idle;
  Result<std::unique_ptr<Runtime>> opened = OpenRuntime(g.config);
  if (!opened.ok()) return Fail(opened.status());
  Runtime& rt = **opened;
  const std::string backend = a.backend.empty() ? rt.config.default_cluster_backend : a.backend;
  if (backend != "local" && backend != "kubernetes") {
    return Fail("--backend: expected local or kubernetes; got '" + backend + "'");
  }
  // An image pull of the notebook image takes minutes on a cold node.
  if (backend == "kubernetes") request.ready_timeout = Millis(600 * 1000);
  if (!a.ready_timeout.empty()) {
    Result<Millis> ready = DurationFlag("--ready-timeout", a.ready_timeout);
    if (!ready.ok()) return Fail(ready.status());
    if (ready->count() > 0) request.ready_timeout = *ready;
  }
  if (backend == "local" && (!a.notebook_image.empty() || a.node_port)) {
    return Fail("--notebook-image and --node-port are for --backend kubernetes");
  }
  request.max_age = a.max_age;
  if (a.max_age.empty()) {
    request.max_age_ms = rt.config.cluster_max_age;
  } else {
    Result<Millis> max_age = DurationFlag("--max-age", a.max_age);
    if (!max_age.ok()) return Fail(max_age.status());
    request.max_age_ms = *max_age;
  }
  if (backend == "kubernetes") return NotebookStartKubernetes(g, a, rt, request, signals);

  notebook::NotebookHost host;
  host.data_dir = rt.config.data_dir;
  host.spark_home = rt.config.spark_home;
  host.python = rt.config.python;
  host.guard_command = {Self(), "notebook", "guard"};
  host.cluster_delete_command = ClusterDeleteCommand(g, rt.config);
  host.allow_root = ::geteuid() == 0;
  notebook::Notebook nb(&rt.services, rt.registry.get(), host, [](const std::string& line) {
    std::fprintf(stderr, "%s\n", line.c_str());
  });
  auto wait_stop = [&](Millis ms) { return signals.Wait(static_cast<long>(ms.count())); };

  Result<notebook::NotebookState> started = nb.Start(request, wait_stop);
  if (!started.ok()) return Fail(started.status());
  if (g.json) {
    std::printf("%s\n",
                json({{"name", started->name},
                      {"url", started->JupyterUrlWithToken()},
                      {"spark_remote", started->SparkRemote()},
                      {"cluster", started->cluster},
                      {"master_url", started->master_url},
                      {"root_dir", started->root_dir},
                      {"state_file",
                       notebook::NotebookPaths::For(rt.config.data_dir, started->name).state_file}})
                    .dump()
                    .c_str());
  } else {
    std::printf(
        "notebook %s is ready\n  open     %s\n  spark    %s (token in the environment of its "
        "kernels)\n  cluster  %s (%s)\n  files    %s\n",
        started->name.c_str(), started->JupyterUrlWithToken().c_str(),
        started->SparkRemote().c_str(), started->cluster.c_str(), started->master_url.c_str(),
        started->root_dir.c_str());
  }
  std::fflush(stdout);
  std::fprintf(
      stderr, "sparkplane: press Ctrl-C to stop the notebook and delete its cluster%s\n",
      request.idle_timeout.count() > 0
          ? (" (or leave it idle for " + dag::FormatDuration(request.idle_timeout) + ")").c_str()
          : "");
  notebook::EndReason why = nb.Run(wait_stop);
  std::fprintf(stderr, "sparkplane: stopping notebook %s: %s\n", a.name.c_str(),
               notebook::Describe(why).c_str());
  Status stopped = nb.Stop();
  if (!stopped.ok()) return Fail(stopped);
  if (!g.json) std::printf("notebook %s stopped\n", a.name.c_str());
  return why == notebook::EndReason::kConnectExited ? 1 : 0;
}

int NotebookList(const GlobalOptions& g, const std::string& backend) {
  Result<Config> config = ResolveConfig(g.config);
  if (!config.ok()) return Fail(config.status());
  if (!backend.empty() && backend != "local" && backend != "kubernetes") {
    return Fail("--backend: expected local or kubernetes; got '" + backend + "'");
  }
  const bool local = backend.empty() || backend == "local";
  const bool kube = backend == "kubernetes" ||
                    (backend.empty() && config->default_cluster_backend == "kubernetes");
  RealClock clock;
  const Time now = clock.Now();
  json out = json::array();
  Table table({"NAME", "STATE", "URL", "CLUSTER", "AGE", "IDLE TIMEOUT", "WHERE"});
  if (kube) {
    Result<std::unique_ptr<Runtime>> opened = OpenRuntime(g.config);
    if (!opened.ok()) return Fail(opened.status());
    Result<std::vector<k8s::KubeNotebook>> listed =
        notebook::ListKubernetesNotebooks(&(*opened)->services);
    if (!listed.ok()) return Fail(listed.status().With("listing the Kubernetes notebooks"));
    for (const k8s::KubeNotebook& n : *listed) {
      std::string state = n.deleting ? "stopping"
                          : n.ready  ? "ready"
                          : n.phase == "Succeeded" || n.phase == "Failed"
                              ? "ended (" + n.phase + ")"
                              : "starting (" + n.phase + ")";
      std::string age = n.created ? FormatDurationBetween(*n.created, now) : "-";
      out.push_back({{"name", n.name},
                     {"backend", "kubernetes"},
                     {"state", state},
                     {"url", n.url},
                     {"cluster", n.cluster},
                     {"namespace", n.namespace_name},
                     {"pod", n.pod},
                     {"service", n.service},
                     {"created", n.created ? FormatTime(*n.created) : ""}});
      table.Add({n.name, state, n.url, n.cluster, age, "-", "kubernetes " + n.namespace_name});
    }
  }
  for (const notebook::NotebookState& s :
       local ? notebook::ListStates(config->data_dir) : std::vector<notebook::NotebookState>{}) {
    bool alive = executor::CheckProcess(s.owner) == executor::ProcessLiveness::kRunning;
    std::string state = alive ? s.phase : "orphaned";
    std::string age = FormatDurationBetween(s.created, now);
    std::string idle = s.idle_timeout.count() > 0 ? dag::FormatDuration(s.idle_timeout) : "-";
    out.push_back({{"name", s.name},
                   {"backend", "local"},
                   {"state", state},
                   {"url", s.JupyterUrl()},
                   {"spark_remote", s.SparkRemote()},
                   {"cluster", s.cluster},
                   {"created", FormatTime(s.created)},
                   {"idle_timeout", idle},
                   {"pid", s.owner.pid}});
    table.Add({s.name, state, s.JupyterUrl(), s.cluster, age, idle,
               "pid " + std::to_string(s.owner.pid)});
  }
  if (g.json) {
    std::printf("%s\n", out.dump(2).c_str());
  } else if (table.empty()) {
    std::printf("no notebooks are running\n");
  } else {
    table.Print();
  }
  return 0;
}

int NotebookStop(const GlobalOptions& g, const std::string& name, const std::string& timeout,
                 const std::string& backend) {
  if (Status s = notebook::ValidateNotebookName(name); !s.ok()) return Fail(s);
  Result<Millis> wait = DurationFlag("--timeout", timeout);
  if (!wait.ok()) return Fail(wait.status());
  Result<Config> config = ResolveConfig(g.config);
  if (!config.ok()) return Fail(config.status());
  if (!backend.empty() && backend != "local" && backend != "kubernetes") {
    return Fail("--backend: expected local or kubernetes; got '" + backend + "'");
  }
  notebook::NotebookPaths paths = notebook::NotebookPaths::For(config->data_dir, name);
  Result<notebook::NotebookState> s = notebook::ReadState(paths.state_file);
  // Without --backend: a local notebook of that name, else the default backend's.
  if (backend == "kubernetes" ||
      (backend.empty() && !s.ok() && s.status().code() == StatusCode::kNotFound &&
       config->default_cluster_backend == "kubernetes")) {
    Result<std::unique_ptr<Runtime>> opened = OpenRuntime(g.config);
    if (!opened.ok()) return Fail(opened.status());
    Status stopped = notebook::StopKubernetesNotebook(
        &(*opened)->services, (*opened)->registry.get(), name,
        [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); });
    if (!stopped.ok()) return Fail(stopped);
    if (!g.json) std::printf("notebook %s stopped\n", name.c_str());
    return 0;
  }
  if (!s.ok()) {
    if (s.status().code() == StatusCode::kNotFound) {
      return Fail("no notebook named '" + name + "' is running");
    }
    return Fail(s.status());
  }
  if (executor::CheckProcess(s->owner) == executor::ProcessLiveness::kRunning) {
    ::kill(s->owner.pid, SIGTERM);
    auto until = std::chrono::steady_clock::now() + *wait;
    while (std::chrono::steady_clock::now() < until &&
           (std::filesystem::exists(paths.state_file) ||
            executor::CheckProcess(s->owner) == executor::ProcessLiveness::kRunning)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (std::filesystem::exists(paths.state_file)) {
      return Fail("notebook '" + name + "' (pid " + std::to_string(s->owner.pid) +
                  ") did not stop within " + timeout);
    }
  } else {
    // Its owner died (kill -9): tear it down from the state file, as its guard would.
    Status torn = notebook::TearDown(*s, paths, ClusterDeleteCommand(g, *config));
    if (!torn.ok()) return Fail(torn);
  }
  if (!g.json) std::printf("notebook %s stopped\n", name.c_str());
  return 0;
}

int NotebookGuard(const std::vector<std::string>& args) {
  std::vector<std::string> rest;
  std::string log;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--" && rest.empty()) continue;
    if (args[i] == "--log" && i + 1 < args.size()) {
      log = args[++i];
    } else {
      rest.push_back(args[i]);
    }
  }
  if (log.empty()) return Fail("notebook guard needs --log FILE");
  Result<notebook::NotebookGuardOptions> options = notebook::ParseNotebookGuardArgs(rest);
  if (!options.ok()) return Fail(options.status());
  if (Status s = clusters::DetachGuard(log); !s.ok()) return Fail(s);
  std::printf("guarding %s (pid %d)\n", options->state_file.c_str(), static_cast<int>(::getpid()));
  std::fflush(stdout);
  Result<std::string> ended = notebook::RunNotebookGuard(*options);
  if (!ended.ok()) return Fail(ended.status());
  std::printf("%s\n", ended->empty() ? "the notebook stopped; guard done" : ended->c_str());
  return 0;
}

}  // namespace sp::cli
