// WAL capture on a live SQLite write connection: a new database, a reader
// that keeps the WAL from resetting, a WAL restarted in place, a rolled-back
// transaction's spilled frames, and writes behind the capture's back. Each
// test replays the store and compares the result with the live database.
#include "replication/wal_capture.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "replication/wal_file.h"
#include "tests/replication/wal_capture_fixture.h"

namespace walship {
namespace {

using walship::testing::OpenReadOnlyConnection;
using walship::testing::OpenWriteConnection;
using walship::testing::ExecOrFail;
using walship::testing::kCapturePageSize;
using walship::testing::LogRecorder;

class WalCaptureTest : public walship::testing::WalCaptureFixture {
 protected:
  uint64_t WalFrames() const {
    const int64_t bytes = FileSizeOrZero(db_path_ + "-wal");
    return bytes <= 32 ? 0 : static_cast<uint64_t>(bytes - 32) / (kCapturePageSize + 24);
  }
};

TEST_F(WalCaptureTest, NewDatabaseStartsTheChainOnTheEmptyFile) {
  StartNewDatabase();
  std::vector<DecodedSegmentHeader> h = Headers();
  ASSERT_EQ(h.size(), 1u) << "the schema's commit is sealed at start";
  EXPECT_TRUE(h[0].header.chain_start());
  EXPECT_EQ(h[0].header.sequence, 1u);
  EXPECT_EQ(h[0].header.db_pages_before, 0u);
  EXPECT_EQ(h[0].header.db_checksum_before, 0u);
  EXPECT_EQ(h[0].header.first_txid, 0u);
  EXPECT_EQ(h[0].header.last_txid, 0u);
  EXPECT_FALSE(store_->BasePath(1).has_value());

  for (int round = 0; round < 4; ++round) {
    PutRows("a" + std::to_string(round), 20);
    PutRows("b", 5 + round);  // overwrites
    Commit("DELETE FROM items WHERE k = 'b-1'");
    ASSERT_EQ(Checkpoint(), SQLITE_OK);
  }
  h = Headers();
  ASSERT_EQ(h.size(), 5u);
  EXPECT_EQ(h.back().header.last_txid, 12u);
  EXPECT_EQ(h[1].header.commits.size(), 3u);
  EXPECT_EQ(h[1].header.commits[0].txid, 1u);
  EXPECT_EQ(h[1].header.commits[0].commit_unix_ms, 1'700'000'000'003);
  CaptureStats stats = capture_->Stats();
  EXPECT_EQ(stats.last_sequence, 5u);
  EXPECT_EQ(stats.last_txid, 12);
  EXPECT_EQ(stats.bases, 0u);
  EXPECT_EQ(stats.db_checksum, h.back().header.db_checksum_after);
  ExpectReplayEqualsLive(/*from_base=*/false);
}

TEST_F(WalCaptureTest, NothingCommittedSealsNothing) {
  StartNewDatabase();
  ASSERT_EQ(Checkpoint(), SQLITE_OK);
  ASSERT_EQ(Checkpoint(), SQLITE_OK);
  EXPECT_EQ(Headers().size(), 1u);
  ExpectReplayEqualsLive(/*from_base=*/false);
}

// PrepareCheckpoint hands the commits to the sealer and says "not yet"
// until they are durable; BeforeCheckpoint then seals only what came after.
TEST_F(WalCaptureTest, PrepareCheckpointSealsFirstSoTheCheckpointWaitsOnlyForLaterCommits) {
  StartNewDatabase();
  const size_t before = Headers().size();
  PutRows("a", 50);
  PutRows("b", 50);
  ASSERT_TRUE(PrepareUntilReady());
  std::vector<DecodedSegmentHeader> h = Headers();
  ASSERT_EQ(h.size(), before + 1) << "the two commits, sealed before any checkpoint";
  EXPECT_EQ(h.back().header.commits.size(), 2u);
  EXPECT_TRUE(capture_->PrepareCheckpoint()) << "nothing new: ready at once";
  EXPECT_EQ(Headers().size(), before + 1);
  PutRows("c", 5);
  ASSERT_EQ(Checkpoint(), SQLITE_OK);
  h = Headers();
  ASSERT_EQ(h.size(), before + 2);
  EXPECT_EQ(h.back().header.commits.size(), 1u) << "only the commit made after the hand-over";
  ExpectReplayEqualsLive(/*from_base=*/false);
}

// The capture's pin: once a collect's segment is sealed, the checkpoint's
// passive pass copies exactly the frames up to it while the commits made
// after it seal; only after BeforeWalReset can the rest be copied.
TEST_F(WalCaptureTest, TheFirstCheckpointPassCopiesOnlyFramesAlreadySealed) {
  StartNewDatabase();
  PutRows("a", 50);
  PutRows("b", 50);
  ASSERT_TRUE(PrepareUntilReady());
  const uint32_t sealed_end = Headers().back().header.wal_last_frame;
  PutRows("c", 50);
  ASSERT_EQ(capture_->BeforeCheckpoint(db_, "test").ToString(), "ok");
  int log_frames = 0;
  int copied = 0;
  ASSERT_EQ(sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_PASSIVE, &log_frames, &copied), SQLITE_OK);
  EXPECT_EQ(static_cast<uint32_t>(copied), sealed_end) << "frames past the sealed segment stay in the WAL";
  EXPECT_GT(static_cast<uint32_t>(log_frames), sealed_end);
  ASSERT_EQ(capture_->BeforeWalReset().ToString(), "ok");
  std::vector<DecodedSegmentHeader> h = Headers();
  EXPECT_EQ(h.back().header.wal_last_frame, static_cast<uint32_t>(log_frames)) << "the last commit, sealed";
  EXPECT_EQ(h.back().header.first_txid, 3u);
  ASSERT_EQ(sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr), SQLITE_OK);
  EXPECT_EQ(WalFrames(), 0u) << "the pin is gone: the WAL was reset";
  ExpectReplayEqualsLive(/*from_base=*/false);
}

