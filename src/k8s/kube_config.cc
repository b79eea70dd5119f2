// Kubeconfig and in-cluster config loading; see kube_config.h.
#include "k8s/kube_config.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>

#include "common/file_text.h"
#include "common/nearest_name.h"
#include "common/yaml_document.h"
#include "k8s/internal/text.h"

namespace sp::k8s {

namespace fs = std::filesystem;
using internal::QuotedList;

namespace {

// Reads one kubeconfig document. Positions in messages are 1-based line:column.
class KubeconfigParser {
 public:
  KubeconfigParser(const std::string& path, const KubeConfigOptions& options)
      : path_(path), options_(options) {
    fs::path p(path);
    dir_ = p.has_parent_path() ? p.parent_path().string() : ".";
  }

  Result<KubeConfig> Parse(std::string_view text) {
    YamlSyntaxError error;
    std::optional<YamlDocument> doc = YamlDocument::Parse(text, &error);
    if (!doc)
      return FailedPreconditionError(Where(error.mark) + ": invalid YAML: " + error.message);
    return ParseRoot(doc->root());
  }

 private:
  struct Entry {
    std::string name;
    YamlNode node;  // the whole list item
    YamlNode body;  // item[kind]: the cluster/user/context mapping
  };

  std::string Where(const YamlMark& mark) const { return YamlLocation(path_, mark); }
  std::string Where(const YamlNode& node) const { return Where(node.mark()); }
  Status Error(const YamlNode& node, const std::string& message) const {
    return FailedPreconditionError(Where(node) + ": " + message);
  }

  // A string field of `map`; "" when absent or null; error when not a scalar.
  Result<std::string> String(const YamlNode& map, const char* key) const {
    const YamlNode n = map.Find(key);
    if (!n || n.IsNull()) return std::string();
    if (!n.IsScalar()) return Error(n, std::string("'") + key + "' must be a string");
    return n.scalar();
  }

  // YAML 1.1's bools, y/n included, as kubectl's YAML reader takes them.
  Result<bool> Bool(const YamlNode& map, const char* key) const {
    const YamlNode n = map.Find(key);
    if (!n || n.IsNull()) return false;
    if (std::optional<bool> b =
            n.IsScalar() ? YamlBool(n.scalar(), /*accept_y=*/true) : std::nullopt) {
      return *b;
    }
    return Error(n, std::string("'") + key + "' must be true or false");
  }

  // Base64 data fields (certificate-authority-data, client-key-data, ...).
  Result<std::string> Data(const YamlNode& map, const char* key) const {
    ASSIGN_OR_RETURN(std::string text, String(map, key));
    if (text.empty()) return text;
    std::optional<std::string> decoded = internal::Base64Decode(text);
    if (!decoded || decoded->empty()) {
      return Error(map.Find(key), std::string("'") + key + "' is not valid base64");
    }
    return *decoded;
  }

  // A file path field, resolved against the kubeconfig's directory and checked to exist.
  Result<std::string> File(const YamlNode& map, const char* key) const {
    ASSIGN_OR_RETURN(std::string p, String(map, key));
    if (p.empty()) return p;
    std::string resolved = Resolve(p);
    std::error_code ec;
    if (!fs::is_regular_file(resolved, ec)) {
      return Error(map.Find(key),
                   std::string("'") + key + "' file " + resolved + " does not exist");
    }
    return resolved;
  }

  std::string Resolve(const std::string& p) const {
    if (p.empty() || fs::path(p).is_absolute()) return p;
    return (fs::path(dir_) / p).lexically_normal().string();
  }

