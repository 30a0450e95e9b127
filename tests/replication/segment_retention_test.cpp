// Segment retention's plan: one test per rule, on listings built by hand.
#include "replication/segment_retention.h"

#include <gtest/gtest.h>

namespace walship {
namespace {

using Sequences = std::vector<uint64_t>;

// Segments first..last, two txids each (segment n holds 2n-1 and 2n).
std::vector<SegmentFileEntry> Segments(uint64_t first, uint64_t last) {
  std::vector<SegmentFileEntry> out;
  for (uint64_t seq = first; seq <= last; ++seq) {
    out.push_back({seq, 2 * seq - 1, 2 * seq, "/s/" + SegmentStore::SegmentFileName(seq, 2 * seq - 1, 2 * seq), 100});
  }
  return out;
}

// A verified backup taken at the end of segment `sequence`.
KeptBackup BackupAt(uint64_t sequence, const std::string& id = "b") {
  return {id, sequence, static_cast<int64_t>(2 * sequence), true};
}

Sequences Removed(const SegmentRetentionPlan& plan) {
  Sequences out;
  for (const SegmentFileEntry& e : plan.remove_segments) out.push_back(e.sequence);
  return out;
}

SegmentRetentionInput Input(uint64_t newest, std::vector<KeptBackup> backups) {
  SegmentRetentionInput in;
  in.segments = Segments(1, newest);
  in.backups = std::move(backups);
  return in;
}

TEST(SegmentRetentionTest, NoVerifiedBackupRemovesNothing) {
  SegmentRetentionPlan plan = PlanSegmentRetention(Input(10, {}));
  EXPECT_EQ(plan.floor, 0u);
  EXPECT_TRUE(plan.remove_segments.empty());
  EXPECT_EQ(plan.why, "no verified backup: the segment store is the only way back");
}

TEST(SegmentRetentionTest, AnEmptyStoreRemovesNothing) {
  SegmentRetentionInput in = Input(0, {BackupAt(3)});
  in.bases = {1};
  SegmentRetentionPlan plan = PlanSegmentRetention(in);
  EXPECT_TRUE(plan.remove_bases.empty());
  EXPECT_EQ(plan.why, "the store holds no segment");
}

TEST(SegmentRetentionTest, KeepsTheOldestBackupsSegmentAndEveryOneAfterIt) {
  SegmentRetentionPlan plan = PlanSegmentRetention(Input(10, {BackupAt(8, "newer"), BackupAt(4, "older")}));
  EXPECT_EQ(plan.floor, 4u);
  EXPECT_EQ(Removed(plan), (Sequences{1, 2, 3}));
  EXPECT_EQ(plan.why, "the oldest kept backup older was taken at segment 4");
  EXPECT_EQ(plan.remove_segments.front().first_txid, 1u);  // the caller logs the txids
  EXPECT_EQ(plan.remove_segments.back().last_txid, 6u);
}

TEST(SegmentRetentionTest, NeverRemovesTheNewestSegment) {
  // A backup at the newest segment: everything before it may go, not it.
  SegmentRetentionPlan plan = PlanSegmentRetention(Input(5, {BackupAt(5)}));
  EXPECT_EQ(Removed(plan), (Sequences{1, 2, 3, 4}));
  plan = PlanSegmentRetention(Input(1, {BackupAt(1)}));
  EXPECT_TRUE(plan.remove_segments.empty());
  EXPECT_EQ(plan.floor, 1u);
}

TEST(SegmentRetentionTest, KeepsEverySegmentTheStandbyHasNotAcknowledged) {
  SegmentRetentionInput in = Input(10, {BackupAt(8)});
  in.standby = {true, 5};
  SegmentRetentionPlan plan = PlanSegmentRetention(in);
  EXPECT_EQ(plan.floor, 6u);
  EXPECT_EQ(Removed(plan), (Sequences{1, 2, 3, 4, 5}));
  EXPECT_EQ(plan.why, "the standby has acknowledged segments up to 5");
  // A standby ahead of the oldest backup does not move the floor up.
  in.standby = {true, 9};
  EXPECT_EQ(PlanSegmentRetention(in).floor, 8u);
  // One that acknowledged nothing yet keeps all (not even the backup rule prunes).
  in.standby = {true, 0};
  EXPECT_EQ(PlanSegmentRetention(in).floor, 1u);
  EXPECT_TRUE(PlanSegmentRetention(in).remove_segments.empty());
}

TEST(SegmentRetentionTest, AStandbyNeverHeardFromKeepsEverything) {
  SegmentRetentionInput in = Input(10, {BackupAt(8)});
  in.standby = {true, std::nullopt};
  SegmentRetentionPlan plan = PlanSegmentRetention(in);
  EXPECT_EQ(plan.floor, 0u);
  EXPECT_TRUE(plan.remove_segments.empty());
  EXPECT_EQ(plan.why, "the standby has not acknowledged any segment since this node started");
  // An acknowledgement without a configured standby is not looked at.
  in.standby = {false, 2};
  EXPECT_EQ(PlanSegmentRetention(in).floor, 8u);
}

TEST(SegmentRetentionTest, ABackupSegmentsCannotContinueKeepsEverything) {
  KeptBackup no_segment = BackupAt(0, "capture-off");
  SegmentRetentionPlan plan = PlanSegmentRetention(Input(10, {BackupAt(8), no_segment}));
  EXPECT_TRUE(plan.remove_segments.empty());
  EXPECT_EQ(plan.why, "backup capture-off cannot be continued by segments (taken at no segment)");
  KeptBackup no_checksum = BackupAt(6, "no-checksum");
  no_checksum.chain_checksum = false;
  plan = PlanSegmentRetention(Input(10, {BackupAt(8), no_checksum}));
  EXPECT_TRUE(plan.remove_segments.empty());
  EXPECT_EQ(plan.why, "backup no-checksum cannot be continued by segments (taken without the node's checksum)");
}

TEST(SegmentRetentionTest, ABackupTheStoreDoesNotMatchKeepsEverything) {
  SegmentRetentionPlan plan = PlanSegmentRetention(Input(10, {BackupAt(12, "future")}));
  EXPECT_TRUE(plan.remove_segments.empty());
  EXPECT_EQ(plan.why, "the oldest kept backup future was taken at segment 12 (txid 24), which the store does not "
                      "hold: the backups and the store do not match");
  KeptBackup elsewhere = BackupAt(4, "elsewhere");
  elsewhere.txid = 7;
  plan = PlanSegmentRetention(Input(10, {elsewhere}));
  EXPECT_TRUE(plan.remove_segments.empty());
  EXPECT_EQ(plan.why, "the oldest kept backup elsewhere was taken at segment 4 (txid 7), which the store holds "
                      "ending at txid 8: the backups and the store do not match");
}

TEST(SegmentRetentionTest, DuplicateSequencesKeepEverything) {
  SegmentRetentionInput in = Input(10, {BackupAt(8)});
  in.segments.insert(in.segments.begin() + 2, in.segments[2]);
  SegmentRetentionPlan plan = PlanSegmentRetention(in);
  EXPECT_TRUE(plan.remove_segments.empty());
  EXPECT_EQ(plan.why, "two files claim segment 3 (run walship segments verify)");
}

TEST(SegmentRetentionTest, BasesGoOnlyWithTheirChainBelowTheFloor) {
  // Chains start at 1 (base-1), 4 (base-4) and 9 (base-9); base-11 is a new
  // chain no segment follows yet.
  SegmentRetentionInput in = Input(10, {BackupAt(6)});
  in.bases = {11, 9, 4, 1};
  SegmentRetentionPlan plan = PlanSegmentRetention(in);
  EXPECT_EQ(plan.floor, 6u);
  EXPECT_EQ(Removed(plan), (Sequences{1, 2, 3, 4, 5}));
  EXPECT_EQ(plan.remove_bases, (Sequences{1, 4}));
  // The floor on a chain start: its base stays, it starts what is kept.
  in.backups = {BackupAt(4)};
  in.standby = {true, 3};
  plan = PlanSegmentRetention(in);
  EXPECT_EQ(plan.floor, 4u);
  EXPECT_EQ(plan.remove_bases, (Sequences{1}));
}

TEST(SegmentRetentionTest, AnOrphanBaseBelowTheFloorGoesAfterAnInterruptedRun) {
  // An earlier run removed segments 1-5 and stopped before base-4.
  SegmentRetentionInput in;
  in.segments = Segments(6, 10);
  in.bases = {4};
  in.backups = {BackupAt(6)};
  SegmentRetentionPlan plan = PlanSegmentRetention(in);
  EXPECT_TRUE(plan.remove_segments.empty());
  EXPECT_EQ(plan.remove_bases, (Sequences{4}));
}

TEST(SegmentRetentionTest, APrunedStoreAcrossTimelinesKeepsTheSuffix) {
  // Segments 1-10, the history after a restore on timeline 2 from 11 on (a
  // new chain at 11); the backups are one of each timeline.
  SegmentRetentionInput in = Input(14, {BackupAt(13, "tl2"), BackupAt(7, "tl1")});
  in.bases = {11};
  SegmentRetentionPlan plan = PlanSegmentRetention(in);
  EXPECT_EQ(plan.floor, 7u);
  EXPECT_EQ(Removed(plan), (Sequences{1, 2, 3, 4, 5, 6}));
  EXPECT_TRUE(plan.remove_bases.empty());
}

}  // namespace
}  // namespace walship
