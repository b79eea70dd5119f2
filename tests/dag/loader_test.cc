// Tests of the DAG loader's results for valid files (typing of fields, defaults, ordering,
// locations) and of how errors are reported. The catalogue of validation messages lives in
// tests/data/dag_validation/ (see dag_validation_test.cc).
#include "dag/loader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <iostream>

#include "dag/fake_task_types.h"
#include "dag/internal/civil_time.h"

namespace sp::dag {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;
using json = nlohmann::json;

std::string Errors(const LoadedFile& f) {
  std::string out;
  for (const DagError& e : f.errors) out += e.ToString() + "\n";
  return out;
}

constexpr const char* kFullDag = R"(id: spark_pipeline
description: nightly events
schedule: "0 2 * * *"
start_date: 2026-01-01
end_date: 2026-12-31T23:00:00+01:00
catchup: true
max_active_runs: 2
tags: [spark, nightly]
params:
  table: events
  limit:
    default: 100
    description: rows to keep
default_task:
  retries: 2
  retry_delay: 30s
  env: {SHARED: one, OVERRIDDEN: default}
tasks:
  - id: load
    type: bash
    depends_on: [extract, create]
    command: "load {{ params.table }} {{ tasks.extract.outputs.path }}"
    shell: 42
    cwd: '42'
    env: {OVERRIDDEN: mine, PORT: 8080}
  - id: create
    type: bash
    setup: true
    command: create
  - id: extract
    type: bash
    depends_on: create
    retries: 5
    retry_exponential_backoff: true
    max_retry_delay: 10m
    execution_timeout: 1h
    command: extract
    shell: [echo, "{{ ds }}", 1.5, true, null, {k: v}]
  - id: destroy
    type: bash
    teardown: true
    depends_on: [load]
    command: destroy
  - id: report
    type: bash
    depends_on: [load]
    trigger_rule: none_failed
    command: report
)";

TEST(LoaderTest, LoadsAValidDag) {
  LoadedFile f = LoadDagText(kFullDag, "dags/spark.yaml", fakes::FakeBashChecker());
  ASSERT_TRUE(f.errors.empty()) << Errors(f);
  ASSERT_NE(f.dag, nullptr);
  const Dag& dag = *f.dag;
  EXPECT_EQ(f.path, "dags/spark.yaml");
  EXPECT_EQ(dag.file, "dags/spark.yaml");
  EXPECT_EQ(dag.id, "spark_pipeline");
  EXPECT_EQ(dag.description, "nightly events");
  ASSERT_TRUE(dag.schedule.has_value());
  EXPECT_EQ(dag.schedule->text(), "0 2 * * *");
  EXPECT_EQ(FormatTime(*dag.start_date), "2026-01-01T00:00:00Z");
  EXPECT_EQ(FormatTime(*dag.end_date), "2026-12-31T22:00:00Z");
  EXPECT_TRUE(dag.catchup);
  EXPECT_EQ(dag.max_active_runs, 2);
  EXPECT_THAT(dag.tags, ElementsAre("spark", "nightly"));
  EXPECT_EQ(dag.params.at("table").default_value, json("events"));
  EXPECT_EQ(dag.params.at("limit").default_value, json(100));
  EXPECT_EQ(dag.params.at("limit").description, "rows to keep");
  EXPECT_EQ(dag.fingerprint.size(), 16u);
}

TEST(LoaderTest, OrdersTasksTopologicallyKeepingFileOrderForTies) {
  LoadedFile f = LoadDagText(kFullDag, "dags/spark.yaml", fakes::FakeBashChecker());
  ASSERT_TRUE(f.errors.empty()) << Errors(f);
  std::vector<std::string> ids;
  for (const TaskSpec& t : f.dag->tasks) ids.push_back(t.id);
  EXPECT_THAT(ids, ElementsAre("create", "extract", "load", "destroy", "report"));
  EXPECT_THAT(f.dag->FindTask("load")->depends_on, ElementsAre("extract", "create"));
  EXPECT_THAT(f.dag->Downstream("create"), ElementsAre("extract", "load"));
}

