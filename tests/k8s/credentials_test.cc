// CredentialProvider: exec credential plugins (a small shell script in a temp dir printing an
// ExecCredential), their caching until expirationTimestamp on a ManualClock, their failures,
// token files re-read as they rotate, and ParseExecCredential on malformed output.
#include "k8s/credentials.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

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

constexpr char kV1[] = "client.authentication.k8s.io/v1";

Time At(const char* rfc3339) {
  return *internal::ParseRfc3339(rfc3339);
}

class ExecPluginTest : public ::testing::Test {
 protected:
  // A config whose user runs DIR/plugin.sh (with `script` as its body) with one argument.
  KubeConfig ConfigWithPlugin(const std::string& script) {
    WriteText(dir_ / "plugin.sh", "#!/bin/sh\n" + script, 0755);
    KubeConfig config;
    config.source = dir_ / "kubeconfig";
    config.user = "u";
    config.server = "https://127.0.0.1:6443";
    config.ca_data = "CA-PEM";
    ExecPluginConfig plugin;
    plugin.api_version = kV1;
    plugin.command = dir_ / "plugin.sh";
    plugin.args = {"arg1"};
    plugin.env = {{"REGION", "eu-1"}, {"INFO_FILE", dir_ / "info.json"}};
    plugin.install_hint = "see the wiki";
    config.exec = plugin;
    return config;
  }

  ScratchDir dir_;
  ManualClock clock_{At("2030-01-01T00:00:00Z")};
};

constexpr char kTokenPlugin[] = R"(printf '%s' "$KUBERNETES_EXEC_INFO" > "$INFO_FILE"
cat <<JSON
{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential",
 "status":{"token":"tok-$REGION-$1","expirationTimestamp":"2030-01-01T00:10:00Z"}}
JSON
)";

TEST_F(ExecPluginTest, RunsWithArgsAndEnvAndCachesUntilExpiry) {
  CredentialProvider provider(ConfigWithPlugin(kTokenPlugin), clock_);
  EXPECT_TRUE(provider.Refreshable());
  Result<AuthMaterial> auth = provider.Get();
  ASSERT_TRUE(auth.ok()) << auth.status();
  EXPECT_EQ(auth->token, "tok-eu-1-arg1");
  EXPECT_EQ(provider.exec_runs(), 1);

  nlohmann::json info = nlohmann::json::parse(testing::ReadText(dir_ / "info.json"));
  EXPECT_EQ(info["apiVersion"], kV1);
  EXPECT_EQ(info["kind"], "ExecCredential");
  EXPECT_EQ(info["spec"]["interactive"], false);
  EXPECT_FALSE(info["spec"].contains("cluster"));  // provideClusterInfo is off

  clock_.Advance(Millis(9 * 60'000));
  ASSERT_TRUE(provider.Get().ok());
  EXPECT_EQ(provider.exec_runs(), 1);  // cached

  clock_.Advance(Millis(2 * 60'000));  // past expirationTimestamp
  Result<AuthMaterial> again = provider.Get();
  // The script prints the same fixed expiry, which is now in the past.
  EXPECT_THAT(again, StatusIs(StatusCode::kFailedPrecondition,
                              HasSubstr("returned a credential that expired at "
                                        "2030-01-01T00:10:00Z")));
  EXPECT_EQ(provider.exec_runs(), 2);
}

TEST_F(ExecPluginTest, InvalidateRunsThePluginAgain) {
  KubeConfig config = ConfigWithPlugin(R"(printf '%s' "$KUBERNETES_EXEC_INFO" > "$INFO_FILE"
echo '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"t"}}'
)");
  config.exec->provide_cluster_info = true;
  CredentialProvider provider(config, clock_);
  ASSERT_TRUE(provider.Get().ok());
  ASSERT_TRUE(provider.Get().ok());
  EXPECT_EQ(provider.exec_runs(), 1);  // no expiry: cached until invalidated
  provider.Invalidate();
  ASSERT_TRUE(provider.Get().ok());
  EXPECT_EQ(provider.exec_runs(), 2);
  nlohmann::json info = nlohmann::json::parse(testing::ReadText(dir_ / "info.json"));
  EXPECT_EQ(info["spec"]["cluster"]["server"], "https://127.0.0.1:6443");
  EXPECT_EQ(info["spec"]["cluster"]["certificate-authority-data"],
            internal::Base64Encode("CA-PEM"));
}

TEST_F(ExecPluginTest, ClientCertificateFromThePlugin) {
  CredentialProvider provider(ConfigWithPlugin(R"(cat <<JSON
{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential",
 "status":{"clientCertificateData":"CERT\n","clientKeyData":"KEY\n"}}
JSON
)"),
                              clock_);
  Result<AuthMaterial> auth = provider.Get();
  ASSERT_TRUE(auth.ok()) << auth.status();
  EXPECT_EQ(auth->client_cert_pem, "CERT\n");
  EXPECT_EQ(auth->client_key_pem, "KEY\n");
  EXPECT_TRUE(auth->token.empty());
}

TEST_F(ExecPluginTest, FailureQuotesStderrButNeverStdout) {
  CredentialProvider provider(ConfigWithPlugin("echo '{\"status\":{\"token\":\"leaked-secret\"}}'\n"
                                               "echo 'error: you must log in first' >&2\nexit 3\n"),
                              clock_);
  Result<AuthMaterial> auth = provider.Get();
  EXPECT_THAT(auth, StatusIs(StatusCode::kFailedPrecondition,
                             AllOf(HasSubstr("user \"u\" in " + (dir_ / "kubeconfig")),
                                   HasSubstr("failed with exit code 3: error: you must log in "
                                             "first"),
                                   Not(HasSubstr("leaked-secret")))));
}

TEST_F(ExecPluginTest, MissingCommandShowsTheInstallHint) {
  KubeConfig config = ConfigWithPlugin("");
  config.exec->command = dir_ / "no-such-plugin";
  EXPECT_THAT(
      CredentialProvider(config, clock_).Get(),
      StatusIs(StatusCode::kFailedPrecondition,
               AllOf(HasSubstr("no-such-plugin\" was not found"), HasSubstr("(see the wiki)"))));
  config.exec->command = "sp-no-such-plugin-on-path";
  EXPECT_THAT(CredentialProvider(config, clock_).Get(),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("was not found on PATH")));
}

TEST_F(ExecPluginTest, Timeout) {
  CredentialProvider::Options options;
  options.exec_timeout = Millis(100);
  CredentialProvider provider(ConfigWithPlugin("exec sleep 10\n"), clock_, options);
  EXPECT_THAT(provider.Get(),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("did not finish within 100 ms")));
}

TEST(ParseExecCredentialTest, RejectsMalformedOutputWithoutQuotingIt) {
  ExecPluginConfig plugin;
  plugin.command = "p";
  plugin.api_version = kV1;
  auto parse = [&](const std::string& out) { return ParseExecCredential(out, plugin); };
  const std::string head =
      R"({"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1",)";
  EXPECT_THAT(parse("token=secret-value"),
              StatusIs(StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("did not print a JSON ExecCredential"),
                             Not(HasSubstr("secret-value")))));
  EXPECT_THAT(parse(R"({"kind":"Secret","apiVersion":"v1"})"),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("kind is not ExecCredential")));
  EXPECT_THAT(
      parse(R"({"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1beta1",)"
            R"("status":{"token":"x"}})"),
      StatusIs(StatusCode::kFailedPrecondition,
               HasSubstr("apiVersion \"client.authentication.k8s.io/v1beta1\"")));
  EXPECT_THAT(parse(head + R"("status":{}})"),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("neither status.token")));
  EXPECT_THAT(parse(head + R"("status":{"clientKeyData":"k"}})"),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("both are needed")));
  EXPECT_THAT(
      parse(head + R"("status":{"token":"x","expirationTimestamp":"tomorrow"}})"),
      StatusIs(StatusCode::kFailedPrecondition, HasSubstr("invalid status.expirationTimestamp")));
  Result<ExecCredential> ok = parse(
      head + R"("status":{"token":"x","expirationTimestamp":"2030-01-01T01:00:00.5+01:00"}})");
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(*ok->expiration, At("2030-01-01T00:00:00.500Z"));
}

