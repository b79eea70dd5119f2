// Store locations (store/open.h): which database a location names, and that no form of a
// PostgreSQL password survives DescribeStoreLocation.
#include "store/open.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace sp::store {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(StoreLocationTest, SchemesPathsAndKeyValueStringsPickTheDatabase) {
  struct Case {
    std::string location;
    StoreLocation::Kind kind;
    std::string target;
  };
  for (const Case& c : std::vector<Case>{
           {"/var/lib/sp.db", StoreLocation::Kind::kSqlite, "/var/lib/sp.db"},
           {"sqlite:/var/lib/sp.db", StoreLocation::Kind::kSqlite, "/var/lib/sp.db"},
           {"sqlite:///var/lib/sp.db", StoreLocation::Kind::kSqlite, "/var/lib/sp.db"},
           {"postgresql://u@h:5432/db", StoreLocation::Kind::kPostgres, "postgresql://u@h:5432/db"},
           {"postgres://h/db", StoreLocation::Kind::kPostgres, "postgres://h/db"},
           {"host=db dbname=sp", StoreLocation::Kind::kPostgres, "host=db dbname=sp"},
           {"service=prod", StoreLocation::Kind::kPostgres, "service=prod"},
           {"hostaddr = 10.0.0.1 dbname=sp", StoreLocation::Kind::kPostgres,
            "hostaddr = 10.0.0.1 dbname=sp"},
           {"./a=b.db", StoreLocation::Kind::kSqlite, "./a=b.db"}}) {
    Result<StoreLocation> where = ParseStoreLocation(c.location);
    ASSERT_TRUE(where.ok()) << c.location << ": " << where.status();
    EXPECT_EQ(where->kind, c.kind) << c.location;
    EXPECT_EQ(where->target, c.target) << c.location;
  }
  EXPECT_EQ(ParseStoreLocation("mysql://h/db").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseStoreLocation("").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseStoreLocation("sqlite:").status().code(), StatusCode::kInvalidArgument);
}

TEST(StoreLocationTest, DescribingALocationHidesEveryFormOfItsPassword) {
  for (const std::string location :
       {"postgresql://u:s3cret@h:5432/db", "postgresql://u@h/db?password=s3cret&sslmode=require",
        "host=h password=s3cret dbname=db", "host=h password = s3cret dbname=db",
        "host=h password='s3cret with spaces' dbname=db",
        "host=h password='s3cret \\' quoted' dbname=db"}) {
    std::string shown = DescribeStoreLocation(location);
    EXPECT_THAT(shown, Not(HasSubstr("s3cret"))) << location;
    EXPECT_THAT(shown, Not(HasSubstr("spaces"))) << location;
    EXPECT_THAT(shown, Not(HasSubstr("quoted"))) << location;
    EXPECT_THAT(shown, HasSubstr("***")) << location;
    EXPECT_THAT(shown, HasSubstr("h")) << location;
  }
  EXPECT_EQ(DescribeStoreLocation("/var/lib/sp.db"), "/var/lib/sp.db");
}

}  // namespace
}  // namespace sp::store
