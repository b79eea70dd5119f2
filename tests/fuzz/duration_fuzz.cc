// Fuzzes durations as DAG files write them (retry_delay, execution_timeout, ...): ParseDuration,
// the FormatDuration round trip, FormatDuration of any 64-bit value, and the retry back-off
// computed from a parsed delay.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "dag/cron.h"
#include "dag/dag.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);

  // Display of arbitrary (even negative) durations, e.g. a run's elapsed time.
  if (size >= sizeof(int64_t)) {
    int64_t raw;
    std::memcpy(&raw, data, sizeof raw);
    SP_FUZZ_CHECK(!sp::dag::FormatDuration(sp::Millis(raw)).empty(), text);
  }

  sp::Result<sp::Millis> d = sp::dag::ParseDuration(text);
  if (!d.ok()) {
    SP_FUZZ_CHECK(!d.status().message().empty(), text);
    return 0;
  }
  SP_FUZZ_CHECK(d->count() >= 0, text);
  const std::string formatted = sp::dag::FormatDuration(*d);
  sp::Result<sp::Millis> again = sp::dag::ParseDuration(formatted);
  SP_FUZZ_CHECK(again.ok() && *again == *d, text + " -> " + formatted);

  sp::dag::RetryPolicy retry;
  retry.retry_delay = *d;
  retry.backoff_multiplier = 2;
  for (int failed_try : {0, 1, 2, 30, 62, 63, 64, 1000}) {
    sp::Millis delay = retry.DelayAfter(failed_try, text);
    SP_FUZZ_CHECK(delay.count() >= 0 && delay <= std::max(*d, retry.max_retry_delay), text);
  }
  return 0;
}
