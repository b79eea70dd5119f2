// Fuzzes Spark event logs as `sparkplane history` reads them: the input becomes a log in a
// private temporary history dir (plain, zstd-compressed, cut-short zstd, or raw bytes named
// .zstd; a single file or a rolling eventlog_v2_ dir), then ListApplications scans the dir,
// streams the lines (EventLogReader) and summarizes the events (one JSON object per line).
// Also checks that the reader's line splitting gives the same lines for plain and zstd files.
//
// Input: byte 0 picks the layout (see Mode), byte 1 where a cut-short zstd file ends, the rest
// is the log's text; in a rolling layout a NUL byte separates the event files.
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_util.h"
#include "spark/event_log.h"
#include "spark/history.h"

namespace {

namespace fs = std::filesystem;

constexpr char kAppId[] = "app-20261126100000-0000";

struct Mode {
  bool zstd = false;      // compress each file with zstd and name it .zstd
  bool truncate = false;  // cut the compressed bytes short (a log still being written)
  bool raw_zstd = false;  // name the input .zstd without compressing it (corrupt data)
  bool rolling = false;   // eventlog_v2_<app>/events_<N>_<app>, NUL-separated files
  bool in_progress = false;
};

const fs::path& HistoryDir() {
  static const fs::path* const kDir = [] {
    // $TMPDIR, else memory-backed /dev/shm (a few files are rewritten per input), else /tmp.
    const char* tmp = std::getenv("TMPDIR");
    std::string base = tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
    if ((tmp == nullptr || *tmp == '\0') && access("/dev/shm", W_OK) == 0) base = "/dev/shm";
    std::string templ = base + "/sparkplane-event-log-fuzz-XXXXXX";
    if (mkdtemp(templ.data()) == nullptr) {
      std::perror("mkdtemp");
      std::abort();
    }
    auto* dir = new fs::path(templ);
    std::atexit([] { fs::remove_all(HistoryDir()); });
    return dir;
  }();
  return *kDir;
}

void WriteFile(const fs::path& path, std::string_view bytes) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr || std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size() ||
      std::fclose(f) != 0) {
    std::perror(path.c_str());
    std::abort();
  }
}

std::string Compress(std::string_view text) {
  std::string out(ZSTD_compressBound(text.size()), '\0');
  size_t n = ZSTD_compress(out.data(), out.size(), text.data(), text.size(), 1);
  SP_FUZZ_CHECK(!ZSTD_isError(n), ZSTD_getErrorName(n));
  out.resize(n);
  return out;
}

// The bytes of one event file as the mode wants them on disk.
std::string OnDisk(std::string_view text, const Mode& mode, uint8_t cut) {
  if (!mode.zstd || mode.raw_zstd) return std::string(text);
  std::string compressed = Compress(text);
  if (mode.truncate && !compressed.empty()) compressed.resize(cut % compressed.size());
  return compressed;
}

std::vector<std::string> ReadLines(const std::string& path, sp::spark::EventLogCodec codec) {
  std::vector<std::string> lines;
  auto reader = sp::spark::EventLogReader::Open(path, codec);
  SP_FUZZ_CHECK(reader.ok(), reader.status().ToString());
  std::string line;
  while (true) {
    sp::Result<bool> more = (*reader)->Next(&line);
    SP_FUZZ_CHECK(more.ok(), more.status().ToString());
    if (!*more) break;
    lines.push_back(line);
  }
  return lines;
}

// Plain and zstd files of the same text read as the same lines.
void CheckCodecsAgree(std::string_view text) {
  const fs::path dir = HistoryDir() / "codecs";
  fs::create_directories(dir);
  WriteFile(dir / "plain", text);
  WriteFile(dir / "packed.zstd", Compress(text));
  std::vector<std::string> plain = ReadLines(dir / "plain", sp::spark::EventLogCodec::kNone);
  std::vector<std::string> packed = ReadLines(dir / "packed.zstd", sp::spark::EventLogCodec::kZstd);
  SP_FUZZ_CHECK(plain == packed, std::string(text));
  for (const std::string& line : plain) {
    SP_FUZZ_CHECK(line.find('\n') == std::string::npos, line);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  Mode mode;
  mode.zstd = data[0] & 1;
  mode.truncate = data[0] & 2;
  mode.raw_zstd = data[0] & 4;
  mode.rolling = data[0] & 8;
  mode.in_progress = data[0] & 16;
  const uint8_t cut = data[1];
  std::string_view text(reinterpret_cast<const char*>(data) + 2, size - 2);

  const fs::path& dir = HistoryDir();
  const fs::path logs = dir / "history";
  fs::remove_all(logs);
  fs::create_directories(logs);
  const std::string codec_suffix = mode.zstd || mode.raw_zstd ? ".zstd" : "";
  if (!mode.rolling) {
    std::string name = kAppId + codec_suffix + (mode.in_progress ? ".inprogress" : "");
    WriteFile(logs / name, OnDisk(text, mode, cut));
  } else {
    const fs::path rolling = logs / (std::string("eventlog_v2_") + kAppId);
    fs::create_directory(rolling);
    WriteFile(
        rolling / (std::string("appstatus_") + kAppId + (mode.in_progress ? ".inprogress" : "")),
        "");
    int index = 1;
    size_t start = 0;
    while (index <= 16) {
      size_t nul = text.find('\0', start);
      std::string_view part = text.substr(start, nul == std::string_view::npos ? nul : nul - start);
      WriteFile(rolling / ("events_" + std::to_string(index++) + "_" + kAppId + codec_suffix),
                OnDisk(part, mode, cut));
      if (nul == std::string_view::npos) break;
      start = nul + 1;
    }
  }

  sp::Result<std::vector<sp::spark::AppSummary>> apps = sp::spark::ListApplications(logs.string());
  SP_FUZZ_CHECK(apps.ok(), apps.status().ToString());
  SP_FUZZ_CHECK(apps->size() == 1, std::to_string(apps->size()) + " applications");
  const sp::spark::AppSummary& app = apps->front();
  (void)sp::spark::AppStatusName(app.status);
  SP_FUZZ_CHECK(app.malformed_lines >= 0 && app.jobs_running >= 0, app.app_id);

  if (!mode.zstd && !mode.raw_zstd) CheckCodecsAgree(text);
  return 0;
}
