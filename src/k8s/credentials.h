// CredentialProvider: the credentials to send with each request, for one KubeConfig.
//
// Static tokens and client certificates are used as configured. A tokenFile (and the in-cluster
// service-account token) is re-read when it is older than `token_file_refresh`, because bound
// service-account tokens rotate. An exec plugin is run on first use and its ExecCredential is
// cached until its status.expirationTimestamp (or, without one, until Invalidate()); the client
// calls Invalidate() after a 401 and tries once more, as client-go does.
//
// Exec plugins run with the configured argv, the inherited environment plus the configured env,
// KUBERNETES_EXEC_INFO (an ExecCredential with spec.interactive=false, and spec.cluster when
// provideClusterInfo is set), stdin from /dev/null and a timeout. Their stderr is quoted in
// errors; their stdout (which holds the secret) never is.
//
// Thread safety: Get() and Invalidate() may be called from any thread; one plugin run at a time.
#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/status.h"
#include "k8s/kube_config.h"

namespace sp::k8s {

// What one request presents. Secrets: never log or print the fields.
struct AuthMaterial {
  std::string token;
  std::string client_cert_file;
  std::string client_key_file;
  std::string client_cert_pem;
  std::string client_key_pem;
};

// The status of an ExecCredential printed by a plugin.
struct ExecCredential {
  std::string token;
  std::string client_cert_pem;
  std::string client_key_pem;
  std::optional<Time> expiration;
};

// Parses a plugin's stdout. FailedPrecondition naming the plugin when it is not an
// ExecCredential of the configured apiVersion or carries neither a token nor a cert+key pair.
Result<ExecCredential> ParseExecCredential(std::string_view output, const ExecPluginConfig& plugin);

class CredentialProvider {
 public:
  struct Options {
    Millis token_file_refresh{60'000};
    Millis exec_timeout{60'000};
  };

  CredentialProvider(const KubeConfig& config, const Clock& clock)
      : CredentialProvider(config, clock, Options{}) {}
  CredentialProvider(const KubeConfig& config, const Clock& clock, Options options);

  // The credentials for the next request; runs the plugin or re-reads the token file if the
  // cached value is stale. Errors are FailedPrecondition (plugin failed, file unreadable).
  Result<AuthMaterial> Get();

  // Forgets cached exec / token-file credentials (after a 401) so the next Get() refreshes.
  void Invalidate();

  // True when Invalidate() can produce different credentials (exec plugin or token file).
  bool Refreshable() const;

  // How many times the exec plugin ran (tests and diagnostics).
  int exec_runs() const;

 private:
  Status RefreshExec(Time now);

  const KubeConfig config_;
  const Clock& clock_;
  const Options options_;

  mutable std::mutex mu_;
  std::optional<ExecCredential> exec_cache_;  // guarded by mu_
  std::string file_token_;                    // guarded by mu_
  std::optional<Time> file_token_read_at_;    // guarded by mu_
  int exec_runs_ = 0;                         // guarded by mu_
};

}  // namespace sp::k8s
