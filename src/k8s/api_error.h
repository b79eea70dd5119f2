// Turning Kubernetes API failures into Status values with messages for users.
//
// The API server answers failures with a metav1.Status body ({"kind":"Status","reason":...,
// "message":...,"details":{"causes":[{"field":...,"message":...}]},"code":N}). The mapping keeps
// the retry meaning of the codes (status.h):
//   401 -> Unauthenticated      the credentials were rejected (names where they came from)
//   403 -> PermissionDenied     "forbidden: sparkplane may not create deployments.apps in
//                               namespace "x" ..." (RBAC denials also name the user and the rule
//                               to grant)
//   404 -> NotFound             410 -> Aborted (expired; relist)
//   409 -> AlreadyExists (create on an existing name) or Aborted (conflict: re-read and retry)
//   422, 400 -> InvalidArgument with every field cause ("spec.replicas: Invalid value: ...")
//   429, 5xx -> Unavailable     other 4xx -> FailedPrecondition
// Transport failures: TLS verification -> FailedPrecondition naming the CA source;
// unreachable / timeouts -> Unavailable naming the server URL.
//
// Thread safety: pure functions.
#pragma once

#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "k8s/resource.h"

namespace sp::k8s {

// The Kubernetes API verbs (RBAC names). A server-side apply is a patch.
enum class Verb { kGet, kList, kWatch, kCreate, kUpdate, kPatch, kDelete };
inline constexpr int kVerbCount = 7;
const char* VerbName(Verb verb);  // "get", "list", ...

// The fields of a metav1.Status failure body that messages use.
struct ApiStatus {
  struct Cause {
    std::string field;    // "spec.replicas"; may be empty
    std::string reason;   // "FieldValueInvalid"
    std::string message;  // "Invalid value: -1: must be greater than or equal to 0"
  };
  int code = 0;
  std::string reason;  // "Forbidden", "AlreadyExists", "Conflict", "Invalid", "Expired", ...
  std::string message;
  std::string details_name;
  std::string details_group;
  std::string details_kind;
  std::vector<Cause> causes;
};

// nullopt when `body` is not a Status object (a proxy's HTML page, an empty body).
std::optional<ApiStatus> ParseApiStatus(std::string_view body);
std::optional<ApiStatus> ApiStatusFromJson(const nlohmann::json& object);

// What was being done when the failure happened, for the message.
struct RequestContext {
  Verb verb = Verb::kGet;
  ResourceRef ref;
  std::string subresource;        // "status" for PatchStatus
  std::string server;             // "https://127.0.0.1:6443"
  std::string credential_source;  // KubeConfig::CredentialSource()
};

// Maps an HTTP failure (`http_code` >= 400) with its body to a Status.
Status ApiErrorToStatus(const RequestContext& context, long http_code, std::string_view body);

}  // namespace sp::k8s
