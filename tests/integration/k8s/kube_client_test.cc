// KubeClient against a real kube-apiserver (tests/k8s/testenv via k8s_testenv.h): the three
// admin kubeconfigs (file paths, inline data, bearer token), CRUD, server-side apply idempotence
// and conflicts, a watch seeing ADDED/MODIFIED/DELETED, an exec credential plugin, the messages
// of real 403 (the in-cluster config of a ServiceAccount with a narrow Role), 422, 401, wrong-CA
// and unreachable failures, a
// located kubeconfig error, and — last, because the controllers are slow for a while after it —
// an API server restart in the middle of a watch, recovered by relisting on 410.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <condition_variable>
#include <mutex>
#include <thread>

#include "integration/k8s/k8s_testenv.h"
#include "k8s/client.h"
#include "k8s/k8s_test_util.h"
#include "k8s/kube_config.h"

namespace sp::k8s {
namespace {

using nlohmann::json;
using sp::k8s::testing::ScratchDir;
using sp::k8s::testing::StatusIs;
using sp::testing::Kube;
using sp::testing::KubeResponse;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

std::string ReadText(const std::string& path) {
  return sp::testing::k8s_internal::ReadText(path);
}

void WriteText(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::trunc) << text;
}

json ConfigMap(const std::string& name, const json& data, const json& labels = json::object()) {
  return {{"metadata", {{"name", name}, {"labels", labels}}}, {"data", data}};
}

json SparkMasterDeployment(int replicas) {
  json d = json::parse(R"({
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "spark-master", "labels": {"app.kubernetes.io/managed-by": "sparkplane"}},
    "spec": {
      "selector": {"matchLabels": {"app": "spark-master"}},
      "template": {
        "metadata": {"labels": {"app": "spark-master"}},
        "spec": {"containers": [{"name": "master", "image": "apache/spark:4.0.1",
                                 "ports": [{"containerPort": 7077}]}]}}}})");
  d["spec"]["replicas"] = replicas;
  return d;
}

// A port nothing listens on: bound to get a free number, then closed.
int ClosedPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// Events a watch delivered, for a test thread to wait on.
class EventLog {
 public:
  WatchControl Add(const WatchEvent& e) {
    std::lock_guard<std::mutex> lock(mu_);
    if (e.type == WatchEventType::kRelisted) {
      std::string line = "RELISTED";
      for (const json& item : e.items) line += " " + item["metadata"]["name"].get<std::string>();
      lines_.push_back(line);
    } else if (e.type != WatchEventType::kBookmark) {
      lines_.push_back(std::string(WatchEventTypeName(e.type)) + " " +
                       e.object["metadata"]["name"].get<std::string>());
    }
    cv_.notify_all();
    return WatchControl::kContinue;
  }
  // Waits until some line satisfies `pred`.
  bool WaitFor(const std::function<bool(const std::string&)>& pred, std::chrono::seconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout,
                        [&] { return std::any_of(lines_.begin(), lines_.end(), pred); });
  }
  bool WaitFor(const std::string& line, std::chrono::seconds timeout) {
    return WaitFor([&](const std::string& l) { return l == line; }, timeout);
  }
  std::vector<std::string> lines() {
    std::lock_guard<std::mutex> lock(mu_);
    return lines_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> lines_;
};

// Runs a Watch on its own thread; cancels and joins on destruction.
class BackgroundWatch {
 public:
  BackgroundWatch(KubeClient* client, ResourceRef ref, WatchOptions options, EventLog* log)
      : options_(std::move(options)) {
    options_.cancel = &cancel_;
    thread_ = std::thread([this, client, ref, log] {
      result_ = client->Watch(ref, options_, [log](const WatchEvent& e) { return log->Add(e); });
    });
  }
  ~BackgroundWatch() { Stop().IgnoreError(); }
  Status Stop() {
    cancel_.Cancel();
    if (thread_.joinable()) thread_.join();
    return result_;
  }

