// SparkSubmitTaskType; see spark_submit_task.h.
#include "operators/spark_submit_task.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>
#include <tuple>
#include <utility>

#include "clusters/cluster_backend.h"
#include "k8s/client.h"
#include "k8s/kube_config.h"
#include "k8s/kubernetes_cluster_backend.h"
#include "k8s/spark_cluster_objects.h"
#include "k8s/spark_driver_pod.h"
#include "operators/connections.h"
#include "operators/internal/adopted_tries.h"
#include "operators/internal/cluster_records.h"
#include "operators/internal/fields.h"
#include "operators/internal/results.h"
#include "spark/history.h"
#include "spark/submit.h"
#include "store/store.h"

namespace sp::operators {

namespace {

namespace fs = std::filesystem;
using executor::ExitInfo;
using executor::ProcessHandle;
using executor::ProcessLiveness;
using executor::ProcessSupervisor;
using internal::FieldPhase;
using internal::FieldReader;
using internal::ListForm;
using internal::Log;

constexpr Millis kReachTimeout{2000};
// How long a driver found running after a restart gets between SIGTERM and SIGKILL.
constexpr Millis kRecoveryGrace{10000};
constexpr size_t kMaxErrorLine = 500;
constexpr char kDefaultAppIdPrefix[] = "app";
constexpr std::string_view kTraceback = "Traceback (most recent call last):";
constexpr std::string_view kEventLogLine = "Logging events to ";
constexpr std::string_view kRollingLogDir = "eventlog_v2_";

// First-class fields and the --conf keys that mean the same (spark/submit.cc refuses both).
constexpr std::pair<const char*, const char*> kConfTwins[] = {
    {"driver_memory", "spark.driver.memory"},    {"executor_memory", "spark.executor.memory"},
    {"driver_cores", "spark.driver.cores"},      {"executor_cores", "spark.executor.cores"},
    {"total_executor_cores", "spark.cores.max"}, {"name", "spark.app.name"},
    {"java_class", "spark.app.mainClass"},
};

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

bool IsKnownMaster(const std::string& m) {
  bool known = StartsWith(m, "spark://") || m == "local" || StartsWith(m, "local[") ||
               StartsWith(m, "k8s://") || m == "yarn";
  return known && std::none_of(m.begin(), m.end(),
                               [](char c) { return std::isspace(static_cast<unsigned char>(c)); });
}

// Conf keys whose values are not printed in the try's log.
bool LooksSecret(const std::string& key) {
  std::string k = key;
  std::transform(k.begin(), k.end(), k.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (const char* word : {"secret", "password", "token", "credential", "access.key"}) {
    if (k.find(word) != std::string::npos) return true;
  }
  return false;
}

std::string DescribeArgv(const std::vector<std::string>& argv) {
  std::string out;
  for (const std::string& arg : argv) {
    if (!out.empty()) out += ' ';
    out += arg;
  }
  return out;
}

// The settings for the log, values of secret-looking keys masked.
std::string DescribeConf(const std::map<std::string, std::string>& conf) {
  std::string out;
  for (const auto& [key, value] : conf) {
    if (!out.empty()) out += ' ';
    out += key + "=" + (LooksSecret(key) ? std::string(kMaskedSecret) : value);
  }
  return out;
}

bool HasScheme(const std::string& path) {
  return path.find("://") != std::string::npos || StartsWith(path, "local:");
}

// An application or dependency path as spark-submit should see it: URLs as they are, relative
// local paths under the apps dir.
std::string ResolvePath(const std::string& path, const std::string& apps_dir) {
  if (HasScheme(path)) return path;
  if (StartsWith(path, "file:")) return path;
  if (!path.empty() && path.front() == '/') return path;
  return (fs::path(apps_dir) / path).lexically_normal().string();
}

// The local file a (resolved) path names, without a "#alias" fragment; "" for URLs.
std::string LocalFile(const std::string& resolved) {
  if (HasScheme(resolved)) return "";
  std::string p = resolved;
  if (StartsWith(p, "file:")) {
    p = p.substr(5);
    while (StartsWith(p, "//")) p = p.substr(1);
  }
  if (size_t hash = p.find('#'); hash != std::string::npos) p = p.substr(0, hash);
  return p;
}

// Fields of native mode (a k8s:// master: Spark's own Kubernetes scheduler) only.
constexpr const char* kNativeFields[] = {"image", "namespace", "service_account",
                                         "driver_pod_template", "executor_pod_template"};
constexpr char kHistoryVolumeName[] = "spark-history";
// In the try's local dir: every Spark setting of the try, for --properties-file (0600).
constexpr char kPropertiesFile[] = "spark-submit.properties";

// DNS-1123 subdomain (namespaces are labels; service accounts subdomains).
bool IsDnsName(const std::string& s, size_t max) {
  if (s.empty() || s.size() > max) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(s.front()) || !alnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(), [&](char c) { return alnum(c) || c == '-' || c == '.'; });
}

// A standalone master reached through a Kubernetes Service name (…svc or …svc.cluster.local).
bool IsServiceMaster(const std::string& master) {
  if (!StartsWith(master, "spark://")) return false;
  std::string host = master.substr(8);
  host = host.substr(0, host.find_first_of(":/,"));
  auto ends = [&](std::string_view suffix) {
    return host.size() > suffix.size() &&
           host.compare(host.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  return ends(".svc") || ends(".svc.cluster.local");
}

struct SubmitPlan {
  spark::SubmitSpec spec;
  std::string conn_id;
  bool deploy_mode_set = false;
  // native mode
  std::string image;
  std::string namespace_name;
  std::string service_account;
  std::string driver_pod_template;
  std::string executor_pod_template;
  std::vector<std::string> native_fields;  // which of them the task sets

  static SubmitPlan Read(FieldReader& r) {
    SubmitPlan p;
    spark::SubmitSpec& s = p.spec;
    const bool has_conn = r.Has("conn_id");
    const bool has_master = r.Has("master");
    if (has_conn && has_master) {
      r.Problem("master", "give either conn_id or master, not both");
    } else if (!has_conn && !has_master) {
      r.Problem("conn_id",
                "missing 'conn_id' or 'master': the Spark master to submit to (a connection id, "
                "or a URL such as spark://127.0.0.1:7077)");
    }
    if (auto v = r.String("conn_id")) {
      if (Status st = ValidateConnId(*v); !st.ok()) r.Problem("conn_id", st.message());
      p.conn_id = *v;
    }
    if (auto v = r.String("master")) {
      if (!IsKnownMaster(*v)) {
        r.Problem(
            "master",
            "expected spark://HOST:PORT, local, local[N], k8s://URL or yarn; got '" + *v + "'");
      }
      s.master = *v;
    }
    if (auto v = r.RequiredString("application", "the .py file or .jar to run")) {
      s.application = *v;
    }
    if (auto v = r.String("java_class")) s.java_class = *v;
    if (auto v = r.StringList("py_files", ListForm::kCommaSeparated)) s.py_files = *v;
    if (auto v = r.StringList("jars", ListForm::kCommaSeparated)) s.jars = *v;
    if (auto v = r.StringList("files", ListForm::kCommaSeparated)) s.files = *v;
    if (auto v = r.StringList("archives", ListForm::kCommaSeparated)) s.archives = *v;
    if (auto v = r.StringList("packages", ListForm::kCommaSeparated)) s.packages = *v;
    if (auto v = r.StringMap("conf")) {
      for (const auto& [key, value] : *v) {
        if (r.phase() == FieldPhase::kUnrendered && internal::IsTemplated(key)) continue;
        if (!StartsWith(key, "spark.") || key.size() == 6) {
          std::string hint = StartsWith(key, "spark") ? "" : " (did you mean 'spark." + key + "'?)";
          r.Problem("conf", "conf." + key,
                    "keys must start with 'spark.'; spark-submit ignores other keys" + hint);
        }
      }
      s.conf = *v;
    }
    for (const char* field : {"driver_memory", "executor_memory"}) {
      if (auto v = r.String(field)) {
        if (!spark::IsValidMemorySize(*v)) {
          r.Problem(field, "expected a JVM memory size such as 512m or 2g; got '" + *v + "'");
        }
        (std::string(field) == "driver_memory" ? s.driver_memory : s.executor_memory) = *v;
      }
    }
    if (auto v = r.Int("driver_cores", 1, 4096)) s.driver_cores = static_cast<int>(*v);
    if (auto v = r.Int("executor_cores", 1, 4096)) s.executor_cores = static_cast<int>(*v);
    if (auto v = r.Int("total_executor_cores", 1, 1 << 20)) {
      s.total_executor_cores = static_cast<int>(*v);
    }
    if (auto v = r.String("name")) s.name = *v;
    if (auto v = r.StringList("application_args", ListForm::kSingleItem)) s.application_args = *v;
    if (auto v = r.Choice("deploy_mode", {"client", "cluster"})) s.deploy_mode = *v;
    p.deploy_mode_set = r.Has("deploy_mode");
    for (const char* field : kNativeFields) {
      if (r.Has(field)) p.native_fields.push_back(field);
    }
    if (auto v = r.String("image")) {
      if (v->empty() || std::any_of(v->begin(), v->end(), [](char c) {
            return std::isspace(static_cast<unsigned char>(c));
          })) {
        r.Problem("image",
                  "expected an image reference such as apache/spark:4.0.1; got '" + *v + "'");
      }
      p.image = *v;
    }
    if (auto v = r.String("namespace")) {
      if (!IsDnsName(*v, 63) || v->find('.') != std::string::npos) {
        r.Problem("namespace",
                  "expected a Kubernetes namespace (lower-case letters, digits and '-'); got '" +
                      *v + "'");
      }
      p.namespace_name = *v;
    }
    if (auto v = r.String("service_account")) {
      if (!IsDnsName(*v, 253)) {
        r.Problem("service_account",
                  "expected a Kubernetes service account name (lower-case letters, digits, '-' "
                  "and '.'); got '" +
                      *v + "'");
      }
      p.service_account = *v;
    }
    if (auto v = r.String("driver_pod_template")) p.driver_pod_template = *v;
    if (auto v = r.String("executor_pod_template")) p.executor_pod_template = *v;
    if (!p.native_fields.empty() && !s.master.empty() && !r.Deferred("master") &&
        !StartsWith(s.master, "k8s://")) {
      r.Problem(p.native_fields[0],
                "'" + p.native_fields[0] +
                    "' applies to a k8s:// master only (native mode: Spark's own Kubernetes "
                    "scheduler); master is '" +
                    s.master + "'");
    }
    if (auto v = r.StringMap("env")) {
      for (const auto& [key, value] : *v) {
        if (key.empty() || key.find('=') != std::string::npos) {
          r.Problem("env", "env." + key, "variable names must be non-empty and hold no '='");
        }
      }
      s.env = *v;
    }
    if (r.Has("conf") && !r.Deferred("conf")) {
      for (const auto& [field, key] : kConfTwins) {
        if (r.Has(field) && s.conf.count(key) != 0) {
          r.Problem(field,
                    std::string("both ") + field + " and conf " + key + " are set; keep one");
        }
      }
    }
    return p;
  }
};

// One HOST:PORT of a spark:// master URL.
struct Endpoint {
  std::string host;
  std::string port;
};

std::vector<Endpoint> MasterEndpoints(const std::string& master) {
  std::vector<Endpoint> out;
  std::string rest = master.substr(std::string("spark://").size());
  size_t begin = 0;
  while (begin <= rest.size()) {
    size_t comma = rest.find(',', begin);
    std::string item =
        rest.substr(begin, comma == std::string::npos ? std::string::npos : comma - begin);
    if (size_t slash = item.find('/'); slash != std::string::npos) item = item.substr(0, slash);
    Endpoint e;
    if (!item.empty() && item.front() == '[') {
      size_t close = item.find(']');
      e.host = item.substr(1, close == std::string::npos ? std::string::npos : close - 1);
      if (close != std::string::npos && close + 1 < item.size() && item[close + 1] == ':') {
        e.port = item.substr(close + 2);
      }
    } else if (size_t colon = item.rfind(':'); colon != std::string::npos) {
      e.host = item.substr(0, colon);
      e.port = item.substr(colon + 1);
    } else {
      e.host = item;
    }
    if (e.port.empty()) e.port = "7077";
    if (!e.host.empty()) out.push_back(e);
    if (comma == std::string::npos) break;
    begin = comma + 1;
  }
  return out;
}

// OK when host:port accepts a TCP connection within `timeout`; else why not.
Status TcpConnect(const Endpoint& e, Millis timeout) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  int rc = ::getaddrinfo(e.host.c_str(), e.port.c_str(), &hints, &found);
  if (rc != 0) {
    return UnavailableError("cannot resolve host '" + e.host + "': " + ::gai_strerror(rc));
  }
  std::string why = "no address";
  Status result = UnavailableError(why);
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    int c = ::connect(fd, a->ai_addr, a->ai_addrlen);
    int err = c == 0 ? 0 : errno;
    if (c != 0 && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      int n;
      do {
        n = ::poll(&p, 1, static_cast<int>(timeout.count()));
      } while (n < 0 && errno == EINTR);
      if (n == 0) {
        err = ETIMEDOUT;
      } else if (n < 0) {
        err = errno;
      } else {
        socklen_t len = sizeof(err);
        if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
      }
    }
    ::close(fd);
    if (err == 0) {
      result = OkStatus();
      break;
    }
    result = UnavailableError(err == ETIMEDOUT ? "no answer within " +
                                                     std::to_string(timeout.count() / 1000) + " s"
                                               : std::string(::strerror(err)));
  }
  ::freeaddrinfo(found);
  return result;
}

// The app id in a driver's "Logging events to file:<dir>/eventlog_v2_<id>/events_1_<id>.zstd"
// (rolling logs, the 4.x default) or "... to file:<dir>/<id>.inprogress" line. Works in every
// mode, local[N] included, whenever event logging is on (it always is for our tries).
std::optional<std::string> AppIdFromEventLogLine(std::string_view line) {
  size_t at = line.find(kEventLogLine);
  if (at == std::string_view::npos) return std::nullopt;
  std::string_view path = line.substr(at + kEventLogLine.size());
  size_t end = 0;
  while (end < path.size() && !std::isspace(static_cast<unsigned char>(path[end]))) ++end;
  path = path.substr(0, end);
  if (size_t dir = path.find(kRollingLogDir); dir != std::string_view::npos) {
    std::string_view id = path.substr(dir + kRollingLogDir.size());
    id = id.substr(0, id.find('/'));
    if (!id.empty()) return std::string(id);
    return std::nullopt;
  }
  std::string_view name = path.substr(path.rfind('/') + 1);
  for (std::string_view suffix : {".inprogress", ".zstd", ".lz4", ".lzf", ".snappy"}) {
    if (name.size() > suffix.size() && name.substr(name.size() - suffix.size()) == suffix) {
      name.remove_suffix(suffix.size());
    }
  }
  if (name.empty()) return std::nullopt;
  return std::string(name);
}

std::string Trimmed(std::string line) {
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n' || line.back() == ' ')) {
    line.pop_back();
  }
  if (line.size() > kMaxErrorLine) line = line.substr(0, kMaxErrorLine - 3) + "...";
  return line;
}

std::string ExitText(const ExitInfo& exit) {
  if (exit.signal) {
    const char* name = ::sigabbrev_np(*exit.signal);
    return "spark-submit was killed by signal " + std::to_string(*exit.signal) +
           (name != nullptr ? std::string(" (SIG") + name + ")" : "");
  }
  if (exit.exit_code < 0) return "spark-submit ended but its exit status could not be collected";
  return "spark-submit exited with code " + std::to_string(exit.exit_code);
}

void RemoveDir(const std::string& dir) {
  if (dir.empty()) return;
  std::error_code ec;
  fs::remove_all(dir, ec);
}

std::string HandleLocalDir(const nlohmann::json& handle) {
  if (!handle.is_object()) return "";
  auto it = handle.find("local_dir");
  return it != handle.end() && it->is_string() ? it->get<std::string>() : "";
}

// Sets `key` unless the user's conf has it: Sparkplane's settings are defaults.
void SetDefault(spark::SubmitSpec* spec, const std::string& key, const std::string& value) {
  spec->conf.emplace(key, value);
}

// The labels Sparkplane puts on native-mode driver and executor pods (`key`'s: the try's, with
// its submission id), and the exact ids as annotations of the driver.
void AddPodLabels(const k8s::DriverPodKey& key, spark::SubmitSpec* spec) {
  for (const char* role : {"driver", "executor"}) {
    std::string prefix = std::string("spark.kubernetes.") + role + ".label.";
    for (const auto& [label, value] : key.labels) SetDefault(spec, prefix + label, value);
  }
  for (const auto& [annotation, value] : key.annotations) {
    SetDefault(spec, "spark.kubernetes.driver.annotation." + annotation, value);
  }
}

// The driver's container: the pod template's, when the settings name it, else Spark's.
std::string DriverContainer(const spark::SubmitSpec& spec) {
  auto it = spec.conf.find("spark.kubernetes.driver.podTemplateContainerName");
  return it != spec.conf.end() && !it->second.empty() ? it->second : k8s::kSparkDriverContainer;
}

// Delete attempts of a cancel (or of a try that cannot follow its pod) before the try fails
// for good, and the pause before the first retry (doubled after each).
constexpr int kPodDeleteAttempts = 5;
constexpr Millis kPodDeleteBackoff{200};

// The namespace Spark puts the driver in: its setting, else Spark's default.
std::string DriverNamespace(const spark::SubmitSpec& spec) {
  auto it = spec.conf.find("spark.kubernetes.namespace");
  return it != spec.conf.end() && !it->second.empty() ? it->second : "default";
}

// A native cluster-mode try whose spark-submit waits for the driver: the try's outcome is the
// driver pod's, so a restart that loses spark-submit can take it from the pod.
bool WaitsForDriverPod(const spark::SubmitSpec& spec) {
  if (!StartsWith(spec.master, "k8s://") || spec.deploy_mode != "cluster") return false;
  auto it = spec.conf.find("spark.kubernetes.submission.waitAppCompletion");
  return it == spec.conf.end() || it->second != "false";
}

std::optional<k8s::DriverPodKey> HandleDriverPod(const nlohmann::json& handle) {
  if (!handle.is_object()) return std::nullopt;
  auto it = handle.find("driver_pod");
  if (it == handle.end()) return std::nullopt;
  Result<k8s::DriverPodKey> key = k8s::DriverPodKey::FromJson(*it);
  if (!key.ok()) return std::nullopt;
  return *key;
}

// Grace of a cancel in whole seconds (at least 1) for a pod's termination.
int64_t GraceSeconds(Millis grace) {
  return std::max<int64_t>(1, (grace.count() + 999) / 1000);
}

// Native mode (a k8s:// master): Spark's own Kubernetes scheduler makes the driver (cluster
// mode) and executor pods. `apps` resolves relative pod template paths.
Status ApplyNativeMode(const SubmitPlan& plan, const RuntimeConfig& config,
                       const k8s::DriverPodKey& pod_key, const std::string& apps,
                       spark::SubmitSpec* spec) {
  SetDefault(spec, "spark.kubernetes.container.image",
             plan.image.empty() ? config.spark_image : plan.image);
  std::string ns = plan.namespace_name.empty() ? config.kube_namespace : plan.namespace_name;
  if (ns.empty()) {
    // The namespace the kubeconfig (or the pod's service account) names, as for clusters.
    k8s::KubeConfigOptions options;
    options.context = config.kube_context;
    Result<k8s::KubeConfig> kube = k8s::LoadKubeConfigSetting(config.kubeconfig, options);
    if (kube.ok()) ns = kube->default_namespace;
  }
  if (!ns.empty()) SetDefault(spec, "spark.kubernetes.namespace", ns);
  if (!plan.service_account.empty()) {
    SetDefault(spec, "spark.kubernetes.authenticate.driver.serviceAccountName",
               plan.service_account);
  }
  for (const auto& [field, value, key] : {std::tuple<const char*, const std::string*, const char*>{
                                              "driver_pod_template", &plan.driver_pod_template,
                                              "spark.kubernetes.driver.podTemplateFile"},
                                          {"executor_pod_template", &plan.executor_pod_template,
                                           "spark.kubernetes.executor.podTemplateFile"}}) {
    if (value->empty()) continue;
    std::string path = ResolvePath(*value, apps);
    if (std::string f = LocalFile(path); f.empty() || !fs::is_regular_file(f)) {
      return FailedPreconditionError(
          std::string(field) + " file not found: " + (f.empty() ? *value : f) +
          " (a local file; relative paths are resolved against " + apps + ")");
    }
    SetDefault(spec, key, LocalFile(path));
  }
  SetDefault(spec, "spark.kubernetes.submission.waitAppCompletion", "true");
  SetDefault(spec, "spark.kubernetes.executor.deleteOnTermination", "true");
  SetDefault(spec, "spark.kubernetes.driver.service.deleteOnTermination", "true");
  AddPodLabels(pod_key, spec);
  if (spec->deploy_mode != "cluster") return OkStatus();

  // The driver runs in a pod: none of this machine's paths mean anything there. Event logs go
  // to the history volume, mounted as in the clusters' pods.
  spec->local_dir.clear();
  spec->event_log_dir.clear();
  spec->python.clear();
  if (!config.spark_history_pvc.empty()) {
    std::string volume =
        std::string("spark.kubernetes.driver.volumes.persistentVolumeClaim.") + kHistoryVolumeName;
    SetDefault(spec, volume + ".options.claimName", config.spark_history_pvc);
    SetDefault(spec, volume + ".mount.path", k8s::kEventLogMountPath);
    SetDefault(spec, volume + ".mount.readOnly", "false");
    SetDefault(spec, "spark.eventLog.enabled", "true");
    SetDefault(spec, "spark.eventLog.dir", std::string("file:") + k8s::kEventLogMountPath);
  }
  if (spec->conf.count("spark.kubernetes.file.upload.path") == 0) {
    std::vector<const std::string*> paths = {&spec->application};
    for (const auto* list : {&spec->py_files, &spec->jars, &spec->files, &spec->archives}) {
      for (const std::string& item : *list) paths.push_back(&item);
    }
    for (const std::string* path : paths) {
      if (!LocalFile(*path).empty()) {
        return FailedPreconditionError(
            "'" + *path +
            "' is a file on the scheduler, but in cluster deploy mode on "
            "Kubernetes the driver runs in a pod: use a path inside the image (local:///opt/...), "
            "a URL (https://, s3a://, ...), or set conf spark.kubernetes.file.upload.path so "
            "spark-submit uploads it");
      }
    }
  }
  return OkStatus();
}

// Client mode with executors in Kubernetes (a kubernetes spark_cluster, or native client
// mode): they must reach the driver in the scheduler's pod.
void ApplyClientModeInPod(const RuntimeConfig& config, const TaskContext& ctx,
                          spark::SubmitSpec* spec) {
  if (!config.pod_ip.empty()) {
    SetDefault(spec, "spark.driver.host", config.pod_ip);
    SetDefault(spec, "spark.driver.bindAddress", "0.0.0.0");
    SetDefault(spec, "spark.driver.port", std::to_string(config.driver_port));
    SetDefault(spec, "spark.blockManager.port", std::to_string(config.block_manager_port));
  } else {
    Log(ctx,
        "the executors run in Kubernetes but this scheduler is not in a pod (POD_IP is not set): "
        "they must be able to reach this host at the address Spark picks");
  }
  // The executors' Python is the image's, not the scheduler's.
  if (!spec->python.empty() && spec->application.size() > 3 &&
      spec->application.compare(spec->application.size() - 3, 3, ".py") == 0) {
    SetDefault(spec, "spark.pyspark.driver.python", spec->python);
    spec->env.emplace("PYSPARK_DRIVER_PYTHON", spec->python);
  }
  spec->python.clear();
}

}  // namespace

