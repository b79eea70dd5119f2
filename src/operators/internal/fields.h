// FieldReader: typed reading of a task's type-specific YAML fields, shared by the Spark and
// connection task types. The same reader runs twice per task:
//   FieldPhase::kUnrendered  at DAG load (TaskType::Validate): a string holding "{{ ... }}" is a
//                            template whose value is not known yet; it is accepted wherever a
//                            scalar may go and checked after rendering.
//   FieldPhase::kRendered    at Start, on the rendered fields: every value must be well-formed.
// Problems are collected (never thrown: nlohmann's get<>() is only called after a type check)
// and turned into located DagErrors (Validate) or a one-line message (Start).
//
// Private to operators/. Values; not shared between threads.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "dag/dag.h"
#include "dag/loader.h"

namespace sp::operators::internal {

enum class FieldPhase { kUnrendered, kRendered };

// How a list field may also be written as one string.
enum class ListForm {
  kCommaSeparated,  // "a.zip,b.zip" is two items (spark-submit's own list syntax)
  kSingleItem,      // "--verbose" is one item
};

struct FieldProblem {
  std::string key;    // the top-level field it is about (for its source location)
  std::string field;  // "conf", "conf.spark.x", "py_files[1]"
  std::string message;
};

// True for a string that contains a template ("{{").
bool IsTemplated(const nlohmann::json& v);

// "number 5", "string \"abc\"" (shortened), for "expected ...; got ..." messages.
std::string Describe(const nlohmann::json& v);

class FieldReader {
 public:
  FieldReader(const nlohmann::json& fields, FieldPhase phase);

  FieldPhase phase() const { return phase_; }
  bool Has(const std::string& key) const;
  // Present and an unrendered template: its value is checked at Start.
  bool Deferred(const std::string& key) const;

  // Each getter returns the value when present and valid. It returns nullopt when the field is
  // absent, deferred (a template before rendering) or invalid (a problem is recorded).
  std::optional<std::string> String(const std::string& key);
  // A required string: a missing or empty value is a problem ("missing required field").
  std::optional<std::string> RequiredString(const std::string& key, const std::string& hint);
  // One of `allowed` (a deferred template is accepted before rendering).
  std::optional<std::string> Choice(const std::string& key,
                                    const std::vector<std::string>& allowed);
  // An integer in [min, max]; a string of digits is accepted too (rendered templates).
  std::optional<int64_t> Int(const std::string& key, int64_t min, int64_t max);
  // A list of scalars (numbers and booleans become their text), or one string (see ListForm).
  // Templated items are kept as they are before rendering.
  std::optional<std::vector<std::string>> StringList(const std::string& key, ListForm form);
  // A mapping of names to scalars (numbers and booleans become their text).
  std::optional<std::map<std::string, std::string>> StringMap(const std::string& key);
  // A duration: "30s", "5m", "1h30m", "250ms" or a number of seconds; must be positive.
  std::optional<Millis> Duration(const std::string& key);

  void Problem(const std::string& key, const std::string& field, const std::string& message);
  void Problem(const std::string& key, const std::string& message) { Problem(key, key, message); }

  const std::vector<FieldProblem>& problems() const { return problems_; }
  bool ok() const { return problems_.empty(); }
  // "field: message" of the first problem ("" when there is none).
  std::string FirstProblem() const;

 private:
  const nlohmann::json* Find(const std::string& key) const;
  // A scalar as text (numbers, booleans, strings); nullopt for null, lists and mappings.
  static std::optional<std::string> ScalarText(const nlohmann::json& v);

  const nlohmann::json& fields_;
  FieldPhase phase_;
  std::vector<FieldProblem> problems_;
};

// Appends `problems` as DagErrors located at their fields (bash_task.cc's convention: the
// field relative to the task, which the loader prefixes; the location of the field's key, else
// of the task).
void AppendDagErrors(const dag::TaskSpec& spec, const std::vector<FieldProblem>& problems,
                     std::vector<dag::DagError>* errors);

}  // namespace sp::operators::internal
