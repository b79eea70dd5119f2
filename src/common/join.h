// Join: strings with a separator between them ("a, b, c"), for messages that list names.
//
// Thread safety: pure.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace sp {

inline std::string Join(const std::vector<std::string>& parts, std::string_view separator) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += separator;
    out += parts[i];
  }
  return out;
}

}  // namespace sp
