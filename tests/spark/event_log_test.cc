// Event-log discovery (single files, rolling dirs, .crc side files) and line reading, plain and
// zstd (compressed here with libzstd: several frames, flushed blocks, a cut-off tail).
#include "spark/event_log.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <zstd.h>

#include <filesystem>

#include "spark/spark_test_util.h"

namespace sp::spark {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::StatusIs;

std::string HistoryDir() {
  return testing::DataDir() + "/history";
}

// Compresses `text` as `frames` zstd frames, flushing a block every `flush_every` bytes.
std::string Zstd(const std::string& text, int frames = 2, size_t flush_every = 700) {
  std::string out;
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  size_t per_frame = (text.size() + frames - 1) / frames;
  std::vector<char> buf(ZSTD_CStreamOutSize());
  for (size_t begin = 0; begin < text.size(); begin += per_frame) {
    std::string_view frame = std::string_view(text).substr(begin, per_frame);
    for (size_t at = 0; at < frame.size(); at += flush_every) {
      std::string_view piece = frame.substr(at, flush_every);
      bool last = at + flush_every >= frame.size();
      ZSTD_inBuffer in{piece.data(), piece.size(), 0};
      size_t remaining;
      do {
        ZSTD_outBuffer o{buf.data(), buf.size(), 0};
        remaining = ZSTD_compressStream2(cctx, &o, &in, last ? ZSTD_e_end : ZSTD_e_flush);
        EXPECT_FALSE(ZSTD_isError(remaining));
        out.append(buf.data(), o.pos);
      } while (remaining != 0 || in.pos < in.size);
    }
  }
  ZSTD_freeCCtx(cctx);
  return out;
}

std::vector<std::string> ReadAll(const std::string& path, EventLogCodec codec,
                                 bool* truncated = nullptr) {
  Result<std::unique_ptr<EventLogReader>> r = EventLogReader::Open(path, codec);
  EXPECT_TRUE(r.ok()) << r.status();
  if (!r.ok()) return {};
  std::vector<std::string> lines;
  std::string line;
  while (true) {
    Result<bool> more = (*r)->Next(&line);
    EXPECT_TRUE(more.ok()) << more.status();
    if (!more.ok() || !*more) break;
    lines.push_back(line);
  }
  if (truncated != nullptr) *truncated = (*r)->truncated();
  return lines;
}

TEST(EventLogTest, CodecFromFileName) {
  EXPECT_EQ(EventLogCodecFromFileName("app-1"), EventLogCodec::kNone);
  EXPECT_EQ(EventLogCodecFromFileName("app-1.inprogress"), EventLogCodec::kNone);
  EXPECT_EQ(EventLogCodecFromFileName("app-1.zstd"), EventLogCodec::kZstd);
  EXPECT_EQ(EventLogCodecFromFileName("app-1.zstd.inprogress"), EventLogCodec::kZstd);
  EXPECT_EQ(EventLogCodecFromFileName("events_3_app-1.lz4"), EventLogCodec::kLz4);
  EXPECT_EQ(EventLogCodecFromFileName("events_3_app-1.snappy.compact"), EventLogCodec::kSnappy);
  EXPECT_EQ(EventLogCodecFromFileName("app-1.lzf"), EventLogCodec::kLzf);
  EXPECT_STREQ(EventLogCodecName(EventLogCodec::kZstd), "zstd");
}

TEST(EventLogTest, ScanFindsEveryLayoutAndIgnoresCrc) {
  Result<std::vector<EventLogLocation>> logs = ScanEventLogs(HistoryDir());
  ASSERT_TRUE(logs.ok()) << logs.status();
  std::vector<std::string> ids;
  for (const EventLogLocation& l : *logs) ids.push_back(l.app_id);
  EXPECT_THAT(ids, ElementsAre("app-20261126095900-0005", "app-20261126100000-0000",
                               "app-20261126100100-0001", "app-20261126100200-0002",
                               "app-20261126100300-0003", "app-20261126100400-0004",
                               "app-20261126100600-0006"));
  const EventLogLocation& running = (*logs)[2];
  EXPECT_EQ(running.layout, EventLogLayout::kSingleFile);
  EXPECT_TRUE(running.in_progress);
  const EventLogLocation& rolling = (*logs)[3];
  EXPECT_EQ(rolling.layout, EventLogLayout::kRolling);
  EXPECT_FALSE(rolling.in_progress);
  ASSERT_EQ(rolling.files.size(), 3u);  // numeric order, .crc and appstatus skipped
  EXPECT_EQ(fs::path(rolling.files[0]).filename(), "events_1_app-20261126100200-0002");
  EXPECT_EQ(fs::path(rolling.files[1]).filename(), "events_2_app-20261126100200-0002");
  EXPECT_EQ(fs::path(rolling.files[2]).filename(), "events_10_app-20261126100200-0002");
  EXPECT_GT(rolling.size_bytes, 0);
  EXPECT_TRUE((*logs)[4].in_progress);  // appstatus_*.inprogress marker
  EXPECT_EQ((*logs)[5].codec, EventLogCodec::kLz4);
}

TEST(EventLogTest, ScanMissingDirIsNotFound) {
  EXPECT_THAT(ScanEventLogs("/nonexistent/history"),
              StatusIs(StatusCode::kNotFound, HasSubstr("/nonexistent/history")));
}

TEST(EventLogTest, FindByAppId) {
  Result<EventLogLocation> rolling = FindEventLog(HistoryDir(), "app-20261126100200-0002");
  ASSERT_TRUE(rolling.ok()) << rolling.status();
  EXPECT_EQ(rolling->layout, EventLogLayout::kRolling);
  Result<EventLogLocation> running = FindEventLog(HistoryDir(), "app-20261126100100-0001");
  ASSERT_TRUE(running.ok()) << running.status();
  EXPECT_TRUE(running->in_progress);
  EXPECT_THAT(FindEventLog(HistoryDir(), "app-20261126999999-0009"),
              StatusIs(StatusCode::kNotFound, HasSubstr("no event log for Spark app")));
  EXPECT_THAT(FindEventLog(HistoryDir(), "../etc"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("invalid Spark app id")));
}

TEST(EventLogTest, FindPrefersFinishedOverInProgress) {
  testing::ScratchDir dir;
  testing::WriteText(dir / "app-1.inprogress", "{}\n");
  testing::WriteText(dir / "app-1.zstd", Zstd("{}\n"));
  Result<EventLogLocation> log = FindEventLog(dir.path(), "app-1");
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_FALSE(log->in_progress);
  EXPECT_EQ(log->codec, EventLogCodec::kZstd);
  Result<std::vector<EventLogLocation>> logs = ScanEventLogs(dir.path());
  ASSERT_TRUE(logs.ok());
  ASSERT_EQ(logs->size(), 1u);
  EXPECT_FALSE((*logs)[0].in_progress);
}

TEST(EventLogTest, PlainAndZstdReadTheSameLines) {
  testing::ScratchDir dir;
  std::string long_line(300 * 1024, 'x');  // longer than a read chunk
  std::string text = "{\"a\":1}\r\n\n" + long_line + "\n{\"b\":2}\nlast line without newline";
  testing::WriteText(dir / "plain", text);
  testing::WriteText(dir / "z.zstd", Zstd(text, 3));
  std::vector<std::string> want = {"{\"a\":1}", "", long_line, "{\"b\":2}",
                                   "last line without newline"};
  EXPECT_EQ(ReadAll(dir / "plain", EventLogCodec::kNone), want);
  bool truncated = true;
  EXPECT_EQ(ReadAll(dir / "z.zstd", EventLogCodec::kZstd, &truncated), want);
  EXPECT_FALSE(truncated);
}

TEST(EventLogTest, CutZstdStreamYieldsWhatWasWritten) {
  testing::ScratchDir dir;
  std::string text;
  for (int i = 0; i < 2000; ++i) text += "{\"Event\":\"E\",\"n\":" + std::to_string(i) + "}\n";
  std::string z = Zstd(text, 1, 4096);
  testing::WriteText(dir / "cut.zstd", z.substr(0, z.size() * 2 / 3));
  bool truncated = false;
  std::vector<std::string> lines = ReadAll(dir / "cut.zstd", EventLogCodec::kZstd, &truncated);
  EXPECT_TRUE(truncated);
  ASSERT_GT(lines.size(), 100u);
  EXPECT_EQ(lines[0], "{\"Event\":\"E\",\"n\":0}");
  EXPECT_LT(lines.size(), 2000u);
}

TEST(EventLogTest, CorruptZstdIsFailedPrecondition) {
  testing::ScratchDir dir;
  testing::WriteText(dir / "bad.zstd", "this is not zstd at all");
  Result<std::unique_ptr<EventLogReader>> r =
      EventLogReader::Open(dir / "bad.zstd", EventLogCodec::kZstd);
  ASSERT_TRUE(r.ok());
  std::string line;
  EXPECT_THAT((*r)->Next(&line),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("corrupt zstd data")));
}

TEST(EventLogTest, UnsupportedCodecsNameTheCodec) {
  for (EventLogCodec codec : {EventLogCodec::kLz4, EventLogCodec::kSnappy, EventLogCodec::kLzf}) {
    EXPECT_THAT(EventLogReader::Open(HistoryDir() + "/app-20261126100400-0004.lz4", codec),
                StatusIs(StatusCode::kFailedPrecondition,
                         HasSubstr(std::string("compressed with ") + EventLogCodecName(codec))));
  }
}

TEST(EventLogTest, MissingFileIsNotFound) {
  EXPECT_THAT(EventLogReader::Open("/nonexistent/app-1", EventLogCodec::kNone),
              StatusIs(StatusCode::kNotFound, HasSubstr("/nonexistent/app-1")));
}

}  // namespace
}  // namespace sp::spark
