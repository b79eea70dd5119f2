// The driver pod of a Spark application that spark-submit started in cluster deploy mode on a
// k8s:// master (Spark's own Kubernetes scheduler), found again through the API when the
// spark-submit that waited for it is gone: the scheduler's pod restarted, the driver did not.
//
// Identity: spark-submit puts the labels of DriverPodKey on the pods it makes (Sparkplane passes
// them as spark.kubernetes.{driver,executor}.label.*): managed-by, DAG, run key, task, try number
// and a random submission id made when the try starts; Spark adds spark-role=driver to the
// driver. DAG, run key, task and try alone are not unique: run keys restart at 1 with a new
// database, Spark never deletes a finished driver pod, and two installations may share a
// namespace; the submission id is, so a restarted try never adopts (or deletes) another
// installation's or an earlier life's driver. Label values are cut to 63 characters, so the
// driver also carries the exact DAG and task ids as annotations
// (spark.kubernetes.driver.annotation.*), and a candidate without them, or whose annotations
// say otherwise, is not the try's. The key also names the API server of the try's k8s:// master
// (the pods are in that cluster) and the driver's container.
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
inline constexpr char kSubmissionLabel[] = "sparkplane.io/submission";
inline constexpr char kTaskIdAnnotation[] = "sparkplane.io/task-id";
// Set by Spark on the pods it makes.
inline constexpr char kSparkRoleLabel[] = "spark-role";
inline constexpr char kSparkAppSelectorLabel[] = "spark-app-selector";
// The driver's container in pods Spark makes (a pod template may name it otherwise, with
// spark.kubernetes.driver.podTemplateContainerName).
inline constexpr char kSparkDriverContainer[] = "spark-kubernetes-driver";

// 16 random bytes (getrandom) as 32 hex digits: a try's submission id. Unavailable when the
// system has no randomness to give.
Result<std::string> NewSubmissionId();

// "https://host:port" of a Kubernetes API server given as a k8s:// master or a kubeconfig's
// server: the k8s:// prefix and any path dropped, scheme (https when none) and host in lower
// case, the scheme's port when none is given. "" when `url` names no host.
std::string NormalizeApiServer(const std::string& url);

// True when `saved` (a try's API server) is `server` (the kubeconfig's). With `in_cluster` (the
// kubeconfig is the pod's service account, whose server is the kubernetes Service's IP), the
// Service's names (kubernetes.default.svc and its longer and shorter forms) on the same port
// are that server too.
bool SameApiServer(const std::string& saved, const std::string& server, bool in_cluster);

// Which pods belong to one try of a spark_submit task.
struct DriverPodKey {
  std::string namespace_name;
  std::string api_server;  // NormalizeApiServer of the try's k8s:// master
  std::string driver_container = kSparkDriverContainer;
  // Put on driver and executor pods (values already valid label values).
  std::map<std::string, std::string> labels;
  // Put on the driver pod: the exact ids.
  std::map<std::string, std::string> annotations;

  // The labels and annotations of one try; namespace, API server and container are set by the
  // caller once the try's settings are known.
  static DriverPodKey ForTry(const std::string& dag_id, int64_t run_key, const std::string& task_id,
                             int try_number, const std::string& submission_id);

  // "app.kubernetes.io/managed-by=sparkplane,...,spark-role=driver".
  std::string DriverSelector() const;
  // True when `pod` carries every label and every annotation of the key, with the key's values.
  bool Matches(const nlohmann::json& pod) const;

  nlohmann::json ToJson() const;
  // InvalidArgument naming the field when `j` is not what ToJson makes (a key without a
  // submission id, API server or annotations names no single try and is refused).
  static Result<DriverPodKey> FromJson(const nlohmann::json& j);
};

// What a driver pod says about its application.
struct DriverPodState {
  std::string name;
  std::string phase;  // Pending, Running, Succeeded, Failed, Unknown ("" when not reported)
  std::optional<std::string> app_id;  // the spark-app-selector label
  // From the driver container's state.terminated (only the container the key names: a sidecar's
  // exit is not the application's).
  std::optional<int> exit_code;
  std::string reason;   // the driver container's terminated reason
  std::string message;  // the driver container's terminated message
  // The pod's own status.reason and message (Evicted, DeadlineExceeded): why a pod failed
  // whose container may never have ended.
  std::string pod_reason;
  std::string pod_message;

  bool ended() const { return phase == "Succeeded" || phase == "Failed"; }
  // "Succeeded", "Failed (exit code 3, Error)", "Failed (Evicted)", "Running".
  std::string Describe() const;
};

// `driver_container`: the container whose state is the application's.
DriverPodState ReadDriverPodState(const nlohmann::json& pod,
                                  const std::string& driver_container = kSparkDriverContainer);

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
// go with it); `grace_seconds` as the pods' termination grace. Each delete carries the listed
// pod's UID as a precondition, so a pod made since under the same name is left alone (Aborted).
// Returns the names deleted.
Result<std::vector<std::string>> DeleteDriverPods(KubeClient& client, const DriverPodKey& key,
                                                  std::optional<int64_t> grace_seconds);

}  // namespace sp::k8s
