// SparkClusterTaskType; see spark_cluster_task.h.
#include "operators/spark_cluster_task.h"

#include <cctype>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <utility>

#include "dag/ids.h"
#include "executor/process.h"
#include "k8s/client.h"
#include "k8s/kubernetes_cluster_backend.h"
#include "k8s/spark_cluster_objects.h"
#include "operators/internal/cluster_records.h"
#include "operators/internal/fields.h"
#include "operators/internal/results.h"
#include "spark/local_cluster.h"
#include "spark/submit.h"
#include "store/store.h"

namespace sp::operators {

namespace {

namespace fs = std::filesystem;
using internal::FieldPhase;
using internal::FieldReader;
using internal::Log;

constexpr int64_t kMaxWorkers = 256;

std::string Plural(int64_t n, const std::string& word) {
  return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

std::string Seconds(Millis d) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f s", static_cast<double>(d.count()) / 1000.0);
  return buf;
}

bool HasSpace(const std::string& s) {
  for (char c : s) {
    if (std::isspace(static_cast<unsigned char>(c))) return true;
  }
  return false;
}

constexpr char kKubernetesBackend[] = "kubernetes";
// How long a delete of a Kubernetes cluster waits for its objects to be gone.
constexpr Millis kKubeDeleteTimeout{120000};

// The try's handle: which action on which cluster, and the cluster's own handle under the
// backend's name.
nlohmann::json TryHandle(const std::string& action, const std::string& name,
                         const nlohmann::json& cluster,
                         const std::string& backend = internal::kLocalBackend) {
  nlohmann::json h = {{"action", action}, {"cluster", name}, {"backend", backend}};
  if (!cluster.is_null()) h[backend] = cluster;
  return h;
}

std::string HandleString(const nlohmann::json& handle, const char* key) {
  if (!handle.is_object()) return "";
  auto it = handle.find(key);
  return it != handle.end() && it->is_string() ? it->get<std::string>() : "";
}

// Reads master_conf / worker_conf: settings passed to the daemons as -Dkey=value.
std::map<std::string, std::string> ReadDaemonConf(FieldReader& r, const std::string& key) {
  std::optional<std::map<std::string, std::string>> conf = r.StringMap(key);
  if (!conf) return {};
  for (const auto& [name, value] : *conf) {
    if (name.empty() || HasSpace(name) || name.find('=') != std::string::npos) {
      r.Problem(key, key + "." + name, "setting names must be non-empty and hold no spaces or '='");
    }
    bool deferred = r.phase() == FieldPhase::kUnrendered && internal::IsTemplated(value);
    if (!deferred && (value.empty() || HasSpace(value))) {
      r.Problem(key, key + "." + name,
                "values must be non-empty and hold no spaces (they are passed to the daemons "
                "as -D" +
                    name + "=VALUE)");
    }
  }
  return *conf;
}

// A boolean field: true/false, or their text (rendered templates). nullopt when absent or
// deferred.
std::optional<bool> ReadBool(FieldReader& r, const nlohmann::json& fields, const std::string& key) {
  if (!r.Has(key) || r.Deferred(key)) return std::nullopt;
  const nlohmann::json& v = fields[key];
  if (v.is_boolean()) return v.get<bool>();
  if (v.is_string() && (v == "true" || v == "false")) return v == "true";
  r.Problem(key, "expected true or false; got " + internal::Describe(v));
  return std::nullopt;
}

nlohmann::json ClusterOutputs(const k8s::KubeClusterHandle& h) {
  nlohmann::json out = {{"cluster_name", h.name},
                        {"master_url", h.master_url},
                        {"master_ui_url", h.ui_url},
                        {"workers", h.workers},
                        {"namespace", h.namespace_name}};
  if (h.ui_node_port != 0) out["ui_node_port"] = h.ui_node_port;
  return out;
}

nlohmann::json ClusterOutputs(const spark::LocalCluster& cluster) {
  spark::LocalClusterHandle h = cluster.handle();
  return {{"cluster_name", h.name},
          {"master_url", h.master_url},
          {"master_ui_url", h.ui_url},
          {"workers", static_cast<int64_t>(h.workers.size())}};
}

}  // namespace

// The fields of one try, read by Validate (unrendered) and Start (rendered).
struct SparkClusterTaskType::Plan {
  std::string action = "create";
  std::string name;          // "" = DefaultClusterName
  std::string cluster_from;  // delete: the create task of this run whose cluster to delete
  std::string backend;       // "" = the configured default
  int workers = 1;
  int worker_cores = 1;
  std::string worker_memory = "1g";
  std::map<std::string, std::string> master_conf;
  std::map<std::string, std::string> worker_conf;
  Millis ready_timeout{120000};
  // kubernetes only
  std::string image;  // "" = RuntimeConfig::spark_image
  std::string image_pull_policy;
  int master_cores = 1;
  std::string master_memory = "1g";
  std::map<std::string, std::string> node_selector;
  nlohmann::json tolerations = nlohmann::json::array();
  bool authenticate = false;
  bool master_rest = false;
  bool ui_node_port = false;
  int ui_node_port_number = 0;
  std::string worker_scratch = k8s::kDefaultWorkerScratch;
  std::vector<std::string> kubernetes_fields;  // which of them the task sets

  static Plan Read(FieldReader& r, const nlohmann::json& fields) {
    Plan p;
    if (auto a = r.Choice("action", {"create", "scale", "delete"})) p.action = *a;
    if (auto n = r.String("name")) {
      if (Status s = spark::LocalCluster::ValidateName(*n); !s.ok()) {
        r.Problem("name", s.message());
      }
      p.name = *n;
    }
    if (auto b = r.Choice("backend", {internal::kLocalBackend, kKubernetesBackend})) {
      p.backend = *b;
    }
    if (auto f = r.String("cluster_from")) {
      if (Status s = dag::CheckTaskId(*f); !s.ok()) r.Problem("cluster_from", s.message());
      p.cluster_from = *f;
    }
    if (r.Has("cluster_from")) {
      if (p.action != "delete" && !r.Deferred("action")) {
        r.Problem("cluster_from",
                  "'cluster_from' applies to action delete only: it names the create task of "
                  "this run whose cluster is deleted");
      } else if (r.Has("name")) {
        r.Problem("cluster_from",
                  "give either name or cluster_from, not both (cluster_from finds the cluster "
                  "its create task recorded, whatever its name)");
      }
    }
    if (p.action == "scale" && !r.Deferred("action") && !r.Has("workers")) {
      r.Problem("workers",
                "missing required field 'workers': scale needs the number of workers "
                "the cluster should have");
    }
    if (auto w = r.Int("workers", 0, kMaxWorkers)) p.workers = static_cast<int>(*w);
    if (auto c = r.Int("worker_cores", 1, 1024)) p.worker_cores = static_cast<int>(*c);
    if (auto m = r.String("worker_memory")) {
      if (!spark::IsValidMemorySize(*m)) {
        r.Problem("worker_memory",
                  "expected a JVM memory size such as 1g or 1536m; got '" + *m + "'");
      }
      p.worker_memory = *m;
    }
    p.master_conf = ReadDaemonConf(r, "master_conf");
    p.worker_conf = ReadDaemonConf(r, "worker_conf");
    if (auto t = r.Duration("ready_timeout")) p.ready_timeout = *t;
    ReadKubernetesFields(r, fields, &p);
    return p;
  }

