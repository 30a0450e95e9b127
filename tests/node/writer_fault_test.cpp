// The writer's sticky error: after a failed write or fsync, or a full disk,
// the request fails and every later write is refused (faults injected
// through the metered VFS's switches, under a real Store).
#include "node/writer.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "node/metered_vfs.h"
#include "node/store.h"
#include "tests/support/store_fixture.h"
#include "tests/support/temp_dir.h"

namespace walship {
namespace {

using walship::testing::PutOp;
using walship::testing::SubmitEach;
using walship::testing::TempDir;
using walship::testing::WaitFor;
using walship::testing::WriterGate;

class WriterFaultTest : public ::testing::Test {
 protected:
  WriterFaultTest() { config_.data_dir = tmp_.Sub("data"); }

  void SetUp() override { Disarm(); }

  void TearDown() override {
    Disarm();  // the switches are process-wide
    store_.reset();
    RegisterMeteredVfs(nullptr).IgnoreError();  // only clears the histogram pointer
  }

  static void Disarm() {
    MeteredVfsFaults().Disarm();
    MeteredVfsFaults().write_error = 0;
  }

  void Open() {
    auto s = Store::Open(config_, clock_, metrics_);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
  }

  WriteOutcome Put(const std::string& key, const std::string& content) { return store_->Write({PutOp(key, content)}); }

  // After a sticky error: writes are refused, even with the fault gone.
  void ExpectWritesStopped(const Status& sticky) {
    Disarm();
    WriteOutcome later = Put("later", "refused");
    EXPECT_EQ(later.status.code(), Code::kUnavailable);
    EXPECT_EQ(later.status.reason(), "writes_stopped");
    EXPECT_EQ(later.status.message(), "writes are stopped: " + sticky.ToString());
    Status ready = store_->Ready();
    EXPECT_EQ(ready.code(), sticky.code());
    EXPECT_EQ(ready.message(), sticky.message());
    // Submit refuses up front and never calls back.
    bool called = false;
    Status submitted = store_->Submit(WriteRequest{{PutOp("later2", "x")}, [&](WriteOutcome) { called = true; }});
    EXPECT_EQ(submitted.reason(), "writes_stopped");
    EXPECT_FALSE(called);
  }

  // Reopens (fault-free) and checks every acknowledged write is there, the
  // database is intact, and the failed group is either wholly there or wholly
  // absent (after a failed fsync nobody can know which; never half of it).
  void ExpectAcknowledgedWritesSurviveReopen(const std::map<std::string, std::string>& acked,
                                             const std::vector<std::string>& failed_keys = {}) {
    store_.reset();
    Open();
    EXPECT_TRUE(store_->Ready().ok());
    for (const auto& [key, content] : acked) {
      auto got = store_->Get(key);
      ASSERT_TRUE(got.ok()) << key << ": " << got.status().ToString();
      EXPECT_EQ(got->content, content);
    }
    EXPECT_FALSE(store_->Get("later").ok());  // refused writes never happened
    size_t failed_present = 0;
    for (const auto& key : failed_keys) failed_present += store_->Get(key).ok() ? 1 : 0;
    EXPECT_TRUE(failed_present == 0 || failed_present == failed_keys.size()) << failed_present;
    const int64_t acked_txid = static_cast<int64_t>(acked.size());  // one txid per acknowledged write here
    EXPECT_EQ(store_->position().txid, acked_txid + (failed_present > 0 ? 1 : 0));
    WriteOutcome fresh = Put("after-reopen", "ok");
    ASSERT_TRUE(fresh.status.ok()) << fresh.status.ToString();
    EXPECT_EQ(fresh.position.txid, store_->position().txid);
    store_.reset();
    auto check = SqliteDb::Open(config_.DatabasePath(), SQLITE_OPEN_READONLY);
    ASSERT_TRUE(check.ok()) << check.status().ToString();
    auto ok = (*check)->QueryInt("SELECT count(*) FROM pragma_integrity_check WHERE integrity_check = 'ok'");
    ASSERT_TRUE(ok.ok()) << ok.status().ToString();
    EXPECT_EQ(*ok, 1) << "integrity_check is not ok";
  }

