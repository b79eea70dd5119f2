// Reading the readiness of a Spark cluster's Kubernetes objects: whether Deployments have rolled
// out (DeploymentRollout, fed by watch events), and why pods are not ready (ExplainNotReady,
// from pod conditions, container states and Warning events).
//
// A Deployment has rolled out when its controller has seen the current spec
// (status.observedGeneration >= metadata.generation) and status.replicas, updatedReplicas and
// availableReplicas all equal spec.replicas: every pod is of the current template, ready
// (readiness probes passed) for minReadySeconds, and no old pod is left (a scale down is done).
//
// Thread safety: values; a DeploymentRollout is used by one thread (the watch's handler).
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "k8s/client.h"

namespace sp::k8s {

bool DeploymentRolledOut(const nlohmann::json& deployment);
// "1/2 available" (and ", 1 old pod terminating" or ", spec not yet seen by the controller").
std::string DeploymentProgress(const nlohmann::json& deployment);

// The state of a set of Deployments as one watch (list, events, relists after 410) reports it.
class DeploymentRollout {
 public:
  explicit DeploymentRollout(std::vector<std::string> names) : names_(std::move(names)) {}

  // Folds one event in: kRelisted replaces everything known, ADDED/MODIFIED replace one
  // Deployment, DELETED removes it (and remembers that one of ours was deleted).
  void Apply(const WatchEvent& event);
  // Every expected Deployment exists and has rolled out.
  bool Done() const;
  // The name of an expected Deployment a DELETED event (or a relist) said is gone; "" if none.
  const std::string& deleted() const { return deleted_; }
  // "sparkplane-x-master 1/1 available, sparkplane-x-worker 0/2 available" ("not created" for
  // one not seen).
  std::string Summary() const;

 private:
  void Put(const nlohmann::json& object);

  std::vector<std::string> names_;
  std::map<std::string, nlohmann::json> current_;
  std::string deleted_;
};

// Why the cluster's pods are not ready, for users: one clause per distinct cause, naming the
// pods (by component), e.g.
//   "worker pod sparkplane-x-worker-5d9f-abcde: not scheduled (Unschedulable): 0/3 nodes are
//    available: 3 Insufficient cpu."
//   "master pod ...: container spark-master waiting (ImagePullBackOff): Back-off pulling ..."
//   "worker pods a, b: container spark-worker waiting (CrashLoopBackOff); last exit code 1"
//   "worker pod ...: running but not ready (its readiness probe fails)"
// followed by Warning events about objects whose names start with `name_prefix` that the pod
// clauses do not already say ("event FailedCreate on replicaset ...: ..."). Terminating pods
// are skipped. "" when nothing explains it.
std::string ExplainNotReady(const std::vector<nlohmann::json>& pods,
                            const std::vector<nlohmann::json>& events,
                            const std::string& name_prefix);

// Why `pod` can never become ready as things stand, for users ("worker pod NAME: not scheduled
// (Unschedulable): 0/3 nodes are available: persistentvolumeclaim "x" not found."); "" when it
// is ready, terminating, or may still heal. Never heals without a person changing the cluster
// or the spec: a scheduler message whose every reason is a missing PersistentVolumeClaim or a
// node selector/affinity no node matches (a cluster autoscaler that could add such a node is not
// consulted), and containers waiting with ErrImagePull, ImagePullBackOff, InvalidImageName,
// ErrImageNeverPull or CreateContainerConfigError. Insufficient resources, taints and unbound
// claims can heal (pods end, nodes join, volumes bind): they are left to the ready timeout.
std::string PermanentPodFailure(const nlohmann::json& pod);

}  // namespace sp::k8s
