// `sparkplane import airflow`; see import_commands.h.
#include "cli/import_commands.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "airflow_import/airflow_import.h"
#include "operators/registry.h"

namespace sp::cli {
namespace fs = std::filesystem;

namespace {

// Writes `text` to a sibling temporary file, then renames it over `path`.
Status WriteWhole(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) return FailedPreconditionError("cannot write " + tmp);
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    return FailedPreconditionError("cannot write " + path + ": " + ec.message());
  }
  return OkStatus();
}

}  // namespace

int ImportAirflow(const GlobalOptions& g, const ImportAirflowArgs& args) {
  airflow_import::ImportOptions options;
  // The project's Python (the .venv scripts/setup.sh makes, `python` in sparkplane.yaml or
  // PYSPARK_PYTHON), else python3 from PATH: only its standard library is used.
  Result<Config> config = ResolveConfig(g.config);
  if (config.ok() && !config->python.empty()) options.python = config->python;
  options.dag_id = args.dag_id;
  options.apps_dir = args.apps_dir;
  options.output_name = args.output.empty() ? "<stdout>" : args.output;

  operators::Services services;  // validation only: the task types keep the pointer
  std::unique_ptr<operators::TaskTypeRegistry> registry = operators::BuildRegistry(&services);
  Result<airflow_import::AirflowImport> imported =
      airflow_import::ImportAirflowDag(args.file, options, registry->Checker());
  if (!imported.ok()) return Fail(imported.status());

  for (const airflow_import::ImportProblem& p : imported->problems) {
    std::fprintf(stderr, "%s\n", p.ToString().c_str());
  }
  if (args.output.empty()) {
    std::cout << imported->yaml << std::flush;
  } else if (Status s = WriteWhole(args.output, imported->yaml); !s.ok()) {
    return Fail(s);
  }
  const std::string where = args.output.empty() ? "stdout" : args.output;
  if (!imported->complete()) {
    int errors = 0;
    for (const auto& p : imported->problems) {
      errors += p.severity == airflow_import::Severity::kError;
    }
    std::fprintf(stderr,
                 "sparkplane: DAG '%s' written to %s INCOMPLETE: %d problem(s) above; tasks "
                 "marked NOT CONVERTED fail until edited\n",
                 imported->dag_id.c_str(), where.c_str(), errors);
    return 1;
  }
  std::fprintf(stderr, "sparkplane: DAG '%s' (%d tasks) written to %s\n", imported->dag_id.c_str(),
               imported->task_count, where.c_str());
  return 0;
}

}  // namespace sp::cli
