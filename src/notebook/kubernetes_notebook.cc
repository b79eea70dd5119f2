// Notebooks on the Kubernetes backend; see kubernetes_notebook.h.
#include "notebook/kubernetes_notebook.h"

#include <atomic>
#include <optional>
#include <thread>

#include "k8s/kubernetes_cluster_backend.h"
#include "notebook/internal/cluster_try.h"
#include "notebook/notebook_processes.h"
#include "notebook/notebook_state.h"

namespace sp::notebook {

namespace {

using nlohmann::json;

Result<std::unique_ptr<k8s::KubeClient>> Connect(const operators::Services* services) {
  const operators::RuntimeConfig& c = services->config;
  return k8s::ConnectKube({c.kubeconfig, c.kube_context, c.kube_namespace}, *services->clock,
                          services->logger);
}

// The node port of the Jupyter Service, 0 when it has none.
int NodePortOf(k8s::KubeClient* client, const std::string& ns, const std::string& service) {
  Result<json> svc = client->Get(k8s::Ref(k8s::kServices, ns, service));
  if (!svc.ok()) return 0;
  for (const json& p : svc->value("/spec/ports"_json_pointer, json::array())) {
    if (p.is_object() && p.value("nodePort", json()).is_number_integer()) {
      return p["nodePort"].get<int>();
    }
  }
  return 0;
}

}  // namespace

std::string NotebookClusterName(const std::string& notebook_name) {
  return "notebook-" + notebook_name;
}

Result<StartedKubeNotebook> StartKubernetesNotebook(
    const operators::Services* services, operators::TaskTypeRegistry* registry,
    const KubeNotebookRequest& r, const std::function<bool(Millis)>& wait_stop,
    const std::function<void(const std::string&)>& progress) {
  RETURN_IF_ERROR(ValidateNotebookName(r.cluster.name));
  ASSIGN_OR_RETURN(std::unique_ptr<k8s::KubeClient> client, Connect(services));
  const std::string ns = client->default_namespace();
  k8s::NotebookSpec spec;
  spec.name = r.cluster.name;
  spec.cluster = NotebookClusterName(r.cluster.name);
  spec.namespace_name = ns;
  spec.spark_image = services->config.spark_image;
  spec.notebook_image = r.notebook_image;
  spec.history_pvc = services->config.spark_history_pvc;
  spec.idle_timeout = r.cluster.idle_timeout;
  spec.jupyter_node_port = r.jupyter_node_port;
  // Every input is checked before anything is made.
  RETURN_IF_ERROR(k8s::ValidateNotebookSpec(spec));
  ASSIGN_OR_RETURN(std::string jupyter_token, RandomToken());
  ASSIGN_OR_RETURN(std::string connect_token, RandomToken());

  json fields = {{"action", "create"},
                 {"name", spec.cluster},
                 {"backend", "kubernetes"},
                 {"workers", r.cluster.workers},
                 {"ready_timeout", std::to_string(r.cluster.ready_timeout.count()) + "ms"}};
  if (r.cluster.worker_cores > 0) fields["worker_cores"] = r.cluster.worker_cores;
  if (!r.cluster.worker_memory.empty()) fields["worker_memory"] = r.cluster.worker_memory;
  if (!r.cluster.max_age.empty()) fields["max_age"] = r.cluster.max_age;
  // Connect is an application of the cluster, so the cluster is idle only once the notebook's
  // pod has ended (Jupyter's own idle shutdown); the slack covers the pod's start, which the
  // ready timeout bounds.
  if (r.cluster.idle_timeout.count() > 0) {
    fields["idle_timeout"] =
        std::to_string((r.cluster.ready_timeout + Millis(60000)).count()) + "ms";
  }
  progress("[sparkplane] creating cluster " + spec.cluster + " in namespace " + ns);
  Result<json> created = internal::RunClusterTry(services, registry, fields, &wait_stop, progress);
  if (!created.ok()) return created.status().With("creating cluster " + spec.cluster);

  // From here on, any failure deletes the cluster, and with it what the notebook made.
  auto roll_back = [&](Status failure) -> Status {
    progress("[sparkplane] " + failure.message() + "; deleting cluster " + spec.cluster);
    Result<json> deleted = internal::RunClusterTry(
        services, registry,
        {{"action", "delete"}, {"name", spec.cluster}, {"backend", "kubernetes"}}, nullptr,
        progress);
    return Status(failure.code(),
                  failure.message() + (deleted.ok() ? "; the notebook's cluster was deleted"
                                                    : "; deleting the notebook's cluster failed (" +
                                                          deleted.status().message() +
                                                          "): run `sparkplane notebook stop " +
                                                          r.cluster.name + "`"));
  };

  progress("[sparkplane] starting the notebook pod (Spark Connect and JupyterLab)");
  k8s::KubernetesNotebooks notebooks(client.get());
  std::stop_source stop;
  std::optional<Result<k8s::KubeNotebook>> made;
  std::atomic<bool> done{false};
  std::thread creator;
  try {
    creator = std::thread([&] {
      made = notebooks.Create(spec, jupyter_token, connect_token, r.cluster.ready_timeout,
                              stop.get_token());
      done = true;
    });
  } catch (const std::system_error& e) {
    return roll_back(UnavailableError(std::string("cannot start a thread: ") + e.what()));
  }
  bool cancelled = false;
  while (!done) {
    if (!cancelled && wait_stop(Millis(200))) {
      progress("[sparkplane] cancelling the notebook start...");
      stop.request_stop();
      cancelled = true;
    }
    if (!cancelled) continue;
    std::this_thread::sleep_for(Millis(50));
  }
  creator.join();
  if (cancelled) return roll_back(CancelledError("notebook start was cancelled"));
  if (!made->ok()) return roll_back(made->status().With("notebook '" + r.cluster.name + "'"));

  StartedKubeNotebook out;
  out.notebook = **made;
  out.master_url = created->value("master_url", "");
  out.jupyter_token = jupyter_token;
  if (r.jupyter_node_port) {
    out.node_port = NodePortOf(client.get(), ns, out.notebook.service);
  }
  return out;
}

Status StopKubernetesNotebook(const operators::Services* services,
                              operators::TaskTypeRegistry* registry, const std::string& name,
                              const std::function<void(const std::string&)>& progress) {
  RETURN_IF_ERROR(ValidateNotebookName(name));
  ASSIGN_OR_RETURN(std::unique_ptr<k8s::KubeClient> client, Connect(services));
  const std::string ns = client->default_namespace();
  const std::string cluster = NotebookClusterName(name);
  const std::string parent = k8s::SparkClusterNames::For(cluster).parent;
  Result<json> got = client->Get(k8s::Ref(k8s::kConfigMaps, ns, parent));
  if (!got.ok() && got.status().code() == StatusCode::kNotFound) {
    return NotFoundError("no notebook named '" + name + "' runs in namespace " + ns);
  }
  if (!got.ok()) return got.status().With("notebook '" + name + "'");
  progress("[sparkplane] deleting cluster " + cluster + " and the notebook's objects");
  Result<json> deleted = internal::RunClusterTry(
      services, registry, {{"action", "delete"}, {"name", cluster}, {"backend", "kubernetes"}},
      nullptr, progress);
  if (!deleted.ok()) return deleted.status().With("stopping notebook '" + name + "'");
  return OkStatus();
}

Result<std::vector<k8s::KubeNotebook>> ListKubernetesNotebooks(
    const operators::Services* services) {
  ASSIGN_OR_RETURN(std::unique_ptr<k8s::KubeClient> client, Connect(services));
  k8s::KubernetesNotebooks notebooks(client.get());
  return notebooks.List(client->default_namespace());
}

}  // namespace sp::notebook
