// Event-log discovery and streaming line reading (plain and zstd); see event_log.h.
#include "spark/event_log.h"

#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <system_error>

namespace sp::spark {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kRollingDirPrefix = "eventlog_v2_";
constexpr std::string_view kInProgress = ".inprogress";
constexpr std::string_view kCompact = ".compact";
constexpr size_t kReadChunk = 128 << 10;

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

std::string_view StripSuffix(std::string_view s, std::string_view suffix) {
  return EndsWith(s, suffix) ? s.substr(0, s.size() - suffix.size()) : s;
}

// Names to skip everywhere: Hadoop checksum side files and other hidden or temporary files.
bool IsIgnored(std::string_view name) {
  return name.empty() || name[0] == '.' || EndsWith(name, ".crc") || EndsWith(name, ".tmp");
}

// "<base>[.codec]" -> base, for the codec suffixes Spark writes.
std::string_view StripCodec(std::string_view name) {
  for (std::string_view suffix : {".zstd", ".lz4", ".lzf", ".snappy"}) {
    if (EndsWith(name, suffix)) return name.substr(0, name.size() - suffix.size());
  }
  return name;
}

int64_t FileSize(const fs::path& p) {
  std::error_code ec;
  auto n = fs::file_size(p, ec);
  return ec ? 0 : static_cast<int64_t>(n);
}

// Parses "events_<N>_<appId>[.codec][.compact]"; -1 when the name is not an event file.
int64_t RollingIndex(std::string_view name, std::string_view app_id) {
  constexpr std::string_view kPrefix = "events_";
  if (!StartsWith(name, kPrefix)) return -1;
  std::string_view rest = StripCodec(StripSuffix(name.substr(kPrefix.size()), kCompact));
  size_t underscore = rest.find('_');
  if (underscore == 0 || underscore == std::string_view::npos) return -1;
  if (rest.substr(underscore + 1) != app_id) return -1;
  int64_t index = 0;
  for (char c : rest.substr(0, underscore)) {
    if (c < '0' || c > '9') return -1;
    index = index * 10 + (c - '0');
  }
  return index;
}

Result<EventLogLocation> ReadRollingDir(const fs::path& dir, std::string app_id) {
  EventLogLocation log;
  log.app_id = std::move(app_id);
  log.layout = EventLogLayout::kRolling;
  log.path = dir.string();
  std::map<int64_t, std::string> files;  // by index
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) return FailedPreconditionError("cannot list " + dir.string() + ": " + ec.message());
  for (const fs::directory_entry& e : it) {
    std::string name = e.path().filename().string();
    if (IsIgnored(name)) continue;
    if (name == "appstatus_" + log.app_id + std::string(kInProgress)) {
      log.in_progress = true;
      continue;
    }
    int64_t index = RollingIndex(name, log.app_id);
    if (index >= 0) files[index] = e.path().string();
  }
  for (const auto& [index, path] : files) {
    log.files.push_back(path);
    log.size_bytes += FileSize(path);
  }
  if (!log.files.empty()) {
    log.codec = EventLogCodecFromFileName(fs::path(log.files.back()).filename().string());
  }
  return log;
}

EventLogLocation SingleFile(const fs::path& file) {
  std::string name = file.filename().string();
  EventLogLocation log;
  log.layout = EventLogLayout::kSingleFile;
  log.path = file.string();
  log.in_progress = EndsWith(name, kInProgress);
  log.app_id = std::string(StripCodec(StripSuffix(name, kInProgress)));
  log.codec = EventLogCodecFromFileName(name);
  log.files = {file.string()};
  log.size_bytes = FileSize(file);
  return log;
}

std::string Errno(int err) {
  return std::strerror(err);
}

}  // namespace

const char* EventLogCodecName(EventLogCodec codec) {
  switch (codec) {
    case EventLogCodec::kNone:
      return "none";
    case EventLogCodec::kZstd:
      return "zstd";
    case EventLogCodec::kLz4:
      return "lz4";
    case EventLogCodec::kLzf:
      return "lzf";
    case EventLogCodec::kSnappy:
      return "snappy";
  }
  return "unknown";
}

