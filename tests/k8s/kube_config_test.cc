// Kubeconfig parsing (files vs inline data, contexts, exec plugins), located errors
// (path:line:column, did-you-mean) and the in-cluster config from a fake service-account mount.
#include "k8s/kube_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "k8s/internal/text.h"
#include "k8s/k8s_test_util.h"

namespace sp::k8s {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::ScratchDir;
using testing::StatusIs;
using testing::WriteText;

constexpr char kTwoContexts[] = R"(apiVersion: v1
kind: Config
current-context: kind-dev
clusters:
- name: kind-dev
  cluster:
    server: https://127.0.0.1:6443/
    certificate-authority: pki/ca.crt
- name: prod
  cluster:
    server: https://prod.example:443
    insecure-skip-tls-verify: true
users:
- name: admin
  user:
    client-certificate: pki/admin.crt
    client-key: pki/admin.key
- name: robot
  user:
    token: s3cr3t-token
contexts:
- name: kind-dev
  context:
    cluster: kind-dev
    user: admin
    namespace: spark-jobs
- name: prod
  context:
    cluster: prod
    user: robot
)";

class KubeConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WriteText(dir_ / "pki/ca.crt", "CA");
    WriteText(dir_ / "pki/admin.crt", "CERT");
    WriteText(dir_ / "pki/admin.key", "KEY");
  }
  // Writes `text` as DIR/kubeconfig and loads it.
  Result<KubeConfig> Load(const std::string& text, const KubeConfigOptions& options = {}) {
    WriteText(Path(), text);
    return LoadKubeConfig(Path(), options);
  }
  std::string Path() const { return dir_ / "kubeconfig"; }

  ScratchDir dir_;
};

TEST_F(KubeConfigTest, CurrentContextWithFilesResolvedAgainstTheKubeconfig) {
  Result<KubeConfig> c = Load(kTwoContexts);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->source, Path());
  EXPECT_EQ(c->context, "kind-dev");
  EXPECT_EQ(c->cluster, "kind-dev");
  EXPECT_EQ(c->user, "admin");
  EXPECT_EQ(c->server, "https://127.0.0.1:6443");  // trailing slash dropped
  EXPECT_EQ(c->default_namespace, "spark-jobs");
  EXPECT_EQ(c->ca_file, dir_ / "pki/ca.crt");
  EXPECT_EQ(c->client_cert_file, dir_ / "pki/admin.crt");
  EXPECT_EQ(c->client_key_file, dir_ / "pki/admin.key");
  EXPECT_TRUE(c->ca_data.empty());
  EXPECT_TRUE(c->token.empty());
  EXPECT_FALSE(c->insecure_skip_tls_verify);
  EXPECT_THAT(c->CaSource(), HasSubstr("certificate-authority " + (dir_ / "pki/ca.crt")));
  EXPECT_THAT(c->CredentialSource(), HasSubstr("client certificate " + (dir_ / "pki/admin.crt")));
}

TEST_F(KubeConfigTest, ExplicitContextAndNamespaceOverride) {
  Result<KubeConfig> c = Load(kTwoContexts, KubeConfigOptions{"prod", "team-b"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->server, "https://prod.example:443");
  EXPECT_TRUE(c->insecure_skip_tls_verify);
  EXPECT_EQ(c->token, "s3cr3t-token");
  EXPECT_EQ(c->default_namespace, "team-b");
  // Messages describe the credential, never show it.
  EXPECT_THAT(c->CredentialSource(),
              AllOf(HasSubstr("bearer token of user \"robot\""), Not(HasSubstr("s3cr3t"))));
}

TEST_F(KubeConfigTest, NamespaceDefaultsToDefault) {
  Result<KubeConfig> c = Load(kTwoContexts, KubeConfigOptions{"prod", ""});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->default_namespace, "default");
}

TEST_F(KubeConfigTest, InlineDataWinsOverFiles) {
  std::string ca = internal::Base64Encode("-----BEGIN CERTIFICATE-----\nCA\n");
  std::string cert = internal::Base64Encode("CERT-PEM");
  std::string key = internal::Base64Encode("KEY-PEM");
  Result<KubeConfig> c = Load(R"(current-context: c
clusters:
- name: k
  cluster:
    server: https://10.0.0.1:6443
    certificate-authority: pki/ca.crt
    certificate-authority-data: )" +
                              ca + R"(
users:
- name: u
  user:
    client-certificate-data: )" +
                              cert + R"(
    client-key-data: )" + key +
                              R"(
contexts:
- name: c
  context: {cluster: k, user: u}
)");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->ca_data, "-----BEGIN CERTIFICATE-----\nCA\n");
  EXPECT_TRUE(c->ca_file.empty());
  EXPECT_EQ(c->client_cert_data, "CERT-PEM");
  EXPECT_EQ(c->client_key_data, "KEY-PEM");
  EXPECT_TRUE(c->client_cert_file.empty());
  EXPECT_THAT(c->CaSource(), HasSubstr("certificate-authority-data of cluster \"k\""));
}

