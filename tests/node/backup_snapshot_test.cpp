// Store::PinBackupSnapshot with TakeBackup: a backup of a live primary is the
// database at the pinned position, byte for byte, with the capture's checksum.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
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

class BackupSnapshotTest : public walship::testing::OpenStoreTest {
 protected:
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
    return TakeBackup(backups, id, [&](const std::string& dir) { return store_->PinBackupSnapshot(dir); }, options, clock_, progress);
  }

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

TEST_F(BackupSnapshotTest, ThePinSeesEveryAcknowledgedWriteAndItsCapturePoint) {
  Open();
  Position last;
  for (int i = 0; i < 20; ++i) last = Put("k/" + std::to_string(i), "v");
  auto snap = store_->PinBackupSnapshot(tmp_.path());
  ASSERT_TRUE(snap.ok()) << snap.status().ToString();
  EXPECT_EQ((*snap)->txid, last.txid);
  EXPECT_EQ((*snap)->source, "primary");
  EXPECT_EQ((*snap)->cluster_id.size(), 32u);
  ASSERT_TRUE((*snap)->db_checksum.has_value());
  ASSERT_TRUE((*snap)->page_one.has_value());
  EXPECT_EQ((*snap)->page_one->size(), 4096u);
  EXPECT_EQ((*snap)->page_one->substr(0, 16), std::string("SQLite format 3\0", 16));
  // The capture sealed everything up to the pin: its newest segment (once
  // the sealer thread has published it) ends there.
  auto capture = store_->Capture();
  for (int i = 0; i < 500 && capture && capture->last_sequence < (*snap)->segment_sequence; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    capture = store_->Capture();
  }
  ASSERT_TRUE(capture.has_value());
  EXPECT_EQ(capture->last_txid, last.txid);
  EXPECT_EQ((*snap)->segment_sequence, capture->last_sequence);
  EXPECT_EQ(*(*snap)->db_checksum, capture->db_checksum);
  // Writes go on while the snapshot is pinned, and do not show in it.
  Put("after", "v");
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2((*snap)->connection(), "SELECT count(*) FROM archives", -1, &st, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(st, 0), 20);
  sqlite3_finalize(st);
}

TEST_F(BackupSnapshotTest, PinningOnAClosedStoreIsRefusedAsShuttingDown) {
  Open();
  Put("k", "v");
  store_->Close();
  auto snap = store_->PinBackupSnapshot(tmp_.path());
  ASSERT_FALSE(snap.ok());
  EXPECT_EQ(snap.status().code(), Code::kUnavailable);
  EXPECT_EQ(snap.status().reason(), "shutting_down") << snap.status().ToString();
}

}  // namespace
}  // namespace walship
