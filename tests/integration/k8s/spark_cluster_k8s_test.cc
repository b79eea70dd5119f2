// The kubernetes backend of spark_cluster against a real control plane (k8s_testenv.h: etcd,
// kube-apiserver, controller-manager, scheduler, kwok fake nodes): create → ready, scale up and
// down, delete until every object is gone, a worker that can never be scheduled (not-ready
// error naming the cause, partial cluster rolled back), the orphan reaper after a "killed"
// scheduler, readiness across watch reconnects, the task type end to end (authenticate, the
// driver's secret file), a measurement of one lifecycle (create-to-ready, delete-to-gone,
// requests), and `sparkplane cluster sweep` deleting expired clusters with no scheduler.
//
// What these tests can and cannot show: kwok plays the kubelet, so no container runs, no image
// is pulled, and kwok marks every scheduled pod Running and Ready regardless of its readiness
// probes (there is no kubelet to run them). "Ready" here therefore means: Kubernetes scheduled
// the pods Sparkplane asked for and the Deployment controller counts them available. The tests
// check what Sparkplane asks of Kubernetes (objects, owners, labels, probes) and how it reacts
// to what Kubernetes reports (status, watches, events, garbage collection); Spark itself inside
// the pods is not exercised.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <thread>

#include "cli/cluster_commands.h"
#include "clusters/kubernetes_backend.h"
#include "clusters/sweep.h"
#include "executor/process.h"
#include "integration/harness.h"
#include "integration/k8s/k8s_testenv.h"
#include "k8s/client.h"
#include "k8s/internal/text.h"
#include "k8s/kube_config.h"
#include "k8s/kubernetes_cluster_backend.h"
#include "k8s/spark_cluster_objects.h"
#include "operators/cluster_reaper.h"
#include "operators/recording_task_context.h"
#include "operators/spark_cluster_task.h"
#include "operators/spark_submit_task.h"
#include "store/store.h"

namespace sp::k8s {
namespace {

using nlohmann::json;
using operators::testing::ContextIdentity;
using operators::testing::RecordingTaskContext;
using operators::testing::ScratchDir;
using operators::testing::StatusIs;
using sp::testing::Kube;
using sp::testing::KubeResponse;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
using Clock = std::chrono::steady_clock;

long MillisSince(Clock::time_point t0) {
  return static_cast<long>(
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count());
}

class SparkClusterK8sTest : public sp::testing::K8sTest {
 protected:
  // The test's namespace with the event-log volume every cluster pod mounts (the claim
  // sparkplane-spark-history, Bound: the scheduler refuses pods whose claim is missing or
  // unbound).
  const std::string& ClusterNamespace() {
    const std::string& ns = Namespace();
    if (history_ready_) return ns;
    pvs_.push_back(sp::testing::BoundClaim(cluster(), ns, kDefaultHistoryPvc));
    history_ready_ = true;
    return ns;
  }

  void TearDown() override {
    for (const std::string& pv : pvs_) {
      Kube(cluster(), "DELETE", "/api/v1/persistentvolumes/" + pv);
    }
    sp::testing::K8sTest::TearDown();
  }

  std::unique_ptr<KubeClient> Client(const std::string& ns) {
    KubeConfigOptions options;
    options.namespace_override = ns;
    Result<KubeConfig> config = LoadKubeConfig(cluster().kubeconfig, options);
    EXPECT_TRUE(config.ok()) << config.status();
    if (!config.ok()) return nullptr;
    return std::make_unique<KubeClient>(*config, clock_);
  }

  SparkClusterSpec Spec(const std::string& ns, const std::string& name, int workers) {
    SparkClusterSpec spec;
    spec.name = name;
    spec.namespace_name = ns;
    spec.workers = workers;
    spec.dag_id = "k8s_test";
    spec.run_key = 1;
    return spec;
  }

  // Items of a collection of `ns` with `selector` (curl as the admin, independent of the client).
  std::vector<json> Items(const std::string& ns, const std::string& group_path,
                          const std::string& plural, const std::string& selector) {
    KubeResponse r = Kube(cluster(), "GET",
                          group_path + "/namespaces/" + ns + "/" + plural +
                              "?labelSelector=" + EscapeQueryValue(selector));
    EXPECT_EQ(r.status, 200) << r.body;
    json body = r.Json();
    std::vector<json> out;
    if (body.is_object() && body["items"].is_array()) {
      for (const json& item : body["items"]) out.push_back(item);
    }
    return out;
  }

  // Every kind of object a cluster has, still present (terminating included).
  std::vector<std::string> Leftovers(const std::string& ns, const std::string& cluster_name) {
    std::string selector = ClusterSelector(SparkClusterNames::For(cluster_name));
    std::vector<std::string> left;
    struct Kind {
      const char* group_path;
      const char* plural;
    };
    for (Kind k : {Kind{"/api/v1", "configmaps"}, Kind{"/apis/apps/v1", "deployments"},
                   Kind{"/apis/apps/v1", "replicasets"}, Kind{"/api/v1", "pods"},
                   Kind{"/api/v1", "services"}, Kind{"/api/v1", "secrets"},
                   Kind{"/apis/networking.k8s.io/v1", "networkpolicies"}}) {
      for (const json& item : Items(ns, k.group_path, k.plural, selector)) {
        left.push_back(std::string(k.plural) + "/" + item["metadata"]["name"].get<std::string>());
      }
    }
    return left;
  }

  // Pods of the cluster that are not terminating, by component.
  int LivePods(const std::string& ns, const std::string& cluster_name, const std::string& component,
               bool* all_running_on_fake_nodes = nullptr) {
    std::string selector = ClusterSelector(SparkClusterNames::For(cluster_name)) + "," +
                           kComponentLabel + "=" + component;
    int n = 0;
    bool ok = true;
    for (const json& pod : Items(ns, "/api/v1", "pods", selector)) {
      if (pod["metadata"].contains("deletionTimestamp")) continue;
      ++n;
      ok &= pod["status"].value("phase", "") == "Running" &&
            pod["spec"].value("nodeName", "").rfind("kwok-node-", 0) == 0;
    }
    if (all_running_on_fake_nodes != nullptr) *all_running_on_fake_nodes = ok;
    return n;
  }

