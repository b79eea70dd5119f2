// TaskTypeRegistry: the task types a server knows, by name. Built once at start by
// BuildRegistry(); adding a task type means one line there.
//
// Thread safety: immutable after BuildRegistry; lookups from any thread.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "dag/loader.h"
#include "operators/task_type.h"

namespace sp::operators {

class TaskTypeRegistry {
 public:
  void Register(std::unique_ptr<TaskType> type);
  TaskType* Find(const std::string& name) const;
  std::vector<std::string> Names() const;
  // The checker dag/ uses to validate type-specific fields at load time.
  dag::TaskTypeChecker Checker() const;

 private:
  std::map<std::string, std::unique_ptr<TaskType>> types_;
};

// Every built-in task type. `services` must outlive the registry.
std::unique_ptr<TaskTypeRegistry> BuildRegistry(const Services* services);

}  // namespace sp::operators
