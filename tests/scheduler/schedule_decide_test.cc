// The timetables through Decide: manual runs' data intervals, the trigger timetable, DAGs in a
// time zone, and `dags next-execution`'s list (NextScheduledRuns) against the runs Decide then
// really creates as time passes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "scheduler/decide.h"

namespace sp::scheduler {
namespace {

Time T(const char* text) {
  std::optional<Time> t = dag::ParseDateTime(text);
  EXPECT_TRUE(t.has_value()) << text;
  return t.value_or(Time());
}

std::shared_ptr<dag::Dag> CronDag(const std::string& schedule, const char* start,
                                  const dag::TimeZone& zone = dag::TimeZone()) {
  auto d = std::make_shared<dag::Dag>();
  d->id = "d";
  d->timezone = zone;
  d->schedule = *dag::Schedule::Parse(schedule, zone);
  d->start_date = T(start);
  d->max_active_runs = 1000;
  dag::TaskSpec t;
  t.id = "a";
  t.type = "bash";
  t.fields = {{"command", "true"}};
  d->tasks.push_back(t);
  d->Link();
  return d;
}

// Decide + FoldPlan with a clock the test moves.
struct Loop {
  Snapshot snap;
  RunKeySource keys{0};
  Time now;
  std::vector<store::DagRun> created;

