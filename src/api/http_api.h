// HttpApi: the JSON API under /api/v1 (described by src/api/openapi.yaml, served at
// /api/v1/openapi.json), the event stream, /metrics and the embedded web UI, as one handler for
// http::HttpServer.
//
// - Commands (trigger, cancel, clear, repair, mark, pause) are the control socket's requests:
//   the handler builds the same request JSON, parses it with ParseControlRequest and submits it
//   to the scheduler, so the CLI, the API and the UI share one validation and one error text.
//   A cluster delete is `sparkplane cluster delete` (HttpApiOptions::delete_cluster: the task
//   type's own delete), refused with 409 while the cluster's run is active (its teardown owns
//   it).
// - Reads use the API's own store connections (a store::StorePool, one per handler thread; WAL:
//   they never wait for, or block, the loop), the DAG catalog the scheduler publishes after each
//   folder scan, and task log files.
// - Every route declares who may call it: public (health, login, the UI's files), or a least
//   role. A session cookie must come with X-CSRF-Token (and a same-origin Origin, when sent) on
//   unsafe methods; a bearer token needs neither.
// - The event feed thread turns new state events from the store into `run`/`task` SSE events
//   (ids = the store's event ids, so a client resumes across a server restart), and cluster or
//   DAG-list changes into id-less `cluster`/`dags` events.
//
// Thread safety: Handle() is called concurrently from the server's pool; the observers from
// the scheduler's loop thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "api/metrics.h"
#include "auth/auth_service.h"
#include "common/clock.h"
#include "common/embedded_file.h"
#include "dag/loader.h"
#include "http/event_hub.h"
#include "http/router.h"
#include "scheduler/scheduler.h"
#include "store/store.h"

namespace sp::api {

class CommandRouter;

struct HttpApiOptions {
  std::string scheduler_dir;       // <data>/history/scheduler (task logs under logs/)
  std::string spark_history_dir;   // Spark event logs, for application summaries
  std::string history_server_url;  // "" : no History Server link
  std::string version;
  Millis feed_interval = Millis(250);  // how often the feed looks for events it was not told of
  // Deletes a cluster whose record allows it (ad-hoc, or of a run that is over) and waits until
  // it is gone; returns what was done. Null: DELETE /api/v1/clusters/{name} answers 501.
  std::function<Result<std::string>(const store::ClusterRecord&)> delete_cluster;
};

// A file of the embedded web UI: "index.html", "assets/index-3f2a.js".
using UiFile = EmbeddedFile;

class HttpApi {
 public:
  HttpApi(scheduler::Scheduler* scheduler, store::Store* reads, auth::AuthService* auth,
          const Clock* clock, HttpApiOptions options, std::span<const UiFile> ui = {});
  ~HttpApi();
  HttpApi(const HttpApi&) = delete;
  HttpApi& operator=(const HttpApi&) = delete;

  http::Response Handle(http::Request& request);
  // The server's quick handler (http::HttpServer): a GET of a cached page by a remembered
  // caller, answered on the I/O thread; nullopt for anything else.
  std::optional<http::Response> HandleQuick(http::Request& request);
  void ObserveRequest(const http::Request& request, int status, std::chrono::microseconds took);

  // Scheduler observers.
  void OnDagsLoaded(const std::vector<dag::LoadedFile>& files);
  void OnPass(std::chrono::microseconds took);
  void SetLoading(bool loading) { loading_.store(loading); }
  // Several active schedulers: commands go through `router` (api/command_router.h), which sends
  // those of DAGs another scheduler holds there. Before the first request.
  void SetRouter(CommandRouter* router) { commands_ = router; }

  // Starts / stops the event feed thread.
  Status StartFeed();
  void StopFeed();

  const http::Router& router() const { return router_; }
  http::EventHub& hub() { return hub_; }

 private:
  enum class Access { kPublic, kViewer, kOperator, kAdmin };
  static auth::Role Needed(Access access);  // the least role of a non-public route
  struct Caller;
  using Handler = std::function<http::Response(http::Request&, const Caller&)>;
  // A GET route's answer from memory alone (a cached page), or nullopt.
  using QuickHandler = std::function<std::optional<http::Response>(http::Request&)>;
  struct Catalog {
    std::vector<dag::LoadedFile> files;
    std::map<std::string, dag::DagPtr> dags;
  };

