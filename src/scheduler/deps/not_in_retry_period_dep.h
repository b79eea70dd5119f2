// NotInRetryPeriodDep: a task that failed and is up for retry waits until its next try time.
#pragma once

#include "common/clock.h"
#include "scheduler/deps/dep.h"
#include "store/records.h"

namespace sp::scheduler {

class NotInRetryPeriodDep {
 public:
  static DepStatus Evaluate(const store::TaskInstance& ti, Time now) {
    if (ti.state != store::TaskState::kUpForRetry || !ti.next_try_at || *ti.next_try_at <= now) {
      return {"NotInRetryPeriodDep", true, ""};
    }
    return {"NotInRetryPeriodDep", false,
            "in retry period until " + FormatTime(*ti.next_try_at) + " (try " +
                std::to_string(ti.try_number + 1) + " of " + std::to_string(ti.max_tries) + ")"};
  }
};

}  // namespace sp::scheduler
