// YAML nodes -> JSON values for task-type fields and param defaults, keeping YAML's typing:
// quoted scalars stay strings, plain scalars that read as an int, float or bool (YAML 1.2 core
// schema) become JSON numbers/bools, `~`/null/empty become null. Also turns the tree's marks
// into SourceLocations.
//
// Thread safety: pure functions.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/yaml_document.h"
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

// Where `node` starts in `file`; unknown (0) parts for an absent node.
SourceLocation LocationOf(const YamlNode& node, const std::string& file);
SourceLocation LocationOf(const YamlMark& mark, const std::string& file);

// Plain scalar typing per the YAML 1.2 core schema; quoted/!!str scalars are strings.
nlohmann::json ScalarToJson(const YamlNode& scalar);

// Converts `node` (reached through `field`). Non-scalar or duplicate mapping keys are reported
// in `errors`; strings containing "{{" are appended to `sites` when it is not null. A value that
// contains itself through an alias, or expands to more than 100,000 items through aliases, is
// reported and converted to null.
nlohmann::json YamlToJson(const YamlNode& node, const std::string& file, const std::string& field,
                          std::vector<DagError>* errors, std::vector<TemplateSite>* sites);

// "a mapping", "a list", "nothing", "'text'": for "expected X; got Y" messages.
std::string DescribeNode(const YamlNode& node);

}  // namespace sp::dag::internal