TEST_F(WalCaptureTest, ReaderKeepsTheWalGenerationAndCaptureTakesOnlyNewFrames) {
  StartNewDatabase();
  PutRows("a", 10);
  ASSERT_EQ(Checkpoint(), SQLITE_OK);

  sqlite3* reader = OpenReadOnlyConnection(db_path_);
  ExecOrFail(reader, "BEGIN; SELECT count(*) FROM items;");  // holds its snapshot
  PutRows("b", 10);
  PutRows("a", 3);
  EXPECT_EQ(Checkpoint(), SQLITE_BUSY) << "the reader's snapshot keeps the checkpoint from completing";
  PutRows("c", 10);
  Commit("DELETE FROM items WHERE k = 'a-2'");
  EXPECT_EQ(Checkpoint(), SQLITE_BUSY);

  std::vector<DecodedSegmentHeader> h = Headers();
  ASSERT_EQ(h.size(), 4u);
  const SegmentHeader busy1 = h[2].header;  // copies: h is assigned again below
  const SegmentHeader busy2 = h[3].header;
  EXPECT_EQ(busy2.wal_salt1, busy1.wal_salt1) << "the same WAL generation";
  EXPECT_EQ(busy2.wal_salt2, busy1.wal_salt2);
  EXPECT_EQ(busy2.wal_first_frame, busy1.wal_last_frame + 1) << "no frame skipped or taken twice";
  EXPECT_EQ(busy1.first_txid, 2u);
  EXPECT_EQ(busy1.last_txid, 3u);
  EXPECT_EQ(busy2.first_txid, 4u);
  EXPECT_EQ(busy2.last_txid, 5u);
  ExpectContiguous(h);

  ExecOrFail(reader, "COMMIT");
  ASSERT_EQ(sqlite3_close(reader), SQLITE_OK);
  ASSERT_EQ(Checkpoint(), SQLITE_OK) << "nothing new to capture; the WAL resets";
  EXPECT_EQ(Headers().size(), 4u);
  PutRows("d", 4);
  ASSERT_EQ(Checkpoint(), SQLITE_OK);
  h = Headers();
  ASSERT_EQ(h.size(), 5u);
  EXPECT_NE(h[4].header.wal_salt1, busy2.wal_salt1) << "a restarted WAL";
  EXPECT_EQ(h[4].header.wal_first_frame, 1u);
  EXPECT_EQ(h[4].header.first_txid, 6u);
  ExpectReplayEqualsLive(/*from_base=*/false);
}

