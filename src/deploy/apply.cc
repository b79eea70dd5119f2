// ApplyObjects and DeleteObjects (see apply.h).
#include "deploy/apply.h"

#include <algorithm>
#include <cctype>
#include <thread>

#include "common/join.h"

namespace sp::deploy {
namespace {

using nlohmann::json;

// The object without the fields every write changes, to tell "configured" from "unchanged"
// in a dry run (whose answer keeps the stored resourceVersion).
json WithoutVolatileFields(json object) {
  if (object.contains("metadata") && object["metadata"].is_object()) {
    object["metadata"].erase("managedFields");
    object["metadata"].erase("resourceVersion");
  }
  return object;
}

// Applies one object whose namespace exists.
ObjectOutcome ApplyOne(k8s::KubeClient& client, const DeployObject& d, const std::string& ns,
                       const ApplyOptions& options) {
  ObjectOutcome out;
  out.object = ObjectLabel(d.ref.type, d.ref.name);
  out.namespace_name = d.ref.type.namespaced() ? ns : "";
  out.component = d.component;
  out.outcome = "failed";
  Result<json> before = client.Get(d.ref);
  if (!before.ok() && before.status().code() != StatusCode::kNotFound) {
    out.error = before.status();
    return out;
  }
  json object = d.object;
  if (!d.generated_keys.empty()) {
    if (before.ok()) {
      out.outcome = "unchanged";
      out.note = " (exists: its generated " + Join(d.generated_keys, ", ") +
                 " is kept; delete the Secret to generate another)";
      return out;
    }
    for (const std::string& key : d.generated_keys) {
      object["stringData"][key] = options.new_secret();
    }
    out.note = " with a random " + Join(d.generated_keys, ", ");
  }
  const k8s::ApplyConflicts conflicts =
      options.force_conflicts ? k8s::ApplyConflicts::kForce : k8s::ApplyConflicts::kFail;
  Result<json> after = client.ServerSideApply(d.ref, object, conflicts, options.dry_run);
  if (!after.ok()) {
    out.error = after.status();
    if (out.error.code() == StatusCode::kAborted && !options.force_conflicts) {
      out.error = Status(out.error.code(),
                         out.error.message() + " (--force-conflicts takes the fields over)");
    }
    out.note.clear();
    return out;
  }
  if (!before.ok()) {
    out.outcome = "created";
  } else if (StringAt(*before, "/metadata/resourceVersion"_json_pointer) ==
                 StringAt(*after, "/metadata/resourceVersion"_json_pointer) &&
             (!options.dry_run ||
              WithoutVolatileFields(*before) == WithoutVolatileFields(*after))) {
    out.outcome = "unchanged";
  } else {
    out.outcome = "configured";
  }
  return out;
}

}  // namespace

std::string ObjectLabel(const k8s::ResourceType& type, const std::string& name) {
  std::string kind(type.kind);
  std::transform(kind.begin(), kind.end(), kind.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  std::string group(type.Group());
  return kind + (group.empty() ? "" : "." + group) + "/" + name;
}

Result<NamespaceState> EnsureNamespace(k8s::KubeClient& client, const std::string& ns,
                                       bool dry_run) {
  Result<json> got = client.Get(k8s::ClusterRef(k8s::kNamespaces, ns));
  if (got.ok()) return NamespaceState::kExists;
  if (got.status().code() == StatusCode::kPermissionDenied) return NamespaceState::kExists;
  if (got.status().code() != StatusCode::kNotFound) return got.status();
  if (dry_run) return NamespaceState::kMissing;
  Result<json> created =
      client.Create(k8s::ClusterRef(k8s::kNamespaces), json{{"metadata", {{"name", ns}}}});
  if (!created.ok() && created.status().code() != StatusCode::kAlreadyExists) {
    return created.status();
  }
  return NamespaceState::kCreated;
}

std::vector<ObjectOutcome> ApplyObjects(
    k8s::KubeClient& client, const std::vector<DeployObject>& objects, const std::string& ns,
    bool namespace_exists, const ApplyOptions& options,
    const std::function<void(const ObjectOutcome&)>& on_object) {
  std::vector<ObjectOutcome> outcomes;
  for (const DeployObject& d : objects) {
    ObjectOutcome out;
    if (!namespace_exists && d.ref.type.namespaced()) {
      out.object = ObjectLabel(d.ref.type, d.ref.name);
      out.namespace_name = ns;
      out.component = d.component;
      out.outcome = "skipped";
      out.note = ": namespace " + ns + " does not exist";
    } else {
      out = ApplyOne(client, d, ns, options);
    }
    on_object(out);
    outcomes.push_back(std::move(out));
  }
  return outcomes;
}

Result<std::vector<ObjectOutcome>> DeleteObjects(
    k8s::KubeClient& client, const std::vector<k8s::ResourceType>& kinds, const std::string& ns,
    const std::string& selector, bool dry_run, std::chrono::seconds timeout, const Clock& clock,
    const std::function<void(const ObjectOutcome&)>& on_object) {
  k8s::ListOptions list;
  list.label_selector = selector;
  std::vector<k8s::ResourceRef> deleting;
  std::vector<ObjectOutcome> outcomes;
  for (const k8s::ResourceType& type : kinds) {
    ASSIGN_OR_RETURN(
        k8s::ObjectList found,
        client.ListAll(type.namespaced() ? k8s::Ref(type, ns) : k8s::ClusterRef(type), list));
    for (const json& item : found.items) {
      // Cluster-scoped objects are shared: only those reserved for this namespace's claims.
      if (!type.namespaced() && StringAt(item, "/spec/claimRef/namespace"_json_pointer) != ns)
        continue;
      k8s::ResourceRef ref = k8s::Ref(type, type.namespaced() ? ns : "", NameOf(item));
      ObjectOutcome out;
      out.object = ObjectLabel(type, ref.name);
      out.namespace_name = type.namespaced() ? ns : "";
      if (dry_run) {
        out.outcome = "would be deleted";
      } else {
        k8s::DeleteOptions foreground;
        foreground.propagation = k8s::Propagation::kForeground;
        ASSIGN_OR_RETURN(bool deleted, client.Delete(ref, foreground));
        out.outcome = deleted ? "deleted" : "already gone";
        deleting.push_back(ref);
      }
      on_object(out);
      outcomes.push_back(std::move(out));
    }
  }
  const Time deadline = clock.Now() + timeout;
  while (!deleting.empty()) {
    std::vector<k8s::ResourceRef> remaining;
    std::vector<std::string> waiting_for;
    for (const k8s::ResourceRef& ref : deleting) {
      Result<json> got = client.Get(ref);
      if (!got.ok() && got.status().code() == StatusCode::kNotFound) continue;
      if (!got.ok()) return got.status();
      remaining.push_back(ref);
      std::string finalizers;
      for (const json& f : got->value("/metadata/finalizers"_json_pointer, json::array())) {
        if (f.is_string()) finalizers += (finalizers.empty() ? "" : ", ") + f.get<std::string>();
      }
      waiting_for.push_back(ObjectLabel(ref.type, ref.name) +
                            (finalizers.empty() ? "" : " (finalizers: " + finalizers + ")"));
    }
    deleting = std::move(remaining);
    if (deleting.empty()) break;
    if (clock.Now() > deadline) {
      return DeadlineExceededError("after " + std::to_string(timeout.count()) +
                                   " s these objects still exist: " + Join(waiting_for, "; ") +
                                   " (see `kubectl -n " + ns + " describe` for why)");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  return outcomes;
}

}  // namespace sp::deploy
