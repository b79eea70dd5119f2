// SparkClusterTaskType; see spark_cluster_task.h.
#include "operators/spark_cluster_task.h"

#include <cctype>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <utility>

#include "clusters/kubernetes_backend.h"
#include "common/nearest_name.h"
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

using clusters::kKubernetesBackend;
using clusters::kLocalBackend;

// The try's handle: which action on which cluster, and the cluster's own handle under the
// backend's name.
nlohmann::json TryHandle(const std::string& action, const std::string& name,
                         const nlohmann::json& cluster, const std::string& backend) {
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
  std::optional<Millis> max_age;  // nullopt: the configured default
  bool no_max_age = false;        // max_age: none
  Millis idle_timeout{0};
  // kubernetes only
  clusters::KubernetesOptions kube;            // image "" = RuntimeConfig::spark_image
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
    if (auto b = r.Choice("backend", {kLocalBackend, kKubernetesBackend})) {
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
    if (r.Has("max_age") && fields["max_age"] == "none") {
      p.no_max_age = true;
    } else if (auto t = r.Duration("max_age")) {
      p.max_age = *t;
    }
    if (auto t = r.Duration("idle_timeout")) p.idle_timeout = *t;
    for (const char* key : {"max_age", "idle_timeout"}) {
      if (r.Has(key) && p.action != "create" && !r.Deferred("action")) {
        r.Problem(key, std::string("'") + key + "' applies to action create only");
      }
    }
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
    if (p->backend == kLocalBackend) {
      r.Problem(p->kubernetes_fields[0], "'" + p->kubernetes_fields[0] +
                                             "' applies to the kubernetes backend only, and "
                                             "this task says backend: local");
    }
    if (auto v = r.String("image")) p->kube.image = *v;
    if (auto v = r.Choice("image_pull_policy", {"IfNotPresent", "Always", "Never"})) {
      p->kube.image_pull_policy = *v;
    }
    if (auto v = r.Int("master_cores", 1, 1024)) p->kube.master_cores = static_cast<int>(*v);
    if (auto m = r.String("master_memory")) {
      if (!spark::IsValidMemorySize(*m)) {
        r.Problem("master_memory",
                  "expected a JVM memory size such as 1g or 1536m; got '" + *m + "'");
      }
      p->kube.master_memory = *m;
    }
    if (auto v = r.StringMap("node_selector")) p->kube.node_selector = *v;
    if (r.Has("tolerations") && !r.Deferred("tolerations")) {
      const nlohmann::json& t = fields["tolerations"];
      if (t.is_array()) {
        p->kube.tolerations = t;
      } else {
        r.Problem("tolerations",
                  "expected a list of tolerations (mappings with key, operator, "
                  "value, effect, tolerationSeconds); got " +
                      internal::Describe(t));
      }
    }
    if (auto v = r.String("worker_scratch")) p->kube.worker_scratch = *v;
    if (auto v = ReadBool(r, fields, "authenticate")) p->kube.authenticate = *v;
    if (auto v = ReadBool(r, fields, "master_rest")) p->kube.master_rest = *v;
    if (r.Has("ui_node_port") && !r.Deferred("ui_node_port")) {
      const nlohmann::json& v = fields["ui_node_port"];
      if (v.is_boolean() || v == "true" || v == "false") {
        p->kube.ui_node_port = v.is_boolean() ? v.get<bool>() : v == "true";
      } else if (auto port = r.Int("ui_node_port", 30000, 32767)) {
        p->kube.ui_node_port = true;
        p->kube.ui_node_port_number = static_cast<int>(*port);
      }
    }
    // What only the object builders check (tolerations, node selector labels, images); before
    // rendering, templated values are left for Start.
    if (r.ok()) {
      clusters::ClusterRequest request = p->Request({}, Millis(0));
      if (r.phase() == FieldPhase::kUnrendered) {
        for (auto* m :
             {&request.master_conf, &request.worker_conf, &request.kubernetes.node_selector}) {
          std::erase_if(*m, [](const auto& kv) { return internal::IsTemplated(kv.second); });
        }
        if (internal::IsTemplated(request.kubernetes.image)) request.kubernetes.image.clear();
        if (internal::IsTemplated(request.kubernetes.worker_scratch)) {
          request.kubernetes.worker_scratch.clear();
        }
      }
      if (request.name.empty()) request.name = "cluster";
      k8s::SparkClusterSpec spec = clusters::KubeSpec(request, "default", {});
      if (Status s = k8s::ValidateSparkClusterSpec(spec); !s.ok()) {
        const std::string& m = s.message();
        size_t end = m.find_first_of(".:[");
        std::string key = m.substr(0, end);
        r.Problem(r.Has(key) ? key : "backend", m);
      }
    }
  }

  // The request of this plan; the deadline counts from `now` (max_age, or `default_max_age`
  // when the task gives none; 0: no deadline).
  clusters::ClusterRequest Request(Time now, Millis default_max_age) const {
    clusters::ClusterRequest q;
    q.name = name;
    q.workers = workers;
    q.worker_cores = worker_cores;
    q.worker_memory = worker_memory;
    q.master_conf = master_conf;
    q.worker_conf = worker_conf;
    q.ready_timeout = ready_timeout;
    Millis age = no_max_age ? Millis(0) : max_age.value_or(default_max_age);
    if (age.count() > 0) q.lifetime.deadline = now + age;
    q.lifetime.idle_timeout = idle_timeout;
    q.kubernetes_fields = kubernetes_fields;
    q.kubernetes = kube;
    return q;
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

SparkClusterTaskType::SparkClusterTaskType(const Services* services)
    : services_(services),
      backends_(internal::BackendsConfigOf(services->config), services->processes, services->clock,
                services->logger) {
  if (services->config.cluster_pools.empty() || services->store == nullptr) return;
  // Pooled clusters are ad-hoc records owned by this process (run 0, the pool in the handle):
  // if it dies, its guard and the next server's reaper delete them.
  store::Store* store = services->store;
  const Clock* clock = services->clock;
  backends_.local().StartPools(
      services->config.cluster_pools,
      [store, clock](const std::string& pool, const std::string& name, const nlohmann::json& h,
                     std::string_view state) -> Status {
        Result<std::optional<store::ClusterRecord>> existing =
            internal::FindClusterRecord(*store, name);
        RETURN_IF_ERROR(existing.status());
        store::ClusterRecord r;
        if (*existing) {
          r = **existing;
        } else {
          r.name = name;
          r.backend = kLocalBackend;
          r.created_at = clock->Now();
          r.handle = nlohmann::json::object();
        }
        if (!h.empty()) r.handle = h;
        r.handle[internal::kPoolKey] = pool;
        r.handle = internal::WithOwner(r.handle);
        r.state = std::string(state);
        if (state == internal::kClusterDeleted) r.deleted_at = clock->Now();
        return internal::CommitCluster(*store, r);
      });
}

SparkClusterTaskType::~SparkClusterTaskType() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [ctx, op] : ops_) op->stop.request_stop();
  }
  threads_.WaitIdle();
  backends_.local().StopPools();
  // The server is going away, and its process supervisor with the daemons (they are its
  // children). Stop them here, in order, and say so in their records: a run that goes on after
  // a restart then learns that its cluster is gone instead of finding it "ready".
  for (auto& [name, stopped] : backends_.local().StopAll()) {
    if (services_->store != nullptr && stopped.ok()) {
      Result<std::optional<store::ClusterRecord>> record =
          internal::FindClusterRecord(*services_->store, name);
      if (record.ok() && *record) {
        (*record)->state = internal::kClusterFailed;
        internal::CommitCluster(*services_->store, **record).IgnoreError();
      }
    }
    if (services_->logger != nullptr) {
      services_->logger->Info("clusters", "stopped Spark cluster '" + name +
                                              "' as the server stops" +
                                              (stopped.ok() ? "" : ": " + stopped.message()));
    }
  }
}

