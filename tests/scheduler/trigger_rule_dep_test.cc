// TriggerRuleDep against the table in tests/data/trigger_rules/rules.txt.
#include "scheduler/deps/trigger_rule_dep.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace sp::scheduler {
namespace {

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string part;
  while (std::getline(ss, part, sep)) out.push_back(part);
  return out;
}

const char* VerdictName(TriggerVerdict v) {
  switch (v) {
    case TriggerVerdict::kRun:
      return "run";
    case TriggerVerdict::kWait:
      return "wait";
    case TriggerVerdict::kSkip:
      return "skip";
    case TriggerVerdict::kUpstreamFailed:
      return "upstream_failed";
  }
  return "?";
}

TEST(TriggerRuleDepTest, Table) {
  std::ifstream in(std::string(SP_SOURCE_DIR) + "/tests/data/trigger_rules/rules.txt");
  ASSERT_TRUE(in) << "missing rules.txt";
  std::string line;
  int cases = 0, line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty() || line[0] == '#' || line[0] == ' ') continue;
    std::istringstream ls(line);
    std::string rule_s, role_s, ups_s, arrow, want;
    ls >> rule_s >> role_s >> ups_s >> arrow >> want;
    ASSERT_EQ(arrow, "->") << "rules.txt:" << line_no;
    auto rule = dag::ParseTriggerRule(rule_s);
    ASSERT_TRUE(rule) << "rules.txt:" << line_no << ": bad rule " << rule_s;
    dag::TaskRole role = role_s == "teardown" ? dag::TaskRole::kTeardown
                         : role_s == "setup"  ? dag::TaskRole::kSetup
                                              : dag::TaskRole::kNormal;
    std::vector<UpstreamState> ups, indirect;
    if (ups_s != "-") {
      int i = 0;
      for (std::string s : Split(ups_s, ',')) {
        const bool is_indirect = s.rfind("indirect:", 0) == 0;
        if (is_indirect) s = s.substr(9);
        const bool setup = is_indirect || s.rfind("setup:", 0) == 0;
        if (setup && !is_indirect) s = s.substr(6);
        auto st = store::ParseTaskState(s);
        ASSERT_TRUE(st) << "rules.txt:" << line_no << ": bad state " << s;
        (is_indirect ? indirect : ups).push_back({"t" + std::to_string(i++), *st, setup});
      }
    }
    TriggerDecision d = TriggerRuleDep::Evaluate(*rule, role, ups, indirect);
    EXPECT_EQ(VerdictName(d.verdict), want)
        << "rules.txt:" << line_no << ": " << line << " (reason: " << d.status.reason << ")";
    EXPECT_FALSE(d.status.reason.empty());
    ++cases;
  }
  EXPECT_GE(cases, 30);
}

// Issue 12: the reason names the setup that decided, so `tasks explain` shows it.
TEST(TriggerRuleDepTest, Issue12IndirectSetupReasonNamesTheSetup) {
  const std::vector<UpstreamState> work = {{"submit", store::TaskState::kUpstreamFailed}};
  TriggerDecision failed =
      TriggerRuleDep::Evaluate(dag::TriggerRule::kAllDone, dag::TaskRole::kNormal, work,
                               {{"create_cluster", store::TaskState::kFailed, true}});
  EXPECT_EQ(failed.verdict, TriggerVerdict::kUpstreamFailed);
  EXPECT_EQ(failed.status.reason, "setup task 'create_cluster' failed");
  TriggerDecision waiting = TriggerRuleDep::Evaluate(
      dag::TriggerRule::kOneSuccess, dag::TaskRole::kNormal, {{"a", store::TaskState::kSuccess}},
      {{"create_cluster", store::TaskState::kRunning, true}});
  EXPECT_EQ(waiting.verdict, TriggerVerdict::kWait);
  EXPECT_EQ(waiting.status.reason, "waiting for 1 setup task(s) to succeed (create_cluster)");
}

TEST(TriggerRuleDepTest, WaitingReasonNamesPendingUpstreams) {
  TriggerDecision d = TriggerRuleDep::Evaluate(
      dag::TriggerRule::kAllSuccess, dag::TaskRole::kNormal,
      {{"extract", store::TaskState::kSuccess}, {"load", store::TaskState::kRunning}});
  EXPECT_EQ(d.verdict, TriggerVerdict::kWait);
  EXPECT_NE(d.status.reason.find("waiting for 1 of 2 upstream tasks (load)"), std::string::npos)
      << d.status.reason;
}

}  // namespace
}  // namespace sp::scheduler
