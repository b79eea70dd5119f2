// A TaskTypeChecker standing in for the operators registry in dag/ tests: one fake type,
// "bash", with fields command, shell and cwd, whose validation requires `command` (a string).
#pragma once

#include <string>
#include <vector>

#include "dag/loader.h"

namespace sp::dag::fakes {

inline TaskTypeChecker FakeBashChecker() {
  TaskTypeChecker checker;
  checker.types = {"bash"};
  checker.field_names = [](const std::string& type) {
    return type == "bash" ? std::vector<std::string>{"command", "shell", "cwd"}
                          : std::vector<std::string>{};
  };
  checker.validate = [](const TaskSpec& spec, std::vector<DagError>* errors) {
    auto it = spec.fields.find("command");
    if (it == spec.fields.end()) {
      errors->push_back(DagError{{}, "", "missing required field 'command' for a bash task"});
    } else if (!it->is_string()) {
      errors->push_back(DagError{{}, "command", "command must be a string"});
    }
  };
  return checker;
}

}  // namespace sp::dag::fakes
