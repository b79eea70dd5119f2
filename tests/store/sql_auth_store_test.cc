// The AuthStore on both SQL databases (store/internal/sql_auth_store.h): users, sessions and API
// tokens, and what a second connection sees. On SQLite (label unit) and PostgreSQL (label
// postgres).
#include <gtest/gtest.h>

#include <memory>

#include "store/auth_store.h"
#include "store/open.h"
#include "store/pg_test_db.h"
#include "store/store_test_util.h"

namespace sp::store {
namespace {

using Backend = testing::StoreBackend;

class AuthStoreTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (GetParam() == Backend::kPostgres) {
      pg_ = std::make_unique<testing::PgTestDatabase>();
      path_ = pg_->url();
      ASSERT_FALSE(path_.empty());
      return;
    }
    path_ = dir_.File("auth.db");
  }
  testing::TempDir dir_;
  std::unique_ptr<testing::PgTestDatabase> pg_;
  std::string path_;  // the store's location
};

INSTANTIATE_TEST_SUITE_P(Sqlite, AuthStoreTest, ::testing::Values(Backend::kSqlite));
INSTANTIATE_TEST_SUITE_P(Postgres, AuthStoreTest, ::testing::Values(Backend::kPostgres));

TEST_P(AuthStoreTest, UsersAreUniqueAndDeletingOneDeletesItsSessionsAndTokens) {
  auto s = OpenAuthStore(path_);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  AuthStore& a = **s;
  ASSERT_TRUE(a.CreateUser({"ann", "hash", "admin", Time{}}).ok());
  EXPECT_EQ(a.CreateUser({"ann", "hash2", "viewer", Time{}}).code(), StatusCode::kAlreadyExists);
  ASSERT_TRUE(a.PutSession({"sh", "ann", "csrf", Time{}, Time{} + Millis(1000)}).ok());
  ASSERT_TRUE(a.PutApiToken({"tok_1", "th", "ann", "ci", "viewer", Time{}, std::nullopt}).ok());
  EXPECT_TRUE(*a.DeleteUser("ann"));
  EXPECT_FALSE(a.GetSession("sh")->has_value());
  EXPECT_FALSE(a.FindApiToken("th")->has_value());
  EXPECT_FALSE(*a.DeleteUser("ann"));
}

// A revocation through another connection is seen by one that read the token before. (Across
// processes, with the server's three connections, ApiTest.RevokedTokensAndDeletedUsersLoseAccess
// covers it: it failed while opening a database closed a descriptor and so dropped the process's
// locks, letting an exiting CLI delete the WAL under the server.)
TEST_P(AuthStoreTest, ARevocationByAnotherConnectionIsSeenAtOnce) {
  auto server = OpenAuthStore(path_);
  ASSERT_TRUE(server.ok());
  ASSERT_TRUE((*server)->CreateUser({"bob", "hash", "viewer", Time{}}).ok());
  ASSERT_TRUE(
      (*server)->PutApiToken({"tok_2", "th2", "bob", "", "viewer", Time{}, std::nullopt}).ok());
  ASSERT_TRUE((*server)->FindApiToken("th2")->has_value());
  {
    auto cli = OpenAuthStore(path_);
    ASSERT_TRUE(cli.ok());
    ASSERT_TRUE(*(*cli)->RevokeApiToken("tok_2", Time{} + Millis(5)));
  }
  auto seen = (*server)->FindApiToken("th2");
  ASSERT_TRUE(seen.ok() && seen->has_value());
  EXPECT_TRUE((*seen)->revoked_at.has_value());
  EXPECT_FALSE(*(*server)->RevokeApiToken("tok_2", Time{})) << "revoked once only";
}

TEST_P(AuthStoreTest, ExpiredSessionsAreDeleted) {
  auto s = OpenAuthStore(path_);
  ASSERT_TRUE(s.ok());
  ASSERT_TRUE((*s)->CreateUser({"cy", "hash", "viewer", Time{}}).ok());
  ASSERT_TRUE((*s)->PutSession({"old", "cy", "c", Time{}, Time{} + Millis(10)}).ok());
  ASSERT_TRUE((*s)->PutSession({"new", "cy", "c", Time{}, Time{} + Millis(1000)}).ok());
  ASSERT_TRUE((*s)->DeleteExpiredSessions(Time{} + Millis(500)).ok());
  EXPECT_FALSE((*s)->GetSession("old")->has_value());
  EXPECT_TRUE((*s)->GetSession("new")->has_value());
}

}  // namespace
}  // namespace sp::store