TEST(LoaderTest, AppliesDefaultsAndTaskOverrides) {
  LoadedFile f = LoadDagText(kFullDag, "dags/spark.yaml", fakes::FakeBashChecker());
  ASSERT_TRUE(f.errors.empty()) << Errors(f);
  const TaskSpec& load = *f.dag->FindTask("load");
  EXPECT_EQ(load.retry.retries, 2);
  EXPECT_EQ(load.retry.retry_delay, Millis(30'000));
  EXPECT_EQ(load.retry.backoff_multiplier, 0);
  EXPECT_EQ(load.trigger_rule, TriggerRule::kAllSuccess);
  EXPECT_EQ(load.execution_timeout, std::nullopt);
  EXPECT_THAT(load.env,
              ElementsAre(Pair("OVERRIDDEN", "mine"), Pair("PORT", "8080"), Pair("SHARED", "one")));

  const TaskSpec& extract = *f.dag->FindTask("extract");
  EXPECT_EQ(extract.retry.retries, 5);
  EXPECT_EQ(extract.retry.retry_delay, Millis(30'000));
  EXPECT_EQ(extract.retry.backoff_multiplier, 2);  // true, as in Airflow
  EXPECT_EQ(extract.retry.max_retry_delay, Millis(600'000));
  EXPECT_EQ(extract.execution_timeout, Millis(3'600'000));
  EXPECT_EQ(extract.trigger_rule, TriggerRule::kAllSuccess);
  // A task after a setup's direct downstream may use any rule (issue 12).
  EXPECT_EQ(f.dag->FindTask("report")->trigger_rule, TriggerRule::kNoneFailed);
}

TEST(LoaderTest, SetsRolesAndTeardownsGetAirflowsTeardownRule) {
  LoadedFile f = LoadDagText(kFullDag, "dags/spark.yaml", fakes::FakeBashChecker());
  ASSERT_TRUE(f.errors.empty()) << Errors(f);
  EXPECT_EQ(f.dag->FindTask("create")->role, TaskRole::kSetup);
  EXPECT_EQ(f.dag->FindTask("load")->role, TaskRole::kNormal);
  EXPECT_EQ(f.dag->FindTask("destroy")->role, TaskRole::kTeardown);
  EXPECT_EQ(f.dag->FindTask("destroy")->trigger_rule, TriggerRule::kAllDoneSetupSuccess);
}

TEST(LoaderTest, KeepsYamlTypingInTypeSpecificFields) {
  LoadedFile f = LoadDagText(kFullDag, "dags/spark.yaml", fakes::FakeBashChecker());
  ASSERT_TRUE(f.errors.empty()) << Errors(f);
  const TaskSpec& load = *f.dag->FindTask("load");
  EXPECT_EQ(load.fields.at("shell"), json(42));  // plain scalar -> number
  EXPECT_EQ(load.fields.at("cwd"), json("42"));  // quoted -> string
  EXPECT_EQ(load.fields.at("command"),
            json("load {{ params.table }} {{ tasks.extract.outputs.path }}"));  // unrendered
  EXPECT_EQ(f.dag->FindTask("extract")->fields.at("shell"),
            json::parse(R"(["echo", "{{ ds }}", 1.5, true, null, {"k": "v"}])"));
}

TEST(LoaderTest, RecordsOneBasedLocations) {
  LoadedFile f = LoadDagText(kFullDag, "dags/spark.yaml", fakes::FakeBashChecker());
  ASSERT_TRUE(f.errors.empty()) << Errors(f);
  const TaskSpec& load = *f.dag->FindTask("load");
  EXPECT_EQ(load.location.ToString(), "dags/spark.yaml:19:5");
  EXPECT_EQ(load.field_locations.at("command").ToString(), "dags/spark.yaml:22:5");
  EXPECT_EQ(load.field_locations.at("cwd").ToString(), "dags/spark.yaml:24:5");
}

TEST(LoaderTest, ScalarTypingFollowsTheYamlCoreSchema) {
  constexpr const char* kText = R"(id: typing
tasks:
  - id: t
    type: bash
    command:
      int: 7
      negative: -3
      hex: 0x1f
      float: 2.5e3
      bool: True
      yes_is_a_string: yes
      version: 1.10.2
      quoted: "true"
      tagged: !!str 12
      nothing: ~
      empty:
      block: |
        line
)";
  LoadedFile f = LoadDagText(kText, "t.yaml", fakes::FakeBashChecker());
  // `command` is an object, which the fake bash type rejects: look at the fields anyway.
  ASSERT_EQ(f.dag, nullptr);
  EXPECT_THAT(Errors(f), HasSubstr("t.yaml:5:5: tasks[0].command: command must be a string"));
  LoadedFile g = LoadDagText(kText, "t.yaml", TaskTypeChecker{});
  ASSERT_TRUE(g.errors.empty()) << Errors(g);
  EXPECT_EQ(g.dag->tasks[0].fields.at("command"), json::parse(R"({
    "int": 7, "negative": -3, "hex": 31, "float": 2500.0, "bool": true,
    "yes_is_a_string": "yes", "version": "1.10.2", "quoted": "true", "tagged": "12",
    "nothing": null, "empty": null, "block": "line\n"})"));
}

TEST(LoaderTest, AnEmptyCheckerAcceptsAnyTypeAndField) {
  LoadedFile f = LoadDagText("id: x\ntasks:\n  - {id: a, type: anything, whatever: 1}\n", "x.yaml",
                             TaskTypeChecker{});
  ASSERT_TRUE(f.errors.empty()) << Errors(f);
  EXPECT_EQ(f.dag->tasks[0].type, "anything");
  EXPECT_EQ(f.dag->tasks[0].fields.at("whatever"), json(1));
}

TEST(LoaderTest, ManualDagsNeedNoStartDate) {
  LoadedFile f = LoadDagText("id: x\nschedule: null\ntasks:\n  - {id: a, type: bash, command: b}\n",
                             "x.yaml", fakes::FakeBashChecker());
  ASSERT_TRUE(f.errors.empty()) << Errors(f);
  EXPECT_FALSE(f.dag->schedule.has_value());
  EXPECT_EQ(f.dag->max_active_runs, 16);
  LoadedFile once =
      LoadDagText("id: x\nschedule: '@once'\ntasks:\n  - {id: a, type: bash, command: b}\n",
                  "x.yaml", fakes::FakeBashChecker());
  ASSERT_TRUE(once.errors.empty()) << Errors(once);
  EXPECT_TRUE(once.dag->schedule->is_once());
}

// The README documents `schedule: none` (Airflow's schedule=None); it used to be rejected as an
// unknown cron expression.
TEST(LoaderTest, ScheduleNoneMeansManualOnly) {
  for (const char* none : {"none", "None"}) {
    LoadedFile f = LoadDagText(
        std::string("id: x\nschedule: ") + none + "\ntasks:\n  - {id: a, type: bash, command: b}\n",
        "x.yaml", fakes::FakeBashChecker());
    ASSERT_TRUE(f.errors.empty()) << none << ": " << Errors(f);
    EXPECT_FALSE(f.dag->schedule.has_value());
  }
}

TEST(LoaderTest, FingerprintFollowsTheBytes) {
  const std::string a = "id: x\ntasks:\n  - {id: a, type: bash, command: b}\n";
  LoadedFile f1 = LoadDagText(a, "x.yaml", fakes::FakeBashChecker());
  LoadedFile f2 = LoadDagText(a, "y.yaml", fakes::FakeBashChecker());
  LoadedFile f3 = LoadDagText(a + "# comment\n", "x.yaml", fakes::FakeBashChecker());
  ASSERT_TRUE(f1.dag && f2.dag && f3.dag);
  EXPECT_EQ(f1.dag->fingerprint, f2.dag->fingerprint);
  EXPECT_NE(f1.dag->fingerprint, f3.dag->fingerprint);
}

TEST(LoaderTest, CollectsAllErrorsInFileOrder) {
  LoadedFile f = LoadDagText(R"(id: bad
schedul: "@daily"
tasks:
  - id: a
    type: bash
    retries: many
  - id: b
    type: bsh
    depends_on: [c]
)",
                             "bad.yaml", fakes::FakeBashChecker());
  EXPECT_EQ(f.dag, nullptr);
  std::vector<std::string> got;
  for (const DagError& e : f.errors) got.push_back(e.ToString());
  EXPECT_THAT(
      got,
      ElementsAre(
          HasSubstr("bad.yaml:2:1: schedul: unknown field 'schedul'; did you mean 'schedule'?"),
          "bad.yaml:4:5: tasks[0]: missing required field 'command' for a bash task",
          "bad.yaml:6:14: tasks[0].retries: expected an integer; got 'many'",
          HasSubstr("bad.yaml:8:11: tasks[1].type: unknown task type 'bsh'; did you mean 'bash'?"),
          "bad.yaml:9:18: tasks[1].depends_on: unknown task 'c' in depends_on"));
}

TEST(LoaderTest, ReportsYamlSyntaxErrorsWithLineAndColumn) {
  LoadedFile f = LoadDagText("id: x\ntasks: [a, b\nother: 1\n", "s.yaml", fakes::FakeBashChecker());
  ASSERT_EQ(f.errors.size(), 1u);
  // libfyaml reports the unclosed '[' where the text ends: after the last line break.
  EXPECT_EQ(f.errors[0].location.line, 4);
  EXPECT_EQ(f.errors[0].location.column, 1);
  EXPECT_THAT(f.errors[0].ToString(), HasSubstr("s.yaml:4:1: "));
  EXPECT_THAT(f.errors[0].message,
              HasSubstr("YAML syntax error: flow sequence without a closing bracket"));
}

TEST(LoaderTest, MissingFileIsAnErrorNotACrash) {
  LoadedFile f = LoadDagFile("/nonexistent/dir/x.yaml", fakes::FakeBashChecker());
  EXPECT_EQ(f.dag, nullptr);
  ASSERT_EQ(f.errors.size(), 1u);
  EXPECT_THAT(
      f.errors[0].ToString(),
      HasSubstr(
          "/nonexistent/dir/x.yaml: cannot read DAG file /nonexistent/dir/x.yaml: No such file"));
}

TEST(DagErrorTest, FormatsLocationFieldAndMessage) {
  DagError e{{"dags/a.yaml", 12, 5}, "tasks[2].retry_delay", "expected a duration"};
  EXPECT_EQ(e.ToString(), "dags/a.yaml:12:5: tasks[2].retry_delay: expected a duration");
  EXPECT_EQ((DagError{{"a.yaml", 0, 0}, "", "empty"}).ToString(), "a.yaml: empty");
  EXPECT_EQ((DagError{{}, "", "bare"}).ToString(), "bare");
}

// 1,000 generated files of 10 tasks each load without errors; the time is printed for
// comparison (speed is measured in `make bench`, never asserted).
TEST(LoaderTest, LoadsAThousandGeneratedFilesWithoutErrors) {
  std::vector<std::string> texts;
  for (int f = 0; f < 1000; ++f) {
    std::string text = "id: dag_" + std::to_string(f) +
                       "\nschedule: '0 2 * * *'\nstart_date: 2026-01-01\n"
                       "params: {table: events}\ndefault_task: {retries: 2, retry_delay: 30s}\n"
                       "tasks:\n";
    for (int t = 0; t < 10; ++t) {
      text += "  - id: t" + std::to_string(t) + "\n    type: bash\n";
      if (t > 0) text += "    depends_on: [t" + std::to_string(t - 1) + "]\n";
      text += "    env: {TABLE: '{{ params.table }}'}\n";
      text += "    command: echo {{ ds }} {{ params.table }}";
      if (t > 0) text += " {{ tasks.t0.outputs.path }}";
      text += "\n";
    }
    texts.push_back(std::move(text));
  }
  const TaskTypeChecker checker = fakes::FakeBashChecker();
  const auto start = std::chrono::steady_clock::now();
  for (size_t i = 0; i < texts.size(); ++i) {
    LoadedFile f = LoadDagText(texts[i], "dag.yaml", checker);
    ASSERT_TRUE(f.errors.empty()) << Errors(f);
  }
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - start)
                      .count();
  // Speed is measured by the benchmarks (docs/BENCHMARKS.md), not asserted here.
  std::cout << "loaded 1000 DAG files of 10 tasks in " << ms << " ms\n";
}

}  // namespace
}  // namespace sp::dag
