// Writes a DAG given as JSON (keys in the order they should appear) as a readable Sparkplane
// YAML file: block mappings, flow lists of short scalars, literal blocks for multi-line strings,
// a blank line and comment lines before each task. Strings are written plain only where YAML 1.2
// reads them back as the same string; anything else is double-quoted (JSON escapes are valid
// YAML), so LoadDagText(WriteDagYaml(x)) sees exactly x.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace sp::airflow_import {

struct YamlComments {
  std::vector<std::string> header;  // lines at the top of the file
  // Lines written above the task with this id (in `tasks`).
  std::map<std::string, std::vector<std::string>> tasks;
};

std::string WriteDagYaml(const nlohmann::ordered_json& dag, const YamlComments& comments);

// One scalar as YAML (plain, quoted, or "" for non-scalars); exposed for tests.
std::string YamlScalar(const nlohmann::ordered_json& value);

}  // namespace sp::airflow_import
