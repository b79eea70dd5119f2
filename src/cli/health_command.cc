// `sparkplane health`: is the server up? It sends {"op":"ping"} through the control socket; the
// socket thread answers at once, even while the server still parses its DAG folder at start
// ("loading": commands wait for it). The exit code is the answer (0 yes, 1 no), which is what
// the scheduler pod's startup, liveness and readiness probes run.
#include <cstdio>

#include "api/control_socket.h"
#include "cli/deploy_commands.h"

namespace sp::cli {

namespace {
// Below the probes' timeoutSeconds (10) in deploy/base/scheduler.yaml.
constexpr Millis kPingTimeout{5'000};
}  // namespace

int HealthCommand(const GlobalOptions& g) {
  Result<Config> config = ResolveConfig(g.config);
  if (!config.ok()) return Fail(config.status());
  Result<nlohmann::json> answer =
      api::SendControlRequest(config->SocketPath(), {{"op", "ping"}}, kPingTimeout);
  if (!answer.ok()) {
    return Fail(answer.status().With("no server answers on " + config->SocketPath()));
  }
  if (!answer->is_object() || !answer->value("ok", false)) {
    return Fail("the server on " + config->SocketPath() +
                " answered the ping with an error: " + answer->dump());
  }
  const bool loading = answer->value("loading", false);
  if (g.json) {
    std::printf("%s\n",
                nlohmann::json{{"ok", true}, {"socket", config->SocketPath()}, {"loading", loading}}
                    .dump()
                    .c_str());
  } else {
    std::printf("ok: the server answers on %s%s\n", config->SocketPath().c_str(),
                loading ? " (still loading its DAG folder; commands wait for it)" : "");
  }
  return 0;
}

}  // namespace sp::cli
