// NotebookTaskType: located validation errors, a try that fails before launching anything, and
// where the executed notebook goes.
#include "operators/notebook_task.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "operators/recording_task_context.h"

namespace sp::operators {
namespace {

using ::testing::HasSubstr;
using testing::RecordingTaskContext;
using testing::ScratchDir;
using Json = nlohmann::json;

std::vector<dag::DagError> ValidateFields(const std::string& fields) {
  dag::TaskSpec spec;
  spec.id = "report";
  spec.type = "notebook";
  spec.fields = Json::parse(fields);
  spec.location = {"dags/nb.yaml", 10, 5};
  for (const auto& [key, value] : spec.fields.items()) {
    spec.field_locations[key] = {"dags/nb.yaml", 20, 7};
  }
  Services services;
  NotebookTaskType type(&services);
  std::vector<dag::DagError> errors;
  type.Validate(spec, &errors);
  return errors;
}

TEST(NotebookTaskValidation, AcceptsTemplatesAndParameters) {
  EXPECT_THAT(ValidateFields(R"({"notebook": "report.ipynb",
      "master": "{{ tasks.create_cluster.outputs.master_url }}",
      "parameters": {"rows": "{{ params.rows }}", "label": "x", "n": 5},
      "cell_timeout": "10m", "kernel": "python3"})"),
              ::testing::IsEmpty());
}

TEST(NotebookTaskValidation, ReportsLocatedErrors) {
  struct Case {
    const char* fields;
    const char* field;
    const char* message;
  } cases[] = {
      {R"({"master": "spark://h:7077"})", "notebook", "missing"},
      {R"({"notebook": "a.ipynb"})", "master", "missing"},
      {R"({"notebook": "a.py", "master": "spark://h:7077"})", "notebook", "expected a .ipynb"},
      {R"({"notebook": "a.ipynb", "master": "local[2]"})", "master", "spark://HOST:PORT"},
      {R"({"notebook": "a.ipynb", "master": "spark://h:1", "parameters": {"bad-name": 1}})",
       "parameters.bad-name", "Python identifiers"},
      {R"({"notebook": "a.ipynb", "master": "spark://h:1", "cell_timeout": "soon"})",
       "cell_timeout", "duration"},
  };
  for (const Case& c : cases) {
    std::vector<dag::DagError> errors = ValidateFields(c.fields);
    ASSERT_EQ(errors.size(), 1u) << c.fields;
    EXPECT_EQ(errors[0].field, c.field) << c.fields;
    EXPECT_THAT(errors[0].message, HasSubstr(c.message)) << c.fields;
    // At the field's key; a missing field at the task.
    EXPECT_EQ(errors[0].location.line, std::string(c.message) == "missing" ? 10 : 20) << c.fields;
  }
}

TEST(NotebookTask, InvalidRenderedFieldsFailWithoutLaunching) {
  ScratchDir dir;
  Services services;
  services.config.data_dir = dir.path();
  NotebookTaskType type(&services);
  auto ctx = std::make_shared<RecordingTaskContext>(
      &services, Json{{"notebook", "a.ipynb"}, {"master", "yarn"}}, dir.path() + "/1.log");
  type.Start(ctx);
  std::optional<TaskResult> r = ctx->WaitForResult();
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(r->success);
  EXPECT_FALSE(r->retryable);
  EXPECT_THAT(r->message, HasSubstr("spark://HOST:PORT"));
}

TEST(NotebookTask, TheExecutedNotebookGoesNextToTheLog) {
  EXPECT_EQ(ExecutedNotebookPath("/d/logs/dag/run/report/2.log"), "/d/logs/dag/run/report/2.ipynb");
}

}  // namespace
}  // namespace sp::operators
