// CopyStore (see copy.h).
#include "store/copy.h"

#include <algorithm>
#include <string>
#include <vector>

namespace sp::store {
namespace {

constexpr size_t kRunsPerBatch = 500;

Status RefuseUnlessEmpty(Store& to, AuthStore& to_auth) {
  std::vector<std::string> found;
  ASSIGN_OR_RETURN(std::vector<DagRecord> dags, to.ListDags());
  if (!dags.empty()) found.push_back(std::to_string(dags.size()) + " DAGs");
  ASSIGN_OR_RETURN(int64_t max_run, to.MaxRunId());
  if (max_run > 0) found.push_back("runs");
  ASSIGN_OR_RETURN(std::vector<ClusterRecord> clusters, to.ListClusters(true));
  if (!clusters.empty()) found.push_back(std::to_string(clusters.size()) + " clusters");
  ASSIGN_OR_RETURN(std::vector<ConnectionRecord> conns, to.ListConnections());
  if (!conns.empty()) found.push_back(std::to_string(conns.size()) + " connections");
  ASSIGN_OR_RETURN(std::vector<UserRecord> users, to_auth.ListUsers());
  if (!users.empty()) found.push_back(std::to_string(users.size()) + " users");
  if (found.empty()) return OkStatus();
  std::string list;
  for (const std::string& f : found) list += (list.empty() ? "" : ", ") + f;
  return FailedPreconditionError("the target store is not empty (it has " + list +
                                 "); copy into a new, empty database");
}

}  // namespace

Result<CopyCounts> CopyStore(Store& from, AuthStore& from_auth, Store& to, AuthStore& to_auth) {
  RETURN_IF_ERROR(RefuseUnlessEmpty(to, to_auth));
  CopyCounts counts;

  Mutation first;
  ASSIGN_OR_RETURN(first.dags, from.ListDags());
  ASSIGN_OR_RETURN(first.connections, from.ListConnections());
  counts.dags = static_cast<int64_t>(first.dags.size());
  counts.connections = static_cast<int64_t>(first.connections.size());
  RETURN_IF_ERROR(to.Commit(first).With("copy DAG records and connections"));

  RunFilter all;
  all.limit = 0;
  ASSIGN_OR_RETURN(std::vector<DagRun> runs, from.ListRuns(all));
  std::reverse(runs.begin(), runs.end());  // oldest first
  for (size_t start = 0; start < runs.size(); start += kRunsPerBatch) {
    Mutation m;
    std::vector<int64_t> keys;
    for (size_t i = start; i < std::min(runs.size(), start + kRunsPerBatch); ++i) {
      m.new_runs.push_back(runs[i]);
      keys.push_back(runs[i].id);
    }
    ASSIGN_OR_RETURN(m.task_instances, from.ListTaskInstancesOfRuns(keys));
    for (int64_t key : keys) {
      ASSIGN_OR_RETURN(std::vector<StateEvent> events, from.ListEvents(key));
      for (StateEvent& e : events) e.id = 0;
      m.events.insert(m.events.end(), events.begin(), events.end());
    }
    counts.runs += static_cast<int64_t>(m.new_runs.size());
    counts.task_instances += static_cast<int64_t>(m.task_instances.size());
    counts.events += static_cast<int64_t>(m.events.size());
    RETURN_IF_ERROR(to.Commit(m).With("copy runs " + std::to_string(m.new_runs.front().id) +
                                      " to " + std::to_string(m.new_runs.back().id)));
  }

  // Clusters after the runs they belong to.
  Mutation clusters;
  ASSIGN_OR_RETURN(clusters.clusters, from.ListClusters(/*include_deleted=*/true));
  counts.clusters = static_cast<int64_t>(clusters.clusters.size());
  RETURN_IF_ERROR(to.Commit(clusters).With("copy cluster records"));

  ASSIGN_OR_RETURN(std::vector<UserRecord> users, from_auth.ListUsers());
  for (const UserRecord& u : users) {
    RETURN_IF_ERROR(to_auth.CreateUser(u).With("copy user '" + u.username + "'"));
  }
  counts.users = static_cast<int64_t>(users.size());
  ASSIGN_OR_RETURN(std::vector<ApiTokenRecord> tokens, from_auth.ListApiTokens(std::nullopt));
  for (const ApiTokenRecord& t : tokens) {
    RETURN_IF_ERROR(to_auth.PutApiToken(t).With("copy API token " + t.id));
  }
  counts.api_tokens = static_cast<int64_t>(tokens.size());
  return counts;
}

}  // namespace sp::store
