// OrderedParallelFor: items are claimed from one atomic counter, so a thread that finishes early
// takes the next item (no static chunks: one slow item never holds up a chunk behind it), and
// the claimed indexes only grow, so every index below a claimed one has been claimed too.
#include "dag/internal/ordered_parallel_for.h"

#include <algorithm>
#include <atomic>
#include <climits>
#include <exception>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

namespace sp::dag::internal {

void OrderedParallelFor(int count, int threads, const std::function<void(int)>& work,
                        const std::function<void(int)>& done) {
  if (count <= 0) return;
  threads = std::min(threads, count);
  if (threads <= 1) {
    for (int i = 0; i < count; ++i) {
      work(i);
      if (done) done(i);
    }
    return;
  }

  std::atomic<int> next_item{0};
  std::atomic<bool> failed{false};
  std::mutex mu;
  std::vector<char> finished(count, 0);  // guarded by mu
  std::exception_ptr error;              // the lowest-index exception; guarded by mu
  int error_index = INT_MAX;             // guarded by mu

  // The next unclaimed item, or -1 when all are claimed or one has thrown.
  auto claim = [&] {
    if (failed.load(std::memory_order_relaxed)) return -1;
    const int i = next_item.fetch_add(1);
    return i < count ? i : -1;
  };
  auto run = [&](int i) {
    std::exception_ptr thrown;
    try {
      work(i);
    } catch (...) {
      thrown = std::current_exception();
    }
    std::lock_guard<std::mutex> lock(mu);
    if (!thrown) {
      finished[i] = 1;
    } else {
      failed = true;
      if (i < error_index) {
        error = thrown;
        error_index = i;
      }
    }
  };
  auto run_items = [&] {
    for (int i = claim(); i >= 0; i = claim()) run(i);
  };

  int delivered = 0;
  // Reports the finished prefix; the mutex orders each item's writes before its done().
  auto deliver_finished = [&] {
    if (!done) return;
    for (;;) {
      {
        std::lock_guard<std::mutex> lock(mu);
        if (delivered >= count || !finished[delivered]) return;
      }
      done(delivered++);
    }
  };

  {
    // Declared after the shared state, so the threads are joined before it goes away.
    std::vector<std::jthread> workers;
    workers.reserve(threads - 1);
    for (int t = 1; t < threads; ++t) {
      try {
        workers.emplace_back(run_items);
      } catch (const std::system_error&) {
        break;  // out of threads: the ones started, and this one, do the rest
      }
    }
    // The calling thread works too, reporting what has finished between its own items.
    try {
      for (int i = claim(); i >= 0; i = claim()) {
        run(i);
        deliver_finished();
      }
    } catch (...) {
      failed = true;  // done() threw: stop starting items, join, and let it propagate
      throw;
    }
  }  // joins the workers; what they were still running is reported below
  deliver_finished();
  if (error) std::rethrow_exception(error);
}

}  // namespace sp::dag::internal
