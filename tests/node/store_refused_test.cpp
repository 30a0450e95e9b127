// A store whose -wal holds committed transactions behind a damaged frame is
// opened refused: no SQLite connection, the files untouched, every call
// answers the refusal.
#include <gtest/gtest.h>

#include <filesystem>

#include "node/metered_vfs.h"
#include "node/store.h"
#include "replication/startup_scan.h"
#include "tests/replication/wal_builder.h"
#include "tests/support/store_fixture.h"
#include "tests/support/temp_dir.h"

namespace walship {
namespace {

using walship::testing::CommitFrames;
using walship::testing::MakeWal;
using walship::testing::PutOp;
using walship::testing::ReadBytes;
using walship::testing::ScanOrDie;
using walship::testing::TempDir;
using walship::testing::WriteBytes;

class StoreRefusedTest : public ::testing::Test {
 protected:
  StoreRefusedTest() { config_.data_dir = tmp_.Sub("data"); }
  void TearDown() override { RegisterMeteredVfs(nullptr).IgnoreError(); }  // only clears the pointer

  TempDir tmp_;
  Config config_;
  ManualClock clock_{1'700'000'000'000};
  MetricsRegistry metrics_;
};

TEST_F(StoreRefusedTest, DamagedWalWithCommitsBehindRefusesWithoutOpeningSqlite) {
  std::string wal = MakeWal(tmp_, 6);
  const std::vector<uint32_t> commits = CommitFrames(ScanOrDie(wal));
  wal[ScanOrDie(wal).frames[commits[2]].offset + kWalFrameHeaderSize + 7] ^= 0x5a;
  std::filesystem::create_directories(config_.data_dir);
  const std::string db = config_.DatabasePath();
  WriteBytes(db + "-wal", wal);
  const std::string shm = "shm bytes a SQLite open would rewrite";
  WriteBytes(db + "-shm", shm);

  auto store = Store::Open(config_, clock_, metrics_);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  Store& s = **store;
  auto expected = ScanWalAtStartup(db);
  ASSERT_TRUE(expected.ok());
  ASSERT_TRUE(s.refused());
  EXPECT_EQ(s.refusal().code(), Code::kCorruption);
  EXPECT_EQ(s.refusal().reason(), "wal_corrupt");
  EXPECT_EQ(s.refusal().message(), expected->refusal.message());
  EXPECT_EQ(s.refusal_action(), expected->action);

  EXPECT_EQ(s.Ready().reason(), "wal_corrupt");
  EXPECT_EQ(s.Get("k").status().reason(), "wal_corrupt");
  EXPECT_EQ(s.List("", std::nullopt, 10).status().reason(), "wal_corrupt");
  EXPECT_EQ(s.Search("x", 10).status().reason(), "wal_corrupt");
  WriteOutcome out = s.Write({PutOp("k", "v")});
  EXPECT_EQ(out.status.reason(), "wal_corrupt");
  EXPECT_EQ(out.status.message(), expected->refusal.message());
  s.RequestCheckpoint();  // nothing to checkpoint: no writer
  EXPECT_EQ(s.WalBytes(), static_cast<int64_t>(wal.size()));
  EXPECT_EQ(s.LastCheckpointUnixMillis(), 0);
  s.Close();
  store->reset();

  EXPECT_FALSE(std::filesystem::exists(db)) << "the database file must not be created";
  EXPECT_EQ(ReadBytes(db + "-wal"), wal);
  EXPECT_EQ(ReadBytes(db + "-shm"), shm);
}

TEST_F(StoreRefusedTest, TornTailOpensNormally) {
  std::string wal = MakeWal(tmp_, 3);
  const WalScan scan = ScanOrDie(wal);
  std::filesystem::create_directories(config_.data_dir);
  // A WAL without its database is not what a node leaves behind; the torn
  // tail is what matters here: copy the database the WAL belongs to.
  std::filesystem::copy_file(tmp_.Sub("db"), config_.DatabasePath());
  WriteBytes(config_.DatabasePath() + "-wal", wal.substr(0, scan.frames.back().offset + 100));

  auto store = Store::Open(config_, clock_, metrics_);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_FALSE((*store)->refused());
  EXPECT_TRUE((*store)->Ready().ok()) << (*store)->Ready().ToString();
}

}  // namespace
}  // namespace walship
