#include "airflow_import/yaml_writer.h"

#include <algorithm>
#include <cctype>
#include <regex>

namespace sp::airflow_import {
namespace {

using Json = nlohmann::ordered_json;

bool IsKeyword(const std::string& s) {
  std::string lower = s;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (const char* k : {"true", "false", "null", "yes", "no", "on", "off", "y", "n", "~"}) {
    if (lower == k) return true;
  }
  return false;
}

// Plain (unquoted) only when YAML reads the text back as this very string: a letter, '_' or '/'
// first, then letters, digits and a few punctuation marks that never start YAML syntax inside a
// scalar; or a date, which YAML 1.2's core schema keeps as a string.
bool PlainIsSafe(const std::string& s) {
  static const std::regex kPlain(R"([A-Za-z_/][A-Za-z0-9_./=+-]*( [A-Za-z0-9_./=+-]+)*)");
  static const std::regex kDate(R"(\d{4}-\d\d-\d\d(T\d\d:\d\d(:\d\d)?(Z|[+-]\d\d:\d\d)?)?)");
  // A number with units (30s, 1h30m, 512m): a string to YAML, unlike 0x1F or 1e3.
  static const std::regex kSize(R"([0-9]+[a-z]+([0-9]+[a-z]+)*)");
  if (s.empty() || IsKeyword(s)) return false;
  if (std::regex_match(s, kSize)) return s.rfind("0x", 0) != 0 && s.rfind("0o", 0) != 0;
  return std::regex_match(s, kPlain) || std::regex_match(s, kDate);
}

// A multi-line string that a literal block (|) keeps byte for byte.
bool LiteralIsSafe(const std::string& s) {
  if (s.find('\n') == std::string::npos || s.front() == ' ' || s.front() == '\n') return false;
  for (unsigned char c : s) {
    if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f) return false;
  }
  size_t trailing = 0;
  while (trailing < s.size() && s[s.size() - 1 - trailing] == '\n') ++trailing;
  if (trailing > 1) return false;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find('\n', start);
    if (end == std::string::npos) end = s.size();
    std::string line = s.substr(start, end - start);
    // A line of only blanks would be read as an empty line.
    if (!line.empty() && line.find_first_not_of(" \t") == std::string::npos) return false;
    start = end + 1;
  }
  return true;
}

bool IsScalar(const Json& v) {
  return !v.is_object() && !v.is_array();
}

void WriteValue(const Json& v, int indent, std::string* out);

void WriteMap(const Json& m, int indent, std::string* out, const YamlComments* comments) {
  const std::string pad(indent, ' ');
  for (const auto& [key, v] : m.items()) {
    *out += pad + YamlScalar(Json(key)) + ":";
    if (key == "tasks" && comments && v.is_array()) {
      *out += "\n";
      for (const Json& task : v) {
        *out += "\n";
        auto it = comments->tasks.find(task.value("id", ""));
        if (it != comments->tasks.end()) {
          for (const std::string& line : it->second) *out += pad + "  # " + line + "\n";
        }
        std::string item;
        WriteMap(task, indent + 4, &item, nullptr);
        item.replace(0, indent + 4, pad + "  - ");
        *out += item;
      }
      continue;
    }
    WriteValue(v, indent, out);
  }
}

// Writes what follows "key:" (or "- ") for a value at `indent`.
void WriteValue(const Json& v, int indent, std::string* out) {
  const std::string pad(indent, ' ');
  if (v.is_object()) {
    if (v.empty()) {
      *out += " {}\n";
      return;
    }
    *out += "\n";
    WriteMap(v, indent + 2, out, nullptr);
    return;
  }
  if (v.is_array()) {
    if (v.empty()) {
      *out += " []\n";
      return;
    }
    bool flow = std::all_of(v.begin(), v.end(), [](const Json& x) {
      return IsScalar(x) &&
             !(x.is_string() && x.get<std::string>().find('\n') != std::string::npos);
    });
    std::string text;
    for (const Json& x : v) text += (text.empty() ? "" : ", ") + YamlScalar(x);
    if (flow && text.size() + indent < 90) {
      *out += " [" + text + "]\n";
      return;
    }
    *out += "\n";
    for (const Json& x : v) {
      if (x.is_object() && !x.empty()) {
        std::string item;
        WriteMap(x, indent + 4, &item, nullptr);
        item.replace(0, indent + 4, pad + "  - ");
        *out += item;
      } else {
        *out += pad + "  -";
        WriteValue(x, indent + 2, out);
      }
    }
    return;
  }
  if (v.is_string() && LiteralIsSafe(v.get<std::string>())) {
    const std::string s = v.get<std::string>();
    *out += s.back() == '\n' ? " |\n" : " |-\n";
    size_t start = 0;
    std::string body = s.back() == '\n' ? s.substr(0, s.size() - 1) : s;
    while (start <= body.size()) {
      size_t end = body.find('\n', start);
      if (end == std::string::npos) end = body.size();
      std::string line = body.substr(start, end - start);
      *out += (line.empty() ? "" : pad + "  " + line) + "\n";
      start = end + 1;
    }
    return;
  }
  *out += " " + YamlScalar(v) + "\n";
}

}  // namespace

std::string YamlScalar(const Json& value) {
  if (value.is_string()) {
    const std::string s = value.get<std::string>();
    if (PlainIsSafe(s)) return s;
    return value.dump(-1, ' ', /*ensure_ascii=*/false, Json::error_handler_t::replace);
  }
  if (value.is_null()) return "null";
  if (IsScalar(value)) return value.dump();
  return "";
}

std::string WriteDagYaml(const Json& dag, const YamlComments& comments) {
  std::string out;
  for (const std::string& line : comments.header) {
    out += line.empty() ? "#\n" : "# " + line + "\n";
  }
  WriteMap(dag, 0, &out, &comments);
  return out;
}

}  // namespace sp::airflow_import
