// Loading DAG files: YAML -> validated Dag, with every problem reported as a located DagError.
// A broken file yields errors and no Dag; it never stops other files from loading.
//
// Validation covers: YAML syntax, unknown fields (with "did you mean"), wrong types, missing
// required fields, duplicate task ids, unknown dependencies, cycles (the cycle is printed),
// bad cron, bad durations, bad trigger rules, and template references
// ({{ ds }}, {{ params.NAME }} must be declared, {{ tasks.ID.outputs.KEY }} must name an
// upstream task). Type-specific fields are checked by the TaskTypeChecker the caller passes.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "dag/dag.h"

namespace sp::dag {

struct DagError {
  SourceLocation location;
  std::string field;    // dotted path, e.g. "tasks[2].retry_delay" or "schedule"
  std::string message;  // what is wrong and what was expected
  // "dags/a.yaml:12:5: tasks[2].retry_delay: expected a duration such as 30s, 5m, 1h; got 'soon'"
  std::string ToString() const;
};

// Type-specific checks, supplied by the operators registry so dag/ does not depend on it.
// An empty checker (no types) accepts every type and field, for tests and tools that load DAGs
// without the registry.
struct TaskTypeChecker {
  // Known type names (for "unknown type, did you mean").
  std::vector<std::string> types;
  // Field names accepted by `type` beyond the common task fields.
  std::function<std::vector<std::string>(const std::string& type)> field_names;
  // Validates a task's type-specific fields; appends errors.
  std::function<void(const TaskSpec&, std::vector<DagError>*)> validate;
};

struct LoadedFile {
  std::string path;
  DagPtr dag;  // null when errors is not empty
  std::vector<DagError> errors;
};

LoadedFile LoadDagFile(const std::string& path, const TaskTypeChecker& checker);
// Same, from text (tests and `dags validate -`); `path` is used in locations.
LoadedFile LoadDagText(const std::string& text, const std::string& path,
                       const TaskTypeChecker& checker);

// Any YAML document as JSON, typed as DAG files are (YAML 1.2 core schema); the first error is
// returned located in `path` (the embedded OpenAPI document is read this way).
Result<nlohmann::json> YamlTextToJson(const std::string& text, const std::string& path);

}  // namespace sp::dag
