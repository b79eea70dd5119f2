// RandomHex: secrets and unique ids from the kernel's random source (getrandom), as lowercase
// hex. One helper for the cluster secrets, notebook tokens and driver-pod submission ids.
//
// Thread safety: safe from any thread.
#pragma once

#include <cstddef>
#include <string>

#include "common/status.h"

namespace sp {

// 2 * `bytes` hex characters. Unavailable if the kernel has no random bytes to give (an early
// boot without entropy never returns here: getrandom blocks until it has them).
Result<std::string> RandomHex(size_t bytes);

}  // namespace sp