// One try, from Start until its driver's exit is handled.
struct SparkSubmitTaskType::Try {
  std::mutex mu;
  bool cancelled = false;              // guarded by mu
  pid_t pid = 0;                       // guarded by mu; set once the driver is released
  std::atomic<bool> abandoned{false};  // Launch completed the try itself: the exit stays quiet
  std::string local_dir;
  std::string master;
  std::string event_log_dir;  // where the driver's event log goes; "" when not on this machine
  std::string app_id_prefix = kDefaultAppIdPrefix;
  uint64_t log_offset = 0;
  std::string log;  // where the driver writes ("" : the context's log; another one when adopted)
  // Native cluster mode: the try's driver pod, which outlives spark-submit.
  std::optional<k8s::DriverPodKey> driver_pod;  // guarded by mu
  // Set while the try follows its driver pod because spark-submit is gone (Recover); Cancel
  // deletes the pod, the type's destruction cancels the watch.
  std::shared_ptr<k8s::WatchCancel> pod_watch;  // guarded by mu
  // Recover adopted a spark-submit of the previous server (not our child): until its watcher
  // claims the end, a cancel stops it as a foreign process and completes the try itself
  // (foreign_cancel), and the watcher then leaves the try alone.
  bool adopted = false;         // set before the try is registered
  bool end_claimed = false;     // guarded by mu
  bool foreign_cancel = false;  // guarded by mu
  // A cancel could not delete the driver pod: why, naming it. The try then fails for good,
  // so no retry starts a second driver beside it.
  std::string pod_left;  // guarded by mu
};

