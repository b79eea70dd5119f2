#include "cli/config.h"

#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <optional>

#include "common/file_text.h"
#include "common/yaml_document.h"
#include "dag/cron.h"
#include "store/open.h"
#include "store/postgres/lease.h"

namespace sp::cli {

std::string Config::HostSuffix() const {
  if (store.empty() || host.empty()) return "";
  Result<store::StoreLocation> where = store::ParseStoreLocation(store);
  if (!where.ok() || where->kind != store::StoreLocation::Kind::kPostgres) return "";
  // A host name is [A-Za-z0-9.-]; anything else would not be a name to put in a path.
  for (char ch : host) {
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '-' && ch != '.') return "";
  }
  return "." + host;
}

namespace fs = std::filesystem;
namespace {

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

std::string FirstNonEmpty(std::initializer_list<std::string> values) {
  for (const std::string& v : values) {
    if (!v.empty()) return v;
  }
  return "";
}

std::string Absolute(const std::string& p) {
  if (p.empty()) return p;
  std::error_code ec;
  fs::path abs = fs::absolute(p, ec);
  return ec ? p : abs.lexically_normal().string();
}

// Finds the pyspark package inside a virtualenv next to the running binary's source tree
// (<repo>/.venv), which is where scripts/setup.sh installs Spark.
void FindBundledSpark(Config* c) {
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return;
  for (fs::path dir = exe.parent_path(); !dir.empty() && dir != dir.root_path();
       dir = dir.parent_path()) {
    fs::path venv = dir / ".venv";
    if (!fs::exists(venv / "bin" / "python", ec)) continue;
    for (const auto& entry : fs::directory_iterator(venv / "lib", ec)) {
      fs::path pyspark = entry.path() / "site-packages" / "pyspark";
      if (fs::exists(pyspark / "bin" / "spark-submit", ec)) {
        if (c->spark_home.empty()) c->spark_home = pyspark.string();
        if (c->python.empty()) c->python = (venv / "bin" / "python").string();
        return;
      }
    }
  }
}

Result<int> Port(const std::string& key, const std::string& text, int fallback) {
  if (text.empty()) return fallback;
  char* end = nullptr;
  long v = std::strtol(text.c_str(), &end, 10);
  if (*end != '\0' || v < 1 || v > 65535) {
    return InvalidArgumentError(key + ": expected a port from 1 to 65535; got '" + text + "'");
  }
  return static_cast<int>(v);
}

// The Kubernetes settings (see the table in config.h).
Status ResolveKubernetes(Config* c, const ConfigFlags& flags, const std::string& f_kubeconfig,
                         const std::string& f_context, const std::string& f_namespace,
                         const std::string& f_image, const std::string& f_pvc, bool pvc_set,
                         const std::string& f_driver_port, const std::string& f_bm_port,
                         const std::string& home) {
  c->kubeconfig = FirstNonEmpty({flags.kubeconfig, f_kubeconfig});
  if (c->kubeconfig.empty()) {
    if (!Env("KUBERNETES_SERVICE_HOST").empty()) {
      c->kubeconfig = "in-cluster";
    } else if (std::string list = Env("KUBECONFIG"); !list.empty()) {
      // kubectl's rule: the first file of the list that exists (else the first named).
      std::error_code ec;
      for (size_t begin = 0; begin <= list.size();) {
        size_t colon = list.find(':', begin);
        std::string path = list.substr(begin, colon == std::string::npos ? colon : colon - begin);
        if (!path.empty() && c->kubeconfig.empty()) c->kubeconfig = path;
        if (!path.empty() && fs::exists(path, ec)) {
          c->kubeconfig = path;
          break;
        }
        if (colon == std::string::npos) break;
        begin = colon + 1;
      }
    } else {
      c->kubeconfig = home + "/.kube/config";
    }
  }
  if (c->kubeconfig != "in-cluster") c->kubeconfig = Absolute(c->kubeconfig);
  c->kube_context = FirstNonEmpty({flags.kube_context, f_context});
  c->kube_namespace =
      FirstNonEmpty({flags.kube_namespace, f_namespace, Env("SPARKPLANE_NAMESPACE")});
  if (!f_image.empty()) c->spark_image = f_image;
  if (pvc_set) c->spark_history_pvc = f_pvc;  // "" turns the volume off
  ASSIGN_OR_RETURN(c->driver_port, Port("driver_port", f_driver_port, c->driver_port));
  ASSIGN_OR_RETURN(c->block_manager_port,
                   Port("block_manager_port", f_bm_port, c->block_manager_port));
  if (c->driver_port == c->block_manager_port) {
    return InvalidArgumentError("driver_port and block_manager_port must differ (both are " +
                                std::to_string(c->driver_port) + ")");
  }
  c->pod_ip = Env("POD_IP");
  return OkStatus();
}

// `pools:` of sparkplane.yaml: a list of mappings (clusters::PoolSpec), each error located.
Result<std::vector<clusters::PoolSpec>> ParsePools(const YamlNode& node, const std::string& file) {
  auto at = [&](const YamlNode& n) {
    return file + ":" + std::to_string(n.mark().line) + ": pools: ";
  };
  if (!node.IsSequence()) {
    return InvalidArgumentError(at(node) +
                                "expected a list of pools (name, size, workers, "
                                "worker_cores, worker_memory, max_age)");
  }
  std::vector<clusters::PoolSpec> pools;
  for (YamlNode item : node.items()) {
    if (!item.IsMapping()) return InvalidArgumentError(at(item) + "expected a mapping");
    clusters::PoolSpec p;
    for (const auto& kv : item.entries()) {
      if (!kv.key.IsScalar()) return InvalidArgumentError(at(kv.key) + "keys must be names");
      const std::string& key = kv.key.scalar();
      if (!kv.value.IsScalar())
        return InvalidArgumentError(at(kv.value) + key + ": expected a value");
      const std::string& v = kv.value.scalar();
      auto number = [&](int* out) -> Status {
        char* end = nullptr;
        long n = std::strtol(v.c_str(), &end, 10);
        if (v.empty() || *end != '\0') {
          return InvalidArgumentError(at(kv.value) + key + ": expected an integer; got '" + v +
                                      "'");
        }
        *out = static_cast<int>(n);
        return OkStatus();
      };
      if (key == "name") {
        p.name = v;
      } else if (key == "size") {
        RETURN_IF_ERROR(number(&p.size));
      } else if (key == "workers") {
        RETURN_IF_ERROR(number(&p.workers));
      } else if (key == "worker_cores") {
        RETURN_IF_ERROR(number(&p.worker_cores));
      } else if (key == "worker_memory") {
        p.worker_memory = v;
      } else if (key == "max_age") {
        Result<Millis> d = dag::ParseDuration(v);
        if (!d.ok()) return InvalidArgumentError(at(kv.value) + "max_age: " + d.status().message());
        p.max_age = *d;
      } else {
        return InvalidArgumentError(at(kv.key) + "unknown field '" + key +
                                    "' (known: name, size, workers, worker_cores, "
                                    "worker_memory, max_age)");
      }
    }
    if (Status s = p.Validate(); !s.ok()) return InvalidArgumentError(at(item) + s.message());
    for (const clusters::PoolSpec& other : pools) {
      if (other.name == p.name)
        return InvalidArgumentError(at(item) + "pool '" + p.name + "' is defined twice");
    }
    pools.push_back(std::move(p));
  }
  return pools;
}

}  // namespace

