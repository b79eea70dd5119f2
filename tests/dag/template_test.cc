// Tests of template parsing and rendering ("{{ params.table }}").
#include "dag/template.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace sp::dag {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using json = nlohmann::json;

TEST(ParseTemplateTest, FindsReferencesWithOffsets) {
  Result<std::vector<TemplateRef>> refs =
      ParseTemplate("load {{ params.table }} on {{ds}} to {{  tasks.a.outputs.url  }}");
  ASSERT_TRUE(refs.ok()) << refs.status();
  ASSERT_EQ(refs->size(), 3u);
  EXPECT_EQ((*refs)[0].path, "params.table");
  EXPECT_EQ((*refs)[0].offset, 5u);
  EXPECT_EQ((*refs)[1].path, "ds");
  EXPECT_EQ((*refs)[1].offset, 27u);
  EXPECT_EQ((*refs)[2].path, "tasks.a.outputs.url");
}

TEST(ParseTemplateTest, TextWithoutReferencesHasNone) {
  EXPECT_TRUE(ParseTemplate("plain } { text }}")->empty());
  EXPECT_TRUE(ParseTemplate("")->empty());
}

TEST(ParseTemplateTest, IdentifiersMayHoldDashesAndDigits) {
  Result<std::vector<TemplateRef>> refs = ParseTemplate("{{ tasks.create-cluster_2.outputs.x1 }}");
  ASSERT_TRUE(refs.ok()) << refs.status();
  EXPECT_EQ((*refs)[0].path, "tasks.create-cluster_2.outputs.x1");
}

TEST(ParseTemplateTest, RejectsUnclosedEmptyAndMalformed) {
  const std::pair<const char*, const char*> cases[] = {
      {"echo {{ ds", "unclosed '{{' at offset 5"},
      {"a {{ }} b", "empty template expression '{{}}' at offset 2"},
      {"{{ a b }}", "malformed template expression '{{ a b }}' at offset 0"},
      {"x{{ a..b }}", "malformed template expression '{{ a..b }}' at offset 1"},
      {"{{ .a }}", "malformed"},
      {"{{ a. }}", "malformed"},
      {"{{ a | upper }}", "malformed"},
  };
  for (const auto& [text, want] : cases) {
    Result<std::vector<TemplateRef>> refs = ParseTemplate(text);
    ASSERT_FALSE(refs.ok()) << text;
    EXPECT_EQ(refs.status().code(), StatusCode::kInvalidArgument) << text;
    EXPECT_THAT(refs.status().message(), HasSubstr(want)) << text;
  }
}

json Context() {
  return json{{"ds", "2026-01-01"},
              {"try_number", 2},
              {"dag", {{"id", "pipeline"}}},
              {"params", {{"table", "events"}, {"full", true}, {"limit", 10}}},
              {"tasks", {{"create", {{"outputs", {{"master_url", "spark://h:7077"}}}}}}}};
}

TEST(RenderTemplateTest, InsertsStringsAsIsAndOtherValuesAsJson) {
  EXPECT_EQ(*RenderTemplate("load {{ params.table }} for {{ds}}", Context()),
            "load events for 2026-01-01");
  EXPECT_EQ(
      *RenderTemplate("try {{ try_number }} full={{params.full}} n={{ params.limit }}", Context()),
      "try 2 full=true n=10");
  EXPECT_EQ(*RenderTemplate("{{ tasks.create.outputs.master_url }}", Context()), "spark://h:7077");
  EXPECT_EQ(*RenderTemplate("no templates }}", Context()), "no templates }}");
  EXPECT_EQ(*RenderTemplate("{{ds}}{{ds}}", Context()), "2026-01-012026-01-01");
}

TEST(RenderTemplateTest, AcceptsFlatDottedKeys) {
  EXPECT_EQ(*RenderTemplate("{{ dag.id }}/{{ task.id }}", json{{"dag.id", "d"}, {"task.id", "t"}}),
            "d/t");
}

TEST(RenderTemplateTest, UnknownVariableIsNotFound) {
  for (const char* text : {"{{ params.x }}", "a {{ params.table.x }}"}) {
    Result<std::string> r = RenderTemplate(text, Context());
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  }
  EXPECT_EQ(RenderTemplate("{{ params.x }}", Context()).status().message(),
            "unknown template variable 'params.x'");
}

TEST(RenderTemplateTest, SyntaxErrorsAreInvalidArgument) {
  EXPECT_EQ(RenderTemplate("{{ ds", Context()).status().code(), StatusCode::kInvalidArgument);
}