TEST_F(KubeConfigTest, TokenFileAndAnonymousUser) {
  WriteText(dir_ / "token", "abc\n");
  Result<KubeConfig> c = Load(R"(current-context: c
clusters: [{name: k, cluster: {server: "https://h:1"}}]
users: [{name: u, user: {tokenFile: token}}]
contexts: [{name: c, context: {cluster: k, user: u}}, {name: anon, context: {cluster: k}}]
)");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->token_file, dir_ / "token");
  Result<KubeConfig> anon = LoadKubeConfig(Path(), KubeConfigOptions{"anon", ""});
  ASSERT_TRUE(anon.ok()) << anon.status();
  EXPECT_TRUE(anon->user.empty());
  EXPECT_THAT(anon->CaSource(), HasSubstr("system's CA store"));
}

TEST_F(KubeConfigTest, ExecPluginIsParsed) {
  Result<KubeConfig> c = Load(R"(current-context: c
clusters: [{name: k, cluster: {server: "https://h:1"}}]
contexts: [{name: c, context: {cluster: k, user: u}}]
users:
- name: u
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: ./bin/get-token
      args: [--cluster, k]
      env: [{name: REGION, value: eu-1}]
      installHint: install get-token from the wiki
      provideClusterInfo: true
      interactiveMode: Never
)");
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE(c->exec.has_value());
  EXPECT_EQ(c->exec->command, dir_ / "bin/get-token");
  EXPECT_EQ(c->exec->args, (std::vector<std::string>{"--cluster", "k"}));
  ASSERT_EQ(c->exec->env.size(), 1u);
  EXPECT_EQ(c->exec->env[0].first, "REGION");
  EXPECT_EQ(c->exec->env[0].second, "eu-1");
  EXPECT_EQ(c->exec->install_hint, "install get-token from the wiki");
  EXPECT_TRUE(c->exec->provide_cluster_info);
  EXPECT_THAT(c->CredentialSource(), HasSubstr("exec plugin " + (dir_ / "bin/get-token")));
}

// --- errors ---------------------------------------------------------------------------------

TEST_F(KubeConfigTest, MissingFile) {
  EXPECT_THAT(LoadKubeConfig(dir_ / "nope"),
              StatusIs(StatusCode::kFailedPrecondition,
                       HasSubstr("kubeconfig " + (dir_ / "nope") + " does not exist")));
}

TEST_F(KubeConfigTest, BadYamlIsLocated) {
  EXPECT_THAT(
      Load("current-context: c\nclusters:\n- name: k\n  cluster: {server: x}}\nusers: []\n"),
      StatusIs(StatusCode::kFailedPrecondition,
               AllOf(HasSubstr(Path() + ":4:"), HasSubstr("invalid YAML"))));
  EXPECT_THAT(Load("- just\n- a list\n"),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("must be a YAML mapping")));
  EXPECT_THAT(Load(""), StatusIs(StatusCode::kFailedPrecondition, HasSubstr("is empty")));
}

TEST_F(KubeConfigTest, UnknownContextSuggestsTheNearestName) {
  EXPECT_THAT(
      Load(kTwoContexts, KubeConfigOptions{"kind-dve", ""}),
      StatusIs(StatusCode::kNotFound, AllOf(HasSubstr("context \"kind-dve\" is not defined"),
                                            HasSubstr("(contexts: \"kind-dev\", \"prod\")"),
                                            HasSubstr("did you mean \"kind-dev\"?"))));
}

TEST_F(KubeConfigTest, UnknownCurrentContextPointsAtItsLine) {
  std::string text = kTwoContexts;
  text.replace(text.find("current-context: kind-dev"), 25, "current-context: prdo");
  EXPECT_THAT(Load(text),
              StatusIs(StatusCode::kNotFound, AllOf(HasSubstr(Path() + ":3:18: context \"prdo\""),
                                                    HasSubstr("did you mean \"prod\"?"))));
}

TEST_F(KubeConfigTest, NoCurrentContextListsTheContexts) {
  std::string text = kTwoContexts;
  text.replace(text.find("current-context: kind-dev\n"), 26, "");
  EXPECT_THAT(Load(text), StatusIs(StatusCode::kFailedPrecondition,
                                   AllOf(HasSubstr("no current-context"),
                                         HasSubstr("\"kind-dev\", \"prod\""))));
}

TEST_F(KubeConfigTest, MissingClusterEntryIsLocated) {
  std::string text = kTwoContexts;
  text.replace(text.find("    cluster: kind-dev\n"), 22, "    cluster: kind-devv\n");
  // Line 24 is `    cluster: kind-devv` of the first context; column 14 is its value.
  EXPECT_THAT(Load(text),
              StatusIs(StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr(Path() + ":24:14: context \"kind-dev\" names cluster "
                                                "\"kind-devv\", which is not defined"),
                             HasSubstr("did you mean \"kind-dev\"?"))));
}

TEST_F(KubeConfigTest, MissingUserEntryIsLocated) {
  std::string text = kTwoContexts;
  text.replace(text.find("    user: admin\n"), 16, "    user: root\n");
  EXPECT_THAT(Load(text), StatusIs(StatusCode::kFailedPrecondition,
                                   AllOf(HasSubstr(Path() + ":25:11: context \"kind-dev\" names "
                                                            "user \"root\", which is not defined"),
                                         HasSubstr("(users: \"admin\", \"robot\")"))));
}

