// Stable topological sort and cycle discovery for DAG tasks; see task_graph.h.
#include "dag/internal/task_graph.h"

#include <algorithm>
#include <functional>
#include <queue>

namespace sp::dag::internal {

TaskOrder SortTasks(const std::vector<std::vector<int>>& upstreams) {
  const int n = static_cast<int>(upstreams.size());
  std::vector<std::vector<int>> downstreams(n);
  std::vector<int> waiting_on(n);
  for (int i = 0; i < n; ++i) {
    waiting_on[i] = static_cast<int>(upstreams[i].size());
    for (int u : upstreams[i]) downstreams[u].push_back(i);
  }

  TaskOrder result;
  result.order.reserve(n);
  std::priority_queue<int, std::vector<int>, std::greater<int>> ready;
  for (int i = 0; i < n; ++i) {
    if (waiting_on[i] == 0) ready.push(i);
  }
  std::vector<bool> placed(n, false);
  while (!ready.empty()) {
    const int i = ready.top();
    ready.pop();
    placed[i] = true;
    result.order.push_back(i);
    for (int d : downstreams[i]) {
      if (--waiting_on[d] == 0) ready.push(d);
    }
  }
  if (static_cast<int>(result.order.size()) == n) return result;

  // Every unplaced task waits on at least one unplaced upstream, so walking upstream through
  // unplaced tasks must come back to a task already on the walk (a new cycle) or reach a walk
  // from before (a cycle already reported).
  enum State : char { kUnvisited, kOnWalk, kDone };
  std::vector<State> state(n, kUnvisited);
  for (int start = 0; start < n; ++start) {
    if (placed[start] || state[start] != kUnvisited) continue;
    std::vector<int> walk;
    int cur = start;
    while (state[cur] == kUnvisited) {
      state[cur] = kOnWalk;
      walk.push_back(cur);
      int next = -1;
      for (int u : upstreams[cur]) {
        if (!placed[u] && (next == -1 || u < next)) next = u;
      }
      cur = next;
    }
    if (state[cur] == kOnWalk) {
      // walk = [..., cur, x1, x2, ..., xk] where each depends on the next and xk on cur.
      std::vector<int> cycle(std::find(walk.begin(), walk.end(), cur), walk.end());
      std::reverse(cycle.begin(), cycle.end());  // now upstream first
      std::rotate(cycle.begin(), std::min_element(cycle.begin(), cycle.end()), cycle.end());
      cycle.push_back(cycle.front());
      result.cycles.push_back(std::move(cycle));
    }
    for (int w : walk) state[w] = kDone;
  }
  return result;
}

}  // namespace sp::dag::internal