 private:
  WatchOptions options_;
  WatchCancel cancel_;
  Status result_;
  std::thread thread_;
};

class KubeClientIntegrationTest : public sp::testing::K8sTest {
 protected:
  std::unique_ptr<KubeClient> ClientFor(const KubeConfig& config, KubeClientOptions options = {}) {
    return std::make_unique<KubeClient>(config, clock_, std::move(options));
  }
  std::unique_ptr<KubeClient> ClientFromKubeconfig(const std::string& path) {
    Result<KubeConfig> config = LoadKubeConfig(path);
    EXPECT_TRUE(config.ok()) << config.status();
    if (!config.ok()) return nullptr;
    return ClientFor(*config);
  }
  std::unique_ptr<KubeClient> Admin() { return ClientFromKubeconfig(cluster().kubeconfig); }

  // A bearer token of ServiceAccount NS/NAME (TokenRequest, as `kubectl create token` does).
  std::string ServiceAccountToken(const std::string& ns, const std::string& name) {
    KubeResponse r =
        Kube(cluster(), "POST", "/api/v1/namespaces/" + ns + "/serviceaccounts/" + name + "/token",
             R"({"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest",)"
             R"("spec":{"expirationSeconds":3600}})");
    EXPECT_EQ(r.status, 201) << r.body;
    return r.Json()["status"].value("token", "");
  }

  RealClock clock_;
};

TEST_F(KubeClientIntegrationTest, AllThreeAdminKubeconfigsWork) {
  for (const std::string& path :
       {cluster().kubeconfig, cluster().kubeconfig_embedded, cluster().kubeconfig_token}) {
    SCOPED_TRACE(path);
    std::unique_ptr<KubeClient> client = ClientFromKubeconfig(path);
    ASSERT_NE(client, nullptr);
    EXPECT_EQ(client->config().server, cluster().server);
    Result<json> version = client->ServerVersion();
    ASSERT_TRUE(version.ok()) << version.status();
    EXPECT_EQ((*version)["gitVersion"], "v1.37.2");
    Result<json> ns = client->Get(ClusterRef(kNamespaces, "default"));
    ASSERT_TRUE(ns.ok()) << ns.status();
    EXPECT_EQ((*ns)["metadata"]["name"], "default");
  }
}

