// `sparkplane deploy|undeploy|services` against a real API server (k8s_testenv.h): every
// manifest of every overlay is accepted, a server dry run stores nothing, deploying twice
// changes nothing, fields another manager took are a conflict unless forced, the scheduler's
// ServiceAccount may do exactly what the Kubernetes cluster backend needs and nothing else,
// `services` gives node URLs for the NodePorts, and undeploy leaves nothing behind. The commands
// are called as functions with the admin kubeconfig; their output is captured where the test reads
// it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <optional>
#include <set>

#include "cli/deploy_commands.h"
#include "deploy/manifests.h"
#include "integration/harness.h"
#include "integration/k8s/k8s_testenv.h"
#include "k8s/client.h"
#include "k8s/internal/text.h"
#include "k8s/kube_config.h"

namespace sp::cli {
namespace {

using deploy::DeployObject;
using deploy::DeployObjectsFor;
using deploy::DeployOverlays;
using deploy::EmbeddedDeployFileMap;
using deploy::ParseYamlDocuments;
using deploy::RenderKustomization;
using nlohmann::json;
using sp::testing::Kube;
using sp::testing::KubeResponse;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr k8s::ResourceType kSelfSubjectAccessReviews{
    "authorization.k8s.io/v1", "selfsubjectaccessreviews", "SelfSubjectAccessReview",
    k8s::Scope::kCluster};

// The collections deploy writes to, as REST paths under a namespace (or cluster-wide).
struct Collection {
  std::string kind;
  std::string path;  // with {ns} for the namespace
};
const std::vector<Collection> kCollections = {
    {"ServiceAccount", "/api/v1/namespaces/{ns}/serviceaccounts"},
    {"Role", "/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/roles"},
    {"RoleBinding", "/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings"},
    {"ConfigMap", "/api/v1/namespaces/{ns}/configmaps"},
    {"Secret", "/api/v1/namespaces/{ns}/secrets"},
    {"Service", "/api/v1/namespaces/{ns}/services"},
    {"PersistentVolume", "/api/v1/persistentvolumes"},
    {"PersistentVolumeClaim", "/api/v1/namespaces/{ns}/persistentvolumeclaims"},
    {"Deployment", "/apis/apps/v1/namespaces/{ns}/deployments"},
    {"StatefulSet", "/apis/apps/v1/namespaces/{ns}/statefulsets"},
    {"CronJob", "/apis/batch/v1/namespaces/{ns}/cronjobs"},
    {"PodDisruptionBudget", "/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets"},
    {"Ingress", "/apis/networking.k8s.io/v1/namespaces/{ns}/ingresses"},
};

std::string Replace(std::string s, const std::string& from, const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) {
    s.replace(at, from.size(), to);
  }
  return s;
}

class DeployTest : public sp::testing::K8sTest {
 protected:
  void TearDown() override {
    // PersistentVolumes outlive the namespace: remove this test's, whatever happened.
    if (!namespace_.empty()) {
      for (const json& pv : Managed(namespace_, "PersistentVolume")) {
        Kube(cluster(), "DELETE",
             "/api/v1/persistentvolumes/" + pv["metadata"]["name"].get<std::string>());
      }
    }
    K8sTest::TearDown();
  }

  const std::string& Ns() {
    namespace_ = Namespace();
    return namespace_;
  }

  DeployOptions Options(const std::string& overlay, std::vector<std::string> components = {"all"}) {
    DeployOptions o;
    o.components = std::move(components);
    o.namespace_name = Ns();
    o.overlay = overlay;
    o.kubeconfig = cluster().kubeconfig;
    o.timeout_seconds = 120;
    return o;
  }

  // Runs a command with its stdout captured into `output`.
  int Capture(int (*command)(const GlobalOptions&, const DeployOptions&),
              const DeployOptions& options, std::string* output, bool json_output = false) {
    GlobalOptions g;
    g.json = json_output;
    ::testing::internal::CaptureStdout();
    int rc = command(g, options);
    *output = ::testing::internal::GetCapturedStdout();
    std::cerr << *output;
    return rc;
  }

