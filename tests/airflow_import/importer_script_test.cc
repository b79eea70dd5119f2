// The importer's Python is compiled into the binary by the one embedder (cmake/embed.cmake):
// every src/airflow_import/*.py, byte for byte, and nothing else.
#include "airflow_import/importer_script.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>

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
  EXPECT_EQ(ImporterScript(), on_disk["airflow_to_sparkplane.py"]);
}

}  // namespace
}  // namespace sp::airflow_import
