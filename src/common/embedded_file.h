// A file compiled into the binary at build time by cmake/embed.cmake (sp_embed_files): what the
// binary needs without the repository at run time — the OpenAPI document and the web UI, the
// deploy/**/*.yaml manifests, the Airflow importer's Python modules.
//
// Both views point into static storage that lives as long as the program; reading is thread-safe.
#pragma once

#include <string_view>

namespace sp {

struct EmbeddedFile {
  // Relative to the embedded folder: "overlays/single-node/kustomization.yaml".
  std::string_view path;
  std::string_view content;  // the file's bytes, whatever they are (text or binary)
};

}  // namespace sp
