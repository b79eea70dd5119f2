// `sparkplane import airflow FILE.py [-o OUT.yaml] [--dag-id ID] [--apps-dir DIR]`: an Airflow
// DAG file read statically (never executed) and written as a Sparkplane DAG
// (airflow_import/airflow_import.h does the work; this parses the flags and prints).
//
// The YAML goes to OUT (written whole, then renamed) or stdout; the report goes to stderr, a
// "FILE:LINE:COL: error|note: ..." line per problem. Exit 0: every task and setting was
// converted and the DAG loads. Exit 1: the file could not be read as a DAG (nothing written), or
// something was not converted: the DAG is still written, with the report in its header and a
// placeholder task that fails with a message for each task not converted, so it loads, keeps the
// Airflow DAG's shape, and can be finished by hand.
#pragma once

#include <string>

#include "cli/commands.h"

namespace sp::cli {

struct ImportAirflowArgs {
  std::string file;
  std::string output;  // "" = stdout
  std::string dag_id;
  std::string apps_dir = "/apps";
};

int ImportAirflow(const GlobalOptions& g, const ImportAirflowArgs& args);

}  // namespace sp::cli