  // With `quick`, a GET whose caller's credentials are remembered (auth::AuthService::Remembered)
  // and whose role suffices is first offered to it on the I/O thread.
  void Add(const std::string& method, const std::string& pattern, Access access, Handler h,
           QuickHandler quick = nullptr);
  void RegisterRoutes();
  std::shared_ptr<const Catalog> catalog() const;
  // The loaded DAG with this id (null when its file is gone or broken).
  dag::DagPtr DagOf(const std::string& dag_id) const;
  // The run with this key as JSON, read back after a command changed it.
  http::Response RunResponse(int64_t key, int status);
  http::Response Command(nlohmann::json request, int success_status,
                         const std::function<http::Response(const scheduler::CommandResult&)>& ok);
  void FeedLoop();
  Status FeedOnce();

  // Handlers.
  http::Response Login(http::Request& req);
  http::Response ListDags(http::Request& req);
  http::Response RenderDags();
  http::Response GetDag(const std::string& dag_id);
  http::Response Grid(http::Request& req);
  http::Response ListRuns(http::Request& req, const std::optional<std::string>& dag_id);
  // What a rendered list page depends on: Scheduler::listing_changes, the store's RunsVersion
  // as the feed last read it (any writer), and for the DAG list the catalog's generation and
  // the wall-clock second (its next-run times move with the clock; other processes' DAG record
  // changes show within that second).
  struct PageVersion {
    int64_t listings = 0, db_runs = 0, catalog = 0, second = 0;
    bool operator==(const PageVersion&) const = default;
  };
  // nullopt before the feed's first read of the store's version: nothing is kept until then.
  std::optional<PageVersion> RunsPageVersion() const;
  std::optional<PageVersion> DagsPageVersion() const;
  // The page kept for this request target at `version`, if any.
  std::optional<http::Response> KeptPage(const http::Request& req,
                                         const std::optional<PageVersion>& version);
  void KeepPage(const http::Request& req, const std::optional<PageVersion>& version,
                const http::Response& page);
  http::Response RenderRuns(http::Request& req, const std::optional<std::string>& dag_id);
  http::Response TaskLog(http::Request& req);
  http::Response TaskLogStream(http::Request& req);
  http::Response Events(http::Request& req);
  http::Response Metrics();
  http::Response UiFileResponse(http::Request& req);

  scheduler::Scheduler* scheduler_;
  CommandRouter* commands_ = nullptr;
  store::Store* reads_;
  auth::AuthService* auth_;
  const Clock* clock_;
  HttpApiOptions options_;
  std::vector<UiFile> ui_;
  http::Router router_;
  http::EventHub hub_;
  api::Metrics metrics_;
  std::atomic<bool> loading_{true};
  std::string openapi_json_;

  // Rendered list pages by request target, with the versions they were rendered at.
  static constexpr size_t kPageCacheEntries = 256;
  std::atomic<int64_t> db_runs_version_{-1};  // -1: not read yet
  std::atomic<int64_t> catalog_generation_{0};
  std::mutex page_cache_mu_;
  std::map<std::string, std::pair<PageVersion, std::string>> page_cache_;  // page_cache_mu_

  mutable std::mutex catalog_mu_;
  std::shared_ptr<const Catalog> catalog_;  // catalog_mu_

  // Event feed.
  std::mutex feed_mu_;
  std::condition_variable feed_cv_;
  bool feed_nudged_ = false;    // feed_mu_
  bool feed_stopping_ = false;  // feed_mu_
  std::thread feed_;
  int64_t feed_cursor_ = 0;                                           // feed thread only
  std::map<int64_t, std::pair<std::string, std::string>> run_names_;  // key -> (dag, run); feed
  std::map<std::string, std::string> cluster_states_;  // name -> state; feed thread only
  std::map<std::tuple<int64_t, std::string, int>, Time> queued_at_;  // feed thread only
  std::chrono::steady_clock::time_point next_cluster_poll_{};
};

// Embedded at build time (cmake/embed.cmake): src/api/openapi.yaml, and the built web UI
// (build/ui-dist; empty when the UI was not built).
std::span<const UiFile> EmbeddedOpenApi();
std::span<const UiFile> EmbeddedUi();
// The OpenAPI document's YAML text.
std::string OpenApiYaml();

}  // namespace sp::api
