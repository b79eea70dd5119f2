// Bounded JSON: parsing text that comes from outside the process (the control socket, `--conf`,
// a server's answer) without letting the input choose how much stack or memory it costs.
//
// nlohmann::json recurses when it copies, compares or prints a value, so a value nested
// 100,000 levels deep overflows the stack long after it was parsed. The checks here walk the
// text (or a value) with a counter or an explicit stack, never by recursion, and reject the
// input before any recursive code sees it. Parsing never throws: syntax errors come back as
// InvalidArgument with the byte offset nlohmann reports.
//
// Thread safety: free functions over their arguments; safe from any thread.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string_view>

#include "common/status.h"

namespace sp {

// Deep enough for any configuration a person writes; shallow enough for an 8 MiB stack (and the
// smaller stacks of threads) to copy and print the value many times over.
inline constexpr int kDefaultJsonMaxDepth = 64;
inline constexpr size_t kDefaultJsonMaxBytes = size_t{1} << 20;  // 1 MiB

struct JsonLimits {
  // Arrays and objects inside each other: `1` is depth 0, `[1]` and `{}` depth 1, `[[1]]` 2.
  int max_depth = kDefaultJsonMaxDepth;
  size_t max_bytes = kDefaultJsonMaxBytes;
};

// InvalidArgument("JSON nested deeper than N levels (at byte B)") when `text` opens more than
// `max_depth` arrays/objects at once. Brackets inside strings (escapes honoured) do not count.
// Linear time, constant memory; does not otherwise check that `text` is valid JSON.
Status CheckJsonDepth(std::string_view text, int max_depth = kDefaultJsonMaxDepth);

// The bound of CheckJsonDepth for a value already built (by code, or by a parser that had no
// limit), walked with an explicit stack. Call it before copying or dumping a value of unknown
// origin.
Status CheckJsonValueDepth(const nlohmann::json& value, int max_depth = kDefaultJsonMaxDepth);

// Parses `text` (one JSON value, surrounding whitespace allowed) within `limits`. Errors, all
// InvalidArgument: too large ("JSON text is N bytes; the limit is M"), too deep (as
// CheckJsonDepth), or a syntax error ("invalid JSON at byte B: parse error at line L, column C:
// ..."). Byte offsets count from 0; nlohmann's line and column from 1. Never throws.
Result<nlohmann::json> ParseJsonBounded(std::string_view text, JsonLimits limits = {});

}  // namespace sp
