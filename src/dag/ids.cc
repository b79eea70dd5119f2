// Id rules: see ids.h.
#include "dag/ids.h"

#include <algorithm>
#include <cstdint>
#include <string>

namespace sp::dag {
namespace {

bool IsAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// Shows an offending id safely: control characters and bytes over 0x7e as \xNN.
std::string Printable(std::string_view id) {
  std::string out;
  for (char c : id.substr(0, 80)) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u > 0x7e) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 15];
    } else {
      out += c;
    }
  }
  if (id.size() > 80) out += "...";
  return out;
}

Status Check(std::string_view what, std::string_view id, std::string_view allowed_punct,
             std::string_view rule) {
  if (id.empty()) return InvalidArgumentError(std::string(what) + " must not be empty");
  if (id.size() > kMaxIdLength) {
    return InvalidArgumentError(std::string(what) + " is " + std::to_string(id.size()) +
                                " characters long; at most " + std::to_string(kMaxIdLength));
  }
  bool ok = id[0] != '.' && std::all_of(id.begin(), id.end(), [&](char c) {
              return IsAlnum(c) || allowed_punct.find(c) != std::string_view::npos;
            });
  if (!ok) {
    return InvalidArgumentError("invalid " + std::string(what) + " '" + Printable(id) + "'; " +
                                std::string(rule));
  }
  return OkStatus();
}

}  // namespace

Status CheckDagId(std::string_view id) {
  return Check("DAG id", id, "_-.", "use letters, digits, '_', '-' and '.' (not first)");
}

Status CheckTaskId(std::string_view id) {
  return Check("task id", id, "_-", "use letters, digits, '_' and '-'");
}

Status CheckRunId(std::string_view id) {
  RETURN_IF_ERROR(
      Check("run id", id, "_-.~:+", "use letters, digits and _ - . ~ : + (not '.' first)"));
  if (id == "latest") {
    return InvalidArgumentError("run id 'latest' is reserved (it names a DAG's newest run)");
  }
  if (std::all_of(id.begin(), id.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return InvalidArgumentError("run id '" + std::string(id) +
                                "' is all digits, which name run keys; add a letter");
  }
  return OkStatus();
}

int PartitionOf(std::string_view dag_id, int partitions) {
  if (partitions <= 1) return 1;
  uint64_t hash = 14695981039346656037ull;
  for (unsigned char c : dag_id) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  return 1 + static_cast<int>(hash % static_cast<uint64_t>(partitions));
}

}  // namespace sp::dag
