// `sparkplane deploy|undeploy|services` and `sparkplane health`: Sparkplane's own deployment on
// Kubernetes. The commands parse their flags, talk to the API server and print; the manifests
// and their rendering are deploy/manifests.h's.
//
// Objects go through server-side apply with field manager `sparkplane`, so deploying twice
// changes nothing, and --dry-run sends the same requests with dryRun=All (the API server
// validates and admits them, persists nothing). `deploy COMPONENT` applies the objects of that
// component, `undeploy COMPONENT` deletes what carries its label.
//
// Thread safety: the commands are called once per process from main's thread.
#pragma once

#include <string>
#include <vector>

#include "cli/commands.h"

namespace sp::cli {

// What the deploy commands take from the command line. Every field maps to one flag:
//   COMPONENT...       components       storage | scheduler | history | all (deploy, undeploy)
//   --namespace NS     namespace_name   default: the overlay's namespace (sparkplane)
//   --overlay NAME     overlay          deploy: single-node (default) | multi-node | ha | ha-try
//   --kubeconfig PATH  kubeconfig       default: $KUBECONFIG, ~/.kube/config, in-cluster
//   --context NAME     context          default: the kubeconfig's current-context
//   --dry-run          dry_run          deploy: server-side dry run; undeploy: list only
//   --force-conflicts  force_conflicts  deploy: take over fields another manager owns
//   --timeout SECONDS  timeout_seconds  undeploy: how long to wait until everything is gone
struct DeployOptions {
  std::vector<std::string> components;
  std::string namespace_name;
  std::string overlay = "single-node";
  std::string kubeconfig;
  std::string context;
  bool dry_run = false;
  bool force_conflicts = false;
  int timeout_seconds = 180;
};

// `sparkplane deploy COMPONENT... [flags]`: creates the namespace if it is missing (it is not
// one of the managed objects and undeploy leaves it), then applies each object and prints
// "KIND/NAME created|configured|unchanged". Exit 0 when every object was applied.
int DeployCommand(const GlobalOptions& g, const DeployOptions& options);

// `sparkplane undeploy COMPONENT... [flags]`: deletes the objects that carry the components'
// sparkplane.io/deploy label in the namespace (and the PersistentVolumes reserved for its
// claims), in the reverse order of deploy, with foreground propagation, and waits until they
// are gone. It needs no --overlay: it looks for the kinds of every overlay. Spark clusters that
// runs created are the scheduler's (it deletes them itself) and so are not touched; neither are the
// namespace, the data in hostPath directories, or the optional sparkplane-dags/sparkplane-apps
// ConfigMaps.
int UndeployCommand(const GlobalOptions& g, const DeployOptions& options);

// `sparkplane services [--namespace NS] [--kubeconfig PATH] [--context C]`: every Service and
// Ingress of the namespace with a URL to reach it: NodePort at a node's ExternalIP (else
// InternalIP), LoadBalancer at its address, ClusterIP as IP:port (inside the cluster only),
// Ingress at its host. --json prints the same as a JSON array.
int ServicesCommand(const GlobalOptions& g, const DeployOptions& options);

// `sparkplane deploy help` (and `undeploy help`): what gets deployed, the commands, the flags,
// examples.
int DeployHelp(const GlobalOptions& g);

// `sparkplane health`: pings the running server through its control socket; exit 0 when it
// answers, 1 otherwise (the scheduler pod's liveness, readiness and startup probe).
int HealthCommand(const GlobalOptions& g);

}  // namespace sp::cli
