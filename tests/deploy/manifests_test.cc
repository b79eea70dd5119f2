// deploy/ and the renderer `sparkplane deploy` applies it with: the embedded copies equal the
// files, every file parses and every object carries the labels deploy and undeploy rely on, the
// overlays render as `kubectl kustomize` renders them, the Role is exactly what the Kubernetes
// cluster backend needs, --namespace moves everything, and what the renderer does not support
// is an error rather than silently dropped.
#include "deploy/manifests.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <vector>

#include "k8s/k8s_test_util.h"
#include "k8s/spark_cluster_objects.h"

namespace sp::deploy {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using sp::k8s::testing::StatusIs;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAreArray;

const fs::path kDeployDir = fs::path(SP_SOURCE_DIR) / "deploy";

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// deploy/**/*.yaml as path (relative to deploy/) -> text.
std::map<std::string, std::string> FilesOnDisk() {
  std::map<std::string, std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(kDeployDir)) {
    if (entry.is_regular_file() && entry.path().extension() == ".yaml") {
      files[fs::relative(entry.path(), kDeployDir).generic_string()] = ReadFile(entry.path());
    }
  }
  return files;
}

std::vector<json> Render(const std::string& overlay) {
  Result<std::vector<json>> objects =
      RenderKustomization(EmbeddedDeployFileMap(), "overlays/" + overlay);
  EXPECT_TRUE(objects.ok()) << objects.status();
  return objects.ok() ? *objects : std::vector<json>{};
}

std::vector<std::string> KindsAndNames(const std::vector<json>& objects) {
  std::vector<std::string> out;
  for (const json& o : objects) {
    out.push_back(o["kind"].get<std::string>() + "/" + o["metadata"]["name"].get<std::string>());
  }
  return out;
}

const json& Find(const std::vector<json>& objects, const std::string& kind,
                 const std::string& name) {
  static const json kMissing;
  for (const json& o : objects) {
    if (o["kind"] == kind && o["metadata"]["name"] == name) return o;
  }
  ADD_FAILURE() << kind << "/" << name << " not rendered";
  return kMissing;
}

std::vector<std::string> ContainerNames(const json& pod_spec, const char* key) {
  std::vector<std::string> names;
  for (const json& c : pod_spec.value(key, json::array())) names.push_back(c["name"]);
  return names;
}

TEST(DeployManifestsTest, EmbeddedCopiesEqualTheFiles) {
  std::map<std::string, std::string> disk = FilesOnDisk();
  std::map<std::string, std::string> embedded = EmbeddedDeployFileMap();
  ASSERT_FALSE(disk.empty()) << kDeployDir;
  std::vector<std::string> disk_names, embedded_names;
  for (const auto& [path, text] : disk) disk_names.push_back(path);
  for (const auto& [path, text] : embedded) embedded_names.push_back(path);
  EXPECT_EQ(embedded_names, disk_names) << "rebuild: the binary embeds a different file set";
  for (const auto& [path, text] : disk) {
    auto it = embedded.find(path);
    if (it != embedded.end()) {
      EXPECT_EQ(it->second, text) << "deploy/" << path << " differs";
    }
  }
}

TEST(DeployManifestsTest, EveryFileParsesAndEveryObjectIsLabelled) {
  int objects = 0;
  for (const auto& [path, text] : FilesOnDisk()) {
    SCOPED_TRACE("deploy/" + path);
    Result<std::vector<json>> docs = ParseYamlDocuments(text, path);
    ASSERT_TRUE(docs.ok()) << docs.status();
    ASSERT_FALSE(docs->empty());
    for (const json& doc : *docs) {
      if (doc.is_array()) continue;  // a JSON 6902 patch: a list of operations
      ASSERT_TRUE(doc.is_object());
      if (doc.value("kind", "") == "Kustomization") continue;
      ++objects;
      SCOPED_TRACE(doc.value("kind", "") + "/" + doc["metadata"].value("name", ""));
      const json labels = doc["metadata"].value("labels", json::object());
      EXPECT_EQ(labels.value(std::string(k8s::kManagedByLabel), ""), "sparkplane");
      EXPECT_THAT(labels.value(std::string(kDeployLabel), ""),
                  ::testing::AnyOf("storage", "scheduler", "history"));
      EXPECT_EQ(labels.value("app.kubernetes.io/part-of", ""), "sparkplane");
    }
  }
  EXPECT_GE(objects, 18);
}

