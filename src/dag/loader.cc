// Loading DAG files: YAML text -> validated Dag, collecting every problem as a located DagError
// instead of stopping at the first. The flow is parse (common/yaml_document, libfyaml) -> read
// top-level fields and tasks -> resolve dependencies, order tasks, find cycles -> check template
// references against params and upstream tasks -> let the task types validate their own fields.
//
// An exception from a library (nlohmann's, an allocation) is caught here and becomes an error
// of the file.
#include "dag/loader.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <optional>
#include <set>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "common/file_text.h"
#include "common/nearest_name.h"
#include "common/yaml_document.h"
#include "dag/cron.h"
#include "dag/ids.h"
#include "dag/internal/civil_time.h"
#include "dag/internal/fingerprint.h"
#include "dag/internal/task_graph.h"
#include "dag/internal/yaml_json.h"
#include "dag/template.h"
#include "dag/timetable.h"
#include "dag/timezone.h"

namespace sp::dag {

std::string DagError::ToString() const {
  std::string out = location.ToString();
  if (!field.empty()) out += (out.empty() ? "" : ": ") + field;
  return out + (out.empty() ? "" : ": ") + message;
}

namespace {

using internal::DescribeNode;
using internal::TemplateSite;

constexpr std::array<std::string_view, 14> kTopLevelFields = {
    "id",   "description", "schedule",     "start_date", "end_date", "catchup",  "max_active_runs",
    "tags", "params",      "default_task", "tasks",      "cluster",  "timezone", "timetable"};
// The `cluster:` shorthand's generated tasks.
constexpr const char* kCreateClusterTask = "create_cluster";
constexpr const char* kDeleteClusterTask = "delete_cluster";
// Task fields every type has; the rest belong to the type.
constexpr std::array<std::string_view, 13> kCommonTaskFields = {"id",
                                                                "type",
                                                                "depends_on",
                                                                "trigger_rule",
                                                                "retries",
                                                                "retry_delay",
                                                                "retry_exponential_backoff",
                                                                "max_retry_delay",
                                                                "execution_timeout",
                                                                "env",
                                                                "setup",
                                                                "teardown",
                                                                "on_failure_fail_dagrun"};
// The common fields default_task may set.
constexpr std::array<std::string_view, 7> kDefaultableFields = {
    "retries", "retry_delay", "retry_exponential_backoff", "max_retry_delay", "execution_timeout",
    "env",     "trigger_rule"};

template <size_t N>
std::vector<std::string> Names(const std::array<std::string_view, N>& names) {
  return std::vector<std::string>(names.begin(), names.end());
}

template <size_t N>
bool Contains(const std::array<std::string_view, N>& names, std::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

std::string JoinNames(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

std::string DidYouMean(const std::string& name, const std::vector<std::string>& candidates) {
  std::string near = NearestName(name, candidates);
  return near.empty() ? "" : "; did you mean '" + near + "'?";
}

// DAG ids may contain dots; task ids and param names may not, since templates address them
// as dotted paths (tasks.ID.outputs.KEY, params.NAME).
// A param name: one segment of a dotted template path (`params.NAME`).
bool IsParamName(std::string_view id) {
  return CheckTaskId(id).ok();
}

bool IsEnvName(std::string_view name) {
  if (name.empty() || (name[0] >= '0' && name[0] <= '9')) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
}

enum class ZeroDuration { kAllowed, kRejected };

struct EnvValue {
  std::string value;
  SourceLocation location;
  std::string field;
};

// The common fields that default_task and a task may both set; unset = not written.
struct CommonFields {
  std::optional<int> retries;
  std::optional<Millis> retry_delay;
  std::optional<double> backoff_multiplier;
  std::optional<Millis> max_retry_delay;
  std::optional<Millis> execution_timeout;
  std::optional<TriggerRule> trigger_rule;
  SourceLocation trigger_rule_location;
  std::map<std::string, EnvValue> env;
};

struct TaskDraft {
  TaskSpec spec;
  std::string field;  // "tasks[3]"
  bool has_id = false;
  bool duplicate = false;  // repeats an earlier task's id; left out of the graph
  bool type_known = false;
  bool setup = false;
  bool teardown = false;
  std::optional<SourceLocation> on_failure_fail_dagrun;  // where it was set to true
  CommonFields common;
  struct Dependency {
    std::string id;
    SourceLocation location;
  };
  std::vector<Dependency> dependencies;  // as written, duplicates removed
  std::string depends_on_field;
  std::vector<int> upstreams;       // resolved task indexes
  std::vector<TemplateSite> sites;  // strings with "{{" in type-specific fields
};

// One mapping entry with a scalar key.
struct Entry {
  std::string key;
  SourceLocation key_location;
  YamlNode value;
};

class DagFileParser {
 public:
  DagFileParser(std::string path, const TaskTypeChecker& checker)
      : path_(std::move(path)), checker_(checker) {}

  LoadedFile Load(const std::string& text) {
    LoadedFile out;
    out.path = path_;
    try {
      YamlSyntaxError syntax;
      std::optional<YamlDocument> doc = YamlDocument::Parse(text, &syntax);
      if (!doc) {
        Error(internal::LocationOf(syntax.mark, path_), "", "YAML syntax error: " + syntax.message);
      } else if (doc->size() == 0 || doc->root().IsNull()) {
        Error(FileLocation(), "", "the file is empty; expected a mapping with 'id' and 'tasks'");
      } else {
        if (doc->size() > 1) {
          Error(FileLocation(), "",
                "the file has " + std::to_string(doc->size()) +
                    " YAML documents; expected one DAG per file");
        }
        ParseDag(doc->root(), text);
      }
    } catch (const std::exception& e) {
      errors_.push_back(DagError{FileLocation(), "", std::string("cannot load: ") + e.what()});
    }
    FinishErrors();
    out.errors = std::move(errors_);
    if (out.errors.empty()) out.dag = std::move(dag_);
    return out;
  }

 private:
  SourceLocation FileLocation() const { return SourceLocation{path_, 0, 0}; }
  SourceLocation Loc(const YamlNode& n) const { return internal::LocationOf(n, path_); }
  // Where a value is: its own mark, or its key's for an empty value (whose mark points past it).
  SourceLocation ValueLoc(const Entry& e) const {
    return e.value.IsNull() ? e.key_location : Loc(e.value);
  }

  void Error(const SourceLocation& loc, std::string field, std::string message) {
    errors_.push_back(DagError{loc, std::move(field), std::move(message)});
  }

  // Errors in file order, each once (a default_task problem may show up for several tasks).
  void FinishErrors() {
    std::set<std::string> seen;
    std::vector<DagError> unique;
    for (DagError& e : errors_) {
      if (seen.insert(e.ToString()).second) unique.push_back(std::move(e));
    }
    std::stable_sort(unique.begin(), unique.end(), [](const DagError& a, const DagError& b) {
      return std::pair(a.location.line, a.location.column) <
             std::pair(b.location.line, b.location.column);
    });
    errors_ = std::move(unique);
  }

  // The entries of a mapping; reports non-scalar and repeated keys. False if `node` is not a
  // mapping (reported as "expected <what>").
  bool Entries(const YamlNode& node, const SourceLocation& loc, const std::string& field,
               const std::string& what, std::vector<Entry>* out) {
    if (!node.IsMapping()) {
      Error(loc, field, "expected " + what + "; got " + DescribeNode(node));
      return false;
    }
    std::unordered_map<std::string, int> first_line;
    for (const auto& [key, value] : node.entries()) {
      if (!key.IsScalar()) {
        Error(Loc(key), field, "keys must be strings; got " + DescribeNode(key));
        continue;
      }
      Entry e{key.scalar(), Loc(key), value};
      auto [pos, inserted] = first_line.emplace(e.key, e.key_location.line);
      if (!inserted) {
        Error(e.key_location, Sub(field, e.key),
              "duplicate key '" + e.key + "' (first at line " + std::to_string(pos->second) + ")");
        continue;
      }
      out->push_back(std::move(e));
    }
    return true;
  }

  static std::string Sub(const std::string& parent, const std::string& key) {
    return parent.empty() ? key : parent + "." + key;
  }

  // ---- typed values; each reports its own error and returns nullopt on failure ----

  std::optional<std::string> GetString(const Entry& e, const std::string& field) {
    if (!e.value.IsScalar()) {
      Error(ValueLoc(e), field, "expected a string; got " + DescribeNode(e.value));
      return std::nullopt;
    }
    return e.value.scalar();
  }

  std::optional<bool> GetBool(const Entry& e, const std::string& field) {
    if (e.value.IsScalar()) {
      if (std::optional<bool> b = YamlBool(e.value.scalar())) return b;
    }
    Error(ValueLoc(e), field, "expected true or false; got " + DescribeNode(e.value));
    return std::nullopt;
  }

  std::optional<int> GetInt(const Entry& e, const std::string& field, int min) {
    if (e.value.IsScalar()) {
      const std::string& s = e.value.scalar();
      int v = 0;
      auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
      if (ec == std::errc() && ptr == s.data() + s.size() && !s.empty()) {
        if (v >= min) return v;
        Error(ValueLoc(e), field,
              "must be at least " + std::to_string(min) + "; got " + std::to_string(v));
        return std::nullopt;
      }
    }
    Error(ValueLoc(e), field, "expected an integer; got " + DescribeNode(e.value));
    return std::nullopt;
  }

  std::optional<Millis> GetDuration(const Entry& e, const std::string& field, ZeroDuration zero) {
    if (!e.value.IsScalar()) {
      Error(ValueLoc(e), field,
            "expected a duration such as 30s, 5m, 1h; got " + DescribeNode(e.value));
      return std::nullopt;
    }
    Result<Millis> d = ParseDuration(e.value.scalar());
    if (!d.ok()) {
      Error(ValueLoc(e), field, d.status().message());
      return std::nullopt;
    }
    if (zero == ZeroDuration::kRejected && d->count() == 0) {
      Error(ValueLoc(e), field, "must be longer than 0s");
      return std::nullopt;
    }
    return *d;
  }

  std::optional<Time> GetTime(const Entry& e, const std::string& field) {
    if (e.value.IsScalar()) {
      if (std::optional<Time> t = internal::ParseDateTime(e.value.scalar())) return t;
    }
    Error(ValueLoc(e), field,
          "expected a date such as 2026-01-01 or an RFC 3339 time such as "
          "2026-01-01T02:00:00Z; got " +
              DescribeNode(e.value));
    return std::nullopt;
  }

  // A single string or a list of strings; each with its location.
  std::vector<std::pair<std::string, SourceLocation>> GetStringList(const Entry& e,
                                                                    const std::string& field) {
    std::vector<std::pair<std::string, SourceLocation>> out;
    if (e.value.IsNull()) return out;
    if (e.value.IsScalar()) {
      out.emplace_back(e.value.scalar(), ValueLoc(e));
      return out;
    }
    if (!e.value.IsSequence()) {
      Error(ValueLoc(e), field,
            "expected a string or a list of strings; got " + DescribeNode(e.value));
      return out;
    }
    size_t i = 0;
    for (YamlNode item : e.value.items()) {
      const std::string item_field = field + "[" + std::to_string(i++) + "]";
      if (!item.IsScalar()) {
        Error(Loc(item), item_field, "expected a string; got " + DescribeNode(item));
        continue;
      }
      out.emplace_back(item.scalar(), Loc(item));
    }
    return out;
  }

  std::optional<TriggerRule> GetTriggerRule(const Entry& e, const std::string& field) {
    std::optional<std::string> s = GetString(e, field);
    if (!s) return std::nullopt;
    if (std::optional<TriggerRule> rule = ParseTriggerRule(*s)) return rule;
    const std::vector<std::string>& names = TriggerRuleNames();
    Error(ValueLoc(e), field,
          "unknown trigger rule '" + *s + "'" + DidYouMean(*s, names) + " (expected one of " +
              JoinNames(names) + ")");
    return std::nullopt;
  }

  // Airflow's retry_exponential_backoff: true (a multiplier of 2), false (off) or a multiplier.
  std::optional<double> GetBackoff(const Entry& e, const std::string& field) {
    if (e.value.IsScalar()) {
      if (std::optional<bool> b = YamlBool(e.value.scalar())) return *b ? 2.0 : 0.0;
      const std::string& v = e.value.scalar();
      double m = 0;
      auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), m);
      if (ec == std::errc() && ptr == v.data() + v.size() && !v.empty() && std::isfinite(m)) {
        if (m >= 0) return m;
        Error(ValueLoc(e), field, "must not be negative; got " + e.value.scalar());
        return std::nullopt;
      }
    }
    Error(ValueLoc(e), field,
          "expected true, false or a backoff multiplier such as 2 or 1.5; got " +
              DescribeNode(e.value));
    return std::nullopt;
  }

  void GetEnv(const Entry& e, const std::string& field, std::map<std::string, EnvValue>* env) {
    std::vector<Entry> entries;
    if (e.value.IsNull()) return;
    if (!Entries(e.value, ValueLoc(e), field, "a mapping of variable names to values", &entries)) {
      return;
    }
    for (const Entry& var : entries) {
      const std::string var_field = field + "." + var.key;
      if (!IsEnvName(var.key)) {
        Error(var.key_location, var_field,
              "invalid environment variable name '" + var.key +
                  "'; use letters, digits and '_', not starting with a digit");
        continue;
      }
      if (!var.value.IsScalar()) {
        Error(ValueLoc(var), var_field,
              "expected a string, number or bool; got " + DescribeNode(var.value));
        continue;
      }
      (*env)[var.key] = EnvValue{var.value.scalar(), ValueLoc(var), var_field};
    }
  }

  // Handles `e` if it is one of the fields default_task may set; false otherwise.
  bool ParseCommonField(const Entry& e, const std::string& field, CommonFields* c) {
    const std::string& k = e.key;
    if (!Contains(kDefaultableFields, k)) return false;
    if (e.value.IsNull() && k != "env") return true;  // written but empty: same as unset
    if (k == "retries") {
      c->retries = GetInt(e, field, 0);
    } else if (k == "retry_delay") {
      c->retry_delay = GetDuration(e, field, ZeroDuration::kAllowed);
    } else if (k == "retry_exponential_backoff") {
      c->backoff_multiplier = GetBackoff(e, field);
    } else if (k == "max_retry_delay") {
      c->max_retry_delay = GetDuration(e, field, ZeroDuration::kRejected);
    } else if (k == "execution_timeout") {
      c->execution_timeout = GetDuration(e, field, ZeroDuration::kRejected);
    } else if (k == "trigger_rule") {
      c->trigger_rule = GetTriggerRule(e, field);
      c->trigger_rule_location = ValueLoc(e);
    } else if (k == "env") {
      GetEnv(e, field, &c->env);
    }
    return true;
  }

  // ---- the DAG ----

  void ParseDag(const YamlNode& root, const std::string& text) {
    auto dag = std::make_shared<Dag>();
    dag->file = path_;
    dag->fingerprint = internal::Fingerprint(text);

    std::vector<Entry> entries;
    if (!Entries(root, Loc(root), "", "a mapping with 'id' and 'tasks' at the top of the file",
                 &entries)) {
      return;
    }
    const Entry* schedule_entry = nullptr;
    const Entry* start_entry = nullptr;
    const Entry* end_entry = nullptr;
    const Entry* tasks_entry = nullptr;
    const Entry* cluster_entry = nullptr;
    const Entry* timezone_entry = nullptr;
    const Entry* timetable_entry = nullptr;
    bool has_id = false;
    for (const Entry& e : entries) {
      const std::string& k = e.key;
      if (k == "id") {
        has_id = true;
        if (std::optional<std::string> id = GetString(e, k)) {
          if (Status valid = CheckDagId(*id); !valid.ok()) {
            Error(ValueLoc(e), k, valid.message());
          }
          dag->id = *id;
        }
      } else if (k == "description") {
        if (!e.value.IsNull()) dag->description = GetString(e, k).value_or("");
      } else if (k == "schedule") {
        schedule_entry = &e;
        if (!e.value.IsNull()) {
          std::optional<std::string> s = GetString(e, k);
          // `none` (Airflow's schedule=None): triggered by hand only, like an empty value.
          if (s && (*s == "none" || *s == "None")) s.reset();
          if (s) {
            Result<Schedule> schedule = Schedule::Parse(*s);
            if (schedule.ok()) {
              dag->schedule = std::move(schedule).value();
            } else {
              Error(ValueLoc(e), k, schedule.status().message());
            }
          }
        }
      } else if (k == "start_date") {
        start_entry = &e;
        if (!e.value.IsNull()) dag->start_date = GetTime(e, k);
      } else if (k == "end_date") {
        end_entry = &e;
        if (!e.value.IsNull()) dag->end_date = GetTime(e, k);
      } else if (k == "catchup") {
        if (!e.value.IsNull()) dag->catchup = GetBool(e, k).value_or(false);
      } else if (k == "max_active_runs") {
        if (!e.value.IsNull()) dag->max_active_runs = GetInt(e, k, 1).value_or(1);
      } else if (k == "tags") {
        for (auto& [tag, loc] : GetStringList(e, k)) dag->tags.push_back(std::move(tag));
      } else if (k == "params") {
        ParseParams(e, dag.get());
      } else if (k == "default_task") {
        ParseDefaults(e);
      } else if (k == "tasks") {
        tasks_entry = &e;
      } else if (k == "cluster") {
        cluster_entry = &e;
      } else if (k == "timezone") {
        timezone_entry = &e;
      } else if (k == "timetable") {
        timetable_entry = &e;
      } else {
        Error(e.key_location, k,
              "unknown field '" + k + "'" + DidYouMean(k, Names(kTopLevelFields)) +
                  " (expected one of " + JoinNames(Names(kTopLevelFields)) + ")");
      }
    }

    if (!has_id) Error(Loc(root), "id", "missing required field 'id' (the DAG's name)");
    if (timezone_entry != nullptr) {
      ApplyTimeZone(*timezone_entry, start_entry, end_entry, dag.get());
    }
    if (timetable_entry != nullptr) ParseTimetable(*timetable_entry, dag.get());
    if (dag->schedule && !dag->schedule->is_once() && !start_entry) {
      Error(ValueLoc(*schedule_entry), "start_date",
            "missing 'start_date', required with a cron schedule (the first data interval "
            "starts there)");
    }
    if (dag->start_date && dag->end_date && *dag->end_date < *dag->start_date) {
      Error(ValueLoc(*end_entry), "end_date",
            "end_date " + FormatTime(*dag->end_date) + " is before start_date " +
                FormatTime(*dag->start_date));
    }

    if (tasks_entry == nullptr) {
      Error(Loc(root), "tasks", "missing required field 'tasks' (a list of tasks)");
    } else if (!tasks_entry->value.IsSequence()) {
      Error(ValueLoc(*tasks_entry), "tasks",
            "expected a list of tasks; got " + DescribeNode(tasks_entry->value));
    } else if (tasks_entry->value.size() == 0) {
      Error(ValueLoc(*tasks_entry), "tasks", "a DAG needs at least one task");
    } else {
      int index = 0;
      for (YamlNode task : tasks_entry->value.items()) ParseTask(task, index++);
    }
    if (cluster_entry != nullptr && !cluster_entry->value.IsNull()) {
      ExpandClusterShorthand(*cluster_entry);
    }

    ResolveDependencies();
    CheckSetupFollowers();
    internal::TaskOrder order = OrderTasks();
    CheckTemplates(*dag);
    ValidateTypeFields();

    if (!errors_.empty()) return;
    dag->tasks.reserve(order.order.size());
    for (int i : order.order) dag->tasks.push_back(std::move(tasks_[i].spec));
    dag->Link();
    dag_ = std::move(dag);
  }

  // `timezone:` — the schedule and start/end dates without an offset are read in that zone.
  void ApplyTimeZone(const Entry& e, const Entry* start, const Entry* end, Dag* dag) {
    if (e.value.IsNull()) return;
    std::optional<std::string> name = GetString(e, "timezone");
    if (!name) return;
    Result<TimeZone> zone = TimeZone::Find(*name);
    if (!zone.ok()) {
      Error(ValueLoc(e), "timezone", zone.status().message());
      return;
    }
    dag->timezone = *zone;
    if (dag->schedule) {
      // The text parsed already; only the zone changes.
      Result<Schedule> schedule = Schedule::Parse(dag->schedule->text(), *zone);
      if (schedule.ok()) dag->schedule = std::move(schedule).value();
    }
    if (start != nullptr && dag->start_date && start->value.IsScalar()) {
      dag->start_date = ParseDateTimeIn(start->value.scalar(), *zone);
    }
    if (end != nullptr && dag->end_date && end->value.IsScalar()) {
      dag->end_date = ParseDateTimeIn(end->value.scalar(), *zone);
    }
  }

  // `timetable: cron_trigger`, or `timetable: {type: cron_trigger, interval: 1h}`.
  void ParseTimetable(const Entry& e, Dag* dag) {
    if (e.value.IsNull()) return;
    std::vector<std::string> kinds = {"cron_data_interval", "cron_trigger"};
    const Entry* type = &e;
    const Entry* interval = nullptr;
    std::vector<Entry> entries;
    if (e.value.IsMapping()) {
      if (!Entries(e.value, ValueLoc(e), "timetable", "a mapping with 'type' and 'interval'",
                   &entries)) {
        return;
      }
      type = nullptr;
      for (const Entry& f : entries) {
        if (f.key == "type") {
          type = &f;
        } else if (f.key == "interval") {
          interval = &f;
        } else {
          Error(f.key_location, "timetable." + f.key,
                "unknown field '" + f.key + "'" + DidYouMean(f.key, {"type", "interval"}) +
                    " (expected type, interval)");
        }
      }
      if (type == nullptr) {
        Error(ValueLoc(e), "timetable.type", "missing 'type' (" + JoinNames(kinds) + ")");
        return;
      }
    }
    const std::string field = type == &e ? "timetable" : "timetable.type";
    std::optional<std::string> name = GetString(*type, field);
    if (!name) return;
    std::optional<TimetableKind> kind = ParseTimetableKind(*name);
    if (!kind) {
      Error(ValueLoc(*type), field,
            "unknown timetable '" + *name + "'" + DidYouMean(*name, kinds) + " (expected one of " +
                JoinNames(kinds) + ")");
      return;
    }
    if (!dag->schedule || dag->schedule->is_once()) {
      Error(ValueLoc(*type), field,
            "a timetable needs a cron schedule (this DAG's schedule is " +
                std::string(dag->schedule ? "@once" : "none") + ")");
      return;
    }
    dag->timetable = *kind;
    if (interval != nullptr && !interval->value.IsNull()) {
      if (*kind != TimetableKind::kCronTrigger) {
        Error(interval->key_location, "timetable.interval",
              "'interval' applies to the cron_trigger timetable only (cron_data_interval's "
              "interval runs from one fire time to the next)");
        return;
      }
      std::optional<Millis> d =
          GetDuration(*interval, "timetable.interval", ZeroDuration::kAllowed);
      if (d) dag->trigger_interval = *d;
    }
  }

  void ParseParams(const Entry& e, Dag* dag) {
    std::vector<Entry> entries;
    if (e.value.IsNull()) return;
    if (!Entries(e.value, ValueLoc(e), "params", "a mapping of param names to defaults",
                 &entries)) {
      return;
    }
    for (const Entry& p : entries) {
      const std::string field = "params." + p.key;
      if (!IsParamName(p.key)) {
        Error(p.key_location, field,
              "invalid param name '" + p.key + "'; use letters, digits, '_' and '-'");
        continue;
      }
      Param param;
      // {default: x, description: y} declares a param; any other value is the default itself.
      if (p.value.Find("default").present() || p.value.Find("description").present()) {
        std::vector<Entry> spec;
        Entries(p.value, ValueLoc(p), field, "a mapping", &spec);
        for (const Entry& s : spec) {
          if (s.key == "default") {
            param.default_value =
                internal::YamlToJson(s.value, path_, field + ".default", &errors_, nullptr);
          } else if (s.key == "description") {
            param.description = GetString(s, field + ".description").value_or("");
          } else {
            Error(s.key_location, field + "." + s.key,
                  "unknown field '" + s.key + "' in a param declaration" +
                      DidYouMean(s.key, {"default", "description"}) +
                      " (expected default, description)");
          }
        }
      } else {
        param.default_value = internal::YamlToJson(p.value, path_, field, &errors_, nullptr);
      }
      dag->params[p.key] = std::move(param);
    }
  }

  void ParseDefaults(const Entry& e) {
    std::vector<Entry> entries;
    if (e.value.IsNull()) return;
    if (!Entries(e.value, ValueLoc(e), "default_task", "a mapping of task field defaults",
                 &entries)) {
      return;
    }
    for (const Entry& d : entries) {
      const std::string field = "default_task." + d.key;
      if (ParseCommonField(d, field, &defaults_)) continue;
      if (Contains(kCommonTaskFields, d.key)) {
        Error(d.key_location, field,
              "'" + d.key + "' cannot be set in default_task (allowed: " +
                  JoinNames(Names(kDefaultableFields)) + ")");
      } else {
        Error(d.key_location, field,
              "unknown field '" + d.key + "' in default_task" +
                  DidYouMean(d.key, Names(kDefaultableFields)) +
                  " (allowed: " + JoinNames(Names(kDefaultableFields)) + ")");
      }
    }
  }

  // ---- tasks ----

  const std::vector<std::string>& FieldNamesOf(const std::string& type) {
    auto it = type_fields_.find(type);
    if (it == type_fields_.end()) {
      std::vector<std::string> names;
      if (checker_.field_names) names = checker_.field_names(type);
      it = type_fields_.emplace(type, std::move(names)).first;
    }
    return it->second;
  }

  void ParseTask(const YamlNode& node, int index) {
    TaskDraft t;
    t.field = "tasks[" + std::to_string(index) + "]";
    t.spec.location = Loc(node);
    std::vector<Entry> entries;
    if (!Entries(node, Loc(node), t.field, "a task (a mapping with 'id' and 'type')", &entries)) {
      tasks_.push_back(std::move(t));
      return;
    }
    std::vector<const Entry*> type_fields;
    bool has_type = false;
    for (const Entry& e : entries) {
      const std::string field = t.field + "." + e.key;
      if (ParseCommonField(e, field, &t.common)) continue;
      if (e.key == "id") {
        if (std::optional<std::string> id = GetString(e, field)) {
          t.has_id = true;
          t.spec.id = *id;
          if (Status valid = CheckTaskId(*id); !valid.ok()) {
            Error(ValueLoc(e), field, valid.message());
          }
        }
      } else if (e.key == "type") {
        has_type = true;
        if (std::optional<std::string> type = GetString(e, field)) {
          t.spec.type = *type;
          if (checker_.types.empty()) {
            t.type_known = true;  // no checker: every type is accepted
          } else if (std::find(checker_.types.begin(), checker_.types.end(), *type) !=
                     checker_.types.end()) {
            t.type_known = true;
          } else {
            Error(ValueLoc(e), field,
                  "unknown task type '" + *type + "'" + DidYouMean(*type, checker_.types) +
                      " (known types: " + JoinNames(checker_.types) + ")");
          }
        }
      } else if (e.key == "depends_on") {
        t.depends_on_field = field;
        std::set<std::string> seen;
        for (auto& [dep, loc] : GetStringList(e, field)) {
          if (seen.insert(dep).second) t.dependencies.push_back({std::move(dep), loc});
        }
      } else if (e.key == "setup") {
        if (!e.value.IsNull()) t.setup = GetBool(e, field).value_or(false);
      } else if (e.key == "teardown") {
        if (!e.value.IsNull()) t.teardown = GetBool(e, field).value_or(false);
      } else if (e.key == "on_failure_fail_dagrun") {
        if (!e.value.IsNull() && GetBool(e, field).value_or(false)) {
          t.on_failure_fail_dagrun = ValueLoc(e);
        }
      } else {
        type_fields.push_back(&e);
      }
    }
    if (!t.has_id && std::none_of(entries.begin(), entries.end(),
                                  [](const Entry& e) { return e.key == "id"; })) {
      Error(t.spec.location, t.field + ".id", "missing required field 'id'");
    }
    if (!has_type) {
      Error(t.spec.location, t.field + ".type",
            "missing required field 'type'" +
                (checker_.types.empty() ? "" : " (one of " + JoinNames(checker_.types) + ")"));
    }
    if (t.setup && t.teardown) {
      Error(t.spec.location, t.field,
            "a task cannot be both setup and teardown; set only one of them");
    }
    if (t.on_failure_fail_dagrun) {
      if (t.teardown) {
        t.spec.on_failure_fail_dagrun = true;
      } else {
        Error(*t.on_failure_fail_dagrun, t.field + ".on_failure_fail_dagrun",
              "on_failure_fail_dagrun applies only to teardown tasks (add 'teardown: true')");
      }
    }

    // Type-specific fields: checked by name only when the checker knows the type's fields.
    const bool check_names =
        t.type_known && !checker_.types.empty() && static_cast<bool>(checker_.field_names);
    const std::vector<std::string>* allowed = check_names ? &FieldNamesOf(t.spec.type) : nullptr;
    for (const Entry* e : type_fields) {
      const std::string field = t.field + "." + e->key;
      if (allowed != nullptr &&
          std::find(allowed->begin(), allowed->end(), e->key) == allowed->end()) {
        std::vector<std::string> candidates = *allowed;
        candidates.insert(candidates.end(), kCommonTaskFields.begin(), kCommonTaskFields.end());
        Error(e->key_location, field,
              "unknown field '" + e->key + "' for task type '" + t.spec.type + "'" +
                  DidYouMean(e->key, candidates) + " (fields of '" + t.spec.type +
                  "': " + JoinNames(*allowed) + ")");
        continue;
      }
      t.spec.fields[e->key] = internal::YamlToJson(e->value, path_, field, &errors_, &t.sites);
      t.spec.field_locations[e->key] = e->key_location;
    }

    ApplyCommonFields(&t);
    tasks_.push_back(std::move(t));
  }

  // `cluster:` adds an on-demand Spark cluster around the DAG's Spark tasks: a create task (a
  // setup) before every spark_submit task that names no conn_id or master (they get the
  // cluster's master URL), and a delete task (a teardown) after them, so the cluster is deleted
  // whatever happens. The value is `true` or the create task's fields (workers, worker_cores,
  // worker_memory, name, backend, master_conf, worker_conf, ready_timeout).
  void ExpandClusterShorthand(const Entry& e) {
    const SourceLocation loc = ValueLoc(e);
    nlohmann::json settings = nlohmann::json::object();
    if (e.value.IsMapping()) {
      settings = internal::YamlToJson(e.value, path_, "cluster", &errors_, nullptr);
      for (const auto& [k, v] : settings.items()) {
        if (k == "action") Error(loc, "cluster.action", "'action' is set by the cluster shorthand");
      }
    } else if (!(e.value.IsScalar() && internal::ScalarToJson(e.value) == nlohmann::json(true))) {
      Error(loc, "cluster",
            "expected true or a mapping of cluster settings (workers, worker_cores, "
            "worker_memory, ...); got " +
                DescribeNode(e.value));
      return;
    }
    const std::string type = "spark_cluster";
    const bool known =
        checker_.types.empty() ||
        std::find(checker_.types.begin(), checker_.types.end(), type) != checker_.types.end();
    if (!known) {
      Error(loc, "cluster", "the cluster shorthand needs the 'spark_cluster' task type");
      return;
    }
    for (const TaskDraft& t : tasks_) {
      if (t.spec.id == kCreateClusterTask || t.spec.id == kDeleteClusterTask) {
        Error(t.spec.location, t.field + ".id",
              "task id '" + t.spec.id + "' is reserved by the cluster shorthand");
        return;
      }
    }
    const std::string master =
        std::string("{{ tasks.") + kCreateClusterTask + ".outputs.master_url }}";
    std::vector<std::string> users;
    for (TaskDraft& t : tasks_) {
      if (t.spec.type != "spark_submit" || t.spec.fields.contains("conn_id") ||
          t.spec.fields.contains("master")) {
        continue;
      }
      t.spec.fields["master"] = master;
      t.dependencies.push_back({kCreateClusterTask, loc});
      users.push_back(t.spec.id);
    }
    if (users.empty()) {
      Error(loc, "cluster",
            "no spark_submit task uses the cluster (each one sets conn_id or master)");
      return;
    }
    auto make = [&](const char* id, bool setup, nlohmann::json fields) {
      TaskDraft d;
      d.field = "cluster";
      d.has_id = true;
      d.type_known = true;
      d.spec.id = id;
      d.spec.type = type;
      d.spec.location = loc;
      d.spec.fields = std::move(fields);
      for (const auto& [k, v] : d.spec.fields.items()) d.spec.field_locations[k] = loc;
      d.setup = setup;
      d.teardown = !setup;
      ApplyCommonFields(&d);
      return d;
    };
    nlohmann::json create = settings;
    create["action"] = "create";
    // The delete finds the cluster from the store (the records the create task made in this
    // run), not from the create's outputs: a create that failed or was cancelled published
    // none, yet may have started daemons.
    TaskDraft del = make(kDeleteClusterTask, false,
                         {{"action", "delete"}, {"cluster_from", kCreateClusterTask}});
    del.dependencies.push_back({kCreateClusterTask, loc});
    for (const std::string& u : users) del.dependencies.push_back({u, loc});
    tasks_.insert(tasks_.begin(), make(kCreateClusterTask, true, std::move(create)));
    tasks_.push_back(std::move(del));
  }

  // The task's own common fields win over default_task's; env is merged key by key.
  void ApplyCommonFields(TaskDraft* t) {
    const CommonFields& own = t->common;
    const CommonFields& def = defaults_;
    RetryPolicy& r = t->spec.retry;
    r.retries = own.retries.value_or(def.retries.value_or(r.retries));
    r.retry_delay = own.retry_delay.value_or(def.retry_delay.value_or(r.retry_delay));
    r.backoff_multiplier =
        own.backoff_multiplier.value_or(def.backoff_multiplier.value_or(r.backoff_multiplier));
    r.max_retry_delay =
        own.max_retry_delay.value_or(def.max_retry_delay.value_or(r.max_retry_delay));
    t->spec.execution_timeout =
        own.execution_timeout ? own.execution_timeout : def.execution_timeout;
    t->spec.role = t->setup      ? TaskRole::kSetup
                   : t->teardown ? TaskRole::kTeardown
                                 : TaskRole::kNormal;
    // A teardown gets Airflow's teardown rule unless its own trigger_rule says otherwise.
    if (own.trigger_rule) {
      t->spec.trigger_rule = *own.trigger_rule;
    } else if (t->spec.role == TaskRole::kTeardown) {
      t->spec.trigger_rule = TriggerRule::kAllDoneSetupSuccess;
    } else if (def.trigger_rule) {
      t->spec.trigger_rule = *def.trigger_rule;
    }
    std::map<std::string, EnvValue> env = def.env;
    for (const auto& [k, v] : own.env) env[k] = v;
    for (auto& [k, v] : env) {
      t->spec.env[k] = v.value;
      if (v.value.find("{{") != std::string::npos) {
        t->sites.push_back(TemplateSite{v.value, v.location, v.field});
      }
    }
  }

  // ---- graph ----

  void ResolveDependencies() {
    std::unordered_map<std::string, int> by_id;
    std::vector<std::string> ids;
    for (size_t i = 0; i < tasks_.size(); ++i) {
      TaskDraft& t = tasks_[i];
      if (!t.has_id) continue;
      auto [it, inserted] = by_id.emplace(t.spec.id, static_cast<int>(i));
      if (!inserted) {
        const TaskDraft& first = tasks_[it->second];
        t.duplicate = true;
        Error(t.spec.location, t.field + ".id",
              "duplicate task id '" + t.spec.id + "': defined at line " +
                  std::to_string(first.spec.location.line) + " (" + first.field +
                  ") and again at line " + std::to_string(t.spec.location.line));
        continue;
      }
      ids.push_back(t.spec.id);
    }
    for (TaskDraft& t : tasks_) {
      if (t.duplicate) continue;
      for (const TaskDraft::Dependency& dep : t.dependencies) {
        if (t.has_id && dep.id == t.spec.id) {
          Error(dep.location, t.depends_on_field, "task '" + t.spec.id + "' depends on itself");
          continue;
        }
        auto it = by_id.find(dep.id);
        if (it == by_id.end()) {
          Error(dep.location, t.depends_on_field,
                "unknown task '" + dep.id + "' in depends_on" + DidYouMean(dep.id, ids));
          continue;
        }
        t.spec.depends_on.push_back(dep.id);
        t.upstreams.push_back(it->second);
      }
    }
    task_index_ = std::move(by_id);
  }

  // Airflow refuses a DAG in which a setup task's direct downstream is neither a teardown nor
  // all_success (DAG.validate_setup_teardown): such a task would run without the resource the
  // setup makes. One error per task, at its trigger_rule or, when default_task set the rule, at
  // its dependency on the setup.
  void CheckSetupFollowers() {
    for (const TaskDraft& t : tasks_) {
      if (t.duplicate || t.spec.role == TaskRole::kTeardown ||
          t.spec.trigger_rule == TriggerRule::kAllSuccess) {
        continue;
      }
      for (int up : t.upstreams) {
        const TaskDraft& setup = tasks_[up];
        if (setup.spec.role != TaskRole::kSetup) continue;
        const bool own = t.common.trigger_rule.has_value();
        SourceLocation loc = own ? t.common.trigger_rule_location : t.spec.location;
        if (!own) {
          for (const TaskDraft::Dependency& dep : t.dependencies) {
            if (dep.id == setup.spec.id) loc = dep.location;
          }
        }
        Error(loc,
              own                          ? t.field + ".trigger_rule"
              : t.depends_on_field.empty() ? t.field + ".depends_on"
                                           : t.depends_on_field,
              "task '" + t.spec.id + "' directly follows setup task '" + setup.spec.id +
                  "', so its trigger rule must be all_success (as in Airflow), not '" +
                  TriggerRuleName(t.spec.trigger_rule) + "'" +
                  (own ? "" : " (set by default_task)") +
                  "; make it a teardown, or let it follow an all_success task after the setup");
        break;
      }
    }
  }

  internal::TaskOrder OrderTasks() {
    std::vector<std::vector<int>> upstreams(tasks_.size());
    for (size_t i = 0; i < tasks_.size(); ++i) upstreams[i] = tasks_[i].upstreams;
    internal::TaskOrder order = internal::SortTasks(upstreams);
    for (const std::vector<int>& cycle : order.cycles) {
      std::string path;
      for (int i : cycle) path += (path.empty() ? "" : " -> ") + tasks_[i].spec.id;
      const TaskDraft& first = tasks_[cycle.front()];
      Error(first.spec.location,
            first.depends_on_field.empty() ? first.field : first.depends_on_field,
            "dependency cycle: " + path);
    }
    return order;
  }

  // Whether `upstream` is reachable from task `task` through depends_on (memoized per task).
  bool IsUpstream(int task, int upstream) {
    auto it = upstream_sets_.find(task);
    if (it == upstream_sets_.end()) {
      std::vector<char> seen(tasks_.size(), 0);
      std::vector<int> stack = tasks_[task].upstreams;
      while (!stack.empty()) {
        int u = stack.back();
        stack.pop_back();
        if (seen[u]) continue;
        seen[u] = 1;
        for (int v : tasks_[u].upstreams) {
          if (!seen[v]) stack.push_back(v);
        }
      }
      it = upstream_sets_.emplace(task, std::move(seen)).first;
    }
    return it->second[upstream] != 0;
  }

  // ---- templates ----

  void CheckTemplates(const Dag& dag) {
    for (size_t i = 0; i < tasks_.size(); ++i) {
      TaskDraft& t = tasks_[i];
      if (t.duplicate) continue;
      for (const TemplateSite& site : t.sites) {
        Result<std::vector<TemplateRef>> refs = ParseTemplate(site.text);
        if (!refs.ok()) {
          Error(site.location, site.field, refs.status().message());
          continue;
        }
        for (const TemplateRef& ref : *refs) {
          std::string problem = CheckReference(ref.path, static_cast<int>(i), dag);
          if (!problem.empty()) Error(site.location, site.field, problem);
        }
      }
    }
  }

  // "" when `path` may be used by task `task`; otherwise what is wrong with it.
  std::string CheckReference(const std::string& path, int task, const Dag& dag) {
    const std::vector<std::string>& builtins = BuiltinTemplateVariables();
    if (std::find(builtins.begin(), builtins.end(), path) != builtins.end()) return "";
    const std::string quoted = "'{{ " + path + " }}'";
    std::vector<std::string_view> parts;
    for (size_t start = 0;;) {
      size_t dot = path.find('.', start);
      parts.emplace_back(path.data() + start,
                         (dot == std::string::npos ? path.size() : dot) - start);
      if (dot == std::string::npos) break;
      start = dot + 1;
    }
    // dag_run.conf holds the conf over the params' defaults: its keys are the declared params.
    const bool conf_key = parts.size() >= 3 && parts[0] == "dag_run" && parts[1] == "conf";
    if (parts[0] == "params" || conf_key) {
      if (parts.size() < 2) return quoted + " must name a param, such as '{{ params.NAME }}'";
      const std::string name(parts[conf_key ? 2 : 1]);
      if (dag.params.count(name)) return "";
      std::vector<std::string> declared;
      for (const auto& [k, v] : dag.params) declared.push_back(k);
      return "unknown param '" + name + "' in " + quoted + DidYouMean(name, declared) +
             " (params must be declared under 'params'" +
             (declared.empty() ? "" : "; declared: " + JoinNames(declared)) + ")";
    }
    if (parts[0] == "tasks") {
      if (parts.size() < 4 || parts[2] != "outputs") {
        return quoted + " must have the form '{{ tasks.TASK_ID.outputs.KEY }}'";
      }
      const std::string id(parts[1]);
      auto it = task_index_.find(id);
      if (it == task_index_.end()) {
        std::vector<std::string> ids;
        for (const TaskDraft& t : tasks_) {
          if (t.has_id && !t.duplicate) ids.push_back(t.spec.id);
        }
        return "unknown task '" + id + "' in " + quoted + DidYouMean(id, ids);
      }
      if (it->second == task) return "task '" + id + "' cannot read its own outputs in " + quoted;
      if (!IsUpstream(task, it->second)) {
        return quoted + " reads the outputs of '" + id + "', which is not upstream of '" +
               tasks_[task].spec.id + "'; add '" + id + "' to depends_on";
      }
      return "";
    }
    if (std::string hint = RemovedAirflowVariableHint(path); !hint.empty()) {
      return "unknown template variable '" + path + "': " + hint;
    }
    std::vector<std::string> candidates = builtins;
    for (const auto& [k, v] : dag.params) candidates.push_back("params." + k);
    return "unknown template variable '" + path + "'" + DidYouMean(path, candidates) +
           " (available: " + JoinNames(builtins) + ", params.NAME, tasks.TASK_ID.outputs.KEY)";
  }

  // ---- type-specific validation ----

  void ValidateTypeFields() {
    if (!checker_.validate || checker_.types.empty()) return;
    for (const TaskDraft& t : tasks_) {
      if (!t.type_known || t.duplicate) continue;
      std::vector<DagError> found;
      checker_.validate(t.spec, &found);
      for (DagError& e : found) {
        // Task types know fields by name only; place their errors within this task.
        if (e.location.file.empty()) e.location.file = path_;
        if (e.location.line == 0) {
          auto it = t.spec.field_locations.find(e.field);
          e.location = it != t.spec.field_locations.end() ? it->second : t.spec.location;
        }
        if (e.field.rfind("tasks[", 0) != 0) {
          e.field = e.field.empty() ? t.field : t.field + "." + e.field;
        }
        errors_.push_back(std::move(e));
      }
    }
  }

  std::string path_;
  const TaskTypeChecker& checker_;
  std::vector<DagError> errors_;
  std::shared_ptr<Dag> dag_;
  CommonFields defaults_;
  std::vector<TaskDraft> tasks_;                     // in file order
  std::unordered_map<std::string, int> task_index_;  // id -> first task with it
  std::unordered_map<int, std::vector<char>> upstream_sets_;
  std::unordered_map<std::string, std::vector<std::string>> type_fields_;
};

}  // namespace

Result<nlohmann::json> YamlTextToJson(const std::string& text, const std::string& path) {
  ASSIGN_OR_RETURN(YamlDocument doc, YamlDocument::Parse(text, path));
  std::vector<DagError> errors;
  nlohmann::json out = internal::YamlToJson(doc.root(), path, "", &errors, nullptr);
  if (!errors.empty()) return InvalidArgumentError(errors.front().ToString());
  return out;
}

LoadedFile LoadDagText(const std::string& text, const std::string& path,
                       const TaskTypeChecker& checker) {
  return DagFileParser(path, checker).Load(text);
}

LoadedFile LoadDagFile(const std::string& path, const TaskTypeChecker& checker) {
  Result<std::string> text = ReadFileText(path, "DAG file");
  if (!text.ok()) {
    LoadedFile out;
    out.path = path;
    out.errors.push_back(DagError{SourceLocation{path, 0, 0}, "", text.status().message()});
    return out;
  }
  return LoadDagText(*text, path, checker);
}

}  // namespace sp::dag
