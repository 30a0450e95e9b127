// The standby's replica, fed with real segments that a WalCapture sealed
// from a real database: applied in order they give the primary's file byte
// for byte; anything out of order, damaged or conflicting is refused with
// its own error; a kill at any point of an apply is repaired at start-up.
#include "replication/standby_replica.h"

#include <gtest/gtest.h>

#include <atomic>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <set>
#include <thread>

#include "tests/replication/wal_capture_fixture.h"

namespace walship::testing {
namespace {

class StandbyReplicaTest : public WalCaptureFixture {
 protected:
  // A database made by this test and four more checkpoints: segments 1..n,
  // the first one starting the chain on the empty file.
  void MakePrimarySegments() {
    StartNewDatabase();
    PutRows("a", 20);
    ASSERT_EQ(Checkpoint(), SQLITE_OK);
    PutRows("b", 30, 900);
    PutRows("a", 5);
    ASSERT_EQ(Checkpoint(), SQLITE_OK);
    Commit("DELETE FROM items WHERE k LIKE 'b-1%'");
    ASSERT_EQ(Checkpoint(), SQLITE_OK);
    PutRows("c", 8, 2000);
    PutRows("d", 8, 2000);  // the last segment holds two commits
    ASSERT_EQ(Checkpoint(), SQLITE_OK);
    CloseWriter();  // the primary's file is now the state after the last segment
    auto entries = store_->List();
    ASSERT_TRUE(entries.ok()) << entries.status().ToString();
    for (const auto& e : *entries) {
      auto bytes = store_->ReadBytes(e);
      ASSERT_TRUE(bytes.ok());
      segments_.push_back(std::move(bytes).value());
    }
    ASSERT_GE(segments_.size(), 4u);
  }

  std::string ReplicaPath() const { return tmp_.Sub("standby/index.db"); }

  std::unique_ptr<StandbyReplica> OpenReplica() {
    auto r = StandbyReplica::Open(ReplicaPath(), tmp_.Sub("standby/segments"), tmp_.Sub("standby/quarantine"),
                                  clock_, standby_metrics_);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(r).value() : nullptr;
  }

  // Pushes segments [from, to] (1-based sequences); every one must apply.
  void Push(StandbyReplica& r, size_t from, size_t to) {
    for (size_t seq = from; seq <= to; ++seq) {
      auto state = r.Receive(seq, segments_[seq - 1]);
      ASSERT_TRUE(state.ok()) << "segment " << seq << ": " << state.status().ToString();
      EXPECT_EQ(state->sequence, seq);
    }
  }

  DecodedSegment Decoded(size_t seq) const {
    auto d = DecodeSegment(segments_[seq - 1]);
    EXPECT_TRUE(d.ok()) << d.status().ToString();
    return d.ok() ? std::move(d).value() : DecodedSegment{};
  }

  void ExpectReplicaEqualsPrimary() {
    auto primary = ReadWholeFile(db_path_);
    auto replica = ReadWholeFile(ReplicaPath());
    ASSERT_TRUE(primary.ok() && replica.ok());
    EXPECT_TRUE(*primary == *replica) << "the replica (" << replica->size() << " bytes) differs from the primary ("
                                      << primary->size() << " bytes)";
  }

  size_t StoredSegments() const {
    auto store = SegmentStore::Open(tmp_.Sub("standby/segments"));
    EXPECT_TRUE(store.ok());
    auto entries = (*store)->List();
    EXPECT_TRUE(entries.ok());
    return entries.ok() ? entries->size() : 0;
  }

  std::vector<std::string> segments_;  // the primary's segment files, by sequence
  MetricsRegistry standby_metrics_;
};

TEST_F(StandbyReplicaTest, AppliesEverySegmentAndEqualsThePrimaryByteForByte) {
  MakePrimarySegments();
  auto r = OpenReplica();
  ASSERT_NE(r, nullptr);
  EXPECT_FALSE(r->State().has_database);
  Push(*r, 1, segments_.size());
  ReplicaState s = r->State();
  const DecodedSegment last = Decoded(segments_.size());
  EXPECT_TRUE(s.has_database);
  EXPECT_EQ(s.txid, txid_);
  EXPECT_EQ(s.db_checksum, last.header.header.db_checksum_after);
  EXPECT_EQ(s.cluster_hex, HexOf(Identity().cluster));
  EXPECT_TRUE(r->Health().ok());
  EXPECT_EQ(StoredSegments(), segments_.size());
  r.reset();
  ExpectReplicaEqualsPrimary();
}

TEST_F(StandbyReplicaTest, APushRepeatedIsANoOpAndOtherBytesForAnAppliedSequenceAreRefused) {
  MakePrimarySegments();
  auto r = OpenReplica();
  Push(*r, 1, 2);
  auto again = r->Receive(2, segments_[1]);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->sequence, 2u);