  // clusters / users / contexts: lists of {name: N, KIND: {...}}.
  Result<std::vector<Entry>> Entries(const YamlNode& root, const char* list_key,
                                     const char* kind) const {
    std::vector<Entry> entries;
    const YamlNode list = root.Find(list_key);
    if (!list || list.IsNull()) return entries;
    if (!list.IsSequence()) return Error(list, std::string("'") + list_key + "' must be a list");
    for (YamlNode item : list.items()) {
      if (!item.IsMapping()) {
        return Error(item, std::string("each entry of '") + list_key +
                               "' must be a mapping with 'name' and '" + kind + "'");
      }
      ASSIGN_OR_RETURN(std::string name, String(item, "name"));
      if (name.empty()) {
        return Error(item, std::string("an entry of '") + list_key + "' has no 'name'");
      }
      const YamlNode body = item.Find(kind);
      if (body && !body.IsNull() && !body.IsMapping()) {
        return Error(body, std::string("'") + kind + "' of \"" + name + "\" must be a mapping");
      }
      entries.push_back(Entry{name, item, body});
    }
    return entries;
  }

  static const Entry* Find(const std::vector<Entry>& entries, const std::string& name) {
    for (const Entry& e : entries) {
      if (e.name == name) return &e;
    }
    return nullptr;
  }

  static std::vector<std::string> Names(const std::vector<Entry>& entries) {
    std::vector<std::string> names;
    for (const Entry& e : entries) names.push_back(e.name);
    return names;
  }

  Result<KubeConfig> ParseRoot(const YamlNode& root) {
    if (!root || root.IsNull()) return FailedPreconditionError(path_ + ": the kubeconfig is empty");
    if (!root.IsMapping()) return Error(root, "a kubeconfig must be a YAML mapping");
    ASSIGN_OR_RETURN(std::vector<Entry> clusters, Entries(root, "clusters", "cluster"));
    ASSIGN_OR_RETURN(std::vector<Entry> users, Entries(root, "users", "user"));
    ASSIGN_OR_RETURN(std::vector<Entry> contexts, Entries(root, "contexts", "context"));

    KubeConfig config;
    config.source = path_;
    std::string context_name = options_.context;
    if (context_name.empty()) {
      ASSIGN_OR_RETURN(context_name, String(root, "current-context"));
      if (context_name.empty()) {
        return FailedPreconditionError(path_ +
                                       ": no current-context is set and no context was "
                                       "given (contexts: " +
                                       QuotedList(Names(contexts)) + ")");
      }
    }
    const Entry* context = Find(contexts, context_name);
    if (context == nullptr) {
      std::string where = options_.context.empty() ? Where(root.Find("current-context")) : path_;
      return NotFoundError(where + ": context \"" + context_name +
                           "\" is not defined (contexts: " + QuotedList(Names(contexts)) + ")" +
                           DidYouMean(context_name, Names(contexts)));
    }
    config.context = context_name;
    const YamlNode ctx = context->body;
    if (!ctx || ctx.IsNull()) {
      return Error(context->node, "context \"" + context_name + "\" has no 'context' mapping");
    }
    ASSIGN_OR_RETURN(config.cluster, String(ctx, "cluster"));
    ASSIGN_OR_RETURN(config.user, String(ctx, "user"));
    ASSIGN_OR_RETURN(std::string ns, String(ctx, "namespace"));
    if (!ns.empty()) config.default_namespace = ns;
    if (!options_.namespace_override.empty()) {
      config.default_namespace = options_.namespace_override;
    }

    if (config.cluster.empty()) {
      return Error(ctx, "context \"" + context_name + "\" names no cluster");
    }
    const Entry* cluster = Find(clusters, config.cluster);
    if (cluster == nullptr) {
      return Error(ctx.Find("cluster"),
                   "context \"" + context_name + "\" names cluster \"" + config.cluster +
                       "\", which is not defined (clusters: " + QuotedList(Names(clusters)) + ")" +
                       DidYouMean(config.cluster, Names(clusters)));
    }
    RETURN_IF_ERROR(ReadCluster(*cluster, &config));

    // A context without a user is allowed (anonymous access), one naming a missing user is not.
    if (!config.user.empty()) {
      const Entry* user = Find(users, config.user);
      if (user == nullptr) {
        return Error(ctx.Find("user"),
                     "context \"" + context_name + "\" names user \"" + config.user +
                         "\", which is not defined (users: " + QuotedList(Names(users)) + ")" +
                         DidYouMean(config.user, Names(users)));
      }
      RETURN_IF_ERROR(ReadUser(*user, &config));
    }
    return config;
  }