  static void ReadKubernetesFields(FieldReader& r, const nlohmann::json& fields, Plan* p) {
    for (const char* key :
         {"image", "image_pull_policy", "master_cores", "master_memory", "node_selector",
          "tolerations", "authenticate", "master_rest", "ui_node_port", "worker_scratch"}) {
      if (r.Has(key)) p->kubernetes_fields.push_back(key);
    }
    if (p->kubernetes_fields.empty()) return;
    if (p->backend == internal::kLocalBackend) {
      r.Problem(p->kubernetes_fields[0], "'" + p->kubernetes_fields[0] +
                                             "' applies to the kubernetes backend only, and "
                                             "this task says backend: local");
    }
    if (auto v = r.String("image")) p->image = *v;
    if (auto v = r.Choice("image_pull_policy", {"IfNotPresent", "Always", "Never"})) {
      p->image_pull_policy = *v;
    }
    if (auto v = r.Int("master_cores", 1, 1024)) p->master_cores = static_cast<int>(*v);
    if (auto m = r.String("master_memory")) {
      if (!spark::IsValidMemorySize(*m)) {
        r.Problem("master_memory",
                  "expected a JVM memory size such as 1g or 1536m; got '" + *m + "'");
      }
      p->master_memory = *m;
    }
    if (auto v = r.StringMap("node_selector")) p->node_selector = *v;
    if (r.Has("tolerations") && !r.Deferred("tolerations")) {
      const nlohmann::json& t = fields["tolerations"];
      if (t.is_array()) {
        p->tolerations = t;
      } else {
        r.Problem("tolerations",
                  "expected a list of tolerations (mappings with key, operator, "
                  "value, effect, tolerationSeconds); got " +
                      internal::Describe(t));
      }
    }
    if (auto v = r.String("worker_scratch")) p->worker_scratch = *v;
    if (auto v = ReadBool(r, fields, "authenticate")) p->authenticate = *v;
    if (auto v = ReadBool(r, fields, "master_rest")) p->master_rest = *v;
    if (r.Has("ui_node_port") && !r.Deferred("ui_node_port")) {
      const nlohmann::json& v = fields["ui_node_port"];
      if (v.is_boolean() || v == "true" || v == "false") {
        p->ui_node_port = v.is_boolean() ? v.get<bool>() : v == "true";
      } else if (auto port = r.Int("ui_node_port", 30000, 32767)) {
        p->ui_node_port = true;
        p->ui_node_port_number = static_cast<int>(*port);
      }
    }
    // What only the object builders check (tolerations, node selector labels, images); before
    // rendering, templated values are left for Start.
    if (r.ok()) {
      k8s::SparkClusterSpec spec = p->KubeSpec("default");
      if (r.phase() == FieldPhase::kUnrendered) {
        for (auto* m : {&spec.master_conf, &spec.worker_conf, &spec.node_selector}) {
          std::erase_if(*m, [](const auto& kv) { return internal::IsTemplated(kv.second); });
        }
        if (internal::IsTemplated(spec.image)) spec.image.clear();
        if (internal::IsTemplated(spec.worker_scratch)) {
          spec.worker_scratch = k8s::kDefaultWorkerScratch;
        }
      }
      if (spec.image.empty()) spec.image = k8s::kDefaultSparkImage;
      if (spec.name.empty()) spec.name = "cluster";
      if (Status s = k8s::ValidateSparkClusterSpec(spec); !s.ok()) {
        const std::string& m = s.message();
        size_t end = m.find_first_of(".:[");
        std::string key = m.substr(0, end);
        r.Problem(r.Has(key) ? key : "backend", m);
      }
    }
  }

  // The kubernetes spec of this plan (image "" when the task gives none).
  k8s::SparkClusterSpec KubeSpec(const std::string& namespace_name) const {
    k8s::SparkClusterSpec spec;
    spec.name = name;
    spec.namespace_name = namespace_name;
    spec.image = image;
    if (!image_pull_policy.empty()) spec.image_pull_policy = image_pull_policy;
    spec.workers = workers;
    spec.worker_cores = worker_cores;
    spec.worker_memory = worker_memory;
    spec.master_cores = master_cores;
    spec.master_memory = master_memory;
    spec.master_conf = master_conf;
    spec.worker_conf = worker_conf;
    spec.node_selector = node_selector;
    spec.tolerations = tolerations;
    spec.authenticate = authenticate;
    spec.master_rest = master_rest;
    spec.ui_node_port = ui_node_port;
    spec.ui_node_port_number = ui_node_port_number;
    spec.worker_scratch = worker_scratch;
    return spec;
  }
};

// One in-flight try.
struct SparkClusterTaskType::Op {
  std::string action;
  std::string cluster;    // "" for a delete by cluster_from
  std::string from_task;  // a delete's cluster_from
  int64_t run_key = 0;    // the try's run and task
  std::string task_id;
  std::stop_source stop;
};

// One cluster started by this server process. `local` is used only by the try holding the
// cluster's name (busy_), or by the destructor.
struct SparkClusterTaskType::Cluster {
  std::mutex mu;
  store::ClusterRecord record;          // as last committed (guarded by mu)
  std::shared_ptr<TaskContext> op_ctx;  // the try whose handle mirrors the cluster's (mu)
  std::string op_action;                // its action (mu)
  std::unique_ptr<spark::LocalCluster> local;
};

// Holds a cluster name for one try; releases it when destroyed.
class SparkClusterTaskType::NameLease {
 public:
  NameLease(SparkClusterTaskType* type, std::string name) : type_(type), name_(std::move(name)) {}
  ~NameLease() { type_->ReleaseName(name_); }
  NameLease(const NameLease&) = delete;
  NameLease& operator=(const NameLease&) = delete;

