// The DAG-level `cluster:` shorthand: a setup create task and a teardown delete task around the
// DAG's Spark tasks.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "dag/loader.h"

namespace sp::dag {
namespace {

using ::testing::HasSubstr;

TEST(ClusterShorthandTest, WrapsSparkTasksInCreateAndDelete) {
  LoadedFile f = LoadDagText(R"(id: wordstats
cluster:
  workers: 2
  worker_memory: 1g
tasks:
  - id: stats
    type: spark_submit
    application: app.jar
  - id: notify
    type: bash
    depends_on: [stats]
    command: echo done
  - id: elsewhere
    type: spark_submit
    master: spark://other:7077
    application: app.py
)", "w.yaml", TaskTypeChecker{});
  ASSERT_TRUE(f.errors.empty()) << f.errors[0].ToString();
  const Dag& d = *f.dag;
  const TaskSpec* create = d.FindTask("create_cluster");
  const TaskSpec* del = d.FindTask("delete_cluster");
  ASSERT_TRUE(create && del);
  EXPECT_EQ(create->role, TaskRole::kSetup);
  EXPECT_EQ(create->type, "spark_cluster");
  EXPECT_EQ(create->fields["action"], "create");
  EXPECT_EQ(create->fields["workers"], 2);
  EXPECT_EQ(del->role, TaskRole::kTeardown);
  EXPECT_EQ(del->fields["action"], "delete");
  EXPECT_THAT(del->depends_on, ::testing::UnorderedElementsAre("create_cluster", "stats"));
  const TaskSpec* stats = d.FindTask("stats");
  EXPECT_EQ(stats->fields["master"], "{{ tasks.create_cluster.outputs.master_url }}");
  EXPECT_THAT(stats->depends_on, ::testing::Contains("create_cluster"));
  // A task with its own master is left alone.
  EXPECT_EQ(d.FindTask("elsewhere")->fields["master"], "spark://other:7077");
  EXPECT_TRUE(d.FindTask("elsewhere")->depends_on.empty());
  EXPECT_EQ(d.tasks.front().id, "create_cluster");
}

TEST(ClusterShorthandTest, ErrorsAreLocated) {
  LoadedFile f = LoadDagText("id: x\ncluster: 3\ntasks:\n  - id: a\n    type: spark_submit\n"
                             "    application: a.py\n", "x.yaml", TaskTypeChecker{});
  ASSERT_EQ(f.errors.size(), 1u);
  EXPECT_THAT(f.errors[0].ToString(), HasSubstr("x.yaml:2:10: cluster: expected true or a mapping"));

  f = LoadDagText("id: x\ncluster: true\ntasks:\n  - id: a\n    type: bash\n    command: x\n",
                  "x.yaml", TaskTypeChecker{});
  ASSERT_EQ(f.errors.size(), 1u);
  EXPECT_THAT(f.errors[0].message, HasSubstr("no spark_submit task uses the cluster"));

  f = LoadDagText("id: x\ncluster: {action: scale}\ntasks:\n  - id: a\n    type: spark_submit\n"
                  "    application: a.py\n", "x.yaml", TaskTypeChecker{});
  ASSERT_FALSE(f.errors.empty());
  EXPECT_THAT(f.errors[0].message, HasSubstr("'action' is set by the cluster shorthand"));
}

}  // namespace
}  // namespace sp::dag
