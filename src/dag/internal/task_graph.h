// Ordering tasks by their dependencies: a stable topological sort (ties broken by position in
// the file) that also finds the dependency cycles, for the loader's validation. Works on task
// indexes so it knows nothing about YAML or ids. Linear in tasks + edges (plus a heap log).
#pragma once

#include <vector>

namespace sp::dag::internal {

struct TaskOrder {
  // Every task that is neither in a cycle nor downstream of one, upstreams first; among tasks
  // that are ready at the same time, the one earlier in the file comes first.
  std::vector<int> order;
  // One cycle per group of tasks caught in cycles, in run order (upstream first), starting at
  // its earliest task and repeating it at the end: {a, b, c, a} for a -> b -> c -> a.
  std::vector<std::vector<int>> cycles;
};

// upstreams[i] = indexes of the distinct tasks task i depends on (each in [0, n), none == i).
TaskOrder SortTasks(const std::vector<std::vector<int>>& upstreams);

}  // namespace sp::dag::internal
