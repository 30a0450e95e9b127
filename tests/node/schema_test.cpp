#include "node/schema.h"
#include "replication/wal_file.h"

#include <gtest/gtest.h>

#include "base/fs.h"
#include "base/sha256.h"
#include "tests/support/temp_dir.h"

namespace walship {
namespace {

using walship::testing::TempDir;

std::unique_ptr<SqliteDb> OpenDb(const std::string& path) {
  auto db = SqliteDb::Open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  EXPECT_TRUE(db.ok()) << db.status().ToString();
  return std::move(db).value();
}

int64_t Count(SqliteDb& db, const std::string& where) {
  auto n = db.QueryInt("SELECT count(*) FROM sqlite_schema WHERE " + where);
  EXPECT_TRUE(n.ok()) << n.status().ToString();
  return n.ok() ? *n : -1;
}

int64_t Int(SqliteDb& db, const std::string& sql) {
  auto n = db.QueryInt(sql);
  EXPECT_TRUE(n.ok()) << sql << ": " << n.status().ToString();
  return n.ok() ? *n : -1;
}

TEST(MigrateSchemaTest, FreshDatabaseGetsVersion1AndEveryTable) {
  TempDir tmp;
  auto db = OpenDb(tmp.Sub("index.db"));
  ASSERT_TRUE(MigrateSchema(*db).ok());
  EXPECT_EQ(kSchemaVersion, 3);
  EXPECT_EQ(Int(*db, "SELECT version FROM schema_version"), 3);
  EXPECT_EQ(Int(*db, "SELECT count(*) FROM schema_version"), 1);
  EXPECT_EQ(Count(*db, "type = 'table' AND name = 'archives'"), 1);
  EXPECT_EQ(Count(*db, "type = 'table' AND name = 'archives_fts'"), 1);
  EXPECT_EQ(Count(*db, "type = 'table' AND name = 'position'"), 1);
  EXPECT_EQ(Count(*db, "type = 'trigger' AND tbl_name = 'archives'"), 0);  // migration 2 removed the per-row FTS triggers (node/fts_sync.h)
  EXPECT_EQ(Int(*db, "SELECT count(*) FROM position"), 1);
  EXPECT_EQ(Int(*db, "SELECT timeline FROM position WHERE id = 1"), 1);
  EXPECT_EQ(Int(*db, "SELECT txid FROM position WHERE id = 1"), 0);
  EXPECT_EQ(Int(*db, "SELECT count(*) FROM archives"), 0);
  EXPECT_EQ(Int(*db, "SELECT count(*) FROM cluster_identity WHERE length(cluster_id) = 32"), 1);
}

TEST(MigrateSchemaTest, ArchivesColumnsMatchTheIssue) {
  TempDir tmp;
  auto db = OpenDb(tmp.Sub("index.db"));
  ASSERT_TRUE(MigrateSchema(*db).ok());
  for (const char* col : {"key", "content", "metadata", "version", "sha256", "created_at", "updated_at"}) {
    EXPECT_EQ(Int(*db, std::string("SELECT count(*) FROM pragma_table_info('archives') WHERE name = '") + col + "'"), 1)
        << col;
  }
}

TEST(MigrateSchemaTest, ReopeningIsANoOp) {
  TempDir tmp;
  const std::string path = tmp.Sub("index.db");
  {
    auto db = OpenDb(path);
    ASSERT_TRUE(MigrateSchema(*db).ok());
    ASSERT_TRUE(db->Exec("UPDATE position SET txid = 41; "
                         "INSERT INTO archives (key, content, version, sha256, created_at, updated_at) "
                         "VALUES ('k', 'kept content', 1, 'x', 1, 1)")
                    .ok());
  }
  auto db = OpenDb(path);
  ASSERT_TRUE(MigrateSchema(*db).ok());
  ASSERT_TRUE(MigrateSchema(*db).ok());
  EXPECT_EQ(Int(*db, "SELECT version FROM schema_version"), 3);
  EXPECT_EQ(Int(*db, "SELECT count(*) FROM schema_version"), 1);
  EXPECT_EQ(Int(*db, "SELECT count(*) FROM cluster_identity"), 1);
  EXPECT_EQ(Int(*db, "SELECT count(*) FROM position"), 1);
  EXPECT_EQ(Int(*db, "SELECT txid FROM position"), 41);
  EXPECT_EQ(Int(*db, "SELECT count(*) FROM archives"), 1);
}

TEST(MigrateSchemaTest, NewerSchemaIsRefusedAndLeftUntouched) {
  TempDir tmp;
  const std::string path = tmp.Sub("index.db");
  {
    auto db = OpenDb(path);
    ASSERT_TRUE(db->Exec("CREATE TABLE schema_version (version INTEGER NOT NULL); "
                         "INSERT INTO schema_version VALUES (99); "
                         "CREATE TABLE future (x)")
                    .ok());
  }
  auto before = ReadWholeFile(path);
  ASSERT_TRUE(before.ok());
  {
    auto db = OpenDb(path);
    Status s = MigrateSchema(*db);
    EXPECT_EQ(s.code(), Code::kUnsupported);
    EXPECT_EQ(s.message(), "migrate schema: database is at schema version 99, newer than this walship knows (3)");
    EXPECT_EQ(Int(*db, "SELECT version FROM schema_version"), 99);
    EXPECT_EQ(Count(*db, "name = 'archives'"), 0);
    EXPECT_EQ(Count(*db, "name = 'position'"), 0);
  }
  // Closed before reading the file: plain file calls would drop SQLite's locks.
  auto after = ReadWholeFile(path);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(Sha256Hex(*after), Sha256Hex(*before)) << "the database file changed";
}

TEST(MigrateSchemaTest, AFailedMigrationRollsBackEntirely) {
  TempDir tmp;
  auto db = OpenDb(tmp.Sub("index.db"));
  // A table in the way makes migration 1 fail part-way.
  ASSERT_TRUE(db->Exec("CREATE TABLE position (x)").ok());
  Status s = MigrateSchema(*db);
  EXPECT_EQ(s.code(), Code::kInternal);
  EXPECT_EQ(s.message().rfind("migrate schema to version 1: exec \"", 0), 0u) << s.message();
  EXPECT_NE(s.message().find("\": table position already exists"), std::string::npos) << s.message();
  EXPECT_EQ(Count(*db, "name = 'schema_version'"), 0);  // one transaction: even the version table went
  EXPECT_EQ(Count(*db, "name = 'archives'"), 0);  // created before the failure, rolled back
  EXPECT_EQ(Count(*db, "name = 'archives_fts'"), 0);
  EXPECT_EQ(sqlite3_get_autocommit(db->raw()), 1) << "left a transaction open";
}

TEST(MigrateSchemaTest, ANewDatabaseIsMadeByExactlyOneCommit) {
  // The segment chain of a new database starts on the empty file with one
  // transaction, txid 0 (replication/wal_capture.h).
  TempDir tmp;
  auto db = OpenDb(tmp.Sub("index.db"));
  ASSERT_TRUE(db->Exec("PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0").ok());
  ASSERT_TRUE(MigrateSchema(*db).ok());
  auto scan = ScanWalFile(tmp.Sub("index.db-wal"));
  ASSERT_TRUE(scan.ok()) << scan.status().ToString();
  int commits = 0;
  for (const auto& f : scan->frames) commits += f.is_commit() ? 1 : 0;
  EXPECT_EQ(commits, 1);
}

TEST(MigrateSchemaTest, ConstraintsGuardTheData) {
  TempDir tmp;
  auto db = OpenDb(tmp.Sub("index.db"));
  ASSERT_TRUE(MigrateSchema(*db).ok());
  EXPECT_EQ(db->Exec("INSERT INTO archives (key, content, version, sha256, created_at, updated_at) "
                     "VALUES ('k', 'c', 0, 'x', 1, 1)")
                .code(),
            Code::kConflict);  // version >= 1
  EXPECT_EQ(db->Exec("INSERT INTO position (id, timeline, txid) VALUES (2, 1, 0)").code(), Code::kConflict);
  EXPECT_EQ(db->Exec("UPDATE position SET txid = -1").code(), Code::kConflict);
}

}  // namespace
}  // namespace walship
