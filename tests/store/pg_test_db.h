// PgTestDatabase: a fresh, empty PostgreSQL database for one test, on the server that the
// `postgres` CTest fixture started (scripts/pg_test_server.sh; its directory is given to the test
// in SPARKPLANE_TEST_PG_DIR, the server's URL is in <dir>/url). Dropped, sessions and all, when
// the object goes away. Tests that use it are named *Postgres* and carry the `postgres` label.
#pragma once

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <ostream>
#include <string>

namespace sp::store::testing {

// The databases a store test runs on; each test suite is instantiated once per backend, named
// Sqlite/... and Postgres/... so the Postgres ones can be selected (CMakeLists.txt).
enum class StoreBackend { kSqlite, kPostgres };

inline void PrintTo(StoreBackend b, std::ostream* os) {
  *os << (b == StoreBackend::kSqlite ? "sqlite" : "postgresql");
}

class PgTestDatabase {
 public:
  PgTestDatabase() {
    const char* dir = std::getenv("SPARKPLANE_TEST_PG_DIR");
    if (dir == nullptr) {
      ADD_FAILURE() << "SPARKPLANE_TEST_PG_DIR is not set: run this test through ctest (label "
                       "postgres), which starts PostgreSQL first";
      return;
    }
    std::ifstream in(std::string(dir) + "/url");
    std::getline(in, server_url_);
    if (server_url_.empty()) {
      ADD_FAILURE() << "no PostgreSQL server URL in " << dir << "/url";
      return;
    }
    static std::atomic<int> counter{0};
    name_ = "sp_test_" + std::to_string(::getpid()) + "_" + std::to_string(++counter);
    if (!Admin("CREATE DATABASE " + name_)) {
      name_.clear();
      return;
    }
    url_ = server_url_.substr(0, server_url_.rfind('/') + 1) + name_;
  }
  ~PgTestDatabase() {
    if (!name_.empty()) Admin("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
  }
  PgTestDatabase(const PgTestDatabase&) = delete;
  PgTestDatabase& operator=(const PgTestDatabase&) = delete;

  // postgresql://postgres@127.0.0.1:PORT/sp_test_...
  const std::string& url() const { return url_; }
  // The server's maintenance database, for tests that look at sessions (pg_stat_activity).
  const std::string& server_url() const { return server_url_; }

  // Runs `sql` on this database outside any store (to corrupt or inspect it); false on error.
  bool Exec(const std::string& sql) const { return Run(url_, sql); }
  bool Admin(const std::string& sql) const { return Run(server_url_, sql); }

 private:
  static bool Run(const std::string& url, const std::string& sql) {
    PGconn* conn = PQconnectdb(url.c_str());
    if (PQstatus(conn) != CONNECTION_OK) {
      ADD_FAILURE() << "cannot connect to " << url << ": " << PQerrorMessage(conn);
      PQfinish(conn);
      return false;
    }
    PGresult* r = PQexec(conn, sql.c_str());
    ExecStatusType status = PQresultStatus(r);
    bool ok = status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
    if (!ok) ADD_FAILURE() << sql << ": " << PQresultErrorMessage(r);
    PQclear(r);
    PQfinish(conn);
    return ok;
  }

  std::string server_url_;
  std::string url_;
  std::string name_;
};

}  // namespace sp::store::testing
