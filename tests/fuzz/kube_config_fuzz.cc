// Fuzzes kubeconfig parsing from text (ParseKubeConfig): YAML structure, contexts, clusters,
// users, base64 data and exec plugins. The path names a directory that does not exist, so file
// references resolve to nothing and no credentials are read; nothing touches the network.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_util.h"
#include "k8s/kube_config.h"

namespace {

constexpr char kPath[] = "/nonexistent-sparkplane-fuzz/kube/config";

void Check(std::string_view text, const sp::k8s::KubeConfigOptions& options) {
  sp::Result<sp::k8s::KubeConfig> config = sp::k8s::ParseKubeConfig(text, kPath, options);
  if (!config.ok()) {
    SP_FUZZ_CHECK(!config.status().message().empty(), std::string(text));
    return;
  }
  SP_FUZZ_CHECK(config->server.rfind("http", 0) == 0, config->server);
  SP_FUZZ_CHECK(config->server.empty() || config->server.back() != '/', config->server);
  SP_FUZZ_CHECK(!config->default_namespace.empty(), std::string(text));
  if (!options.namespace_override.empty()) {
    SP_FUZZ_CHECK(config->default_namespace == options.namespace_override, std::string(text));
  }
  (void)config->CaSource();
  (void)config->CredentialSource();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  Check(text, {});
  Check(text, {.context = "dev", .namespace_override = "spark-jobs"});
  return 0;
}
