// ParallelismSlotDep: the server runs at most `parallelism` tries at once, across all runs.
#pragma once

#include <string>

#include "scheduler/deps/dep.h"

namespace sp::scheduler {

class ParallelismSlotDep {
 public:
  static DepStatus Evaluate(int active_tries, int parallelism) {
    if (active_tries < parallelism) return {"ParallelismSlotDep", true, ""};
    return {"ParallelismSlotDep", false,
            "all " + std::to_string(parallelism) + " parallelism slots are in use"};
  }
};

}  // namespace sp::scheduler
