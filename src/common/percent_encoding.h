// Percent-encoding (RFC 3986) for URIs, query strings and URL paths: one decoder for connection
// URIs and for the HTTP API.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace sp {

// Which meaning '+' has: itself (paths, URI parts) or a space (form-encoded query strings).
enum class PlusIs { kPlus, kSpace };

// Decodes %XX escapes; nullopt for a malformed escape.
std::optional<std::string> PercentDecode(std::string_view text, PlusIs plus = PlusIs::kPlus);
// Escapes everything but the unreserved characters (letters, digits, - _ . ~).
std::string PercentEncode(std::string_view text);

}  // namespace sp
