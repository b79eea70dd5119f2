// Connections: URI parsing, validation, add/get/list/delete over an in-memory store, secrets
// sealed in the store's columns (never plain), reveal with and without the key, Spark master
// URLs from connections.
#include "operators/connections.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "operators/recording_task_context.h"
#include "store/store.h"

namespace sp::operators {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using testing::ScratchDir;
using testing::StatusIs;
using testing::WriteFile;

spark::EnvLookup NoEnv() {
  return [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
}

TEST(ParseConnectionUriTest, SparkMaster) {
  Result<ConnectionInput> in = ParseConnectionUri("spark://127.0.0.1:7077");
  ASSERT_TRUE(in.ok()) << in.status();
  EXPECT_EQ(in->conn_type, "spark");
  EXPECT_EQ(in->host, "127.0.0.1");
  EXPECT_EQ(in->port, 7077);
  EXPECT_EQ(in->login, "");
  EXPECT_EQ(in->password, "");
  EXPECT_EQ(in->schema, "");
  EXPECT_THAT(in->extras, IsEmpty());
}

TEST(ParseConnectionUriTest, EveryPartWithEscapes) {
  Result<ConnectionInput> in = ParseConnectionUri(
      "postgres-db://al%40ice:p%3Ass%2Fw0rd@db.example.com:5432/sales%20db?sslmode=require&"
      "application_name=spark+plane&flag");
  ASSERT_TRUE(in.ok()) << in.status();
  EXPECT_EQ(in->conn_type, "postgres_db");
  EXPECT_EQ(in->login, "al@ice");
  EXPECT_EQ(in->password, "p:ss/w0rd");
  EXPECT_EQ(in->host, "db.example.com");
  EXPECT_EQ(in->port, 5432);
  EXPECT_EQ(in->schema, "sales db");
  EXPECT_EQ(in->extras.at("sslmode"), "require");
  EXPECT_EQ(in->extras.at("application_name"), "spark plane");
  EXPECT_EQ(in->extras.at("flag"), "");
}

// Hardening issue D: a secret in the URI's query (spark://h:7077?password=...) was stored and
// listed in clear. Secret-looking query names are secret extras, sealed like the password.
TEST(ParseConnectionUriTest, SecretLookingQueryNamesAreSecretExtras) {
  Result<ConnectionInput> in = ParseConnectionUri(
      "spark://h:7077?password=pw-in-query&api_key=k1&accessKey=k2&auth_token=t1&"
      "client_secret=s1&queue=etl&keyspace=ks&deploy=client");
  ASSERT_TRUE(in.ok()) << in.status();
  EXPECT_THAT(in->secret_extras, ::testing::UnorderedElementsAre("password", "api_key", "accessKey",
                                                                 "auth_token", "client_secret"));
  EXPECT_EQ(in->extras.at("password"), "pw-in-query");  // the input keeps the clear values
}

TEST(LooksLikeSecretNameTest, PasswordsTokensSecretsAndKeys) {
  for (const char* name : {"password", "db_password", "PASSWD", "pwd", "secret", "clientSecret",
                           "token", "access_token", "key", "api_key", "apikey", "accessKey",
                           "ssl.key", "sslkey", "private_key_file", "credentials"}) {
    EXPECT_TRUE(LooksLikeSecretName(name)) << name;
  }
  for (const char* name : {"queue", "sslmode", "keyspace", "keytab", "monkeys", "application_name",
                           "schema", "deploy_mode", "region"}) {
    EXPECT_FALSE(LooksLikeSecretName(name)) << name;
  }
}

TEST(ParseConnectionUriTest, Ipv6AndNoPort) {
  Result<ConnectionInput> in = ParseConnectionUri("spark://[::1]:7078");
  ASSERT_TRUE(in.ok()) << in.status();
  EXPECT_EQ(in->host, "::1");
  EXPECT_EQ(in->port, 7078);
  in = ParseConnectionUri("http://example.com");
  ASSERT_TRUE(in.ok());
  EXPECT_EQ(in->host, "example.com");
  EXPECT_EQ(in->port, 0);
}

TEST(ParseConnectionUriTest, ErrorsSayWhatIsWrongWithoutEchoingThePassword) {
  EXPECT_THAT(ParseConnectionUri("127.0.0.1:7077"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("no TYPE:// at the start")));
  EXPECT_THAT(ParseConnectionUri("spark://host:notaport"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("port 'notaport' is not a number")));
  EXPECT_THAT(ParseConnectionUri("spark://host:70000"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("from 1 to 65535")));
  EXPECT_THAT(ParseConnectionUri("9x://host"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("must start with a letter")));
  Result<ConnectionInput> bad = ParseConnectionUri("pg://bob:topsecret@host:99999");
  EXPECT_THAT(bad, StatusIs(StatusCode::kInvalidArgument, Not(HasSubstr("topsecret"))));
  EXPECT_THAT(ParseConnectionUri("pg://bob:top%zzsecret@host"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("bad %-escape in the password")));
}

class ConnectionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<std::unique_ptr<store::Store>> s = store::OpenSqliteStore(":memory:");
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
    WriteFile(key_path_, std::string(64, 'c') + "\n");
  }

