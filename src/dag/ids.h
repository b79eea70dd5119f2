// Ids that reach file paths and terminals: DAG ids, task ids and run ids.
//
// Task logs live under <data>/history/scheduler/logs/DAG/RUN/TASK/TRY.log, so every id is a
// single safe path segment by construction: no '/', no leading '.', no control characters, at
// most kMaxIdLength bytes. Run ids must also not be mistaken for the CLI's other run selectors:
// `latest` and all-digit strings (run keys) are refused.
#pragma once

#include <string_view>

#include "common/status.h"

namespace sp::dag {

inline constexpr size_t kMaxIdLength = 250;

// Letters, digits, '_', '-' and '.' (not first). InvalidArgument says what is wrong.
Status CheckDagId(std::string_view id);
// Letters, digits, '_' and '-'.
Status CheckTaskId(std::string_view id);
// Letters, digits and _ - . ~ : + (not '.' first); not "latest", not all digits.
Status CheckRunId(std::string_view id);

}  // namespace sp::dag