TEST_F(KubeClientIntegrationTest, CrudListAndDelete) {
  const std::string ns = Namespace();
  std::unique_ptr<KubeClient> k8s = Admin();
  json labels = {{"app", "sp-test"}};
  Result<json> created = k8s->Create(Ref(kConfigMaps, ns), ConfigMap("c1", {{"a", "1"}}, labels));
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ((*created)["kind"], "ConfigMap");
  EXPECT_FALSE((*created)["metadata"]["uid"].get<std::string>().empty());
  EXPECT_THAT(
      k8s->Create(Ref(kConfigMaps, ns), ConfigMap("c1", {{"a", "2"}})),
      StatusIs(StatusCode::kAlreadyExists,
               HasSubstr("create configmaps \"c1\" in namespace \"" + ns + "\": already exists")));
  ASSERT_TRUE(k8s->Create(Ref(kConfigMaps, ns), ConfigMap("c2", {{"a", "1"}}, labels)).ok());
  ASSERT_TRUE(k8s->Create(Ref(kConfigMaps, ns), ConfigMap("other", {{"a", "1"}})).ok());

  Result<json> patched =
      k8s->Patch(Ref(kConfigMaps, ns, "c1"), PatchType::kMerge, {{"data", {{"b", "2"}}}});
  ASSERT_TRUE(patched.ok()) << patched.status();
  EXPECT_EQ((*patched)["data"], json({{"a", "1"}, {"b", "2"}}));
  Result<json> got = k8s->Get(Ref(kConfigMaps, ns, "c1"));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ((*got)["data"]["b"], "2");

  ListOptions selected;
  selected.label_selector = "app=sp-test";
  selected.limit = 1;
  Result<ObjectList> page = k8s->List(Ref(kConfigMaps, ns), selected);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->items.size(), 1u);
  EXPECT_FALSE(page->continue_token.empty());
  Result<ObjectList> all = k8s->ListAll(Ref(kConfigMaps, ns), selected);
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->items.size(), 2u);
  EXPECT_EQ(all->items[0]["metadata"]["name"], "c1");
  EXPECT_EQ(all->items[1]["metadata"]["name"], "c2");
  EXPECT_FALSE(all->resource_version.empty());
  ListOptions by_field;
  by_field.field_selector = "metadata.name=other";
  Result<ObjectList> other = k8s->List(Ref(kConfigMaps, ns), by_field);
  ASSERT_TRUE(other.ok()) << other.status();
  ASSERT_EQ(other->items.size(), 1u);

  Result<bool> deleted = k8s->Delete(Ref(kConfigMaps, ns, "c1"));
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_TRUE(*deleted);
  Result<bool> again = k8s->Delete(Ref(kConfigMaps, ns, "c1"));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_FALSE(*again);
  EXPECT_THAT(k8s->Get(Ref(kConfigMaps, ns, "c1")),
              StatusIs(StatusCode::kNotFound,
                       HasSubstr("get configmaps \"c1\" in namespace \"" + ns + "\": not found")));
  EXPECT_THAT(
      k8s->Create(Ref(kConfigMaps, "no-such-namespace"), ConfigMap("x", {})),
      StatusIs(StatusCode::kNotFound, HasSubstr("namespaces \"no-such-namespace\" not found")));
  KubeRequestStats stats = k8s->Stats();
  EXPECT_EQ(stats.Count(Verb::kCreate), 5u);
  EXPECT_EQ(stats.Count(Verb::kDelete), 2u);
  EXPECT_EQ(stats.retries, 0u);
  std::cerr << "requests: " << stats.ToString() << "\n";
}

TEST_F(KubeClientIntegrationTest, ServerSideApplyIsIdempotentAndReportsConflicts) {
  const std::string ns = Namespace();
  std::unique_ptr<KubeClient> k8s = Admin();
  ResourceRef master = Ref(kDeployments, ns, "spark-master");
  Result<json> first = k8s->ServerSideApply(master, SparkMasterDeployment(1));
  ASSERT_TRUE(first.ok()) << first.status();
  Result<json> second = k8s->ServerSideApply(master, SparkMasterDeployment(1));
  ASSERT_TRUE(second.ok()) << second.status();
  // The same intent again changes nothing: the spec's generation stays 1 (the resourceVersion
  // may still move, because the deployment controller writes status in between).
  EXPECT_EQ((*first)["metadata"]["generation"], 1);
  EXPECT_EQ((*second)["metadata"]["generation"], 1);
  EXPECT_EQ((*second)["spec"], (*first)["spec"]);
  bool managed = false;
  for (const json& m : (*second)["metadata"]["managedFields"]) {
    managed |= m["manager"] == "sparkplane" && m["operation"] == "Apply";
  }
  EXPECT_TRUE(managed) << (*second)["metadata"]["managedFields"].dump();

  // Another manager takes .spec.replicas (with force, as `kubectl scale --server-side` would).
  KubeResponse taken = Kube(cluster(), "PATCH",
                            "/apis/apps/v1/namespaces/" + ns +
                                "/deployments/spark-master?fieldManager=other-tool&force=true",
                            R"({"apiVersion":"apps/v1","kind":"Deployment",)"
                            R"("metadata":{"name":"spark-master"},"spec":{"replicas":3}})",
                            "application/apply-patch+yaml");
  ASSERT_EQ(taken.status, 200) << taken.body;
  EXPECT_THAT(k8s->ServerSideApply(master, SparkMasterDeployment(2)),
              StatusIs(StatusCode::kAborted, HasSubstr("conflict with \"other-tool\"")));
  Result<json> forced =
      k8s->ServerSideApply(master, SparkMasterDeployment(2), ApplyConflicts::kForce);
  ASSERT_TRUE(forced.ok()) << forced.status();
  EXPECT_EQ((*forced)["spec"]["replicas"], 2);

  Result<bool> deleted = k8s->Delete(master, DeleteOptions{Propagation::kForeground, std::nullopt});
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_TRUE(*deleted);
}

