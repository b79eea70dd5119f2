// Kubernetes resource addressing: a ResourceType (API version, plural, kind, scope) and a
// ResourceRef (type + namespace + name), turned into REST paths such as
// /apis/apps/v1/namespaces/ns/deployments/name or /api/v1/namespaces/ns/pods.
//
// Core resources live under /api/v1, grouped ones under /apis/GROUP/VERSION. Cluster-scoped
// types ignore the namespace. Names and namespaces are path-escaped; query values (selectors,
// continue tokens) are escaped by Query.
//
// Thread safety: values; the constants are constexpr and immutable.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sp::k8s {

enum class Scope { kNamespaced, kCluster };

// The views must point at storage that outlives every use (string literals, as in the constants
// below); a ResourceType is copied by value into every ResourceRef.
struct ResourceType {
  std::string_view api_version;  // "v1" (core) or "GROUP/VERSION", e.g. "apps/v1"
  std::string_view plural;       // lower-case plural used in URLs: "deployments"
  std::string_view kind;         // "Deployment"
  Scope scope = Scope::kNamespaced;

  // "" for the core group, else "apps", "networking.k8s.io", ...
  std::string_view Group() const;
  // The name RBAC and kubectl use: "pods", "deployments.apps", "roles.rbac.authorization.k8s.io".
  std::string QualifiedName() const;
  bool namespaced() const { return scope == Scope::kNamespaced; }
};

inline constexpr ResourceType kNamespaces{"v1", "namespaces", "Namespace", Scope::kCluster};
inline constexpr ResourceType kPods{"v1", "pods", "Pod", Scope::kNamespaced};
inline constexpr ResourceType kServices{"v1", "services", "Service", Scope::kNamespaced};
inline constexpr ResourceType kSecrets{"v1", "secrets", "Secret", Scope::kNamespaced};
inline constexpr ResourceType kConfigMaps{"v1", "configmaps", "ConfigMap", Scope::kNamespaced};
inline constexpr ResourceType kServiceAccounts{"v1", "serviceaccounts", "ServiceAccount",
                                               Scope::kNamespaced};
inline constexpr ResourceType kPersistentVolumes{"v1", "persistentvolumes", "PersistentVolume",
                                                 Scope::kCluster};
inline constexpr ResourceType kPersistentVolumeClaims{"v1", "persistentvolumeclaims",
                                                      "PersistentVolumeClaim", Scope::kNamespaced};
inline constexpr ResourceType kEvents{"v1", "events", "Event", Scope::kNamespaced};
inline constexpr ResourceType kDeployments{"apps/v1", "deployments", "Deployment",
                                           Scope::kNamespaced};
inline constexpr ResourceType kReplicaSets{"apps/v1", "replicasets", "ReplicaSet",
                                           Scope::kNamespaced};
inline constexpr ResourceType kStatefulSets{"apps/v1", "statefulsets", "StatefulSet",
                                            Scope::kNamespaced};
inline constexpr ResourceType kCronJobs{"batch/v1", "cronjobs", "CronJob", Scope::kNamespaced};
inline constexpr ResourceType kPodDisruptionBudgets{"policy/v1", "poddisruptionbudgets",
                                                    "PodDisruptionBudget", Scope::kNamespaced};
inline constexpr ResourceType kNetworkPolicies{"networking.k8s.io/v1", "networkpolicies",
                                               "NetworkPolicy", Scope::kNamespaced};
inline constexpr ResourceType kIngresses{"networking.k8s.io/v1", "ingresses", "Ingress",
                                         Scope::kNamespaced};
inline constexpr ResourceType kRoles{"rbac.authorization.k8s.io/v1", "roles", "Role",
                                     Scope::kNamespaced};
inline constexpr ResourceType kRoleBindings{"rbac.authorization.k8s.io/v1", "rolebindings",
                                            "RoleBinding", Scope::kNamespaced};

// One object (name set) or one collection (name empty) of a type.
struct ResourceRef {
  ResourceType type;
  std::string namespace_name;  // ignored for cluster-scoped types
  std::string name;            // empty: the collection

  // The REST path without query: "/apis/apps/v1/namespaces/NS/deployments[/NAME]".
  // A namespaced type with an empty namespace addresses all namespaces (list/watch only).
  std::string Path() const;
  // Path() of the collection (name dropped).
  std::string CollectionPath() const;
  // For messages: `deployments.apps "x" in namespace "ns"`, `namespaces "x"`,
  // `deployments.apps in namespace "ns"` for a collection.
  std::string Describe() const;
};

// Shorthands: Ref(kDeployments, "ns", "name"); ClusterRef(kNamespaces, "name").
inline ResourceRef Ref(const ResourceType& type, std::string ns, std::string name = "") {
  return ResourceRef{type, std::move(ns), std::move(name)};
}
inline ResourceRef ClusterRef(const ResourceType& type, std::string name = "") {
  return ResourceRef{type, "", std::move(name)};
}

// Percent-encodes everything but RFC 3986 unreserved characters (so '=', ',', '!', '/' in a
// selector and '+' in a continue token are escaped).
std::string EscapeQueryValue(std::string_view value);
// Percent-encodes a path segment (an object or namespace name).
std::string EscapePathSegment(std::string_view segment);

// An ordered query string builder: Query().Add("labelSelector", "a=b").Encode() ->
// "?labelSelector=a%3Db". Empty values are skipped; Encode() of an empty query is "".
class Query {
 public:
  Query& Add(std::string key, std::string value);
  std::string Encode() const;

 private:
  std::vector<std::pair<std::string, std::string>> params_;
};

}  // namespace sp::k8s
