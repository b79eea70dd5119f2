// Credentials per request: static, token file (re-read), exec plugin (cached); see credentials.h.
#include "k8s/credentials.h"

#include <nlohmann/json.hpp>

#include "common/file_text.h"
#include "k8s/internal/exec_plugin.h"
#include "k8s/internal/text.h"

namespace sp::k8s {

namespace {

using nlohmann::json;

std::string StringField(const json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// KUBERNETES_EXEC_INFO: what the plugin may read about the request.
std::string ExecInfo(const KubeConfig& config) {
  json spec = {{"interactive", false}};
  if (config.exec->provide_cluster_info) {
    json cluster = {{"server", config.server}};
    std::string ca = config.ca_data;
    if (ca.empty() && !config.ca_file.empty()) {
      ca = ReadFileText(config.ca_file, "CA").value_or("");
    }
    if (!ca.empty()) cluster["certificate-authority-data"] = internal::Base64Encode(ca);
    if (config.insecure_skip_tls_verify) cluster["insecure-skip-tls-verify"] = true;
    spec["cluster"] = cluster;
  }
  json info = {
      {"apiVersion", config.exec->api_version}, {"kind", "ExecCredential"}, {"spec", spec}};
  return info.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

Result<ExecCredential> ParseExecCredential(std::string_view output,
                                           const ExecPluginConfig& plugin) {
  const std::string name = "exec plugin \"" + plugin.command + "\"";
  // The output holds the secret: messages describe it, never quote it.
  json object = json::parse(output, nullptr, /*allow_exceptions=*/false);
  if (object.is_discarded() || !object.is_object()) {
    return FailedPreconditionError(name + " did not print a JSON ExecCredential on stdout");
  }
  if (StringField(object, "kind") != "ExecCredential") {
    return FailedPreconditionError(name + " printed JSON whose kind is not ExecCredential");
  }
  std::string api_version = StringField(object, "apiVersion");
  if (api_version != plugin.api_version) {
    return FailedPreconditionError(name + " printed an ExecCredential of apiVersion \"" +
                                   api_version + "\"; the kubeconfig asks for \"" +
                                   plugin.api_version + "\"");
  }
  auto status = object.find("status");
  if (status == object.end() || !status->is_object()) {
    return FailedPreconditionError(name + " printed an ExecCredential without a status");
  }
  ExecCredential credential;
  credential.token = StringField(*status, "token");
  credential.client_cert_pem = StringField(*status, "clientCertificateData");
  credential.client_key_pem = StringField(*status, "clientKeyData");
  if (credential.client_cert_pem.empty() != credential.client_key_pem.empty()) {
    return FailedPreconditionError(name +
                                   " printed only one of clientCertificateData and "
                                   "clientKeyData; both are needed");
  }
  if (credential.token.empty() && credential.client_cert_pem.empty()) {
    return FailedPreconditionError(name +
                                   " printed an ExecCredential with neither status.token "
                                   "nor status.clientCertificateData/clientKeyData");
  }
  std::string expiration = StringField(*status, "expirationTimestamp");
  if (!expiration.empty()) {
    credential.expiration = internal::ParseRfc3339(expiration);
    if (!credential.expiration) {
      return FailedPreconditionError(name + " printed an invalid status.expirationTimestamp \"" +
                                     expiration + "\" (expected RFC 3339)");
    }
  }
  return credential;
}

CredentialProvider::CredentialProvider(const KubeConfig& config, const Clock& clock,
                                       Options options)
    : config_(config), clock_(clock), options_(options) {}

bool CredentialProvider::Refreshable() const {
  return config_.exec.has_value() || (config_.token.empty() && !config_.token_file.empty());
}

int CredentialProvider::exec_runs() const {
  std::lock_guard<std::mutex> lock(mu_);
  return exec_runs_;
}

void CredentialProvider::Invalidate() {
  std::lock_guard<std::mutex> lock(mu_);
  exec_cache_.reset();
  file_token_read_at_.reset();
}

Status CredentialProvider::RefreshExec(Time now) {
  ++exec_runs_;
  ASSIGN_OR_RETURN(std::string output, internal::RunExecPlugin(*config_.exec, ExecInfo(config_),
                                                               options_.exec_timeout));
  ASSIGN_OR_RETURN(ExecCredential credential, ParseExecCredential(output, *config_.exec));
  if (credential.expiration && *credential.expiration <= now) {
    return FailedPreconditionError("exec plugin \"" + config_.exec->command +
                                   "\" returned a credential that expired at " +
                                   FormatTime(*credential.expiration));
  }
  exec_cache_ = std::move(credential);
  return OkStatus();
}

Result<AuthMaterial> CredentialProvider::Get() {
  AuthMaterial auth;
  auth.client_cert_file = config_.client_cert_file;
  auth.client_key_file = config_.client_key_file;
  auth.client_cert_pem = config_.client_cert_data;
  auth.client_key_pem = config_.client_key_data;
  // Precedence as in client-go: a static token, then a token file, then an exec plugin.
  if (!config_.token.empty()) {
    auth.token = config_.token;
    return auth;
  }
  Time now = clock_.Now();
  std::lock_guard<std::mutex> lock(mu_);
  if (!config_.token_file.empty()) {
    if (!file_token_read_at_ || now - *file_token_read_at_ >= options_.token_file_refresh) {
      ASSIGN_OR_RETURN(std::string text, ReadFileText(config_.token_file, "token file"));
      std::string_view token = internal::Trim(text);
      if (token.empty()) {
        return FailedPreconditionError("token file " + config_.token_file + " is empty");
      }
      file_token_ = std::string(token);
      file_token_read_at_ = now;
    }
    auth.token = file_token_;
    return auth;
  }
  if (config_.exec) {
    if (!exec_cache_ || (exec_cache_->expiration && *exec_cache_->expiration <= now)) {
      exec_cache_.reset();
      RETURN_IF_ERROR(RefreshExec(now).With("user \"" + config_.user + "\" in " + config_.source));
    }
    auth.token = exec_cache_->token;
    if (!exec_cache_->client_cert_pem.empty()) {
      auth.client_cert_file.clear();
      auth.client_key_file.clear();
      auth.client_cert_pem = exec_cache_->client_cert_pem;
      auth.client_key_pem = exec_cache_->client_key_pem;
    }
  }
  return auth;
}

}  // namespace sp::k8s
