// The manifests of a Spark cluster on Kubernetes (k8s/spark_cluster_objects.h): names, labels,
// ownerReferences, probes, resources, volumes, the secret as a file, the NetworkPolicy's
// selectors, the REST server switch, the hardening (read-only root filesystem, every path Spark
// writes on a sized emptyDir, UI kill disabled), validation messages. What the API server does with
// them is tested in tests/integration/k8s/spark_cluster_k8s_test.cc.
#include "k8s/spark_cluster_objects.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "k8s/internal/text.h"
#include "k8s/k8s_test_util.h"

namespace sp::k8s {
namespace {

using nlohmann::json;
using sp::k8s::testing::StatusIs;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;

SparkClusterSpec Spec() {
  SparkClusterSpec spec;
  spec.name = "etl-7";
  spec.namespace_name = "spark";
  spec.workers = 3;
  spec.worker_cores = 2;
  spec.worker_memory = "2g";
  spec.dag_id = "etl";
  spec.run_key = 7;
  return spec;
}

const json kOwner = OwnerReference("sparkplane-cluster-etl-7", "uid-1");

const json& Container(const json& deployment) {
  return deployment["spec"]["template"]["spec"]["containers"][0];
}

std::string EnvValue(const json& container, const std::string& name) {
  for (const json& e : container["env"]) {
    if (e["name"] == name && e.contains("value")) return e["value"].get<std::string>();
  }
  return "<absent>";
}

// The value of -D`key`= the daemon's JVM ends up with: the launcher puts SPARK_DAEMON_JAVA_OPTS
// before the role's options (SPARK_MASTER_OPTS / SPARK_WORKER_OPTS), and the last -D wins.
std::string EffectiveConf(const json& container, const std::string& key) {
  std::string role =
      container["name"] == "spark-master" ? "SPARK_MASTER_OPTS" : "SPARK_WORKER_OPTS";
  std::string opts =
      EnvValue(container, "SPARK_DAEMON_JAVA_OPTS") + " " + EnvValue(container, role);
  std::string flag = "-D" + key + "=";
  std::string value = "<unset>";
  for (size_t at = opts.find(flag); at != std::string::npos; at = opts.find(flag, at + 1)) {
    if (at != 0 && opts[at - 1] != ' ') continue;
    size_t begin = at + flag.size();
    value = opts.substr(begin, opts.find(' ', begin) - begin);
  }
  return value;
}

// The pod's volume that `path` lives on: the volume of the longest mountPath containing it,
// when that mount is writable; null otherwise (on the image's read-only filesystem).
json WritableVolumeOf(const json& deployment, const std::string& path) {
  const json& pod = deployment["spec"]["template"]["spec"];
  std::string best_name;
  size_t best_length = 0;
  bool best_read_only = false;
  for (const json& m : Container(deployment)["volumeMounts"]) {
    std::string mount = m["mountPath"];
    bool inside = path == mount || (path.rfind(mount + "/", 0) == 0);
    if (inside && mount.size() > best_length) {
      best_name = m["name"];
      best_length = mount.size();
      best_read_only = m.value("readOnly", false);
    }
  }
  if (best_name.empty() || best_read_only) return nullptr;
  for (const json& v : pod["volumes"]) {
    if (v["name"] == best_name) return v;
  }
  return nullptr;
}

std::string ArgAfter(const json& container, const std::string& flag) {
  const json& args = container["args"];
  for (size_t i = 0; i + 1 < args.size(); ++i) {
    if (args[i] == flag) return args[i + 1];
  }
  return "<absent>";
}

TEST(SparkClusterNamesTest, SimpleNamesAreKept) {
  SparkClusterNames n = SparkClusterNames::For("etl-7");
  EXPECT_EQ(n.base, "etl-7");
  EXPECT_EQ(n.parent, "sparkplane-cluster-etl-7");
  EXPECT_EQ(n.master, "sparkplane-etl-7-master");
  EXPECT_EQ(n.worker, "sparkplane-etl-7-worker");
  EXPECT_EQ(n.auth_secret, "sparkplane-etl-7-auth");
  EXPECT_EQ(n.network_policy, "sparkplane-etl-7");
}

TEST(SparkClusterNamesTest, OtherNamesBecomeDnsLabelsThatNeverCollide) {
  SparkClusterNames a = SparkClusterNames::For("Daily_ETL.v2-41");
  SparkClusterNames b = SparkClusterNames::For("daily-etl-v2-41");
  EXPECT_THAT(a.base, ::testing::MatchesRegex("daily-etl-v2-41-[0-9a-f]{6}"));
  EXPECT_EQ(b.base, "daily-etl-v2-41");
  SparkClusterNames digit = SparkClusterNames::For("7up");
  EXPECT_THAT(digit.base, ::testing::MatchesRegex("c-7up-[0-9a-f]{6}"));
  std::string long_name(64, 'x');
  SparkClusterNames l1 = SparkClusterNames::For(long_name);
  SparkClusterNames l2 = SparkClusterNames::For(long_name.substr(0, 63) + "y");
  EXPECT_LE(l1.base.size(), 40u);
  EXPECT_NE(l1.base, l2.base);
  EXPECT_LE(l1.master.size(), 63u);  // Service names are DNS-1035 labels
}

TEST(SparkClusterObjectsTest, LabelValuesAreMadeValid) {
  EXPECT_EQ(LabelValue("etl"), "etl");
  EXPECT_EQ(LabelValue("my dag/été"), "my-dag---t");
  EXPECT_EQ(LabelValue("_x_"), "x");
  EXPECT_EQ(LabelValue(std::string(80, 'a')).size(), 63u);
  EXPECT_EQ(LabelValue(""), "");
}

TEST(SparkClusterObjectsTest, MemorySizes) {
  EXPECT_EQ(*JvmSizeToMebibytes("1g", "m"), 1024);
  EXPECT_EQ(*JvmSizeToMebibytes("1536m", "m"), 1536);
  EXPECT_EQ(*JvmSizeToMebibytes("2GB", "m"), 2048);
  EXPECT_EQ(*JvmSizeToMebibytes("1025", "m"), 1);  // bytes, rounded up
  EXPECT_THAT(JvmSizeToMebibytes("1.5g", "worker_memory"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("worker_memory")));
}

TEST(SparkClusterObjectsTest, EveryObjectIsLabelledAndOwnedByTheParent) {
  SparkClusterSpec spec = Spec();
  spec.authenticate = true;
  spec.ui_node_port = true;
  std::vector<json> children = {
      BuildAuthSecret(spec, kOwner, "s3cret"), BuildMasterService(spec, kOwner),
      *BuildUiService(spec, kOwner),           BuildMasterDeployment(spec, kOwner),
      BuildWorkerDeployment(spec, kOwner),     BuildNetworkPolicy(spec, kOwner)};
  for (const json& object : children) {
    SCOPED_TRACE(object["kind"].get<std::string>());
    const json& meta = object["metadata"];
    EXPECT_EQ(meta["namespace"], "spark");
    EXPECT_EQ(meta["labels"][kManagedByLabel], "sparkplane");
    EXPECT_EQ(meta["labels"][kClusterLabel], "etl-7");
    EXPECT_EQ(meta["labels"][kDagLabel], "etl");
    EXPECT_EQ(meta["labels"][kRunLabel], "7");
    EXPECT_EQ(meta["annotations"][kClusterNameAnnotation], "etl-7");
    ASSERT_EQ(meta["ownerReferences"].size(), 1u);
    const json& owner = meta["ownerReferences"][0];
    EXPECT_EQ(owner["kind"], "ConfigMap");
    EXPECT_EQ(owner["apiVersion"], "v1");
    EXPECT_EQ(owner["name"], "sparkplane-cluster-etl-7");
    EXPECT_EQ(owner["uid"], "uid-1");
    EXPECT_EQ(owner["blockOwnerDeletion"], true);
    EXPECT_EQ(owner["controller"], true);
  }
  json parent = BuildParentConfigMap(spec);
  EXPECT_EQ(parent["metadata"]["name"], "sparkplane-cluster-etl-7");
  EXPECT_EQ(parent["metadata"]["labels"][kComponentLabel], kParentComponent);
  EXPECT_FALSE(parent["metadata"].contains("ownerReferences"));
  json described = json::parse(parent["data"][kSpecKey].get<std::string>());
  EXPECT_EQ(described["workers"], 3);
  EXPECT_EQ(described["worker_scratch"], "10Gi");
  EXPECT_EQ(described["master_url"], "spark://sparkplane-etl-7-master.spark.svc:7077");
  EXPECT_THAT(parent.dump(), Not(HasSubstr("s3cret")));
}

TEST(SparkClusterObjectsTest, MasterDeploymentRunsTheMasterWithAProbeAndNoRestServer) {
  SparkClusterSpec spec = Spec();
  spec.master_cores = 2;
  spec.master_memory = "2g";
  spec.master_conf = {{"spark.deploy.spreadOut", "false"}};
  json d = BuildMasterDeployment(spec, kOwner);
  EXPECT_EQ(d["spec"]["replicas"], 1);
  EXPECT_EQ(d["spec"]["strategy"]["type"], "Recreate");
  EXPECT_EQ(d["spec"]["selector"]["matchLabels"],
            json({{kClusterLabel, "etl-7"}, {kComponentLabel, "master"}}));
  EXPECT_EQ(d["spec"]["template"]["metadata"]["labels"][kComponentLabel], "master");
  const json& c = Container(d);
  EXPECT_EQ(c["image"], "apache/spark:4.0.1");
  EXPECT_EQ(c["command"], json::array({"/opt/spark/bin/spark-class"}));
  EXPECT_EQ(c["args"], json::array({"org.apache.spark.deploy.master.Master", "--host", "$(POD_IP)",
                                    "--port", "7077", "--webui-port", "8080"}));
  EXPECT_EQ(c["readinessProbe"]["httpGet"],
            json({{"path", "/"}, {"port", 8080}, {"scheme", "HTTP"}}));
  EXPECT_EQ(c["resources"]["requests"], c["resources"]["limits"]);
  EXPECT_EQ(c["resources"]["requests"]["cpu"], "2");
  EXPECT_EQ(c["resources"]["requests"]["memory"], "2432Mi");  // 2048 heap + 384 overhead
  EXPECT_EQ(EnvValue(c, "SPARK_DAEMON_MEMORY"), "2048m");
  std::string master_opts = EnvValue(c, "SPARK_MASTER_OPTS");
  EXPECT_THAT(master_opts, HasSubstr("-Dspark.master.rest.enabled=false"));
  EXPECT_THAT(master_opts, HasSubstr("-Dspark.deploy.appIdPattern=app-etl-7-%s-%04d"));
  EXPECT_THAT(master_opts, HasSubstr("-Dspark.deploy.spreadOut=false"));
  EXPECT_THAT(c["ports"].dump(), Not(HasSubstr("6066")));
  json pod = d["spec"]["template"]["spec"];
  EXPECT_EQ(pod["automountServiceAccountToken"], false);
  EXPECT_EQ(pod["enableServiceLinks"], false);
  EXPECT_EQ(pod["securityContext"]["runAsNonRoot"], true);

  spec.master_rest = true;
  json rest = BuildMasterDeployment(spec, kOwner);
  EXPECT_THAT(EnvValue(Container(rest), "SPARK_MASTER_OPTS"),
              HasSubstr("-Dspark.master.rest.enabled=true"));
  EXPECT_THAT(BuildMasterService(spec, kOwner)["spec"]["ports"].dump(), HasSubstr("6066"));
}

TEST(SparkClusterObjectsTest, WorkerDeploymentOffersItsCoresAndMemory) {
  json d = BuildWorkerDeployment(Spec(), kOwner);
  EXPECT_EQ(d["spec"]["replicas"], 3);
  const json& c = Container(d);
  EXPECT_EQ(c["args"], json::array({"org.apache.spark.deploy.worker.Worker", "--host", "$(POD_IP)",
                                    "--cores", "2", "--memory", "2048m", "--webui-port", "8081",
                                    "--work-dir", "/sparkplane/scratch/work",
                                    "spark://sparkplane-etl-7-master.spark.svc:7077"}));
  EXPECT_EQ(c["readinessProbe"]["httpGet"]["port"], 8081);
  // 2048 offered + 512 daemon heap + max(384, 10%) overhead
  EXPECT_EQ(c["resources"]["limits"], json({{"cpu", "2"}, {"memory", "2944Mi"}}));
  EXPECT_EQ(c["env"][0]["valueFrom"]["fieldRef"]["fieldPath"], "status.podIP");
}

TEST(SparkClusterObjectsTest, EventLogVolumeOnEveryPod) {
  SparkClusterSpec spec = Spec();
  for (const json& d : {BuildMasterDeployment(spec, kOwner), BuildWorkerDeployment(spec, kOwner)}) {
    const json& pod = d["spec"]["template"]["spec"];
    EXPECT_THAT(pod["volumes"].dump(),
                HasSubstr(R"("persistentVolumeClaim":{"claimName":"sparkplane-spark-history"})"));
    EXPECT_THAT(Container(d)["volumeMounts"].dump(),
                HasSubstr(R"("mountPath":"/sparkplane/history/spark")"));
    std::string opts = EnvValue(Container(d), "SPARK_DAEMON_JAVA_OPTS");
    EXPECT_THAT(opts, HasSubstr("-Dspark.eventLog.dir=file:/sparkplane/history/spark"));
    EXPECT_THAT(opts, HasSubstr("-Dspark.eventLog.enabled=true"));
  }
  spec.history_pvc = "";
  json none = BuildWorkerDeployment(spec, kOwner);
  EXPECT_THAT(none.dump(), Not(HasSubstr("persistentVolumeClaim")));
}

TEST(SparkClusterObjectsTest, TheSharedSecretIsAFileNeverAnEnvironmentVariable) {
  SparkClusterSpec spec = Spec();
  spec.authenticate = true;
  json secret = BuildAuthSecret(spec, kOwner, "0123abcd");
  EXPECT_EQ(secret["metadata"]["name"], "sparkplane-etl-7-auth");
  EXPECT_EQ(secret["immutable"], true);
  EXPECT_EQ(internal::Base64Decode(secret["data"]["secret"].get<std::string>()), "0123abcd");
  for (const json& d : {BuildMasterDeployment(spec, kOwner), BuildWorkerDeployment(spec, kOwner)}) {
    const json& pod = d["spec"]["template"]["spec"];
    const json& c = Container(d);
    EXPECT_THAT(
        pod["volumes"].dump(),
        HasSubstr(R"("secret":{"defaultMode":288,"items":[{"key":"secret","path":"secret"}],)"
                  R"("secretName":"sparkplane-etl-7-auth"})"));
    EXPECT_THAT(
        c["volumeMounts"].dump(),
        HasSubstr(R"({"mountPath":"/etc/sparkplane/auth","name":"spark-auth","readOnly":true})"));
    EXPECT_THAT(EnvValue(c, "SPARK_DAEMON_JAVA_OPTS"),
                AllOf(HasSubstr("-Dspark.authenticate=true"),
                      HasSubstr("-Dspark.authenticate.secret.file=/etc/sparkplane/auth/secret")));
    EXPECT_THAT(c["env"].dump(), Not(HasSubstr("secretKeyRef")));
    EXPECT_THAT(d.dump(), Not(HasSubstr("0123abcd")));
    EXPECT_EQ(pod["securityContext"]["fsGroup"], 185);  // the spark user reads the 0440 file
  }
}

// Issue 15 item 7: the image's filesystem is read-only; the daemons (and the executors and
// Python workers the worker starts) write only to emptyDirs and the event-log volume.
TEST(SparkClusterObjectsTest, PodsHaveAReadOnlyRootFilesystem) {
  SparkClusterSpec spec = Spec();
  spec.authenticate = true;
  for (const json& d : {BuildMasterDeployment(spec, kOwner), BuildWorkerDeployment(spec, kOwner)}) {
    const json& pod = d["spec"]["template"]["spec"];
    ASSERT_FALSE(pod["containers"].empty());
    for (const json& c : pod["containers"]) {
      SCOPED_TRACE(c["name"].get<std::string>());
      EXPECT_EQ(c["securityContext"]["readOnlyRootFilesystem"], true);
      EXPECT_EQ(c["securityContext"]["allowPrivilegeEscalation"], false);
    }
  }
}

TEST(SparkClusterObjectsTest, EveryPathSparkWritesIsOnAWritableVolume) {
  SparkClusterSpec spec = Spec();
  json master = BuildMasterDeployment(spec, kOwner);
  json worker = BuildWorkerDeployment(spec, kOwner);
  // java.io.tmpdir of every JVM (perf data, the native libraries netty, zstd, snappy and lz4
  // unpack), and Python's tempfile on the executors.
  for (const json* d : {&master, &worker}) {
    json tmp = WritableVolumeOf(*d, "/tmp/hsperfdata_spark");
    ASSERT_TRUE(tmp.is_object()) << "no writable volume at /tmp";
    EXPECT_TRUE(tmp.contains("emptyDir")) << tmp;
  }
  const json& w = Container(worker);
  std::string work_dir = ArgAfter(w, "--work-dir");
  std::string local_dirs = EnvValue(w, "SPARK_LOCAL_DIRS");
  json work_volume = WritableVolumeOf(worker, work_dir + "/app-1/0/stderr");
  json local_volume = WritableVolumeOf(worker, local_dirs + "/executor-1/blockmgr-1");
  ASSERT_TRUE(work_volume.is_object()) << "no writable volume for the work dir " << work_dir;
  ASSERT_TRUE(local_volume.is_object()) << "no writable volume for SPARK_LOCAL_DIRS " << local_dirs;
  EXPECT_TRUE(work_volume.contains("emptyDir")) << work_volume;
  EXPECT_EQ(work_volume, local_volume);  // one scratch volume, one limit
  EXPECT_THAT(local_dirs, Not(HasSubstr(",")));
  // SPARK_LOCAL_DIRS is where local dirs are set (Spark prefers it to spark.local.dir).
  EXPECT_EQ(EffectiveConf(w, "spark.local.dir"), "<unset>");
  // Event logs go to the shared volume, which is writable.
  for (const json* d : {&master, &worker}) {
    std::string dir = EffectiveConf(Container(*d), "spark.eventLog.dir");
    ASSERT_EQ(dir.rfind("file:", 0), 0u) << dir;
    json history = WritableVolumeOf(*d, dir.substr(5) + "/app-1");
    ASSERT_TRUE(history.is_object()) << dir;
    EXPECT_TRUE(history.contains("persistentVolumeClaim")) << history;
  }
  // The daemons log to stderr (spark-class, not sbin/spark-daemon.sh): no log or pid dir.
  for (const json* d : {&master, &worker}) {
    EXPECT_EQ(Container(*d)["command"], json::array({"/opt/spark/bin/spark-class"}));
    EXPECT_EQ(EnvValue(Container(*d), "SPARK_NO_DAEMONIZE"), "true");
  }
}

TEST(SparkClusterObjectsTest, EveryEmptyDirHasASizeLimit) {
  SparkClusterSpec spec = Spec();
  json master = BuildMasterDeployment(spec, kOwner);
  json worker = BuildWorkerDeployment(spec, kOwner);
  for (const json* d : {&master, &worker}) {
    for (const json& v : (*d)["spec"]["template"]["spec"]["volumes"]) {
      if (!v.contains("emptyDir")) continue;
      SCOPED_TRACE(v.dump());
      EXPECT_TRUE(v["emptyDir"].contains("sizeLimit"));
    }
    EXPECT_EQ(WritableVolumeOf(*d, "/tmp/x")["emptyDir"]["sizeLimit"], "1Gi");
  }
  EXPECT_EQ(WritableVolumeOf(worker, "/sparkplane/scratch/work/x")["emptyDir"]["sizeLimit"],
            "10Gi");
  spec.worker_scratch = "50Gi";
  EXPECT_EQ(WritableVolumeOf(BuildWorkerDeployment(spec, kOwner),
                             "/sparkplane/scratch/local/x")["emptyDir"]["sizeLimit"],
            "50Gi");
}

TEST(SparkClusterObjectsTest, TheUiCannotKillAppsOrDrivers) {
  SparkClusterSpec spec = Spec();
  EXPECT_EQ(EffectiveConf(Container(BuildMasterDeployment(spec, kOwner)), "spark.ui.killEnabled"),
            "false");
  EXPECT_EQ(EffectiveConf(Container(BuildWorkerDeployment(spec, kOwner)), "spark.ui.killEnabled"),
            "false");
  // Ours wins even over a spec that skipped validation.
  spec.master_conf = {{"spark.ui.killEnabled", "true"}};
  spec.worker_conf = {{"spark.ui.killEnabled", "true"}};
  EXPECT_EQ(EffectiveConf(Container(BuildMasterDeployment(spec, kOwner)), "spark.ui.killEnabled"),
            "false");
  EXPECT_EQ(EffectiveConf(Container(BuildWorkerDeployment(spec, kOwner)), "spark.ui.killEnabled"),
            "false");
  // ... and validation says so rather than ignoring the setting.
  EXPECT_THAT(
      ValidateSparkClusterSpec(spec),
      StatusIs(StatusCode::kInvalidArgument,
               AllOf(HasSubstr("master_conf.spark.ui.killEnabled"), HasSubstr("always false"))));
  spec.master_conf = {};
  EXPECT_THAT(
      ValidateSparkClusterSpec(spec),
      StatusIs(StatusCode::kInvalidArgument, HasSubstr("worker_conf.spark.ui.killEnabled")));
  spec.worker_conf = {{"spark.ui.killEnabled", "false"}};
  EXPECT_TRUE(ValidateSparkClusterSpec(spec).ok());
}

TEST(SparkClusterObjectsTest, NetworkPolicyAdmitsOnlyTheClusterTheSchedulerAndTheSweepsUiReads) {
  SparkClusterSpec spec = Spec();
  json p = BuildNetworkPolicy(spec, kOwner);
  EXPECT_EQ(p["spec"]["podSelector"], json({{"matchLabels", {{kClusterLabel, "etl-7"}}}}));
  EXPECT_EQ(p["spec"]["policyTypes"], json::array({"Ingress"}));
  ASSERT_EQ(p["spec"]["ingress"].size(), 2u);
  EXPECT_EQ(
      p["spec"]["ingress"][0]["from"],
      json::array({{{"podSelector", {{"matchLabels", {{kClusterLabel, "etl-7"}}}}}},
                   {{"podSelector",
                     {{"matchLabels", {{"app.kubernetes.io/name", "sparkplane-scheduler"}}}}}}}));
  // The sweep's pods (deploy/base/sweep.yaml) reach the web UI port only, for /json/.
  EXPECT_EQ(p["spec"]["ingress"][1],
            json({{"from", json::array({{{"podSelector",
                                          {{"matchLabels",
                                            {{"app.kubernetes.io/name", "sparkplane-sweep"}}}}}}})},
                  {"ports", json::array({{{"protocol", "TCP"}, {"port", 8080}}})}}));
  spec.ui_node_port = true;
  json with_ui = BuildNetworkPolicy(spec, kOwner);
  ASSERT_EQ(with_ui["spec"]["ingress"].size(), 3u);
  EXPECT_EQ(with_ui["spec"]["ingress"][2],
            json({{"ports", json::array({{{"protocol", "TCP"}, {"port", 8080}}})}}));
}

TEST(SparkClusterObjectsTest, TheParentCarriesTheLifetimeAsAnnotations) {
  SparkClusterSpec spec = Spec();
  json none = BuildParentConfigMap(spec);
  EXPECT_FALSE(none["metadata"]["annotations"].contains(kDeadlineAnnotation));
  EXPECT_FALSE(none["metadata"]["annotations"].contains(kIdleTimeoutAnnotation));
  EXPECT_FALSE(none["metadata"]["annotations"].contains(kLastBusyAnnotation));

  spec.deadline = FromUnixMillis(1795676212000);  // 2026-11-26T06:56:52Z
  spec.idle_timeout = Millis(30 * 60 * 1000);
  json parent = BuildParentConfigMap(spec);
  const json& annotations = parent["metadata"]["annotations"];
  EXPECT_EQ(annotations[kDeadlineAnnotation], "2026-11-26T06:56:52Z");
  EXPECT_EQ(annotations[kIdleTimeoutAnnotation], "1800s");
  EXPECT_EQ(annotations[kClusterNameAnnotation], "etl-7");
  // Only the parent: the children are deleted with it.
  json master = BuildMasterDeployment(spec, kOwner);
  EXPECT_FALSE(master["metadata"]["annotations"].contains(kDeadlineAnnotation));
}

TEST(SparkClusterObjectsTest, IdleTimeoutAnnotationsAreWholeSecondsRoundedUp) {
  EXPECT_EQ(FormatIdleTimeout(Millis(1800000)), "1800s");
  EXPECT_EQ(FormatIdleTimeout(Millis(1500)), "2s");
  EXPECT_EQ(FormatIdleTimeout(Millis(1)), "1s");
  EXPECT_EQ(ParseIdleTimeout("1800s"), Millis(1800000));
  EXPECT_EQ(ParseIdleTimeout("90"), Millis(90000));
  EXPECT_EQ(ParseIdleTimeout(FormatIdleTimeout(Millis(4000))), Millis(4000));
  for (const char* bad : {"", "s", "30m", "-5s", "1.5s", "12345678901234s"}) {
    EXPECT_EQ(ParseIdleTimeout(bad), std::nullopt) << bad;
  }
}

TEST(SparkClusterObjectsTest, ServicesSelectTheMaster) {
  SparkClusterSpec spec = Spec();
  json svc = BuildMasterService(spec, kOwner);
  EXPECT_EQ(svc["spec"]["type"], "ClusterIP");
  EXPECT_EQ(svc["spec"]["selector"], json({{kClusterLabel, "etl-7"}, {kComponentLabel, "master"}}));
  EXPECT_THAT(svc["spec"]["ports"].dump(), AllOf(HasSubstr("7077"), HasSubstr("8080")));
  EXPECT_FALSE(BuildUiService(spec, kOwner).has_value());
  spec.ui_node_port = true;
  spec.ui_node_port_number = 30080;
  json ui = *BuildUiService(spec, kOwner);
  EXPECT_EQ(ui["spec"]["type"], "NodePort");
  EXPECT_EQ(ui["spec"]["ports"][0]["nodePort"], 30080);
  EXPECT_EQ(ui["metadata"]["name"], "sparkplane-etl-7-ui");
}

TEST(SparkClusterObjectsTest, NodeSelectorTolerationsAndImageReachThePods) {
  SparkClusterSpec spec = Spec();
  spec.image = "registry.local/spark:4.0.1-py";
  spec.image_pull_policy = "Always";
  spec.node_selector = {{"pool", "spark"}};
  spec.tolerations = json::array({{{"key", "dedicated"},
                                   {"operator", "Equal"},
                                   {"value", "spark"},
                                   {"effect", "NoSchedule"}}});
  for (const json& d : {BuildMasterDeployment(spec, kOwner), BuildWorkerDeployment(spec, kOwner)}) {
    const json& pod = d["spec"]["template"]["spec"];
    EXPECT_EQ(pod["nodeSelector"], json({{"pool", "spark"}}));
    EXPECT_EQ(pod["tolerations"], spec.tolerations);
    EXPECT_EQ(Container(d)["image"], "registry.local/spark:4.0.1-py");
    EXPECT_EQ(Container(d)["imagePullPolicy"], "Always");
  }
}

TEST(SparkClusterObjectsTest, ValidationNamesTheField) {
  EXPECT_TRUE(ValidateSparkClusterSpec(Spec()).ok());
  auto bad = [](auto change) {
    SparkClusterSpec s = Spec();
    change(s);
    return ValidateSparkClusterSpec(s);
  };
  EXPECT_THAT(bad([](SparkClusterSpec& s) { s.namespace_name = "Spark_NS"; }),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("namespace")));
  EXPECT_THAT(bad([](SparkClusterSpec& s) { s.image = "apache/spark 4"; }),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("image")));
  EXPECT_THAT(bad([](SparkClusterSpec& s) { s.worker_memory = "lots"; }),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("worker_memory")));
  EXPECT_THAT(bad([](SparkClusterSpec& s) { s.ui_node_port_number = 80; }),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("30000 to 32767")));
  EXPECT_THAT(bad([](SparkClusterSpec& s) {
                s.node_selector = {{"pool", "a b"}};
              }),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("node_selector.pool")));
  EXPECT_THAT(bad([](SparkClusterSpec& s) {
                s.tolerations = json::array({{{"key", "x"}, {"operator", "Maybe"}}});
              }),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("tolerations[0].operator")));
  EXPECT_THAT(bad([](SparkClusterSpec& s) {
                s.tolerations = json::array({{{"keys", "x"}}});
              }),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("unknown key 'keys'")));
  EXPECT_THAT(bad([](SparkClusterSpec& s) {
                s.worker_conf = {{"spark.x", "a b"}};
              }),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("worker_conf.spark.x")));
}

