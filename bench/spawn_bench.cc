// The cost of starting one task process, which bounds tasks/s on a small machine. A try of the
// bash type is one ProcessSupervisor::Spawn (fork, child waits at the gate) + Release (exec);
// this compares it with posix_spawn (clone(CLONE_VM|CLONE_VFORK): no page tables copied, no
// copy-on-write faults afterwards) for a parent of two sizes: as small as this program, and
// with `ballast` MiB of touched heap, since fork() copies the parent's page tables and then
// makes every page the parent writes take a fault.
//
//   BM_Spawn_SupervisorGated/ballast_mib/touch   Spawn(gated) + Release + exit callback, /bin/true
//   BM_Spawn_PosixSpawn/ballast_mib/touch        posix_spawn + waitpid, /bin/true
// touch=1: the parent writes one byte in every ballast page while the child is alive (between
// Spawn and Release for the gated spawn), as the scheduler loop keeps working meanwhile; that
// is the worst case of copy-on-write, the real loop writes far fewer pages.
//
// Time is wall time per process (start to exit seen); counter cpu_us = CPU of this process and
// its reaped children per process (user + system), the load-independent number.
#include <benchmark/benchmark.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <condition_variable>
#include <cstring>
#include <mutex>
#include <vector>

#include "executor/process.h"

extern char** environ;

namespace sp::bench {
namespace {

double CpuSeconds() {
  rusage self{}, children{};
  getrusage(RUSAGE_SELF, &self);
  getrusage(RUSAGE_CHILDREN, &children);
  auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return s(self.ru_utime) + s(self.ru_stime) + s(children.ru_utime) + s(children.ru_stime);
}

// Heap the parent owns and keeps writing to, like a server's snapshot and caches.
class Ballast {
 public:
  explicit Ballast(size_t mib) : bytes_(mib << 20) {
    if (!bytes_.empty()) std::memset(bytes_.data(), 1, bytes_.size());
  }
  // Writes one byte per page: what a busy parent does between two spawns.
  void Touch() {
    for (size_t i = 0; i < bytes_.size(); i += 4096) bytes_[i]++;
  }

 private:
  std::vector<char> bytes_;
};

void BM_Spawn_SupervisorGated(benchmark::State& state) {
  Ballast ballast(static_cast<size_t>(state.range(0)));
  const bool touch = state.range(1) != 0;
  executor::ProcessSupervisor supervisor;
  std::mutex mu;
  std::condition_variable cv;
  double cpu0 = CpuSeconds();
  for (auto _ : state) {
    bool exited = false;
    executor::SpawnSpec spec;
    spec.argv = {"/bin/true"};
    spec.gated = true;
    auto handle = supervisor.Spawn(spec, [&](const executor::ExitInfo&) {
      std::lock_guard<std::mutex> lock(mu);
      exited = true;
      cv.notify_one();
    });
    if (!handle.ok()) {
      state.SkipWithError(handle.status().ToString().c_str());
      break;
    }
    if (touch) ballast.Touch();  // the loop keeps working while the child waits at its gate
    Status s = supervisor.Release(handle->pid);
    if (!s.ok()) {
      state.SkipWithError(s.ToString().c_str());
      break;
    }
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return exited; });
  }
  state.counters["cpu_us"] = (CpuSeconds() - cpu0) * 1e6 / static_cast<double>(state.iterations());
}

void BM_Spawn_PosixSpawn(benchmark::State& state) {
  Ballast ballast(static_cast<size_t>(state.range(0)));
  const bool touch = state.range(1) != 0;
  double cpu0 = CpuSeconds();
  char prog[] = "/bin/true";
  char* argv[] = {prog, nullptr};
  for (auto _ : state) {
    pid_t pid = 0;
    if (posix_spawn(&pid, prog, nullptr, nullptr, argv, environ) != 0) {
      state.SkipWithError("posix_spawn failed");
      break;
    }
    if (touch) ballast.Touch();
    int status = 0;
    waitpid(pid, &status, 0);
  }
  state.counters["cpu_us"] = (CpuSeconds() - cpu0) * 1e6 / static_cast<double>(state.iterations());
}

void SpawnArgs(benchmark::internal::Benchmark* b) {
  b->Args({0, 0})->Args({64, 0})->Args({64, 1})->ArgNames({"ballast_mib", "touch"});
  b->Unit(benchmark::kMicrosecond)->UseRealTime();
}
BENCHMARK(BM_Spawn_SupervisorGated)->Apply(SpawnArgs);
BENCHMARK(BM_Spawn_PosixSpawn)->Apply(SpawnArgs);

}  // namespace
}  // namespace sp::bench

BENCHMARK_MAIN();