EventLogCodec EventLogCodecFromFileName(std::string_view file_name) {
  std::string_view name = StripSuffix(StripSuffix(file_name, kInProgress), kCompact);
  if (EndsWith(name, ".zstd")) return EventLogCodec::kZstd;
  if (EndsWith(name, ".lz4")) return EventLogCodec::kLz4;
  if (EndsWith(name, ".lzf")) return EventLogCodec::kLzf;
  if (EndsWith(name, ".snappy")) return EventLogCodec::kSnappy;
  return EventLogCodec::kNone;
}

Result<std::vector<EventLogLocation>> ScanEventLogs(const std::string& history_dir) {
  std::error_code ec;
  if (!fs::is_directory(history_dir, ec)) {
    return NotFoundError("Spark history dir " + history_dir + " does not exist");
  }
  std::map<std::string, EventLogLocation> by_app;
  fs::directory_iterator it(history_dir, ec);
  if (ec) return FailedPreconditionError("cannot list " + history_dir + ": " + ec.message());
  for (const fs::directory_entry& e : it) {
    std::string name = e.path().filename().string();
    if (IsIgnored(name)) continue;
    std::error_code type_ec;
    if (e.is_directory(type_ec)) {
      if (!StartsWith(name, kRollingDirPrefix) || name.size() == kRollingDirPrefix.size()) continue;
      Result<EventLogLocation> log =
          ReadRollingDir(e.path(), name.substr(kRollingDirPrefix.size()));
      if (log.ok()) by_app[log->app_id] = std::move(log).value();
    } else if (e.is_regular_file(type_ec)) {
      EventLogLocation log = SingleFile(e.path());
      auto existing = by_app.find(log.app_id);
      // A finished log beats a stale .inprogress copy of the same app.
      if (existing == by_app.end() || (existing->second.in_progress && !log.in_progress)) {
        by_app[log.app_id] = std::move(log);
      }
    }
  }
  std::vector<EventLogLocation> logs;
  logs.reserve(by_app.size());
  for (auto& [id, log] : by_app) logs.push_back(std::move(log));
  return logs;
}

Result<EventLogLocation> FindEventLog(const std::string& history_dir, const std::string& app_id) {
  if (app_id.empty() || app_id[0] == '.' || app_id.find('/') != std::string::npos) {
    return InvalidArgumentError("invalid Spark app id '" + app_id + "'");
  }
  fs::path dir(history_dir);
  std::error_code ec;
  fs::path rolling = dir / (std::string(kRollingDirPrefix) + app_id);
  if (fs::is_directory(rolling, ec)) return ReadRollingDir(rolling, app_id);
  // Finished names before in-progress ones.
  std::vector<std::string> tried;
  for (std::string_view progress : {std::string_view(), kInProgress}) {
    for (std::string_view codec : {"", ".zstd", ".lz4", ".lzf", ".snappy"}) {
      std::string name = app_id + std::string(codec) + std::string(progress);
      tried.push_back(name);
      if (fs::is_regular_file(dir / name, ec)) return SingleFile(dir / name);
    }
  }
  return NotFoundError("no event log for Spark app " + app_id + " in " + history_dir +
                       " (looked for eventlog_v2_" + app_id + "/, " + app_id + "[.zstd]" +
                       "[.inprogress])");
}

struct EventLogReader::ZstdState {
  ZSTD_DCtx* ctx = nullptr;
  std::vector<char> in;
  ZSTD_inBuffer in_buf{nullptr, 0, 0};
  std::vector<char> out;
  size_t last_hint = 0;  // ZSTD_decompressStream's return: 0 when a frame just completed
  bool saw_data = false;
  ~ZstdState() { ZSTD_freeDCtx(ctx); }
};

EventLogReader::EventLogReader(std::string path, EventLogCodec codec, std::FILE* file)
    : path_(std::move(path)), codec_(codec), file_(file) {}

EventLogReader::~EventLogReader() {
  if (file_ != nullptr) std::fclose(file_);
}