 private:
  SparkClusterTaskType* type_;
  std::string name_;
};

std::string DefaultClusterName(const std::string& dag_id, int64_t run_key) {
  std::string suffix = "-" + std::to_string(run_key);
  std::string base;
  for (char c : dag_id) {
    bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
    base += ok ? c : '-';
  }
  if (base.empty() || !std::isalnum(static_cast<unsigned char>(base[0]))) base = "c" + base;
  size_t room = 64 - suffix.size();
  if (base.size() > room) base.resize(room);
  return base + suffix;
}

SparkClusterTaskType::SparkClusterTaskType(const Services* services) : services_(services) {}

SparkClusterTaskType::~SparkClusterTaskType() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [ctx, op] : ops_) op->stop.request_stop();
  }
  threads_.WaitIdle();
  // The server is going away, and its process supervisor with the daemons (they are its
  // children). Stop them here, in order, and say so in their records: a run that goes on after
  // a restart then learns that its cluster is gone instead of finding it "ready".
  std::map<std::string, std::shared_ptr<Cluster>> live;
  {
    std::lock_guard<std::mutex> lock(mu_);
    live.swap(live_);
  }
  for (auto& [name, cluster] : live) {
    Status stopped = cluster->local->Stop(internal::kClusterStopGrace);
    store::ClusterRecord record;
    {
      std::lock_guard<std::mutex> lock(cluster->mu);
      record = cluster->record;
    }
    record.state = stopped.ok() ? internal::kClusterFailed : record.state;
    if (services_->store != nullptr) {
      internal::CommitCluster(*services_->store, record).IgnoreError();
    }
    if (services_->logger != nullptr) {
      services_->logger->Info("clusters", "stopped Spark cluster '" + name +
                                              "' as the server stops" +
                                              (stopped.ok() ? "" : ": " + stopped.message()));
    }
  }
}

std::vector<std::string> SparkClusterTaskType::FieldNames() const {
  return {"action",       "name",          "cluster_from",  "workers",
          "worker_cores", "worker_memory", "master_conf",   "worker_conf",
          "backend",      "ready_timeout", "image",         "image_pull_policy",
          "master_cores", "master_memory", "node_selector", "tolerations",
          "authenticate", "master_rest",   "ui_node_port",  "worker_scratch"};
}

void SparkClusterTaskType::Validate(const dag::TaskSpec& spec,
                                    std::vector<dag::DagError>* errors) const {
  FieldReader r(spec.fields, FieldPhase::kUnrendered);
  Plan::Read(r, spec.fields);
  internal::AppendDagErrors(spec, r.problems(), errors);
}

std::vector<std::string> SparkClusterTaskType::LiveClusters() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> names;
  for (const auto& [name, c] : live_) names.push_back(name);
  return names;
}

std::shared_ptr<SparkClusterTaskType::Op> SparkClusterTaskType::AddOp(
    const std::shared_ptr<TaskContext>& ctx, const std::string& action,
    const std::string& cluster) {
  auto op = std::make_shared<Op>();
  op->action = action;
  op->cluster = cluster;
  op->run_key = ctx->run_key();
  op->task_id = ctx->task_id();
  std::lock_guard<std::mutex> lock(mu_);
  ops_[ctx.get()] = op;
  return op;
}

void SparkClusterTaskType::RemoveOp(const TaskContext* ctx) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ops_.erase(ctx);
  }
  name_free_.notify_all();  // a delete by cluster_from may wait for this try's end
}

void SparkClusterTaskType::RunOp(const std::shared_ptr<TaskContext>& ctx,
                                 std::function<void()> work) {
  bool started = threads_.Run([this, ctx, work = std::move(work)] {
    work();
    RemoveOp(ctx.get());
  });
  if (!started) {
    RemoveOp(ctx.get());
    internal::Fail(ctx, "could not start a thread for the cluster operation", /*retryable=*/true);
  }
}

bool SparkClusterTaskType::AcquireName(const std::string& name, std::stop_token stop) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!name_free_.wait(lock, stop, [&] { return busy_.count(name) == 0; })) return false;
  busy_.insert(name);
  return true;
}

void SparkClusterTaskType::ReleaseName(const std::string& name) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    busy_.erase(name);
  }
  name_free_.notify_all();
}

std::shared_ptr<SparkClusterTaskType::Cluster> SparkClusterTaskType::FindLive(
    const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = live_.find(name);
  return it == live_.end() ? nullptr : it->second;
}

std::shared_ptr<SparkClusterTaskType::Cluster> SparkClusterTaskType::TakeLive(
    const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = live_.find(name);
  if (it == live_.end()) return nullptr;
  std::shared_ptr<Cluster> c = std::move(it->second);
  live_.erase(it);
  return c;
}

void SparkClusterTaskType::Start(std::shared_ptr<TaskContext> ctx) {
  FieldReader r(ctx->fields(), FieldPhase::kRendered);
  Plan plan = Plan::Read(r, ctx->fields());
  if (!r.ok()) {
    internal::Fail(ctx, "invalid spark_cluster task: " + r.FirstProblem(), /*retryable=*/false);
    return;
  }
  if (plan.name.empty()) plan.name = DefaultClusterName(ctx->dag_id(), ctx->run_key());
  if (plan.backend.empty()) plan.backend = services_->config.default_cluster_backend;
  const bool kubernetes = plan.backend == kKubernetesBackend;
  if (plan.backend != internal::kLocalBackend && !kubernetes) {
    internal::Fail(ctx,
                   "unknown cluster backend '" + plan.backend + "' (the configured default); " +
                       "known backends: " + internal::kLocalBackend + ", " + kKubernetesBackend,
                   /*retryable=*/false);
    return;
  }
  if (!kubernetes && plan.action == "create" && !plan.kubernetes_fields.empty()) {
    internal::Fail(ctx,
                   "invalid spark_cluster task: " + plan.kubernetes_fields[0] +
                       ": applies to the kubernetes backend only, and this cluster's backend is "
                       "local (the configured default)",
                   /*retryable=*/false);
    return;
  }
  if (services_->store == nullptr || services_->clock == nullptr ||
      (!kubernetes && services_->processes == nullptr)) {
    internal::Fail(ctx, "the server has no store, process supervisor or clock for clusters",
                   /*retryable=*/false);
    return;
  }
  if (!kubernetes && plan.action == "create" && services_->config.spark_home.empty()) {
    internal::Fail(ctx,
                   "Spark not found: set spark_home in the configuration or SPARK_HOME, or run "
                   "scripts/setup.sh",
                   /*retryable=*/false);
    return;
  }
  const bool from_task = plan.action == "delete" && !plan.cluster_from.empty();
  std::shared_ptr<Op> op = AddOp(ctx, plan.action, from_task ? "" : plan.name);
  op->from_task = plan.cluster_from;
  RunOp(ctx, [this, ctx, op, plan, from_task] {
    if (plan.action == "create") {
      Create(ctx, op, plan);
    } else if (plan.action == "scale") {
      Scale(ctx, op, plan);
    } else if (from_task) {
      DeleteCreatedBy(ctx, plan.cluster_from);
    } else {
      Delete(ctx, plan.name, plan.backend);
    }
  });
}

