// Helpers shared by the libFuzzer targets in tests/fuzz/: a depth-bounded JSON parse (as the
// server's boundary must do before nlohmann's recursive copy/dump touch a value) and a check
// that turns a broken invariant into a crash the fuzzer reports.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace sp::fuzz {

// Nesting deeper than this is refused before parsing, like a server with a bounded parser.
inline constexpr int kMaxJsonDepth = 64;

// The deepest bracket nesting of `text` outside JSON strings.
inline int JsonBracketDepth(std::string_view text) {
  int depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > deepest) deepest = depth;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

// Parses `text`; a discarded value for invalid JSON or nesting deeper than kMaxJsonDepth.
inline nlohmann::json ParseJsonForFuzz(std::string_view text) {
  if (JsonBracketDepth(text) > kMaxJsonDepth)
    return nlohmann::json(nlohmann::json::value_t::discarded);
  return nlohmann::json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
}

// A property that must hold for every input; a violation aborts so libFuzzer keeps the input.
#define SP_FUZZ_CHECK(cond, what)                                                           \
  do {                                                                                      \
    if (!(cond)) {                                                                          \
      std::fprintf(stderr, "%s:%d: fuzz check failed: %s: %s\n", __FILE__, __LINE__, #cond, \
                   std::string(what).c_str());                                              \
      std::abort();                                                                         \
    }                                                                                       \
  } while (0)

}  // namespace sp::fuzz
