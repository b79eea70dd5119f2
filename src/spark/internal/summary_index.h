// The summary index of a history directory: `.sparkplane-summaries.json` (hidden, so Spark's
// History Server skips it; mode 0600, replaced atomically) maps each event log to the summary
// its files produced, with each file's size and modification time. `history list` re-reads
// only logs whose files changed, so listing a directory of a year of applications costs a
// stat per file, not a parse of every event. A missing, unreadable or foreign index is simply
// rebuilt. Private to spark/.
//
// Thread safety: SummaryIndex is a value; concurrent Save()s of one directory leave one index.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "spark/event_log.h"
#include "spark/history.h"

namespace sp::spark::internal {

class SummaryIndex {
 public:
  // Reads `<history_dir>/.sparkplane-summaries.json`; empty when absent or unreadable.
  static SummaryIndex Load(const std::string& history_dir);

  // The cached summary of `log` when none of its files changed since it was recorded.
  std::optional<AppSummary> Find(const EventLogLocation& log);
  // Records `summary` as what `log`'s current files produce.
  void Put(const EventLogLocation& log, const AppSummary& summary);
  // Writes the index back when something changed, dropping logs that were not seen (deleted).
  // Best effort: a read-only directory just goes unindexed.
  void Save();

 private:
  struct Entry {
    std::string fingerprint;  // "name:size:mtime_ns;..." of the log's files
    AppSummary summary;
  };
  std::string path_;
  std::map<std::string, Entry> entries_;  // by log path
  std::map<std::string, bool> seen_;      // log paths looked up or put this time
  bool changed_ = false;
};

}  // namespace sp::spark::internal