  RealClock clock_;
  bool history_ready_ = false;
  std::vector<std::string> pvs_;
};

TEST_F(SparkClusterK8sTest, CreateScaleAndDeleteUntilEverythingIsGone) {
  const std::string ns = ClusterNamespace();
  std::unique_ptr<KubeClient> client = Client(ns);
  KubernetesClusterBackend backend(client.get());
  SparkClusterSpec spec = Spec(ns, "life", 2);
  std::string uid_seen;
  Result<KubeClusterHandle> h =
      backend.Create(spec, Millis(60000), std::stop_token(), [&](const KubeClusterHandle& p) {
        uid_seen = p.parent_uid;
        return OkStatus();
      });
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_FALSE(uid_seen.empty());
  EXPECT_EQ(h->parent_uid, uid_seen);
  EXPECT_EQ(h->master_url, "spark://sparkplane-life-master." + ns + ".svc:7077");
  EXPECT_EQ(h->workers, 2);
  bool running = false;
  EXPECT_EQ(LivePods(ns, "life", "master", &running), 1);
  EXPECT_TRUE(running) << "master pod not Running on a kwok node";
  EXPECT_EQ(LivePods(ns, "life", "worker", &running), 2);
  EXPECT_TRUE(running) << "worker pods not Running on kwok nodes";

  // Every child is owned by the parent, so one foreground delete removes all.
  std::string selector = ClusterSelector(SparkClusterNames::For("life"));
  for (const auto& [group, plural] :
       {std::pair<std::string, std::string>{"/apis/apps/v1", "deployments"},
        {"/api/v1", "services"},
        {"/apis/networking.k8s.io/v1", "networkpolicies"}}) {
    std::vector<json> items = Items(ns, group, plural, selector);
    ASSERT_FALSE(items.empty()) << plural;
    for (const json& item : items) {
      const json& owner = item["metadata"]["ownerReferences"][0];
      EXPECT_EQ(owner["uid"], uid_seen) << plural;
      EXPECT_EQ(owner["blockOwnerDeletion"], true) << plural;
    }
  }

  Result<KubeClusterHandle> up = backend.Scale(*h, 4, Millis(60000), std::stop_token());
  ASSERT_TRUE(up.ok()) << up.status();
  EXPECT_EQ(up->workers, 4);
  // The parent's recorded spec says the new count (issue 15.3).
  KubeResponse parent =
      Kube(cluster(), "GET", "/api/v1/namespaces/" + ns + "/configmaps/" + h->parent);
  ASSERT_EQ(parent.status, 200) << parent.body;
  EXPECT_EQ(json::parse(parent.Json()["data"][kSpecKey].get<std::string>())["workers"], 4);
  EXPECT_EQ(LivePods(ns, "life", "worker", &running), 4);
  EXPECT_TRUE(running);
  Result<KubeClusterHandle> down = backend.Scale(*up, 1, Millis(60000), std::stop_token());
  ASSERT_TRUE(down.ok()) << down.status();
  // Rolled out includes "no old pod left": the scaled-away pods are gone, not just terminating.
  std::vector<json> workers =
      Items(ns, "/api/v1", "pods", selector + "," + kComponentLabel + "=worker");
  EXPECT_EQ(workers.size(), 1u);

  Result<bool> deleted = backend.Delete(ns, h->parent, Millis(60000));
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_TRUE(*deleted);
  EXPECT_THAT(Leftovers(ns, "life"), ::testing::IsEmpty());
  Result<bool> again = backend.Delete(ns, h->parent, Millis(60000));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_FALSE(*again);
}

TEST_F(SparkClusterK8sTest, AParentThatExistsIsAConflict) {
  const std::string ns = ClusterNamespace();
  std::unique_ptr<KubeClient> client = Client(ns);
  KubernetesClusterBackend backend(client.get());
  Result<KubeClusterHandle> h =
      backend.Create(Spec(ns, "twice", 0), Millis(60000), std::stop_token(), nullptr);
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_THAT(backend.Create(Spec(ns, "twice", 0), Millis(60000), std::stop_token(), nullptr),
              StatusIs(StatusCode::kAlreadyExists,
                       AllOf(HasSubstr("already has a Spark cluster named 'twice'"),
                             HasSubstr("created by run 1 of DAG 'k8s_test'"))));
  EXPECT_TRUE(backend.Delete(ns, h->parent, Millis(60000)).ok());
}

// Checked before anything is created, with the command that makes the claim (issue 15.1).
TEST_F(SparkClusterK8sTest, AMissingEventLogVolumeIsNamedBeforeAnythingIsCreated) {
  const std::string ns = ClusterNamespace();
  std::unique_ptr<KubeClient> client = Client(ns);
  KubernetesClusterBackend backend(client.get());
  SparkClusterSpec spec = Spec(ns, "no-volume", 1);
  spec.history_pvc = "no-such-claim";
  EXPECT_THAT(backend.Create(spec, Millis(60000), std::stop_token(), nullptr),
              StatusIs(StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("persistentvolumeclaim \"no-such-claim\" in namespace " +
                                       ns + " (the Spark event-log volume"),
                             HasSubstr("does not exist, so no cluster was created"),
                             HasSubstr("sparkplane deploy storage --namespace " + ns),
                             HasSubstr("spark_history_pvc: \"\""))));
  EXPECT_EQ(client->Stats().Count(Verb::kCreate), 0u) << client->Stats().ToString();
  EXPECT_THAT(Leftovers(ns, "no-volume"), ::testing::IsEmpty());
}

// Pods that can never be scheduled end the wait at once, with the scheduler's reason, instead
// of after the ready timeout (issue 15.1).
TEST_F(SparkClusterK8sTest, ANodeSelectorNoNodeMatchesFailsAtOnceAndRollsBack) {
  const std::string ns = ClusterNamespace();
  std::unique_ptr<KubeClient> client = Client(ns);
  KubernetesClusterBackend backend(client.get());
  SparkClusterSpec spec = Spec(ns, "nowhere", 1);
  spec.node_selector = {{"disktype", "no-such-disk"}};
  auto t0 = Clock::now();
  EXPECT_THAT(backend.Create(spec, Millis(300000), std::stop_token(), nullptr),
              StatusIs(StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("the Spark cluster cannot become ready"),
                             HasSubstr("not scheduled (Unschedulable)"),
                             HasSubstr("didn't match Pod's node affinity/selector"),
                             HasSubstr("the partially created cluster was deleted"))));
  std::cerr << "impossible node selector reported after " << MillisSince(t0) << " ms\n";
  EXPECT_THAT(Leftovers(ns, "nowhere"), ::testing::IsEmpty());
}

