// Applying and deleting Sparkplane's own objects (manifests.h) through the Kubernetes API: what
// `sparkplane deploy` and `undeploy` do. Each object's outcome is told as it happens (the CLI
// prints it) and returned, so any front end can report the same.
//
// Apply is server-side apply with field manager "sparkplane", so running it again changes only
// what differs; a dry run has the API server authenticate, validate and admit every object and
// stores nothing. A Secret with generated values (DeployObject::generated_keys) is generated once:
// an existing one is kept, since what was initialised with it (a database and its password)
// would be locked out by new values. Delete is foreground deletion, then a wait until every object
// is gone (finalizers hold claims while pods use them, volumes while claims are bound to them).
//
// Thread safety: none; each call uses its client from the calling thread.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "deploy/manifests.h"
#include "k8s/client.h"
#include "k8s/resource.h"

namespace sp::deploy {

// "deployment.apps/sparkplane-scheduler", as kubectl prints objects.
std::string ObjectLabel(const k8s::ResourceType& type, const std::string& name);

enum class NamespaceState { kExists, kCreated, kMissing };

// Creates namespace `ns` when it is missing, unless `dry_run` (then kMissing: the objects in it
// cannot be checked by the API server before it exists). A caller who may not read namespaces
// may still deploy into one: PermissionDenied counts as kExists (the applies tell).
Result<NamespaceState> EnsureNamespace(k8s::KubeClient& client, const std::string& ns,
                                       bool dry_run);

struct ObjectOutcome {
  std::string object;          // ObjectLabel
  std::string namespace_name;  // "" for a cluster-scoped object
  std::string component;       // storage, scheduler, history ("" when deleting)
  // created, configured, unchanged, skipped (its namespace does not exist), failed; deleted,
  // already gone, would be deleted.
  std::string outcome;
  std::string note;  // " with a random password", " (exists: its generated ... is kept; ...)"
  Status error;      // why it failed
};

struct ApplyOptions {
  bool dry_run = false;
  bool force_conflicts = false;  // take fields other managers own
  // A generated Secret value (a random password).
  std::function<std::string()> new_secret;
};

// Applies `objects` in their order into namespace `ns` (which exists unless `namespace_exists` is
// false: a dry run before its creation, whose namespaced objects are skipped). A failed object
// does not stop the others. `on_object` hears each outcome as it happens.
std::vector<ObjectOutcome> ApplyObjects(k8s::KubeClient& client,
                                        const std::vector<DeployObject>& objects,
                                        const std::string& ns, bool namespace_exists,
                                        const ApplyOptions& options,
                                        const std::function<void(const ObjectOutcome&)>& on_object);

// Deletes the objects of `kinds` that carry `selector` in namespace `ns` (of the cluster-scoped
// kinds only volumes claimed from `ns`: they are shared), or tells what would be deleted when
// `dry_run`; then waits until all are gone. DeadlineExceeded after `timeout`, naming what is
// left and the finalizers that hold it.
Result<std::vector<ObjectOutcome>> DeleteObjects(
    k8s::KubeClient& client, const std::vector<k8s::ResourceType>& kinds, const std::string& ns,
    const std::string& selector, bool dry_run, std::chrono::seconds timeout, const Clock& clock,
    const std::function<void(const ObjectOutcome&)>& on_object);

}  // namespace sp::deploy
