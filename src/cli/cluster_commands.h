// `sparkplane cluster create|scale|delete NAME`: ad-hoc Spark clusters (ClusterRecord run_id 0,
// which the orphan reaper leaves alone unless the command that made or holds one died) made
// by the spark_cluster task type itself, so the CLI and DAGs share every rule (names, validation,
// records, rollback, readiness).
//
//   cluster create NAME [--backend local|kubernetes] [--workers N] [--worker-cores N]
//       [--worker-memory SIZE] [--master-cores N] [--master-memory SIZE] [--image IMAGE]
//       [--node-selector KEY=VALUE]... [--master-conf KEY=VALUE]... [--worker-conf KEY=VALUE]...
//       [--authenticate] [--master-rest] [--ui-node-port PORT] [--worker-scratch SIZE]
//       [--ready-timeout 2m] [--max-age 8h|none] [--idle-timeout 30m]
//   cluster scale NAME --workers N [--ready-timeout 2m]
//   cluster delete NAME [--backend local|kubernetes]
// each with [--kubeconfig PATH] [--context NAME] [--namespace NS] (GlobalOptions::config; over
// sparkplane.yaml's settings, which are over the environment's, as kubectl orders them).
//
// Progress lines ("[sparkplane] ...") go to stderr; the result (master URL, web UI, workers) to
// stdout, as JSON with --json. A kubernetes cluster outlives the command; delete it with
// `cluster delete`. A local cluster's daemons are children of this command, so `cluster create`
// with the local backend stays in the foreground and deletes the cluster on Ctrl-C / SIGTERM.
// Ctrl-C during a kubernetes create cancels it (what was made is deleted).
//
// Each function returns the process exit code (0 on success) and prints errors as
// "sparkplane: error: ...".
#pragma once

#include <string>
#include <vector>

#include "cli/commands.h"

namespace sp::cli {

struct ClusterCreateArgs {
  std::string name;
  std::string backend;                     // "" : the configured default_cluster_backend
  int workers = -1;                        // -1: the default (1)
  int worker_cores = 0;                    // 0: the default (1)
  std::string worker_memory;               // "" : the default (1g)
  int master_cores = 0;                    // kubernetes; 0: the default (1)
  std::string master_memory;               // kubernetes; "" : the default (1g)
  std::string image;                       // kubernetes; "" : the configured spark_image
  std::vector<std::string> node_selector;  // kubernetes; KEY=VALUE
  std::vector<std::string> master_conf;    // spark.KEY=VALUE
  std::vector<std::string> worker_conf;    // spark.KEY=VALUE
  bool authenticate = false;               // kubernetes
  bool master_rest = false;                // kubernetes
  int ui_node_port = -1;       // kubernetes; -1: no NodePort, 0: any node port, else that port
  std::string ready_timeout;   // "" : 120s
  std::string worker_scratch;  // kubernetes; "" : the default (10Gi)
  std::string max_age;         // "" : the configured cluster_max_age; "none": no deadline
  std::string idle_timeout;    // "" : none
};

int ClusterCreate(const GlobalOptions& g, const ClusterCreateArgs& a);
int ClusterScale(const GlobalOptions& g, const std::string& name, int workers,
                 const std::string& ready_timeout);
int ClusterDelete(const GlobalOptions& g, const std::string& name, const std::string& backend);

// `cluster guard ARGS... --log FILE` (internal): detaches, then guards one local cluster
// (clusters/lifetime.h) until it is deleted or must go.
int ClusterGuard(const std::vector<std::string>& args);

// `cluster sweep [--dry-run] [--kubeconfig PATH] [--context NAME] [--namespace NS]`: deletes
// every Kubernetes cluster of the namespace past its deadline or idle timeout
// (clusters::SweepExpired, clusters/sweep.h), with no scheduler and no data directory: what the
// CronJob of deploy/base/sweep.yaml runs every minute. Prints each expired cluster and why
// ("cluster 'etl' (configmap sparkplane-cluster-etl) deleted: its deadline ... has passed"),
// then a summary line (--json: one object). Exit 0 unless the API refused the list or a delete.
int ClusterSweep(const GlobalOptions& g, bool dry_run);

}  // namespace sp::cli
