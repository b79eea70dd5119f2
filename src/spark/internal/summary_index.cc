// The summary index; see summary_index.h.
#include "spark/internal/summary_index.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "common/file_text.h"
#include "spark/internal/json_fields.h"
#include "spark/internal/private_file.h"

namespace sp::spark::internal {
namespace {

using nlohmann::json;

constexpr char kIndexName[] = ".sparkplane-summaries.json";
constexpr int kVersion = 1;  // bump when AppSummary's meaning changes: old indexes are rebuilt

std::optional<std::string> Fingerprint(const EventLogLocation& log) {
  std::string fp = log.in_progress ? "inprogress;" : "complete;";
  for (const std::string& f : log.files) {
    std::error_code ec;
    auto size = std::filesystem::file_size(f, ec);
    if (ec) return std::nullopt;
    auto mtime = std::filesystem::last_write_time(f, ec);
    if (ec) return std::nullopt;
    fp += std::filesystem::path(f).filename().string() + ":" + std::to_string(size) + ":" +
          std::to_string(mtime.time_since_epoch().count()) + ";";
  }
  return fp;
}

json OptionalInt(const std::optional<int>& v) {
  return v ? json(*v) : json();
}

std::optional<int> ReadOptionalInt(const json& j, const char* key) {
  const json* v = Field(j, key);
  if (v == nullptr || !v->is_number_integer()) return std::nullopt;
  return static_cast<int>(v->get<int64_t>());
}

json ToJson(const AppSummary& s) {
  return {{"app_id", s.app_id},
          {"name", s.name},
          {"user", s.user},
          {"spark_version", s.spark_version},
          {"start_ms", s.start_ms},
          {"end_ms", s.end_ms},
          {"duration_ms", s.duration_ms},
          {"status", static_cast<int>(s.status)},
          {"status_reason", s.status_reason},
          {"exit_code", OptionalInt(s.exit_code)},
          {"event_log_exit_code", OptionalInt(s.event_log_exit_code)},
          {"jobs", {s.jobs_succeeded, s.jobs_failed, s.jobs_running}},
          {"stages", {s.stages_completed, s.stages_failed}},
          {"tasks", {s.tasks_succeeded, s.tasks_failed, s.tasks_killed}},
          {"executors", {s.executors_added, s.executors_removed}},
          {"io",
           {s.input_bytes, s.input_records, s.output_bytes, s.output_records, s.shuffle_read_bytes,
            s.shuffle_write_bytes}},
          {"log_path", s.log_path},
          {"codec", static_cast<int>(s.codec)},
          {"log_in_progress", s.log_in_progress},
          {"log_bytes", s.log_bytes},
          {"malformed_lines", s.malformed_lines}};
}

// Reads the i-th integer of an array field; 0 when absent.
int64_t At(const json& j, const char* key, size_t i) {
  const json* a = Field(j, key);
  if (a == nullptr || !a->is_array() || i >= a->size() || !(*a)[i].is_number_integer()) return 0;
  return (*a)[i].get<int64_t>();
}

std::optional<AppSummary> FromJson(const json& j) {
  if (!j.is_object()) return std::nullopt;
  AppSummary s;
  s.app_id = GetString(j, "app_id");
  int64_t status = GetInt(j, "status");
  int64_t codec = GetInt(j, "codec");
  if (s.app_id.empty() || status < 0 || status > static_cast<int>(AppStatus::kUnreadable) ||
      codec < 0 || codec > static_cast<int>(EventLogCodec::kSnappy)) {
    return std::nullopt;
  }
  s.name = GetString(j, "name");
  s.user = GetString(j, "user");
  s.spark_version = GetString(j, "spark_version");
  s.start_ms = GetInt(j, "start_ms");
  s.end_ms = GetInt(j, "end_ms");
  s.duration_ms = GetInt(j, "duration_ms");
  s.status = static_cast<AppStatus>(status);
  s.status_reason = GetString(j, "status_reason");
  s.exit_code = ReadOptionalInt(j, "exit_code");
  s.event_log_exit_code = ReadOptionalInt(j, "event_log_exit_code");
  s.jobs_succeeded = static_cast<int>(At(j, "jobs", 0));
  s.jobs_failed = static_cast<int>(At(j, "jobs", 1));
  s.jobs_running = static_cast<int>(At(j, "jobs", 2));
  s.stages_completed = static_cast<int>(At(j, "stages", 0));
  s.stages_failed = static_cast<int>(At(j, "stages", 1));
  s.tasks_succeeded = At(j, "tasks", 0);
  s.tasks_failed = At(j, "tasks", 1);
  s.tasks_killed = At(j, "tasks", 2);
  s.executors_added = static_cast<int>(At(j, "executors", 0));
  s.executors_removed = static_cast<int>(At(j, "executors", 1));
  s.input_bytes = At(j, "io", 0);
  s.input_records = At(j, "io", 1);
  s.output_bytes = At(j, "io", 2);
  s.output_records = At(j, "io", 3);
  s.shuffle_read_bytes = At(j, "io", 4);
  s.shuffle_write_bytes = At(j, "io", 5);
  s.log_path = GetString(j, "log_path");
  s.codec = static_cast<EventLogCodec>(codec);
  const json* in_progress = Field(j, "log_in_progress");
  s.log_in_progress =
      in_progress != nullptr && in_progress->is_boolean() && in_progress->get<bool>();
  s.log_bytes = GetInt(j, "log_bytes");
  s.malformed_lines = GetInt(j, "malformed_lines");
  return s;
}

}  // namespace

SummaryIndex SummaryIndex::Load(const std::string& history_dir) {
  SummaryIndex index;
  index.path_ = history_dir + "/" + kIndexName;
  Result<std::string> text = ReadFileText(index.path_, "the summary index");
  if (!text.ok()) return index;
  json j = json::parse(*text, nullptr, /*allow_exceptions=*/false);
  const json* logs = Field(j, "logs");
  if (GetInt(j, "version") != kVersion || logs == nullptr || !logs->is_object()) {
    index.changed_ = true;  // rewrite it in today's format
    return index;
  }
  for (const auto& [path, entry] : logs->items()) {
    const json* summary = Field(entry, "summary");
    std::optional<AppSummary> s = FromJson(summary != nullptr ? *summary : json());
    std::string fp = GetString(entry, "fingerprint");
    if (s && !fp.empty()) index.entries_[path] = {std::move(fp), std::move(*s)};
  }
  return index;
}

std::optional<AppSummary> SummaryIndex::Find(const EventLogLocation& log) {
  auto it = entries_.find(log.path);
  if (it == entries_.end()) return std::nullopt;
  std::optional<std::string> fp = Fingerprint(log);
  if (!fp || *fp != it->second.fingerprint) return std::nullopt;
  seen_[log.path] = true;
  return it->second.summary;
}

void SummaryIndex::Put(const EventLogLocation& log, const AppSummary& summary) {
  seen_[log.path] = true;
  std::optional<std::string> fp = Fingerprint(log);
  if (!fp) return;
  entries_[log.path] = {std::move(*fp), summary};
  changed_ = true;
}

void SummaryIndex::Save() {
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (seen_.count(it->first)) {
      ++it;
      continue;
    }
    it = entries_.erase(it);
    changed_ = true;
  }
  if (!changed_ || path_.empty()) return;
  json logs = json::object();
  for (const auto& [path, e] : entries_) {
    logs[path] = {{"fingerprint", e.fingerprint}, {"summary", ToJson(e.summary)}};
  }
  json j = {{"version", kVersion}, {"logs", std::move(logs)}};
  if (WritePrivateFileAtomically(path_, j.dump() + "\n").ok()) changed_ = false;
}

}  // namespace sp::spark::internal