  // The same frames encoded at another zstd level: valid, but other bytes.
  DecodedSegment d = Decoded(2);
  Segment same{d.header.header, d.frames};
  auto other = EncodeSegment(same, 9);
  ASSERT_TRUE(other.ok());
  ASSERT_NE(other->bytes, segments_[1]);
  auto refused = r->Receive(2, other->bytes);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Code::kConflict);
  EXPECT_EQ(refused.status().reason(), "segment_conflict");
  EXPECT_EQ(refused.status().message(),
            "receive segment 2: this standby applied another segment 2 (its applied segment is 2)");
  EXPECT_TRUE(r->Health().ok());  // refusing is not failing
  Push(*r, 3, segments_.size());
  r.reset();
  ExpectReplicaEqualsPrimary();
}

TEST_F(StandbyReplicaTest, ASkippedSegmentIsRefusedAsOutOfOrderNamingTheOneExpected) {
  MakePrimarySegments();
  auto r = OpenReplica();
  auto first = r->Receive(2, segments_[1]);
  ASSERT_FALSE(first.ok());
  EXPECT_EQ(first.status().reason(), "out_of_order");
  EXPECT_EQ(first.status().message(),
            "receive segment 2: this standby is empty: it needs a segment that starts a chain, not segment 2");
  Push(*r, 1, 1);
  auto skipped = r->Receive(3, segments_[2]);
  ASSERT_FALSE(skipped.ok());
  EXPECT_EQ(skipped.status().reason(), "out_of_order");
  EXPECT_EQ(skipped.status().message(), "receive segment 3: expected segment 2, got 3");
  EXPECT_EQ(StoredSegments(), 1u);
  Push(*r, 2, segments_.size());
}

TEST_F(StandbyReplicaTest, DamagedBytesAreRefusedAndChangeNothing) {
  MakePrimarySegments();
  auto r = OpenReplica();
  Push(*r, 1, 1);
  std::string damaged = segments_[1];
  damaged[damaged.size() - 10] ^= 0x01;  // inside the compressed body
  auto refused = r->Receive(2, damaged);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Code::kCorruption);
  EXPECT_EQ(refused.status().reason(), "segment_corrupt");
  EXPECT_TRUE(refused.status().message().starts_with("receive segment 2: ")) << refused.status().message();
  EXPECT_EQ(StoredSegments(), 1u);
  EXPECT_EQ(r->State().sequence, 1u);
  EXPECT_TRUE(r->Health().ok());
  auto wrong_name = r->Receive(3, segments_[1]);
  ASSERT_FALSE(wrong_name.ok());
  EXPECT_EQ(wrong_name.status().message(), "receive segment 3: the bytes are segment 2");
  Push(*r, 2, segments_.size());  // the whole bytes, pushed again, apply
  r.reset();
  ExpectReplicaEqualsPrimary();
}

// Segment `seq` as the primary sealed it, with `change` applied to its
// header, encoded again (so its own hashes are right).
std::string Forged(const DecodedSegment& d, const std::function<void(SegmentHeader&)>& change) {
  Segment s{d.header.header, d.frames};
  change(s.header);
  auto e = EncodeSegment(s, 3);
  EXPECT_TRUE(e.ok()) << e.status().ToString();
  return e.ok() ? e->bytes : std::string();
}

