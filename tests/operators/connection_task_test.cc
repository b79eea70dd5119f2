// ConnectionTaskType: validation messages, create (fields or uri) and delete through Start with
// an in-memory store, secrets masked in the try's log and sealed in the store.
#include "operators/connection_task.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include "operators/connections.h"
#include "operators/recording_task_context.h"
#include "store/store.h"

namespace sp::operators {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::ReadFile;
using testing::RecordingTaskContext;
using testing::ScratchDir;
using testing::WriteFile;
using Json = nlohmann::json;

class ConnectionTaskTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::unsetenv(kSecretKeyEnv);  // the key comes from the file below
    Result<std::unique_ptr<store::Store>> s = store::OpenSqliteStore(":memory:");
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
    services_.store = store_.get();
    services_.config.data_dir = dir_.path();
    services_.config.secret_key_path = dir_.File("secret.key");
  }

  TaskResult Run(Json fields) {
    auto ctx = std::make_shared<RecordingTaskContext>(&services_, std::move(fields), log_,
                                                      testing::ContextIdentity{.run_key = 12});
    type_.Start(ctx);
    std::optional<TaskResult> r = ctx->WaitForResult();
    EXPECT_TRUE(r.has_value());
    EXPECT_EQ(ctx->complete_calls(), 1);
    return r.value_or(TaskResult{});
  }

  void WriteKey() { WriteFile(services_.config.secret_key_path, std::string(64, 'e') + "\n"); }

  ScratchDir dir_;
  std::string log_ = dir_.File("logs/t/1.log");
  std::unique_ptr<store::Store> store_;
  Services services_;
  ConnectionTaskType type_{&services_};
};

TEST_F(ConnectionTaskTest, CreatesFromAUri) {
  TaskResult r = Run({{"conn_id", "spark_run"}, {"uri", "spark://127.0.0.1:41000"}});
  ASSERT_TRUE(r.success) << r.message;
  EXPECT_EQ(r.outputs["conn_id"], "spark_run");
  EXPECT_EQ(r.outputs["port"], 41000);
  Result<std::optional<store::ConnectionRecord>> got = store_->GetConnection("spark_run");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->conn_type, "spark");
  EXPECT_EQ((*got)->host, "127.0.0.1");
  EXPECT_EQ((*got)->port, 41000);
  EXPECT_EQ((*got)->created_by_run, 12);
  EXPECT_EQ(*SparkMasterUrl(**got), "spark://127.0.0.1:41000");
  EXPECT_THAT(ReadFile(log_), HasSubstr("[sparkplane] saved connection 'spark_run': type spark"));
}

TEST_F(ConnectionTaskTest, PasswordsAreSealedAndNeverLogged) {
  WriteKey();
  TaskResult r = Run({{"conn_id", "db"},
                      {"conn_type", "postgres"},
                      {"host", "db.local"},
                      {"port", "5432"},
                      {"login", "etl"},
                      {"password", "correct-horse-battery"},
                      {"extras", {{"token", "tok-123-secret"}, {"mode", "fast"}}},
                      {"secret_extras", Json::array({"token"})}});
  ASSERT_TRUE(r.success) << r.message;
  std::string log = ReadFile(log_);
  EXPECT_THAT(log, HasSubstr("password: ***"));
  EXPECT_THAT(log, HasSubstr("token=***"));
  EXPECT_THAT(log, Not(HasSubstr("correct-horse")));
  EXPECT_THAT(log, Not(HasSubstr("tok-123")));
  EXPECT_THAT(r.outputs.dump(), Not(HasSubstr("correct-horse")));
  Result<std::optional<store::ConnectionRecord>> got = store_->GetConnection("db");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_THAT((*got)->password_sealed, Not(HasSubstr("correct-horse")));
  EXPECT_EQ((*got)->extras["token"], "***");
  EXPECT_EQ((*got)->extras["mode"], "fast");
  Result<Connection> shown =
      GetConnection(*store_, "db", SecretReveal::kRevealed, {services_.config.secret_key_path});
  ASSERT_TRUE(shown.ok()) << shown.status();
  EXPECT_EQ(shown->password, "correct-horse-battery");
  EXPECT_EQ(shown->extras["token"], "tok-123-secret");
}

// Hardening issue D, through a DAG's connection task: the uri's query secrets are sealed and
// never logged, and listing secret_extras adds to them rather than replacing them.
TEST_F(ConnectionTaskTest, SecretsInTheUriQueryAreSealedAndNeverLogged) {
  WriteKey();
  TaskResult r = Run({{"conn_id", "remote"},
                      {"uri", "spark://h:7077?password=pw-in-query&queue=etl&region=eu"},
                      {"secret_extras", Json::array({"region"})}});
  ASSERT_TRUE(r.success) << r.message;
  std::string log = ReadFile(log_);
  EXPECT_THAT(log, Not(HasSubstr("pw-in-query")));
  EXPECT_THAT(log, HasSubstr("password=***"));
  EXPECT_THAT(log, HasSubstr("region=***"));
  EXPECT_THAT(log, HasSubstr("queue=etl"));
  Result<std::optional<store::ConnectionRecord>> got = store_->GetConnection("remote");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->extras["password"], "***");
  EXPECT_EQ((*got)->extras["region"], "***");
  EXPECT_THAT((*got)->extras_sealed, Not(HasSubstr("pw-in-query")));
}

