// One try of the spark_cluster task type run to its end for a notebook (create or delete of the
// notebook's cluster), as `sparkplane cluster create|delete` runs one: an ad-hoc try whose
// progress lines go to `progress`. `wait_stop` (may be null) is polled while the try runs; a
// stop request cancels the try (a create then deletes what it made) and the result is
// Cancelled. A failed try is Unavailable with the try's message.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "common/clock.h"
#include "common/status.h"
#include "operators/registry.h"
#include "operators/task_type.h"

namespace sp::notebook::internal {

Result<nlohmann::json> RunClusterTry(const operators::Services* services,
                                     operators::TaskTypeRegistry* registry, nlohmann::json fields,
                                     const std::function<bool(Millis)>* wait_stop,
                                     const std::function<void(const std::string&)>& progress);

}  // namespace sp::notebook::internal
