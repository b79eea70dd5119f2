// Fuzzes cron schedules and the calendar walk: Schedule::Parse on the first line of the input,
// then Next / PrevOrEqual / IntervalStartingAtOrAfter from the time on the second line (parsed
// by the loader's date parser, which is fuzzed on the way), checking that the walk agrees with
// itself.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "dag/cron.h"
#include "dag/internal/civil_time.h"
#include "fuzz_util.h"

namespace {

using sp::Millis;
using sp::Time;

void CheckWalk(const sp::dag::Schedule& schedule, Time t) {
  const std::string where = "schedule '" + schedule.text() + "' at " + sp::FormatTime(t);
  if (std::optional<Time> next = schedule.Next(t)) {
    SP_FUZZ_CHECK(*next > t, where);
    SP_FUZZ_CHECK(sp::ToUnixMillis(*next) % 60000 == 0, where);
    // A fire time is its own previous fire time, and the first one after the millisecond
    // before it.
    SP_FUZZ_CHECK(schedule.PrevOrEqual(*next) == next, where);
    SP_FUZZ_CHECK(schedule.Next(*next - Millis(1)) == next, where);
    (void)sp::FormatTime(*next);
  }
  if (std::optional<Time> prev = schedule.PrevOrEqual(t)) {
    SP_FUZZ_CHECK(*prev <= t, where);
    SP_FUZZ_CHECK(schedule.Next(*prev - Millis(1)) == prev, where);
    (void)sp::FormatDate(*prev);
  }
  if (std::optional<sp::dag::DataInterval> interval = schedule.IntervalStartingAtOrAfter(t)) {
    SP_FUZZ_CHECK(interval->start >= t, where);
    SP_FUZZ_CHECK(interval->start < interval->end, where);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  size_t nl = input.find('\n');
  std::string text(input.substr(0, nl));
  std::string_view when = nl == std::string_view::npos ? std::string_view() : input.substr(nl + 1);

  // 2026-01-01T00:00:00Z unless the second line is a date the loader would accept, or '#' and
  // 8 raw bytes: any time at all (a corrupt store, a clock far off).
  Time t = sp::FromUnixMillis(1767225600000);
  if (std::optional<Time> parsed = sp::dag::internal::ParseDateTime(when)) {
    t = *parsed;
  } else if (when.size() == 1 + sizeof(int64_t) && when[0] == '#') {
    int64_t raw;
    std::memcpy(&raw, when.data() + 1, sizeof raw);
    t = sp::FromUnixMillis(raw);
  }

  sp::Result<sp::dag::Schedule> schedule = sp::dag::Schedule::Parse(text);
  if (!schedule.ok()) {
    SP_FUZZ_CHECK(!schedule.status().message().empty(), text);
    return 0;
  }
  if (schedule->is_once()) {
    SP_FUZZ_CHECK(!schedule->Next(t).has_value(), text);
    return 0;
  }
  CheckWalk(*schedule, t);
  return 0;
}