TEST(DeployManifestsTest, OverlaysRenderTheReferenceDesign) {
  EXPECT_THAT(DeployOverlays(), ElementsAre("ha", "ha-try", "multi-node", "single-node"));
  std::vector<json> single = Render("single-node");
  EXPECT_THAT(KindsAndNames(single),
              UnorderedElementsAreArray(
                  {"ServiceAccount/sparkplane-scheduler", "Role/sparkplane-scheduler",
                   "RoleBinding/sparkplane-scheduler", "ConfigMap/sparkplane-config",
                   "ConfigMap/sparkplane-spark-defaults", "Deployment/sparkplane-scheduler",
                   "CronJob/sparkplane-cluster-sweep", "Service/sparkplane-ui",
                   "Service/sparkplane-driver", "Service/sparkplane-blockmanager",
                   "Deployment/sparkplane-spark-history", "Service/sparkplane-spark-history",
                   "PersistentVolume/sparkplane-state", "PersistentVolume/sparkplane-spark-history",
                   "PersistentVolume/sparkplane-apps", "PersistentVolumeClaim/sparkplane-state",
                   "PersistentVolumeClaim/sparkplane-spark-history",
                   "PersistentVolumeClaim/sparkplane-apps"}));
  for (const json& o : single) {
    if (o["kind"] == "PersistentVolume") {
      EXPECT_FALSE(o["metadata"].contains("namespace"));
      EXPECT_EQ(o["spec"]["claimRef"]["namespace"], "sparkplane");
      EXPECT_EQ(o["spec"]["persistentVolumeReclaimPolicy"], "Retain");
    } else {
      EXPECT_EQ(o["metadata"]["namespace"], "sparkplane") << o["metadata"]["name"];
    }
  }
  EXPECT_EQ(
      Find(single, "PersistentVolumeClaim", "sparkplane-spark-history")["spec"]["accessModes"],
      json::array({"ReadWriteMany"}));
  EXPECT_EQ(Find(single, "RoleBinding", "sparkplane-scheduler")["subjects"][0]["namespace"],
            "sparkplane");

  const json& scheduler = Find(single, "Deployment", "sparkplane-scheduler");
  EXPECT_EQ(scheduler["spec"]["replicas"], 1);
  EXPECT_EQ(scheduler["spec"]["strategy"]["type"], "Recreate");
  const json& pod = scheduler["spec"]["template"]["spec"];
  EXPECT_EQ(pod["serviceAccountName"], "sparkplane-scheduler");
  EXPECT_THAT(ContainerNames(pod, "initContainers"),
              ElementsAre("volume-permissions", "prepare-data-dir"));
  const json& container = pod["containers"][0];
  // Readiness and liveness ask the HTTP server; startup pings the loop through the socket.
  EXPECT_EQ(container["livenessProbe"]["httpGet"]["path"], "/api/v1/health");
  EXPECT_EQ(container["readinessProbe"]["httpGet"]["path"], "/api/v1/health");
  EXPECT_EQ(container["readinessProbe"]["httpGet"]["port"], "http");
  EXPECT_EQ(container["startupProbe"]["exec"]["command"], json::array({"sparkplane", "health"}));
  std::map<std::string, std::string> env;
  for (const json& e : container["env"]) {
    if (e.contains("value")) env[e["name"]] = e["value"];
  }
  EXPECT_EQ(env["SPARKPLANE_HTTP_ADDRESS"], "0.0.0.0:8080");
  EXPECT_EQ(env["SPARKPLANE_ADMIN_PASSWORD_FILE"], "/etc/sparkplane-admin/password");
  std::map<std::string, std::string> mounts;
  for (const json& m : container["volumeMounts"]) mounts[m["name"]] = m["mountPath"];
  EXPECT_EQ(mounts["state"], "/data");
  EXPECT_EQ(mounts["spark-history"], "/data/history/spark");
  EXPECT_EQ(mounts["apps"], "/data/apps");
  EXPECT_EQ(mounts["admin-password"], "/etc/sparkplane-admin");
  bool pod_ip = false;
  for (const json& e : container["env"]) {
    pod_ip |= e["name"] == "POD_IP" && e["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP";
  }
  EXPECT_TRUE(pod_ip);
  EXPECT_EQ(Find(single, "Service", "sparkplane-ui")["spec"]["type"], "NodePort");
  EXPECT_EQ(Find(single, "Service", "sparkplane-driver")["spec"]["ports"][0]["port"], 7078);
  EXPECT_EQ(Find(single, "Service", "sparkplane-blockmanager")["spec"]["ports"][0]["port"], 7079);
  EXPECT_EQ(Find(single, "Service", "sparkplane-spark-history")["spec"]["ports"][0]["port"], 18080);

  std::vector<json> multi = Render("multi-node");
  std::vector<std::string> names = KindsAndNames(multi);
  EXPECT_EQ(
      std::count_if(names.begin(), names.end(),
                    [](const std::string& n) { return n.rfind("PersistentVolume/", 0) == 0; }),
      0);
  EXPECT_THAT(names, ::testing::IsSupersetOf(
                         {"Ingress/sparkplane-ui", "Ingress/sparkplane-spark-history"}));
  const json& multi_pod =
      Find(multi, "Deployment", "sparkplane-scheduler")["spec"]["template"]["spec"];
  EXPECT_THAT(ContainerNames(multi_pod, "initContainers"),
              ElementsAre("prepare-data-dir", "load-dags-and-apps"));
  EXPECT_FALSE(Find(multi, "PersistentVolumeClaim", "sparkplane-state")["spec"].contains(
      "storageClassName"));
}

// The sweep CronJob (issue 14): `sparkplane cluster sweep` every minute, never two at once, as
// the scheduler's image and account, with none of the scheduler's volumes, in pods the clusters'
// NetworkPolicy admits to the master's UI and no scheduler Service selects.
TEST(DeployManifestsTest, TheSweepCronJobRunsWithoutTheScheduler) {
  for (const std::string overlay : {"single-node", "multi-node"}) {
    SCOPED_TRACE(overlay);
    std::vector<json> objects = Render(overlay);
    const json& cron = Find(objects, "CronJob", "sparkplane-cluster-sweep");
    EXPECT_EQ(cron["apiVersion"], "batch/v1");
    EXPECT_EQ(cron["spec"]["schedule"], "* * * * *");
    EXPECT_EQ(cron["spec"]["concurrencyPolicy"], "Forbid");
    const json& pod = cron["spec"]["jobTemplate"]["spec"]["template"];
    EXPECT_EQ(pod["metadata"]["labels"]["app.kubernetes.io/name"], k8s::kSweepPodLabelValue);
    EXPECT_EQ(pod["spec"]["serviceAccountName"], "sparkplane-scheduler");
    EXPECT_EQ(pod["spec"]["restartPolicy"], "Never");
    const json& container = pod["spec"]["containers"][0];
    EXPECT_EQ(container["args"], json::array({"cluster", "sweep"}));
    const json& scheduler = Find(objects, "Deployment", "sparkplane-scheduler");
    EXPECT_EQ(container["image"], scheduler["spec"]["template"]["spec"]["containers"][0]["image"]);
    EXPECT_EQ(container["securityContext"]["readOnlyRootFilesystem"], true);
    for (const json& v : pod["spec"]["volumes"]) {
      EXPECT_FALSE(v.contains("persistentVolumeClaim")) << v.dump();
    }
    for (const json& o : objects) {
      if (o["kind"] != "Service") continue;
      EXPECT_NE(o["spec"]["selector"].value("app.kubernetes.io/name", ""), k8s::kSweepPodLabelValue)
          << o["metadata"]["name"];
    }
  }
}

TEST(DeployManifestsTest, RoleGrantsExactlyWhatTheClusterBackendAndNotebooksUse) {
  const std::vector<json> objects = Render("single-node");
  const json& role = Find(objects, "Role", "sparkplane-scheduler");
  std::set<std::string> granted;
  for (const json& rule : role["rules"]) {
    EXPECT_FALSE(rule.contains("resourceNames"));
    for (const json& group : rule["apiGroups"]) {
      for (const json& resource : rule["resources"]) {
        for (const json& verb : rule["verbs"]) {
          granted.insert(group.get<std::string>() + "/" + resource.get<std::string>() + ":" +
                         verb.get<std::string>());
        }
      }
    }
  }
  // Why each verb is there: deploy/base/rbac.yaml; that it is enough: tests/integration/k8s/
  // rbac_test.cc.
  const std::map<std::string, std::vector<std::string>> verbs = {
      {"/configmaps", {"create", "get", "list", "watch", "patch", "delete"}},
      {"/configmaps/finalizers", {"update"}},
      {"/secrets", {"create", "get"}},
      {"/services", {"create", "patch", "list", "get"}},
      {"apps/deployments", {"create", "patch", "list", "watch"}},
      {"networking.k8s.io/networkpolicies", {"create", "patch"}},
      {"/pods", {"create", "get", "list", "watch", "delete"}},
      {"/events", {"list"}},
      {"/persistentvolumeclaims", {"get"}}};
  std::set<std::string> expected;
  for (const auto& [resource, resource_verbs] : verbs) {
    for (const std::string& verb : resource_verbs) expected.insert(resource + ":" + verb);
  }
  EXPECT_EQ(granted, expected);
}

// The renderer and kubectl's kustomize (v5) agree object for object. kubectl is not needed to
// build or run Sparkplane, so without it this check is skipped (it runs where kubectl is).
TEST(DeployManifestsTest, RenderingEqualsKubectlKustomize) {
  if (std::system("kubectl version --client >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "kubectl is not installed";
  }
  for (const std::string& overlay : DeployOverlays()) {
    SCOPED_TRACE(overlay);
    std::string command = "kubectl kustomize " + (kDeployDir / "overlays" / overlay).string();
    std::FILE* pipe = ::popen(command.c_str(), "r");
    ASSERT_NE(pipe, nullptr);
    std::string output;
    char buffer[4096];
    for (size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) output.append(buffer, n);
    ASSERT_EQ(::pclose(pipe), 0) << command << "\n" << output;
    Result<std::vector<json>> theirs = ParseYamlDocuments(output, "kubectl kustomize");
    ASSERT_TRUE(theirs.ok()) << theirs.status();
    std::map<std::string, json> by_name;
    for (const json& o : *theirs) {
      by_name[o["kind"].get<std::string>() + "/" + o["metadata"]["name"].get<std::string>()] = o;
    }
    std::vector<json> ours = Render(overlay);
    EXPECT_EQ(ours.size(), theirs->size());
    for (const json& o : ours) {
      std::string key =
          o["kind"].get<std::string>() + "/" + o["metadata"]["name"].get<std::string>();
      ASSERT_EQ(by_name.count(key), 1u) << key;
      EXPECT_EQ(o, by_name[key]) << key << "\nours:   " << o.dump()
                                 << "\nkubectl: " << by_name[key].dump();
    }
  }
}

TEST(DeployManifestsTest, ComponentsSelectObjectsInApplyOrder) {
  Result<std::vector<DeployObject>> storage =
      DeployObjectsFor(EmbeddedDeployFileMap(), "single-node", {"storage"}, "");
  ASSERT_TRUE(storage.ok()) << storage.status();
  std::vector<std::string> kinds;
  for (const DeployObject& d : *storage) {
    EXPECT_EQ(d.component, "storage");
    kinds.push_back(std::string(d.ref.type.kind));
  }
  EXPECT_THAT(kinds, ElementsAre("PersistentVolume", "PersistentVolume", "PersistentVolume",
                                 "PersistentVolumeClaim", "PersistentVolumeClaim",
                                 "PersistentVolumeClaim"));

  Result<std::vector<DeployObject>> all =
      DeployObjectsFor(EmbeddedDeployFileMap(), "multi-node", {"all"}, "");
  ASSERT_TRUE(all.ok()) << all.status();
  std::vector<std::string> order;
  for (const DeployObject& d : *all) {
    if (order.empty() || order.back() != d.ref.type.kind) order.emplace_back(d.ref.type.kind);
    EXPECT_EQ(d.ref.namespace_name, "sparkplane");
  }
  EXPECT_THAT(order, ElementsAre("ServiceAccount", "Role", "RoleBinding", "ConfigMap", "Service",
                                 "PersistentVolumeClaim", "Deployment", "CronJob", "Ingress"));

  EXPECT_THAT(DeployObjectsFor(EmbeddedDeployFileMap(), "single-node", {"histroy"}, ""),
              StatusIs(StatusCode::kInvalidArgument,
                       HasSubstr("unknown component \"histroy\" (expected storage, scheduler, "
                                 "history, all); did you mean \"history\"?")));
  EXPECT_THAT(DeployObjectsFor(EmbeddedDeployFileMap(), "singlenode", {}, ""),
              StatusIs(StatusCode::kInvalidArgument,
                       HasSubstr("unknown overlay \"singlenode\" (expected ha, ha-try, "
                                 "multi-node or single-node); did you mean \"single-node\"?")));
  EXPECT_THAT(DeployObjectsFor(EmbeddedDeployFileMap(), "single-node", {}, "Team_A"),
              StatusIs(StatusCode::kInvalidArgument,
                       HasSubstr("namespace \"Team_A\" is not a valid name")));
}

// The building blocks the commands use: the overlays of a file map (nested directories are not
// overlays), a map without any, the selector of components and the kinds removed, in delete order.
TEST(DeployManifestsTest, OverlaysSelectorsAndKindsToUndeploy) {
  const std::map<std::string, std::string> files = {{"overlays/b/kustomization.yaml", ""},
                                                    {"overlays/a/kustomization.yaml", ""},
                                                    {"overlays/a/deeper/kustomization.yaml", ""},
                                                    {"overlays/c/notes.md", ""}};
  EXPECT_THAT(OverlaysIn(files), ElementsAre("a", "b"));
  EXPECT_THAT(DeployObjectsFor({}, "single-node", {}, ""),
              StatusIs(StatusCode::kNotFound, HasSubstr("no overlays")));
  EXPECT_EQ(ComponentSelector({"storage", "history"}), "sparkplane.io/deploy in (storage,history)");
  Result<std::vector<k8s::ResourceType>> kinds =
      KindsToUndeploy(EmbeddedDeployFileMap(), {"storage"}, "");
  ASSERT_TRUE(kinds.ok()) << kinds.status();
  std::vector<std::string> names;
  for (const k8s::ResourceType& t : *kinds) names.emplace_back(t.kind);
  // Storage includes ha-try's PostgreSQL (a StatefulSet, its Service and Secret).
  EXPECT_THAT(names, ElementsAre("StatefulSet", "PersistentVolumeClaim", "PersistentVolume",
                                 "Service", "Secret"));
}

TEST(DeployManifestsTest, AnotherNamespaceMovesEverythingAndKeepsVolumesApart) {
  Result<std::vector<DeployObject>> objects =
      DeployObjectsFor(EmbeddedDeployFileMap(), "single-node", {"all"}, "team-a");
  ASSERT_TRUE(objects.ok()) << objects.status();
  int volumes = 0;
  for (const DeployObject& d : *objects) {
    SCOPED_TRACE(d.ref.Describe());
    if (d.ref.type.kind == "PersistentVolume") {
      ++volumes;
      EXPECT_EQ(d.ref.namespace_name, "");
      EXPECT_THAT(d.ref.name, ::testing::EndsWith("-team-a"));
      EXPECT_EQ(d.object["metadata"]["name"], d.ref.name);
      EXPECT_EQ(d.object["spec"]["claimRef"]["namespace"], "team-a");
      EXPECT_THAT(d.object["spec"]["hostPath"]["path"].get<std::string>(),
                  ::testing::StartsWith("/var/lib/sparkplane-team-a/"));
    } else {
      EXPECT_EQ(d.ref.namespace_name, "team-a");
      EXPECT_EQ(d.object["metadata"]["namespace"], "team-a");
    }
    if (d.ref.type.kind == "RoleBinding") {
      EXPECT_EQ(d.object["subjects"][0]["namespace"], "team-a");
    }
  }
  EXPECT_EQ(volumes, 3);
}

TEST(DeployManifestsTest, RendererRejectsWhatItDoesNotSupport) {
  std::map<std::string, std::string> files = {
      {"a/kustomization.yaml", "resources: [cm.yaml]\nimages:\n  - name: x\n    newTag: y\n"},
      {"a/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"},
      {"b/kustomization.yaml", "resources: [../a/cm.yaml]\npatches:\n  - path: p.yaml\n"},
      {"b/p.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {x: y}\n"},
      {"c/kustomization.yaml",
       "resources: [../a/cm.yaml]\npatches:\n  - target: {kind: Secret}\n    patch: |-\n"
       "      - op: add\n        path: /data\n        value: {}\n"},
      {"d/kustomization.yaml", "resources: [missing.yaml]\n"},
      {"e/kustomization.yaml",
       "namespace: ns\nresources: [../a/cm.yaml]\npatches:\n  - target: {kind: ConfigMap}\n"
       "    patch: |-\n      - op: add\n        path: /data\n        value: {k: v}\n"},
  };
  EXPECT_THAT(RenderKustomization(files, "a"),
              StatusIs(StatusCode::kInvalidArgument,
                       HasSubstr("deploy/a/kustomization.yaml: `images` is not supported")));
  EXPECT_THAT(
      RenderKustomization(files, "b"),
      StatusIs(StatusCode::kInvalidArgument, HasSubstr("deploy/b/p.yaml: only JSON 6902 patches")));
  EXPECT_THAT(RenderKustomization(files, "c"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("matches no object")));
  EXPECT_THAT(RenderKustomization(files, "d"),
              StatusIs(StatusCode::kNotFound, HasSubstr("no file deploy/d/missing.yaml")));
  Result<std::vector<json>> inline_patch = RenderKustomization(files, "e");
  ASSERT_TRUE(inline_patch.ok()) << inline_patch.status();
  ASSERT_EQ(inline_patch->size(), 1u);
  EXPECT_EQ((*inline_patch)[0]["data"], json({{"k", "v"}}));
  EXPECT_EQ((*inline_patch)[0]["metadata"]["namespace"], "ns");
}

TEST(DeployManifestsTest, YamlScalarsAreTypedAsKubernetesReadsThem) {
  Result<std::vector<json>> docs = ParseYamlDocuments(
      "a: 1\nb: '1'\nc: true\nd: 1.5\ne: 10Gi\nf:\ng: \"true\"\nh: 0.1.0\ni: -3\n---\n---\nx: |\n"
      "  text\n",
      "t.yaml");
  ASSERT_TRUE(docs.ok()) << docs.status();
  ASSERT_EQ(docs->size(), 2u);
  EXPECT_EQ((*docs)[0], json::parse(R"({"a":1,"b":"1","c":true,"d":1.5,"e":"10Gi","f":null,
                                        "g":"true","h":"0.1.0","i":-3})"));
  EXPECT_EQ((*docs)[1]["x"], "text\n");
  EXPECT_THAT(ParseYamlDocuments("a: [1, 2\nb: c\n", "bad.yaml"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("bad.yaml:")));
  // Aliases expand; one inside its own anchor is refused instead of recursing forever.
  Result<std::vector<json>> aliased = ParseYamlDocuments("a: &x {k: 1}\nb: *x\n", "t.yaml");
  ASSERT_TRUE(aliased.ok()) << aliased.status();
  EXPECT_EQ((*aliased)[0]["b"], json({{"k", 1}}));
  std::string chained = "a:\n";  // anchors 200 deep, each holding an alias to the previous one
  for (int a = 0; a < 50; ++a) {
    chained += "  - &a" + std::to_string(a) + " " + std::string(200, '[') +
               (a == 0 ? "x" : "*a" + std::to_string(a - 1)) + std::string(200, ']') + "\n";
  }
  EXPECT_THAT(ParseYamlDocuments(chained, "deep.yaml"),
              StatusIs(StatusCode::kInvalidArgument,
                       HasSubstr("levels deep once YAML aliases are followed")));
  EXPECT_THAT(ParseYamlDocuments("a: &x [1, *x]\n", "loop.yaml"),
              StatusIs(StatusCode::kInvalidArgument,
                       HasSubstr("loop.yaml:1:4: the value contains itself through a YAML alias")));
}

// The `ha` overlay (issue 13): two schedulers on the PostgreSQL store of the Secret
// sparkplane-postgres (URL and password, neither in the manifests), both active on their share of
// 8 scheduler partitions, on different nodes when possible, sharing the data directory
// (ReadWriteMany), one taken at a time by a disruption.
TEST(DeployManifestsTest, TheHaOverlayRunsTwoSchedulersOnAPostgresStore) {
  std::vector<json> objects = Render("ha");
  const json& deployment = Find(objects, "Deployment", "sparkplane-scheduler");
  EXPECT_EQ(deployment["spec"]["replicas"], 2);
  EXPECT_EQ(deployment["spec"]["strategy"]["type"], "RollingUpdate");
  const json& pod = deployment["spec"]["template"]["spec"];
  EXPECT_EQ(pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0]
               ["podAffinityTerm"]["topologyKey"],
            "kubernetes.io/hostname");
  const json& container = pod["containers"][0];
  std::map<std::string, json> env;
  for (const json& e : container["env"]) env[e["name"].get<std::string>()] = e;
  ASSERT_TRUE(env.count("SPARKPLANE_STORE"));
  EXPECT_EQ(env["SPARKPLANE_STORE"]["valueFrom"]["secretKeyRef"]["name"], "sparkplane-postgres");
  EXPECT_FALSE(env["SPARKPLANE_STORE"].contains("value"));
  ASSERT_TRUE(env.count("SPARKPLANE_SCHEDULER_PARTITIONS"));
  EXPECT_EQ(env["SPARKPLANE_SCHEDULER_PARTITIONS"]["value"], "8");
  ASSERT_TRUE(env.count("PGPASSWORD"));
  EXPECT_EQ(env["PGPASSWORD"]["valueFrom"]["secretKeyRef"]["key"], "password");
  // Both replicas act and open their ports at once: the base's probes stay.
  EXPECT_TRUE(container.contains("startupProbe"));
  EXPECT_TRUE(container.contains("livenessProbe"));
  EXPECT_TRUE(container.contains("readinessProbe"));
  for (const char* claim : {"sparkplane-state", "sparkplane-apps", "sparkplane-spark-history"}) {
    EXPECT_EQ(Find(objects, "PersistentVolumeClaim", claim)["spec"]["accessModes"],
              json::array({"ReadWriteMany"}))
        << claim;
  }
  const json& pdb = Find(objects, "PodDisruptionBudget", "sparkplane-scheduler");
  EXPECT_EQ(pdb["spec"]["maxUnavailable"], 1);
  const json pod_labels = deployment["spec"]["template"]["metadata"]["labels"];
  ASSERT_FALSE(pdb["spec"]["selector"]["matchLabels"].empty());
  for (const auto& [key, value] : pdb["spec"]["selector"]["matchLabels"].items()) {
    EXPECT_EQ(pod_labels.value(key, json()), value) << key;
  }
  EXPECT_EQ(pdb["metadata"]["labels"]["sparkplane.io/deploy"], "scheduler");
}

// The `ha-try` overlay (issue 13), FOR TRYING OUT: `ha` plus a single-pod PostgreSQL of its own.
// The StatefulSet, its headless Service and the Secret the schedulers read fit together (names,
// port, user, database, password key), the password is nowhere in deploy/ but generated by
// `deploy`, and everything of the database goes with the storage component.
TEST(DeployManifestsTest, TheHaTryOverlayBringsASinglePodPostgresForTryingOut) {
  std::vector<json> ha = Render("ha");
  std::vector<json> objects = Render("ha-try");
  std::vector<std::string> names = KindsAndNames(objects);
  EXPECT_THAT(names, ::testing::IsSupersetOf(KindsAndNames(ha)));
  EXPECT_EQ(names.size(), ha.size() + 2);
  EXPECT_THAT(names, ::testing::IsSupersetOf(
                         {"StatefulSet/sparkplane-postgres", "Service/sparkplane-postgres"}));
  for (const json& o : objects) {
    EXPECT_NE(o["kind"], "Secret") << "a Secret in the manifests would carry a fixed password";
    EXPECT_EQ(o["metadata"]["namespace"], "sparkplane") << o["metadata"]["name"];
  }

  const json& service = Find(objects, "Service", "sparkplane-postgres");
  const json& set = Find(objects, "StatefulSet", "sparkplane-postgres");
  EXPECT_EQ(service["spec"]["clusterIP"], "None");
  EXPECT_EQ(set["spec"]["serviceName"], "sparkplane-postgres");
  EXPECT_EQ(set["spec"]["replicas"], 1);
  const json& template_labels = set["spec"]["template"]["metadata"]["labels"];
  ASSERT_FALSE(service["spec"]["selector"].empty());
  for (const auto& [key, value] : service["spec"]["selector"].items()) {
    EXPECT_EQ(template_labels.value(key, json()), value) << key;
  }
  for (const auto& [key, value] : set["spec"]["selector"]["matchLabels"].items()) {
    EXPECT_EQ(template_labels.value(key, json()), value) << key;
  }
  // The database must not select the schedulers' pods, nor their Services it.
  EXPECT_NE(template_labels.value("app.kubernetes.io/name", ""), "sparkplane-scheduler");

  const json& pod = set["spec"]["template"]["spec"];
  const json& container = pod["containers"][0];
  EXPECT_THAT(container["image"].get<std::string>(), ::testing::StartsWith("postgres:"));
  EXPECT_THAT(container["image"].get<std::string>(), HasSubstr("bookworm"));
  EXPECT_EQ(container["readinessProbe"]["exec"]["command"][0], "pg_isready");
  EXPECT_TRUE(container["resources"]["requests"].contains("cpu"));
  EXPECT_TRUE(container["resources"]["requests"].contains("memory"));
  std::map<std::string, json> env;
  for (const json& e : container["env"]) env[e["name"].get<std::string>()] = e;
  ASSERT_TRUE(env.count("POSTGRES_PASSWORD"));
  EXPECT_FALSE(env["POSTGRES_PASSWORD"].contains("value"));
  EXPECT_EQ(env["POSTGRES_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"], "sparkplane-postgres");
  EXPECT_EQ(env["POSTGRES_PASSWORD"]["valueFrom"]["secretKeyRef"]["key"], "password");
  const json& claim = set["spec"]["volumeClaimTemplates"][0];
  EXPECT_EQ(claim["metadata"]["labels"]["sparkplane.io/deploy"], "storage");
  EXPECT_EQ(claim["metadata"]["labels"]["app.kubernetes.io/managed-by"], "sparkplane");
  EXPECT_EQ(claim["spec"]["accessModes"], json::array({"ReadWriteOnce"}));
  std::map<std::string, std::string> mounts;
  for (const json& m : container["volumeMounts"]) mounts[m["name"]] = m["mountPath"];
  EXPECT_EQ(mounts[claim["metadata"]["name"].get<std::string>()], "/var/lib/postgresql/data");
  EXPECT_THAT(env["PGDATA"]["value"].get<std::string>(),
              ::testing::StartsWith("/var/lib/postgresql/data/"));

  // The schedulers wait for the database before their server starts.
  const json& scheduler = Find(objects, "Deployment", "sparkplane-scheduler");
  const json& scheduler_pod = scheduler["spec"]["template"]["spec"];
  EXPECT_THAT(ContainerNames(scheduler_pod, "initContainers"),
              ElementsAre("prepare-data-dir", "wait-for-postgres"));
  EXPECT_THAT(scheduler_pod["initContainers"][1]["command"].dump(),
              AllOf(HasSubstr("pg_isready"), HasSubstr("sparkplane-postgres"),
                    HasSubstr(std::to_string(service["spec"]["ports"][0]["port"].get<int>()))));

  // The Secret: made by deploy (with the password), storage like the database, in the target
  // namespace, its URL naming the Service, port, user and database of the StatefulSet.
  Result<std::vector<DeployObject>> storage =
      DeployObjectsFor(EmbeddedDeployFileMap(), "ha-try", {"storage"}, "team-b");
  ASSERT_TRUE(storage.ok()) << storage.status();
  std::vector<std::string> order;
  const DeployObject* secret = nullptr;
  for (const DeployObject& d : *storage) {
    EXPECT_EQ(d.component, "storage");
    order.push_back(std::string(d.ref.type.kind) + "/" + d.ref.name);
    if (d.ref.type.kind == "Secret") secret = &d;
    if (d.ref.type.kind != "Secret") {
      EXPECT_TRUE(d.generated_keys.empty()) << d.ref.name;
    }
  }
  EXPECT_THAT(order, ElementsAre("Secret/sparkplane-postgres", "Service/sparkplane-postgres",
                                 "PersistentVolumeClaim/sparkplane-state",
                                 "PersistentVolumeClaim/sparkplane-spark-history",
                                 "PersistentVolumeClaim/sparkplane-apps",
                                 "StatefulSet/sparkplane-postgres"));
  ASSERT_NE(secret, nullptr);
  EXPECT_THAT(secret->generated_keys, ElementsAre("password"));
  EXPECT_EQ(secret->ref.namespace_name, "team-b");
  EXPECT_EQ(secret->object["metadata"]["namespace"], "team-b");
  EXPECT_FALSE(secret->object.value("stringData", json::object()).contains("password"));
  EXPECT_FALSE(secret->object.contains("data"));
  EXPECT_EQ(
      secret->object["stringData"]["url"],
      "postgresql://" + env["POSTGRES_USER"]["value"].get<std::string>() +
          "@sparkplane-postgres:" + std::to_string(service["spec"]["ports"][0]["port"].get<int>()) +
          "/" + env["POSTGRES_DB"]["value"].get<std::string>());
  // `ha` leaves the Secret to its user.
  Result<std::vector<DeployObject>> plain_ha =
      DeployObjectsFor(EmbeddedDeployFileMap(), "ha", {"all"}, "");
  ASSERT_TRUE(plain_ha.ok()) << plain_ha.status();
  for (const DeployObject& d : *plain_ha) EXPECT_NE(d.ref.type.kind, "Secret") << d.ref.name;
}

TEST(DeployManifestsTest, AGeneratedSecretMustNameWhatToGenerateAndNotHoldIt) {
  std::map<std::string, std::string> files = EmbeddedDeployFileMap();
  const std::string path = "overlays/ha-try/generated-secret.yaml";
  const std::string head =
      "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n  labels: {sparkplane.io/deploy: "
      "storage}\n";
  files[path] = head;
  EXPECT_THAT(DeployObjectsFor(files, "ha-try", {"all"}, ""),
              StatusIs(StatusCode::kInvalidArgument,
                       HasSubstr("deploy/" + path +
                                 ": Secret/s names no key to generate (annotation "
                                 "sparkplane.io/generate: KEY[,KEY...])")));
  files[path] = head + "  annotations: {sparkplane.io/generate: 'password, token'}\n" +
                "stringData: {token: fixed}\n";
  EXPECT_THAT(DeployObjectsFor(files, "ha-try", {"all"}, ""),
              StatusIs(StatusCode::kInvalidArgument,
                       HasSubstr("Secret/s has a value for \"token\", which it also names to "
                                 "generate")));
  files[path] = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n";
  EXPECT_THAT(DeployObjectsFor(files, "ha-try", {"all"}, ""),
              StatusIs(StatusCode::kInvalidArgument,
                       HasSubstr("every document must be a v1 Secret with metadata.name")));
  files[path] = head + "  annotations: {sparkplane.io/generate: 'password, token'}\n";
  Result<std::vector<DeployObject>> two = DeployObjectsFor(files, "ha-try", {"storage"}, "");
  ASSERT_TRUE(two.ok()) << two.status();
  ASSERT_EQ((*two)[0].ref.name, "s");
  EXPECT_THAT((*two)[0].generated_keys, ElementsAre("password", "token"));
}

}  // namespace
}  // namespace sp::deploy
