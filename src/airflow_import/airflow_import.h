// Importing an Airflow DAG file as a Sparkplane DAG (`sparkplane import airflow FILE.py`).
//
// The file is read statically: ImportAirflowDag runs the embedded importer script
// (importer_script.h) with the given Python as `python -I -S -B -c <script> FILE OPTIONS`, which
// only parses the file with Python's own `ast` module and prints what it means as JSON; nothing
// in the file is imported or executed (-I: no user site, no PYTHON* variables, not even the
// current directory on sys.path; -S: no site-packages, so no .pth file runs either). The script
// holds the whole Airflow-to-Sparkplane mapping (see its docstring and the README's "Import an
// Airflow DAG" section); this side writes the YAML (yaml_writer.h), loads it with the DAG loader
// and the caller's task type checks, and returns one report.
//
// What is not converted is never dropped: each such thing is an error-severity problem located in
// the Airflow file, and the task stands in the YAML as a placeholder bash task that fails with a
// message, with a NOT CONVERTED comment, so the DAG keeps its shape and loads. complete() says
// whether the result can run as the Airflow DAG did. Notes are differences worth knowing that
// lose nothing the DAG needs (an owner dropped, a path made relative to <data>/apps).
//
// Thread safety: no shared state; concurrent calls are fine.
#pragma once

#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "dag/dag.h"
#include "dag/loader.h"

namespace sp::airflow_import {

struct ImportOptions {
  std::string python = "python3";  // the interpreter that runs the importer script
  std::string dag_id;              // which DAG of a file that defines several ("" = the only one)
  // Paths under this directory (the reference design's application volume, mounted at /apps)
  // are written relative to <data>/apps, where Sparkplane resolves relative paths. "" = none.
  std::string apps_dir = "/apps";
  // How the written YAML file is named in the loader's messages and the header comment.
  std::string output_name = "imported.yaml";
  Millis timeout = Millis(60000);
};

enum class Severity { kError, kNote };

struct ImportProblem {
  dag::SourceLocation location;  // in the Airflow file
  Severity severity = Severity::kError;
  std::string message;
  // "dags/etl.py:12:5: error: ..."
  std::string ToString() const;
};

struct AirflowImport {
  std::string dag_id;
  std::string yaml;  // the Sparkplane DAG, with a header comment listing the problems
  int task_count = 0;
  std::vector<ImportProblem> problems;  // sorted by line; errors and notes
  // No error: every task and setting was converted and the YAML loads.
  bool complete() const;
};

// Reads the Airflow DAG file at `path`. An error Status when nothing could be imported: Python
// cannot be run (FailedPrecondition), the file cannot be read or is not valid Python, it defines
// no DAG, or several and options.dag_id names none of them (InvalidArgument, located
// "FILE:LINE:COL: ..."). Otherwise the DAG, complete or not.
Result<AirflowImport> ImportAirflowDag(const std::string& path, const ImportOptions& options,
                                       const dag::TaskTypeChecker& checker);

}  // namespace sp::airflow_import
