// The writer on its own: group commit, checkpoints and the checkpoint hook
// (the sticky error after a failed write or fsync: writer_fault_test.cpp).
#include "node/writer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <future>
#include <mutex>
#include <thread>

#include "node/metered_vfs.h"
#include "node/schema.h"
#include "node/store.h"
#include "node/write_ops.h"
#include "replication/wal_file.h"
#include "tests/support/store_fixture.h"
#include "tests/support/temp_dir.h"

namespace walship {
namespace {

using walship::testing::PutOp;
using walship::testing::SubmitEach;
using walship::testing::TempDir;
using walship::testing::WaitFor;
using walship::testing::WriterGate;

// ---------------------------------------------------------------------------
// The Writer on its own: checkpoints and the hook before them.

class RecordingHook : public CheckpointHook {
 public:
  void AfterCommit(int64_t txid, int64_t, uint32_t) override {
    std::lock_guard lock(mu_);
    txids_.push_back(txid);
  }
  Status BeforeCheckpoint(sqlite3*, std::string_view reason) override {
    if (on_before_checkpoint_) on_before_checkpoint_();
    std::lock_guard lock(mu_);
    reasons_.emplace_back(reason);
    return fail_;
  }
  // Runs on the writer thread before the checkpoint's first pass.
  void set_on_before_checkpoint(std::function<void()> f) { on_before_checkpoint_ = std::move(f); }
  std::vector<int64_t> txids() {
    std::lock_guard lock(mu_);
    return txids_;
  }
  std::vector<std::string> reasons() {
    std::lock_guard lock(mu_);
    return reasons_;
  }
  void set_fail(Status s) {
    std::lock_guard lock(mu_);
    fail_ = std::move(s);
  }
  // Says "not yet" the next `n` times the writer asks.
  void set_not_ready(int n) { not_ready_ = n; }
  int prepares() const { return prepares_.load(); }
  bool PrepareCheckpoint() override {
    ++prepares_;
    if (not_ready_.load() <= 0) return true;
    --not_ready_;
    return false;
  }
  // Runs on the writer thread between the checkpoint's passes.
  void set_on_wal_reset(std::function<void()> f) { on_wal_reset_ = std::move(f); }
  Status BeforeWalReset() override {
    if (on_wal_reset_) on_wal_reset_();
    std::lock_guard lock(mu_);
    return wal_reset_status_;
  }
  // What BeforeWalReset answers from now on.
  void set_wal_reset_status(Status s) {
    std::lock_guard lock(mu_);
    wal_reset_status_ = std::move(s);
  }
  Status TakeSnapshot(sqlite3*, std::string_view why) override {
    std::lock_guard lock(mu_);
    reasons_.push_back("snapshot: " + std::string(why));
    return snapshot_fail_;
  }
  void set_snapshot_fail(Status s) {
    std::lock_guard lock(mu_);
    snapshot_fail_ = std::move(s);
  }

