// Segment encoding, and one exact error for each kind of damage (in the
// manner of leveldb's log_test.cc).
#include "replication/segment_codec.h"

#include <xxhash.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <functional>

#include "tests/replication/segment_builder.h"

namespace walship {
namespace {

using walship::testing::EncodeOrDie;
using walship::testing::FirstSampleSegment;
using walship::testing::NextSampleSegment;
using walship::testing::SamplePage;

std::string Hex64(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%016llx", static_cast<unsigned long long>(v));
  return buf;
}

uint64_t ReadLittleEndian64(const std::string& b, size_t off) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= uint64_t{static_cast<uint8_t>(b[off + i])} << (8 * i);
  return v;
}

void PutLittleEndian(std::string* b, size_t off, uint64_t v, int width) {
  for (int i = 0; i < width; ++i) (*b)[off + i] = static_cast<char>(v >> (8 * i));
}

// After editing header fields: a new header checksum, so the edit reaches
// the checks behind it.
void Reseal(std::string* b, size_t header_length) {
  PutLittleEndian(b, header_length - 8, XXH64(b->data(), header_length - 8, 0), 8);
}

std::string DecodeError(const std::string& bytes) {
  Result<DecodedSegment> d = DecodeSegment(bytes);
  if (d.ok()) return "ok";
  EXPECT_EQ(d.status().code(), Code::kCorruption);
  return d.status().message();
}

class SegmentCodecTest : public ::testing::Test {
 protected:
  void SetUp() override {
    first_ = EncodeOrDie(FirstSampleSegment());
    segment_ = NextSampleSegment(first_.header);
    encoded_ = EncodeOrDie(segment_);
    bytes_ = encoded_.bytes;
    header_length_ = encoded_.header.header_length;
  }
  EncodedSegment first_;
  Segment segment_;
  EncodedSegment encoded_;
  std::string bytes_;
  size_t header_length_ = 0;
};

TEST_F(SegmentCodecTest, RoundTripKeepsEveryFieldAndFrame) {
  Result<DecodedSegment> d = DecodeSegment(bytes_);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  const SegmentHeader& in = segment_.header;
  const SegmentHeader& out = d->header.header;
  EXPECT_EQ(out.major_version, 1);
  EXPECT_EQ(out.minor_version, 0);
  EXPECT_EQ(out.flags, in.flags);
  EXPECT_EQ(out.page_size, in.page_size);
  EXPECT_EQ(out.cluster_id, in.cluster_id);
  EXPECT_EQ(out.node_id, in.node_id);
  EXPECT_EQ(out.timeline, in.timeline);
  EXPECT_EQ(out.sequence, 2u);
  EXPECT_EQ(out.first_txid, 3u);
  EXPECT_EQ(out.last_txid, 4u);
  EXPECT_EQ(out.frame_count, 3u);
  EXPECT_EQ(out.wal_salt1, in.wal_salt1);
  EXPECT_EQ(out.wal_salt2, in.wal_salt2);
  EXPECT_EQ(out.wal_checkpoint_seq, in.wal_checkpoint_seq);
  EXPECT_EQ(out.wal_first_frame, 4u);
  EXPECT_EQ(out.wal_last_frame, 6u);
  EXPECT_EQ(out.wal_checksum1, in.wal_checksum1);
  EXPECT_EQ(out.wal_checksum2, in.wal_checksum2);
  EXPECT_EQ(out.db_pages_before, 3u);
  EXPECT_EQ(out.db_pages_after, 4u);
  EXPECT_EQ(out.db_checksum_before, in.db_checksum_before);
  EXPECT_EQ(out.db_checksum_after, in.db_checksum_after);
  EXPECT_EQ(out.sealed_unix_ms, in.sealed_unix_ms);
  EXPECT_EQ(out.previous_sha256, first_.header.segment_sha256);
  EXPECT_EQ(out.commits, in.commits);
  EXPECT_EQ(out.body_length, 3u * (8 + 1024));
  EXPECT_EQ(out.body_stored_length, bytes_.size() - header_length_);
  EXPECT_LT(out.body_stored_length, out.body_length / 4) << "text pages compress";
  EXPECT_EQ(d->frames, segment_.frames);
  EXPECT_EQ(d->header.segment_sha256, encoded_.header.segment_sha256);
  EXPECT_EQ(header_length_, 256u + 2 * 24 + 8);
}

TEST_F(SegmentCodecTest, HeaderDecodesWithoutTheBody) {
  Result<DecodedSegmentHeader> h = DecodeSegmentHeader(std::string_view(bytes_).substr(0, header_length_));
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_EQ(h->header.sequence, 2u);
  EXPECT_EQ(h->segment_sha256, encoded_.header.segment_sha256);
}

TEST_F(SegmentCodecTest, BitFlipInHeader) {
  bytes_[56] ^= 0x04;  // the sequence
  EXPECT_EQ(DecodeError(bytes_), "segment header: checksum mismatch (stored " +
                                     Hex64(ReadLittleEndian64(bytes_, header_length_ - 8)) + ", computed " +
                                     Hex64(XXH64(bytes_.data(), header_length_ - 8, 0)) + ")");
}

TEST_F(SegmentCodecTest, BitFlipInCommitIndex) {
  bytes_[256 + 30] ^= 0x01;
  EXPECT_EQ(DecodeError(bytes_).rfind("segment header: checksum mismatch (stored 0x", 0), 0u);
}

TEST_F(SegmentCodecTest, BitFlipInBody) {
  bytes_[header_length_ + 20] ^= 0x10;
  EXPECT_EQ(DecodeError(bytes_), "segment body: checksum mismatch (stored " + Hex64(encoded_.header.header.body_xxh64) +
                                     ", computed " +
                                     Hex64(XXH64(bytes_.data() + header_length_, bytes_.size() - header_length_, 0)) +
                                     ")");
}

TEST_F(SegmentCodecTest, TruncatedBody) {
  EXPECT_EQ(DecodeError(bytes_.substr(0, bytes_.size() - 1)),
            "segment: truncated: " + std::to_string(bytes_.size() - 1) + " bytes, header and body need " +
                std::to_string(bytes_.size()));
  EXPECT_EQ(DecodeError(bytes_.substr(0, header_length_)),
            "segment: truncated: " + std::to_string(header_length_) + " bytes, header and body need " +
                std::to_string(bytes_.size()));
}

TEST_F(SegmentCodecTest, TruncatedHeader) {
  EXPECT_EQ(DecodeError(bytes_.substr(0, 100)), "segment header: truncated: 100 bytes, at least 256 needed");
  EXPECT_EQ(DecodeError(bytes_.substr(0, 270)), "segment header: truncated: 270 bytes, the header has 312");
  EXPECT_EQ(DecodeError(""), "segment header: truncated: 0 bytes, at least 256 needed");
}

TEST_F(SegmentCodecTest, AppendedBytes) {
  EXPECT_EQ(DecodeError(bytes_ + std::string(12, 'x')), "segment: 12 trailing bytes after body");
}

TEST_F(SegmentCodecTest, BadMagic) {
  bytes_[0] = 'X';
  EXPECT_EQ(DecodeError(bytes_), "segment header: bad magic 58414c5348495053");
}

TEST_F(SegmentCodecTest, UnknownMajorVersionIsRefusedBeforeAnythingElse) {
  PutLittleEndian(&bytes_, 8, 2, 2);
  PutLittleEndian(&bytes_, 10, 3, 2);
  EXPECT_EQ(DecodeError(bytes_), "segment header: unsupported format version 2.3 (this build reads 1.x)");
}

TEST_F(SegmentCodecTest, NewerMinorVersionAndUnknownOptionalFlagsAreRead) {
  PutLittleEndian(&bytes_, 10, 7, 2);
  PutLittleEndian(&bytes_, 12, 1u << 16, 4);
  Reseal(&bytes_, header_length_);
  Result<DecodedSegment> d = DecodeSegment(bytes_);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->header.header.minor_version, 7);
}