// A reader on the newest snapshot lets the checkpoint copy every frame but
// not reset the WAL; the next write restarts it at frame 1 with new salts,
// in place, the older frames still in the file behind the new ones.
TEST_F(WalCaptureTest, WalRestartedInPlaceIsCapturedFromFrameOne) {
  StartNewDatabase();
  PutRows("a", 30);
  PutRows("b", 30);
  sqlite3* reader = OpenReadOnlyConnection(db_path_);
  ExecOrFail(reader, "BEGIN; SELECT count(*) FROM items;");
  EXPECT_EQ(Checkpoint(), SQLITE_BUSY);
  ExecOrFail(reader, "COMMIT");
  ASSERT_EQ(sqlite3_close(reader), SQLITE_OK);
  const uint64_t frames_before = WalFrames();

  PutRows("c", 2, 10);
  EXPECT_EQ(WalFrames(), frames_before) << "the new frames overwrite the old ones in place";
  SealAll();
  std::vector<DecodedSegmentHeader> h = Headers();
  ASSERT_EQ(h.size(), 3u);
  EXPECT_NE(h[2].header.wal_salt1, h[1].header.wal_salt1);
  EXPECT_EQ(h[2].header.wal_first_frame, 1u);
  EXPECT_LT(h[2].header.wal_last_frame, frames_before) << "older frames are behind the capture's stop";
  EXPECT_EQ(h[2].header.first_txid, 3u);
  EXPECT_EQ(h[2].header.last_txid, 3u);
  ExpectReplayEqualsLive(/*from_base=*/false);
}

TEST_F(WalCaptureTest, RolledBackSpilledFramesAreNotCaptured) {
  StartNewDatabase();
  PutRows("a", 5);
  ExecOrFail(db_, "PRAGMA cache_size = 2");
  ExecOrFail(db_, "BEGIN IMMEDIATE");
  ExecOrFail(db_,
             "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 400) "
             "INSERT INTO items (k, v) SELECT 'spill-' || i, randomblob(3000) FROM n");
  ExecOrFail(db_, "ROLLBACK");
  auto wal = ScanWalFile(db_path_ + "-wal", {});
  ASSERT_TRUE(wal.ok()) << wal.status().ToString();
  ASSERT_GT(wal->uncommitted_frames, 100u) << "the big transaction spilled frames into the WAL";
  EXPECT_EQ(wal->end, WalEnd::kTornTail);

  SealAll();
  std::vector<DecodedSegmentHeader> h = Headers();
  ASSERT_EQ(h.size(), 2u);
  EXPECT_EQ(h[1].header.wal_last_frame, wal->last_commit_frame()) << "the capture stops at the last commit";
  EXPECT_EQ(h[1].header.first_txid, 1u);
  EXPECT_EQ(h[1].header.last_txid, 1u);
  EXPECT_EQ(h[1].header.frame_count, h[1].header.wal_last_frame - h[1].header.wal_first_frame + 1);

  PutRows("b", 5);  // overwrites the spilled frames in the WAL
  ASSERT_EQ(Checkpoint(), SQLITE_OK);
  ASSERT_EQ(Headers().size(), 3u);
  ExpectReplayEqualsLive(/*from_base=*/false);
}

TEST_F(WalCaptureTest, ForeignCommitStartsANewBase) {
  StartNewDatabase();
  PutRows("a", 10);
  ASSERT_EQ(Checkpoint(), SQLITE_OK);
  LogRecorder log;
  PutRows("b", 10);
  sqlite3* other = OpenWriteConnection(db_path_);
  ExecOrFail(other, "INSERT INTO items (k, v) VALUES ('foreign', x'01')");
  ASSERT_EQ(sqlite3_close(other), SQLITE_OK);

  ASSERT_EQ(Checkpoint(), SQLITE_OK) << "a new base is no error";
  EXPECT_TRUE(log.Contains("starting a new base")) << "the new base is logged";
  EXPECT_TRUE(log.Contains("frames were written behind the node's back"));
  EXPECT_EQ(capture_->Stats().bases, 1u);
  ASSERT_TRUE(store_->BasePath(3).has_value()) << "the base takes the next sequence";
  EXPECT_EQ(Headers().size(), 2u) << "the foreign frames are not sealed as if continuous";

  PutRows("c", 10);
  ASSERT_EQ(Checkpoint(), SQLITE_OK);
  std::vector<DecodedSegmentHeader> h = Headers();
  ASSERT_EQ(h.size(), 3u);
  EXPECT_TRUE(h[2].header.chain_start());
  EXPECT_EQ(h[2].header.sequence, 3u);
  EXPECT_EQ(h[2].header.first_txid, 3u) << "txid 2 is in the base";
  EXPECT_NE(h[2].header.db_pages_before, 0u);
  auto base = DbChecksum::ComputeFromFile(*store_->BasePath(3), kCapturePageSize);
  ASSERT_TRUE(base.ok()) << base.status().ToString();
  EXPECT_EQ(h[2].header.db_checksum_before, base->Value());
  ExpectReplayEqualsLive(/*from_base=*/true);
}

