#include "node/sqlite_db.h"

#include <gtest/gtest.h>

#include "tests/support/temp_dir.h"

namespace walship {
namespace {

using walship::testing::TempDir;

TEST(SqliteStatusTest, MapsResultCodesToStatusCodes) {
  struct Case {
    int rc;
    Code code;
  };
  const Case cases[] = {
      {SQLITE_IOERR, Code::kIOError},          {SQLITE_IOERR_FSYNC, Code::kIOError},
      {SQLITE_IOERR_WRITE, Code::kIOError},    {SQLITE_FULL, Code::kIOError},
      {SQLITE_CANTOPEN, Code::kIOError},       {SQLITE_READONLY, Code::kIOError},
      {SQLITE_CORRUPT, Code::kCorruption},     {SQLITE_NOTADB, Code::kCorruption},
      {SQLITE_BUSY, Code::kUnavailable},       {SQLITE_LOCKED, Code::kUnavailable},
      {SQLITE_CONSTRAINT_UNIQUE, Code::kConflict}, {SQLITE_TOOBIG, Code::kTooLarge},
      {SQLITE_ERROR, Code::kInternal},  {SQLITE_MISUSE, Code::kInternal},
      {SQLITE_NOMEM, Code::kInternal},
  };
  for (const auto& c : cases) {
    Status s = SqliteStatus(nullptr, c.rc, "ctx");
    EXPECT_EQ(s.code(), c.code) << c.rc;
    std::string op = c.rc == SQLITE_IOERR_FSYNC ? " (fsync failed)" : c.rc == SQLITE_IOERR_WRITE ? " (write failed)" : "";
    EXPECT_EQ(s.message(), std::string("ctx: ") + sqlite3_errstr(c.rc) + op) << c.rc;
  }
  EXPECT_EQ(SqliteStatus(nullptr, SQLITE_FULL, "commit").message(), "commit: database or disk is full");
  EXPECT_EQ(SqliteStatus(nullptr, SQLITE_IOERR_FSYNC, "commit").message(), "commit: disk I/O error (fsync failed)");
}

TEST(SqliteDbTest, ExecErrorsQuoteTheStatement) {
  TempDir tmp;
  auto db = SqliteDb::Open(tmp.Sub("x.db"), SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  Status s = (*db)->Exec("SELEKT 1");
  EXPECT_EQ(s.code(), Code::kInternal);
  EXPECT_EQ(s.message(), "exec \"SELEKT 1\": near \"SELEKT\": syntax error");
}

TEST(SqliteDbTest, PreparedStatementsAreCachedAndResetAfterALoan) {
  TempDir tmp;
  auto db = SqliteDb::Open(tmp.Sub("x.db"), SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE((*db)->Exec("CREATE TABLE t(v); INSERT INTO t VALUES (1), (2)").ok());
  static const char* kSql = "SELECT v FROM t ORDER BY v";
  sqlite3_stmt* first = nullptr;
  {
    auto st = (*db)->Prepare(kSql);
    ASSERT_TRUE(st.ok());
    first = (*st)->raw();
    auto row = (*st)->Step();
    ASSERT_TRUE(row.ok() && *row);
    EXPECT_EQ((*st)->ColumnInt(0), 1);
  }  // the loan ends mid-result: the statement is reset
  auto st = (*db)->Prepare(kSql);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ((*st)->raw(), first);
  auto row = (*st)->Step();
  ASSERT_TRUE(row.ok() && *row);
  EXPECT_EQ((*st)->ColumnInt(0), 1);
}

TEST(SqliteDbTest, OpenMissingReadOnlyIsAnIOError) {
  TempDir tmp;
  auto db = SqliteDb::Open(tmp.Sub("missing.db"), SQLITE_OPEN_READONLY);
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), Code::kIOError);
  EXPECT_EQ(db.status().message(), "open " + tmp.Sub("missing.db") + ": unable to open database file");
}

TEST(SqliteDbTest, QueryIntWithoutRowsIsInternal) {
  TempDir tmp;
  auto db = SqliteDb::Open(tmp.Sub("x.db"), SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE((*db)->Exec("CREATE TABLE t(v)").ok());
  auto v = (*db)->QueryInt("SELECT v FROM t");
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), Code::kInternal);
  EXPECT_EQ(v.status().message(), "SELECT v FROM t: no row");
}

}  // namespace
}  // namespace walship