TEST_F(KubeClientIntegrationTest, WatchSeesAddedModifiedDeleted) {
  const std::string ns = Namespace();
  std::unique_ptr<KubeClient> k8s = Admin();
  EventLog log;
  WatchOptions options;
  options.label_selector = "watch=me";
  BackgroundWatch watch(k8s.get(), Ref(kConfigMaps, ns), options, &log);
  ASSERT_TRUE(log.WaitFor("RELISTED", std::chrono::seconds(10)));

  ASSERT_TRUE(
      k8s->Create(Ref(kConfigMaps, ns), ConfigMap("w1", {{"v", "1"}}, {{"watch", "me"}})).ok());
  ASSERT_TRUE(k8s->Create(Ref(kConfigMaps, ns), ConfigMap("unwatched", {{"v", "1"}})).ok());
  ASSERT_TRUE(
      k8s->Patch(Ref(kConfigMaps, ns, "w1"), PatchType::kMerge, {{"data", {{"v", "2"}}}}).ok());
  ASSERT_TRUE(k8s->Delete(Ref(kConfigMaps, ns, "w1")).ok());
  ASSERT_TRUE(log.WaitFor("DELETED w1", std::chrono::seconds(10)))
      << ::testing::PrintToString(log.lines());
  EXPECT_TRUE(watch.Stop().code() == StatusCode::kCancelled);
  EXPECT_THAT(log.lines(),
              ::testing::ElementsAre("RELISTED", "ADDED w1", "MODIFIED w1", "DELETED w1"));
  EXPECT_EQ(k8s->Stats().Count(Verb::kWatch), 1u);
}

TEST_F(KubeClientIntegrationTest, ForbiddenNamesVerbResourceNamespaceAndUser) {
  const std::string ns = Namespace();
  std::unique_ptr<KubeClient> admin = Admin();
  ASSERT_TRUE(admin->Create(Ref(kServiceAccounts, ns), {{"metadata", {{"name", "narrow"}}}}).ok());
  ASSERT_TRUE(admin
                  ->Create(Ref(kRoles, ns), json::parse(R"({
      "metadata": {"name": "configmap-reader"},
      "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch"]}]})"))
                  .ok());
  ASSERT_TRUE(admin
                  ->Create(Ref(kRoleBindings, ns), json::parse(R"({
      "metadata": {"name": "narrow-reads-configmaps"},
      "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "configmap-reader"},
      "subjects": [{"kind": "ServiceAccount", "name": "narrow", "namespace": ")" +
                                                               ns + R"("}]})"))
                  .ok());
  // As a pod of ServiceAccount "narrow" would see it: the in-cluster config from a
  // service-account mount (token, ca.crt, namespace) and KUBERNETES_SERVICE_HOST/PORT.
  ScratchDir mount;
  std::string token = ServiceAccountToken(ns, "narrow");
  ASSERT_FALSE(token.empty());
  WriteText(mount / "token", token);
  WriteText(mount / "ca.crt", ReadText(cluster().ca_file));
  WriteText(mount / "namespace", ns);
  InClusterOptions in_cluster;
  in_cluster.root = mount.path();
  in_cluster.service_host = "127.0.0.1";
  in_cluster.service_port = std::to_string(cluster().port_base + 2);
  Result<KubeConfig> config = LoadInClusterConfig(in_cluster);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->server, cluster().server);
  EXPECT_EQ(config->default_namespace, ns);
  std::unique_ptr<KubeClient> narrow = ClientFor(*config);

  // The RBAC authorizer learns of the binding through an informer: allow it a moment.
  Result<ObjectList> allowed = narrow->List(Ref(kConfigMaps, ns));
  for (int i = 0; i < 50 && !allowed.ok(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    allowed = narrow->List(Ref(kConfigMaps, ns));
  }
  ASSERT_TRUE(allowed.ok()) << allowed.status();

  Result<json> denied = narrow->Create(Ref(kDeployments, ns), SparkMasterDeployment(1));
  EXPECT_THAT(
      denied,
      StatusIs(StatusCode::kPermissionDenied,
               HasSubstr("forbidden: sparkplane may not create deployments.apps in namespace \"" +
                         ns + "\" (it is authenticated as \"system:serviceaccount:" + ns +
                         ":narrow\"; grant it verb \"create\" on resource \"deployments\" in "
                         "API group \"apps\" with a Role and RoleBinding in namespace \"" +
                         ns + "\")")));
  std::cerr << "403 message: " << denied.status().message() << "\n";
  EXPECT_THAT(narrow->Delete(Ref(kConfigMaps, "default", "x")),
              StatusIs(StatusCode::kPermissionDenied,
                       HasSubstr("may not delete configmaps in namespace \"default\"")));
  EXPECT_THAT(narrow->Create(ClusterRef(kNamespaces), {{"metadata", {{"name", "nope"}}}}),
              StatusIs(StatusCode::kPermissionDenied,
                       HasSubstr("may not create namespaces (it is authenticated as")));
  WatchOptions options;
  options.resource_version = allowed->resource_version;
  EXPECT_THAT(narrow->Watch(Ref(kSecrets, ns), options,
                            [](const WatchEvent&) { return WatchControl::kStop; }),
              StatusIs(StatusCode::kPermissionDenied,
                       HasSubstr("may not watch secrets in namespace \"" + ns + "\"")));
}