DriverLogFacts ScanDriverLog(const std::string& path, uint64_t offset,
                             const std::string& app_id_prefix) {
  DriverLogFacts facts;
  std::ifstream in(path, std::ios::binary);
  if (!in) return facts;
  in.seekg(static_cast<std::streamoff>(offset));
  std::string exception_line, error_line;
  std::optional<std::string> default_id, event_log_id;
  bool in_traceback = false;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!facts.app_id) {
      facts.app_id = spark::ExtractAppId(line, app_id_prefix);
      if (!default_id && app_id_prefix != kDefaultAppIdPrefix) {
        default_id = spark::ExtractAppId(line, kDefaultAppIdPrefix);
      }
      if (!event_log_id) event_log_id = AppIdFromEventLogLine(line);
    }
    if (line == kTraceback) {
      in_traceback = true;
      continue;
    }
    if (in_traceback) {
      if (!line.empty() && (line[0] == ' ' || line[0] == '\t')) continue;  // frames and code
      if (!line.empty()) exception_line = line;
      in_traceback = false;
      continue;
    }
    if (line.find(" ERROR ") != std::string::npos) error_line = line;
  }
  if (!facts.app_id) facts.app_id = event_log_id;
  if (!facts.app_id) facts.app_id = default_id;
  facts.error_line = Trimmed(!exception_line.empty() ? exception_line : error_line);
  return facts;
}

