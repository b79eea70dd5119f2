// Helpers shared by the libFuzzer targets in tests/fuzz/: a bounded JSON parse (as the server's
// boundary does before nlohmann's recursive copy/dump touch a value) and a check that turns a
// broken invariant into a crash the fuzzer reports.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "common/json_limits.h"
#include "common/status.h"

namespace sp::fuzz {

// Parses `text` as the server parses untrusted JSON (common/json_limits.h: size and nesting
// bounded); a discarded value when it refuses.
inline nlohmann::json ParseJsonForFuzz(std::string_view text) {
  Result<nlohmann::json> value = ParseJsonBounded(text);
  return value.ok() ? std::move(value).value() : nlohmann::json(nlohmann::json::value_t::discarded);
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
