// Kubernetes Status bodies -> Status; see api_error.h.
#include "k8s/api_error.h"

namespace sp::k8s {

namespace {

using nlohmann::json;

std::string StringField(const json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// `deployments.apps` or `deployments.apps/status`.
std::string ResourceName(const RequestContext& c) {
  std::string name = c.ref.type.QualifiedName();
  if (!c.subresource.empty()) name += "/" + c.subresource;
  return name;
}

// `create deployments.apps "x" in namespace "ns"` (the object name when known).
std::string Prefix(const RequestContext& c) {
  std::string d = ResourceName(c);
  if (!c.ref.name.empty()) d += " \"" + c.ref.name + "\"";
  if (c.ref.type.namespaced()) {
    d += c.ref.namespace_name.empty() ? " in all namespaces"
                                      : " in namespace \"" + c.ref.namespace_name + "\"";
  }
  return std::string(VerbName(c.verb)) + " " + d;
}

// A short, single-line excerpt of a body that is not a Status.
std::string Excerpt(std::string_view body) {
  std::string out;
  for (char ch : body.substr(0, 200)) out.push_back(ch == '\n' || ch == '\r' ? ' ' : ch);
  if (body.size() > 200) out += "...";
  return out;
}

std::string Causes(const ApiStatus& s) {
  std::string out;
  for (const ApiStatus::Cause& c : s.causes) {
    if (!out.empty()) out += "; ";
    out += c.field.empty() ? c.message : c.field + ": " + c.message;
  }
  return out;
}

// From `User "system:serviceaccount:ns:sa" cannot create resource ...`, the user; or "".
std::string RbacUser(const std::string& message) {
  static constexpr std::string_view kUser = "User \"";
  size_t at = message.find(kUser);
  if (at == std::string::npos || message.find(" cannot ", at) == std::string::npos) return "";
  size_t start = at + kUser.size();
  size_t end = message.find('"', start);
  return end == std::string::npos ? "" : message.substr(start, end - start);
}

Status Forbidden(const RequestContext& c, const std::optional<ApiStatus>& s,
                 std::string_view body) {
  const std::string verb = VerbName(c.verb);
  std::string target = ResourceName(c);
  if (c.ref.type.namespaced()) {
    target += c.ref.namespace_name.empty() ? " in any namespace"
                                           : " in namespace \"" + c.ref.namespace_name + "\"";
  }
  std::string message = "forbidden: sparkplane may not " + verb + " " + target;
  std::string server_message = s ? s->message : Excerpt(body);
  std::string user = s ? RbacUser(s->message) : "";
  if (!user.empty()) {
    std::string resource(c.ref.type.plural);
    if (!c.subresource.empty()) resource += "/" + c.subresource;
    message += " (it is authenticated as \"" + user + "\"; grant it verb \"" + verb +
               "\" on resource \"" + resource + "\" in API group \"" +
               std::string(c.ref.type.Group()) + "\" with a " +
               (c.ref.type.namespaced() && !c.ref.namespace_name.empty()
                    ? "Role and RoleBinding in namespace \"" + c.ref.namespace_name + "\""
                    : "ClusterRole and ClusterRoleBinding") +
               ")";
  } else if (!server_message.empty()) {
    message += ": " + server_message;
  }
  return PermissionDeniedError(message);
}

}  // namespace

const char* VerbName(Verb verb) {
  switch (verb) {
    case Verb::kGet:
      return "get";
    case Verb::kList:
      return "list";
    case Verb::kWatch:
      return "watch";
    case Verb::kCreate:
      return "create";
    case Verb::kUpdate:
      return "update";
    case Verb::kPatch:
      return "patch";
    case Verb::kDelete:
      return "delete";
  }
  return "?";
}

std::optional<ApiStatus> ApiStatusFromJson(const json& object) {
  if (!object.is_object() || StringField(object, "kind") != "Status") return std::nullopt;
  ApiStatus s;
  if (auto code = object.find("code"); code != object.end() && code->is_number_integer()) {
    s.code = code->get<int>();
  }
  s.reason = StringField(object, "reason");
  s.message = StringField(object, "message");
  if (auto details = object.find("details"); details != object.end() && details->is_object()) {
    s.details_name = StringField(*details, "name");
    s.details_group = StringField(*details, "group");
    s.details_kind = StringField(*details, "kind");
    if (auto causes = details->find("causes"); causes != details->end() && causes->is_array()) {
      for (const json& cause : *causes) {
        if (!cause.is_object()) continue;
        s.causes.push_back(ApiStatus::Cause{StringField(cause, "field"),
                                            StringField(cause, "reason"),
                                            StringField(cause, "message")});
      }
    }
  }
  return s;
}

std::optional<ApiStatus> ParseApiStatus(std::string_view body) {
  json object = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (object.is_discarded()) return std::nullopt;
  return ApiStatusFromJson(object);
}

Status ApiErrorToStatus(const RequestContext& c, long http_code, std::string_view body) {
  std::optional<ApiStatus> s = ParseApiStatus(body);
  const std::string prefix = Prefix(c);
  std::string server_message = s ? s->message : Excerpt(body);
  auto with_server = [&](const std::string& what) {
    return server_message.empty() ? prefix + ": " + what
                                  : prefix + ": " + what + ": " + server_message;
  };
  switch (http_code) {
    case 401:
      return UnauthenticatedError(
          "the API server " + c.server + " rejected the credentials (" + c.credential_source +
          ") when trying to " + prefix + ": " +
          (server_message.empty() ? std::string("Unauthorized") : server_message) +
          "; they may have expired or belong to another cluster");
    case 403:
      return Forbidden(c, s, body);
    case 404: {
      // The server names what is missing; say only "not found" when that is our own object.
      bool same_object = s && !c.ref.name.empty() && s->details_name == c.ref.name &&
                         s->details_kind == c.ref.type.plural;
      if (same_object || server_message.empty()) return NotFoundError(prefix + ": not found");
      return NotFoundError(prefix + ": " + server_message);
    }
    case 409:
      if (s && s->reason == "AlreadyExists") return AlreadyExistsError(prefix + ": already exists");
      return AbortedError(with_server("conflict"));
    case 410:
      return AbortedError(with_server("expired (list again and retry)"));
    case 400:
    case 422: {
      std::string causes = s ? Causes(*s) : "";
      std::string what = http_code == 422 ? "invalid" : "bad request";
      if (causes.empty()) return InvalidArgumentError(with_server(what));
      return InvalidArgumentError(prefix + ": " + what + ": " + causes);
    }
    case 429:
      return UnavailableError(with_server("the API server " + c.server +
                                          " is throttling requests (429 Too Many Requests)"));
    default:
      break;
  }
  if (http_code >= 500) {
    return UnavailableError(with_server("the API server " + c.server + " failed (HTTP " +
                                        std::to_string(http_code) + ")"));
  }
  return FailedPreconditionError(with_server("HTTP " + std::to_string(http_code)));
}

}  // namespace sp::k8s
