// Template references ("{{ params.table }}") in DAG strings: parsing, rendering against a JSON
// context, and the list of built-in variables. No expressions or filters: a reference is a
// dotted path, and a missing path is an error rather than an empty string.
#include "dag/template.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <string_view>
#include <vector>

namespace sp::dag {
namespace {

bool IsIdentifierChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

bool IsBlank(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

// "a.b.c": non-empty identifiers separated by single dots.
bool IsDottedPath(std::string_view path) {
  if (path.empty()) return false;
  bool after_dot = true;
  for (char c : path) {
    if (c == '.') {
      if (after_dot) return false;
      after_dot = true;
    } else if (IsIdentifierChar(c)) {
      after_dot = false;
    } else {
      return false;
    }
  }
  return !after_dot;
}

// One occurrence with the extent of its "{{ ... }}" in the text.
struct Span {
  TemplateRef ref;
  size_t end = 0;  // one past "}}"
};

Result<std::vector<Span>> ParseSpans(const std::string& text) {
  std::vector<Span> spans;
  size_t pos = 0;
  while ((pos = text.find("{{", pos)) != std::string::npos) {
    const size_t close = text.find("}}", pos + 2);
    if (close == std::string::npos) {
      return InvalidArgumentError("unclosed '{{' at offset " + std::to_string(pos) +
                                  "; expected '{{ name }}'");
    }
    size_t b = pos + 2, e = close;
    while (b < e && IsBlank(text[b])) ++b;
    while (e > b && IsBlank(text[e - 1])) --e;
    std::string_view expr(text.data() + b, e - b);
    if (expr.empty()) {
      return InvalidArgumentError("empty template expression '{{}}' at offset " +
                                  std::to_string(pos) + "; expected a name such as '{{ ds }}'");
    }
    if (!IsDottedPath(expr)) {
      return InvalidArgumentError(
          "malformed template expression '" + text.substr(pos, close + 2 - pos) + "' at offset " +
          std::to_string(pos) +
          "; expected a dotted name of letters, digits, '_' and '-' such as '{{ params.table }}'");
    }
    spans.push_back(Span{TemplateRef{std::string(expr), pos}, close + 2});
    pos = close + 2;
  }
  return spans;
}

// Looks `path` up in `context`. At each level the longest run of remaining segments that is a
// key wins, so both nested ({"dag": {"id": ...}}) and flat ({"dag.id": ...}) contexts work.
const nlohmann::json* Lookup(const nlohmann::json& context, const std::string& path) {
  std::vector<std::string_view> segments;
  size_t start = 0;
  while (true) {
    size_t dot = path.find('.', start);
    segments.emplace_back(path.data() + start,
                          (dot == std::string::npos ? path.size() : dot) - start);
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  const nlohmann::json* node = &context;
  size_t i = 0;
  while (i < segments.size()) {
    if (!node->is_object()) return nullptr;
    bool found = false;
    for (size_t n = segments.size() - i; n >= 1; --n) {
      const char* first = segments[i].data();
      const char* last = segments[i + n - 1].data() + segments[i + n - 1].size();
      auto it = node->find(std::string(first, last));
      if (it != node->end()) {
        node = &*it;
        i += n;
        found = true;
        break;
      }
    }
    if (!found) return nullptr;
  }
  return node;
}

Status RenderInto(const nlohmann::json& value, const nlohmann::json& context,
                  const std::string& where, nlohmann::json* out) {
  if (value.is_string()) {
    Result<std::string> rendered = RenderTemplate(value.get_ref<const std::string&>(), context);
    if (!rendered.ok()) return where.empty() ? rendered.status() : rendered.status().With(where);
    *out = std::move(rendered).value();
    return OkStatus();
  }
  if (value.is_object()) {
    *out = nlohmann::json::object();
    for (auto it = value.begin(); it != value.end(); ++it) {
      RETURN_IF_ERROR(RenderInto(it.value(), context,
                                 where.empty() ? it.key() : where + "." + it.key(),
                                 &(*out)[it.key()]));
    }
    return OkStatus();
  }
  if (value.is_array()) {
    *out = nlohmann::json::array();
    for (size_t i = 0; i < value.size(); ++i) {
      out->push_back(nullptr);
      RETURN_IF_ERROR(
          RenderInto(value[i], context, where + "[" + std::to_string(i) + "]", &out->back()));
    }
    return OkStatus();
  }
  *out = value;
  return OkStatus();
}

}  // namespace

Result<std::vector<TemplateRef>> ParseTemplate(const std::string& text) {
  ASSIGN_OR_RETURN(std::vector<Span> spans, ParseSpans(text));
  std::vector<TemplateRef> refs;
  refs.reserve(spans.size());
  for (Span& s : spans) refs.push_back(std::move(s.ref));
  return refs;
}

Result<std::string> RenderTemplate(const std::string& text, const nlohmann::json& context) {
  if (text.find("{{") == std::string::npos) return text;
  ASSIGN_OR_RETURN(std::vector<Span> spans, ParseSpans(text));
  std::string out;
  out.reserve(text.size());
  size_t copied = 0;
  for (const Span& s : spans) {
    const nlohmann::json* v = Lookup(context, s.ref.path);
    if (v == nullptr) return NotFoundError("unknown template variable '" + s.ref.path + "'");
    out.append(text, copied, s.ref.offset - copied);
    if (v->is_string()) {
      out += v->get_ref<const std::string&>();
    } else {
      out += v->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
    copied = s.end;
  }
  out.append(text, copied, std::string::npos);
  return out;
}

namespace {

// Where a position in a shell script stands, as far as quoting goes. A small lexer of bash's
// quoting rules: quotes, backslash escapes, $'...', and command substitutions $(...) and `...`
// (whose insides start unquoted again, even within double quotes).
class ShellQuoteState {
 public:
  enum class Context { kUnquoted, kSingle, kDouble, kAnsi };

  Context context() const { return stack_.back().context; }
  // The text so far ends with an unpaired backslash (it would escape what comes next).
  bool escape_pending() const { return escape_pending_; }

  void Advance(std::string_view text) {
    size_t i = escape_pending_ ? 1 : 0;
    escape_pending_ = false;
    for (; i < text.size(); ++i) {
      char c = text[i];
      char next = i + 1 < text.size() ? text[i + 1] : '\0';
      Frame& f = stack_.back();
      switch (f.context) {
        case Context::kSingle:
          if (c == '\'') stack_.pop_back();
          break;
        case Context::kAnsi:
          if (c == '\\') {
            ++i;
          } else if (c == '\'') {
            stack_.pop_back();
          }
          break;
        case Context::kDouble:
          if (c == '\\') {
            ++i;
          } else if (c == '"') {
            stack_.pop_back();
          } else if (c == '$' && next == '(') {
            stack_.push_back({Context::kUnquoted, 0, false});
            ++i;
          } else if (c == '`') {
            stack_.push_back({Context::kUnquoted, 0, true});
          }
          break;
        case Context::kUnquoted:
          if (c == '\\') {
            ++i;
          } else if (c == '\'') {
            stack_.push_back({Context::kSingle, 0, false});
          } else if (c == '"') {
            stack_.push_back({Context::kDouble, 0, false});
          } else if (c == '$' && next == '\'') {
            stack_.push_back({Context::kAnsi, 0, false});
            ++i;
          } else if (c == '$' && next == '(') {
            stack_.push_back({Context::kUnquoted, 0, false});
            ++i;
          } else if (c == '`') {
            if (f.backtick && stack_.size() > 1) {
              stack_.pop_back();
            } else {
              stack_.push_back({Context::kUnquoted, 0, true});
            }
          } else if (c == '(') {
            ++f.parens;
          } else if (c == ')') {
            if (f.parens > 0) {
              --f.parens;
            } else if (stack_.size() > 1 && !f.backtick) {
              stack_.pop_back();  // end of $( ... )
            }
          }
          break;
      }
    }
    escape_pending_ = i > text.size();
  }

 private:
  struct Frame {
    Context context;
    int parens;     // open '(' inside this unquoted frame
    bool backtick;  // this frame is a `...` substitution
  };
  std::vector<Frame> stack_{{Context::kUnquoted, 0, false}};
  bool escape_pending_ = false;
};

std::string EnvNameFor(const std::string& path) {
  std::string name = "SP_";
  for (char c : path) name += (c == '.' || c == '-') ? '_' : c;
  return name;
}

}  // namespace

Result<ShellRendering> RenderShellTemplate(const std::string& script, const nlohmann::json& context,
                                           const std::map<std::string, std::string>& taken) {
  ShellRendering out;
  if (script.find("{{") == std::string::npos) {
    out.script = script;
    return out;
  }
  ASSIGN_OR_RETURN(std::vector<Span> spans, ParseSpans(script));
  std::map<std::string, std::string> name_of;  // template path -> variable
  ShellQuoteState state;
  size_t copied = 0;
  for (const Span& s : spans) {
    const nlohmann::json* v = Lookup(context, s.ref.path);
    if (v == nullptr) return NotFoundError("unknown template variable '" + s.ref.path + "'");
    std::string_view literal(script.data() + copied, s.ref.offset - copied);
    out.script.append(literal);
    state.Advance(literal);
    if (state.escape_pending() && state.context() != ShellQuoteState::Context::kSingle) {
      return InvalidArgumentError("template '{{ " + s.ref.path + " }}' at offset " +
                                  std::to_string(s.ref.offset) +
                                  " follows a backslash; a shell command cannot escape a value");
    }
    std::string& name = name_of[s.ref.path];
    if (name.empty()) {
      std::string base = EnvNameFor(s.ref.path), candidate = base;
      for (int n = 2; taken.count(candidate) || out.env.count(candidate); ++n) {
        candidate = base + "_" + std::to_string(n);
      }
      name = candidate;
      out.env[name] = v->is_string()
                          ? v->get<std::string>()
                          : v->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
    switch (state.context()) {
      case ShellQuoteState::Context::kDouble:
        out.script += "${" + name + "}";
        break;
      case ShellQuoteState::Context::kSingle:
      case ShellQuoteState::Context::kAnsi:
        out.script += "'\"${" + name + "}\"'";
        break;
      case ShellQuoteState::Context::kUnquoted:
        out.script += "\"${" + name + "}\"";
        break;
    }
    copied = s.end;
  }
  out.script.append(script, copied, std::string::npos);
  return out;
}

Result<nlohmann::json> RenderJson(const nlohmann::json& value, const nlohmann::json& context) {
  nlohmann::json out;
  RETURN_IF_ERROR(RenderInto(value, context, "", &out));
  return out;
}

const std::vector<std::string>& BuiltinTemplateVariables() {
  static const std::vector<std::string> kVariables = {
      "ds",
      "ds_nodash",
      "ts",
      "ts_nodash",
      "ts_nodash_with_tz",
      "logical_date",
      "data_interval_start",
      "data_interval_end",
      "run_id",
      "task_instance_key_str",
      "dag_run.dag_id",
      "dag_run.run_id",
      "dag_run.run_type",
      "dag_run.logical_date",
      "dag_run.data_interval_start",
      "dag_run.data_interval_end",
      "dag_run.conf",
      "dag.id",
      "dag.dag_id",
      "task.id",
      "task.task_id",
      "try_number",
      "prev_data_interval_start_success",
      "prev_data_interval_end_success",
      "prev_start_date_success",
      "prev_end_date_success",
  };
  return kVariables;
}

std::string RemovedAirflowVariableHint(const std::string& path) {
  static const std::map<std::string, std::string> kRemoved = {
      {"execution_date", "use '{{ logical_date }}'"},
      {"next_ds", "use '{{ data_interval_end }}' (or its date)"},
      {"next_ds_nodash", "use '{{ data_interval_end }}' (or its date)"},
      {"next_execution_date", "use '{{ data_interval_end }}'"},
      {"prev_ds", "use '{{ data_interval_start }}' (or its date)"},
      {"prev_ds_nodash", "use '{{ data_interval_start }}' (or its date)"},
      {"prev_execution_date", "use '{{ data_interval_start }}'"},
      {"prev_execution_date_success", "use '{{ prev_data_interval_start_success }}'"},
      {"tomorrow_ds", "compute it from '{{ ds }}' in the command"},
      {"tomorrow_ds_nodash", "compute it from '{{ ds }}' in the command"},
      {"yesterday_ds", "compute it from '{{ ds }}' in the command"},
      {"yesterday_ds_nodash", "compute it from '{{ ds }}' in the command"},
  };
  auto it = kRemoved.find(path);
  if (it == kRemoved.end()) return "";
  return "Airflow 3 no longer has '" + path + "'; " + it->second;
}

std::string FormatPythonIsoTime(Time t, char sep) {
  // FormatTime gives "2026-01-01T00:00:00Z" or "2026-01-01T00:00:00.123Z".
  std::string text = FormatTime(t);
  if (!text.empty() && text.back() == 'Z') text.pop_back();
  if (text.size() > 10) text[10] = sep;
  const int64_t ms = ((ToUnixMillis(t) % 1000) + 1000) % 1000;
  const size_t dot = text.find('.');
  if (dot != std::string::npos) text.resize(dot);
  if (ms != 0) {
    char frac[8];
    std::snprintf(frac, sizeof frac, ".%03d000", static_cast<int>(ms));
    text += frac;
  }
  return text + "+00:00";
}

nlohmann::json RunTemplateValues(const RunTemplateInput& in) {
  const std::string ds = FormatDate(in.logical_date);
  std::string ds_nodash = ds;
  std::erase(ds_nodash, '-');
  const std::string ts = FormatPythonIsoTime(in.logical_date);
  // strftime("%Y%m%dT%H%M%S"): whole seconds, no zone.
  std::string ts_nodash = ts.substr(0, 19);
  std::erase(ts_nodash, '-');
  std::erase(ts_nodash, ':');
  std::string ts_nodash_with_tz = ts;
  std::erase(ts_nodash_with_tz, '-');
  std::erase(ts_nodash_with_tz, ':');
  const std::string logical = FormatPythonIsoTime(in.logical_date, ' ');
  const std::string start = FormatPythonIsoTime(in.data_interval_start, ' ');
  const std::string end = FormatPythonIsoTime(in.data_interval_end, ' ');
  return {{"ds", ds},
          {"ds_nodash", ds_nodash},
          {"ts", ts},
          {"ts_nodash", ts_nodash},
          {"ts_nodash_with_tz", ts_nodash_with_tz},
          {"logical_date", logical},
          {"data_interval_start", start},
          {"data_interval_end", end},
          {"run_id", in.run_id},
          {"task_instance_key_str", in.dag_id + "__" + in.task_id + "__" + ds_nodash},
          {"dag_run",
           {{"dag_id", in.dag_id},
            {"run_id", in.run_id},
            {"run_type", in.run_type},
            {"logical_date", logical},
            {"data_interval_start", start},
            {"data_interval_end", end},
            {"conf", in.conf}}}};
}

const std::vector<std::string>& PreviousSuccessTemplateVariables() {
  static const std::vector<std::string> kVariables = {
      "prev_data_interval_start_success",
      "prev_data_interval_end_success",
      "prev_start_date_success",
      "prev_end_date_success",
  };
  return kVariables;
}

nlohmann::json PreviousSuccessTemplateValues(const std::optional<PreviousSuccessfulRun>& prev) {
  auto str = [](const std::optional<Time>& t) {
    return t ? FormatPythonIsoTime(*t, ' ') : std::string("None");
  };
  return {
      {"prev_data_interval_start_success",
       str(prev ? std::optional<Time>(prev->data_interval_start) : std::nullopt)},
      {"prev_data_interval_end_success",
       str(prev ? std::optional<Time>(prev->data_interval_end) : std::nullopt)},
      {"prev_start_date_success", str(prev ? prev->start_date : std::nullopt)},
      {"prev_end_date_success", str(prev ? prev->end_date : std::nullopt)},
  };
}

bool ReferencesAnyOf(const nlohmann::json& value, const std::vector<std::string>& names) {
  if (value.is_string()) {
    const std::string& text = value.get_ref<const std::string&>();
    if (text.find("{{") == std::string::npos) return false;
    Result<std::vector<TemplateRef>> refs = ParseTemplate(text);
    if (!refs.ok()) return false;
    for (const TemplateRef& ref : *refs) {
      if (std::find(names.begin(), names.end(), ref.path) != names.end()) return true;
    }
    return false;
  }
  if (value.is_object() || value.is_array()) {
    for (const auto& item : value) {
      if (ReferencesAnyOf(item, names)) return true;
    }
  }
  return false;
}

}  // namespace sp::dag
