// Cron schedules and durations: parsing, and walking the UTC calendar to the next/previous
// fire time. The walk skips whole months, days and hours that cannot match, so a search costs
// at most a few thousand steps even for a schedule that fires once every few years.
#include "dag/cron.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <string_view>
#include <vector>

#include "common/nearest_name.h"
#include "dag/internal/civil_time.h"
#include "dag/loader.h"

namespace sp::dag {
namespace {

constexpr size_t npos = std::string_view::npos;
using internal::CivilFromDays;
using internal::DaysFromCivil;
using internal::DaysInMonth;
using internal::FloorDiv;
using internal::kMillisPerDay;
using internal::kMillisPerHour;
using internal::kMillisPerMinute;
using internal::WeekdayFromDays;

// Every date pattern repeats after 400 Gregorian years, so a search that finds nothing within
// that span never will.
constexpr int64_t kSearchYears = 400;

// The calendar walk's domain: times within 2^62 ms (about 146 million years) of 1970, where its
// millisecond arithmetic, 400 years of search included, cannot overflow. Next, PrevOrEqual and
// IntervalStartingAtOrAfter answer nullopt outside it (only a corrupt time gets there), and
// their answers stay inside it, so that they can be asked again about what they answered.
constexpr int64_t kMaxWalkMillis = int64_t{1} << 62;

bool InWalkDomain(Time t) {
  const int64_t ms = ToUnixMillis(t);
  return ms >= -kMaxWalkMillis && ms <= kMaxWalkMillis;
}

// Time zone rules are asked only about years 1-9999 (the years DAG files can write), far
// inside what the zone database's calendar arithmetic handles.
bool InZoneDomain(Time t) {
  constexpr int64_t kYear1 = -62135596800000;      // 0001-01-01T00:00:00Z
  constexpr int64_t kYear10000 = 253402300800000;  // 10000-01-01T00:00:00Z
  const int64_t ms = ToUnixMillis(t);
  return ms >= kYear1 && ms < kYear10000;
}

struct FieldSpec {
  const char* name;
  int min;
  int max;
  const char* const* names;  // optional names for min..min+n-1 (months, days)
  int name_count;
};

constexpr const char* kMonthNames[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                       "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
constexpr const char* kDayNames[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};

// Day-of-week accepts 7 as Sunday; it is folded onto 0 after parsing.
constexpr FieldSpec kFields[5] = {
    {"minute", 0, 59, nullptr, 0},       {"hour", 0, 23, nullptr, 0},
    {"day-of-month", 1, 31, nullptr, 0}, {"month", 1, 12, kMonthNames, 12},
    {"day-of-week", 0, 7, kDayNames, 7},
};

struct Preset {
  const char* name;
  const char* expression;  // nullptr for @once
};
constexpr Preset kPresets[] = {
    {"@hourly", "0 * * * *"},  {"@daily", "0 0 * * *"},  {"@weekly", "0 0 * * 0"},
    {"@monthly", "0 0 1 * *"}, {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"},
    {"@once", nullptr},
};

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t end = s.find(sep, start);
    out.push_back(s.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return out;
}

class FieldParser {
 public:
  FieldParser(int index, const std::string& text)
      : index_(index), spec_(kFields[index]), text_(text) {}

  // Sets bits min..max of `bits` (indexes are the values themselves).
  Status Parse(std::string_view field, std::vector<bool>* bits) const {
    for (std::string_view item : Split(field, ',')) {
      RETURN_IF_ERROR(ParseItem(item, bits));
    }
    return OkStatus();
  }

 private:
  Status Error(const std::string& what) const {
    return InvalidArgumentError("cron field " + std::to_string(index_ + 1) + " (" + spec_.name +
                                "): " + what + " in schedule '" + text_ + "'");
  }

  Result<int> ParseValue(std::string_view s) const {
    if (s.empty()) return Error("missing value");
    int v = 0;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec == std::errc() && ptr == s.data() + s.size()) {
      if (v < spec_.min || v > spec_.max) {
        return Error(std::string(s) + " is out of range " + std::to_string(spec_.min) + "-" +
                     std::to_string(spec_.max));
      }
      return v;
    }
    for (int i = 0; i < spec_.name_count; ++i) {
      std::string_view name = spec_.names[i];
      if (s.size() == name.size() &&
          std::equal(s.begin(), s.end(), name.begin(), [](char a, char b) {
            return std::toupper(static_cast<unsigned char>(a)) == b;
          })) {
        return spec_.min + i;
      }
    }
    std::string expected =
        "a number " + std::to_string(spec_.min) + "-" + std::to_string(spec_.max);
    if (spec_.name_count > 0) {
      expected +=
          " or a name " + std::string(spec_.names[0]) + "-" + spec_.names[spec_.name_count - 1];
    }
    return Error("'" + std::string(s) + "' is not " + expected);
  }

  Status ParseItem(std::string_view item, std::vector<bool>* bits) const {
    if (item.empty()) return Error("empty list item");
    int step = 1;
    std::string_view range = item;
    if (size_t slash = item.find('/'); slash != std::string_view::npos) {
      std::string_view step_text = item.substr(slash + 1);
      range = item.substr(0, slash);
      auto [ptr, ec] = std::from_chars(step_text.data(), step_text.data() + step_text.size(), step);
      if (ec != std::errc() || ptr != step_text.data() + step_text.size() || step_text.empty()) {
        return Error("step '" + std::string(step_text) + "' is not a number");
      }
      if (step <= 0) return Error("step must be at least 1, got " + std::string(step_text));
    }
    int lo = spec_.min, hi = spec_.max;
    if (range == "*") {
      if (index_ == 4) hi = 6;  // "*" in day-of-week must not count Sunday twice
    } else if (size_t dash = range.find('-'); dash != std::string_view::npos) {
      ASSIGN_OR_RETURN(lo, ParseValue(range.substr(0, dash)));
      ASSIGN_OR_RETURN(hi, ParseValue(range.substr(dash + 1)));
      if (lo > hi) {
        return Error("range " + std::string(range) + " is backwards (start is after end)");
      }
    } else {
      ASSIGN_OR_RETURN(lo, ParseValue(range));
      // "5/15" means every 15th value from 5 (as in most crons); a bare value is itself.
      hi = item.find('/') != std::string_view::npos ? spec_.max : lo;
    }
    // Steps may be as large as an int: stop before `v + step` could overflow.
    for (int v = lo;; v += step) {
      (*bits)[v] = true;
      if (hi - v < step) break;
    }
    return OkStatus();
  }

  int index_;
  const FieldSpec& spec_;
  const std::string& text_;
};

}  // namespace

Result<Schedule> Schedule::Parse(const std::string& text, const TimeZone& zone) {
  Schedule s;
  s.text_ = text;
  s.zone_ = zone;
  std::string_view body = Trim(text);
  if (body.empty()) {
    return InvalidArgumentError(
        "empty schedule; expected a cron expression such as '0 2 * * *' or a preset such as "
        "@daily");
  }
  std::string expression(body);
  if (body.front() == '@') {
    const Preset* preset = nullptr;
    std::vector<std::string> names;
    for (const Preset& p : kPresets) {
      names.push_back(p.name);
      if (body == p.name) preset = &p;
    }
    if (preset == nullptr) {
      std::string msg = "unknown schedule preset '" + std::string(body) + "'";
      std::string near = NearestName(std::string(body), names);
      if (!near.empty()) msg += "; did you mean '" + near + "'?";
      msg += " (presets: @hourly, @daily, @weekly, @monthly, @yearly, @annually, @once)";
      return InvalidArgumentError(msg);
    }
    if (preset->expression == nullptr) {
      s.once_ = true;
      return s;
    }
    expression = preset->expression;
  }

  std::vector<std::string_view> fields;
  {
    std::string_view rest = expression;
    while (true) {
      rest = Trim(rest);
      if (rest.empty()) break;
      size_t end = 0;
      while (end < rest.size() && !std::isspace(static_cast<unsigned char>(rest[end]))) ++end;
      fields.push_back(rest.substr(0, end));
      rest.remove_prefix(end);
    }
  }
  if (fields.size() != 5) {
    return InvalidArgumentError("schedule '" + text + "' has " + std::to_string(fields.size()) +
                                " field" + (fields.size() == 1 ? "" : "s") +
                                "; expected 5 (minute hour day-of-month month day-of-week) or "
                                "a preset such as @daily");
  }

  std::vector<bool> bits[5];
  for (int i = 0; i < 5; ++i) {
    bits[i].assign(kFields[i].max + 1, false);
    RETURN_IF_ERROR(FieldParser(i, text).Parse(fields[i], &bits[i]));
  }
  for (int v = 0; v < 60; ++v) s.minutes_[v] = bits[0][v];
  for (int v = 0; v < 24; ++v) s.hours_[v] = bits[1][v];
  for (int v = 1; v <= 31; ++v) s.days_of_month_[v] = bits[2][v];
  for (int v = 1; v <= 12; ++v) s.months_[v] = bits[3][v];
  for (int v = 0; v < 7; ++v) s.days_of_week_[v] = bits[4][v];
  if (bits[4][7]) s.days_of_week_[0] = true;
  // croniter's rule (what Airflow uses), not Vixie's "starts with '*'": a day field is
  // unrestricted when it is `*`, or when it covers every value and the other day field has a
  // `*` somewhere (croniter folds such a field to `*`). So "*/2" next to "sat" is restricted
  // and the two are joined: odd days and Saturdays.
  const bool dom_full = s.days_of_month_.count() == 31;
  const bool dow_full = s.days_of_week_.count() == 7;
  const bool dom_star = fields[2] == "*" || (dom_full && fields[4].find('*') != npos);
  const bool dow_star = fields[4] == "*" || (dow_full && fields[2].find('*') != npos);
  s.dom_restricted_ = !dom_star;
  s.dow_restricted_ = !dow_star;
  s.every_hour_ = s.hours_.all();
  return s;
}

namespace {

// Shared by Next and PrevOrEqual: does the day `days` (since epoch) in `month` match?
bool DayMatches(const std::bitset<32>& dom, const std::bitset<7>& dow, bool dom_restricted,
                bool dow_restricted, int day, int64_t days) {
  const bool dom_ok = dom[day];
  const bool dow_ok = dow[WeekdayFromDays(days)];
  if (dom_restricted && dow_restricted) return dom_ok || dow_ok;
  return dom_ok && dow_ok;
}

// False when no month of the schedule has any of its days of the month ("0 0 31 2 *"), unless
// the day-of-week alone can match (Vixie's OR rule). Saves a 400-year walk per call.
bool CanEverMatch(const std::bitset<13>& months, const std::bitset<32>& dom, bool dom_restricted,
                  bool dow_restricted) {
  if (dom_restricted && dow_restricted) return true;
  for (int m = 1; m <= 12; ++m) {
    if (!months[m]) continue;
    const int longest = m == 2 ? 29 : DaysInMonth(2001, m);
    for (int d = 1; d <= longest; ++d) {
      if (dom[d]) return true;
    }
  }
  return false;
}

}  // namespace

bool Schedule::Matches(Time local) const {
  if (once_) return false;
  const int64_t ms = ToUnixMillis(local);
  if (ms % kMillisPerMinute != 0) return false;
  const int64_t days = FloorDiv(ms, kMillisPerDay);
  const int64_t in_day = ms - days * kMillisPerDay;
  const internal::CivilDate date = CivilFromDays(days);
  return months_[date.month] && hours_[in_day / kMillisPerHour] &&
         minutes_[(in_day % kMillisPerHour) / kMillisPerMinute] &&
         DayMatches(days_of_month_, days_of_week_, dom_restricted_, dow_restricted_, date.day,
                    days);
}

std::optional<Time> Schedule::NextWall(Time t) const {
  if (once_ || !InWalkDomain(t) ||
      !CanEverMatch(months_, days_of_month_, dom_restricted_, dow_restricted_)) {
    return std::nullopt;
  }
  // Start at the first whole minute strictly after t.
  const int64_t start = (FloorDiv(ToUnixMillis(t), kMillisPerMinute) + 1) * kMillisPerMinute;
  int64_t days = FloorDiv(start, kMillisPerDay);
  const int64_t in_day = start - days * kMillisPerDay;
  int hour = static_cast<int>(in_day / kMillisPerHour);
  int minute = static_cast<int>((in_day % kMillisPerHour) / kMillisPerMinute);
  internal::CivilDate date = CivilFromDays(days);
  const int64_t last_year = date.year + kSearchYears;

  while (date.year <= last_year) {
    if (!months_[date.month]) {
      // Skip to the first day of the next month.
      days += DaysInMonth(date.year, date.month) - date.day + 1;
      date = {date.month == 12 ? date.year + 1 : date.year, date.month == 12 ? 1 : date.month + 1,
              1};
      hour = minute = 0;
      continue;
    }
    if (!DayMatches(days_of_month_, days_of_week_, dom_restricted_, dow_restricted_, date.day,
                    days)) {
      ++days;
      date = CivilFromDays(days);
      hour = minute = 0;
      continue;
    }
    while (hour < 24 && !hours_[hour]) {
      ++hour;
      minute = 0;
    }
    while (hour < 24) {
      while (minute < 60 && !minutes_[minute]) ++minute;
      if (minute < 60) {
        const int64_t ms = days * kMillisPerDay + hour * kMillisPerHour + minute * kMillisPerMinute;
        if (ms > kMaxWalkMillis) return std::nullopt;  // PrevOrEqual(ms) must be answered
        return Time(Millis(ms));
      }
      minute = 0;
      do {
        ++hour;
      } while (hour < 24 && !hours_[hour]);
    }
    ++days;
    date = CivilFromDays(days);
    hour = minute = 0;
  }
  return std::nullopt;
}

std::optional<Time> Schedule::PrevOrEqualWall(Time t) const {
  if (once_ || !InWalkDomain(t) ||
      !CanEverMatch(months_, days_of_month_, dom_restricted_, dow_restricted_)) {
    return std::nullopt;
  }
  const int64_t start = FloorDiv(ToUnixMillis(t), kMillisPerMinute) * kMillisPerMinute;
  int64_t days = FloorDiv(start, kMillisPerDay);
  const int64_t in_day = start - days * kMillisPerDay;
  int hour = static_cast<int>(in_day / kMillisPerHour);
  int minute = static_cast<int>((in_day % kMillisPerHour) / kMillisPerMinute);
  internal::CivilDate date = CivilFromDays(days);
  const int64_t first_year = date.year - kSearchYears;

  while (date.year >= first_year) {
    if (!months_[date.month]) {
      // Skip to the last day of the previous month.
      days -= date.day;
      date = CivilFromDays(days);
      hour = 23;
      minute = 59;
      continue;
    }
    if (!DayMatches(days_of_month_, days_of_week_, dom_restricted_, dow_restricted_, date.day,
                    days)) {
      --days;
      date = CivilFromDays(days);
      hour = 23;
      minute = 59;
      continue;
    }
    while (hour >= 0 && !hours_[hour]) {
      --hour;
      minute = 59;
    }
    while (hour >= 0) {
      while (minute >= 0 && !minutes_[minute]) --minute;
      if (minute >= 0) {
        const int64_t ms = days * kMillisPerDay + hour * kMillisPerHour + minute * kMillisPerMinute;
        if (ms <= -kMaxWalkMillis) return std::nullopt;  // Next(ms - 1) must be answered
        return Time(Millis(ms));
      }
      minute = 59;
      do {
        --hour;
      } while (hour >= 0 && !hours_[hour]);
    }
    --days;
    date = CivilFromDays(days);
    hour = 23;
    minute = 59;
  }
  return std::nullopt;
}

std::optional<Time> Schedule::Next(Time t) const {
  if (once_ || !InWalkDomain(t)) return std::nullopt;
  if (zone_.is_utc()) return NextWall(t);
  if (!InZoneDomain(t)) return std::nullopt;
  const Time local = zone_.ToLocal(t);
  const std::optional<Time> wall = NextWall(local);
  if (!wall) return std::nullopt;
  if (!every_hour_) return zone_.FromLocal(*wall);
  // Airflow moves an every-hour schedule by the wall time difference in real time, so that it
  // fires in a repeated hour too. Kept while it lands on the wall time, or on an earlier wall
  // time that fires (the repeated hour); otherwise (a gap, or a change crossed on a longer move)
  // the wall time itself, at its first occurrence after `t`.
  const Time moved = t + (*wall - local);
  const Time moved_local = zone_.ToLocal(moved);
  if (moved_local == *wall || (moved_local < *wall && Matches(moved_local))) return moved;
  const TimeZone::Instants at = zone_.AllFromLocal(*wall);
  if (at.count == 0) return zone_.FromLocal(*wall);
  return at.first > t ? at.first : at.second;
}

std::optional<Time> Schedule::Prev(Time t) const {
  if (once_ || !InWalkDomain(t)) return std::nullopt;
  // Fire times are whole minutes, so "at or before t - 1ms" is "strictly before t".
  if (zone_.is_utc()) return PrevOrEqualWall(t - Millis(1));
  if (!InZoneDomain(t)) return std::nullopt;
  const Time local = zone_.ToLocal(t);
  const std::optional<Time> wall = PrevOrEqualWall(local - Millis(1));
  if (!wall) return std::nullopt;
  if (!every_hour_) return zone_.FromLocal(*wall);
  const Time moved = t - (local - *wall);
  const Time moved_local = zone_.ToLocal(moved);
  if (moved_local == *wall || (moved_local > *wall && Matches(moved_local))) return moved;
  const TimeZone::Instants at = zone_.AllFromLocal(*wall);
  if (at.count == 0) return zone_.FromLocal(*wall);
  return at.count == 2 && at.second < t ? at.second : at.first;
}

std::optional<Time> Schedule::PrevOrEqual(Time t) const {
  // In UTC the wall walk answers directly, also at the walk domain's edge, where a fire may have
  // no earlier one for Prev to find.
  if (zone_.is_utc()) return PrevOrEqualWall(t);
  std::optional<Time> prev = Prev(t);
  if (!prev) return std::nullopt;
  return Next(*prev) == t ? t : *prev;
}

std::optional<Time> Schedule::NextOrEqual(Time t) const {
  std::optional<Time> next = Next(t);
  if (!next) return std::nullopt;
  return Prev(*next) == t ? t : *next;
}

std::optional<DataInterval> Schedule::IntervalStartingAtOrAfter(Time after_or_at) const {
  if (once_ || !InWalkDomain(after_or_at)) return std::nullopt;
  std::optional<Time> start = NextOrEqual(after_or_at);
  if (!start) return std::nullopt;
  std::optional<Time> end = Next(*start);
  if (!end) return std::nullopt;
  return DataInterval{*start, *end};
}

Result<Millis> ParseDuration(const std::string& text) {
  std::string_view s = Trim(text);
  auto invalid = [&](const std::string& why) {
    return InvalidArgumentError("invalid duration '" + text + "': " + why +
                                "; expected a number with a unit (ms, s, m, h, d) such as 30s, "
                                "5m, 1h30m, or a plain number of seconds");
  };
  if (s.empty()) return invalid("it is empty");
  if (s.front() == '-') return invalid("durations cannot be negative");
  if (s.front() == '+') s.remove_prefix(1);

  constexpr int64_t kMax = int64_t{1} << 62;
  int64_t total = 0;
  bool plain_number = true;
  while (!s.empty()) {
    size_t digits = 0;
    while (digits < s.size() && std::isdigit(static_cast<unsigned char>(s[digits]))) ++digits;
    if (digits == 0) {
      return invalid("expected a number at '" + std::string(s) + "'");
    }
    int64_t value = 0;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + digits, value);
    if (ec != std::errc() || value > kMax) return invalid("the number is too large");
    s.remove_prefix(digits);
    size_t unit_len = 0;
    while (unit_len < s.size() && std::isalpha(static_cast<unsigned char>(s[unit_len]))) ++unit_len;
    std::string_view unit = s.substr(0, unit_len);
    s.remove_prefix(unit_len);
    int64_t scale;
    if (unit.empty()) {
      if (!plain_number || !s.empty()) {
        return invalid(s.empty() ? "the last number has no unit"
                                 : "unexpected '" + std::string(s) + "'");
      }
      scale = 1000;  // a plain integer is seconds
    } else if (unit == "ms") {
      scale = 1;
    } else if (unit == "s") {
      scale = 1000;
    } else if (unit == "m") {
      scale = kMillisPerMinute;
    } else if (unit == "h") {
      scale = kMillisPerHour;
    } else if (unit == "d") {
      scale = kMillisPerDay;
    } else {
      return invalid("unknown unit '" + std::string(unit) + "'");
    }
    plain_number = false;
    if (value > (kMax - total) / scale) return invalid("the duration is too large");
    total += value * scale;
  }
  return Millis(total);
}

std::optional<Time> ParseDateTime(std::string_view text) {
  return internal::ParseDateTime(text);
}

std::string FormatDuration(Millis d) {
  const int64_t signed_ms = d.count();
  if (signed_ms == 0) return "0s";
  std::string out = signed_ms < 0 ? "-" : "";
  // The magnitude in unsigned arithmetic: negating the most negative int64 overflows.
  uint64_t ms = static_cast<uint64_t>(signed_ms);
  if (signed_ms < 0) ms = 0 - ms;
  constexpr std::pair<uint64_t, const char*> kUnits[] = {
      {kMillisPerDay, "d"}, {kMillisPerHour, "h"}, {kMillisPerMinute, "m"}, {1000, "s"}, {1, "ms"}};
  for (const auto& [scale, unit] : kUnits) {
    if (ms >= scale) {
      out += std::to_string(ms / scale) + unit;
      ms %= scale;
    }
  }
  return out;
}

}  // namespace sp::dag