Status CheckMasterReachable(const std::string& master, Millis timeout) {
  if (!StartsWith(master, "spark://")) return OkStatus();
  std::vector<Endpoint> endpoints = MasterEndpoints(master);
  if (endpoints.empty()) {
    return FailedPreconditionError("Spark master " + master + " names no HOST:PORT");
  }
  std::string reasons;
  for (const Endpoint& e : endpoints) {
    Status s = TcpConnect(e, timeout);
    if (s.ok()) return OkStatus();
    reasons += (reasons.empty() ? "" : "; ") + e.host + ":" + e.port + ": " + s.message();
  }
  return FailedPreconditionError("Spark master " + master + " is not reachable (" + reasons +
                                 "); is the cluster up?");
}

std::vector<std::string> SparkSubmitTaskType::FieldNames() const {
  return {"conn_id",
          "master",
          "application",
          "java_class",
          "py_files",
          "jars",
          "files",
          "archives",
          "packages",
          "conf",
          "driver_memory",
          "executor_memory",
          "driver_cores",
          "executor_cores",
          "total_executor_cores",
          "name",
          "application_args",
          "deploy_mode",
          "env",
          "image",
          "namespace",
          "service_account",
          "driver_pod_template",
          "executor_pod_template"};
}

void SparkSubmitTaskType::Validate(const dag::TaskSpec& spec,
                                   std::vector<dag::DagError>* errors) const {
  FieldReader r(spec.fields, FieldPhase::kUnrendered);
  SubmitPlan::Read(r);
  internal::AppendDagErrors(spec, r.problems(), errors);
}

void SparkSubmitTaskType::RemoveTry(const TaskContext* ctx) {
  std::lock_guard<std::mutex> lock(mu_);
  tries_.erase(ctx);
}

void SparkSubmitTaskType::Start(std::shared_ptr<TaskContext> ctx) {
  auto t = std::make_shared<Try>();
  {
    std::lock_guard<std::mutex> lock(mu_);
    tries_[ctx.get()] = t;
  }
  if (!threads_.Run([this, ctx, t] { Launch(ctx, t); })) {
    RemoveTry(ctx.get());
    internal::Fail(ctx, "could not start a thread to launch spark-submit", /*retryable=*/true);
  }
}

