// The objects of a notebook on Kubernetes; see notebook_objects.h.
#include "k8s/notebook_objects.h"

#include <algorithm>

#include "k8s/internal/text.h"

namespace sp::k8s {

namespace {

using nlohmann::json;

constexpr char kTmpVolume[] = "tmp";
constexpr char kJupyterTmpVolume[] = "jupyter-tmp";
constexpr char kHomeVolume[] = "home";
constexpr char kEventLogVolume[] = "spark-history";

// The Connect container's entry point: spark-submit ("$@") in the background, then a watch on
// JupyterLab's port in the same pod. Once Jupyter has answered and then stops answering (its
// idle shutdown, or it crashed: restartPolicy Never), Spark Connect is stopped too, so the pod
// ends and the cluster has no application left (its idle timeout then deletes it). SIGTERM (a
// delete) is passed on. No $(...) anywhere: Kubernetes would expand $(NAME) itself.
constexpr char kConnectScript[] = R"(connect_pid=
trap 'kill -TERM "$connect_pid" 2>/dev/null' TERM INT
"$@" &
connect_pid=$!
seen=0
while kill -0 "$connect_pid" 2>/dev/null; do
  if (exec 3<>/dev/tcp/127.0.0.1/8888) 2>/dev/null; then
    seen=1
  elif [ "$seen" = 1 ]; then
    echo "sparkplane: JupyterLab has stopped; stopping Spark Connect"
    kill -TERM "$connect_pid"
    break
  fi
  sleep 5 &
  wait $!
done
wait "$connect_pid"
)";

bool HasSpaceOrQuote(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '"' || c == '\'';
  });
}

json Labels(const NotebookSpec& spec, const std::string& component) {
  SparkClusterNames cluster = SparkClusterNames::For(spec.cluster);
  return {{kManagedByLabel, kManagedByValue},
          {kNameLabel, kNotebookNameLabelValue},
          {kComponentLabel, component},
          {kClusterLabel, cluster.base},
          {kNotebookLabel, spec.name}};
}

json Metadata(const NotebookSpec& spec, const std::string& name, const std::string& component,
              const json& owner) {
  json m = {
      {"name", name},
      {"namespace", spec.namespace_name},
      {"labels", Labels(spec, component)},
      {"annotations", {{kClusterNameAnnotation, spec.cluster}, {kNotebookAnnotation, spec.name}}}};
  if (!owner.is_null()) m["ownerReferences"] = json::array({owner});
  return m;
}

json PodSelector(const NotebookSpec& spec) {
  return {{kClusterLabel, SparkClusterNames::For(spec.cluster).base},
          {kComponentLabel, kNotebookComponent}};
}

json SecretEnv(const std::string& env, const std::string& secret, const std::string& key) {
  return {{"name", env}, {"valueFrom", {{"secretKeyRef", {{"name", secret}, {"key", key}}}}}};
}

json Env(const std::string& name, const std::string& value) {
  return {{"name", name}, {"value", value}};
}

json Hardened(int64_t uid, int64_t gid) {
  return {{"runAsUser", uid},
          {"runAsGroup", gid},
          {"allowPrivilegeEscalation", false},
          {"readOnlyRootFilesystem", true},
          {"capabilities", {{"drop", json::array({"ALL"})}}}};
}

