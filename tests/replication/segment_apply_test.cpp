// Applying a segment: its pages land at their offsets and the file is cut
// to each commit's size; a segment whose frames do not give its checksum
// after is refused before a byte is written.
#include "replication/segment_apply.h"

#include <gtest/gtest.h>

#include "base/fs.h"
#include "tests/replication/segment_builder.h"
#include "tests/support/temp_dir.h"

namespace walship {
namespace {

using testing::EncodeOrDie;
using testing::FirstSampleSegment;
using testing::kSamplePageSize;
using testing::TempDir;

// The sample chain start with the checksum its frames really give.
DecodedSegment ApplicableFirstSegment(uint64_t checksum_after_xor = 0) {
  Segment s = FirstSampleSegment();
  DbChecksum sum(kSamplePageSize);
  for (const SegmentFrame& f : s.frames) {
    EXPECT_TRUE(sum.UpdatePage(f.page_number, f.page).ok());
    if (f.db_pages_after_commit != 0) sum.SetPageCount(f.db_pages_after_commit);
  }
  s.header.db_checksum_after = sum.Value() ^ checksum_after_xor;
  auto decoded = DecodeSegment(EncodeOrDie(s).bytes);
  EXPECT_TRUE(decoded.ok()) << decoded.status().ToString();
  return decoded.ok() ? std::move(decoded).value() : DecodedSegment{};
}

TEST(SegmentApplyTest, WritesEachPageAtItsOffset) {
  TempDir tmp;
  const std::string path = tmp.Sub("db");
  auto applier = SegmentApplier::Open(path, kSamplePageSize);
  ASSERT_TRUE(applier.ok());
  const DecodedSegment seg = ApplicableFirstSegment();
  ASSERT_TRUE(applier->Apply(seg).ok());
  ASSERT_TRUE(applier->Sync().ok());
  auto bytes = ReadWholeFile(path);
  ASSERT_TRUE(bytes.ok());
  ASSERT_EQ(bytes->size(), 3u * kSamplePageSize);
  for (const SegmentFrame& f : seg.frames) {
    EXPECT_EQ(bytes->substr((f.page_number - 1) * kSamplePageSize, kSamplePageSize), f.page);
  }
  EXPECT_EQ(applier->checksum().Value(), seg.header.header.db_checksum_after);
}

TEST(SegmentApplyTest, AWrongChecksumAfterWritesNothing) {
  TempDir tmp;
  const std::string path = tmp.Sub("db");
  auto applier = SegmentApplier::Open(path, kSamplePageSize);
  ASSERT_TRUE(applier.ok());
  const DecodedSegment seg = ApplicableFirstSegment(/*checksum_after_xor=*/0xff);
  Status s = applier->Apply(seg);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Code::kCorruption);
  EXPECT_EQ(s.message(), "apply segment 1 to " + path + ": checksum after is " +
                             DbChecksumHex(seg.header.header.db_checksum_after ^ 0xff) + ", the segment says " +
                             DbChecksumHex(seg.header.header.db_checksum_after) + " (nothing was written)");
  EXPECT_EQ(FileSizeOrZero(path), 0);
  EXPECT_EQ(applier->checksum().Value(), 0u) << "the applier still describes the untouched file";
}

}  // namespace
}  // namespace walship
