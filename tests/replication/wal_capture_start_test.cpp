// WalCapture::Start: adopting a database the store has never seen, and
// reconciling the store with the database at a restart (a clean stop, a
// crash before a capture, a crash between the seal and the checkpoint), and
// what it does when they do not reconcile: a new base, logged, not an error;
// except the two refusals, a database behind the store and a file its own
// intact WAL cannot explain (here, and end to end in
// tests/integration/restore_test.cpp).
#include <gtest/gtest.h>
#include <unistd.h>

#include <fcntl.h>

#include <filesystem>
#include <set>

#include "replication/wal_capture.h"
#include "tests/replication/wal_capture_fixture.h"

namespace walship {
namespace {

using walship::testing::ExecOrFail;
using walship::testing::kCapturePageSize;
using walship::testing::LogRecorder;
using walship::testing::OpenWriteConnection;

class WalCaptureStartTest : public walship::testing::WalCaptureFixture {
 protected:
  // A new database with a chain of two segments (txids 0 and 1), the
  // second checkpointed.
  void MakeCapturedDatabase() {
    StartNewDatabase();
    PutRows("a", 20);
    ASSERT_EQ(Checkpoint(), SQLITE_OK);
    ASSERT_EQ(Headers().size(), 2u);
  }
  void Restart(int64_t txid) {
    CloseWriter();
    OpenWriter();
    Status s = StartCaptureAt(txid, /*created_database=*/false);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
};

TEST_F(WalCaptureStartTest, AdoptingADatabaseRecordsABaseFirst) {
  OpenWriter();
  CreateSchema();
  PutRows("a", 30);
  ASSERT_EQ(sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr), SQLITE_OK);
  PutRows("b", 30);  // left in the WAL
  Status s = StartCapture(/*created_database=*/false);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(capture_->Stats().bases, 1u);
  EXPECT_EQ(capture_->Stats().last_txid, 2);
  ASSERT_TRUE(store_->BasePath(1).has_value());
  EXPECT_TRUE(Headers().empty());

