// Fuzzes DAG files: LoadDagText (YAML syntax, the DAG schema, cron, durations, dates, params,
// templates, the task graph) with the real task types' validation from the operators registry.
// A DAG that loads is then used as the scheduler would: its schedule is walked from its start
// date, its tasks are looked up and their retry delays computed.
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <sstream>
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

// Known issue, reported (tests/fuzz/crashes/dag_loader-yaml-comma-hang): yaml-cpp 0.7's LoadAll,
// which the loader calls, never returns on some invalid streams such as "," (jbeder/yaml-cpp#1040,
// fixed upstream by #1319): its parser reports a new empty document forever without consuming a
// token, and LoadAll allocates a node for each. Until the loader guards against it, inputs that
// would loop are skipped here so the fuzzer can look past it. Detected like LoadAll reads, with
// an event handler that allocates nothing and a bound no real stream reaches (a document takes
// at least one byte).
bool LoadAllWouldNotReturn(const std::string& text) {
  struct IgnoreEvents : YAML::EventHandler {
    void OnDocumentStart(const YAML::Mark&) override {}
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
    void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
    void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  const std::string&) override {}
    void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                         YAML::EmitterStyle::value) override {}
    void OnSequenceEnd() override {}
    void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                    YAML::EmitterStyle::value) override {}
    void OnMapEnd() override {}
  } events;
  std::istringstream in(text);
  YAML::Parser parser(in);
  try {
    for (size_t documents = 0; parser.HandleNextDocument(events);) {
      if (++documents > text.size() + 1) return true;
    }
  } catch (const YAML::Exception&) {
  }
  return false;
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
  if (LoadAllWouldNotReturn(text)) return -1;
  sp::dag::LoadedFile loaded = sp::dag::LoadDagText(text, "dags/fuzz.yaml", Checker());
  SP_FUZZ_CHECK((loaded.dag == nullptr) != loaded.errors.empty(), text);
  for (const sp::dag::DagError& error : loaded.errors) {
    SP_FUZZ_CHECK(!error.message.empty(), text);
    (void)error.ToString();
  }
  if (loaded.dag != nullptr) Use(*loaded.dag, text);
  return 0;
}