TEST_F(SegmentCodecTest, UnknownRequiredFlagIsRefused) {
  PutLittleEndian(&bytes_, 12, 1u << 1, 4);
  Reseal(&bytes_, header_length_);
  EXPECT_EQ(DecodeError(bytes_), "segment header: unknown required flags 0x00000002");
}

TEST_F(SegmentCodecTest, HeaderLengthThatDoesNotFitTheCommitCount) {
  PutLittleEndian(&bytes_, 16, 999, 4);
  EXPECT_EQ(DecodeError(bytes_), "segment header: header length 999 does not fit 2 commits");
  PutLittleEndian(&bytes_, 16, header_length_, 4);
  PutLittleEndian(&bytes_, 80, 0xffffffff, 4);
  EXPECT_EQ(DecodeError(bytes_), "segment header: header length 312 does not fit 4294967295 commits");
}

TEST_F(SegmentCodecTest, BodySha256Mismatch) {
  const std::string stored_hex = HexOf(encoded_.header.header.body_sha256);
  bytes_[176] ^= 0x01;  // the header's body SHA-256: the body no longer matches it
  Reseal(&bytes_, header_length_);
  Result<DecodedSegmentHeader> h = DecodeSegmentHeader(bytes_);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(DecodeError(bytes_), "segment body: sha256 mismatch (stored " + HexOf(h->header.body_sha256) +
                                     ", computed " + stored_hex + ")");
}

