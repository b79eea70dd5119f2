// TaskThreads; see task_threads.h.
#include "operators/internal/task_threads.h"

#include <system_error>
#include <thread>

namespace sp::operators::internal {

TaskThreads::~TaskThreads() {
  WaitIdle();
}

void TaskThreads::WaitIdle() {
  std::unique_lock<std::mutex> lock(mu_);
  idle_.wait(lock, [this] { return running_ == 0; });
}

bool TaskThreads::Run(std::function<void()> work) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++running_;
  }
  try {
    std::thread([this, work = std::move(work)]() mutable {
      work();
      work = nullptr;  // release what the work captured before the owner may go away
      std::lock_guard<std::mutex> lock(mu_);
      --running_;
      idle_.notify_all();  // under the lock: the destructor cannot return before we unlock
    }).detach();
  } catch (const std::system_error&) {
    std::lock_guard<std::mutex> lock(mu_);
    --running_;
    idle_.notify_all();
    return false;
  }
  return true;
}

int TaskThreads::running() const {
  std::lock_guard<std::mutex> lock(mu_);
  return running_;
}

}  // namespace sp::operators::internal
