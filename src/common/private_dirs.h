// MakePrivateDirs: `mkdir -p` whose new directories are private (0700, whatever the umask), for
// the places that hold task logs and other data files (the quality bar: data files 0600,
// their directories 0700). Directories that already exist are left as they are.
//
// Thread safety: safe from any thread (a directory another thread makes meanwhile is fine).
#pragma once

#include <string>

#include "common/status.h"

namespace sp {

// FailedPrecondition naming the directory that could not be made.
Status MakePrivateDirs(const std::string& dir);

}  // namespace sp
