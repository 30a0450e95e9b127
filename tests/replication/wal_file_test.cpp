#include "replication/wal_file.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "tests/replication/wal_builder.h"
#include "tests/support/temp_dir.h"

namespace walship {
namespace {

using walship::testing::TempDir;
using walship::testing::WalBuilder;
using walship::testing::WriteBytes;
using walship::testing::ScanOrDie;
using walship::testing::CommitFrames;
using walship::testing::MakeWal;

TEST(WalFileTest, FindsEveryCommitOfARealSqliteWal) {
  TempDir tmp;
  WalBuilder b(tmp.Sub("db"));
  b.InsertRows(20, 2500);
  const std::string wal = b.WalBytes();
  WalScan scan = ScanOrDie(wal);

  EXPECT_FALSE(scan.empty);
  EXPECT_EQ(scan.header.magic, kWalMagicLittleEndianChecksums);
  EXPECT_EQ(scan.header.page_size, 1024u);
  EXPECT_EQ(CommitFrames(scan).size(), 20u);
  const uint32_t whole = static_cast<uint32_t>((wal.size() - kWalHeaderSize) / (kWalFrameHeaderSize + 1024));
  EXPECT_EQ(wal.size(), kWalHeaderSize + whole * (kWalFrameHeaderSize + 1024));
  ASSERT_EQ(scan.frames.size(), whole);
  for (uint32_t i = 0; i < whole; ++i) {
    EXPECT_EQ(scan.frames[i].index, i + 1);
    EXPECT_EQ(scan.frames[i].offset, kWalHeaderSize + i * (kWalFrameHeaderSize + 1024));
    EXPECT_EQ(scan.frames[i].page, wal.substr(scan.frames[i].offset + kWalFrameHeaderSize, 1024));
  }
  EXPECT_EQ(scan.frames.back().db_pages_after_commit, b.QueryInt("PRAGMA page_count"));
  EXPECT_EQ(scan.end, WalEnd::kClean);
  EXPECT_EQ(scan.stop, WalStop::kEndOfFile);
  EXPECT_EQ(scan.stop_frame, whole + 1);
  EXPECT_EQ(scan.stop_offset, wal.size());
  EXPECT_EQ(scan.uncommitted_frames, 0u);
  EXPECT_FALSE(scan.corruption);
  EXPECT_EQ(scan.next, (WalPosition{scan.header.salt1, scan.header.salt2, whole, scan.frames.back().checksum}));
}

TEST(WalFileTest, ScanOfTheFileEqualsScanOfItsBytesAndKeepPagesFalseDropsPages) {
  TempDir tmp;
  WalBuilder b(tmp.Sub("db"));
  b.InsertRows(5, 2500);
  WalScan from_bytes = ScanOrDie(b.WalBytes());
  Result<WalScan> from_file = ScanWalFile(tmp.Sub("db-wal"), {.after = std::nullopt, .keep_pages = false});
  ASSERT_TRUE(from_file.ok()) << from_file.status().ToString();
  ASSERT_EQ(from_file->frames.size(), from_bytes.frames.size());
  EXPECT_EQ(from_file->next, from_bytes.next);
  for (const WalFrame& f : from_file->frames) EXPECT_TRUE(f.page.empty());
}

TEST(WalFileTest, ACommitLimitTakesExactlyThatManyCommitsAndResumesAfterThem) {
  TempDir tmp;
  WalBuilder b(tmp.Sub("db"));
  b.InsertRows(6, 2500);
  const WalScan all = ScanOrDie(b.WalBytes());
  const std::vector<uint32_t> commits = CommitFrames(all);
  ASSERT_EQ(commits.size(), 6u);
  WalScanOptions two{.after = std::nullopt, .keep_pages = true};
  two.commit_limit = 2;
  Result<WalScan> first = ScanWalFile(tmp.Sub("db-wal"), two);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(CommitFrames(*first), (std::vector<uint32_t>{commits[0], commits[1]}));
  EXPECT_EQ(first->stop, WalStop::kCommitLimit);
  EXPECT_EQ(first->stop_frame, commits[1] + 1);
  EXPECT_EQ(first->end, WalEnd::kClean);
  EXPECT_EQ(first->uncommitted_frames, 0u);
  // The next scan resumes after them: a limit of 0 takes nothing.
  WalScanOptions none{.after = first->next, .keep_pages = true};
  none.commit_limit = 0;
  Result<WalScan> empty = ScanWalFile(tmp.Sub("db-wal"), none);
  ASSERT_TRUE(empty.ok()) << empty.status().ToString();
  EXPECT_TRUE(empty->frames.empty());
  EXPECT_EQ(empty->next, first->next);
  WalScanOptions rest{.after = first->next, .keep_pages = true};
  rest.commit_limit = 10;  // more than there are: the file's end stops it
  Result<WalScan> second = ScanWalFile(tmp.Sub("db-wal"), rest);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(CommitFrames(*second), (std::vector<uint32_t>(commits.begin() + 2, commits.end())));
  EXPECT_EQ(second->stop, WalStop::kEndOfFile);
  EXPECT_EQ(second->next, all.next);
}


TEST(WalFileTest, AScanFromTheLastFrameReadsKilobytesAndAWholeScanReadsTheFileOnce) {
  TempDir tmp;
  WalBuilder b(tmp.Sub("db"));
  b.InsertRows(600, 2500);  // some 2,800 frames of 1 KiB pages: full windows and more
  const std::string wal = b.WalBytes();
  ASSERT_GT(wal.size(), 2 * FileWalSource::kWindowBytes);
  const WalScan all = ScanOrDie(wal);

  auto whole = FileWalSource::Open(tmp.Sub("db-wal"));
  ASSERT_TRUE(whole.ok()) << whole.status().ToString();
  Result<WalScan> scan = ScanWal(**whole, {.after = std::nullopt, .keep_pages = false});
  ASSERT_TRUE(scan.ok()) << scan.status().ToString();
  EXPECT_EQ(scan->next, all.next);
  // The header's read, then the file from its first frame, in growing windows.
  EXPECT_GE((*whole)->bytes_read(), wal.size());
  EXPECT_LE((*whole)->bytes_read(), wal.size() + FileWalSource::kFirstWindowBytes);

  // The writer's end-of-WAL check: the header, then the frame after the last.
  auto end = FileWalSource::Open(tmp.Sub("db-wal"));
  ASSERT_TRUE(end.ok()) << end.status().ToString();
  Result<WalScan> none = ScanWal(**end, {.after = all.next, .keep_pages = false});
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_TRUE(none->frames.empty());
  EXPECT_EQ(none->stop, WalStop::kEndOfFile);
  EXPECT_LE((*end)->bytes_read(), 3 * FileWalSource::kFirstWindowBytes);
}
TEST(WalFileTest, ReadWalHeaderReadsAndVerifiesTheHeaderAlone) {
  TempDir tmp;
  WalBuilder b(tmp.Sub("db"));
  b.InsertRows(2, 100);
  const std::string wal = b.WalBytes();
  const WalScan scan = ScanOrDie(wal);
  Result<WalHeader> h = ReadWalHeader(tmp.Sub("db-wal"));
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_EQ(h->salt1, scan.header.salt1);
  EXPECT_EQ(h->salt2, scan.header.salt2);
  EXPECT_EQ(ReadWalHeader(tmp.Sub("nope-wal")).status().code(), Code::kNotFound);
  WriteBytes(tmp.Sub("short-wal"), wal.substr(0, 20));
  EXPECT_EQ(ReadWalHeader(tmp.Sub("short-wal")).status().message(),
            tmp.Sub("short-wal") + ": partial header: 20 of 32 bytes");
  std::string damaged = wal;
  damaged[17] = static_cast<char>(damaged[17] ^ 0x01);  // salt-1, under the header checksum
  WriteBytes(tmp.Sub("damaged-wal"), damaged);
  const Status bad = ReadWalHeader(tmp.Sub("damaged-wal")).status();
  EXPECT_EQ(bad.code(), Code::kCorruption);
  EXPECT_EQ(bad.message().rfind(tmp.Sub("damaged-wal") + ": wal header: checksum mismatch (stored 0x", 0), 0u)
      << bad.message();
}

TEST(WalFileTest, MissingEmptyAndShortFiles) {
  TempDir tmp;
  Result<WalScan> missing = ScanWalFile(tmp.Sub("nope-wal"));
  ASSERT_TRUE(missing.ok());
  EXPECT_TRUE(missing->empty);
  EXPECT_EQ(missing->end, WalEnd::kClean);

  WalScan zero = ScanOrDie("");
  EXPECT_TRUE(zero.empty);
  EXPECT_EQ(zero.end, WalEnd::kClean);

  WalScan short_header = ScanOrDie(std::string(10, '\x37'));
  EXPECT_TRUE(short_header.empty);
  EXPECT_EQ(short_header.end, WalEnd::kTornTail);
  EXPECT_EQ(short_header.stop_detail, "partial header: 10 of 32 bytes");
}

TEST(WalFileTest, HeaderThatIsNotAWalHeaderIsAnError) {
  TempDir tmp;
  const std::string wal = MakeWal(tmp, 1);
  struct Case {
    size_t offset;
    uint32_t value;
    std::string message;
  };
  const Case cases[] = {
      {0, 0x12345678, "wal header: bad magic 0x12345678"},
      {4, 3007001, "wal header: unknown format version 3007001"},
      {8, 1000, "wal header: invalid page size 1000"},
      {8, 131072, "wal header: invalid page size 131072"},
  };
  for (const Case& c : cases) {
    std::string damaged = wal;
    walship::testing::PutBigEndian32(&damaged, c.offset, c.value);
    BytesWalSource source(damaged);
    Result<WalScan> scan = ScanWal(source);
    ASSERT_FALSE(scan.ok()) << c.message;
    EXPECT_EQ(scan.status().code(), Code::kCorruption);
    EXPECT_EQ(scan.status().message(), c.message);
  }
  WriteBytes(tmp.Sub("bad-wal"), std::string("\x12\x34\x56\x78", 4) + wal.substr(4));
  Result<WalScan> from_file = ScanWalFile(tmp.Sub("bad-wal"));
  EXPECT_EQ(from_file.status().message(), tmp.Sub("bad-wal") + ": wal header: bad magic 0x12345678");
}

TEST(WalFileTest, ChecksumIsSqlitesAlgorithmInBothByteOrders) {
  // Two words, little-endian: s1 = 1 + 0, s2 = 2 + s1; then the next pair.
  const std::string data("\x01\x00\x00\x00\x02\x00\x00\x00\x03\x00\x00\x00\x04\x00\x00\x00", 16);
  WalChecksum le = ContinueWalChecksum({}, data, false);
  EXPECT_EQ(le, (WalChecksum{1 + 3 + 3, 3 + 4 + 7}));
  WalChecksum be = ContinueWalChecksum({}, std::string("\x00\x00\x00\x01\x00\x00\x00\x02", 8), true);
  EXPECT_EQ(be, (WalChecksum{1, 3}));
  EXPECT_EQ(ContinueWalChecksum({5, 6}, "", false), (WalChecksum{5, 6}));
  EXPECT_EQ(WalChecksumHex({0xdeadbeef, 0x1}), "0xdeadbeef00000001");
}

// Rewrites a little-endian-checksum WAL with the big-endian magic and every
// checksum recomputed that way, as a big-endian machine's SQLite writes it.
std::string ToBigEndianChecksums(const std::string& wal, const WalScan& scan) {
  std::string out = wal;
  walship::testing::PutBigEndian32(&out, 0, kWalMagicBigEndianChecksums);
  WalChecksum c = ContinueWalChecksum({}, std::string_view(out).substr(0, 24), true);
  walship::testing::PutBigEndian32(&out, 24, c.s1);
  walship::testing::PutBigEndian32(&out, 28, c.s2);
  for (const WalFrame& f : scan.frames) {
    c = ContinueWalChecksum(c, std::string_view(out).substr(f.offset, 8), true);
    c = ContinueWalChecksum(c, std::string_view(out).substr(f.offset + kWalFrameHeaderSize, 1024), true);
    walship::testing::PutBigEndian32(&out, f.offset + 16, c.s1);
    walship::testing::PutBigEndian32(&out, f.offset + 20, c.s2);
  }
  return out;
}

TEST(WalFileTest, BigEndianChecksumVariantReadsTheSameAndSqliteAgrees) {
  TempDir tmp;
  WalBuilder b(tmp.Sub("db"));
  b.InsertRows(7, 2500);
  const std::string wal = b.WalBytes();
  WalScan little = ScanOrDie(wal);
  const std::string big_wal = ToBigEndianChecksums(wal, little);
  WalScan big = ScanOrDie(big_wal);
  EXPECT_TRUE(big.header.big_endian_checksums());
  EXPECT_EQ(CommitFrames(big), CommitFrames(little));
  EXPECT_EQ(big.end, WalEnd::kClean);

  // SQLite itself recovers all seven transactions from the rewritten WAL.
  WriteBytes(tmp.Sub("copy"), b.DbBytes());
  WriteBytes(tmp.Sub("copy-wal"), big_wal);
  EXPECT_EQ(walship::testing::CountRowsWithPlainSqlite(tmp.Sub("copy")), 7);
}

}  // namespace
}  // namespace walship
