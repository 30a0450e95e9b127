// The sealer's failures: which ones the writer may take back (a build that
// found frames written behind the node's back) and which stay sticky.
#include "replication/segment_sealer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>

#include "tests/replication/segment_builder.h"
#include "tests/support/temp_dir.h"

namespace walship {
namespace {

using walship::testing::FirstSampleSegment;
using walship::testing::TempDir;

class SegmentSealerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = SegmentStore::Open(tmp_.Sub("segments"));
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
    sealer_ = std::make_unique<SegmentSealer>(*store_, 1, [this](const DecodedSegmentHeader&, size_t, double) {
      sealed_.fetch_add(1);
    });
  }
  void TearDown() override { sealer_->Stop(); }

  // A build that waits for `go` first, so later jobs queue behind it.
  static SegmentSealer::Build BlockedBuild(std::shared_future<void> go, Status result) {
    return [go, result]() -> Result<Segment> {
      go.wait();
      return result;
    };
  }
  static SegmentSealer::Build GoodBuild(uint64_t sequence) {
    return [sequence]() -> Result<Segment> {
      Segment s = FirstSampleSegment();
      s.header.sequence = sequence;
      return s;
    };
  }

  TempDir tmp_;
  std::unique_ptr<SegmentStore> store_;
  std::unique_ptr<SegmentSealer> sealer_;
  std::atomic<int> sealed_{0};
};

TEST_F(SegmentSealerTest, AForeignWritesConflictIsTakenBackAndWhatQueuedBehindItIsDropped) {
  std::promise<void> go;
  const Status conflict = Status::Conflict("the WAL holds 1 new commits but the writer made 2").WithReason("foreign_writes");
  ASSERT_TRUE(sealer_->Submit(4, BlockedBuild(go.get_future().share(), conflict)).ok());
  ASSERT_TRUE(sealer_->Submit(5, GoodBuild(5)).ok());  // built on segment 4: must not be sealed
  go.set_value();
  const Status failed = sealer_->WaitSealed();
  EXPECT_EQ(failed.ToString(), "conflict: seal segment 4: the WAL holds 1 new commits but the writer made 2");
  EXPECT_FALSE(sealer_->Submit(6, GoodBuild(6)).ok()) << "refused until the conflict is taken";

  auto taken = sealer_->TakeConflict();
  ASSERT_TRUE(taken.has_value());
  EXPECT_EQ(taken->sequence, 4u);
  EXPECT_EQ(taken->status.reason(), "foreign_writes");
  EXPECT_FALSE(sealer_->TakeConflict().has_value());
  EXPECT_TRUE(sealer_->WaitSealed().ok());
  EXPECT_EQ(sealed_.load(), 0) << "segment 5 was dropped";

  ASSERT_TRUE(sealer_->Submit(4, GoodBuild(4)).ok());  // the sealer goes on
  EXPECT_TRUE(sealer_->WaitSealed().ok());
  EXPECT_EQ(sealed_.load(), 1);
  auto listed = store_->List();
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ(listed->front().sequence, 4u);
}

TEST_F(SegmentSealerTest, AnyOtherFailureStaysSticky) {
  for (const Status& failure : {Status::Conflict("segment 4 is in the store with other bytes"),
                                Status::Conflict("odd").WithReason("something_else"),
                                Status::IOError("fsync: EIO"), Status::Corruption("wal frame 3: checksum mismatch")}) {
    sealer_.reset();  // before the store it holds
    SetUp();
    std::promise<void> go;
    go.set_value();
    ASSERT_TRUE(sealer_->Submit(4, BlockedBuild(go.get_future().share(), failure)).ok());
    EXPECT_EQ(sealer_->WaitSealed().ToString(), Status(failure).Wrap("seal segment 4").ToString());
    EXPECT_FALSE(sealer_->TakeConflict().has_value()) << failure.ToString();
    EXPECT_EQ(sealer_->Submit(5, GoodBuild(5)).ToString(), Status(failure).Wrap("seal segment 4").ToString());
    EXPECT_TRUE(sealer_->Idle());
    sealer_->Stop();
  }
}

}  // namespace
}  // namespace walship