  TempDir tmp_;
  Config config_;
  ManualClock clock_;
  MetricsRegistry metrics_;
  std::unique_ptr<Store> store_;
};

TEST_F(WriterFaultTest, FailedFsyncFailsTheWriteAndStopsWritesForGood) {
  Open();
  std::map<std::string, std::string> acked;
  for (int i = 0; i < 3; ++i) {
    std::string key = "before/" + std::to_string(i);
    ASSERT_TRUE(Put(key, "acked " + key).status.ok());
    acked[key] = "acked " + key;
  }
  const int syncs_failed = MeteredVfsFaults().syncs_failed.load();

  MeteredVfsFaults().sync_countdown = 0;  // the next fsync fails
  WriteOutcome doomed = Put("doomed", "never acknowledged");
  EXPECT_EQ(MeteredVfsFaults().syncs_failed.load(), syncs_failed + 1);
  EXPECT_EQ(doomed.status.code(), Code::kIOError);
  EXPECT_EQ(doomed.status.message(), "commit group of 1 request: step \"COMMIT\": disk I/O error (fsync failed)");
  EXPECT_TRUE(doomed.results.empty());
  EXPECT_EQ(store_->position().ToString(), "1/3");  // the failed commit got no position

  ExpectWritesStopped(doomed.status);
  EXPECT_EQ(MeteredVfsFaults().syncs_failed.load(), syncs_failed + 1) << "the fsync was retried";
  // Reads go on.
  EXPECT_EQ(store_->Get("before/0")->content, "acked before/0");
  EXPECT_EQ(metrics_.GetCounter("walship_commit_failures_total", "").Value(), 1u);

  ExpectAcknowledgedWritesSurviveReopen(acked, {"doomed"});
}

TEST_F(WriterFaultTest, DiskFullFailsTheWriteAndStopsWritesForGood) {
  Open();
  ASSERT_TRUE(Put("before", "acked").status.ok());
  const int writes_failed = MeteredVfsFaults().writes_failed.load();

  MeteredVfsFaults().write_error = SQLITE_FULL;  // ENOSPC
  MeteredVfsFaults().write_countdown = 0;
  WriteOutcome doomed = Put("doomed", std::string(10'000, 'x'));
  EXPECT_EQ(MeteredVfsFaults().writes_failed.load(), writes_failed + 1);
  EXPECT_EQ(doomed.status.code(), Code::kIOError);
  EXPECT_EQ(doomed.status.message(), "commit group of 1 request: step \"COMMIT\": database or disk is full");

  ExpectWritesStopped(doomed.status);
  EXPECT_EQ(store_->Get("doomed").status().code(), Code::kNotFound);
  ExpectAcknowledgedWritesSurviveReopen({{"before", "acked"}}, {"doomed"});
}

TEST_F(WriterFaultTest, DiskFullPartWayThroughAGroupLeavesNothingOfIt) {
  Open();
  ASSERT_TRUE(Put("before", "acked").status.ok());
  MeteredVfsFaults().write_error = SQLITE_FULL;
  MeteredVfsFaults().write_countdown = 5;  // some frames reach the WAL, then the disk is full
  WriteOutcome doomed = store_->Write({PutOp("doomed/1", std::string(60'000, 'a')),
                                       PutOp("doomed/2", std::string(60'000, 'b'))});
  EXPECT_EQ(doomed.status.code(), Code::kIOError);
  EXPECT_EQ(doomed.status.message(), "commit group of 1 request: step \"COMMIT\": database or disk is full");
  EXPECT_EQ(MeteredVfsFaults().write_countdown.load(), -1) << "the fault did not trip";
  ExpectWritesStopped(doomed.status);
  ExpectAcknowledgedWritesSurviveReopen({{"before", "acked"}}, {"doomed/1", "doomed/2"});
}

TEST_F(WriterFaultTest, FailedWriteFailsTheWriteAndStopsWritesForGood) {
  Open();
  ASSERT_TRUE(Put("before", "acked").status.ok());
  MeteredVfsFaults().write_countdown = 0;  // write_error 0: SQLITE_IOERR_WRITE
  WriteOutcome doomed = Put("doomed", "x");
  EXPECT_EQ(doomed.status.code(), Code::kIOError);
  EXPECT_EQ(doomed.status.message(), "commit group of 1 request: step \"COMMIT\": disk I/O error (write failed)");
  ExpectWritesStopped(doomed.status);
  ExpectAcknowledgedWritesSurviveReopen({{"before", "acked"}}, {"doomed"});
}

TEST_F(WriterFaultTest, EveryRequestOfTheFailedGroupFails) {
  Open();
  ASSERT_TRUE(Put("before", "acked").status.ok());

  // Hold the writer in a completion so the next requests form one group.
  WriterGate gate;
  ASSERT_TRUE(store_->Submit(WriteRequest{{PutOp("gate", "g")}, gate.Callback()}).ok());
  gate.WaitUntilHeld();
  auto p = SubmitEach(*store_, {{PutOp("group/0", "x")}, {PutOp("group/1", "x")}, {PutOp("group/2", "x")}});
  MeteredVfsFaults().sync_countdown = 0;
  gate.Release();
  for (auto& f : p) {
    WriteOutcome o = f.get();
    EXPECT_EQ(o.status.code(), Code::kIOError);
    EXPECT_EQ(o.status.message(), "commit group of 3 requests: step \"COMMIT\": disk I/O error (fsync failed)");
  }
  ExpectWritesStopped(store_->Ready());
  ExpectAcknowledgedWritesSurviveReopen({{"before", "acked"}, {"gate", "g"}}, {"group/0", "group/1", "group/2"});
}

TEST_F(WriterFaultTest, FailedCheckpointFsyncIsStickyToo) {
  Open();
  ASSERT_TRUE(Put("before", "acked").status.ok());
  ASSERT_GT(store_->WalBytes(), 0);
  MeteredVfsFaults().sync_countdown = 0;
  store_->RequestCheckpoint();
  ASSERT_TRUE(WaitFor([&] { return !store_->Ready().ok(); })) << "the failed checkpoint was not noticed";
  Status sticky = store_->Ready();
  EXPECT_EQ(sticky.code(), Code::kIOError);
  EXPECT_EQ(sticky.message(), "checkpoint (timer): disk I/O error (fsync failed)");
  ExpectWritesStopped(sticky);
  ExpectAcknowledgedWritesSurviveReopen({{"before", "acked"}});
}

TEST_F(WriterFaultTest, HealthyStoreChecksPointsOnRequest) {
  Open();
  ASSERT_TRUE(Put("a", "x").status.ok());
  ASSERT_GT(store_->WalBytes(), 0);
  EXPECT_EQ(store_->LastCheckpointUnixMillis(), 0);
  store_->RequestCheckpoint();
  ASSERT_TRUE(WaitFor([&] { return store_->LastCheckpointUnixMillis() != 0; }));
  EXPECT_EQ(store_->LastCheckpointUnixMillis(), clock_.NowUnixMillis());
  EXPECT_EQ(store_->WalBytes(), 0);  // TRUNCATE checkpoint
  EXPECT_TRUE(store_->Ready().ok());
  EXPECT_EQ(store_->Get("a")->content, "x");
}

}  // namespace
}  // namespace walship