json ConnectContainer(const NotebookSpec& spec, const NotebookNames& names) {
  SparkClusterSpec cluster;
  cluster.name = spec.cluster;
  cluster.namespace_name = spec.namespace_name;
  std::vector<std::string> conf = {
      "spark.connect.grpc.binding.address=127.0.0.1",
      "spark.connect.grpc.binding.port=" + std::to_string(kConnectPort),
      // Executors reach their driver at the pod's IP on fixed ports (the NetworkPolicy's).
      "spark.driver.host=$(POD_IP)", "spark.driver.bindAddress=$(POD_IP)",
      "spark.driver.port=" + std::to_string(kNotebookDriverPort),
      "spark.blockManager.port=" + std::to_string(kNotebookBlockManagerPort),
      "spark.ui.enabled=false", "spark.local.dir=/tmp/spark-local",
      "spark.driver.extraJavaOptions=-Djava.io.tmpdir=/tmp", "spark.jars.ivy=/tmp/ivy",
      // An idle notebook frees the workers' cores (as the local notebook does).
      "spark.dynamicAllocation.enabled=true",
      "spark.dynamicAllocation.shuffleTracking.enabled=true",
      "spark.dynamicAllocation.minExecutors=0", "spark.dynamicAllocation.executorIdleTimeout=60s",
      "spark.dynamicAllocation.shuffleTracking.timeout=60s"};
  if (!spec.history_pvc.empty()) {
    conf.push_back("spark.eventLog.enabled=true");
    conf.push_back(std::string("spark.eventLog.dir=file:") + kEventLogMountPath);
  }
  json args = json::array({"/opt/spark/bin/spark-submit", "--class",
                           "org.apache.spark.sql.connect.service.SparkConnectServer", "--name",
                           "notebook-" + spec.name, "--master", MasterUrl(cluster),
                           "--driver-memory", spec.driver_memory});
  for (const std::string& c : conf) {
    args.push_back("--conf");
    args.push_back(c);
  }
  json mounts = json::array({{{"name", kTmpVolume}, {"mountPath", "/tmp"}}});
  if (!spec.history_pvc.empty()) {
    mounts.push_back({{"name", kEventLogVolume}, {"mountPath", kEventLogMountPath}});
  }
  Result<int64_t> heap = JvmSizeToMebibytes(spec.driver_memory, "driver_memory");
  int64_t memory = heap.ok() ? *heap + std::max<int64_t>(384, *heap / 10) : 1408;
  json amounts = {{"cpu", "1"}, {"memory", std::to_string(memory) + "Mi"}};
  return {
      {"name", "spark-connect"},
      {"image", spec.spark_image},
      {"imagePullPolicy", spec.image_pull_policy},
      {"command", json::array({"/bin/bash", "-c", kConnectScript, "spark-connect"})},
      {"args", args},
      {"env",
       json::array(
           {{{"name", "POD_IP"}, {"valueFrom", {{"fieldRef", {{"fieldPath", "status.podIP"}}}}}},
            SecretEnv("SPARK_CONNECT_AUTHENTICATE_TOKEN", names.secret, kConnectTokenKey),
            Env("SPARK_NO_DAEMONIZE", "1")})},
      {"ports",
       json::array({{{"name", "driver"}, {"containerPort", kNotebookDriverPort}},
                    {{"name", "blockmanager"}, {"containerPort", kNotebookBlockManagerPort}}})},
      // gRPC listens on the pod's loopback only, out of an HTTP or TCP probe's reach.
      {"readinessProbe",
       {{"exec",
         {{"command",
           json::array({"/bin/bash", "-c",
                        "exec 3<>/dev/tcp/127.0.0.1/" + std::to_string(kConnectPort)})}}},
        {"initialDelaySeconds", 5},
        {"periodSeconds", 5},
        {"timeoutSeconds", 3}}},
      {"resources", {{"requests", amounts}, {"limits", amounts}}},
      {"securityContext", Hardened(kSparkUid, kSparkUid)},
      {"volumeMounts", mounts}};
}

