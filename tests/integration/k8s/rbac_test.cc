// The scheduler's Role, deploy/base/rbac.yaml, against a real API server (k8s_testenv.h, whose
// kube-apiserver runs the OwnerReferencesPermissionEnforcement admission plugin, as OpenShift and
// hardened clusters do): the ServiceAccount, Role and RoleBinding exactly as shipped are applied
// to a fresh namespace, and the real KubernetesClusterBackend runs with a token of that account
// through a whole cluster lifecycle (create with the auth Secret, the UI NodePort Service and the
// event-log claim; read the Secret as a driver would; scale; list as the orphan reaper does;
// delete), and a Kubernetes notebook on such a cluster (the token Secret, NetworkPolicy, Jupyter
// Service and pod; the wait until Ready; list; the Service's node port). Every call must
// succeed, so the Role grants all the backend and the notebook use; the verbs it must
// not have (reading every Secret, deleting what the garbage collector deletes) are refused, so it
// grants no more than that. The last test drops the `configmaps/finalizers` rule to show why it
// is there: the children's ownerReferences set blockOwnerDeletion.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <thread>

#include "common/log.h"
#include "deploy/manifests.h"
#include "integration/k8s/k8s_testenv.h"
#include "k8s/client.h"
#include "k8s/k8s_test_util.h"
#include "k8s/kube_config.h"
#include "k8s/kubernetes_cluster_backend.h"
#include "k8s/kubernetes_notebooks.h"
#include "k8s/notebook_objects.h"
#include "k8s/spark_cluster_objects.h"