TEST_F(KubeClientIntegrationTest, InvalidObjectListsEveryFieldCause) {
  const std::string ns = Namespace();
  std::unique_ptr<KubeClient> k8s = Admin();
  json bad = SparkMasterDeployment(-1);
  bad["metadata"]["name"] = "Bad_Name";
  Result<json> r = k8s->Create(Ref(kDeployments, ns), bad);
  EXPECT_THAT(r, StatusIs(StatusCode::kInvalidArgument,
                          HasSubstr("create deployments.apps \"Bad_Name\" in namespace \"" + ns +
                                    "\": invalid: metadata.name: Invalid value: \"Bad_Name\"")));
  EXPECT_THAT(r.status().message(),
              HasSubstr("spec.replicas: Invalid value: -1: must be greater than or equal to 0"));
  std::cerr << "422 message: " << r.status().message() << "\n";
}

TEST_F(KubeClientIntegrationTest, ExecPluginCredentialIsAccepted) {
  ScratchDir dir;
  WriteText(dir / "admin-token.sh",
            "#!/bin/sh\necho '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":"
            "\"ExecCredential\",\"status\":{\"token\":\"" +
                cluster().admin_token + "\"}}'\n");
  ::chmod((dir / "admin-token.sh").c_str(), 0755);
  WriteText(dir / "kubeconfig", R"(apiVersion: v1
kind: Config
current-context: exec
clusters:
- name: testenv
  cluster:
    server: )" + cluster().server + R"(
    certificate-authority: )" + cluster().ca_file +
                                    R"(
users:
- name: plugin-user
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: ./admin-token.sh
      interactiveMode: Never
contexts:
- name: exec
  context: {cluster: testenv, user: plugin-user, namespace: default}
)");
  std::unique_ptr<KubeClient> k8s = ClientFromKubeconfig(dir / "kubeconfig");
  ASSERT_NE(k8s, nullptr);
  Result<json> ns = k8s->Get(ClusterRef(kNamespaces, "default"));
  ASSERT_TRUE(ns.ok()) << ns.status();
  EXPECT_EQ((*ns)["metadata"]["name"], "default");
}

