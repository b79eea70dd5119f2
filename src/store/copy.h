// CopyStore: moves an installation's whole history from one store to another (`sparkplane db copy
// --from sqlite:... --to postgresql://...`): DAG records, runs with their task instances and state
// events, clusters, connections (sealed fields copied as they are: the secret key stays the
// same), users and API tokens. Browser sessions are not copied (everyone logs in again).
//
// The target must be empty (no DAG, run, cluster, connection or user): a copy never merges into
// or overwrites an installation. Runs go over in batches, each one transaction, oldest first;
// run keys are kept so the scheduler's ids keep growing. State events get new ids in the target
// (their order is kept). Only reads the source (opening it migrates an older schema forward).
#pragma once

#include <cstdint>

#include "common/status.h"
#include "store/auth_store.h"
#include "store/store.h"

namespace sp::store {

struct CopyCounts {
  int64_t dags = 0;
  int64_t runs = 0;
  int64_t task_instances = 0;
  int64_t events = 0;
  int64_t clusters = 0;
  int64_t connections = 0;
  int64_t users = 0;
  int64_t api_tokens = 0;
};

// FailedPrecondition when the target is not empty (nothing is written then).
Result<CopyCounts> CopyStore(Store& from, AuthStore& from_auth, Store& to, AuthStore& to_auth);

}  // namespace sp::store
