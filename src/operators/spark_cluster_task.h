// SparkClusterTaskType ("spark_cluster"): creates, scales and deletes on-demand Spark standalone
// clusters for a run, through a clusters::ClusterBackend chosen by name (clusters/backends.h):
// "local" (a master and N workers as child processes of the server, on loopback, each cluster
// watched by a detached guard) and "kubernetes" (a master Deployment + Service and a worker
// Deployment in the configured namespace, all owned by one parent ConfigMap). This type keeps
// the records, the tries' handles and the per-name ordering; the backends do the effects.
//
// YAML fields (strings may be templates; values are checked again after rendering):
//   action         create (default) | scale | delete
//   name           cluster name, 1-64 of [A-Za-z0-9_.-]. Default "<dag_id>-<run key>" made safe
//                  (DefaultClusterName), so it is unique per run and a later task of the same
//                  run (scale, delete) finds it without naming it
//   cluster_from   delete only, instead of name: the id of the create task (of this run) whose
//                  cluster to delete, found from the store's cluster records. The form for
//                  teardowns: it works when the create failed or was cancelled and published
//                  no outputs, where name: "{{ tasks.X.outputs.cluster_name }}" cannot even be
//                  rendered (the DAG-level `cluster:` shorthand generates it)
//   workers        integer >= 0 (default 1); required for scale (the new worker count)
//   worker_cores   integer >= 1 (default 1): cores each worker offers
//   worker_memory  JVM size such as 1g, 1536m (default 1g): memory each worker offers
//   master_conf, worker_conf   mappings of Spark settings for the daemons (-Dkey=value)
//   backend        local | kubernetes; default RuntimeConfig::default_cluster_backend
//   ready_timeout  duration (default 120s): how long create and scale wait for the cluster
//   max_age        create only: duration after which the cluster is deleted whatever it does
//                  (default RuntimeConfig::cluster_max_age, 24h; "none": never)
//   idle_timeout   create only: duration without a running application after which the
//                  cluster is deleted (default: never). Both are enforced without the
//                  scheduler too (clusters/cluster_backend.h, Lifetime)
// Fields of the kubernetes backend only (an error with backend local):
//   image          container image (default RuntimeConfig::spark_image, apache/spark:4.0.1)
//   image_pull_policy  IfNotPresent (default) | Always | Never
//   master_cores   integer >= 1 (default 1), master_memory JVM size (default 1g): the master
//                  pod's requests = limits (workers: worker_cores, worker_memory + daemon heap +
//                  JVM overhead)
//   node_selector  mapping of node labels; tolerations  list of core/v1 Tolerations
//   authenticate   true: spark.authenticate with a per-cluster Secret mounted as a file
//                  (spark.authenticate.secret.file); drivers get it from spark_submit
//   master_rest    true: the master's REST submission server (port 6066); off by default
//   ui_node_port   true or a port 30000-32767: also expose the master web UI as a NodePort
//                  (unauthenticated: the create logs a warning)
//   worker_scratch Kubernetes quantity (default 10Gi): size limit of a worker's scratch volume
//                  (work dir, shuffle and spill)
// The event-log volume (RuntimeConfig::spark_history_pvc) is mounted in every pod; a create
// whose claim is missing fails before anything is made.
// Outputs (create, scale): cluster_name, master_url (spark://127.0.0.1:P, or
// spark://sparkplane-<base>-master.<namespace>.svc:7077), master_ui_url, workers; kubernetes
// adds namespace and, with ui_node_port, ui_node_port. delete: cluster_name (with cluster_from:
// the names deleted, comma-separated; "" when there was none).
//
// Warm pools (RuntimeConfig::cluster_pools, the server only): a local create of a pool's shape
// without daemon settings takes an idle pooled cluster at once (TakeFromPool); see
// clusters::PoolSpec.
// create: the ClusterRecord (state creating, run_id = the run's key, the handle stamped with
// the create's task id: internal/cluster_records.h) is committed
// and the try's handle saved ({"action", "cluster", "backend", "<backend>": its handle})
// before anything starts; the work runs on a thread of the type's own. Local: every handle
// update (a daemon about to run, the URLs once known) is made durable in both the record and
// the try's handle before the daemon runs. Kubernetes: the parent ConfigMap's uid is made
// durable the same way before any other object exists; readiness is watched; a failure or a
// cancel deletes what was made (and waits until it is gone). Ready: record state ready,
// success. Failed or cancelled: what started is stopped, record state failed, the try fails
// with the daemons' log tails (local) or the reasons Kubernetes gives (kubernetes: pod
// conditions and events). A name that a record says may still be running (creating, ready,
// deleting) is a conflict (failure without retry); a failed or deleted cluster's leftovers are
// removed first, so a retry of create can reuse its name.
// scale: local: only for a cluster this server process started (a live LocalCluster); after a
// restart the daemons are not our children and a scale fails without retry. Kubernetes: any
// ready cluster of the record (the worker Deployment's replicas, then the rollout is watched).
// delete: idempotent. A live local cluster is stopped through its LocalCluster; any other is
// torn down from its record's handle (kubernetes: a foreground delete of the parent, waited
// for; with no record, the parent the name maps to in the configured namespace). Record state
// deleting, then deleted with deleted_at. A create still running for the same name is
// cancelled first. Daemon logs are kept in the dir. With cluster_from: the records of this run
// whose handle names that create task, each deleted as above (a failed create's record too:
// whatever it recorded is torn down and the record marked deleted); none recorded (the create
// never got as far as recording one) is a success that logs "nothing to delete". A try of that
// create still in flight is cancelled and waited for first.
//
// Cancel: create and scale are told to stop (std::stop_source); their thread then fails the
// try. A delete is not interrupted (a half-stopped cluster helps no one); it ends by itself
// within the stop grace.
// Recover after a restart: a create try's cluster is torn down from its handle (the record's,
// which is never older) and the try fails as retryable, even when the cluster had become ready:
// local daemons are no longer children of this server (no exit notices, no scale), and a retry
// starts a clean cluster. A delete is run again (idempotent). A scale try fails as retryable;
// the cluster keeps running until deleted or reaped (cluster_reaper.h).
//
// Ownership and threads: the type owns its backends; the local one keeps the clusters this
// process started, so its scale and delete can use them. The destructor requests every
// in-flight create/scale to stop, waits for the work threads, then stops the live local
// clusters and records them as failed (they are children of the server's process supervisor
// and would not outlive it anyway). Kubernetes clusters outlive the server; the KubeClient is
// made on first use from RuntimeConfig (kubeconfig, kube_context, kube_namespace). Tries on one
// cluster name run one at a time. Thread-safe.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <stop_token>
#include <string>
#include <vector>