  ConnectionInput Input() {
    ConnectionInput in;
    in.conn_id = "warehouse";
    in.conn_type = "postgres";
    in.host = "db";
    in.port = 5432;
    in.login = "bob";
    in.password = "hunter2-password";
    in.extras = {{"sslmode", "require"}, {"api_token", "tok-very-secret"}};
    in.secret_extras = {"api_token"};
    return in;
  }

  ScratchDir dir_;
  std::string key_path_ = dir_.File("secret.key");
  SecretKeySource key_{key_path_, NoEnv()};
  std::unique_ptr<store::Store> store_;
};

TEST_F(ConnectionsTest, SecretsAreSealedInTheStore) {
  Result<store::ConnectionRecord> added = AddConnection(*store_, Input(), key_, 42);
  ASSERT_TRUE(added.ok()) << added.status();
  Result<std::optional<store::ConnectionRecord>> stored = store_->GetConnection("warehouse");
  ASSERT_TRUE(stored.ok() && stored->has_value());
  const store::ConnectionRecord& r = **stored;
  EXPECT_EQ(r.created_by_run, 42);
  EXPECT_EQ(r.host, "db");
  EXPECT_EQ(r.login, "bob");
  EXPECT_FALSE(r.password_sealed.empty());
  EXPECT_THAT(r.password_sealed, Not(HasSubstr("hunter2")));
  EXPECT_EQ(r.extras["sslmode"], "require");
  EXPECT_EQ(r.extras["api_token"], "***");
  EXPECT_FALSE(r.extras_sealed.empty());
  EXPECT_THAT(r.extras_sealed, Not(HasSubstr("tok-very-secret")));
  // No plain column holds a secret.
  std::string plain = r.conn_id + r.conn_type + r.host + r.schema + r.login + r.extras.dump();
  EXPECT_THAT(plain, Not(HasSubstr("hunter2")));
  EXPECT_THAT(plain, Not(HasSubstr("tok-very-secret")));
}