TEST_F(KubeClientIntegrationTest, RejectedTokenIsUnauthenticated) {
  KubeConfig config;
  config.source = "test-kubeconfig";
  config.user = "impostor";
  config.server = cluster().server;
  config.ca_file = cluster().ca_file;
  config.token = "not-a-real-token-4711";
  std::unique_ptr<KubeClient> k8s = ClientFor(config);
  EXPECT_THAT(k8s->Get(ClusterRef(kNamespaces, "default")),
              StatusIs(StatusCode::kUnauthenticated,
                       HasSubstr("the API server " + cluster().server +
                                 " rejected the credentials (bearer token of user "
                                 "\"impostor\" in test-kubeconfig)")));
  EXPECT_THAT(k8s->Get(ClusterRef(kNamespaces, "default")).status().message(),
              Not(HasSubstr("4711")));
}

TEST_F(KubeClientIntegrationTest, WrongCaIsAClearTlsError) {
  ScratchDir dir;
  std::string other_ca = dir.path() + "/other-ca.crt";
  sp::testing::k8s_internal::Output made = sp::testing::k8s_internal::Run(
      {"openssl", "req", "-x509", "-new", "-nodes", "-newkey", "ec", "-pkeyopt",
       "ec_paramgen_curve:prime256v1", "-keyout", dir.path() + "/other-ca.key", "-out", other_ca,
       "-days", "1", "-subj", "/CN=not-the-cluster-ca"});
  ASSERT_EQ(made.exit_code, 0) << made.text;

  Result<KubeConfig> config = LoadKubeConfig(cluster().kubeconfig);
  ASSERT_TRUE(config.ok()) << config.status();
  config->ca_file = other_ca;
  std::unique_ptr<KubeClient> by_file = ClientFor(*config);
  EXPECT_THAT(by_file->ServerVersion(),
              StatusIs(StatusCode::kFailedPrecondition,
                       HasSubstr("TLS verification of " + cluster().server +
                                 " failed: the CA in certificate-authority " + other_ca)));
  EXPECT_THAT(by_file->ServerVersion().status().message(),
              HasSubstr("does not match the server's certificate"));
  EXPECT_EQ(by_file->Stats().retries, 0u);  // not something a retry fixes

  config->ca_file.clear();
  config->ca_data = ReadText(other_ca);
  std::unique_ptr<KubeClient> by_data = ClientFor(*config);
  EXPECT_THAT(
      by_data->ServerVersion(),
      StatusIs(StatusCode::kFailedPrecondition,
               HasSubstr("the CA in certificate-authority-data of cluster "
                         "\"sparkplane-testenv\" in " +
                         cluster().kubeconfig + " does not match the server's certificate")));
}

TEST_F(KubeClientIntegrationTest, UnreachableServerIsUnavailableNamingTheUrl) {
  Result<KubeConfig> config = LoadKubeConfig(cluster().kubeconfig);
  ASSERT_TRUE(config.ok()) << config.status();
  config->server = "https://127.0.0.1:" + std::to_string(ClosedPort());
  KubeClientOptions options;
  options.retry.max_attempts = 2;
  options.retry.initial_backoff = Millis(10);
  std::unique_ptr<KubeClient> k8s = ClientFor(*config, options);
  EXPECT_THAT(k8s->Get(Ref(kPods, "default", "p")),
              StatusIs(StatusCode::kUnavailable,
                       HasSubstr("cannot reach the Kubernetes API server at " + config->server)));
  EXPECT_EQ(k8s->Stats().Count(Verb::kGet), 2u);
}

TEST_F(KubeClientIntegrationTest, BrokenKubeconfigErrorIsLocated) {
  ScratchDir dir;
  std::string text = ReadText(cluster().kubeconfig);
  const std::string good = "    cluster: sparkplane-testenv\n";
  size_t at = text.find(good);
  ASSERT_NE(at, std::string::npos) << text;
  int line = 1 + static_cast<int>(std::count(text.begin(), text.begin() + at, '\n'));
  text.replace(at, good.size(), "    cluster: sparkplane-testenvv\n");
  std::string path = dir.path() + "/kubeconfig";
  WriteText(path, text);
  EXPECT_THAT(LoadKubeConfig(path),
              StatusIs(StatusCode::kFailedPrecondition,
                       HasSubstr(path + ":" + std::to_string(line) +
                                 ":14: context \"sparkplane-testenv\" names cluster "
                                 "\"sparkplane-testenvv\", which is not defined")));
  EXPECT_THAT(LoadKubeConfig(cluster().kubeconfig, KubeConfigOptions{"sparkplane-testen", ""}),
              StatusIs(StatusCode::kNotFound, HasSubstr("did you mean \"sparkplane-testenv\"?")));
}