TEST_F(StandbyReplicaTest, AnotherClustersSegmentIsRefusedAndNothingIsApplied) {
  MakePrimarySegments();
  auto r = OpenReplica();
  Push(*r, 1, 2);
  auto refused = r->Receive(3, Forged(Decoded(3), [](SegmentHeader& h) { h.cluster_id[0] ^= 1; }));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().reason(), "cluster_mismatch");
  ClusterId other = Identity().cluster;
  other[0] ^= 1;
  EXPECT_EQ(refused.status().message(), "receive segment 3: segment 3 belongs to cluster " + HexOf(other) +
                                            "; this standby follows cluster " + HexOf(Identity().cluster));
  EXPECT_EQ(r->State().sequence, 2u);
  EXPECT_EQ(StoredSegments(), 2u);
  EXPECT_TRUE(r->Health().ok());
  Push(*r, 3, segments_.size());
}

TEST_F(StandbyReplicaTest, ASegmentFromAnOlderTimelineIsRefusedAndNothingIsApplied) {
  MakePrimarySegments();
  auto r = OpenReplica();
  Push(*r, 1, 2);
  // Segment 3 on timeline 2 (a promotion), then segment 4 back on timeline 1.
  auto on_two = r->Receive(3, Forged(Decoded(3), [](SegmentHeader& h) { h.timeline = 2; }));
  ASSERT_TRUE(on_two.ok()) << on_two.status().ToString();
  auto back = r->Receive(4, segments_[3]);
  ASSERT_FALSE(back.ok());
  EXPECT_EQ(back.status().reason(), "timeline_behind");
  EXPECT_EQ(back.status().message(), "receive segment 4: segment 4 is on timeline 1, behind the applied timeline 2");
  EXPECT_EQ(r->State().sequence, 3u);
  EXPECT_EQ(StoredSegments(), 3u);
}

TEST_F(StandbyReplicaTest, AWrongChainLinkIsRefusedNamingBothHashesAndNothingIsApplied) {
  MakePrimarySegments();
  auto r = OpenReplica();
  Push(*r, 1, 2);
  const auto replica_before = ReadWholeFile(ReplicaPath());
  auto refused = r->Receive(3, Forged(Decoded(3), [](SegmentHeader& h) { h.previous_sha256[5] ^= 0x10; }));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().reason(), "replica_diverged");
  EXPECT_TRUE(refused.status().message().starts_with("receive segment 3: segment 3: ")) << refused.status().message();
  EXPECT_NE(refused.status().message().find(HexOf(Decoded(2).header.segment_sha256)), std::string::npos)
      << refused.status().message();
  EXPECT_EQ(StoredSegments(), 2u);
  EXPECT_TRUE(ReadWholeFile(ReplicaPath()).value() == replica_before.value()) << "the replica changed";
  EXPECT_TRUE(r->serveable());  // nothing was written: the last good state is still served
}

TEST_F(StandbyReplicaTest, ASegmentThatDoesNotFollowTheReplicaStopsApplyingForGood) {
  MakePrimarySegments();
  auto r = OpenReplica();
  Push(*r, 1, 2);
  // Segment 3 as a primary with another history would send it: linked to
  // segment 2, but expecting another database before it.
  DecodedSegment d = Decoded(3);
  d.header.header.db_checksum_before ^= 0xff;
  auto forged = EncodeSegment(Segment{d.header.header, d.frames}, 3);
  ASSERT_TRUE(forged.ok());
  auto refused = r->Receive(3, forged->bytes);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().reason(), "replica_diverged");
  const SegmentHeader& two = Decoded(2).header.header;
  EXPECT_EQ(refused.status().message(),
            "receive segment 3: segment 3: database checksum before " + DbChecksumHex(d.header.header.db_checksum_before) +
                " is not segment 2's checksum after " + DbChecksumHex(two.db_checksum_after));
  // Sticky: the real segment 3 is refused with the same finding.
  EXPECT_EQ(r->Health().message(), refused.status().message());
  auto later = r->Receive(3, segments_[2]);
  ASSERT_FALSE(later.ok());
  EXPECT_EQ(later.status().message(), refused.status().message());
  EXPECT_EQ(r->State().sequence, 2u);
  EXPECT_EQ(StoredSegments(), 2u);
}

