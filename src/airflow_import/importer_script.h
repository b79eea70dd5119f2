// The Python program that reads an Airflow DAG file, compiled into the binary so `sparkplane import
// airflow` needs no repository at run time: the modules src/airflow_import/*.py (airflow_reader
// reads the file, airflow_mapper maps it, airflow_to_sparkplane runs them) and the small loader
// that runs them from memory.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "common/embedded_file.h"

namespace sp::airflow_import {

// The modules, by file name ("airflow_reader.py"). Generated at build time (cmake/embed.cmake).
std::span<const EmbeddedFile> ImporterModules();

// What follows `python -I -S -B -W ignore` to import the DAG file at `path`: "-c", the loader,
// the number of modules, each module's name and source, then `path` and `options_json`. The
// loader makes the modules importable under their names (a finder first on sys.meta_path, so
// nothing on disk shadows them), removes them from sys.argv and calls airflow_to_sparkplane.main().
// Each module is one argument, so each must stay under the kernel's 128 KiB limit per argument.
std::vector<std::string> ImporterArguments(const std::string& path,
                                           const std::string& options_json);

}  // namespace sp::airflow_import