void SparkClusterTaskType::Create(const std::shared_ptr<TaskContext>& ctx,
                                  const std::shared_ptr<Op>& op, const Plan& plan) {
  const std::string& name = plan.name;
  std::stop_token stop = op->stop.get_token();
  if (!AcquireName(name, stop)) {
    internal::Fail(ctx, "cancelled while another task was working on cluster '" + name + "'",
                   /*retryable=*/true);
    return;
  }
  NameLease lease(this, name);
  store::Store& store = *services_->store;

  // What the name stands for now.
  Result<std::optional<store::ClusterRecord>> existing = internal::FindClusterRecord(store, name);
  if (!existing.ok()) {
    internal::Fail(ctx, "could not read the cluster records: " + existing.status().message(),
                   /*retryable=*/true);
    return;
  }
  std::shared_ptr<Cluster> stale = TakeLive(name);
  if (*existing && internal::Abandoned(**existing)) {
    Log(*ctx, "Spark cluster '" + name + "' was left " + (*existing)->state +
                  " by a command that is gone; tearing down what it made");
  } else if (*existing && internal::MayBeRunning(**existing)) {
    if (stale) {
      std::lock_guard<std::mutex> lock(mu_);
      live_[name] = stale;
    }
    const store::ClusterRecord& r = **existing;
    internal::Fail(ctx,
                   "Spark cluster '" + name + "' already exists (state " + r.state +
                       ", created by run " + std::to_string(r.run_id) +
                       "); delete it first (a spark_cluster task with action: delete) or give "
                       "another name",
                   /*retryable=*/false);
    return;
  }
  stale.reset();  // its record says deleted, failed or abandoned: torn down below
  if (*existing) {
    // A failed or deleted cluster of this name: make sure nothing of it runs, and clear its dir
    // (LocalCluster refuses an existing one).
    Status cleared = TearDown(**existing, /*keep_logs=*/false);
    if (!cleared.ok()) {
      internal::Fail(ctx,
                     "could not clear what is left of the previous cluster '" + name +
                         "': " + cleared.message(),
                     /*retryable=*/true);
      return;
    }
  }
  if (plan.backend == kKubernetesBackend) {
    CreateOnKubernetes(ctx, stop, plan);
    return;
  }

  // The record and the try's handle, before any daemon.
  std::error_code ec;
  std::string root = fs::absolute(services_->config.ClustersDir(), ec).lexically_normal().string();
  spark::LocalClusterHandle initial;
  initial.name = name;
  initial.dir = (fs::path(root) / name).string();
  initial.app_id_prefix = "app-" + name;
  auto cluster = std::make_shared<Cluster>();
  cluster->record.name = name;
  cluster->record.backend = internal::kLocalBackend;
  cluster->record.run_id = ctx->run_key();
  cluster->record.state = internal::kClusterCreating;
  cluster->record.handle = internal::WithCreator(initial.ToJson(), ctx->task_id());
  if (ctx->run_key() == 0) cluster->record.handle = internal::WithOwner(cluster->record.handle);
  cluster->record.created_at = services_->clock->Now();
  if (Status s = internal::CommitCluster(store, cluster->record); !s.ok()) {
    internal::Fail(ctx, "could not record the cluster, so it was not started: " + s.message(),
                   /*retryable=*/true);
    return;
  }
  if (Status s = ctx->SaveHandle(TryHandle("create", name, initial.ToJson())); !s.ok()) {
    cluster->record.state = internal::kClusterFailed;
    internal::CommitCluster(store, cluster->record).IgnoreError();
    internal::Fail(
        ctx, "could not record the try's handle, so the cluster was not started: " + s.message(),
        /*retryable=*/true);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(cluster->mu);
    cluster->op_ctx = ctx;
    cluster->op_action = "create";
  }

  spark::LocalClusterSpec spec;
  spec.name = name;
  spec.clusters_root = root;
  spec.spark_home = services_->config.spark_home;
  spec.workers = plan.workers;
  spec.worker_cores = plan.worker_cores;
  spec.worker_memory = plan.worker_memory;
  spec.ready_timeout = plan.ready_timeout;
  spec.stop_grace = internal::kClusterStopGrace;
  spec.app_id_prefix = initial.app_id_prefix;
  if (!services_->config.python.empty()) spec.env["PYSPARK_PYTHON"] = services_->config.python;
  spec.master_conf = plan.master_conf;
  spec.worker_conf = plan.worker_conf;
  store::Store* store_ptr = &store;
  std::weak_ptr<Cluster> weak = cluster;
  spec.on_handle = [store_ptr, weak](const spark::LocalClusterHandle& h) -> Status {
    std::shared_ptr<Cluster> c = weak.lock();
    if (!c) return OkStatus();
    store::ClusterRecord record;
    std::shared_ptr<TaskContext> try_ctx;
    std::string action;
    {
      std::lock_guard<std::mutex> lock(c->mu);
      internal::ReplaceHandle(&c->record, h.ToJson());
      record = c->record;
      try_ctx = c->op_ctx;
      action = c->op_action;
    }
    RETURN_IF_ERROR(internal::CommitCluster(*store_ptr, record));
    if (try_ctx) RETURN_IF_ERROR(try_ctx->SaveHandle(TryHandle(action, h.name, h.ToJson())));
    return OkStatus();
  };

  Log(*ctx, "creating Spark cluster '" + name + "' (backend local, " +
                Plural(plan.workers, "worker") + " with " + Plural(plan.worker_cores, "core") +
                " and " + plan.worker_memory + " each) in " + initial.dir);
  Result<std::unique_ptr<spark::LocalCluster>> started =
      spark::LocalCluster::Start(std::move(spec), *services_->processes, *services_->clock, stop);
  store::ClusterRecord record;
  {
    std::lock_guard<std::mutex> lock(cluster->mu);
    cluster->op_ctx.reset();
    if (started.ok()) {
      cluster->local = std::move(started).value();
      internal::ReplaceHandle(&cluster->record, cluster->local->handle().ToJson());
      cluster->record.state = internal::kClusterReady;
    } else {
      cluster->record.state = internal::kClusterFailed;
    }
    record = cluster->record;
  }
  if (!cluster->local) {
    Status failed = started.status();
    if (Status s = internal::CommitCluster(store, record); !s.ok()) Log(*ctx, s.message());
    bool retryable = failed.code() != StatusCode::kInvalidArgument &&
                     failed.code() != StatusCode::kAlreadyExists;
    internal::Fail(ctx, "could not create Spark cluster '" + name + "': " + failed.message(),
                   retryable);
    return;
  }
  if (Status s = internal::CommitCluster(store, record); !s.ok()) {
    Status stopped = cluster->local->Stop(internal::kClusterStopGrace);
    record.state = stopped.ok() ? internal::kClusterFailed : internal::kClusterReady;
    internal::CommitCluster(store, record).IgnoreError();
    internal::Fail(
        ctx,
        "Spark cluster '" + name +
            "' started but could not be recorded as ready, so it was stopped: " + s.message(),
        /*retryable=*/true);
    return;
  }
  nlohmann::json outputs = ClusterOutputs(*cluster->local);
  {
    std::lock_guard<std::mutex> lock(mu_);
    live_[name] = cluster;
  }
  std::string url = outputs["master_url"].get<std::string>();
  Log(*ctx, "Spark cluster '" + name + "' is ready at " + url + " (web UI " +
                outputs["master_ui_url"].get<std::string>() + ") after " +
                Seconds(cluster->local->startup_time()));
  ctx->Complete(
      internal::Succeeded(std::move(outputs), "Spark cluster '" + name + "' ready at " + url));
}

