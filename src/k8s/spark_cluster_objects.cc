// Manifests of a Sparkplane Spark cluster; see spark_cluster_objects.h.
#include "k8s/spark_cluster_objects.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <set>

#include "k8s/internal/text.h"

namespace sp::k8s {

namespace {

using nlohmann::json;

constexpr size_t kMaxBase = 40;
constexpr size_t kCutBase = 33;
constexpr int64_t kWorkerDaemonHeapMib = 512;
constexpr int64_t kMinJvmOverheadMib = 384;
constexpr char kHistoryVolume[] = "spark-history";
constexpr char kAuthVolume[] = "spark-auth";
constexpr char kScratchVolume[] = "scratch";
constexpr char kTmpVolume[] = "tmp";
constexpr char kUiKillEnabled[] = "spark.ui.killEnabled";

bool IsLowerAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}
bool IsAlnum(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0;
}
bool HasSpaceOrQuote(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    return std::isspace(static_cast<unsigned char>(c)) || c == '"' || c == '\'' || c == '\\';
  });
}

uint64_t Fnv1a(std::string_view s) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

// DNS-1123 label: lower-case alphanumerics and '-', alphanumeric at both ends, <= 63.
bool IsDnsLabel(std::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  if (!IsLowerAlnum(s.front()) || !IsLowerAlnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return IsLowerAlnum(c) || c == '-'; });
}

// A label key: [prefix/]name, the prefix a DNS subdomain, the name as a label value (non-empty).
bool IsLabelKey(std::string_view key) {
  std::string_view name = key;
  if (size_t slash = key.find('/'); slash != std::string_view::npos) {
    std::string_view prefix = key.substr(0, slash);
    name = key.substr(slash + 1);
    if (prefix.empty() || prefix.size() > 253) return false;
    for (char c : prefix) {
      if (!IsLowerAlnum(c) && c != '-' && c != '.') return false;
    }
  }
  return !name.empty() && LabelValue(name) == name;
}

std::string Mebibytes(int64_t mib) {
  return std::to_string(mib) + "Mi";
}

int64_t Overhead(int64_t heap_mib) {
  return std::max(kMinJvmOverheadMib, heap_mib / 10);
}

// "-Dk=v -Dk2=v2" from a map of settings (validated: no spaces or quotes).
std::string JavaOpts(const std::map<std::string, std::string>& conf) {
  std::string out;
  for (const auto& [key, value] : conf) {
    if (!out.empty()) out += ' ';
    out += "-D" + key + "=" + value;
  }
  return out;
}

json Env(const std::string& name, const std::string& value) {
  return {{"name", name}, {"value", value}};
}

json Metadata(const SparkClusterSpec& spec, const std::string& name, const std::string& component,
              const json& owner) {
  json labels = ClusterLabels(spec);
  labels[kComponentLabel] = component;
  json annotations = {{kClusterNameAnnotation, spec.name}};
  if (!spec.dag_id.empty()) annotations[kDagIdAnnotation] = spec.dag_id;
  json m = {{"name", name},
            {"namespace", spec.namespace_name},
            {"labels", labels},
            {"annotations", annotations}};
  if (!owner.is_null()) m["ownerReferences"] = json::array({owner});
  return m;
}

json PodSelector(const SparkClusterNames& names, const std::string& component) {
  return {{kClusterLabel, names.base}, {kComponentLabel, component}};
}

json Resources(int cores, int64_t memory_mib) {
  json amounts = {{"cpu", std::to_string(cores)}, {"memory", Mebibytes(memory_mib)}};
  return {{"requests", amounts}, {"limits", amounts}};
}

json ReadinessProbe(int port) {
  return {{"httpGet", {{"path", "/"}, {"port", port}, {"scheme", "HTTP"}}},
          {"initialDelaySeconds", 5},
          {"periodSeconds", 5},
          {"timeoutSeconds", 3},
          {"successThreshold", 1},
          {"failureThreshold", 3}};
}

