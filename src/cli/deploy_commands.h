// `sparkplane deploy|undeploy|services` and `sparkplane health`: Sparkplane's own deployment on
// Kubernetes, from the manifests in deploy/ (kustomize), which are embedded in the binary.
//
// One source of truth: deploy/**/*.yaml are compiled into the binary (cmake/embed.cmake, at build
// time), and `deploy` renders an overlay from them the way
// `kubectl kustomize deploy/overlays/NAME` does, for the subset of kustomize those files use
// (namespace, resources, patches made of JSON 6902 operations; anything else is an error, so a
// new kustomize feature in the files cannot be silently ignored). The unit tests check that the
// embedded copies equal the files and that the rendering equals kubectl's.
//
// Every object carries `app.kubernetes.io/managed-by: sparkplane` and `sparkplane.io/deploy:
// COMPONENT` (storage, scheduler or history): `deploy COMPONENT` applies the objects of that
// component, `undeploy COMPONENT` deletes what carries its label. Objects go through server-side
// apply with field manager `sparkplane`, so deploying twice changes nothing, and --dry-run sends
// the same requests with dryRun=All (the API server validates and admits them, persists
// nothing).
//
// --namespace NS (default: the overlay's, `sparkplane`) moves every namespaced object to NS and
// points the RoleBinding at NS's ServiceAccount. PersistentVolumes are cluster-wide, so in any
// namespace but `sparkplane` they are renamed NAME-NS, their claimRef names NS and their hostPath
// moves from /var/lib/sparkplane/ to /var/lib/sparkplane-NS/: two namespaces never share one.
//
// Thread safety: the commands are called once per process from main's thread; the rendering
// functions are pure and reentrant.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cli/commands.h"
#include "common/embedded_file.h"
#include "common/status.h"
#include "k8s/resource.h"

