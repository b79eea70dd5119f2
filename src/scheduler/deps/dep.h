// A dependency check ("dep"): one named condition a task instance must meet before it runs
// (Airflow's ti_deps). Deps only read; any state change they imply (upstream_failed, skipped)
// is returned as a verdict for Decide to put in the Plan. Their reasons are what users see when
// they ask why a task waits (`sparkplane tasks list` shows them).
#pragma once

#include <string>

namespace sp::scheduler {

struct DepStatus {
  std::string name;    // "TriggerRuleDep"
  bool passed = false;
  std::string reason;  // "waiting for 2 of 3 upstream tasks (extract, load)"
};

}  // namespace sp::scheduler