TEST_F(SparkClusterK8sTest, ReadinessSurvivesWatchReconnects) {
  const std::string ns = ClusterNamespace();
  std::unique_ptr<KubeClient> client = Client(ns);
  KubeClusterBackendOptions options;
  options.watch_timeout_seconds = 1;  // the server ends each watch request after 1 s
  KubernetesClusterBackend backend(client.get(), options);
  SparkClusterSpec spec = Spec(ns, "slow", 1);
  spec.worker_cores = 1000;  // unschedulable until the test "fixes" it
  Result<KubeClusterHandle> h = InternalError("not run");
  std::thread create([&] { h = backend.Create(spec, Millis(60000), std::stop_token(), nullptr); });
  // Wait across a few watch reconnects, then lower the request so the pods schedule.
  std::this_thread::sleep_for(std::chrono::milliseconds(3500));
  std::string worker = SparkClusterNames::For("slow").worker;
  KubeResponse fixed =
      Kube(cluster(), "PATCH", "/apis/apps/v1/namespaces/" + ns + "/deployments/" + worker,
           R"({"spec":{"template":{"spec":{"containers":[{"name":"spark-worker",)"
           R"("resources":{"requests":{"cpu":"1"},"limits":{"cpu":"1"}}}]}}}})",
           "application/strategic-merge-patch+json");
  EXPECT_EQ(fixed.status, 200) << fixed.body;
  create.join();
  ASSERT_TRUE(h.ok()) << h.status();
  KubeRequestStats stats = client->Stats();
  EXPECT_GE(stats.Count(Verb::kWatch), 3u) << stats.ToString();
  std::cerr << "readiness across reconnects: " << stats.ToString() << "\n";
  EXPECT_TRUE(backend.Delete(ns, h->parent, Millis(60000)).ok());
}

// One lifecycle, measured: create → ready → delete → gone, and the requests each step sent.
TEST_F(SparkClusterK8sTest, MeasuresOneClusterLifecycle) {
  const std::string ns = ClusterNamespace();
  std::unique_ptr<KubeClient> client = Client(ns);
  KubernetesClusterBackend backend(client.get());
  constexpr int kRuns = 5;
  std::vector<long> ready_ms, gone_ms;
  KubeRequestStats create_stats, delete_stats;
  for (int i = 0; i < kRuns; ++i) {
    client->ResetStats();
    SparkClusterSpec spec = Spec(ns, "measure-" + std::to_string(i), 2);
    auto t0 = Clock::now();
    Result<KubeClusterHandle> h = backend.Create(spec, Millis(60000), std::stop_token(), nullptr);
    ASSERT_TRUE(h.ok()) << h.status();
    ready_ms.push_back(MillisSince(t0));
    create_stats = client->Stats();
    client->ResetStats();
    auto t1 = Clock::now();
    Result<bool> deleted = backend.Delete(ns, h->parent, Millis(60000));
    ASSERT_TRUE(deleted.ok()) << deleted.status();
    gone_ms.push_back(MillisSince(t1));
    delete_stats = client->Stats();
    EXPECT_THAT(Leftovers(ns, spec.name), ::testing::IsEmpty());
  }
  std::sort(ready_ms.begin(), ready_ms.end());
  std::sort(gone_ms.begin(), gone_ms.end());
  std::cerr << "MEASURE spark_cluster_k8s runs=" << kRuns << " workers=2"
            << " create_to_ready_ms_median=" << ready_ms[kRuns / 2] << " min=" << ready_ms.front()
            << " max=" << ready_ms.back() << " delete_to_gone_ms_median=" << gone_ms[kRuns / 2]
            << " min=" << gone_ms.front() << " max=" << gone_ms.back() << "\n"
            << "MEASURE requests create+ready: " << create_stats.ToString()
            << " total=" << create_stats.Total() << "\n"
            << "MEASURE requests delete+gone: " << delete_stats.ToString()
            << " total=" << delete_stats.Total() << "\n";
  EXPECT_EQ(create_stats.retries, 0u);
}

// The task type end to end, with a store: spark_cluster create / scale / delete, and the
// behaviour that needs the API server (a never-ready worker, the reaper, the driver's secret).
class SparkClusterTaskK8sTest : public SparkClusterK8sTest {
 protected:
  using TaskResultOrNone = std::optional<operators::TaskResult>;

  void SetUp() override {
    SparkClusterK8sTest::SetUp();
    Result<std::unique_ptr<store::Store>> s = store::OpenSqliteStore(":memory:");
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
    services_.store = store_.get();
    services_.clock = &clock_;
    services_.processes = &processes_;
    services_.config.data_dir = dir_.path();
    services_.config.default_cluster_backend = "kubernetes";
    services_.config.kubeconfig = cluster().kubeconfig;
    services_.config.kube_namespace = ClusterNamespace();
    type_ = std::make_unique<operators::SparkClusterTaskType>(&services_);
  }

  TaskResultOrNone Run(json fields, int64_t run_key = 7) {
    ContextIdentity id;
    id.dag_id = "k8s_dag";
    id.run_key = run_key;
    id.task_id = "cluster";
    id.type = "spark_cluster";
    auto ctx = std::make_shared<RecordingTaskContext>(&services_, std::move(fields),
                                                      dir_.File("task.log"), id);
    type_->Start(ctx);
    return ctx->WaitForResult(std::chrono::seconds(120));
  }

  std::optional<store::ClusterRecord> Record(const std::string& name) {
    Result<std::vector<store::ClusterRecord>> all = store_->ListClusters(true);
    EXPECT_TRUE(all.ok());
    for (const store::ClusterRecord& r : *all) {
      if (r.name == name) return r;
    }
    return std::nullopt;
  }

  ScratchDir dir_;
  executor::ProcessSupervisor processes_;
  std::unique_ptr<store::Store> store_;
  operators::Services services_;
  std::unique_ptr<operators::SparkClusterTaskType> type_;
};

