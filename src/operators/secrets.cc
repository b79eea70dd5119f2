// SecretBox and GenerateKeyFile; see secrets.h.
#include "operators/secrets.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

namespace sp::operators {

namespace {

static_assert(SecretBox::kKeyBytes == crypto_secretbox_KEYBYTES);

constexpr int kBase64Variant = sodium_base64_VARIANT_ORIGINAL;

Status InitSodium() {
  // sodium_init is thread-safe and idempotent: 0 on first success, 1 when already done.
  if (sodium_init() < 0) return InternalError("libsodium could not be initialised");
  return OkStatus();
}

std::string Trim(std::string_view s) {
  size_t a = 0;
  while (a < s.size() && std::isspace(static_cast<unsigned char>(s[a]))) ++a;
  size_t b = s.size();
  while (b > a && std::isspace(static_cast<unsigned char>(s[b - 1]))) --b;
  return std::string(s.substr(a, b - a));
}

std::string ErrnoText() {
  return std::strerror(errno);
}

}  // namespace

Result<SecretBox> SecretBox::FromKey(std::string_view key) {
  RETURN_IF_ERROR(InitSodium());
  if (key.size() != kKeyBytes) {
    return InvalidArgumentError("a secret key must be " + std::to_string(kKeyBytes) +
                                " bytes; got " + std::to_string(key.size()));
  }
  SecretBox box;
  std::memcpy(box.key_.data(), key.data(), kKeyBytes);
  return box;
}

Result<SecretBox> SecretBox::FromHex(std::string_view hex) {
  RETURN_IF_ERROR(InitSodium());
  std::string text = Trim(hex);
  if (text.size() != 2 * kKeyBytes) {
    return InvalidArgumentError("expected " + std::to_string(2 * kKeyBytes) +
                                " hex characters; got " + std::to_string(text.size()) +
                                " characters");
  }
  SecretBox box;
  size_t len = 0;
  const char* end = nullptr;
  if (sodium_hex2bin(box.key_.data(), box.key_.size(), text.data(), text.size(), nullptr, &len,
                     &end) != 0 ||
      len != kKeyBytes || end != text.data() + text.size()) {
    return InvalidArgumentError("expected " + std::to_string(2 * kKeyBytes) +
                                " hex characters (0-9, a-f)");
  }
  return box;
}

Result<SecretBox> SecretBox::Load(const SecretKeySource& source) {
  if (source.env) {
    if (std::optional<std::string> hex = source.env(kSecretKeyEnv); hex && !hex->empty()) {
      Result<SecretBox> box = FromHex(*hex);
      if (!box.ok()) {
        return FailedPreconditionError(std::string(kSecretKeyEnv) + ": " + box.status().message());
      }
      return box;
    }
  }
  if (source.path.empty()) return FailedPreconditionError(kNoSecretKeyMessage);
  std::ifstream in(source.path, std::ios::binary);
  if (!in) {
    std::error_code ec;
    if (!std::filesystem::exists(source.path, ec)) {
      return FailedPreconditionError(std::string(kNoSecretKeyMessage) + " (no key file at " +
                                     source.path + ")");
    }
    return FailedPreconditionError("cannot read the secret key file " + source.path + ": " +
                                   ErrnoText());
  }
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  Result<SecretBox> box = FromHex(text);
  sodium_memzero(text.data(), text.size());
  if (!box.ok()) {
    return FailedPreconditionError("secret key file " + source.path + ": " +
                                   box.status().message() +
                                   " (as written by `sparkplane connections keygen`)");
  }
  return box;
}

SecretBox::~SecretBox() {
  sodium_memzero(key_.data(), key_.size());
}

Result<std::string> SecretBox::Seal(std::string_view plaintext) const {
  RETURN_IF_ERROR(InitSodium());
  std::vector<unsigned char> raw(crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES +
                                 plaintext.size());
  unsigned char* nonce = raw.data();
  randombytes_buf(nonce, crypto_secretbox_NONCEBYTES);
  if (crypto_secretbox_easy(raw.data() + crypto_secretbox_NONCEBYTES,
                            reinterpret_cast<const unsigned char*>(plaintext.data()),
                            plaintext.size(), nonce, key_.data()) != 0) {
    return InternalError("sealing a secret failed");
  }
  std::string out(sodium_base64_encoded_len(raw.size(), kBase64Variant), '\0');
  sodium_bin2base64(out.data(), out.size(), raw.data(), raw.size(), kBase64Variant);
  out.resize(std::strlen(out.c_str()));  // drop the terminating NUL sodium writes
  return out;
}

Result<std::string> SecretBox::Open(std::string_view sealed) const {
  RETURN_IF_ERROR(InitSodium());
  std::vector<unsigned char> raw(sealed.size());
  size_t len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(raw.data(), raw.size(), sealed.data(), sealed.size(), nullptr, &len, &end,
                        kBase64Variant) != 0 ||
      end != sealed.data() + sealed.size() ||
      len < crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES) {
    return FailedPreconditionError("a sealed secret is malformed (not base64 of nonce and box)");
  }
  std::string plain(len - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES, '\0');
  if (crypto_secretbox_open_easy(reinterpret_cast<unsigned char*>(plain.data()),
                                 raw.data() + crypto_secretbox_NONCEBYTES,
                                 len - crypto_secretbox_NONCEBYTES, raw.data(), key_.data()) != 0) {
    return FailedPreconditionError(
        "cannot decrypt a sealed secret: it was sealed with another secret key (or altered)");
  }
  return plain;
}

Status GenerateKeyFile(const std::string& path) {
  RETURN_IF_ERROR(InitSodium());
  if (path.empty()) return InvalidArgumentError("no path given for the secret key file");
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path parent = fs::path(path).parent_path();
  if (!parent.empty() && !fs::exists(parent, ec)) {
    fs::create_directories(parent, ec);
    if (ec) {
      return FailedPreconditionError("cannot create " + parent.string() + ": " + ec.message());
    }
    fs::permissions(parent, fs::perms::owner_all, ec);
  }
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST) {
      return AlreadyExistsError("secret key file " + path +
                                " already exists; a new key would make every secret sealed "
                                "with it unreadable (remove the file first if you mean it)");
    }
    return FailedPreconditionError("cannot create the secret key file " + path + ": " +
                                   ErrnoText());
  }
  ::fchmod(fd, 0600);  // whatever the umask
  std::array<unsigned char, SecretBox::kKeyBytes> key;
  randombytes_buf(key.data(), key.size());
  std::string hex(2 * key.size() + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), key.data(), key.size());
  sodium_memzero(key.data(), key.size());
  hex.back() = '\n';
  size_t done = 0;
  Status status;
  while (done < hex.size()) {
    ssize_t n = ::write(fd, hex.data() + done, hex.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      status =
          FailedPreconditionError("cannot write the secret key file " + path + ": " + ErrnoText());
      break;
    }
    done += static_cast<size_t>(n);
  }
  if (status.ok() && ::fsync(fd) != 0) {
    status =
        FailedPreconditionError("cannot sync the secret key file " + path + ": " + ErrnoText());
  }
  ::close(fd);
  sodium_memzero(hex.data(), hex.size());
  if (!status.ok()) ::unlink(path.c_str());
  return status;
}

}  // namespace sp::operators
