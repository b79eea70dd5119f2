// `sparkplane notebook start|list|stop --backend kubernetes` as a user runs it, against a real
// control plane (k8s_testenv.h): the notebook's pod, Service, Secret and NetworkPolicy exist,
// owned by the cluster's parent; the tokens are in the Secret only; `notebook list` and
// `services` show the notebook; `notebook stop` deletes the parent and the garbage collector the
// rest; a start that fails half-way leaves nothing behind; and the cluster sweep, with no
// scheduler running, takes a notebook past its max age with its cluster (issue 14).
//
// kwok plays the kubelet: no container runs, so Jupyter and Spark Connect never start here, and
// kwok marks the scheduled pod Running and Ready regardless of its probes. "Ready" means
// Kubernetes scheduled the pod Sparkplane asked for; what runs inside is not exercised.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <thread>

#include "common/clock.h"
#include "integration/harness.h"
#include "integration/k8s/k8s_testenv.h"
#include "k8s/internal/text.h"
#include "k8s/notebook_objects.h"
#include "k8s/resource.h"
#include "k8s/spark_cluster_objects.h"

namespace sp::k8s {
namespace {

using nlohmann::json;
using sp::testing::CommandResult;
using sp::testing::Kube;
using sp::testing::KubeResponse;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

class NotebookK8sTest : public sp::testing::K8sTest {
 protected:
  // The test's namespace with the bound event-log claim every cluster pod (and the notebook
  // pod) mounts, and a sparkplane.yaml in the data dir that points there.
  void SetUp() override {
    sp::testing::K8sTest::SetUp();
    ns_ = Namespace();
    pv_ = sp::testing::BoundClaim(cluster(), ns_, kDefaultHistoryPvc);
    sp::testing::WriteFile(data_.path() + "/sparkplane.yaml",
                           "kubeconfig: " + cluster().kubeconfig + "\nnamespace: " + ns_ + "\n");
  }

  void TearDown() override {
    Kube(cluster(), "DELETE", "/api/v1/persistentvolumes/" + pv_);
    sp::testing::K8sTest::TearDown();
  }

  CommandResult Run(std::vector<std::string> args) {
    return sp::testing::Sparkplane(data_.path(), std::move(args));
  }

  json Get(const std::string& path) {
    KubeResponse r = Kube(cluster(), "GET", path);
    return r.status == 200 ? r.Json() : json();
  }

  std::vector<json> Items(const std::string& group_path, const std::string& plural,
                          const std::string& selector = "") {
    std::string path = group_path + "/namespaces/" + ns_ + "/" + plural;
    if (!selector.empty()) path += "?labelSelector=" + EscapeQueryValue(selector);
    json body = Get(path);
    std::vector<json> out;
    if (body.is_object() && body["items"].is_array()) {
      for (const json& item : body["items"]) out.push_back(item);
    }
    return out;
  }

  // Every object of the notebook's cluster still present (terminating included).
  std::vector<std::string> Leftovers(const std::string& cluster_name) {
    std::string selector = ClusterSelector(SparkClusterNames::For(cluster_name));
    std::vector<std::string> left;
    for (const auto& [group, plural] :
         {std::pair<std::string, std::string>{"/api/v1", "configmaps"},
          {"/apis/apps/v1", "deployments"},
          {"/apis/apps/v1", "replicasets"},
          {"/api/v1", "pods"},
          {"/api/v1", "services"},
          {"/api/v1", "secrets"},
          {"/apis/networking.k8s.io/v1", "networkpolicies"}}) {
      for (const json& item : Items(group, plural, selector)) {
        left.push_back(plural + "/" + item["metadata"]["name"].get<std::string>());
      }
    }
    return left;
  }

  // Waits up to `seconds` for the cluster's objects to be gone (background deletion).
  std::vector<std::string> LeftoversAfter(const std::string& cluster_name, int seconds) {
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    std::vector<std::string> left = Leftovers(cluster_name);
    while (!left.empty() && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
      left = Leftovers(cluster_name);
    }
    return left;
  }

