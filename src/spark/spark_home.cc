// Locating Spark, python and java; see spark_home.h.
#include "spark/spark_home.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <system_error>
#include <vector>

namespace sp::spark {
namespace {

namespace fs = std::filesystem;

constexpr char kSparkMissing[] = "Spark not found: set SPARK_HOME or run scripts/setup.sh";

bool IsExecutableFile(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec) && ::access(p.c_str(), X_OK) == 0;
}

bool IsDir(const fs::path& p) {
  std::error_code ec;
  return fs::is_directory(p, ec);
}

std::string Absolute(const fs::path& p) {
  std::error_code ec;
  fs::path a = fs::absolute(p, ec);
  return (ec ? p : a.lexically_normal()).string();
}

// Empty when `dir` looks like a Spark installation, else what is missing.
std::string WhatIsMissing(const fs::path& dir) {
  if (!IsDir(dir)) return "no such directory";
  for (const char* f : {"bin/spark-submit", "bin/spark-class"}) {
    if (!IsExecutableFile(dir / f)) return std::string("no executable ") + f;
  }
  if (!IsDir(dir / "jars")) return "no jars/ directory";
  return "";
}

// Searches PATH for an executable named `name`.
std::optional<std::string> FindOnPath(const std::string& name, const EnvLookup& env) {
  std::optional<std::string> path = env("PATH");
  if (!path) return std::nullopt;
  std::stringstream ss(*path);
  std::string dir;
  while (std::getline(ss, dir, ':')) {
    if (dir.empty()) continue;
    fs::path candidate = fs::path(dir) / name;
    if (IsExecutableFile(candidate)) return Absolute(candidate);
  }
  return std::nullopt;
}

}  // namespace

EnvLookup ProcessEnv() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr || *v == '\0') return std::nullopt;
    return std::string(v);
  };
}

Result<std::string> FindSparkHome(const std::string& root, const EnvLookup& env) {
  if (std::optional<std::string> home = env("SPARK_HOME")) {
    std::string missing = WhatIsMissing(*home);
    if (!missing.empty()) {
      return FailedPreconditionError("SPARK_HOME=" + *home + " is not a Spark installation (" +
                                     missing + "); unset it or point it at one");
    }
    return Absolute(*home);
  }
  fs::path lib = fs::path(root.empty() ? "." : root) / ".venv" / "lib";
  std::vector<fs::path> candidates;
  std::error_code ec;
  if (IsDir(lib)) {
    for (const fs::directory_entry& e : fs::directory_iterator(lib, ec)) {
      std::string name = e.path().filename().string();
      if (name.rfind("python3", 0) == 0) candidates.push_back(e.path() / "site-packages/pyspark");
    }
  }
  std::sort(candidates.begin(), candidates.end());
  for (auto it = candidates.rbegin(); it != candidates.rend(); ++it) {  // newest python first
    if (WhatIsMissing(*it).empty()) return Absolute(*it);
  }
  return FailedPreconditionError(std::string(kSparkMissing) + " (looked in " + Absolute(lib) +
                                 "/python3*/site-packages/pyspark)");
}

Result<std::string> FindPython(const std::string& root, const std::string& spark_home,
                               const EnvLookup& env) {
  fs::path venv_python = fs::path(root.empty() ? "." : root) / ".venv/bin/python";
  if (IsExecutableFile(venv_python)) return Absolute(venv_python);
  // <venv>/lib/python3.X/site-packages/pyspark -> <venv>/bin/python
  fs::path home(spark_home);
  if (home.parent_path().filename() == "site-packages") {
    fs::path from_home =
        home.parent_path().parent_path().parent_path().parent_path() / "bin/python";
    if (IsExecutableFile(from_home)) return Absolute(from_home);
  }
  if (std::optional<std::string> p = env("PYSPARK_PYTHON")) {
    if (p->find('/') == std::string::npos) {
      if (std::optional<std::string> found = FindOnPath(*p, env)) return *found;
    } else if (IsExecutableFile(*p)) {
      return Absolute(*p);
    }
    return FailedPreconditionError("PYSPARK_PYTHON=" + *p + " is not an executable");
  }
  if (std::optional<std::string> found = FindOnPath("python3", env)) return *found;
  return FailedPreconditionError(
      "python not found for PySpark: run scripts/setup.sh (creates .venv) or set "
      "PYSPARK_PYTHON");
}

Result<std::string> FindJava(const EnvLookup& env) {
  if (std::optional<std::string> java_home = env("JAVA_HOME")) {
    fs::path java = fs::path(*java_home) / "bin/java";
    if (IsExecutableFile(java)) return Absolute(java);
    return FailedPreconditionError("Java not found: JAVA_HOME=" + *java_home +
                                   " has no bin/java; fix JAVA_HOME or unset it");
  }
  if (std::optional<std::string> found = FindOnPath("java", env)) return *found;
  return FailedPreconditionError(
      "Java not found: Spark needs a JDK 17+ (install openjdk-17-jre-headless or set "
      "JAVA_HOME)");
}

Result<SparkInstall> LocateSpark(const std::string& root, const EnvLookup& env) {
  SparkInstall install;
  ASSIGN_OR_RETURN(install.spark_home, FindSparkHome(root, env));
  ASSIGN_OR_RETURN(install.python, FindPython(root, install.spark_home, env));
  ASSIGN_OR_RETURN(install.java, FindJava(env));
  return install;
}

}  // namespace sp::spark
