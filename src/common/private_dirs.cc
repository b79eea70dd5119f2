// MakePrivateDirs (see private_dirs.h).
#include "common/private_dirs.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

namespace sp {

Status MakePrivateDirs(const std::string& dir) {
  namespace fs = std::filesystem;
  std::vector<fs::path> missing;
  std::error_code ec;
  for (fs::path p = fs::path(dir).lexically_normal(); !p.empty() && !fs::exists(p, ec);
       p = p.parent_path()) {
    missing.push_back(p);
    if (p == p.parent_path()) break;
  }
  for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
    // mkdir's mode is masked by the umask, which can only take bits away: 0700 stays private.
    if (::mkdir(it->c_str(), 0700) != 0 && errno != EEXIST) {
      return FailedPreconditionError("cannot create " + it->string() + ": " + std::strerror(errno));
    }
  }
  return OkStatus();
}

}  // namespace sp