  std::string ns_;
  std::string pv_;
  sp::testing::TempDir data_;
};

TEST_F(NotebookK8sTest, StartMakesOwnedObjectsListAndServicesShowThemStopDeletesEverything) {
  CommandResult started =
      Run({"--json", "notebook", "start", "nb1", "--backend", "kubernetes", "--workers", "1",
           "--idle-timeout", "30m", "--ready-timeout", "60s"});
  ASSERT_EQ(started.exit_code, 0) << started.out << started.err;
  json out = started.Json();
  ASSERT_TRUE(out.is_object()) << started.out;
  EXPECT_EQ(out["namespace"], ns_);
  EXPECT_EQ(out["cluster"], "notebook-nb1");
  EXPECT_EQ(out["url"], "http://sparkplane-notebook-nb1-jupyter." + ns_ + ".svc:8888/lab");
  EXPECT_EQ(out["port_forward"],
            "kubectl port-forward -n " + ns_ + " svc/sparkplane-notebook-nb1-jupyter 8888:8888");
  const std::string local_url = out["local_url"].get<std::string>();
  const size_t at = local_url.find("?token=");
  ASSERT_NE(at, std::string::npos) << local_url;
  const std::string token = local_url.substr(at + 7);
  ASSERT_EQ(token.size(), 64u) << local_url;

  // The cluster's parent, with the lifetime the sweep enforces: the max age (cluster_max_age)
  // and an idle timeout of the ready timeout plus a minute.
  const NotebookNames names = NotebookNames::For("notebook-nb1");
  const std::string parent_name = SparkClusterNames::For("notebook-nb1").parent;
  json parent = Get("/api/v1/namespaces/" + ns_ + "/configmaps/" + parent_name);
  ASSERT_TRUE(parent.is_object()) << parent_name;
  const std::string uid = parent["metadata"]["uid"].get<std::string>();
  EXPECT_TRUE(parent["metadata"]["annotations"].contains(kDeadlineAnnotation));
  EXPECT_EQ(parent["metadata"]["annotations"][kIdleTimeoutAnnotation], "120s");

  // Each object exists, is owned by the parent (blocking its deletion), and is labelled for the
  // notebook.
  struct Object {
    std::string path;
    std::string kind;
  };
  const std::string base = "/namespaces/" + ns_;
  for (const Object& o :
       {Object{"/api/v1" + base + "/pods/" + names.pod, "Pod"},
        Object{"/api/v1" + base + "/services/" + names.jupyter_service, "Service"},
        Object{"/api/v1" + base + "/secrets/" + names.secret, "Secret"},
        Object{"/apis/networking.k8s.io/v1" + base + "/networkpolicies/" + names.network_policy,
               "NetworkPolicy"}}) {
    SCOPED_TRACE(o.kind);
    json object = Get(o.path);
    ASSERT_TRUE(object.is_object()) << o.path;
    const json& owners = object["metadata"]["ownerReferences"];
    ASSERT_EQ(owners.size(), 1u) << owners.dump();
    EXPECT_EQ(owners[0]["uid"], uid);
    EXPECT_EQ(owners[0]["kind"], "ConfigMap");
    EXPECT_EQ(owners[0]["blockOwnerDeletion"], true);
    EXPECT_EQ(object["metadata"]["labels"][kNotebookLabel], "nb1");
  }

  // `notebook start` waited for the pod's Ready condition.
  json pod = Get("/api/v1" + base + "/pods/" + names.pod);
  bool ready = false;
  for (const json& c : pod["status"]["conditions"]) {
    if (c["type"] == "Ready") ready = c["status"] == "True";
  }
  EXPECT_TRUE(ready) << pod["status"].dump();
  EXPECT_EQ(pod["spec"]["restartPolicy"], "Never");

  // The token is in the Secret, and nowhere else: not in the pod (commands, args, env,
  // annotations), nor in any other object of the namespace, in clear or base64.
  json secret = Get("/api/v1" + base + "/secrets/" + names.secret);
  EXPECT_EQ(internal::Base64Decode(secret["data"][kJupyterTokenKey].get<std::string>()), token);
  const std::string encoded = internal::Base64Encode(token);
  EXPECT_THAT(pod.dump(), AllOf(Not(HasSubstr(token)), Not(HasSubstr(encoded))));
  for (const auto& [group, plural] : {std::pair<std::string, std::string>{"/api/v1", "pods"},
                                      {"/api/v1", "configmaps"},
                                      {"/api/v1", "services"},
                                      {"/api/v1", "events"},
                                      {"/apis/apps/v1", "deployments"},
                                      {"/apis/networking.k8s.io/v1", "networkpolicies"}}) {
    for (const json& item : Items(group, plural)) {
      EXPECT_THAT(item.dump(), AllOf(Not(HasSubstr(token)), Not(HasSubstr(encoded))))
          << plural << "/" << item["metadata"]["name"];
    }
  }

  // `notebook list` shows it (without the token).
  CommandResult list = Run({"--json", "notebook", "list", "--backend", "kubernetes"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  ASSERT_EQ(list.Json().size(), 1u) << list.out;
  EXPECT_EQ(list.Json()[0]["name"], "nb1");
  EXPECT_EQ(list.Json()[0]["backend"], "kubernetes");
  EXPECT_EQ(list.Json()[0]["state"], "ready");
  EXPECT_EQ(list.Json()[0]["url"], out["url"]);
  EXPECT_THAT(list.out, Not(HasSubstr(token)));
  CommandResult table = Run({"notebook", "list", "--backend", "kubernetes"});
  EXPECT_THAT(table.out, AllOf(HasSubstr("nb1"), HasSubstr("kubernetes " + ns_)));

  // `services` prints the notebook's page and how to reach it from here.
  CommandResult services =
      Run({"--json", "services", "--namespace", ns_, "--kubeconfig", cluster().kubeconfig});
  ASSERT_EQ(services.exit_code, 0) << services.err;
  bool shown = false;
  for (const json& row : services.Json()) {
    if (row["name"] != names.jupyter_service) continue;
    shown = true;
    EXPECT_THAT(row["url"].get<std::string>(), AllOf(HasSubstr(":8888/lab")));
    EXPECT_THAT(row["reachable"].get<std::string>(),
                HasSubstr("kubectl port-forward -n " + ns_ + " svc/" + names.jupyter_service +
                          " 8888:8888"));
  }
  EXPECT_TRUE(shown) << services.out;

  // A second start of the same notebook is refused and leaves the first alone.
  CommandResult again = Run({"notebook", "start", "nb1", "--backend", "kubernetes"});
  EXPECT_NE(again.exit_code, 0);
  EXPECT_TRUE(Get("/api/v1" + base + "/pods/" + names.pod).is_object());

  // Stop: the parent goes in the foreground, the garbage collector removes the rest.
  CommandResult stopped = Run({"notebook", "stop", "nb1", "--backend", "kubernetes"});
  ASSERT_EQ(stopped.exit_code, 0) << stopped.out << stopped.err;
  EXPECT_THAT(stopped.out, HasSubstr("notebook nb1 stopped"));
  EXPECT_FALSE(Get("/api/v1/namespaces/" + ns_ + "/configmaps/" + parent_name).is_object());
  EXPECT_THAT(LeftoversAfter("notebook-nb1", 30), IsEmpty());
  EXPECT_EQ(Run({"--json", "notebook", "list", "--backend", "kubernetes"}).Json(), json::array());
  CommandResult clusters = Run({"--json", "cluster", "list"});
  EXPECT_EQ(clusters.Json().size(), 0u) << clusters.out;
  CommandResult twice = Run({"notebook", "stop", "nb1", "--backend", "kubernetes"});
  EXPECT_NE(twice.exit_code, 0);
  EXPECT_THAT(twice.err, HasSubstr("no notebook named 'nb1' runs in namespace " + ns_));
}

// The notebook's Secret cannot be made (a Secret of that name is already there, and is never
// overwritten): the cluster had been created, and is deleted with everything it owned.
TEST_F(NotebookK8sTest, AStartThatFailsHalfWayLeavesNothingBehind) {
  const NotebookNames names = NotebookNames::For("notebook-nb2");
  KubeResponse made = Kube(cluster(), "POST", "/api/v1/namespaces/" + ns_ + "/secrets",
                           json{{"apiVersion", "v1"},
                                {"kind", "Secret"},
                                {"metadata", {{"name", names.secret}}},
                                {"stringData", {{"mine", "keep me"}}}}
                               .dump());
  ASSERT_EQ(made.status, 201) << made.body;

  CommandResult started =
      Run({"notebook", "start", "nb2", "--backend", "kubernetes", "--ready-timeout", "60s"});
  EXPECT_NE(started.exit_code, 0);
  EXPECT_THAT(started.err, AllOf(HasSubstr("creating secret " + names.secret),
                                 HasSubstr("the notebook's cluster was deleted")));
  // The cluster had been made before the failure.
  EXPECT_THAT(started.err, HasSubstr("ready at spark://sparkplane-notebook-nb2-master"));
  EXPECT_THAT(LeftoversAfter("notebook-nb2", 30), IsEmpty());
  for (const std::string& path :
       {"/api/v1/namespaces/" + ns_ + "/pods/" + names.pod,
        "/api/v1/namespaces/" + ns_ + "/services/" + names.jupyter_service,
        "/apis/networking.k8s.io/v1/namespaces/" + ns_ + "/networkpolicies/" +
            names.network_policy}) {
    EXPECT_FALSE(Get(path).is_object()) << path;
  }
  json secret = Get("/api/v1/namespaces/" + ns_ + "/secrets/" + names.secret);
  ASSERT_TRUE(secret.is_object());
  EXPECT_EQ(internal::Base64Decode(secret["data"]["mine"].get<std::string>()), "keep me");
  EXPECT_FALSE(secret["metadata"].contains("ownerReferences"));
  CommandResult clusters = Run({"--json", "cluster", "list"});
  EXPECT_EQ(clusters.Json().size(), 0u) << clusters.out;
}

// The notebook's max age is its cluster's deadline: `cluster sweep`, with no scheduler running,
// deletes the parent and the notebook goes with it.
TEST_F(NotebookK8sTest, TheSweepDeletesANotebookPastItsMaxAge) {
  CommandResult started = Run({"notebook", "start", "nb3", "--backend", "kubernetes", "--max-age",
                               "30s", "--ready-timeout", "60s"});
  ASSERT_EQ(started.exit_code, 0) << started.out << started.err;
  const NotebookNames names = NotebookNames::For("notebook-nb3");
  ASSERT_TRUE(Get("/api/v1/namespaces/" + ns_ + "/pods/" + names.pod).is_object());
  json parent = Get("/api/v1/namespaces/" + ns_ + "/configmaps/" +
                    SparkClusterNames::For("notebook-nb3").parent);
  std::optional<Time> deadline = internal::ParseRfc3339(
      parent["metadata"]["annotations"].value(kDeadlineAnnotation, std::string()));
  ASSERT_TRUE(deadline.has_value()) << parent["metadata"].dump();
  RealClock clock;
  ASSERT_LT(clock.Now(), *deadline) << "the start took longer than the max age";
  CommandResult early = Run({"cluster", "sweep"});
  ASSERT_EQ(early.exit_code, 0) << early.err;
  EXPECT_TRUE(Get("/api/v1/namespaces/" + ns_ + "/pods/" + names.pod).is_object());

  while (clock.Now() <= *deadline) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  CommandResult swept = Run({"cluster", "sweep"});
  ASSERT_EQ(swept.exit_code, 0) << swept.out << swept.err;
  EXPECT_THAT(swept.out + swept.err, HasSubstr("cluster 'notebook-nb3'"));
  EXPECT_THAT(LeftoversAfter("notebook-nb3", 30), IsEmpty());
  EXPECT_EQ(Run({"--json", "notebook", "list", "--backend", "kubernetes"}).Json(), json::array());
}

}  // namespace
}  // namespace sp::k8s