TEST_F(StandbyReplicaTest, AnApplyThatFailsPartWayIsNeverServed) {
  MakePrimarySegments();
  auto r = OpenReplica();
  Push(*r, 1, 2);
  EXPECT_TRUE(r->serveable());
  // Segment 3 whose frames apply but whose checksum after is not theirs.
  // The applier now checks that before writing, but the replica does not
  // rely on it: any failed apply makes it unserveable until a resync.
  DecodedSegment d = Decoded(3);
  d.header.header.db_checksum_after ^= 0xff;
  auto forged = EncodeSegment(Segment{d.header.header, d.frames}, 3);
  ASSERT_TRUE(forged.ok());
  auto refused = r->Receive(3, forged->bytes);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().reason(), "replica_diverged");
  EXPECT_FALSE(r->serveable());
  EXPECT_EQ(r->State().sequence, 2u);
  ASSERT_TRUE(r->Resync().ok());
  EXPECT_TRUE(r->serveable());
  Push(*r, 1, segments_.size());
}

TEST_F(StandbyReplicaTest, ResyncAcrossFileSystemsIsRefusedAndChangesNothing) {
  if (::access("/dev/shm", W_OK) != 0) GTEST_SKIP() << "no /dev/shm to put the segment store on";
  TempDir other("/dev/shm/walship-test");
  MakePrimarySegments();
  ASSERT_TRUE(EnsureDirectory(tmp_.Sub("standby")).ok());  // the data folder (the node makes it)
  auto opened = StandbyReplica::Open(ReplicaPath(), other.Sub("segments"), tmp_.Sub("standby/quarantine"), clock_,
                                     standby_metrics_);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  auto& r = *opened;
  auto state = r->Receive(1, segments_[0]);
  ASSERT_TRUE(state.ok()) << state.status().ToString();
  auto refused = r->Resync();
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Code::kConflict);
  EXPECT_NE(refused.status().message().find("is on another file system"), std::string::npos)
      << refused.status().message();
  EXPECT_TRUE(r->Health().ok());
  EXPECT_TRUE(r->State().has_database);
  EXPECT_GT(FileSizeOrZero(ReplicaPath()), 0);
  Push(*r, 2, segments_.size());
}

TEST_F(StandbyReplicaTest, ResyncSetsEverythingAsideAndStartsOverEmpty) {
  MakePrimarySegments();
  auto r = OpenReplica();
  Push(*r, 1, 2);
  DecodedSegment d = Decoded(3);
  d.header.header.db_checksum_before ^= 0xff;
  auto forged = EncodeSegment(Segment{d.header.header, d.frames}, 3);
  ASSERT_TRUE(forged.ok());
  ASSERT_FALSE(r->Receive(3, forged->bytes).ok());
  ASSERT_FALSE(r->Health().ok());

  auto moved = r->Resync();
  ASSERT_TRUE(moved.ok()) << moved.status().ToString();
  EXPECT_TRUE(moved->starts_with(tmp_.Sub("standby/quarantine/resync-"))) << *moved;
  EXPECT_TRUE(r->Health().ok());
  EXPECT_FALSE(r->State().has_database);
  EXPECT_EQ(StoredSegments(), 0u);
  size_t kept = 0;
  for (const auto& e : std::filesystem::directory_iterator(*moved + "/segments")) kept += e.is_regular_file();
  EXPECT_EQ(kept, 2u);  // segments 1 and 2, kept
  EXPECT_GT(FileSizeOrZero(*moved + "/index.db"), 0);
  Push(*r, 1, segments_.size());
  r.reset();
  ExpectReplicaEqualsPrimary();
}

