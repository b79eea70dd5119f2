// `sparkplane import airflow` end to end: the binary imports the Airflow DAG files of
// tests/data/airflow_import/, `dags validate` accepts what it wrote (label `cli`), and the
// reference design's DAG (Kubernetes-client callables, an Airflow connection, SparkSubmitOperator
// with py_files), once imported, runs on an on-demand local Spark cluster that is then deleted
// (label `spark`).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include "integration/harness.h"

namespace sp::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string Case(const std::string& name) {
  return std::string(SP_SOURCE_DIR) + "/tests/data/airflow_import/" + name;
}

class ImportAirflowCliTest : public ::testing::Test {
 protected:
  std::string data() const { return dir_.path(); }
  std::string dags() const { return dir_.path() + "/dags"; }
  TempDir dir_;
};

TEST_F(ImportAirflowCliTest, ImportedDagsValidate) {
  fs::create_directories(dags());
  for (const char* name :
       {"bash_groups", "spark_default_args", "reference_pipeline", "timetables"}) {
    CommandResult r = Sparkplane(data(), {"import", "airflow", Case(std::string(name) + ".py"),
                                          "-o", dags() + "/" + name + ".yaml"});
    EXPECT_EQ(r.exit_code, 0) << name << "\n" << r.err;
    EXPECT_THAT(r.err, HasSubstr("written to " + dags() + "/" + name + ".yaml")) << r.err;
  }
  CommandResult v = Sparkplane(data(), {"dags", "validate", dags()});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
}

TEST_F(ImportAirflowCliTest, IncompleteImportIsWrittenReportedAndExitsOne) {
  const std::string out = dags() + "/unsupported.yaml";
  fs::create_directories(dags());
  CommandResult r = Sparkplane(data(), {"import", "airflow", Case("unsupported.py"), "-o", out});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_THAT(r.err, HasSubstr("unsupported.py:23:12: error: FileSensor 'wait_for_file'"));
  EXPECT_THAT(r.err, HasSubstr("unsupported.py:35:11: error: KubernetesPodOperator 'score'"));
  EXPECT_THAT(r.err, HasSubstr("INCOMPLETE"));
  EXPECT_THAT(ReadFile(out), HasSubstr("NOT CONVERTED"));
  // The placeholders keep the DAG loadable, so it can be finished by hand.
  CommandResult v = Sparkplane(data(), {"dags", "validate", dags()});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  // And they fail when run rather than pretend to succeed.
  CommandResult t =
      Sparkplane(data(), {"--dags-folder", dags(), "tasks", "test", "mixed", "wait_for_file"});
  EXPECT_NE(t.exit_code, 0) << t.out << t.err;
  EXPECT_THAT(t.out + t.err, HasSubstr("not converted from Airflow"));
}

TEST_F(ImportAirflowCliTest, StdoutAndFileErrors) {
  CommandResult r = Sparkplane(data(), {"import", "airflow", Case("bash_groups.py")});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("id: bash_groups\n"));
  CommandResult missing = Sparkplane(data(), {"import", "airflow", data() + "/nope.py"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_THAT(missing.err, HasSubstr("sparkplane: error: " + data() + "/nope.py: no such file"));
}

TEST_F(ImportAirflowCliTest, NeverRunsTheDagFile) {
  const std::string marker = data() + "/marker";
  ::setenv("SPARKPLANE_IMPORT_MARKER", marker.c_str(), 1);
  CommandResult r = Sparkplane(data(), {"import", "airflow", Case("never_executed.py")});
  ::unsetenv("SPARKPLANE_IMPORT_MARKER");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("id: never_executed"));
  EXPECT_FALSE(fs::exists(marker)) << "the DAG file was executed";
}

class ImportAirflowSparkTest : public ImportAirflowCliTest {};

TEST_F(ImportAirflowSparkTest, ReferenceDesignImportedRunsOnALocalCluster) {
  const std::string built = std::string(SP_SOURCE_DIR) + "/build/examples";
  ASSERT_TRUE(fs::exists(built + "/job_dependency.zip"))
      << "run scripts/setup.sh first (it builds the example zip)";
  fs::create_directories(data() + "/apps");
  fs::copy_file(std::string(SP_SOURCE_DIR) + "/examples/apps/app.py", data() + "/apps/app.py");
  fs::copy_file(built + "/job_dependency.zip", data() + "/apps/job_dependency.zip");
  fs::create_directories(dags());
  CommandResult imported = Sparkplane(data(), {"import", "airflow", Case("reference_pipeline.py"),
                                               "-o", dags() + "/spark_on_kubernetes.yaml"});
  ASSERT_EQ(imported.exit_code, 0) << imported.err;

  CommandResult r = Sparkplane(data(), {"dags", "test", "spark_on_kubernetes"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("RESULT total=6000"));  // app.py --rows 2000: 3 words per row
  nlohmann::json run = ShowRun(data(), "spark_on_kubernetes", "latest");
  for (const char* t : {"create_cluster", "create_connection", "spark_application",
                        "delete_connection", "delete_cluster"}) {
    EXPECT_EQ(TaskState(run, t), "success") << t << "\n" << run.dump(2);
  }
  EXPECT_EQ(Sparkplane(data(), {"connections", "list", "--json"}).Json().size(), 0u);
  CommandResult clusters = Sparkplane(data(), {"cluster", "list", "--all", "--json"});
  ASSERT_EQ(clusters.exit_code, 0) << clusters.err;
  ASSERT_EQ(clusters.Json().size(), 1u) << clusters.out;
  for (const auto& c : clusters.Json()) {
    EXPECT_EQ(c["state"], "deleted") << c.dump(2);
    std::vector<int> pids;
    CollectPids(c["handle"], &pids);
    for (int pid : pids) {
      EXPECT_TRUE(WaitFor([&] { return ::kill(pid, 0) != 0; }, std::chrono::seconds(20)))
          << "Spark daemon " << pid << " is still running";
    }
  }
}

}  // namespace
}  // namespace sp::testing
