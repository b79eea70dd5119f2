// Time zones, the cron day rule, timetables and manual data intervals against tables whose
// expected values come from Airflow's own rules (tests/data/cron/*.txt: croniter + pendulum run
// through Airflow 3's timetable code), plus the DAG fields that select them.
#include "dag/timetable.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "dag/fake_task_types.h"
#include "dag/internal/civil_time.h"
#include "dag/loader.h"
#include "dag/timezone.h"

namespace sp::dag {
namespace {

using ::testing::HasSubstr;

Time T(const std::string& text) {
  std::optional<Time> t = internal::ParseDateTime(text);
  EXPECT_TRUE(t.has_value()) << text;
  return t.value_or(Time());
}

std::optional<Time> OptT(const std::string& text) {
  if (text == "-") return std::nullopt;
  return T(text);
}

std::string Trimmed(std::string s) {
  const size_t b = s.find_first_not_of(' ');
  const size_t e = s.find_last_not_of(' ');
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

std::vector<std::string> SplitOn(const std::string& s, const std::string& sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t end = s.find(sep, start);
    out.push_back(Trimmed(s.substr(start, end == std::string::npos ? end : end - start)));
    if (end == std::string::npos) break;
    start = end + sep.size();
  }
  return out;
}

// A case line of a table file: "<fields separated by |> -> <expected>", the location for
// messages. Comments (#) and blank lines are skipped; a trailing "# ..." is dropped.
struct CaseLine {
  std::string where;
  std::vector<std::string> fields;
  std::string want;
};

std::vector<CaseLine> ReadCases(const std::string& name) {
  std::vector<CaseLine> out;
  const std::string path = std::string(SP_SOURCE_DIR) + "/tests/data/cron/" + name;
  std::ifstream in(path);
  EXPECT_TRUE(in) << "missing " << path;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.empty() || line[0] == '#') continue;
    if (size_t hash = line.find("  #"); hash != std::string::npos) line.resize(hash);
    const size_t arrow = line.find(" -> ");
    EXPECT_NE(arrow, std::string::npos) << name << ":" << n;
    if (arrow == std::string::npos) continue;
    out.push_back({name + ":" + std::to_string(n), SplitOn(line.substr(0, arrow), "|"),
                   Trimmed(line.substr(arrow + 4))});
  }
  EXPECT_FALSE(out.empty()) << name;
  return out;
}

TimeZone Zone(const std::string& name) {
  Result<TimeZone> z = TimeZone::Find(name);
  EXPECT_TRUE(z.ok()) << name << ": " << z.status();
  return z.ok() ? *z : TimeZone();
}

Schedule S(const std::string& text, const TimeZone& zone = TimeZone()) {
  Result<Schedule> s = Schedule::Parse(text, zone);
  EXPECT_TRUE(s.ok()) << text << ": " << s.status();
  return s.ok() ? *s : *Schedule::Parse("@once");
}

std::string Show(std::optional<Time> t) {
  return t ? FormatTime(*t) : "none";
}

// Issue 12: both day fields restricted fire on either day, as croniter does ("0 16 */2 * sat"
// after 2023-05-02 is 05-03, 05-05, 05-06, 05-07); before, "*/2" counted as unrestricted and
// the two were intersected.
TEST(CronDayRuleTest, Issue12UnionOfDayFieldsAsCroniter) {
  for (const CaseLine& c : ReadCases("day_rule.txt")) {
    ASSERT_EQ(c.fields.size(), 2u) << c.where;
    Schedule s = S(c.fields[0]);
    std::string got;
    Time t = T(c.fields[1]);
    for (int i = 0; i < 5; ++i) {
      std::optional<Time> next = s.Next(t);
      got += (i ? " " : "") + Show(next);
      if (!next) break;
      t = *next;
    }
    EXPECT_EQ(got, c.want) << c.where << ": " << c.fields[0];
  }
}

TEST(CronTimeZoneTest, DaylightSavingChangesAsAirflow) {
  for (const CaseLine& c : ReadCases("time_zones.txt")) {
    ASSERT_EQ(c.fields.size(), 4u) << c.where;
    Schedule s = S(c.fields[1], Zone(c.fields[0]));
    const Time t = T(c.fields[3]);
    std::optional<Time> got = c.fields[2] == "next" ? s.Next(t) : s.Prev(t);
    EXPECT_EQ(Show(got), c.want) << c.where << ": " << c.fields[0] << " '" << c.fields[1] << "' "
                                 << c.fields[2] << " " << c.fields[3];
  }
}