TEST_F(KubeConfigTest, MissingReferencedFileIsLocated) {
  std::string text = kTwoContexts;
  text.replace(text.find("pki/admin.key"), 13, "pki/nope.key");
  EXPECT_THAT(Load(text), StatusIs(StatusCode::kFailedPrecondition,
                                   AllOf(HasSubstr(Path() + ":17:17: 'client-key' file"),
                                         HasSubstr("pki/nope.key does not exist"))));
}

TEST_F(KubeConfigTest, EntryErrors) {
  const std::string head =
      "current-context: c\ncontexts: [{name: c, context: {cluster: k, user: u}}]\n";
  EXPECT_THAT(
      Load(head + "clusters: [{name: k, cluster: {}}]\nusers: [{name: u}]\n"),
      StatusIs(StatusCode::kFailedPrecondition,
               AllOf(HasSubstr(Path() + ":3:"), HasSubstr("cluster \"k\" has no 'server'"))));
  EXPECT_THAT(Load(head + "clusters: [{name: k, cluster: {server: h:1}}]\nusers: [{name: u}]\n"),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("must start with https://")));
  const std::string cluster = "clusters: [{name: k, cluster: {server: \"https://h:1\"}}]\n";
  EXPECT_THAT(
      Load(head + cluster + "users: [{name: u, user: {client-certificate: pki/admin.crt}}]\n"),
      StatusIs(StatusCode::kFailedPrecondition,
               HasSubstr("has a client certificate but no client key")));
  EXPECT_THAT(Load(head + cluster + "users: [{name: u, user: {client-key-data: '!!notb64'}}]\n"),
              StatusIs(StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr(Path() + ":4:"),
                             HasSubstr("'client-key-data' is not valid base64"))));
  EXPECT_THAT(
      Load(head + cluster + "users: [{name: u, user: {auth-provider: {name: gcp}}}]\n"),
      StatusIs(StatusCode::kFailedPrecondition, HasSubstr("'auth-provider' is not supported")));
  EXPECT_THAT(Load(head + cluster +
                   "users: [{name: u, user: {exec: {command: x, apiVersion: "
                   "client.authentication.k8s.io/v1alpha1}}}]\n"),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("apiVersion must be")));
  EXPECT_THAT(Load(head + cluster + "users: [{name: u, user: {token: [a, b]}}]\n"),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("'token' must be a string")));
  EXPECT_THAT(Load(head + "clusters: {k: 1}\n"),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("'clusters' must be a list")));
}

// --- in-cluster -----------------------------------------------------------------------------

class InClusterConfigTest : public ::testing::Test {
 protected:
  InClusterOptions Options() const {
    InClusterOptions o;
    o.root = dir_ / "sa";
    o.service_host = "10.96.0.1";
    o.service_port = "443";
    return o;
  }
  ScratchDir dir_;
};

TEST_F(InClusterConfigTest, ReadsTheServiceAccountMount) {
  WriteText(dir_ / "sa/token", "eyJhbGciOi.token\n");
  WriteText(dir_ / "sa/ca.crt", "CA");
  WriteText(dir_ / "sa/namespace", "spark-jobs\n");
  Result<KubeConfig> c = LoadInClusterConfig(Options());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->server, "https://10.96.0.1:443");
  EXPECT_EQ(c->token_file, dir_ / "sa/token");
  EXPECT_TRUE(c->token.empty());  // read (and re-read) by the CredentialProvider
  EXPECT_EQ(c->ca_file, dir_ / "sa/ca.crt");
  EXPECT_EQ(c->default_namespace, "spark-jobs");
  EXPECT_THAT(c->source, HasSubstr("in-cluster"));

  InClusterOptions o = Options();
  o.service_host = "fd00::1";
  o.namespace_override = "other";
  Result<KubeConfig> v6 = LoadInClusterConfig(o);
  ASSERT_TRUE(v6.ok()) << v6.status();
  EXPECT_EQ(v6->server, "https://[fd00::1]:443");
  EXPECT_EQ(v6->default_namespace, "other");
}

TEST_F(InClusterConfigTest, NamesWhatIsMissing) {
  InClusterOptions o = Options();
  o.service_host = "";
  EXPECT_THAT(LoadInClusterConfig(o),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("KUBERNETES_SERVICE_HOST")));
  EXPECT_THAT(LoadInClusterConfig(Options()),
              StatusIs(StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr(dir_ / "sa/token"), HasSubstr("does not exist"))));
  WriteText(dir_ / "sa/token", "t");
  EXPECT_THAT(LoadInClusterConfig(Options()),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr(dir_ / "sa/ca.crt")));
  WriteText(dir_ / "sa/ca.crt", "CA");
  Result<KubeConfig> c = LoadInClusterConfig(Options());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->default_namespace, "default");  // no namespace file
}

}  // namespace
}  // namespace sp::k8s