TEST_F(StandbyReplicaTest, AKillInTheMiddleOfAnApplyIsRepairedAtStartUp) {
  MakePrimarySegments();
  const size_t n = segments_.size();
  {
    auto r = OpenReplica();
    Push(*r, 1, n - 1);
  }
  // What a kill leaves: segment n stored, and only its first commit's pages
  // written into the replica.
  {
    auto store = SegmentStore::Open(tmp_.Sub("standby/segments"));
    ASSERT_TRUE(store.ok());
    DecodedSegment last = Decoded(n);
    ASSERT_GE(last.header.header.commits.size(), 1u);
    ASSERT_TRUE((*store)->Publish(EncodedSegment{segments_[n - 1], last.header}).ok());
    auto applier = SegmentApplier::Open(ReplicaPath(), kCapturePageSize);
    ASSERT_TRUE(applier.ok());
    ASSERT_TRUE(applier->Apply(last, last.header.header.first_txid).ok());
    auto partial = DbChecksum::ComputeFromFile(ReplicaPath(), kCapturePageSize);
    ASSERT_TRUE(partial.ok());
    ASSERT_NE(partial->Value(), last.header.header.db_checksum_after);
  }
  LogRecorder log;
  auto r = OpenReplica();
  ASSERT_TRUE(r->Health().ok()) << r->Health().ToString();
  EXPECT_EQ(r->State().sequence, n);
  EXPECT_TRUE(log.Contains("caught in the middle of a segment")) << "no log line for the repair";
  r.reset();
  ExpectReplicaEqualsPrimary();
}

TEST_F(StandbyReplicaTest, AReplicaRebuiltAtStartUpAfterAFailedRepairIsServedAgain) {
  MakePrimarySegments();
  const size_t n = segments_.size();
  {
    auto r = OpenReplica();
    Push(*r, 1, n - 1);
  }
  // A kill in the middle of segment n, and a damaged page that segment n
  // does not write: applying it again cannot make the replica whole.
  DecodedSegment last = Decoded(n);
  {
    auto store = SegmentStore::Open(tmp_.Sub("standby/segments"));
    ASSERT_TRUE((*store)->Publish(EncodedSegment{segments_[n - 1], last.header}).ok());
    auto applier = SegmentApplier::Open(ReplicaPath(), kCapturePageSize);
    ASSERT_TRUE(applier->Apply(last, last.header.header.first_txid).ok());
  }
  std::set<uint32_t> rewritten;
  for (const auto& f : last.frames) rewritten.insert(f.page_number);
  uint32_t page = 2;
  while (rewritten.count(page) != 0) ++page;
  auto bytes = ReadWholeFile(ReplicaPath());
  ASSERT_TRUE(bytes.ok());
  std::string damaged = *bytes;
  damaged[(page - 1) * kCapturePageSize + 7] ^= 0x20;
  ASSERT_TRUE(WriteFileAtomically(ReplicaPath(), damaged).ok());

  LogRecorder log;
  auto r = OpenReplica();
  ASSERT_TRUE(r->Health().ok()) << r->Health().ToString();
  EXPECT_TRUE(log.Contains("standby replica rebuilt"));
  EXPECT_TRUE(r->serveable()) << "a replica rebuilt whole is refused to readers";
  EXPECT_EQ(r->State().sequence, n);
  r.reset();
  ExpectReplicaEqualsPrimary();
}

TEST_F(StandbyReplicaTest, ASegmentStoredButNotAppliedIsAppliedAtStartUp) {
  MakePrimarySegments();
  const size_t n = segments_.size();
  {
    auto r = OpenReplica();
    Push(*r, 1, n - 1);
  }
  auto store = SegmentStore::Open(tmp_.Sub("standby/segments"));
  ASSERT_TRUE((*store)->Publish(EncodedSegment{segments_[n - 1], Decoded(n).header}).ok());
  auto r = OpenReplica();
  ASSERT_TRUE(r->Health().ok()) << r->Health().ToString();
  EXPECT_EQ(r->State().sequence, n);
  r.reset();
  ExpectReplicaEqualsPrimary();
}

TEST_F(StandbyReplicaTest, AReplicaDamagedOnDiskIsRebuiltAndTheDamagedFileKeptInQuarantine) {
  MakePrimarySegments();
  {
    auto r = OpenReplica();
    Push(*r, 1, segments_.size());
  }
  auto bytes = ReadWholeFile(ReplicaPath());
  ASSERT_TRUE(bytes.ok());
  // A page the last segment does not write (writing it again would heal it).
  std::set<uint32_t> rewritten;
  for (const auto& f : Decoded(segments_.size()).frames) rewritten.insert(f.page_number);
  uint32_t page = 2;
  while (rewritten.count(page) != 0) ++page;
  ASSERT_LT(static_cast<size_t>(page) * kCapturePageSize, bytes->size());
  std::string damaged = *bytes;
  damaged[(page - 1) * kCapturePageSize + 100] ^= 0x40;
  ASSERT_TRUE(WriteFileAtomically(ReplicaPath(), damaged).ok());

  auto r = OpenReplica();
  ASSERT_TRUE(r->Health().ok()) << r->Health().ToString();
  EXPECT_EQ(r->State().sequence, segments_.size());
  r.reset();
  ExpectReplicaEqualsPrimary();
  std::vector<std::string> quarantined;
  for (const auto& e : std::filesystem::directory_iterator(tmp_.Sub("standby/quarantine"))) {
    quarantined.push_back(e.path().string());
  }
  ASSERT_EQ(quarantined.size(), 1u);
  auto kept = ReadWholeFile(quarantined[0]);
  ASSERT_TRUE(kept.ok());
  EXPECT_TRUE(*kept == damaged) << "the quarantined file is not the damaged replica";
}