// The settings every daemon of the cluster gets: event logs on the shared volume, and the
// shared secret as a file when the cluster authenticates.
std::map<std::string, std::string> DaemonConf(const SparkClusterSpec& spec) {
  std::map<std::string, std::string> conf;
  if (!spec.history_pvc.empty()) {
    conf["spark.eventLog.enabled"] = "true";
    conf["spark.eventLog.dir"] = std::string("file:") + kEventLogMountPath;
  }
  if (spec.authenticate) {
    conf["spark.authenticate"] = "true";
    conf["spark.authenticate.secret.file"] = kAuthSecretFile;
  }
  return conf;
}

// A role's settings (SPARK_MASTER_OPTS / SPARK_WORKER_OPTS, which the launcher puts after
// SPARK_DAEMON_JAVA_OPTS, so they have the last word) with the web UI's kill links and kill
// endpoints off, whatever the user's conf says (validation refuses it anyway).
std::map<std::string, std::string> WithUiKillDisabled(std::map<std::string, std::string> conf) {
  conf[kUiKillEnabled] = "false";
  return conf;
}

json EmptyDir(const std::string& name, const std::string& size_limit) {
  return {{"name", name}, {"emptyDir", {{"sizeLimit", size_limit}}}};
}

// A Kubernetes quantity of bytes: digits, an optional fraction and a suffix out of Ki..Ei,
// k..E or none. The milli, exponent and signed forms are valid Kubernetes but never meant for
// a disk size, so they are refused. nullopt when malformed.
std::optional<double> QuantityBytes(std::string_view q) {
  size_t i = 0;
  while (i < q.size() && std::isdigit(static_cast<unsigned char>(q[i]))) ++i;
  if (i == 0 || i > 20) return std::nullopt;  // (std::stod throws beyond a double's range)
  if (i < q.size() && q[i] == '.') {
    size_t fraction = ++i;
    while (i < q.size() && std::isdigit(static_cast<unsigned char>(q[i]))) ++i;
    if (i == fraction || i > 40) return std::nullopt;
  }
  static const std::map<std::string_view, double> kScale = {
      {"", 1},        {"k", 1e3},     {"M", 1e6},     {"G", 1e9},     {"T", 1e12},
      {"P", 1e15},    {"E", 1e18},    {"Ki", 0x1p10}, {"Mi", 0x1p20}, {"Gi", 0x1p30},
      {"Ti", 0x1p40}, {"Pi", 0x1p50}, {"Ei", 0x1p60}};
  auto scale = kScale.find(q.substr(i));
  if (scale == kScale.end()) return std::nullopt;
  return std::stod(std::string(q.substr(0, i))) * scale->second;
}

// `field` holds a disk size for an emptyDir's sizeLimit: a quantity of at least 1Mi.
Status ValidateDiskQuantity(const std::string& q, const std::string& field) {
  std::optional<double> bytes = QuantityBytes(q);
  if (!bytes) {
    // JVM and colloquial sizes ("10g", "512mb", "2GiB") are meant as binary units.
    std::string hint;
    size_t unit = q.find_first_not_of("0123456789.");
    if (unit != 0 && unit != std::string::npos) {
      std::string rest;
      for (char c : q.substr(unit))
        rest += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      static const std::set<std::string> kColloquial = {"", "b", "i", "ib"};
      if (std::string_view("kmgtp").find(rest[0]) != std::string_view::npos &&
          kColloquial.count(rest.substr(1)) != 0) {
        hint = " (did you mean " + q.substr(0, unit) + static_cast<char>(std::toupper(rest[0])) +
               "i?)";
      }
    }
    return InvalidArgumentError(field + ": expected a Kubernetes quantity such as " +
                                kDefaultWorkerScratch + " (suffix Ki, Mi, Gi, Ti, or k, M, G, T " +
                                "for powers of 10); got '" + q + "'" + hint);
  }
  if (*bytes < 0x1p20) {
    return InvalidArgumentError(field + ": expected at least 1Mi; got '" + q + "' (" +
                                std::to_string(static_cast<int64_t>(*bytes)) + " bytes)");
  }
  return OkStatus();
}

