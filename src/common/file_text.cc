// ReadFileText (see file_text.h).
#include "common/file_text.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace sp {

Result<std::string> ReadFileText(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return FailedPreconditionError("cannot read " + what + " " + path + ": " +
                                   std::strerror(errno));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return FailedPreconditionError("cannot read " + what + " " + path);
  return std::move(text).str();
}

}  // namespace sp
