// Lifetime and Expired; see cluster_backend.h.
#include "clusters/cluster_backend.h"

namespace sp::clusters {

namespace {
constexpr char kDeadlineKey[] = "deadline_ms";
constexpr char kIdleTimeoutKey[] = "idle_timeout_ms";
}  // namespace

nlohmann::json Lifetime::ToJson() const {
  return {{kDeadlineKey, deadline ? nlohmann::json(ToUnixMillis(*deadline)) : nlohmann::json()},
          {kIdleTimeoutKey, idle_timeout.count()}};
}

Lifetime Lifetime::FromJson(const nlohmann::json& handle) {
  Lifetime l;
  if (!handle.is_object()) return l;
  auto d = handle.find(kDeadlineKey);
  if (d != handle.end() && d->is_number_integer()) l.deadline = FromUnixMillis(d->get<int64_t>());
  auto i = handle.find(kIdleTimeoutKey);
  if (i != handle.end() && i->is_number_integer() && i->get<int64_t>() > 0) {
    l.idle_timeout = Millis(i->get<int64_t>());
  }
  return l;
}

bool Expired(const Lifetime& lifetime, Time now, std::optional<Time> idle_since) {
  if (lifetime.deadline && now >= *lifetime.deadline) return true;
  return lifetime.idle_timeout.count() > 0 && idle_since &&
         now - *idle_since >= lifetime.idle_timeout;
}

}  // namespace sp::clusters
