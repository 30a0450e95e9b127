// The shipper against an in-process standby (a StandbyReplica behind a link
// that can fail on demand): it ships from where the standby is, sends a
// base before the segment that starts a chain on it, retries failures with
// backoff, and refuses to ship to a standby that is ahead of its store.
#include "replication/segment_shipper.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <optional>
#include <thread>

#include "replication/standby_replica.h"
#include "tests/replication/wal_capture_fixture.h"

namespace walship::testing {
namespace {

// Forwards to a StandbyReplica; the next `fail_next` calls fail as an
// unreachable standby would. Used by one shipper thread at a time.
class InProcessLink final : public StandbyLink {
 public:
  explicit InProcessLink(StandbyReplica& replica) : replica_(replica) {}

  Result<StandbyPosition> FetchPosition() override {
    WALSHIP_RETURN_IF_ERROR(MaybeFail());
    if (report_ahead_) return StandbyPosition{true, 100, 1, 1000};
    return PositionOf(replica_.State());
  }
  Result<StandbyPosition> PushSegment(uint64_t sequence, const std::string& bytes) override {
    WALSHIP_RETURN_IF_ERROR(MaybeFail());
    pushed_.push_back(sequence);
    if (refuse_as_too_large_ == sequence) {
      // As HttpStandbyLink reports a 413: the standby's, or a proxy's (no
      // JSON body: reason http_413).
      return Status::Unavailable("push segment " + std::to_string(sequence) +
                                 ": HTTP 413: request body is over the limit")
          .WithReason(refusal_reason_);
    }
    auto state = replica_.Receive(sequence, bytes);
    if (!state.ok()) return state.status();
    return PositionOf(*state);
  }
  Status PushBase(uint64_t sequence, const std::string& path) override {
    WALSHIP_RETURN_IF_ERROR(MaybeFail());
    bases_.push_back(sequence);
    // As the HTTP route does: the bytes land in the standby's receive file.
    const std::string receiving = replica_.BaseReceivePath(sequence);
    WALSHIP_RETURN_IF_ERROR(CopyFileAtomically(path, receiving));
    Status s = replica_.ReceiveBaseFile(sequence, receiving);
    std::filesystem::remove(receiving);
    return s;
  }
  std::string Describe() const override { return "in-process standby"; }

  std::atomic<int> fail_next{0};
  bool report_ahead_ = false;
  std::optional<uint64_t> refuse_as_too_large_;  // a segment over the standby's limit
  std::string refusal_reason_ = "too_large";
  int64_t max_segment_bytes_ = 0;                 // the limit it says it has (0: none)
  std::vector<uint64_t> pushed_;
  std::vector<uint64_t> bases_;

 private:
  StandbyPosition PositionOf(const ReplicaState& s) const {
    return StandbyPosition{s.has_database, s.sequence, s.timeline, s.txid, max_segment_bytes_};
  }
  Status MaybeFail() {
    if (fail_next.load() <= 0) return Status::Ok();
    --fail_next;
    return Status::Unavailable("connection refused").WithReason("standby_unreachable");
  }
  StandbyReplica& replica_;
};

class SegmentShipperTest : public WalCaptureFixture {
 protected:
  void SetUp() override {
    WalCaptureFixture::SetUp();
    auto r = StandbyReplica::Open(tmp_.Sub("standby/index.db"), tmp_.Sub("standby/segments"),
                                  tmp_.Sub("standby/quarantine"), clock_, standby_metrics_);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    replica_ = std::move(r).value();
    link_ = std::make_unique<InProcessLink>(*replica_);
  }

  void WriteAndCheckpoint(const std::string& tag) {
    PutRows(tag, 10);
    PutRows(tag + "x", 3, 1500);
    ASSERT_EQ(Checkpoint(), SQLITE_OK);
  }

  uint64_t NewestSequence() const {
    auto entries = store_->List();
    EXPECT_TRUE(entries.ok() && !entries->empty());
    return entries.ok() && !entries->empty() ? entries->back().sequence : 0;
  }

