// The Kubernetes sides of the Spark task types that need no API server: spark_submit's native
// mode (a k8s:// master: the conf and argv built, the validation) and client mode against a
// kubernetes spark_cluster (the driver's address, ports and python when the scheduler runs in
// a pod), checked on what a fake `spark-submit` receives (its argv, and the settings in its
// properties file); spark_cluster's kubernetes-only
// fields and their validation. Against a real API server: tests/integration/k8s/.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "executor/process.h"
#include "operators/recording_task_context.h"
#include "operators/spark_cluster_task.h"
#include "operators/spark_submit_task.h"
#include "store/store.h"

namespace sp::operators {
namespace {

using ::testing::AllOf;
using testing::ContextIdentity;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::ReadFile;
using testing::RecordingTaskContext;
using testing::ScratchDir;
using testing::WriteFile;
using testing::WriteScript;
using Json = nlohmann::json;

// A fake spark-submit that prints its argv ("ARGS ..."), the mode of its --properties-file
// ("PROPS_MODE 600") and each line of that file ("PROP key=value").
constexpr char kEchoSubmit[] =
    "echo \"ARGS $*\"\n"
    "while [ $# -gt 0 ]; do\n"
    "  if [ \"$1\" = --properties-file ]; then\n"
    "    echo \"PROPS_MODE $(stat -c %a \"$2\")\"; sed 's/^/PROP /' \"$2\"\n"
    "  fi\n"
    "  shift\n"
    "done\n";

// A loopback port that accepts connections (a master that is "up").
class ListeningPort {
 public:
  ListeningPort() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    ::listen(fd_, 4);
    socklen_t len = sizeof(addr);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~ListeningPort() { ::close(fd_); }
  std::string master() const { return "spark://127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_ = -1;
  int port_ = 0;
};

class SparkSubmitKubernetesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<std::unique_ptr<store::Store>> s = store::OpenSqliteStore(":memory:");
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
    services_.store = store_.get();
    services_.processes = &processes_;
    services_.clock = &clock_;
    services_.config.data_dir = dir_.path();
    services_.config.spark_home = dir_.File("spark");
    services_.config.python = "/usr/bin/python3";
    services_.config.kubeconfig = dir_.File("no-kubeconfig");  // never read when not needed
    WriteFile(dir_.File("apps/job.py"), "print('hi')\n");
    WriteFile(dir_.File("apps/driver.yaml"), "apiVersion: v1\nkind: Pod\n");
    WriteFile(dir_.File("apps/executor.yaml"), "apiVersion: v1\nkind: Pod\n");
    WriteScript(dir_.File("spark/bin/spark-submit"), std::string(kEchoSubmit) + "exit 0\n");
  }

  TaskResult Run(Json fields) {
    ContextIdentity id;
    id.dag_id = "nightly etl";
    id.task_id = "submit";
    id.type = "spark_submit";
    auto ctx = std::make_shared<RecordingTaskContext>(&services_, std::move(fields), log_, id);
    type_.Start(ctx);
    std::optional<TaskResult> r = ctx->WaitForResult();
    EXPECT_TRUE(r.has_value()) << "the try never completed";
    last_handle_ = ctx->last_handle().value_or(Json());
    return r.value_or(TaskResult{});
  }

  std::string Log() const { return ReadFile(log_); }

  void KubernetesCluster(const std::string& master, bool authenticate = false) {
    store::ClusterRecord r;
    r.name = "k8s-cluster";
    r.backend = "kubernetes";
    r.run_id = 7;
    r.state = "ready";
    r.handle = {{"name", "k8s-cluster"},
                {"namespace", "spark"},
                {"parent", "sparkplane-cluster-k8s-cluster"},
                {"master_url", master},
                {"app_id_prefix", "app-k8s-cluster"},
                {"workers", 1},
                {"authenticate", authenticate}};
    store::Mutation m;
    m.clusters.push_back(r);
    ASSERT_TRUE(store_->Commit(m).ok());
  }