  // The objects of one kind with the deploy label that belong to namespace `ns`.
  std::vector<json> Managed(const std::string& ns, const std::string& kind) {
    for (const Collection& c : kCollections) {
      if (c.kind != kind) continue;
      KubeResponse r = Kube(cluster(), "GET",
                            Replace(c.path, "{ns}", ns) + "?labelSelector=sparkplane.io%2Fdeploy");
      EXPECT_EQ(r.status, 200) << r.body;
      std::vector<json> out;
      for (const json& item : r.Json().value("items", json::array())) {
        if (kind == "PersistentVolume" &&
            item["spec"].value("claimRef", json::object()).value("namespace", "") != ns) {
          continue;
        }
        out.push_back(item);
      }
      return out;
    }
    ADD_FAILURE() << "unknown kind " << kind;
    return {};
  }

  // kind/name -> the object, for everything deploy manages in `ns`.
  std::map<std::string, json> Snapshot(const std::string& ns) {
    std::map<std::string, json> all;
    for (const Collection& c : kCollections) {
      for (const json& o : Managed(ns, c.kind)) {
        all[c.kind + "/" + o["metadata"]["name"].get<std::string>()] = o;
      }
    }
    return all;
  }

  // Waits until the claims are Bound and both Deployments have an available replica, so that
  // no controller writes to the objects any more.
  void WaitUntilSettled(const std::string& ns) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    for (;;) {
      bool settled = true;
      for (const json& pvc : Managed(ns, "PersistentVolumeClaim")) {
        settled &= pvc["status"].value("phase", "") == "Bound";
      }
      for (const json& d : Managed(ns, "Deployment")) {
        settled &= d["status"].value("availableReplicas", 0) == 1 &&
                   d["status"].value("observedGeneration", 0) == d["metadata"]["generation"];
      }
      if (settled) return;
      if (std::chrono::steady_clock::now() > deadline) {
        ADD_FAILURE() << "not settled after 60 s: " << Snapshot(ns).size() << " objects";
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }

 private:
  std::string namespace_;
};

// Output of a shell command line (stdout only); empty when it fails.
std::string Output(const std::string& command) {
  std::string out;
  if (FILE* f = ::popen(command.c_str(), "r")) {
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
    if (::pclose(f) != 0) out.clear();
  }
  return out;
}

// The embedded renderer is held against kustomize itself (built by setup.sh from
// tests/k8s/kustomize, the library behind `kubectl kustomize`): for every overlay the same
// objects, field for field.
TEST(DeployRenderTest, EveryOverlayRendersAsKubectlKustomizeDoes) {
  const std::string root = SP_SOURCE_DIR;
  std::string bin = Output(root + "/tests/k8s/kustomize/build.sh --print");
  while (!bin.empty() && bin.back() == '\n') bin.pop_back();
  if (::access(bin.c_str(), X_OK) != 0) GTEST_SKIP() << "kustomize not built: run scripts/setup.sh";
  for (const std::string& overlay : DeployOverlays()) {
    SCOPED_TRACE(overlay);
    std::string text = Output("'" + bin + "' build '" + root + "/deploy/overlays/" + overlay + "'");
    ASSERT_FALSE(text.empty());
    Result<std::vector<json>> theirs = ParseYamlDocuments(text, "kustomize build " + overlay);
    ASSERT_TRUE(theirs.ok()) << theirs.status();
    Result<std::vector<json>> ours =
        RenderKustomization(EmbeddedDeployFileMap(), "overlays/" + overlay);
    ASSERT_TRUE(ours.ok()) << ours.status();
    auto by_address = [](const std::vector<json>& objects) {
      std::map<std::string, json> out;
      for (const json& o : objects) {
        out[o.value("kind", "") + "/" + o["metadata"].value("name", "")] = o;
      }
      return out;
    };
    std::map<std::string, json> k = by_address(*theirs), s = by_address(*ours);
    ASSERT_EQ(k.size(), theirs->size());
    for (const auto& [address, object] : k) {
      ASSERT_TRUE(s.count(address)) << address << " is missing from sparkplane's rendering";
      EXPECT_EQ(s[address], object)
          << address << "\nkustomize: " << object.dump(1) << "\nsparkplane: " << s[address].dump(1);
    }
    EXPECT_EQ(s.size(), k.size());
  }
}

TEST_F(DeployTest, DryRunChecksEveryManifestOfEveryOverlayAndStoresNothing) {
  for (const std::string& overlay : DeployOverlays()) {
    SCOPED_TRACE(overlay);
    DeployOptions o = Options(overlay);
    o.dry_run = true;
    std::string out;
    ASSERT_EQ(Capture(DeployCommand, o, &out), 0) << out;
    Result<std::vector<DeployObject>> expected =
        DeployObjectsFor(EmbeddedDeployFileMap(), overlay, {"all"}, Ns());
    ASSERT_TRUE(expected.ok()) << expected.status();
    for (const DeployObject& d : *expected) {
      EXPECT_THAT(out, HasSubstr("/" + d.ref.name + " created (server dry run)"));
    }
    EXPECT_THAT(out, HasSubstr("checked storage, scheduler, history to namespace " + Ns()));
    EXPECT_TRUE(Snapshot(Ns()).empty()) << "a dry run stored objects";
  }
}

// The ha-try overlay's PostgreSQL (FOR TRYING OUT): deploy creates the Secret sparkplane-postgres
// once, with a random password (a deleted one comes back with another), keeps it on later
// deploys (the database was initialised with it), the StatefulSet's controller makes the
// database's claim with the storage label, and undeploying storage removes all of it.
TEST_F(DeployTest, TheTryOutDatabaseGetsARandomPasswordOnceAndGoesWithStorage) {
  const std::string ns = Ns();
  const std::string secret_path = "/api/v1/namespaces/" + ns + "/secrets/sparkplane-postgres";
  auto password = [&] {
    KubeResponse r = Kube(cluster(), "GET", secret_path);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.Json().value("data", json::object()).value("password", std::string());
  };
  std::string out;
  ASSERT_EQ(Capture(DeployCommand, Options("ha-try", {"storage"}), &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("secret/sparkplane-postgres created with a random password"));
  EXPECT_THAT(out, HasSubstr("statefulset.apps/sparkplane-postgres created"));
  const std::string first = password();
  // The Secret holds base64 of the password: 24 random bytes as 32 URL-safe base64 characters.
  std::optional<std::string> decoded = k8s::internal::Base64Decode(first);
  ASSERT_TRUE(decoded.has_value()) << first;
  EXPECT_EQ(decoded->size(), 32u) << *decoded;
  EXPECT_EQ(decoded->find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                       "0123456789-_"),
            std::string::npos)
      << *decoded;

  ASSERT_EQ(Capture(DeployCommand, Options("ha-try", {"storage"}), &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("secret/sparkplane-postgres unchanged (exists: its generated "
                             "password is kept"));
  EXPECT_THAT(out, Not(HasSubstr(" created")));
  EXPECT_EQ(password(), first);

  ASSERT_EQ(Kube(cluster(), "DELETE", secret_path).status, 200);
  ASSERT_EQ(Capture(DeployCommand, Options("ha-try", {"storage"}), &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("secret/sparkplane-postgres created with a random password"));
  const std::string second = password();
  EXPECT_FALSE(second.empty());
  EXPECT_NE(second, first);

  // The claim of the StatefulSet's volumeClaimTemplates carries the storage label.
  bool claimed = false;
  for (int i = 0; i < 300 && !claimed; ++i) {
    for (const json& pvc : Managed(ns, "PersistentVolumeClaim")) {
      claimed |= pvc["metadata"]["name"] == "data-sparkplane-postgres-0";
    }
    if (!claimed) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_TRUE(claimed) << "no claim data-sparkplane-postgres-0 with the storage label";

  ASSERT_EQ(Capture(UndeployCommand, Options("ha-try", {"storage"}), &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("secret/sparkplane-postgres deleted"));
  EXPECT_THAT(out, HasSubstr("statefulset.apps/sparkplane-postgres deleted"));
  EXPECT_TRUE(Snapshot(ns).empty());
}

// Without --kubeconfig and --namespace, deploy takes them from sparkplane.yaml as the cluster
// commands do (issue 15.5).
TEST_F(DeployTest, KubeconfigAndNamespaceComeFromSparkplaneYaml) {
  sp::testing::TempDir data;
  sp::testing::WriteFile(data.path() + "/sparkplane.yaml",
                         "kubeconfig: " + cluster().kubeconfig + "\nnamespace: " + Ns() + "\n");
  GlobalOptions g;
  g.config.data_dir = data.path();
  DeployOptions o;
  o.components = {"scheduler"};
  o.dry_run = true;
  ::testing::internal::CaptureStdout();
  int rc = DeployCommand(g, o);
  std::string out = ::testing::internal::GetCapturedStdout();
  EXPECT_EQ(rc, 0) << out;
  EXPECT_THAT(out, HasSubstr("checked scheduler to namespace " + Ns()));
}

// A dry run cannot create the namespace, so it cannot check what goes in it: that is an error,
// not a success with objects "skipped" (issue 15.5).
TEST_F(DeployTest, ADryRunIntoAMissingNamespaceFails) {
  DeployOptions o = Options("single-node");
  o.namespace_name = Ns() + "-missing";
  o.dry_run = true;
  GlobalOptions g;
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  int rc = DeployCommand(g, o);
  std::string out = ::testing::internal::GetCapturedStdout();
  std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(rc, 0) << out;
  EXPECT_THAT(out, HasSubstr("namespace/" + o.namespace_name + " would be created"));
  EXPECT_THAT(err, AllOf(HasSubstr("namespace " + o.namespace_name + " does not exist, so "),
                         HasSubstr("objects could not be checked; deploy without --dry-run "
                                   "creates it")));
  EXPECT_EQ(Kube(cluster(), "GET", "/api/v1/namespaces/" + o.namespace_name).status, 404);
}

TEST_F(DeployTest, DeployTwiceChangesNothingAndUndeployRemovesEverything) {
  const std::string ns = Ns();
  std::string out;
  ASSERT_EQ(Capture(DeployCommand, Options("single-node"), &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("deployment.apps/sparkplane-scheduler created"));
  EXPECT_THAT(out, HasSubstr("persistentvolume/sparkplane-state-" + ns + " created"));
  WaitUntilSettled(ns);
  std::map<std::string, json> first = Snapshot(ns);
  EXPECT_EQ(first.size(), 18u);
  for (const auto& [key, o] : first) {
    bool applied = false;
    for (const json& m : o["metadata"]["managedFields"]) {
      applied |= m["manager"] == "sparkplane" && m["operation"] == "Apply";
    }
    EXPECT_TRUE(applied) << key;
  }
  EXPECT_EQ(first["PersistentVolumeClaim/sparkplane-state"]["spec"]["volumeName"],
            "sparkplane-state-" + ns);

  ASSERT_EQ(Capture(DeployCommand, Options("single-node"), &out), 0) << out;
  EXPECT_THAT(out, Not(HasSubstr(" created")));
  EXPECT_THAT(out, Not(HasSubstr(" configured")));
  std::map<std::string, json> second = Snapshot(ns);
  ASSERT_EQ(second.size(), first.size());
  for (const auto& [key, before] : first) {
    const json& after = second[key];
    if (before["metadata"].contains("generation")) {
      EXPECT_EQ(after["metadata"]["generation"], before["metadata"]["generation"]) << key;
      EXPECT_EQ(after["spec"], before["spec"]) << key;
    } else {
      EXPECT_EQ(after["metadata"]["resourceVersion"], before["metadata"]["resourceVersion"]) << key;
    }
  }

  ASSERT_EQ(Capture(UndeployCommand, Options("single-node"), &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("undeployed storage, scheduler, history from namespace " + ns +
                             ": 18 objects gone"));
  EXPECT_TRUE(Snapshot(ns).empty());
  // The pods of the Deployments went first (foreground).
  KubeResponse pods = Kube(cluster(), "GET", "/api/v1/namespaces/" + ns + "/pods");
  EXPECT_TRUE(pods.Json()["items"].empty()) << pods.body;
}

TEST_F(DeployTest, FieldsAnotherManagerTookAreAConflictUnlessForced) {
  const std::string ns = Ns();
  std::string out;
  ASSERT_EQ(Capture(DeployCommand, Options("multi-node", {"scheduler"}), &out), 0) << out;
  // `kubectl scale --server-side` would do this: another field manager owns .spec.replicas.
  KubeResponse taken =
      Kube(cluster(), "PATCH",
           "/apis/apps/v1/namespaces/" + ns +
               "/deployments/sparkplane-scheduler?fieldManager=other-tool&force=true",
           R"({"apiVersion":"apps/v1","kind":"Deployment",)"
           R"("metadata":{"name":"sparkplane-scheduler"},"spec":{"replicas":2}})",
           "application/apply-patch+yaml");
  ASSERT_EQ(taken.status, 200) << taken.body;

  ::testing::internal::CaptureStderr();
  EXPECT_EQ(Capture(DeployCommand, Options("multi-node", {"scheduler"}), &out), 1);
  std::string errors = ::testing::internal::GetCapturedStderr();
  EXPECT_THAT(errors, HasSubstr("conflict with \"other-tool\""));
  EXPECT_THAT(errors, HasSubstr("(--force-conflicts takes the fields over)"));

  DeployOptions forced = Options("multi-node", {"scheduler"});
  forced.force_conflicts = true;
  ASSERT_EQ(Capture(DeployCommand, forced, &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("deployment.apps/sparkplane-scheduler configured"));
  KubeResponse d = Kube(cluster(), "GET",
                        "/apis/apps/v1/namespaces/" + ns + "/deployments/sparkplane-scheduler");
  EXPECT_EQ(d.Json()["spec"]["replicas"], 1);
}

TEST_F(DeployTest, SchedulerServiceAccountMayDoExactlyWhatTheBackendNeeds) {
  const std::string ns = Ns();
  std::string out;
  ASSERT_EQ(Capture(DeployCommand, Options("single-node", {"scheduler"}), &out), 0) << out;
  Result<k8s::KubeConfig> config = k8s::LoadKubeConfig(
      sp::testing::ServiceAccountKubeconfig(cluster(), ns, "sparkplane-scheduler"));
  ASSERT_TRUE(config.ok()) << config.status();
  RealClock clock;
  k8s::KubeClient scheduler(*config, clock);

  auto allowed = [&](const std::string& verb, const std::string& group, const std::string& resource,
                     const std::string& in_ns, const std::string& subresource = "") {
    json attributes = {{"verb", verb}, {"group", group}, {"resource", resource}};
    if (!in_ns.empty()) attributes["namespace"] = in_ns;
    if (!subresource.empty()) attributes["subresource"] = subresource;
    Result<json> review = scheduler.Create(k8s::ClusterRef(kSelfSubjectAccessReviews),
                                           {{"spec", {{"resourceAttributes", attributes}}}});
    EXPECT_TRUE(review.ok()) << review.status();
    return review.ok() && (*review)["status"].value("allowed", false);
  };
  // The RBAC authorizer learns of a new binding through an informer: give it a moment.
  for (int i = 0; i < 100 && !allowed("list", "", "pods", ns); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  // The verbs deploy/base/rbac.yaml grants, per resource, and the ones it must not (reading
  // every Secret; deleting what the garbage collector deletes); rbac_test.cc runs the backend
  // under the Role.
  struct Resource {
    std::string group, name, subresource;
    std::vector<std::string> granted;  // every other verb is refused
  };
  const std::vector<std::string> kAll = {"create", "get",    "list",   "watch",
                                         "patch",  "update", "delete", "deletecollection"};
  for (const Resource& r : std::vector<Resource>{
           {"", "configmaps", "", {"create", "get", "list", "watch", "patch", "delete"}},
           {"", "configmaps", "finalizers", {"update"}},
           {"", "secrets", "", {"create", "get"}},
           {"", "services", "", {"create", "patch", "list", "get"}},
           {"apps", "deployments", "", {"create", "patch", "list", "watch"}},
           {"networking.k8s.io", "networkpolicies", "", {"create", "patch"}},
           {"", "pods", "", {"create", "get", "list", "watch", "delete"}},
           {"", "events", "", {"list"}},
           {"", "persistentvolumeclaims", "", {"get"}},
           {"apps", "replicasets", "", {}}}) {
    const std::string what = r.name + (r.subresource.empty() ? "" : "/" + r.subresource);
    for (const std::string& verb : kAll) {
      bool granted = std::find(r.granted.begin(), r.granted.end(), verb) != r.granted.end();
      if (r.subresource.empty() || granted) {
        EXPECT_EQ(allowed(verb, r.group, r.name, ns, r.subresource), granted)
            << verb << " " << what;
      }
    }
    if (!r.granted.empty()) {
      EXPECT_FALSE(allowed(r.granted.front(), r.group, r.name, "default", r.subresource))
          << what << " in default";
    }
  }
  EXPECT_FALSE(allowed("list", "", "nodes", ""));
  EXPECT_FALSE(allowed("get", "", "secrets", "default"));
  EXPECT_FALSE(allowed("create", "", "namespaces", ""));
  EXPECT_FALSE(allowed("create", "", "pods", ns, "exec"));
  EXPECT_FALSE(allowed("create", "apps", "deployments", "default"));
  EXPECT_FALSE(allowed("list", "", "persistentvolumes", ""));
  EXPECT_FALSE(allowed("create", "rbac.authorization.k8s.io", "roles", ns));
  EXPECT_FALSE(allowed("get", "", "serviceaccounts", ns, "token"));

  // Real requests agree with the reviews.
  EXPECT_TRUE(scheduler.List(k8s::Ref(k8s::kPods, ns)).ok());
  EXPECT_EQ(scheduler.List(k8s::ClusterRef(k8s::kNamespaces)).status().code(),
            StatusCode::kPermissionDenied);
  // The scheduler cannot deploy (or even dry-run) Sparkplane itself: no PersistentVolumes.
  DeployOptions as_scheduler = Options("single-node", {"storage"});
  as_scheduler.kubeconfig =
      sp::testing::ServiceAccountKubeconfig(cluster(), ns, "sparkplane-scheduler");
  as_scheduler.dry_run = true;
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(Capture(DeployCommand, as_scheduler, &out), 1);
  std::string errors = ::testing::internal::GetCapturedStderr();
  EXPECT_THAT(errors, HasSubstr("forbidden"));
  EXPECT_THAT(errors, HasSubstr("persistentvolumes"));
}

TEST_F(DeployTest, ServicesListsEveryExposedServiceWithAUrl) {
  const std::string ns = Ns();
  std::string out;
  ASSERT_EQ(Capture(DeployCommand, Options("multi-node", {"scheduler", "history"}), &out), 0)
      << out;
  KubeResponse ui = Kube(cluster(), "GET", "/api/v1/namespaces/" + ns + "/services/sparkplane-ui");
  ASSERT_EQ(ui.status, 200) << ui.body;
  const int ui_port = ui.Json()["spec"]["ports"][0]["nodePort"];
  KubeResponse history =
      Kube(cluster(), "GET", "/api/v1/namespaces/" + ns + "/services/sparkplane-spark-history");
  const int history_port = history.Json()["spec"]["ports"][0]["nodePort"];
  KubeResponse driver =
      Kube(cluster(), "GET", "/api/v1/namespaces/" + ns + "/services/sparkplane-driver");
  const std::string driver_ip = driver.Json()["spec"]["clusterIP"];
  std::set<std::string> node_ips;
  const json nodes = Kube(cluster(), "GET", "/api/v1/nodes").Json();
  for (const json& node : nodes["items"]) {
    for (const json& a : node["status"]["addresses"]) {
      if (a["type"] == "InternalIP" || a["type"] == "ExternalIP") node_ips.insert(a["address"]);
    }
  }
  ASSERT_FALSE(node_ips.empty());

  DeployOptions o = Options("multi-node");
  ASSERT_EQ(Capture(ServicesCommand, o, &out, /*json_output=*/true), 0) << out;
  json rows = json::parse(out, nullptr, false);
  ASSERT_TRUE(rows.is_array()) << out;
  std::map<std::string, std::string> url_of;
  for (const json& r : rows)
    url_of[r["name"].get<std::string>() + " " + r["type"].get<std::string>()] = r["url"];
  auto host_of = [](const std::string& url, const std::string& scheme) {
    std::string rest = url.substr(scheme.size());
    return rest.substr(0, rest.find(':'));
  };
  const std::string ui_url = url_of["sparkplane-ui NodePort"];
  EXPECT_THAT(ui_url, ::testing::EndsWith(":" + std::to_string(ui_port)));
  EXPECT_EQ(node_ips.count(host_of(ui_url, "http://")), 1u) << ui_url;
  const std::string history_url = url_of["sparkplane-spark-history NodePort"];
  EXPECT_EQ(history_url,
            "http://" + host_of(ui_url, "http://") + ":" + std::to_string(history_port));
  EXPECT_EQ(url_of["sparkplane-driver ClusterIP"], driver_ip + ":7078");
  EXPECT_THAT(url_of["sparkplane-blockmanager ClusterIP"], ::testing::EndsWith(":7079"));
  EXPECT_EQ(url_of["sparkplane-ui Ingress"], "http://sparkplane.example.com/");
  EXPECT_EQ(url_of["sparkplane-spark-history Ingress"], "http://spark-history.example.com/");

  ASSERT_EQ(Capture(ServicesCommand, o, &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("REACHABLE FROM"));
  EXPECT_THAT(out, HasSubstr(ui_url));

  ASSERT_EQ(Capture(UndeployCommand, Options("multi-node", {"all"}), &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("ingress.networking.k8s.io/sparkplane-ui deleted"));
  EXPECT_TRUE(Snapshot(ns).empty());
  ASSERT_EQ(Capture(ServicesCommand, o, &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("no services in namespace " + ns));
}

}  // namespace
}  // namespace sp::cli