std::vector<std::string> SparkClusterTaskType::FieldNames() const {
  return {"action",        "name",          "cluster_from", "workers",           "worker_cores",
          "worker_memory", "master_conf",   "worker_conf",  "backend",           "ready_timeout",
          "max_age",       "idle_timeout",  "image",        "image_pull_policy", "master_cores",
          "master_memory", "node_selector", "tolerations",  "authenticate",      "master_rest",
          "ui_node_port",  "worker_scratch"};
}

void SparkClusterTaskType::Validate(const dag::TaskSpec& spec,
                                    std::vector<dag::DagError>* errors) const {
  FieldReader r(spec.fields, FieldPhase::kUnrendered);
  Plan::Read(r, spec.fields);
  internal::AppendDagErrors(spec, r.problems(), errors);
}

std::vector<std::string> SparkClusterTaskType::LiveClusters() const {
  return backends_.local().LiveClusters();
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

void SparkClusterTaskType::Start(std::shared_ptr<TaskContext> ctx) {
  FieldReader r(ctx->fields(), FieldPhase::kRendered);
  Plan plan = Plan::Read(r, ctx->fields());
  if (!r.ok()) {
    internal::Fail(ctx, "invalid spark_cluster task: " + r.FirstProblem(), /*retryable=*/false);
    return;
  }
  if (plan.name.empty()) plan.name = DefaultClusterName(ctx->dag_id(), ctx->run_key());
  if (plan.backend.empty()) plan.backend = services_->config.default_cluster_backend;
  if (Result<clusters::ClusterBackend*> b = backends_.Get(plan.backend); !b.ok()) {
    internal::Fail(ctx, b.status().message() + " (the configured default)", /*retryable=*/false);
    return;
  }
  if (plan.backend == kLocalBackend && plan.action == "create" && !plan.kubernetes_fields.empty()) {
    internal::Fail(ctx,
                   "invalid spark_cluster task: " + plan.kubernetes_fields[0] +
                       ": applies to the kubernetes backend only, and this cluster's backend is "
                       "local (the configured default)",
                   /*retryable=*/false);
    return;
  }
  if (services_->store == nullptr || services_->clock == nullptr) {
    internal::Fail(ctx, "the server has no store or clock for clusters", /*retryable=*/false);
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

// How a create describes the cluster it makes, from the request and the planned handle.
static std::string Describe(const std::string& backend, const clusters::ClusterRequest& q,
                            const nlohmann::json& planned) {
  std::string shape = Plural(q.workers, "worker") + " with " + Plural(q.worker_cores, "core") +
                      " and " + q.worker_memory + " each";
  std::string lifetime;
  if (q.lifetime.deadline) lifetime += ", deleted at " + FormatTime(*q.lifetime.deadline);
  if (q.lifetime.idle_timeout.count() > 0) {
    lifetime += ", or after " + Seconds(q.lifetime.idle_timeout) + " without an application";
  }
  if (backend == kLocalBackend) {
    return "(backend local, " + shape + lifetime + ") in " + planned.value("dir", "");
  }
  return "(backend kubernetes, namespace " + planned.value("namespace", "") + ", image " +
         planned.value("image", "") + ", " + shape +
         (q.kubernetes.authenticate ? ", authenticated" : "") + lifetime + ")";
}

void SparkClusterTaskType::Create(const std::shared_ptr<TaskContext>& ctx,
                                  const std::shared_ptr<Op>& op, const Plan& plan) {
  const std::string& name = plan.name;
  const std::string& backend_name = plan.backend;
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
  if (*existing && internal::Abandoned(**existing)) {
    Log(*ctx, "Spark cluster '" + name + "' was left " + (*existing)->state +
                  " by a command that is gone; tearing down what it made");
  } else if (*existing && internal::MayBeRunning(**existing)) {
    const store::ClusterRecord& r = **existing;
    internal::Fail(ctx,
                   "Spark cluster '" + name + "' already exists (state " + r.state +
                       ", created by run " + std::to_string(r.run_id) +
                       "); delete it first (a spark_cluster task with action: delete) or give "
                       "another name",
                   /*retryable=*/false);
    return;
  }
  if (*existing) {
    // A failed or deleted cluster of this name: make sure nothing of it runs, and clear its dir
    // (a local cluster refuses an existing one).
    Status cleared = internal::TearDown(backends_, **existing, /*keep_logs=*/false);
    if (!cleared.ok()) {
      internal::Fail(ctx,
                     "could not clear what is left of the previous cluster '" + name +
                         "': " + cleared.message(),
                     /*retryable=*/true);
      return;
    }
  }

  clusters::ClusterBackend& backend = **backends_.Get(backend_name);
  clusters::ClusterRequest request =
      plan.Request(services_->clock->Now(), services_->config.cluster_max_age);
  request.dag_id = ctx->dag_id();
  request.run_key = ctx->run_key();
  if (backend_name == kLocalBackend) {
    if (std::optional<clusters::TakenCluster> taken = backends_.local().Take(request)) {
      TakeFromPool(ctx, name, *taken);
      return;
    }
  }
  Result<nlohmann::json> planned = backend.Plan(request);
  if (!planned.ok()) {
    const Status& s = planned.status();
    internal::Fail(ctx,
                   (s.code() == StatusCode::kInvalidArgument
                        ? "invalid spark_cluster task: "
                        : "could not create Spark cluster '" + name + "': ") +
                       s.message(),
                   /*retryable=*/false);
    return;
  }

  // The record and the try's handle, before anything starts.
  std::mutex record_mu;
  store::ClusterRecord record;
  record.name = name;
  record.backend = backend_name;
  record.run_id = ctx->run_key();
  record.state = internal::kClusterCreating;
  record.handle = internal::WithCreator(*planned, ctx->task_id());
  if (ctx->run_key() == 0) record.handle = internal::WithOwner(record.handle);
  record.created_at = services_->clock->Now();
  if (Status s = internal::CommitCluster(store, record); !s.ok()) {
    internal::Fail(ctx, "could not record the cluster, so it was not started: " + s.message(),
                   /*retryable=*/true);
    return;
  }
  if (Status s = ctx->SaveHandle(TryHandle("create", name, *planned, backend_name)); !s.ok()) {
    record.state = internal::kClusterFailed;
    internal::CommitCluster(store, record).IgnoreError();
    internal::Fail(
        ctx, "could not record the try's handle, so the cluster was not started: " + s.message(),
        /*retryable=*/true);
    return;
  }
  Log(*ctx, "creating Spark cluster '" + name + "' " + Describe(backend_name, request, *planned));
  if (request.kubernetes.ui_node_port) {
    Log(*ctx,
        "warning: ui_node_port publishes the Spark master's web UI on every node without "
        "authentication: anyone who can reach a node sees the cluster's applications and "
        "their configuration; leave it off where the nodes are reachable by others (kubectl "
        "port-forward reaches the UI without it)");
  }
  const Time started = services_->clock->Now();
  auto durable = [&](const nlohmann::json& h) -> Status {
    store::ClusterRecord copy;
    {
      std::lock_guard<std::mutex> lock(record_mu);
      internal::ReplaceHandle(&record, h);
      copy = record;
    }
    RETURN_IF_ERROR(internal::CommitCluster(store, copy));
    return ctx->SaveHandle(TryHandle("create", name, h, backend_name));
  };
  Result<nlohmann::json> created = backend.Create(request, stop, durable);
  std::lock_guard<std::mutex> lock(record_mu);
  if (!created.ok()) {
    record.state = internal::kClusterFailed;
    if (Status s = internal::CommitCluster(store, record); !s.ok()) Log(*ctx, s.message());
    internal::Fail(ctx,
                   "could not create Spark cluster '" + name + "': " + created.status().message(),
                   internal::IsRetryable(created.status()));
    return;
  }
  internal::ReplaceHandle(&record, *created);
  record.state = internal::kClusterReady;
  if (Status s = internal::CommitCluster(store, record); !s.ok()) {
    Status stopped = backend.Delete(name, *created, /*keep_logs=*/true);
    record.state = stopped.ok() ? internal::kClusterFailed : internal::kClusterReady;
    internal::CommitCluster(store, record).IgnoreError();
    internal::Fail(ctx,
                   "Spark cluster '" + name +
                       "' became ready but could not be recorded as ready, so it was " +
                       (stopped.ok() ? "deleted" : "left running (" + stopped.message() + ")") +
                       ": " + s.message(),
                   /*retryable=*/true);
    return;
  }
  nlohmann::json outputs = backend.Outputs(*created);
  outputs["cluster_name"] = name;
  std::string url = outputs.value("master_url", "");
  std::string node_port =
      outputs.contains("ui_node_port") ? ", node port " + outputs["ui_node_port"].dump() : "";
  Log(*ctx, "Spark cluster '" + name + "' is ready at " + url + " (web UI " +
                outputs.value("master_ui_url", "") + node_port + ") after " +
                Seconds(services_->clock->Now() - started));
  ctx->Complete(
      internal::Succeeded(std::move(outputs), "Spark cluster '" + name + "' ready at " + url));
}

void SparkClusterTaskType::TakeFromPool(const std::shared_ptr<TaskContext>& ctx,
                                        const std::string& name,
                                        const clusters::TakenCluster& taken) {
  store::Store& store = *services_->store;
  // The run's record replaces the pool's (the same daemons), before the try's outputs name it.
  store::ClusterRecord record;
  record.name = name;
  record.backend = kLocalBackend;
  record.run_id = ctx->run_key();
  record.state = internal::kClusterReady;
  record.handle = internal::WithCreator(taken.handle, ctx->task_id());
  if (ctx->run_key() == 0) record.handle = internal::WithOwner(record.handle);
  record.created_at = services_->clock->Now();
  Status recorded = internal::CommitCluster(store, record);
  if (recorded.ok()) {
    recorded = ctx->SaveHandle(TryHandle("create", name, taken.handle, kLocalBackend));
  }
  Result<std::optional<store::ClusterRecord>> pooled =
      internal::FindClusterRecord(store, taken.pooled_name);
  if (pooled.ok() && *pooled) {
    store::ClusterRecord p = **pooled;
    p.state = internal::kClusterDeleted;
    p.deleted_at = services_->clock->Now();
    internal::CommitCluster(store, p).IgnoreError();
  }
  if (!recorded.ok()) {
    Status stopped = backends_.local().Delete(name, taken.handle, /*keep_logs=*/true);
    record.state = stopped.ok() ? internal::kClusterFailed : internal::kClusterReady;
    internal::CommitCluster(store, record).IgnoreError();
    internal::Fail(ctx,
                   "could not record the cluster taken from warm pool '" + taken.pool +
                       "', so it was deleted: " + recorded.message(),
                   /*retryable=*/true);
    return;
  }
  nlohmann::json outputs = backends_.local().Outputs(taken.handle);
  outputs["cluster_name"] = name;
  std::string url = outputs.value("master_url", "");
  Log(*ctx, "took Spark cluster '" + taken.pooled_name + "' from warm pool '" + taken.pool +
                "' as '" + name + "': ready at " + url + " (web UI " +
                outputs.value("master_ui_url", "") + ")");
  ctx->Complete(internal::Succeeded(
      std::move(outputs),
      "Spark cluster '" + name + "' ready at " + url + " (warm pool '" + taken.pool + "')"));
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
  Result<std::optional<store::ClusterRecord>> existing = internal::FindClusterRecord(store, name);
  if (!existing.ok()) {
    internal::Fail(ctx, "could not read the cluster records: " + existing.status().message(),
                   /*retryable=*/true);
    return;
  }
  if (!*existing || (*existing)->state == internal::kClusterDeleted) {
    std::string near = NearestName(name, LiveClusters());
    internal::Fail(ctx,
                   "no running Spark cluster named '" + name + "' to scale" +
                       (near.empty() ? "" : "; did you mean '" + near + "'?"),
                   /*retryable=*/false);
    return;
  }
  store::ClusterRecord record = **existing;
  if (record.state != internal::kClusterReady) {
    internal::Fail(
        ctx,
        "Spark cluster '" + name + "' is " + record.state + ", not ready, so it cannot be scaled",
        /*retryable=*/record.state == internal::kClusterCreating);
    return;
  }
  Result<clusters::ClusterBackend*> backend = backends_.Get(record.backend);
  if (!backend.ok()) {
    internal::Fail(ctx, "Spark cluster '" + name + "': " + backend.status().message(),
                   /*retryable=*/false);
    return;
  }
  if (Status s = ctx->SaveHandle(TryHandle("scale", name, record.handle, record.backend));
      !s.ok()) {
    internal::Fail(ctx, "could not record the try's handle, so nothing was changed: " + s.message(),
                   /*retryable=*/true);
    return;
  }
  nlohmann::json before = (*backend)->Outputs(record.handle);
  Log(*ctx, "scaling Spark cluster '" + name + "' from " +
                Plural(before.value("workers", 0), "worker") + " to " +
                std::to_string(plan.workers));
  auto durable = [&](const nlohmann::json& h) -> Status {
    internal::ReplaceHandle(&record, h);
    RETURN_IF_ERROR(internal::CommitCluster(store, record));
    return ctx->SaveHandle(TryHandle("scale", name, h, record.backend));
  };
  Result<nlohmann::json> scaled =
      (*backend)->Scale(name, record.handle, plan.workers, plan.ready_timeout, stop, durable);
  if (!scaled.ok()) {
    internal::Fail(ctx,
                   "could not scale Spark cluster '" + name + "': " + scaled.status().message(),
                   internal::IsRetryable(scaled.status()));
    return;
  }
  internal::ReplaceHandle(&record, *scaled);
  if (Status s = internal::CommitCluster(store, record); !s.ok()) Log(*ctx, s.message());
  Log(*ctx, "Spark cluster '" + name + "' has " + Plural(plan.workers, "worker"));
  ctx->Complete(
      internal::Succeeded((*backend)->Outputs(*scaled),
                          "Spark cluster '" + name + "' has " + Plural(plan.workers, "worker")));
}

void SparkClusterTaskType::Delete(const std::shared_ptr<TaskContext>& ctx, const std::string& name,
                                  const std::string& backend) {
  if (Status s = ctx->SaveHandle(
          TryHandle("delete", name, nullptr, backend.empty() ? kLocalBackend : backend));
      !s.ok()) {
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
                                         const std::string& name, const std::string& backend_name,
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

  Result<std::optional<store::ClusterRecord>> existing = internal::FindClusterRecord(store, name);
  if (!existing.ok()) {
    return UnavailableError("could not read the cluster records: " + existing.status().message());
  }
  if (!*existing) {
    // No record (a lost store, another server's cluster): what the backend finds by name.
    ASSIGN_OR_RETURN(clusters::ClusterBackend * backend, backends_.Get(backend_name));
    Result<bool> deleted = backend->DeleteUnrecorded(name);
    if (!deleted.ok()) {
      return Status(deleted.status().code(),
                    "could not delete Spark cluster '" + name + "': " + deleted.status().message());
    }
    Log(*ctx, *deleted ? "deleted Spark cluster '" + name + "' (it had no record)"
                       : "no Spark cluster named '" + name + "'; nothing to delete");
    *what = *deleted ? "deleted Spark cluster '" + name + "' (it had no record)"
                     : "no cluster '" + name + "' to delete";
    return OkStatus();
  }
  store::ClusterRecord record = **existing;
  if (record.state == internal::kClusterDeleted) {
    Log(*ctx, "Spark cluster '" + name + "' was already deleted");
    *what = "cluster '" + name + "' already deleted";
    return OkStatus();
  }
  const std::string was = record.state;
  record.state = internal::kClusterDeleting;
  // An ad-hoc cluster's delete is owned by whoever deletes it: if that process dies half-way,
  // the record is abandoned and the reaper finishes the delete.
  if (record.run_id == 0) record.handle = internal::WithOwner(record.handle);
  if (Status s = internal::CommitCluster(store, record); !s.ok()) {
    return UnavailableError("could not mark Spark cluster '" + name +
                            "' as deleting: " + s.message());
  }
  Log(*ctx, "deleting Spark cluster '" + name + "'" +
                (was == internal::kClusterFailed ? " (its create failed; tearing down what it "
                                                   "recorded)"
                                                 : ""));
  if (Status stopped = internal::TearDown(backends_, record, /*keep_logs=*/true); !stopped.ok()) {
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
  if (backend.empty()) backend = kLocalBackend;
  if (try_handle.is_object() && try_handle.contains(backend) && !try_handle[backend].is_null()) {
    store::ClusterRecord from_try;
    from_try.name = name;
    from_try.backend = backend;
    from_try.handle = try_handle[backend];
    bool same = own_record && (*existing)->backend == backend && backend == kKubernetesBackend &&
                (*existing)->handle.value("parent", "") == from_try.handle.value("parent", "");
    if (!same) targets.push_back(from_try);
  }
  Status torn;
  for (const store::ClusterRecord& t : targets) {
    Status s = internal::TearDown(backends_, t, /*keep_logs=*/true);
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

}  // namespace sp::operators
