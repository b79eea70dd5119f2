// YAML -> JSON conversion with YAML 1.2 core-schema typing; see yaml_json.h.
#include "dag/internal/yaml_json.h"

#include <charconv>
#include <cstdint>
#include <optional>
#include <string_view>

namespace sp::dag::internal {
namespace {

constexpr std::string_view kIntTag = "tag:yaml.org,2002:int";
constexpr std::string_view kFloatTag = "tag:yaml.org,2002:float";
constexpr std::string_view kBoolTag = "tag:yaml.org,2002:bool";

bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}

std::optional<nlohmann::json> AsInt(std::string_view s) {
  if (s.empty()) return std::nullopt;
  bool negative = false;
  std::string_view body = s;
  if (body.front() == '+' || body.front() == '-') {
    negative = body.front() == '-';
    body.remove_prefix(1);
  }
  int base = 10;
  if (body.size() > 2 && body[0] == '0' && (body[1] == 'x' || body[1] == 'o')) {
    if (negative || s.front() == '+') return std::nullopt;  // the core schema has no signed hex
    base = body[1] == 'x' ? 16 : 8;
    body.remove_prefix(2);
  }
  if (body.empty()) return std::nullopt;
  uint64_t magnitude = 0;
  auto [ptr, ec] = std::from_chars(body.data(), body.data() + body.size(), magnitude, base);
  if (ec != std::errc() || ptr != body.data() + body.size()) return std::nullopt;
  if (negative) {
    if (magnitude > uint64_t{1} << 63) return std::nullopt;
    return nlohmann::json(static_cast<int64_t>(0 - magnitude));
  }
  if (magnitude <= static_cast<uint64_t>(INT64_MAX)) {
    return nlohmann::json(static_cast<int64_t>(magnitude));
  }
  return nlohmann::json(magnitude);
}

// [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?  (infinities and NaN have no JSON form)
std::optional<nlohmann::json> AsFloat(std::string_view s) {
  size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  size_t int_digits = 0, frac_digits = 0;
  while (i < s.size() && IsDigit(s[i])) ++i, ++int_digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && IsDigit(s[i])) ++i, ++frac_digits;
  }
  if (int_digits == 0 && frac_digits == 0) return std::nullopt;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    size_t exp_digits = 0;
    while (i < s.size() && IsDigit(s[i])) ++i, ++exp_digits;
    if (exp_digits == 0) return std::nullopt;
  }
  if (i != s.size()) return std::nullopt;
  double v = 0;
  const char* begin = s.data() + (s[0] == '+' ? 1 : 0);
  auto [ptr, ec] = std::from_chars(begin, s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return nlohmann::json(v);
}

std::optional<bool> AsBool(std::string_view s) {
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  return std::nullopt;
}

}  // namespace

SourceLocation LocationOf(const YamlMark& mark, const std::string& file) {
  return SourceLocation{file, mark.line, mark.column};
}

SourceLocation LocationOf(const YamlNode& node, const std::string& file) {
  return LocationOf(node.mark(), file);
}

nlohmann::json ScalarToJson(const YamlNode& scalar) {
  const std::string& text = scalar.scalar();
  const std::string& tag = scalar.tag();
  if (tag.empty()) {
    if (!scalar.plain()) return text;  // quoted or a block scalar
    if (auto b = AsBool(text)) return *b;
    if (auto i = AsInt(text)) return *i;
    if (auto f = AsFloat(text)) return *f;
    return text;
  }
  if (tag == kIntTag) {
    if (auto i = AsInt(text)) return *i;
  } else if (tag == kFloatTag) {
    if (auto f = AsFloat(text)) return *f;
    if (auto i = AsInt(text)) return static_cast<double>(i->get<int64_t>());
  } else if (tag == kBoolTag) {
    if (auto b = AsBool(text)) return *b;
  }
  // "!", !!str and unknown tags: the text as is.
  return text;
}

std::string DescribeNode(const YamlNode& node) {
  switch (node.kind()) {
    case YamlKind::kMapping:
      return "a mapping";
    case YamlKind::kSequence:
      return "a list";
    case YamlKind::kScalar:
      return "'" + node.scalar() + "'";
    default:
      return "nothing";
  }
}