void SparkSubmitTaskType::Launch(const std::shared_ptr<TaskContext>& ctx,
                                 const std::shared_ptr<Try>& t) {
  const RuntimeConfig& config = services_->config;
  auto fail = [&](const std::string& message, bool retryable) {
    RemoveTry(ctx.get());
    RemoveDir(t->local_dir);
    internal::Fail(ctx, message, retryable);
  };
  FieldReader r(ctx->fields(), FieldPhase::kRendered);
  SubmitPlan plan = SubmitPlan::Read(r);
  if (!r.ok()) return fail("invalid spark_submit task: " + r.FirstProblem(), false);
  if (config.spark_home.empty()) {
    return fail(
        "Spark not found: set spark_home in the configuration or SPARK_HOME, or run "
        "scripts/setup.sh",
        false);
  }
  if (services_->processes == nullptr) return fail("the server has no process supervisor", false);
  spark::SubmitSpec& spec = plan.spec;

  // The master, from the connection when one is named.
  if (!plan.conn_id.empty()) {
    if (services_->store == nullptr) return fail("no store to look up connections in", false);
    Result<std::optional<store::ConnectionRecord>> conn =
        services_->store->GetConnection(plan.conn_id);
    if (!conn.ok()) {
      return fail("could not read connection '" + plan.conn_id + "': " + conn.status().message(),
                  true);
    }
    if (!*conn)
      return fail(UnknownConnectionError(*services_->store, plan.conn_id).message(), false);
    Result<std::string> master = SparkMasterUrl(**conn);
    if (!master.ok()) return fail(master.status().message(), false);
    spec.master = *master;
    Log(*ctx, "connection '" + plan.conn_id + "' names master " + spec.master);
  }
  t->master = spec.master;

  // Where the executors run decides the Kubernetes settings (see the header).
  const bool native = StartsWith(spec.master, "k8s://");
  if (!plan.native_fields.empty() && !native) {
    return fail("'" + plan.native_fields[0] +
                    "' applies to a k8s:// master only (native mode: Spark's own Kubernetes "
                    "scheduler); the master is " +
                    spec.master,
                false);
  }
  if (native && !plan.deploy_mode_set) spec.deploy_mode = "cluster";
  std::optional<store::ClusterRecord> kube_cluster;
  if (services_->store != nullptr && StartsWith(spec.master, "spark://")) {
    Result<std::optional<store::ClusterRecord>> found =
        internal::FindClusterByMasterUrl(*services_->store, spec.master);
    if (found.ok() && *found && (*found)->backend == clusters::kKubernetesBackend)
      kube_cluster = **found;
  }
  const bool executors_in_kubernetes = native || kube_cluster || IsServiceMaster(spec.master);

  // Local files must exist (relative paths live in the apps dir).
  const std::string apps = config.AppsDir();
  spec.application = ResolvePath(spec.application, apps);
  if (std::string f = LocalFile(spec.application); !f.empty() && !fs::is_regular_file(f)) {
    return fail(
        "application file not found: " + f + " (relative paths are resolved against " + apps + ")",
        false);
  }
  struct NamedList {
    const char* field;
    std::vector<std::string>* items;
  };
  for (NamedList list : {NamedList{"py_files", &spec.py_files}, NamedList{"jars", &spec.jars},
                         NamedList{"files", &spec.files}, NamedList{"archives", &spec.archives}}) {
    for (std::string& item : *list.items) {
      item = ResolvePath(item, apps);
      if (std::string f = LocalFile(item); !f.empty() && !fs::exists(f)) {
        return fail(std::string(list.field) + " file not found: " + f +
                        " (relative paths are resolved against " + apps + ")",
                    false);
      }
    }
  }

  // Per-try scratch dir, the shared event-log dir and the python.
  std::error_code ec;
  fs::path data = fs::absolute(config.data_dir, ec);
  t->local_dir = (data / "tmp" / ctx->dag_id() / std::to_string(ctx->run_key()) / ctx->task_id() /
                  std::to_string(ctx->try_number()))
                     .lexically_normal()
                     .string();
  spec.local_dir = t->local_dir;
  spec.event_log_dir = fs::absolute(config.SparkHistoryDir(), ec).lexically_normal().string();
  spec.python = config.python;
  for (const auto& [key, value] : ctx->env()) spec.env.emplace(key, value);  // field env wins
  std::optional<k8s::DriverPodKey> pod_key;
  if (native) {
    Result<std::string> submission = k8s::NewSubmissionId();
    if (!submission.ok()) return fail(submission.status().message(), true);
    pod_key = k8s::DriverPodKey::ForTry(ctx->dag_id(), ctx->run_key(), ctx->task_id(),
                                        ctx->try_number(), *submission);
    if (Status st = ApplyNativeMode(plan, config, *pod_key, apps, &spec); !st.ok()) {
      return fail("invalid spark_submit task: " + st.message(), false);
    }
  }
  if (executors_in_kubernetes && spec.deploy_mode != "cluster") {
    ApplyClientModeInPod(config, *ctx, &spec);
  }
  // A cluster that authenticates: its secret goes to the driver with the other settings, in
  // the properties file only we can read (spark.authenticate.secret must be set on a
  // standalone driver).
  std::optional<k8s::KubeClusterHandle> kube_handle;
  if (kube_cluster) {
    Result<k8s::KubeClusterHandle> h = k8s::KubeClusterHandle::FromJson(kube_cluster->handle);
    if (h.ok()) kube_handle = *h;
  }
  if (kube_handle && kube_handle->authenticate &&
      spec.conf.count("spark.authenticate.secret") == 0) {
    Result<std::unique_ptr<k8s::KubeClient>> client =
        k8s::ConnectKube({config.kubeconfig, config.kube_context, config.kube_namespace},
                         *services_->clock, services_->logger);
    Result<std::string> secret =
        client.ok() ? k8s::KubernetesClusterBackend(client->get()).ReadAuthSecret(*kube_handle)
                    : Result<std::string>(client.status());
    if (!secret.ok()) {
      return fail("could not read the shared secret of Spark cluster '" + kube_cluster->name +
                      "': " + secret.status().message(),
                  internal::IsRetryable(secret.status()));
    }
    SetDefault(&spec, "spark.authenticate", "true");
    SetDefault(&spec, "spark.authenticate.secret", *secret);
    Log(*ctx, "Spark cluster '" + kube_cluster->name +
                  "' authenticates: its secret is passed in the private properties file");
  }

  // Every setting goes through a 0600 file: argv is visible to all local users.
  spec.properties_file = t->local_dir + "/" + kPropertiesFile;
  Result<spark::SubmitCommand> command = spark::BuildSubmitCommand(spec, config.spark_home);
  if (!command.ok()) {
    return fail("invalid spark_submit task: " + command.status().message(), false);
  }
  const std::vector<std::string>& argv = command->argv;

  if (Status reach = CheckMasterReachable(spec.master, kReachTimeout); !reach.ok()) {
    std::string message = reach.message();
    if (services_->store != nullptr) {
      Result<std::vector<store::ClusterRecord>> all = services_->store->ListClusters(true);
      for (const store::ClusterRecord& c : all.ok() ? *all : std::vector<store::ClusterRecord>{}) {
        auto url = c.handle.is_object() ? c.handle.find("master_url") : c.handle.end();
        if (c.handle.is_object() && url != c.handle.end() && *url == spec.master) {
          message += " (the master of Spark cluster '" + c.name + "', state " + c.state + ")";
          break;
        }
      }
    }
    return fail(message, false);
  }
  if (services_->store != nullptr) {
    Result<std::optional<store::ClusterRecord>> cluster =
        internal::FindClusterByMasterUrl(*services_->store, spec.master);
    if (cluster.ok() && *cluster && (*cluster)->handle.is_object()) {
      auto prefix = (*cluster)->handle.find("app_id_prefix");
      if (prefix != (*cluster)->handle.end() && prefix->is_string() &&
          !prefix->get_ref<const std::string&>().empty()) {
        t->app_id_prefix = prefix->get<std::string>();
      }
    }
  }
  for (const std::string& dir : {t->local_dir, spec.event_log_dir}) {
    if (dir.empty()) continue;
    fs::create_directories(dir, ec);
    if (ec) return fail("cannot create " + dir + ": " + ec.message(), true);
  }
  if (Status written = spark::WriteSubmitProperties(spec.properties_file, command->properties);
      !written.ok()) {
    return fail(written.message(), true);
  }
  t->event_log_dir = spec.event_log_dir;
  if (pod_key && WaitsForDriverPod(spec)) {
    pod_key->namespace_name = DriverNamespace(spec);
    pod_key->api_server = k8s::NormalizeApiServer(spec.master);
    pod_key->driver_container = DriverContainer(spec);
    std::lock_guard<std::mutex> lock(t->mu);
    t->driver_pod = pod_key;
  }

  executor::SpawnSpec s;
  s.argv = argv;
  s.env = spark::BuildSubmitEnv(spec);
  s.env["SPARK_HOME"] = config.spark_home;
  s.env["SPARKPLANE_DAG_ID"] = ctx->dag_id();
  s.env["SPARKPLANE_RUN_ID"] = ctx->run_id();
  s.env["SPARKPLANE_TASK_ID"] = ctx->task_id();
  s.env["SPARKPLANE_TRY_NUMBER"] = std::to_string(ctx->try_number());
  s.cwd = t->local_dir;
  s.output_path = ctx->log_path();
  s.gated = true;
  // How the driver ended survives the server: a restart adopts a running driver and takes the
  // recorded exit of one that ended meanwhile, instead of stopping and re-running it.
  s.exit_record_path = ctx->log_path() + ".exit";
  {
    std::lock_guard<std::mutex> lock(t->mu);
    if (t->cancelled) return fail("cancelled before spark-submit started", true);
  }
  Log(*ctx, "running " + DescribeArgv(argv));
  Log(*ctx, "with the settings of " + spec.properties_file +
                " (mode 0600): " + DescribeConf(command->conf));
  t->log_offset = internal::LogSize(ctx->log_path());
  ProcessSupervisor* processes = services_->processes;
  Result<ProcessHandle> handle = processes->Spawn(s, [this, ctx, t](const ExitInfo& exit) {
    if (t->abandoned.load()) return;
    // The log scan reads the whole driver output: not on the supervisor's reaper thread.
    if (!threads_.Run([this, ctx, t, exit] { Finish(ctx, t, exit); })) Finish(ctx, t, exit);
  });
  if (!handle.ok()) {
    return fail("could not start spark-submit: " + handle.status().message(),
                internal::IsRetryable(handle.status()));
  }
  nlohmann::json saved_handle = handle->ToJson();
  saved_handle["local_dir"] = t->local_dir;
  saved_handle["master"] = spec.master;
  saved_handle["exit_record"] = s.exit_record_path;
  saved_handle["log"] = s.output_path;
  saved_handle["log_offset"] = t->log_offset;
  saved_handle["event_log_dir"] = t->event_log_dir;
  saved_handle["app_id_prefix"] = t->app_id_prefix;
  if (pod_key && WaitsForDriverPod(spec)) saved_handle["driver_pod"] = pod_key->ToJson();
  Status saved = ctx->SaveHandle(saved_handle);
  bool cancelled = false;
  {
    std::lock_guard<std::mutex> lock(t->mu);
    cancelled = t->cancelled;
    if (saved.ok() && !cancelled) t->pid = handle->pid;
  }
  if (!saved.ok() || cancelled) {
    // The driver is still at its gate: it has run nothing.
    t->abandoned.store(true);
    processes->Terminate(handle->pid, Millis(0));
    return fail(cancelled ? "cancelled before spark-submit started"
                          : "could not record the driver's handle, so spark-submit was not "
                            "started: " +
                                saved.ToString(),
                true);
  }
  Log(*ctx, "started spark-submit (pid " + std::to_string(handle->pid) + ")");
  if (Status released = processes->Release(handle->pid); !released.ok()) {
    Log(*ctx, released.message());  // it died at its gate; the exit callback completes the try
  }
}