// The pod template shared by master and workers; `container` is completed here.
json PodTemplate(const SparkClusterSpec& spec, const SparkClusterNames& names,
                 const std::string& component, json container, json extra_volumes,
                 json extra_mounts) {
  json volumes = std::move(extra_volumes);
  json mounts = std::move(extra_mounts);
  volumes.push_back(EmptyDir(kTmpVolume, kTmpSizeLimit));
  mounts.push_back({{"name", kTmpVolume}, {"mountPath", "/tmp"}});
  if (!spec.history_pvc.empty()) {
    volumes.push_back(
        {{"name", kHistoryVolume}, {"persistentVolumeClaim", {{"claimName", spec.history_pvc}}}});
    mounts.push_back({{"name", kHistoryVolume}, {"mountPath", kEventLogMountPath}});
  }
  if (spec.authenticate) {
    volumes.push_back(
        {{"name", kAuthVolume},
         {"secret",
          {{"secretName", names.auth_secret},
           {"defaultMode", 0440},
           {"items", json::array({{{"key", kAuthSecretKey}, {"path", "secret"}}})}}}});
    mounts.push_back({{"name", kAuthVolume}, {"mountPath", kAuthMountDir}, {"readOnly", true}});
  }
  container["image"] = spec.image;
  container["imagePullPolicy"] = spec.image_pull_policy;
  container["command"] = json::array({"/opt/spark/bin/spark-class"});
  container["securityContext"] = {{"allowPrivilegeEscalation", false},
                                  {"readOnlyRootFilesystem", true},
                                  {"capabilities", {{"drop", json::array({"ALL"})}}}};
  container["volumeMounts"] = mounts;
  json labels = ClusterLabels(spec);
  labels[kComponentLabel] = component;
  json pod_spec = {{"automountServiceAccountToken", false},
                   {"enableServiceLinks", false},
                   {"securityContext",
                    {{"runAsNonRoot", true},
                     {"runAsUser", kSparkUid},
                     {"runAsGroup", kSparkUid},
                     {"fsGroup", kSparkUid},
                     {"seccompProfile", {{"type", "RuntimeDefault"}}}}},
                   {"containers", json::array({container})},
                   {"volumes", volumes}};
  if (!spec.node_selector.empty()) pod_spec["nodeSelector"] = spec.node_selector;
  if (spec.tolerations.is_array() && !spec.tolerations.empty()) {
    pod_spec["tolerations"] = spec.tolerations;
  }
  return {
      {"metadata", {{"labels", labels}, {"annotations", {{kClusterNameAnnotation, spec.name}}}}},
      {"spec", pod_spec}};
}

}  // namespace

Status ValidateDiskSize(const std::string& quantity, const std::string& field) {
  return ValidateDiskQuantity(quantity, field);
}

SparkClusterNames SparkClusterNames::For(std::string_view cluster_name) {
  std::string base;
  for (char c : cluster_name) {
    char l = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    char out = IsLowerAlnum(l) ? l : '-';
    if (out == '-' && (base.empty() || base.back() == '-')) continue;
    base += out;
  }
  while (!base.empty() && base.back() == '-') base.pop_back();
  if (base.empty() || !(base[0] >= 'a' && base[0] <= 'z')) base = "c-" + base;
  while (!base.empty() && base.back() == '-') base.pop_back();
  if (base != cluster_name || base.size() > kMaxBase) {
    char hash[16];
    std::snprintf(hash, sizeof(hash), "%06llx",
                  static_cast<unsigned long long>(Fnv1a(cluster_name) & 0xffffff));
    if (base.size() > kCutBase) base.resize(kCutBase);
    while (!base.empty() && base.back() == '-') base.pop_back();
    base += "-" + std::string(hash);
  }
  SparkClusterNames n;
  n.base = base;
  n.parent = "sparkplane-cluster-" + base;
  n.master = "sparkplane-" + base + "-master";
  n.ui_service = "sparkplane-" + base + "-ui";
  n.worker = "sparkplane-" + base + "-worker";
  n.auth_secret = "sparkplane-" + base + "-auth";
  n.network_policy = "sparkplane-" + base;
  return n;
}

