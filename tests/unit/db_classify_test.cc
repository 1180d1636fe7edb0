// db::classify: which database failures answer 503 (the database is away or refuses the
// work; nothing committed), which are retried, and which stay bugs (500).
#include <gtest/gtest.h>

#include "infra/db.h"

namespace cartgate {
namespace {

db::outcome of(const char* sqlstate) { return db::classify(pqxx::sql_error("failed", "INSERT 1", sqlstate)); }

TEST(DbClassify, WritesRefusedAreUnavailable) {
  // default_transaction_read_only, a read-only server or a standby: "cannot execute
  // INSERT in a read-only transaction" (tests/drills, refuse-writes).
  EXPECT_EQ(of("25006"), db::outcome::unavailable);
}

TEST(DbClassify, InsufficientResourcesAreUnavailable) {
  EXPECT_EQ(of("53100"), db::outcome::unavailable);  // disk full
  EXPECT_EQ(of("53200"), db::outcome::unavailable);  // out of memory
  EXPECT_EQ(of("53300"), db::outcome::unavailable);  // too many connections
}

TEST(DbClassify, ConnectionLossStaysUnavailable) {
  EXPECT_EQ(of("57P01"), db::outcome::unavailable);
  EXPECT_EQ(of("08006"), db::outcome::unavailable);
}

TEST(DbClassify, OtherErrorsStayBugs) {
  EXPECT_EQ(of("42P01"), db::outcome::bug);  // undefined table
  EXPECT_EQ(of("25P02"), db::outcome::bug);  // in failed transaction: not class 25006
  EXPECT_EQ(of("22P02"), db::outcome::bug);  // invalid text representation
}

}  // namespace
}  // namespace cartgate
