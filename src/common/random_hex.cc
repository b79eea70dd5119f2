// RandomHex: see random_hex.h.
#include "common/random_hex.h"

#include <sys/random.h>

#include <cerrno>
#include <system_error>
#include <vector>

namespace sp {

Result<std::string> RandomHex(size_t bytes) {
  std::vector<unsigned char> raw(bytes);
  size_t done = 0;
  while (done < bytes) {
    ssize_t n = ::getrandom(raw.data() + done, bytes - done, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      return UnavailableError("cannot read random bytes: " +
                              std::generic_category().message(n < 0 ? errno : EIO));
    }
    done += static_cast<size_t>(n);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * bytes);
  for (unsigned char b : raw) {
    out += kHex[b >> 4];
    out += kHex[b & 0xF];
  }
  return out;
}

}  // namespace sp
