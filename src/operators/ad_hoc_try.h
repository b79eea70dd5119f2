// AdHocTaskContext: one try of a task type outside any run (run key 0, no DAG, nothing to
// recover), for the `sparkplane cluster` commands and the HTTP API's cluster delete, so that
// they go through the task type itself and share every rule a DAG's task follows (names,
// validation, records, rollback). Progress lines go to `log` (the CLI: its inherited stderr;
// the server: its logger), never to a file reopened by path.
//
// Thread safety: Complete may come from the type's thread while another waits.
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "operators/task_type.h"

namespace sp::operators {

class AdHocTaskContext : public TaskContext {
 public:
  // `task_type` names the type (spark_cluster); `log` gets each progress line (may be null).
  AdHocTaskContext(const Services* services, const std::string& task_type, nlohmann::json fields,
                   std::function<void(const std::string&)> log);

  // Ad-hoc work is found through its records (a ClusterRecord); there is no try to recover.
  Status SaveHandle(const nlohmann::json&) override { return OkStatus(); }
  void Complete(TaskResult result) override;
  void AppendLog(const std::string& line) const override;

  bool done() const;
  TaskResult Wait();

 private:
  std::function<void(const std::string&)> log_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::optional<TaskResult> result_;
  dag::TaskSpec spec_storage_;
};

}  // namespace sp::operators