  Status ReadCluster(const Entry& entry, KubeConfig* config) const {
    const YamlNode c = entry.body;
    if (!c || c.IsNull()) {
      return Error(entry.node, "cluster \"" + entry.name + "\" has no 'cluster' mapping");
    }
    std::string server;  // declared first: GCC 12 warns (falsely) of the moved-into string
    ASSIGN_OR_RETURN(server, String(c, "server"));
    if (server.empty()) return Error(c, "cluster \"" + entry.name + "\" has no 'server'");
    if (server.rfind("https://", 0) != 0 && server.rfind("http://", 0) != 0) {
      return Error(c.Find("server"), "server \"" + server + "\" of cluster \"" + entry.name +
                                         "\" must start with https:// (or http://)");
    }
    while (!server.empty() && server.back() == '/') server.pop_back();
    config->server = server;
    ASSIGN_OR_RETURN(config->ca_data, Data(c, "certificate-authority-data"));
    if (config->ca_data.empty()) {  // as in client-go, inline data wins over a file
      ASSIGN_OR_RETURN(config->ca_file, File(c, "certificate-authority"));
    }
    ASSIGN_OR_RETURN(config->insecure_skip_tls_verify, Bool(c, "insecure-skip-tls-verify"));
    ASSIGN_OR_RETURN(std::string proxy, String(c, "proxy-url"));
    if (!proxy.empty()) {
      return Error(c.Find("proxy-url"),
                   "'proxy-url' is not supported by Sparkplane; set HTTPS_PROXY "
                   "in the environment instead");
    }
    return OkStatus();
  }

  Status ReadUser(const Entry& entry, KubeConfig* config) const {
    const YamlNode u = entry.body;
    if (!u || u.IsNull()) return OkStatus();  // `user: {}` style anonymous user
    for (const char* unsupported : {"auth-provider", "username", "password", "as", "as-groups"}) {
      if (const YamlNode n = u.Find(unsupported); n && !n.IsNull()) {
        return Error(n, std::string("user \"") + entry.name + "\": '" + unsupported +
                            "' is not supported by Sparkplane (use a token, a client "
                            "certificate or an exec plugin)");
      }
    }
    ASSIGN_OR_RETURN(config->token, String(u, "token"));
    ASSIGN_OR_RETURN(config->token_file, File(u, "tokenFile"));
    ASSIGN_OR_RETURN(config->client_cert_data, Data(u, "client-certificate-data"));
    if (config->client_cert_data.empty()) {
      ASSIGN_OR_RETURN(config->client_cert_file, File(u, "client-certificate"));
    }
    ASSIGN_OR_RETURN(config->client_key_data, Data(u, "client-key-data"));
    if (config->client_key_data.empty()) {
      ASSIGN_OR_RETURN(config->client_key_file, File(u, "client-key"));
    }
    bool has_cert = !config->client_cert_data.empty() || !config->client_cert_file.empty();
    bool has_key = !config->client_key_data.empty() || !config->client_key_file.empty();
    if (has_cert != has_key) {
      return Error(
          u, "user \"" + entry.name + "\" has a client " +
                 (has_cert ? "certificate but no client key" : "key but no client certificate") +
                 " (set both client-certificate[-data] and client-key[-data])");
    }
    const YamlNode exec = u.Find("exec");
    if (exec && !exec.IsNull()) {
      ASSIGN_OR_RETURN(ExecPluginConfig plugin, ReadExec(entry.name, exec));
      config->exec = std::move(plugin);
    }
    return OkStatus();
  }