void SparkClusterTaskType::Scale(const std::shared_ptr<TaskContext>& ctx,
                                 const std::shared_ptr<Op>& op, const Plan& plan) {
  const std::string& name = plan.name;
  std::stop_token stop = op->stop.get_token();
  if (!AcquireName(name, stop)) {
    internal::Fail(ctx, "cancelled while another task was working on cluster '" + name + "'",
                   /*retryable=*/true);
    return;
  }
  NameLease lease(this, name);
  store::Store& store = *services_->store;
  std::shared_ptr<Cluster> cluster = FindLive(name);
  if (!cluster) {
    Result<std::optional<store::ClusterRecord>> existing = internal::FindClusterRecord(store, name);
    if (existing.ok() && *existing && (*existing)->backend == kKubernetesBackend &&
        (*existing)->state != internal::kClusterDeleted) {
      ScaleOnKubernetes(ctx, stop, plan, **existing);
      return;
    }
    if (existing.ok() && *existing && internal::MayBeRunning(**existing)) {
      internal::Fail(ctx,
                     "Spark cluster '" + name + "' (state " + (*existing)->state +
                         ") is a local cluster this process did not start (another process "
                         "started it, or it predates a restart); only the process that owns "
                         "its daemons can scale it: scale it from a task of the server that "
                         "created it, or delete it and create it again",
                     /*retryable=*/false);
      return;
    }
    std::string near = dag::NearestName(name, LiveClusters());
    internal::Fail(ctx,
                   "no running Spark cluster named '" + name + "' to scale" +
                       (near.empty() ? "" : "; did you mean '" + near + "'?"),
                   /*retryable=*/false);
    return;
  }
  if (Status alive = cluster->local->CheckDaemons(); !alive.ok()) {
    internal::Fail(ctx, "Spark cluster '" + name + "' cannot be scaled: " + alive.message(),
                   /*retryable=*/false);
    return;
  }
  int before = cluster->local->worker_count();
  if (Status s = ctx->SaveHandle(TryHandle("scale", name, cluster->local->handle().ToJson()));
      !s.ok()) {
    internal::Fail(ctx, "could not record the try's handle, so nothing was changed: " + s.message(),
                   /*retryable=*/true);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(cluster->mu);
    cluster->op_ctx = ctx;
    cluster->op_action = "scale";
  }
  Log(*ctx, "scaling Spark cluster '" + name + "' from " + Plural(before, "worker") + " to " +
                std::to_string(plan.workers));
  Status scaled = cluster->local->Scale(plan.workers, stop);
  store::ClusterRecord record;
  {
    std::lock_guard<std::mutex> lock(cluster->mu);
    cluster->op_ctx.reset();
    internal::ReplaceHandle(&cluster->record, cluster->local->handle().ToJson());
    record = cluster->record;
  }
  if (Status s = internal::CommitCluster(store, record); !s.ok()) Log(*ctx, s.message());
  if (!scaled.ok()) {
    bool retryable = scaled.code() != StatusCode::kInvalidArgument;
    internal::Fail(ctx, "could not scale Spark cluster '" + name + "': " + scaled.message(),
                   retryable);
    return;
  }
  nlohmann::json outputs = ClusterOutputs(*cluster->local);
  Log(*ctx, "Spark cluster '" + name + "' has " + Plural(plan.workers, "worker"));
  ctx->Complete(internal::Succeeded(
      std::move(outputs), "Spark cluster '" + name + "' has " + Plural(plan.workers, "worker")));
}

void SparkClusterTaskType::Delete(const std::shared_ptr<TaskContext>& ctx, const std::string& name,
                                  const std::string& backend) {
  if (Status s = ctx->SaveHandle(TryHandle("delete", name, nullptr)); !s.ok()) {
    internal::Fail(ctx, "could not record the try's handle, so nothing was deleted: " + s.message(),
                   /*retryable=*/true);
    return;
  }
  std::string what;
  if (Status s = DeleteNamed(ctx, name, backend, &what); !s.ok()) {
    internal::Fail(ctx, s.message(), internal::IsRetryable(s));
    return;
  }
  ctx->Complete(internal::Succeeded({{"cluster_name", name}}, what));
}

