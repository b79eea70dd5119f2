// Views: the JSON shapes of runs, task instances, DAGs and Spark application summaries, shared
// by the CLI's --json output and the HTTP API so both say the same thing in the same words.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "dag/dag.h"
#include "spark/history.h"
#include "store/records.h"

namespace sp::api {

// ISO-8601 UTC, or null.
nlohmann::json TimeOrNull(const std::optional<Time>& t);

nlohmann::json RunToJson(const store::DagRun& r);
nlohmann::json TaskInstanceToJson(const store::TaskInstance& ti);
nlohmann::json SparkSummaryToJson(const spark::AppSummary& s);
// A DAG's definition: schedule, params, tasks with their upstream and rules.
nlohmann::json DagToJson(const dag::Dag& d);

}  // namespace sp::api
