// Daemon JVM options and the lookup of Spark's class-data sharing archives; see jvm_archives.h.
#include "spark/jvm_archives.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <system_error>

namespace sp::spark {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kSparkCoreJar = "spark-core_";
// C1 only and the serial collector: each roughly halves a daemon's boot CPU on 2 CPUs.
constexpr char kDaemonFlags[] = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC";
// A stale archive is skipped by the JVM with a warning on stdout; that is not worth a line in
// every daemon log (scripts/build_spark_cds.sh reports it instead).
constexpr char kQuietCds[] = "-Xlog:cds=off -Xlog:cds+dynamic=off";

bool HasSpace(const std::string& s) {
  return std::any_of(s.begin(), s.end(),
                     [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; });
}

// "4.3.0" from jars/spark-core_2.13-4.3.0.jar.
std::string SparkVersion(const std::string& spark_home) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(fs::path(spark_home) / "jars", ec)) {
    std::string name = e.path().filename().string();
    if (name.rfind(kSparkCoreJar, 0) != 0 || e.path().extension() != ".jar") continue;
    std::string stem = e.path().stem().string();  // spark-core_2.13-4.3.0
    size_t dash = stem.rfind('-');
    if (dash == std::string::npos || dash + 1 >= stem.size()) continue;
    return stem.substr(dash + 1);
  }
  return "";
}

// JAVA_VERSION from <java_home>/release, e.g. 17.0.15.
std::string JavaVersion(const std::string& java_home) {
  std::ifstream in(fs::path(java_home) / "release");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("JAVA_VERSION=", 0) != 0) continue;
    std::string v = line.substr(13);
    v.erase(std::remove(v.begin(), v.end(), '"'), v.end());
    return v;
  }
  return "";
}

bool SafeKeyPart(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_' ||
           c == '+';
  });
}

std::map<std::string, std::string> ReadManifest(const fs::path& path) {
  std::map<std::string, std::string> out;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    size_t eq = line.find('=');
    if (eq != std::string::npos) out[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return out;
}

}  // namespace

std::string DefaultJvmArchiveRoot(const EnvLookup& env) {
  if (std::optional<std::string> xdg = env("XDG_CACHE_HOME"); xdg && xdg->front() == '/') {
    return *xdg + "/sparkplane/cds";
  }
  if (std::optional<std::string> home = env("HOME"); home && home->front() == '/') {
    return *home + "/.cache/sparkplane/cds";
  }
  return "";
}

std::string JvmArchiveKey(const std::string& spark_home, const std::string& java_home) {
  std::string spark = SparkVersion(spark_home);
  std::string java = JavaVersion(java_home);
  if (!SafeKeyPart(spark) || !SafeKeyPart(java)) return "";
  return "spark-" + spark + "_java-" + java;
}

DaemonJvmArchives FindDaemonJvmArchives(const std::string& root, const std::string& spark_home,
                                        const EnvLookup& env) {
  DaemonJvmArchives found;
  if (root.empty() || HasSpace(root)) return found;  // the opts are split on whitespace
  Result<std::string> java = FindJava(env);
  if (!java.ok()) return found;
  std::error_code ec;
  // spark-class runs `java` or $JAVA_HOME/bin/java; the release file is in the real home.
  fs::path java_home = fs::canonical(*java, ec).parent_path().parent_path();
  if (ec) return found;
  std::string key = JvmArchiveKey(spark_home, java_home.string());
  if (key.empty()) return found;
  fs::path dir = fs::path(root) / key;
  std::map<std::string, std::string> manifest = ReadManifest(dir / "manifest");
  fs::path home = fs::weakly_canonical(spark_home, ec);
  if (ec || manifest["spark_home"] != home.string()) return found;
  auto usable = [&](const std::string& file) -> std::string {
    fs::path path = dir / file;
    std::error_code size_ec;
    uintmax_t size = fs::file_size(path, size_ec);
    if (size_ec || manifest[file] != std::to_string(size)) return "";
    return path.string();
  };
  found.master = usable("master.jsa");
  found.worker = usable("worker.jsa");
  return found;
}

std::string DaemonJavaOpts(const std::string& archive) {
  std::string opts = kDaemonFlags;
  if (!archive.empty()) opts += std::string(" -XX:SharedArchiveFile=") + archive + " " + kQuietCds;
  return opts;
}

}  // namespace sp::spark