// While the capture's pin holds a snapshot (after every collect), another
// connection's checkpoint cannot copy frames the capture has not sealed, nor
// reset the WAL under them: the chain goes on.
TEST_F(WalCaptureTest, ThePinKeepsAForeignCheckpointFromTakingUncapturedFrames) {
  StartNewDatabase();  // segment 1 sealed, the pin right after it
  const uint32_t sealed_end = Headers().back().header.wal_last_frame;
  PutRows("a", 10);
  sqlite3* other = OpenWriteConnection(db_path_);
  int log_frames = 0;
  int copied = 0;
  EXPECT_EQ(sqlite3_wal_checkpoint_v2(other, nullptr, SQLITE_CHECKPOINT_TRUNCATE, &log_frames, &copied), SQLITE_BUSY);
  EXPECT_EQ(static_cast<uint32_t>(copied), sealed_end);
  EXPECT_GT(static_cast<uint32_t>(log_frames), sealed_end);
  ASSERT_EQ(sqlite3_close(other), SQLITE_OK);
  PutRows("b", 10);
  ASSERT_EQ(Checkpoint(), SQLITE_OK);
  EXPECT_EQ(capture_->Stats().bases, 0u);
  EXPECT_EQ(Headers().size(), 2u);
  ExpectReplayEqualsLive(/*from_base=*/false);
}

// Another connection checkpoints (and resets the WAL) while the capture has
// a commit it has not taken, at a moment no pin holds it back (between a
// checkpoint and the next collect): its frames are gone from the WAL.
TEST_F(WalCaptureTest, ForeignCheckpointOfUncapturedFramesStartsANewBase) {
  StartNewDatabase();
  ASSERT_EQ(Checkpoint(), SQLITE_OK);  // lets the pin go; nothing collects after it
  PutRows("a", 10);
  sqlite3* other = OpenWriteConnection(db_path_);
  ExecOrFail(other, "PRAGMA wal_checkpoint(TRUNCATE)");
  ASSERT_EQ(sqlite3_close(other), SQLITE_OK);
  PutRows("b", 10);
  ASSERT_EQ(Checkpoint(), SQLITE_OK);
  EXPECT_EQ(capture_->Stats().bases, 1u);
  EXPECT_EQ(Headers().size(), 1u);
  PutRows("c", 3);
  ASSERT_EQ(Checkpoint(), SQLITE_OK);
  ExpectReplayEqualsLive(/*from_base=*/true);
}

// The same, with one foreign commit after the foreign checkpoint: the WAL
// then holds as many commits as the writer made, but not the writer's. A
// count of commits cannot tell; PRAGMA data_version does.
TEST_F(WalCaptureTest, ForeignCheckpointAndCommitStartANewBase) {
  StartNewDatabase();
  ASSERT_EQ(Checkpoint(), SQLITE_OK);  // no pin, as above
  PutRows("a", 200);  // many pages the foreign commit does not write
  sqlite3* other = OpenWriteConnection(db_path_);
  ExecOrFail(other, "PRAGMA wal_checkpoint(TRUNCATE)");
  ExecOrFail(other, "INSERT INTO items (k, v) VALUES ('foreign', x'01')");
  ASSERT_EQ(sqlite3_close(other), SQLITE_OK);
  ASSERT_EQ(Checkpoint(), SQLITE_OK);
  EXPECT_EQ(capture_->Stats().bases, 1u);
  PutRows("c", 3);
  ASSERT_EQ(Checkpoint(), SQLITE_OK);
  ExpectReplayEqualsLive(/*from_base=*/true);
}