void SparkClusterTaskType::DeleteCreatedBy(const std::shared_ptr<TaskContext>& ctx,
                                           const std::string& create_task) {
  store::Store& store = *services_->store;
  nlohmann::json handle = {{"action", "delete"}, {"cluster_from", create_task}};
  if (Status s = ctx->SaveHandle(handle); !s.ok()) {
    internal::Fail(ctx, "could not record the try's handle, so nothing was deleted: " + s.message(),
                   /*retryable=*/true);
    return;
  }
  // A try of the create task still in flight gives up first, and is waited for, so that what
  // it recorded is found and nothing starts after the delete looked.
  {
    std::unique_lock<std::mutex> lock(mu_);
    auto creating = [&] {
      bool any = false;
      for (auto& [other, op] : ops_) {
        if (op->action == "create" && op->run_key == ctx->run_key() && op->task_id == create_task) {
          op->stop.request_stop();
          any = true;
        }
      }
      return any;
    };
    name_free_.wait(lock, [&] { return !creating(); });
  }
  Result<std::vector<store::ClusterRecord>> records =
      internal::FindClustersCreatedBy(store, ctx->run_key(), create_task);
  if (!records.ok()) {
    internal::Fail(ctx, "could not read the cluster records: " + records.status().message(),
                   /*retryable=*/true);
    return;
  }
  if (records->empty()) {
    std::string what = "task '" + create_task +
                       "' of this run recorded no Spark cluster (it never started one); "
                       "nothing to delete";
    Log(*ctx, what);
    ctx->Complete(internal::Succeeded({{"cluster_name", ""}}, what));
    return;
  }
  std::string names, summary;
  Status first_failure;
  for (const store::ClusterRecord& r : *records) {
    names += (names.empty() ? "" : ",") + r.name;
    Log(*ctx, "Spark cluster '" + r.name + "' (state " + r.state + ") was created by task '" +
                  create_task + "' of this run");
    std::string what;
    Status s = DeleteNamed(ctx, r.name, r.backend, &what);
    if (!s.ok() && first_failure.ok()) first_failure = s;
    summary += (summary.empty() ? "" : "; ") + (s.ok() ? what : s.message());
  }
  if (!first_failure.ok()) {
    internal::Fail(ctx, summary, internal::IsRetryable(first_failure));
    return;
  }
  ctx->Complete(internal::Succeeded({{"cluster_name", names}}, summary));
}

Status SparkClusterTaskType::DeleteNamed(const std::shared_ptr<TaskContext>& ctx,
                                         const std::string& name, const std::string& backend,
                                         std::string* what) {
  store::Store& store = *services_->store;
  // A create still starting this cluster gives up first; the delete then finds what it left.
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [other, op] : ops_) {
      if (op->cluster == name && op->action == "create") op->stop.request_stop();
    }
  }
  (void)AcquireName(name, std::stop_token());  // a delete is never interrupted
  NameLease lease(this, name);

  std::shared_ptr<Cluster> cluster = TakeLive(name);
  Result<std::optional<store::ClusterRecord>> existing = internal::FindClusterRecord(store, name);
  auto put_back = [&] {
    if (!cluster) return;
    std::lock_guard<std::mutex> lock(mu_);
    live_[name] = cluster;
  };
  if (!existing.ok()) {
    put_back();
    return UnavailableError("could not read the cluster records: " + existing.status().message());
  }
  if (!cluster && !*existing && backend == kKubernetesBackend) {
    // No record (a lost store, another server's cluster): the parent its name maps to.
    Result<k8s::KubeClient*> client = Kube();
    if (!client.ok()) {
      return Status(client.status().code(),
                    "could not delete Spark cluster '" + name + "': " + client.status().message());
    }
    k8s::KubernetesClusterBackend kube(*client);
    const std::string parent = k8s::SparkClusterNames::For(name).parent;
    Result<bool> deleted = kube.Delete((*client)->default_namespace(), parent, kKubeDeleteTimeout);
    if (!deleted.ok()) {
      return Status(deleted.status().code(),
                    "could not delete Spark cluster '" + name + "': " + deleted.status().message());
    }
    *what = *deleted ? "deleted Spark cluster '" + name + "' (it had no record)"
                     : "no Spark cluster named '" + name + "'; nothing to delete";
    Log(*ctx, *what);
    return OkStatus();
  }
  if (!cluster && !*existing) {
    Log(*ctx, "no Spark cluster named '" + name + "'; nothing to delete");
    *what = "no cluster '" + name + "' to delete";
    return OkStatus();
  }
  if (!cluster && (*existing)->state == internal::kClusterDeleted) {
    Log(*ctx, "Spark cluster '" + name + "' was already deleted");
    *what = "cluster '" + name + "' already deleted";
    return OkStatus();
  }
  store::ClusterRecord record;
  if (*existing) {
    record = **existing;
  } else {
    std::lock_guard<std::mutex> lock(cluster->mu);
    record = cluster->record;
  }
  if (cluster) {
    std::lock_guard<std::mutex> lock(cluster->mu);
    internal::ReplaceHandle(&record, cluster->local->handle().ToJson());
  }
  const std::string was = record.state;
  record.state = internal::kClusterDeleting;
  // An ad-hoc cluster's delete is owned by whoever deletes it: if that process dies half-way,
  // the record is abandoned and the reaper finishes the delete.
  if (record.run_id == 0) record.handle = internal::WithOwner(record.handle);
  if (Status s = internal::CommitCluster(store, record); !s.ok()) {
    put_back();
    return UnavailableError("could not mark Spark cluster '" + name +
                            "' as deleting: " + s.message());
  }
  Log(*ctx, "deleting Spark cluster '" + name + "'" +
                (was == internal::kClusterFailed ? " (its create failed; tearing down what it "
                                                   "recorded)"
                                                 : ""));
  Status stopped = cluster ? cluster->local->Stop(internal::kClusterStopGrace)
                           : TearDown(record, /*keep_logs=*/true);
  if (!stopped.ok()) {
    put_back();
    return Status(stopped.code(),
                  "could not delete Spark cluster '" + name + "': " + stopped.message());
  }
  record.state = internal::kClusterDeleted;
  record.deleted_at = services_->clock->Now();
  if (Status s = internal::CommitCluster(store, record); !s.ok()) {
    return UnavailableError("Spark cluster '" + name +
                            "' was stopped but could not be marked deleted: " + s.message());
  }
  Log(*ctx, "deleted Spark cluster '" + name + "'");
  *what = "deleted Spark cluster '" + name + "'";
  return OkStatus();
}

void SparkClusterTaskType::Cancel(std::shared_ptr<TaskContext> ctx, const nlohmann::json& handle,
                                  Millis grace) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = ops_.find(ctx.get());
    if (it != ops_.end()) {
      const Op& op = *it->second;
      if (op.action == "delete") {
        std::string which = op.cluster.empty() ? "the cluster of task '" + op.from_task + "'"
                                               : "cluster '" + op.cluster + "'";
        Log(*ctx, "cancel requested; the delete of " + which +
                      " goes on so the cluster is not left half-stopped");
      } else {
        Log(*ctx,
            "cancel requested; stopping the " + op.action + " of cluster '" + op.cluster + "'");
        it->second->stop.request_stop();
      }
      return;  // the try's thread completes it
    }
  }
  // No work of ours runs for this try (e.g. it dates from before a restart).
  std::string action = HandleString(handle, "action");
  std::string name = HandleString(handle, "cluster");
  if (action == "create" && !name.empty()) {
    RunOp(ctx, [this, ctx, name, handle] {
      TearDownCreate(ctx, name, handle, TearDownReason::kCancelled);
    });
    return;
  }
  ctx->Complete(internal::Failed("cancelled", /*retryable=*/true));
}