  ScratchDir dir_;
  Json last_handle_;  // the last handle the last Run saved
  std::string log_ = dir_.File("logs/submit.log");
  executor::ProcessSupervisor processes_;
  RealClock clock_;
  std::unique_ptr<store::Store> store_;
  Services services_;
  SparkSubmitTaskType type_{&services_};
};

constexpr char kK8sMaster[] = "k8s://https://10.96.0.1:443";

TEST_F(SparkSubmitKubernetesTest, NativeModeBuildsSparksKubernetesSettings) {
  TaskResult r = Run({{"master", kK8sMaster},
                      {"application", "local:///opt/spark/examples/src/main/python/pi.py"},
                      {"image", "registry.local/spark:4.0.1"},
                      {"namespace", "jobs"},
                      {"service_account", "spark-driver"},
                      {"driver_pod_template", "driver.yaml"},
                      {"executor_pod_template", "executor.yaml"}});
  ASSERT_TRUE(r.success) << r.message;
  std::string log = Log();
  std::string apps = dir_.File("apps");
  EXPECT_THAT(log, HasSubstr("ARGS --master k8s://https://10.96.0.1:443 --deploy-mode cluster"));
  for (const std::string& conf : std::vector<std::string>{
           "spark.kubernetes.container.image=registry.local/spark:4.0.1",
           "spark.kubernetes.namespace=jobs",
           "spark.kubernetes.authenticate.driver.serviceAccountName=spark-driver",
           "spark.kubernetes.driver.podTemplateFile=" + apps + "/driver.yaml",
           "spark.kubernetes.executor.podTemplateFile=" + apps + "/executor.yaml",
           std::string("spark.kubernetes.submission.waitAppCompletion=true"),
           std::string("spark.kubernetes.executor.deleteOnTermination=true"),
           std::string("spark.kubernetes.driver.service.deleteOnTermination=true"),
           std::string("spark.kubernetes.driver.label.app.kubernetes.io/managed-by=sparkplane"),
           std::string("spark.kubernetes.driver.label.sparkplane.io/dag=nightly-etl"),
           std::string("spark.kubernetes.executor.label.sparkplane.io/run=7"),
           // The try's own labels, so a restarted server finds its driver pod (issue 10),
           // and the exact ids that label values may not hold.
           std::string("spark.kubernetes.driver.label.sparkplane.io/task=submit"),
           std::string("spark.kubernetes.driver.label.sparkplane.io/try=1"),
           std::string("spark.kubernetes.executor.label.sparkplane.io/try=1"),
           std::string("spark.kubernetes.driver.annotation.sparkplane.io/dag-id=nightly etl"),
           std::string("spark.kubernetes.driver.annotation.sparkplane.io/task-id=submit"),
           std::string("spark.kubernetes.driver.volumes.persistentVolumeClaim.spark-history."
                       "options.claimName=sparkplane-spark-history"),
           std::string("spark.kubernetes.driver.volumes.persistentVolumeClaim.spark-history."
                       "mount.path=/sparkplane/history/spark"),
           std::string("spark.eventLog.dir=file:/sparkplane/history/spark"),
       }) {
    EXPECT_THAT(log, HasSubstr("PROP " + conf)) << conf;
  }
  // Nothing of this machine's paths reaches the driver's pod.
  EXPECT_THAT(log, AllOf(Not(HasSubstr("spark.local.dir")), Not(HasSubstr("spark.pyspark.python")),
                         Not(HasSubstr("file:" + dir_.File("history")))));
  // The handle names the driver pod's namespace, API server, container and labels, for Recover
  // after a pod restart; the submission id is random per try and the same on the pods.
  Json pod = last_handle_["driver_pod"];
  ASSERT_TRUE(pod.is_object()) << last_handle_.dump();
  std::string submission = pod["labels"].value("sparkplane.io/submission", "");
  EXPECT_THAT(submission, ::testing::MatchesRegex("[0-9a-f]{32}"));
  for (const char* role : {"driver", "executor"}) {
    EXPECT_THAT(log, HasSubstr(std::string("PROP spark.kubernetes.") + role +
                               ".label.sparkplane.io/submission=" + submission));
  }
  pod["labels"].erase("sparkplane.io/submission");
  EXPECT_EQ(
      pod, (Json{{"namespace", "jobs"},
                 {"api_server", "https://10.96.0.1:443"},
                 {"driver_container", "spark-kubernetes-driver"},
                 {"labels",
                  {{"app.kubernetes.io/managed-by", "sparkplane"},
                   {"sparkplane.io/dag", "nightly-etl"},
                   {"sparkplane.io/run", "7"},
                   {"sparkplane.io/task", "submit"},
                   {"sparkplane.io/try", "1"}}},
                 {"annotations",
                  {{"sparkplane.io/dag-id", "nightly etl"}, {"sparkplane.io/task-id", "submit"}}}}))
      << last_handle_.dump();
  // Another try of the same task has another submission id.
  TaskResult again = Run({{"master", kK8sMaster},
                          {"application", "local:///opt/spark/examples/src/main/python/pi.py"}});
  ASSERT_TRUE(again.success) << again.message;
  EXPECT_NE(last_handle_["driver_pod"]["labels"].value("sparkplane.io/submission", ""), submission);
}

TEST_F(SparkSubmitKubernetesTest, NativeModeSavesThePodTemplatesDriverContainer) {
  TaskResult r = Run({{"master", "k8s://Kube.Example:6443/"},
                      {"application", "local:///opt/app.jar"},
                      {"java_class", "x.Main"},
                      {"conf", {{"spark.kubernetes.driver.podTemplateContainerName", "driver"}}}});
  ASSERT_TRUE(r.success) << r.message;
  EXPECT_EQ(last_handle_["driver_pod"].value("driver_container", ""), "driver");
  // Spark's default scheme, in lower case, without the path.
  EXPECT_EQ(last_handle_["driver_pod"].value("api_server", ""), "https://kube.example:6443");
}

TEST_F(SparkSubmitKubernetesTest, NativeModeDefaultsComeFromTheConfigAndTheTaskConfWins) {
  services_.config.spark_image = "apache/spark:4.0.1-python3";
  services_.config.kube_namespace = "sparkplane";
  services_.config.spark_history_pvc = "";
  TaskResult r = Run({{"master", kK8sMaster},
                      {"application", "local:///opt/app.jar"},
                      {"java_class", "x.Main"},
                      {"conf", {{"spark.kubernetes.submission.waitAppCompletion", "false"}}}});
  ASSERT_TRUE(r.success) << r.message;
  std::string log = Log();
  EXPECT_THAT(log, HasSubstr("PROP spark.kubernetes.container.image=apache/spark:4.0.1-python3"));
  EXPECT_THAT(log, HasSubstr("PROP spark.kubernetes.namespace=sparkplane"));
  EXPECT_THAT(log, HasSubstr("PROP spark.kubernetes.submission.waitAppCompletion=false"));
  EXPECT_THAT(log, Not(HasSubstr("persistentVolumeClaim")));
  EXPECT_THAT(log, Not(HasSubstr("spark.eventLog.dir")));
  // spark-submit does not wait for the driver: there is no driver pod to follow after a restart.
  EXPECT_FALSE(last_handle_.contains("driver_pod")) << last_handle_.dump();
}

TEST_F(SparkSubmitKubernetesTest, NativeClusterModeRefusesFilesOfThisMachine) {
  TaskResult r = Run({{"master", kK8sMaster}, {"application", "job.py"}});
  EXPECT_FALSE(r.success);
  EXPECT_FALSE(r.retryable);
  EXPECT_THAT(r.message,
              AllOf(HasSubstr(dir_.File("apps/job.py")), HasSubstr("the driver runs in a pod"),
                    HasSubstr("spark.kubernetes.file.upload.path")));
  EXPECT_THAT(Log(), Not(HasSubstr("ARGS")));
  TaskResult uploaded =
      Run({{"master", kK8sMaster},
           {"application", "job.py"},
           {"conf", {{"spark.kubernetes.file.upload.path", "s3a://bucket/uploads"}}}});
  EXPECT_TRUE(uploaded.success) << uploaded.message;
}

TEST_F(SparkSubmitKubernetesTest, NativeModeValidation) {
  TaskResult template_missing = Run({{"master", kK8sMaster},
                                     {"application", "local:///opt/app.py"},
                                     {"driver_pod_template", "nope.yaml"}});
  EXPECT_FALSE(template_missing.success);
  EXPECT_THAT(template_missing.message,
              HasSubstr("driver_pod_template file not found: " + dir_.File("apps/nope.yaml")));
  TaskResult not_k8s = Run({{"master", "local[1]"}, {"application", "job.py"}, {"image", "x"}});
  EXPECT_FALSE(not_k8s.success);
  EXPECT_THAT(not_k8s.message, HasSubstr("'image' applies to a k8s:// master only"));
  TaskResult bad_ns =
      Run({{"master", kK8sMaster}, {"application", "local:///a.py"}, {"namespace", "Jobs_1"}});
  EXPECT_THAT(bad_ns.message, HasSubstr("namespace: expected a Kubernetes namespace"));
  TaskResult bad_sa =
      Run({{"master", kK8sMaster}, {"application", "local:///a.py"}, {"service_account", "A B"}});
  EXPECT_THAT(bad_sa.message, HasSubstr("service_account: expected a Kubernetes service account"));

  dag::TaskSpec spec;
  spec.id = "submit";
  spec.type = "spark_submit";
  spec.fields = {{"master", "spark://m:7077"}, {"application", "a.py"}, {"namespace", "jobs"}};
  std::vector<dag::DagError> errors;
  type_.Validate(spec, &errors);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].field, "namespace");
  spec.fields["master"] = "{{ params.master }}";  // known only once rendered
  errors.clear();
  type_.Validate(spec, &errors);
  EXPECT_TRUE(errors.empty());
}

