// `sparkplane server`: the long-running scheduler with its control socket.
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>
#include <thread>

#include "api/command_router.h"
#include "api/control_socket.h"
#include "api/http_api.h"
#include "api/relayed_commands.h"
#include "auth/auth_service.h"
#include "cli/commands.h"
#include "http/server.h"
#include "operators/ad_hoc_try.h"
#include "operators/cluster_reaper.h"
#include "scheduler/scheduler.h"
#include "spark/history.h"
#include "store/auth_store.h"
#include "store/open.h"
#include "store/store_pool.h"

namespace sp::cli {
namespace {

// The server's scheduler as the owner of its partitions (store/postgres/lease.h): the lease
// keeper's thread hands gains and drops to the loop once it runs; until then (and after it
// stopped) nothing changes hands.
class PartitionsOfScheduler : public store::postgres::PartitionOwner {
 public:
  void Attach(scheduler::Scheduler* scheduler) {
    std::lock_guard<std::mutex> lock(mu_);
    scheduler_ = scheduler;
  }
  bool Ready() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return scheduler_ != nullptr;
  }
  void ChangePartitions(std::map<int, int64_t> gained, std::set<int> dropped,
                        std::function<void()> done) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (scheduler_ == nullptr) {
      done();
      return;
    }
    scheduler_->ChangePartitions(std::move(gained), std::move(dropped), std::move(done));
  }

 private:
  mutable std::mutex mu_;
  scheduler::Scheduler* scheduler_ = nullptr;
};

constexpr Millis kCleanInterval = Millis(3600 * 1000);

// One retention pass: finished runs through the loop (the one write path), then event logs.
void Clean(Runtime& rt, scheduler::Scheduler& sched) {
  const Time before = rt.clock.Now() - rt.config.retention;
  Result<scheduler::CommandResult> runs = sched.Submit(scheduler::PruneRuns{before, false});
  if (!runs.ok()) {
    rt.logger->Warn("retention", runs.status().ToString());
    return;
  }
  Result<std::vector<std::string>> apps =
      spark::PruneEventLogs(rt.services.config.SparkHistoryDir(), ToUnixMillis(before), false);
  if (!apps.ok() && apps.status().code() != StatusCode::kNotFound) {
    rt.logger->Warn("retention", apps.status().ToString());
  }
  size_t n_apps = apps.ok() ? apps->size() : 0;
  if (runs->pruned_runs.empty() && n_apps == 0) return;
  rt.logger->Info("retention", "deleted " + std::to_string(runs->pruned_runs.size()) +
                                   " finished runs and " + std::to_string(n_apps) +
                                   " Spark event logs older than " + FormatTime(before));
}

}  // namespace