TEST_F(ConnectionTaskTest, APasswordWithoutAKeyFailsWithoutRetry) {
  TaskResult r = Run({{"conn_id", "db"}, {"conn_type", "postgres"}, {"password", "pw-123456"}});
  EXPECT_FALSE(r.success);
  EXPECT_FALSE(r.retryable);
  EXPECT_THAT(r.message, HasSubstr("no secret key: create one with `sparkplane connections keygen` "
                                   "or set SPARKPLANE_SECRET_KEY"));
  EXPECT_THAT(r.message, Not(HasSubstr("pw-123456")));
  Result<std::optional<store::ConnectionRecord>> got = store_->GetConnection("db");
  ASSERT_TRUE(got.ok());
  EXPECT_FALSE(got->has_value());
}

TEST_F(ConnectionTaskTest, DeleteIsIdempotent) {
  ASSERT_TRUE(Run({{"conn_id", "c1"}, {"uri", "spark://h:1"}}).success);
  TaskResult r = Run({{"action", "delete"}, {"conn_id", "c1"}});
  EXPECT_TRUE(r.success) << r.message;
  Result<std::optional<store::ConnectionRecord>> got = store_->GetConnection("c1");
  ASSERT_TRUE(got.ok());
  EXPECT_FALSE(got->has_value());
  r = Run({{"action", "delete"}, {"conn_id", "c1"}});
  EXPECT_TRUE(r.success) << r.message;
  EXPECT_THAT(ReadFile(log_), HasSubstr("no connection 'c1'; nothing to delete"));
}

TEST_F(ConnectionTaskTest, BadRenderedValuesFailWithoutRetry) {
  TaskResult r = Run({{"conn_id", "c"}, {"uri", "127.0.0.1:7077"}});
  EXPECT_FALSE(r.success);
  EXPECT_FALSE(r.retryable);
  EXPECT_THAT(r.message, HasSubstr("invalid connection task: uri: connection URI: no TYPE://"));
}

struct ValidationCase {
  const char* name;
  const char* fields;   // JSON
  const char* field;    // expected DagError::field
  const char* message;  // expected substring
};

class ConnectionValidationTest : public ::testing::TestWithParam<ValidationCase> {};

TEST_P(ConnectionValidationTest, ReportsLocatedErrors) {
  const ValidationCase& c = GetParam();
  dag::TaskSpec spec;
  spec.id = "register";
  spec.type = "connection";
  spec.fields = Json::parse(c.fields);
  spec.location = {"dags/etl.yaml", 10, 5};
  for (const auto& [key, value] : spec.fields.items()) {
    spec.field_locations[key] = {"dags/etl.yaml", 20, 7};
  }
  Services services;
  ConnectionTaskType type(&services);
  std::vector<dag::DagError> errors;
  type.Validate(spec, &errors);
  std::string all;
  for (const dag::DagError& e : errors) all += "\n  " + e.field + ": " + e.message;
  ASSERT_EQ(errors.size(), 1u) << c.name << all;
  EXPECT_EQ(errors[0].field, c.field);
  EXPECT_THAT(errors[0].message, HasSubstr(c.message));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ConnectionValidationTest,
    ::testing::Values(
        ValidationCase{"missing conn_id", R"({"conn_type": "spark"})", "conn_id",
                       "missing required field 'conn_id'"},
        ValidationCase{"bad conn_id", R"({"conn_id": "a b", "conn_type": "spark"})", "conn_id",
                       "expected 1-250 letters"},
        ValidationCase{"bad action", R"({"conn_id": "a", "action": "remove", "conn_type": "x"})",
                       "action", "expected create or delete; got 'remove'"},
        ValidationCase{"no type", R"({"conn_id": "a", "host": "h"})", "conn_type",
                       "missing required field 'conn_type'"},
        ValidationCase{"uri and host", R"({"conn_id": "a", "uri": "spark://h:1", "host": "h"})",
                       "uri", "give either uri or conn_type/host/port"},
        ValidationCase{"bad uri", R"({"conn_id": "a", "uri": "spark://h:x"})", "uri",
                       "port 'x' is not a number"},
        ValidationCase{"bad port", R"({"conn_id": "a", "conn_type": "s", "port": 99999})", "port",
                       "expected an integer from 0 to 65535; got 99999"},
        ValidationCase{"port text", R"({"conn_id": "a", "conn_type": "s", "port": "http"})", "port",
                       "expected an integer from 0 to 65535; got string \"http\""},
        ValidationCase{"extras not map", R"({"conn_id": "a", "conn_type": "s", "extras": [1]})",
                       "extras", "expected a mapping"},
        ValidationCase{"secret not extra",
                       R"({"conn_id": "a", "conn_type": "s", "extras": {"k": "v"},
                           "secret_extras": ["token"]})",
                       "secret_extras[0]", "'token' is not one of the extras"},
        ValidationCase{"password number", R"({"conn_id": "a", "conn_type": "s", "password": 5})",
                       "password", "expected a string; got number 5"}),
    [](const ::testing::TestParamInfo<ValidationCase>& info) {
      std::string name = info.param.name;
      for (char& ch : name) {
        if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
      }
      return name;
    });

TEST(ConnectionValidationTemplates, TemplatesAreCheckedAfterRendering) {
  dag::TaskSpec spec;
  spec.id = "register";
  spec.type = "connection";
  spec.fields = {{"conn_id", "{{ params.conn }}"},
                 {"uri", "{{ tasks.cluster.outputs.master_url }}"},
                 {"extras", {{"k", "{{ ds }}"}}},
                 {"secret_extras", "{{ params.secret_names }}"}};
  Services services;
  ConnectionTaskType type(&services);
  std::vector<dag::DagError> errors;
  type.Validate(spec, &errors);
  EXPECT_TRUE(errors.empty()) << errors[0].field << ": " << errors[0].message;
}

}  // namespace
}  // namespace sp::operators
