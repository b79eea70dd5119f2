// MaxActiveRunsDep: a queued run starts only while its DAG has fewer than max_active_runs
// running runs; queued runs start in logical-date order.
#pragma once

#include <string>

#include "scheduler/deps/dep.h"

namespace sp::scheduler {

class MaxActiveRunsDep {
 public:
  static DepStatus Evaluate(int running_runs, int max_active_runs) {
    if (running_runs < max_active_runs) return {"MaxActiveRunsDep", true, ""};
    return {"MaxActiveRunsDep", false,
            "the DAG already has " + std::to_string(running_runs) + " running runs (max_active_runs " +
                std::to_string(max_active_runs) + ")"};
  }
};

}  // namespace sp::scheduler
