// ConnectionTaskType ("connection"): creates or deletes a named connection (connections.h) from
// a DAG, typically right after a spark_cluster task, so later tasks can say `conn_id: x`.
//
// YAML fields:
//   action         create (default) | delete
//   conn_id        required. 1-250 of [A-Za-z0-9_.-]
//   conn_type      e.g. spark. Required for create unless `uri` gives it
//   host, port, schema, login, password
//   extras         mapping of names to values
//   secret_extras  list of names in `extras` whose values are secret (sealed in the store,
//                  shown as ***)
//   uri            TYPE://[LOGIN[:PASSWORD]@]HOST[:PORT][/SCHEMA][?KEY=VALUE...] instead of
//                  conn_type/host/port/schema/login/password (giving both is an error);
//                  `extras` are merged over the query's pairs
// Every string may be a template ({{ tasks.cluster.outputs.master_url }}); values are checked
// after rendering. create upserts the connection with created_by_run = the run's key; delete
// removes it and succeeds when there is none (idempotent).
//
// Secrets: the password and secret extras are sealed with the secret key (secrets.h); with
// secrets and no key the try fails without retry, saying how to create a key. Log lines and
// outputs never hold a secret ("password: ***").
//
// Outputs (create): conn_id, conn_type, host, port.
//
// The store write takes milliseconds, so Start does the work itself and saves no handle: a try
// interrupted by a restart is simply run again. Thread safety: stateless; concurrent calls OK.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "operators/task_type.h"

namespace sp::operators {

class ConnectionTaskType : public TaskType {
 public:
  // `services` (its store) must outlive the type.
  explicit ConnectionTaskType(const Services* services) : services_(services) {}

  std::string Name() const override { return "connection"; }
  std::vector<std::string> FieldNames() const override;
  void Validate(const dag::TaskSpec& spec, std::vector<dag::DagError>* errors) const override;

  void Start(std::shared_ptr<TaskContext> ctx) override;
  void Cancel(std::shared_ptr<TaskContext> ctx, const nlohmann::json& handle,
              Millis grace) override;
  void Recover(std::shared_ptr<TaskContext> ctx, const nlohmann::json& handle) override;

 private:
  const Services* services_;
};

}  // namespace sp::operators
