// spark-submit command building: SubmitSpec -> argv (no shell) + a properties file with every
// Spark setting + environment, and reading the Spark application id from driver output.
//
// No setting's value is ever in argv: spark-submit gets `--properties-file <file>` and no
// `--conf`. Settings may hold secrets (spark.authenticate.secret, object-store keys, a
// connection's token), and argv is readable by every local user (`ps`, /proc/PID/cmdline).
// The file is written 0600 (WriteSubmitProperties) before spark-submit runs. Its form is
// java.util.Properties (keys and values escaped, so any value round-trips); like every
// properties file Spark reads, values have leading and trailing whitespace (except \r, \n)
// trimmed by spark-submit. With --properties-file, spark-submit does not read
// conf/spark-defaults.conf (the pip package has none).
//
// Defaults for a client-mode driver whose master is on loopback (spark://127.0.0.1:P,
// spark://localhost:P, local[...]), each only when the user's conf does not set the key
// (spark-facts §6, §11):
//   spark.driver.host=127.0.0.1, spark.driver.bindAddress=127.0.0.1  (else executors are told
//                                "localhost" or a non-loopback address)
//   spark.ui.enabled=false       unless any spark.ui.* key is set (4040 would walk between
//                                concurrent drivers)
// For every deploy mode:
//   spark.eventLog.enabled=true, spark.eventLog.dir=file:<event_log_dir>   when event_log_dir
//   spark.local.dir=<local_dir>                                           when local_dir
//   spark.pyspark.python / spark.pyspark.driver.python=<python>           when python and the
//                                                                         application is .py
// User `conf` always wins over these defaults. A first-class field (driver_memory, ...) and
// the same key in `conf` together are an error, so the effective value is never a surprise.
//
// Validation errors are InvalidArgument and name the field and the expected form.
// Pure functions except WriteSubmitProperties (which writes one file); all thread-safe.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace sp::spark {

enum class DeployMode { kClient, kCluster };

struct SubmitSpec {
  std::string master;                 // spark://host:port, local[*], k8s://..., yarn (required)
  std::string application;            // .py file, .jar, or a Spark-supported URL (required)
  std::string java_class;             // --class (JVM applications only)
  std::vector<std::string> py_files;  // --py-files (.zip/.egg/.py)
  std::vector<std::string> jars;      // --jars
  std::vector<std::string> files;     // --files
  std::vector<std::string> archives;  // --archives
  std::vector<std::string> packages;  // --packages (Maven coordinates group:artifact:version)
  std::map<std::string, std::string> conf;  // --conf key=value; keys start with "spark."
  std::string driver_memory;                // "512m", "2g" (optional)
  std::string executor_memory;
  std::optional<int> driver_cores;
  std::optional<int> executor_cores;
  std::optional<int> total_executor_cores;
  std::string name;                           // --name (the app's own appName wins in Spark)
  std::vector<std::string> application_args;  // after the application, passed verbatim
  std::string deploy_mode = "client";         // "client" or "cluster" ("" = client)
  // Environment for the spark-submit process on top of BuildSubmitEnv's defaults (not argv).
  std::map<std::string, std::string> env;
  std::string event_log_dir;  // absolute dir; must exist before submit (facts §11.6)
  std::string local_dir;      // absolute per-try dir for spark.local.dir (scratch, spills)
  // Required: the absolute path of the properties file that will hold every setting (a
  // private per-try path; BuildSubmitCommand only names it, WriteSubmitProperties writes it).
  std::string properties_file;
  std::string python;  // interpreter for PySpark driver + executors (optional)
};

// How to run spark-submit for a spec.
struct SubmitCommand {
  // `<spark_home>/bin/spark-submit` (argv[0]) and its options in a fixed order, with
  // "--properties-file <spec.properties_file>" and no --conf: equal specs give equal argv.
  std::vector<std::string> argv;
  // The effective settings: the defaults above, then the user's conf on top.
  std::map<std::string, std::string> conf;
  // `conf` as the properties file's text (FormatSparkProperties), sorted by key.
  std::string properties;
};

// Checks the spec (InvalidArgument naming the field; FailedPrecondition without spark_home)
// and builds the command. properties_file must be an absolute path.
Result<SubmitCommand> BuildSubmitCommand(const SubmitSpec& spec, const std::string& spark_home);

// Writes a command's `properties` to `path`, mode 0600, atomically (a temporary file renamed
// over it). Unavailable on I/O errors.
Status WriteSubmitProperties(const std::string& path, const std::string& properties);

// "key=value" lines in java.util.Properties syntax, sorted by key: backslash, '=', ':', '#', '!'
// and whitespace in keys, a leading space, backslash and control characters in values are escaped
// (\t \n \r \f, \uXXXX); other bytes (UTF-8 included) are written as they are, which is
// how Spark reads the file (UTF-8).
std::string FormatSparkProperties(const std::map<std::string, std::string>& conf);

// Environment overrides for the spark-submit child: SPARK_LOCAL_IP=127.0.0.1 for a loopback
// master, PYSPARK_PYTHON / PYSPARK_DRIVER_PYTHON when spec.python is set, then spec.env.
std::map<std::string, std::string> BuildSubmitEnv(const SubmitSpec& spec);

// Parses a deploy mode ("" means client). InvalidArgument otherwise.
Result<DeployMode> ParseDeployMode(std::string_view s);

// True for "2g", "512m", "1024" (bytes), "1.5g" is rejected: JVM sizes are integers with an
// optional unit k, m, g, t, p (optionally followed by b), case-insensitive.
bool IsValidMemorySize(std::string_view s);

// True when the master URL points at this machine's loopback (or is local mode).
bool IsLoopbackMaster(std::string_view master);

// The standalone master's `spark.deploy.appIdPattern` for ids "<prefix>-<14 digits>-<NNNN>".
// The default prefix "app" gives Spark's default pattern "app-%s-%04d".
std::string AppIdPattern(std::string_view prefix = "app");

// Finds a Spark application id in one line of driver output:
//   "... Connected to Spark cluster with app ID <id>" (StandaloneSchedulerBackend, stderr),
//   else the first "<prefix>-YYYYMMDDHHMMSS-NNNN" token (the appIdPattern form, as in
//   "Granted executor ID <id>/0").
// `prefix` follows AppIdPattern's; nullopt when the line has no id.
std::optional<std::string> ExtractAppId(std::string_view line, std::string_view prefix = "app");

}  // namespace sp::spark