TEST(RenderJsonTest, RendersEveryNestedString) {
  json value = json::parse(R"({
    "command": "spark-submit --table {{ params.table }}",
    "args": ["{{ ds }}", 3, true, null, {"deep": ["{{ dag.id }}"]}],
    "conf": {"spark.master": "{{ tasks.create.outputs.master_url }}", "spark.cores": 4}
  })");
  Result<json> r = RenderJson(value, Context());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, json::parse(R"({
    "command": "spark-submit --table events",
    "args": ["2026-01-01", 3, true, null, {"deep": ["pipeline"]}],
    "conf": {"spark.master": "spark://h:7077", "spark.cores": 4}
  })"));
}

TEST(RenderJsonTest, ErrorsSayWhereTheStringWas) {
  json value = {{"conf", {{"spark.x", json::array({"ok", "{{ params.nope }}"})}}}};
  Result<json> r = RenderJson(value, Context());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(r.status().message(), "conf.spark.x[1]: unknown template variable 'params.nope'");
}

TEST(RenderJsonTest, LeavesNonStringsAlone) {
  EXPECT_EQ(*RenderJson(json(42), json::object()), json(42));
  EXPECT_EQ(*RenderJson(json::object(), json::object()), json::object());
}

TEST(BuiltinTemplateVariablesTest, ListsTheDocumentedVariables) {
  const std::vector<std::string>& vars = BuiltinTemplateVariables();
  for (const char* v :
       {"ds", "ds_nodash", "ts", "ts_nodash", "ts_nodash_with_tz", "logical_date",
        "data_interval_start", "data_interval_end", "run_id", "task_instance_key_str",
        "dag_run.conf", "dag_run.run_id", "dag.id", "task.id", "try_number"}) {
    EXPECT_THAT(vars, Contains(v));
  }
  // Airflow 3 has no next_*/prev_ds/execution_date: they are not offered, and the loader says so.
  for (const char* v : {"next_ds", "prev_ds", "execution_date", "yesterday_ds", "tomorrow_ds"}) {
    EXPECT_THAT(vars, ::testing::Not(Contains(v)));
    EXPECT_THAT(RemovedAirflowVariableHint(v), HasSubstr("Airflow 3 no longer has"));
  }
  EXPECT_EQ(RemovedAirflowVariableHint("dss"), "");
}

// Issue 12: the values Airflow 3 renders for a run (task_runner's context; pendulum prints
// `{{ logical_date }}` with str(), i.e. isoformat(" ")).
TEST(RunTemplateValuesTest, Issue12FormatsAsAirflow3Renders) {
  RunTemplateInput in;
  in.dag_id = "etl";
  in.run_id = "scheduled__2026-01-01T00:00:00+00:00";
  in.run_type = "scheduled";
  in.task_id = "load";
  in.logical_date = FromUnixMillis(1767225600000);         // 2026-01-01T00:00:00Z
  in.data_interval_start = FromUnixMillis(1767225600000);  // 2026-01-01
  in.data_interval_end = FromUnixMillis(1767312000000);    // 2026-01-02
  in.conf = {{"table", "sales"}};
  json v = RunTemplateValues(in);
  EXPECT_EQ(v["ds"], "2026-01-01");
  EXPECT_EQ(v["ds_nodash"], "20260101");
  EXPECT_EQ(v["ts"], "2026-01-01T00:00:00+00:00");
  EXPECT_EQ(v["ts_nodash"], "20260101T000000");
  EXPECT_EQ(v["ts_nodash_with_tz"], "20260101T000000+0000");
  EXPECT_EQ(v["logical_date"], "2026-01-01 00:00:00+00:00");
  EXPECT_EQ(v["data_interval_start"], "2026-01-01 00:00:00+00:00");
  EXPECT_EQ(v["data_interval_end"], "2026-01-02 00:00:00+00:00");
  EXPECT_EQ(v["run_id"], "scheduled__2026-01-01T00:00:00+00:00");
  EXPECT_EQ(v["task_instance_key_str"], "etl__load__20260101");
  EXPECT_EQ(
      *RenderTemplate("{{ dag_run.conf.table }} {{ dag_run.run_type }} {{ dag_run.conf }}", v),
      "sales scheduled {\"table\":\"sales\"}");

  // A manual run at a time with milliseconds: Python prints microseconds.
  in.logical_date = FromUnixMillis(1767225600000 + 13 * 3600000 + 5 * 60000 + 7123);
  v = RunTemplateValues(in);
  EXPECT_EQ(v["ts"], "2026-01-01T13:05:07.123000+00:00");
  EXPECT_EQ(v["ts_nodash"], "20260101T130507");
  EXPECT_EQ(v["ts_nodash_with_tz"], "20260101T130507.123000+0000");
  EXPECT_EQ(v["logical_date"], "2026-01-01 13:05:07.123000+00:00");
}

