// Templates in DAG string fields: "{{ ds }}", "{{ params.table }}",
// "{{ tasks.create_cluster.outputs.master_url }}". A variable is a dotted path looked up in a
// JSON context; an unknown variable is an error, never an empty string.
//
// Context keys: ds, ds_nodash, ts, logical_date, data_interval_start, data_interval_end, run_id,
// dag.id, task.id, try_number, params.*, tasks.ID.outputs.*, conn.* is not offered.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace sp::dag {

// One {{ ... }} occurrence.
struct TemplateRef {
  std::string path;  // "params.table"
  size_t offset = 0; // byte offset of "{{" in the text
};

// Parses the references in `text`. InvalidArgument for an unclosed "{{" or an empty/malformed
// expression (message gives the offset).
Result<std::vector<TemplateRef>> ParseTemplate(const std::string& text);

// Renders `text` with `context`. Strings are inserted as is; numbers/bools as JSON text.
// NotFound "unknown template variable 'params.x'" for a missing path.
Result<std::string> RenderTemplate(const std::string& text, const nlohmann::json& context);

// Renders every string inside a JSON value (objects and arrays recursively).
Result<nlohmann::json> RenderJson(const nlohmann::json& value, const nlohmann::json& context);

// The variables available to every task, for validation of references at load time.
const std::vector<std::string>& BuiltinTemplateVariables();

}  // namespace sp::dag
