#include "node/metered_vfs.h"

#include <gtest/gtest.h>

#include "node/sqlite_db.h"
#include "tests/support/temp_dir.h"

namespace walship {
namespace {

using walship::testing::TempDir;

class MeteredVfsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Disarm();
    ASSERT_TRUE(RegisterMeteredVfs(&fsync_seconds_).ok());
  }
  void TearDown() override {
    Disarm();  // the switches are process-wide
    db_.reset();
    RegisterMeteredVfs(nullptr).IgnoreError();  // fsync_seconds_ goes away with the fixture
  }
  static void Disarm() {
    MeteredVfsFaults().Disarm();
    MeteredVfsFaults().write_error = 0;
  }

  void OpenDb() {
    auto db = SqliteDb::Open(tmp_.Sub("x.db"), SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, kMeteredVfsName);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(db).value();
    ASSERT_TRUE(db_->Exec("PRAGMA synchronous=FULL; CREATE TABLE t(v)").ok());
  }

  Status Insert() { return db_->Exec("INSERT INTO t VALUES (randomblob(100))"); }

  TempDir tmp_;
  Histogram fsync_seconds_{LatencyBuckets()};
  std::unique_ptr<SqliteDb> db_;
};

TEST_F(MeteredVfsTest, RegistrationIsIdempotentAndNotTheDefault) {
  ASSERT_TRUE(RegisterMeteredVfs(&fsync_seconds_).ok());
  ASSERT_TRUE(RegisterMeteredVfs(&fsync_seconds_).ok());
  sqlite3_vfs* vfs = sqlite3_vfs_find(kMeteredVfsName);
  ASSERT_NE(vfs, nullptr);
  EXPECT_STREQ(vfs->zName, "walship");
  EXPECT_NE(sqlite3_vfs_find(nullptr), vfs);
}

TEST_F(MeteredVfsTest, PassesReadsAndWritesThrough) {
  OpenDb();
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(Insert().ok());
  auto n = db_->QueryInt("SELECT count(*) FROM t");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 20);
  auto ok = db_->QueryInt("SELECT count(*) FROM pragma_integrity_check WHERE integrity_check = 'ok'");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, 1);
}

TEST_F(MeteredVfsTest, WorksInWalModeWithSharedMemory) {
  OpenDb();
  ASSERT_TRUE(db_->Exec("PRAGMA journal_mode=WAL").ok());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(Insert().ok());
  auto reader = SqliteDb::Open(tmp_.Sub("x.db"), SQLITE_OPEN_READONLY, kMeteredVfsName);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  auto n = (*reader)->QueryInt("SELECT count(*) FROM t");
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(*n, 5);
}

TEST_F(MeteredVfsTest, TimesEverySync) {
  OpenDb();
  const uint64_t before = fsync_seconds_.Count();
  ASSERT_TRUE(Insert().ok());
  EXPECT_GT(fsync_seconds_.Count(), before);
}

TEST_F(MeteredVfsTest, SyncCountdownFailsTheNthSyncOnce) {
  OpenDb();
  const int failed = MeteredVfsFaults().syncs_failed.load();
  MeteredVfsFaults().sync_countdown = 0;
  Status s = Insert();
  EXPECT_EQ(s.code(), Code::kIOError);
  EXPECT_EQ(s.message(), "exec \"INSERT INTO t VALUES (randomblob(100))\": disk I/O error");
  EXPECT_EQ(MeteredVfsFaults().syncs_failed.load(), failed + 1);
  EXPECT_EQ(MeteredVfsFaults().sync_countdown.load(), -1);  // one shot: disarmed after tripping
  EXPECT_EQ(sqlite3_extended_errcode(db_->raw()), SQLITE_IOERR_FSYNC);
  // The VFS itself does not stop: the next call goes through (stopping is the writer's job).
  EXPECT_TRUE(Insert().ok());
  auto n = db_->QueryInt("SELECT count(*) FROM t");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 1);
}

TEST_F(MeteredVfsTest, CountdownSkipsTheFirstNCalls) {
  OpenDb();
  MeteredVfsFaults().sync_countdown = 1000000;
  ASSERT_TRUE(Insert().ok());
  const int remaining = MeteredVfsFaults().sync_countdown.load();
  EXPECT_LT(remaining, 1000000);  // each sync counted down
  EXPECT_GE(remaining, 0);
  const int syncs_per_insert = 1000000 - remaining;
  // Arm so that the second insert's last sync fails.
  MeteredVfsFaults().sync_countdown = 2 * syncs_per_insert - 1;
  EXPECT_TRUE(Insert().ok());
  EXPECT_EQ(Insert().code(), Code::kIOError);
}

TEST_F(MeteredVfsTest, WriteCountdownFailsWithIoErrWriteByDefault) {
  OpenDb();
  const int failed = MeteredVfsFaults().writes_failed.load();
  MeteredVfsFaults().write_countdown = 0;
  Status s = Insert();
  EXPECT_EQ(s.code(), Code::kIOError);
  EXPECT_EQ(s.message(), "exec \"INSERT INTO t VALUES (randomblob(100))\": disk I/O error");
  EXPECT_EQ(sqlite3_extended_errcode(db_->raw()), SQLITE_IOERR_WRITE);
  EXPECT_EQ(MeteredVfsFaults().writes_failed.load(), failed + 1);
}

TEST_F(MeteredVfsTest, WriteErrorCanBeDiskFull) {
  OpenDb();
  MeteredVfsFaults().write_error = SQLITE_FULL;
  MeteredVfsFaults().write_countdown = 0;
  Status s = Insert();
  EXPECT_EQ(s.code(), Code::kIOError);
  EXPECT_EQ(s.message(), "exec \"INSERT INTO t VALUES (randomblob(100))\": database or disk is full");
  EXPECT_EQ(sqlite3_errcode(db_->raw()), SQLITE_FULL);
}

TEST_F(MeteredVfsTest, DisarmStopsPendingFaults) {
  OpenDb();
  MeteredVfsFaults().sync_countdown = 0;
  MeteredVfsFaults().write_countdown = 0;
  MeteredVfsFaults().Disarm();
  EXPECT_EQ(MeteredVfsFaults().sync_countdown.load(), -1);
  EXPECT_EQ(MeteredVfsFaults().write_countdown.load(), -1);
  EXPECT_TRUE(Insert().ok());
}

TEST_F(MeteredVfsTest, FailedOpenIsReportedAndCleanedUp) {
  auto db = SqliteDb::Open(tmp_.Sub("missing/x.db"), SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, kMeteredVfsName);
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), Code::kIOError);
  EXPECT_EQ(db.status().message(), "open " + tmp_.Sub("missing/x.db") + ": unable to open database file");
}

TEST_F(MeteredVfsTest, WithoutAHistogramSyncsStillWork) {
  ASSERT_TRUE(RegisterMeteredVfs(nullptr).ok());
  OpenDb();
  EXPECT_TRUE(Insert().ok());
  EXPECT_EQ(fsync_seconds_.Count(), 0u);
}

}  // namespace
}  // namespace walship