void SparkClusterTaskType::Recover(std::shared_ptr<TaskContext> ctx, const nlohmann::json& handle) {
  std::string action = HandleString(handle, "action");
  std::string name = HandleString(handle, "cluster");
  std::string from_task = HandleString(handle, "cluster_from");
  if (action == "delete" && name.empty() && !from_task.empty() && services_->store != nullptr) {
    Log(*ctx, "the server restarted during the delete of the cluster of task '" + from_task +
                  "'; deleting again");
    AddOp(ctx, action, "")->from_task = from_task;
    RunOp(ctx, [this, ctx, from_task] { DeleteCreatedBy(ctx, from_task); });
    return;
  }
  if (name.empty() || (action != "create" && action != "scale" && action != "delete")) {
    internal::Fail(ctx,
                   "lost on restart: the saved handle is unreadable (" +
                       handle.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + ")",
                   /*retryable=*/true);
    return;
  }
  if (services_->store == nullptr) {
    internal::Fail(ctx, "lost on restart: no store", /*retryable=*/true);
    return;
  }
  if (action == "scale") {
    internal::Fail(ctx,
                   "lost on restart: scaling Spark cluster '" + name +
                       "' was interrupted; the cluster stays until it is deleted",
                   /*retryable=*/true);
    return;
  }
  AddOp(ctx, action, name);
  if (action == "delete") {
    Log(*ctx, "the server restarted during the delete of cluster '" + name + "'; deleting again");
    std::string backend = HandleString(handle, "backend");
    RunOp(ctx, [this, ctx, name, backend] { Delete(ctx, name, backend); });
    return;
  }
  RunOp(ctx, [this, ctx, name, handle] {
    TearDownCreate(ctx, name, handle, TearDownReason::kRestarted);
  });
}

void SparkClusterTaskType::TearDownCreate(const std::shared_ptr<TaskContext>& ctx,
                                          const std::string& name, const nlohmann::json& try_handle,
                                          TearDownReason reason) {
  (void)AcquireName(name, std::stop_token());
  NameLease lease(this, name);
  store::Store& store = *services_->store;
  const bool restarted = reason == TearDownReason::kRestarted;
  Log(*ctx, std::string(restarted ? "the server restarted" : "cancelled") +
                " while Spark cluster '" + name + "' was being created; tearing it down");
  // The record's handle is committed before the try's, so it is never older; the try's handle
  // still counts when the record belongs to another run (the name was reused).
  std::vector<store::ClusterRecord> targets;
  Result<std::optional<store::ClusterRecord>> existing = internal::FindClusterRecord(store, name);
  bool own_record = existing.ok() && *existing && (*existing)->run_id == ctx->run_key() &&
                    (*existing)->state != internal::kClusterDeleted;
  if (own_record) targets.push_back(**existing);
  std::string backend = HandleString(try_handle, "backend");
  if (backend.empty()) backend = internal::kLocalBackend;
  if (try_handle.is_object() && try_handle.contains(backend) && !try_handle[backend].is_null()) {
    store::ClusterRecord from_try;
    from_try.name = name;
    from_try.backend = backend;
    from_try.handle = try_handle[backend];
    bool same = own_record && (*existing)->backend == backend && backend == kKubernetesBackend &&
                (*existing)->handle.value("parent", "") == from_try.handle.value("parent", "");
    if (!same) targets.push_back(from_try);
  }
  std::shared_ptr<Cluster> live = own_record ? TakeLive(name) : nullptr;
  Status torn = live ? live->local->Stop(internal::kClusterStopGrace) : OkStatus();
  for (const store::ClusterRecord& t : targets) {
    Status s = TearDown(t, /*keep_logs=*/true);
    if (torn.ok()) torn = s;
  }
  if (own_record) {
    store::ClusterRecord record = **existing;
    record.state = internal::kClusterFailed;
    if (Status s = internal::CommitCluster(store, record); !s.ok()) Log(*ctx, s.message());
  }
  std::string message =
      std::string(restarted ? "lost on restart" : "cancelled") + ": Spark cluster '" + name +
      "' was being created; " +
      (torn.ok() ? "it was torn down" : "tearing it down failed: " + torn.message());
  internal::Fail(ctx, message, /*retryable=*/true);
}

Result<k8s::KubeClient*> SparkClusterTaskType::Kube() {
  std::lock_guard<std::mutex> lock(kube_mu_);
  if (kube_) return kube_.get();
  const RuntimeConfig& c = services_->config;
  Result<std::unique_ptr<k8s::KubeClient>> client = k8s::ConnectKube(
      {c.kubeconfig, c.kube_context, c.kube_namespace}, *services_->clock, services_->logger);
  if (!client.ok()) return client.status().With("connecting to Kubernetes");
  kube_ = std::move(client).value();
  return kube_.get();
}

Status SparkClusterTaskType::TearDown(const store::ClusterRecord& record, bool keep_logs) {
  if (record.backend != kKubernetesBackend) {
    return internal::TearDownCluster(
        record, internal::kClusterStopGrace,
        keep_logs ? spark::DirCleanup::kKeepLogs : spark::DirCleanup::kRemoveAll);
  }
  if (record.handle.is_null() || (record.handle.is_object() && record.handle.empty())) {
    return OkStatus();
  }
  Result<k8s::KubeClusterHandle> handle = k8s::KubeClusterHandle::FromJson(record.handle);
  if (!handle.ok()) {
    return FailedPreconditionError("cluster '" + record.name + "': its recorded handle is " +
                                   "unreadable (" + handle.status().message() + ")");
  }
  ASSIGN_OR_RETURN(k8s::KubeClient * client, Kube());
  k8s::KubernetesClusterBackend kube(client);
  return kube.Delete(handle->namespace_name, handle->parent, kKubeDeleteTimeout).status();
}

