// Atomic 0600 file writes; see private_file.h.
#include "spark/internal/private_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

namespace sp::spark::internal {

Status WritePrivateFileAtomically(const std::string& path, std::string_view text) {
  std::string pattern = path + ".tmp-XXXXXX";
  std::vector<char> tmp(pattern.begin(), pattern.end());
  tmp.push_back('\0');
  // mkstemp creates the file with mode 0600 (whatever the umask), O_EXCL.
  int fd = ::mkostemp(tmp.data(), O_CLOEXEC);
  if (fd < 0) return UnavailableError("cannot write " + path + ": " + std::strerror(errno));
  auto fail = [&](int err) {
    ::close(fd);
    ::unlink(tmp.data());
    return UnavailableError("cannot write " + path + ": " + std::strerror(err));
  };
  if (::fchmod(fd, 0600) != 0) return fail(errno);
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return fail(n < 0 ? errno : EIO);
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) return fail(errno);
  if (::close(fd) != 0) {
    int err = errno;
    ::unlink(tmp.data());
    return UnavailableError("cannot write " + path + ": " + std::strerror(err));
  }
  if (::rename(tmp.data(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.data());
    return UnavailableError("cannot write " + path + ": " + std::strerror(err));
  }
  return OkStatus();
}

}  // namespace sp::spark::internal
