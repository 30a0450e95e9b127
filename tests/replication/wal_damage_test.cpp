// Damaged, torn, restarted and resumed WALs, all made by real SQLite.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "replication/wal_file.h"
#include "tests/replication/wal_builder.h"
#include "tests/support/temp_dir.h"

namespace walship {
namespace {

using walship::testing::CommitFrames;
using walship::testing::MakeWal;
using walship::testing::ScanOrDie;
using walship::testing::TempDir;
using walship::testing::WalBuilder;
using walship::testing::WriteBytes;

constexpr size_t kFrameSize = kWalFrameHeaderSize + 1024;

std::vector<uint32_t> Tail(const std::vector<uint32_t>& v, size_t from) {
  return {v.begin() + static_cast<std::ptrdiff_t>(from), v.end()};
}

void FlipByte(std::string* bytes, size_t offset) { (*bytes)[offset] = static_cast<char>((*bytes)[offset] ^ 0x5a); }

TEST(WalTornTailTest, FileEndingInsideTheLastCommitFrame) {
  TempDir tmp;
  const std::string wal = MakeWal(tmp, 20);
  WalScan clean = ScanOrDie(wal);
  const std::vector<uint32_t> commits = CommitFrames(clean);
  const WalFrame& last = clean.frames.back();

  WalScan torn = ScanOrDie(wal.substr(0, last.offset + 500));
  EXPECT_EQ(CommitFrames(torn), std::vector<uint32_t>(commits.begin(), commits.end() - 1));
  EXPECT_EQ(torn.uncommitted_frames, last.index - commits[18] - 1);
  EXPECT_EQ(torn.stop, WalStop::kPartialFrame);
  EXPECT_EQ(torn.stop_frame, last.index);
  EXPECT_EQ(torn.stop_offset, last.offset);
  EXPECT_EQ(torn.stop_detail, "partial frame: 500 of 1048 bytes");
  EXPECT_EQ(torn.end, WalEnd::kTornTail);
  EXPECT_FALSE(torn.corruption);
  EXPECT_EQ(torn.next.frame, commits[18]);
}

TEST(WalTornTailTest, FileEndingOnAFrameBoundaryBeforeTheCommitFrame) {
  TempDir tmp;
  const std::string wal = MakeWal(tmp, 5);
  WalScan clean = ScanOrDie(wal);
  WalScan torn = ScanOrDie(wal.substr(0, clean.frames.back().offset));
  EXPECT_EQ(CommitFrames(torn).size(), 4u);
  EXPECT_GT(torn.uncommitted_frames, 0u);
  EXPECT_EQ(torn.stop, WalStop::kEndOfFile);
  EXPECT_EQ(torn.end, WalEnd::kTornTail);
}

TEST(WalTornTailTest, DamagedLastCommitFrameIsATornTailNotCorruption) {
  TempDir tmp;
  std::string wal = MakeWal(tmp, 5);
  WalScan clean = ScanOrDie(wal);
  FlipByte(&wal, clean.frames.back().offset + kWalFrameHeaderSize + 10);
  WalScan scan = ScanOrDie(wal);
  EXPECT_EQ(CommitFrames(scan).size(), 4u);
  EXPECT_EQ(scan.stop, WalStop::kChecksumMismatch);
  EXPECT_EQ(scan.end, WalEnd::kTornTail);
  EXPECT_FALSE(scan.corruption);
}

// Three committed transactions, then one too big for a 10-page cache,
// rolled back. Returns the WAL as it was before the rollback.
std::string CommitThreeThenSpillAndRollBack(WalBuilder* b) {
  b->InsertRows(3, 2500);
  b->Exec("PRAGMA cache_size=10");
  b->Exec("BEGIN");
  b->InsertRows(40, 2500);
  std::string during = b->WalBytes();
  b->Exec("ROLLBACK");
  return during;
}

// A transaction too big for the page cache spills frames into the WAL before
// it commits; they verify, but they are not data.
TEST(WalTornTailTest, SpilledFramesOfAnOpenTransactionAreUncommitted) {
  TempDir tmp;
  WalBuilder b(tmp.Sub("db"));
  const std::string during = CommitThreeThenSpillAndRollBack(&b);

  WalScan scan = ScanOrDie(during);
  EXPECT_EQ(CommitFrames(scan).size(), 3u);
  EXPECT_GT(scan.uncommitted_frames, 10u);
  EXPECT_EQ(scan.stop, WalStop::kEndOfFile);
  EXPECT_EQ(scan.end, WalEnd::kTornTail);
  EXPECT_FALSE(scan.corruption);
}

// After the rollback, the next (shorter) transaction overwrites the spilled
// frames from the start: the rest stay behind its commit frame and verify
// when re-seeded. They hold no commit frame, so this is no corruption.
TEST(WalTornTailTest, RolledBackSpillBehindAShorterCommitIsNotCorruption) {
  TempDir tmp;
  WalBuilder b(tmp.Sub("db"));
  CommitThreeThenSpillAndRollBack(&b);
  b.InsertRows(1, 10);
  const std::string wal = b.WalBytes();

  WalScan scan = ScanOrDie(wal);
  EXPECT_EQ(CommitFrames(scan).size(), 4u);
  EXPECT_LT(scan.frames.back().offset + kFrameSize, wal.size()) << "leftover spilled frames expected";
  EXPECT_EQ(scan.stop, WalStop::kChecksumMismatch);
  EXPECT_EQ(scan.end, WalEnd::kTornTail);
  EXPECT_FALSE(scan.corruption);
  EXPECT_EQ(walship::testing::CountRowsWithPlainSqlite(tmp.Sub("db")), 4);
}

TEST(WalCorruptionTest, FlippedByteInAMiddleFrameWithCommitsBehind) {
  TempDir tmp;
  std::string wal = MakeWal(tmp, 20);
  WalScan clean = ScanOrDie(wal);
  const std::vector<uint32_t> commits = CommitFrames(clean);
  const WalFrame& bad = clean.frames[commits[9]];  // first frame of transaction 11
  const WalChecksum seed = clean.frames[commits[9] - 1].checksum;
  FlipByte(&wal, bad.offset + kWalFrameHeaderSize + 100);

  WalScan scan = ScanOrDie(wal);
  EXPECT_EQ(CommitFrames(scan), std::vector<uint32_t>(commits.begin(), commits.begin() + 10));
  EXPECT_EQ(scan.uncommitted_frames, 0u);
  EXPECT_EQ(scan.stop, WalStop::kChecksumMismatch);
  EXPECT_EQ(scan.stop_frame, bad.index);
  EXPECT_EQ(scan.end, WalEnd::kCorruption);
  ASSERT_TRUE(scan.corruption);
  const WalCorruption& c = *scan.corruption;
  EXPECT_EQ(c.bad_frame, bad.index);
  EXPECT_EQ(c.bad_offset, bad.offset);
  EXPECT_EQ(c.bad_offset, kWalHeaderSize + (bad.index - 1) * kFrameSize);
  EXPECT_EQ(c.failed_frames, 1u);
  EXPECT_EQ(c.commit_frames_at_stake, Tail(commits, 10));

  std::string_view damaged(wal);
  WalChecksum computed = ContinueWalChecksum(seed, damaged.substr(bad.offset, 8), false);
  computed = ContinueWalChecksum(computed, damaged.substr(bad.offset + kWalFrameHeaderSize, 1024), false);
  std::string frames;
  for (uint32_t f : Tail(commits, 10)) frames += (frames.empty() ? "" : ", ") + std::to_string(f);
  Status s = c.ToStatus();
  EXPECT_EQ(s.code(), Code::kCorruption);
  EXPECT_EQ(s.reason(), "wal_corruption");
  EXPECT_EQ(s.message(), "wal frame " + std::to_string(bad.index) + " at byte " + std::to_string(bad.offset) +
                             ": checksum mismatch (stored " + WalChecksumHex(bad.checksum) + ", computed " +
                             WalChecksumHex(computed) + "); 10 commit frames verify behind it (frames " +
                             frames + "): SQLite would drop these committed transactions without an error");
}

TEST(WalCorruptionTest, FlippedStoredChecksumFailsTwoFramesAndStillFindsTheCommitsBehind) {
  TempDir tmp;
  std::string wal = MakeWal(tmp, 20);
  WalScan clean = ScanOrDie(wal);
  const std::vector<uint32_t> commits = CommitFrames(clean);
  const WalFrame& bad = clean.frames[commits[4]];  // first frame of transaction 6
  ASSERT_FALSE(bad.is_commit());
  FlipByte(&wal, bad.offset + 17);  // inside the stored checksum: the next frame fails too

  WalScan scan = ScanOrDie(wal);
  ASSERT_EQ(scan.end, WalEnd::kCorruption);
  EXPECT_EQ(scan.corruption->bad_frame, bad.index);
  EXPECT_EQ(scan.corruption->failed_frames, 2u);
  EXPECT_EQ(scan.corruption->commit_frames_at_stake, Tail(commits, 5));
}

TEST(WalCorruptionTest, DamagedSaltWithCommitsBehind) {
  TempDir tmp;
  std::string wal = MakeWal(tmp, 6);
  WalScan clean = ScanOrDie(wal);
  const std::vector<uint32_t> commits = CommitFrames(clean);
  const WalFrame& bad = clean.frames[commits[2]];
  FlipByte(&wal, bad.offset + 9);
  WalScan scan = ScanOrDie(wal);
  EXPECT_EQ(scan.stop, WalStop::kSaltMismatch);
  ASSERT_EQ(scan.end, WalEnd::kCorruption);
  EXPECT_EQ(scan.corruption->commit_frames_at_stake, Tail(commits, 3));
  EXPECT_EQ(scan.corruption->reason.rfind("salts 0x", 0), 0u) << scan.corruption->reason;
}

// Two frames zeroed (say a lost 4 KiB block) look like frames of another
// generation by their salts, but they do not verify as one: the look goes on
// and finds the commits behind them.
TEST(WalCorruptionTest, TwoZeroedFramesWithCommitsBehind) {
  TempDir tmp;
  std::string wal = MakeWal(tmp, 6);
  WalScan clean = ScanOrDie(wal);
  const std::vector<uint32_t> commits = CommitFrames(clean);
  const WalFrame& first = clean.frames[commits[1]];
  std::fill_n(wal.begin() + static_cast<std::ptrdiff_t>(first.offset), 2 * kFrameSize, '\0');
  std::vector<uint32_t> behind;
  for (uint32_t c : commits) {
    if (c > first.index + 1) behind.push_back(c);
  }
  ASSERT_GE(behind.size(), 2u);
  WalScan scan = ScanOrDie(wal);
  ASSERT_EQ(scan.end, WalEnd::kCorruption);
  EXPECT_EQ(scan.corruption->bad_frame, first.index);
  EXPECT_EQ(scan.corruption->commit_frames_at_stake, behind);
}

TEST(WalCorruptionTest, DamagedHeaderWithCommitsBehind) {
  TempDir tmp;
  WalBuilder b(tmp.Sub("db"));
  b.InsertRows(4, 2500);
  std::string wal = b.WalBytes();
  WalScan clean = ScanOrDie(wal);
  FlipByte(&wal, 13);  // checkpoint sequence: only the header checksum notices

  WalScan scan = ScanOrDie(wal);
  EXPECT_TRUE(scan.frames.empty());
  EXPECT_EQ(scan.stop, WalStop::kHeaderChecksum);
  ASSERT_EQ(scan.end, WalEnd::kCorruption);
  EXPECT_EQ(scan.corruption->bad_frame, 0u);
  EXPECT_EQ(scan.corruption->commit_frames_at_stake, CommitFrames(clean));
  EXPECT_EQ(scan.corruption->ToStatus().message().rfind("wal header at byte 0: checksum mismatch (stored ", 0), 0u);

  // SQLite ignores the whole log: all four rows are gone, without an error.
  WriteBytes(tmp.Sub("copy"), b.DbBytes());
  WriteBytes(tmp.Sub("copy-wal"), wal);
  EXPECT_EQ(walship::testing::CountRowsWithPlainSqlite(tmp.Sub("copy")), 0);
}

// The fact from the brief that this scan exists for.
TEST(WalCorruptionTest, PlainSqliteDropsTheCommittedTransactionsSilently) {
  TempDir tmp;
  WalBuilder b(tmp.Sub("db"));
  b.InsertRows(20, 2500);
  std::string wal = b.WalBytes();
  const std::string db = b.DbBytes();
  WalScan clean = ScanOrDie(wal);
  const std::vector<uint32_t> commits = CommitFrames(clean);
  FlipByte(&wal, clean.frames[commits[2]].offset + kWalFrameHeaderSize + 7);  // in transaction 4

  WalScan scan = ScanOrDie(wal);
  ASSERT_EQ(scan.end, WalEnd::kCorruption);
  EXPECT_EQ(scan.corruption->commit_frames_at_stake.size(), 17u);

  WriteBytes(tmp.Sub("copy"), db);
  WriteBytes(tmp.Sub("copy-wal"), wal);
  sqlite3* conn = nullptr;
  ASSERT_EQ(sqlite3_open_v2(tmp.Sub("copy").c_str(), &conn, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
  sqlite3_stmt* integrity = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(conn, "PRAGMA integrity_check", -1, &integrity, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(integrity), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(integrity, 0)), "ok");
  sqlite3_finalize(integrity);
  EXPECT_EQ(walship::testing::QueryIntOrFail(conn, "SELECT count(*) FROM t"), 3);  // 20 were committed
  EXPECT_EQ(sqlite3_close(conn), SQLITE_OK);
  // Closing last, the read-write connection checkpointed the short log and
  // deleted the WAL: the evidence is gone.
  EXPECT_FALSE(std::filesystem::exists(tmp.Sub("copy-wal")));
}

// After a checkpoint that covered the whole WAL, SQLite's next write starts
// a new generation at frame 1 (salt-1 + 1, a new salt-2) and leaves the old
// frames behind it in the file.
TEST(WalGenerationTest, RestartedWalStopsCleanlyAtTheStaleFramesBehind) {
  TempDir tmp;
  WalBuilder b(tmp.Sub("db"));
  b.InsertRows(10, 2500);
  WalScan first = ScanOrDie(b.WalBytes());
  b.Exec("PRAGMA wal_checkpoint(PASSIVE)");
  b.InsertRows(2, 10);
  const std::string wal = b.WalBytes();
  ASSERT_EQ(wal.size(), first.frames.back().offset + kFrameSize) << "restarted in place";

  WalScan scan = ScanOrDie(wal);
  EXPECT_EQ(scan.header.salt1, first.header.salt1 + 1);
  EXPECT_NE(scan.header.salt2, first.header.salt2);
  EXPECT_EQ(scan.header.checkpoint_seq, first.header.checkpoint_seq + 1);
  EXPECT_EQ(CommitFrames(scan).size(), 2u);
  EXPECT_EQ(scan.stop, WalStop::kSaltMismatch);
  EXPECT_EQ(scan.stop_frame, scan.frames.back().index + 1);
  EXPECT_EQ(scan.end, WalEnd::kClean);
  EXPECT_FALSE(scan.corruption);

  WalScan continued = ScanOrDie(wal, {.after = first.next});
  EXPECT_TRUE(continued.restarted);
  EXPECT_FALSE(continued.resumed);
  EXPECT_EQ(continued.frames.front().index, 1u);
  EXPECT_EQ(CommitFrames(continued), CommitFrames(scan));
}

TEST(WalGenerationTest, DamagedNewFrameWithNewCommitsBehindIsCorruptionDespiteStaleFrames) {
  TempDir tmp;
  WalBuilder b(tmp.Sub("db"));
  b.InsertRows(10, 2500);
  b.Exec("PRAGMA wal_checkpoint(PASSIVE)");
  b.InsertRows(3, 2500);
  std::string wal = b.WalBytes();
  WalScan clean = ScanOrDie(wal);
  const std::vector<uint32_t> commits = CommitFrames(clean);
  ASSERT_EQ(commits.size(), 3u);
  FlipByte(&wal, clean.frames[0].offset + kWalFrameHeaderSize + 3);
  WalScan scan = ScanOrDie(wal);
  ASSERT_EQ(scan.end, WalEnd::kCorruption);
  EXPECT_EQ(scan.corruption->bad_frame, 1u);
  EXPECT_EQ(scan.corruption->commit_frames_at_stake, commits);
}

TEST(WalResumeTest, ContinuesAfterTheLastCapturedCommit) {
  TempDir tmp;
  WalBuilder b(tmp.Sub("db"));
  b.InsertRows(5, 2500);
  WalScan first = ScanOrDie(b.WalBytes());
  b.InsertRows(3, 2500);
  WalScan second = ScanOrDie(b.WalBytes(), {.after = first.next});
  EXPECT_TRUE(second.resumed);
  EXPECT_FALSE(second.restarted);
  ASSERT_FALSE(second.frames.empty());
  EXPECT_EQ(second.frames.front().index, first.next.frame + 1);
  EXPECT_EQ(CommitFrames(second).size(), 3u);
  EXPECT_EQ(second.next.frame, second.frames.back().index);
  EXPECT_EQ(second.end, WalEnd::kClean);

  WalScan nothing_new = ScanOrDie(b.WalBytes(), {.after = second.next});
  EXPECT_TRUE(nothing_new.frames.empty());
  EXPECT_EQ(nothing_new.next, second.next);
  EXPECT_EQ(nothing_new.end, WalEnd::kClean);

  WalPosition generation_start{first.header.salt1, first.header.salt2, 0, {}};
  WalScan from_start = ScanOrDie(b.WalBytes(), {.after = generation_start});
  EXPECT_TRUE(from_start.resumed);
  EXPECT_EQ(CommitFrames(from_start).size(), 8u);
}

TEST(WalResumeTest, PositionTheWalNoLongerHoldsIsAConflict) {
  TempDir tmp;
  const std::string wal = MakeWal(tmp, 5);
  WalScan scan = ScanOrDie(wal);
  BytesWalSource source(wal);

  WalPosition wrong = scan.next;
  wrong.checksum.s2 ^= 1;
  Result<WalScan> diverged = ScanWal(source, {.after = wrong});
  ASSERT_FALSE(diverged.ok());
  EXPECT_EQ(diverged.status().code(), Code::kConflict);
  EXPECT_EQ(diverged.status().reason(), "wal_diverged");
  EXPECT_EQ(diverged.status().message(),
            "wal frame " + std::to_string(wrong.frame) + " at byte " + std::to_string(scan.frames.back().offset) +
                ": stored checksum " + WalChecksumHex(scan.next.checksum) + " is not the resume position's " +
                WalChecksumHex(wrong.checksum) + ": the WAL was rewritten behind this node");

  WalPosition past_end = scan.next;
  past_end.frame += 3;
  Result<WalScan> beyond = ScanWal(source, {.after = past_end});
  ASSERT_FALSE(beyond.ok());
  EXPECT_EQ(beyond.status().reason(), "wal_diverged");
  EXPECT_EQ(beyond.status().message(), "wal: resume position frame " + std::to_string(past_end.frame) +
                                           " is past the end of the file (" + std::to_string(scan.next.frame) +
                                           " whole frames): the WAL was rewritten behind this node");
}

}  // namespace
}  // namespace walship
