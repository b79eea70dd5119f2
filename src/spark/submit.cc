// spark-submit argv/env building and app-id extraction; see submit.h.
#include "spark/submit.h"

#include <cctype>
#include <cstdio>

#include "spark/internal/private_file.h"

namespace sp::spark {
namespace {

constexpr std::string_view kConnectedMarker = "Connected to Spark cluster with app ID ";

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

bool HasSpace(std::string_view s) {
  for (char c : s) {
    if (std::isspace(static_cast<unsigned char>(c))) return true;
  }
  return false;
}

bool IsPythonApp(std::string_view application) {
  return EndsWith(application, ".py");
}

std::string Quote(std::string_view s) {
  return "'" + std::string(s) + "'";
}

Status ValidateMaster(std::string_view master) {
  if (master.empty()) {
    return InvalidArgumentError("master is required (e.g. spark://127.0.0.1:7077 or local[2])");
  }
  bool known = StartsWith(master, "spark://") || master == "local" ||
               StartsWith(master, "local[") || StartsWith(master, "k8s://") || master == "yarn";
  if (!known || HasSpace(master)) {
    return InvalidArgumentError("master " + Quote(master) +
                                ": expected spark://HOST:PORT, local, local[N], k8s://URL or yarn");
  }
  return OkStatus();
}

Status ValidateList(const char* field, const std::vector<std::string>& items) {
  for (size_t i = 0; i < items.size(); ++i) {
    const std::string& item = items[i];
    std::string where = std::string(field) + "[" + std::to_string(i) + "]";
    if (item.empty()) return InvalidArgumentError(where + " is empty");
    if (item.find(',') != std::string::npos) {
      return InvalidArgumentError(where + " " + Quote(item) +
                                  " contains ',' (spark-submit splits these lists on commas)");
    }
  }
  return OkStatus();
}

Status ValidatePackages(const std::vector<std::string>& packages) {
  RETURN_IF_ERROR(ValidateList("packages", packages));
  for (size_t i = 0; i < packages.size(); ++i) {
    const std::string& p = packages[i];
    size_t a = p.find(':');
    size_t b = a == std::string::npos ? a : p.find(':', a + 1);
    bool ok = a != std::string::npos && b != std::string::npos && a > 0 && b > a + 1 &&
              b + 1 < p.size() && p.find(':', b + 1) == std::string::npos && !HasSpace(p);
    if (!ok) {
      return InvalidArgumentError("packages[" + std::to_string(i) + "] " + Quote(p) +
                                  ": expected Maven coordinates groupId:artifactId:version");
    }
  }
  return OkStatus();
}

Status ValidateCores(const char* field, const std::optional<int>& cores) {
  if (cores && *cores <= 0) {
    return InvalidArgumentError(std::string(field) + " must be a positive integer, got " +
                                std::to_string(*cores));
  }
  return OkStatus();
}

Status ValidateMemory(const char* field, const std::string& value) {
  if (!value.empty() && !IsValidMemorySize(value)) {
    return InvalidArgumentError(std::string(field) + " " + Quote(value) +
                                ": expected an integer with an optional unit, like 512m or 2g");
  }
  return OkStatus();
}

Status ValidateConfKey(const std::string& key) {
  if (key.empty()) return InvalidArgumentError("conf has an empty key");
  if (HasSpace(key) || key.find('=') != std::string::npos) {
    return InvalidArgumentError("conf key " + Quote(key) + " must not contain '=' or spaces");
  }
  if (!StartsWith(key, "spark.") || key.size() == 6) {
    std::string hint = StartsWith(key, "spark") ? "" : " (did you mean \"spark." + key + "\"?)";
    return InvalidArgumentError("conf key " + Quote(key) +
                                " must start with \"spark.\"; spark-submit ignores other keys" +
                                hint);
  }
  return OkStatus();
}

Status ValidatePath(const char* field, const std::string& path) {
  if (!path.empty() && path.front() != '/') {
    return InvalidArgumentError(std::string(field) + " " + Quote(path) +
                                " must be an absolute path");
  }
  return OkStatus();
}

// A first-class field and the equivalent --conf key may not both be set.
Status CheckNoDuplicate(const SubmitSpec& spec, bool field_set, const char* field,
                        const char* key) {
  if (field_set && spec.conf.count(key) != 0) {
    return InvalidArgumentError(std::string(field) + " and conf " + key +
                                " are both set; keep one");
  }
  return OkStatus();
}

void AppendList(std::vector<std::string>& argv, const char* flag,
                const std::vector<std::string>& items) {
  if (items.empty()) return;
  std::string joined;
  for (const std::string& item : items) {
    if (!joined.empty()) joined += ',';
    joined += item;
  }
  argv.push_back(flag);
  argv.push_back(joined);
}

bool AnyKeyWithPrefix(const std::map<std::string, std::string>& conf, std::string_view prefix) {
  auto it = conf.lower_bound(std::string(prefix));
  return it != conf.end() && StartsWith(it->first, prefix);
}

enum class PropertyPart { kKey, kValue };

// One key or value in java.util.Properties syntax (Properties.load reads it back unchanged).
std::string EscapeProperty(std::string_view s, PropertyPart part) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    switch (c) {
      case '\\':
        out += "\\\\";
        continue;
      case '\t':
        out += "\\t";
        continue;
      case '\n':
        out += "\\n";
        continue;
      case '\r':
        out += "\\r";
        continue;
      case '\f':
        out += "\\f";
        continue;
      default:
        break;
    }
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
      out += buf;
      continue;
    }
    const bool key_special = c == '=' || c == ':' || c == '#' || c == '!' || c == ' ';
    if ((part == PropertyPart::kKey && key_special) ||
        (part == PropertyPart::kValue && c == ' ' && i == 0)) {
      out += '\\';
    }
    out += c;
  }
  return out;
}

