// RunIndex upkeep; see snapshot.h.
#include "scheduler/snapshot.h"

namespace sp::scheduler {

namespace {

bool Waits(store::TaskState s) {
  return s == store::TaskState::kQueued || s == store::TaskState::kRunning ||
         s == store::TaskState::kUpForRetry;
}

void Remove(RunIndex& index, int pos, store::TaskState s) {
  if (!store::IsTerminal(s)) --index.unfinished;
  if (s == store::TaskState::kScheduled) index.scheduled.erase(pos);
  if (Waits(s)) index.waiting.erase(pos);
}

void Add(RunIndex& index, int pos, store::TaskState s) {
  if (!store::IsTerminal(s)) ++index.unfinished;
  if (s == store::TaskState::kScheduled) index.scheduled.insert(pos);
  if (Waits(s)) index.waiting.insert(pos);
}

}  // namespace

int TaskPosition(const RunView& view, const std::string& task) {
  if (!view.dag) return -1;
  const dag::TaskSpec* t = view.dag->FindTask(task);
  return t == nullptr ? -1 : static_cast<int>(t - view.dag->tasks.data());
}

void IndexTransition(RunView* view, const std::string& task, std::optional<store::TaskState> from,
                     store::TaskState to) {
  int pos = TaskPosition(*view, task);
  if (pos < 0) return;
  if (from) Remove(view->index, pos, *from);
  Add(view->index, pos, to);
}

void IndexRun(RunView* view) {
  view->index = RunIndex{};
  for (const auto& [task, ti] : view->tis) IndexTransition(view, task, std::nullopt, ti.state);
}

}  // namespace sp::scheduler
