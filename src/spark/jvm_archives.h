// Daemon JVM options: what makes Spark's master and worker JVMs start faster, measured on this
// project's 2-CPU machine kind (docs/BENCHMARKS.md, "Local cluster start"):
//   - -XX:TieredStopAtLevel=1 -XX:+UseSerialGC, always: C1 only, no C2 compiler threads
//     competing for the CPUs during boot (the daemons do little steady-state work), and a
//     simpler collector for their 1 GiB heaps.
//   - -XX:SharedArchiveFile=<archive>, when a class-data sharing (AppCDS) archive of Spark's
//     classpath exists for this Spark and this Java: the daemons then map thousands of
//     already parsed and verified classes instead of loading them from the jars.
// Together they cut a master + 1 worker start from about 8.7 to 2.5 CPU-seconds.
//
// The archives are made once by scripts/build_spark_cds.sh (run by scripts/setup.sh), never
// by the server: JDK 17 has no -XX:+AutoCreateSharedArchive (JDK 19+), so a training master
// and worker run with -XX:ArchiveClassesAtExit and their archives are checked with -Xshare:on
// before they are published. Layout, one directory per Spark version and Java version:
//   <root>/spark-<spark version>_java-<java version>/master.jsa, worker.jsa, manifest
// where manifest has the lines "spark_home=<canonical path>", "master.jsa=<bytes>" and
// "worker.jsa=<bytes>" and is written last (the directory is renamed into place).
//
// An archive is used only when the manifest names this SPARK_HOME and the file has the recorded
// size: a truncated archive would crash the JVM rather than be ignored. Any other mismatch (a
// reinstalled jar, another JVM build) makes the JVM run without the archive; its CDS warnings
// are turned off (-Xlog:cds=off), so a stale archive costs speed, never a start.
// Pure functions of their inputs and the file system; thread-safe.
#pragma once

#include <string>

#include "spark/spark_home.h"

namespace sp::spark {

// $XDG_CACHE_HOME/sparkplane/cds, else $HOME/.cache/sparkplane/cds; "" when neither is set.
std::string DefaultJvmArchiveRoot(const EnvLookup& env = ProcessEnv());

// "spark-4.3.0_java-17.0.15" for a SPARK_HOME (its jars/spark-core_*-<version>.jar) and a
// Java home (its release file's JAVA_VERSION); "" when either cannot be read.
std::string JvmArchiveKey(const std::string& spark_home, const std::string& java_home);

struct DaemonJvmArchives {
  std::string master;  // absolute path of a usable archive, or "" (none)
  std::string worker;
};

// The archives under `root` usable by this SPARK_HOME with the java that `env` selects
// (JAVA_HOME, else PATH, as spark-class does). Empty fields when there are none.
DaemonJvmArchives FindDaemonJvmArchives(const std::string& root, const std::string& spark_home,
                                        const EnvLookup& env = ProcessEnv());

// The SPARK_DAEMON_JAVA_OPTS value for one daemon: the flags above, plus the archive's when
// `archive` is not empty.
std::string DaemonJavaOpts(const std::string& archive);

}  // namespace sp::spark