bool IsDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

bool IsIdChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.';
}

}  // namespace

Result<DeployMode> ParseDeployMode(std::string_view s) {
  if (s.empty() || s == "client") return DeployMode::kClient;
  if (s == "cluster") return DeployMode::kCluster;
  return InvalidArgumentError("deploy_mode " + Quote(s) + ": expected \"client\" or \"cluster\"");
}

bool IsValidMemorySize(std::string_view s) {
  size_t digits = 0;
  while (digits < s.size() && std::isdigit(static_cast<unsigned char>(s[digits]))) ++digits;
  if (digits == 0 || s[0] == '0') return false;
  std::string unit;
  for (char c : s.substr(digits))
    unit += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (unit.empty() || unit == "b") return true;
  if (unit.size() > 2) return false;
  if (std::string_view("kmgtp").find(unit[0]) == std::string_view::npos) return false;
  return unit.size() == 1 || unit[1] == 'b';
}

bool IsLoopbackMaster(std::string_view master) {
  if (master == "local" || StartsWith(master, "local[")) return true;
  for (std::string_view host : {"spark://127.0.0.1:", "spark://localhost:", "spark://[::1]:"}) {
    if (StartsWith(master, host)) return true;
  }
  return false;
}

Result<SubmitCommand> BuildSubmitCommand(const SubmitSpec& spec, const std::string& spark_home) {
  if (spark_home.empty()) {
    return FailedPreconditionError("Spark not found: set SPARK_HOME or run scripts/setup.sh");
  }
  RETURN_IF_ERROR(ValidateMaster(spec.master));
  if (spec.application.empty()) {
    return InvalidArgumentError("application is required (a .py file or a .jar)");
  }
  ASSIGN_OR_RETURN(DeployMode mode, ParseDeployMode(spec.deploy_mode));
  const bool python_app = IsPythonApp(spec.application);
  if (python_app && !spec.java_class.empty()) {
    return InvalidArgumentError("java_class " + Quote(spec.java_class) +
                                " is for JVM applications; application " + Quote(spec.application) +
                                " is a Python file");
  }
  if (mode == DeployMode::kCluster) {
    if (spec.master == "local" || StartsWith(spec.master, "local[")) {
      return InvalidArgumentError("deploy_mode cluster does not work with master " +
                                  Quote(spec.master) + "; use client");
    }
    if (python_app && StartsWith(spec.master, "spark://")) {
      return InvalidArgumentError(
          "deploy_mode cluster is not supported for Python applications on a standalone "
          "master (Spark refuses it); use client");
    }
  }
  RETURN_IF_ERROR(ValidateList("py_files", spec.py_files));
  RETURN_IF_ERROR(ValidateList("jars", spec.jars));
  RETURN_IF_ERROR(ValidateList("files", spec.files));
  RETURN_IF_ERROR(ValidateList("archives", spec.archives));
  RETURN_IF_ERROR(ValidatePackages(spec.packages));
  RETURN_IF_ERROR(ValidateMemory("driver_memory", spec.driver_memory));
  RETURN_IF_ERROR(ValidateMemory("executor_memory", spec.executor_memory));
  RETURN_IF_ERROR(ValidateCores("driver_cores", spec.driver_cores));
  RETURN_IF_ERROR(ValidateCores("executor_cores", spec.executor_cores));
  RETURN_IF_ERROR(ValidateCores("total_executor_cores", spec.total_executor_cores));
  RETURN_IF_ERROR(ValidatePath("event_log_dir", spec.event_log_dir));
  RETURN_IF_ERROR(ValidatePath("local_dir", spec.local_dir));
  if (spec.properties_file.empty()) {
    return InvalidArgumentError(
        "properties_file is required: every Spark setting goes to spark-submit through it "
        "(never on the command line)");
  }
  RETURN_IF_ERROR(ValidatePath("properties_file", spec.properties_file));
  for (const auto& [key, value] : spec.conf) RETURN_IF_ERROR(ValidateConfKey(key));
  RETURN_IF_ERROR(
      CheckNoDuplicate(spec, !spec.driver_memory.empty(), "driver_memory", "spark.driver.memory"));
  RETURN_IF_ERROR(CheckNoDuplicate(spec, !spec.executor_memory.empty(), "executor_memory",
                                   "spark.executor.memory"));
  RETURN_IF_ERROR(
      CheckNoDuplicate(spec, spec.driver_cores.has_value(), "driver_cores", "spark.driver.cores"));
  RETURN_IF_ERROR(CheckNoDuplicate(spec, spec.executor_cores.has_value(), "executor_cores",
                                   "spark.executor.cores"));
  RETURN_IF_ERROR(CheckNoDuplicate(spec, spec.total_executor_cores.has_value(),
                                   "total_executor_cores", "spark.cores.max"));
  RETURN_IF_ERROR(CheckNoDuplicate(spec, !spec.name.empty(), "name", "spark.app.name"));
  RETURN_IF_ERROR(
      CheckNoDuplicate(spec, !spec.java_class.empty(), "java_class", "spark.app.mainClass"));

  // Defaults first, then the user's conf on top.
  std::map<std::string, std::string> conf;
  if (mode == DeployMode::kClient && IsLoopbackMaster(spec.master)) {
    conf["spark.driver.host"] = "127.0.0.1";
    conf["spark.driver.bindAddress"] = "127.0.0.1";
  }
  if (!AnyKeyWithPrefix(spec.conf, "spark.ui.")) conf["spark.ui.enabled"] = "false";
  if (!spec.event_log_dir.empty()) {
    conf["spark.eventLog.enabled"] = "true";
    conf["spark.eventLog.dir"] = "file:" + spec.event_log_dir;
  }
  if (!spec.local_dir.empty()) conf["spark.local.dir"] = spec.local_dir;
  if (python_app && !spec.python.empty()) {
    conf["spark.pyspark.python"] = spec.python;
    conf["spark.pyspark.driver.python"] = spec.python;
  }
  for (const auto& [key, value] : spec.conf) conf[key] = value;

  SubmitCommand command;
  std::vector<std::string>& argv = command.argv;
  argv = {spark_home + "/bin/spark-submit", "--master", spec.master, "--deploy-mode",
          mode == DeployMode::kClient ? "client" : "cluster"};
  if (!spec.name.empty()) argv.insert(argv.end(), {"--name", spec.name});
  if (!spec.java_class.empty()) argv.insert(argv.end(), {"--class", spec.java_class});
  argv.insert(argv.end(), {"--properties-file", spec.properties_file});
  AppendList(argv, "--jars", spec.jars);
  AppendList(argv, "--py-files", spec.py_files);
  AppendList(argv, "--files", spec.files);
  AppendList(argv, "--archives", spec.archives);
  AppendList(argv, "--packages", spec.packages);
  if (!spec.driver_memory.empty()) argv.insert(argv.end(), {"--driver-memory", spec.driver_memory});
  if (!spec.executor_memory.empty()) {
    argv.insert(argv.end(), {"--executor-memory", spec.executor_memory});
  }
  if (spec.driver_cores) {
    argv.insert(argv.end(), {"--driver-cores", std::to_string(*spec.driver_cores)});
  }
  if (spec.executor_cores) {
    argv.insert(argv.end(), {"--executor-cores", std::to_string(*spec.executor_cores)});
  }
  if (spec.total_executor_cores) {
    argv.insert(argv.end(), {"--total-executor-cores", std::to_string(*spec.total_executor_cores)});
  }
  argv.push_back(spec.application);
  argv.insert(argv.end(), spec.application_args.begin(), spec.application_args.end());
  command.properties = FormatSparkProperties(conf);
  command.conf = std::move(conf);
  return command;
}

