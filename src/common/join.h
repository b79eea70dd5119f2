// Join: strings with a separator between them ("a, b, c"), for messages that list names;
// JoinAlternatives: "a, b or c"; JoinNumbers: "1,2,3" (SQL arrays, lists of partitions).
//
// Thread safety: pure.
#pragma once

#include <string>
#include <string_view>
#include <type_traits>
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

// "a, b or c" ("a" alone, "" for none): the choices a message offers.
inline std::string JoinAlternatives(const std::vector<std::string>& parts) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += i + 1 == parts.size() ? " or " : ", ";
    out += parts[i];
  }
  return out;
}

// "1,2,3": the numbers of a container, or the keys of a map of numbers to anything.
template <typename Numbers>
std::string JoinNumbers(const Numbers& numbers, std::string_view separator = ",") {
  std::string out;
  for (const auto& n : numbers) {
    if (!out.empty()) out += separator;
    if constexpr (requires { n.first; }) {
      out += std::to_string(n.first);
    } else {
      out += std::to_string(n);
    }
  }
  return out;
}

}  // namespace sp
