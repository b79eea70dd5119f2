// WatchWithDeadline; see watch_deadline.h.
#include "k8s/internal/watch_deadline.h"

#include <condition_variable>
#include <mutex>
#include <system_error>
#include <thread>

namespace sp::k8s::internal {

WatchOutcome WatchWithDeadline(KubeClient* client, const ResourceRef& ref, WatchOptions options,
                               Millis timeout, std::stop_token stop, const WatchHandler& handler) {
  WatchOutcome outcome;
  WatchCancel cancel;
  options.cancel = &cancel;
  std::mutex mu;
  std::condition_variable_any cv;
  bool finished = false;
  std::thread timer;
  try {
    timer = std::thread([&] {
      std::unique_lock<std::mutex> lock(mu);
      if (cv.wait_for(lock, stop, timeout, [&] { return finished; })) return;
      if (stop.stop_requested()) {
        outcome.stopped = true;
      } else {
        outcome.timed_out = true;
      }
      cancel.Cancel();
    });
  } catch (const std::system_error& e) {
    outcome.status = UnavailableError(std::string("cannot start a timer thread: ") + e.what());
    return outcome;
  }
  Status status = client->Watch(ref, options, handler);
  {
    std::lock_guard<std::mutex> lock(mu);
    finished = true;
  }
  cv.notify_all();
  timer.join();
  outcome.status = status;
  return outcome;
}

}  // namespace sp::k8s::internal
