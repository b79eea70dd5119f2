// SparkInstall: where Spark, the PySpark python and Java are on this machine.
//
// Lookup order:
//   spark_home  env SPARK_HOME, else <root>/.venv/lib/python3*/site-packages/pyspark (the
//               project venv made by scripts/setup.sh). Valid when bin/spark-submit,
//               bin/spark-class and jars/ exist.
//   python      <root>/.venv/bin/python, else the venv that contains spark_home (pip install),
//               else env PYSPARK_PYTHON, else python3 on PATH. Drivers and executors must use
//               the same minor version (facts §9), so callers pass this one to both.
//   java        env JAVA_HOME/bin/java, else java on PATH (Spark's scripts do the same).
// Missing Spark or Java is FailedPrecondition with a message saying how to fix it.
//
// The environment is read through an EnvLookup so tests can supply their own; ProcessEnv()
// reads the real one. Pure functions of their inputs and the file system; thread-safe.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "common/status.h"

namespace sp::spark {

// Returns the value of an environment variable, or nullopt when unset or empty.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;

// Reads the server's own environment (getenv).
EnvLookup ProcessEnv();

struct SparkInstall {
  std::string spark_home;  // absolute; has bin/spark-submit, bin/spark-class, jars/
  std::string python;      // absolute path of the interpreter for PySpark
  std::string java;        // absolute path of the java binary

  std::string SparkSubmit() const { return spark_home + "/bin/spark-submit"; }
  std::string SparkClass() const { return spark_home + "/bin/spark-class"; }
};

// Finds SPARK_HOME. `root` is the repo (or data) dir whose .venv is searched.
Result<std::string> FindSparkHome(const std::string& root, const EnvLookup& env = ProcessEnv());

// Finds the python for PySpark drivers and executors (see the lookup order above).
Result<std::string> FindPython(const std::string& root, const std::string& spark_home,
                               const EnvLookup& env = ProcessEnv());

// Finds java (JAVA_HOME, then PATH).
Result<std::string> FindJava(const EnvLookup& env = ProcessEnv());

// All three; the first missing piece is the error.
Result<SparkInstall> LocateSpark(const std::string& root, const EnvLookup& env = ProcessEnv());

}  // namespace sp::spark
