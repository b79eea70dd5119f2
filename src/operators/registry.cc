#include "operators/registry.h"

#include "operators/bash_task.h"
#include "operators/connection_task.h"
#include "operators/notebook_task.h"
#include "operators/spark_cluster_task.h"
#include "operators/spark_submit_task.h"

namespace sp::operators {

void TaskTypeRegistry::Register(std::unique_ptr<TaskType> type) {
  std::string name = type->Name();
  types_[name] = std::move(type);
}

TaskType* TaskTypeRegistry::Find(const std::string& name) const {
  auto it = types_.find(name);
  return it == types_.end() ? nullptr : it->second.get();
}

std::vector<std::string> TaskTypeRegistry::Names() const {
  std::vector<std::string> out;
  for (const auto& [name, t] : types_) out.push_back(name);
  return out;
}

dag::TaskTypeChecker TaskTypeRegistry::Checker() const {
  dag::TaskTypeChecker c;
  c.types = Names();
  c.field_names = [this](const std::string& type) {
    TaskType* t = Find(type);
    return t ? t->FieldNames() : std::vector<std::string>{};
  };
  c.validate = [this](const dag::TaskSpec& spec, std::vector<dag::DagError>* errors) {
    if (TaskType* t = Find(spec.type)) t->Validate(spec, errors);
  };
  return c;
}

std::unique_ptr<TaskTypeRegistry> BuildRegistry(const Services* services) {
  auto r = std::make_unique<TaskTypeRegistry>();
  r->Register(std::make_unique<BashTaskType>(services));
  r->Register(std::make_unique<SparkClusterTaskType>(services));
  r->Register(std::make_unique<ConnectionTaskType>(services));
  r->Register(std::make_unique<SparkSubmitTaskType>(services));
  r->Register(std::make_unique<NotebookTaskType>(services));
  return r;
}

}  // namespace sp::operators
