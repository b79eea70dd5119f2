// Table-driven validation messages: every tests/data/dag_validation/*.yaml file is one case.
// A case file starts with comment lines
//   # name: <short name>
//   # description: <what it checks>
//   # expect: <substring of one expected error, matched against DagError::ToString()>
// with one or more `expect` lines, or `# expect: OK` for a file that must load cleanly.
// Loaded with the fake "bash" task type (fields command, shell, cwd; command required).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "dag/fake_task_types.h"
#include "dag/loader.h"

namespace sp::dag {
namespace {

namespace fs = std::filesystem;

const std::string kCaseDir = std::string(SP_SOURCE_DIR) + "/tests/data/dag_validation";

struct ValidationCase {
  std::string file;
  std::string name;
  std::string description;
  std::vector<std::string> expects;  // empty = must load without errors
};

// Reads the header comments of a case file; fills `problem` when the header is malformed.
ValidationCase ReadCase(const std::string& file, std::string* problem) {
  ValidationCase c;
  c.file = file;
  std::ifstream in(file);
  std::string line;
  bool ok_expected = false;
  while (std::getline(in, line) && line.rfind("#", 0) == 0) {
    auto value_of = [&](const std::string& key) -> std::optional<std::string> {
      const std::string prefix = "# " + key + ":";
      if (line.rfind(prefix, 0) != 0) return std::nullopt;
      std::string v = line.substr(prefix.size());
      v.erase(0, v.find_first_not_of(' '));
      return v;
    };
    if (auto v = value_of("name")) c.name = *v;
    if (auto v = value_of("description")) c.description = *v;
    if (auto v = value_of("expect")) {
      if (*v == "OK") {
        ok_expected = true;
      } else {
        c.expects.push_back(*v);
      }
    }
  }
  if (c.name.empty()) *problem += "missing '# name:' line; ";
  if (c.description.empty()) *problem += "missing '# description:' line; ";
  if (c.expects.empty() == !ok_expected) {
    *problem += "needs '# expect: OK' or one or more '# expect: <error>' lines, not both; ";
  }
  return c;
}

std::vector<std::string> CaseFiles() {
  std::vector<std::string> files;
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(kCaseDir, ec)) {
    if (e.path().extension() == ".yaml") files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

class DagValidationTest : public ::testing::TestWithParam<std::string> {};

TEST_P(DagValidationTest, ReportsTheExpectedErrors) {
  std::string problem;
  const ValidationCase c = ReadCase(GetParam(), &problem);
  ASSERT_TRUE(problem.empty()) << c.file << ": " << problem;
  SCOPED_TRACE(c.file + " (" + c.name + "): " + c.description);

  const LoadedFile loaded = LoadDagFile(c.file, fakes::FakeBashChecker());
  std::string all;
  for (const DagError& e : loaded.errors) all += "\n  " + e.ToString();

  if (c.expects.empty()) {
    EXPECT_TRUE(loaded.errors.empty()) << "unexpected errors:" << all;
    EXPECT_NE(loaded.dag, nullptr);
    return;
  }
  EXPECT_EQ(loaded.dag, nullptr);
  for (const std::string& want : c.expects) {
    const bool found = std::any_of(
        loaded.errors.begin(), loaded.errors.end(),
        [&](const DagError& e) { return e.ToString().find(want) != std::string::npos; });
    EXPECT_TRUE(found) << "no error contains: " << want << "\ngot:" << all;
  }
}

std::string CaseName(const ::testing::TestParamInfo<std::string>& info) {
  std::string stem = fs::path(info.param).stem().string();
  for (char& ch : stem) {
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  return stem;
}

INSTANTIATE_TEST_SUITE_P(Cases, DagValidationTest, ::testing::ValuesIn(CaseFiles()), CaseName);

TEST(DagValidationCatalogTest, HasEnoughCases) {
  EXPECT_GE(CaseFiles().size(), 20u) << "cases are read from " << kCaseDir;
}

}  // namespace
}  // namespace sp::dag
