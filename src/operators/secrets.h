// SecretBox: encrypts connection secrets (passwords, secret extras) before they reach the store,
// with libsodium's crypto_secretbox (XSalsa20-Poly1305, authenticated) under one 32-byte key.
//
// Sealed form: standard base64 (with padding) of nonce (24 random bytes) || ciphertext. A fresh
// nonce per Seal, so equal secrets give different sealed strings. Open fails (FailedPrecondition)
// when the key is not the one that sealed, or the text was altered.
//
// Where the key comes from (SecretKeySource, in this order):
//   1. env SPARKPLANE_SECRET_KEY: the key as 64 hex characters (for containers and CI, where a
//      secret is easier to pass as a variable than as a file);
//   2. the file at RuntimeConfig::secret_key_path: 64 hex characters, a trailing newline
//      allowed. `sparkplane connections keygen` writes it with GenerateKeyFile (mode 0600).
// Neither present: FailedPrecondition kNoSecretKeyMessage. A key is only needed to seal or to
// reveal a secret; connections without secrets work without one.
//
// The key bytes are wiped (sodium_memzero) when a SecretBox is destroyed. Secrets must never be
// logged; callers show "***" instead.
//
// Thread safety: a SecretBox is immutable after construction; Seal/Open may run concurrently.
#pragma once

#include <array>
#include <string>
#include <string_view>

#include "common/status.h"
#include "spark/spark_home.h"

namespace sp::operators {

inline constexpr char kSecretKeyEnv[] = "SPARKPLANE_SECRET_KEY";
inline constexpr char kNoSecretKeyMessage[] =
    "no secret key: create one with `sparkplane connections keygen` or set "
    "SPARKPLANE_SECRET_KEY";

struct SecretKeySource {
  std::string path;                            // the key file (RuntimeConfig::secret_key_path)
  spark::EnvLookup env = spark::ProcessEnv();  // where SPARKPLANE_SECRET_KEY is read
};

class SecretBox {
 public:
  static constexpr size_t kKeyBytes = 32;

  // From the raw key bytes (exactly kKeyBytes). InvalidArgument otherwise.
  static Result<SecretBox> FromKey(std::string_view key);
  // From 64 hex characters (surrounding whitespace ignored). InvalidArgument otherwise.
  static Result<SecretBox> FromHex(std::string_view hex);
  // From the environment or the key file (see the header comment). FailedPrecondition when
  // there is no key or it is malformed (the message names the file or variable).
  static Result<SecretBox> Load(const SecretKeySource& source);

  SecretBox(const SecretBox& other) = default;
  SecretBox& operator=(const SecretBox& other) = default;
  ~SecretBox();

  // base64(nonce || ciphertext). Internal only if libsodium cannot initialise.
  Result<std::string> Seal(std::string_view plaintext) const;
  // The plaintext. FailedPrecondition when `sealed` is malformed or was sealed with another key.
  Result<std::string> Open(std::string_view sealed) const;

 private:
  SecretBox() = default;
  std::array<unsigned char, kKeyBytes> key_{};
};

// Writes a new random key as 64 hex characters and a newline to `path`, created with mode 0600
// (parent directories 0700 as needed). AlreadyExists when the file exists: replacing a key makes
// every secret sealed with it unreadable, so the old file must be removed on purpose.
Status GenerateKeyFile(const std::string& path);

}  // namespace sp::operators