// A base arrives as a file (the HTTP route streams it there first).
TEST_F(StandbyReplicaTest, ABaseFileIsStoredCheckedAndKeptAsSentOnly) {
  auto r = OpenReplica();
  ASSERT_NE(r, nullptr);
  const std::string store_dir = tmp_.Sub("standby/segments");
  // Not SQLite: refused, with the exact error, and nothing stored.
  const std::string junk = tmp_.Sub("junk.bin");
  ASSERT_TRUE(WriteFileAtomically(junk, std::string(4096, 'j')).ok());
  Status s = r->ReceiveBaseFile(3, junk);
  EXPECT_EQ(s.code(), Code::kCorruption);
  EXPECT_EQ(s.message(), "receive the base of segment 3: the bytes are not an SQLite database");
  EXPECT_EQ(s.reason(), "segment_corrupt");
  EXPECT_FALSE(std::filesystem::exists(store_dir + "/" + SegmentStore::BaseFileName(3)));
  // Shorter than a page: refused the same way.
  const std::string stub = tmp_.Sub("stub.bin");
  ASSERT_TRUE(WriteFileAtomically(stub, std::string("SQLite format 3\0", 16)).ok());
  EXPECT_EQ(r->ReceiveBaseFile(3, stub).code(), Code::kCorruption);

  // A database file: stored byte for byte; the file sent is left as it was.
  StartNewDatabase();
  PutRows("a", 200, 900);
  ASSERT_EQ(Checkpoint(), SQLITE_OK);
  CloseWriter();
  const std::string sent = tmp_.Sub("sent.db");
  ASSERT_TRUE(CopyFileAtomically(db_path_, sent).ok());
  // As the HTTP route does: the body lands in a receive file, which a stored
  // base is renamed from.
  auto receive = [&](const std::string& from) {
    const std::string receiving = r->BaseReceivePath(3);
    EXPECT_TRUE(CopyFileAtomically(from, receiving).ok());
    Status st = r->ReceiveBaseFile(3, receiving);
    std::filesystem::remove(receiving);
    return st;
  };
  ASSERT_TRUE(receive(sent).ok());
  const std::string stored = store_dir + "/" + SegmentStore::BaseFileName(3);
  EXPECT_EQ(*ReadWholeFile(stored), *ReadWholeFile(sent));
  // Pushed again: a no-op. Other bytes for it: the old base goes to quarantine.
  ASSERT_TRUE(receive(sent).ok());
  std::string other = *ReadWholeFile(sent);
  other[other.size() - 1] ^= 0x01;
  ASSERT_TRUE(WriteFileAtomically(tmp_.Sub("other.db"), other).ok());
  ASSERT_TRUE(receive(tmp_.Sub("other.db")).ok());
  EXPECT_EQ(*ReadWholeFile(stored), other);
  int kept = 0;
  for (const auto& e : std::filesystem::directory_iterator(store_dir + "/quarantine")) {
    ++kept;
    EXPECT_EQ(*ReadWholeFile(e.path().string()), *ReadWholeFile(sent)) << e.path();
  }
  EXPECT_EQ(kept, 1);
  // No receive file is left in the store's folder.
  for (const auto& e : std::filesystem::directory_iterator(store_dir)) {
    EXPECT_FALSE(e.path().filename().string().starts_with("tmp-")) << e.path();
  }
  // A receive file a resync moved away: "push it again", not "not a database".
  Status gone = r->ReceiveBaseFile(4, r->BaseReceivePath(4));
  EXPECT_EQ(gone.code(), Code::kUnavailable);
  EXPECT_EQ(gone.reason(), "resync");
  // One base receive at a time.
  ASSERT_TRUE(r->TryBeginBaseReceive());
  EXPECT_FALSE(r->TryBeginBaseReceive());
  r->EndBaseReceive();
  EXPECT_TRUE(r->TryBeginBaseReceive());
  r->EndBaseReceive();
}