 private:
  std::mutex mu_;
  Status snapshot_fail_;
  Status wal_reset_status_;
  std::vector<std::string> reasons_;
  std::vector<int64_t> txids_;
  Status fail_;
  std::atomic<int> not_ready_{0};
  std::atomic<int> prepares_{0};
  std::function<void()> on_wal_reset_;  // set before the writer starts
  std::function<void()> on_before_checkpoint_;  // the same
};

class WriterTest : public ::testing::Test {
 protected:
  void StartWriter(CheckpointHook* hook = nullptr) {
    // Through the metered VFS, as in the node: its counters and faults.
    ASSERT_TRUE(RegisterMeteredVfs(nullptr).ok());
    auto db = SqliteDb::Open(tmp_.Sub("index.db"), SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, kMeteredVfsName);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    int unused = 0;
    ASSERT_EQ(sqlite3_db_config((*db)->raw(), SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, &unused), SQLITE_OK);
    ASSERT_TRUE((*db)->Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA wal_autocheckpoint=0").ok());
    ASSERT_TRUE(MigrateSchema(**db).ok());
    auto pos = ReadPosition(**db);
    ASSERT_TRUE(pos.ok());
    writer_ = std::make_unique<Writer>(std::move(db).value(), config_, clock_, metrics_, *pos);
    writer_->SetCheckpointHook(hook);
    writer_->Start();
  }

  WriteOutcome Write(std::vector<WriteOp> ops) {
    std::promise<WriteOutcome> done;
    auto f = done.get_future();
    Status s = writer_->Submit(WriteRequest{std::move(ops), [&](WriteOutcome o) { done.set_value(std::move(o)); }});
    if (!s.ok()) return WriteOutcome{s, {}, {}};
    return f.get();
  }

  uint64_t Checkpoints(const char* result) {
    return metrics_.GetCounter("walship_checkpoints_total", "", {{"result", result}}).Value();
  }

  TempDir tmp_;
  Config config_;
  ManualClock clock_;
  MetricsRegistry metrics_;
  RecordingHook hook_;  // outlives the writer: Stop() runs the shutdown checkpoint
  std::unique_ptr<Writer> writer_;
};

TEST_F(WriterTest, RequestedCheckpointCallsTheHookThenTruncatesTheWal) {
  StartWriter(&hook_);
  ASSERT_TRUE(Write({PutOp("a", "x")}).status.ok());
  ASSERT_GT(writer_->WalBytes(), 0);
  writer_->RequestCheckpoint();
  ASSERT_TRUE(WaitFor([&] { return Checkpoints("complete") == 1; }));
  EXPECT_EQ(hook_.reasons(), (std::vector<std::string>{"timer"}));
  EXPECT_EQ(writer_->WalBytes(), 0);
  EXPECT_EQ(writer_->LastCheckpointUnixMillis(), clock_.NowUnixMillis());
}

// A timer tick within half an interval of a checkpoint for the WAL size
// skips: it would copy little and still pause every write. Later ticks
// checkpoint again; a timer's own checkpoint never makes a tick skip (a
// tick the busy writer ran late must not cost the next one).
TEST_F(WriterTest, ATimerTickSoonAfterASizeCheckpointSkipsIt) {
  config_.checkpoint_interval_ms = 1000;
  config_.checkpoint_wal_bytes = 1 << 20;
  StartWriter(&hook_);
  ASSERT_TRUE(Write({PutOp("a", std::string(1536 * 1024, 'x'))}).status.ok());  // past 1 MiB of WAL
  ASSERT_TRUE(WaitFor([&] { return Checkpoints("complete") == 1; }));
  EXPECT_EQ(hook_.reasons(), (std::vector<std::string>{"wal_size"}));

  clock_.AdvanceMillis(499);
  ASSERT_TRUE(Write({PutOp("b", "x")}).status.ok());
  writer_->RequestTimerCheckpoint();
  // Two writes after the tick: the second is handled in a later round of
  // the writer than the tick, so the tick has been judged when it returns.
  ASSERT_TRUE(Write({PutOp("c", "x")}).status.ok());
  ASSERT_TRUE(Write({PutOp("d", "x")}).status.ok());
  EXPECT_EQ(Checkpoints("complete"), 1u) << "a tick 499 ms after a size checkpoint with a 1000 ms interval";
  EXPECT_GT(writer_->WalBytes(), 0);

  clock_.AdvanceMillis(1);
  writer_->RequestTimerCheckpoint();
  ASSERT_TRUE(WaitFor([&] { return Checkpoints("complete") == 2; }));
  EXPECT_EQ(hook_.reasons(), (std::vector<std::string>{"wal_size", "timer"}));
  EXPECT_EQ(writer_->WalBytes(), 0);

  ASSERT_TRUE(Write({PutOp("e", "x")}).status.ok());
  writer_->RequestTimerCheckpoint();  // no time has passed since the timer's checkpoint
  ASSERT_TRUE(WaitFor([&] { return Checkpoints("complete") == 3; }));
}

// An incomplete size checkpoint (a reader on an older snapshot) left the
// WAL full: the next tick, however soon, tries again.
TEST_F(WriterTest, ATimerTickSoonAfterAnIncompleteSizeCheckpointRunsIt) {
  config_.checkpoint_interval_ms = 1000;
  config_.checkpoint_wal_bytes = 1 << 20;
  StartWriter(&hook_);
  ASSERT_TRUE(Write({PutOp("a", "x")}).status.ok());
  auto reader = SqliteDb::Open(tmp_.Sub("index.db"), SQLITE_OPEN_READONLY);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  ASSERT_TRUE((*reader)->Exec("BEGIN; SELECT count(*) FROM archives;").ok());
  ASSERT_TRUE(Write({PutOp("b", std::string(1536 * 1024, 'x'))}).status.ok());  // past 1 MiB of WAL
  ASSERT_TRUE(WaitFor([&] { return Checkpoints("incomplete") == 1; }));
  EXPECT_EQ(hook_.reasons(), (std::vector<std::string>{"wal_size"}));
  ASSERT_TRUE((*reader)->Exec("COMMIT").ok());

  writer_->RequestTimerCheckpoint();  // no time has passed
  ASSERT_TRUE(WaitFor([&] { return Checkpoints("complete") == 1; }));
  EXPECT_EQ(writer_->WalBytes(), 0);
}

// While a write waits, the last pass does not truncate the -wal file (that
// paused writes ~30 ms per checkpoint): SQLite starts the WAL over at the
// file's start with the next write. With none waiting, it truncates.
TEST_F(WriterTest, WithAWriteWaitingTheCheckpointReusesTheWalFileAndIdleItTruncatesIt) {
  std::promise<WriteOutcome> waiting;
  auto waiting_done = waiting.get_future();
  hook_.set_on_wal_reset([&] {
    if (Checkpoints("complete") != 0) return;
    Status s = writer_->Submit(
        WriteRequest{{PutOp("waiting", "w")}, [&](WriteOutcome o) { waiting.set_value(std::move(o)); }});
    EXPECT_TRUE(s.ok()) << s.ToString();
  });
  StartWriter(&hook_);
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(Write({PutOp("k" + std::to_string(i), std::string(3000, 'x'))}).status.ok());
  const std::string wal = tmp_.Sub("index.db-wal");
  const auto wal_file_bytes = std::filesystem::file_size(wal);
  ASSERT_GT(writer_->WalBytes(), 0);
  EXPECT_EQ(static_cast<uintmax_t>(writer_->WalBytes()), wal_file_bytes);

  writer_->RequestCheckpoint();
  ASSERT_EQ(waiting_done.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  ASSERT_TRUE(waiting_done.get().status.ok());
  EXPECT_EQ(Checkpoints("complete"), 1u);
  EXPECT_EQ(std::filesystem::file_size(wal), wal_file_bytes) << "the file is reused, not truncated";
  auto scan = ScanWalFile(wal);
  ASSERT_TRUE(scan.ok()) << scan.status().ToString();
  ASSERT_FALSE(scan->frames.empty());
  EXPECT_EQ(scan->frames.front().index, 1u) << "the waiting write started the WAL over";
  EXPECT_EQ(writer_->WalBytes(), static_cast<int64_t>(kWalHeaderSize + scan->frames.size() * (kWalFrameHeaderSize + 4096)));
  EXPECT_LT(static_cast<uintmax_t>(writer_->WalBytes()), wal_file_bytes);

  writer_->RequestCheckpoint();
  ASSERT_TRUE(WaitFor([&] { return Checkpoints("complete") == 2; }));
  EXPECT_EQ(std::filesystem::file_size(wal), 0u) << "no write waited: truncated";
  EXPECT_EQ(writer_->WalBytes(), 0);
}

// A reader that began before the checkpoint, on the newest snapshot, lets
// the passes copy every frame but keeps SQLite from starting the WAL over
// at the next write: the writes go on in the same generation. The size
// trigger then counts from that generation's size, as after an incomplete
// checkpoint; counting from 0 would checkpoint again after every group.
TEST_F(WriterTest, AReaderInTheWayOfTheWalRestartDoesNotTriggerTheNextCheckpoint) {
  config_.checkpoint_wal_bytes = 256 * 1024;  // the waiting writes and one more add far less
  config_.max_group_requests = 1;
  std::unique_ptr<SqliteDb> reader;
  std::vector<std::future<WriteOutcome>> queued;
  std::vector<std::promise<WriteOutcome>> outcomes(4);
  // Declared after the locals, so it runs first, also when an ASSERT returns
  // early: the writer's shutdown checkpoint calls the hook, whose callback
  // reads the locals (it aborted now and then on freed promises).
  struct StopWriterFirst {
    std::unique_ptr<Writer>& writer;
    ~StopWriterFirst() { writer.reset(); }
  } stop_writer_first{writer_};
  hook_.set_on_before_checkpoint([&] {
    if (reader) return;
    auto r = SqliteDb::Open(tmp_.Sub("index.db"), SQLITE_OPEN_READONLY);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    reader = std::move(r).value();
    ASSERT_TRUE(reader->Exec("BEGIN; SELECT count(*) FROM archives;").ok());
    for (auto& o : outcomes) {  // writes waiting: the last pass is passive
      queued.push_back(o.get_future());
      Status s = writer_->Submit(WriteRequest{{PutOp("q" + std::to_string(queued.size()), "small")},
                                              [&o](WriteOutcome out) { o.set_value(std::move(out)); }});
      ASSERT_TRUE(s.ok()) << s.ToString();
    }
  });
  StartWriter(&hook_);
  int i = 0;
  while (Checkpoints("complete") == 0 && i < 400) {  // the WAL passes 256 KiB: a size checkpoint
    ASSERT_TRUE(Write({PutOp("k" + std::to_string(i++), std::string(3000, 'x'))}).status.ok());
  }
  ASSERT_EQ(Checkpoints("complete"), 1u);
  for (auto& f : queued) {
    ASSERT_EQ(f.wait_for(std::chrono::seconds(10)), std::future_status::ready);
    ASSERT_TRUE(f.get().status.ok());
  }
  auto scan = ScanWalFile(tmp_.Sub("index.db-wal"));
  ASSERT_TRUE(scan.ok()) << scan.status().ToString();
  EXPECT_GT(scan->frames.front().index, 0u);
  EXPECT_GT(writer_->WalBytes(), config_.checkpoint_wal_bytes) << "the generation went on: no restart";
  ASSERT_TRUE(Write({PutOp("after", "y")}).status.ok());
  EXPECT_EQ(Checkpoints("complete"), 1u);
  EXPECT_EQ(Checkpoints("incomplete"), 0u) << "a checkpoint ran again at once";
  ASSERT_TRUE(reader->Exec("COMMIT").ok());
}

// The hook's sealer is busy: the checkpoint waits (writes go on) and runs
// once the hook says so, through BeforeCheckpoint as always.
TEST_F(WriterTest, ACheckpointTheHookPutsOffRunsWhenTheHookIsReady) {
  hook_.set_not_ready(3);
  StartWriter(&hook_);
  ASSERT_TRUE(Write({PutOp("a", "x")}).status.ok());
  writer_->RequestCheckpoint();
  ASSERT_TRUE(Write({PutOp("b", "y")}).status.ok());
  ASSERT_TRUE(WaitFor([&] { return Checkpoints("complete") == 1; }));
  EXPECT_GE(hook_.prepares(), 4);
  EXPECT_EQ(hook_.reasons(), (std::vector<std::string>{"timer"}));
  EXPECT_EQ(writer_->WalBytes(), 0);
}

// A hook that never gets ready does not hold the checkpoint back for more
// than kMaxCheckpointDeferMs (200 ms).
TEST_F(WriterTest, ACheckpointIsPutOffAtMost200Ms) {
  hook_.set_not_ready(1'000'000);
  StartWriter(&hook_);
  ASSERT_TRUE(Write({PutOp("a", "x")}).status.ok());
  writer_->RequestCheckpoint();
  ASSERT_TRUE(WaitFor([&] { return hook_.prepares() >= 3; }));
  EXPECT_EQ(Checkpoints("complete"), 0u);
  EXPECT_TRUE(hook_.reasons().empty());
  clock_.AdvanceMillis(199);
  const int asked = hook_.prepares();
  ASSERT_TRUE(WaitFor([&] { return hook_.prepares() >= asked + 2; }));
  EXPECT_EQ(Checkpoints("complete"), 0u);
  clock_.AdvanceMillis(1);
  ASSERT_TRUE(WaitFor([&] { return Checkpoints("complete") == 1; }));
  EXPECT_EQ(hook_.reasons(), (std::vector<std::string>{"timer"}));
}

TEST_F(WriterTest, HookHearsEveryCommittedTxidInOrder) {
  StartWriter(&hook_);
  ASSERT_TRUE(Write({PutOp("a", "x")}).status.ok());
  WriteOp create_only = PutOp("a", "x");
  create_only.if_none_match_any = true;
  ASSERT_FALSE(Write({create_only}).status.ok());  // fails alone: no commit
  ASSERT_TRUE(Write({PutOp("b", "y")}).status.ok());
  EXPECT_EQ(hook_.txids(), (std::vector<int64_t>{1, 2}));
}

TEST_F(WriterTest, HookIOErrorSkipsTheCheckpointAndStopsWrites) {
  hook_.set_fail(Status::IOError("seal segment 3: write: No space left on device"));
  StartWriter(&hook_);
  ASSERT_TRUE(Write({PutOp("a", "x")}).status.ok());
  const int64_t wal = writer_->WalBytes();
  writer_->RequestCheckpoint();
  ASSERT_TRUE(WaitFor([&] { return Checkpoints("failed") == 1; }));
  EXPECT_EQ(writer_->WalBytes(), wal);
  EXPECT_EQ(writer_->Health().ToString(), "io_error: seal segment 3: write: No space left on device");
  EXPECT_EQ(Write({PutOp("b", "y")}).status.reason(), "writes_stopped");
}

TEST_F(WriterTest, AnyHookErrorButUnavailableStopsWrites) {
  hook_.set_fail(Status::Conflict("new base: publish base snapshot for segment 3: the store holds another"));
  StartWriter(&hook_);
  ASSERT_TRUE(Write({PutOp("a", "x")}).status.ok());
  writer_->RequestCheckpoint();
  ASSERT_TRUE(WaitFor([&] { return Checkpoints("failed") == 1; }));
  EXPECT_EQ(writer_->Health().code(), Code::kConflict);
  EXPECT_EQ(Write({PutOp("b", "y")}).status.reason(), "writes_stopped");
}

TEST_F(WriterTest, FailingHookSkipsTheCheckpointAndKeepsEveryFrame) {
  hook_.set_fail(Status::Unavailable("new base: checkpoint: a reader holds an older snapshot"));
  StartWriter(&hook_);
  ASSERT_TRUE(Write({PutOp("a", "x")}).status.ok());
  const int64_t wal = writer_->WalBytes();
  ASSERT_GT(wal, 0);
  writer_->RequestCheckpoint();
  ASSERT_TRUE(WaitFor([&] { return Checkpoints("failed") == 1; }));
  EXPECT_EQ(Checkpoints("complete"), 0u);
  EXPECT_EQ(writer_->WalBytes(), wal);
  EXPECT_EQ(writer_->LastCheckpointUnixMillis(), 0);
  // Not a sticky error: the next capture may succeed.
  EXPECT_TRUE(writer_->Health().ok());
  ASSERT_TRUE(Write({PutOp("b", "y")}).status.ok());
}

TEST_F(WriterTest, ReaderOnAnOldSnapshotMakesTheCheckpointIncompleteNotFatal) {
  StartWriter(&hook_);
  ASSERT_TRUE(Write({PutOp("a", "x")}).status.ok());
  auto reader = SqliteDb::Open(tmp_.Sub("index.db"), SQLITE_OPEN_READONLY);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  ASSERT_TRUE((*reader)->Exec("BEGIN; SELECT count(*) FROM archives;").ok());  // holds a snapshot
  ASSERT_TRUE(Write({PutOp("b", "y")}).status.ok());
  const int64_t wal = writer_->WalBytes();

  writer_->RequestCheckpoint();
  ASSERT_TRUE(WaitFor([&] { return Checkpoints("incomplete") == 1; }));
  EXPECT_EQ(Checkpoints("complete"), 0u);
  EXPECT_EQ(Checkpoints("failed"), 0u);
  EXPECT_TRUE(writer_->Health().ok());
  EXPECT_GE(writer_->WalBytes(), wal);  // nothing truncated
  // The writer did not stall behind the reader.
  ASSERT_TRUE(Write({PutOp("c", "z")}).status.ok());

  ASSERT_TRUE((*reader)->Exec("COMMIT").ok());
  writer_->RequestCheckpoint();
  ASSERT_TRUE(WaitFor([&] { return Checkpoints("complete") == 1; }));
  EXPECT_EQ(writer_->WalBytes(), 0);
}

// SQLite syncs the database file only after a pass that copied every frame.
// When the first pass stops at the hook's snapshot (the frames still
// sealing), the writer syncs the database before the wait for the seal, so
// the write-back overlaps it; the last pass then syncs only its own pages.
class WriterPinnedCheckpointTest : public WriterTest {
 protected:
  // A reader's snapshot after "a" and before "b": the first pass stops there.
  // BeforeWalReset lets it go, as the capture lets its pin go.
  void StartWithAPinnedSnapshot() {
    hook_.set_on_before_checkpoint([this] { syncs_at_start_ = MeteredVfsFaults().main_db_syncs.load(); });
    hook_.set_on_wal_reset([this] {
      syncs_at_reset_ = MeteredVfsFaults().main_db_syncs.load();
      if (reader_) reader_->Exec("COMMIT").IgnoreError();  // again at shutdown: no transaction then
    });
    StartWriter(&hook_);
    ASSERT_TRUE(Write({PutOp("a", "x")}).status.ok());
    auto reader = SqliteDb::Open(tmp_.Sub("index.db"), SQLITE_OPEN_READONLY);
    ASSERT_TRUE(reader.ok()) << reader.status().ToString();
    ASSERT_TRUE((*reader)->Exec("BEGIN; SELECT count(*) FROM archives;").ok());
    reader_ = std::move(reader).value();
    ASSERT_TRUE(Write({PutOp("b", "y")}).status.ok());
  }
  void TearDown() override {
    writer_.reset();  // its shutdown checkpoint still calls the hook, which uses reader_
    MeteredVfsFaults().Disarm();
  }

  std::unique_ptr<SqliteDb> reader_;
  std::atomic<int> syncs_at_start_{-1};
  std::atomic<int> syncs_at_reset_{-1};
};

TEST_F(WriterPinnedCheckpointTest, AFirstPassThatStopsShortSyncsTheDatabaseBeforeTheWait) {
  StartWithAPinnedSnapshot();
  writer_->RequestCheckpoint();
  ASSERT_TRUE(WaitFor([&] { return Checkpoints("complete") == 1; }));
  EXPECT_EQ(syncs_at_reset_ - syncs_at_start_, 1) << "one database sync between the first pass and the wait";
  EXPECT_EQ(MeteredVfsFaults().main_db_syncs - syncs_at_start_, 2) << "and one by the last pass";
  EXPECT_EQ(writer_->WalBytes(), 0);
  EXPECT_TRUE(writer_->Health().ok());
}

TEST_F(WriterPinnedCheckpointTest, AFailedDatabaseSyncAfterTheFirstPassStopsWrites) {
  StartWithAPinnedSnapshot();
  MeteredVfsFaults().main_db_sync_countdown = 0;  // the first pass does not sync the database
  const int failed_before = MeteredVfsFaults().syncs_failed;  // process-wide
  writer_->RequestCheckpoint();
  ASSERT_TRUE(WaitFor([&] { return !writer_->Health().ok(); }));
  const Status sticky = writer_->Health();
  EXPECT_EQ(sticky.code(), Code::kIOError);
  EXPECT_EQ(sticky.message(),
            "checkpoint (timer): fsync the database file after the first checkpoint pass: disk I/O error "
            "(SQLite error 1034)");
  EXPECT_EQ(Checkpoints("failed"), 1u);
  EXPECT_EQ(Checkpoints("complete"), 0u);
  EXPECT_EQ(MeteredVfsFaults().syncs_failed - failed_before, 1);
  MeteredVfsFaults().Disarm();  // never retried, even with the disk well again
  WriteOutcome later = Write({PutOp("c", "z")});
  EXPECT_EQ(later.status.reason(), "writes_stopped");
}

// The failed sync comes first: a "try again later" from the hook in the same
// checkpoint must not hide it (the checkpoint would then simply be retried,
// and with it the fsync).
TEST_F(WriterPinnedCheckpointTest, AFailedDatabaseSyncStopsWritesEvenWhenTheHookSaysTryAgainLater) {
  StartWithAPinnedSnapshot();
  hook_.set_wal_reset_status(Status::Unavailable("the last segment is still sealing"));
  MeteredVfsFaults().main_db_sync_countdown = 0;
  writer_->RequestCheckpoint();
  ASSERT_TRUE(WaitFor([&] { return !writer_->Health().ok(); }));
  EXPECT_EQ(writer_->Health().ToString(),
            "io_error: checkpoint (timer): fsync the database file after the first checkpoint pass: disk I/O "
            "error (SQLite error 1034)");
  EXPECT_EQ(Checkpoints("failed"), 1u);
  hook_.set_wal_reset_status(Status::Ok());
  MeteredVfsFaults().Disarm();
  EXPECT_EQ(Write({PutOp("c", "z")}).status.reason(), "writes_stopped");
}

TEST_F(WriterTest, ASnapshotRequestReachesTheHookBetweenGroupsAndAFailureStopsWrites) {
  RecordingHook hook;
  StartWriter(&hook);
  ASSERT_TRUE(Write({PutOp("a", "1")}).status.ok());
  writer_->RequestSnapshot();
  for (int i = 0; i < 200 && hook.reasons().empty(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_EQ(hook.reasons(), std::vector<std::string>{"snapshot: standby bootstrap"});
  EXPECT_TRUE(writer_->Health().ok());
  // A snapshot that fails after the checkpoint left frames in no segment:
  // writes stop, as after a failed checkpoint hook.
  hook.set_snapshot_fail(Status::IOError("new base 7 after a checkpoint: disk full"));
  writer_->RequestSnapshot();
  for (int i = 0; i < 200 && writer_->Health().ok(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_EQ(writer_->Health().ToString(), "io_error: new base 7 after a checkpoint: disk full");
  WriteOutcome refused = Write({PutOp("b", "2")});
  EXPECT_EQ(refused.status.reason(), "writes_stopped");
}

TEST_F(WriterTest, WalSizeThresholdTriggersACheckpoint) {
  config_.checkpoint_wal_bytes = 4096;
  StartWriter(&hook_);
  ASSERT_TRUE(Write({PutOp("big", std::string(20'000, 'x'))}).status.ok());
  ASSERT_TRUE(WaitFor([&] { return Checkpoints("complete") >= 1; }));
  ASSERT_FALSE(hook_.reasons().empty());
  EXPECT_EQ(hook_.reasons().front(), "wal_size");
  EXPECT_EQ(writer_->WalBytes(), 0);
}

TEST_F(WriterTest, StopCommitsQueuedWorkThenCheckpoints) {
  StartWriter(&hook_);
  std::atomic<int> ok{0};
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(writer_
                    ->Submit(WriteRequest{{PutOp("k" + std::to_string(i), "v")},
                                          [&](WriteOutcome o) { ok += o.status.ok() ? 1 : 0; }})
                    .ok());
  }
  writer_->Stop();
  EXPECT_EQ(ok.load(), 10);
  EXPECT_EQ(hook_.reasons().back(), "shutdown");
  EXPECT_EQ(writer_->WalBytes(), 0);
  Status refused = writer_->Submit(WriteRequest{{PutOp("late", "v")}, [](WriteOutcome) {}});
  EXPECT_EQ(refused.code(), Code::kUnavailable);
  EXPECT_EQ(refused.reason(), "shutting_down");
  EXPECT_EQ(refused.message(), "the node is shutting down");
  writer_->Stop();  // idempotent
}

TEST_F(WriterTest, GroupsAreCappedAtMaxGroupRequests) {
  config_.max_group_requests = 2;
  StartWriter();
  WriterGate gate;
  ASSERT_TRUE(writer_->Submit(WriteRequest{{PutOp("gate", "g")}, gate.Callback()}).ok());
  gate.WaitUntilHeld();
  std::vector<std::vector<WriteOp>> requests;
  for (int i = 0; i < 5; ++i) requests.push_back({PutOp("k" + std::to_string(i), "v")});
  auto p = SubmitEach(*writer_, requests);
  gate.Release();
  std::vector<int64_t> txids;
  for (auto& f : p) {
    WriteOutcome o = f.get();
    ASSERT_TRUE(o.status.ok());
    txids.push_back(o.position.txid);
  }
  // gate = 1, then groups {k0,k1} = 2, {k2,k3} = 3, {k4} = 4.
  EXPECT_EQ(txids, (std::vector<int64_t>{2, 2, 3, 3, 4}));
  EXPECT_EQ(writer_->position().ToString(), "1/4");
}

}  // namespace
}  // namespace walship
