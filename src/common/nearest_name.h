// NearestName and DidYouMean: the one "did you mean" helper, for DAG fields and task types,
// timezones, connections, kubeconfig contexts, deploy overlays and components. Names are
// compared by optimal string alignment distance (Levenshtein plus adjacent transpositions, so
// "tabel" is one edit from "table"), case-insensitively.
//
// Thread safety: pure functions.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace sp {

size_t EditDistance(std::string_view a, std::string_view b);

// The candidate nearest to `name`, or "" if none is close enough: about one typo per four
// characters, so short names do not match everything; `name` itself is never suggested.
std::string NearestName(std::string_view name, const std::vector<std::string>& candidates);

// "; did you mean \"x\"?" with NearestName's answer, or "" when it has none.
std::string DidYouMean(std::string_view name, const std::vector<std::string>& candidates);

}  // namespace sp