namespace sp::k8s {
namespace {

using nlohmann::json;
using sp::k8s::testing::StatusIs;
using sp::testing::Kube;
using sp::testing::KubeResponse;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kServiceAccount[] = "sparkplane-scheduler";
constexpr Millis kTimeout{60'000};

// A Logger writing to a temporary file the test reads back.
struct CapturedLog {
  explicit CapturedLog(const Clock& clock)
      : file(std::tmpfile()), logger(clock, LogLevel::kDebug, file) {}
  ~CapturedLog() {
    if (file != nullptr) std::fclose(file);
  }
  CapturedLog(const CapturedLog&) = delete;
  CapturedLog& operator=(const CapturedLog&) = delete;

  std::string Text() {
    if (file == nullptr) return "";
    std::fflush(file);
    std::rewind(file);
    std::string text;
    char buffer[4096];
    for (size_t n; (n = std::fread(buffer, 1, sizeof buffer, file)) > 0;) text.append(buffer, n);
    std::fseek(file, 0, SEEK_END);  // the logger writes on
    return text;
  }

  std::FILE* file;
  Logger logger;
};

class RbacTest : public sp::testing::K8sTest {
 protected:
  void TearDown() override {
    for (const std::string& pv : pvs_) Kube(cluster(), "DELETE", "/api/v1/persistentvolumes/" + pv);
    sp::testing::K8sTest::TearDown();
  }

  // The objects of deploy/base/rbac.yaml in `ns`, as `sparkplane deploy --namespace ns` and
  // kustomize make them (the RoleBinding's subject gets the namespace too); `edit_role` may
  // change the Role first. Returns a client that is the ServiceAccount, once the RBAC
  // authorizer has seen the binding.
  std::unique_ptr<KubeClient> ApplyShippedRbac(const std::string& ns,
                                               const std::function<void(json&)>& edit_role = {}) {
    const std::string file = std::string(SP_SOURCE_DIR) + "/deploy/base/rbac.yaml";
    Result<std::vector<json>> docs =
        deploy::ParseYamlDocuments(sp::testing::k8s_internal::ReadText(file), file);
    EXPECT_TRUE(docs.ok()) << docs.status();
    if (!docs.ok()) return nullptr;
    EXPECT_EQ(docs->size(), 3u);
    for (json& object : *docs) {
      const std::string kind = object.value("kind", "");
      object["metadata"]["namespace"] = ns;
      std::string collection;
      if (kind == "ServiceAccount") {
        collection = "/api/v1/namespaces/" + ns + "/serviceaccounts";
      } else if (kind == "Role") {
        if (edit_role) edit_role(object);
        collection = "/apis/rbac.authorization.k8s.io/v1/namespaces/" + ns + "/roles";
      } else if (kind == "RoleBinding") {
        for (json& subject : object["subjects"]) subject["namespace"] = ns;
        collection = "/apis/rbac.authorization.k8s.io/v1/namespaces/" + ns + "/rolebindings";
      }
      EXPECT_FALSE(collection.empty()) << "unexpected kind in " << file << ": " << kind;
      if (collection.empty()) continue;
      KubeResponse r = Kube(cluster(), "POST", collection, object.dump());
      EXPECT_EQ(r.status, 201) << kind << ": " << r.body;
    }
    Result<KubeConfig> config =
        LoadKubeConfig(sp::testing::ServiceAccountKubeconfig(cluster(), ns, kServiceAccount));
    EXPECT_TRUE(config.ok()) << config.status();
    if (!config.ok()) return nullptr;
    auto client = std::make_unique<KubeClient>(*config, clock_);
    // The RBAC authorizer learns of a new binding through an informer: give it a moment.
    for (int i = 0; i < 100 && !client->List(Ref(kConfigMaps, ns)).ok(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return client;
  }

  // The event-log claim every cluster pod mounts (kDefaultHistoryPvc), made by the admin as
  // `sparkplane deploy` makes it.
  void HistoryClaim(const std::string& ns) {
    pvs_.push_back(sp::testing::BoundClaim(cluster(), ns, kDefaultHistoryPvc));
  }

  SparkClusterSpec Spec(const std::string& ns) {
    SparkClusterSpec spec;
    spec.name = "rbac";
    spec.namespace_name = ns;
    spec.workers = 1;
    spec.authenticate = true;  // the auth Secret
    spec.ui_node_port = true;  // the UI Service
    spec.dag_id = "rbac_test";
    spec.run_key = 1;
    return spec;
  }

  RealClock clock_;
  std::vector<std::string> pvs_;
};

TEST_F(RbacTest, ClusterBackendRunsUnderExactlyTheShippedRole) {
  const std::string ns = Namespace();
  HistoryClaim(ns);
  std::unique_ptr<KubeClient> client = ApplyShippedRbac(ns);
  ASSERT_NE(client, nullptr);
  // The backend tolerates some refusals (a claim it may not check is logged and skipped), so its
  // log must not show any either.
  CapturedLog log(clock_);
  ASSERT_NE(log.file, nullptr);
  KubeClusterBackendOptions options;
  options.logger = &log.logger;
  KubernetesClusterBackend backend(client.get(), options);
  const SparkClusterSpec spec = Spec(ns);

  Result<KubeClusterHandle> created = backend.Create(spec, kTimeout, std::stop_token(), nullptr);
  ASSERT_TRUE(created.ok()) << created.status() << "\n" << log.Text();
  EXPECT_NE(created->ui_node_port, 0);
  // The children really carry blockOwnerDeletion, so the admission plugin checked them.
  const SparkClusterNames names = SparkClusterNames::For(spec.name);
  for (const std::string& path :
       {"/api/v1/namespaces/" + ns + "/secrets/" + names.auth_secret,
        "/apis/apps/v1/namespaces/" + ns + "/deployments/" + names.worker}) {
    KubeResponse r = Kube(cluster(), "GET", path);
    ASSERT_EQ(r.status, 200) << path << ": " << r.body;
    EXPECT_EQ(r.Json()["metadata"]["ownerReferences"][0]["blockOwnerDeletion"], true) << path;
  }

  Result<std::string> secret = backend.ReadAuthSecret(*created);
  ASSERT_TRUE(secret.ok()) << secret.status();
  EXPECT_EQ(secret->size(), 64u);

  Result<KubeClusterHandle> scaled = backend.Scale(*created, 2, kTimeout, std::stop_token());
  ASSERT_TRUE(scaled.ok()) << scaled.status();
  EXPECT_EQ(scaled->workers, 2);

  Result<std::vector<ManagedCluster>> listed = backend.ListClusters(ns);
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_THAT(*listed, Contains(Field(&ManagedCluster::parent, names.parent)));

  Result<bool> deleted = backend.Delete(ns, created->parent, kTimeout);
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_TRUE(*deleted);

  EXPECT_THAT(log.Text(), AllOf(Not(HasSubstr("forbidden")), Not(HasSubstr("cannot"))));
}

// What `notebook start|list` does from inside the scheduler pod: a notebook on a cluster the
// backend made, under the same Role (pods create and get, services get were missing once).
TEST_F(RbacTest, KubernetesNotebookRunsUnderExactlyTheShippedRole) {
  const std::string ns = Namespace();
  HistoryClaim(ns);
  std::unique_ptr<KubeClient> client = ApplyShippedRbac(ns);
  ASSERT_NE(client, nullptr);
  KubernetesClusterBackend backend(client.get());
  SparkClusterSpec cluster_spec = Spec(ns);
  cluster_spec.name = "notebook-rbac";
  cluster_spec.authenticate = false;
  cluster_spec.ui_node_port = false;
  Result<KubeClusterHandle> created =
      backend.Create(cluster_spec, kTimeout, std::stop_token(), nullptr);
  ASSERT_TRUE(created.ok()) << created.status();

  NotebookSpec spec;
  spec.name = "rbac";
  spec.cluster = cluster_spec.name;
  spec.namespace_name = ns;
  spec.jupyter_node_port = true;
  KubernetesNotebooks notebooks(client.get());
  Result<KubeNotebook> notebook = notebooks.Create(spec, std::string(64, 'j'), std::string(64, 'c'),
                                                   kTimeout, std::stop_token());
  ASSERT_TRUE(notebook.ok()) << notebook.status();
  EXPECT_TRUE(notebook->ready);
  const NotebookNames names = NotebookNames::For(spec.cluster);
  EXPECT_EQ(notebook->pod, names.pod);

  // Create read the pod back once it was ready: a refused get would have returned the pod as
  // POSTed, with no status yet.
  EXPECT_EQ(notebook->phase, "Running");
  Result<json> pod = client->Get(Ref(kPods, ns, names.pod));
  EXPECT_TRUE(pod.ok()) << pod.status();
  // `notebook start --jupyter-node-port` reads the Service for its node port.
  Result<json> service = client->Get(Ref(kServices, ns, names.jupyter_service));
  ASSERT_TRUE(service.ok()) << service.status();

  Result<std::vector<KubeNotebook>> listed = notebooks.List(ns);
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_THAT(*listed, Contains(Field(&KubeNotebook::pod, names.pod)));

  Result<bool> deleted = backend.Delete(ns, created->parent, kTimeout);
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_TRUE(*deleted);
}

TEST_F(RbacTest, ShippedRoleRefusesWhatTheBackendNeverDoes) {
  const std::string ns = Namespace();
  std::unique_ptr<KubeClient> client = ApplyShippedRbac(ns);
  ASSERT_NE(client, nullptr);
  KubeResponse made =
      Kube(cluster(), "POST", "/api/v1/namespaces/" + ns + "/secrets",
           R"({"apiVersion":"v1","kind":"Secret","metadata":{"name":"someone-elses"},)"
           R"("stringData":{"password":"not for the scheduler"}})");
  ASSERT_EQ(made.status, 201) << made.body;

  // Reading every Secret of the namespace: no list, no watch (get of a name it made is all).
  EXPECT_THAT(client->List(Ref(kSecrets, ns)),
              StatusIs(StatusCode::kPermissionDenied, HasSubstr("secrets")));
  WatchOptions watch;
  watch.timeout_seconds = 1;
  EXPECT_THAT(client->Watch(Ref(kSecrets, ns), watch,
                            [](const WatchEvent&) { return WatchControl::kStop; }),
              StatusIs(StatusCode::kPermissionDenied, HasSubstr("secrets")));
  // Deleting children is the garbage collector's work, after the parent's foreground delete
  // (pods may be deleted: the driver pod of a cancelled native cluster-mode spark_submit try).
  for (const ResourceRef& ref : {Ref(kSecrets, ns, "someone-elses"), Ref(kDeployments, ns, "any"),
                                 Ref(kServices, ns, "any"), Ref(kNetworkPolicies, ns, "any")}) {
    EXPECT_THAT(client->Delete(ref),
                StatusIs(StatusCode::kPermissionDenied, HasSubstr(std::string(ref.type.plural))))
        << ref.Describe();
  }
  EXPECT_EQ(Kube(cluster(), "GET", "/api/v1/namespaces/" + ns + "/secrets/someone-elses").status,
            200);
}

// Why the Role has `update` on configmaps/finalizers: without it the first child (the auth
// Secret) is refused by the admission plugin, and the partial cluster is rolled back.
TEST_F(RbacTest, BlockOwnerDeletionNeedsConfigmapFinalizersUnderTheAdmissionPlugin) {
  const std::string ns = Namespace();
  HistoryClaim(ns);
  int dropped = 0;
  std::unique_ptr<KubeClient> client = ApplyShippedRbac(ns, [&dropped](json& role) {
    json rules = json::array();
    for (const json& rule : role["rules"]) {
      if (rule["resources"] == json::array({"configmaps/finalizers"})) {
        ++dropped;
      } else {
        rules.push_back(rule);
      }
    }
    role["rules"] = rules;
  });
  ASSERT_NE(client, nullptr);
  ASSERT_EQ(dropped, 1) << "deploy/base/rbac.yaml has no rule of its own for configmaps/finalizers";
  KubernetesClusterBackend backend(client.get());
  const SparkClusterSpec spec = Spec(ns);

  Result<KubeClusterHandle> created = backend.Create(spec, kTimeout, std::stop_token(), nullptr);
  EXPECT_THAT(created, StatusIs(StatusCode::kPermissionDenied,
                                AllOf(HasSubstr("blockOwnerDeletion"), HasSubstr("finalizers"),
                                      HasSubstr("partially created cluster was deleted"))));
  const std::string parent = SparkClusterNames::For(spec.name).parent;
  EXPECT_EQ(Kube(cluster(), "GET", "/api/v1/namespaces/" + ns + "/configmaps/" + parent).status,
            404);
}

}  // namespace
}  // namespace sp::k8s
