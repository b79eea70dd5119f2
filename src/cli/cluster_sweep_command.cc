// `sparkplane cluster sweep`; see cluster_commands.h. The work is clusters::SweepExpired; this
// file resolves the connection and prints.
#include <cstdio>

#include "cli/cluster_commands.h"
#include "clusters/sweep.h"

namespace sp::cli {

int ClusterSweep(const GlobalOptions& g, bool dry_run) {
  // Only the configuration: no data directory, store or server lock (the CronJob's pod has
  // none of them).
  Result<Config> config = ResolveConfig(g.config);
  if (!config.ok()) return Fail(config.status());
  clusters::KubeBackendOptions options;
  options.connection = {config->kubeconfig, config->kube_context, config->kube_namespace};
  options.spark_image = config->spark_image;
  options.spark_history_pvc = config->spark_history_pvc;
  RealClock clock;
  clusters::KubeBackend backend(options, &clock, nullptr);
  clusters::SweepOptions sweep;
  sweep.mode = dry_run ? clusters::SweepMode::kDryRun : clusters::SweepMode::kDelete;
  Result<clusters::SweepReport> swept = clusters::SweepExpired(backend, clock, sweep);
  if (!swept.ok()) return Fail(swept.status());
  const clusters::SweepReport& r = *swept;

  for (const std::string& note : r.notes) std::fprintf(stderr, "sparkplane: %s\n", note.c_str());
  int failed = 0;
  nlohmann::json expired = nlohmann::json::array();
  for (const clusters::SweptCluster& c : r.expired) {
    const char* outcome = !c.status.ok() ? "not deleted"
                          : r.dry_run    ? "would be deleted"
                                         : "deleted";
    expired.push_back({{"name", c.name},
                       {"parent", c.parent},
                       {"reason", c.reason},
                       {"outcome", outcome},
                       {"error", c.status.ok() ? "" : c.status.message()}});
    if (!c.status.ok()) {
      ++failed;
      Fail("cluster '" + c.name + "' (configmap " + c.parent + ") is expired (" + c.reason +
           ") but was not deleted: " + c.status.message());
    } else if (!g.json) {
      std::printf("cluster '%s' (configmap %s) %s: %s\n", c.name.c_str(), c.parent.c_str(), outcome,
                  c.reason.c_str());
    }
  }
  if (g.json) {
    nlohmann::json out = {{"namespace", r.namespace_name},
                          {"dry_run", r.dry_run},
                          {"expired", expired},
                          {"kept", r.kept},
                          {"already_deleting", r.already_deleting},
                          {"notes", r.notes}};
    std::printf("%s\n", out.dump(2).c_str());
  } else {
    std::printf("swept namespace %s%s: %zu expired, %d kept, %d already being deleted\n",
                r.namespace_name.c_str(), r.dry_run ? " (dry run: nothing deleted)" : "",
                r.expired.size(), r.kept, r.already_deleting);
  }
  if (failed > 0) {
    return Fail(std::to_string(failed) + " expired cluster(s) could not be deleted (see above)");
  }
  return 0;
}

}  // namespace sp::cli
