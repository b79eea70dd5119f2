// FieldReader; see fields.h.
#include "operators/internal/fields.h"

#include <cctype>
#include <cerrno>
#include <cstdlib>

#include "common/join.h"
#include "common/nearest_name.h"
#include "dag/cron.h"

namespace sp::operators::internal {

namespace {

std::optional<int64_t> ParseDigits(const std::string& s) {
  std::string t = s;
  while (!t.empty() && std::isspace(static_cast<unsigned char>(t.back()))) t.pop_back();
  size_t start = 0;
  while (start < t.size() && std::isspace(static_cast<unsigned char>(t[start]))) ++start;
  t = t.substr(start);
  if (t.empty()) return std::nullopt;
  size_t digits_from = t[0] == '-' ? 1 : 0;
  if (digits_from == t.size()) return std::nullopt;
  for (size_t i = digits_from; i < t.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(t[i]))) return std::nullopt;
  }
  errno = 0;
  long long v = std::strtoll(t.c_str(), nullptr, 10);
  if (errno == ERANGE) return std::nullopt;
  return static_cast<int64_t>(v);
}

std::vector<std::string> SplitCommas(const std::string& s) {
  std::vector<std::string> out;
  size_t begin = 0;
  while (begin <= s.size()) {
    size_t comma = s.find(',', begin);
    std::string item =
        s.substr(begin, comma == std::string::npos ? std::string::npos : comma - begin);
    size_t a = item.find_first_not_of(" \t");
    size_t b = item.find_last_not_of(" \t");
    item = a == std::string::npos ? "" : item.substr(a, b - a + 1);
    if (!item.empty()) out.push_back(item);
    if (comma == std::string::npos) break;
    begin = comma + 1;
  }
  return out;
}

}  // namespace

bool IsTemplated(const nlohmann::json& v) {
  return v.is_string() && v.get_ref<const std::string&>().find("{{") != std::string::npos;
}

std::string Describe(const nlohmann::json& v) {
  std::string text = v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  return std::string(v.type_name()) + " " + text;
}

FieldReader::FieldReader(const nlohmann::json& fields, FieldPhase phase)
    : fields_(fields), phase_(phase) {}

const nlohmann::json* FieldReader::Find(const std::string& key) const {
  if (!fields_.is_object()) return nullptr;
  auto it = fields_.find(key);
  if (it == fields_.end() || it->is_null()) return nullptr;
  return &*it;
}

bool FieldReader::Has(const std::string& key) const {
  return Find(key) != nullptr;
}

bool FieldReader::Deferred(const std::string& key) const {
  const nlohmann::json* v = Find(key);
  return v != nullptr && phase_ == FieldPhase::kUnrendered && IsTemplated(*v);
}

std::optional<std::string> FieldReader::ScalarText(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return std::string(v.get<bool>() ? "true" : "false");
  if (v.is_number_integer()) return v.dump();
  if (v.is_number_float()) return v.dump();
  return std::nullopt;
}

std::optional<std::string> FieldReader::String(const std::string& key) {
  const nlohmann::json* v = Find(key);
  if (v == nullptr || Deferred(key)) return std::nullopt;
  if (!v->is_string()) {
    Problem(key, "expected a string; got " + Describe(*v));
    return std::nullopt;
  }
  return v->get<std::string>();
}

std::optional<std::string> FieldReader::RequiredString(const std::string& key,
                                                       const std::string& hint) {
  const nlohmann::json* v = Find(key);
  if (v == nullptr) {
    Problem(key, "missing required field '" + key + "'" + (hint.empty() ? "" : ": " + hint));
    return std::nullopt;
  }
  std::optional<std::string> s = String(key);
  if (s && s->find_first_not_of(" \t\r\n") == std::string::npos) {
    Problem(key, "must not be empty" + (hint.empty() ? "" : std::string(": ") + hint));
    return std::nullopt;
  }
  return s;
}

std::optional<std::string> FieldReader::Choice(const std::string& key,
                                               const std::vector<std::string>& allowed) {
  std::optional<std::string> s = String(key);
  if (!s) return std::nullopt;
  for (const std::string& a : allowed) {
    if (*s == a) return s;
  }
  std::string near = NearestName(*s, allowed);
  Problem(key, "expected " + JoinAlternatives(allowed) + "; got '" + *s + "'" +
                   (near.empty() ? "" : " (did you mean '" + near + "'?)"));
  return std::nullopt;
}

