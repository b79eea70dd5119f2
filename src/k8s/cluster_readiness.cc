// Deployment rollout tracking and not-ready explanations; see cluster_readiness.h.
#include "k8s/cluster_readiness.h"

#include <algorithm>
#include <set>

namespace sp::k8s {

namespace {

using nlohmann::json;

// Reads that never throw: a missing key or a value of another type gives the fallback.
const json& At(const json& object, const char* key) {
  static const json* const kNull = new json();  // never destroyed; immutable
  if (!object.is_object()) return *kNull;
  auto it = object.find(key);
  return it == object.end() ? *kNull : *it;
}
std::string Str(const json& object, const char* key) {
  const json& v = At(object, key);
  return v.is_string() ? v.get<std::string>() : "";
}
int64_t Int(const json& object, const char* key, int64_t fallback = 0) {
  const json& v = At(object, key);
  return v.is_number_integer() ? v.get<int64_t>() : fallback;
}
std::string Name(const json& object) {
  return Str(At(object, "metadata"), "name");
}

// The condition of `type` in status.conditions; null when absent.
const json& Condition(const json& object, const std::string& type) {
  const json& conditions = At(At(object, "status"), "conditions");
  if (conditions.is_array()) {
    for (const json& c : conditions) {
      if (Str(c, "type") == type) return c;
    }
  }
  return At(json(), "");
}

std::string Component(const json& pod) {
  std::string c = Str(At(At(pod, "metadata"), "labels"), "app.kubernetes.io/component");
  return c.empty() ? "" : c + " ";
}

std::string WithPeriod(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// The causes a pod shows, in order of relevance; empty when it is ready or terminating.
std::vector<std::string> PodCauses(const json& pod) {
  std::vector<std::string> causes;
  if (!At(At(pod, "metadata"), "deletionTimestamp").is_null()) return causes;
  if (Str(Condition(pod, "Ready"), "status") == "True") return causes;
  const json& scheduled = Condition(pod, "PodScheduled");
  if (Str(scheduled, "status") == "False") {
    std::string reason = Str(scheduled, "reason");
    std::string message = WithPeriod(Str(scheduled, "message"));
    causes.push_back("not scheduled" + (reason.empty() ? "" : " (" + reason + ")") +
                     (message.empty() ? "" : ": " + message));
    return causes;
  }
  bool running_unready = false;
  for (const char* list : {"initContainerStatuses", "containerStatuses"}) {
    const json& statuses = At(At(pod, "status"), list);
    if (!statuses.is_array()) continue;
    for (const json& cs : statuses) {
      std::string container = Str(cs, "name");
      const json& state = At(cs, "state");
      std::string last;
      const json& last_terminated = At(At(cs, "lastState"), "terminated");
      if (last_terminated.is_object()) {
        last = "; last exit code " + std::to_string(Int(last_terminated, "exitCode", -1));
        if (std::string r = Str(last_terminated, "reason"); !r.empty()) last += " (" + r + ")";
      }
      if (const json& waiting = At(state, "waiting"); waiting.is_object()) {
        std::string reason = Str(waiting, "reason");
        if (reason == "ContainerCreating" || reason == "PodInitializing") {
          causes.push_back("container " + container + " being created");
          continue;
        }
        std::string message = WithPeriod(Str(waiting, "message"));
        causes.push_back("container " + container + " waiting" +
                         (reason.empty() ? "" : " (" + reason + ")") +
                         (message.empty() ? "" : ": " + message) + last);
      } else if (const json& terminated = At(state, "terminated"); terminated.is_object()) {
        std::string reason = Str(terminated, "reason");
        std::string message = WithPeriod(Str(terminated, "message"));
        causes.push_back("container " + container + " exited with code " +
                         std::to_string(Int(terminated, "exitCode", -1)) +
                         (reason.empty() ? "" : " (" + reason + ")") +
                         (message.empty() ? "" : ": " + message));
      } else if (At(state, "running").is_object() && !At(cs, "ready").is_boolean()) {
        running_unready = true;
      } else if (At(state, "running").is_object() && !At(cs, "ready").get<bool>()) {
        running_unready = true;
        if (!last.empty()) causes.push_back("container " + container + " restarted" + last);
      }
    }
  }
  if (running_unready && causes.empty()) {
    causes.push_back("running but not ready (its readiness probe fails)");
  }
  if (causes.empty()) {
    std::string phase = Str(At(pod, "status"), "phase");
    causes.push_back((phase.empty() ? std::string("Pending") : phase) + ", not ready");
  }
  return causes;
}

// True when every reason of a kube-scheduler "0/N nodes are available: R1, R2. preemption: ..."
// message is one that cannot heal by itself.
bool UnschedulableForGood(const std::string& message) {
  const std::string lead = " nodes are available: ";
  size_t start = message.find(lead);
  if (start == std::string::npos) return false;
  start += lead.size();
  size_t end = message.find(". preemption:", start);
  std::string reasons =
      message.substr(start, end == std::string::npos ? std::string::npos : end - start);
  while (!reasons.empty() && (reasons.back() == '.' || reasons.back() == ' ')) reasons.pop_back();
  if (reasons.empty()) return false;
  size_t pos = 0;
  while (pos <= reasons.size()) {
    size_t comma = reasons.find(", ", pos);
    std::string reason =
        reasons.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    // "3 node(s) didn't match ..." has a count; "persistentvolumeclaim ..." has none.
    size_t digits = reason.find_first_not_of("0123456789");
    if (digits != 0 && digits != std::string::npos && reason[digits] == ' ') {
      reason = reason.substr(digits + 1);
    }
    bool missing_claim = reason.rfind("persistentvolumeclaim \"", 0) == 0 && reason.size() > 10 &&
                         reason.ends_with("\" not found");
    bool no_node_matches = reason == "node(s) didn't match Pod's node affinity/selector";
    if (!missing_claim && !no_node_matches) return false;
    if (comma == std::string::npos) break;
    pos = comma + 2;
  }
  return true;
}

}  // namespace

std::string PermanentPodFailure(const json& pod) {
  if (!At(At(pod, "metadata"), "deletionTimestamp").is_null()) return "";
  if (Str(Condition(pod, "Ready"), "status") == "True") return "";
  std::string who = Component(pod) + "pod " + Name(pod) + ": ";
  const json& scheduled = Condition(pod, "PodScheduled");
  if (Str(scheduled, "status") == "False" && Str(scheduled, "reason") == "Unschedulable" &&
      UnschedulableForGood(Str(scheduled, "message"))) {
    return who + "not scheduled (Unschedulable): " + WithPeriod(Str(scheduled, "message"));
  }
  static const std::set<std::string> kPermanentWaits = {"ErrImagePull", "ImagePullBackOff",
                                                        "InvalidImageName", "ErrImageNeverPull",
                                                        "CreateContainerConfigError"};
  for (const char* list : {"initContainerStatuses", "containerStatuses"}) {
    const json& statuses = At(At(pod, "status"), list);
    if (!statuses.is_array()) continue;
    for (const json& cs : statuses) {
      const json& waiting = At(At(cs, "state"), "waiting");
      std::string reason = Str(waiting, "reason");
      if (kPermanentWaits.count(reason) == 0) continue;
      std::string message = WithPeriod(Str(waiting, "message"));
      return who + "container " + Str(cs, "name") + " waiting (" + reason + ")" +
             (message.empty() ? "" : ": " + message);
    }
  }
  return "";
}

bool DeploymentRolledOut(const json& d) {
  const json& spec = At(d, "spec");
  const json& status = At(d, "status");
  int64_t want = Int(spec, "replicas", 1);
  return Int(status, "observedGeneration") >= Int(At(d, "metadata"), "generation") &&
         Int(status, "replicas") == want && Int(status, "updatedReplicas") == want &&
         Int(status, "availableReplicas") == want;
}

std::string DeploymentProgress(const json& d) {
  const json& status = At(d, "status");
  int64_t want = Int(At(d, "spec"), "replicas", 1);
  std::string out =
      std::to_string(Int(status, "availableReplicas")) + "/" + std::to_string(want) + " available";
  if (Int(status, "observedGeneration") < Int(At(d, "metadata"), "generation")) {
    out += ", spec not yet seen by the controller";
  } else if (int64_t old = Int(status, "replicas") - Int(status, "updatedReplicas"); old > 0) {
    out += ", " + std::to_string(old) + " old pod" + (old == 1 ? "" : "s") + " left";
  } else if (int64_t extra = Int(status, "replicas") - want; extra > 0) {
    out += ", " + std::to_string(extra) + " pod" + (extra == 1 ? "" : "s") + " terminating";
  }
  return out;
}

void DeploymentRollout::Put(const json& object) {
  std::string name = Name(object);
  if (!name.empty()) current_[name] = object;
}

void DeploymentRollout::Apply(const WatchEvent& event) {
  switch (event.type) {
    case WatchEventType::kRelisted: {
      std::set<std::string> before;
      for (const auto& [name, d] : current_) before.insert(name);
      current_.clear();
      for (const json& item : event.items) Put(item);
      for (const std::string& name : names_) {
        if (before.count(name) != 0 && current_.count(name) == 0 && deleted_.empty()) {
          deleted_ = name;
        }
      }
      break;
    }
    case WatchEventType::kAdded:
    case WatchEventType::kModified:
      Put(event.object);
      break;
    case WatchEventType::kDeleted: {
      std::string name = Name(event.object);
      current_.erase(name);
      if (deleted_.empty() && std::find(names_.begin(), names_.end(), name) != names_.end()) {
        deleted_ = name;
      }
      break;
    }
    case WatchEventType::kBookmark:
      break;
  }
}

bool DeploymentRollout::Done() const {
  for (const std::string& name : names_) {
    auto it = current_.find(name);
    if (it == current_.end() || !DeploymentRolledOut(it->second)) return false;
  }
  return true;
}

std::string DeploymentRollout::Summary() const {
  std::string out;
  for (const std::string& name : names_) {
    if (!out.empty()) out += ", ";
    auto it = current_.find(name);
    out += name + " " + (it == current_.end() ? "not created" : DeploymentProgress(it->second));
  }
  return out;
}

std::string ExplainNotReady(const std::vector<json>& pods, const std::vector<json>& events,
                            const std::string& name_prefix) {
  // cause -> pods showing it, in first-seen order.
  std::vector<std::pair<std::string, std::vector<std::string>>> grouped;
  for (const json& pod : pods) {
    for (const std::string& cause : PodCauses(pod)) {
      std::string key = Component(pod) + "\x1f" + cause;
      auto it = std::find_if(grouped.begin(), grouped.end(),
                             [&](const auto& g) { return g.first == key; });
      if (it == grouped.end()) {
        grouped.push_back({key, {}});
        it = grouped.end() - 1;
      }
      it->second.push_back(Name(pod));
    }
  }
  std::vector<std::string> clauses;
  for (const auto& [key, names] : grouped) {
    size_t sep = key.find('\x1f');
    std::string component = key.substr(0, sep);
    std::string cause = key.substr(sep + 1);
    std::string who = component + (names.size() == 1 ? "pod " : "pods ");
    for (size_t i = 0; i < names.size() && i < 3; ++i) who += (i ? ", " : "") + names[i];
    if (names.size() > 3) who += " and " + std::to_string(names.size() - 3) + " more";
    clauses.push_back(who + ": " + cause);
  }
  std::string said;
  for (const std::string& c : clauses) said += c + "\n";
  // The newest Warning events about our objects that add something.
  std::vector<const json*> ours;
  for (const json& e : events) {
    if (Str(e, "type") != "Warning") continue;
    if (Str(At(e, "involvedObject"), "name").rfind(name_prefix, 0) != 0) continue;
    ours.push_back(&e);
  }
  auto when = [](const json* e) {
    std::string t = Str(*e, "lastTimestamp");
    if (t.empty()) t = Str(*e, "eventTime");
    return t;
  };
  std::stable_sort(ours.begin(), ours.end(),
                   [&](const json* a, const json* b) { return when(a) > when(b); });
  std::set<std::string> seen;
  int added = 0;
  for (const json* e : ours) {
    std::string message = WithPeriod(Str(*e, "message"));
    std::string reason = Str(*e, "reason");
    if (message.empty() || said.find(message) != std::string::npos) continue;
    if (!seen.insert(reason + "\x1f" + message).second) continue;
    const json& object = At(*e, "involvedObject");
    std::string kind = Str(object, "kind");
    std::transform(kind.begin(), kind.end(), kind.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    clauses.push_back("event " + reason + " on " + kind + " " + Str(object, "name") + ": " +
                      message);
    if (++added == 5) break;
  }
  std::string out;
  for (const std::string& c : clauses) out += (out.empty() ? "" : "; ") + c;
  return out;
}

}  // namespace sp::k8s