void SparkSubmitTaskType::Finish(const std::shared_ptr<TaskContext>& ctx,
                                 const std::shared_ptr<Try>& t, const ExitInfo& exit) {
  DriverLogFacts facts =
      ScanDriverLog(t->log.empty() ? ctx->log_path() : t->log, t->log_offset, t->app_id_prefix);
  RemoveDir(t->local_dir);
  bool cancelled;
  std::string pod_left;
  {
    std::lock_guard<std::mutex> lock(t->mu);
    cancelled = t->cancelled;
    pod_left = t->pod_left;
  }
  RemoveTry(ctx.get());
  TaskResult result;
  result.success = exit.exit_code == 0 && pod_left.empty();
  result.exit_code = exit.exit_code;
  if (facts.app_id) result.outputs["app_id"] = *facts.app_id;
  result.outputs["master"] = t->master;
  if (exit.exit_code >= 0) result.outputs["exit_code"] = exit.exit_code;
  // The event log records ExitCode 0 even for a driver that raised: the exit code is written
  // beside it, so `history` and `runs show` tell the application's real outcome.
  if (facts.app_id && exit.exit_code >= 0 && !t->event_log_dir.empty()) {
    spark::DriverExit driver;
    driver.app_id = *facts.app_id;
    driver.exit_code = exit.exit_code;
    driver.signal = exit.signal;
    driver.dag_id = ctx->dag_id();
    driver.run_id = ctx->run_id();
    driver.task_id = ctx->task_id();
    driver.try_number = ctx->try_number();
    if (services_->clock != nullptr) driver.recorded_ms = ToUnixMillis(services_->clock->Now());
    if (Status s = spark::RecordDriverExit(t->event_log_dir, driver); !s.ok()) {
      Log(*ctx, "could not record the driver's exit code beside the event log: " + s.message());
    }
  }
  std::string app = facts.app_id ? "application " + *facts.app_id : "no application id found";
  if (result.success) {
    result.message = (facts.app_id ? "application " + *facts.app_id : std::string("spark-submit")) +
                     " succeeded";
  } else {
    result.message = ExitText(exit) + " (" + app + ")";
    if (cancelled) result.message += " after a cancel";
    if (!facts.error_line.empty()) result.message += ": " + facts.error_line;
  }
  if (!pod_left.empty()) {
    result.message += "; " + pod_left;
    result.retryable = false;
  }
  Log(*ctx, result.success ? ExitText(exit) + " (" + app + ")" : result.message);
  ctx->Complete(std::move(result));
}

void SparkSubmitTaskType::Cancel(std::shared_ptr<TaskContext> ctx, const nlohmann::json& handle,
                                 Millis grace) {
  std::shared_ptr<Try> t;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = tries_.find(ctx.get());
    if (it != tries_.end()) t = it->second;
  }
  if (t) {
    pid_t pid;
    std::shared_ptr<k8s::WatchCancel> pod_watch;
    std::optional<k8s::DriverPodKey> driver_pod;
    bool foreign = false;
    {
      std::lock_guard<std::mutex> lock(t->mu);
      t->cancelled = true;
      pid = t->pid;
      pod_watch = t->pod_watch;
      driver_pod = t->driver_pod;
      // An adopted spark-submit whose watcher has not taken its end: stopped as a foreign
      // process below, and the watcher leaves the try to this cancel.
      foreign = t->adopted && !t->end_claimed && !pod_watch;
      if (foreign) t->foreign_cancel = true;
    }
    if (!foreign) {
      CancelOwnTry(ctx, t, pid, pod_watch, driver_pod, grace);
      // Before the driver started, Launch sees the flag and completes the try.
      return;
    }
  }
  Result<ProcessHandle> h = ProcessHandle::FromJson(handle);
  if (!h.ok()) {
    ctx->Complete(internal::Failed("cancelled before spark-submit started", /*retryable=*/true));
    return;
  }
  ProcessHandle foreign = *h;
  std::string local_dir = HandleLocalDir(handle);
  std::optional<k8s::DriverPodKey> pod = HandleDriverPod(handle);
  const executor::TryFiles files = internal::TryFilesOf(handle, ctx->log_path());
  const Millis silence = services_->config.try_silence;
  bool ran = threads_.Run([this, ctx, t, foreign, files, grace, silence, local_dir, pod] {
    Status s = internal::StopAdoptedTry(foreign, files, grace, silence);
    if (!s.ok()) Log(*ctx, s.message());
    if (s.code() == StatusCode::kFailedPrecondition) {
      // It may still run: its work dir stays, and a retry would overlap it.
      if (t) RemoveTry(ctx.get());
      internal::Fail(ctx, "cancelled, but " + s.message() + "; not retried", /*retryable=*/false);
      return;
    }
    RemoveDir(local_dir);
    if (t) RemoveTry(ctx.get());
    std::string message =
        "cancelled; spark-submit (pid " + std::to_string(foreign.pid) + ") was stopped";
    bool retryable = true;
    if (pod) {
      PodDeletion deleted = DeleteDriverPod(*ctx, *pod, grace);
      for (const std::string& name : deleted.names)
        message += "; driver pod " + name + " was deleted";
      if (deleted.outcome == PodDeletion::kFailed) {
        message += "; " + deleted.why;
        retryable = false;
      }
    }
    internal::Fail(ctx, message, retryable);
  });
  if (!ran) ctx->Complete(internal::Failed("cancelled", /*retryable=*/true));
}

void SparkSubmitTaskType::CancelOwnTry(const std::shared_ptr<TaskContext>& ctx,
                                       const std::shared_ptr<Try>& t, pid_t pid,
                                       const std::shared_ptr<k8s::WatchCancel>& pod_watch,
                                       const std::optional<k8s::DriverPodKey>& driver_pod,
                                       Millis grace) {
  ProcessSupervisor* processes = services_->processes;
  auto terminate = [ctx, processes, pid, grace] {
    if (pid <= 0) return;
    Log(*ctx, "stopping spark-submit (pid " + std::to_string(pid) + ")");
    processes->Terminate(pid, grace);  // the exit completes the try
  };
  // In cluster mode the driver runs in its own pod, which spark-submit's end does not stop: the
  // pod is deleted first (Spark's own kill does the same), and only then spark-submit stopped,
  // so the try's end knows whether the pod is gone. A try that follows its pod ends when the
  // watch sees it go.
  if (!driver_pod || (pid <= 0 && !pod_watch)) return terminate();
  k8s::DriverPodKey key = *driver_pod;
  // A cancel that leaves the pod running fails the try for good: a retry would start a second
  // driver beside it.
  auto left = [t, pod_watch](const std::string& why) {
    {
      std::lock_guard<std::mutex> lock(t->mu);
      t->pod_left = why;
    }
    if (pod_watch) pod_watch->Cancel();  // the follower completes the try with pod_left
  };
  bool ran = threads_.Run([this, ctx, key, grace, terminate, left] {
    PodDeletion deleted = DeleteDriverPod(*ctx, key, grace);
    if (deleted.outcome == PodDeletion::kFailed) left(deleted.why);
    terminate();
  });
  if (!ran) {
    left("the driver pod of this try (" + key.DriverSelector() + ") in namespace " +
         key.namespace_name + " was not deleted (the server is stopping)");
    terminate();
  }
}

