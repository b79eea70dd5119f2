// Roles of the HTTP API, ordered: a viewer reads; an operator also triggers, cancels, clears,
// repairs, marks and pauses; an admin also manages connections, users and clusters.
#pragma once

#include <optional>
#include <string>

namespace sp::auth {

enum class Role { kViewer = 0, kOperator = 1, kAdmin = 2 };

const char* RoleName(Role role);  // "viewer", "operator", "admin"
std::optional<Role> ParseRole(const std::string& name);
inline bool AtLeast(Role have, Role need) {
  return static_cast<int>(have) >= static_cast<int>(need);
}

}  // namespace sp::auth