// Last: the controllers need a while to recover from an API server restart (restarting them as
// well, as done here, shortens that).
TEST_F(KubeClientIntegrationTest, ZApiServerRestartMidWatchRelistsOn410) {
  const std::string ns = Namespace();
  std::unique_ptr<KubeClient> k8s = Admin();
  EventLog log;
  BackgroundWatch watch(k8s.get(), Ref(kConfigMaps, ns), WatchOptions{}, &log);
  // The namespace already holds kube-root-ca.crt (the controller-manager publishes it).
  auto relisted = [](const std::string& l) { return l.rfind("RELISTED", 0) == 0; };
  ASSERT_TRUE(log.WaitFor(relisted, std::chrono::seconds(10)));
  ASSERT_TRUE(k8s->Create(Ref(kConfigMaps, ns), ConfigMap("before", {{"v", "1"}})).ok());
  ASSERT_TRUE(log.WaitFor("ADDED before", std::chrono::seconds(10)));

  // Crash-style stop (pitfall 9: a held watch makes SIGTERM wait 60 s), clients first.
  namespace tk = sp::testing::k8s_internal;
  const std::string base = "K8S_TESTENV_PORT_BASE=" + std::to_string(cluster().port_base);
  tk::Output down = tk::Run({"/bin/bash", tk::kScripts + "/down.sh", cluster().dir, "kwok",
                             "kube-scheduler", "kube-controller-manager", "kube-apiserver"},
                            {"K8S_TESTENV_STOP_TIMEOUT=2", base});
  ASSERT_EQ(down.exit_code, 0) << down.text;
  EXPECT_THAT(k8s->Get(Ref(kConfigMaps, ns, "before")),
              StatusIs(StatusCode::kUnavailable,
                       HasSubstr("cannot reach the Kubernetes API server at " + cluster().server)));
  tk::Output up = tk::Run({"/bin/bash", tk::kScripts + "/up.sh", cluster().dir}, {base});
  ASSERT_EQ(up.exit_code, 0) << up.text;

  KubeResponse after = Kube(cluster(), "POST", "/api/v1/namespaces/" + ns + "/configmaps",
                            R"({"metadata":{"name":"after"}})");
  ASSERT_EQ(after.status, 201) << after.body;
  // The watch comes back by itself: its old resourceVersion is gone (410), it relists (the list
  // has "before", and "after" if it was created first) and watches on.
  bool seen_after = log.WaitFor(
      [](const std::string& l) {
        return l == "ADDED after" ||
               (l.rfind("RELISTED ", 0) == 0 && l.find(" after") != std::string::npos);
      },
      std::chrono::seconds(60));
  std::vector<std::string> lines = log.lines();
  EXPECT_TRUE(seen_after) << ::testing::PrintToString(lines);
  EXPECT_GE(k8s->Stats().relists, 1u)
      << "no 410 after the restart: " << ::testing::PrintToString(lines);
  bool relisted_with_before = false;
  for (size_t i = 2; i < lines.size(); ++i) {
    relisted_with_before |= relisted(lines[i]) && lines[i].find(" before") != std::string::npos;
  }
  EXPECT_TRUE(relisted_with_before) << ::testing::PrintToString(lines);
  EXPECT_EQ(watch.Stop().code(), StatusCode::kCancelled);
  std::cerr << "watch across the restart: " << ::testing::PrintToString(lines) << "; "
            << k8s->Stats().ToString() << "\n";
}

}  // namespace
}  // namespace sp::k8s
