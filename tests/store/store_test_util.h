// Helpers shared by the store tests: a temporary directory removed on destruction, a StatusIs
// matcher, and records with every field (optional ones included) set to a non-default value.
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <filesystem>
#include <string>
#include <system_error>
#include <tuple>

#include "common/clock.h"
#include "common/status.h"
#include "store/records.h"

namespace sp::store::testing {

// A fresh directory under the system temp dir, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "sp-store-XXXXXX").string();
    char* made = mkdtemp(pattern.data());
    EXPECT_NE(made, nullptr) << "mkdtemp " << pattern;
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string File(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// EXPECT_THAT(status, StatusIs(StatusCode::kAborted, HasSubstr("busy")))
MATCHER_P2(StatusIs, code, message_matcher,
           std::string("has code ") + StatusCodeName(code) + " and a message that " +
               ::testing::DescribeMatcher<std::string>(message_matcher)) {
  *result_listener << "status is " << arg.ToString();
  return arg.code() == code &&
         ::testing::ExplainMatchResult(message_matcher, arg.message(), result_listener);
}

inline Time T(int64_t unix_millis) {
  return FromUnixMillis(unix_millis);
}

inline DagRecord FullDag(const std::string& dag_id) {
  DagRecord d;
  d.dag_id = dag_id;
  d.file = "/dags/" + dag_id + ".yaml";
  d.paused = true;
  d.fingerprint = "sha256:abc";
  d.last_scheduled_logical_date = T(1'700'000'000'000);
  return d;
}

inline DagRun FullRun(int64_t id, const std::string& dag_id, RunState state) {
  DagRun r;
  r.id = id;
  r.dag_id = dag_id;
  r.run_id = "manual__" + std::to_string(id);
  r.type = RunType::kBackfill;
  r.logical_date = T(1'700'000'000'000 + id * 1000);
  r.data_interval_start = T(1'699'990'000'000);
  r.data_interval_end = T(1'700'000'000'000);
  r.conf = {{"date", "2026-11-26"}, {"n", 3}, {"nested", {{"list", {1, 2, 3}}}}};
  r.state = state;
  r.created_at = T(1'700'000'000'123);
  r.started_at = T(1'700'000'001'000);
  r.ended_at = T(1'700'000'002'000);
  r.note = "task t failed";
  r.cancel_requested = true;
  return r;
}

inline TaskInstance FullTaskInstance(int64_t run_id, const std::string& task_id) {
  TaskInstance ti;
  ti.run_id = run_id;
  ti.task_id = task_id;
  ti.state = TaskState::kUpForRetry;
  ti.try_number = 2;
  ti.max_tries = 4;
  ti.started_at = T(1'700'000'003'000);
  ti.ended_at = T(1'700'000'004'000);
  ti.next_try_at = T(1'700'000'005'000);
  ti.exit_code = -9;
  ti.outputs = {{"rows", 42}};
  ti.log_path = "/logs/" + task_id + ".log";
  ti.handle = {{"pid", 1234}, {"start_time", 99}};
  ti.reason = "exit code 137";
  return ti;
}

inline StateEvent Event(int64_t run_id, const std::string& task_id, const std::string& from,
                        const std::string& to, int64_t at) {
  StateEvent e;
  e.run_id = run_id;
  e.task_id = task_id;
  e.try_number = 1;
  e.from_state = from;
  e.to_state = to;
  e.reason = from + " -> " + to;
  e.at = T(at);
  return e;
}

// Every field of a record as a tuple, so tests compare whole records with EXPECT_EQ.
inline auto Fields(const DagRecord& d) {
  return std::tie(d.dag_id, d.file, d.paused, d.fingerprint, d.last_scheduled_logical_date);
}
inline auto Fields(const DagRun& r) {
  return std::tie(r.id, r.dag_id, r.run_id, r.type, r.logical_date, r.data_interval_start,
                  r.data_interval_end, r.conf, r.state, r.created_at, r.started_at, r.ended_at,
                  r.note, r.cancel_requested);
}
inline auto Fields(const TaskInstance& t) {
  return std::tie(t.run_id, t.task_id, t.state, t.try_number, t.max_tries, t.started_at, t.ended_at,
                  t.next_try_at, t.exit_code, t.outputs, t.log_path, t.handle, t.reason);
}
inline auto Fields(const StateEvent& e) {
  return std::tie(e.run_id, e.task_id, e.try_number, e.from_state, e.to_state, e.reason, e.at);
}
inline auto Fields(const ClusterRecord& c) {
  return std::tie(c.name, c.backend, c.run_id, c.state, c.handle, c.created_at, c.deleted_at);
}
inline auto Fields(const ConnectionRecord& c) {
  return std::tie(c.conn_id, c.conn_type, c.host, c.port, c.schema, c.login, c.password_sealed,
                  c.extras, c.extras_sealed, c.created_by_run);
}

// Runs `sql` on the database file directly (bypassing the store), e.g. to set user_version.
inline void ExecRaw(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* error = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
  std::string message = error != nullptr ? error : "";
  sqlite3_free(error);
  sqlite3_close(db);
  ASSERT_EQ(rc, SQLITE_OK) << message;
}

// Reads one integer from the database file directly.
inline int64_t QueryRawInt(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  int64_t value = -1;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK &&
      sqlite3_step(stmt) == SQLITE_ROW) {
    value = sqlite3_column_int64(stmt, 0);
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return value;
}

}  // namespace sp::store::testing
