// ClusterBackend: where on-demand Spark standalone clusters run, behind one interface. The
// `spark_cluster` task type, the orphan reaper and the lifetime guard (lifetime.h) speak to a
// backend; only the backends know daemons (LocalClusterBackend: child processes on loopback)
// or Kubernetes objects (KubernetesClusterBackend: Deployments owned by a parent ConfigMap).
//
// Handles. Every cluster is described by a JSON handle the backend makes (the local one is
// spark::LocalClusterHandle, the Kubernetes one k8s::KubeClusterHandle). A caller makes each
// handle durable (the store's ClusterRecord, the try's handle) before the backend starts
// anything it names: Plan gives the handle before any effect, and Create / Scale call
// `durable` with every update and go on only once it returned OK. A handle is all a later
// process needs to tear the cluster down (Delete), so nothing a backend starts is unknown to
// the store. Backends ignore handle keys they do not know (callers add their own, such as the
// creating task).
//
// Lifetime (issue 14): a request may carry a deadline and an idle timeout. The backend puts
// them where they are enforced without the scheduler: the local backend starts a guard
// process per cluster (lifetime.h), the Kubernetes backend annotates the parent object (read
// by `sparkplane cluster sweep`). The scheduler's reaper enforces them too (Expired()).
//
// Thread safety: a backend may be called from several threads at once; calls block (run them
// off the scheduler's loop).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace sp::clusters {

// The backend names, as DAG files, configuration and store records spell them.
inline constexpr char kLocalBackend[] = "local";
inline constexpr char kKubernetesBackend[] = "kubernetes";

// Fields only the Kubernetes backend uses (the local backend refuses a request that sets any).
struct KubernetesOptions {
  std::string image;  // "" : the configured default image
  std::string image_pull_policy;
  int master_cores = 1;
  std::string master_memory = "1g";
  std::map<std::string, std::string> node_selector;
  nlohmann::json tolerations = nlohmann::json::array();
  bool authenticate = false;
  bool master_rest = false;
  bool ui_node_port = false;
  int ui_node_port_number = 0;
  std::string worker_scratch;  // "" : the default
};

// When a cluster must be gone, whoever notices first (see the header comment).
struct Lifetime {
  // The instant after which the cluster is deleted, whatever it is doing (max_age from its
  // creation). std::nullopt: none.
  std::optional<Time> deadline;
  // Deleted after running no application for this long (0: never for idleness).
  Millis idle_timeout{0};

  // {"deadline_ms": ms or null, "idle_timeout_ms": ms or 0}: present even when empty, so a
  // handle says "no deadline" explicitly (HasLifetime).
  nlohmann::json ToJson() const;
  static bool HasLifetime(const nlohmann::json& handle) {
    return handle.is_object() && handle.contains("deadline_ms");
  }
  static Lifetime FromJson(const nlohmann::json& handle);  // missing or bad keys: none
  bool empty() const { return !deadline && idle_timeout.count() == 0; }
};

// One cluster to create.
struct ClusterRequest {
  std::string name;  // [A-Za-z0-9][A-Za-z0-9_.-]*, at most 64 characters
  int workers = 1;
  int worker_cores = 1;
  std::string worker_memory = "1g";
  std::map<std::string, std::string> master_conf;  // -Dkey=value for the master daemon
  std::map<std::string, std::string> worker_conf;  // -Dkey=value for the worker daemons
  Millis ready_timeout{120000};
  std::string dag_id;   // "" for an ad-hoc cluster
  int64_t run_key = 0;  // 0 for an ad-hoc cluster
  Lifetime lifetime;
  // Set when the request names Kubernetes-only fields (which ones, for errors).
  std::vector<std::string> kubernetes_fields;
  KubernetesOptions kubernetes;
};

// A cluster the Kubernetes backend lists, whether or not a record of it exists (a parent
// object; KubeBackend::List). Local clusters are found from records only.
struct ManagedCluster {
  std::string name;
  std::string id;  // the backend's own id (the parent ConfigMap's name)
  std::string dag_id;
  int64_t run_key = 0;
  bool deleting = false;
  Lifetime lifetime;
};

// Receives a handle and returns once it is durable; an error stops the operation before the
// effect the handle announces.
using DurableHandle = std::function<Status(const nlohmann::json& handle)>;

class ClusterBackend {
 public:
  virtual ~ClusterBackend() = default;

  virtual std::string_view Name() const = 0;

  // The handle of the cluster `request` would make, before anything starts. InvalidArgument for
  // a request this backend cannot make (e.g. Kubernetes fields on the local backend).
  virtual Result<nlohmann::json> Plan(const ClusterRequest& request) = 0;

  // Starts the cluster and waits until it is ready; the ready cluster's handle. A failure or a
  // stop removes what was started before returning the error.
  virtual Result<nlohmann::json> Create(const ClusterRequest& request, std::stop_token stop,
                                        const DurableHandle& durable) = 0;

  // Sets the worker count of a ready cluster and waits; the new handle. FailedPrecondition
  // when this backend cannot scale that cluster (local: one this process did not start).
  virtual Result<nlohmann::json> Scale(const std::string& name, const nlohmann::json& handle,
                                       int workers, Millis timeout, std::stop_token stop,
                                       const DurableHandle& durable) = 0;

  // Stops everything the handle names and waits until it is gone (a cluster this process
  // started, or any other from its handle). Idempotent: OK when nothing is left. `keep_logs`:
  // local daemon logs stay in the cluster's dir (else the dir is removed).
  virtual Status Delete(const std::string& name, const nlohmann::json& handle, bool keep_logs) = 0;

  // Deletes a cluster no record describes, found by name alone; true when there was one. The
  // local backend finds nothing without a handle (false).
  virtual Result<bool> DeleteUnrecorded(const std::string& name) = 0;

  // The task outputs of a handle: cluster_name, master_url, master_ui_url, workers, and what
  // the backend adds (kubernetes: namespace, ui_node_port).
  virtual nlohmann::json Outputs(const nlohmann::json& handle) const = 0;

  // Whether anything the handle names still exists (local: a daemon runs; kubernetes: the
  // parent object exists). False after a guard or a sweep deleted the cluster behind the
  // scheduler's back.
  virtual Result<bool> Running(const nlohmann::json& handle) = 0;

  // This server now answers for a live cluster of one of its active runs, which another server
  // of the installation may have made before a takeover (issue 13): whatever enforces the
  // cluster's lifetime without a scheduler must follow this server from now on (local: the
  // guard watches this server's lock; kubernetes: nothing to do, the sweep follows no server).
  // Idempotent; the cluster reaper calls it on every pass.
  virtual Status Adopt(const nlohmann::json& handle) = 0;
};

// The current time is past the lifetime's deadline, or the cluster has had no application for
// its idle timeout (`idle_since`: when it was last seen busy, or created).
bool Expired(const Lifetime& lifetime, Time now, std::optional<Time> idle_since);

}  // namespace sp::clusters
