// Templates in DAG string fields: "{{ ds }}", "{{ params.table }}",
// "{{ tasks.create_cluster.outputs.master_url }}". A variable is a dotted path looked up in a
// JSON context; an unknown variable is an error, never an empty string.
//
// Context keys: ds, ds_nodash, ts, logical_date, data_interval_start, data_interval_end, run_id,
// dag.id, task.id, try_number, params.*, tasks.ID.outputs.*, conn.* is not offered.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/status.h"

namespace sp::dag {

// One {{ ... }} occurrence.
struct TemplateRef {
  std::string path;   // "params.table"
  size_t offset = 0;  // byte offset of "{{" in the text
};

// Parses the references in `text`. InvalidArgument for an unclosed "{{" or an empty/malformed
// expression (message gives the offset).
Result<std::vector<TemplateRef>> ParseTemplate(const std::string& text);

// Renders `text` with `context`. Strings are inserted as is; numbers/bools as JSON text.
// NotFound "unknown template variable 'params.x'" for a missing path.
Result<std::string> RenderTemplate(const std::string& text, const nlohmann::json& context);

// A shell script rendered safely: every "{{ x }}" became a quoted reference to an environment
// variable that holds x's value, e.g. `echo "hi {{ params.name }}"` -> `echo "hi
// ${SP_params_name}"` with SP_params_name=<value>. A value is never parsed by the shell, so a
// value such as `"; rm -rf ~; "` stays one harmless word. The reference is quoted for where it
// stands: `"${V}"` outside quotes, `${V}` inside double quotes, `'"${V}"'` inside single quotes.
struct ShellRendering {
  std::string script;
  std::map<std::string, std::string> env;  // variable name -> value
};

// `taken` lists environment names already in use (the task's own env): generated names avoid
// them. Errors as RenderTemplate.
Result<ShellRendering> RenderShellTemplate(const std::string& script, const nlohmann::json& context,
                                           const std::map<std::string, std::string>& taken = {});

// Renders every string inside a JSON value (objects and arrays recursively).
Result<nlohmann::json> RenderJson(const nlohmann::json& value, const nlohmann::json& context);

// The variables available to every task, for validation of references at load time.
const std::vector<std::string>& BuiltinTemplateVariables();

}  // namespace sp::dag