  Result<ExecPluginConfig> ReadExec(const std::string& user, const YamlNode& exec) const {
    if (!exec.IsMapping()) return Error(exec, "'exec' of user \"" + user + "\" must be a mapping");
    ExecPluginConfig plugin;
    ASSIGN_OR_RETURN(plugin.command, String(exec, "command"));
    if (plugin.command.empty())
      return Error(exec, "'exec' of user \"" + user + "\" has no command");
    // As in client-go: a command with a slash is a path relative to the kubeconfig; a bare
    // name is looked up on PATH when it runs.
    if (plugin.command.find('/') != std::string::npos) plugin.command = Resolve(plugin.command);
    ASSIGN_OR_RETURN(plugin.api_version, String(exec, "apiVersion"));
    if (plugin.api_version != "client.authentication.k8s.io/v1" &&
        plugin.api_version != "client.authentication.k8s.io/v1beta1") {
      const YamlNode version = exec.Find("apiVersion");
      const YamlNode at = version ? version : exec;
      return Error(at,
                   "exec plugin of user \"" + user +
                       "\": apiVersion must be "
                       "client.authentication.k8s.io/v1 or client.authentication.k8s.io/v1beta1, "
                       "not \"" +
                       plugin.api_version + "\"");
    }
    const YamlNode args = exec.Find("args");
    if (args && !args.IsNull()) {
      if (!args.IsSequence()) return Error(args, "exec 'args' must be a list of strings");
      for (YamlNode a : args.items()) {
        if (!a.IsScalar()) return Error(a, "exec 'args' must be a list of strings");
        plugin.args.push_back(a.scalar());
      }
    }
    const YamlNode env = exec.Find("env");
    if (env && !env.IsNull()) {
      if (!env.IsSequence()) return Error(env, "exec 'env' must be a list of {name, value}");
      for (YamlNode e : env.items()) {
        if (!e.IsMapping()) return Error(e, "exec 'env' must be a list of {name, value}");
        ASSIGN_OR_RETURN(std::string name, String(e, "name"));
        ASSIGN_OR_RETURN(std::string value, String(e, "value"));
        if (name.empty()) return Error(e, "exec 'env' entry has no name");
        plugin.env.emplace_back(std::move(name), std::move(value));
      }
    }
    ASSIGN_OR_RETURN(plugin.install_hint, String(exec, "installHint"));
    ASSIGN_OR_RETURN(plugin.provide_cluster_info, Bool(exec, "provideClusterInfo"));
    ASSIGN_OR_RETURN(std::string interactive, String(exec, "interactiveMode"));
    if (interactive == "Always") {
      return Error(exec.Find("interactiveMode"),
                   "exec plugin of user \"" + user +
                       "\" needs a terminal (interactiveMode: Always), "
                       "which a server does not have");
    }
    return plugin;
  }

  std::string path_;
  std::string dir_;
  KubeConfigOptions options_;
};

std::string Located(const KubeConfig& c, const std::string& kind, const std::string& name) {
  if (name.empty()) return c.source;
  return kind + " \"" + name + "\" in " + c.source;
}

}  // namespace

std::string KubeConfig::CaSource() const {
  if (insecure_skip_tls_verify) return "no CA (insecure-skip-tls-verify of " + source + ")";
  if (!ca_file.empty())
    return "certificate-authority " + ca_file + " (" + Located(*this, "cluster", cluster) + ")";
  if (!ca_data.empty())
    return "certificate-authority-data of " + Located(*this, "cluster", cluster);
  return "the system's CA store (no certificate-authority in " + source + ")";
}

std::string KubeConfig::CredentialSource() const {
  std::string of = Located(*this, "user", user);
  if (!token.empty()) return "bearer token of " + of;
  if (!token_file.empty()) return "bearer token from " + token_file + " (" + of + ")";
  if (exec) return "exec plugin " + exec->command + " of " + of;
  if (!client_cert_file.empty()) return "client certificate " + client_cert_file + " of " + of;
  if (!client_cert_data.empty()) return "client-certificate-data of " + of;
  return "no credentials (" + of + ")";
}

Result<KubeConfig> ParseKubeConfig(std::string_view yaml, const std::string& path,
                                   const KubeConfigOptions& options) {
  return KubeconfigParser(path, options).Parse(yaml);
}

Result<KubeConfig> LoadKubeConfig(const std::string& path, const KubeConfigOptions& options) {
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    return FailedPreconditionError("kubeconfig " + path + " does not exist");
  }
  ASSIGN_OR_RETURN(std::string text, ReadFileText(path, "kubeconfig"));
  return ParseKubeConfig(text, path, options);
}

