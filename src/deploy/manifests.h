// Sparkplane's own deployment on Kubernetes: the manifests in deploy/ (kustomize), embedded in
// the binary, rendered into the objects `sparkplane deploy` applies and `undeploy` deletes.
//
// One source of truth: deploy/**/*.yaml are compiled into the binary (cmake/embed.cmake, at build
// time), and an overlay is rendered the way `kubectl kustomize deploy/overlays/NAME` renders it,
// for the subset of kustomize those files use (namespace, resources, patches made of JSON 6902
// operations; anything else is an error, so a new kustomize feature in the files cannot be
// silently ignored). The tests check that the embedded copies equal the files and that the
// rendering equals kubectl's.
//
// Every object carries `app.kubernetes.io/managed-by: sparkplane` and `sparkplane.io/deploy:
// COMPONENT` (storage, scheduler or history). A namespace other than the overlay's moves every
// namespaced object there and points the RoleBinding at that namespace's ServiceAccount.
// PersistentVolumes are cluster-wide, so in any namespace but `sparkplane` they are renamed
// NAME-NS, their claimRef names NS and their hostPath moves from /var/lib/sparkplane/ to
// /var/lib/sparkplane-NS/: two namespaces never share one.
//
// Thread safety: every function is pure and reentrant.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/embedded_file.h"
#include "common/status.h"
#include "k8s/resource.h"

namespace sp::deploy {

// One file of deploy/, as embedded at build time (cmake/embed.cmake); `path` is relative to
// deploy/ ("overlays/single-node/kustomization.yaml"). Defined in the generated deploy_files.cc.
using DeployFile = EmbeddedFile;
std::span<const DeployFile> EmbeddedDeployFiles();
// The same, as path -> text (what RenderKustomization reads).
std::map<std::string, std::string> EmbeddedDeployFileMap();

// The overlays of `files` (directories under overlays/ with a kustomization.yaml), by name.
std::vector<std::string> OverlaysIn(const std::map<std::string, std::string>& files);
// The embedded overlays.
std::vector<std::string> DeployOverlays();
inline constexpr std::string_view kDeployComponents[] = {"storage", "scheduler", "history"};
inline constexpr std::string_view kDeployLabel = "sparkplane.io/deploy";
// The namespace the manifests are written for (the overlays' `namespace:`).
inline constexpr std::string_view kDeployDefaultNamespace = "sparkplane";
// The file of an overlay's directory with the Secrets `deploy` generates (DeployObjectsFor), and
// the annotation naming the keys it fills with random values.
inline constexpr std::string_view kGeneratedSecretFile = "generated-secret.yaml";
inline constexpr std::string_view kGenerateAnnotation = "sparkplane.io/generate";

// The components named on a command line, "all" (or none) expanded to every component, in
// kDeployComponents' order; InvalidArgument for others (with "did you mean").
Result<std::vector<std::string>> ExpandComponents(const std::vector<std::string>& requested);
// The label selector of the objects of `components`.
std::string ComponentSelector(const std::vector<std::string>& components);
// The namespace overlay `overlay` is written for (its kustomization's `namespace:`).
std::string OverlayNamespace(const std::map<std::string, std::string>& files,
                             const std::string& overlay);

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
// StatefulSet, CronJob, PodDisruptionBudget, NetworkPolicy, Ingress). InvalidArgument for an
// unknown overlay or component (with "did you mean"), an object of a kind deploy does not know,
// or one without a valid sparkplane.io/deploy label; NotFound when `files` has no overlay.
//
// Besides the kustomization's objects: the Secrets of overlays/OVERLAY/generated-secret.yaml
// (kGeneratedSecretFile), each with the keys its annotation sparkplane.io/generate names
// (comma-separated) in `generated_keys`. They are not kustomize resources, so no generated value
// is ever written in deploy/; `kubectl apply -k` users create them by hand.
Result<std::vector<DeployObject>> DeployObjectsFor(const std::map<std::string, std::string>& files,
                                                   const std::string& overlay,
                                                   const std::vector<std::string>& components,
                                                   const std::string& namespace_name);

// The kinds the objects of `components` have in any overlay (one deployed with another overlay
// is removed too), in delete order: the reverse of apply order. InvalidArgument as
// DeployObjectsFor gives it (a component or `namespace_name` it refuses).
Result<std::vector<k8s::ResourceType>> KindsToUndeploy(
    const std::map<std::string, std::string>& files, const std::vector<std::string>& components,
    const std::string& namespace_name);

// Reading manifests: the kind, metadata.name, and the string at `pointer` ("" when absent or not
// a string).
std::string KindOf(const nlohmann::json& object);
std::string NameOf(const nlohmann::json& object);
std::string StringAt(const nlohmann::json& object, const nlohmann::json::json_pointer& pointer);

}  // namespace sp::deploy