#include "clusters/backends.h"
#include "operators/internal/task_threads.h"
#include "operators/task_type.h"
#include "store/records.h"

namespace sp::operators {

class SparkClusterTaskType : public TaskType {
 public:
  // `services` (store, processes, clock) must outlive the type. The backends are configured
  // from services->config as it is now (clusters dir, Spark, Kubernetes, the guard).
  explicit SparkClusterTaskType(const Services* services);
  ~SparkClusterTaskType() override;

  std::string Name() const override { return "spark_cluster"; }
  std::vector<std::string> FieldNames() const override;
  void Validate(const dag::TaskSpec& spec, std::vector<dag::DagError>* errors) const override;

  void Start(std::shared_ptr<TaskContext> ctx) override;
  void Cancel(std::shared_ptr<TaskContext> ctx, const nlohmann::json& handle,
              Millis grace) override;
  void Recover(std::shared_ptr<TaskContext> ctx, const nlohmann::json& handle) override;

  // Names of the clusters this server process started and has not deleted.
  std::vector<std::string> LiveClusters() const;

 private:
  struct Op;
  struct Cluster;
  struct Plan;
  class NameLease;

  std::shared_ptr<Op> AddOp(const std::shared_ptr<TaskContext>& ctx, const std::string& action,
                            const std::string& cluster);
  void RemoveOp(const TaskContext* ctx);
  // Runs `work` on a thread of the type's own, removing the op afterwards.
  void RunOp(const std::shared_ptr<TaskContext>& ctx, std::function<void()> work);

  void Create(const std::shared_ptr<TaskContext>& ctx, const std::shared_ptr<Op>& op,
              const Plan& plan);
  void Scale(const std::shared_ptr<TaskContext>& ctx, const std::shared_ptr<Op>& op,
             const Plan& plan);
  // A create served by a warm pool: the run's record and the try's handle for the taken
  // cluster, the pool's record marked deleted, success.
  void TakeFromPool(const std::shared_ptr<TaskContext>& ctx, const std::string& name,
                    const clusters::TakenCluster& taken);
  // Delete by name: saves the try's handle, deletes, completes the try.
  void Delete(const std::shared_ptr<TaskContext>& ctx, const std::string& name,
              const std::string& backend);
  // Delete by cluster_from: every cluster the run's `create_task` recorded, after any try of
  // it still in flight has stopped; success with "nothing to delete" when it recorded none.
  void DeleteCreatedBy(const std::shared_ptr<TaskContext>& ctx, const std::string& create_task);
  // Deletes one cluster (the name held meanwhile) without completing the try. OK with `what`
  // (the summary) set; an error's code says whether a retry may help.
  Status DeleteNamed(const std::shared_ptr<TaskContext>& ctx, const std::string& name,
                     const std::string& backend, std::string* what);
  enum class TearDownReason { kRestarted, kCancelled };
  // Tears down what a create try of an earlier server process may have started, then fails
  // the try (retryable). `try_handle` is the try's saved handle.
  void TearDownCreate(const std::shared_ptr<TaskContext>& ctx, const std::string& name,
                      const nlohmann::json& try_handle, TearDownReason reason);

  // Waits until no other try works on `name` and claims it. False when `stop` came first.
  bool AcquireName(const std::string& name, std::stop_token stop);
  void ReleaseName(const std::string& name);

  const Services* services_;
  mutable std::mutex mu_;
  std::condition_variable_any name_free_;
  std::map<const TaskContext*, std::shared_ptr<Op>> ops_;  // in-flight tries
  std::set<std::string> busy_;                             // names a try works on
  mutable clusters::ClusterBackends backends_;  // thread-safe; the local one keeps live clusters
  internal::TaskThreads threads_;               // last: destroyed first
};

// "<dag_id>-<run_key>" with characters a cluster name cannot hold replaced by '-', a leading
// non-alphanumeric prefixed with 'c', and the dag part shortened to fit 64 characters.
std::string DefaultClusterName(const std::string& dag_id, int64_t run_key);

}  // namespace sp::operators
