// The control socket: how `sparkplane` commands reach a running server. A Unix domain socket
// at <data>/history/scheduler/sparkplane.sock (mode 0600: only the owner may connect, which is
// the authentication) carries one JSON request line and one JSON response line per connection.
//
// Requests: {"op":"trigger","dag_id":..,"conf":{..},"logical_date":..,"run_id":..}
//           {"op":"backfill","dag_id":..,"from":..,"to":..,"conf":{..}}
//           {"op":"cancel","run":KEY}  {"op":"clear","run":KEY,"tasks":[..],"downstream":b}
//           {"op":"mark","run":KEY,"task":..,"state":"success"|"failed"}
//           {"op":"pause"|"unpause","dag_id":..}  {"op":"ping"}
// Responses: {"ok":true,"created_runs":[..]} or {"ok":false,"code":"NOT_FOUND","error":".."}
//
// Thread safety: ControlServer runs its own accept thread; requests are handed to the
// scheduler with Submit(), which serializes them on the loop.
#pragma once

#include <atomic>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "common/status.h"
#include "scheduler/event.h"
#include "scheduler/scheduler.h"

namespace sp::api {

// Parses a request into a scheduler event (shared by the server and offline command mode).
Result<scheduler::Event> ParseControlRequest(const nlohmann::json& request);
nlohmann::json ControlResponse(const Result<scheduler::CommandResult>& result);

class ControlServer {
 public:
  ControlServer(std::string socket_path, scheduler::Scheduler* scheduler);
  ~ControlServer();
  Status Start();
  void Stop();

 private:
  void AcceptLoop();
  void Serve(int fd);

  std::string path_;
  scheduler::Scheduler* scheduler_;
  int listen_fd_ = -1;
  int wake_pipe_[2] = {-1, -1};
  std::thread thread_;
};

// Sends one request to a running server. Unavailable when no server listens on `socket_path`.
Result<nlohmann::json> SendControlRequest(const std::string& socket_path,
                                          const nlohmann::json& request, Millis timeout);

}  // namespace sp::api