std::optional<int64_t> FieldReader::Int(const std::string& key, int64_t min, int64_t max) {
  const nlohmann::json* v = Find(key);
  if (v == nullptr || Deferred(key)) return std::nullopt;
  std::optional<int64_t> value;
  if (v->is_number_integer()) {
    value = v->get<int64_t>();
  } else if (v->is_string()) {
    value = ParseDigits(v->get<std::string>());
  }
  std::string range = max == INT64_MAX
                          ? "an integer >= " + std::to_string(min)
                          : "an integer from " + std::to_string(min) + " to " + std::to_string(max);
  if (!value) {
    Problem(key, "expected " + range + "; got " + Describe(*v));
    return std::nullopt;
  }
  if (*value < min || *value > max) {
    Problem(key, "expected " + range + "; got " + std::to_string(*value));
    return std::nullopt;
  }
  return value;
}

std::optional<std::vector<std::string>> FieldReader::StringList(const std::string& key,
                                                                ListForm form) {
  const nlohmann::json* v = Find(key);
  if (v == nullptr) return std::nullopt;
  if (v->is_string()) {
    if (Deferred(key)) return std::nullopt;
    if (form == ListForm::kSingleItem) return std::vector<std::string>{v->get<std::string>()};
    return SplitCommas(v->get<std::string>());
  }
  if (!v->is_array()) {
    Problem(key, "expected a list of strings; got " + Describe(*v));
    return std::nullopt;
  }
  std::vector<std::string> items;
  bool ok = true;
  for (size_t i = 0; i < v->size(); ++i) {
    std::optional<std::string> item = ScalarText((*v)[i]);
    if (!item) {
      Problem(key, key + "[" + std::to_string(i) + "]",
              "expected a string; got " + Describe((*v)[i]));
      ok = false;
      continue;
    }
    items.push_back(std::move(*item));
  }
  if (!ok) return std::nullopt;
  return items;
}

std::optional<std::map<std::string, std::string>> FieldReader::StringMap(const std::string& key) {
  const nlohmann::json* v = Find(key);
  if (v == nullptr || Deferred(key)) return std::nullopt;
  if (!v->is_object()) {
    Problem(key, "expected a mapping of names to values; got " + Describe(*v));
    return std::nullopt;
  }
  std::map<std::string, std::string> out;
  bool ok = true;
  for (const auto& [name, value] : v->items()) {
    std::optional<std::string> text = ScalarText(value);
    if (!text) {
      Problem(key, key + "." + name,
              "expected a string, number or boolean; got " + Describe(value));
      ok = false;
      continue;
    }
    out[name] = std::move(*text);
  }
  if (!ok) return std::nullopt;
  return out;
}

std::optional<Millis> FieldReader::Duration(const std::string& key) {
  const nlohmann::json* v = Find(key);
  if (v == nullptr || Deferred(key)) return std::nullopt;
  std::optional<Millis> d;
  if (v->is_number_integer()) {
    d = Millis(v->get<int64_t>() * 1000);
  } else if (v->is_string()) {
    Result<Millis> parsed = dag::ParseDuration(v->get<std::string>());
    if (parsed.ok()) d = *parsed;
  }
  if (!d) {
    Problem(key, "expected a duration such as 30s, 5m or 1h30m; got " + Describe(*v));
    return std::nullopt;
  }
  if (d->count() <= 0) {
    Problem(key, "must be a positive duration; got " + Describe(*v));
    return std::nullopt;
  }
  return d;
}

void FieldReader::Problem(const std::string& key, const std::string& field,
                          const std::string& message) {
  problems_.push_back({key, field, message});
}

std::string FieldReader::FirstProblem() const {
  if (problems_.empty()) return "";
  return problems_[0].field + ": " + problems_[0].message;
}

void AppendDagErrors(const dag::TaskSpec& spec, const std::vector<FieldProblem>& problems,
                     std::vector<dag::DagError>* errors) {
  for (const FieldProblem& p : problems) {
    dag::DagError e;
    auto loc = spec.field_locations.find(p.key);
    e.location = loc != spec.field_locations.end() ? loc->second : spec.location;
    e.field = p.field;  // the loader places it within the task ("tasks[2].conf")
    e.message = p.message;
    errors->push_back(std::move(e));
  }
}

}  // namespace sp::operators::internal