  PutRows("c", 10);
  ASSERT_EQ(Checkpoint(), SQLITE_OK);
  std::vector<DecodedSegmentHeader> h = Headers();
  ASSERT_EQ(h.size(), 1u);
  EXPECT_TRUE(h[0].header.chain_start());
  EXPECT_EQ(h[0].header.sequence, 1u);
  EXPECT_EQ(h[0].header.first_txid, 3u);
  ExpectReplayEqualsLive(/*from_base=*/true);
}

TEST_F(WalCaptureStartTest, AdoptingADamagedDatabaseIsRefused) {
  OpenWriter();
  CreateSchema();
  PutRows("a", 200);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db_, "SELECT rootpage FROM sqlite_master WHERE name = 'sqlite_autoindex_items_1'", -1,
                               &st, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  const int64_t index_root = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  ASSERT_EQ(sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr), SQLITE_OK);
  CloseWriter();
  // The index's root page, scrambled while no connection has the file open.
  int fd = ::open(db_path_.c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  const std::string junk(100, '\x7f');
  ASSERT_EQ(::pwrite(fd, junk.data(), junk.size(), (index_root - 1) * kCapturePageSize + 8),
            static_cast<ssize_t>(junk.size()));
  ASSERT_EQ(::close(fd), 0);

  OpenWriter();
  Status s = StartCapture(/*created_database=*/false);
  EXPECT_EQ(s.code(), Code::kCorruption) << s.ToString();
  const std::string prefix = "start WAL capture: adopt " + db_path_ + ": ";
  EXPECT_EQ(s.message().substr(0, prefix.size()), prefix) << s.ToString();
  EXPECT_FALSE(store_->BasePath(1).has_value()) << "no base of a damaged database";
}

TEST_F(WalCaptureStartTest, CleanRestartContinuesTheChain) {
  MakeCapturedDatabase();
  const std::vector<DecodedSegmentHeader> before = Headers();
  Restart(txid_);
  EXPECT_EQ(capture_->Stats().bases, 0u);
  EXPECT_EQ(capture_->Stats().last_sequence, 2u);
  EXPECT_EQ(capture_->Stats().last_txid, 1);
  EXPECT_EQ(capture_->Stats().db_checksum, before.back().header.db_checksum_after);
  EXPECT_EQ(Headers().size(), 2u) << "nothing to seal at start";

  PutRows("b", 10);
  ASSERT_EQ(Checkpoint(), SQLITE_OK);
  std::vector<DecodedSegmentHeader> h = Headers();
  ASSERT_EQ(h.size(), 3u);
  EXPECT_FALSE(h[2].header.chain_start());
  EXPECT_EQ(h[2].header.sequence, 3u);
  EXPECT_EQ(h[2].header.first_txid, 2u);
  EXPECT_EQ(h[2].header.previous_sha256, before.back().segment_sha256);
  ExpectReplayEqualsLive(/*from_base=*/false);
}

// Commits after the last capture, then a crash (no checkpoint): at start-up
// they get the txids that end at the database's position and are sealed.
TEST_F(WalCaptureStartTest, RestartSealsCommitsLeftUncapturedByACrash) {
  MakeCapturedDatabase();
  PutRows("b", 10);
  PutRows("a", 5);
  Commit("DELETE FROM items WHERE k = 'a-7'");
  Restart(txid_);
  EXPECT_EQ(capture_->Stats().bases, 0u);
  std::vector<DecodedSegmentHeader> h = Headers();
  ASSERT_EQ(h.size(), 3u);
  EXPECT_FALSE(h[2].header.chain_start());
  EXPECT_EQ(h[2].header.first_txid, 2u);
  EXPECT_EQ(h[2].header.last_txid, 4u);
  EXPECT_EQ(h[2].header.commits.size(), 3u);
  EXPECT_EQ(capture_->Stats().last_txid, 4);

  PutRows("c", 3);
  ASSERT_EQ(Checkpoint(), SQLITE_OK);
  ExpectReplayEqualsLive(/*from_base=*/false);
}

// A crash after the seal, before the checkpoint: the WAL still holds the
// newest segment's frames, then one commit more.
TEST_F(WalCaptureStartTest, RestartBetweenSealAndCheckpoint) {
  MakeCapturedDatabase();
  PutRows("b", 10);
  SealAll();
  PutRows("c", 10);
  Restart(txid_);
  EXPECT_EQ(capture_->Stats().bases, 0u);
  std::vector<DecodedSegmentHeader> h = Headers();
  ASSERT_EQ(h.size(), 4u);
  EXPECT_EQ(h[3].header.first_txid, 3u);
  EXPECT_EQ(h[3].header.last_txid, 3u);
  EXPECT_EQ(h[3].header.wal_first_frame, h[2].header.wal_last_frame + 1);
  ExpectReplayEqualsLive(/*from_base=*/false);
}

// A crash after the checkpoint's passive pass, before the last segment was
// durable (its file is gone): the database file holds only frames that were
// already sealed, so the chain goes on and the WAL's last commit is sealed
// at start-up. Had the pass copied that commit too, the file would not
// reconcile and the chain would break on a new base.
TEST_F(WalCaptureStartTest, RestartAfterTheFirstCheckpointPassBeforeTheLastSealWasDurable) {
  MakeCapturedDatabase();
  PutRows("b", 20);
  // The hand-over before a due checkpoint: seals txid 2 and pins after it.
  ASSERT_TRUE(PrepareUntilReady());
  Commit("UPDATE items SET v = randomblob(200) WHERE k = 'a-1'");  // txid 3: a page txid 2 left alone
  ASSERT_EQ(capture_->BeforeCheckpoint(db_, "test").ToString(), "ok");
  ASSERT_EQ(sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr), SQLITE_OK);
  ASSERT_EQ(capture_->BeforeWalReset().ToString(), "ok");
  auto entries = store_->List();
  ASSERT_TRUE(entries.ok()) << entries.status().ToString();
  ASSERT_EQ(entries->size(), 4u);
  ASSERT_EQ(entries->back().first_txid, 3u);
  CloseWriter();
  ASSERT_TRUE(std::filesystem::remove(entries->back().path));  // the crash came before its rename