TEST_F(SparkSubmitKubernetesTest, NativeClientModeInAPodListensOnThePodIp) {
  services_.config.pod_ip = "10.244.1.7";
  TaskResult r = Run({{"master", kK8sMaster},
                      {"deploy_mode", "client"},
                      {"application", "job.py"},
                      {"namespace", "jobs"}});
  ASSERT_TRUE(r.success) << r.message;
  std::string log = Log();
  EXPECT_THAT(log, HasSubstr("--deploy-mode client"));
  EXPECT_THAT(log, HasSubstr("PROP spark.driver.host=10.244.1.7"));
  EXPECT_THAT(log, HasSubstr("PROP spark.pyspark.driver.python=/usr/bin/python3"));
  EXPECT_THAT(log, Not(HasSubstr("spark.pyspark.python=")));
  EXPECT_THAT(log, HasSubstr("PROP spark.eventLog.dir=file:" + dir_.File("history/spark")));
}

TEST_F(SparkSubmitKubernetesTest, ClientModeAgainstAKubernetesClusterFromAPod) {
  ListeningPort master;
  KubernetesCluster(master.master());
  services_.config.pod_ip = "10.244.0.12";
  services_.config.driver_port = 17078;
  TaskResult r = Run({{"master", master.master()},
                      {"application", "job.py"},
                      {"conf", {{"spark.blockManager.port", "17100"}}}});
  ASSERT_TRUE(r.success) << r.message;
  std::string log = Log();
  EXPECT_THAT(log, HasSubstr("PROP spark.driver.host=10.244.0.12"));
  EXPECT_THAT(log, HasSubstr("PROP spark.driver.bindAddress=0.0.0.0"));
  EXPECT_THAT(log, HasSubstr("PROP spark.driver.port=17078"));
  EXPECT_THAT(log, HasSubstr("PROP spark.blockManager.port=17100"));  // the task's conf wins
  EXPECT_THAT(log, HasSubstr("PROP spark.pyspark.driver.python=/usr/bin/python3"));
  EXPECT_THAT(log, Not(HasSubstr("spark.pyspark.python=")));
  EXPECT_THAT(log, Not(HasSubstr("spark.driver.host=127.0.0.1")));
  EXPECT_THAT(log, Not(HasSubstr("spark.kubernetes.")));
}

