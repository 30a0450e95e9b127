// Planning a restore from a segment store (no backups): the target each kind
// of --to resolves to, the start, and the damage a plan shows before any
// segment body is read.
#include "backup/restore_plan.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "base/clock.h"
#include "base/fs.h"
#include "tests/replication/segment_builder.h"
#include "tests/support/temp_dir.h"

namespace walship {
namespace {

namespace fs = std::filesystem;
using testing::EncodeOrDie;
using testing::FirstSampleSegment;
using testing::NextSampleSegment;
using testing::TempDir;

class RestorePlanTest : public ::testing::Test {
 protected:
  // Sample segments 1..5 (txids 1-2, 3-4, ..., 9-10) in a store.
  void SetUp() override {
    auto store = SegmentStore::Open(tmp_.Sub("segments"));
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
    EncodedSegment s = EncodeOrDie(FirstSampleSegment());
    for (int i = 0; i < 5; ++i) {
      if (i > 0) s = EncodeOrDie(NextSampleSegment(s.header));
      ASSERT_TRUE(store_->Publish(s).ok());
      headers_.push_back(s.header);
    }
  }

  Result<RestorePlan> Plan(RestoreTarget target) { return PlanRestore(*store_, nullptr, target); }

  static RestoreTarget Position(uint64_t txid, std::optional<uint64_t> timeline = std::nullopt) {
    RestoreTarget t;
    t.kind = RestoreTarget::Kind::kPosition;
    t.txid = txid;
    t.timeline = timeline;
    return t;
  }

  static std::vector<uint64_t> Sequences(const RestorePlan& p) {
    std::vector<uint64_t> out;
    for (const auto& s : p.segments) out.push_back(s.entry.sequence);
    return out;
  }

  TempDir tmp_;
  std::unique_ptr<SegmentStore> store_;
  std::vector<DecodedSegmentHeader> headers_;
};

TEST_F(RestorePlanTest, LatestIsTheStoresEndFromTheChainsEmptyStart) {
  auto plan = Plan(RestoreTarget{});
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_EQ(plan->start.kind, RestoreStart::Kind::kEmptyFile);
  EXPECT_EQ(plan->start.txid, 0);
  EXPECT_EQ(plan->start.first_sequence, 1u);
  EXPECT_EQ(Sequences(*plan), (std::vector<uint64_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(plan->target_txid, 10);
  EXPECT_EQ(plan->target_timeline, 1u);
  EXPECT_TRUE(plan->target_is_store_end);
  EXPECT_EQ(plan->FirstKnownDamage(), nullptr);
  EXPECT_EQ(plan->target_commit_unix_ms, headers_.back().header.commits.back().commit_unix_ms);
}

TEST_F(RestorePlanTest, APositionStopsAtItsSegmentAndLeavesTheStoresHistory) {
  auto plan = Plan(Position(5, 1));
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_EQ(Sequences(*plan), (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(plan->target_txid, 5);
  EXPECT_FALSE(plan->target_is_store_end);
  EXPECT_NE(DescribeRestorePlan(*plan).find("after the restore the node continues on timeline 2"), std::string::npos)
      << DescribeRestorePlan(*plan);
}

TEST_F(RestorePlanTest, ATimeIsTheLastCommitAtOrBeforeIt) {
  const SegmentCommit& c = headers_[2].header.commits[0];  // txid 5
  RestoreTarget t;
  t.kind = RestoreTarget::Kind::kTime;
  t.unix_ms = c.commit_unix_ms + 1;  // before txid 6's
  ASSERT_LT(t.unix_ms, headers_[2].header.commits[1].commit_unix_ms);
  auto plan = Plan(t);
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_EQ(plan->target_txid, 5);
  EXPECT_EQ(plan->target_commit_unix_ms, c.commit_unix_ms);

  t.unix_ms = headers_[0].header.commits[0].commit_unix_ms - 1;
  auto none = Plan(t);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), Code::kNotFound);
  EXPECT_EQ(none.status().message(), "plan restore to time " + FormatRfc3339Millis(t.unix_ms) +
                                         ": no commit in the segment store is at or before " +
                                         FormatRfc3339Millis(t.unix_ms));
}

TEST_F(RestorePlanTest, AnUnknownPositionIsNamed) {
  auto plan = Plan(Position(11));
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().message(),
            "plan restore to position 11: no segment holds txid 11 and no verified backup is at it");
  auto other = Plan(Position(4, 2));
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.status().message(),
            "plan restore to position 2/4: no segment holds txid 4 on timeline 2 and no verified backup is at it");
}

TEST_F(RestorePlanTest, AMissingAndADamagedSegmentAreInThePlanNotErrors) {
  auto entries = store_->List();
  ASSERT_TRUE(entries.ok());
  fs::remove((*entries)[2].path);  // segment 3
  {
    auto bytes = store_->ReadBytes((*entries)[3]);
    ASSERT_TRUE(bytes.ok());
    std::string damaged = *bytes;
    damaged[10] ^= 0x01;  // in the header
    ASSERT_TRUE(WriteFileAtomically((*entries)[3].path, damaged).ok());
  }
  auto plan = Plan(RestoreTarget{});
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_EQ(Sequences(*plan), (std::vector<uint64_t>{1, 2, 3, 4, 5}));
  ASSERT_NE(plan->FirstKnownDamage(), nullptr);
  EXPECT_EQ(plan->FirstKnownDamage()->entry.sequence, 3u);
  EXPECT_TRUE(plan->segments[2].missing);
  EXPECT_EQ(plan->segments[2].damage, "no file in " + store_->dir() + " holds segment 3");
  EXPECT_FALSE(plan->segments[3].header.has_value());
  EXPECT_FALSE(plan->segments[3].damage.empty());
  const std::string text = DescribeRestorePlan(*plan);
  EXPECT_NE(text.find("segment 3: MISSING"), std::string::npos) << text;
  EXPECT_NE(text.find("segment 4: txids 7-8"), std::string::npos) << text;
  EXPECT_NE(text.find(", DAMAGED ("), std::string::npos) << text;
  EXPECT_NE(text.find("warning: segment 3 cannot be applied as it is"), std::string::npos) << text;
}

TEST_F(RestorePlanTest, AChainStartOnABaseTheStoreLacksCannotBeRestoredOnto) {
  // A store whose only chain starts on a base snapshot that is not there.
  TempDir other;
  auto store = SegmentStore::Open(other.Sub("segments"));
  ASSERT_TRUE(store.ok());
  Segment first = FirstSampleSegment();
  first.header.db_pages_before = 3;
  first.header.db_checksum_before = 0x99;
  ASSERT_TRUE((*store)->Publish(EncodeOrDie(first)).ok());
  auto plan = PlanRestore(**store, nullptr, RestoreTarget{});
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().code(), Code::kNotFound);
  EXPECT_EQ(plan.status().message(),
            "plan restore to latest: nothing to restore onto: segment 1 starts the chain on a base snapshot the "
            "store does not have, and no verified backup of timeline 1 is in that chain");
}

TEST_F(RestorePlanTest, APrunedStoreWithoutItsBackupHasNothingToRestoreOnto) {
  // Segment retention removed segments 1-2 (the chain start) for a backup
  // at segment 3 that is not given here: the plan names what is missing.
  auto entries = store_->List();
  ASSERT_TRUE(entries.ok());
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(store_->RemoveSegment((*entries)[i]).ok());
  auto plan = Plan(RestoreTarget{});
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().code(), Code::kNotFound);
  EXPECT_EQ(plan.status().message(),
            "plan restore to latest: nothing to restore onto: no chain-start segment at or before the target's "
            "segment decodes, and no verified backup of timeline 1 is in that chain");
}

