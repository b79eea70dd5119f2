// RunClusterTry; see cluster_try.h.
#include "notebook/internal/cluster_try.h"

#include <memory>

#include "operators/ad_hoc_try.h"

namespace sp::notebook::internal {

using nlohmann::json;

Result<json> RunClusterTry(const operators::Services* services,
                           operators::TaskTypeRegistry* registry, json fields,
                           const std::function<bool(Millis)>* wait_stop,
                           const std::function<void(const std::string&)>& progress) {
  operators::TaskType* type = registry->Find("spark_cluster");
  if (type == nullptr) return InternalError("the spark_cluster task type is not registered");
  auto ctx = std::make_shared<operators::AdHocTaskContext>(services, "spark_cluster",
                                                           std::move(fields), progress);
  type->Start(ctx);
  bool cancelled = false;
  while (wait_stop != nullptr && !ctx->done()) {
    if (!cancelled && (*wait_stop)(Millis(200))) {
      progress("[sparkplane] cancelling the cluster create...");
      type->Cancel(ctx, json::object(), Millis(10000));
      cancelled = true;
    }
  }
  operators::TaskResult r = ctx->Wait();
  if (cancelled) return CancelledError("notebook start was cancelled");
  if (!r.success) return UnavailableError(r.message);
  return r.outputs;
}

}  // namespace sp::notebook::internal
