// The importer's Python is compiled into the binary by the one embedder (cmake/embed.cmake):
// every src/airflow_import/*.py, byte for byte, and nothing else; the loader runs them from memory.
#include "airflow_import/importer_script.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

namespace sp::airflow_import {
namespace {

namespace fs = std::filesystem;

std::string ReadBytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

TEST(ImporterModulesTest, AreThePythonFilesOfTheFolderByteForByte) {
  std::map<std::string, std::string> on_disk;
  for (const auto& entry : fs::directory_iterator(fs::path(SP_SOURCE_DIR) / "src/airflow_import")) {
    if (entry.path().extension() == ".py") {
      on_disk[entry.path().filename().string()] = ReadBytes(entry.path());
    }
  }
  std::map<std::string, std::string> embedded;
  for (const EmbeddedFile& f : ImporterModules()) {
    embedded[std::string(f.path)] = std::string(f.content);
  }
  ASSERT_TRUE(on_disk.count("airflow_to_sparkplane.py"));
  EXPECT_EQ(embedded, on_disk);
}

// The style's size limit, and the kernel's: each module is one argument of the Python command,
// and Linux refuses an argument over 128 KiB (MAX_ARG_STRLEN) with E2BIG.
TEST(ImporterModulesTest, EachModuleIsSmallEnoughToBeOneArgument) {
  ASSERT_GE(ImporterModules().size(), 2u);
  for (const EmbeddedFile& f : ImporterModules()) {
    EXPECT_LT(f.content.size(), 128u * 1024) << f.path;
    EXPECT_LE(std::count(f.content.begin(), f.content.end(), '\n'), 1500) << f.path;
  }
}

TEST(ImporterArgumentsTest, LoaderThenEveryModuleByNameThenTheFileAndOptions) {
  std::vector<std::string> args = ImporterArguments("/tmp/etl.py", "{}");
  const size_t n = ImporterModules().size();
  ASSERT_EQ(args.size(), 2 + 1 + 2 * n + 2);
  EXPECT_EQ(args[0], "-c");
  EXPECT_THAT(args[1], ::testing::HasSubstr("airflow_to_sparkplane.main()"));
  EXPECT_EQ(args[2], std::to_string(n));
  for (size_t i = 0; i < n; ++i) {
    EXPECT_EQ(args[3 + 2 * i] + ".py", ImporterModules()[i].path);
    EXPECT_EQ(args[4 + 2 * i], ImporterModules()[i].content);
  }
  EXPECT_EQ(args[args.size() - 2], "/tmp/etl.py");
  EXPECT_EQ(args.back(), "{}");
}

}  // namespace
}  // namespace sp::airflow_import