std::string LabelValue(std::string_view text) {
  std::string out;
  for (char c : text) {
    bool ok = IsAlnum(c) || c == '-' || c == '_' || c == '.';
    out += ok ? c : '-';
    if (out.size() == 63) break;
  }
  size_t begin = 0;
  while (begin < out.size() && !IsAlnum(out[begin])) ++begin;
  out.erase(0, begin);
  while (!out.empty() && !IsAlnum(out.back())) out.pop_back();
  return out;
}

std::string FormatIdleTimeout(Millis timeout) {
  int64_t ms = std::max<int64_t>(timeout.count(), 0);
  return std::to_string((ms + 999) / 1000) + "s";
}

std::optional<Millis> ParseIdleTimeout(std::string_view text) {
  if (!text.empty() && text.back() == 's') text.remove_suffix(1);
  if (text.empty() || text.size() > 12 || text.find_first_not_of("0123456789") != text.npos) {
    return std::nullopt;
  }
  return Millis(std::stoll(std::string(text)) * 1000);
}

Result<int64_t> JvmSizeToMebibytes(std::string_view size, std::string_view field) {
  auto bad = [&] {
    return InvalidArgumentError(std::string(field) + ": expected a JVM memory size such as 512m " +
                                "or 2g; got '" + std::string(size) + "'");
  };
  size_t digits = 0;
  while (digits < size.size() && std::isdigit(static_cast<unsigned char>(size[digits]))) ++digits;
  if (digits == 0 || digits > 15 || size[0] == '0') return bad();
  int64_t n = std::stoll(std::string(size.substr(0, digits)));
  std::string unit;
  for (char c : size.substr(digits)) {
    unit += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  if (unit.size() == 2 && unit[1] == 'b') unit.pop_back();
  int64_t bytes_per_unit = 0;
  if (unit.empty() || unit == "b")
    bytes_per_unit = 1;
  else if (unit == "k")
    bytes_per_unit = int64_t{1} << 10;
  else if (unit == "m")
    bytes_per_unit = int64_t{1} << 20;
  else if (unit == "g")
    bytes_per_unit = int64_t{1} << 30;
  else if (unit == "t")
    bytes_per_unit = int64_t{1} << 40;
  else
    return bad();
  if (n > (int64_t{1} << 50) / bytes_per_unit) return bad();
  int64_t bytes = n * bytes_per_unit;
  return (bytes + (int64_t{1} << 20) - 1) >> 20;
}

Status ValidateSparkClusterSpec(const SparkClusterSpec& spec) {
  if (spec.name.empty() || spec.name.size() > 64 ||
      !std::all_of(spec.name.begin(), spec.name.end(),
                   [](char c) { return IsAlnum(c) || c == '-' || c == '_' || c == '.'; })) {
    return InvalidArgumentError("name: expected 1-64 of [A-Za-z0-9_.-]; got '" + spec.name + "'");
  }
  if (!IsDnsLabel(spec.namespace_name)) {
    return InvalidArgumentError(
        "namespace: expected a DNS-1123 label (lower-case letters, digits "
        "and '-'); got '" +
        spec.namespace_name + "'");
  }
  if (spec.image.empty() || HasSpaceOrQuote(spec.image)) {
    return InvalidArgumentError("image: expected an image reference such as " +
                                std::string(kDefaultSparkImage) + "; got '" + spec.image + "'");
  }
  if (spec.image_pull_policy != "IfNotPresent" && spec.image_pull_policy != "Always" &&
      spec.image_pull_policy != "Never") {
    return InvalidArgumentError("image_pull_policy: expected IfNotPresent, Always or Never; got '" +
                                spec.image_pull_policy + "'");
  }
  if (spec.workers < 0) {
    return InvalidArgumentError("workers: expected an integer >= 0; got " +
                                std::to_string(spec.workers));
  }
  if (spec.worker_cores < 1 || spec.master_cores < 1) {
    return InvalidArgumentError(
        std::string(spec.worker_cores < 1 ? "worker_cores" : "master_cores") +
        ": expected an integer >= 1");
  }
  if (Result<int64_t> m = JvmSizeToMebibytes(spec.worker_memory, "worker_memory"); !m.ok()) {
    return m.status();
  }
  if (Result<int64_t> m = JvmSizeToMebibytes(spec.master_memory, "master_memory"); !m.ok()) {
    return m.status();
  }
  RETURN_IF_ERROR(ValidateDiskQuantity(spec.worker_scratch, "worker_scratch"));
  if (spec.ui_node_port_number != 0 &&
      (spec.ui_node_port_number < 30000 || spec.ui_node_port_number > 32767)) {
    return InvalidArgumentError("ui_node_port: expected true or a port from 30000 to 32767; got " +
                                std::to_string(spec.ui_node_port_number));
  }
  if (!spec.history_pvc.empty() && !IsDnsLabel(spec.history_pvc) &&
      LabelValue(spec.history_pvc) != spec.history_pvc) {
    return InvalidArgumentError("spark_history_pvc: '" + spec.history_pvc +
                                "' is not a valid PersistentVolumeClaim name");
  }
  for (const auto& [key, value] : spec.node_selector) {
    if (!IsLabelKey(key)) {
      return InvalidArgumentError("node_selector." + key + ": '" + key + "' is not a label key");
    }
    if (LabelValue(value) != value) {
      return InvalidArgumentError("node_selector." + key + ": '" + value +
                                  "' is not a label value (at most 63 of [A-Za-z0-9_.-], "
                                  "alphanumeric at both ends)");
    }
  }
  if (!spec.tolerations.is_array()) {
    return InvalidArgumentError("tolerations: expected a list of tolerations");
  }
  static const std::set<std::string> kTolerationKeys = {"key", "operator", "value", "effect",
                                                        "tolerationSeconds"};
  for (size_t i = 0; i < spec.tolerations.size(); ++i) {
    const json& t = spec.tolerations[i];
    std::string where = "tolerations[" + std::to_string(i) + "]";
    if (!t.is_object()) return InvalidArgumentError(where + ": expected a mapping");
    for (const auto& [k, v] : t.items()) {
      if (kTolerationKeys.count(k) == 0) {
        return InvalidArgumentError(where + ": unknown key '" + k +
                                    "' (known: key, operator, value, effect, tolerationSeconds)");
      }
      if (k == "tolerationSeconds" ? !v.is_number_integer() : !v.is_string()) {
        return InvalidArgumentError(where + "." + k + ": expected " +
                                    (k == "tolerationSeconds" ? "an integer" : "a string"));
      }
    }
    std::string op = t.value("operator", "Equal");
    if (op != "Equal" && op != "Exists") {
      return InvalidArgumentError(where + ".operator: expected Equal or Exists; got '" + op + "'");
    }
    std::string effect = t.value("effect", "");
    if (!effect.empty() && effect != "NoSchedule" && effect != "PreferNoSchedule" &&
        effect != "NoExecute") {
      return InvalidArgumentError(where +
                                  ".effect: expected NoSchedule, PreferNoSchedule or NoExecute; "
                                  "got '" +
                                  effect + "'");
    }
    if (op == "Exists" && t.contains("value")) {
      return InvalidArgumentError(where + ": operator Exists takes no value");
    }
  }
  for (const auto* conf : {&spec.master_conf, &spec.worker_conf}) {
    const char* field = conf == &spec.master_conf ? "master_conf" : "worker_conf";
    for (const auto& [key, value] : *conf) {
      if (key.rfind("spark.", 0) != 0 || key.size() == 6 || HasSpaceOrQuote(key) ||
          key.find('=') != std::string::npos) {
        return InvalidArgumentError(std::string(field) + "." + key +
                                    ": setting names start with 'spark.' and hold no spaces, "
                                    "quotes or '='");
      }
      if (value.empty() || HasSpaceOrQuote(value)) {
        return InvalidArgumentError(std::string(field) + "." + key +
                                    ": values must be non-empty and hold no spaces or quotes "
                                    "(they are passed to the daemons as -D" +
                                    key + "=VALUE)");
      }
      if (key == kUiKillEnabled && value != "false") {
        return InvalidArgumentError(std::string(field) + "." + key +
                                    ": is always false on Sparkplane's clusters, so that whoever "
                                    "reaches a web UI cannot kill apps or drivers (cancel a run "
                                    "through Sparkplane); remove the setting");
      }
    }
  }
  return OkStatus();
}

std::string ClusterSelector(const SparkClusterNames& names) {
  return std::string(kClusterLabel) + "=" + names.base;
}

std::map<std::string, std::string> ClusterLabels(const SparkClusterSpec& spec) {
  std::map<std::string, std::string> labels = {
      {kManagedByLabel, kManagedByValue},
      {kNameLabel, "spark"},
      {kClusterLabel, SparkClusterNames::For(spec.name).base},
  };
  if (std::string dag = LabelValue(spec.dag_id); !dag.empty()) labels[kDagLabel] = dag;
  if (spec.run_key != 0) labels[kRunLabel] = std::to_string(spec.run_key);
  return labels;
}

std::string MasterUrl(const SparkClusterSpec& spec) {
  return "spark://" + SparkClusterNames::For(spec.name).master + "." + spec.namespace_name +
         ".svc:" + std::to_string(kMasterPort);
}

std::string MasterUiUrl(const SparkClusterSpec& spec) {
  return "http://" + SparkClusterNames::For(spec.name).master + "." + spec.namespace_name +
         ".svc:" + std::to_string(kMasterUiPort);
}

json OwnerReference(const std::string& parent_name, const std::string& parent_uid) {
  return {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"name", parent_name},
          {"uid", parent_uid},  {"controller", true},  {"blockOwnerDeletion", true}};
}

