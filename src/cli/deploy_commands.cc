// `sparkplane deploy|undeploy|services`: the manifests of deploy/ (embedded at build time),
// rendered like kustomize and applied, deleted or listed through the Kubernetes API.
#include "cli/deploy_commands.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "auth/secrets.h"
#include "cli/table.h"
#include "common/clock.h"
#include "common/nearest_name.h"
#include "common/yaml_document.h"
#include "k8s/api_error.h"
#include "k8s/client.h"
#include "k8s/credentials.h"
#include "k8s/kube_config.h"
#include "k8s/notebook_objects.h"

namespace sp::cli {

namespace {

using nlohmann::json;

// ---------------------------------------------------------------------------------------------
// Small helpers

std::string Join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += sep;
    out += parts[i];
  }
  return out;
}

// "a/b/../c/./d" -> "a/c/d". Paths that climb above the root keep no ".." (they cannot name an
// embedded file, and the lookup then fails with the original path in the message).
std::string NormalizePath(const std::string& path) {
  std::vector<std::string> parts;
  std::stringstream in(path);
  for (std::string part; std::getline(in, part, '/');) {
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
      continue;
    }
    parts.push_back(part);
  }
  return Join(parts, "/");
}

std::string Str(const json& object, const json::json_pointer& pointer) {
  if (!object.contains(pointer)) return "";
  const json& v = object.at(pointer);
  return v.is_string() ? v.get<std::string>() : "";
}

std::string KindOf(const json& object) {
  return object.value("kind", std::string());
}
std::string NameOf(const json& object) {
  return Str(object, "/metadata/name"_json_pointer);
}

// RFC 1123 label: what a namespace name must be.
bool IsDnsLabel(std::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return s.front() != '-' && s.back() != '-';
}

// ---------------------------------------------------------------------------------------------
// YAML -> JSON, with the typing Kubernetes (sigs.k8s.io/yaml) gives plain scalars.

bool IsInteger(const std::string& s, int64_t* out) {
  std::string_view v = s;
  if (!v.empty() && v.front() == '+') v.remove_prefix(1);
  if (v.empty()) return false;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), *out);
  return ec == std::errc() && end == v.data() + v.size();
}