TEST_F(ConnectionsTest, SecretsInTheUriQueryAreSealedAndMaskedInListings) {
  Result<ConnectionInput> in =
      ParseConnectionUri("spark://h:7077?password=pw-in-query&token=tok-in-query&queue=etl");
  ASSERT_TRUE(in.ok()) << in.status();
  in->conn_id = "remote";
  Result<store::ConnectionRecord> added = AddConnection(*store_, *in, key_);
  ASSERT_TRUE(added.ok()) << added.status();
  Result<std::optional<store::ConnectionRecord>> stored = store_->GetConnection("remote");
  ASSERT_TRUE(stored.ok() && stored->has_value());
  const store::ConnectionRecord& r = **stored;
  std::string plain = r.conn_id + r.conn_type + r.host + r.schema + r.login + r.extras.dump() +
                      r.extras_sealed + r.password_sealed;
  EXPECT_THAT(plain, Not(HasSubstr("pw-in-query")));
  EXPECT_THAT(plain, Not(HasSubstr("tok-in-query")));
  EXPECT_EQ(r.extras["password"], "***");
  EXPECT_EQ(r.extras["token"], "***");
  EXPECT_EQ(r.extras["queue"], "etl");

  Result<std::vector<Connection>> listed = ListConnections(*store_);
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), 1u);
  std::string shown = (*listed)[0].ToJson().dump() + DescribeConnection((*listed)[0]);
  EXPECT_THAT(shown, Not(HasSubstr("pw-in-query")));
  EXPECT_THAT(shown, Not(HasSubstr("tok-in-query")));
  EXPECT_THAT(shown, HasSubstr("queue=etl"));
  EXPECT_THAT((*listed)[0].secret_extras, ElementsAre("password", "token"));

  Result<Connection> revealed = GetConnection(*store_, "remote", SecretReveal::kRevealed, key_);
  ASSERT_TRUE(revealed.ok()) << revealed.status();
  EXPECT_EQ(revealed->extras.at("password"), "pw-in-query");
  EXPECT_EQ(revealed->extras.at("token"), "tok-in-query");
  EXPECT_EQ(*SparkMasterUrl(r), "spark://h:7077");

  // Without a key, such a URI is refused like a password would be, not stored in clear.
  SecretKeySource no_key{dir_.File("missing.key"), NoEnv()};
  in->conn_id = "remote2";
  EXPECT_THAT(AddConnection(*store_, *in, no_key),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("no secret key")));
}

TEST_F(ConnectionsTest, ExtrasWithSecretNamesAreSealedEvenWhenNotListed) {
  ConnectionInput in = Input();
  in.secret_extras.clear();  // api_token is sealed anyway
  ASSERT_TRUE(AddConnection(*store_, in, key_).ok());
  Result<std::optional<store::ConnectionRecord>> stored = store_->GetConnection("warehouse");
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_EQ((**stored).extras["api_token"], "***");
  EXPECT_EQ((**stored).extras["sslmode"], "require");
  EXPECT_THAT((**stored).extras_sealed, Not(HasSubstr("tok-very-secret")));
}

TEST_F(ConnectionsTest, GetHidesSecretsUnlessRevealed) {
  ASSERT_TRUE(AddConnection(*store_, Input(), key_).ok());
  Result<Connection> hidden = GetConnection(*store_, "warehouse", SecretReveal::kHidden);
  ASSERT_TRUE(hidden.ok()) << hidden.status();
  EXPECT_TRUE(hidden->has_password);
  EXPECT_EQ(hidden->password, "***");
  EXPECT_EQ(hidden->extras.at("api_token"), "***");
  EXPECT_THAT(hidden->secret_extras, ElementsAre("api_token"));
  EXPECT_THAT(hidden->ToJson().dump(), Not(HasSubstr("hunter2")));

  Result<Connection> shown = GetConnection(*store_, "warehouse", SecretReveal::kRevealed, key_);
  ASSERT_TRUE(shown.ok()) << shown.status();
  EXPECT_EQ(shown->password, "hunter2-password");
  EXPECT_EQ(shown->extras.at("api_token"), "tok-very-secret");
  EXPECT_EQ(shown->extras.at("sslmode"), "require");
  EXPECT_THAT(shown->secret_extras, ElementsAre("api_token"));

  // Logs describe connections with secrets masked, even a revealed one.
  std::string line = DescribeConnection(*shown);
  EXPECT_THAT(line, HasSubstr("password: ***"));
  EXPECT_THAT(line, HasSubstr("api_token=***"));
  EXPECT_THAT(line, Not(HasSubstr("hunter2")));
  EXPECT_THAT(line, Not(HasSubstr("tok-very-secret")));
}

TEST_F(ConnectionsTest, RevealWithTheWrongOrNoKeyFails) {
  ASSERT_TRUE(AddConnection(*store_, Input(), key_).ok());
  std::string other = dir_.File("other.key");
  WriteFile(other, std::string(64, 'd'));
  EXPECT_THAT(GetConnection(*store_, "warehouse", SecretReveal::kRevealed, {other, NoEnv()}),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("another secret key")));
  EXPECT_THAT(
      GetConnection(*store_, "warehouse", SecretReveal::kRevealed, {dir_.File("none"), NoEnv()}),
      StatusIs(StatusCode::kFailedPrecondition, HasSubstr("no secret key")));
}

