// Time zones over date/tz (USE_OS_TZDB: the system's compiled tzdata); see timezone.h.
#include "dag/timezone.h"

#include <date/tz.h>

#include <exception>
#include <vector>

#include "common/nearest_name.h"
#include "dag/internal/civil_time.h"
#include "dag/loader.h"

namespace sp::dag {
namespace {

using LocalMillis = date::local_time<Millis>;
using SysMillis = date::sys_time<Millis>;

LocalMillis AsLocal(Time t) {
  return LocalMillis(t.time_since_epoch());
}

// The database's zone names, for "did you mean"; read once. (With the system's tzdata every
// link, such as US/Eastern, is a zone file of its own.)
const std::vector<std::string>& ZoneNames() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const date::time_zone& z : date::get_tzdb().zones) out.emplace_back(z.name());
    return out;
  }();
  return names;
}

}  // namespace

Result<TimeZone> TimeZone::Find(std::string_view name) {
  TimeZone tz;
  if (name == "UTC") return tz;
  if (name.empty()) {
    return InvalidArgumentError("empty time zone; expected an IANA name such as Europe/Berlin");
  }
  // date/tz reports a missing database and an unknown name with exceptions: this is their
  // boundary.
  try {
    tz.zone_ = date::locate_zone(name);
  } catch (const std::exception& e) {
    std::vector<std::string> names;
    try {
      names = ZoneNames();
    } catch (const std::exception& db_error) {
      return FailedPreconditionError(std::string("no time zone database (install tzdata): ") +
                                     db_error.what());
    }
    std::string msg = "unknown time zone '" + std::string(name) + "'";
    std::string near = NearestName(std::string(name), names);
    if (!near.empty()) msg += "; did you mean '" + near + "'?";
    msg += " (expected an IANA name such as Europe/Berlin or America/New_York)";
    return NotFoundError(msg);
  }
  tz.name_ = std::string(name);
  return tz;
}

Time TimeZone::ToLocal(Time t) const {
  if (zone_ == nullptr) return t;
  const date::sys_info info = zone_->get_info(SysMillis(t.time_since_epoch()));
  return t + std::chrono::duration_cast<Millis>(info.offset);
}

TimeZone::Instants TimeZone::AllFromLocal(Time local) const {
  Instants out;
  if (zone_ == nullptr) {
    out.first = local;
    out.count = 1;
    return out;
  }
  const date::local_info info = zone_->get_info(AsLocal(local));
  switch (info.result) {
    case date::local_info::unique:
      out.first = local - std::chrono::duration_cast<Millis>(info.first.offset);
      out.count = 1;
      break;
    case date::local_info::ambiguous:
      out.first = local - std::chrono::duration_cast<Millis>(info.first.offset);
      out.second = local - std::chrono::duration_cast<Millis>(info.second.offset);
      out.count = 2;
      break;
    default:  // nonexistent
      break;
  }
  return out;
}

Time TimeZone::FromLocal(Time local) const {
  if (zone_ == nullptr) return local;
  const date::local_info info = zone_->get_info(AsLocal(local));
  switch (info.result) {
    case date::local_info::ambiguous:  // the second occurrence (fold=1)
      return local - std::chrono::duration_cast<Millis>(info.second.offset);
    case date::local_info::nonexistent:
      // Read with the offset in force before the gap, the wall time lands after it, moved
      // forward by the gap's length (pendulum's convert with fold=1).
      return local - std::chrono::duration_cast<Millis>(info.first.offset);
    default:
      return local - std::chrono::duration_cast<Millis>(info.first.offset);
  }
}

std::optional<Time> ParseDateTimeIn(std::string_view text, const TimeZone& zone) {
  std::optional<Time> t = internal::ParseDateTime(text);
  if (!t || zone.is_utc()) return t;
  // The date is the first ten characters; anything after it with Z or a sign is an offset.
  const std::string_view rest = text.size() > 10 ? text.substr(10) : std::string_view();
  if (rest.find_first_of("Zz+-") != std::string_view::npos) return t;
  return zone.FromLocal(*t);
}

}  // namespace sp::dag
