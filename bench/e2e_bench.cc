// sp_bench_e2e: the end-to-end benchmarks, run against the real `sparkplane` binary, each in a
// fresh data directory under $TMPDIR. Prints a Markdown table (target, goal, measured median,
// pass/miss, load average) and the raw numbers of every repetition. A slow result is reported,
// never an error: the exit status is non-zero only when a benchmark could not run at all.
//
//   usage: sp_bench_e2e --sparkplane BIN --stamp STAMP_BIN [--repeat N] [--only NAME,...]
//
// Benchmarks (NAME):
//   fanout    `dags test` of 1 root + 1,000 `true` tasks; tasks/s = 1,001 / (run ended_at -
//             started_at) read from the store, also the command's wall time. Two variants: the
//             command as a string (`true`, run by /bin/bash -c, as users write it) and as a list
//             (["true"], exec'd without a shell).
//   chain     `dags test` of 200 tasks in a chain, same two variants.
//   latency   `dags test` of a 200-task chain whose tasks run sp_stamp, which records
//             CLOCK_REALTIME at its start and end; latency = start(i+1) - end(i) (median, p95).
//   validate  `sparkplane dags validate DIR` of 1,000 generated ~10-task DAG files, wall time.
//   server    `sparkplane server`: time from fork/exec to the control socket answering a ping
//             (fresh data dir, then restarts), idle VmRSS/VmHWM after 5 s, then a triggered
//             1,000-task fan-out through the server (tasks/s) and VmHWM after it; and the ready
//             time again with 1,000 DAG files in the folder.
#include <fcntl.h>
#include <libpq-fe.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_util.h"
#include "bench/dag_gen.h"
#include "store/open.h"
#include "store/store.h"