TEST_F(ConnectionsTest, SecretsNeedAKeyButPlainConnectionsDoNot) {
  SecretKeySource none{dir_.File("missing.key"), NoEnv()};
  EXPECT_THAT(
      AddConnection(*store_, Input(), none),
      StatusIs(StatusCode::kFailedPrecondition,
               HasSubstr("no secret key: create one with `sparkplane connections keygen`")));
  Result<std::vector<Connection>> listed = ListConnections(*store_);
  ASSERT_TRUE(listed.ok());
  EXPECT_THAT(*listed, IsEmpty());  // nothing half-written

  ConnectionInput plain;
  plain.conn_id = "spark_default";
  plain.conn_type = "spark";
  plain.host = "127.0.0.1";
  plain.port = 7077;
  ASSERT_TRUE(AddConnection(*store_, plain, none).ok());
  Result<Connection> got = GetConnection(*store_, "spark_default", SecretReveal::kRevealed, none);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_FALSE(got->has_password);
  EXPECT_EQ(got->password, "");
}

TEST_F(ConnectionsTest, ListUpsertAndDelete) {
  ASSERT_TRUE(AddConnection(*store_, Input(), key_).ok());
  ConnectionInput b;
  b.conn_id = "a_spark";
  b.conn_type = "spark";
  b.host = "h";
  ASSERT_TRUE(AddConnection(*store_, b, key_).ok());
  b.host = "h2";  // replaces
  ASSERT_TRUE(AddConnection(*store_, b, key_).ok());
  Result<std::vector<Connection>> listed = ListConnections(*store_);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].conn_id, "a_spark");
  EXPECT_EQ((*listed)[0].host, "h2");
  EXPECT_EQ((*listed)[1].password, "***");

  ASSERT_TRUE(DeleteConnection(*store_, "a_spark").ok());
  EXPECT_THAT(DeleteConnection(*store_, "a_spark"),
              StatusIs(StatusCode::kNotFound, HasSubstr("unknown connection 'a_spark'")));
  EXPECT_THAT(GetConnection(*store_, "warehose", SecretReveal::kHidden),
              StatusIs(StatusCode::kNotFound, HasSubstr("did you mean 'warehouse'?")));
}

TEST_F(ConnectionsTest, ValidationNamesTheField) {
  ConnectionInput in = Input();
  in.conn_id = "bad id";
  EXPECT_THAT(AddConnection(*store_, in, key_),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("conn_id 'bad id'")));
  in = Input();
  in.conn_type = "";
  EXPECT_THAT(AddConnection(*store_, in, key_),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("conn_type: must not be empty")));
  in = Input();
  in.secret_extras = {"nope"};
  EXPECT_THAT(AddConnection(*store_, in, key_),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("secret_extras: 'nope'")));
  in = Input();
  in.port = 70000;
  EXPECT_THAT(AddConnection(*store_, in, key_),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("port")));
}

TEST(SparkMasterUrlTest, FromHostPortOrUrl) {
  store::ConnectionRecord r;
  r.conn_id = "c";
  r.conn_type = "spark";
  r.host = "10.0.0.5";
  r.port = 7078;
  EXPECT_EQ(*SparkMasterUrl(r), "spark://10.0.0.5:7078");
  r.port = 0;
  EXPECT_EQ(*SparkMasterUrl(r), "spark://10.0.0.5:7077");
  r.host = "spark://m1";
  r.port = 7079;
  EXPECT_EQ(*SparkMasterUrl(r), "spark://m1:7079");
  r.host = "spark://m1:7000";
  EXPECT_EQ(*SparkMasterUrl(r), "spark://m1:7000");
  r.host = "local[2]";
  EXPECT_EQ(*SparkMasterUrl(r), "local[2]");
  r.conn_type = "postgres";
  EXPECT_THAT(SparkMasterUrl(r), StatusIs(StatusCode::kFailedPrecondition,
                                          HasSubstr("needs a connection of type spark")));
  r.conn_type = "spark";
  r.host = "";
  EXPECT_THAT(SparkMasterUrl(r), StatusIs(StatusCode::kFailedPrecondition, HasSubstr("no host")));
}

}  // namespace
}  // namespace sp::operators