// A DAG with the schedule fields of a timetables.txt line.
Dag TimetableDag(const CaseLine& c) {
  std::vector<std::string> kind = SplitOn(c.fields[0], " ");
  Dag d;
  d.id = "t";
  d.timezone = Zone(c.fields[2]);
  d.schedule = S(c.fields[1], d.timezone);
  std::optional<TimetableKind> k = ParseTimetableKind(kind[0]);
  EXPECT_TRUE(k) << c.where;
  d.timetable = k.value_or(TimetableKind::kCronDataInterval);
  if (kind.size() > 1 && kind[1] != "0") d.trigger_interval = *ParseDuration(kind[1]);
  return d;
}

TEST(TimetableTest, NextScheduledRunAsAirflow) {
  for (const CaseLine& c : ReadCases("timetables.txt")) {
    ASSERT_EQ(c.fields.size(), 8u) << c.where;
    Dag d = TimetableDag(c);
    d.catchup = c.fields[3] == "true";
    d.start_date = OptT(c.fields[4]);
    d.end_date = OptT(c.fields[5]);
    std::optional<ScheduledRun> r = NextScheduledRun(d, OptT(c.fields[6]), T(c.fields[7]));
    const std::string got = r ? FormatTime(r->logical_date) + " " + FormatTime(r->interval.start) +
                                    " " + FormatTime(r->interval.end) + " " +
                                    FormatTime(r->run_after)
                              : "none";
    EXPECT_EQ(got, c.want) << c.where;
  }
}

// Issue 12: a manual run of a cron DAG gets the interval Airflow infers, not a zero-length one.
TEST(TimetableTest, Issue12ManualRunDataIntervalAsAirflow) {
  for (const CaseLine& c : ReadCases("manual_intervals.txt")) {
    ASSERT_EQ(c.fields.size(), 4u) << c.where;
    Dag d = TimetableDag(c);
    DataInterval iv = ManualDataInterval(d, T(c.fields[3]));
    EXPECT_EQ(FormatTime(iv.start) + " " + FormatTime(iv.end), c.want) << c.where;
  }
  Dag manual;
  EXPECT_EQ(ManualDataInterval(manual, T("2026-01-04T12:00:00Z")),
            (DataInterval{T("2026-01-04T12:00:00Z"), T("2026-01-04T12:00:00Z")}));
}

TEST(TimetableTest, OnceRunsOnceAtStartDateUnlessPastEndDate) {
  Dag d;
  d.schedule = S("@once");
  d.start_date = T("2026-01-02T00:00:00Z");
  EXPECT_EQ(NextScheduledRun(d, std::nullopt, T("2026-01-01T00:00:00Z")),
            (ScheduledRun{d.start_date.value(), {*d.start_date, *d.start_date}, *d.start_date}));
  EXPECT_EQ(NextScheduledRun(d, d.start_date, T("2026-01-03T00:00:00Z")), std::nullopt);
  d.end_date = T("2026-01-01T12:00:00Z");
  EXPECT_EQ(NextScheduledRun(d, std::nullopt, T("2026-01-01T00:00:00Z")), std::nullopt);
  Dag unscheduled;
  EXPECT_EQ(NextScheduledRun(unscheduled, std::nullopt, T("2026-01-01T00:00:00Z")), std::nullopt);
}