namespace sp::bench {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double MsSince(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

std::string LoadAvg() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

std::string Fmt(double v, int decimals = 1) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string Join(const std::vector<double>& v, int decimals = 1) {
  std::string out;
  for (double x : v) out += (out.empty() ? "" : ", ") + Fmt(x, decimals);
  return out;
}

// ---- processes -------------------------------------------------------------------------------

pid_t Spawn(const std::vector<std::string>& argv, const std::string& out, const std::string& err) {
  pid_t pid = ::fork();
  if (pid == 0) {
    ::setpgid(0, 0);  // its own group; supervised tries lead groups of their own
    int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (o >= 0) ::dup2(o, 1);
    if (e >= 0) ::dup2(e, 2);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    _exit(127);
  }
  return pid;
}

// Waits for `pid`; `cpu_ms` gets the user+system CPU time of it and of the children it reaped
// (the tasks), which is what the work cost regardless of how busy the machine was.
int Wait(pid_t pid, double* cpu_ms = nullptr) {
  int status = 0;
  rusage ru{};
  while (::wait4(pid, &status, 0, &ru) < 0 && errno == EINTR) {
  }
  if (cpu_ms) {
    auto ms = [](const timeval& t) { return t.tv_sec * 1000.0 + t.tv_usec / 1000.0; };
    *cpu_ms = ms(ru.ru_utime) + ms(ru.ru_stime);
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

struct Finished {
  int exit_code = -1;
  double wall_ms = 0;
  double cpu_ms = 0;
};

Finished RunToEnd(const std::vector<std::string>& argv, const std::string& out,
                  const std::string& err) {
  Clock::time_point t0 = Clock::now();
  pid_t pid = Spawn(argv, out, err);
  Finished f;
  f.exit_code = Wait(pid, &f.cpu_ms);
  f.wall_ms = MsSince(t0);
  return f;
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::string Tail(const std::string& path, size_t n = 600) {
  std::string t = ReadText(path);
  return t.size() > n ? "..." + t.substr(t.size() - n) : t;
}

// "VmRSS" of /proc/PID/status in MiB, -1 if unreadable.
double ProcStatusMiB(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) {
      return std::strtod(line.c_str() + field.size() + 1, nullptr) / 1024.0;  // kB
    }
  }
  return -1;
}

// utime + stime + cutime + cstime of /proc/PID/stat in ms: the process and its reaped children.
double ProcCpuMs(pid_t pid) {
  std::string stat = ReadText("/proc/" + std::to_string(pid) + "/stat");
  size_t p = stat.rfind(')');
  if (p == std::string::npos) return -1;
  std::istringstream in(stat.substr(p + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 17 && in >> field; ++i) {
    if (i >= 14) ticks += std::strtod(field.c_str(), nullptr);
  }
  return ticks * 1000.0 / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// ---- results ---------------------------------------------------------------------------------

struct Row {
  std::string target;
  std::string goal;
  std::string measured;
  std::string result;  // "pass", "MISS", "-" (no target), "ERROR"
  std::string load;
};

struct Report {
  std::vector<Row> rows;
  std::vector<std::string> details;
  bool broken = false;

  void Add(Row r) { rows.push_back(std::move(r)); }
  void Detail(const std::string& s) {
    details.push_back(s);
    std::fprintf(stderr, "  %s\n", s.c_str());
  }
  void Error(const std::string& target, const std::string& why) {
    broken = true;
    rows.push_back({target, "", "could not run", "ERROR", LoadAvg()});
    Detail(target + ": " + why);
  }
};

std::string Verdict(bool pass) {
  return pass ? "pass" : "MISS";
}

// ---- options ---------------------------------------------------------------------------------

struct Options {
  std::string sparkplane;
  std::string stamp;
  int repeat = 3;
  std::set<std::string> only;
  bool Wants(const std::string& name) const { return only.empty() || only.count(name) > 0; }
};

// ---- dags test runs --------------------------------------------------------------------------

struct RunStats {
  bool ok = false;
  std::string error;
  double wall_ms = 0;
  double cpu_ms = 0;  // the command and its tasks, user + system
  double run_ms = 0;  // store: run ended_at - started_at (millisecond precision)
  int tasks_ok = 0;
  std::vector<store::TaskInstance> tis;
  std::string data_dir_note;
};

// With SP_BENCH_PG set to a PostgreSQL server's URL (bench/postgres_bench.sh), each `dags test`
// keeps its state in a fresh database there instead of the data dir's SQLite file.
class BenchStore {
 public:
  explicit BenchStore(const std::string& data_dir) {
    const char* server = std::getenv("SP_BENCH_PG");
    if (server == nullptr || *server == '\0') {
      location_ = data_dir + "/history/scheduler/sparkplane.db";
      return;
    }
    static int counter = 0;
    server_ = server;
    name_ = "spbench_" + std::to_string(::getpid()) + "_" + std::to_string(++counter);
    Admin("CREATE DATABASE " + name_);
    location_ = server_.substr(0, server_.rfind('/') + 1) + name_;
  }
  ~BenchStore() {
    if (!name_.empty()) Admin("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
  }
  const std::string& location() const { return location_; }

 private:
  void Admin(const std::string& sql) const {
    PGconn* conn = PQconnectdb(server_.c_str());
    PQclear(PQexec(conn, sql.c_str()));
    PQfinish(conn);
  }
  std::string server_;
  std::string name_;
  std::string location_;
};

// Runs `dags test dag_id` in a fresh data dir holding `dag_text`; `inspect` sees the data dir
// before it is removed.
RunStats DagsTest(const Options& o, const std::string& dag_id, const std::string& dag_text,
                  int tasks, const std::function<void(const std::string&)>& inspect = nullptr) {
  RunStats st;
  TempDir data("spbench-e2e");
  BenchStore where(data.path());
  WriteTextFile(data.path() + "/dags/" + dag_id + ".yaml", dag_text);
  Finished f = RunToEnd({o.sparkplane, "--data-dir", data.path(), "--store", where.location(),
                         "--json", "dags", "test", dag_id},
                        data.path() + "/test.out", data.path() + "/test.err");
  st.wall_ms = f.wall_ms;
  st.cpu_ms = f.cpu_ms;
  if (f.exit_code != 0) {
    st.error =
        "dags test exited " + std::to_string(f.exit_code) + ": " + Tail(data.path() + "/test.err");
    return st;
  }
  auto opened = store::OpenStore(where.location());
  if (!opened.ok()) {
    st.error = opened.status().ToString();
    return st;
  }
  store::RunFilter filter;
  filter.dag_id = dag_id;
  auto runs = (*opened)->ListRuns(filter);
  if (!runs.ok() || runs->size() != 1 || !(*runs)[0].started_at || !(*runs)[0].ended_at) {
    st.error = "expected one finished run in the store";
    return st;
  }
  const store::DagRun& run = (*runs)[0];
  st.run_ms = static_cast<double>((*run.ended_at - *run.started_at).count());
  auto tis = (*opened)->ListTaskInstances(run.id);
  if (tis.ok()) st.tis = *tis;
  for (const auto& ti : st.tis) st.tasks_ok += ti.state == store::TaskState::kSuccess;
  if (st.tasks_ok != tasks) {
    st.error = std::to_string(st.tasks_ok) + " of " + std::to_string(tasks) + " tasks succeeded";
    return st;
  }
  if (inspect) inspect(data.path());
  st.ok = true;
  return st;
}

// `goal`: tasks/s the row must reach; `cpu_goal_ms` > 0 adds a row for the CPU per task.
void Throughput(const Options& o, Report& rep, const std::string& label, const std::string& dag_id,
                const std::string& text, int tasks, double goal, double cpu_goal_ms = 0) {
  std::fprintf(stderr, "%s ...\n", label.c_str());
  std::vector<double> per_s, wall_per_s, run_ms, wall_ms, cpu_ms;
  std::string load = LoadAvg();
  for (int r = 0; r < o.repeat; ++r) {
    RunStats st = DagsTest(o, dag_id, text, tasks);
    if (!st.ok) return rep.Error(label, st.error);
    run_ms.push_back(st.run_ms);
    wall_ms.push_back(st.wall_ms);
    cpu_ms.push_back(st.cpu_ms);
    per_s.push_back(tasks / (std::max(st.run_ms, 1.0) / 1000.0));
    wall_per_s.push_back(tasks / (st.wall_ms / 1000.0));
  }
  double med = Median(per_s);
  rep.Add({label, ">= " + Fmt(goal, 0) + " tasks/s",
           Fmt(med, 0) + " tasks/s (run " + Fmt(Median(run_ms), 0) + " ms; wall " +
               Fmt(Median(wall_ms), 0) + " ms = " + Fmt(Median(wall_per_s), 0) + " tasks/s; CPU " +
               Fmt(Median(cpu_ms) / tasks, 2) + " ms/task)",
           Verdict(med >= goal), load + " / " + LoadAvg()});
  if (cpu_goal_ms > 0) {
    double cpu = Median(cpu_ms) / tasks;
    rep.Add({label + ": CPU per task (sparkplane, supervisors and tasks)",
             "<= " + Fmt(cpu_goal_ms, 1) + " ms", Fmt(cpu, 2) + " ms", Verdict(cpu <= cpu_goal_ms),
             load + " / " + LoadAvg()});
  }
  rep.Detail(label + ": run ms [" + Join(run_ms, 0) + "], wall ms [" + Join(wall_ms, 0) +
             "], tasks/s [" + Join(per_s, 0) + "], CPU ms (user+sys, with tasks) [" +
             Join(cpu_ms, 0) + "]");
}

void Latency(const Options& o, Report& rep) {
  const std::string label = "chain of 200 sp_stamp tasks: task-to-task latency";
  std::fprintf(stderr, "%s ...\n", label.c_str());
  const int n = 200;
  std::vector<double> medians, p95s, maxes, store_medians;
  std::vector<double> all_gaps;
  std::string load = LoadAvg();
  for (int r = 0; r < o.repeat; ++r) {
    TempDir out("spbench-stamps");
    std::string file = out.path() + "/stamps.txt";
    std::string text = ChainDagText("latency_chain", n, [&](int i) {
      return "[\"" + o.stamp + "\", \"" + file + "\", \"" + TaskName(i) + "\"]";
    });
    RunStats st = DagsTest(o, "latency_chain", text, n);
    if (!st.ok) return rep.Error(label, st.error);
    std::map<std::string, std::pair<long long, long long>> by_task;
    std::istringstream in(ReadText(file));
    std::string tag;
    long long s = 0, e = 0;
    while (in >> tag >> s >> e) by_task[tag] = {s, e};
    if (static_cast<int>(by_task.size()) != n) {
      return rep.Error(label, "expected " + std::to_string(n) + " stamps, got " +
                                  std::to_string(by_task.size()));
    }
    std::vector<double> gaps;
    for (int i = 0; i + 1 < n; ++i) {
      gaps.push_back((by_task[TaskName(i + 1)].first - by_task[TaskName(i)].second) / 1e6);
    }
    all_gaps.insert(all_gaps.end(), gaps.begin(), gaps.end());
    medians.push_back(Median(gaps));
    p95s.push_back(Percentile(gaps, 0.95));
    maxes.push_back(Percentile(gaps, 1.0));
    // The scheduler's own view (ms precision): ended_at of i (TaskFinished decided) to
    // started_at of i+1 (handle committed, just before the gate opens).
    std::map<std::string, const store::TaskInstance*> tis;
    for (const auto& ti : st.tis) tis[ti.task_id] = &ti;
    std::vector<double> store_gaps;
    for (int i = 0; i + 1 < n; ++i) {
      const auto* a = tis[TaskName(i)];
      const auto* b = tis[TaskName(i + 1)];
      if (a && b && a->ended_at && b->started_at) {
        store_gaps.push_back(static_cast<double>((*b->started_at - *a->ended_at).count()));
      }
    }
    store_medians.push_back(Median(store_gaps));
  }
  double med = Median(medians);
  rep.Add({"task-to-task latency, median (chain of 200)", "<= 1.5 ms, p95 <= 3 ms",
           Fmt(med, 2) + " ms (p95 " + Fmt(Median(p95s), 2) + " ms, max " + Fmt(Median(maxes), 1) +
               " ms)",
           Verdict(med <= 1.5 && Median(p95s) <= 3.0), load + " / " + LoadAvg()});
  rep.Detail(label + ": per-repeat median ms [" + Join(medians, 2) + "], p95 ms [" + Join(p95s, 2) +
             "], max ms [" + Join(maxes, 1) + "]; all " + std::to_string(all_gaps.size()) +
             " gaps: p50 " + Fmt(Percentile(all_gaps, 0.5), 2) + " p90 " +
             Fmt(Percentile(all_gaps, 0.9), 2) + " p99 " + Fmt(Percentile(all_gaps, 0.99), 2) +
             " ms; store view (TaskFinished decided -> next "
             "handle committed) median ms [" +
             Join(store_medians, 0) + "]");
}

// ---- dags validate ---------------------------------------------------------------------------

void Validate(const Options& o, Report& rep) {
  const std::string label = "dags validate: 1,000 DAG files of 10 tasks";
  std::fprintf(stderr, "%s ...\n", label.c_str());
  TempDir work("spbench-validate");
  std::string dir = work.path() + "/dags";
  WriteTypicalDags(dir, 1000, 10);
  std::vector<double> wall, cpu;
  std::string load = LoadAvg();
  for (int r = 0; r < o.repeat; ++r) {
    Finished f = RunToEnd({o.sparkplane, "--data-dir", work.path(), "dags", "validate", dir},
                          work.path() + "/out", work.path() + "/err");
    if (f.exit_code != 0) {
      return rep.Error(label, "exit " + std::to_string(f.exit_code) + ": " +
                                  Tail(work.path() + "/out") + Tail(work.path() + "/err"));
    }
    wall.push_back(f.wall_ms);
    cpu.push_back(f.cpu_ms);
  }
  double med = Median(wall);
  rep.Add({"1,000 DAG files parsed + validated (`dags validate`)", "<= 500 ms",
           Fmt(med, 0) + " ms (CPU " + Fmt(Median(cpu), 0) + " ms)", Verdict(med <= 500),
           load + " / " + LoadAvg()});
  rep.Detail(label + ": wall ms [" + Join(wall, 0) + "], CPU ms [" + Join(cpu, 0) +
             "]; output: " + ReadText(work.path() + "/out"));
}

// ---- server ----------------------------------------------------------------------------------

// Sends one JSON line to the control socket and reads one line back; nullopt when nobody answers.
std::optional<std::string> Request(const std::string& socket_path, const std::string& line) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", socket_path.c_str());
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return std::nullopt;
  }
  std::string req = line + "\n";
  if (::write(fd, req.data(), req.size()) != static_cast<ssize_t>(req.size())) {
    ::close(fd);
    return std::nullopt;
  }
  std::string resp;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    resp.append(buf, static_cast<size_t>(n));
    if (resp.find('\n') != std::string::npos) break;
  }
  ::close(fd);
  if (resp.empty()) return std::nullopt;
  return resp;
}

// A running `sparkplane server`, stopped (SIGTERM, then SIGKILL to its group) when destroyed.
class Server {
 public:
  Server(const Options& o, const std::string& data, const std::string& log)
      : socket_(data + "/history/scheduler/sparkplane.sock") {
    t0_ = Clock::now();
    pid_ = Spawn({o.sparkplane, "--data-dir", data, "server", "--http-address", "off"},
                 log + ".out", log);
  }
  ~Server() { Stop(); }
  pid_t pid() const { return pid_; }
  const std::string& socket() const { return socket_; }

  // Milliseconds from fork to the first answered ping; -1 on timeout or exit.
  double WaitReady(double timeout_ms = 20000) {
    while (MsSince(t0_) < timeout_ms) {
      std::optional<std::string> r = Request(socket_, "{\"op\":\"ping\"}");
      if (r && r->find("\"ok\":true") != std::string::npos) return MsSince(t0_);
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return -1;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    return -1;
  }

  void Stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 500; ++i) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        ::kill(-pid_, SIGKILL);  // leftovers of its group, if any
        pid_ = -1;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ::kill(-pid_, SIGKILL);
    Wait(pid_);
    pid_ = -1;
  }

 private:
  std::string socket_;
  Clock::time_point t0_;
  pid_t pid_ = -1;
};

// "ready in 12.3 ms" from the server's log, or -1.
// The server's own "ready in X ms" (written once its DAG folder is loaded, which may be after
// the socket answers); waits up to 30 s for it.
double LoggedReadyMs(const std::string& log) {
  for (int i = 0; i < 3000; ++i) {
    std::string t = ReadText(log);
    size_t p = t.rfind("ready in ");
    if (p != std::string::npos) return std::strtod(t.c_str() + p + 9, nullptr);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return -1;
}

void ServerBenchmarks(const Options& o, Report& rep) {
  std::fprintf(stderr, "server ...\n");
  TempDir data("spbench-server");
  // A few DAGs: five scheduled ~10-task DAGs that are not due (start_date in the future), so an
  // idle server really is idle. The fan-out DAG is added later, for the throughput part.
  for (int i = 0; i < 5; ++i) {
    WriteTextFile(data.path() + "/dags/typical_" + std::to_string(i) + ".yaml",
                  TypicalDagText(i, 10, "2099-01-01"));
  }
  std::string log = data.path() + "/server.log";

  // Ready time: the first start creates the database; later starts open it.
  std::vector<double> ready, logged;
  std::string load = LoadAvg();
  for (int r = 0; r <= o.repeat; ++r) {
    Server s(o, data.path(), log);
    double ms = s.WaitReady();
    if (ms < 0) return rep.Error("server ready", "no answer to ping; log: " + Tail(log));
    ready.push_back(ms);
    logged.push_back(LoggedReadyMs(log));
  }
  std::vector<double> restarts(ready.begin() + 1, ready.end());
  rep.Add({"server ready, fresh data dir (exec -> ping answered)", "<= 100 ms",
           Fmt(ready[0], 1) + " ms (server log: ready in " + Fmt(logged[0], 1) + " ms)",
           Verdict(ready[0] <= 100), load});
  rep.Add({"server ready, restart (median)", "<= 100 ms",
           Fmt(Median(restarts), 1) + " ms (server log: " +
               Fmt(Median(std::vector<double>(logged.begin() + 1, logged.end())), 1) + " ms)",
           Verdict(Median(restarts) <= 100), load});
  rep.Detail("server ready ms (first = fresh) [" + Join(ready, 1) + "]; logged 'ready in' ms [" +
             Join(logged, 1) + "]");

  // Idle memory, then a fan-out through the server.
  Server s(o, data.path(), log);
  if (s.WaitReady() < 0) return rep.Error("server idle memory", "no answer; log: " + Tail(log));
  double idle_cpu0 = ProcCpuMs(s.pid());
  std::this_thread::sleep_for(std::chrono::seconds(5));  // a couple of DAG rescans
  double idle_cpu = ProcCpuMs(s.pid()) - idle_cpu0;
  double rss = ProcStatusMiB(s.pid(), "VmRSS"), hwm = ProcStatusMiB(s.pid(), "VmHWM");
  rep.Add({"idle server resident memory (5 DAGs of 10 tasks, 5 s after ready)", "<= 20 MB",
           Fmt(rss, 1) + " MiB VmRSS (VmHWM " + Fmt(hwm, 1) + " MiB; CPU while idle " +
               Fmt(idle_cpu / 5, 1) + " ms/s)",
           Verdict(rss <= 20), LoadAvg()});

  // The server picks the new file up at its next DAG folder rescan (every 2 s).
  WriteTextFile(data.path() + "/dags/fanout_1000.yaml",
                FanoutDagText("fanout_1000", 1000, "\"true\""));
  std::optional<std::string> resp;
  for (Clock::time_point w = Clock::now(); MsSince(w) < 30000;) {
    resp =
        Request(s.socket(), "{\"op\":\"trigger\",\"dag_id\":\"fanout_1000\",\"run_id\":\"bench\"}");
    if (resp && resp->find("\"ok\":true") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  load = LoadAvg();
  double cpu0 = ProcCpuMs(s.pid());
  Clock::time_point t0 = Clock::now();
  if (!resp || resp->find("\"ok\":true") == std::string::npos) {
    return rep.Error("server fan-out", "trigger refused: " + resp.value_or("no answer"));
  }
  auto opened = store::OpenSqliteStore(data.path() + "/history/scheduler/sparkplane.db");
  if (!opened.ok()) return rep.Error("server fan-out", opened.status().ToString());
  std::optional<store::DagRun> done;
  double peak_rss = 0;
  while (!done && MsSince(t0) < 600000) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    peak_rss = std::max(peak_rss, ProcStatusMiB(s.pid(), "VmRSS"));
    auto run = (*opened)->FindRun("fanout_1000", "bench");
    if (run.ok() && *run && store::IsTerminal((*run)->state)) done = **run;
  }
  double wall = MsSince(t0);
  double cpu = ProcCpuMs(s.pid()) - cpu0;
  if (!done || done->state != store::RunState::kSuccess || !done->started_at || !done->ended_at) {
    return rep.Error("server fan-out", "the run did not succeed; log: " + Tail(log));
  }
  double run_ms = static_cast<double>((*done->ended_at - *done->started_at).count());
  double per_s = 1001 / (std::max(run_ms, 1.0) / 1000.0);
  rep.Add({"server: triggered fan-out of 1+1,000 `true` tasks", ">= 1000 tasks/s",
           Fmt(per_s, 0) + " tasks/s (run " + Fmt(run_ms, 0) + " ms; trigger to seen done " +
               Fmt(wall, 0) + " ms; CPU " + Fmt(cpu / 1001, 2) + " ms/task)",
           Verdict(per_s >= 1000), load + " / " + LoadAvg()});
  rep.Add({"server memory after the fan-out", "-",
           Fmt(ProcStatusMiB(s.pid(), "VmRSS"), 1) + " MiB VmRSS (VmHWM " +
               Fmt(ProcStatusMiB(s.pid(), "VmHWM"), 1) + " MiB; sampled peak " + Fmt(peak_rss, 1) +
               " MiB)",
           "-", LoadAvg()});
}

// Startup parses every DAG file before the control socket opens, so ready time grows with the
// folder: the same measurement with the 1,000 files of the validate benchmark.
void ServerReadyManyDags(const Options& o, Report& rep) {
  std::fprintf(stderr, "server with 1,000 DAG files ...\n");
  TempDir data("spbench-server1k");
  for (int f = 0; f < 1000; ++f) {
    char name[40];
    std::snprintf(name, sizeof name, "/dags/dag_%04d.yaml", f);
    WriteTextFile(data.path() + name, TypicalDagText(f, 10, "2099-01-01"));
  }
  std::string log = data.path() + "/server.log";
  std::vector<double> ready, logged;
  std::string load = LoadAvg();
  for (int r = 0; r <= o.repeat; ++r) {
    Server s(o, data.path(), log);
    double ms = s.WaitReady();
    if (ms < 0) return rep.Error("server ready, 1,000 DAG files", "no answer; log: " + Tail(log));
    ready.push_back(ms);
    logged.push_back(LoggedReadyMs(log));
  }
  std::vector<double> restarts(ready.begin() + 1, ready.end());
  // The socket answers while the folder still loads; the log's "ready in" is the full load.
  rep.Add({"server answers ping after a restart, with 1,000 DAG files of 10 tasks (median)",
           "<= 50 ms",
           Fmt(Median(restarts), 1) + " ms (DAGs loaded, server log: " +
               Fmt(Median(std::vector<double>(logged.begin() + 1, logged.end())), 1) +
               " ms; fresh data dir " + Fmt(ready[0], 1) + " ms)",
           Verdict(Median(restarts) <= 50), load + " / " + LoadAvg()});
  rep.Detail("server ready with 1,000 DAG files, ms (first = fresh) [" + Join(ready, 1) +
             "]; logged 'ready in' ms [" + Join(logged, 1) + "]");
}

// ---- main ------------------------------------------------------------------------------------

int Main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--sparkplane") {
      o.sparkplane = next();
    } else if (a == "--stamp") {
      o.stamp = next();
    } else if (a == "--repeat") {
      o.repeat = std::max(1, std::atoi(next().c_str()));
    } else if (a == "--write-dags") {
      // Only writes the 1,000 files of the validate benchmark (for bench/run.sh's callgrind).
      std::string dir = next();
      if (dir.empty()) return Main(1, argv);
      WriteTypicalDags(dir, 1000, 10);
      return 0;
    } else if (a == "--only") {
      std::stringstream ss(next());
      std::string name;
      while (std::getline(ss, name, ',')) o.only.insert(name);
    } else {
      std::fprintf(stderr,
                   "usage: sp_bench_e2e --sparkplane BIN --stamp STAMP_BIN [--repeat N] "
                   "[--only fanout,chain,latency,validate,server]\n"
                   "       sp_bench_e2e --write-dags DIR   (the validate benchmark's files)\n");
      return 2;
    }
  }
  if (o.sparkplane.empty() || o.stamp.empty()) return Main(1, argv);
  o.sparkplane = fs::absolute(o.sparkplane).string();
  o.stamp = fs::absolute(o.stamp).string();
  // Defaults apply (parallelism 32 unless SPARKPLANE_PARALLELISM is set, which is reported).
  for (const char* v : {"SPARKPLANE_DATA_DIR", "SPARKPLANE_DAGS_FOLDER", "SPARKPLANE_CONFIG"}) {
    ::unsetenv(v);
  }

  Report rep;
  if (o.Wants("fanout")) {
    Throughput(o, rep, "`dags test`: fan-out 1+1,000, command `true` (via bash -c)", "fanout",
               FanoutDagText("fanout", 1000, "\"true\""), 1001, 1000);
    Throughput(o, rep, "`dags test`: fan-out 1+1,000, command [\"true\"] (no shell)", "fanout",
               FanoutDagText("fanout", 1000, "[\"true\"]"), 1001, 1000, 1.0);
  }
  if (o.Wants("chain")) {
    Throughput(o, rep, "`dags test`: chain of 200, command `true` (via bash -c)", "chain",
               ChainDagText("chain", 200, [](int) { return std::string("\"true\""); }), 200, 500);
    Throughput(o, rep, "`dags test`: chain of 200, command [\"true\"] (no shell)", "chain",
               ChainDagText("chain", 200, [](int) { return std::string("[\"true\"]"); }), 200, 500);
  }
  if (o.Wants("latency")) Latency(o, rep);
  if (o.Wants("validate")) Validate(o, rep);
  if (o.Wants("server")) ServerBenchmarks(o, rep);
  if (o.Wants("server")) ServerReadyManyDags(o, rep);

  const char* par = std::getenv("SPARKPLANE_PARALLELISM");
  const char* pg = std::getenv("SP_BENCH_PG");
  std::printf(
      "End to end (`%s`, parallelism %s, median of %d, store %s; load average 1/5/15 min at "
      "start / end of each)\n\n",
      o.sparkplane.c_str(), par ? par : "32 (default)", o.repeat,
      pg && *pg ? "PostgreSQL (a fresh database per run)" : "SQLite");
  std::printf("| Target | Goal | Measured | Result | Load avg |\n|---|---|---|---|---|\n");
  for (const Row& r : rep.rows) {
    std::printf("| %s | %s | %s | %s | %s |\n", r.target.c_str(), r.goal.c_str(),
                r.measured.c_str(), r.result.c_str(), r.load.c_str());
  }
  std::printf("\nRaw numbers:\n\n");
  for (const std::string& d : rep.details) std::printf("- %s\n", d.c_str());
  std::printf("\n");
  return rep.broken ? 1 : 0;
}

}  // namespace
}  // namespace sp::bench

int main(int argc, char** argv) {
  return sp::bench::Main(argc, argv);
}