void SparkClusterTaskType::CreateOnKubernetes(const std::shared_ptr<TaskContext>& ctx,
                                              std::stop_token stop, const Plan& plan) {
  const std::string& name = plan.name;
  store::Store& store = *services_->store;
  const RuntimeConfig& config = services_->config;
  Result<k8s::KubeClient*> client = Kube();
  if (!client.ok()) {
    internal::Fail(ctx,
                   "could not create Spark cluster '" + name + "': " + client.status().message(),
                   /*retryable=*/false);
    return;
  }
  k8s::SparkClusterSpec spec = plan.KubeSpec((*client)->default_namespace());
  if (spec.image.empty()) spec.image = config.spark_image;
  spec.history_pvc = config.spark_history_pvc;
  spec.dag_id = ctx->dag_id();
  spec.run_key = ctx->run_key();
  if (Status s = k8s::ValidateSparkClusterSpec(spec); !s.ok()) {
    internal::Fail(ctx, "invalid spark_cluster task: " + s.message(), /*retryable=*/false);
    return;
  }

  // The record and the try's handle before any object.
  k8s::KubeClusterHandle planned = k8s::KubernetesClusterBackend::PlannedHandle(spec);
  store::ClusterRecord record;
  record.name = name;
  record.backend = kKubernetesBackend;
  record.run_id = ctx->run_key();
  record.state = internal::kClusterCreating;
  record.handle = internal::WithCreator(planned.ToJson(), ctx->task_id());
  if (ctx->run_key() == 0) record.handle = internal::WithOwner(record.handle);
  record.created_at = services_->clock->Now();
  if (Status s = internal::CommitCluster(store, record); !s.ok()) {
    internal::Fail(ctx, "could not record the cluster, so it was not created: " + s.message(),
                   /*retryable=*/true);
    return;
  }
  if (Status s = ctx->SaveHandle(TryHandle("create", name, planned.ToJson(), kKubernetesBackend));
      !s.ok()) {
    record.state = internal::kClusterFailed;
    internal::CommitCluster(store, record).IgnoreError();
    internal::Fail(
        ctx, "could not record the try's handle, so the cluster was not created: " + s.message(),
        /*retryable=*/true);
    return;
  }
  Log(*ctx, "creating Spark cluster '" + name + "' (backend kubernetes, namespace " +
                spec.namespace_name + ", image " + spec.image + ", " +
                Plural(spec.workers, "worker") + " with " + Plural(spec.worker_cores, "core") +
                " and " + spec.worker_memory + " each" +
                (spec.authenticate ? ", authenticated" : "") + ")");
  if (spec.ui_node_port) {
    Log(*ctx,
        "warning: ui_node_port publishes the Spark master's web UI on every node without "
        "authentication: anyone who can reach a node sees the cluster's applications and "
        "their configuration; leave it off where the nodes are reachable by others (kubectl "
        "port-forward reaches the UI without it)");
  }
  Time started = services_->clock->Now();
  k8s::KubeClusterBackendOptions options;
  options.logger = services_->logger;
  k8s::KubernetesClusterBackend kube(*client, options);
  Result<k8s::KubeClusterHandle> created =
      kube.Create(spec, plan.ready_timeout, stop, [&](const k8s::KubeClusterHandle& h) -> Status {
        internal::ReplaceHandle(&record, h.ToJson());
        RETURN_IF_ERROR(internal::CommitCluster(store, record));
        return ctx->SaveHandle(TryHandle("create", name, h.ToJson(), kKubernetesBackend));
      });
  if (!created.ok()) {
    record.state = internal::kClusterFailed;
    if (Status s = internal::CommitCluster(store, record); !s.ok()) Log(*ctx, s.message());
    internal::Fail(ctx,
                   "could not create Spark cluster '" + name + "': " + created.status().message(),
                   internal::IsRetryable(created.status()));
    return;
  }
  internal::ReplaceHandle(&record, created->ToJson());
  record.state = internal::kClusterReady;
  if (Status s = internal::CommitCluster(store, record); !s.ok()) {
    Result<bool> deleted =
        kube.Delete(created->namespace_name, created->parent, kKubeDeleteTimeout);
    record.state = deleted.ok() ? internal::kClusterFailed : internal::kClusterReady;
    internal::CommitCluster(store, record).IgnoreError();
    internal::Fail(
        ctx,
        "Spark cluster '" + name +
            "' became ready but could not be recorded as ready, so it was deleted: " + s.message(),
        /*retryable=*/true);
    return;
  }
  Log(*ctx, "Spark cluster '" + name + "' is ready at " + created->master_url + " (web UI " +
                created->ui_url +
                (created->ui_node_port ? ", node port " + std::to_string(created->ui_node_port)
                                       : std::string()) +
                ") after " + Seconds(services_->clock->Now() - started));
  ctx->Complete(internal::Succeeded(
      ClusterOutputs(*created), "Spark cluster '" + name + "' ready at " + created->master_url));
}

void SparkClusterTaskType::ScaleOnKubernetes(const std::shared_ptr<TaskContext>& ctx,
                                             std::stop_token stop, const Plan& plan,
                                             store::ClusterRecord record) {
  const std::string& name = plan.name;
  if (record.state != internal::kClusterReady) {
    internal::Fail(
        ctx,
        "Spark cluster '" + name + "' is " + record.state + ", not ready, so it cannot be scaled",
        /*retryable=*/record.state == internal::kClusterCreating);
    return;
  }
  Result<k8s::KubeClusterHandle> handle = k8s::KubeClusterHandle::FromJson(record.handle);
  if (!handle.ok()) {
    internal::Fail(ctx,
                   "Spark cluster '" + name + "': its recorded handle is unreadable (" +
                       handle.status().message() + ")",
                   /*retryable=*/false);
    return;
  }
  Result<k8s::KubeClient*> client = Kube();
  if (!client.ok()) {
    internal::Fail(ctx,
                   "could not scale Spark cluster '" + name + "': " + client.status().message(),
                   /*retryable=*/false);
    return;
  }
  if (Status s = ctx->SaveHandle(TryHandle("scale", name, record.handle, kKubernetesBackend));
      !s.ok()) {
    internal::Fail(ctx, "could not record the try's handle, so nothing was changed: " + s.message(),
                   /*retryable=*/true);
    return;
  }
  Log(*ctx, "scaling Spark cluster '" + name + "' from " + Plural(handle->workers, "worker") +
                " to " + std::to_string(plan.workers));
  k8s::KubeClusterBackendOptions options;
  options.logger = services_->logger;
  k8s::KubernetesClusterBackend kube(*client, options);
  Result<k8s::KubeClusterHandle> scaled =
      kube.Scale(*handle, plan.workers, plan.ready_timeout, stop);
  if (!scaled.ok()) {
    internal::Fail(ctx,
                   "could not scale Spark cluster '" + name + "': " + scaled.status().message(),
                   internal::IsRetryable(scaled.status()));
    return;
  }
  internal::ReplaceHandle(&record, scaled->ToJson());
  if (Status s = internal::CommitCluster(*services_->store, record); !s.ok()) {
    Log(*ctx, s.message());
  }
  Log(*ctx, "Spark cluster '" + name + "' has " + Plural(plan.workers, "worker"));
  ctx->Complete(internal::Succeeded(ClusterOutputs(*scaled), "Spark cluster '" + name + "' has " +
                                                                 Plural(plan.workers, "worker")));
}

}  // namespace sp::operators
