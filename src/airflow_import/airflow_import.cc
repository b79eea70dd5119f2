#include "airflow_import/airflow_import.h"

#include <algorithm>
#include <filesystem>
#include <regex>

#include "airflow_import/importer_script.h"
#include "airflow_import/yaml_writer.h"
#include "executor/process.h"

namespace sp::airflow_import {
namespace {

using Json = nlohmann::ordered_json;

constexpr std::string_view kMarker = "::sparkplane-import-result ";

std::string Tail(const std::string& s, size_t n) {
  return s.size() <= n ? s : "..." + s.substr(s.size() - n);
}

// The script's one result line, parsed; the boundary where its JSON becomes typed values.
Result<Json> ResultLine(const std::string& output, int exit_code, const std::string& python) {
  size_t at = output.rfind(std::string("\n") + std::string(kMarker));
  at = at == std::string::npos ? (output.rfind(kMarker, 0) == 0 ? 0 : std::string::npos) : at + 1;
  if (at == std::string::npos) {
    return FailedPreconditionError("the Airflow importer (run with " + python +
                                   ") ended with exit code " + std::to_string(exit_code) +
                                   " without a result; its output: " + Tail(output, 2000));
  }
  size_t end = output.find('\n', at);
  std::string line =
      output.substr(at + kMarker.size(),
                    end == std::string::npos ? std::string::npos : end - at - kMarker.size());
  Json j = Json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) {
    return InternalError("the Airflow importer printed a result that is not a JSON object");
  }
  return j;
}

int IntField(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_integer() ? it->get<int>() : 0;
}

std::string StringField(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

// "tasks[3].command" -> 3; -1 when the field is not inside a task.
int TaskIndex(const std::string& field) {
  static const std::regex kTask(R"(^tasks\[(\d+)\])");
  std::smatch m;
  if (!std::regex_search(field, m, kTask)) return -1;
  return std::stoi(m[1].str());
}

std::vector<std::string> HeaderLines(const std::string& path, const AirflowImport& result) {
  std::vector<std::string> h = {
      "Imported by `sparkplane import airflow` from " + path + " (Airflow DAG '" + result.dag_id +
          "').",
  };
  int errors = 0;
  for (const ImportProblem& p : result.problems) errors += p.severity == Severity::kError;
  if (errors > 0) {
    h.push_back("INCOMPLETE: " + std::to_string(errors) +
                " thing(s) were not converted. Tasks marked NOT CONVERTED are placeholders that "
                "fail until you edit them.");
  }
  for (Severity s : {Severity::kError, Severity::kNote}) {
    bool first = true;
    for (const ImportProblem& p : result.problems) {
      if (p.severity != s) continue;
      if (first) h.push_back(s == Severity::kError ? "Not converted:" : "Notes:");
      first = false;
      std::string text = p.location.ToString() + ": " + p.message;
      // Keep comment lines readable: the message on lines of at most ~96 characters.
      std::string line = "  ";
      for (size_t i = 0; i < text.size();) {
        size_t sp = text.find(' ', i);
        std::string word = text.substr(i, sp == std::string::npos ? std::string::npos : sp - i);
        if (line.size() + word.size() > 96 && line.size() > 4) {
          line.pop_back();  // the space after the last word
          h.push_back(line);
          line = "    ";
        }
        line += word + " ";
        if (sp == std::string::npos) break;
        i = sp + 1;
      }
      while (!line.empty() && line.back() == ' ') line.pop_back();
      h.push_back(line);
    }
  }
  return h;
}

}  // namespace

std::string ImportProblem::ToString() const {
  return location.ToString() + ": " + (severity == Severity::kError ? "error" : "note") + ": " +
         message;
}

bool AirflowImport::complete() const {
  return std::none_of(problems.begin(), problems.end(),
                      [](const ImportProblem& p) { return p.severity == Severity::kError; });
}

Result<AirflowImport> ImportAirflowDag(const std::string& path, const ImportOptions& options,
                                       const dag::TaskTypeChecker& checker) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return InvalidArgumentError(path + ": no such file");
  }
  Json opts = {{"dag_id", options.dag_id}, {"apps_dir", options.apps_dir}};
  // -I: isolated (no PYTHON* variables, no user site, no script or current dir on sys.path);
  // -S: no site module (no .pth file runs); -B: writes no bytecode. The DAG file is only parsed.
  std::vector<std::string> argv = {options.python, "-I", "-S", "-B", "-W", "ignore"};
  for (std::string& arg : ImporterArguments(path, opts.dump())) argv.push_back(std::move(arg));
  Result<executor::CommandOutput> run = executor::RunCommand(argv, options.timeout);
  if (!run.ok()) {
    return FailedPreconditionError("cannot run Python to read the Airflow file (" + options.python +
                                   "): " + std::string(run.status().message()) +
                                   "; set `python` in sparkplane.yaml or PYSPARK_PYTHON");
  }
  ASSIGN_OR_RETURN(Json out, ResultLine(run->output, run->exit_code, options.python));

  if (auto fatal = out.find("fatal"); fatal != out.end() && fatal->is_object()) {
    dag::SourceLocation loc{path, IntField(*fatal, "line"), IntField(*fatal, "column")};
    return InvalidArgumentError(loc.ToString() + ": " + StringField(*fatal, "message"));
  }
  auto dag_it = out.find("dag");
  if (dag_it == out.end() || !dag_it->is_object()) {
    return InternalError("the Airflow importer's result has no DAG");
  }
  const Json& dag = *dag_it;

  AirflowImport result;
  result.dag_id = StringField(dag, "id");
  if (auto problems = out.find("problems"); problems != out.end() && problems->is_array()) {
    for (const Json& p : *problems) {
      if (!p.is_object()) continue;
      result.problems.push_back(
          {{path, IntField(p, "line"), IntField(p, "column")},
           StringField(p, "severity") == "note" ? Severity::kNote : Severity::kError,
           StringField(p, "message")});
    }
  }
  YamlComments comments;
  std::vector<int> task_lines;  // parallel to dag.tasks
  if (auto tasks = out.find("tasks"); tasks != out.end() && tasks->is_array()) {
    for (const Json& t : *tasks) {
      if (!t.is_object()) continue;
      const std::string id = StringField(t, "id");
      const int line = IntField(t, "line");
      task_lines.push_back(line);
      std::vector<std::string>& lines = comments.tasks[id];
      lines.push_back(std::filesystem::path(path).filename().string() + ":" + std::to_string(line) +
                      ": " + StringField(t, "what"));
      if (auto c = t.find("comments"); c != t.end() && c->is_array()) {
        for (const Json& x : *c) {
          if (x.is_string()) lines.push_back(x.get<std::string>());
        }
      }
    }
  }
  if (auto tasks = dag.find("tasks"); tasks != dag.end() && tasks->is_array()) {
    result.task_count = static_cast<int>(tasks->size());
  }

  // The YAML must load with Sparkplane's own loader and task type checks; whatever it refuses
  // is an error of the import, located at the Airflow task it came from.
  std::string body = WriteDagYaml(dag, comments);
  dag::LoadedFile loaded = dag::LoadDagText(body, options.output_name, checker);
  for (const dag::DagError& e : loaded.errors) {
    int index = TaskIndex(e.field);
    int line = index >= 0 && index < static_cast<int>(task_lines.size()) ? task_lines[index] : 0;
    result.problems.push_back(
        {{path, line, 0}, Severity::kError, "the written DAG does not load: " + e.ToString()});
  }
  std::stable_sort(result.problems.begin(), result.problems.end(),
                   [](const ImportProblem& a, const ImportProblem& b) {
                     return a.location.line < b.location.line;
                   });
  comments.header = HeaderLines(path, result);
  result.yaml = WriteDagYaml(dag, comments);
  return result;
}

}  // namespace sp::airflow_import
