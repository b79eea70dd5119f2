// OrderedParallelFor: independent work items run on a few short-lived threads, their completion
// reported in index order on the calling thread. DagFolder uses it to parse changed files in
// parallel while keeping everything it reports in path order.
//
// Threads are started and joined within the call (no pool outlives it, no global state); the
// calling thread is one of the `threads` and runs items too. `work` runs concurrently with itself
// on different indexes, so it must only write what belongs to its index; `done` runs on the
// calling thread only, never concurrently with itself.
#pragma once

#include <functional>

namespace sp::dag::internal {

// Runs work(0) .. work(count - 1) on up to `threads` threads (fewer when there are fewer items,
// or when the system refuses to start a thread) and calls done(i), when given, on the calling
// thread in index order: done(i) follows work(0) .. work(i), and may be called while later items
// still run. `threads` <= 1 runs everything on the calling thread, in order, without locks.
//
// If work(i) throws, no further items are started, items already started finish, done() is
// called for the items before the lowest index that threw, and that exception is rethrown here
// once every thread has been joined. If done() throws, no further items are started either, and
// its exception propagates once the threads are joined.
void OrderedParallelFor(int count, int threads, const std::function<void(int)>& work,
                        const std::function<void(int)>& done);

}  // namespace sp::dag::internal