bool IsFloat(const std::string& s, double* out) {
  // [-+]? ( . digits | digits [ . digits* ] ) ( [eE] [-+]? digits )?
  size_t i = 0, n = s.size();
  if (i < n && (s[i] == '-' || s[i] == '+')) ++i;
  size_t digits = 0;
  while (i < n && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++digits;
  if (i < n && s[i] == '.') {
    ++i;
    while (i < n && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++digits;
  }
  if (digits == 0) return false;
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < n && (s[i] == '-' || s[i] == '+')) ++i;
    size_t exponent = 0;
    while (i < n && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++exponent;
    if (exponent == 0) return false;
  }
  if (i != n) return false;
  errno = 0;
  char* end = nullptr;
  *out = std::strtod(s.c_str(), &end);
  return errno == 0 && end == s.c_str() + s.size();
}

json ScalarToJson(const YamlNode& node) {
  const std::string& s = node.scalar();
  if (!node.plain() || !node.tag().empty()) return s;  // quoted, block or tagged: a string
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  int64_t i = 0;
  if (IsInteger(s, &i)) return i;
  double d = 0;
  if (IsFloat(s, &d)) return d;
  return s;
}

// `open`: the collections being converted, so that an alias inside its own anchor (`&a [*a]`)
// is an error rather than endless recursion.
Result<json> NodeToJson(const YamlNode& node, const std::string& file,
                        std::vector<YamlNode>* open) {
  if (!node.IsSequence() && !node.IsMapping()) {
    return node.IsScalar() ? ScalarToJson(node) : json(nullptr);
  }
  if (open->size() >= static_cast<size_t>(kMaxYamlDepth)) {
    return InvalidArgumentError(YamlLocation(file, node.mark()) + ": the value nests more than " +
                                std::to_string(kMaxYamlDepth) +
                                " levels deep once YAML aliases are followed");
  }
  for (const YamlNode& o : *open) {
    if (o.SameAs(node)) {
      return InvalidArgumentError(YamlLocation(file, node.mark()) +
                                  ": the value contains itself through a YAML alias");
    }
  }
  open->push_back(node);
  json out = node.IsSequence() ? json::array() : json::object();
  if (node.IsSequence()) {
    for (YamlNode item : node.items()) {
      ASSIGN_OR_RETURN(json v, NodeToJson(item, file, open));
      out.push_back(std::move(v));
    }
  } else {
    for (const auto& [key, value] : node.entries()) {
      ASSIGN_OR_RETURN(json v, NodeToJson(value, file, open));
      out[key.scalar()] = std::move(v);
    }
  }
  open->pop_back();
  return out;
}

// ---------------------------------------------------------------------------------------------
// The kinds deploy knows, in apply order (kustomize's legacy order for these kinds).

struct KindInfo {
  std::string_view api_version;
  std::string_view kind;
  k8s::ResourceType type;
};

constexpr KindInfo kKinds[] = {
    {"v1", "ServiceAccount", k8s::kServiceAccounts},
    {"rbac.authorization.k8s.io/v1", "Role", k8s::kRoles},
    {"rbac.authorization.k8s.io/v1", "RoleBinding", k8s::kRoleBindings},
    {"v1", "ConfigMap", k8s::kConfigMaps},
    {"v1", "Secret", k8s::kSecrets},
    {"v1", "Service", k8s::kServices},
    {"v1", "PersistentVolume", k8s::kPersistentVolumes},
    {"v1", "PersistentVolumeClaim", k8s::kPersistentVolumeClaims},
    {"apps/v1", "Deployment", k8s::kDeployments},
    {"apps/v1", "StatefulSet", k8s::kStatefulSets},
    {"batch/v1", "CronJob", k8s::kCronJobs},
    {"policy/v1", "PodDisruptionBudget", k8s::kPodDisruptionBudgets},
    {"networking.k8s.io/v1", "NetworkPolicy", k8s::kNetworkPolicies},
    {"networking.k8s.io/v1", "Ingress", k8s::kIngresses},
};

constexpr k8s::ResourceType kNodes{"v1", "nodes", "Node", k8s::Scope::kCluster};

// Index in kKinds, or -1.
int KindIndex(const json& object) {
  std::string api_version = object.value("apiVersion", std::string());
  std::string kind = KindOf(object);
  for (size_t i = 0; i < std::size(kKinds); ++i) {
    if (kKinds[i].api_version == api_version && kKinds[i].kind == kind) return static_cast<int>(i);
  }
  return -1;
}

// Cluster-scoped kinds kustomize leaves without a namespace (the ones these files could hold).
bool IsClusterScopedKind(const std::string& kind) {
  static const std::set<std::string> kClusterScoped = {
      "Namespace",          "PersistentVolume", "StorageClass",  "ClusterRole",
      "ClusterRoleBinding", "IngressClass",     "PriorityClass", "CustomResourceDefinition"};
  return kClusterScoped.count(kind) > 0;
}

// "deployment.apps/sparkplane-scheduler", as kubectl prints objects.
std::string ObjectLabel(const k8s::ResourceType& type, const std::string& name) {
  std::string kind(type.kind);
  std::transform(kind.begin(), kind.end(), kind.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  std::string group(type.Group());
  return kind + (group.empty() ? "" : "." + group) + "/" + name;
}

// ---------------------------------------------------------------------------------------------
// The kustomize subset.

using FileMap = std::map<std::string, std::string>;

Result<std::string> FileText(const FileMap& files, const std::string& path,
                             const std::string& referrer) {
  auto it = files.find(path);
  if (it == files.end()) {
    return NotFoundError("deploy/" + referrer + ": no file deploy/" + path);
  }
  return it->second;
}

bool TargetMatches(const json& target, const json& object) {
  std::string api_version = object.value("apiVersion", std::string());
  auto slash = api_version.find('/');
  std::string group = slash == std::string::npos ? "" : api_version.substr(0, slash);
  std::string version = slash == std::string::npos ? api_version : api_version.substr(slash + 1);
  auto field_matches = [&](const char* key, const std::string& value) {
    return !target.contains(key) || target[key] == value;
  };
  return field_matches("group", group) && field_matches("version", version) &&
         field_matches("kind", KindOf(object)) && field_matches("name", NameOf(object));
}

Status ApplyPatch(const FileMap& files, const std::string& dir, const std::string& kpath,
                  const json& entry, std::vector<json>* objects) {
  if (!entry.is_object()) {
    return InvalidArgumentError("deploy/" + kpath + ": each entry of patches must be a mapping");
  }
  for (const auto& [key, value] : entry.items()) {
    if (key != "path" && key != "patch" && key != "target") {
      return InvalidArgumentError("deploy/" + kpath + ": patches[]." + key +
                                  " is not supported by sparkplane's kustomize renderer "
                                  "(it knows path, patch and target)");
    }
  }
  const json target = entry.value("target", json::object());
  for (const auto& [key, value] : target.items()) {
    if (key != "group" && key != "version" && key != "kind" && key != "name") {
      return InvalidArgumentError("deploy/" + kpath + ": patches[].target." + key +
                                  " is not supported (use group, version, kind and name)");
    }
  }
  std::string where, text;
  if (entry.contains("path") && entry["path"].is_string()) {
    where = NormalizePath(dir + "/" + entry["path"].get<std::string>());
    ASSIGN_OR_RETURN(text, FileText(files, where, kpath));
  } else if (entry.contains("patch") && entry["patch"].is_string()) {
    where = kpath + " (inline patch)";
    text = entry["patch"].get<std::string>();
  } else {
    return InvalidArgumentError("deploy/" + kpath + ": a patch needs `path` or `patch`");
  }
  ASSIGN_OR_RETURN(std::vector<json> docs, ParseYamlDocuments(text, "deploy/" + where));
  if (docs.size() != 1 || !docs[0].is_array()) {
    return InvalidArgumentError(
        "deploy/" + where +
        ": only JSON 6902 patches (one YAML list of operations) are supported by sparkplane's "
        "kustomize renderer, not strategic-merge patches");
  }
  int matched = 0;
  for (json& object : *objects) {
    if (!TargetMatches(target, object)) continue;
    try {
      object = object.patch(docs[0]);
    } catch (const json::exception& e) {
      return InvalidArgumentError("deploy/" + where + ": cannot patch " + KindOf(object) + "/" +
                                  NameOf(object) + ": " + e.what());
    }
    ++matched;
  }
  if (matched == 0) {
    return InvalidArgumentError("deploy/" + where + ": the patch's target " + target.dump() +
                                " matches no object of deploy/" + kpath);
  }
  return OkStatus();
}

Result<std::vector<json>> Render(const FileMap& files, const std::string& dir, int depth) {
  const std::string kpath = NormalizePath(dir + "/kustomization.yaml");
  if (depth > 16) return InvalidArgumentError("deploy/" + kpath + ": resources nest too deep");
  auto it = files.find(kpath);
  if (it == files.end()) {
    return NotFoundError("no kustomization.yaml in deploy/" + NormalizePath(dir));
  }
  ASSIGN_OR_RETURN(std::vector<json> docs, ParseYamlDocuments(it->second, "deploy/" + kpath));
  if (docs.size() != 1 || !docs[0].is_object()) {
    return InvalidArgumentError("deploy/" + kpath + ": expected one mapping");
  }
  const json& k = docs[0];
  for (const auto& [key, value] : k.items()) {
    if (key != "apiVersion" && key != "kind" && key != "namespace" && key != "resources" &&
        key != "patches") {
      return InvalidArgumentError(
          "deploy/" + kpath + ": `" + key +
          "` is not supported by sparkplane's kustomize renderer (it knows namespace, resources "
          "and patches of JSON 6902 operations), so `sparkplane deploy` would not apply what "
          "`kubectl apply -k` applies; express it with those, or extend RenderKustomization");
    }
  }
  std::vector<json> objects;
  for (const json& resource : k.value("resources", json::array())) {
    if (!resource.is_string()) {
      return InvalidArgumentError("deploy/" + kpath + ": resources must be paths");
    }
    std::string path = NormalizePath(dir + "/" + resource.get<std::string>());
    if (files.count(path + "/kustomization.yaml") > 0) {
      ASSIGN_OR_RETURN(std::vector<json> sub, Render(files, path, depth + 1));
      for (json& o : sub) objects.push_back(std::move(o));
      continue;
    }
    ASSIGN_OR_RETURN(std::string text, FileText(files, path, kpath));
    ASSIGN_OR_RETURN(std::vector<json> file_objects, ParseYamlDocuments(text, "deploy/" + path));
    for (json& o : file_objects) {
      if (!o.is_object() || KindOf(o).empty() || NameOf(o).empty()) {
        return InvalidArgumentError("deploy/" + path +
                                    ": every document must be an object with kind and "
                                    "metadata.name");
      }
      objects.push_back(std::move(o));
    }
  }
  for (const json& entry : k.value("patches", json::array())) {
    RETURN_IF_ERROR(ApplyPatch(files, dir, kpath, entry, &objects));
  }
  if (k.contains("namespace")) {
    if (!k["namespace"].is_string()) {
      return InvalidArgumentError("deploy/" + kpath + ": namespace must be a string");
    }
    const std::string ns = k["namespace"].get<std::string>();
    for (json& o : objects) {
      if (!IsClusterScopedKind(KindOf(o))) o["metadata"]["namespace"] = ns;
      if (KindOf(o) == "RoleBinding" || KindOf(o) == "ClusterRoleBinding") {
        if (o.contains("subjects") && o["subjects"].is_array()) {
          for (json& subject : o["subjects"]) {
            if (subject.value("kind", "") == "ServiceAccount" && !subject.contains("namespace")) {
              subject["namespace"] = ns;
            }
          }
        }
      }
    }
  }
  return objects;
}

std::string OverlayNamespace(const FileMap& files, const std::string& overlay) {
  auto it = files.find("overlays/" + overlay + "/kustomization.yaml");
  if (it == files.end()) return std::string(kDeployDefaultNamespace);
  Result<std::vector<json>> docs = ParseYamlDocuments(it->second, it->first);
  if (!docs.ok() || docs->size() != 1 || !(*docs)[0].is_object()) {
    return std::string(kDeployDefaultNamespace);
  }
  json ns = (*docs)[0].value("namespace", json());
  return ns.is_string() ? ns.get<std::string>() : std::string(kDeployDefaultNamespace);
}

// Moves the rendered objects from namespace `from` to `to` (see the header).
void MoveToNamespace(const std::string& from, const std::string& to, json* object) {
  const std::string kind = KindOf(*object);
  json& metadata = (*object)["metadata"];
  if (!IsClusterScopedKind(kind)) metadata["namespace"] = to;
  if (kind == "RoleBinding" && object->contains("subjects")) {
    for (json& subject : (*object)["subjects"]) {
      if (subject.value("kind", "") == "ServiceAccount" && subject.value("namespace", "") == from) {
        subject["namespace"] = to;
      }
    }
  }
  if (kind == "PersistentVolume") {
    metadata["name"] = NameOf(*object) + "-" + to;
    json& spec = (*object)["spec"];
    if (spec.contains("claimRef") && spec["claimRef"].value("namespace", "") == from) {
      spec["claimRef"]["namespace"] = to;
    }
    const std::string prefix = "/var/lib/sparkplane/";
    std::string path = Str(*object, "/spec/hostPath/path"_json_pointer);
    if (path.rfind(prefix, 0) == 0) {
      spec["hostPath"]["path"] = "/var/lib/sparkplane-" + to + "/" + path.substr(prefix.size());
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Talking to the cluster.

struct KubeSession {
  RealClock clock;
  k8s::KubeConfig config;
  std::unique_ptr<k8s::KubeClient> client;
  std::string config_namespace;  // sparkplane.yaml's namespace, else $SPARKPLANE_NAMESPACE
};

// The API server as kubectl would find it (config.h): the command's --kubeconfig/--context,
// then sparkplane.yaml's kubeconfig/kube_context, then the environment.
Result<std::unique_ptr<KubeSession>> Connect(const GlobalOptions& g, const DeployOptions& options) {
  ConfigFlags flags = g.config;
  if (!options.kubeconfig.empty()) flags.kubeconfig = options.kubeconfig;
  if (!options.context.empty()) flags.kube_context = options.context;
  ASSIGN_OR_RETURN(Config config, ResolveConfig(flags));
  k8s::KubeConfigOptions config_options;
  config_options.context = config.kube_context;
  ASSIGN_OR_RETURN(k8s::KubeConfig kube,
                   k8s::LoadKubeConfigSetting(config.kubeconfig, config_options));
  auto session = std::make_unique<KubeSession>();
  session->config = kube;
  session->client = std::make_unique<k8s::KubeClient>(kube, session->clock);
  session->config_namespace = config.kube_namespace;
  return session;
}

// The object without the fields every write changes, to tell "configured" from "unchanged"
// in a dry run (whose answer keeps the stored resourceVersion).
json WithoutVolatileFields(json object) {
  if (object.contains("metadata") && object["metadata"].is_object()) {
    object["metadata"].erase("managedFields");
    object["metadata"].erase("resourceVersion");
  }
  return object;
}

// --namespace, then sparkplane.yaml's namespace (or $SPARKPLANE_NAMESPACE), then the overlay's.
std::string ResolveNamespace(const FileMap& files, const DeployOptions& options,
                             const KubeSession& session) {
  if (!options.namespace_name.empty()) return options.namespace_name;
  if (!session.config_namespace.empty()) return session.config_namespace;
  return OverlayNamespace(files, options.overlay);
}

// Creates the namespace when it is missing (not in a dry run). Returns whether it exists now.
// Progress goes to `out` (stderr when stdout carries JSON).
Result<bool> EnsureNamespace(k8s::KubeClient& client, const std::string& ns, bool dry_run,
                             std::FILE* out) {
  Result<json> got = client.Get(k8s::ClusterRef(k8s::kNamespaces, ns));
  if (got.ok()) return true;
  // Someone who may not read namespaces may still deploy into one: let the applies tell.
  if (got.status().code() == StatusCode::kPermissionDenied) return true;
  if (got.status().code() != StatusCode::kNotFound) return got.status();
  if (dry_run) {
    std::fprintf(out,
                 "namespace/%s would be created; the objects in it cannot be checked by the API "
                 "server before it exists\n",
                 ns.c_str());
    return false;
  }
  Result<json> created =
      client.Create(k8s::ClusterRef(k8s::kNamespaces), json{{"metadata", {{"name", ns}}}});
  if (!created.ok() && created.status().code() != StatusCode::kAlreadyExists) {
    return created.status();
  }
  std::fprintf(out, "namespace/%s created\n", ns.c_str());
  return true;
}

std::string SelectorFor(const std::vector<std::string>& components) {
  return std::string(kDeployLabel) + " in (" + Join(components, ",") + ")";
}

// The components named on the command line, "all" expanded; InvalidArgument for others.
Result<std::vector<std::string>> ExpandComponents(const std::vector<std::string>& requested) {
  std::vector<std::string> known(std::begin(kDeployComponents), std::end(kDeployComponents));
  if (requested.empty()) return known;
  std::set<std::string> wanted;
  for (const std::string& c : requested) {
    if (c == "all") return known;
    if (std::find(known.begin(), known.end(), c) == known.end()) {
      std::vector<std::string> choices = known;
      choices.push_back("all");
      return InvalidArgumentError("unknown component \"" + c + "\" (expected " +
                                  Join(choices, ", ") + ")" + DidYouMean(c, choices));
    }
    wanted.insert(c);
  }
  std::vector<std::string> out;
  for (const std::string& c : known) {
    if (wanted.count(c) > 0) out.push_back(c);
  }
  return out;
}

// The Secrets of overlays/OVERLAY/generated-secret.yaml (none when the file is missing), each
// with the keys of its sparkplane.io/generate annotation, in namespace `ns`.
Result<std::vector<std::pair<json, std::vector<std::string>>>> GeneratedSecrets(
    const FileMap& files, const std::string& overlay, const std::string& ns) {
  const std::string path = "overlays/" + overlay + "/" + std::string(kGeneratedSecretFile);
  std::vector<std::pair<json, std::vector<std::string>>> out;
  auto it = files.find(path);
  if (it == files.end()) return out;
  ASSIGN_OR_RETURN(std::vector<json> docs, ParseYamlDocuments(it->second, "deploy/" + path));
  for (json& secret : docs) {
    if (!secret.is_object() || secret.value("apiVersion", "") != "v1" ||
        KindOf(secret) != "Secret" || NameOf(secret).empty()) {
      return InvalidArgumentError("deploy/" + path +
                                  ": every document must be a v1 Secret with metadata.name");
    }
    const json annotations = secret["metadata"].value("annotations", json::object());
    const json value = annotations.value(std::string(kGenerateAnnotation), json());
    const std::string annotation = value.is_string() ? value.get<std::string>() : "";
    std::vector<std::string> keys;
    std::stringstream in(annotation);
    for (std::string key; std::getline(in, key, ',');) {
      key.erase(0, key.find_first_not_of(' '));
      key.erase(key.find_last_not_of(' ') + 1);
      if (!key.empty()) keys.push_back(key);
    }
    if (keys.empty()) {
      return InvalidArgumentError("deploy/" + path + ": Secret/" + NameOf(secret) +
                                  " names no key to generate (annotation " +
                                  std::string(kGenerateAnnotation) + ": KEY[,KEY...])");
    }
    for (const std::string& key : keys) {
      if (secret.value("stringData", json::object()).contains(key) ||
          secret.value("data", json::object()).contains(key)) {
        return InvalidArgumentError("deploy/" + path + ": Secret/" + NameOf(secret) +
                                    " has a value for \"" + key +
                                    "\", which it also names to generate");
      }
    }
    secret["metadata"]["namespace"] = ns;
    out.emplace_back(std::move(secret), std::move(keys));
  }
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Public building blocks

Result<std::vector<json>> ParseYamlDocuments(std::string_view text, const std::string& file_name) {
  ASSIGN_OR_RETURN(YamlDocument stream, YamlDocument::Parse(text, file_name));
  std::vector<json> docs;
  for (size_t i = 0; i < stream.size(); ++i) {
    std::vector<YamlNode> open;
    ASSIGN_OR_RETURN(json doc, NodeToJson(stream.root(i), file_name, &open));
    if (!doc.is_null()) docs.push_back(std::move(doc));
  }
  return docs;
}

std::map<std::string, std::string> EmbeddedDeployFileMap() {
  std::map<std::string, std::string> files;
  for (const DeployFile& f : EmbeddedDeployFiles()) files.emplace(f.path, f.content);
  return files;
}

std::vector<std::string> DeployOverlays() {
  std::vector<std::string> overlays;
  const std::string prefix = "overlays/", suffix = "/kustomization.yaml";
  for (const DeployFile& f : EmbeddedDeployFiles()) {
    std::string_view p = f.path;
    if (p.size() > prefix.size() + suffix.size() && p.substr(0, prefix.size()) == prefix &&
        p.substr(p.size() - suffix.size()) == suffix) {
      std::string name(p.substr(prefix.size(), p.size() - prefix.size() - suffix.size()));
      if (name.find('/') == std::string::npos) overlays.push_back(name);
    }
  }
  // By name ("ha" before "ha-try", which the paths' order would swap).
  std::sort(overlays.begin(), overlays.end());
  return overlays;
}

Result<std::vector<json>> RenderKustomization(const std::map<std::string, std::string>& files,
                                              const std::string& dir) {
  return Render(files, NormalizePath(dir), 0);
}

Result<std::vector<DeployObject>> DeployObjectsFor(const std::map<std::string, std::string>& files,
                                                   const std::string& overlay,
                                                   const std::vector<std::string>& components,
                                                   const std::string& namespace_name) {
  std::vector<std::string> overlays;
  for (const auto& [path, text] : files) {
    const std::string prefix = "overlays/", suffix = "/kustomization.yaml";
    if (path.rfind(prefix, 0) == 0 && path.size() > prefix.size() + suffix.size() &&
        path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0) {
      overlays.push_back(path.substr(prefix.size(), path.size() - prefix.size() - suffix.size()));
    }
  }
  std::sort(overlays.begin(), overlays.end());
  if (std::find(overlays.begin(), overlays.end(), overlay) == overlays.end()) {
    std::vector<std::string> head(overlays.begin(), overlays.end() - 1);
    std::string expected =
        head.empty() ? overlays.back() : Join(head, ", ") + " or " + overlays.back();
    return InvalidArgumentError("unknown overlay \"" + overlay + "\" (expected " + expected + ")" +
                                DidYouMean(overlay, overlays));
  }
  ASSIGN_OR_RETURN(std::vector<std::string> selected, ExpandComponents(components));
  const std::string from = OverlayNamespace(files, overlay);
  const std::string to = namespace_name.empty() ? from : namespace_name;
  if (!IsDnsLabel(to)) {
    return InvalidArgumentError("namespace \"" + to +
                                "\" is not a valid name (lower-case letters, digits and '-', "
                                "at most 63, starting and ending with a letter or digit)");
  }
  ASSIGN_OR_RETURN(std::vector<json> rendered, RenderKustomization(files, "overlays/" + overlay));
  ASSIGN_OR_RETURN(auto generated, GeneratedSecrets(files, overlay, from));
  std::map<std::string, std::vector<std::string>> generated_keys;  // by Secret name
  for (auto& [secret, keys] : generated) {
    for (const json& object : rendered) {
      if (KindOf(object) == "Secret" && NameOf(object) == NameOf(secret)) {
        return InvalidArgumentError("deploy/overlays/" + overlay + "/" +
                                    std::string(kGeneratedSecretFile) + ": Secret/" +
                                    NameOf(secret) + " is also a resource of the kustomization");
      }
    }
    generated_keys[NameOf(secret)] = keys;
    rendered.push_back(std::move(secret));
  }
  std::vector<std::pair<int, DeployObject>> ordered;
  for (json& object : rendered) {
    const std::string what = KindOf(object) + "/" + NameOf(object) + " of overlay " + overlay;
    int kind = KindIndex(object);
    if (kind < 0) {
      return InvalidArgumentError(what + ": sparkplane deploy does not know " +
                                  object.value("apiVersion", std::string()) + " " + KindOf(object));
    }
    std::string component = Str(object, "/metadata/labels/sparkplane.io~1deploy"_json_pointer);
    if (std::find(std::begin(kDeployComponents), std::end(kDeployComponents), component) ==
        std::end(kDeployComponents)) {
      return InvalidArgumentError(what + ": label " + std::string(kDeployLabel) +
                                  " must be storage, scheduler or history; it is \"" + component +
                                  "\"");
    }
    if (std::find(selected.begin(), selected.end(), component) == selected.end()) continue;
    if (to != from) MoveToNamespace(from, to, &object);
    const k8s::ResourceType& type = kKinds[kind].type;
    DeployObject d{k8s::Ref(type, type.namespaced() ? to : "", NameOf(object)), component,
                   std::move(object)};
    if (KindOf(d.object) == "Secret" && generated_keys.count(d.ref.name) > 0) {
      d.generated_keys = generated_keys[d.ref.name];
    }
    ordered.emplace_back(kind, std::move(d));
  }
  std::stable_sort(ordered.begin(), ordered.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<DeployObject> out;
  for (auto& [kind, d] : ordered) out.push_back(std::move(d));
  return out;
}

// ---------------------------------------------------------------------------------------------
// deploy

int DeployCommand(const GlobalOptions& g, const DeployOptions& options) {
  const FileMap files = EmbeddedDeployFileMap();
  Result<std::vector<std::string>> components = ExpandComponents(options.components);
  if (!components.ok()) return Fail(components.status());
  Result<std::unique_ptr<KubeSession>> session = Connect(g, options);
  if (!session.ok()) return Fail(session.status());
  k8s::KubeClient& client = *(*session)->client;
  const std::string ns = ResolveNamespace(files, options, **session);
  Result<std::vector<DeployObject>> objects =
      DeployObjectsFor(files, options.overlay, *components, ns);
  if (!objects.ok()) return Fail(objects.status());

  Result<bool> namespace_exists =
      EnsureNamespace(client, ns, options.dry_run, g.json ? stderr : stdout);
  if (!namespace_exists.ok()) return Fail(namespace_exists.status().With("namespace " + ns));
  const k8s::ApplyConflicts conflicts =
      options.force_conflicts ? k8s::ApplyConflicts::kForce : k8s::ApplyConflicts::kFail;
  const std::string suffix = options.dry_run ? " (server dry run)" : "";

  json report = json::array();
  int failed = 0, skipped = 0;
  for (const DeployObject& d : *objects) {
    const std::string label = ObjectLabel(d.ref.type, d.ref.name);
    if (!*namespace_exists && d.ref.type.namespaced()) {
      ++skipped;
      if (!g.json)
        std::printf("%s skipped: namespace %s does not exist\n", label.c_str(), ns.c_str());
      report.push_back({{"object", label}, {"outcome", "skipped"}});
      continue;
    }
    Result<json> before = client.Get(d.ref);
    if (!before.ok() && before.status().code() != StatusCode::kNotFound) {
      Fail(before.status());
      ++failed;
      continue;
    }
    json object = d.object;
    std::string generated_note;
    if (!d.generated_keys.empty()) {
      if (before.ok()) {
        // Generated once: what was initialised with the values (a database with its password)
        // keeps them, so new ones would lock it out.
        const std::string note = " (exists: its generated " + Join(d.generated_keys, ", ") +
                                 " is kept; delete the Secret to generate another)";
        if (!g.json) std::printf("%s unchanged%s%s\n", label.c_str(), suffix.c_str(), note.c_str());
        report.push_back({{"object", label},
                          {"namespace", ns},
                          {"component", d.component},
                          {"outcome", "unchanged"},
                          {"dry_run", options.dry_run}});
        continue;
      }
      // 24 random bytes, URL-safe base64: nothing a URL or libpq would have to escape.
      for (const std::string& key : d.generated_keys) {
        object["stringData"][key] = auth::RandomSecret(24);
      }
      generated_note = " with a random " + Join(d.generated_keys, ", ");
    }
    // With --dry-run the API server authenticates, validates and admits the object and answers
    // with what it would store, storing nothing.
    Result<json> after = client.ServerSideApply(d.ref, object, conflicts, options.dry_run);
    if (!after.ok()) {
      Status s = after.status();
      if (s.code() == StatusCode::kAborted && !options.force_conflicts) {
        s = Status(s.code(), s.message() + " (--force-conflicts takes the fields over)");
      }
      Fail(s);
      ++failed;
      continue;
    }
    std::string outcome;
    if (!before.ok()) {
      outcome = "created";
    } else if (Str(*before, "/metadata/resourceVersion"_json_pointer) ==
                   Str(*after, "/metadata/resourceVersion"_json_pointer) &&
               (!options.dry_run ||
                WithoutVolatileFields(*before) == WithoutVolatileFields(*after))) {
      outcome = "unchanged";
    } else {
      outcome = "configured";
    }
    if (!g.json) {
      std::printf("%s %s%s%s\n", label.c_str(), outcome.c_str(), suffix.c_str(),
                  generated_note.c_str());
    }
    report.push_back({{"object", label},
                      {"namespace", d.ref.type.namespaced() ? ns : ""},
                      {"component", d.component},
                      {"outcome", outcome},
                      {"dry_run", options.dry_run}});
  }
  if (g.json) std::printf("%s\n", report.dump(2).c_str());
  if (failed > 0) {
    return Fail(std::to_string(failed) + " of " + std::to_string(objects->size()) +
                " objects were not applied (see above)");
  }
  if (skipped > 0) {
    // A dry run persists nothing, so it cannot create the namespace its objects need.
    return Fail("namespace " + ns + " does not exist, so " + std::to_string(skipped) + " of " +
                std::to_string(objects->size()) +
                " objects could not be checked; deploy without --dry-run creates it");
  }
  if (!g.json) {
    std::printf(
        "%s %s to namespace %s (overlay %s); `sparkplane services --namespace %s` shows how "
        "to reach them\n",
        options.dry_run ? "checked" : "deployed", Join(*components, ", ").c_str(), ns.c_str(),
        options.overlay.c_str(), ns.c_str());
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------
// undeploy

int UndeployCommand(const GlobalOptions& g, const DeployOptions& options) {
  const FileMap files = EmbeddedDeployFileMap();
  Result<std::vector<std::string>> components = ExpandComponents(options.components);
  if (!components.ok()) return Fail(components.status());
  // The kinds to look at: those of the components in any overlay (one deployed with the other
  // overlay is removed too).
  std::set<int> kinds;
  for (const std::string& overlay : DeployOverlays()) {
    Result<std::vector<DeployObject>> objects =
        DeployObjectsFor(files, overlay, *components, options.namespace_name);
    if (!objects.ok()) return Fail(objects.status());
    for (const DeployObject& d : *objects) kinds.insert(KindIndex(d.object));
  }
  Result<std::unique_ptr<KubeSession>> session = Connect(g, options);
  if (!session.ok()) return Fail(session.status());
  k8s::KubeClient& client = *(*session)->client;
  const std::string ns = ResolveNamespace(files, options, **session);

  k8s::ListOptions list;
  list.label_selector = SelectorFor(*components);
  std::vector<k8s::ResourceRef> deleting;
  json report = json::array();
  for (auto it = kinds.rbegin(); it != kinds.rend(); ++it) {
    const k8s::ResourceType& type = kKinds[*it].type;
    Result<k8s::ObjectList> found =
        client.ListAll(type.namespaced() ? k8s::Ref(type, ns) : k8s::ClusterRef(type), list);
    if (!found.ok()) return Fail(found.status());
    for (const json& item : found->items) {
      // Cluster-scoped objects are shared: only those reserved for this namespace's claims.
      if (!type.namespaced() && Str(item, "/spec/claimRef/namespace"_json_pointer) != ns) continue;
      k8s::ResourceRef ref = k8s::Ref(type, type.namespaced() ? ns : "", NameOf(item));
      const std::string label = ObjectLabel(type, ref.name);
      if (options.dry_run) {
        if (!g.json) std::printf("%s would be deleted\n", label.c_str());
        report.push_back({{"object", label}, {"outcome", "would be deleted"}});
        continue;
      }
      k8s::DeleteOptions foreground;
      foreground.propagation = k8s::Propagation::kForeground;
      Result<bool> deleted = client.Delete(ref, foreground);
      if (!deleted.ok()) return Fail(deleted.status());
      const char* outcome = *deleted ? "deleted" : "already gone";
      if (!g.json) std::printf("%s %s\n", label.c_str(), outcome);
      report.push_back({{"object", label}, {"outcome", outcome}});
      deleting.push_back(ref);
    }
  }
  // Wait until they are gone: finalizers hold claims until no pod uses them, volumes until no
  // claim is bound to them, Deployments until their pods are gone (foreground).
  const Time deadline = (*session)->clock.Now() + std::chrono::seconds(options.timeout_seconds);
  while (!deleting.empty()) {
    std::vector<k8s::ResourceRef> remaining;
    std::vector<std::string> waiting_for;
    for (const k8s::ResourceRef& ref : deleting) {
      Result<json> got = client.Get(ref);
      if (!got.ok() && got.status().code() == StatusCode::kNotFound) continue;
      if (!got.ok()) return Fail(got.status());
      remaining.push_back(ref);
      std::string finalizers;
      for (const json& f : got->value("/metadata/finalizers"_json_pointer, json::array())) {
        if (f.is_string()) finalizers += (finalizers.empty() ? "" : ", ") + f.get<std::string>();
      }
      waiting_for.push_back(ObjectLabel(ref.type, ref.name) +
                            (finalizers.empty() ? "" : " (finalizers: " + finalizers + ")"));
    }
    deleting = std::move(remaining);
    if (deleting.empty()) break;
    if ((*session)->clock.Now() > deadline) {
      return Fail("after " + std::to_string(options.timeout_seconds) +
                  " s these objects still exist: " + Join(waiting_for, "; ") +
                  " (see `kubectl -n " + ns + " describe` for why; --timeout waits longer)");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  if (g.json) {
    std::printf("%s\n", report.dump(2).c_str());
  } else if (!options.dry_run) {
    std::printf("undeployed %s from namespace %s: %zu objects gone\n",
                Join(*components, ", ").c_str(), ns.c_str(), report.size());
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------
// services

namespace {

struct NodeAddress {
  std::string address;  // "" when no node could be read
  std::string note;     // "node kwok-node-0 InternalIP", or why there is no address
};

NodeAddress PickNodeAddress(k8s::KubeClient& client) {
  Result<k8s::ObjectList> nodes = client.ListAll(k8s::ClusterRef(kNodes));
  if (!nodes.ok()) {
    return {"", nodes.status().code() == StatusCode::kPermissionDenied
                    ? "nodes are not readable with these credentials: use any node's address"
                    : "cannot list nodes: " + nodes.status().message()};
  }
  const json* chosen = nullptr;
  for (const json& node : nodes->items) {
    bool ready = false;
    for (const json& c : node.value("/status/conditions"_json_pointer, json::array())) {
      ready |= c.value("type", "") == "Ready" && c.value("status", "") == "True";
    }
    if (ready) {
      chosen = &node;
      break;
    }
  }
  if (chosen == nullptr) return {"", "no node is Ready"};
  for (const char* wanted : {"ExternalIP", "InternalIP", "Hostname"}) {
    for (const json& a : chosen->value("/status/addresses"_json_pointer, json::array())) {
      if (a.value("type", "") == wanted && !a.value("address", "").empty()) {
        return {a.value("address", ""), "node " + NameOf(*chosen) + " " + wanted};
      }
    }
  }
  return {"", "node " + NameOf(*chosen) + " reports no address"};
}

bool IsHttpPort(const json& port) {
  std::string name = port.value("name", ""), protocol = port.value("appProtocol", "");
  return name.rfind("http", 0) == 0 || name == "ui" || name == "web" ||
         protocol.rfind("http", 0) == 0;
}

std::string PortText(const json& v) {
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  return v.is_string() ? v.get<std::string>() : "";
}

}  // namespace

int ServicesCommand(const GlobalOptions& g, const DeployOptions& options) {
  const FileMap files = EmbeddedDeployFileMap();
  Result<std::unique_ptr<KubeSession>> session = Connect(g, options);
  if (!session.ok()) return Fail(session.status());
  k8s::KubeClient& client = *(*session)->client;
  const std::string ns = ResolveNamespace(files, options, **session);
  Result<k8s::ObjectList> services = client.ListAll(k8s::Ref(k8s::kServices, ns));
  if (!services.ok()) return Fail(services.status());
  Result<k8s::ObjectList> ingresses = client.ListAll(k8s::Ref(k8s::kIngresses, ns));
  if (!ingresses.ok()) return Fail(ingresses.status());
  std::optional<NodeAddress> node;

  json rows = json::array();
  auto add = [&](const std::string& kind, const std::string& name, const std::string& type,
                 const std::string& port, const std::string& url, const std::string& reach) {
    rows.push_back({{"kind", kind},
                    {"name", name},
                    {"type", type},
                    {"port", port},
                    {"url", url},
                    {"reachable", reach}});
  };
  for (const json& svc : services->items) {
    const std::string name = NameOf(svc);
    const std::string type = Str(svc, "/spec/type"_json_pointer).empty()
                                 ? "ClusterIP"
                                 : Str(svc, "/spec/type"_json_pointer);
    const std::string cluster_ip = Str(svc, "/spec/clusterIP"_json_pointer);
    const std::string dns = name + "." + ns + ".svc";
    const bool notebook = Str(svc, "/metadata/labels/app.kubernetes.io~1name"_json_pointer) ==
                          k8s::kNotebookNameLabelValue;
    const std::string path = notebook ? "/lab" : "";
    for (const json& port : svc.value("/spec/ports"_json_pointer, json::array())) {
      const std::string scheme = IsHttpPort(port) ? "http://" : "";
      const std::string number = PortText(port.value("port", json()));
      const std::string port_name = port.value("name", "");
      const std::string shown_port = port_name.empty() ? number : port_name + " " + number;
      if (type == "NodePort" || type == "LoadBalancer") {
        const std::string node_port = PortText(port.value("nodePort", json()));
        if (!node) node = PickNodeAddress(client);
        if (!node_port.empty()) {
          add("Service", name, type, shown_port,
              scheme + (node->address.empty() ? "<node-address>" : node->address) + ":" +
                  node_port + path,
              "outside the cluster (" + node->note + ")");
        }
      }
      if (type == "LoadBalancer") {
        json lb = svc.value("/status/loadBalancer/ingress"_json_pointer, json::array());
        if (lb.empty()) add("Service", name, type, shown_port, "<pending>", "load balancer");
        for (const json& entry : lb) {
          std::string host = entry.value("ip", entry.value("hostname", ""));
          add("Service", name, type, shown_port, scheme + host + ":" + number, "load balancer");
        }
      }
      if (type == "ClusterIP") {
        std::string host = cluster_ip.empty() || cluster_ip == "None" ? dns : cluster_ip;
        std::string reach = "inside the cluster (" + dns + ":" + number + ")";
        // A notebook's JupyterLab (k8s/notebook_objects.h): its page, and how to reach it from
        // here (the token is in the notebook's Secret).
        if (notebook) {
          reach += "; from here: kubectl port-forward -n " + ns + " svc/" + name + " " + number +
                   ":" + number + ", then http://localhost:" + number + "/lab";
        }
        add("Service", name, type, shown_port, scheme + host + ":" + number + path, reach);
      }
      if (type == "ExternalName") {
        add("Service", name, type, shown_port,
            Str(svc, "/spec/externalName"_json_pointer) + ":" + number, "DNS alias");
      }
    }
  }
  for (const json& ing : ingresses->items) {
    std::set<std::string> tls_hosts;
    for (const json& t : ing.value("/spec/tls"_json_pointer, json::array())) {
      for (const json& h : t.value("hosts", json::array())) {
        if (h.is_string()) tls_hosts.insert(h.get<std::string>());
      }
    }
    std::string address;
    for (const json& entry :
         ing.value("/status/loadBalancer/ingress"_json_pointer, json::array())) {
      address = entry.value("ip", entry.value("hostname", ""));
      if (!address.empty()) break;
    }
    for (const json& rule : ing.value("/spec/rules"_json_pointer, json::array())) {
      std::string host = rule.value("host", "");
      std::string scheme = tls_hosts.count(host) > 0 ? "https://" : "http://";
      std::string shown_host =
          host.empty() ? (address.empty() ? "<ingress-address>" : address) : host;
      for (const json& path : rule.value("/http/paths"_json_pointer, json::array())) {
        std::string backend = Str(path, "/backend/service/name"_json_pointer);
        std::string backend_port =
            PortText(path.value("/backend/service/port/number"_json_pointer, json())) +
            Str(path, "/backend/service/port/name"_json_pointer);
        add("Ingress", NameOf(ing), "Ingress", "-> " + backend + ":" + backend_port,
            scheme + shown_host + path.value("path", "/"),
            address.empty() ? "through the ingress controller (no address assigned yet)"
                            : "through the ingress controller at " + address);
      }
    }
  }
  if (g.json) {
    std::printf("%s\n", rows.dump(2).c_str());
    return 0;
  }
  if (rows.empty()) {
    std::printf(
        "no services in namespace %s (deploy with `sparkplane deploy all --namespace %s`)\n",
        ns.c_str(), ns.c_str());
    return 0;
  }
  Table table({"NAME", "TYPE", "PORT", "URL", "REACHABLE FROM"});
  for (const json& r : rows) {
    table.Add({r["name"].get<std::string>(), r["type"].get<std::string>(),
               r["port"].get<std::string>(), r["url"].get<std::string>(),
               r["reachable"].get<std::string>()});
  }
  table.Print();
  return 0;
}

// ---------------------------------------------------------------------------------------------
// help

int DeployHelp(const GlobalOptions& g) {
  std::printf("%s", R"(Sparkplane on Kubernetes: deploy, undeploy and list what is exposed.

  sparkplane deploy COMPONENT... [--overlay single-node|multi-node|ha|ha-try]
                    [--namespace NS] [--dry-run] [--force-conflicts] [--kubeconfig PATH]
                    [--context NAME]
  sparkplane undeploy COMPONENT... [--namespace NS] [--dry-run] [--timeout SECONDS]
                    [--kubeconfig PATH] [--context NAME]
  sparkplane services [--namespace NS] [--json] [--kubeconfig PATH] [--context NAME]
  sparkplane deploy help

COMPONENT is one or more of:
  storage    the three volumes and their claims: sparkplane-state (database, task logs,
             DAGs), sparkplane-spark-history (Spark event logs, ReadWriteMany: the scheduler,
             every Spark node and the History Server mount it), sparkplane-apps (applications);
             with ha-try also its PostgreSQL (StatefulSet, Service, claim, Secret)
  scheduler  ServiceAccount, Role and RoleBinding (least privilege, this namespace only),
             settings, the scheduler Deployment (1 replica, Recreate) and its Services:
             sparkplane-ui (NodePort 8080: the web UI and HTTP API), sparkplane-driver (7078)
             and sparkplane-blockmanager (7079), both ClusterIP
  history    the Spark History Server (apache/spark) and its NodePort Service (18080)
  all        all three

Overlays (the manifests in deploy/ of the source tree, built into this binary):
  single-node  (default) hostPath volumes under /var/lib/sparkplane on the node (minikube,
               kind, Docker Desktop): put DAGs in /var/lib/sparkplane/state/dags and
               applications in /var/lib/sparkplane/apps
  multi-node   claims on the cluster's StorageClasses (Spark history needs a ReadWriteMany
               class), Ingresses for the UIs, and an init container that loads DAGs and
               applications from the image and the optional ConfigMaps sparkplane-dags and
               sparkplane-apps at every start
  ha           two schedulers on a PostgreSQL store (the Secret sparkplane-postgres: url and
               password), one active and one standby, sharing ReadWriteMany volumes, with a
               PodDisruptionBudget; otherwise as multi-node without its Ingresses
  ha-try       FOR TRYING OUT, NOT FOR PRODUCTION: ha with a single-pod PostgreSQL
               StatefulSet of its own (component storage); deploy creates the Secret
               sparkplane-postgres once, with a random password, and keeps it afterwards

Flags:
  --namespace NS     where to deploy (default sparkplane; created when missing, never deleted)
  --overlay NAME     single-node, multi-node, ha or ha-try
  --dry-run          deploy: the API server checks every object (dryRun=All) and stores
                     nothing; undeploy: list what would be deleted
  --force-conflicts  deploy: take over fields that another field manager owns
  --timeout SECONDS  undeploy: how long to wait until everything is gone (default 180)
  --kubeconfig PATH  default $KUBECONFIG, then ~/.kube/config, then the pod's service account
  --context NAME     a context of the kubeconfig (default its current-context)

deploy is idempotent (server-side apply, field manager "sparkplane"): running it again changes
nothing unless the manifests changed. undeploy deletes what carries the components' labels and
waits until it is gone; it leaves the namespace, the data in hostPath directories, and the Spark
clusters of runs (the scheduler deletes those itself). Undeploying storage deletes the claims:
on multi-node clusters their volumes (and data) go with them unless the StorageClass retains.

Examples:
  sparkplane deploy all                                # one-node cluster, namespace sparkplane
  sparkplane deploy all --overlay multi-node --dry-run
  sparkplane services                                  # URLs of the UIs and driver ports
  sparkplane undeploy scheduler history                # keep the volumes
  kubectl apply -k deploy/overlays/single-node         # the same objects, with kubectl
)");
  (void)g;
  return 0;
}

}  // namespace sp::cli
