// Standalone master status: GET <ui_url>/json/ on a Spark standalone master's web UI, parsed
// into a MasterStatus.
//
// The trailing slash matters: `/json` answers 301. The master serves no /api/v1 (that exists
// only on driver UIs and the History Server). Readiness is `status == "ALIVE"` plus
// `alive_workers >= N`; HTTP 200 alone is not enough (the UI binds before leader election).
// App states here are useless for success or failure (always FINISHED); use the driver's exit
// code (spark-facts §3).
//
// Uses libcurl with short timeouts; curl_global_init runs once through a function-local static
// (thread-safe initialisation, the only process-wide state here). Thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace sp::spark {

struct MasterWorker {
  std::string id;  // worker-YYYYMMDDHHMMSS-127.0.0.1-PORT
  std::string host;
  int port = 0;
  std::string web_ui_address;
  int cores = 0;
  int cores_used = 0;
  int cores_free = 0;
  int64_t memory_mb = 0;
  int64_t memory_free_mb = 0;
  std::string state;  // ALIVE, DEAD, DECOMMISSIONED, UNKNOWN
  int64_t last_heartbeat_ms = 0;
};

struct MasterApp {
  std::string id;
  std::string name;
  std::string state;  // WAITING, RUNNING, FINISHED, ...
  std::string user;
  int cores = 0;
  int64_t memory_per_executor_mb = 0;
  int64_t start_time_ms = 0;
  int64_t duration_ms = 0;
  std::string submit_date;
};

struct MasterStatus {
  std::string url;     // spark://127.0.0.1:PORT: the real URL, after any port walk
  std::string status;  // ALIVE, STANDBY, RECOVERING, ...
  int alive_workers = 0;
  int cores = 0;
  int cores_used = 0;
  int64_t memory_mb = 0;
  int64_t memory_used_mb = 0;
  std::vector<MasterWorker> workers;
  std::vector<MasterApp> active_apps;
  std::vector<MasterApp> completed_apps;

  bool Alive() const { return status == "ALIVE"; }
};

// Parses the body of /json/. FailedPrecondition (naming the field) when it is not JSON or
// lacks `url`/`status`; other fields default to zero when absent.
Result<MasterStatus> ParseMasterStatus(std::string_view body);

// GET `url` (http only). Unavailable on connection errors, timeouts and non-200 answers (the
// caller polls); the message names the url and the curl error or HTTP code.
Result<std::string> HttpGet(const std::string& url, Millis timeout);

// GET <ui_url>/json/ and parse it. `ui_url` is like http://127.0.0.1:PORT (a trailing slash
// is tolerated).
Result<MasterStatus> FetchMasterStatus(const std::string& ui_url, Millis timeout = Millis(2000));

}  // namespace sp::spark