  LogRecorder log;
  Restart(txid_);
  EXPECT_EQ(capture_->Stats().bases, 0u);
  EXPECT_FALSE(log.Contains("starting a new base"));
  std::vector<DecodedSegmentHeader> h = Headers();
  ASSERT_EQ(h.size(), 4u);
  EXPECT_EQ(h[3].header.first_txid, 3u);
  EXPECT_EQ(h[3].header.last_txid, 3u);
  ExpectReplayEqualsLive(/*from_base=*/false);
}

TEST_F(WalCaptureStartTest, TxidThatDoesNotAddUpStartsANewBase) {
  MakeCapturedDatabase();
  PutRows("b", 10);  // txid 2, not captured
  LogRecorder log;
  txid_ += 5;        // the position claims more commits than the WAL holds
  Restart(txid_);
  EXPECT_EQ(capture_->Stats().bases, 1u);
  EXPECT_TRUE(log.Contains("the database does not continue the newest segment"));
  EXPECT_TRUE(log.Contains("1 commits in the WAL after segment 2 (txid 1) do not lead to the database's txid 7"));
  ASSERT_TRUE(store_->BasePath(3).has_value());
  EXPECT_EQ(capture_->Stats().last_txid, 7);

  PutRows("c", 10);
  ASSERT_EQ(Checkpoint(), SQLITE_OK);
  std::vector<DecodedSegmentHeader> h = Headers();
  ASSERT_EQ(h.size(), 3u);
  EXPECT_TRUE(h[2].header.chain_start());
  EXPECT_EQ(h[2].header.first_txid, 8u);
  ExpectReplayEqualsLive(/*from_base=*/true);
}

TEST_F(WalCaptureStartTest, DatabaseChangedWhileStoppedStartsANewBase) {
  MakeCapturedDatabase();
  CloseWriter();
  sqlite3* other = OpenWriteConnection(db_path_);
  ExecOrFail(other, "UPDATE items SET v = x'00' WHERE k = 'a-3'; PRAGMA wal_checkpoint(TRUNCATE);");
  ASSERT_EQ(sqlite3_close(other), SQLITE_OK);
  LogRecorder log;
  Restart(txid_);
  EXPECT_EQ(capture_->Stats().bases, 1u);
  EXPECT_TRUE(log.Contains("is not the one segment 2 leaves"));
  ASSERT_TRUE(store_->BasePath(3).has_value());

  PutRows("c", 10);
  ASSERT_EQ(Checkpoint(), SQLITE_OK);
  std::vector<DecodedSegmentHeader> h = Headers();
  ASSERT_EQ(h.size(), 3u);
  EXPECT_TRUE(h[2].header.chain_start());
  ExpectReplayEqualsLive(/*from_base=*/true);
}

// The newest segment was sealed (txid 2), then the WAL that held its frames
// was lost before a checkpoint: the file says txid 1. A new base would serve
// that loss as if nothing happened.
TEST_F(WalCaptureStartTest, DatabaseBehindTheStoreIsRefused) {
  MakeCapturedDatabase();
  PutRows("b", 10);
  SealAll();
  ASSERT_EQ(Headers().back().header.last_txid, 2u);
  CloseWriter();
  ASSERT_TRUE(std::filesystem::remove(db_path_ + "-wal"));
  std::filesystem::remove(db_path_ + "-shm");
  const auto files_before = Headers().size();

  OpenWriter();
  Status s = StartCaptureAt(1, /*created_database=*/false);
  EXPECT_EQ(s.code(), Code::kCorruption) << s.ToString();
  EXPECT_EQ(s.reason(), "db_behind_store");
  EXPECT_EQ(s.message(),
            "the database is at txid 1, behind the segment store, which holds transactions up to 2 (segment 3): its "
            "WAL was deleted or replaced, or the file is an older copy. Nothing was changed; run `walship restore "
            "--data " + std::filesystem::path(db_path_).parent_path().string() + "`");
  EXPECT_EQ(Headers().size(), files_before) << "nothing sealed";
  EXPECT_FALSE(store_->BasePath(4).has_value()) << "no new base";
}

// The WAL still continues the newest segment and holds nothing after it,
// yet a page of the file changed: no checkpoint can explain that.
TEST_F(WalCaptureStartTest, AFileItsOwnWalCannotExplainIsRefused) {
  MakeCapturedDatabase();
  PutRows("b", 10);
  SealAll();
  CloseWriter();
  auto wal = ScanWalFile(db_path_ + "-wal");
  ASSERT_TRUE(wal.ok()) << wal.status().ToString();
  std::set<uint32_t> in_wal;
  for (const auto& f : wal->frames) in_wal.insert(f.page_number);
  const auto pages = static_cast<uint32_t>(std::filesystem::file_size(db_path_) / kCapturePageSize);
  uint32_t page = 2;
  while (page <= pages && in_wal.count(page) != 0) ++page;
  ASSERT_LE(page, pages) << "every page of the file has a frame in the WAL";
  const int fd = ::open(db_path_.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  const off_t at = static_cast<off_t>(page - 1) * kCapturePageSize + 200;
  unsigned char b = 0;
  ASSERT_EQ(::pread(fd, &b, 1, at), 1);
  b ^= 0x04;
  ASSERT_EQ(::pwrite(fd, &b, 1, at), 1);
  ASSERT_EQ(::close(fd), 0);

  OpenWriter();
  Status s = StartCaptureAt(txid_, /*created_database=*/false);
  EXPECT_EQ(s.code(), Code::kCorruption) << s.ToString();
  EXPECT_EQ(s.reason(), "db_file_changed");
  const std::string head = "the database file (checksum ";
  EXPECT_EQ(s.message().substr(0, head.size()), head) << s.message();
  EXPECT_NE(s.message().find("is not the one segment 3 leaves"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("the file was damaged or replaced while the node was stopped. Nothing was changed; run "
                             "`walship restore --data "),
            std::string::npos)
      << s.message();
  EXPECT_FALSE(store_->BasePath(4).has_value()) << "no new base of a damaged file";
}

}  // namespace
}  // namespace walship
