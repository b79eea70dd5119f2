// The Python program that reads an Airflow DAG file (airflow_to_sparkplane.py), compiled into the
// binary so `sparkplane import airflow` needs no repository at run time.
#pragma once

#include <string_view>

namespace sp::airflow_import {

// The script's source text. Generated at build time (embed_script.cmake).
std::string_view ImporterScript();

}  // namespace sp::airflow_import