TEST_F(SparkSubmitKubernetesTest, OutsideAPodTheDriverAddressIsLeftToSpark) {
  ListeningPort master;
  KubernetesCluster(master.master());
  TaskResult r = Run({{"master", master.master()}, {"application", "job.py"}});
  ASSERT_TRUE(r.success) << r.message;
  std::string log = Log();
  EXPECT_THAT(log, HasSubstr("POD_IP is not set"));
  EXPECT_THAT(log, Not(HasSubstr("spark.driver.port=")));
}

TEST_F(SparkSubmitKubernetesTest, ALocalClusterGetsNoneOfIt) {
  ListeningPort master;
  services_.config.pod_ip = "10.244.0.12";
  TaskResult r = Run({{"master", master.master()}, {"application", "job.py"}});
  ASSERT_TRUE(r.success) << r.message;
  EXPECT_THAT(Log(), AllOf(HasSubstr("spark.driver.host=127.0.0.1"),
                           HasSubstr("spark.pyspark.python=/usr/bin/python3"),
                           Not(HasSubstr("10.244.0.12"))));
}

TEST_F(SparkSubmitKubernetesTest, AnAuthenticatingClusterNeedsItsSecretFromKubernetes) {
  ListeningPort master;
  KubernetesCluster(master.master(), /*authenticate=*/true);
  TaskResult r = Run({{"master", master.master()}, {"application", "job.py"}});
  EXPECT_FALSE(r.success);
  EXPECT_FALSE(r.retryable);
  EXPECT_THAT(r.message, HasSubstr("could not read the shared secret of Spark cluster "
                                   "'k8s-cluster'"));
  EXPECT_THAT(Log(), Not(HasSubstr("ARGS")));
}

struct FieldCase {
  const char* name;
  const char* fields;
  const char* field;
  const char* message;
};

class SparkClusterKubernetesFieldsTest : public ::testing::TestWithParam<FieldCase> {};

