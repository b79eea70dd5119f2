// Ids that reach file paths and terminals: DAG ids, task ids and run ids; and the scheduler
// partition a DAG id belongs to.
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

// Several active schedulers (store/postgres/lease.h): the partition, 1 to `partitions`, whose
// holder schedules DAG `dag_id`. A stable hash (FNV-1a of the id), the same in every process and
// version: changing it would move DAGs between running schedulers.
int PartitionOf(std::string_view dag_id, int partitions);

}  // namespace sp::dag