json BuildParentConfigMap(const SparkClusterSpec& spec) {
  SparkClusterNames names = SparkClusterNames::For(spec.name);
  json described = {{"name", spec.name},
                    {"namespace", spec.namespace_name},
                    {"image", spec.image},
                    {"workers", spec.workers},
                    {"worker_cores", spec.worker_cores},
                    {"worker_memory", spec.worker_memory},
                    {"master_cores", spec.master_cores},
                    {"master_memory", spec.master_memory},
                    {"master_conf", spec.master_conf},
                    {"worker_conf", spec.worker_conf},
                    {"node_selector", spec.node_selector},
                    {"tolerations", spec.tolerations},
                    {"history_pvc", spec.history_pvc},
                    {"worker_scratch", spec.worker_scratch},
                    {"authenticate", spec.authenticate},
                    {"master_rest", spec.master_rest},
                    {"ui_node_port", spec.ui_node_port},
                    {"dag_id", spec.dag_id},
                    {"run_key", spec.run_key},
                    {"master_url", MasterUrl(spec)}};
  json metadata = Metadata(spec, names.parent, kParentComponent, nullptr);
  if (spec.deadline) metadata["annotations"][kDeadlineAnnotation] = FormatTime(*spec.deadline);
  if (spec.idle_timeout.count() > 0) {
    metadata["annotations"][kIdleTimeoutAnnotation] = FormatIdleTimeout(spec.idle_timeout);
  }
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", metadata},
          {"data",
           {{kSpecKey, described.dump(2)},
            {"README",
             "Sparkplane's Spark cluster '" + spec.name +
                 "'. Every object of the cluster is owned by this ConfigMap: deleting it with "
                 "propagationPolicy Foreground deletes the whole cluster.\n"}}}};
}