  // The primary's file, after a checkpoint with the writer closed, against the replica's.
  void ExpectStandbyEqualsPrimary() {
    CloseWriter();
    auto a = ReadWholeFile(db_path_);
    auto b = ReadWholeFile(tmp_.Sub("standby/index.db"));
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_TRUE(*a == *b) << "standby " << b->size() << " bytes, primary " << a->size() << " bytes";
  }

  // A shipper with `options` asks for a snapshot; once it is taken and a
  // segment follows it, the standby gets them and equals the primary, and
  // the push answers are what the shipper counts as acknowledged.
  void ExpectSnapshotRequestedThenShipped(ShipperOptions options) {
    bool requested = false;
    options.request_snapshot = [&] { requested = true; };
    SegmentShipper shipper(*store_, *link_, options, clock_, shipper_metrics_);
    EXPECT_EQ(shipper.ShipPending().reason(), "snapshot_pending");
    EXPECT_TRUE(requested);
    Status snap = capture_->TakeSnapshot(db_, "standby bootstrap");
    ASSERT_TRUE(snap.ok()) << snap.ToString();
    WriteAndCheckpoint("d");
    Status shipped = shipper.ShipPending();
    ASSERT_TRUE(shipped.ok()) << shipped.ToString();
    EXPECT_EQ(replica_->State().sequence, NewestSequence());
    EXPECT_EQ(shipper.AcknowledgedSequence(), NewestSequence());
    ASSERT_EQ(Checkpoint(), SQLITE_OK);
    ExpectStandbyEqualsPrimary();
  }

