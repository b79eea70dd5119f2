// `sparkplane deploy|undeploy|services`: parses the flags, connects to the API server and prints
// what the deploy module (deploy/manifests.h, deploy/apply.h) rendered, applied or deleted, and
// how to reach the services.
#include "cli/deploy_commands.h"

#include <chrono>
#include <cstdio>
#include <map>
#include <optional>
#include <set>

#include "auth/secrets.h"
#include "cli/table.h"
#include "common/clock.h"
#include "common/join.h"
#include "deploy/apply.h"
#include "deploy/manifests.h"
#include "k8s/api_error.h"
#include "k8s/client.h"
#include "k8s/credentials.h"
#include "k8s/kube_config.h"
#include "k8s/notebook_objects.h"

namespace sp::cli {

namespace {

using nlohmann::json;

using deploy::DeployObject;
using deploy::DeployObjectsFor;
using deploy::EmbeddedDeployFileMap;
using deploy::ExpandComponents;
using deploy::NameOf;
using deploy::StringAt;

constexpr k8s::ResourceType kNodes{"v1", "nodes", "Node", k8s::Scope::kCluster};

using FileMap = std::map<std::string, std::string>;

// ---------------------------------------------------------------------------------------------
// Talking to the cluster.

struct KubeSession {
  RealClock clock;
  k8s::KubeConfig config;
  std::unique_ptr<k8s::KubeClient> client;
  std::string config_namespace;  // sparkplane.yaml's namespace, else $SPARKPLANE_NAMESPACE
};

// The API server as kubectl would find it (config.h): the command's --kubeconfig/--context,
// then sparkplane.yaml's kubeconfig/kube_context, then the environment.
Result<std::unique_ptr<KubeSession>> Connect(const GlobalOptions& g, const DeployOptions& options) {
  ConfigFlags flags = g.config;
  if (!options.kubeconfig.empty()) flags.kubeconfig = options.kubeconfig;
  if (!options.context.empty()) flags.kube_context = options.context;
  ASSIGN_OR_RETURN(Config config, ResolveConfig(flags));
  k8s::KubeConfigOptions config_options;
  config_options.context = config.kube_context;
  ASSIGN_OR_RETURN(k8s::KubeConfig kube,
                   k8s::LoadKubeConfigSetting(config.kubeconfig, config_options));
  auto session = std::make_unique<KubeSession>();
  session->config = kube;
  session->client = std::make_unique<k8s::KubeClient>(kube, session->clock);
  session->config_namespace = config.kube_namespace;
  return session;
}

// --namespace, then sparkplane.yaml's namespace (or $SPARKPLANE_NAMESPACE), then the overlay's.
std::string ResolveNamespace(const FileMap& files, const DeployOptions& options,
                             const KubeSession& session) {
  if (!options.namespace_name.empty()) return options.namespace_name;
  if (!session.config_namespace.empty()) return session.config_namespace;
  return deploy::OverlayNamespace(files, options.overlay);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// deploy

int DeployCommand(const GlobalOptions& g, const DeployOptions& options) {
  const FileMap files = EmbeddedDeployFileMap();
  Result<std::vector<std::string>> components = ExpandComponents(options.components);
  if (!components.ok()) return Fail(components.status());
  Result<std::unique_ptr<KubeSession>> session = Connect(g, options);
  if (!session.ok()) return Fail(session.status());
  k8s::KubeClient& client = *(*session)->client;
  const std::string ns = ResolveNamespace(files, options, **session);
  Result<std::vector<DeployObject>> objects =
      DeployObjectsFor(files, options.overlay, *components, ns);
  if (!objects.ok()) return Fail(objects.status());

  std::FILE* progress = g.json ? stderr : stdout;  // stdout carries the JSON report
  Result<deploy::NamespaceState> namespace_state =
      deploy::EnsureNamespace(client, ns, options.dry_run);
  if (!namespace_state.ok()) return Fail(namespace_state.status().With("namespace " + ns));
  if (*namespace_state == deploy::NamespaceState::kCreated) {
    std::fprintf(progress, "namespace/%s created\n", ns.c_str());
  } else if (*namespace_state == deploy::NamespaceState::kMissing) {
    std::fprintf(progress,
                 "namespace/%s would be created; the objects in it cannot be checked by the API "
                 "server before it exists\n",
                 ns.c_str());
  }
  deploy::ApplyOptions apply;
  apply.dry_run = options.dry_run;
  apply.force_conflicts = options.force_conflicts;
  // 24 random bytes, URL-safe base64: nothing a URL or libpq would have to escape.
  apply.new_secret = [] { return auth::RandomSecret(24); };
  const std::string suffix = options.dry_run ? " (server dry run)" : "";
  std::vector<deploy::ObjectOutcome> outcomes = deploy::ApplyObjects(
      client, *objects, ns, *namespace_state != deploy::NamespaceState::kMissing, apply,
      [&](const deploy::ObjectOutcome& o) {
        if (!o.error.ok()) {
          Fail(o.error);
        } else if (!g.json) {
          std::printf("%s %s%s%s\n", o.object.c_str(), o.outcome.c_str(),
                      o.outcome == "skipped" ? "" : suffix.c_str(), o.note.c_str());
        }
      });
  json report = json::array();
  int failed = 0, skipped = 0;
  for (const deploy::ObjectOutcome& o : outcomes) {
    if (!o.error.ok()) {
      ++failed;
      continue;
    }
    if (o.outcome == "skipped") {
      ++skipped;
      report.push_back({{"object", o.object}, {"outcome", "skipped"}});
      continue;
    }
    report.push_back({{"object", o.object},
                      {"namespace", o.namespace_name},
                      {"component", o.component},
                      {"outcome", o.outcome},
                      {"dry_run", options.dry_run}});
  }
  if (g.json) std::printf("%s\n", report.dump(2).c_str());
  if (failed > 0) {
    return Fail(std::to_string(failed) + " of " + std::to_string(objects->size()) +
                " objects were not applied (see above)");
  }
  if (skipped > 0) {
    // A dry run persists nothing, so it cannot create the namespace its objects need.
    return Fail("namespace " + ns + " does not exist, so " + std::to_string(skipped) + " of " +
                std::to_string(objects->size()) +
                " objects could not be checked; deploy without --dry-run creates it");
  }
  if (!g.json) {
    std::printf(
        "%s %s to namespace %s (overlay %s); `sparkplane services --namespace %s` shows how "
        "to reach them\n",
        options.dry_run ? "checked" : "deployed", Join(*components, ", ").c_str(), ns.c_str(),
        options.overlay.c_str(), ns.c_str());
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------
// undeploy

int UndeployCommand(const GlobalOptions& g, const DeployOptions& options) {
  const FileMap files = EmbeddedDeployFileMap();
  Result<std::vector<std::string>> components = ExpandComponents(options.components);
  if (!components.ok()) return Fail(components.status());
  Result<std::vector<k8s::ResourceType>> kinds =
      deploy::KindsToUndeploy(files, *components, options.namespace_name);
  if (!kinds.ok()) return Fail(kinds.status());
  Result<std::unique_ptr<KubeSession>> session = Connect(g, options);
  if (!session.ok()) return Fail(session.status());
  k8s::KubeClient& client = *(*session)->client;
  const std::string ns = ResolveNamespace(files, options, **session);

  Result<std::vector<deploy::ObjectOutcome>> deleted =
      deploy::DeleteObjects(client, *kinds, ns, deploy::ComponentSelector(*components),
                            options.dry_run, std::chrono::seconds(options.timeout_seconds),
                            (*session)->clock, [&](const deploy::ObjectOutcome& o) {
                              if (!g.json)
                                std::printf("%s %s\n", o.object.c_str(), o.outcome.c_str());
                            });
  if (!deleted.ok()) {
    const Status& s = deleted.status();
    return Fail(s.code() == StatusCode::kDeadlineExceeded
                    ? Status(s.code(), s.message() + " (--timeout waits longer)")
                    : s);
  }
  json report = json::array();
  for (const deploy::ObjectOutcome& o : *deleted) {
    report.push_back({{"object", o.object}, {"outcome", o.outcome}});
  }
  if (g.json) {
    std::printf("%s\n", report.dump(2).c_str());
  } else if (!options.dry_run) {
    std::printf("undeployed %s from namespace %s: %zu objects gone\n",
                Join(*components, ", ").c_str(), ns.c_str(), report.size());
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------
// services

namespace {

struct NodeAddress {
  std::string address;  // "" when no node could be read
  std::string note;     // "node kwok-node-0 InternalIP", or why there is no address
};

NodeAddress PickNodeAddress(k8s::KubeClient& client) {
  Result<k8s::ObjectList> nodes = client.ListAll(k8s::ClusterRef(kNodes));
  if (!nodes.ok()) {
    return {"", nodes.status().code() == StatusCode::kPermissionDenied
                    ? "nodes are not readable with these credentials: use any node's address"
                    : "cannot list nodes: " + nodes.status().message()};
  }
  const json* chosen = nullptr;
  for (const json& node : nodes->items) {
    bool ready = false;
    for (const json& c : node.value("/status/conditions"_json_pointer, json::array())) {
      ready |= c.value("type", "") == "Ready" && c.value("status", "") == "True";
    }
    if (ready) {
      chosen = &node;
      break;
    }
  }
  if (chosen == nullptr) return {"", "no node is Ready"};
  for (const char* wanted : {"ExternalIP", "InternalIP", "Hostname"}) {
    for (const json& a : chosen->value("/status/addresses"_json_pointer, json::array())) {
      if (a.value("type", "") == wanted && !a.value("address", "").empty()) {
        return {a.value("address", ""), "node " + NameOf(*chosen) + " " + wanted};
      }
    }
  }
  return {"", "node " + NameOf(*chosen) + " reports no address"};
}

bool IsHttpPort(const json& port) {
  std::string name = port.value("name", ""), protocol = port.value("appProtocol", "");
  return name.rfind("http", 0) == 0 || name == "ui" || name == "web" ||
         protocol.rfind("http", 0) == 0;
}

std::string PortText(const json& v) {
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  return v.is_string() ? v.get<std::string>() : "";
}

}  // namespace

int ServicesCommand(const GlobalOptions& g, const DeployOptions& options) {
  const FileMap files = EmbeddedDeployFileMap();
  Result<std::unique_ptr<KubeSession>> session = Connect(g, options);
  if (!session.ok()) return Fail(session.status());
  k8s::KubeClient& client = *(*session)->client;
  const std::string ns = ResolveNamespace(files, options, **session);
  Result<k8s::ObjectList> services = client.ListAll(k8s::Ref(k8s::kServices, ns));
  if (!services.ok()) return Fail(services.status());
  Result<k8s::ObjectList> ingresses = client.ListAll(k8s::Ref(k8s::kIngresses, ns));
  if (!ingresses.ok()) return Fail(ingresses.status());
  std::optional<NodeAddress> node;

  json rows = json::array();
  auto add = [&](const std::string& kind, const std::string& name, const std::string& type,
                 const std::string& port, const std::string& url, const std::string& reach) {
    rows.push_back({{"kind", kind},
                    {"name", name},
                    {"type", type},
                    {"port", port},
                    {"url", url},
                    {"reachable", reach}});
  };
  for (const json& svc : services->items) {
    const std::string name = NameOf(svc);
    const std::string type = StringAt(svc, "/spec/type"_json_pointer).empty()
                                 ? "ClusterIP"
                                 : StringAt(svc, "/spec/type"_json_pointer);
    const std::string cluster_ip = StringAt(svc, "/spec/clusterIP"_json_pointer);
    const std::string dns = name + "." + ns + ".svc";
    const bool notebook = StringAt(svc, "/metadata/labels/app.kubernetes.io~1name"_json_pointer) ==
                          k8s::kNotebookNameLabelValue;
    const std::string path = notebook ? "/lab" : "";
    for (const json& port : svc.value("/spec/ports"_json_pointer, json::array())) {
      const std::string scheme = IsHttpPort(port) ? "http://" : "";
      const std::string number = PortText(port.value("port", json()));
      const std::string port_name = port.value("name", "");
      const std::string shown_port = port_name.empty() ? number : port_name + " " + number;
      if (type == "NodePort" || type == "LoadBalancer") {
        const std::string node_port = PortText(port.value("nodePort", json()));
        if (!node) node = PickNodeAddress(client);
        if (!node_port.empty()) {
          add("Service", name, type, shown_port,
              scheme + (node->address.empty() ? "<node-address>" : node->address) + ":" +
                  node_port + path,
              "outside the cluster (" + node->note + ")");
        }
      }
      if (type == "LoadBalancer") {
        json lb = svc.value("/status/loadBalancer/ingress"_json_pointer, json::array());
        if (lb.empty()) add("Service", name, type, shown_port, "<pending>", "load balancer");
        for (const json& entry : lb) {
          std::string host = entry.value("ip", entry.value("hostname", ""));
          add("Service", name, type, shown_port, scheme + host + ":" + number, "load balancer");
        }
      }
      if (type == "ClusterIP") {
        std::string host = cluster_ip.empty() || cluster_ip == "None" ? dns : cluster_ip;
        std::string reach = "inside the cluster (" + dns + ":" + number + ")";
        // A notebook's JupyterLab (k8s/notebook_objects.h): its page, and how to reach it from
        // here (the token is in the notebook's Secret).
        if (notebook) {
          reach += "; from here: kubectl port-forward -n " + ns + " svc/" + name + " " + number +
                   ":" + number + ", then http://localhost:" + number + "/lab";
        }
        add("Service", name, type, shown_port, scheme + host + ":" + number + path, reach);
      }
      if (type == "ExternalName") {
        add("Service", name, type, shown_port,
            StringAt(svc, "/spec/externalName"_json_pointer) + ":" + number, "DNS alias");
      }
    }
  }
  for (const json& ing : ingresses->items) {
    std::set<std::string> tls_hosts;
    for (const json& t : ing.value("/spec/tls"_json_pointer, json::array())) {
      for (const json& h : t.value("hosts", json::array())) {
        if (h.is_string()) tls_hosts.insert(h.get<std::string>());
      }
    }
    std::string address;
    for (const json& entry :
         ing.value("/status/loadBalancer/ingress"_json_pointer, json::array())) {
      address = entry.value("ip", entry.value("hostname", ""));
      if (!address.empty()) break;
    }
    for (const json& rule : ing.value("/spec/rules"_json_pointer, json::array())) {
      std::string host = rule.value("host", "");
      std::string scheme = tls_hosts.count(host) > 0 ? "https://" : "http://";
      std::string shown_host =
          host.empty() ? (address.empty() ? "<ingress-address>" : address) : host;
      for (const json& path : rule.value("/http/paths"_json_pointer, json::array())) {
        std::string backend = StringAt(path, "/backend/service/name"_json_pointer);
        std::string backend_port =
            PortText(path.value("/backend/service/port/number"_json_pointer, json())) +
            StringAt(path, "/backend/service/port/name"_json_pointer);
        add("Ingress", NameOf(ing), "Ingress", "-> " + backend + ":" + backend_port,
            scheme + shown_host + path.value("path", "/"),
            address.empty() ? "through the ingress controller (no address assigned yet)"
                            : "through the ingress controller at " + address);
      }
    }
  }
  if (g.json) {
    std::printf("%s\n", rows.dump(2).c_str());
    return 0;
  }
  if (rows.empty()) {
    std::printf(
        "no services in namespace %s (deploy with `sparkplane deploy all --namespace %s`)\n",
        ns.c_str(), ns.c_str());
    return 0;
  }
  Table table({"NAME", "TYPE", "PORT", "URL", "REACHABLE FROM"});
  for (const json& r : rows) {
    table.Add({r["name"].get<std::string>(), r["type"].get<std::string>(),
               r["port"].get<std::string>(), r["url"].get<std::string>(),
               r["reachable"].get<std::string>()});
  }
  table.Print();
  return 0;
}

// ---------------------------------------------------------------------------------------------
// help

int DeployHelp(const GlobalOptions& g) {
  std::printf("%s", R"(Sparkplane on Kubernetes: deploy, undeploy and list what is exposed.

  sparkplane deploy COMPONENT... [--overlay single-node|multi-node|ha|ha-try]
                    [--namespace NS] [--dry-run] [--force-conflicts] [--kubeconfig PATH]
                    [--context NAME]
  sparkplane undeploy COMPONENT... [--namespace NS] [--dry-run] [--timeout SECONDS]
                    [--kubeconfig PATH] [--context NAME]
  sparkplane services [--namespace NS] [--json] [--kubeconfig PATH] [--context NAME]
  sparkplane deploy help

COMPONENT is one or more of:
  storage    the three volumes and their claims: sparkplane-state (database, task logs,
             DAGs), sparkplane-spark-history (Spark event logs, ReadWriteMany: the scheduler,
             every Spark node and the History Server mount it), sparkplane-apps (applications);
             with ha-try also its PostgreSQL (StatefulSet, Service, claim, Secret)
  scheduler  ServiceAccount, Role and RoleBinding (least privilege, this namespace only),
             settings, the scheduler Deployment (1 replica, Recreate) and its Services:
             sparkplane-ui (NodePort 8080: the web UI and HTTP API), sparkplane-driver (7078)
             and sparkplane-blockmanager (7079), both ClusterIP
  history    the Spark History Server (apache/spark) and its NodePort Service (18080)
  all        all three

Overlays (the manifests in deploy/ of the source tree, built into this binary):
  single-node  (default) hostPath volumes under /var/lib/sparkplane on the node (minikube,
               kind, Docker Desktop): put DAGs in /var/lib/sparkplane/state/dags and
               applications in /var/lib/sparkplane/apps
  multi-node   claims on the cluster's StorageClasses (Spark history needs a ReadWriteMany
               class), Ingresses for the UIs, and an init container that loads DAGs and
               applications from the image and the optional ConfigMaps sparkplane-dags and
               sparkplane-apps at every start
  ha           two schedulers on a PostgreSQL store (the Secret sparkplane-postgres: url and
               password), one active and one standby, sharing ReadWriteMany volumes, with a
               PodDisruptionBudget; otherwise as multi-node without its Ingresses
  ha-try       FOR TRYING OUT, NOT FOR PRODUCTION: ha with a single-pod PostgreSQL
               StatefulSet of its own (component storage); deploy creates the Secret
               sparkplane-postgres once, with a random password, and keeps it afterwards

Flags:
  --namespace NS     where to deploy (default sparkplane; created when missing, never deleted)
  --overlay NAME     single-node, multi-node, ha or ha-try
  --dry-run          deploy: the API server checks every object (dryRun=All) and stores
                     nothing; undeploy: list what would be deleted
  --force-conflicts  deploy: take over fields that another field manager owns
  --timeout SECONDS  undeploy: how long to wait until everything is gone (default 180)
  --kubeconfig PATH  default $KUBECONFIG, then ~/.kube/config, then the pod's service account
  --context NAME     a context of the kubeconfig (default its current-context)

deploy is idempotent (server-side apply, field manager "sparkplane"): running it again changes
nothing unless the manifests changed. undeploy deletes what carries the components' labels and
waits until it is gone; it leaves the namespace, the data in hostPath directories, and the Spark
clusters of runs (the scheduler deletes those itself). Undeploying storage deletes the claims:
on multi-node clusters their volumes (and data) go with them unless the StorageClass retains.

Examples:
  sparkplane deploy all                                # one-node cluster, namespace sparkplane
  sparkplane deploy all --overlay multi-node --dry-run
  sparkplane services                                  # URLs of the UIs and driver ports
  sparkplane undeploy scheduler history                # keep the volumes
  kubectl apply -k deploy/overlays/single-node         # the same objects, with kubectl
)");
  (void)g;
  return 0;
}

}  // namespace sp::cli