json JupyterContainer(const NotebookSpec& spec, const NotebookNames& names) {
  const std::string home = kJupyterHome;
  json args = json::array({"lab", "--no-browser", "--ServerApp.ip=0.0.0.0",
                           "--ServerApp.port=" + std::to_string(kJupyterPort),
                           "--ServerApp.port_retries=0", "--ServerApp.root_dir=" + home + "/work",
                           "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"});
  if (spec.idle_timeout.count() > 0) {
    // Idle kernels are culled, even with a browser tab open, and a server left with no kernel
    // and no activity exits: the pod then ends (see the header).
    const int64_t secs = std::max<int64_t>(1, spec.idle_timeout.count() / 1000);
    const int64_t interval = std::clamp<int64_t>(secs / 4, 1, 60);
    for (const std::string& a :
         {"--MappingKernelManager.cull_idle_timeout=" + std::to_string(secs),
          "--MappingKernelManager.cull_interval=" + std::to_string(interval),
          std::string("--MappingKernelManager.cull_connected=True"),
          "--ServerApp.shutdown_no_activity_timeout=" + std::to_string(secs)}) {
      args.push_back(a);
    }
  }
  json env =
      json::array({SecretEnv("JUPYTER_TOKEN", names.secret, kJupyterTokenKey),
                   SecretEnv("SPARK_CONNECT_AUTHENTICATE_TOKEN", names.secret, kConnectTokenKey),
                   // `localhost`: the client sends the token without TLS only there.
                   Env("SPARK_REMOTE", "sc://localhost:" + std::to_string(kConnectPort)),
                   Env("HOME", home), Env("PYTHONUNBUFFERED", "1")});
  json amounts_requests = {{"cpu", "500m"}, {"memory", "1Gi"}};
  json amounts_limits = {{"cpu", "2"}, {"memory", "2Gi"}};
  return {{"name", "jupyter"},
          {"image", spec.notebook_image},
          {"imagePullPolicy", spec.image_pull_policy},
          {"command", json::array({"jupyter"})},
          {"args", args},
          {"env", env},
          {"workingDir", home + "/work"},
          {"ports", json::array({{{"name", "http"}, {"containerPort", kJupyterPort}}})},
          // /api answers without a token: up, not necessarily authenticated.
          {"readinessProbe",
           {{"httpGet", {{"path", "/api"}, {"port", kJupyterPort}, {"scheme", "HTTP"}}},
            {"initialDelaySeconds", 2},
            {"periodSeconds", 5},
            {"timeoutSeconds", 3}}},
          {"resources", {{"requests", amounts_requests}, {"limits", amounts_limits}}},
          {"securityContext", Hardened(kJupyterUid, kJupyterGid)},
          {"volumeMounts", json::array({{{"name", kJupyterTmpVolume}, {"mountPath", "/tmp"}},
                                        {{"name", kHomeVolume}, {"mountPath", home}}})}};
}

}  // namespace

NotebookNames NotebookNames::For(std::string_view cluster_name) {
  SparkClusterNames cluster = SparkClusterNames::For(cluster_name);
  NotebookNames n;
  n.pod = "sparkplane-" + cluster.base + "-notebook";
  n.secret = n.pod;
  n.network_policy = n.pod;
  n.jupyter_service = "sparkplane-" + cluster.base + "-jupyter";
  return n;
}

Status ValidateNotebookSpec(const NotebookSpec& spec) {
  if (spec.name.empty()) return InvalidArgumentError("name: a notebook needs a name");
  if (spec.cluster.empty()) return InvalidArgumentError("cluster: a notebook needs a cluster");
  if (spec.namespace_name.empty()) {
    return InvalidArgumentError("namespace: a notebook needs a namespace");
  }
  for (const auto& [field, image] :
       {std::pair<const char*, const std::string*>{"spark_image", &spec.spark_image},
        {"notebook_image", &spec.notebook_image}}) {
    if (image->empty() || HasSpaceOrQuote(*image)) {
      return InvalidArgumentError(
          std::string(field) + ": expected an image reference such as " +
          (std::string(field) == "spark_image" ? kDefaultSparkImage : kDefaultNotebookImage) +
          "; got '" + *image + "'");
    }
  }
  RETURN_IF_ERROR(JvmSizeToMebibytes(spec.driver_memory, "driver_memory").status());
  return ValidateDiskSize(spec.notebook_scratch, "notebook_scratch");
}

std::string NotebookPodSelector() {
  return std::string(kManagedByLabel) + "=" + kManagedByValue + "," + kComponentLabel + "=" +
         kNotebookComponent;
}

std::string JupyterServiceUrl(const NotebookSpec& spec) {
  return "http://" + NotebookNames::For(spec.cluster).jupyter_service + "." + spec.namespace_name +
         ".svc:" + std::to_string(kJupyterPort) + "/lab";
}