json BuildAuthSecret(const SparkClusterSpec& spec, const json& owner, const std::string& secret) {
  SparkClusterNames names = SparkClusterNames::For(spec.name);
  return {{"apiVersion", "v1"},
          {"kind", "Secret"},
          {"metadata", Metadata(spec, names.auth_secret, "auth", owner)},
          {"type", "Opaque"},
          {"immutable", true},
          {"data", {{kAuthSecretKey, internal::Base64Encode(secret)}}}};
}

json BuildMasterService(const SparkClusterSpec& spec, const json& owner) {
  SparkClusterNames names = SparkClusterNames::For(spec.name);
  json ports = json::array(
      {{{"name", "spark"}, {"port", kMasterPort}, {"targetPort", kMasterPort}, {"protocol", "TCP"}},
       {{"name", "ui"},
        {"port", kMasterUiPort},
        {"targetPort", kMasterUiPort},
        {"protocol", "TCP"}}});
  if (spec.master_rest) {
    ports.push_back({{"name", "rest"},
                     {"port", kMasterRestPort},
                     {"targetPort", kMasterRestPort},
                     {"protocol", "TCP"}});
  }
  return {{"apiVersion", "v1"},
          {"kind", "Service"},
          {"metadata", Metadata(spec, names.master, "master", owner)},
          {"spec",
           {{"type", "ClusterIP"}, {"selector", PodSelector(names, "master")}, {"ports", ports}}}};
}

