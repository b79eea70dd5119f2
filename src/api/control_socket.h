// The control socket: how `sparkplane` commands reach a running server. A Unix domain socket
// at <data>/history/scheduler/sparkplane.sock (mode 0600: only the owner may connect, which is
// the authentication) carries one JSON request line and one JSON response line per connection.
//
// Requests: {"op":"trigger","dag_id":..,"conf":{..},"logical_date":..,"run_id":..}
//           {"op":"backfill","dag_id":..,"from":..,"to":..,"conf":{..}}
//           {"op":"cancel","run":KEY}  {"op":"clear","run":KEY,"tasks":[..],"downstream":b}
//           {"op":"mark","run":KEY,"task":..,"state":"success"|"failed"}
//           {"op":"pause"|"unpause","dag_id":..}  {"op":"ping"}
//           {"op":"clean","before":TIME|MILLIS,"dry_run":b}   (retention: finished runs ended
//           before)
// Responses: {"ok":true,"created_runs":[..]} or {"ok":false,"code":"NOT_FOUND","error":".."};
//            clean adds "pruned_count" and "pruned_runs" (the first 1,000: key, dag_id, run_id);
//            a ping is answered {"ok":true} by the socket itself, without the scheduler loop.
//
// The socket is a trust boundary even though only the owner can reach it: a request is bounded
// (1 MiB, 64 levels of nesting, 5 s to arrive), every field is checked for its type, and no
// request (nor a client that hangs up early) can stop the server. Writes use MSG_NOSIGNAL.
//
// Thread safety: ControlServer runs an accept thread and one thread per connection (at most
// `max_clients`; beyond that a client gets UNAVAILABLE at once). Commands reach the scheduler
// with Submit(), which serializes them on the loop. Stop() wakes and joins every thread it
// started; it is called by the destructor. Start/Stop are not to be called concurrently.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/json_limits.h"
#include "common/status.h"
#include "scheduler/event.h"
#include "scheduler/scheduler.h"

namespace sp::api {

class CommandRouter;

// Parses a request into a scheduler event (shared by the server and offline command mode).
// Every field is type-checked: InvalidArgument names the field and what it must be ("field
// 'downstream' must be a boolean, got string"); required fields that are missing are named too.
// Never throws.
Result<scheduler::Event> ParseControlRequest(const nlohmann::json& request);
// A date ("2026-11-26", midnight UTC) or an RFC 3339 time with any offset and fractional
// seconds ("2026-11-26T02:00:00Z", "2026-11-26T03:00:00.25+01:00"), as a UTC instant: what
// commands take, parsed by dag::ParseDateTime like a DAG's start_date. InvalidArgument names
// `field` and says what was expected.
Result<Time> ParseUtcTime(const std::string& text, const std::string& field);
nlohmann::json ControlResponse(const Result<scheduler::CommandResult>& result);

struct ControlServerOptions {
  // Connections served at once; one more is answered UNAVAILABLE ("too many clients") and closed.
  int max_clients = 32;
  // Time a client has to send its whole request line (and to take the answer).
  Millis request_timeout = Millis(5000);
  // Bounds of the request line (max_bytes, without the newline) and of its JSON nesting.
  JsonLimits request_limits;
};

class ControlServer {
 public:
  ControlServer(std::string socket_path, scheduler::Scheduler* scheduler,
                ControlServerOptions options = {});
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  Status Start();
  // While set, pings answer {"ok": true, "loading": true}: the server is parsing its DAG folder
  // and recovering runs, and commands wait for that.
  void SetLoading(bool loading) { loading_.store(loading); }
  // Several active schedulers: commands go through `router` (api/command_router.h), which sends
  // those of DAGs another scheduler holds there. Before the first request.
  void SetRouter(CommandRouter* router) { commands_ = router; }
  // Stops accepting, wakes every connection (a command already handed to the scheduler is
  // waited for) and joins all threads; removes the socket file.
  void Stop();

 private:
  void AcceptLoop();
  // Answers one client on its own thread and closes `fd`. Never throws.
  void Serve(int fd);
  nlohmann::json Answer(const std::string& line);
  // Joins the connection threads that have finished; the accept thread does it before each
  // accept, so a finished thread waits for its join until the next client at most.
  void JoinFinishedConnections();
  // Joins every connection thread (after the wake pipe was written); Stop() only.
  void JoinAllConnections();

  std::string path_;
  scheduler::Scheduler* scheduler_;
  CommandRouter* commands_ = nullptr;
  ControlServerOptions options_;
  std::atomic<bool> loading_{false};
  int listen_fd_ = -1;
  bool bound_ = false;  // the socket file at path_ is ours to remove
  // Written once by Stop() and never drained: readable from then on, it wakes every poll().
  int wake_pipe_[2] = {-1, -1};
  std::thread thread_;

  std::mutex mu_;
  std::condition_variable slot_freed_;  // a connection thread is about to return
  uint64_t next_connection_ = 0;
  std::map<uint64_t, std::thread> connections_;  // guarded by mu_
  std::vector<uint64_t> finished_;               // ids whose thread is about to return; mu_
};

// Sends one request to a running server and waits up to `timeout` (in all) for the answer.
// Unavailable when no server listens on `socket_path`; the answer is parsed with
// ParseJsonBounded (64 levels, 64 MiB).
Result<nlohmann::json> SendControlRequest(const std::string& socket_path,
                                          const nlohmann::json& request, Millis timeout);

}  // namespace sp::api