TEST(TimeZoneTest, FindsIanaNamesAndSuggestsTheNearest) {
  EXPECT_TRUE(TimeZone::Find("UTC")->is_utc());
  EXPECT_EQ(Zone("America/New_York").name(), "America/New_York");
  EXPECT_FALSE(Zone("Etc/UTC").is_utc());  // a real zone, with offset 0
  Result<TimeZone> typo = TimeZone::Find("Europe/Berln");
  ASSERT_FALSE(typo.ok());
  EXPECT_EQ(typo.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(typo.status().message(),
              HasSubstr("unknown time zone 'Europe/Berln'; did you mean 'Europe/Berlin'?"));
  EXPECT_THAT(TimeZone::Find("Mars/Olympus").status().message(),
              HasSubstr("expected an IANA name such as Europe/Berlin"));
  EXPECT_EQ(TimeZone::Find("").status().code(), StatusCode::kInvalidArgument);
}

// pendulum's convert with fold=1, as Airflow's make_aware uses it.
TEST(TimeZoneTest, GapsMoveForwardAndOverlapsTakeTheSecondOccurrence) {
  TimeZone berlin = Zone("Europe/Berlin");
  EXPECT_EQ(FormatTime(berlin.FromLocal(T("2023-03-26T02:30:00Z"))), "2023-03-26T01:30:00Z");
  EXPECT_EQ(FormatTime(berlin.FromLocal(T("2023-10-29T02:30:00Z"))), "2023-10-29T01:30:00Z");
  EXPECT_EQ(FormatTime(berlin.FromLocal(T("2023-07-01T12:00:00Z"))), "2023-07-01T10:00:00Z");
  EXPECT_EQ(FormatTime(berlin.ToLocal(T("2023-10-29T00:30:00Z"))), "2023-10-29T02:30:00Z");
  EXPECT_EQ(FormatTime(berlin.ToLocal(T("2023-10-29T01:30:00Z"))), "2023-10-29T02:30:00Z");
  EXPECT_EQ(berlin.AllFromLocal(T("2023-03-26T02:30:00Z")).count, 0);
  TimeZone::Instants twice = berlin.AllFromLocal(T("2023-10-29T02:30:00Z"));
  EXPECT_EQ(twice.count, 2);
  EXPECT_EQ(FormatTime(twice.first), "2023-10-29T00:30:00Z");
  TimeZone ny = Zone("America/New_York");
  EXPECT_EQ(FormatTime(ny.FromLocal(T("2023-03-12T02:30:00Z"))), "2023-03-12T07:30:00Z");
  EXPECT_EQ(FormatTime(ny.FromLocal(T("2023-11-05T01:30:00Z"))), "2023-11-05T06:30:00Z");
}

TEST(TimeZoneTest, DatesWithoutOffsetAreLocal) {
  TimeZone berlin = Zone("Europe/Berlin");
  EXPECT_EQ(Show(ParseDateTimeIn("2026-01-01", berlin)), "2025-12-31T23:00:00Z");
  EXPECT_EQ(Show(ParseDateTimeIn("2026-07-01T02:00", berlin)), "2026-07-01T00:00:00Z");
  EXPECT_EQ(Show(ParseDateTimeIn("2026-07-01T02:00:00Z", berlin)), "2026-07-01T02:00:00Z");
  EXPECT_EQ(Show(ParseDateTimeIn("2026-07-01T02:00:00-04:00", berlin)), "2026-07-01T06:00:00Z");
  EXPECT_EQ(Show(ParseDateTimeIn("2026-01-01", TimeZone())), "2026-01-01T00:00:00Z");
  EXPECT_EQ(ParseDateTimeIn("tomorrow", berlin), std::nullopt);
}

std::string Errors(const LoadedFile& f) {
  std::string out;
  for (const DagError& e : f.errors) out += e.ToString() + "\n";
  return out;
}

TEST(TimetableFieldsTest, LoaderReadsTimezoneAndTimetable) {
  LoadedFile f = LoadDagText(R"(id: berlin
schedule: "30 2 * * *"
start_date: 2026-03-28
end_date: 2026-12-31T23:00:00Z
timezone: Europe/Berlin
timetable:
  type: cron_trigger
  interval: 1h
tasks:
  - id: a
    type: bash
    command: echo
)",
                             "dags/berlin.yaml", fakes::FakeBashChecker());
  ASSERT_TRUE(f.dag) << Errors(f);
  const Dag& d = *f.dag;
  EXPECT_EQ(d.timezone.name(), "Europe/Berlin");
  EXPECT_EQ(d.schedule->time_zone(), d.timezone);
  EXPECT_EQ(d.timetable, TimetableKind::kCronTrigger);
  EXPECT_EQ(d.trigger_interval, Millis(3600 * 1000));
  EXPECT_EQ(Show(d.start_date), "2026-03-27T23:00:00Z");  // midnight in Berlin (CET)
  EXPECT_EQ(Show(d.end_date), "2026-12-31T23:00:00Z");    // an explicit offset stays
  // 2026-03-29 02:30 does not exist in Berlin: the fire moves to 03:30 CEST (01:30 UTC).
  std::optional<ScheduledRun> first = NextScheduledRun(d, std::nullopt, T("2026-03-27T00:00:00Z"));
  ASSERT_TRUE(first);
  EXPECT_EQ(FormatTime(first->run_after), "2026-03-28T01:30:00Z");
  std::optional<ScheduledRun> second = NextScheduledRun(d, first->logical_date, first->run_after);
  ASSERT_TRUE(second);
  EXPECT_EQ(FormatTime(second->run_after), "2026-03-29T01:30:00Z");
  EXPECT_EQ(FormatTime(second->logical_date), "2026-03-29T00:30:00Z");  // fire - interval

  LoadedFile plain = LoadDagText(R"(id: plain
schedule: "@daily"
start_date: 2026-01-01
timetable: cron_trigger
tasks:
  - id: a
    type: bash
    command: echo
)",
                                 "dags/plain.yaml", fakes::FakeBashChecker());
  ASSERT_TRUE(plain.dag) << Errors(plain);
  EXPECT_TRUE(plain.dag->timezone.is_utc());
  EXPECT_EQ(plain.dag->timetable, TimetableKind::kCronTrigger);
  EXPECT_EQ(plain.dag->trigger_interval, Millis(0));
}

}  // namespace
}  // namespace sp::dag
