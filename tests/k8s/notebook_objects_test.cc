// The manifests of a notebook on Kubernetes (k8s/notebook_objects.h): names, ownership and
// labels, the tokens only in the Secret (the pod refers to them), Connect on the pod's loopback
// against the cluster's master, the kernels' SPARK_REMOTE, the idle settings, the hardening, the
// Service and the NetworkPolicy's peers and ports, validation, and reading a pod back
// (kubernetes_notebooks.h). What the API server does with them is tested in
// tests/integration/k8s/notebook_k8s_test.cc.
#include "k8s/notebook_objects.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "k8s/internal/text.h"
#include "k8s/k8s_test_util.h"
#include "k8s/kubernetes_notebooks.h"

namespace sp::k8s {
namespace {

using nlohmann::json;
using sp::k8s::testing::StatusIs;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string kJupyterToken(64, 'j');
const std::string kConnectToken(64, 'c');

NotebookSpec Spec() {
  NotebookSpec spec;
  spec.name = "explore";
  spec.cluster = "notebook-explore";
  spec.namespace_name = "spark";
  spec.idle_timeout = Millis(30 * 60 * 1000);
  return spec;
}

const json kOwner = OwnerReference("sparkplane-cluster-notebook-explore", "uid-1");

const json& ContainerNamed(const json& pod, const std::string& name) {
  for (const json& c : pod["spec"]["containers"]) {
    if (c["name"] == name) return c;
  }
  static const json kNone;
  ADD_FAILURE() << "no container " << name;
  return kNone;
}

std::vector<std::string> Strings(const json& array) {
  std::vector<std::string> out;
  for (const json& v : array) out.push_back(v.get<std::string>());
  return out;
}

json EnvNamed(const json& container, const std::string& name) {
  for (const json& e : container["env"]) {
    if (e["name"] == name) return e;
  }
  return json();
}

TEST(NotebookObjectsTest, NamesFollowTheClusterBase) {
  NotebookNames n = NotebookNames::For("notebook-explore");
  EXPECT_EQ(n.pod, "sparkplane-notebook-explore-notebook");
  EXPECT_EQ(n.secret, n.pod);
  EXPECT_EQ(n.network_policy, n.pod);
  EXPECT_EQ(n.jupyter_service, "sparkplane-notebook-explore-jupyter");
  // The longest notebook name (40) still gives DNS labels.
  NotebookNames longest = NotebookNames::For("notebook-" + std::string(40, 'a'));
  EXPECT_LE(longest.pod.size(), 63u);
  EXPECT_LE(longest.jupyter_service.size(), 63u);
  EXPECT_EQ(JupyterServiceUrl(Spec()),
            "http://sparkplane-notebook-explore-jupyter.spark.svc:8888/lab");
}

TEST(NotebookObjectsTest, EveryObjectIsOwnedByTheParentAndLabelledForTheCluster) {
  const NotebookSpec spec = Spec();
  for (const json& o : {BuildNotebookSecret(spec, kOwner, kJupyterToken, kConnectToken),
                        BuildNotebookPod(spec, kOwner), BuildJupyterService(spec, kOwner),
                        BuildNotebookNetworkPolicy(spec, kOwner)}) {
    SCOPED_TRACE(o["kind"].get<std::string>());
    EXPECT_EQ(o["metadata"]["namespace"], "spark");
    EXPECT_EQ(o["metadata"]["ownerReferences"], json::array({kOwner}));
    EXPECT_EQ(o["metadata"]["labels"][kClusterLabel], "notebook-explore");
    EXPECT_EQ(o["metadata"]["labels"][kNotebookLabel], "explore");
    EXPECT_EQ(o["metadata"]["labels"][kManagedByLabel], "sparkplane");
    EXPECT_EQ(o["metadata"]["annotations"][kNotebookAnnotation], "explore");
    EXPECT_EQ(o["metadata"]["annotations"][kClusterNameAnnotation], "notebook-explore");
  }
  EXPECT_TRUE(kOwner["controller"].get<bool>());
  EXPECT_TRUE(kOwner["blockOwnerDeletion"].get<bool>());
}

TEST(NotebookObjectsTest, TheTokensAreOnlyInTheSecret) {
  const NotebookSpec spec = Spec();
  json secret = BuildNotebookSecret(spec, kOwner, kJupyterToken, kConnectToken);
  EXPECT_EQ(secret["type"], "Opaque");
  EXPECT_TRUE(secret["immutable"].get<bool>());
  EXPECT_EQ(internal::Base64Decode(secret["data"][kJupyterTokenKey].get<std::string>()),
            kJupyterToken);
  EXPECT_EQ(internal::Base64Decode(secret["data"][kConnectTokenKey].get<std::string>()),
            kConnectToken);
  EXPECT_THAT(secret["metadata"].dump(), Not(HasSubstr(kJupyterToken)));

  json pod = BuildNotebookPod(spec, kOwner);
  std::string text = pod.dump() + BuildJupyterService(spec, kOwner).dump() +
                     BuildNotebookNetworkPolicy(spec, kOwner).dump();
  EXPECT_THAT(text, Not(HasSubstr(kJupyterToken)));
  EXPECT_THAT(text, Not(HasSubstr(kConnectToken)));
  const json ref = [](const std::string& key) {
    return json{{"secretKeyRef", {{"name", "sparkplane-notebook-explore-notebook"}, {"key", key}}}};
  }(kJupyterTokenKey);
  EXPECT_EQ(EnvNamed(ContainerNamed(pod, "jupyter"), "JUPYTER_TOKEN")["valueFrom"], ref);
  for (const char* c : {"jupyter", "spark-connect"}) {
    EXPECT_EQ(EnvNamed(ContainerNamed(pod, c),
                       "SPARK_CONNECT_AUTHENTICATE_TOKEN")["valueFrom"]["secretKeyRef"]["key"],
              kConnectTokenKey)
        << c;
  }
}

TEST(NotebookObjectsTest, ConnectListensOnLoopbackAgainstTheClustersMaster) {
  json pod = BuildNotebookPod(Spec(), kOwner);
  const json& connect = ContainerNamed(pod, "spark-connect");
  EXPECT_EQ(connect["image"], kDefaultSparkImage);
  EXPECT_EQ(connect["command"][0], "/bin/bash");
  std::vector<std::string> args = Strings(connect["args"]);
  ASSERT_FALSE(args.empty());
  EXPECT_EQ(args[0], "/opt/spark/bin/spark-submit");
  EXPECT_THAT(args, Contains("org.apache.spark.sql.connect.service.SparkConnectServer"));
  EXPECT_THAT(args, Contains("spark://sparkplane-notebook-explore-master.spark.svc:7077"));
  EXPECT_THAT(args, Contains("spark.connect.grpc.binding.address=127.0.0.1"));
  EXPECT_THAT(args, Contains("spark.connect.grpc.binding.port=15002"));
  EXPECT_THAT(args, Contains("spark.driver.host=$(POD_IP)"));
  EXPECT_THAT(args, Contains("spark.driver.port=7078"));
  EXPECT_THAT(args, Contains("spark.blockManager.port=7079"));
  EXPECT_THAT(args, Contains("spark.eventLog.dir=file:/sparkplane/history/spark"));
  // The script never uses $(...), which Kubernetes would expand itself.
  EXPECT_THAT(connect["command"][2].get<std::string>(), Not(HasSubstr("$(")));
  EXPECT_THAT(connect["command"][2].get<std::string>(), HasSubstr("/dev/tcp/127.0.0.1/8888"));

  const json& jupyter = ContainerNamed(pod, "jupyter");
  EXPECT_EQ(jupyter["image"], kDefaultNotebookImage);
  EXPECT_EQ(EnvNamed(jupyter, "SPARK_REMOTE")["value"], "sc://localhost:15002");
  std::vector<std::string> jargs = Strings(jupyter["args"]);
  EXPECT_THAT(jargs, Contains("--ServerApp.ip=0.0.0.0"));
  EXPECT_THAT(jargs, Contains("--ServerApp.port=8888"));
  EXPECT_THAT(jargs, Contains("--ServerApp.shutdown_no_activity_timeout=1800"));
  EXPECT_THAT(jargs, Contains("--MappingKernelManager.cull_idle_timeout=1800"));
}

TEST(NotebookObjectsTest, WithoutAnIdleTimeoutJupyterNeverStopsByItself) {
  NotebookSpec spec = Spec();
  spec.idle_timeout = Millis(0);
  spec.history_pvc = "";
  json pod = BuildNotebookPod(spec, kOwner);
  for (const std::string& a : Strings(ContainerNamed(pod, "jupyter")["args"])) {
    EXPECT_THAT(a, Not(HasSubstr("shutdown_no_activity_timeout")));
    EXPECT_THAT(a, Not(HasSubstr("cull_idle_timeout")));
  }
  EXPECT_THAT(pod.dump(), Not(HasSubstr("spark-history")));
  EXPECT_THAT(pod.dump(), Not(HasSubstr("spark.eventLog")));
}

TEST(NotebookObjectsTest, ThePodIsHardenedAndEndsInsteadOfRestarting) {
  json pod = BuildNotebookPod(Spec(), kOwner);
  EXPECT_EQ(pod["kind"], "Pod");
  EXPECT_EQ(pod["metadata"]["name"], "sparkplane-notebook-explore-notebook");
  EXPECT_EQ(pod["metadata"]["labels"][kComponentLabel], kNotebookComponent);
  const json& s = pod["spec"];
  EXPECT_EQ(s["restartPolicy"], "Never");
  EXPECT_FALSE(s["automountServiceAccountToken"].get<bool>());
  EXPECT_FALSE(s["enableServiceLinks"].get<bool>());
  EXPECT_TRUE(s["securityContext"]["runAsNonRoot"].get<bool>());
  for (const json& c : s["containers"]) {
    SCOPED_TRACE(c["name"].get<std::string>());
    EXPECT_TRUE(c["securityContext"]["readOnlyRootFilesystem"].get<bool>());
    EXPECT_FALSE(c["securityContext"]["allowPrivilegeEscalation"].get<bool>());
    EXPECT_EQ(c["securityContext"]["capabilities"]["drop"], json::array({"ALL"}));
    EXPECT_TRUE(c.contains("readinessProbe"));
    EXPECT_EQ(c["resources"]["limits"].is_object(), true);
  }
  EXPECT_EQ(ContainerNamed(pod, "spark-connect")["securityContext"]["runAsUser"], kSparkUid);
  EXPECT_EQ(ContainerNamed(pod, "jupyter")["securityContext"]["runAsUser"], kJupyterUid);
  bool home = false;
  for (const json& v : s["volumes"]) {
    if (v["name"] == "home") home = v["emptyDir"]["sizeLimit"] == "10Gi";
  }
  EXPECT_TRUE(home) << s["volumes"].dump();
}

TEST(NotebookObjectsTest, TheServiceSelectsTheNotebookPod) {
  NotebookSpec spec = Spec();
  json svc = BuildJupyterService(spec, kOwner);
  EXPECT_EQ(svc["spec"]["type"], "ClusterIP");
  EXPECT_EQ(svc["spec"]["ports"][0]["name"], "http");
  EXPECT_EQ(svc["spec"]["ports"][0]["port"], kJupyterPort);
  json labels = BuildNotebookPod(spec, kOwner)["metadata"]["labels"];
  for (const auto& [k, v] : svc["spec"]["selector"].items()) EXPECT_EQ(labels[k], v) << k;
  spec.jupyter_node_port = true;
  EXPECT_EQ(BuildJupyterService(spec, kOwner)["spec"]["type"], "NodePort");
}

TEST(NotebookObjectsTest, TheNetworkPolicyAdmitsJupyterFromTheNamespaceAndExecutorsToTheDriver) {
  NotebookSpec spec = Spec();
  json np = BuildNotebookNetworkPolicy(spec, kOwner);
  EXPECT_EQ(np["spec"]["podSelector"]["matchLabels"][kComponentLabel], kNotebookComponent);
  EXPECT_EQ(np["spec"]["policyTypes"], json::array({"Ingress"}));
  const json& ingress = np["spec"]["ingress"];
  ASSERT_EQ(ingress.size(), 2u);
  EXPECT_EQ(ingress[0]["from"], json::parse(R"([{"podSelector":{}}])"));
  EXPECT_EQ(ingress[0]["ports"], json::parse(R"([{"protocol":"TCP","port":8888}])"));
  EXPECT_EQ(ingress[1]["from"][0]["podSelector"]["matchLabels"][kClusterLabel], "notebook-explore");
  EXPECT_EQ(ingress[1]["ports"],
            json::parse(R"([{"protocol":"TCP","port":7078},{"protocol":"TCP","port":7079}])"));
  // Connect's port is admitted from nowhere: it listens on the pod's loopback only.
  EXPECT_THAT(np.dump(), Not(HasSubstr("15002")));
  spec.jupyter_node_port = true;
  json open = BuildNotebookNetworkPolicy(spec, kOwner);
  EXPECT_FALSE(open["spec"]["ingress"][0].contains("from"));
}

TEST(NotebookObjectsTest, ValidationNamesTheField) {
  NotebookSpec spec = Spec();
  EXPECT_TRUE(ValidateNotebookSpec(spec).ok());
  spec.notebook_image = "bad image";
  EXPECT_THAT(ValidateNotebookSpec(spec),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("notebook_image")));
  spec = Spec();
  spec.namespace_name = "";
  EXPECT_THAT(ValidateNotebookSpec(spec),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("namespace")));
  spec = Spec();
  spec.notebook_scratch = "10g";
  EXPECT_THAT(ValidateNotebookSpec(spec),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("notebook_scratch")));
  spec = Spec();
  spec.driver_memory = "lots";
  EXPECT_THAT(ValidateNotebookSpec(spec),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("driver_memory")));
}

TEST(NotebookObjectsTest, APodReadsBackAsItsNotebook) {
  json pod = BuildNotebookPod(Spec(), kOwner);
  pod["metadata"]["creationTimestamp"] = "2026-12-04T10:00:00Z";
  pod["status"] =
      json::parse(R"({"phase":"Running","conditions":[{"type":"Ready","status":"True"}]})");
  KubeNotebook n = NotebookFromPod(pod);
  EXPECT_EQ(n.name, "explore");
  EXPECT_EQ(n.cluster, "notebook-explore");
  EXPECT_EQ(n.service, "sparkplane-notebook-explore-jupyter");
  EXPECT_EQ(n.phase, "Running");
  EXPECT_TRUE(n.ready);
  EXPECT_FALSE(n.deleting);
  EXPECT_TRUE(n.created.has_value());
  pod["status"]["conditions"][0]["status"] = "False";
  pod["metadata"]["deletionTimestamp"] = "2026-12-04T10:05:00Z";
  n = NotebookFromPod(pod);
  EXPECT_FALSE(n.ready);
  EXPECT_TRUE(n.deleting);
}

}  // namespace
}  // namespace sp::k8s
