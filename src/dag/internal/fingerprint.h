// Content fingerprints for DAG files: a change of fingerprint means the file must be reloaded.
// FNV-1a 64-bit: fast and stable across runs and builds (std::hash is neither promised).
#pragma once

#include <string>
#include <string_view>

namespace sp::dag::internal {

// 16 lowercase hex digits.
std::string Fingerprint(std::string_view bytes);

}  // namespace sp::dag::internal
