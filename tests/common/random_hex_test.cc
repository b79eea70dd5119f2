// RandomHex: length, alphabet, and that two draws differ.
#include "common/random_hex.h"

#include <gtest/gtest.h>

namespace sp {
namespace {

TEST(RandomHexTest, GivesTwoLowercaseHexCharactersPerByteAndNeverRepeats) {
  Result<std::string> a = RandomHex(16);
  Result<std::string> b = RandomHex(16);
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(a->size(), 32u);
  EXPECT_EQ(a->find_first_not_of("0123456789abcdef"), std::string::npos) << *a;
  EXPECT_NE(*a, *b);
  Result<std::string> empty = RandomHex(0);
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(*empty, "");
}

}  // namespace
}  // namespace sp