TEST_F(SparkClusterTaskK8sTest, CreateScaleDeleteWithAuthentication) {
  const std::string ns = ClusterNamespace();
  auto created = Run({{"name", "Auth_Cluster"}, {"workers", 1}, {"authenticate", true}});
  ASSERT_TRUE(created.has_value());
  ASSERT_TRUE(created->success) << created->message;
  SparkClusterNames names = SparkClusterNames::For("Auth_Cluster");
  EXPECT_EQ(created->outputs["master_url"], "spark://" + names.master + "." + ns + ".svc:7077");
  EXPECT_EQ(created->outputs["namespace"], ns);
  std::optional<store::ClusterRecord> record = Record("Auth_Cluster");
  ASSERT_TRUE(record.has_value());
  EXPECT_EQ(record->backend, "kubernetes");
  EXPECT_EQ(record->state, "ready");
  EXPECT_EQ(record->run_id, 7);
  EXPECT_FALSE(record->handle.value("parent_uid", "").empty());
  EXPECT_EQ(record->handle["auth_secret"], names.auth_secret);
  // The secret exists, is owned by the parent, and is nowhere in the record.
  KubeResponse secret =
      Kube(cluster(), "GET", "/api/v1/namespaces/" + ns + "/secrets/" + names.auth_secret);
  ASSERT_EQ(secret.status, 200) << secret.body;
  std::string value =
      internal::Base64Decode(secret.Json()["data"]["secret"].get<std::string>()).value_or("");
  EXPECT_EQ(value.size(), 64u);
  EXPECT_THAT(record->handle.dump(), Not(HasSubstr(value)));

  // The driver gets the secret in a private properties file, never in argv or the log.
  services_.config.spark_home = dir_.File("spark");
  services_.config.pod_ip = "10.1.2.3";
  operators::testing::WriteScript(
      dir_.File("spark/bin/spark-submit"),
      "prev=''; for a in \"$@\"; do if [ \"$prev\" = --properties-file ]; then "
      "echo \"PROPS $(stat -c %a \"$a\") $(cat \"$a\" | tr '\\n' ' ')\"; fi; prev=$a; done\n"
      "echo \"ARGS $*\"\n");
  operators::testing::WriteFile(dir_.File("apps/job.py"), "print(1)\n");
  // A listening loopback port stands in for the master Service (nothing routes to Services
  // here): the record's master URL is pointed at it.
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ::listen(fd, 4);
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  std::string master = "spark://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  store::ClusterRecord pointed = *record;
  pointed.handle["master_url"] = master;
  store::Mutation m;
  m.clusters.push_back(pointed);
  ASSERT_TRUE(store_->Commit(m).ok());
  operators::SparkSubmitTaskType submit(&services_);
  ContextIdentity id;
  id.task_id = "submit";
  id.type = "spark_submit";
  std::string submit_log = dir_.File("submit.log");
  auto ctx = std::make_shared<RecordingTaskContext>(
      &services_, json{{"master", master}, {"application", "job.py"}}, submit_log, id);
  submit.Start(ctx);
  std::optional<operators::TaskResult> submitted = ctx->WaitForResult(std::chrono::seconds(60));
  ::close(fd);
  ASSERT_TRUE(submitted.has_value());
  EXPECT_TRUE(submitted->success) << submitted->message;
  std::string log = operators::testing::ReadFile(submit_log);
  // Every setting, the secret among them, is in the 0600 properties file, none in argv.
  EXPECT_THAT(log, HasSubstr("PROPS 600 "));
  for (const std::string& setting :
       {std::string("spark.authenticate=true"), "spark.authenticate.secret=" + value,
        std::string("spark.driver.host=10.1.2.3"), std::string("spark.driver.port=7078"),
        std::string("spark.blockManager.port=7079"),
        std::string("spark.driver.bindAddress=0.0.0.0")}) {
    EXPECT_THAT(log, HasSubstr(" " + setting + " ")) << setting;
  }
  size_t args = log.find("\nARGS ");
  ASSERT_NE(args, std::string::npos) << log;
  EXPECT_THAT(log.substr(args, log.find('\n', args + 1) - args), Not(HasSubstr("--conf")));
  // Only the PROPS line (written by the fake spark-submit itself) holds the secret.
  size_t first = log.find(value);
  EXPECT_EQ(log.find(value, first + 1), std::string::npos);
  ASSERT_TRUE(store_
                  ->Commit([&] {
                    store::Mutation back;
                    back.clusters.push_back(*record);
                    return back;
                  }())
                  .ok());

  auto scaled = Run({{"action", "scale"}, {"name", "Auth_Cluster"}, {"workers", 3}});
  ASSERT_TRUE(scaled.has_value());
  ASSERT_TRUE(scaled->success) << scaled->message;
  EXPECT_EQ(scaled->outputs["workers"], 3);
  EXPECT_EQ(LivePods(ns, "Auth_Cluster", "worker"), 3);
  EXPECT_EQ(Record("Auth_Cluster")->handle["workers"], 3);

  auto deleted = Run({{"action", "delete"}, {"name", "Auth_Cluster"}});
  ASSERT_TRUE(deleted.has_value());
  ASSERT_TRUE(deleted->success) << deleted->message;
  EXPECT_EQ(Record("Auth_Cluster")->state, "deleted");
  EXPECT_THAT(Leftovers(ns, "Auth_Cluster"), ::testing::IsEmpty());
}

TEST_F(SparkClusterTaskK8sTest, AWorkerThatCannotBeScheduledSaysWhyAndIsRolledBack) {
  const std::string ns = ClusterNamespace();
  auto r =
      Run({{"name", "greedy"}, {"workers", 1}, {"worker_cores", 1000}, {"ready_timeout", "4s"}});
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(r->success);
  EXPECT_TRUE(r->retryable);
  EXPECT_THAT(
      r->message,
      AllOf(HasSubstr("could not create Spark cluster 'greedy'"),
            HasSubstr("not ready after 4.0 s"), HasSubstr("sparkplane-greedy-worker 0/1 available"),
            HasSubstr("not scheduled (Unschedulable)"), HasSubstr("Insufficient cpu"),
            HasSubstr("the partially created cluster was deleted")));
  std::cerr << "not-ready error: " << r->message << "\n";
  EXPECT_EQ(Record("greedy")->state, "failed");
  EXPECT_THAT(Leftovers(ns, "greedy"), ::testing::IsEmpty());
  // The name is free again: a retry with a sane request succeeds.
  auto retry = Run({{"name", "greedy"}, {"workers", 1}});
  ASSERT_TRUE(retry.has_value());
  EXPECT_TRUE(retry->success) << retry->message;
  EXPECT_TRUE(Run({{"action", "delete"}, {"name", "greedy"}})->success);
}

TEST_F(SparkClusterTaskK8sTest, ACancelledCreateDeletesWhatItMade) {
  const std::string ns = ClusterNamespace();
  ContextIdentity id;
  id.task_id = "cluster";
  id.type = "spark_cluster";
  auto ctx = std::make_shared<RecordingTaskContext>(
      &services_, json{{"name", "cancelled"}, {"worker_cores", 1000}, {"ready_timeout", "60s"}},
      dir_.File("cancel.log"), id);
  type_->Start(ctx);
  // Cancelled while it waits for a worker that cannot be scheduled.
  ASSERT_TRUE(ctx->WaitForHandleWhere([](const json& h) {
                   return h.contains("kubernetes") &&
                          !h["kubernetes"].value("parent_uid", "").empty();
                 })
                  .has_value());
  type_->Cancel(ctx, *ctx->last_handle(), Millis(10000));
  std::optional<operators::TaskResult> r = ctx->WaitForResult(std::chrono::seconds(60));
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(r->success);
  EXPECT_TRUE(r->retryable);
  EXPECT_THAT(r->message, AllOf(HasSubstr("cancelled"),
                                HasSubstr("the partially created cluster was deleted")));
  EXPECT_EQ(Record("cancelled")->state, "failed");
  EXPECT_THAT(Leftovers(ns, "cancelled"), ::testing::IsEmpty());
}