namespace sp::cli {

// What the deploy commands take from the command line. Every field maps to one flag:
//   COMPONENT...       components       storage | scheduler | history | all (deploy, undeploy)
//   --namespace NS     namespace_name   default: the overlay's namespace (sparkplane)
//   --overlay NAME     overlay          deploy: single-node (default) | multi-node | ha | ha-try
//   --kubeconfig PATH  kubeconfig       default: $KUBECONFIG, ~/.kube/config, in-cluster
//   --context NAME     context          default: the kubeconfig's current-context
//   --dry-run          dry_run          deploy: server-side dry run; undeploy: list only
//   --force-conflicts  force_conflicts  deploy: take over fields another manager owns
//   --timeout SECONDS  timeout_seconds  undeploy: how long to wait until everything is gone
struct DeployOptions {
  std::vector<std::string> components;
  std::string namespace_name;
  std::string overlay = "single-node";
  std::string kubeconfig;
  std::string context;
  bool dry_run = false;
  bool force_conflicts = false;
  int timeout_seconds = 180;
};

// `sparkplane deploy COMPONENT... [flags]`: creates the namespace if it is missing (it is not
// one of the managed objects and undeploy leaves it), then applies each object and prints
// "KIND/NAME created|configured|unchanged". Exit 0 when every object was applied.
int DeployCommand(const GlobalOptions& g, const DeployOptions& options);

// `sparkplane undeploy COMPONENT... [flags]`: deletes the objects that carry the components'
// sparkplane.io/deploy label in the namespace (and the PersistentVolumes reserved for its
// claims), in the reverse order of deploy, with foreground propagation, and waits until they
// are gone. It needs no --overlay: it looks for the kinds of every overlay. Spark clusters that
// runs created are the scheduler's (it deletes them itself) and so are not touched; neither are the
// namespace, the data in hostPath directories, or the optional sparkplane-dags/sparkplane-apps
// ConfigMaps.
int UndeployCommand(const GlobalOptions& g, const DeployOptions& options);

// `sparkplane services [--namespace NS] [--kubeconfig PATH] [--context C]`: every Service and
// Ingress of the namespace with a URL to reach it: NodePort at a node's ExternalIP (else
// InternalIP), LoadBalancer at its address, ClusterIP as IP:port (inside the cluster only),
// Ingress at its host. --json prints the same as a JSON array.
int ServicesCommand(const GlobalOptions& g, const DeployOptions& options);

// `sparkplane deploy help` (and `undeploy help`): what gets deployed, the commands, the flags,
// examples.
int DeployHelp(const GlobalOptions& g);

// `sparkplane health`: pings the running server through its control socket; exit 0 when it
// answers, 1 otherwise (the scheduler pod's liveness, readiness and startup probe).
int HealthCommand(const GlobalOptions& g);

// --- The pieces below are the commands' building blocks, public for the tests. ---

// One file of deploy/, as embedded at build time (cmake/embed.cmake); `path` is relative to
// deploy/ ("overlays/single-node/kustomization.yaml"). Defined in the generated deploy_files.cc.
using DeployFile = EmbeddedFile;
std::span<const DeployFile> EmbeddedDeployFiles();
// The same, as path -> text (what RenderKustomization reads).
std::map<std::string, std::string> EmbeddedDeployFileMap();

// The overlays (directories under overlays/ with a kustomization.yaml) and the components.
std::vector<std::string> DeployOverlays();
inline constexpr std::string_view kDeployComponents[] = {"storage", "scheduler", "history"};
inline constexpr std::string_view kDeployLabel = "sparkplane.io/deploy";
inline constexpr std::string_view kManagedByLabel = "app.kubernetes.io/managed-by";
// The namespace the manifests are written for (the overlays' `namespace:`).
inline constexpr std::string_view kDeployDefaultNamespace = "sparkplane";
// The file of an overlay's directory with the Secrets `deploy` generates (DeployObjectsFor), and
// the annotation naming the keys it fills with random values.
inline constexpr std::string_view kGeneratedSecretFile = "generated-secret.yaml";
inline constexpr std::string_view kGenerateAnnotation = "sparkplane.io/generate";

// The documents of one YAML file as JSON, with Kubernetes' typing of plain scalars (true/false,
// null, integers, floats; quoted scalars stay strings). Empty documents are dropped.
// InvalidArgument "FILE:LINE:COLUMN: ..." on a syntax error.
Result<std::vector<nlohmann::json>> ParseYamlDocuments(std::string_view text,
                                                       const std::string& file_name);

// `kubectl kustomize DIR` over `files` (path -> text, paths relative to deploy/), for the subset
// described above. The objects come in kustomize's order: resources depth-first as listed.
Result<std::vector<nlohmann::json>> RenderKustomization(
    const std::map<std::string, std::string>& files, const std::string& dir);

// One object to apply: its address, its component, and the object itself.
struct DeployObject {
  k8s::ResourceRef ref;
  std::string component;
  nlohmann::json object;
  // A Secret of the overlay's generated-secret.yaml: the keys `deploy` fills with random values
  // when it creates the Secret. An existing one is left as it is (what was initialised with its
  // values, a database, keeps them). Empty for every other object.
  std::vector<std::string> generated_keys;
};

// The objects of `overlay` for `components` (empty or "all": every component) in namespace
// `namespace_name` (empty: the overlay's), sorted in apply order (ServiceAccount, Role,
// RoleBinding, ConfigMap, Secret, Service, PersistentVolume, PersistentVolumeClaim, Deployment,
// StatefulSet, CronJob, PodDisruptionBudget, Ingress). InvalidArgument for an unknown overlay or
// component (with "did you mean"), an object of a kind deploy does not know, or one without a
// valid sparkplane.io/deploy label.
//
// Besides the kustomization's objects: the Secrets of overlays/OVERLAY/generated-secret.yaml
// (kGeneratedSecretFile), each with the keys its annotation sparkplane.io/generate names
// (comma-separated) in `generated_keys`. They are not kustomize resources, so no generated value
// is ever written in deploy/; `kubectl apply -k` users create them by hand.
Result<std::vector<DeployObject>> DeployObjectsFor(const std::map<std::string, std::string>& files,
                                                   const std::string& overlay,
                                                   const std::vector<std::string>& components,
                                                   const std::string& namespace_name);

}  // namespace sp::cli
