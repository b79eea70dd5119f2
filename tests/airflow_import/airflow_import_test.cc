// Importing Airflow DAG files: each tests/data/airflow_import/NAME.py is imported and compared
// with NAME.yaml (the golden output, its header holding the report), and the output must load
// with Sparkplane's own loader and the real task types' checks. SP_UPDATE_GOLDEN=1 rewrites the
// goldens (review the diff). Python is the repository's .venv one (scripts/setup.sh), else
// python3 from PATH.
#include "airflow_import/airflow_import.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "airflow_import/yaml_writer.h"
#include "dag/loader.h"
#include "operators/registry.h"

namespace sp::airflow_import {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

std::string DataDir() {
  return std::string(SP_SOURCE_DIR) + "/tests/data/airflow_import";
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void WriteText(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

std::string Python() {
  std::string venv = std::string(SP_SOURCE_DIR) + "/.venv/bin/python";
  return fs::exists(venv) ? venv : "python3";
}

class AirflowImportTest : public ::testing::Test {
 protected:
  AirflowImportTest() : registry_(operators::BuildRegistry(&services_)) {}

  Result<AirflowImport> Import(const std::string& path, ImportOptions options = {}) {
    options.python = Python();
    options.output_name = fs::path(path).stem().string() + ".yaml";
    return ImportAirflowDag(path, options, registry_->Checker());
  }

  // Imports NAME.py, compares with NAME.yaml, and loads the output with the real checks.
  AirflowImport Golden(const std::string& name) {
    const std::string py = DataDir() + "/" + name + ".py";
    // The report names the file as given: relative, so goldens do not depend on the checkout.
    const std::string cwd = fs::current_path().string();
    fs::current_path(DataDir());
    Result<AirflowImport> r = Import(name + ".py");
    fs::current_path(cwd);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return {};
    const std::string golden = DataDir() + "/" + name + ".yaml";
    if (std::getenv("SP_UPDATE_GOLDEN")) WriteText(golden, r->yaml);
    EXPECT_EQ(r->yaml, ReadText(golden))
        << "golden " << golden << " differs (SP_UPDATE_GOLDEN=1 rewrites it)";
    dag::LoadedFile loaded = dag::LoadDagText(r->yaml, name + ".yaml", registry_->Checker());
    std::string errors;
    for (const dag::DagError& e : loaded.errors) errors += e.ToString() + "\n";
    EXPECT_TRUE(loaded.errors.empty()) << errors << r->yaml;
    EXPECT_TRUE(loaded.dag != nullptr);
    return std::move(r).value();
  }

  std::vector<std::string> Errors(const AirflowImport& r) {
    std::vector<std::string> out;
    for (const ImportProblem& p : r.problems) {
      if (p.severity == Severity::kError) out.push_back(p.ToString());
    }
    return out;
  }

  operators::Services services_;
  std::unique_ptr<operators::TaskTypeRegistry> registry_;
};

TEST_F(AirflowImportTest, BashChainWithTaskGroupsAndChain) {
  AirflowImport r = Golden("bash_groups");
  EXPECT_TRUE(r.complete()) << ::testing::PrintToString(Errors(r));
  EXPECT_EQ(r.dag_id, "bash_groups");
  EXPECT_EQ(r.task_count, 9);
  // TaskGroup ids are flattened with "__"; the loop over a literal list was unrolled.
  EXPECT_THAT(r.yaml, HasSubstr("- id: extract__pull_eu"));
  EXPECT_THAT(r.yaml, HasSubstr("- id: transform__checks__nulls"));
  // chain(start, extract, ...): the group's roots follow start; its leaves precede transform.
  EXPECT_THAT(r.yaml, HasSubstr("depends_on: [extract__pull_eu, extract__pull_us]"));
}

TEST_F(AirflowImportTest, SparkSubmitWithDefaultArgsAndParams) {
  AirflowImport r = Golden("spark_default_args");
  EXPECT_TRUE(r.complete()) << ::testing::PrintToString(Errors(r));
  EXPECT_THAT(r.yaml, HasSubstr("timezone: Europe/Paris"));
  EXPECT_THAT(r.yaml, HasSubstr("start_date: 2024-03-01T00:00:00+01:00"));
  EXPECT_THAT(r.yaml, HasSubstr("conn_id: spark_prod"));  // from default_args
  EXPECT_THAT(r.yaml, HasSubstr("retry_delay: 2m"));
}

TEST_F(AirflowImportTest, ReferenceDesignBecomesClusterAndConnectionTasks) {
  AirflowImport r = Golden("reference_pipeline");
  EXPECT_TRUE(r.complete()) << ::testing::PrintToString(Errors(r));
  EXPECT_THAT(r.yaml, HasSubstr("type: spark_cluster"));
  EXPECT_THAT(r.yaml, HasSubstr("workers: 2"));  // the worker Deployment's replicas
  EXPECT_THAT(r.yaml, HasSubstr("uri: \"{{ tasks.create_cluster.outputs.master_url }}\""));
  EXPECT_THAT(r.yaml, HasSubstr("cluster_from: create_cluster"));
  EXPECT_THAT(r.yaml, Not(HasSubstr("spark.driver.host:")));
}

TEST_F(AirflowImportTest, TimetablesTimeZonesAndEveryTriggerRule) {
  AirflowImport r = Golden("timetables");
  EXPECT_TRUE(r.complete()) << ::testing::PrintToString(Errors(r));
  EXPECT_THAT(r.yaml, HasSubstr("timezone: America/New_York"));
  EXPECT_THAT(r.yaml, HasSubstr("type: cron_trigger"));
  EXPECT_THAT(r.yaml, HasSubstr("interval: 1d"));
  for (const char* rule : {"none_failed_min_one_success", "all_skipped", "always", "one_done"}) {
    EXPECT_THAT(r.yaml, HasSubstr(std::string("trigger_rule: ") + rule));
  }
}

TEST_F(AirflowImportTest, AirflowThreeCronStringsAreTriggerTimetables) {
  AirflowImport r = Golden("spark_default_args");  // imports airflow.sdk
  EXPECT_THAT(r.yaml, HasSubstr("timetable: cron_trigger"));
}

TEST_F(AirflowImportTest, UnsupportedOperatorsAndCallablesAreReportedWithTheirLines) {
  AirflowImport r = Golden("unsupported");
  EXPECT_FALSE(r.complete());
  std::vector<std::string> errors = Errors(r);
  EXPECT_THAT(errors, Contains(AllOf(HasSubstr("unsupported.py:23:"),
                                     HasSubstr("FileSensor has no Sparkplane task type"))));
  EXPECT_THAT(errors, Contains(AllOf(HasSubstr("unsupported.py:33:"),
                                     HasSubstr("load_to_warehouse"), HasSubstr("connect()"))));
  EXPECT_THAT(errors,
              Contains(AllOf(HasSubstr("unsupported.py:35:"), HasSubstr("KubernetesPodOperator"))));
  EXPECT_THAT(errors,
              Contains(AllOf(HasSubstr("unsupported.py:34:"), HasSubstr("on_failure_callback"))));
  EXPECT_THAT(errors, Contains(HasSubstr("{{ ti.xcom_pull('load') }} is not a Sparkplane")));
  EXPECT_THAT(errors,
              Contains(AllOf(HasSubstr("unsupported.py:38:"), HasSubstr("get_partitions"))));
  EXPECT_THAT(errors, Contains(AllOf(HasSubstr("timedelta schedule"), HasSubstr("0 */6 * * *"))));
  EXPECT_THAT(errors, Contains(HasSubstr("dagrun_timeout")));
  EXPECT_THAT(errors, Contains(AllOf(HasSubstr("@task transform()"))));
  // Not converted tasks stay as placeholders that fail: the DAG keeps its shape.
  EXPECT_THAT(r.yaml, HasSubstr("NOT CONVERTED"));
  EXPECT_THAT(r.yaml, HasSubstr("INCOMPLETE"));
  EXPECT_THAT(r.yaml, HasSubstr("command: echo extracting 2024"));  // @task.bash converted
}

TEST_F(AirflowImportTest, ClusterCallableThatAlsoDoesSomethingElseIsReportedNotGuessed) {
  AirflowImport r = Golden("callable_mixed");
  EXPECT_FALSE(r.complete());
  EXPECT_THAT(Errors(r), Contains(AllOf(HasSubstr("callable_mixed.py:"),
                                        HasSubstr("also calls upload_file() at line 20"))));
  EXPECT_THAT(Errors(r), Contains(AllOf(HasSubstr("not a Spark master or worker"))));
}

TEST_F(AirflowImportTest, NeverExecutesTheFile) {
  char tmpl[] = "/tmp/sp_airflow_import_XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string marker = std::string(tmpl) + "/marker";
  ::setenv("SPARKPLANE_IMPORT_MARKER", marker.c_str(), 1);
  Result<AirflowImport> r = Import(DataDir() + "/never_executed.py");
  ::unsetenv("SPARKPLANE_IMPORT_MARKER");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->complete());
  EXPECT_EQ(r->dag_id, "never_executed");
  EXPECT_FALSE(fs::exists(marker)) << "the importer ran the DAG file";
  // Nor does it import modules from the file's folder or the current directory.
  const std::string cwd = fs::current_path().string();
  WriteText(std::string(tmpl) + "/json.py",
            "open(" + nlohmann::json(marker).dump() + ", 'w').write('imported')\n");
  WriteText(std::string(tmpl) + "/ast.py",
            "open(" + nlohmann::json(marker).dump() + ", 'w').write('imported')\n");
  fs::copy_file(DataDir() + "/never_executed.py", std::string(tmpl) + "/dag.py");
  fs::current_path(tmpl);
  Result<AirflowImport> again = Import("dag.py");
  fs::current_path(cwd);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_FALSE(fs::exists(marker)) << "the importer imported a module next to the DAG file";
  fs::remove_all(tmpl);
}

TEST_F(AirflowImportTest, FileErrorsAreLocated) {
  char tmpl[] = "/tmp/sp_airflow_import_XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  WriteText(dir + "/broken.py", "from airflow import DAG\n\nwith DAG('x') as dag:\n  t = (\n");
  EXPECT_THAT(Import(dir + "/broken.py").status().message(),
              AllOf(HasSubstr("broken.py:"), HasSubstr("Python syntax error")));
  EXPECT_EQ(Import(dir + "/broken.py").status().code(), StatusCode::kInvalidArgument);

  WriteText(dir + "/none.py", "print('no dag here')\n");
  EXPECT_THAT(Import(dir + "/none.py").status().message(), HasSubstr("no DAG found"));

  WriteText(dir + "/two.py",
            "from airflow import DAG\nfrom airflow.operators.bash import BashOperator\n"
            "for name in ['a', 'b']:\n"
            "    with DAG(dag_id=f'dag_{name}') as dag:\n"
            "        BashOperator(task_id='t', bash_command='echo ' + name)\n");
  EXPECT_THAT(Import(dir + "/two.py").status().message(),
              AllOf(HasSubstr("2 DAGs (dag_a, dag_b)"), HasSubstr("--dag-id")));
  ImportOptions pick;
  pick.dag_id = "dag_b";
  Result<AirflowImport> b = Import(dir + "/two.py", pick);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->dag_id, "dag_b");
  EXPECT_THAT(b->yaml, HasSubstr("command: echo b\n"));

  EXPECT_EQ(Import(dir + "/missing.py").status().code(), StatusCode::kInvalidArgument);
  ImportOptions no_python;
  Result<AirflowImport> r = ImportAirflowDag(
      dir + "/two.py",
      [&] {
        ImportOptions o;
        o.python = dir + "/no-such-python";
        return o;
      }(),
      registry_->Checker());
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(r.status().message(), HasSubstr("no-such-python"));
  fs::remove_all(dir);
}

TEST_F(AirflowImportTest, TaskDecoratorsDagDecoratorAndSetupTeardown) {
  char tmpl[] = "/tmp/sp_airflow_import_XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  WriteText(dir + "/deco.py", R"(import pendulum
from airflow.sdk import dag, task, task_group, chain

@dag(schedule="@hourly", start_date=pendulum.datetime(2025, 1, 1), tags=["deco"])
def deco():
    @task.bash
    def hello(name="world"):
        return f"echo hello {name}"

    @task_group
    def work():
        a = hello.override(task_id="a")(name="a")
        b = hello.override(task_id="b", retries=4)()
        a >> b

    first = hello()
    second = hello()
    chain(first, work(), second)
    setup = hello.override(task_id="up")().as_setup()
    down = hello.override(task_id="down")().as_teardown(setups=setup)
    setup >> first
    second >> down

deco()
)");
  Result<AirflowImport> r = Import(dir + "/deco.py");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->complete()) << ::testing::PrintToString(Errors(*r)) << r->yaml;
  dag::LoadedFile loaded = dag::LoadDagText(r->yaml, "deco.yaml", registry_->Checker());
  ASSERT_TRUE(loaded.dag) << (loaded.errors.empty() ? "" : loaded.errors[0].ToString());
  const dag::Dag& d = *loaded.dag;
  EXPECT_EQ(d.id, "deco");
  ASSERT_NE(d.FindTask("work__a"), nullptr);
  EXPECT_EQ(d.FindTask("work__b")->retry.retries, 4);
  EXPECT_EQ(d.FindTask("work__a")->fields["command"], "echo hello a");
  EXPECT_EQ(d.FindTask("hello__1")->fields["command"], "echo hello world");
  EXPECT_THAT(d.FindTask("work__a")->depends_on, ::testing::ElementsAre("hello"));
  EXPECT_THAT(d.FindTask("hello__1")->depends_on, ::testing::ElementsAre("work__b"));
  EXPECT_EQ(d.FindTask("up")->role, dag::TaskRole::kSetup);
  EXPECT_EQ(d.FindTask("down")->role, dag::TaskRole::kTeardown);
  fs::remove_all(dir);
}

TEST(YamlWriterTest, ScalarsReadBackAsTheSameValue) {
  nlohmann::ordered_json values = nlohmann::ordered_json::array({"plain",
                                                                 "yes",
                                                                 "No",
                                                                 "null",
                                                                 "~",
                                                                 "123",
                                                                 "1e3",
                                                                 "0x1F",
                                                                 "0o17",
                                                                 "2m",
                                                                 "1h30m",
                                                                 "512m",
                                                                 "1e3",
                                                                 "-dash",
                                                                 "a: b",
                                                                 "a #b",
                                                                 "{{ ds }}",
                                                                 "*",
                                                                 "0 3 * * *",
                                                                 "2024-01-01",
                                                                 "2024-01-01T00:00:00+01:00",
                                                                 "",
                                                                 " lead",
                                                                 "trail ",
                                                                 "line1\nline2",
                                                                 "line1\nline2\n",
                                                                 "two\n\n",
                                                                 "tab\there",
                                                                 "quote\"s",
                                                                 "back\\slash",
                                                                 "uni é",
                                                                 "@daily",
                                                                 "!tag",
                                                                 "&anchor",
                                                                 "%x",
                                                                 "[list]",
                                                                 ">fold",
                                                                 "|lit",
                                                                 "'q'",
                                                                 "?",
                                                                 ",",
                                                                 true,
                                                                 false,
                                                                 nullptr,
                                                                 7,
                                                                 -3,
                                                                 2.5});
  nlohmann::ordered_json dag = {{"values", values}, {"map", {{"k: x", "v"}, {"yes", "no"}}}};
  std::string yaml = WriteDagYaml(dag, {});
  Result<nlohmann::json> back = dag::YamlTextToJson(yaml, "t.yaml");
  ASSERT_TRUE(back.ok()) << back.status().ToString() << "\n" << yaml;
  EXPECT_EQ((*back)["values"], nlohmann::json::parse(values.dump())) << yaml;
  EXPECT_EQ((*back)["map"]["k: x"], "v");
  EXPECT_EQ((*back)["map"]["yes"], "no");
  // Multi-line strings are literal blocks, the rest of the file keeps reading.
  nlohmann::ordered_json task = {{"id", "t"}, {"command", "set -e\necho hi\n"}, {"retries", 1}};
  std::string text = WriteDagYaml({{"id", "d"}, {"tasks", {task}}}, {{"head"}, {{"t", {"c"}}}});
  EXPECT_EQ(text,
            "# head\nid: d\ntasks:\n\n  # c\n  - id: t\n    command: |\n      set -e\n"
            "      echo hi\n    retries: 1\n");
}

}  // namespace
}  // namespace sp::airflow_import