json BuildNotebookSecret(const NotebookSpec& spec, const json& owner,
                         const std::string& jupyter_token, const std::string& connect_token) {
  NotebookNames names = NotebookNames::For(spec.cluster);
  return {{"apiVersion", "v1"},
          {"kind", "Secret"},
          {"metadata", Metadata(spec, names.secret, "notebook-tokens", owner)},
          {"type", "Opaque"},
          {"immutable", true},
          {"data",
           {{kJupyterTokenKey, internal::Base64Encode(jupyter_token)},
            {kConnectTokenKey, internal::Base64Encode(connect_token)}}}};
}

json BuildNotebookPod(const NotebookSpec& spec, const json& owner) {
  NotebookNames names = NotebookNames::For(spec.cluster);
  json volumes =
      json::array({{{"name", kTmpVolume}, {"emptyDir", {{"sizeLimit", kTmpSizeLimit}}}},
                   {{"name", kJupyterTmpVolume}, {"emptyDir", {{"sizeLimit", kTmpSizeLimit}}}},
                   {{"name", kHomeVolume}, {"emptyDir", {{"sizeLimit", spec.notebook_scratch}}}}});
  if (!spec.history_pvc.empty()) {
    volumes.push_back(
        {{"name", kEventLogVolume}, {"persistentVolumeClaim", {{"claimName", spec.history_pvc}}}});
  }
  json pod_spec = {
      {"restartPolicy", "Never"},
      {"automountServiceAccountToken", false},
      {"enableServiceLinks", false},
      // fsGroup 100 (jovyan's group): the home emptyDir is writable by Jupyter; the spark user
      // writes only to its own /tmp and to the event-log volume, as the cluster's pods do.
      {"securityContext",
       {{"runAsNonRoot", true},
        {"fsGroup", kJupyterGid},
        {"seccompProfile", {{"type", "RuntimeDefault"}}}}},
      {"containers", json::array({ConnectContainer(spec, names), JupyterContainer(spec, names)})},
      {"volumes", volumes}};
  json metadata = Metadata(spec, names.pod, kNotebookComponent, owner);
  return {{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", metadata}, {"spec", pod_spec}};
}

json BuildJupyterService(const NotebookSpec& spec, const json& owner) {
  NotebookNames names = NotebookNames::For(spec.cluster);
  json port = {
      {"name", "http"}, {"port", kJupyterPort}, {"targetPort", kJupyterPort}, {"protocol", "TCP"}};
  return {{"apiVersion", "v1"},
          {"kind", "Service"},
          {"metadata", Metadata(spec, names.jupyter_service, "notebook-jupyter", owner)},
          {"spec",
           {{"type", spec.jupyter_node_port ? "NodePort" : "ClusterIP"},
            {"selector", PodSelector(spec)},
            {"ports", json::array({port})}}}};
}

json BuildNotebookNetworkPolicy(const NotebookSpec& spec, const json& owner) {
  NotebookNames names = NotebookNames::For(spec.cluster);
  SparkClusterNames cluster = SparkClusterNames::For(spec.cluster);
  json jupyter_port = json::array({{{"protocol", "TCP"}, {"port", kJupyterPort}}});
  // Through a NodePort, clients come from outside the namespace (node or external addresses):
  // 8888 is then open to all, and the token is the guard.
  json jupyter = spec.jupyter_node_port
                     ? json{{"ports", jupyter_port}}
                     : json{{"from", json::array({{{"podSelector", json::object()}}})},
                            {"ports", jupyter_port}};
  json executors = {
      {"from",
       json::array({{{"podSelector", {{"matchLabels", {{kClusterLabel, cluster.base}}}}}}})},
      {"ports", json::array({{{"protocol", "TCP"}, {"port", kNotebookDriverPort}},
                             {{"protocol", "TCP"}, {"port", kNotebookBlockManagerPort}}})}};
  return {{"apiVersion", "networking.k8s.io/v1"},
          {"kind", "NetworkPolicy"},
          {"metadata", Metadata(spec, names.network_policy, "notebook-network-policy", owner)},
          {"spec",
           {{"podSelector", {{"matchLabels", PodSelector(spec)}}},
            {"policyTypes", json::array({"Ingress"})},
            {"ingress", json::array({jupyter, executors})}}}};
}

}  // namespace sp::k8s
