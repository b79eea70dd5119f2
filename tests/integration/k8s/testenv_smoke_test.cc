// The test control plane itself (tests/k8s/testenv via k8s_testenv.h): it answers over TLS with
// both admin credentials, its kubeconfigs say what the fixture says, its fake nodes are Ready,
// and a Deployment gets Running pods on them.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <set>
#include <string>
#include <thread>

#include "integration/k8s/k8s_testenv.h"

namespace sp::testing {
namespace {

using ::testing::HasSubstr;

class TestenvSmokeTest : public K8sTest {};

TEST_F(TestenvSmokeTest, ServesTlsToTokenAndClientCertificate) {
  const K8sCluster& k8s = cluster();
  EXPECT_EQ(k8s.server, "https://127.0.0.1:" + std::to_string(k8s.port_base + 2));
  for (const std::string& f : {k8s.ca_file, k8s.admin_cert_file, k8s.admin_key_file, k8s.kubeconfig,
                               k8s.kubeconfig_embedded, k8s.kubeconfig_token}) {
    EXPECT_TRUE(std::filesystem::exists(f)) << f;
  }

  KubeResponse by_token = Kube(k8s, "GET", "/version");
  ASSERT_EQ(by_token.status, 200) << by_token.body;
  EXPECT_EQ(by_token.Json().value("gitVersion", ""), "v1.37.2") << by_token.body;

  KubeResponse by_cert = Kube(k8s, "GET", "/api/v1/namespaces/default", "", "application/json",
                              KubeAuth::kClientCertificate);
  EXPECT_EQ(by_cert.status, 200) << by_cert.body;

  // RBAC is on: without credentials a request is system:anonymous, which may read nothing.
  KubeResponse anonymous =
      Kube(k8s, "GET", "/api/v1/namespaces/default", "", "application/json", KubeAuth::kAnonymous);
  EXPECT_EQ(anonymous.status, 403) << anonymous.body;
  EXPECT_THAT(anonymous.body, HasSubstr("system:anonymous"));
}

TEST_F(TestenvSmokeTest, KubeconfigsCarryPathsOrInlineData) {
  const K8sCluster& k8s = cluster();
  std::string by_path = k8s_internal::ReadText(k8s.kubeconfig);
  EXPECT_THAT(by_path, HasSubstr("server: " + k8s.server));
  EXPECT_THAT(by_path, HasSubstr("certificate-authority: " + k8s.ca_file));
  EXPECT_THAT(by_path, HasSubstr("client-certificate: " + k8s.admin_cert_file));
  EXPECT_THAT(by_path, HasSubstr("client-key: " + k8s.admin_key_file));

  std::string embedded = k8s_internal::ReadText(k8s.kubeconfig_embedded);
  EXPECT_THAT(embedded, HasSubstr("server: " + k8s.server));
  EXPECT_THAT(embedded, HasSubstr("certificate-authority-data: LS0t"));  // base64 "---"
  EXPECT_THAT(embedded, HasSubstr("client-certificate-data: LS0t"));
  EXPECT_THAT(embedded, HasSubstr("client-key-data: LS0t"));

  EXPECT_THAT(k8s_internal::ReadText(k8s.kubeconfig_token), HasSubstr("token: " + k8s.admin_token));
}

TEST_F(TestenvSmokeTest, FakeNodesAreReady) {
  KubeResponse r = Kube(cluster(), "GET", "/api/v1/nodes?labelSelector=type%3Dkwok");
  ASSERT_EQ(r.status, 200) << r.body;
  const nlohmann::json nodes = r.Json();  // not in the for-range-init: it would dangle in C++20
  std::set<std::string> ready;
  for (const auto& node : nodes["items"]) {
    for (const auto& c : node["status"]["conditions"]) {
      if (c["type"] == "Ready" && c["status"] == "True") ready.insert(node["metadata"]["name"]);
    }
  }
  EXPECT_EQ(ready, std::set<std::string>(cluster().nodes.begin(), cluster().nodes.end()));
}

TEST_F(TestenvSmokeTest, DeploymentGetsRunningPodsOnKwokNodes) {
  const std::string ns = Namespace();
  const std::string deployments = "/apis/apps/v1/namespaces/" + ns + "/deployments";
  KubeResponse created = Kube(cluster(), "POST", deployments, R"({
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "spark-master"},
    "spec": {
      "replicas": 2,
      "selector": {"matchLabels": {"app": "spark-master"}},
      "template": {
        "metadata": {"labels": {"app": "spark-master"}},
        "spec": {"containers": [{
          "name": "master", "image": "apache/spark:4.0.1",
          "ports": [{"containerPort": 7077}],
          "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}}}]}}}})");
  ASSERT_EQ(created.status, 201) << created.body;

  auto started = std::chrono::steady_clock::now();
  auto deadline = started + std::chrono::seconds(60);
  int available = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    KubeResponse d = Kube(cluster(), "GET", deployments + "/spark-master");
    ASSERT_EQ(d.status, 200) << d.body;
    available = d.Json()["status"].value("availableReplicas", 0);
    if (available == 2) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(available, 2) << "Deployment " << ns << "/spark-master not available in 60 s; see "
                          << cluster().dir << "/logs";
  std::cerr << "create -> availableReplicas=2 in "
            << std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - started)
                   .count()
            << " ms\n";

  KubeResponse pods =
      Kube(cluster(), "GET", "/api/v1/namespaces/" + ns + "/pods?labelSelector=app%3Dspark-master");
  ASSERT_EQ(pods.status, 200) << pods.body;
  const auto items = pods.Json()["items"];
  ASSERT_EQ(items.size(), 2u) << pods.body;
  for (const auto& pod : items) {
    EXPECT_EQ(pod["status"].value("phase", ""), "Running") << pod.dump();
    EXPECT_THAT(pod["spec"].value("nodeName", ""), HasSubstr("kwok-node-")) << pod.dump();
    EXPECT_THAT(pod["status"].value("podIP", ""), HasSubstr("10.244.")) << pod.dump();
  }
}

}  // namespace
}  // namespace sp::testing