TEST_F(StandbyReplicaTest, AnUnfinishedBasePushIsRemovedAtStartUpAndNothingElse) {
  {
    auto r = OpenReplica();
    ASSERT_NE(r, nullptr);
    const std::string receiving = r->BaseReceivePath(7);
    EXPECT_EQ(std::filesystem::path(receiving).parent_path().string(), tmp_.Sub("standby/segments"));
    EXPECT_NE(r->BaseReceivePath(7), receiving);  // each push has a file of its own
    ASSERT_TRUE(WriteFileAtomically(receiving, std::string(10000, 'p')).ok());
    ASSERT_TRUE(WriteFileAtomically(tmp_.Sub("standby/segments/tmp-other"), "x").ok());
  }
  auto r = OpenReplica();
  ASSERT_NE(r, nullptr);
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(tmp_.Sub("standby/segments"))) {
    names.push_back(e.path().filename().string());
  }
  EXPECT_EQ(names, std::vector<std::string>{"tmp-other"});
}

TEST_F(StandbyReplicaTest, AFolderWithAWalIsAPrimarysAndIsRefused) {
  ASSERT_TRUE(EnsureDirectory(tmp_.Sub("standby")).ok());
  ASSERT_TRUE(WriteFileAtomically(ReplicaPath() + "-wal", std::string(100, 'w')).ok());
  auto r = StandbyReplica::Open(ReplicaPath(), tmp_.Sub("standby/segments"), tmp_.Sub("standby/quarantine"),
                                clock_, standby_metrics_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kConflict);
  EXPECT_NE(r.status().message().find("-wal exists: this folder belongs to a primary"), std::string::npos)
      << r.status().message();
}

TEST_F(StandbyReplicaTest, WaitForPositionAnswersOnceApplied) {
  MakePrimarySegments();
  auto r = OpenReplica();
  Status none = r->WaitForPosition(1, 0, 5);
  EXPECT_EQ(none.reason(), "position_not_reached");
  EXPECT_EQ(none.message(), "this standby has not applied position 1/0 within 5 ms (applied: nothing)");
  const int64_t wanted = static_cast<int64_t>(Decoded(2).header.header.last_txid);
  std::thread pusher([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    Push(*r, 1, 2);
  });
  Status reached = r->WaitForPosition(1, wanted, 5000);
  pusher.join();
  EXPECT_TRUE(reached.ok()) << reached.ToString();
  Status ahead = r->WaitForPosition(1, wanted + 1, 5);
  EXPECT_EQ(ahead.message(), "this standby has not applied position 1/" + std::to_string(wanted + 1) +
                                 " within 5 ms (applied: 1/" + std::to_string(wanted) + ")");
}

TEST(ApplyGateTest, AnApplyWaitsForReadersAndNewReadersWaitForAWaitingApply) {
  ApplyGate gate;
  std::atomic<int> step{0};
  auto hold = std::make_unique<ApplyGate::ReadHold>(gate.BeginRead());
  const uint64_t before = gate.generation();
  std::thread applier([&] {
    gate.Apply([&] {
      step = 1;
      return 0;
    });
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(step.load(), 0) << "the apply ran while a reader was inside";
  std::atomic<bool> second_reader_in{false};
  std::thread reader([&] {
    auto h = gate.BeginRead();
    second_reader_in = true;
    EXPECT_EQ(step.load(), 1) << "a new reader went in ahead of the waiting apply";
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(second_reader_in.load());
  hold.reset();
  applier.join();
  reader.join();
  EXPECT_TRUE(second_reader_in.load());
  EXPECT_EQ(gate.generation(), before + 1);
}

}  // namespace
}  // namespace walship::testing
