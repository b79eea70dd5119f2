// Writing small files that may hold secrets or must never be seen half-written: the text goes
// to a temporary file beside the target (created 0600, so it is never readable by others even
// for a moment), is flushed, and is renamed over the target. Readers see the old file or the
// new one, never a part. Private to spark/.
//
// Thread safety: free function; concurrent writers of one path leave one of their texts.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace sp::spark::internal {

// Writes `text` to `path` (mode 0600) atomically. The temporary file's name is the target's
// with ".tmp-XXXXXX" appended, so it is hidden when the target is. Unavailable on I/O errors
// (the message names the path); the temporary file is removed then.
Status WritePrivateFileAtomically(const std::string& path, std::string_view text);

}  // namespace sp::spark::internal