Status WriteSubmitProperties(const std::string& path, const std::string& properties) {
  return internal::WritePrivateFileAtomically(path, properties);
}

std::string FormatSparkProperties(const std::map<std::string, std::string>& conf) {
  std::string out = "# Spark settings for one spark-submit, written by Sparkplane (mode 0600)\n";
  for (const auto& [key, value] : conf) {
    out += EscapeProperty(key, PropertyPart::kKey);
    out += '=';
    out += EscapeProperty(value, PropertyPart::kValue);
    out += '\n';
  }
  return out;
}

std::map<std::string, std::string> BuildSubmitEnv(const SubmitSpec& spec) {
  std::map<std::string, std::string> env;
  if (IsLoopbackMaster(spec.master)) env["SPARK_LOCAL_IP"] = "127.0.0.1";
  if (!spec.python.empty()) {
    env["PYSPARK_PYTHON"] = spec.python;
    env["PYSPARK_DRIVER_PYTHON"] = spec.python;
  }
  for (const auto& [key, value] : spec.env) env[key] = value;
  return env;
}

std::string AppIdPattern(std::string_view prefix) {
  return std::string(prefix) + "-%s-%04d";
}

std::optional<std::string> ExtractAppId(std::string_view line, std::string_view prefix) {
  if (size_t at = line.find(kConnectedMarker); at != std::string_view::npos) {
    std::string_view rest = line.substr(at + kConnectedMarker.size());
    size_t end = 0;
    while (end < rest.size() && !std::isspace(static_cast<unsigned char>(rest[end]))) ++end;
    if (end > 0) return std::string(rest.substr(0, end));
  }
  if (prefix.empty()) return std::nullopt;
  // <prefix>-<14 digits>-<4+ digits>, not inside a longer token.
  for (size_t at = line.find(prefix); at != std::string_view::npos;
       at = line.find(prefix, at + 1)) {
    if (at > 0 && IsIdChar(line[at - 1])) continue;
    std::string_view rest = line.substr(at + prefix.size());
    if (rest.size() < 1 + 14 + 1 + 4 || rest[0] != '-' || !IsDigits(rest.substr(1, 14)) ||
        rest[15] != '-') {
      continue;
    }
    size_t end = 16;
    while (end < rest.size() && std::isdigit(static_cast<unsigned char>(rest[end]))) ++end;
    if (end - 16 < 4) continue;
    if (end < rest.size() &&
        (std::isalpha(static_cast<unsigned char>(rest[end])) || rest[end] == '-')) {
      continue;
    }
    return std::string(line.substr(at, prefix.size() + end));
  }
  return std::nullopt;
}

}  // namespace sp::spark
