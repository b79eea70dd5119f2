// Runs a kubeconfig exec credential plugin and returns what it printed on stdout.
//
// posix_spawn (safe in a threaded server) with stdin from /dev/null, stdout and stderr on pipes,
// and a timerfd for the timeout (no clock is read); the child is killed on timeout.
//
// Thread safety: reentrant.
#pragma once

#include <string>

#include "common/clock.h"
#include "common/status.h"
#include "k8s/kube_config.h"

namespace sp::k8s::internal {

// `exec_info` is the KUBERNETES_EXEC_INFO value. FailedPrecondition when the command cannot be
// started (with the install hint), exits non-zero (with an excerpt of its stderr) or times out.
Result<std::string> RunExecPlugin(const ExecPluginConfig& plugin, const std::string& exec_info,
                                  Millis timeout);

}  // namespace sp::k8s::internal
