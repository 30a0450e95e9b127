// New bases in a row and restarts on a base no segment follows yet (found
// in review: a second base reused the first one's sequence, failed to
// publish after its checkpoint had emptied the WAL, and so did every later
// checkpoint; every restart copied the database again).
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>

#include "replication/wal_capture.h"
#include "tests/replication/wal_capture_fixture.h"

namespace walship {
namespace {

using walship::testing::ExecOrFail;
using walship::testing::OpenWriteConnection;

class WalCaptureBaseTest : public walship::testing::WalCaptureFixture {
 protected:
  int BaseFiles() {
    int n = 0;
    for (const auto& e : std::filesystem::directory_iterator(tmp_.Sub("segments"))) {
      n += e.path().filename().string().rfind("base-", 0) == 0 ? 1 : 0;
    }
    return n;
  }
  void ForeignCommit(const std::string& key) {
    sqlite3* other = OpenWriteConnection(db_path_);
    ExecOrFail(other, "INSERT INTO items (k, v) VALUES ('" + key + "', x'01')");
    ASSERT_EQ(sqlite3_close(other), SQLITE_OK);
  }
};

TEST_F(WalCaptureBaseTest, ASecondBaseBeforeAnySegmentSupersedesTheFirstAndTheChainGoesOn) {
  StartNewDatabase();
  PutRows("a", 10);
  ASSERT_EQ(Checkpoint(), SQLITE_OK);
  ForeignCommit("f1");
  ASSERT_EQ(Checkpoint(), SQLITE_OK);  // new base
  ForeignCommit("f2");
  ASSERT_EQ(Checkpoint(), SQLITE_OK);  // another, before any segment follows the first
  EXPECT_EQ(capture_->Stats().bases, 2u);
  EXPECT_EQ(BaseFiles(), 1);  // the first one moved to quarantine, never deleted
  int quarantined = 0;
  for (const auto& e : std::filesystem::directory_iterator(tmp_.Sub("segments/quarantine"))) {
    quarantined += e.path().filename().string().rfind("base-00000000000000000003.db.", 0) == 0 ? 1 : 0;
  }
  EXPECT_EQ(quarantined, 1);
  PutRows("b", 3);
  ASSERT_EQ(Checkpoint(), SQLITE_OK);
  const auto h = Headers();
  ASSERT_FALSE(h.empty());
  EXPECT_TRUE(h.back().header.chain_start());
  EXPECT_EQ(static_cast<int64_t>(h.back().header.last_txid), txid_);
  EXPECT_TRUE(store_->BasePath(h.back().header.sequence).has_value());
  ExpectReplayEqualsLive(/*from_base=*/true);
}

TEST_F(WalCaptureBaseTest, RestartsOnABaseNoSegmentFollowsCopyNothingAgain) {
  OpenWriter();
  CreateSchema();
  PutRows("a", 30);
  ASSERT_TRUE(StartCapture(/*created_database=*/false).ok());  // adopts: base 1
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(Checkpoint(), SQLITE_OK);
    CloseWriter();
    OpenWriter();
    Status s = StartCaptureAt(txid_, false);
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(capture_->Stats().bases, 0u) << "restart " << i;
  }
  EXPECT_EQ(BaseFiles(), 1);
  PutRows("b", 2);
  ASSERT_EQ(Checkpoint(), SQLITE_OK);
  const auto h = Headers();
  ASSERT_EQ(h.size(), 1u);
  EXPECT_TRUE(h[0].header.chain_start());
  EXPECT_EQ(h[0].header.sequence, 1u);
  ExpectReplayEqualsLive(/*from_base=*/true);
}

TEST_F(WalCaptureBaseTest, CommitsLeftUncapturedOnABaseAreSealedAtRestart) {
  OpenWriter();
  CreateSchema();
  PutRows("a", 5);
  ASSERT_TRUE(StartCapture(false).ok());  // base 1
  PutRows("b", 5);
  PutRows("c", 5);  // two commits, never captured: the node "crashes"
  capture_.reset();
  CloseWriter();
  OpenWriter();
  Status s = StartCaptureAt(txid_, false);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(capture_->Stats().bases, 0u);
  const auto h = Headers();
  ASSERT_EQ(h.size(), 1u);
  EXPECT_TRUE(h[0].header.chain_start());
  EXPECT_EQ(static_cast<int64_t>(h[0].header.first_txid), txid_ - 1);
  EXPECT_EQ(static_cast<int64_t>(h[0].header.last_txid), txid_);
  ASSERT_EQ(Checkpoint(), SQLITE_OK);
  ExpectReplayEqualsLive(/*from_base=*/true);
}

// The sealer reads a collect's frames after the writer has moved on, and
// only as many commits as it was told of. A commit on the write connection
// the capture was never told of changes no data_version, so the sealer (a
// told commit after it is not where the wal hook said) or the check at the
// checkpoint (nothing may be committed past the last told one) must find
// it: the checkpoint starts a new base instead of labeling frames with the
// wrong txids or letting SQLite copy frames no segment holds, writes go on,
// and the new base takes the sequence of the segment that was not sealed.
enum class Untold { kBeforeATold, kFoundBetweenCheckpoints, kLast, kLastBeforeACollect };

class WalCaptureUntoldCommitTest : public WalCaptureBaseTest, public ::testing::WithParamInterface<Untold> {
 protected:
  void CommitUntold() {
    ExecOrFail(db_, "BEGIN IMMEDIATE; INSERT INTO items (k, v) VALUES ('untold', x'02'); "
                    "UPDATE position SET txid = txid + 1; COMMIT;");
    ++txid_;
  }
};

TEST_P(WalCaptureUntoldCommitTest, StartsANewBaseWithNoGapAndWritesGoOn) {
  StartNewDatabase();
  PutRows("a", 10);
  ASSERT_EQ(Checkpoint(), SQLITE_OK);
  const auto before = Headers();
  ASSERT_FALSE(before.empty());
  const uint64_t next_sequence = before.back().header.sequence + 1;
  switch (GetParam()) {
    case Untold::kBeforeATold:
      CommitUntold();
      PutRows("b", 3);
      break;
    case Untold::kFoundBetweenCheckpoints: {
      CommitUntold();
      capture_->SetCollectInterval(100);
      clock_.AdvanceMonotonicMillis(150);
      PutRows("b", 3);  // collects: the sealer finds the untold commit
      // The scrub waits for the sealer, and is refused: the conflict is the
      // writer's now, and the next checkpoint deals with it.
      auto sum = capture_->ChecksumForScrub(db_);
      ASSERT_FALSE(sum.ok());
      EXPECT_EQ(sum.status().reason(), "foreign_writes") << sum.status().ToString();
      clock_.AdvanceMonotonicMillis(150);
      PutRows("b2", 3);  // no collect runs while it waits
      break;
    }
    case Untold::kLast:
      PutRows("b", 3);
      CommitUntold();
      break;
    case Untold::kLastBeforeACollect: {
      // The collect hands over the told commit and pins the WAL's end, past
      // the untold one: the checkpoint's first pass may copy it while the
      // sealer is idle, and only the check before the WAL may be reset
      // (BeforeWalReset) finds it.
      capture_->SetCollectInterval(100);
      clock_.AdvanceMonotonicMillis(150);
      PutRows("b", 3);
      CommitUntold();
      clock_.AdvanceMonotonicMillis(150);
      capture_->CollectNow();
      auto sum = capture_->ChecksumForScrub(db_);  // waits until the sealer is idle
      ASSERT_TRUE(sum.ok()) << sum.status().ToString();
      break;
    }
  }
  // The told commit before the untold one is sealed as usual.
  const size_t sealed_before_base = GetParam() == Untold::kLast || GetParam() == Untold::kLastBeforeACollect ? 1 : 0;
  const uint64_t base_sequence = next_sequence + sealed_before_base;
  ASSERT_EQ(Checkpoint(), SQLITE_OK);  // the hook succeeds: a new base, not a failure
  EXPECT_EQ(capture_->Stats().bases, 1u);
  EXPECT_TRUE(store_->BasePath(base_sequence).has_value()) << "the base takes sequence " << base_sequence;
  EXPECT_EQ(Headers().size(), before.size() + sealed_before_base) << "nothing sealed after the untold commit";
  PutRows("c", 3);
  ASSERT_EQ(Checkpoint(), SQLITE_OK);
  const auto after = Headers();
  ASSERT_EQ(after.size(), before.size() + sealed_before_base + 1);
  EXPECT_TRUE(after.back().header.chain_start());
  EXPECT_EQ(after.back().header.sequence, base_sequence);
  EXPECT_EQ(static_cast<int64_t>(after.back().header.first_txid), txid_);
  ExpectReplayEqualsLive(/*from_base=*/true);
}

INSTANTIATE_TEST_SUITE_P(, WalCaptureUntoldCommitTest,
                         ::testing::Values(Untold::kBeforeATold, Untold::kFoundBetweenCheckpoints, Untold::kLast,
                                           Untold::kLastBeforeACollect),
                         [](const ::testing::TestParamInfo<Untold>& untold) -> std::string {
                           switch (untold.param) {
                             case Untold::kBeforeATold: return "BeforeATold";
                             case Untold::kFoundBetweenCheckpoints: return "FoundBetweenCheckpoints";
                             case Untold::kLast: return "Last";
                             case Untold::kLastBeforeACollect: return "LastBeforeACollect";
                           }
                           return "Unknown";
                         });

TEST_F(WalCaptureBaseTest, StrayFileNamesWithHugeNumbersDoNotCrashTheStart) {
  // Twenty nines do not fit in 64 bits; names come from the disk.
  for (const char* name : {"99999999999999999999-00000000000000000000-00000000000000000000.wseg",
                           "base-99999999999999999999.db"}) {
    std::FILE* f = std::fopen(tmp_.Sub(std::string("segments/") + name).c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fclose(f);
  }
  OpenWriter();
  CreateSchema();
  PutRows("a", 3);
  Status s = StartCapture(/*created_database=*/false);
  EXPECT_TRUE(s.ok()) << s.ToString();  // the unreadable "newest" segment leads to a new base, not a crash
}

}  // namespace
}  // namespace walship
