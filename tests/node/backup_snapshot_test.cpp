// Store::PinBackupSnapshot with TakeBackup: a backup of a live primary is the
// database at the pinned position, byte for byte, with the capture's checksum.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "backup/backup_format.h"
#include "backup/compressed_file.h"
#include "backup/take_backup.h"
#include "node/metered_vfs.h"
#include "node/store.h"
#include "replication/db_checksum.h"
#include "replication/segment_replay.h"
#include "tests/support/store_fixture.h"
#include "tests/support/temp_dir.h"

namespace walship {
namespace {

using walship::testing::PutOp;
using walship::testing::TempDir;

class BackupSnapshotTest : public ::testing::Test {
 protected:
  BackupSnapshotTest() { config_.data_dir = tmp_.Sub("data"); }
  void TearDown() override {
    store_.reset();
    RegisterMeteredVfs(nullptr).IgnoreError();  // only clears the pointer
  }
  void Open() {
    auto s = Store::Open(config_, clock_, metrics_);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
  }
  Position Put(const std::string& key, const std::string& content) {
    WriteOutcome out = store_->Write({PutOp(key, content)});
    EXPECT_TRUE(out.status.ok()) << out.status.ToString();
    return out.position;
  }
  Result<BackupManifest> Take(const BackupStore& backups, const std::string& id) {
    BackupProgress progress;
    TakeBackupOptions options;
    options.pages_per_step = 3;  // many steps: writes go on between them
    options.tool_version = "test";
    return TakeBackup(backups, id, [&] { return store_->PinBackupSnapshot(); }, options, clock_, progress);
  }

  TempDir tmp_;
  Config config_;
  ManualClock clock_{1'700'000'000'000};
  MetricsRegistry metrics_;
  std::unique_ptr<Store> store_;
};

TEST_F(BackupSnapshotTest, BackupUnderWritesIsTheDatabaseAtItsPositionByteForByte) {
  Open();
  for (int i = 0; i < 200; ++i) Put("k/" + std::to_string(i), std::string(500 + i, 'a' + i % 26));
  auto backups = BackupStore::Open(tmp_.Sub("backups"), clock_.NowUnixMillis());
  ASSERT_TRUE(backups.ok()) << backups.status().ToString();

  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int i = 0; !stop.load(); ++i) Put("more/" + std::to_string(i), std::string(3000, 'x'));
  });
  auto m = Take(*backups, "20231114T221320Z");
  stop = true;
  writer.join();
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_TRUE(m->chain_checksum);
  EXPECT_EQ(m->source, "primary");
  EXPECT_GE(m->txid, 200);

  // The same position rebuilt from the segment store gives the same bytes.
  store_->RequestCheckpoint();
  store_->Close();
  auto segments = SegmentStore::Open(config_.SegmentsPath());
  ASSERT_TRUE(segments.ok());
  const std::string replayed = tmp_.Sub("replayed.db");
  auto summary = ReplaySegments(**segments, replayed, static_cast<uint64_t>(m->txid));
  ASSERT_TRUE(summary.ok()) << summary.status().ToString();
  EXPECT_EQ(summary->db_checksum, m->db_checksum);
  const std::string restored = tmp_.Sub("restored.db");
  auto sums = DecompressFile(backups->FinalDir(m->id) + "/" + kBackupDataFile, restored);
  ASSERT_TRUE(sums.ok()) << sums.status().ToString();
  auto a = ReadWholeFile(replayed);
  auto b = ReadWholeFile(restored);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_TRUE(*a == *b) << "the backup differs from the chain replayed to txid " << m->txid;
}

}  // namespace
}  // namespace walship