SparkSubmitTaskType::PodDeletion SparkSubmitTaskType::DeleteDriverPod(const TaskContext& ctx,
                                                                      const k8s::DriverPodKey& key,
                                                                      Millis grace) {
  PodDeletion result;
  std::string where = "the driver pod of this try (" + key.DriverSelector() + ") in namespace " +
                      key.namespace_name;
  Millis pause = kPodDeleteBackoff;
  std::string error;
  for (int attempt = 1; attempt <= kPodDeleteAttempts; ++attempt) {
    if (attempt > 1) {
      std::this_thread::sleep_for(pause);
      pause *= 2;
    }
    bool other_cluster = false;
    Result<std::unique_ptr<k8s::KubeClient>> client = KubeFor(key, &other_cluster);
    if (other_cluster) {
      // Not the cluster this server reaches: as before driver pods were followed, the pod is
      // left to spark-submit's end.
      Log(ctx, "not deleting " + where + ": " + client.status().message());
      result.outcome = PodDeletion::kOtherCluster;
      return result;
    }
    Result<std::vector<std::string>> deleted =
        client.ok() ? k8s::DeleteDriverPods(**client, key, GraceSeconds(grace))
                    : Result<std::vector<std::string>>(client.status());
    if (deleted.ok()) {
      for (const std::string& name : *deleted) Log(ctx, "deleted driver pod " + name);
      if (deleted->empty())
        Log(ctx, "no driver pod of this try in namespace " + key.namespace_name);
      result.outcome = PodDeletion::kDeleted;
      result.names = *std::move(deleted);
      return result;
    }
    error = deleted.status().message();
    Log(ctx, "could not delete " + where + " (attempt " + std::to_string(attempt) + " of " +
                 std::to_string(kPodDeleteAttempts) + "): " + error);
  }
  result.outcome = PodDeletion::kFailed;
  result.why = where + " could not be deleted and may still run (" + error +
               "); it is not retried so no second driver starts beside it: delete the pod, then "
               "run the task again";
  return result;
}

SparkSubmitTaskType::~SparkSubmitTaskType() {
  stopping_->store(true);
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [ctx, t] : tries_) {
    std::lock_guard<std::mutex> try_lock(t->mu);
    if (t->pod_watch) t->pod_watch->Cancel();  // the next server follows the pod again
  }
}

Result<std::unique_ptr<k8s::KubeClient>> SparkSubmitTaskType::Kube() const {
  if (services_->clock == nullptr) return FailedPreconditionError("the server has no clock");
  const RuntimeConfig& config = services_->config;
  return k8s::ConnectKube({config.kubeconfig, config.kube_context, config.kube_namespace},
                          *services_->clock, services_->logger);
}

Result<std::unique_ptr<k8s::KubeClient>> SparkSubmitTaskType::KubeFor(const k8s::DriverPodKey& key,
                                                                      bool* other_cluster) const {
  *other_cluster = false;
  Result<std::unique_ptr<k8s::KubeClient>> client = Kube();
  if (!client.ok()) return client;
  const std::string& server = (*client)->config().server;
  // The in-cluster config's server is the kubernetes Service's IP; a master written as
  // k8s://https://kubernetes.default.svc names the same API.
  const char* service_host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* service_port = std::getenv("KUBERNETES_SERVICE_PORT");
  bool in_cluster =
      services_->config.kubeconfig == k8s::kInClusterKubeconfig ||
      (service_host != nullptr && *service_host != '\0' &&
       k8s::NormalizeApiServer(server) ==
           k8s::NormalizeApiServer(
               std::string("https://") + service_host + ":" +
               (service_port != nullptr && *service_port != '\0' ? service_port : "443")));
  if (!k8s::SameApiServer(key.api_server, server, in_cluster)) {
    *other_cluster = true;
    return FailedPreconditionError("the try's driver runs in the cluster of " + key.api_server +
                                   ", and this server's kubeconfig names " + server);
  }
  return client;
}

void SparkSubmitTaskType::StartFollowingDriverPod(const std::shared_ptr<TaskContext>& ctx,
                                                  const std::shared_ptr<Try>& t) {
  auto cancel = std::make_shared<k8s::WatchCancel>();
  bool cancelled;
  {
    std::lock_guard<std::mutex> lock(t->mu);
    cancelled = t->cancelled;
    if (!cancelled) t->pod_watch = cancel;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    tries_[ctx.get()] = t;  // so that a cancel deletes the pod
  }
  if (cancelled) {
    // Cancelled while spark-submit's end was being taken: the cancel saw nothing to stop, so
    // the pod is deleted here instead of followed.
    std::optional<k8s::DriverPodKey> key;
    {
      std::lock_guard<std::mutex> lock(t->mu);
      key = t->driver_pod;
    }
    bool ran = threads_.Run([this, ctx, t, key] {
      PodDeletion deleted = DeleteDriverPod(*ctx, *key, kRecoveryGrace);
      RemoveTry(ctx.get());
      RemoveDir(t->local_dir);
      internal::Fail(
          ctx, deleted.outcome == PodDeletion::kFailed ? "cancelled; " + deleted.why : "cancelled",
          deleted.outcome != PodDeletion::kFailed);
    });
    if (!ran) {
      RemoveTry(ctx.get());
      internal::Fail(ctx, "cancelled; the driver pod was not deleted (the server is stopping)",
                     /*retryable=*/false);
    }
    return;
  }
  if (stopping_->load()) cancel->Cancel();  // the destructor may have looked before we came in
  if (!threads_.Run([this, ctx, t] { FollowDriverPod(ctx, t); })) {
    RemoveTry(ctx.get());
    internal::Fail(ctx, "lost on restart: no thread to follow the driver pod", /*retryable=*/true);
  }
}

