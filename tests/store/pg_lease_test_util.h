// Test helpers for the PostgreSQL scheduler lease (store/postgres/lease.h), shared by the lease
// and relayed-command tests.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "store/postgres/lease.h"

namespace sp::store::testing {

// One TryAcquire; a failed call is a test failure.
inline bool Acquire(postgres::SchedulerLease& lease) {
  Result<bool> got = lease.TryAcquire();
  EXPECT_TRUE(got.ok()) << got.status();
  return got.ok() && *got;
}

// As a standby does: tries until it holds the lease (a closed session's backend lets go of its
// lock a moment after the client left), for up to 5 s.
inline bool AcquireSoon(postgres::SchedulerLease& lease) {
  for (int i = 0; i < 250; ++i) {
    if (Acquire(lease)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

}  // namespace sp::store::testing