Result<Config> ResolveConfig(const ConfigFlags& flags) {
  Config c;
  std::string home = Env("HOME").empty() ? "/tmp" : Env("HOME");
  c.data_dir = Absolute(FirstNonEmpty({flags.data_dir, Env("SPARKPLANE_DATA_DIR")}));
  std::string config_file = FirstNonEmpty({flags.config_file, Env("SPARKPLANE_CONFIG")});
  bool explicit_config = !config_file.empty();

  std::optional<YamlDocument> doc;
  YamlNode file;  // the root mapping of the config file; absent without one
  std::string data_dir_for_file = c.data_dir.empty() ? home + "/sparkplane" : c.data_dir;
  if (config_file.empty()) config_file = data_dir_for_file + "/sparkplane.yaml";
  std::error_code ec;
  if (fs::exists(config_file, ec)) {
    ASSIGN_OR_RETURN(std::string text, ReadFileText(config_file, "config file"));
    ASSIGN_OR_RETURN(YamlDocument parsed, YamlDocument::Parse(text, config_file));
    doc = std::move(parsed);
    if (doc->root().IsMapping()) file = doc->root();
    c.config_file = config_file;
  } else if (explicit_config) {
    return NotFoundError("config file " + config_file + " does not exist");
  }

  auto get = [&](const char* key) -> Result<std::string> {
    YamlNode n = file.Find(key);
    if (!n) return std::string();
    if (!n.IsScalar()) {
      return InvalidArgumentError(config_file + ":" + std::to_string(n.mark().line) + ": " + key +
                                  ": expected a single value");
    }
    return n.scalar();
  };
  if (file) {
    static const char* kKnown[] = {"data_dir",
                                   "dags_folder",
                                   "parallelism",
                                   "task_nice",
                                   "spark_home",
                                   "python",
                                   "secret_key_file",
                                   "default_cluster_backend",
                                   "log_level",
                                   "cluster_reap_interval",
                                   "cluster_max_age",
                                   "cluster_owner_grace",
                                   "failover_timeout",
                                   "scheduler_partitions",
                                   "pools",
                                   "retention",
                                   "kubeconfig",
                                   "kube_context",
                                   "namespace",
                                   "spark_image",
                                   "spark_history_pvc",
                                   "driver_port",
                                   "block_manager_port",
                                   "notebook_image",
                                   "http_address",
                                   "history_server_url",
                                   "admin_password_file",
                                   "store"};
    for (const auto& kv : file.entries()) {
      const std::string& k = kv.key.scalar();
      bool known = false;
      for (const char* n : kKnown) known |= kv.key.IsScalar() && k == n;
      if (!known) {
        return InvalidArgumentError(config_file + ":" + std::to_string(kv.key.mark().line) +
                                    ": unknown setting '" + k + "'");
      }
    }
  }
  ASSIGN_OR_RETURN(std::string f_data, get("data_dir"));
  ASSIGN_OR_RETURN(std::string f_dags, get("dags_folder"));
  ASSIGN_OR_RETURN(std::string f_par, get("parallelism"));
  ASSIGN_OR_RETURN(std::string f_nice, get("task_nice"));
  ASSIGN_OR_RETURN(std::string f_spark, get("spark_home"));
  ASSIGN_OR_RETURN(std::string f_python, get("python"));
  ASSIGN_OR_RETURN(std::string f_key, get("secret_key_file"));
  ASSIGN_OR_RETURN(std::string f_backend, get("default_cluster_backend"));
  ASSIGN_OR_RETURN(std::string f_level, get("log_level"));
  ASSIGN_OR_RETURN(std::string f_reap, get("cluster_reap_interval"));
  ASSIGN_OR_RETURN(std::string f_retention, get("retention"));
  ASSIGN_OR_RETURN(std::string f_max_age, get("cluster_max_age"));
  ASSIGN_OR_RETURN(std::string f_owner_grace, get("cluster_owner_grace"));
  ASSIGN_OR_RETURN(std::string f_failover, get("failover_timeout"));
  ASSIGN_OR_RETURN(std::string f_partitions, get("scheduler_partitions"));
  ASSIGN_OR_RETURN(std::string f_kubeconfig, get("kubeconfig"));
  ASSIGN_OR_RETURN(std::string f_context, get("kube_context"));
  ASSIGN_OR_RETURN(std::string f_namespace, get("namespace"));
  ASSIGN_OR_RETURN(std::string f_image, get("spark_image"));
  ASSIGN_OR_RETURN(std::string f_pvc, get("spark_history_pvc"));
  ASSIGN_OR_RETURN(std::string f_driver_port, get("driver_port"));
  ASSIGN_OR_RETURN(std::string f_bm_port, get("block_manager_port"));
  ASSIGN_OR_RETURN(std::string f_notebook_image, get("notebook_image"));
  if (!f_notebook_image.empty()) c.notebook_image = f_notebook_image;
  ASSIGN_OR_RETURN(std::string f_http, get("http_address"));
  ASSIGN_OR_RETURN(std::string f_history_url, get("history_server_url"));
  ASSIGN_OR_RETURN(std::string f_admin_pw, get("admin_password_file"));
  ASSIGN_OR_RETURN(std::string f_store, get("store"));
  c.store = FirstNonEmpty({flags.store, Env("SPARKPLANE_STORE"), f_store});
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  c.host = host;
  bool pvc_set = file.Find("spark_history_pvc").present();

  if (c.data_dir.empty()) c.data_dir = Absolute(FirstNonEmpty({f_data, home + "/sparkplane"}));
  c.dags_folder = Absolute(FirstNonEmpty(
      {flags.dags_folder, Env("SPARKPLANE_DAGS_FOLDER"), f_dags, c.data_dir + "/dags"}));
  std::string par = FirstNonEmpty({Env("SPARKPLANE_PARALLELISM"), f_par});
  if (!par.empty()) {
    char* end = nullptr;
    long v = std::strtol(par.c_str(), &end, 10);
    if (*end != '\0' || v < 1 || v > 100000) {
      return InvalidArgumentError("parallelism: expected a positive integer; got '" + par + "'");
    }
    c.parallelism = static_cast<int>(v);
  }
  std::string nice = FirstNonEmpty({Env("SPARKPLANE_TASK_NICE"), f_nice});
  if (!nice.empty()) {
    char* end = nullptr;
    long v = std::strtol(nice.c_str(), &end, 10);
    if (*end != '\0' || v < 0 || v > 19) {
      return InvalidArgumentError("task_nice: expected an integer from 0 to 19; got '" + nice +
                                  "'");
    }
    c.task_nice = static_cast<int>(v);
  }
  c.spark_home = FirstNonEmpty({Env("SPARK_HOME"), f_spark});
  c.python = FirstNonEmpty({Env("PYSPARK_PYTHON"), f_python});
  FindBundledSpark(&c);
  c.secret_key_file = Absolute(
      FirstNonEmpty({Env("SPARKPLANE_SECRET_KEY_FILE"), f_key, c.data_dir + "/secret.key"}));
  if (!f_backend.empty()) c.default_cluster_backend = f_backend;
  std::string reap = FirstNonEmpty({Env("SPARKPLANE_CLUSTER_REAP_INTERVAL"), f_reap});
  if (!reap.empty()) {
    Result<Millis> d = dag::ParseDuration(reap);
    if (!d.ok() || d->count() <= 0) {
      return InvalidArgumentError("cluster_reap_interval: expected a duration such as 30s; got '" +
                                  reap + "'");
    }
    c.cluster_reap_interval = *d;
  }
  std::string max_age = FirstNonEmpty({Env("SPARKPLANE_CLUSTER_MAX_AGE"), f_max_age});
  if (max_age == "none") {
    c.cluster_max_age = Millis(0);
  } else if (!max_age.empty()) {
    Result<Millis> d = dag::ParseDuration(max_age);
    if (!d.ok() || d->count() <= 0) {
      return InvalidArgumentError(
          "cluster_max_age: expected a duration such as 24h, or none; got '" + max_age + "'");
    }
    c.cluster_max_age = *d;
  }
  std::string grace = FirstNonEmpty({Env("SPARKPLANE_CLUSTER_OWNER_GRACE"), f_owner_grace});
  if (!grace.empty()) {
    Result<Millis> d = dag::ParseDuration(grace);
    if (!d.ok() || d->count() <= 0) {
      return InvalidArgumentError("cluster_owner_grace: expected a duration such as 30s; got '" +
                                  grace + "'");
    }
    c.cluster_owner_grace = *d;
  }
  std::string failover = FirstNonEmpty({Env("SPARKPLANE_FAILOVER_TIMEOUT"), f_failover});
  if (!failover.empty()) {
    Result<Millis> d = dag::ParseDuration(failover);
    if (!d.ok() || *d < store::postgres::SchedulerLease::kMinFailoverTimeout ||
        *d > Millis(3600 * 1000)) {
      return InvalidArgumentError(
          "failover_timeout: expected a duration from 6s to 1h (a standby takes over after the "
          "active scheduler was silent that long); got '" +
          failover + "'");
    }
    c.failover_timeout = *d;
  }
  std::string partitions = FirstNonEmpty({Env("SPARKPLANE_SCHEDULER_PARTITIONS"), f_partitions});
  if (!partitions.empty()) {
    char* end = nullptr;
    long v = std::strtol(partitions.c_str(), &end, 10);
    if (*end != '\0' || v < 1 || v > store::postgres::SchedulerLease::kMaxPartitions) {
      return InvalidArgumentError(
          "scheduler_partitions: expected a whole number from 1 to " +
          std::to_string(store::postgres::SchedulerLease::kMaxPartitions) +
          " (above 1, several schedulers act at once, each on its partitions' DAGs); got '" +
          partitions + "'");
    }
    c.scheduler_partitions = static_cast<int>(v);
  }
  if (YamlNode pools = file.Find("pools")) {
    ASSIGN_OR_RETURN(c.cluster_pools, ParsePools(pools, config_file));
  }
  std::string retention = FirstNonEmpty({Env("SPARKPLANE_RETENTION"), f_retention});
  if (!retention.empty() && retention != "forever") {
    Result<Millis> d = dag::ParseDuration(retention);
    if (!d.ok() || d->count() <= 0) {
      return InvalidArgumentError("retention: expected a duration such as 30d, or forever; got '" +
                                  retention + "'");
    }
    c.retention = *d;
  }
  c.http_address = FirstNonEmpty({Env("SPARKPLANE_HTTP_ADDRESS"), f_http, c.http_address});
  c.history_server_url = FirstNonEmpty({Env("SPARKPLANE_HISTORY_SERVER_URL"), f_history_url});
  c.admin_password_file = FirstNonEmpty({Env("SPARKPLANE_ADMIN_PASSWORD_FILE"), f_admin_pw});
  RETURN_IF_ERROR(ResolveKubernetes(&c, flags, f_kubeconfig, f_context, f_namespace, f_image, f_pvc,
                                    pvc_set, f_driver_port, f_bm_port, home));
  std::string level = FirstNonEmpty({Env("SPARKPLANE_LOG_LEVEL"), f_level});
  if (level == "debug")
    c.log_level = LogLevel::kDebug;
  else if (level == "warn")
    c.log_level = LogLevel::kWarn;
  else if (level == "error")
    c.log_level = LogLevel::kError;
  else if (level.empty() || level == "info")
    c.log_level = LogLevel::kInfo;
  else
    return InvalidArgumentError("log_level: expected debug, info, warn or error; got '" + level +
                                "'");
  return c;
}

Status EnsureDataDirs(const Config& c) {
  // A new data dir is private (0700); the scheduler's own folder (database, task logs, control
  // socket) is made private even in a data dir that already existed.
  std::error_code ec;
  if (!fs::exists(c.data_dir, ec)) {
    fs::create_directories(c.data_dir, ec);
    if (ec) return FailedPreconditionError("cannot create " + c.data_dir + ": " + ec.message());
    fs::permissions(c.data_dir, fs::perms::owner_all, fs::perm_options::replace, ec);
  }
  for (const std::string& d : {c.data_dir + "/apps", c.data_dir + "/history/spark",
                               c.SchedulerDir() + "/logs", c.data_dir + "/clusters"}) {
    fs::create_directories(d, ec);
    if (ec) return FailedPreconditionError("cannot create " + d + ": " + ec.message());
  }
  fs::permissions(c.SchedulerDir(), fs::perms::owner_all, fs::perm_options::replace, ec);
  if (ec)
    return FailedPreconditionError("cannot make " + c.SchedulerDir() + " private: " + ec.message());
  if (c.dags_folder.rfind(c.data_dir, 0) == 0) fs::create_directories(c.dags_folder, ec);
  return OkStatus();
}

}  // namespace sp::cli