TEST_F(WalCaptureTest, CollectIntervalSealsBetweenCheckpointsAndZeroWaitsForTheCheckpoint) {
  StartNewDatabase();  // segment 1: the schema
  capture_->SetCollectInterval(100);
  for (int i = 0; i < 3; ++i) {
    clock_.AdvanceMonotonicMillis(150);  // each commit comes after a full interval
    PutRows("a" + std::to_string(i), 5);
  }
  ASSERT_EQ(Checkpoint(), SQLITE_OK);
  std::vector<DecodedSegmentHeader> h = Headers();
  ASSERT_EQ(h.size(), 4u) << "one segment per interval: the commits were collected as they came";
  for (size_t i = 1; i < h.size(); ++i) EXPECT_EQ(h[i].header.commits.size(), 1u);

  capture_->SetCollectInterval(0);
  for (int i = 0; i < 3; ++i) {
    clock_.AdvanceMonotonicMillis(150);
    PutRows("b" + std::to_string(i), 5);
  }
  ASSERT_EQ(Checkpoint(), SQLITE_OK);
  h = Headers();
  ASSERT_EQ(h.size(), 5u) << "interval 0: one segment at the checkpoint";
  EXPECT_EQ(h.back().header.commits.size(), 3u);
  ExpectReplayEqualsLive(/*from_base=*/false);
}

// A byte limit cuts segments whatever the interval says, so a standby's
// limit on a push can be kept above every segment (the interval alone let a
// fast writer put 1.4 MB of compressed frames in one 100 ms segment).
TEST_F(WalCaptureTest, CommitsHoldingTheWalByteLimitAreCollectedAtOnce) {
  StartNewDatabase();
  ASSERT_EQ(Checkpoint(), SQLITE_OK);  // the schema's segment; the WAL starts over
  capture_->SetCollectInterval(0);     // only the limit cuts segments before the checkpoint
  constexpr int64_t kLimit = 64 << 10;
  capture_->SetCollectMaxWalBytes(kLimit);
  for (int i = 0; i < 16; ++i) PutRows("a" + std::to_string(i), 8, 2000);  // ~16 KB of rows each
  ASSERT_EQ(Checkpoint(), SQLITE_OK);
  std::vector<DecodedSegmentHeader> h = Headers();
  ASSERT_GE(h.size(), 5u) << "the limit cut no segment: only the checkpoint did";
  for (size_t i = 1; i + 1 < h.size(); ++i) {  // the last one is what the checkpoint found pending
    // The limit counts bytes of WAL frames (a page and a 24-byte header each).
    const uint64_t wal_bytes = uint64_t{h[i].header.frame_count} * (h[i].header.page_size + kWalFrameHeaderSize);
    EXPECT_GE(wal_bytes, static_cast<uint64_t>(kLimit)) << "segment " << i << " was cut early";
    EXPECT_LT(wal_bytes, static_cast<uint64_t>(2 * kLimit)) << "segment " << i << " is too large";
  }
  ExpectReplayEqualsLive(/*from_base=*/false);
}

}  // namespace
}  // namespace walship

namespace walship::testing {
namespace {

class WalCaptureGateTest : public WalCaptureFixture {
 protected:
  // Waits for the sealer (its own thread) to publish `n` segments.
  bool WaitForSegments(size_t n) {
    for (int i = 0; i < 400; ++i) {
      auto entries = store_->List();
      if (entries.ok() && entries->size() >= n) return entries->size() == n;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
  }
};

TEST_F(WalCaptureGateTest, AClosedGateLetsCommitsPendUntilCollectNowSealsThemInOneSegment) {
  StartNewDatabase();
  ASSERT_EQ(Checkpoint(), SQLITE_OK);  // the schema's segment
  ASSERT_TRUE(WaitForSegments(1));
  bool shipper_idle = false;
  capture_->SetCollectGate([&] { return shipper_idle; });
  PutRows("a", 3);
  PutRows("b", 3);
  PutRows("c", 3);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_TRUE(WaitForSegments(1)) << "a commit was sealed while the gate was closed";
  capture_->CollectNow();  // the collect tick, while a push still travels: nothing
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_TRUE(WaitForSegments(1)) << "CollectNow sealed under a push in flight";
  shipper_idle = true;  // the shipper caught up and asks
  capture_->CollectNow();
  ASSERT_TRUE(WaitForSegments(2));
  std::vector<DecodedSegmentHeader> headers = Headers();
  EXPECT_EQ(headers.back().header.commits.size(), 3u);  // one segment for the three commits
  // An open gate seals each commit at once.
  PutRows("d", 3);
  ASSERT_TRUE(WaitForSegments(3));
  EXPECT_EQ(Headers().back().header.first_txid, static_cast<uint64_t>(txid_));
  ExpectReplayEqualsLive(/*from_base=*/false);
}

}  // namespace
}  // namespace walship::testing