TEST(SparkClusterObjectsTest, WorkerScratchIsAKubernetesQuantity) {
  auto with = [](const std::string& scratch) {
    SparkClusterSpec s = Spec();
    s.worker_scratch = scratch;
    return ValidateSparkClusterSpec(s);
  };
  for (const char* ok : {"10Gi", "1.5Ti", "500M", "20G", "1048576", "1Mi"}) {
    EXPECT_TRUE(with(ok).ok()) << ok;
  }
  EXPECT_THAT(with("10g"),
              StatusIs(StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("worker_scratch: expected a Kubernetes "
                                       "quantity such as 10Gi"),
                             HasSubstr("got '10g'"), HasSubstr("did you mean 10Gi?"))));
  EXPECT_THAT(with("512mb"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("did you mean 512Mi?")));
  EXPECT_THAT(with(""), StatusIs(StatusCode::kInvalidArgument, HasSubstr("worker_scratch")));
  EXPECT_THAT(with("-1Gi"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("worker_scratch")));
  EXPECT_THAT(with("2GiB"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("did you mean 2Gi?")));
  EXPECT_THAT(with("1e3"), StatusIs(StatusCode::kInvalidArgument,
                                    AllOf(HasSubstr("worker_scratch"), Not(HasSubstr("mean")))));
  EXPECT_THAT(with("10"), StatusIs(StatusCode::kInvalidArgument,
                                   AllOf(HasSubstr("worker_scratch"), HasSubstr("at least 1Mi"))));
}

}  // namespace
}  // namespace sp::k8s
