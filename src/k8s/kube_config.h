// KubeConfig: where the Kubernetes API server is and how to authenticate to it, loaded from a
// kubeconfig file (one context of it) or from a pod's service-account mount (in-cluster).
//
// A kubeconfig is resolved into one flat KubeConfig: the context's cluster (server, CA,
// insecure-skip-tls-verify), its user (token, tokenFile, client certificate and key as files or
// inline data, or an exec credential plugin) and its namespace. Relative file paths are
// resolved against the kubeconfig's directory, as kubectl does. Errors name the file and the
// line:column of the offending entry ("~/.kube/config:14:7: context \"dev\" names cluster
// \"kind\", which is not defined ...; did you mean \"kind-dev\"?").
//
// Not supported (rejected with a message, never silently ignored when they would change who we
// are): auth-provider plugins, username/password, impersonation, proxy-url. Ignored:
// tls-server-name (the certificate must match the server URL's host), extensions, preferences;
// several files in $KUBECONFIG are not merged (the first existing file is used).
//
// Thread safety: values; the functions are reentrant.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace sp::k8s {

// users[].user.exec: a command that prints an ExecCredential (client.authentication.k8s.io).
struct ExecPluginConfig {
  std::string api_version;  // "client.authentication.k8s.io/v1" or ".../v1beta1"
  std::string command;      // absolute, relative to the kubeconfig's directory, or found on PATH
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> env;  // added to the inherited environment
  std::string install_hint;
  bool provide_cluster_info = false;
};

struct KubeConfig {
  std::string source;   // the kubeconfig path, or "in-cluster service account (ROOT)"
  std::string context;  // context name; empty in-cluster
  std::string cluster;  // cluster entry name; empty in-cluster
  std::string user;     // user entry name; empty in-cluster
  std::string server;   // "https://127.0.0.1:6443", no trailing slash
  std::string default_namespace = "default";

  // TLS trust. At most one of ca_file / ca_data (PEM) is set; neither means the system's CAs.
  std::string ca_file;
  std::string ca_data;
  bool insecure_skip_tls_verify = false;

  // Credentials; any combination the server accepts (token and client certificate may both be
  // present). Secrets are never put into messages or logs.
  std::string token;
  std::string token_file;  // re-read periodically: bound service-account tokens rotate
  std::string client_cert_file;
  std::string client_cert_data;  // PEM
  std::string client_key_file;
  std::string client_key_data;  // PEM
  std::optional<ExecPluginConfig> exec;

  // For TLS messages: "certificate-authority /x/ca.crt (cluster \"c\" in /x/kubeconfig)",
  // "the system's CA store", ...
  std::string CaSource() const;
  // For 401 messages: "client certificate /x/admin.crt of user \"admin\" in /x/kubeconfig",
  // "bearer token of user ...", "exec plugin aws-iam-authenticator ...".
  std::string CredentialSource() const;
};

struct KubeConfigOptions {
  std::string context;             // empty: the file's current-context
  std::string namespace_override;  // non-empty: replaces the context's namespace
};

// Reads and resolves a kubeconfig file. FailedPrecondition for a missing/unreadable file, bad
// YAML (path:line:column) or broken entries; NotFound for an unknown context (with the known
// names and a "did you mean").
Result<KubeConfig> LoadKubeConfig(const std::string& path, const KubeConfigOptions& options = {});

// As LoadKubeConfig, on text already read; `path` is used for messages and relative paths.
Result<KubeConfig> ParseKubeConfig(std::string_view yaml, const std::string& path,
                                   const KubeConfigOptions& options = {});

struct InClusterOptions {
  // Where the service-account volume is mounted (token, ca.crt, namespace).
  std::string root = "/var/run/secrets/kubernetes.io/serviceaccount";
  // Default: $KUBERNETES_SERVICE_HOST / $KUBERNETES_SERVICE_PORT.
  std::optional<std::string> service_host;
  std::optional<std::string> service_port;
  std::string namespace_override;
};

// The config of a process running in a pod: server https://HOST:PORT, CA root/ca.crt, bearer
// token from root/token (re-read as it rotates), namespace from root/namespace.
// FailedPrecondition naming what is missing.
Result<KubeConfig> LoadInClusterConfig(const InClusterOptions& options = {});

// kubectl's order: the first existing file of $KUBECONFIG, else ~/.kube/config, else the
// in-cluster config. The error lists everything that was tried.
Result<KubeConfig> LoadDefaultKubeConfig(const KubeConfigOptions& options = {});

// The `kubeconfig` setting of Sparkplane's configuration that means "this pod's service account".
inline constexpr char kInClusterKubeconfig[] = "in-cluster";

// Sparkplane's `kubeconfig` setting resolved: kInClusterKubeconfig loads the in-cluster config
// (with options.namespace_override), "" follows LoadDefaultKubeConfig's order, anything else is
// a kubeconfig path (with options.context and namespace_override).
Result<KubeConfig> LoadKubeConfigSetting(const std::string& kubeconfig,
                                         const KubeConfigOptions& options = {});

}  // namespace sp::k8s
