// The driver pod of a Spark application that spark-submit started in cluster deploy mode on a
// k8s:// master (Spark's own Kubernetes scheduler), found again through the API when the
// spark-submit that waited for it is gone: the scheduler's pod restarted, the driver did not.
//
// Identity: spark-submit puts the labels of DriverPodKey on the pods it makes (Sparkplane passes
// them as spark.kubernetes.{driver,executor}.label.*): managed-by, DAG, run key, task and try
// number; Spark adds spark-role=driver to the driver. The selector of those labels names one
// try's driver. Label values are cut to 63 characters, so the driver also carries the exact
// DAG and task ids as annotations (spark.kubernetes.driver.annotation.*), and a candidate whose
// annotations say otherwise is not the try's.
//
// Outcome: a pod in phase Succeeded or Failed has ended; the driver container's
// state.terminated gives the exit code and reason. Spark's app id is the driver pod's
// spark-app-selector label.
//
// Thread safety: values and free functions; the functions block on the API (call them off the
// scheduler's loop) and may run concurrently with one shared client.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "k8s/client.h"

namespace sp::k8s {

inline constexpr char kTaskLabel[] = "sparkplane.io/task";
inline constexpr char kTryLabel[] = "sparkplane.io/try";
inline constexpr char kTaskIdAnnotation[] = "sparkplane.io/task-id";
// Set by Spark on the pods it makes.
inline constexpr char kSparkRoleLabel[] = "spark-role";
inline constexpr char kSparkAppSelectorLabel[] = "spark-app-selector";
// The driver's container in pods Spark makes (a pod template may name it otherwise).
inline constexpr char kSparkDriverContainer[] = "spark-kubernetes-driver";

// Which pods belong to one try of a spark_submit task.
struct DriverPodKey {
  std::string namespace_name;
  // Put on driver and executor pods (values already valid label values).
  std::map<std::string, std::string> labels;
  // Put on the driver pod: the exact ids.
  std::map<std::string, std::string> annotations;

  static DriverPodKey ForTry(std::string namespace_name, const std::string& dag_id, int64_t run_key,
                             const std::string& task_id, int try_number);

  // "app.kubernetes.io/managed-by=sparkplane,...,spark-role=driver".
  std::string DriverSelector() const;
  // True when `pod` carries every label of the key and no annotation of the key with another
  // value.
  bool Matches(const nlohmann::json& pod) const;

  nlohmann::json ToJson() const;
  // InvalidArgument naming the field when `j` is not what ToJson makes.
  static Result<DriverPodKey> FromJson(const nlohmann::json& j);
};

// What a driver pod says about its application.
struct DriverPodState {
  std::string name;
  std::string phase;  // Pending, Running, Succeeded, Failed, Unknown ("" when not reported)
  std::optional<std::string> app_id;  // the spark-app-selector label
  // From the driver container's state.terminated (the first terminated container when none is
  // named spark-kubernetes-driver).
  std::optional<int> exit_code;
  std::string reason;   // the container's terminated reason, else the pod's status.reason
  std::string message;  // the container's terminated message, else the pod's status.message

  bool ended() const { return phase == "Succeeded" || phase == "Failed"; }
  // "Succeeded", "Failed (exit code 3, Error)", "Running".
  std::string Describe() const;
};

DriverPodState ReadDriverPodState(const nlohmann::json& pod);

enum class DriverPodEnd {
  kEnded,       // the pod reached Succeeded or Failed: `state` says how
  kDeleted,     // the pod was seen and then deleted before it ended
  kNeverFound,  // no pod of the key existed when the watch began
};

struct DriverPodWatchResult {
  DriverPodEnd end = DriverPodEnd::kNeverFound;
  DriverPodState state;  // the last state seen (empty name for kNeverFound)
};

// Lists the key's driver pods, then watches the one it found (the newest, when several match)
// until it ends or is deleted. `on_found` is called once, when the pod is first seen, with its
// state then (ended or not). Returns Cancelled when `cancel` fires, or the API's error.
Result<DriverPodWatchResult> WatchDriverPod(
    KubeClient& client, const DriverPodKey& key, const WatchCancel* cancel,
    const std::function<void(const DriverPodState&)>& on_found);

// Deletes every driver pod of the key (its executors, Service and ConfigMap are owned by it and
// go with it); `grace_seconds` as the pods' termination grace. Returns the names deleted.
Result<std::vector<std::string>> DeleteDriverPods(KubeClient& client, const DriverPodKey& key,
                                                  std::optional<int64_t> grace_seconds);

}  // namespace sp::k8s
