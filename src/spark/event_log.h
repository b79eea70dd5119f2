// Spark event logs on disk: finding one application's log in a history directory and reading
// it line by line (one JSON event per line) in bounded memory, decompressing on the fly.
//
// Layouts (spark-facts §5) in a history dir:
//   single file   <appId>[.<codec>][.inprogress]             spark.eventLog.rolling.enabled=false
//   rolling dir   eventlog_v2_<appId>/events_<N>_<appId>[.<codec>][.compact]   (4.x default)
//                 eventlog_v2_<appId>/appstatus_<appId>[.inprogress]   marker, renamed at end
// Hidden files (Hadoop's .<name>.crc side files) and *.crc are ignored. The app id is taken
// from the file or directory name; the event ApplicationStart carries the authoritative one.
//
// Codecs, from the file name's suffix: none and zstd are read; lz4, lzf and snappy give
// FailedPrecondition naming the codec and the setting to change. A zstd stream cut short at
// the end (a log still being written) yields what was decoded so far; the last line may then
// be partial, so readers must tolerate one bad trailing line.
//
// Thread safety: free functions are thread-safe; an EventLogReader is used by one thread.
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace sp::spark {

enum class EventLogCodec { kNone, kZstd, kLz4, kLzf, kSnappy };
enum class EventLogLayout { kSingleFile, kRolling };

const char* EventLogCodecName(EventLogCodec codec);  // "none", "zstd", "lz4", ...

// The codec named by a file name's suffix (after removing .inprogress / .compact).
EventLogCodec EventLogCodecFromFileName(std::string_view file_name);

// One application's event log.
struct EventLogLocation {
  std::string app_id;  // from the name
  EventLogLayout layout = EventLogLayout::kSingleFile;
  std::string path;                // the file (single) or the eventlog_v2_* dir (rolling)
  std::vector<std::string> files;  // event files to read, in order
  EventLogCodec codec = EventLogCodec::kNone;  // of the (last) event file
  bool in_progress = false;  // .inprogress suffix, or appstatus_<id>.inprogress marker
  int64_t size_bytes = 0;    // sum of the event files' sizes on disk
};

// All application logs directly under `history_dir`, sorted by app id. NotFound when the dir
// does not exist. Entries that are not logs are skipped.
Result<std::vector<EventLogLocation>> ScanEventLogs(const std::string& history_dir);

// The log of `app_id` (looked up by name, without scanning the directory). NotFound lists
// the names tried; InvalidArgument for ids containing '/' or starting with '.'.
Result<EventLogLocation> FindEventLog(const std::string& history_dir, const std::string& app_id);

// Reads one event file line by line. Lines are returned without the trailing newline.
class EventLogReader {
 public:
  // FailedPrecondition for unsupported codecs; NotFound/PermissionDenied when not readable.
  static Result<std::unique_ptr<EventLogReader>> Open(const std::string& path, EventLogCodec codec);
  ~EventLogReader();
  EventLogReader(const EventLogReader&) = delete;
  EventLogReader& operator=(const EventLogReader&) = delete;

  // Stores the next line in *line and returns true, or returns false at the end. Errors are
  // I/O failures and corrupt compressed data (FailedPrecondition, naming the file).
  Result<bool> Next(std::string* line);

  // True when the compressed stream ended mid-frame (the file is still being written).
  bool truncated() const { return truncated_; }

 private:
  EventLogReader(std::string path, EventLogCodec codec, std::FILE* file);
  // Appends more decoded bytes to buffer_; false at the end of input.
  Result<bool> Fill();

  struct ZstdState;
  std::string path_;
  EventLogCodec codec_;
  std::FILE* file_;
  std::unique_ptr<ZstdState> zstd_;
  std::string buffer_;  // decoded bytes not yet returned, from pos_
  size_t pos_ = 0;
  bool eof_ = false;
  bool truncated_ = false;
};

// Calls `fn` for every line of every file of `log`, in order; stops at the first error
// (from reading or from `fn`).
Status ForEachEventLine(const EventLogLocation& log,
                        const std::function<Status(std::string_view line)>& fn);

}  // namespace sp::spark
