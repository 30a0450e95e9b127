// One exact error for each way a chain of segments can be broken.
#include "replication/segment_chain.h"

#include <gtest/gtest.h>

#include <functional>

#include "replication/db_checksum.h"
#include "tests/replication/segment_builder.h"

namespace walship {
namespace {

using walship::testing::EncodeOrDie;
using walship::testing::kSampleCluster;
using walship::testing::NextSampleSegment;
using walship::testing::SampleChain;

std::string ChainError(const std::vector<DecodedSegmentHeader>& chain) {
  Status s = VerifySegmentChain(chain, kSampleCluster);
  if (s.ok()) return "ok";
  EXPECT_EQ(s.code(), Code::kCorruption);
  return s.message();
}

// Segment `sequence` re-encoded after `damage`, still linked to the one before.
DecodedSegmentHeader Reencoded(const std::vector<DecodedSegmentHeader>& chain, size_t index,
                               const std::function<void(Segment*)>& damage) {
  Segment s = NextSampleSegment(chain[index - 1]);
  damage(&s);
  return EncodeOrDie(s).header;
}

TEST(SegmentChainTest, CleanChainVerifies) {
  EXPECT_EQ(ChainError(SampleChain(6)), "ok");
  EXPECT_EQ(ChainError({}), "ok");
  std::vector<DecodedSegmentHeader> chain = SampleChain(6);
  EXPECT_EQ(ChainError({chain.begin() + 2, chain.end()}), "ok") << "retention may drop the oldest";
}

TEST(SegmentChainTest, DeletedSegment) {
  std::vector<DecodedSegmentHeader> chain = SampleChain(6);
  chain.erase(chain.begin() + 2);
  EXPECT_EQ(ChainError(chain), "segment 3 is missing (between 2 and 4)");
  chain.erase(chain.begin() + 2);
  EXPECT_EQ(ChainError(chain), "segments 3 to 4 are missing (between 2 and 5)");
}

TEST(SegmentChainTest, SwappedSegments) {
  std::vector<DecodedSegmentHeader> chain = SampleChain(6);
  std::swap(chain[2], chain[3]);
  EXPECT_EQ(ChainError(chain), "segment 4 comes before segment 3: out of order");
  std::vector<DecodedSegmentHeader> last_two = SampleChain(4);
  std::swap(last_two[2], last_two[3]);
  std::swap(last_two[1], last_two[2]);  // 1, 4, 2, 3
  EXPECT_EQ(ChainError(last_two), "segment 4 comes before segment 2: out of order");
}

TEST(SegmentChainTest, DuplicateSegment) {
  std::vector<DecodedSegmentHeader> chain = SampleChain(6);
  chain.insert(chain.begin() + 3, chain[2]);
  EXPECT_EQ(ChainError(chain), "segment 3 appears twice");
}

TEST(SegmentChainTest, SequenceGoingBack) {
  std::vector<DecodedSegmentHeader> chain = SampleChain(4);
  chain.push_back(chain[1]);
  EXPECT_EQ(ChainError(chain), "segment 2 comes after segment 4: out of order");
}

TEST(SegmentChainTest, SegmentOfAnotherCluster) {
  std::vector<DecodedSegmentHeader> chain = SampleChain(6);
  chain[2] = Reencoded(chain, 2, [](Segment* s) { s->header.cluster_id[0] = 0xee; });
  EXPECT_EQ(ChainError(chain), "segment 3: cluster ee057e400102030405060708090a0b0c is not this store's "
                               "c1057e400102030405060708090a0b0c");
}

// Split brain: a promoted standby (timeline 2) sealed its own segment 3 on
// segment 2; the old primary's segment 4 (timeline 1) follows it.
TEST(SegmentChainTest, SegmentOfAnotherTimeline) {
  std::vector<DecodedSegmentHeader> chain = SampleChain(6);
  chain[2] = Reencoded(chain, 2, [](Segment* s) { s->header.timeline = 2; });
  EXPECT_EQ(ChainError(chain), "segment 4: timeline 1 is older than segment 3's timeline 2");
}

TEST(SegmentChainTest, LaterTimelineContinuesTheChain) {
  std::vector<DecodedSegmentHeader> chain = SampleChain(3);
  chain.push_back(Reencoded(chain, 3, [](Segment* s) { s->header.timeline = 2; }));
  chain.push_back(EncodeOrDie(NextSampleSegment(chain.back())).header);
  EXPECT_EQ(chain.back().header.timeline, 2u);
  EXPECT_EQ(ChainError(chain), "ok");
}

TEST(SegmentChainTest, WrongPreviousHash) {
  std::vector<DecodedSegmentHeader> chain = SampleChain(6);
  chain[2] = Reencoded(chain, 2, [](Segment* s) { s->header.previous_sha256[31] ^= 1; });
  Sha256Digest wrong = chain[1].segment_sha256;
  wrong[31] ^= 1;
  EXPECT_EQ(ChainError(chain), "segment 3: previous sha256 " + HexOf(wrong) + " is not segment 2's sha256 " +
                                   HexOf(chain[1].segment_sha256));
}

TEST(SegmentChainTest, ReplacedSegmentBreaksTheNextLink) {
  std::vector<DecodedSegmentHeader> chain = SampleChain(6);
  const DecodedSegmentHeader original = chain[2];
  chain[2] = Reencoded(chain, 2, [](Segment* s) { s->header.sealed_unix_ms += 1; });
  EXPECT_EQ(ChainError(chain), "segment 4: previous sha256 " + HexOf(original.segment_sha256) +
                                   " is not segment 3's sha256 " + HexOf(chain[2].segment_sha256));
}

TEST(SegmentChainTest, DatabaseChecksumBeforeIsNotTheChecksumAfterOfTheOneBefore) {
  std::vector<DecodedSegmentHeader> chain = SampleChain(6);
  chain[2] = Reencoded(chain, 2, [](Segment* s) { s->header.db_checksum_before += 1; });
  const uint64_t after = chain[1].header.db_checksum_after;
  EXPECT_EQ(ChainError(chain), "segment 3: database checksum before " + DbChecksumHex(after + 1) +
                                   " is not segment 2's checksum after " + DbChecksumHex(after));
}

TEST(SegmentChainTest, DatabaseSizeBeforeIsNotTheSizeAfterOfTheOneBefore) {
  std::vector<DecodedSegmentHeader> chain = SampleChain(4);
  chain[2] = Reencoded(chain, 2, [](Segment* s) { s->header.db_pages_before = 1; });
  EXPECT_EQ(ChainError(chain), "segment 3: database size before 1 pages is not segment 2's size after 4");
}

TEST(SegmentChainTest, OverlappingTxids) {
  std::vector<DecodedSegmentHeader> chain = SampleChain(4);
  chain[2] = Reencoded(chain, 2, [](Segment* s) {
    s->header.commits[0].txid -= 1;
    s->header.commits[1].txid -= 1;
  });
  EXPECT_EQ(ChainError(chain), "segment 3: first txid 4 does not follow segment 2's last txid 4");
}

// A new base (after writes behind the node's back) starts a chain: it links
// to nothing before it, but the sequence still goes on.
TEST(SegmentChainTest, ChainStartInTheMiddleNeedsNoLink) {
  std::vector<DecodedSegmentHeader> chain = SampleChain(4);
  chain[2] = Reencoded(chain, 2, [](Segment* s) {
    s->header.flags |= kSegmentFlagChainStart;
    s->header.previous_sha256 = {};
    s->header.db_checksum_before = 0x999;
  });
  chain[3] = EncodeOrDie(NextSampleSegment(chain[2])).header;
  EXPECT_EQ(ChainError(chain), "ok");
}

}  // namespace
}  // namespace walship