int ServerCommand(const GlobalOptions& g, const std::string& http_address) {
  auto t0 = std::chrono::steady_clock::now();
  // SIGINT/SIGTERM are taken by a dedicated thread (sigwait); block them before any thread
  // starts so every thread inherits the mask. Children get a clean mask from the executor.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  // Several servers on one PostgreSQL store: one acts, the others wait as standbys and take over
  // within seconds when it dies or freezes; whatever the old one tries to write after that is
  // refused (store/postgres/lease.h).
  // Before the runtime exists: a standby starts nothing (no warm pools, no sockets).
  Result<Config> config = ResolveConfig(g.config);
  if (!config.ok()) return Fail(config.status());
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  Result<std::unique_ptr<store::postgres::SchedulerLease>> lease = store::RegisterScheduler(
      config->StoreLocation(), host, config->failover_timeout, config->scheduler_partitions);
  if (!lease.ok()) return Fail(lease.status().With("register with the store"));
  RealClock lease_clock;
  Logger standby_log(lease_clock, config->log_level);
  // Declared before the keeper, whose thread may ask it until the keeper is gone.
  PartitionsOfScheduler partition_owner;
  std::unique_ptr<store::postgres::LeaseKeeper> keeper;
  // Several partitions: every server acts at once, each on its partitions' DAGs; it starts with
  // the free ones up to its share (none, when the others hold them all: they give some up).
  const bool partitioned = *lease && (*lease)->partitions() > 1;
  std::map<int, int64_t> first_partitions;
  if (partitioned) {
    Result<std::map<int, int64_t>> taken = (*lease)->TakeShare();
    if (!taken.ok()) return Fail(taken.status().With("take scheduler partitions"));
    first_partitions = *taken;
    standby_log.Info("server", "active: instance " + std::to_string((*lease)->instance()) +
                                   " takes " + std::to_string(first_partitions.size()) + " of " +
                                   std::to_string((*lease)->partitions()) +
                                   " scheduler partitions");
  }
  // The epoch is read here, before the keeper's thread may touch the lease.
  int64_t single_epoch = 0;
  if (*lease && !partitioned) {
    bool announced = false;
    for (;;) {
      Result<bool> acquired = (*lease)->TryAcquire();
      if (acquired.ok() && *acquired) break;
      if (!acquired.ok()) {
        standby_log.Warn("server", acquired.status().ToString());
      } else if (!announced) {
        announced = true;
        Result<std::string> holder = (*lease)->DescribeHolder();
        standby_log.Info("server", "standby: instance " + std::to_string((*lease)->instance()) +
                                       " waits while another scheduler is active (" +
                                       (holder.ok() ? *holder : holder.status().ToString()) + ")");
      }
      (*lease)->Heartbeat().IgnoreError();
      timespec wait{0, 500'000'000};
      if (sigtimedwait(&stop_signals, nullptr, &wait) > 0) {
        (*lease)->Release();
        standby_log.Info("server", "stopped (standby)");
        return 0;
      }
    }
    single_epoch = (*lease)->epoch();
    standby_log.Info("server", "active: instance " + std::to_string((*lease)->instance()) +
                                   " holds the scheduler lease (epoch " +
                                   std::to_string(single_epoch) + ")");
  }
  // Heartbeats from now on: the start-up below may outlast the session timeout. Losing the lease
  // or a partition (another instance took over) means exiting at once, leaving the running tries
  // to it (it adopts them): stopping them here would make it run them again.
  if (*lease) {
    keeper = std::make_unique<store::postgres::LeaseKeeper>(
        lease->get(),
        [&standby_log, partitioned](const Status& lost) {
          standby_log.Error("server", std::string(partitioned ? "lost its scheduler partitions ("
                                                              : "lost the scheduler lease (") +
                                          lost.ToString() +
                                          "); exiting so that only the holders act");
          std::_Exit(75);
        },
        [&standby_log](const std::string& what) { standby_log.Warn("server", what); },
        partitioned ? &partition_owner : nullptr);
  }
  Result<std::unique_ptr<Runtime>> opened =
      OpenRuntime(g.config, ClusterOwner::kServerLock, single_epoch);
  if (!opened.ok()) return Fail(opened.status());
  Runtime& rt = **opened;

  int lock = ::open(rt.config.LockPath().c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock < 0) return Fail("cannot open " + rt.config.LockPath() + ": " + std::strerror(errno));
  // A command applied without a server holds the lock for a moment: wait that out. A server
  // that answers on the socket, or a lock held past kLockWait, is another server.
  for (auto deadline = std::chrono::steady_clock::now() + kLockWait;
       ::flock(lock, LOCK_EX | LOCK_NB) != 0;) {
    bool answers =
        api::SendControlRequest(rt.config.SocketPath(), {{"op", "ping"}}, Millis(2000)).ok();
    if (answers || std::chrono::steady_clock::now() >= deadline) {
      return Fail("another sparkplane server is already running for " + rt.config.data_dir);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::string pid = std::to_string(::getpid()) + "\n";
  (void)!::ftruncate(lock, 0);
  (void)!::write(lock, pid.data(), pid.size());

  scheduler::SchedulerOptions opts;
  opts.dags_folder = rt.config.dags_folder;
  opts.parallelism = rt.config.parallelism;
  if (keeper) opts.before_effects = [&keeper] { keeper->AwaitValid(); };
  if (partitioned) opts.partitions = (*lease)->partitions();
  scheduler::Scheduler sched(&rt.services, rt.registry.get(), opts);
  if (partitioned) sched.SetPartitions(first_partitions);
  // Whatever way this function returns, the keeper stops handing partitions to `sched` first.
  struct Detach {
    PartitionsOfScheduler& owner;
    ~Detach() { owner.Attach(nullptr); }
  } detach{partition_owner};
  // Commands given here for DAGs another scheduler holds go there (several partitions).
  std::unique_ptr<store::Store> router_reads;
  std::unique_ptr<api::CommandRouter> router;
  if (partitioned) {
    Result<std::unique_ptr<store::Store>> reads = store::OpenStore(rt.config.StoreLocation());
    Result<store::StoreLocation> where = store::ParseStoreLocation(rt.config.StoreLocation());
    if (!reads.ok()) return Fail(reads.status());
    if (!where.ok()) return Fail(where.status());
    router_reads = std::move(*reads);
    router = std::make_unique<api::CommandRouter>(&sched, router_reads.get(), where->target,
                                                  std::string(host) + " (pid " +
                                                      std::to_string(::getpid()) + ", instance " +
                                                      std::to_string((*lease)->instance()) + ")");
  }

  // The HTTP API and web UI: its own store connections (reads and auth), so neither waits on
  // the loop's writes.
  std::string listen = http_address.empty() ? rt.config.http_address : http_address;
  std::unique_ptr<store::Store> api_reads;
  std::unique_ptr<store::AuthStore> auth_store;
  std::unique_ptr<auth::AuthService> auth;
  std::unique_ptr<api::HttpApi> web;
  std::unique_ptr<http::HttpServer> http_server;
  if (listen != "off") {
    http::HttpServerOptions hopts;
    Status parsed = http::ParseListenAddress(listen, &hopts);
    if (!parsed.ok()) return Fail(parsed.With("http_address"));
    // One read connection per handler thread (http::HttpServerOptions::worker_threads).
    Result<std::unique_ptr<store::Store>> reads =
        store::OpenStorePool(rt.config.StoreLocation(), hopts.worker_threads);
    if (!reads.ok()) return Fail(reads.status());
    api_reads = std::move(*reads);
    Result<std::unique_ptr<store::AuthStore>> as = store::OpenAuthStore(rt.config.StoreLocation());
    if (!as.ok()) return Fail(as.status());
    auth_store = std::move(*as);
    auth = std::make_unique<auth::AuthService>(auth_store.get(), &rt.clock);
    // The first start creates `admin`: with the configured password file (a Kubernetes Secret),
    // else a random password printed once here.
    std::string initial;
    // A missing file is no error: the Kubernetes Secret behind it is optional.
    if (!rt.config.admin_password_file.empty()) {
      std::ifstream in(rt.config.admin_password_file);
      if (in) std::getline(in, initial);
      if (!initial.empty() && initial.back() == '\r') initial.pop_back();
    }
    Result<std::optional<std::string>> admin = auth->EnsureAdmin(initial);
    if (!admin.ok()) return Fail(admin.status().With("create the first user"));
    if (*admin) {
      rt.logger->Info(
          "server",
          initial.empty()
              ? "created user 'admin' with password " + **admin +
                    " (shown once; `sparkplane users password admin` sets another)"
              : "created user 'admin' with the password in " + rt.config.admin_password_file);
    }
    api::HttpApiOptions aopts;
    aopts.scheduler_dir = rt.config.SchedulerDir();
    aopts.spark_history_dir = rt.services.config.SparkHistoryDir();
    aopts.history_server_url = rt.config.history_server_url;
    aopts.version = SP_VERSION;
    // DELETE /api/v1/clusters/{name}: the spark_cluster type's own delete, as the CLI runs it.
    aopts.delete_cluster = [&rt](const store::ClusterRecord& record) -> Result<std::string> {
      operators::TaskType* type = rt.registry->Find("spark_cluster");
      if (type == nullptr) return InternalError("the spark_cluster task type is not registered");
      auto ctx = std::make_shared<operators::AdHocTaskContext>(
          &rt.services, "spark_cluster",
          nlohmann::json{{"action", "delete"}, {"name", record.name}, {"backend", record.backend}},
          [&rt](const std::string& line) { rt.logger->Info("clusters", line); });
      type->Start(ctx);
      operators::TaskResult result = ctx->Wait();
      if (!result.success) return UnavailableError(result.message);
      return result.message;
    };
    web = std::make_unique<api::HttpApi>(&sched, api_reads.get(), auth.get(), &rt.clock, aopts,
                                         api::EmbeddedUi());
    web->SetRouter(router.get());
    sched.SetDagsLoadedObserver(
        [&web](const std::vector<dag::LoadedFile>& files) { web->OnDagsLoaded(files); });
    sched.SetPassObserver([&web](std::chrono::microseconds took) { web->OnPass(took); });
    http_server = std::make_unique<http::HttpServer>(
        hopts, [&web](http::Request& r) { return web->Handle(r); },
        [&web](const http::Request& r, int status, std::chrono::microseconds took) {
          web->ObserveRequest(r, status, took);
        },
        [&web](http::Request& r) { return web->HandleQuick(r); });
  }

  // The sockets open first: pings and /api/v1/health are answered (with "loading") while the
  // DAG folder is parsed and active runs are recovered; commands wait in the loop's queue until
  // that is done.
  api::ControlServer control(rt.config.SocketPath(), &sched);
  control.SetRouter(router.get());
  control.SetLoading(true);
  Status s = control.Start();
  if (!s.ok()) return Fail(s);
  if (http_server) {
    s = web->StartFeed();
    if (s.ok()) s = http_server->Start();
    if (!s.ok()) return Fail(s.With("start the HTTP server (http_address " + listen + ")"));
  }
  s = sched.Start();
  if (!s.ok()) return Fail(s);
  // From now on partitions change hands with the loop (the keeper shares them out each second).
  partition_owner.Attach(&sched);
  control.SetLoading(false);
  if (web) web->SetLoading(false);
  // Commands given where no scheduler acts on this PostgreSQL store reach this one through it.
  std::unique_ptr<api::RelayedCommandPump> relay;
  if (*lease) {
    Result<store::StoreLocation> where = store::ParseStoreLocation(rt.config.StoreLocation());
    Result<std::unique_ptr<store::postgres::CommandInbox>> inbox =
        where.ok() ? store::postgres::CommandInbox::Open(where->target)
                   : Result<std::unique_ptr<store::postgres::CommandInbox>>(where.status());
    if (!inbox.ok()) return Fail(inbox.status().With("open the relayed commands' inbox"));
    relay = std::make_unique<api::RelayedCommandPump>(std::move(*inbox), &sched, rt.store.get(),
                                                      rt.logger.get());
  }

  // No cluster outlives its run: reap orphans at start and periodically, off the loop thread.
  std::mutex reaper_mu;
  std::condition_variable reaper_cv;
  bool stopping = false;
  // Retention (the `retention` setting) rides on the same thread, hourly.
  Time next_clean = rt.clock.Now();
  std::thread reaper([&] {
    auto run_is_active = [&](int64_t key) {
      Result<std::optional<store::DagRun>> r = rt.store->GetRun(key);
      return !r.ok() || (*r && !store::IsTerminal((*r)->state));  // unsure = keep the cluster
    };
    std::unique_lock<std::mutex> lock(reaper_mu);
    while (!stopping) {
      lock.unlock();
      // Several partitions: only the clusters of this server's own runs are adopted; a server
      // holding none writes nothing (its store is fenced shut) and leaves reaping to the others.
      std::function<bool(int64_t)> schedules_run;
      const bool idle = partitioned && sched.Partitions().empty();
      if (partitioned) {
        schedules_run = [&](int64_t key) {
          Result<std::optional<store::DagRun>> r = rt.store->GetRun(key);
          return r.ok() && *r && sched.PartitionElsewhere((*r)->dag_id) == 0;
        };
      }
      Status reaped =
          idle ? OkStatus()
               : operators::ReapOrphanClusters(rt.services, run_is_active, schedules_run);
      if (!reaped.ok()) rt.logger->Warn("clusters", reaped.ToString());
      if (!idle && rt.config.retention.count() > 0 && rt.clock.Now() >= next_clean) {
        next_clean = rt.clock.Now() + kCleanInterval;
        Clean(rt, sched);
      }
      lock.lock();
      reaper_cv.wait_for(lock, rt.config.cluster_reap_interval, [&] { return stopping; });
    }
  });

  std::thread signals([&] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    rt.logger->Info("server", std::string("received ") + (sig == SIGINT ? "SIGINT" : "SIGTERM") +
                                  "; stopping (tries still running are stopped and retried per "
                                  "their policy at the next start)");
    sched.Stop();
  });
  signals.detach();

  double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f", ms);
  std::string ui = http_server ? "; web UI http://" +
                                     (listen[0] == ':' || listen.rfind("0.0.0.0", 0) == 0
                                          ? "127.0.0.1"
                                          : listen.substr(0, listen.rfind(':'))) +
                                     ":" + std::to_string(http_server->port()) + "/"
                               : "";
  rt.logger->Info("server", std::string("ready in ") + buf + " ms; data " + rt.config.data_dir +
                                ", dags " + rt.config.dags_folder + ", control socket " +
                                rt.config.SocketPath() + ui);
  sched.Run();
  relay.reset();
  partition_owner.Attach(nullptr);  // no more changes: the loop has ended
  if (http_server) http_server->Stop();
  if (web) web->StopFeed();
  control.Stop();
  {
    std::lock_guard<std::mutex> lock(reaper_mu);
    stopping = true;
  }
  reaper_cv.notify_all();
  reaper.join();
  keeper.reset();
  if (*lease) (*lease)->Release();
  rt.logger->Info("server", "stopped");
  ::close(lock);
  return 0;
}

}  // namespace sp::cli