void SparkSubmitTaskType::FollowDriverPod(const std::shared_ptr<TaskContext>& ctx,
                                          const std::shared_ptr<Try>& t) {
  k8s::DriverPodKey key;
  std::shared_ptr<k8s::WatchCancel> cancel;
  {
    std::lock_guard<std::mutex> lock(t->mu);
    key = *t->driver_pod;
    cancel = t->pod_watch;
  }
  auto end = [&](TaskResult result) {
    RemoveTry(ctx.get());
    RemoveDir(t->local_dir);
    Log(*ctx, result.message);
    ctx->Complete(std::move(result));
  };
  // How a cancel went, read once the watch is over.
  auto cancel_state = [&t](std::string* pod_left) {
    std::lock_guard<std::mutex> lock(t->mu);
    *pod_left = t->pod_left;
    return t->cancelled;
  };
  // The pod cannot be followed: it is deleted, so a retry never runs beside it; when even that
  // fails, the try fails for good, naming the pod.
  auto give_up = [&](const std::string& why, bool retryable) {
    PodDeletion deleted = DeleteDriverPod(*ctx, key, kRecoveryGrace);
    if (deleted.outcome == PodDeletion::kFailed) {
      return end(internal::Failed(why + "; " + deleted.why, /*retryable=*/false));
    }
    std::string message = why;
    for (const std::string& name : deleted.names) {
      message += "; driver pod " + name + " was deleted so that a retry does not run beside it";
    }
    end(internal::Failed(message, retryable));
  };
  Log(*ctx,
      "spark-submit was gone after the restart and recorded no end; looking for the "
      "driver pod of this try in namespace " +
          key.namespace_name + " (" + key.DriverSelector() + ")");
  bool other_cluster = false;
  Result<std::unique_ptr<k8s::KubeClient>> client = KubeFor(key, &other_cluster);
  if (other_cluster) {
    Log(*ctx, "not following the driver pod: " + client.status().message());
    return end(internal::Failed(
        "lost on restart: spark-submit is gone and its driver pod is in a cluster this server "
        "does not reach (" +
            client.status().message() + ")",
        /*retryable=*/true));
  }
  if (!client.ok()) {
    return give_up(
        "lost on restart: spark-submit is gone and its driver pod cannot be looked up: " +
            client.status().message(),
        /*retryable=*/true);
  }
  Result<k8s::DriverPodWatchResult> watched =
      k8s::WatchDriverPod(**client, key, cancel.get(), [&ctx](const k8s::DriverPodState& found) {
        Log(*ctx, found.ended() ? "spark-submit was gone after the restart; driver pod " +
                                      found.name + " had already ended"
                                : "spark-submit was gone after the restart; watching driver pod " +
                                      found.name + " (" + found.Describe() + ")");
      });
  if (stopping_->load()) return;  // the server stops: the next one follows the pod again
  std::string pod_left;
  bool cancelled = cancel_state(&pod_left);
  if (cancelled && !pod_left.empty()) {
    return end(internal::Failed("cancelled; " + pod_left, /*retryable=*/false));
  }
  if (!watched.ok()) {
    if (cancelled) return end(internal::Failed("cancelled", /*retryable=*/true));
    return give_up("lost on restart: could not follow the driver pod of this try in namespace " +
                       key.namespace_name + ": " + watched.status().message(),
                   internal::IsRetryable(watched.status()));
  }
  const k8s::DriverPodState& pod = watched->state;
  TaskResult result;
  result.outputs["master"] = t->master;
  if (!pod.name.empty()) result.outputs["driver_pod"] = pod.name;
  if (pod.app_id) result.outputs["app_id"] = *pod.app_id;
  std::string app = pod.app_id ? "application " + *pod.app_id : "no application id found";
  switch (watched->end) {
    case k8s::DriverPodEnd::kNeverFound:
      return end(internal::Failed(
          "lost on restart: spark-submit is gone and no driver pod of "
          "this try exists in namespace " +
              key.namespace_name + " (it ended before making one, or the pod was deleted)",
          /*retryable=*/true));
    case k8s::DriverPodEnd::kDeleted:
      result.message = cancelled ? "cancelled; driver pod " + pod.name + " was deleted"
                                 : "lost on restart: driver pod " + pod.name +
                                       " was deleted before it ended (" + app + ")";
      return end(std::move(result));
    case k8s::DriverPodEnd::kEnded:
      break;
  }
  Log(*ctx, "driver pod " + pod.name + " ended: " + pod.Describe());
  if (pod.exit_code) {
    result.exit_code = *pod.exit_code;
  } else if (pod.phase == "Succeeded") {
    result.exit_code = 0;
  }
  if (result.exit_code >= 0) result.outputs["exit_code"] = result.exit_code;
  // A driver may exit 0 on the SIGTERM of a cancel's grace: the try was still cancelled.
  result.success = pod.phase == "Succeeded" && !cancelled;
  if (result.success) {
    result.message =
        (pod.app_id ? "application " + *pod.app_id : "driver pod " + pod.name) + " succeeded";
  } else if (cancelled) {
    result.message = "cancelled; driver pod " + pod.name +
                     " ended while it was being deleted: " + pod.Describe() + " (" + app + ")";
  } else {
    result.message = "driver pod " + pod.name + " failed" +
                     (pod.exit_code ? " with exit code " + std::to_string(*pod.exit_code) : "") +
                     (pod.reason.empty() ? "" : " (" + pod.reason + ")") + " (" + app + ")";
    if (!pod.pod_reason.empty() && pod.pod_reason != pod.reason) {
      result.message += "; the pod: " + pod.pod_reason;
      if (!pod.pod_message.empty()) result.message += ": " + Trimmed(pod.pod_message);
    }
    if (!pod.message.empty()) result.message += ": " + Trimmed(pod.message);
  }
  end(std::move(result));
}

void SparkSubmitTaskType::Recover(std::shared_ptr<TaskContext> ctx, const nlohmann::json& handle) {
  Result<ProcessHandle> h = ProcessHandle::FromJson(handle);
  if (!h.ok()) {
    internal::Fail(ctx,
                   "lost on restart: the saved handle is unreadable (" + h.status().message() + ")",
                   /*retryable=*/true);
    return;
  }
  std::string local_dir = HandleLocalDir(handle);
  auto text = [&handle](const char* key) {
    auto it = handle.find(key);
    return it != handle.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  if (std::string record = text("exit_record"); !record.empty()) {
    // Started with an exit record: the driver is adopted (or its recorded end is taken), and
    // the try ends the way a driver that never lost its server would: app id, exit code beside
    // the event log, the work dir removed.
    auto t = std::make_shared<Try>();
    t->local_dir = local_dir;
    t->master = text("master");
    t->event_log_dir = text("event_log_dir");
    if (std::string prefix = text("app_id_prefix"); !prefix.empty()) t->app_id_prefix = prefix;
    t->driver_pod = HandleDriverPod(handle);
    t->adopted = true;
    const executor::TryFiles files = internal::TryFilesOf(handle, ctx->log_path());
    t->log = files.output;
    auto offset = handle.find("log_offset");
    t->log_offset = offset != handle.end() && offset->is_number_unsigned()
                        ? offset->get<uint64_t>()
                        : internal::LogSize(files.output);
    ProcessHandle running = *h;
    const Millis silence = services_->config.try_silence;
    std::shared_ptr<std::atomic<bool>> stopping = stopping_;
    auto watch = [this, ctx, t, running, files, silence, stopping] {
      if (executor::AwaitTryEnd(running, files, silence, *stopping) ==
          executor::TryEnd::kStopping) {
        return;  // the next server adopts it again
      }
      {
        std::lock_guard<std::mutex> lock(t->mu);
        if (t->foreign_cancel) {
          // The cancel stopped it and completes the try; its pod is not to be followed.
          Log(*ctx, "spark-submit (pid " + std::to_string(running.pid) +
                        ") ended after a cancel; the cancel completes the try");
          return;
        }
        t->end_claimed = true;
      }
      if (std::optional<executor::ExitInfo> exit = executor::ReadExitRecord(files.exit_record)) {
        if (exit->never_started) {
          Log(*ctx, "spark-submit (pid " + std::to_string(running.pid) +
                        ") never started (the server stopped before opening its start gate); "
                        "the task is scheduled again");
          RemoveTry(ctx.get());
          RemoveDir(t->local_dir);
          ctx->Complete(internal::NeverStarted());
          return;
        }
        Log(*ctx, "spark-submit (pid " + std::to_string(running.pid) +
                      ") ended while the server was away; its recorded exit is used");
        Finish(ctx, t, *exit);
        return;
      }
      if (t->driver_pod) {
        // The scheduler's pod restarted: spark-submit died with it, the driver pod did not.
        StartFollowingDriverPod(ctx, t);
        return;
      }
      RemoveTry(ctx.get());
      RemoveDir(t->local_dir);
      internal::Fail(ctx,
                     "lost on restart: spark-submit (pid " + std::to_string(running.pid) + ") " +
                         internal::DescribeLoss(running, silence),
                     /*retryable=*/true);
    };
    {
      std::lock_guard<std::mutex> lock(mu_);
      tries_[ctx.get()] = t;  // so that a cancel finds the adopted try
    }
    if (internal::Watchable(running) && threads_.Run(watch)) {
      Log(*ctx, "the server restarted while spark-submit (pid " + std::to_string(running.pid) +
                    ") ran; watching it" + internal::DescribeWatch(running));
    } else {
      watch();
    }
    return;
  }
  if (executor::CheckProcess(*h) != ProcessLiveness::kRunning) {
    RemoveDir(local_dir);
    internal::Fail(ctx,
                   "lost on restart: spark-submit (pid " + std::to_string(h->pid) + ") is gone",
                   /*retryable=*/true);
    return;
  }
  // Its exit code would be unknowable (it is not our child), so it is stopped, and the try
  // completes only once it is gone so a retry never overlaps it.
  ProcessHandle running = *h;
  bool ran = threads_.Run([ctx, running, local_dir] {
    Log(*ctx, "the server restarted while spark-submit (pid " + std::to_string(running.pid) +
                  ") ran; stopping it");
    ProcessSupervisor::TerminateForeign(running, kRecoveryGrace);
    RemoveDir(local_dir);
    ctx->Complete(internal::Failed("the server restarted while the driver ran; it was stopped",
                                   /*retryable=*/true));
  });
  if (!ran) {
    ProcessSupervisor::TerminateForeign(running, kRecoveryGrace);
    ctx->Complete(internal::Failed("the server restarted while the driver ran; it was stopped",
                                   /*retryable=*/true));
  }
}

}  // namespace sp::operators