TEST(TokenFileTest, ReReadAfterTheRefreshPeriodOrInvalidate) {
  ScratchDir dir;
  ManualClock clock(At("2030-01-01T00:00:00Z"));
  WriteText(dir / "token", "first\n");
  KubeConfig config;
  config.token_file = dir / "token";
  CredentialProvider provider(config, clock);
  EXPECT_TRUE(provider.Refreshable());
  EXPECT_EQ(provider.Get()->token, "first");
  WriteText(dir / "token", "second");
  EXPECT_EQ(provider.Get()->token, "first");
  clock.Advance(Millis(60'000));
  EXPECT_EQ(provider.Get()->token, "second");
  WriteText(dir / "token", "third");
  provider.Invalidate();
  EXPECT_EQ(provider.Get()->token, "third");
  WriteText(dir / "token", "  \n");
  provider.Invalidate();
  EXPECT_THAT(provider.Get(), StatusIs(StatusCode::kFailedPrecondition, HasSubstr("is empty")));
}

TEST(StaticCredentialsTest, TokenWinsAndCertificatesPassThrough) {
  ManualClock clock(At("2030-01-01T00:00:00Z"));
  KubeConfig config;
  config.token = "static";
  config.token_file = "/nonexistent";
  config.client_cert_file = "/x/c.crt";
  config.client_key_file = "/x/c.key";
  CredentialProvider provider(config, clock);
  EXPECT_FALSE(provider.Refreshable());
  Result<AuthMaterial> auth = provider.Get();
  ASSERT_TRUE(auth.ok()) << auth.status();
  EXPECT_EQ(auth->token, "static");
  EXPECT_EQ(auth->client_cert_file, "/x/c.crt");
  EXPECT_EQ(auth->client_key_file, "/x/c.key");
}

TEST(TextTest, Rfc3339AndBase64) {
  EXPECT_EQ(ToUnixMillis(At("1970-01-01T00:00:01Z")), 1000);
  EXPECT_EQ(ToUnixMillis(At("1970-01-01T01:00:00+01:00")), 0);
  EXPECT_EQ(ToUnixMillis(At("1970-01-01T00:00:00.123456Z")), 123);
  EXPECT_FALSE(internal::ParseRfc3339("1970-01-01 00:00").has_value());
  EXPECT_FALSE(internal::ParseRfc3339("1970-01-01T00:00:00").has_value());  // no zone
  for (std::string s : {"", "a", "ab", "abc", "abcd", "hello world\n"}) {
    EXPECT_EQ(internal::Base64Decode(internal::Base64Encode(s)), s);
  }
  EXPECT_EQ(internal::Base64Decode("aGVs\nbG8="), "hello");
  EXPECT_FALSE(internal::Base64Decode("a$b=").has_value());
}

}  // namespace
}  // namespace sp::k8s
