#include "replication/db_checksum.h"

#include <gtest/gtest.h>

#include "base/fs.h"
#include "replication/wal_file.h"
#include "tests/replication/wal_builder.h"
#include "tests/support/temp_dir.h"

namespace walship {
namespace {

using walship::testing::ReadBytes;
using walship::testing::TempDir;
using walship::testing::WalBuilder;
using walship::testing::WriteBytes;

constexpr uint32_t kPage = 1024;

std::string Page(char fill) { return std::string(kPage, fill); }

DbChecksum ComputeOrDie(const std::string& path) {
  Result<DbChecksum> sum = DbChecksum::ComputeFromFile(path, kPage);
  EXPECT_TRUE(sum.ok()) << sum.status().ToString();
  return sum.ok() ? std::move(sum).value() : DbChecksum(kPage);
}

TEST(DbChecksumTest, EmptyDatabaseIsZeroAndValueIsTheSumOfPageHashes) {
  DbChecksum sum(kPage);
  EXPECT_EQ(sum.Value(), 0u);
  EXPECT_EQ(sum.page_count(), 0u);
  ASSERT_TRUE(sum.UpdatePage(1, Page('a')).ok());
  ASSERT_TRUE(sum.UpdatePage(2, Page('b')).ok());
  EXPECT_EQ(sum.Value(), DbChecksum::PageHash(1, Page('a')) + DbChecksum::PageHash(2, Page('b')));
  EXPECT_EQ(DbChecksumHex(0x1f), "0x000000000000001f");
}

TEST(DbChecksumTest, OneChangedPageEqualsAFullRecomputation) {
  TempDir tmp;
  WriteBytes(tmp.Sub("f"), Page('a') + Page('b') + Page('c'));
  DbChecksum sum = ComputeOrDie(tmp.Sub("f"));
  EXPECT_EQ(sum.page_count(), 3u);
  const uint64_t before = sum.Value();
  ASSERT_TRUE(sum.UpdatePage(2, Page('x')).ok());
  EXPECT_NE(sum.Value(), before);
  WriteBytes(tmp.Sub("g"), Page('a') + Page('x') + Page('c'));
  EXPECT_EQ(sum.Value(), ComputeOrDie(tmp.Sub("g")).Value());
  ASSERT_TRUE(sum.UpdatePage(2, Page('b')).ok());
  EXPECT_EQ(sum.Value(), before);
}

TEST(DbChecksumTest, SwappingTwoPagesChangesTheValue) {
  TempDir tmp;
  WriteBytes(tmp.Sub("f"), Page('a') + Page('b') + Page('c'));
  WriteBytes(tmp.Sub("g"), Page('a') + Page('c') + Page('b'));
  EXPECT_NE(ComputeOrDie(tmp.Sub("f")).Value(), ComputeOrDie(tmp.Sub("g")).Value());
}

TEST(DbChecksumTest, SetPageCountShrinksAndGrowsWithZeroFilledPages) {
  TempDir tmp;
  WriteBytes(tmp.Sub("f"), Page('a') + Page('b') + Page('c'));
  DbChecksum sum = ComputeOrDie(tmp.Sub("f"));
  sum.SetPageCount(1);
  WriteBytes(tmp.Sub("one"), Page('a'));
  EXPECT_EQ(sum.Value(), ComputeOrDie(tmp.Sub("one")).Value());

  sum.SetPageCount(3);  // as ftruncate extends a file: zeros
  WriteBytes(tmp.Sub("grown"), Page('a') + Page('\0') + Page('\0'));
  EXPECT_EQ(sum.Value(), ComputeOrDie(tmp.Sub("grown")).Value());
  EXPECT_NE(sum.Value(), ComputeOrDie(tmp.Sub("one")).Value()) << "zero pages count";

  sum.SetPageCount(0);
  EXPECT_EQ(sum.Value(), 0u);
}

TEST(DbChecksumTest, UpdatePastTheEndCountsTheGapAsZeroPages) {
  TempDir tmp;
  DbChecksum sum(kPage);
  ASSERT_TRUE(sum.UpdatePage(3, Page('c')).ok());
  EXPECT_EQ(sum.page_count(), 3u);
  WriteBytes(tmp.Sub("f"), Page('\0') + Page('\0') + Page('c'));
  EXPECT_EQ(sum.Value(), ComputeOrDie(tmp.Sub("f")).Value());
}

TEST(DbChecksumTest, Errors) {
  TempDir tmp;
  DbChecksum sum(kPage);
  Status zero = sum.UpdatePage(0, Page('a'));
  EXPECT_EQ(zero.code(), Code::kInvalidArgument);
  EXPECT_EQ(zero.message(), "database checksum: page number 0");
  Status short_page = sum.UpdatePage(4, "abc");
  EXPECT_EQ(short_page.code(), Code::kInvalidArgument);
  EXPECT_EQ(short_page.message(), "database checksum: page 4 has 3 bytes, the page size is 1024");
  EXPECT_EQ(sum.Value(), 0u);

  Result<DbChecksum> missing = DbChecksum::ComputeFromFile(tmp.Sub("nope"), kPage);
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
  WriteBytes(tmp.Sub("odd"), Page('a') + "xyz");
  Result<DbChecksum> odd = DbChecksum::ComputeFromFile(tmp.Sub("odd"), kPage);
  EXPECT_EQ(odd.status().code(), Code::kCorruption);
  EXPECT_EQ(odd.status().message(),
            "database file " + tmp.Sub("odd") + ": size 1027 is not a multiple of the page size 1024");
}

// What a standby does: the checksum of the database before a run of WAL
// frames, updated with each committed frame and the commit's size, equals
// the checksum of the file after SQLite checkpoints those frames. Also for a
// transaction that shrinks the file (VACUUM).
TEST(DbChecksumTest, ApplyingWalFramesEqualsTheCheckpointedFile) {
  TempDir tmp;
  WalBuilder b(tmp.Sub("db"));
  b.InsertRows(30, 2500);
  b.Exec("PRAGMA wal_checkpoint(TRUNCATE)");
  WriteBytes(tmp.Sub("before"), b.DbBytes());  // a copy: SQLite has the original open
  b.Exec("DELETE FROM t WHERE id % 3 = 0");
  b.InsertRows(5, 2500);
  b.Exec("VACUUM");
  WalScan scan = walship::testing::ScanOrDie(b.WalBytes());
  ASSERT_EQ(scan.end, WalEnd::kClean);

  DbChecksum sum = ComputeOrDie(tmp.Sub("before"));
  for (const WalFrame& f : scan.frames) {
    ASSERT_TRUE(sum.UpdatePage(f.page_number, f.page).ok());
    if (f.is_commit()) sum.SetPageCount(f.db_pages_after_commit);
  }
  b.Exec("PRAGMA wal_checkpoint(TRUNCATE)");
  WriteBytes(tmp.Sub("after"), b.DbBytes());
  DbChecksum after = ComputeOrDie(tmp.Sub("after"));
  EXPECT_LT(after.page_count(), ComputeOrDie(tmp.Sub("before")).page_count()) << "VACUUM shrank the file";
  EXPECT_EQ(sum.page_count(), after.page_count());
  EXPECT_EQ(sum.Value(), after.Value());
}

TEST(DbChecksumTest, PageOneFromFileTakesItsSizeFromTheHeaderAndRefusesABadOne) {
  TempDir tmp;
  std::string page(4096, 'x');
  page[16] = 0x10;  // 4096, big-endian
  page[17] = 0x00;
  const std::string path = tmp.Sub("db");
  ASSERT_TRUE(WriteFileAtomically(path, page + std::string(4096, 'y')).ok());
  auto one = ReadPageOneFromFile(path);
  ASSERT_TRUE(one.ok()) << one.status().ToString();
  EXPECT_EQ(*one, page);
  page[16] = 0x03;  // 768: not a power of two
  ASSERT_TRUE(WriteFileAtomically(path, page).ok());
  one = ReadPageOneFromFile(path);
  ASSERT_FALSE(one.ok());
  EXPECT_EQ(one.status().ToString(), "corruption: " + path + ": the header states page size 768");
}

// What the WAL capture relies on to give up a segment it could not hand
// over: every kind of change after Mark() is taken back exactly.
TEST(DbChecksumTest, RollBackReturnsToTheMarkAfterUpdatesGrowthAndShrinking) {
  DbChecksum sum(kPage);
  for (uint32_t p = 1; p <= 4; ++p) ASSERT_TRUE(sum.UpdatePage(p, Page(static_cast<char>('a' + p))).ok());
  const DbChecksum before = sum;
  auto expect_equal = [](const DbChecksum& a, const DbChecksum& b) {
    ASSERT_EQ(a.page_count(), b.page_count());
    EXPECT_EQ(a.Value(), b.Value());
    for (uint32_t p = 1; p <= a.page_count(); ++p) EXPECT_EQ(a.PageHashAt(p), b.PageHashAt(p)) << "page " << p;
  };

  sum.Mark();
  ASSERT_TRUE(sum.UpdatePage(2, Page('x')).ok());
  ASSERT_TRUE(sum.UpdatePage(2, Page('y')).ok());  // the same page twice
  sum.SetPageCount(2);                             // shrink: pages 3 and 4 dropped
  ASSERT_TRUE(sum.UpdatePage(7, Page('z')).ok());  // grow past the old end
  sum.SetPageCount(5);                             // and shrink again
  ASSERT_NE(sum.Value(), before.Value());
  sum.RollBack();
  expect_equal(sum, before);

  // Forget() keeps the changes, and a later RollBack() does nothing.
  sum.Mark();
  ASSERT_TRUE(sum.UpdatePage(1, Page('q')).ok());
  const DbChecksum changed = sum;
  sum.Forget();
  sum.RollBack();
  expect_equal(sum, changed);
  EXPECT_NE(sum.Value(), before.Value());
}

}  // namespace
}  // namespace walship