  Loop(std::shared_ptr<dag::Dag> d, Time start) : now(start) {
    DagEntry e;
    e.dag = d;
    e.record.dag_id = d->id;
    snap.dags[d->id] = e;
  }
  Plan Step(const Event& e) {
    Plan p = Decide(snap, e, now, keys);
    EXPECT_TRUE(p.refused.ok()) << p.refused;
    for (const auto& r : p.runs) {
      if (std::find(p.created_runs.begin(), p.created_runs.end(), r.id) != p.created_runs.end()) {
        created.push_back(r);
      }
    }
    FoldPlan(p, &snap);
    return p;
  }
  // Ticks at every wakeup the plans ask for until `until`.
  void RunUntil(Time until) {
    for (int guard = 0; guard < 1000; ++guard) {
      Plan p = Step(Tick{});
      if (!p.next_wakeup || *p.next_wakeup > until) return;
      now = std::max(now, *p.next_wakeup);
    }
  }
};

// Issue 12: Airflow infers the interval that ends at the logical date's latest fire time.
TEST(ScheduleDecideTest, Issue12ManualRunOfACronDagGetsTheInferredInterval) {
  auto d = CronDag("@daily", "2026-01-01");
  Loop loop(d, T("2026-01-04T12:00:00Z"));
  loop.snap.create_scheduled_runs = false;
  Plan p = loop.Step(TriggerRun{"d", {}, T("2026-01-04T12:00:00Z")});
  ASSERT_EQ(p.created_runs.size(), 1u);
  const store::DagRun& r = loop.created.back();
  EXPECT_EQ(FormatTime(r.logical_date), "2026-01-04T12:00:00Z");
  EXPECT_EQ(FormatTime(r.data_interval_start), "2026-01-03T00:00:00Z");
  EXPECT_EQ(FormatTime(r.data_interval_end), "2026-01-04T00:00:00Z");
}

TEST(ScheduleDecideTest, TriggerTimetableRunsAtTheFireTimeWithItsLogicalDate) {
  auto d = CronDag("0 6 * * *", "2026-01-01");
  d->timetable = dag::TimetableKind::kCronTrigger;
  Loop loop(d, T("2026-01-05T12:00:00Z"));
  Plan p = loop.Step(Tick{});
  // No catchup: only the latest fire, and the run is for that instant, not the day before.
  ASSERT_EQ(p.created_runs.size(), 1u);
  EXPECT_EQ(loop.created[0].run_id, "scheduled__2026-01-05T06:00:00+00:00");
  EXPECT_EQ(loop.created[0].data_interval_start, loop.created[0].data_interval_end);
  ASSERT_TRUE(p.next_wakeup);
  EXPECT_EQ(FormatTime(*p.next_wakeup), "2026-01-06T06:00:00Z");
}

TEST(ScheduleDecideTest, ADagInBerlinRunsAtLocalMidnightAcrossTheSpringChange) {
  auto d = CronDag("@daily", "2026-03-26T23:00:00Z", *dag::TimeZone::Find("Europe/Berlin"));
  d->catchup = true;
  Loop loop(d, T("2026-03-31T00:00:00Z"));
  loop.Step(Tick{});
  std::vector<std::string> got;
  for (const auto& r : loop.created) {
    got.push_back(FormatTime(r.data_interval_start) + "/" + FormatTime(r.data_interval_end));
  }
  EXPECT_THAT(got, ::testing::ElementsAre("2026-03-26T23:00:00Z/2026-03-27T23:00:00Z",
                                          "2026-03-27T23:00:00Z/2026-03-28T23:00:00Z",
                                          // 29 March has 23 hours in Berlin.
                                          "2026-03-28T23:00:00Z/2026-03-29T22:00:00Z",
                                          "2026-03-29T22:00:00Z/2026-03-30T22:00:00Z"));
}

// Issue 12: next-execution printed the first interval after start_date even without catchup,
// and runs past end_date. It now lists what the scheduler then creates, in order.
TEST(ScheduleDecideTest, Issue12NextExecutionListsExactlyTheRunsDecideCreates) {
  struct Case {
    const char* schedule;
    dag::TimetableKind timetable;
    bool catchup;
    const char* end_date;  // "" = none
  };
  const Case cases[] = {
      {"@daily", dag::TimetableKind::kCronDataInterval, false, ""},
      {"@daily", dag::TimetableKind::kCronDataInterval, true, "2026-01-04T00:00:00Z"},
      {"0 6 * * 1-5", dag::TimetableKind::kCronDataInterval, false, "2026-01-20T00:00:00Z"},
      {"0 6 * * *", dag::TimetableKind::kCronTrigger, false, ""},
      {"0 6 * * *", dag::TimetableKind::kCronTrigger, true, "2026-01-05T06:00:00Z"},
      {"@once", dag::TimetableKind::kCronDataInterval, false, ""},
  };
  for (const Case& c : cases) {
    auto d = CronDag(c.schedule, "2026-01-01");
    d->timetable = c.timetable;
    d->catchup = c.catchup;
    if (*c.end_date) d->end_date = T(c.end_date);
    const Time start = T("2026-01-10T12:00:00Z");
    std::vector<dag::ScheduledRun> predicted = NextScheduledRuns(*d, std::nullopt, start, 8);
    Loop loop(d, start);
    loop.RunUntil(T("2026-03-01T00:00:00Z"));
    std::vector<std::string> want, got;
    for (const auto& r : predicted) {
      want.push_back(FormatTime(r.logical_date) + " " + FormatTime(r.interval.start) + "/" +
                     FormatTime(r.interval.end));
    }
    for (size_t i = 0; i < loop.created.size() && i < predicted.size(); ++i) {
      const store::DagRun& r = loop.created[i];
      got.push_back(FormatTime(r.logical_date) + " " + FormatTime(r.data_interval_start) + "/" +
                    FormatTime(r.data_interval_end));
    }
    EXPECT_EQ(got, want) << c.schedule << " catchup=" << c.catchup << " end=" << c.end_date;
    if (predicted.size() < 8) {
      EXPECT_EQ(loop.created.size(), predicted.size()) << c.schedule;
    }
  }
  // Without catchup the first listed run is the latest complete interval, not start_date's.
  auto d = CronDag("@daily", "2026-01-01");
  auto next = NextScheduledRuns(*d, std::nullopt, T("2026-01-10T12:00:00Z"), 2);
  ASSERT_EQ(next.size(), 2u);
  EXPECT_EQ(FormatTime(next[0].logical_date), "2026-01-09T00:00:00Z");
  EXPECT_EQ(FormatTime(next[1].logical_date), "2026-01-10T00:00:00Z");
  // With runs already made, after the last one.
  d->catchup = true;
  next = NextScheduledRuns(*d, T("2026-01-07T00:00:00Z"), T("2026-01-10T12:00:00Z"), 1);
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(FormatTime(next[0].logical_date), "2026-01-08T00:00:00Z");
}

}  // namespace
}  // namespace sp::scheduler
