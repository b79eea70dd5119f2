// Regression tests for bugs the fuzzers in tests/fuzz/ found in the dag module (cron schedules,
// durations, dates). Each names the fuzz target and the reproducer kept in
// tests/fuzz/regressions/<target>/, which the fuzz runs replay as well.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "common/yaml_document.h"
#include "dag/cron.h"
#include "dag/fake_task_types.h"
#include "dag/internal/civil_time.h"
#include "dag/internal/yaml_json.h"
#include "dag/loader.h"
#include "dag/template.h"

namespace sp::dag {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

Time T(const char* text) {
  std::optional<Time> t = internal::ParseDateTime(text);
  EXPECT_TRUE(t.has_value()) << text;
  return t.value_or(Time());
}

// duration_fuzz, regressions/duration/format-int64-min: negating the most negative value
// overflowed, and the result was "-".
TEST(FuzzRegressionsTest, FormatDurationOfTheMostNegativeValue) {
  EXPECT_EQ(FormatDuration(Millis(std::numeric_limits<int64_t>::min())),
            "-106751991167d7h12m55s808ms");
  EXPECT_EQ(FormatDuration(Millis(std::numeric_limits<int64_t>::max())),
            "106751991167d7h12m55s807ms");
  EXPECT_EQ(FormatDuration(Millis(-90'000)), "-1m30s");
}

// cron_fuzz, regressions/cron/step-overflow: "5/2147483647" overflowed `value += step` and
// then wrote far outside the field's bits.
TEST(FuzzRegressionsTest, HugeCronStepsMatchOnlyTheirStart) {
  Result<Schedule> s = Schedule::Parse("5/2147483647 1-3/2147483647 * * */2147483647");
  ASSERT_TRUE(s.ok()) << s.status();
  std::optional<Time> next = s->Next(T("2026-01-01T00:00:00Z"));
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(FormatTime(*next), "2026-01-04T01:05:00Z");  // the first Sunday, 01:05
  EXPECT_EQ(FormatTime(*s->Next(*next)), "2026-01-11T01:05:00Z");
}

// cron_fuzz, regressions/cron/time-near-int64-max: the walk's millisecond arithmetic overflowed
// for times near the ends of int64, and Next answered a time long before the one it was given.
TEST(FuzzRegressionsTest, CronWalkRefusesTimesItCannotRepresent) {
  Result<Schedule> s = Schedule::Parse("* * * * *");
  ASSERT_TRUE(s.ok()) << s.status();
  const Time max = FromUnixMillis(std::numeric_limits<int64_t>::max());
  const Time min = FromUnixMillis(std::numeric_limits<int64_t>::min());
  EXPECT_FALSE(s->Next(max).has_value());
  EXPECT_FALSE(s->PrevOrEqual(min).has_value());
  EXPECT_FALSE(s->IntervalStartingAtOrAfter(min).has_value());
  // regressions/cron/time-at-walk-limit: answers stay where they can be asked about again.
  EXPECT_FALSE(s->Next(FromUnixMillis(int64_t{1} << 62)).has_value());
  EXPECT_FALSE(s->PrevOrEqual(FromUnixMillis(-(int64_t{1} << 62) + 1)).has_value());
  // Far, but within the walk's domain: still answered.
  const Time far = FromUnixMillis(int64_t{1} << 61);
  std::optional<Time> next = s->Next(far);
  ASSERT_TRUE(next.has_value());
  EXPECT_GT(*next, far);
  EXPECT_EQ(s->PrevOrEqual(*next), next);
}

// cron_fuzz, regressions/cron/fire-at-walk-limit: a fire just inside the walk's lower limit is
// its own previous-or-equal fire even though no fire before it can be found (PrevOrEqual went
// through Prev, which found none, once time zones came in).
TEST(FuzzRegressionsTest, AFireAtTheWalkLimitIsItsOwnPreviousFire) {
  Result<Schedule> s = Schedule::Parse("3 * * * *");
  ASSERT_TRUE(s.ok()) << s.status();
  const Time t = FromUnixMillis(-(int64_t{1} << 62) + 4);
  std::optional<Time> next = s->Next(t);
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(s->PrevOrEqual(*next), next);
}

// dag_loader_fuzz, regressions/dag_loader/alias-cycle: a value that contains itself through an
// alias ("&a [*a]") recursed until the stack overflowed.
TEST(FuzzRegressionsTest, YamlValueContainingItselfIsAnError) {
  std::vector<DagError> errors;
  Result<YamlDocument> doc = YamlDocument::Parse("&a [1, {k: *a}]", "f.yaml");
  ASSERT_TRUE(doc.ok()) << doc.status();
  nlohmann::json v = internal::YamlToJson(doc->root(), "f.yaml", "conf", &errors, nullptr);
  EXPECT_TRUE(v.is_null());
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].field, "conf[1].k");
  EXPECT_THAT(errors[0].message, HasSubstr("contains itself through a YAML alias"));

  LoadedFile loaded = LoadDagText(
      "id: d\nparams:\n  p:\n    default: &a [*a]\ntasks:\n- {id: a, type: bash, command: x}\n",
      "d.yaml", fakes::FakeBashChecker());
  EXPECT_EQ(loaded.dag, nullptr);
  ASSERT_FALSE(loaded.errors.empty());
  EXPECT_THAT(loaded.errors[0].ToString(), HasSubstr("contains itself through a YAML alias"));
}

// Read-through of the libfyaml port: nesting as written is bounded, but aliases chain deeper (each
// anchor 200 levels deep holds an alias to the previous one); converting that recursed ~10,000
// levels. It is a located error at the bound.
std::string ChainedDeepAnchors(int anchors, int depth) {
  std::string text;
  for (int a = 0; a < anchors; ++a) {
    text += "      - &a" + std::to_string(a) + " " + std::string(depth, '[');
    text += a == 0 ? "x" : "*a" + std::to_string(a - 1);
    text += std::string(depth, ']') + "\n";
  }
  return text;
}

TEST(FuzzRegressionsTest, AliasesChainedDeeperThanTheNestingBoundAreAnError) {
  LoadedFile loaded =
      LoadDagText("id: d\nparams:\n  p:\n    default:\n" + ChainedDeepAnchors(50, 200) +
                      "tasks:\n- {id: a, type: bash, command: x}\n",
                  "d.yaml", fakes::FakeBashChecker());
  EXPECT_EQ(loaded.dag, nullptr);
  ASSERT_FALSE(loaded.errors.empty());
  EXPECT_THAT(loaded.errors[0].ToString(),
              AllOf(HasSubstr("d.yaml:"), HasSubstr("nests more than 256 levels deep once YAML "
                                                    "aliases are followed")));
}

// dag_loader_fuzz, regressions/dag_loader/alias-bomb: nested aliases (a "billion laughs") were
// expanded into copies without bound; a few hundred bytes took minutes and gigabytes.
TEST(FuzzRegressionsTest, YamlAliasExpansionIsBounded) {
  std::string text = "id: d\ntasks:\n- id: a\n  type: bash\n  command: x\n  cwd:\n";
  text += "    l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i <= 5; ++i) {  // 10^6 strings
    std::string prev = "*l" + std::to_string(i - 1);
    text += "    l" + std::to_string(i) + ": &l" + std::to_string(i) + " [";
    for (int j = 0; j < 10; ++j) text += (j ? ", " : "") + prev;
    text += "]\n";
  }
  LoadedFile loaded = LoadDagText(text, "d.yaml", fakes::FakeBashChecker());
  EXPECT_EQ(loaded.dag, nullptr);
  ASSERT_FALSE(loaded.errors.empty());
  EXPECT_THAT(loaded.errors[0].ToString(),
              AllOf(HasSubstr("d.yaml:"), HasSubstr(": tasks[0].cwd.l"),
                    HasSubstr("the value is too large: more than 100000 items once YAML aliases "
                              "are expanded")));
}

// dag_loader_fuzz, regressions/dag_loader/yaml-comma-hang: yaml-cpp's LoadAll never returned on
// a file holding just "," (its parser reports empty documents forever); a scheduler scanning
// such a file hung. Now a located error, and other files still count their documents.
TEST(FuzzRegressionsTest, StrayCommaIsAnErrorNotAHang) {
  for (const char* text : {",", ",\nid: d\n", "]"}) {
    LoadedFile loaded = LoadDagText(text, "d.yaml", fakes::FakeBashChecker());
    EXPECT_EQ(loaded.dag, nullptr) << text;
    ASSERT_FALSE(loaded.errors.empty()) << text;
    EXPECT_THAT(loaded.errors[0].ToString(), AllOf(HasSubstr("d.yaml"), HasSubstr("YAML"))) << text;
  }
  LoadedFile two = LoadDagText("id: d\ntasks:\n- {id: a, type: bash, command: x}\n---\nid: e\n",
                               "d.yaml", fakes::FakeBashChecker());
  ASSERT_EQ(two.errors.size(), 1u);
  EXPECT_THAT(two.errors[0].message, HasSubstr("the file has 2 YAML documents"));
}

// template_fuzz, regressions/template/non-utf8-value: a non-string value holding bytes that are
// not UTF-8 made nlohmann's dump throw type_error 316 out of the renderer. Bad bytes render as
// U+FFFD.
TEST(FuzzRegressionsTest, NonUtf8BytesInAValueRender) {
  nlohmann::json context = {{"params", {{"bytes", {std::string("a\xff")}}}}};
  Result<std::string> out = RenderTemplate("echo {{ params.bytes }}", context);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, "echo [\"a\xef\xbf\xbd\"]");
  Result<ShellRendering> shell = RenderShellTemplate("echo {{ params.bytes }}", context, {});
  EXPECT_TRUE(shell.ok()) << shell.status();
}

}  // namespace
}  // namespace sp::dag