TEST_F(SparkClusterTaskK8sTest, ACreateInterruptedByARestartIsTornDownOnRecovery) {
  const std::string ns = Namespace();
  ContextIdentity id;
  id.task_id = "cluster";
  id.type = "spark_cluster";
  auto first = std::make_shared<RecordingTaskContext>(
      &services_, json{{"name", "restarted"}, {"workers", 1}}, dir_.File("first.log"), id);
  type_->Start(first);
  std::optional<operators::TaskResult> created = first->WaitForResult(std::chrono::seconds(60));
  ASSERT_TRUE(created.has_value() && created->success);
  json handle = *first->last_handle();
  EXPECT_EQ(handle["backend"], "kubernetes");
  // The server restarts before the try's end was committed: a new type recovers the try.
  type_ = std::make_unique<operators::SparkClusterTaskType>(&services_);
  auto again = std::make_shared<RecordingTaskContext>(&services_, json::object(),
                                                      dir_.File("again.log"), id);
  type_->Recover(again, handle);
  std::optional<operators::TaskResult> r = again->WaitForResult(std::chrono::seconds(60));
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(r->success);
  EXPECT_TRUE(r->retryable);
  EXPECT_THAT(r->message, HasSubstr("lost on restart: Spark cluster 'restarted' was being "
                                    "created; it was torn down"));
  EXPECT_EQ(Record("restarted")->state, "failed");
  EXPECT_THAT(Leftovers(ns, "restarted"), ::testing::IsEmpty());
}

TEST_F(SparkClusterTaskK8sTest, TheReaperRemovesOrphansAfterTheSchedulerDied) {
  const std::string ns = ClusterNamespace();
  // A cluster of run 41 whose scheduler is "killed" before its delete task: the type goes
  // away (as the process would) and the objects stay in Kubernetes.
  ASSERT_TRUE(Run({{"name", "orphan-of-run"}, {"workers", 1}}, /*run_key=*/41)->success);
  // An ad-hoc cluster (run 0): kept.
  ASSERT_TRUE(Run({{"name", "adhoc"}, {"workers", 0}}, /*run_key=*/0)->success);
  type_.reset();
  // A cluster in Kubernetes with no record at all (the store lost it, or the server died
  // between ... nothing: it was made behind the store's back).
  std::unique_ptr<KubeClient> client = Client(ns);
  KubernetesClusterBackend backend(client.get());
  SparkClusterSpec spec = Spec(ns, "no-record", 1);
  spec.run_key = 42;
  ASSERT_TRUE(backend.Create(spec, Millis(60000), std::stop_token(), nullptr).ok());

  Status reaped = operators::ReapOrphanClusters(services_, [](int64_t) { return false; });
  EXPECT_TRUE(reaped.ok()) << reaped;
  EXPECT_THAT(Leftovers(ns, "orphan-of-run"), ::testing::IsEmpty());
  EXPECT_EQ(Record("orphan-of-run")->state, "deleted");
  EXPECT_THAT(Leftovers(ns, "no-record"), ::testing::IsEmpty());
  EXPECT_THAT(Leftovers(ns, "adhoc"), Not(::testing::IsEmpty()));
  EXPECT_EQ(Record("adhoc")->state, "ready");

  // A second pass finds nothing more to do.
  EXPECT_TRUE(operators::ReapOrphanClusters(services_, [](int64_t) { return false; }).ok());
  EXPECT_THAT(Leftovers(ns, "adhoc"), Not(::testing::IsEmpty()));
  type_ = std::make_unique<operators::SparkClusterTaskType>(&services_);
  EXPECT_TRUE(Run({{"action", "delete"}, {"name", "adhoc"}}, 0)->success);
  EXPECT_THAT(Leftovers(ns, "adhoc"), ::testing::IsEmpty());
}

// The `sparkplane` binary as a user runs it, with the Kubernetes settings of `ns` in a
// sparkplane.yaml of `data_dir`.
class SparkClusterCliK8sTest : public SparkClusterK8sTest {
 protected:
  void WriteConfig(const std::string& data_dir, const std::string& ns) {
    operators::testing::WriteFile(data_dir + "/sparkplane.yaml",
                                  "default_cluster_backend: kubernetes\nkubeconfig: " +
                                      cluster().kubeconfig + "\nnamespace: " + ns + "\n");
  }

  // `sparkplane --data-dir DATA ARGS... > OUT 2>&1` through a shell, to the end.
  int RunRedirected(const std::string& data_dir, const std::vector<std::string>& args,
                    const std::string& out) {
    std::vector<std::string> argv = {
        "/bin/sh", "-c",         "exec \"$0\" \"$@\" > '" + out + "' 2>&1",
        SP_BINARY, "--data-dir", data_dir};
    argv.insert(argv.end(), args.begin(), args.end());
    return sp::testing::k8s_internal::Run(argv).exit_code;
  }