TEST_F(RestorePlanTest, ATimeThatAnUnreadableSegmentMayHoldIsRefused) {
  auto entries = store_->List();
  ASSERT_TRUE(entries.ok());
  auto bytes = store_->ReadBytes((*entries)[2]);  // segment 3, txids 5-6
  ASSERT_TRUE(bytes.ok());
  std::string damaged = *bytes;
  damaged[10] ^= 0x01;
  ASSERT_TRUE(WriteFileAtomically((*entries)[2].path, damaged).ok());
  RestoreTarget t;
  t.kind = RestoreTarget::Kind::kTime;
  t.unix_ms = headers_[2].header.commits[1].commit_unix_ms;  // txid 6's: inside the damaged segment
  auto refused = Plan(t);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Code::kCorruption);
  EXPECT_EQ(refused.status().message().rfind("plan restore to time " + FormatRfc3339Millis(t.unix_ms) +
                                                 ": cannot tell which transaction is the last at or before " +
                                                 FormatRfc3339Millis(t.unix_ms) + ": segment 3 is damaged (",
                                             0),
            0u)
      << refused.status().message();
  // A time before the damaged segment's commits is unaffected.
  t.unix_ms = headers_[0].header.commits[1].commit_unix_ms;  // txid 2
  auto early = Plan(t);
  ASSERT_TRUE(early.ok()) << early.status().ToString();
  EXPECT_EQ(early->target_txid, 2);
  // Nor is one after it (segment 4's commits are readable).
  t.unix_ms = headers_[3].header.commits[0].commit_unix_ms;  // txid 7
  auto late = Plan(t);
  ASSERT_TRUE(late.ok()) << late.status().ToString();
  EXPECT_EQ(late->target_txid, 7);
}

}  // namespace
}  // namespace walship
