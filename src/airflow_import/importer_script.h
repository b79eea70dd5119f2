// The Python program that reads an Airflow DAG file (src/airflow_import/*.py), compiled into the
// binary so `sparkplane import airflow` needs no repository at run time.
#pragma once

#include <span>
#include <string_view>

#include "common/embedded_file.h"

namespace sp::airflow_import {

// Its modules, by file name ("airflow_to_sparkplane.py"). Generated at build time
// (cmake/embed.cmake).
std::span<const EmbeddedFile> ImporterModules();

// The main module's source text.
std::string_view ImporterScript();

}  // namespace sp::airflow_import
