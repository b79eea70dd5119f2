// FNV-1a 64-bit fingerprints of DAG file contents; see fingerprint.h.
#include "dag/internal/fingerprint.h"

#include <cstdint>

namespace sp::dag::internal {

std::string Fingerprint(std::string_view bytes) {
  uint64_t h = 14695981039346656037ULL;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i) {
    out[i] = kHex[h & 0xf];
    h >>= 4;
  }
  return out;
}

}  // namespace sp::dag::internal
