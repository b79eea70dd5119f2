// YAML nodes -> JSON values for task-type fields and param defaults, keeping YAML's typing:
// quoted scalars stay strings, plain scalars that read as an int, float or bool (YAML 1.2 core
// schema) become JSON numbers/bools, `~`/null/empty become null. Also gives 1-based locations
// from yaml-cpp's 0-based marks.
//
// Thread safety: pure functions.
#pragma once

#include <yaml-cpp/yaml.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "dag/dag.h"
#include "dag/loader.h"

namespace sp::dag::internal {

// A string inside a converted value that contains "{{", with where it was, for the loader's
// template checks.
struct TemplateSite {
  std::string text;
  SourceLocation location;
  std::string field;  // dotted path, e.g. "tasks[1].args[0]"
};

// 1-based location of `mark` in `file`; unknown (0) parts for yaml-cpp's null mark.
SourceLocation LocationOf(const YAML::Mark& mark, const std::string& file);

// Plain scalar typing per the YAML 1.2 core schema; quoted/!!str scalars are strings.
nlohmann::json ScalarToJson(const YAML::Node& scalar);

// Converts `node` (reached through `field`). Non-scalar or duplicate mapping keys are reported
// in `errors`; strings containing "{{" are appended to `sites` when it is not null. A value that
// contains itself through an alias, or expands to more than 100,000 items through aliases, is
// reported and converted to null.
nlohmann::json YamlToJson(const YAML::Node& node, const std::string& file, const std::string& field,
                          std::vector<DagError>* errors, std::vector<TemplateSite>* sites);

// "a mapping", "a list", "nothing", "'text'": for "expected X; got Y" messages.
std::string DescribeNode(const YAML::Node& node);

}  // namespace sp::dag::internal