Result<std::unique_ptr<EventLogReader>> EventLogReader::Open(const std::string& path,
                                                             EventLogCodec codec) {
  if (codec != EventLogCodec::kNone && codec != EventLogCodec::kZstd) {
    return FailedPreconditionError(
        path + ": event log compressed with " + EventLogCodecName(codec) +
        ", which Sparkplane cannot read (only uncompressed and zstd); submit with "
        "spark.eventLog.compression.codec=zstd (the default) or spark.eventLog.compress=false");
  }
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    int err = errno;
    std::string msg = "cannot open event log " + path + ": " + Errno(err);
    if (err == ENOENT) return NotFoundError(msg);
    if (err == EACCES) return PermissionDeniedError(msg);
    return FailedPreconditionError(msg);
  }
  std::unique_ptr<EventLogReader> reader(new EventLogReader(path, codec, f));
  if (codec == EventLogCodec::kZstd) {
    reader->zstd_ = std::make_unique<ZstdState>();
    reader->zstd_->ctx = ZSTD_createDCtx();
    if (reader->zstd_->ctx == nullptr) return InternalError("ZSTD_createDCtx failed");
    reader->zstd_->in.resize(kReadChunk);
    reader->zstd_->out.resize(ZSTD_DStreamOutSize());
  }
  return reader;
}

Result<bool> EventLogReader::Fill() {
  if (eof_) return false;
  if (codec_ == EventLogCodec::kNone) {
    size_t old_size = buffer_.size();
    buffer_.resize(old_size + kReadChunk);
    size_t n = std::fread(buffer_.data() + old_size, 1, kReadChunk, file_);
    buffer_.resize(old_size + n);
    if (n == 0) {
      if (std::ferror(file_)) return FailedPreconditionError("reading " + path_ + " failed");
      eof_ = true;
      return false;
    }
    return true;
  }
  ZstdState& z = *zstd_;
  while (true) {
    if (z.in_buf.pos == z.in_buf.size) {
      size_t n = std::fread(z.in.data(), 1, z.in.size(), file_);
      if (n == 0) {
        if (std::ferror(file_)) return FailedPreconditionError("reading " + path_ + " failed");
        eof_ = true;
        // A frame left open means the writer has not finished (or was killed).
        truncated_ = z.saw_data && z.last_hint != 0;
        return false;
      }
      z.in_buf = ZSTD_inBuffer{z.in.data(), n, 0};
      z.saw_data = true;
    }
    ZSTD_outBuffer out{z.out.data(), z.out.size(), 0};
    size_t rc = ZSTD_decompressStream(z.ctx, &out, &z.in_buf);
    if (ZSTD_isError(rc)) {
      return FailedPreconditionError(path_ + ": corrupt zstd data (" + ZSTD_getErrorName(rc) + ")");
    }
    z.last_hint = rc;
    if (out.pos > 0) {
      buffer_.append(z.out.data(), out.pos);
      return true;
    }
  }
}

Result<bool> EventLogReader::Next(std::string* line) {
  size_t scan_from = pos_;
  while (true) {
    size_t nl = buffer_.find('\n', scan_from);
    if (nl != std::string::npos) {
      size_t end = nl;
      if (end > pos_ && buffer_[end - 1] == '\r') --end;
      line->assign(buffer_, pos_, end - pos_);
      pos_ = nl + 1;
      return true;
    }
    // Keep memory bounded by the longest line: drop what was already returned.
    if (pos_ > 0) {
      buffer_.erase(0, pos_);
      pos_ = 0;
    }
    scan_from = buffer_.size();
    ASSIGN_OR_RETURN(bool more, Fill());
    if (!more) {
      if (buffer_.empty()) return false;
      line->assign(buffer_);
      buffer_.clear();
      return true;
    }
  }
}

Status ForEachEventLine(const EventLogLocation& log,
                        const std::function<Status(std::string_view line)>& fn) {
  std::string line;
  for (const std::string& file : log.files) {
    ASSIGN_OR_RETURN(
        std::unique_ptr<EventLogReader> reader,
        EventLogReader::Open(file, EventLogCodecFromFileName(fs::path(file).filename().string())));
    while (true) {
      ASSIGN_OR_RETURN(bool more, reader->Next(&line));
      if (!more) break;
      RETURN_IF_ERROR(fn(line));
    }
  }
  return OkStatus();
}

}  // namespace sp::spark