std::optional<json> BuildUiService(const SparkClusterSpec& spec, const json& owner) {
  if (!spec.ui_node_port) return std::nullopt;
  SparkClusterNames names = SparkClusterNames::For(spec.name);
  json port = {
      {"name", "ui"}, {"port", kMasterUiPort}, {"targetPort", kMasterUiPort}, {"protocol", "TCP"}};
  if (spec.ui_node_port_number != 0) port["nodePort"] = spec.ui_node_port_number;
  return json{{"apiVersion", "v1"},
              {"kind", "Service"},
              {"metadata", Metadata(spec, names.ui_service, "master", owner)},
              {"spec",
               {{"type", "NodePort"},
                {"selector", PodSelector(names, "master")},
                {"ports", json::array({port})}}}};
}

json BuildMasterDeployment(const SparkClusterSpec& spec, const json& owner) {
  SparkClusterNames names = SparkClusterNames::For(spec.name);
  int64_t heap = JvmSizeToMebibytes(spec.master_memory, "master_memory").value_or(1024);
  std::map<std::string, std::string> master = {
      {"spark.master.rest.enabled", spec.master_rest ? "true" : "false"},
      {"spark.deploy.appIdPattern",
       (spec.app_id_prefix.empty() ? "app-" + names.base : spec.app_id_prefix) + "-%s-%04d"},
  };
  for (const auto& [k, v] : spec.master_conf) master[k] = v;
  json ports = json::array({{{"name", "spark"}, {"containerPort", kMasterPort}},
                            {{"name", "ui"}, {"containerPort", kMasterUiPort}}});
  if (spec.master_rest) ports.push_back({{"name", "rest"}, {"containerPort", kMasterRestPort}});
  json args =
      json::array({"org.apache.spark.deploy.master.Master", "--host", "$(POD_IP)", "--port",
                   std::to_string(kMasterPort), "--webui-port", std::to_string(kMasterUiPort)});
  json container = {
      {"name", "spark-master"},
      {"args", args},
      {"env", json::array({{{"name", "POD_IP"},
                            {"valueFrom", {{"fieldRef", {{"fieldPath", "status.podIP"}}}}}},
                           Env("SPARK_NO_DAEMONIZE", "true"),
                           Env("SPARK_DAEMON_MEMORY", std::to_string(heap) + "m"),
                           Env("SPARK_DAEMON_JAVA_OPTS", JavaOpts(DaemonConf(spec))),
                           Env("SPARK_MASTER_OPTS", JavaOpts(WithUiKillDisabled(master)))})},
      {"ports", ports},
      {"readinessProbe", ReadinessProbe(kMasterUiPort)},
      {"resources", Resources(spec.master_cores, heap + Overhead(heap))}};
  return {{"apiVersion", "apps/v1"},
          {"kind", "Deployment"},
          {"metadata", Metadata(spec, names.master, "master", owner)},
          {"spec",
           {{"replicas", 1},
            {"revisionHistoryLimit", 2},
            {"strategy", {{"type", "Recreate"}}},
            {"selector", {{"matchLabels", PodSelector(names, "master")}}},
            {"template",
             PodTemplate(spec, names, "master", container, json::array(), json::array())}}}};
}