Result<KubeConfig> LoadInClusterConfig(const InClusterOptions& options) {
  auto env = [](const char* name) -> std::string {
    const char* v = std::getenv(name);
    return v ? v : "";
  };
  std::string host = options.service_host.value_or(env("KUBERNETES_SERVICE_HOST"));
  std::string port = options.service_port.value_or(env("KUBERNETES_SERVICE_PORT"));
  if (host.empty() || port.empty()) {
    return FailedPreconditionError(
        "not running in a Kubernetes pod: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT "
        "are not both set");
  }
  KubeConfig config;
  config.source = "in-cluster service account (" + options.root + ")";
  bool ipv6 = host.find(':') != std::string::npos;
  config.server = "https://" + (ipv6 ? "[" + host + "]" : host) + ":" + port;
  std::error_code ec;
  std::string token = options.root + "/token";
  if (!fs::is_regular_file(token, ec)) {
    return FailedPreconditionError("in-cluster config: the service-account token " + token +
                                   " does not exist (is automountServiceAccountToken false?)");
  }
  config.token_file = token;
  std::string ca = options.root + "/ca.crt";
  if (!fs::is_regular_file(ca, ec)) {
    return FailedPreconditionError("in-cluster config: the cluster CA " + ca + " does not exist");
  }
  config.ca_file = ca;
  std::string ns_file = options.root + "/namespace";
  if (fs::is_regular_file(ns_file, ec)) {
    ASSIGN_OR_RETURN(std::string ns, ReadFileText(ns_file, "namespace file"));
    std::string_view trimmed = internal::Trim(ns);
    if (!trimmed.empty()) config.default_namespace = std::string(trimmed);
  }
  if (!options.namespace_override.empty()) config.default_namespace = options.namespace_override;
  return config;
}

Result<KubeConfig> LoadDefaultKubeConfig(const KubeConfigOptions& options) {
  std::vector<std::string> tried;
  std::error_code ec;
  if (const char* list = std::getenv("KUBECONFIG"); list != nullptr && *list != '\0') {
    std::string_view rest(list);
    while (!rest.empty()) {
      size_t colon = rest.find(':');
      std::string path(rest.substr(0, colon));
      rest = colon == std::string_view::npos ? std::string_view() : rest.substr(colon + 1);
      if (path.empty()) continue;
      if (fs::exists(path, ec)) return LoadKubeConfig(path, options);
      tried.push_back(path + " (from $KUBECONFIG)");
    }
  } else if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
    std::string path = std::string(home) + "/.kube/config";
    if (fs::exists(path, ec)) return LoadKubeConfig(path, options);
    tried.push_back(path);
  }
  InClusterOptions in_cluster;
  in_cluster.namespace_override = options.namespace_override;
  Result<KubeConfig> config = LoadInClusterConfig(in_cluster);
  if (config.ok()) return config;
  std::string message = "no Kubernetes configuration found: tried ";
  for (const std::string& t : tried) message += t + ", ";
  message += "and the in-cluster config (" + config.status().message() + ")";
  return FailedPreconditionError(message);
}

Result<KubeConfig> LoadKubeConfigSetting(const std::string& kubeconfig,
                                         const KubeConfigOptions& options) {
  if (kubeconfig == kInClusterKubeconfig) {
    InClusterOptions in_cluster;
    in_cluster.namespace_override = options.namespace_override;
    return LoadInClusterConfig(in_cluster);
  }
  if (kubeconfig.empty()) return LoadDefaultKubeConfig(options);
  return LoadKubeConfig(kubeconfig, options);
}

}  // namespace sp::k8s
