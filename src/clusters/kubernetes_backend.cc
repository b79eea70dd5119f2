// KubeBackend; see kubernetes_backend.h.
#include "clusters/kubernetes_backend.h"

#include <utility>

#include "k8s/resource.h"
#include "spark/master_client.h"

namespace sp::clusters {

namespace {

Result<k8s::KubeClusterHandle> ReadHandle(const std::string& name, const nlohmann::json& handle) {
  Result<k8s::KubeClusterHandle> h = k8s::KubeClusterHandle::FromJson(handle);
  if (!h.ok()) {
    return FailedPreconditionError("cluster '" + name + "': its recorded handle is unreadable (" +
                                   h.status().message() + ")");
  }
  return h;
}

nlohmann::json WithLifetime(const k8s::KubeClusterHandle& h, const Lifetime& lifetime) {
  nlohmann::json j = h.ToJson();
  j.update(lifetime.ToJson());
  return j;
}

}  // namespace

KubeBackend::KubeBackend(KubeBackendOptions options, const Clock* clock, Logger* logger)
    : options_(std::move(options)), clock_(clock), logger_(logger) {}

KubeBackend::KubeBackend(KubeBackendOptions options, k8s::KubeClient* client, Logger* logger)
    : options_(std::move(options)), clock_(nullptr), logger_(logger), client_(client) {}

Result<k8s::KubeClient*> KubeBackend::Client() {
  std::lock_guard<std::mutex> lock(mu_);
  if (client_ != nullptr) return client_;
  if (clock_ == nullptr) return FailedPreconditionError("no clock for the Kubernetes client");
  Result<std::unique_ptr<k8s::KubeClient>> client =
      k8s::ConnectKube(options_.connection, *clock_, logger_);
  if (!client.ok()) return client.status().With("connecting to Kubernetes");
  owned_ = std::move(client).value();
  client_ = owned_.get();
  return client_;
}

k8s::SparkClusterSpec KubeSpec(const ClusterRequest& r, const std::string& namespace_name,
                               const KubeBackendOptions& options) {
  k8s::SparkClusterSpec spec;
  spec.name = r.name;
  spec.namespace_name = namespace_name;
  spec.image = r.kubernetes.image.empty() ? options.spark_image : r.kubernetes.image;
  if (!r.kubernetes.image_pull_policy.empty()) {
    spec.image_pull_policy = r.kubernetes.image_pull_policy;
  }
  spec.workers = r.workers;
  spec.worker_cores = r.worker_cores;
  spec.worker_memory = r.worker_memory;
  spec.master_cores = r.kubernetes.master_cores;
  spec.master_memory = r.kubernetes.master_memory;
  spec.master_conf = r.master_conf;
  spec.worker_conf = r.worker_conf;
  spec.node_selector = r.kubernetes.node_selector;
  spec.tolerations = r.kubernetes.tolerations;
  spec.authenticate = r.kubernetes.authenticate;
  spec.master_rest = r.kubernetes.master_rest;
  spec.ui_node_port = r.kubernetes.ui_node_port;
  spec.ui_node_port_number = r.kubernetes.ui_node_port_number;
  if (!r.kubernetes.worker_scratch.empty()) spec.worker_scratch = r.kubernetes.worker_scratch;
  spec.history_pvc = options.spark_history_pvc;
  spec.dag_id = r.dag_id;
  spec.run_key = r.run_key;
  spec.deadline = r.lifetime.deadline;
  spec.idle_timeout = r.lifetime.idle_timeout;
  return spec;
}

Result<nlohmann::json> KubeBackend::Plan(const ClusterRequest& request) {
  ASSIGN_OR_RETURN(k8s::KubeClient * client, Client());
  k8s::SparkClusterSpec spec = KubeSpec(request, client->default_namespace(), options_);
  RETURN_IF_ERROR(k8s::ValidateSparkClusterSpec(spec));
  return WithLifetime(k8s::KubernetesClusterBackend::PlannedHandle(spec), request.lifetime);
}

Result<nlohmann::json> KubeBackend::Create(const ClusterRequest& request, std::stop_token stop,
                                           const DurableHandle& durable) {
  ASSIGN_OR_RETURN(k8s::KubeClient * client, Client());
  k8s::SparkClusterSpec spec = KubeSpec(request, client->default_namespace(), options_);
  RETURN_IF_ERROR(k8s::ValidateSparkClusterSpec(spec));
  k8s::KubeClusterBackendOptions options;
  options.logger = logger_;
  k8s::KubernetesClusterBackend kube(client, options);
  ASSIGN_OR_RETURN(k8s::KubeClusterHandle created,
                   kube.Create(spec, request.ready_timeout, stop,
                               [&](const k8s::KubeClusterHandle& h) -> Status {
                                 return durable(WithLifetime(h, request.lifetime));
                               }));
  return WithLifetime(created, request.lifetime);
}

Result<nlohmann::json> KubeBackend::Scale(const std::string& name, const nlohmann::json& handle,
                                          int workers, Millis timeout, std::stop_token stop,
                                          const DurableHandle& durable) {
  ASSIGN_OR_RETURN(k8s::KubeClusterHandle h, ReadHandle(name, handle));
  ASSIGN_OR_RETURN(k8s::KubeClient * client, Client());
  k8s::KubeClusterBackendOptions options;
  options.logger = logger_;
  k8s::KubernetesClusterBackend kube(client, options);
  ASSIGN_OR_RETURN(k8s::KubeClusterHandle scaled, kube.Scale(h, workers, timeout, stop));
  nlohmann::json out = WithLifetime(scaled, Lifetime::FromJson(handle));
  RETURN_IF_ERROR(durable(out));
  return out;
}

Status KubeBackend::Delete(const std::string& name, const nlohmann::json& handle,
                           bool /*keep_logs*/) {
  if (handle.is_null() || (handle.is_object() && handle.empty())) return OkStatus();
  ASSIGN_OR_RETURN(k8s::KubeClusterHandle h, ReadHandle(name, handle));
  ASSIGN_OR_RETURN(k8s::KubeClient * client, Client());
  k8s::KubernetesClusterBackend kube(client);
  return kube.Delete(h.namespace_name, h.parent, options_.delete_timeout).status();
}

Result<bool> KubeBackend::DeleteUnrecorded(const std::string& name) {
  return DeleteParent(k8s::SparkClusterNames::For(name).parent);
}

Result<bool> KubeBackend::DeleteParent(const std::string& parent) {
  ASSIGN_OR_RETURN(k8s::KubeClient * client, Client());
  k8s::KubernetesClusterBackend kube(client);
  return kube.Delete(client->default_namespace(), parent, options_.delete_timeout);
}

nlohmann::json KubeBackend::Outputs(const nlohmann::json& handle) const {
  Result<k8s::KubeClusterHandle> h = k8s::KubeClusterHandle::FromJson(handle);
  if (!h.ok()) return {{"cluster_name", handle.value("name", "")}};
  nlohmann::json out = {{"cluster_name", h->name},
                        {"master_url", h->master_url},
                        {"master_ui_url", h->ui_url},
                        {"workers", h->workers},
                        {"namespace", h->namespace_name}};
  if (h->ui_node_port != 0) out["ui_node_port"] = h->ui_node_port;
  return out;
}

Result<std::vector<ManagedCluster>> KubeBackend::List() {
  ASSIGN_OR_RETURN(k8s::KubeClient * client, Client());
  k8s::KubernetesClusterBackend kube(client);
  ASSIGN_OR_RETURN(std::vector<k8s::ManagedCluster> parents,
                   kube.ListClusters(client->default_namespace()));
  std::vector<ManagedCluster> out;
  for (k8s::ManagedCluster& p : parents) {
    ManagedCluster c;
    c.name = std::move(p.name);
    c.id = std::move(p.parent);
    c.dag_id = std::move(p.dag_id);
    c.run_key = p.run_key;
    c.deleting = p.deleting;
    c.lifetime.deadline = p.deadline;
    c.lifetime.idle_timeout = p.idle_timeout;
    out.push_back(std::move(c));
  }
  return out;
}

Result<bool> KubeBackend::Running(const nlohmann::json& handle) {
  ASSIGN_OR_RETURN(k8s::KubeClusterHandle h,
                   ReadHandle(handle.is_object() ? handle.value("name", "") : "", handle));
  ASSIGN_OR_RETURN(k8s::KubeClient * client, Client());
  Result<nlohmann::json> parent =
      client->Get(k8s::Ref(k8s::kConfigMaps, h.namespace_name, h.parent));
  if (parent.ok()) return true;
  if (parent.status().code() == StatusCode::kNotFound) return false;
  return parent.status();
}

Result<int> KubeBackend::ActiveApplications(const nlohmann::json& handle) {
  std::string ui = handle.is_object() ? handle.value("ui_url", "") : "";
  if (ui.empty()) return UnavailableError("the cluster's web UI is not known");
  // Reachable from inside the cluster's network only (the scheduler's pod); elsewhere this
  // fails and the idle timeout is left to wait.
  ASSIGN_OR_RETURN(spark::MasterStatus status, spark::FetchMasterStatus(ui, Millis(1000)));
  return static_cast<int>(status.active_apps.size());
}

}  // namespace sp::clusters