json BuildWorkerDeployment(const SparkClusterSpec& spec, const json& owner) {
  SparkClusterNames names = SparkClusterNames::For(spec.name);
  int64_t offered = JvmSizeToMebibytes(spec.worker_memory, "worker_memory").value_or(1024);
  int64_t pod_memory = offered + kWorkerDaemonHeapMib + Overhead(offered + kWorkerDaemonHeapMib);
  json args = json::array(
      {"org.apache.spark.deploy.worker.Worker", "--host", "$(POD_IP)", "--cores",
       std::to_string(spec.worker_cores), "--memory", std::to_string(offered) + "m", "--webui-port",
       std::to_string(kWorkerUiPort), "--work-dir", kWorkerWorkDir, MasterUrl(spec)});
  json container = {
      {"name", "spark-worker"},
      {"args", args},
      {"env",
       json::array(
           {{{"name", "POD_IP"}, {"valueFrom", {{"fieldRef", {{"fieldPath", "status.podIP"}}}}}},
            Env("SPARK_NO_DAEMONIZE", "true"),
            Env("SPARK_DAEMON_MEMORY", std::to_string(kWorkerDaemonHeapMib) + "m"),
            Env("SPARK_DAEMON_JAVA_OPTS", JavaOpts(DaemonConf(spec))),
            Env("SPARK_LOCAL_DIRS", kWorkerLocalDir),
            Env("SPARK_WORKER_OPTS", JavaOpts(WithUiKillDisabled(spec.worker_conf)))})},
      {"ports", json::array({{{"name", "ui"}, {"containerPort", kWorkerUiPort}}})},
      {"readinessProbe", ReadinessProbe(kWorkerUiPort)},
      {"resources", Resources(spec.worker_cores, pod_memory)}};
  json volumes = json::array({EmptyDir(kScratchVolume, spec.worker_scratch)});
  json mounts = json::array({{{"name", kScratchVolume}, {"mountPath", kWorkerScratchDir}}});
  return {{"apiVersion", "apps/v1"},
          {"kind", "Deployment"},
          {"metadata", Metadata(spec, names.worker, "worker", owner)},
          {"spec",
           {{"replicas", spec.workers},
            {"revisionHistoryLimit", 2},
            {"selector", {{"matchLabels", PodSelector(names, "worker")}}},
            {"template", PodTemplate(spec, names, "worker", container, volumes, mounts)}}}};
}

json BuildNetworkPolicy(const SparkClusterSpec& spec, const json& owner) {
  SparkClusterNames names = SparkClusterNames::For(spec.name);
  // Executors listen on ports Spark picks at random, and the driver (in the scheduler's pod)
  // and other executors must reach them, so the peers are restricted, not the ports.
  json peers =
      json::array({{{"podSelector", {{"matchLabels", {{kClusterLabel, names.base}}}}}},
                   {{"podSelector", {{"matchLabels", {{kNameLabel, kSchedulerPodLabelValue}}}}}}});
  // The sweep (deploy/base/sweep.yaml) asks the master's /json/ whether an application runs,
  // for the idle timeout: that port only.
  json sweep = {
      {"from",
       json::array({{{"podSelector", {{"matchLabels", {{kNameLabel, kSweepPodLabelValue}}}}}}})},
      {"ports", json::array({{{"protocol", "TCP"}, {"port", kMasterUiPort}}})}};
  json ingress = json::array({{{"from", peers}}, sweep});
  if (spec.ui_node_port) {
    ingress.push_back({{"ports", json::array({{{"protocol", "TCP"}, {"port", kMasterUiPort}}})}});
  }
  return {{"apiVersion", "networking.k8s.io/v1"},
          {"kind", "NetworkPolicy"},
          {"metadata", Metadata(spec, names.network_policy, "network-policy", owner)},
          {"spec",
           {{"podSelector", {{"matchLabels", {{kClusterLabel, names.base}}}}},
            {"policyTypes", json::array({"Ingress"})},
            {"ingress", ingress}}}};
}

}  // namespace sp::k8s
