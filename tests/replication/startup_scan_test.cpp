// The start-up scan of the -wal: clean, torn tail, corruption, an unreadable
// header and a -wal that cannot be read, each with its exact words.
#include "replication/startup_scan.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "tests/replication/wal_builder.h"
#include "tests/support/temp_dir.h"

namespace walship {
namespace {

using walship::testing::CommitFrames;
using walship::testing::MakeWal;
using walship::testing::ReadBytes;
using walship::testing::ScanOrDie;
using walship::testing::TempDir;
using walship::testing::WriteBytes;

constexpr size_t kPageSize = 1024;

class StartupScanTest : public ::testing::Test {
 protected:
  StartupScanTest() {
    std::filesystem::create_directories(tmp_.Sub("node"));
    db_ = tmp_.Sub("node/index.db");
    wal_path_ = db_ + "-wal";
  }

  // Writes `bytes` as the node's -wal and scans it.
  StartupWalReport ScanBytes(const std::string& bytes) {
    WriteBytes(wal_path_, bytes);
    Result<StartupWalReport> r = ScanWalAtStartup(db_);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(r).value() : StartupWalReport{};
  }

  TempDir tmp_;
  std::string db_;
  std::string wal_path_;
};

TEST_F(StartupScanTest, NoWalIsClean) {
  Result<StartupWalReport> r = ScanWalAtStartup(db_);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->wal_path, wal_path_);
  EXPECT_EQ(r->wal_bytes, 0u);
  EXPECT_EQ(r->end, WalEnd::kClean);
  EXPECT_FALSE(r->refused());
  EXPECT_EQ(r->Summary(), "clean: no WAL");
  EXPECT_FALSE(std::filesystem::exists(wal_path_)) << "the scan must create nothing";
  EXPECT_FALSE(std::filesystem::exists(db_)) << "the scan must create nothing";
}

TEST_F(StartupScanTest, CleanWalCountsItsCommittedTransactions) {
  const std::string wal = MakeWal(tmp_, 20);
  const std::vector<uint32_t> commits = CommitFrames(ScanOrDie(wal));
  StartupWalReport r = ScanBytes(wal);
  EXPECT_EQ(r.end, WalEnd::kClean);
  EXPECT_FALSE(r.refused());
  EXPECT_TRUE(r.action.empty());
  EXPECT_EQ(r.wal_bytes, wal.size());
  EXPECT_EQ(r.committed_transactions, 20u);
  EXPECT_EQ(r.last_commit_frame, commits.back());
  EXPECT_EQ(r.tail_frames, 0u);
  EXPECT_EQ(r.Summary(), "clean: 20 committed transactions up to frame " + std::to_string(commits.back()));
}

TEST_F(StartupScanTest, TornTailIsReportedAndNotRefused) {
  const std::string wal = MakeWal(tmp_, 20);
  WalScan clean = ScanOrDie(wal);
  const std::vector<uint32_t> commits = CommitFrames(clean);
  const WalFrame& last = clean.frames.back();
  StartupWalReport r = ScanBytes(wal.substr(0, last.offset + 500));

  EXPECT_EQ(r.end, WalEnd::kTornTail);
  EXPECT_FALSE(r.refused());
  EXPECT_EQ(r.committed_transactions, 19u);
  EXPECT_EQ(r.last_commit_frame, commits[18]);
  const uint32_t whole_after_commit = last.index - commits[18] - 1;
  EXPECT_EQ(r.tail_frames, whole_after_commit);
  EXPECT_EQ(r.tail_partial_bytes, 500u);
  EXPECT_EQ(r.Summary(), "torn tail: 19 committed transactions up to frame " + std::to_string(commits[18]) +
                             ", then " + std::to_string(whole_after_commit) +
                             " uncommitted frames and a partial frame of 500 bytes that SQLite will drop"
                             " (partial frame: 500 of 1048 bytes)");
}

TEST_F(StartupScanTest, DamagedLastCommitFrameIsATornTail) {
  std::string wal = MakeWal(tmp_, 5);
  WalScan clean = ScanOrDie(wal);
  wal[clean.frames.back().offset + kWalFrameHeaderSize + 10] ^= 0x5a;
  StartupWalReport r = ScanBytes(wal);
  EXPECT_EQ(r.end, WalEnd::kTornTail);
  EXPECT_FALSE(r.refused());
  EXPECT_EQ(r.committed_transactions, 4u);
}

TEST_F(StartupScanTest, FlippedByteInAMiddleFrameIsRefusedWithTheExactFinding) {
  std::string wal = MakeWal(tmp_, 20);
  WalScan clean = ScanOrDie(wal);
  const std::vector<uint32_t> commits = CommitFrames(clean);
  const WalFrame& bad = clean.frames[commits[9]];  // first frame of transaction 11
  const WalChecksum seed = clean.frames[commits[9] - 1].checksum;
  wal[bad.offset + kWalFrameHeaderSize + 100] ^= 0x5a;
  StartupWalReport r = ScanBytes(wal);

  std::string_view damaged(wal);
  WalChecksum computed = ContinueWalChecksum(seed, damaged.substr(bad.offset, 8), false);
  computed = ContinueWalChecksum(computed, damaged.substr(bad.offset + kWalFrameHeaderSize, kPageSize), false);
  std::string frames;
  for (size_t i = 10; i < commits.size(); ++i) frames += (frames.empty() ? "" : ", ") + std::to_string(commits[i]);

  EXPECT_EQ(r.end, WalEnd::kCorruption);
  ASSERT_TRUE(r.refused());
  EXPECT_EQ(r.refusal.code(), Code::kCorruption);
  EXPECT_EQ(r.refusal.reason(), "wal_corrupt");
  EXPECT_EQ(r.refusal.message(),
            wal_path_ + ": wal frame " + std::to_string(bad.index) + " at byte " + std::to_string(bad.offset) +
                ": checksum mismatch (stored " + WalChecksumHex(bad.checksum) + ", computed " +
                WalChecksumHex(computed) + "); 10 commit frames verify behind it (frames " + frames +
                "): SQLite would drop these committed transactions without an error; 10 committed "
                "transactions after the bad frame, 10 before it");
  EXPECT_EQ(r.committed_transactions, 10u);
  EXPECT_EQ(r.Summary(), "corruption: " + r.refusal.message());
  EXPECT_EQ(r.action, "the WAL holds committed transactions behind a damaged frame; keep " + wal_path_ +
                          " and the -shm byte for byte (do not open the database with sqlite3 or any other "
                          "tool: a read-write open drops those transactions and deletes the WAL); stop the node and "
                          "run `walship restore --data " +
                          std::filesystem::path(wal_path_).parent_path().string() +
                          "` (add --fetch-from http://STANDBY:PORT when there is a standby): it restores every "
                          "transaction the segment store holds, and the WAL's own before the damaged frame, and "
                          "moves these files to quarantine");
  EXPECT_EQ(ReadBytes(wal_path_), wal) << "the scan only reads";
}

TEST_F(StartupScanTest, OneCommittedTransactionBehindTheDamageIsEnough) {
  std::string wal = MakeWal(tmp_, 3);
  WalScan clean = ScanOrDie(wal);
  const std::vector<uint32_t> commits = CommitFrames(clean);
  const WalFrame& bad = clean.frames[commits[1]];  // first frame of transaction 3
  wal[bad.offset + kWalFrameHeaderSize + 1] ^= 0x01;
  StartupWalReport r = ScanBytes(wal);
  ASSERT_TRUE(r.refused());
  const std::string tail = "; 1 commit frame verifies behind it (frame " + std::to_string(commits[2]) +
                           "): SQLite would drop these committed transactions without an error; 1 committed "
                           "transaction after the bad frame, 2 before it";
  const std::string& m = r.refusal.message();
  ASSERT_GE(m.size(), tail.size());
  EXPECT_EQ(m.substr(m.size() - tail.size()), tail) << m;
  EXPECT_EQ(m.rfind(wal_path_ + ": wal frame " + std::to_string(bad.index) + " at byte " +
                        std::to_string(bad.offset) + ": checksum mismatch (stored ",
                    0),
            0u)
      << m;
}

TEST_F(StartupScanTest, HeaderThatIsNotAWalHeaderIsRefused) {
  std::string wal = MakeWal(tmp_, 4);
  walship::testing::PutBigEndian32(&wal, 0, 0x12345678);
  StartupWalReport r = ScanBytes(wal);
  EXPECT_EQ(r.end, WalEnd::kCorruption);
  ASSERT_TRUE(r.refused());
  EXPECT_EQ(r.refusal.code(), Code::kCorruption);
  EXPECT_EQ(r.refusal.reason(), "wal_corrupt");
  EXPECT_EQ(r.refusal.message(), wal_path_ + ": wal header: bad magic 0x12345678: SQLite would ignore all " +
                                     std::to_string(wal.size()) +
                                     " bytes of the WAL and any committed transactions in it");
  EXPECT_FALSE(r.action.empty());
}

TEST_F(StartupScanTest, UnreadableWalIsAnIoErrorNotARefusal) {
  std::filesystem::create_directories(wal_path_);  // a directory where the -wal should be
  Result<StartupWalReport> r = ScanWalAtStartup(db_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kIOError) << r.status().ToString();
  EXPECT_EQ(r.status().message().rfind("start-up scan of " + wal_path_ + ": ", 0), 0u) << r.status().ToString();
}

}  // namespace
}  // namespace walship