namespace {

// More values than any DAG field needs; a few lines of nested aliases ("billion laughs") would
// otherwise expand into billions of copies.
constexpr size_t kMaxValues = 100'000;

// One YamlToJson call. The tree resolves an alias to the anchored node itself, so a value can
// contain itself ("&a [*a]") and every alias is converted again as a full copy: collections
// being converted are tracked to refuse cycles, and the values produced are counted.
class YamlJsonConverter {
 public:
  YamlJsonConverter(const std::string& file, std::vector<DagError>* errors,
                    std::vector<TemplateSite>* sites)
      : file_(file), errors_(errors), sites_(sites) {}

  nlohmann::json Convert(const YamlNode& node, const std::string& field) {
    if (failed_) return nullptr;
    if (++values_ > kMaxValues) {
      return Fail(node, field,
                  "the value is too large: more than " + std::to_string(kMaxValues) +
                      " items once YAML aliases are expanded");
    }
    switch (node.kind()) {
      case YamlKind::kScalar: {
        nlohmann::json v = ScalarToJson(node);
        if (sites_ != nullptr && v.is_string() &&
            v.get_ref<const std::string&>().find("{{") != std::string::npos) {
          sites_->push_back(TemplateSite{v.get<std::string>(), LocationOf(node, file_), field});
        }
        return v;
      }
      case YamlKind::kSequence:
      case YamlKind::kMapping: {
        if (open_.size() >= static_cast<size_t>(kMaxYamlDepth)) {
          return Fail(node, field,
                      "the value nests more than " + std::to_string(kMaxYamlDepth) +
                          " levels deep once YAML aliases are followed");
        }
        for (const YamlNode& open : open_) {
          if (open.SameAs(node)) {
            return Fail(node, field, "the value contains itself through a YAML alias");
          }
        }
        open_.push_back(node);
        nlohmann::json v = node.IsSequence() ? Sequence(node, field) : Map(node, field);
        open_.pop_back();
        return failed_ ? nlohmann::json(nullptr) : v;
      }
      default:
        return nullptr;
    }
  }

 private:
  nlohmann::json Fail(const YamlNode& node, const std::string& field, std::string message) {
    errors_->push_back(DagError{LocationOf(node, file_), field, std::move(message)});
    failed_ = true;
    return nullptr;
  }

  nlohmann::json Sequence(const YamlNode& node, const std::string& field) {
    nlohmann::json arr = nlohmann::json::array();
    size_t i = 0;
    for (YamlNode item : node.items()) {
      arr.push_back(Convert(item, field + "[" + std::to_string(i++) + "]"));
      if (failed_) break;
    }
    return arr;
  }

  nlohmann::json Map(const YamlNode& node, const std::string& field) {
    nlohmann::json obj = nlohmann::json::object();
    for (const auto& [key, value] : node.entries()) {
      if (!key.IsScalar()) {
        errors_->push_back(DagError{LocationOf(key, file_), field,
                                    "mapping keys must be strings; got " + DescribeNode(key)});
        continue;
      }
      const std::string& name = key.scalar();
      const std::string sub = field.empty() ? name : field + "." + name;
      if (obj.contains(name)) {
        errors_->push_back(DagError{LocationOf(key, file_), sub, "duplicate key '" + name + "'"});
        continue;
      }
      obj[name] = Convert(value, sub);
      if (failed_) break;
    }
    return obj;
  }

  const std::string& file_;
  std::vector<DagError>* errors_;
  std::vector<TemplateSite>* sites_;
  std::vector<YamlNode> open_;  // the collections being converted, outermost first
  size_t values_ = 0;
  bool failed_ = false;
};

}  // namespace

nlohmann::json YamlToJson(const YamlNode& node, const std::string& file, const std::string& field,
                          std::vector<DagError>* errors, std::vector<TemplateSite>* sites) {
  return YamlJsonConverter(file, errors, sites).Convert(node, field);
}

}  // namespace sp::dag::internal
