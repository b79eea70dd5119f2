#include "common/clock.h"

#include <ctime>

namespace sp {

Time RealClock::Now() const {
  return std::chrono::time_point_cast<Millis>(std::chrono::system_clock::now());
}

namespace {
std::tm ToUtc(Time t) {
  std::time_t secs = static_cast<std::time_t>(ToUnixMillis(t) / 1000);
  if (ToUnixMillis(t) < 0 && ToUnixMillis(t) % 1000 != 0) secs -= 1;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return tm;
}
}  // namespace

std::string FormatTime(Time t) {
  std::tm tm = ToUtc(t);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string out(buf);
  int64_t ms = ToUnixMillis(t) % 1000;
  if (ms < 0) ms += 1000;
  if (ms != 0) {
    char frac[8];
    std::snprintf(frac, sizeof frac, ".%03lld", static_cast<long long>(ms));
    out += frac;
  }
  return out + "Z";
}

std::string FormatDate(Time t) {
  std::tm tm = ToUtc(t);
  char buf[16];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
  return buf;
}

}  // namespace sp
