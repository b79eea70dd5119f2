// MakePrivateDirs on a real temporary tree: new directories 0700 whatever the umask, existing
// ones untouched, a file in the way named in the error.
#include "common/private_dirs.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

namespace sp {
namespace {

namespace fs = std::filesystem;

mode_t ModeOf(const fs::path& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 ? (st.st_mode & 0777) : 0;
}

TEST(MakePrivateDirsTest, NewDirectoriesArePrivateAndExistingOnesKept) {
  fs::path root = fs::temp_directory_path() / ("sp-private-" + std::to_string(::getpid()));
  fs::create_directories(root);
  fs::permissions(root, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec);
  mode_t old = ::umask(0);  // the most permissive umask: the mode must not depend on it
  Status made = MakePrivateDirs((root / "a" / "b" / "c").string());
  ::umask(old);
  ASSERT_TRUE(made.ok()) << made.ToString();
  EXPECT_EQ(ModeOf(root), 0750u) << "an existing directory is left as it is";
  for (const fs::path& p : {root / "a", root / "a" / "b", root / "a" / "b" / "c"}) {
    EXPECT_EQ(ModeOf(p), 0700u) << p;
  }
  EXPECT_TRUE(MakePrivateDirs((root / "a" / "b").string()).ok()) << "already there";

  std::ofstream(root / "file") << "x";
  Status blocked = MakePrivateDirs((root / "file" / "d").string());
  EXPECT_FALSE(blocked.ok());
  EXPECT_NE(blocked.message().find("file"), std::string::npos) << blocked.message();
  fs::remove_all(root);
}

}  // namespace
}  // namespace sp
