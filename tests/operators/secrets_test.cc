// SecretBox: seal/open round trip, a wrong key, tampering, where the key comes from (env hex,
// key file, neither), and GenerateKeyFile (0600, refuses to overwrite).
#include "operators/secrets.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "operators/recording_task_context.h"

namespace sp::operators {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::ReadFile;
using testing::ScratchDir;
using testing::StatusIs;
using testing::WriteFile;

const std::string kHexKey(64, 'a');
const std::string kOtherHexKey(64, 'b');

spark::EnvLookup NoEnv() {
  return [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
}

spark::EnvLookup EnvWith(std::string name, std::string value) {
  return [name, value](const std::string& n) -> std::optional<std::string> {
    if (n == name) return value;
    return std::nullopt;
  };
}

TEST(SecretBoxTest, SealThenOpenRoundTrips) {
  Result<SecretBox> box = SecretBox::FromHex(kHexKey);
  ASSERT_TRUE(box.ok()) << box.status();
  for (std::string secret : {std::string("s3cr3t pass"), std::string(""), std::string(5000, 'x'),
                             std::string("bin\0ary", 7)}) {
    Result<std::string> sealed = box->Seal(secret);
    ASSERT_TRUE(sealed.ok()) << sealed.status();
    if (!secret.empty()) {
      EXPECT_THAT(*sealed, Not(HasSubstr(secret)));
    }
    Result<std::string> opened = box->Open(*sealed);
    ASSERT_TRUE(opened.ok()) << opened.status();
    EXPECT_EQ(*opened, secret);
  }
}

TEST(SecretBoxTest, EachSealUsesAFreshNonce) {
  Result<SecretBox> box = SecretBox::FromHex(kHexKey);
  ASSERT_TRUE(box.ok());
  EXPECT_NE(*box->Seal("same"), *box->Seal("same"));
}

TEST(SecretBoxTest, WrongKeyCannotOpen) {
  Result<SecretBox> box = SecretBox::FromHex(kHexKey);
  Result<SecretBox> other = SecretBox::FromHex(kOtherHexKey);
  ASSERT_TRUE(box.ok() && other.ok());
  Result<std::string> sealed = box->Seal("hunter2");
  ASSERT_TRUE(sealed.ok());
  EXPECT_THAT(other->Open(*sealed), StatusIs(StatusCode::kFailedPrecondition,
                                             HasSubstr("sealed with another secret key")));
}

TEST(SecretBoxTest, TamperedOrMalformedTextIsRefused) {
  Result<SecretBox> box = SecretBox::FromHex(kHexKey);
  ASSERT_TRUE(box.ok());
  std::string sealed = *box->Seal("hunter2");
  sealed[sealed.size() / 2] = sealed[sealed.size() / 2] == 'A' ? 'B' : 'A';
  EXPECT_THAT(box->Open(sealed), StatusIs(StatusCode::kFailedPrecondition, HasSubstr("")));
  EXPECT_THAT(box->Open("not base64!"),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("malformed")));
  EXPECT_THAT(box->Open("AAAA"), StatusIs(StatusCode::kFailedPrecondition, HasSubstr("malformed")));
}

TEST(SecretBoxTest, KeysMustBe32Bytes) {
  EXPECT_THAT(SecretBox::FromHex("abcd"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("expected 64 hex characters")));
  EXPECT_THAT(SecretBox::FromHex(std::string(64, 'z')),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("hex characters")));
  EXPECT_THAT(SecretBox::FromKey("short"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("32 bytes")));
  EXPECT_TRUE(SecretBox::FromKey(std::string(32, '\x01')).ok());
}

TEST(SecretBoxTest, MissingKeyTellsHowToCreateOne) {
  ScratchDir dir;
  Result<SecretBox> box = SecretBox::Load({dir.File("secret.key"), NoEnv()});
  EXPECT_THAT(box, StatusIs(StatusCode::kFailedPrecondition,
                            HasSubstr("no secret key: create one with `sparkplane connections "
                                      "keygen` or set SPARKPLANE_SECRET_KEY")));
  EXPECT_THAT(SecretBox::Load({"", NoEnv()}),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("no secret key")));
}

TEST(SecretBoxTest, LoadsTheKeyFileOrTheEnvironment) {
  ScratchDir dir;
  std::string path = dir.File("secret.key");
  WriteFile(path, kHexKey + "\n");
  Result<SecretBox> from_file = SecretBox::Load({path, NoEnv()});
  ASSERT_TRUE(from_file.ok()) << from_file.status();
  Result<SecretBox> expected = SecretBox::FromHex(kHexKey);
  EXPECT_EQ(*expected->Open(*from_file->Seal("x")), "x");

  // The environment wins over the file.
  Result<SecretBox> from_env = SecretBox::Load({path, EnvWith(kSecretKeyEnv, kOtherHexKey)});
  ASSERT_TRUE(from_env.ok()) << from_env.status();
  EXPECT_FALSE(expected->Open(*from_env->Seal("x")).ok());

  EXPECT_THAT(SecretBox::Load({path, EnvWith(kSecretKeyEnv, "nope")}),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("SPARKPLANE_SECRET_KEY: ")));
  WriteFile(path, "garbage\n");
  EXPECT_THAT(SecretBox::Load({path, NoEnv()}),
              StatusIs(StatusCode::kFailedPrecondition,
                       HasSubstr("secret key file " + path + ": expected 64 hex characters")));
}

TEST(GenerateKeyFileTest, WritesAPrivateKeyFileOnce) {
  ScratchDir dir;
  std::string path = dir.File("keys/secret.key");
  ASSERT_TRUE(GenerateKeyFile(path).ok());
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::string text = ReadFile(path);
  EXPECT_EQ(text.size(), 65u);
  Result<SecretBox> box = SecretBox::Load({path, NoEnv()});
  ASSERT_TRUE(box.ok()) << box.status();

  EXPECT_THAT(GenerateKeyFile(path),
              StatusIs(StatusCode::kAlreadyExists, HasSubstr("already exists")));
  EXPECT_EQ(ReadFile(path), text);  // untouched

  std::string other = dir.File("other.key");
  ASSERT_TRUE(GenerateKeyFile(other).ok());
  EXPECT_NE(ReadFile(other), text);
}

}  // namespace
}  // namespace sp::operators
