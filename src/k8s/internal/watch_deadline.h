// A watch with a deadline: KubeClient::Watch, cancelled by a timer after a timeout or by a
// caller's stop_token. Shared by the cluster backend and the notebook objects' readiness wait.
//
// Thread safety: each call owns its timer thread; the handler runs on the caller's thread.
#pragma once

#include <stop_token>

#include "common/clock.h"
#include "common/status.h"
#include "k8s/client.h"

namespace sp::k8s::internal {

struct WatchOutcome {
  Status status;           // Watch's own result (Cancelled after a timeout or a stop)
  bool timed_out = false;  // the timeout cancelled it
  bool stopped = false;    // the stop_token cancelled it
};

// Runs a watch that a timer cancels after `timeout`, or `stop` cancels; the handler decides when
// it has seen enough (kStop).
WatchOutcome WatchWithDeadline(KubeClient* client, const ResourceRef& ref, WatchOptions options,
                               Millis timeout, std::stop_token stop, const WatchHandler& handler);

}  // namespace sp::k8s::internal