TEST_F(SegmentCodecTest, BodyThatIsNotZstd) {
  std::string garbage(bytes_.size() - header_length_, 'g');
  bytes_.replace(header_length_, garbage.size(), garbage);
  PutLittleEndian(&bytes_, 168, XXH64(garbage.data(), garbage.size(), 0), 8);
  Reseal(&bytes_, header_length_);
  EXPECT_EQ(DecodeError(bytes_), "segment body: zstd: Unknown frame descriptor");
}

TEST_F(SegmentCodecTest, ClaimedBodyLargerThanTheZstdFrameIsRefusedBeforeAllocating) {
  const SegmentHeader& h = encoded_.header.header;
  const uint64_t frames = h.frame_count + 100000;  // ~400 MB claimed by a few changed bytes
  const uint64_t claimed = frames * (kSegmentFrameRecordHeaderSize + h.page_size);
  PutLittleEndian(&bytes_, 84, frames, 4);
  PutLittleEndian(&bytes_, 160, claimed, 8);
  PutLittleEndian(&bytes_, 256 + 24 * (h.commits.size() - 1) + 16, frames, 4);  // the last commit's frame
  PutLittleEndian(&bytes_, 104, h.wal_first_frame + frames - 1, 4);                 // the WAL's last frame
  Reseal(&bytes_, header_length_);
  EXPECT_EQ(DecodeError(bytes_), "segment body: the zstd frame holds " + std::to_string(h.body_length) +
                                     " bytes, the header says " + std::to_string(claimed));
}

TEST_F(SegmentCodecTest, CommitIndexThatContradictsTheFrames) {
  PutLittleEndian(&bytes_, 256 + 20, 99, 4);  // first commit's database size
  Reseal(&bytes_, header_length_);
  EXPECT_EQ(DecodeError(bytes_), "segment body: frame 2: commit marker 4 pages, the commit index says 99");
}

TEST_F(SegmentCodecTest, HeaderRulesAreCheckedOnDecode) {
  PutLittleEndian(&bytes_, 100, 5, 4);  // WAL first frame
  Reseal(&bytes_, header_length_);
  EXPECT_EQ(DecodeError(bytes_), "segment header: WAL frames 5 to 6 are not 3 frames");
}

