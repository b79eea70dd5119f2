// The credential primitives of the HTTP API, all from libsodium: argon2id password hashes
// (crypto_pwhash_str, INTERACTIVE limits: 64 MiB and ~0.2 s per hash here), random opaque
// secrets for sessions and API tokens, and the BLAKE2b hash under which those secrets are
// stored (a fast hash is right for 256-bit random secrets; passwords get argon2id).
#pragma once

#include <string>

#include "common/status.h"

namespace sp::auth {

Result<std::string> HashPassword(const std::string& password);
// False for a wrong password or a hash that is not an argon2id string.
bool VerifyPassword(const std::string& hash, const std::string& password);

// `bytes` random bytes as unpadded URL-safe base64 (fit for cookies and headers).
std::string RandomSecret(size_t bytes = 32);
// Hex BLAKE2b-256 of `secret`: the only form in which sessions and tokens are stored.
std::string HashSecret(const std::string& secret);

}  // namespace sp::auth
