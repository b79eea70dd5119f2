// Clock: the only way the program reads time. Everything that needs "now" or a timer takes a
// Clock& so tests can drive time by hand (ManualClock) without real sleeps.
//
// Time is wall-clock UTC (system_clock) in milliseconds: logical dates, retry times and timeouts
// are all stored as unix milliseconds in the store.
//
// Thread safety: RealClock is stateless; ManualClock is internally synchronized.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace sp {

using Millis = std::chrono::milliseconds;
using Time = std::chrono::time_point<std::chrono::system_clock, Millis>;

inline int64_t ToUnixMillis(Time t) { return t.time_since_epoch().count(); }
inline Time FromUnixMillis(int64_t ms) { return Time(Millis(ms)); }

// "2026-11-26T06:56:52Z" (seconds precision; milliseconds appended when non-zero).
std::string FormatTime(Time t);
// "2026-11-26"
std::string FormatDate(Time t);

class Clock {
 public:
  virtual ~Clock() = default;
  virtual Time Now() const = 0;
};

class RealClock : public Clock {
 public:
  Time Now() const override;
};

class ManualClock : public Clock {
 public:
  explicit ManualClock(Time start) : now_(start) {}
  Time Now() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return now_;
  }
  void Advance(Millis d) {
    std::lock_guard<std::mutex> lock(mu_);
    now_ += d;
  }
  void Set(Time t) {
    std::lock_guard<std::mutex> lock(mu_);
    now_ = t;
  }

 private:
  mutable std::mutex mu_;
  Time now_;
};

}  // namespace sp