TEST_F(SegmentCodecTest, EncoderRefusesInconsistentSegments) {
  struct Case {
    std::function<void(Segment*)> damage;
    std::string message;
  };
  const Case cases[] = {
      {[](Segment* s) { s->header.commits.clear(); }, "no commits"},
      {[](Segment* s) { s->header.commits.pop_back(); }, "the last commit is frame 2, not the last frame 3"},
      {[](Segment* s) { s->header.page_size = 1000; }, "page size 1000 is not a power of two from 512 to 65536"},
      {[](Segment* s) { s->header.flags |= kSegmentFlagChainStart; }, "chain start with a non-zero previous sha256"},
      {[](Segment* s) { s->header.previous_sha256 = {}; },
       "zero previous sha256 on a segment that does not start a chain"},
      {[](Segment* s) { s->header.commits[1].txid = 3; },
       "commit index entry 2 (txid 3, frame 3) does not follow entry 1 (txid 3, frame 2)"},
      {[](Segment* s) { s->frames[0].page_number = 0; }, "frame 1: page number 0"},
      {[](Segment* s) { s->frames[1].page.pop_back(); }, "frame 2: page of 1023 bytes, the page size is 1024"},
      {[](Segment* s) { s->frames[0].db_pages_after_commit = 9; },
       "frame 1: commit marker 9 pages, the commit index says 0"},
      {[](Segment* s) { s->header.wal_last_frame = 9; }, "WAL frames 4 to 9 are not 3 frames"},
  };
  for (const Case& c : cases) {
    Segment s = segment_;
    c.damage(&s);
    Result<EncodedSegment> e = EncodeSegment(s, 3);
    ASSERT_FALSE(e.ok()) << c.message;
    EXPECT_EQ(e.status().code(), Code::kInvalidArgument);
    EXPECT_EQ(e.status().message(), "encode segment 2: " + c.message);
  }
}

// The sealer keeps one encoder (one zstd context) for every segment: each
// must come out as if encoded alone, whatever was encoded before it, and a
// body of many compression blocks must survive the streaming.
TEST_F(SegmentCodecTest, AReusedEncoderEncodesEachSegmentAsAFreshOneWould) {
  Segment big = segment_;
  const uint32_t frames = 600;  // 600 KiB of body: several of zstd's 128 KiB blocks
  big.header.wal_last_frame = big.header.wal_first_frame + frames - 1;
  big.frames.clear();
  // Every other page is noise, which zstd cannot shrink: the output then
  // outgrows the encoder's output buffer more than once.
  uint64_t noise = 0x9e3779b97f4a7c15;
  for (uint32_t i = 0; i < frames; ++i) {
    std::string page = SamplePage(1000 + i);
    if (i % 2 == 1) {
      for (char& c : page) {
        noise = noise * 6364136223846793005 + 1442695040888963407;
        c = static_cast<char>(noise >> 56);
      }
    }
    big.frames.push_back({2 + i % 50, 0, std::move(page)});
  }
  big.frames.back().db_pages_after_commit = 60;
  big.header.commits = {{3, big.header.sealed_unix_ms - 1, frames, 60}};

  SegmentEncoder encoder(3);
  std::vector<std::string> reused;
  for (const Segment* s : {&segment_, &big, &segment_}) {
    Result<EncodedSegment> e = encoder.Encode(*s);
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    Result<DecodedSegment> d = DecodeSegment(e->bytes);
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    EXPECT_EQ(d->frames, s->frames);
    EXPECT_EQ(d->header.segment_sha256, e->header.segment_sha256);
    EXPECT_EQ(d->header.header.body_sha256, e->header.header.body_sha256);
    reused.push_back(e->bytes);
  }
  EXPECT_EQ(reused[0], bytes_) << "the first segment, encoded by a fresh encoder in SetUp";
  EXPECT_EQ(reused[2], bytes_) << "the same segment after a large one: nothing carried over";
  EXPECT_EQ(reused[1], EncodeOrDie(big).bytes);
  EXPECT_GT(reused[1].size(), 300u * 1024) << "the noise pages stay about their size";
}


}  // namespace
}  // namespace walship