TEST_P(SparkClusterKubernetesFieldsTest, ReportsLocatedErrors) {
  const FieldCase& c = GetParam();
  dag::TaskSpec spec;
  spec.id = "cluster";
  spec.type = "spark_cluster";
  spec.fields = Json::parse(c.fields);
  Services services;
  SparkClusterTaskType type(&services);
  std::vector<dag::DagError> errors;
  type.Validate(spec, &errors);
  std::string all;
  for (const dag::DagError& e : errors) all += "\n  " + e.field + ": " + e.message;
  ASSERT_EQ(errors.size(), 1u) << c.name << all;
  EXPECT_EQ(errors[0].field, c.field);
  EXPECT_THAT(errors[0].message, HasSubstr(c.message));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, SparkClusterKubernetesFieldsTest,
    ::testing::Values(
        FieldCase{"local backend", R"({"backend": "local", "image": "x"})", "image",
                  "applies to the kubernetes backend only"},
        FieldCase{"authenticate", R"({"backend": "kubernetes", "authenticate": "yes"})",
                  "authenticate", "expected true or false"},
        FieldCase{"node port", R"({"backend": "kubernetes", "ui_node_port": 8080})", "ui_node_port",
                  "expected an integer from 30000 to 32767"},
        FieldCase{"tolerations type", R"({"backend": "kubernetes", "tolerations": "all"})",
                  "tolerations", "expected a list of tolerations"},
        FieldCase{"toleration operator",
                  R"({"backend": "kubernetes", "tolerations": [{"key": "a", "operator": "In"}]})",
                  "tolerations", "tolerations[0].operator: expected Equal or Exists"},
        FieldCase{"node selector",
                  R"({"backend": "kubernetes", "node_selector": {"pool": "big pool"}})",
                  "node_selector", "is not a label value"},
        FieldCase{"master memory", R"({"backend": "kubernetes", "master_memory": "2 GB"})",
                  "master_memory", "expected a JVM memory size"},
        FieldCase{"pull policy", R"({"backend": "kubernetes", "image_pull_policy": "always"})",
                  "image_pull_policy", "did you mean 'Always'?"},
        FieldCase{"scratch size", R"({"backend": "kubernetes", "worker_scratch": "10g"})",
                  "worker_scratch", "did you mean 10Gi?"},
        FieldCase{"scratch on local", R"({"backend": "local", "worker_scratch": "10Gi"})",
                  "worker_scratch", "applies to the kubernetes backend only"}),
    [](const ::testing::TestParamInfo<FieldCase>& info) {
      std::string name = info.param.name;
      for (char& ch : name) {
        if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
      }
      return name;
    });

TEST(SparkClusterKubernetesFields, ValidFieldsAndTemplatesPass) {
  dag::TaskSpec spec;
  spec.id = "cluster";
  spec.type = "spark_cluster";
  spec.fields = {
      {"backend", "kubernetes"},
      {"image", "{{ params.image }}"},
      {"authenticate", true},
      {"master_rest", "false"},
      {"ui_node_port", 30080},
      {"node_selector", {{"pool", "spark"}, {"zone", "{{ params.zone }}"}}},
      {"tolerations",
       Json::array({{{"key", "dedicated"}, {"operator", "Exists"}, {"effect", "NoSchedule"}}})},
      {"master_cores", 2},
      {"master_memory", "2g"}};
  Services services;
  SparkClusterTaskType type(&services);
  std::vector<dag::DagError> errors;
  type.Validate(spec, &errors);
  EXPECT_TRUE(errors.empty()) << errors[0].field << ": " << errors[0].message;
}

TEST(SparkClusterKubernetesFields, WithoutAKubeconfigCreateFailsBeforeRecordingAnything) {
  ScratchDir dir;
  Result<std::unique_ptr<store::Store>> s = store::OpenSqliteStore(":memory:");
  ASSERT_TRUE(s.ok());
  RealClock clock;
  Services services;
  services.store = s->get();
  services.clock = &clock;
  services.config.data_dir = dir.path();
  services.config.kubeconfig = dir.File("missing/kubeconfig");
  SparkClusterTaskType type(&services);
  ContextIdentity id;
  id.type = "spark_cluster";
  auto ctx = std::make_shared<RecordingTaskContext>(
      &services, Json{{"backend", "kubernetes"}, {"name", "c1"}}, dir.File("log"), id);
  type.Start(ctx);
  std::optional<TaskResult> r = ctx->WaitForResult();
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(r->success);
  EXPECT_FALSE(r->retryable);
  EXPECT_THAT(r->message, AllOf(HasSubstr("could not create Spark cluster 'c1'"),
                                HasSubstr("connecting to Kubernetes"),
                                HasSubstr(dir.File("missing/kubeconfig"))));
  Result<std::vector<store::ClusterRecord>> records = (*s)->ListClusters(true);
  ASSERT_TRUE(records.ok());
  EXPECT_TRUE(records->empty());
}

}  // namespace
}  // namespace sp::operators