// Issue 12: Airflow 3's prev_*_success values (the previous successful run of the DAG), printed
// as str() of the datetimes, and "None" (how Jinja renders Airflow's None) when there is no such
// run.
TEST(PreviousSuccessTemplateValuesTest, Issue12RenderAsAirflow3OrNone) {
  const std::vector<std::string>& vars = BuiltinTemplateVariables();
  for (const std::string& v : PreviousSuccessTemplateVariables()) EXPECT_THAT(vars, Contains(v));
  EXPECT_THAT(RemovedAirflowVariableHint("prev_execution_date_success"),
              HasSubstr("prev_data_interval_start_success"));

  PreviousSuccessfulRun prev;
  prev.data_interval_start = FromUnixMillis(1767225600000);          // 2026-01-01
  prev.data_interval_end = FromUnixMillis(1767312000000);            // 2026-01-02
  prev.start_date = FromUnixMillis(1767312000000 + 5 * 60000 + 7);   // 00:05:00.007
  prev.end_date = FromUnixMillis(1767312000000 + 65 * 60000 + 250);  // 01:05:00.250
  json v = PreviousSuccessTemplateValues(prev);
  EXPECT_EQ(*RenderTemplate("{{ prev_data_interval_start_success }}|{{ "
                            "prev_data_interval_end_success }}|{{ prev_start_date_success }}|{{ "
                            "prev_end_date_success }}",
                            v),
            "2026-01-01 00:00:00+00:00|2026-01-02 00:00:00+00:00|2026-01-02 "
            "00:05:00.007000+00:00|2026-01-02 01:05:00.250000+00:00");
  prev.end_date.reset();
  EXPECT_EQ(PreviousSuccessTemplateValues(prev)["prev_end_date_success"], "None");
  v = PreviousSuccessTemplateValues(std::nullopt);
  ASSERT_EQ(v.size(), 4u);
  for (const auto& [k, value] : v.items()) EXPECT_EQ(value, "None") << k;
}

TEST(ReferencesAnyOfTest, FindsReferencesInNestedStringsOnly) {
  const std::vector<std::string> names = {"prev_start_date_success"};
  EXPECT_TRUE(ReferencesAnyOf(
      json{{"conf", {{"a", json::array({"x", "{{prev_start_date_success}}"})}}}}, names));
  EXPECT_TRUE(ReferencesAnyOf(json("echo {{ ds }} {{ prev_start_date_success }}"), names));
  EXPECT_FALSE(ReferencesAnyOf(json("echo prev_start_date_success {{ ds }}"), names));
  EXPECT_FALSE(ReferencesAnyOf(json("{{ prev_start_date_success_x }}"), names));
  EXPECT_FALSE(ReferencesAnyOf(json("{{ unclosed prev_start_date_success"), names));
  EXPECT_FALSE(ReferencesAnyOf(json(42), names));
}

TEST(FormatPythonIsoTimeTest, BeforeTheEpochAndSeparators) {
  EXPECT_EQ(FormatPythonIsoTime(FromUnixMillis(-1)), "1969-12-31T23:59:59.999000+00:00");
  EXPECT_EQ(FormatPythonIsoTime(FromUnixMillis(0), ' '), "1970-01-01 00:00:00+00:00");
}

}  // namespace
}  // namespace sp::dag

namespace sp::dag {
namespace {

// Issue 9 (shell injection through templates): values reach a bash script as quoted variables.
TEST(RenderShellTemplateTest, ValuesBecomeQuotedVariablesForTheirQuotingContext) {
  nlohmann::json ctx = {{"ds", "2026-01-01"}, {"params", {{"name", "x\"; touch pwned; echo \""}}}};
  Result<ShellRendering> r =
      RenderShellTemplate("echo \"hello {{ params.name }}\" {{ ds }} '{{ds}}' $(cat {{ds}})", ctx);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->script,
            "echo \"hello ${SP_params_name}\" \"${SP_ds}\" ''\"${SP_ds}\"'' $(cat \"${SP_ds}\")");
  EXPECT_EQ(r->env.at("SP_params_name"), "x\"; touch pwned; echo \"");
  EXPECT_EQ(r->env.at("SP_ds"), "2026-01-01");
}

TEST(RenderShellTemplateTest, NamesAvoidTheTaskEnvAndSubstitutionsInsideDoubleQuotes) {
  nlohmann::json ctx = {{"ds", "d"}};
  Result<ShellRendering> r =
      RenderShellTemplate("echo \"$(echo {{ ds }})\"", ctx, {{"SP_ds", "x"}});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->script, "echo \"$(echo \"${SP_ds_2}\")\"");
  EXPECT_EQ(RenderShellTemplate("echo \\{{ ds }}", ctx).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(RenderShellTemplate("echo {{ nope }}", ctx).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(RenderShellTemplate("no templates", ctx)->script, "no templates");
}

}  // namespace
}  // namespace sp::dag