  MetricsRegistry standby_metrics_;
  MetricsRegistry shipper_metrics_;
  std::unique_ptr<StandbyReplica> replica_;
  std::unique_ptr<InProcessLink> link_;
};

TEST_F(SegmentShipperTest, ShipsEverySegmentToAnEmptyStandbyThenOnlyWhatIsNew) {
  StartNewDatabase();
  WriteAndCheckpoint("a");
  WriteAndCheckpoint("b");
  SegmentShipper shipper(*store_, *link_, ShipperOptions{}, clock_, shipper_metrics_);
  Status s = shipper.ShipPending();
  ASSERT_TRUE(s.ok()) << s.ToString();
  const uint64_t first_newest = NewestSequence();
  ASSERT_EQ(link_->pushed_.size(), first_newest);
  EXPECT_TRUE(link_->bases_.empty());  // the chain starts on the empty file

  WriteAndCheckpoint("c");
  ASSERT_TRUE(shipper.ShipPending().ok());
  std::vector<uint64_t> expected;
  for (uint64_t seq = 1; seq <= NewestSequence(); ++seq) expected.push_back(seq);
  EXPECT_EQ(link_->pushed_, expected);  // nothing sent twice
  ShipperStats stats = shipper.Stats();
  EXPECT_EQ(stats.segments_shipped, NewestSequence());
  EXPECT_EQ(stats.last_shipped_sequence, NewestSequence());
  EXPECT_EQ(stats.standby.txid, txid_);
  EXPECT_EQ(stats.behind_since_unix_ms, 0);
  EXPECT_TRUE(stats.connected);
  ASSERT_EQ(Checkpoint(), SQLITE_OK);
  ExpectStandbyEqualsPrimary();
}

TEST_F(SegmentShipperTest, AStandbyAlreadyUpToDateIsCreditedOnlyByAPushAnswer) {
  StartNewDatabase();
  WriteAndCheckpoint("a");
  {
    SegmentShipper first(*store_, *link_, ShipperOptions{}, clock_, shipper_metrics_);
    ASSERT_TRUE(first.ShipPending().ok());
  }
  // A restarted primary (or one whose push answer was lost): the standby
  // says it has everything, but only an answer to a push may release a
  // sync write, so the newest segment goes again (a no-op there).
  const size_t pushes_before = link_->pushed_.size();
  SegmentShipper restarted(*store_, *link_, ShipperOptions{}, clock_, shipper_metrics_);
  EXPECT_EQ(restarted.WaitShipped(txid_, 1).reason(), "replication_timeout");
  ASSERT_TRUE(restarted.ShipPending().ok());
  ASSERT_EQ(link_->pushed_.size(), pushes_before + 1);
  EXPECT_EQ(link_->pushed_.back(), NewestSequence());
  EXPECT_TRUE(restarted.WaitShipped(txid_, 1).ok());
  ASSERT_TRUE(restarted.ShipPending().ok());  // credited now: nothing more is sent
  EXPECT_EQ(link_->pushed_.size(), pushes_before + 1);
}

TEST_F(SegmentShipperTest, AnAdoptedDatabaseShipsItsBaseBeforeTheSegments) {
  // A database made before the node captured anything: the chain starts on
  // a base snapshot of it.
  OpenWriter();
  CreateSchema();
  PutRows("old", 40, 700);
  ASSERT_EQ(sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr), SQLITE_OK);
  Status started = StartCapture(/*created_database=*/false);
  ASSERT_TRUE(started.ok()) << started.ToString();
  WriteAndCheckpoint("new");
  SegmentShipper shipper(*store_, *link_, ShipperOptions{}, clock_, shipper_metrics_);
  Status s = shipper.ShipPending();
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(link_->bases_.size(), 1u);
  ASSERT_FALSE(link_->pushed_.empty());
  EXPECT_EQ(link_->bases_[0], link_->pushed_[0]);
  EXPECT_EQ(replica_->State().txid, txid_);
  ASSERT_EQ(Checkpoint(), SQLITE_OK);
  ExpectStandbyEqualsPrimary();
}

TEST_F(SegmentShipperTest, AStandbyStartingOverGetsASnapshotInsteadOfTheWholeChain) {
  StartNewDatabase();
  for (const char* tag : {"a", "b", "c", "d"}) WriteAndCheckpoint(tag);
  const uint64_t old_newest = NewestSequence();
  bool requested = false;
  ShipperOptions options;
  options.snapshot_after_bytes = 0;  // any replay is too long
  options.request_snapshot = [&] { requested = true; };
  SegmentShipper shipper(*store_, *link_, options, clock_, shipper_metrics_);
  Status waiting = shipper.ShipPending();
  EXPECT_EQ(waiting.reason(), "snapshot_pending") << waiting.ToString();
  EXPECT_TRUE(requested);
  EXPECT_TRUE(link_->pushed_.empty());

  // What the writer does when asked, then the next write's segment.
  Status snap = capture_->TakeSnapshot(db_, "standby bootstrap");
  ASSERT_TRUE(snap.ok()) << snap.ToString();
  WriteAndCheckpoint("e");
  Status shipped = shipper.ShipPending();
  ASSERT_TRUE(shipped.ok()) << shipped.ToString();
  ASSERT_EQ(link_->bases_.size(), 1u);
  EXPECT_GT(link_->bases_[0], old_newest);
  EXPECT_EQ(link_->pushed_.front(), link_->bases_[0]);  // nothing before the snapshot
  EXPECT_EQ(link_->pushed_.back(), NewestSequence());
  EXPECT_EQ(replica_->State().txid, txid_);
  ExpectContiguous(Headers());  // the snapshot cost the primary's chain no txid
  ASSERT_EQ(Checkpoint(), SQLITE_OK);
  ExpectStandbyEqualsPrimary();
}

TEST_F(SegmentShipperTest, AStandbyWhoseNextSegmentIsGoneGetsASnapshot) {
  StartNewDatabase();
  WriteAndCheckpoint("a");
  SegmentShipper shipper(*store_, *link_, ShipperOptions{}, clock_, shipper_metrics_);
  ASSERT_TRUE(shipper.ShipPending().ok());
  const uint64_t applied = NewestSequence();
  WriteAndCheckpoint("b");
  WriteAndCheckpoint("c");
  // The segment the standby needs next is no longer in the store (what
  // retention will do): set it aside, as an operator would.
  auto entries = store_->List();
  ASSERT_TRUE(entries.ok());
  const SegmentFileEntry* gone = nullptr;
  for (const auto& e : *entries) {
    if (e.sequence == applied + 1) gone = &e;
  }
  ASSERT_NE(gone, nullptr);
  ASSERT_TRUE(MoveIntoFolder(gone->path, tmp_.Sub("retired"), "gone.wseg").ok());

  // Without snapshots: a named error, nothing pushed.
  Status stuck = shipper.ShipPending();
  EXPECT_EQ(stuck.code(), Code::kNotFound) << stuck.ToString();
  EXPECT_EQ(stuck.message(), "the standby in-process standby needs segment " + std::to_string(applied + 1) +
                                 ", which this primary's store does not hold (and no newer base follows it)");

  // With snapshots (whatever the replay would cost): a snapshot, then on.
  ShipperOptions options;
  options.snapshot_after_bytes = 1ll << 40;  // a replay would be cheap, but there is none
  ExpectSnapshotRequestedThenShipped(options);
}

// Segment retention removed the chain start: an empty standby cannot replay.
TEST_F(SegmentShipperTest, AnEmptyStandbyOfAPrunedStoreGetsASnapshotEvenWithSnapshotsOff) {
  StartNewDatabase();
  WriteAndCheckpoint("a");
  WriteAndCheckpoint("b");
  WriteAndCheckpoint("c");
  auto entries = store_->List();
  ASSERT_TRUE(entries.ok());
  ASSERT_GE(entries->size(), 3u);
  for (size_t i = 0; i + 1 < entries->size(); ++i) ASSERT_TRUE(store_->RemoveSegment((*entries)[i]).ok());

  // Nothing to ask a snapshot of: a named error, nothing pushed.
  SegmentShipper plain(*store_, *link_, ShipperOptions{}, clock_, shipper_metrics_);
  Status stuck = plain.ShipPending();
  EXPECT_EQ(stuck.code(), Code::kNotFound) << stuck.ToString();
  EXPECT_EQ(stuck.message(), "the standby in-process standby is empty and this primary's store holds no chain start "
                             "to begin it on (segment retention removed the older segments): it needs a snapshot");
  EXPECT_TRUE(link_->pushed_.empty());
  EXPECT_EQ(plain.AcknowledgedSequence(), std::nullopt);

  // snapshot_after_bytes = -1 ("always replay"), but there is no replay.
  ShipperOptions options;
  options.snapshot_after_bytes = -1;
  ExpectSnapshotRequestedThenShipped(options);
}

// A segment over the standby's replication.max_segment_bytes would be refused
// on every retry: the standby needs a chain start after it instead.
class SegmentShipperTooLargeTest : public SegmentShipperTest {
 protected:
  // Ships "a", then seals "b", which the standby refuses when it comes (a
  // 413 answer).
  void ShipThenSealARefusedSegment(SegmentShipper& shipper) {
    StartNewDatabase();
    WriteAndCheckpoint("a");
    ASSERT_TRUE(shipper.ShipPending().ok());
    refused_ = NewestSequence() + 1;
    link_->refuse_as_too_large_ = refused_;
    WriteAndCheckpoint("b");
    ASSERT_EQ(NewestSequence(), refused_);
    Status first = shipper.ShipPending();
    EXPECT_EQ(first.reason(), link_->refusal_reason_) << first.ToString();
    EXPECT_EQ(Pushes(refused_), 1);
  }
  int Pushes(uint64_t sequence) const {
    return static_cast<int>(std::count(link_->pushed_.begin(), link_->pushed_.end(), sequence));
  }
  uint64_t refused_ = 0;
};

TEST_F(SegmentShipperTooLargeTest, WithoutSnapshotsTheRefusedSegmentIsNotPushedAgainAndTheErrorSaysWhatToRaise) {
  SegmentShipper shipper(*store_, *link_, ShipperOptions{}, clock_, shipper_metrics_);
  ShipThenSealARefusedSegment(shipper);
  Status stuck = shipper.ShipPending();
  EXPECT_EQ(stuck.code(), Code::kTooLarge);
  EXPECT_EQ(stuck.message(), "the standby in-process standby refused segment " + std::to_string(refused_) +
                                 " as too large, and no snapshot (a new base) came after it: raise its "
                                 "replication.max_segment_bytes above this primary's checkpoint.wal_bytes");
  EXPECT_EQ(Pushes(refused_), 1);
}

// A standby that says its limit is never sent a segment over it: the push
// would get the standby's 413 only as a reset connection (it answers before
// reading the body).
TEST_F(SegmentShipperTooLargeTest, ASegmentOverTheLimitTheStandbySaysIsNotSentUntilTheLimitIsRaised) {
  StartNewDatabase();
  WriteAndCheckpoint("a");
  {
    SegmentShipper first(*store_, *link_, ShipperOptions{}, clock_, shipper_metrics_);
    ASSERT_TRUE(first.ShipPending().ok());
  }
  const uint64_t over = NewestSequence() + 1;
  WriteAndCheckpoint("b");
  auto entries = store_->List();
  ASSERT_TRUE(entries.ok() && entries->back().sequence == over);
  const int64_t size = static_cast<int64_t>(entries->back().bytes);
  link_->max_segment_bytes_ = size - 1;
  SegmentShipper shipper(*store_, *link_, ShipperOptions{}, clock_, shipper_metrics_);  // asks it anew
  Status refused = shipper.ShipPending();
  EXPECT_EQ(refused.code(), Code::kTooLarge);
  EXPECT_EQ(refused.message(), "ship segment " + std::to_string(over) + ": it is " + std::to_string(size) +
                                   " bytes, over the standby's replication.max_segment_bytes (" +
                                   std::to_string(size - 1) + ")");
  EXPECT_EQ(Pushes(over), 0);
  // And not the next time either: the standby needs a chain start after it.
  EXPECT_EQ(shipper.ShipPending().code(), Code::kTooLarge);
  EXPECT_EQ(Pushes(over), 0);

  // Its limit raised to the segment's size (a segment at the limit goes):
  // once the shipper's loop asks the standby again, the segment is pushed.
  SegmentShipper looping(*store_, *link_, ShipperOptions{5, 20, 50}, clock_, shipper_metrics_);
  ASSERT_EQ(looping.ShipPending().code(), Code::kTooLarge);  // refused, as above
  link_->max_segment_bytes_ = size;
  looping.Start();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (replica_->State().sequence != over && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  looping.Stop();
  EXPECT_EQ(replica_->State().sequence, over);
  EXPECT_EQ(Pushes(over), 1);
}

TEST_F(SegmentShipperTooLargeTest, TheStandbyStartsOverFromASnapshotTakenAfterTheRefusedSegment) {
  bool requested = false;
  ShipperOptions options;
  options.snapshot_after_bytes = -1;  // always replay when a replay is possible
  options.request_snapshot = [&] { requested = true; };
  SegmentShipper shipper(*store_, *link_, options, clock_, shipper_metrics_);
  link_->refusal_reason_ = "http_413";  // a proxy's 413 is taken the same way
  ShipThenSealARefusedSegment(shipper);
  EXPECT_FALSE(requested);
  EXPECT_EQ(shipper.ShipPending().reason(), "snapshot_pending");
  EXPECT_TRUE(requested);
  EXPECT_EQ(Pushes(refused_), 1);
  Status snap = capture_->TakeSnapshot(db_, "standby bootstrap");
  ASSERT_TRUE(snap.ok()) << snap.ToString();
  WriteAndCheckpoint("d");
  Status shipped = shipper.ShipPending();
  ASSERT_TRUE(shipped.ok()) << shipped.ToString();
  EXPECT_EQ(Pushes(refused_), 1);
  ASSERT_EQ(link_->bases_.size(), 1u);
  EXPECT_GT(link_->bases_[0], refused_);
  EXPECT_EQ(replica_->State().sequence, NewestSequence());
  EXPECT_EQ(shipper.AcknowledgedSequence(), NewestSequence());

  // A second refused segment gets a snapshot of its own: the chain of the
  // first (and its base) is not pushed again.
  const uint64_t second = NewestSequence() + 1;
  link_->refuse_as_too_large_ = second;
  WriteAndCheckpoint("e");
  ASSERT_EQ(NewestSequence(), second);
  EXPECT_EQ(shipper.ShipPending().reason(), "http_413");
  requested = false;
  EXPECT_EQ(shipper.ShipPending().reason(), "snapshot_pending");
  EXPECT_TRUE(requested);
  EXPECT_EQ(link_->bases_.size(), 1u);
  EXPECT_EQ(Pushes(second), 1);
  snap = capture_->TakeSnapshot(db_, "standby bootstrap");
  ASSERT_TRUE(snap.ok()) << snap.ToString();
  WriteAndCheckpoint("f");
  shipped = shipper.ShipPending();
  ASSERT_TRUE(shipped.ok()) << shipped.ToString();
  ASSERT_EQ(link_->bases_.size(), 2u);
  EXPECT_GT(link_->bases_[1], second);
  EXPECT_EQ(replica_->State().sequence, NewestSequence());
  ASSERT_EQ(Checkpoint(), SQLITE_OK);
  ExpectStandbyEqualsPrimary();
}

TEST_F(SegmentShipperTest, FailuresAreRetriedWithBackoffUntilTheStandbyAnswers) {
  StartNewDatabase();
  WriteAndCheckpoint("a");
  link_->fail_next = 4;
  SegmentShipper shipper(*store_, *link_, ShipperOptions{5, 20, 50}, clock_, shipper_metrics_);
  shipper.Start();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (replica_->State().sequence != NewestSequence() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(replica_->State().sequence, NewestSequence());
  WriteAndCheckpoint("b");  // sealed later: the notification ships it
  shipper.Notify();
  while (replica_->State().sequence != NewestSequence() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  shipper.Stop();
  EXPECT_EQ(replica_->State().sequence, NewestSequence());
  ShipperStats stats = shipper.Stats();
  EXPECT_EQ(stats.retries, 4u);
  EXPECT_EQ(stats.errors, 4u);
  EXPECT_EQ(stats.last_error, "unavailable: ask in-process standby for its position: connection refused");
  EXPECT_TRUE(stats.connected);
}

TEST_F(SegmentShipperTest, DrainForShipsWhatWasSealedLastBeforeAStop) {
  StartNewDatabase();
  WriteAndCheckpoint("a");
  ShipperOptions options;
  options.idle_poll_ms = 60'000;  // only a notification wakes it
  SegmentShipper shipper(*store_, *link_, options, clock_, shipper_metrics_);
  shipper.Start();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (replica_->State().sequence != NewestSequence() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  WriteAndCheckpoint("last");  // sealed with no notification, as at shutdown
  EXPECT_TRUE(shipper.DrainFor(5000));
  shipper.Stop();
  EXPECT_EQ(replica_->State().sequence, NewestSequence());
}

TEST_F(SegmentShipperTest, AStandbyAheadOfTheStoreIsAnError) {
  StartNewDatabase();
  WriteAndCheckpoint("a");
  link_->report_ahead_ = true;
  SegmentShipper shipper(*store_, *link_, ShipperOptions{}, clock_, shipper_metrics_);
  Status s = shipper.ShipPending();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Code::kConflict);
  EXPECT_EQ(s.message(), "the standby in-process standby applied segment 100, past this primary's newest " +
                             std::to_string(NewestSequence()) +
                             ": it follows another primary, or this store lost segments");
  EXPECT_TRUE(link_->pushed_.empty());
  // What such a standby says is never taken as confirmation of a sync write.
  Status wait = shipper.WaitShipped(999, 10);
  EXPECT_EQ(wait.reason(), "replication_timeout");
  EXPECT_EQ(wait.message(), "the standby in-process standby did not confirm txid 999 within 10 ms (it has -1)");
}

TEST_F(SegmentShipperTest, ASnapshotWhoseCopyFailsLeavesWritesAndTheChainGoingOn) {
  StartNewDatabase();
  WriteAndCheckpoint("a");
  // The base's temp file cannot be created: a folder is in its place.
  const std::string blocker =
      tmp_.Sub("segments/tmp-" + SegmentStore::BaseFileName(NewestSequence() + 1));
  ASSERT_TRUE(EnsureDirectory(blocker).ok());
  Status s = capture_->TakeSnapshot(db_, "standby bootstrap");
  EXPECT_EQ(s.code(), Code::kUnavailable) << s.ToString();
  EXPECT_TRUE(s.message().starts_with("snapshot (standby bootstrap): io_error: new base ")) << s.message();
  std::filesystem::remove(blocker);
  WriteAndCheckpoint("b");
  ExpectReplayEqualsLive(/*from_base=*/false);
}

}  // namespace
}  // namespace walship::testing
