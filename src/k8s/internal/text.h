// Small text helpers shared inside the k8s module: base64, file reading, RFC 3339 times,
// edit-distance suggestions. Not part of the module's interface.
//
// Thread safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace sp::k8s::internal {

// Standard base64 (padding optional, whitespace ignored). nullopt on a bad character.
std::optional<std::string> Base64Decode(std::string_view in);
std::string Base64Encode(std::string_view in);

// "2026-11-26T06:56:52Z", "2026-11-26T06:56:52.5+01:00"; nullopt when malformed.
std::optional<Time> ParseRfc3339(std::string_view text);

// `"a", "b", "c"` (or "none").
std::string QuotedList(const std::vector<std::string>& names);

// Trims ASCII whitespace at both ends.
std::string_view Trim(std::string_view s);

}  // namespace sp::k8s::internal
