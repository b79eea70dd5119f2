// TaskThreads: runs a task type's blocking work (cluster starts and teardowns, pre-launch checks,
// log scans) on threads of its own, because TaskType::Start, Cancel and Recover are called on the
// scheduler's loop thread and must not block it.
//
// The destructor waits until every piece of work has returned, so no thread outlives the task
// type whose members it uses. Owners request cancellation of long work (stop_source) before it
// runs, and declare their TaskThreads member last so it is destroyed first.
//
// Thread safety: Run may be called from any thread, including from work run here.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>

namespace sp::operators::internal {

class TaskThreads {
 public:
  TaskThreads() = default;
  ~TaskThreads();
  TaskThreads(const TaskThreads&) = delete;
  TaskThreads& operator=(const TaskThreads&) = delete;

  // Starts `work` on a new thread. Returns false when no thread could be started (then the
  // work did not run and the caller must finish the try itself).
  [[nodiscard]] bool Run(std::function<void()> work);

  // Blocks until no work runs (work started meanwhile is waited for too).
  void WaitIdle();

  // Work started and not yet returned.
  int running() const;

 private:
  mutable std::mutex mu_;
  std::condition_variable idle_;
  int running_ = 0;
};

}  // namespace sp::operators::internal
