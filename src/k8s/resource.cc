// REST paths and query strings for Kubernetes resources; see resource.h.
#include "k8s/resource.h"

namespace sp::k8s {

namespace {

bool IsUnreserved(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

std::string PercentEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (IsUnreserved(c)) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
  }
  return out;
}

}  // namespace

std::string_view ResourceType::Group() const {
  size_t slash = api_version.find('/');
  return slash == std::string_view::npos ? std::string_view() : api_version.substr(0, slash);
}

std::string ResourceType::QualifiedName() const {
  std::string name(plural);
  std::string_view group = Group();
  if (!group.empty()) name += "." + std::string(group);
  return name;
}

std::string ResourceRef::CollectionPath() const {
  std::string path = type.Group().empty() ? "/api/" : "/apis/";
  path += type.api_version;
  if (type.namespaced() && !namespace_name.empty()) {
    path += "/namespaces/" + EscapePathSegment(namespace_name);
  }
  path += "/";
  path += type.plural;
  return path;
}

std::string ResourceRef::Path() const {
  std::string path = CollectionPath();
  if (!name.empty()) path += "/" + EscapePathSegment(name);
  return path;
}

std::string ResourceRef::Describe() const {
  std::string d = type.QualifiedName();
  if (!name.empty()) d += " \"" + name + "\"";
  if (type.namespaced()) {
    d += namespace_name.empty() ? " in all namespaces" : " in namespace \"" + namespace_name + "\"";
  }
  return d;
}

std::string EscapeQueryValue(std::string_view value) {
  return PercentEncode(value);
}

std::string EscapePathSegment(std::string_view segment) {
  return PercentEncode(segment);
}

Query& Query::Add(std::string key, std::string value) {
  if (!value.empty()) params_.emplace_back(std::move(key), std::move(value));
  return *this;
}

std::string Query::Encode() const {
  std::string out;
  for (const auto& [key, value] : params_) {
    out += out.empty() ? "?" : "&";
    out += PercentEncode(key) + "=" + PercentEncode(value);
  }
  return out;
}

}  // namespace sp::k8s
