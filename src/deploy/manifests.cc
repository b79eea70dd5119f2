// Sparkplane's own manifests (see manifests.h): deploy/ as embedded at build time, rendered the
// way kustomize renders the subset those files use.
#include "deploy/manifests.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <iterator>
#include <set>
#include <sstream>

#include "common/join.h"
#include "common/nearest_name.h"
#include "common/yaml_document.h"

namespace sp::deploy {

namespace {

using nlohmann::json;

// ---------------------------------------------------------------------------------------------
// Small helpers
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
    std::string path = StringAt(*object, "/spec/hostPath/path"_json_pointer);
    if (path.rfind(prefix, 0) == 0) {
      spec["hostPath"]["path"] = "/var/lib/sparkplane-" + to + "/" + path.substr(prefix.size());
    }
  }
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

std::string StringAt(const json& object, const json::json_pointer& pointer) {
  if (!object.contains(pointer)) return "";
  const json& v = object.at(pointer);
  return v.is_string() ? v.get<std::string>() : "";
}

std::string KindOf(const json& object) {
  return object.value("kind", std::string());
}

std::string NameOf(const json& object) {
  return StringAt(object, "/metadata/name"_json_pointer);
}

std::string OverlayNamespace(const std::map<std::string, std::string>& files,
                             const std::string& overlay) {
  auto it = files.find("overlays/" + overlay + "/kustomization.yaml");
  if (it == files.end()) return std::string(kDeployDefaultNamespace);
  Result<std::vector<json>> docs = ParseYamlDocuments(it->second, it->first);
  if (!docs.ok() || docs->size() != 1 || !(*docs)[0].is_object()) {
    return std::string(kDeployDefaultNamespace);
  }
  json ns = (*docs)[0].value("namespace", json());
  return ns.is_string() ? ns.get<std::string>() : std::string(kDeployDefaultNamespace);
}

std::string ComponentSelector(const std::vector<std::string>& components) {
  return std::string(kDeployLabel) + " in (" + Join(components, ",") + ")";
}

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

std::vector<std::string> OverlaysIn(const std::map<std::string, std::string>& files) {
  std::vector<std::string> overlays;
  const std::string prefix = "overlays/", suffix = "/kustomization.yaml";
  for (const auto& [path, text] : files) {
    if (path.rfind(prefix, 0) == 0 && path.size() > prefix.size() + suffix.size() &&
        path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0) {
      std::string name = path.substr(prefix.size(), path.size() - prefix.size() - suffix.size());
      if (name.find('/') == std::string::npos) overlays.push_back(std::move(name));
    }
  }
  // By name ("ha" before "ha-try", which the paths' order would swap).
  std::sort(overlays.begin(), overlays.end());
  return overlays;
}

std::vector<std::string> DeployOverlays() {
  return OverlaysIn(EmbeddedDeployFileMap());
}

Result<std::vector<json>> RenderKustomization(const std::map<std::string, std::string>& files,
                                              const std::string& dir) {
  return Render(files, NormalizePath(dir), 0);
}

Result<std::vector<DeployObject>> DeployObjectsFor(const std::map<std::string, std::string>& files,
                                                   const std::string& overlay,
                                                   const std::vector<std::string>& components,
                                                   const std::string& namespace_name) {
  const std::vector<std::string> overlays = OverlaysIn(files);
  if (overlays.empty()) return NotFoundError("no overlays/*/kustomization.yaml in the manifests");
  if (std::find(overlays.begin(), overlays.end(), overlay) == overlays.end()) {
    return InvalidArgumentError("unknown overlay \"" + overlay + "\" (expected " +
                                JoinAlternatives(overlays) + ")" + DidYouMean(overlay, overlays));
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
    std::string component = StringAt(object, "/metadata/labels/sparkplane.io~1deploy"_json_pointer);
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

Result<std::vector<k8s::ResourceType>> KindsToUndeploy(
    const std::map<std::string, std::string>& files, const std::vector<std::string>& components,
    const std::string& namespace_name) {
  std::set<int> kinds;
  for (const std::string& overlay : OverlaysIn(files)) {
    ASSIGN_OR_RETURN(std::vector<DeployObject> objects,
                     DeployObjectsFor(files, overlay, components, namespace_name));
    for (const DeployObject& d : objects) kinds.insert(KindIndex(d.object));
  }
  std::vector<k8s::ResourceType> out;
  for (auto it = kinds.rbegin(); it != kinds.rend(); ++it) out.push_back(kKinds[*it].type);
  return out;
}

}  // namespace sp::deploy