  // `sparkplane --data-dir DATA ARGS...` started in its own process group; output to `log`.
  pid_t Start(const std::string& data_dir, const std::vector<std::string>& args,
              const std::string& log) {
    std::vector<std::string> argv = {SP_BINARY, "--data-dir", data_dir};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> cargv;
    for (std::string& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    pid_t pid = ::fork();
    if (pid == 0) {
      ::setpgid(0, 0);
      int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      if (fd >= 0) {
        ::dup2(fd, 1);
        ::dup2(fd, 2);
      }
      ::execv(cargv[0], cargv.data());
      _exit(127);
    }
    return pid;
  }

  // The cluster's worker Deployment exists: its record and parent were made before it.
  bool HasWorkerDeployment(const std::string& ns, const std::string& name) {
    return Kube(cluster(), "GET",
                "/apis/apps/v1/namespaces/" + ns + "/deployments/" +
                    SparkClusterNames::For(name).worker)
               .status == 200;
  }

  std::optional<store::ClusterRecord> StoredRecord(const std::string& data_dir,
                                                   const std::string& name) {
    Result<std::unique_ptr<store::Store>> s =
        store::OpenSqliteStore(data_dir + "/history/scheduler/sparkplane.db");
    EXPECT_TRUE(s.ok()) << s.status();
    if (!s.ok()) return std::nullopt;
    Result<std::vector<store::ClusterRecord>> all = (*s)->ListClusters(true);
    if (!all.ok()) return std::nullopt;
    for (const store::ClusterRecord& r : *all) {
      if (r.name == name) return r;
    }
    return std::nullopt;
  }
};

// Log lines and the result both reach a redirected file (issue 15.4), and --kubeconfig /
// --namespace win over a sparkplane.yaml that names another cluster (issue 15.8).
TEST_F(SparkClusterCliK8sTest, OutputRedirectedToOneFileKeepsEveryLineAndFlagsWin) {
  const std::string ns = ClusterNamespace();
  ScratchDir data;
  operators::testing::WriteFile(data.File("sparkplane.yaml"),
                                "default_cluster_backend: kubernetes\n"
                                "kubeconfig: /nonexistent/kubeconfig\nnamespace: not-this-one\n");
  const std::vector<std::string> where = {"--kubeconfig", cluster().kubeconfig, "--namespace", ns};
  // --ui-node-port warns that the UI is unauthenticated; --worker-scratch sizes the scratch.
  std::vector<std::string> create = {"cluster", "create",           "redirected", "--workers",
                                     "0",       "--worker-scratch", "2Gi"};
  create.insert(create.end(), where.begin(), where.end());
  create.insert(create.end(), {"--ui-node-port", "0"});  // any node port
  std::string out = data.File("create.out");
  ASSERT_EQ(RunRedirected(data.path(), create, out), 0) << operators::testing::ReadFile(out);
  std::string text = operators::testing::ReadFile(out);
  EXPECT_THAT(text,
              HasSubstr("creating Spark cluster 'redirected' (backend kubernetes, namespace " + ns +
                        ", image "));
  EXPECT_THAT(text, HasSubstr("Spark cluster 'redirected' ready at spark://sparkplane-redirected-"
                              "master." +
                              ns + ".svc:7077\n  master "));
  EXPECT_EQ(LivePods(ns, "redirected", "master"), 1);
  EXPECT_THAT(text, HasSubstr("warning: ui_node_port publishes the Spark master's web UI on every "
                              "node without authentication"));
  bool scratch_sized = false;
  for (const json& d : Items(ns, "/apis/apps/v1", "deployments",
                             ClusterSelector(SparkClusterNames::For("redirected")))) {
    for (const json& v : d["spec"]["template"]["spec"]["volumes"]) {
      if (v.contains("emptyDir") && v["emptyDir"].value("sizeLimit", "") == "2Gi") {
        scratch_sized = true;
      }
    }
  }
  EXPECT_TRUE(scratch_sized) << "--worker-scratch 2Gi is the scratch volume's sizeLimit";

  std::vector<std::string> remove = {"cluster", "delete", "redirected"};
  remove.insert(remove.end(), where.begin(), where.end());
  ASSERT_EQ(RunRedirected(data.path(), remove, out), 0) << operators::testing::ReadFile(out);
  EXPECT_THAT(operators::testing::ReadFile(out), HasSubstr("deleted Spark cluster 'redirected'"));
  EXPECT_THAT(Leftovers(ns, "redirected"), ::testing::IsEmpty());
}

// The default configuration in a namespace without the event-log claim says so at once.
TEST_F(SparkClusterCliK8sTest, TheDefaultConfigurationWithoutStorageSaysWhatToRun) {
  const std::string ns = Namespace();  // no claim
  ScratchDir data;
  WriteConfig(data.path(), ns);
  std::string out = data.File("create.out");
  EXPECT_NE(RunRedirected(data.path(), {"cluster", "create", "demo"}, out), 0);
  EXPECT_THAT(operators::testing::ReadFile(out),
              AllOf(HasSubstr("persistentvolumeclaim \"sparkplane-spark-history\""),
                    HasSubstr("sparkplane deploy storage --namespace " + ns)));
  EXPECT_THAT(Leftovers(ns, "demo"), ::testing::IsEmpty());
}

// `cluster create` killed -9 while it waits for its pods leaves a record "creating" whose
// command is gone (issue 15.2): the next create of the name tears it down and starts over, and
// a server's reaper tears it down too.
TEST_F(SparkClusterCliK8sTest, AnAdHocCreateKilledMidwayIsTornDown) {
  const std::string ns = ClusterNamespace();
  ScratchDir data;
  WriteConfig(data.path(), ns);
  auto kill_midway = [&](const std::string& name) {
    // 1000 cores can never be scheduled here, yet could be elsewhere: the create waits.
    pid_t pid = Start(data.path(),
                      {"cluster", "create", name, "--workers", "1", "--worker-cores", "1000",
                       "--ready-timeout", "300s"},
                      data.File(name + ".log"));
    ASSERT_GT(pid, 0);
    EXPECT_TRUE(sp::testing::WaitFor([&] { return HasWorkerDeployment(ns, name); },
                                     std::chrono::seconds(60)))
        << operators::testing::ReadFile(data.File(name + ".log"));
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    ::kill(-pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    std::optional<store::ClusterRecord> r = StoredRecord(data.path(), name);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->state, "creating");
    EXPECT_THAT(Leftovers(ns, name), Not(::testing::IsEmpty()));
  };

  // Without a server: the next create of the name finds the abandoned one and replaces it.
  kill_midway("orph-again");
  sp::testing::CommandResult again =
      sp::testing::Sparkplane(data.path(), {"cluster", "create", "orph-again", "--workers", "0"});
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_THAT(again.err, HasSubstr("was left creating by a command that is gone"));
  EXPECT_EQ(LivePods(ns, "orph-again", "worker"), 0);
  EXPECT_EQ(sp::testing::Sparkplane(data.path(), {"cluster", "delete", "orph-again"}).exit_code, 0);
  EXPECT_THAT(Leftovers(ns, "orph-again"), ::testing::IsEmpty());

  // With a server: its reaper tears it down and records it deleted.
  kill_midway("orph");
  sp::testing::ServerProcess server(data.path());
  server.Start();
  EXPECT_TRUE(
      sp::testing::WaitFor([&] { return Leftovers(ns, "orph").empty(); }, std::chrono::seconds(60)))
      << operators::testing::ReadFile(data.File("server.log"));
  EXPECT_TRUE(sp::testing::WaitFor(
      [&] {
        std::optional<store::ClusterRecord> r = StoredRecord(data.path(), "orph");
        return r && r->state == "deleted";
      },
      std::chrono::seconds(10)));
  EXPECT_THAT(operators::testing::ReadFile(data.File("server.log")),
              HasSubstr("reaped cluster 'orph' (was creating): the command that made it is gone"));
}

// `sparkplane cluster create|scale|delete` with the Kubernetes settings from a config file.
TEST_F(SparkClusterK8sTest, TheCliCreatesScalesAndDeletesAnAdHocCluster) {
  const std::string ns = ClusterNamespace();
  ScratchDir data;
  std::string config_file = data.File("sparkplane.yaml");
  operators::testing::WriteFile(
      config_file, "default_cluster_backend: kubernetes\nkubeconfig: " + cluster().kubeconfig +
                       "\nnamespace: " + ns + "\nspark_image: apache/spark:4.0.1\n");
  cli::GlobalOptions g;
  g.config.data_dir = data.path();
  g.config.config_file = config_file;
  cli::ClusterCreateArgs args;
  args.name = "cli-made";
  args.workers = 1;
  args.node_selector = {"kubernetes.io/os=linux"};
  args.ready_timeout = "60s";
  ASSERT_EQ(cli::ClusterCreate(g, args), 0);
  EXPECT_EQ(LivePods(ns, "cli-made", "worker"), 1);
  std::vector<json> deployments = Items(ns, "/apis/apps/v1", "deployments",
                                        ClusterSelector(SparkClusterNames::For("cli-made")));
  ASSERT_FALSE(deployments.empty());
  EXPECT_EQ(deployments[0]["spec"]["template"]["spec"]["nodeSelector"]["kubernetes.io/os"],
            "linux");
  EXPECT_FALSE(deployments[0]["metadata"]["labels"].contains(kRunLabel));  // ad-hoc
  ASSERT_EQ(cli::ClusterScale(g, "cli-made", 2, "60s"), 0);
  EXPECT_EQ(LivePods(ns, "cli-made", "worker"), 2);
  ASSERT_EQ(cli::ClusterDelete(g, "cli-made", ""), 0);
  EXPECT_THAT(Leftovers(ns, "cli-made"), ::testing::IsEmpty());
  EXPECT_NE(cli::ClusterScale(g, "cli-made", 1, ""), 0);
}

// Issue 15 item 7: the hardening survives the API server's validation and defaulting, on the
// Deployments and on the pods their ReplicaSets made: a read-only root filesystem, /tmp and the
// worker's scratch on emptyDirs with their sizeLimits (canonical quantities: 20480Mi is 20Gi),
// and the UI's kill switch off in both daemons' options.
TEST_F(SparkClusterK8sTest, PodHardeningSurvivesTheApiServer) {
  const std::string ns = ClusterNamespace();
  std::unique_ptr<KubeClient> client = Client(ns);
  KubernetesClusterBackend backend(client.get());
  SparkClusterSpec spec = Spec(ns, "hardened", 1);
  spec.worker_scratch = "20480Mi";
  Result<KubeClusterHandle> h = backend.Create(spec, Millis(60000), std::stop_token(), nullptr);
  ASSERT_TRUE(h.ok()) << h.status();

  // The emptyDir mounted at `path` in `pod_spec`'s first container, or null.
  auto empty_dir_at = [](const json& pod_spec, const std::string& path) -> json {
    for (const json& m : pod_spec["containers"][0]["volumeMounts"]) {
      if (m["mountPath"] != path || m.value("readOnly", false)) continue;
      for (const json& v : pod_spec["volumes"]) {
        if (v["name"] == m["name"] && v.contains("emptyDir")) return v["emptyDir"];
      }
    }
    return nullptr;
  };
  auto env = [](const json& container, const std::string& name) -> std::string {
    for (const json& e : container["env"]) {
      if (e["name"] == name) return e.value("value", "");
    }
    return "<absent>";
  };
  const std::string selector = ClusterSelector(SparkClusterNames::For("hardened"));
  for (const std::string component : {"master", "worker"}) {
    const std::string with_component = selector + "," + kComponentLabel + "=" + component;
    std::vector<json> pod_specs;
    for (const json& d : Items(ns, "/apis/apps/v1", "deployments", with_component)) {
      pod_specs.push_back(d["spec"]["template"]["spec"]);
    }
    for (const json& pod : Items(ns, "/api/v1", "pods", with_component)) {
      pod_specs.push_back(pod["spec"]);
    }
    ASSERT_EQ(pod_specs.size(), 2u) << component << ": one Deployment and one pod";
    for (const json& pod_spec : pod_specs) {
      SCOPED_TRACE(component + ": " + pod_spec.dump());
      const json& c = pod_spec["containers"][0];
      EXPECT_EQ(c["securityContext"]["readOnlyRootFilesystem"], true);
      EXPECT_EQ(empty_dir_at(pod_spec, "/tmp"), json({{"sizeLimit", "1Gi"}}));
      if (component == "master") {
        EXPECT_THAT(env(c, "SPARK_MASTER_OPTS"), HasSubstr("-Dspark.ui.killEnabled=false"));
      } else {
        EXPECT_EQ(empty_dir_at(pod_spec, kWorkerScratchDir), json({{"sizeLimit", "20Gi"}}));
        EXPECT_EQ(env(c, "SPARK_LOCAL_DIRS"), kWorkerLocalDir);
        EXPECT_THAT(c["args"].dump(), HasSubstr(std::string("\"") + kWorkerWorkDir + "\""));
        EXPECT_THAT(env(c, "SPARK_WORKER_OPTS"), HasSubstr("-Dspark.ui.killEnabled=false"));
      }
    }
  }

  Result<bool> deleted = backend.Delete(ns, h->parent, Millis(60000));
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_THAT(Leftovers(ns, "hardened"), ::testing::IsEmpty());
}

// Issue 14: a cluster cannot outlive its deadline even when no scheduler runs. Our test env has
// no scheduler pod at all (nothing is deployed; kwok runs no containers), which is the state the
// issue asks for with "the scheduler Deployment scaled to 0": nothing but `sparkplane cluster
// sweep` (what the CronJob of deploy/base/sweep.yaml runs) acts on the clusters here.
TEST_F(SparkClusterCliK8sTest, TheSweepDeletesExpiredClustersWithNoSchedulerRunning) {
  const std::string ns = ClusterNamespace();
  std::unique_ptr<KubeClient> client = Client(ns);
  ASSERT_NE(client, nullptr);
  clusters::KubeBackend kube(clusters::KubeBackendOptions{}, client.get(), nullptr);
  auto create = [&](const std::string& name, clusters::Lifetime lifetime) {
    clusters::ClusterRequest request;
    request.name = name;
    request.workers = 1;
    request.lifetime = lifetime;
    Result<json> made =
        kube.Create(request, std::stop_token(), [](const json&) { return OkStatus(); });
    EXPECT_TRUE(made.ok()) << name << ": " << made.status();
  };
  create("later", {clock_.Now() + Millis(3600000), Millis(0)});
  create("idle", {std::nullopt, Millis(2000)});
  // Made last, with room for its create and the first sweep before its deadline.
  const Time expiring_at = clock_.Now() + Millis(10000);
  create("expiring", {expiring_at, Millis(0)});
  for (const char* name : {"expiring", "later", "idle"}) {
    ASSERT_EQ(LivePods(ns, name, "worker"), 1) << name;
  }
  // The lifetime is on the parent, where the sweep reads it.
  json parent =
      Kube(cluster(), "GET",
           "/api/v1/namespaces/" + ns + "/configmaps/" + SparkClusterNames::For("expiring").parent)
          .Json();
  EXPECT_EQ(parent["metadata"]["annotations"][kDeadlineAnnotation], FormatTime(expiring_at));
  EXPECT_FALSE(parent["metadata"]["annotations"].contains(kIdleTimeoutAnnotation));
  Result<std::vector<clusters::ManagedCluster>> listed = kube.List();
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), 3u);
  for (const clusters::ManagedCluster& c : *listed) {
    if (c.name == "idle") {
      EXPECT_FALSE(c.lifetime.deadline);
      EXPECT_EQ(c.lifetime.idle_timeout, Millis(2000));
    } else {
      ASSERT_TRUE(c.lifetime.deadline) << c.name;
      if (c.name == "expiring") {
        EXPECT_EQ(*c.lifetime.deadline, expiring_at);
      }
    }
  }

  ScratchDir data;
  const std::vector<std::string> where = {"--kubeconfig", cluster().kubeconfig, "--namespace", ns};
  std::vector<std::string> dry_run = {"cluster", "sweep", "--dry-run"};
  dry_run.insert(dry_run.end(), where.begin(), where.end());
  std::vector<std::string> sweep = {"cluster", "sweep"};
  sweep.insert(sweep.end(), where.begin(), where.end());
  const std::string out = data.File("sweep.out");

  // Before the deadline: nothing to do.
  ASSERT_EQ(RunRedirected(data.path(), sweep, out), 0) << operators::testing::ReadFile(out);
  EXPECT_THAT(operators::testing::ReadFile(out),
              HasSubstr("swept namespace " + ns + ": 0 expired, 3 kept"));

  while (clock_.Now() <= expiring_at) std::this_thread::sleep_for(Millis(200));
  // A dry run says what it would delete and deletes nothing.
  ASSERT_EQ(RunRedirected(data.path(), dry_run, out), 0) << operators::testing::ReadFile(out);
  EXPECT_THAT(operators::testing::ReadFile(out),
              AllOf(HasSubstr("cluster 'expiring' (configmap sparkplane-cluster-expiring) would "
                              "be deleted: its deadline " +
                              FormatTime(expiring_at) + " has passed"),
                    HasSubstr("(dry run: nothing deleted): 1 expired, 2 kept")));
  EXPECT_EQ(LivePods(ns, "expiring", "master"), 1);

  // The sweep deletes the expired cluster in the foreground and waits: when it returns, the
  // parent, both Deployments and their pods are gone. The others are left alone; the idle one's
  // master cannot be asked from this host (its Service is cluster-internal), which it says.
  ASSERT_EQ(RunRedirected(data.path(), sweep, out), 0) << operators::testing::ReadFile(out);
  std::string text = operators::testing::ReadFile(out);
  EXPECT_THAT(text, AllOf(HasSubstr("cluster 'expiring' (configmap sparkplane-cluster-expiring) "
                                    "deleted: its deadline"),
                          HasSubstr("swept namespace " + ns + ": 1 expired, 2 kept"),
                          HasSubstr("cluster 'idle': idle timeout not checked")));
  EXPECT_THAT(Leftovers(ns, "expiring"), ::testing::IsEmpty());
  EXPECT_EQ(LivePods(ns, "later", "master"), 1);
  EXPECT_EQ(LivePods(ns, "later", "worker"), 1);
  EXPECT_EQ(LivePods(ns, "idle", "master"), 1);

  // The idle timeout, with the master's answer given (the CronJob's pods ask it through the
  // NetworkPolicy): busy marks the parent; idle for the timeout since the mark deletes it.
  int running = 1;
  clusters::SweepOptions options;
  options.active_applications = [&](const std::string& ui_url) -> Result<int> {
    EXPECT_EQ(ui_url, "http://sparkplane-idle-master." + ns + ".svc:8080");
    return running;
  };
  ManualClock manual(clock_.Now());
  Result<clusters::SweepReport> busy = clusters::SweepExpired(kube, manual, options);
  ASSERT_TRUE(busy.ok()) << busy.status();
  EXPECT_TRUE(busy->expired.empty());
  EXPECT_EQ(busy->kept, 2);
  json marked =
      Kube(cluster(), "GET",
           "/api/v1/namespaces/" + ns + "/configmaps/" + SparkClusterNames::For("idle").parent)
          .Json();
  EXPECT_EQ(marked["metadata"]["annotations"][kLastBusyAnnotation], FormatTime(manual.Now()));
  EXPECT_EQ(marked["metadata"]["annotations"][kIdleTimeoutAnnotation], "2s");
  running = 0;
  manual.Advance(Millis(1999));
  Result<clusters::SweepReport> young = clusters::SweepExpired(kube, manual, options);
  ASSERT_TRUE(young.ok()) << young.status();
  EXPECT_TRUE(young->expired.empty());
  manual.Advance(Millis(1));
  Result<clusters::SweepReport> idle = clusters::SweepExpired(kube, manual, options);
  ASSERT_TRUE(idle.ok()) << idle.status();
  ASSERT_EQ(idle->expired.size(), 1u);
  EXPECT_EQ(idle->expired[0].name, "idle");
  EXPECT_TRUE(idle->expired[0].status.ok()) << idle->expired[0].status;
  EXPECT_THAT(idle->expired[0].reason, HasSubstr("idle timeout 2s"));
  EXPECT_THAT(Leftovers(ns, "idle"), ::testing::IsEmpty());

  EXPECT_THAT(Leftovers(ns, "later"), Not(::testing::IsEmpty()));
  ASSERT_TRUE(kube.DeleteParent(SparkClusterNames::For("later").parent).ok());
  EXPECT_THAT(Leftovers(ns, "later"), ::testing::IsEmpty());
}

}  // namespace
}  // namespace sp::k8s
