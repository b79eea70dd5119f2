// Fuzzes DAG files: LoadDagText (YAML syntax, the DAG schema, cron, durations, dates, params,
// templates, the task graph) with the real task types' validation from the operators registry.
// A DAG that loads is then used as the scheduler would: its schedule is walked from its start
// date, its tasks are looked up and their retry delays computed.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "dag/loader.h"
#include "fuzz_util.h"
#include "operators/registry.h"

namespace {

const sp::dag::TaskTypeChecker& Checker() {
  // Validation reads only the task's spec; the services are never used at load time.
  static const sp::operators::Services* const kServices = new sp::operators::Services();
  static const sp::operators::TaskTypeRegistry* const kRegistry =
      sp::operators::BuildRegistry(kServices).release();
  static const sp::dag::TaskTypeChecker* const kChecker =
      new sp::dag::TaskTypeChecker(kRegistry->Checker());
  return *kChecker;
}

void Use(const sp::dag::Dag& dag, const std::string& text) {
  SP_FUZZ_CHECK(!dag.id.empty(), text);
  SP_FUZZ_CHECK(!dag.tasks.empty(), text);
  for (const sp::dag::TaskSpec& task : dag.tasks) {
    SP_FUZZ_CHECK(dag.FindTask(task.id) == &task, text);
    for (const std::string& down : dag.Downstream(task.id)) {
      SP_FUZZ_CHECK(dag.FindTask(down) != nullptr, text);
    }
    for (int failed_try = 1; failed_try <= std::min(task.retry.retries, 70) + 1; ++failed_try) {
      SP_FUZZ_CHECK(task.retry.DelayAfter(failed_try).count() >= 0, text);
    }
  }
  if (dag.schedule && dag.start_date) {
    if (auto interval = dag.schedule->IntervalStartingAtOrAfter(*dag.start_date)) {
      SP_FUZZ_CHECK(interval->start < interval->end, text);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  sp::dag::LoadedFile loaded = sp::dag::LoadDagText(text, "dags/fuzz.yaml", Checker());
  SP_FUZZ_CHECK((loaded.dag == nullptr) != loaded.errors.empty(), text);
  for (const sp::dag::DagError& error : loaded.errors) {
    SP_FUZZ_CHECK(!error.message.empty(), text);
    (void)error.ToString();
  }
  if (loaded.dag != nullptr) Use(*loaded.dag, text);
  return 0;
}
