// `walship segments ls|show|verify` on stores built in a temp folder (no node
// runs). In the manner of leveldb's log_test.cc: one kind of damage per test,
// each in a fresh store, and the exact line `verify` must print for it.
#include <xxhash.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include "replication/segment_store.h"
#include "tests/replication/segment_builder.h"
#include "tests/support/node_process.h"
#include "tests/support/temp_dir.h"

namespace walship {
namespace {

using walship::testing::EncodeOrDie;
using walship::testing::FirstSampleSegment;
using walship::testing::NextSampleSegment;
using walship::testing::RunWalship;
using walship::testing::Slurp;
using walship::testing::TempDir;

constexpr int kSegments = 4;

std::string Hex64(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%016llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string NameOf(const EncodedSegment& s) {
  const SegmentHeader& h = s.header.header;
  return SegmentStore::SegmentFileName(h.sequence, h.first_txid, h.last_txid);
}

void WriteFile(const std::string& path, const std::string& contents) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << contents;
}

bool HasLine(const std::string& output, const std::string& line) {
  std::istringstream in(output);
  for (std::string l; std::getline(in, l);) {
    if (l == line) return true;
  }
  return false;
}

// Segments 1..n published into DATA/segments, each linked to the one before;
// `tweak` may change a segment before it is encoded (the next one links to
// the result).
std::vector<EncodedSegment> BuildStore(const std::string& data_dir, int n,
                                       const std::function<void(Segment*)>& tweak = [](Segment*) {}) {
  Result<std::unique_ptr<SegmentStore>> store = SegmentStore::Open(data_dir + "/segments");
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  std::vector<EncodedSegment> out;
  while (store.ok() && out.size() < static_cast<size_t>(n)) {
    Segment s = out.empty() ? FirstSampleSegment() : NextSampleSegment(out.back().header);
    tweak(&s);
    out.push_back(EncodeOrDie(s));
    Status published = (*store)->Publish(out.back());
    EXPECT_TRUE(published.ok()) << published.ToString();
  }
  return out;
}

class SegmentsCliTest : public ::testing::Test {
 protected:
  void SetUp() override { segments_ = BuildStore(tmp_.Sub("clean"), kSegments); }

  // A fresh copy of the clean store's data folder.
  std::string FreshCopy() {
    std::string dir = tmp_.Sub("copy" + std::to_string(++copies_));
    std::filesystem::copy(tmp_.Sub("clean"), dir, std::filesystem::copy_options::recursive);
    return dir;
  }
  std::string SegmentPath(const std::string& data_dir, int sequence) const {
    return data_dir + "/segments/" + NameOf(segments_[sequence - 1]);
  }
  // "segments verify: segment NAME: " for segment `sequence` of the clean chain.
  std::string FaultPrefix(int sequence) const {
    return "segments verify: segment " + NameOf(segments_[sequence - 1]) + ": ";
  }

  int Run(const std::vector<std::string>& args, std::string* out) { return RunWalship(WALSHIP_BINARY, args, out); }

  // Runs `segments verify`, expects exit 1 and the exact line.
  void ExpectVerifyFails(const std::string& data_dir, const std::string& line) {
    std::string out;
    EXPECT_EQ(Run({"segments", "verify", "--data", data_dir}, &out), 1) << out;
    EXPECT_TRUE(HasLine(out, line)) << "wanted the line\n  " << line << "\ngot\n" << out;
  }

  TempDir tmp_{"walship-segments-cli"};
  std::vector<EncodedSegment> segments_;
  int copies_ = 0;
};

TEST_F(SegmentsCliTest, ACleanStoreVerifies) {
  std::string out;
  EXPECT_EQ(Run({"segments", "verify", "--data", tmp_.Sub("clean")}, &out), 0) << out;
  EXPECT_TRUE(HasLine(out, "verified 4 segments, sequences 1..4, txids 1..8")) << out;
}

TEST_F(SegmentsCliTest, AnEmptyStoreVerifies) {
  std::filesystem::create_directories(tmp_.Sub("empty/segments"));
  std::string out;
  EXPECT_EQ(Run({"segments", "verify", "--data", tmp_.Sub("empty")}, &out), 0) << out;
  EXPECT_TRUE(HasLine(out, "verified 0 segments: " + tmp_.Sub("empty/segments") + " holds none")) << out;
}

TEST_F(SegmentsCliTest, BitFlipInAHeader) {
  const std::string dir = FreshCopy();
  std::string bytes = segments_[1].bytes;
  bytes[60] ^= 0x04;  // inside the sequence field
  WriteFile(SegmentPath(dir, 2), bytes);
  const size_t n = segments_[1].header.header_length - 8;
  uint64_t stored = 0;
  for (int i = 0; i < 8; ++i) stored |= uint64_t{static_cast<uint8_t>(bytes[n + i])} << (8 * i);
  ExpectVerifyFails(dir, FaultPrefix(2) + "segment header: checksum mismatch (stored " + Hex64(stored) +
                             ", computed " + Hex64(XXH64(bytes.data(), n, 0)) + ")");
}

TEST_F(SegmentsCliTest, BitFlipInABody) {
  const std::string dir = FreshCopy();
  std::string bytes = segments_[1].bytes;
  const size_t header_length = segments_[1].header.header_length;
  bytes[header_length + 10] ^= 0x01;
  WriteFile(SegmentPath(dir, 2), bytes);
  ExpectVerifyFails(dir, FaultPrefix(2) + "segment body: checksum mismatch (stored " +
                             Hex64(segments_[1].header.header.body_xxh64) + ", computed " +
                             Hex64(XXH64(bytes.data() + header_length, bytes.size() - header_length, 0)) + ")");
}

TEST_F(SegmentsCliTest, Truncation) {
  const std::string dir = FreshCopy();
  const std::string& bytes = segments_[2].bytes;
  WriteFile(SegmentPath(dir, 3), bytes.substr(0, bytes.size() - 7));
  ExpectVerifyFails(dir, FaultPrefix(3) + "segment: truncated: " + std::to_string(bytes.size() - 7) +
                             " bytes, header and body need " + std::to_string(bytes.size()));
}

TEST_F(SegmentsCliTest, AppendedBytes) {
  const std::string dir = FreshCopy();
  WriteFile(SegmentPath(dir, 3), segments_[2].bytes + "extra");
  ExpectVerifyFails(dir, FaultPrefix(3) + "segment: 5 trailing bytes after body");
}

TEST_F(SegmentsCliTest, ADeletedSegmentIsAGap) {
  const std::string dir = FreshCopy();
  std::filesystem::remove(SegmentPath(dir, 3));
  ExpectVerifyFails(dir, FaultPrefix(4) + "segment 3 is missing (between 2 and 4)");
}

// What segment retention leaves: the oldest kept segment is no chain start.
TEST_F(SegmentsCliTest, APrunedStoreVerifiesAndSaysTheFirstLinkIsUnchecked) {
  const std::string dir = FreshCopy();
  auto store = SegmentStore::Open(dir + "/segments");
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto entries = (*store)->List();
  ASSERT_TRUE(entries.ok()) << entries.status().ToString();
  ASSERT_TRUE((*store)->RecordPrunedBelow(3).ok());  // as retention does, first
  for (int i = 0; i < 2; ++i) ASSERT_TRUE((*store)->RemoveSegment((*entries)[i]).ok());
  EXPECT_EQ((*store)->RemoveSegment((*entries)[0]).code(), Code::kNotFound);
  std::string out;
  EXPECT_EQ(Run({"segments", "verify", "--data", dir}, &out), 0) << out;
  EXPECT_TRUE(HasLine(out, "verified 2 segments, sequences 3..4, txids 5..8")) << out;
  EXPECT_TRUE(HasLine(out, "note: segment 3 is the oldest kept and does not start a chain (segment retention "
                           "removed the segments before it): its previous sha256 " +
                               HexOf(segments_[2].header.header.previous_sha256) + " cannot be checked"))
      << out;
}

// The same store, but no retention said it removed anything: the head of
// the chain is lost, not pruned.
TEST_F(SegmentsCliTest, OldestSegmentsLostWithoutRetentionAreAFault) {
  const std::string dir = FreshCopy();
  std::filesystem::remove(SegmentPath(dir, 1));
  std::filesystem::remove(SegmentPath(dir, 2));
  ExpectVerifyFails(dir, FaultPrefix(3) +
                             "the oldest segment does not start a chain, and segment retention removed nothing "
                             "before it (PRUNED-BELOW is absent): the segments before 3 are missing");
  auto store = SegmentStore::Open(dir + "/segments");
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->RecordPrunedBelow(2).ok());  // retention once kept 2 on
  ExpectVerifyFails(dir, FaultPrefix(3) +
                             "the oldest segment does not start a chain, and segment retention removed nothing "
                             "before it (PRUNED-BELOW says 2): the segments before 3 are missing");
}

TEST_F(SegmentsCliTest, APrunedStoreWithAGapStillFails) {
  const std::string dir = FreshCopy();
  Segment fifth = NextSampleSegment(segments_.back().header);
  auto store = SegmentStore::Open(dir + "/segments");
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  ASSERT_TRUE((*store)->Publish(EncodeOrDie(fifth)).ok());
  ASSERT_TRUE((*store)->RecordPrunedBelow(2).ok());
  std::filesystem::remove(SegmentPath(dir, 1));  // pruned
  std::filesystem::remove(SegmentPath(dir, 3));  // lost in the middle
  ExpectVerifyFails(dir, FaultPrefix(4) + "segment 3 is missing (between 2 and 4)");
}

TEST_F(SegmentsCliTest, TwoSwappedSegments) {
  const std::string dir = FreshCopy();
  const std::string two = SegmentPath(dir, 2);
  const std::string three = SegmentPath(dir, 3);
  std::filesystem::rename(two, dir + "/swap");
  std::filesystem::rename(three, two);
  std::filesystem::rename(dir + "/swap", three);
  ExpectVerifyFails(dir, FaultPrefix(2) + "the name says sequence 2, txids 3-4; the header says sequence 3, txids 5-6");
}

TEST_F(SegmentsCliTest, ADuplicateSequence) {
  const std::string dir = FreshCopy();
  // Another segment 2, of one commit (txids 3-3): a capture that sealed
  // sequence 2 twice.
  Segment other = NextSampleSegment(segments_[0].header);
  other.frames[1].db_pages_after_commit = 0;
  other.header.commits = {{3, other.header.sealed_unix_ms - 1, 3, other.frames[2].db_pages_after_commit}};
  EncodedSegment encoded = EncodeOrDie(other);
  ASSERT_EQ(NameOf(encoded), "00000000000000000002-00000000000000000003-00000000000000000003.wseg");
  WriteFile(dir + "/segments/" + NameOf(encoded), encoded.bytes);
  ExpectVerifyFails(dir, FaultPrefix(2) + "segment 2 appears twice");
}

TEST_F(SegmentsCliTest, ASegmentOfAnotherCluster) {
  ClusterId other = testing::kSampleCluster;
  other[0] ^= 0xff;
  segments_ = BuildStore(tmp_.Sub("cluster"), kSegments, [&](Segment* s) {
    if (s->header.sequence == 3) s->header.cluster_id = other;
  });
  ExpectVerifyFails(tmp_.Sub("cluster"), FaultPrefix(3) + "segment 3: cluster " + HexOf(other) +
                                             " is not this store's " + HexOf(testing::kSampleCluster));
}

TEST_F(SegmentsCliTest, ASegmentOfAnOlderTimeline) {
  segments_ = BuildStore(tmp_.Sub("timeline"), kSegments, [](Segment* s) {
    if (s->header.sequence == 1) s->header.timeline = 2;
    if (s->header.sequence == 3) s->header.timeline = 1;
  });
  ExpectVerifyFails(tmp_.Sub("timeline"), FaultPrefix(3) + "segment 3: timeline 1 is older than segment 2's timeline 2");
}

TEST_F(SegmentsCliTest, AWrongPreviousHash) {
  segments_ = BuildStore(tmp_.Sub("link"), kSegments, [](Segment* s) {
    if (s->header.sequence == 3) s->header.previous_sha256[5] ^= 0x01;
  });
  ExpectVerifyFails(tmp_.Sub("link"), FaultPrefix(3) + "segment 3: previous sha256 " +
                                          HexOf(segments_[2].header.header.previous_sha256) +
                                          " is not segment 2's sha256 " + HexOf(segments_[1].header.segment_sha256));
}

TEST_F(SegmentsCliTest, AChainStartOnADatabaseNeedsItsBaseSnapshot) {
  const std::string data = tmp_.Sub("based");
  segments_ = BuildStore(data, 2, [](Segment* s) {
    if (s->header.sequence == 1) s->header.db_pages_before = 5;
  });
  ExpectVerifyFails(data, FaultPrefix(1) +
                              "chain start on a database of 5 pages, but the store has no base snapshot "
                              "base-00000000000000000001.db");
  WriteFile(tmp_.Sub("snapshot.db"), std::string(5 * testing::kSamplePageSize, 'p'));
  Result<std::unique_ptr<SegmentStore>> store = SegmentStore::Open(data + "/segments");
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->PublishBase(1, tmp_.Sub("snapshot.db")).ok());
  std::string out;
  EXPECT_EQ(Run({"segments", "verify", "--data", data}, &out), 0) << out;
}

TEST_F(SegmentsCliTest, GarbageFilesAreNamedNotCrashedOn) {
  const std::string dir = FreshCopy();
  const std::string name = SegmentStore::SegmentFileName(5, 9, 10);
  WriteFile(dir + "/segments/" + name, "garbage");
  ExpectVerifyFails(dir, "segments verify: segment " + name + ": segment header: truncated: 7 bytes, at least 256 needed");
  WriteFile(dir + "/segments/" + name, std::string(4096, 'z'));
  ExpectVerifyFails(dir, "segments verify: segment " + name + ": segment header: bad magic 7a7a7a7a7a7a7a7a");

  const std::string stray = FreshCopy();
  WriteFile(stray + "/segments/notes.txt", "not a segment");
  ExpectVerifyFails(stray, "segments verify: segment store " + stray +
                               "/segments: unexpected file notes.txt (not a segment, base snapshot or temp file)");
}

TEST_F(SegmentsCliTest, NoDataFolderOrStoreExitsTwo) {
  std::string out;
  EXPECT_EQ(Run({"segments", "verify", "--data", tmp_.Sub("absent")}, &out), 2) << out;
  EXPECT_TRUE(HasLine(out, "segments verify: data folder " + tmp_.Sub("absent") + " does not exist")) << out;
  std::filesystem::create_directories(tmp_.Sub("bare"));
  EXPECT_EQ(Run({"segments", "ls", "--data", tmp_.Sub("bare")}, &out), 2) << out;
  EXPECT_TRUE(HasLine(out, "segments ls: no segment store in " + tmp_.Sub("bare") + " (" + tmp_.Sub("bare") +
                               "/segments does not exist)"))
      << out;
  EXPECT_FALSE(std::filesystem::exists(tmp_.Sub("bare/segments"))) << "an offline tool creates nothing";
  EXPECT_EQ(Run({"segments", "verify"}, &out), 2) << out;
  EXPECT_TRUE(HasLine(out, "segments verify: --data DIR is required")) << out;
}

TEST_F(SegmentsCliTest, LsPrintsOneLinePerSegment) {
  std::string out;
  ASSERT_EQ(Run({"segments", "ls", "--data", tmp_.Sub("clean")}, &out), 0) << out;
  std::istringstream in(out);
  std::string line;
  ASSERT_TRUE(std::getline(in, line));
  for (const char* column : {"sequence", "txids", "sealed (UTC)", "commits", "frames", "stored", "uncompressed",
                             "ratio"}) {
    EXPECT_NE(line.find(column), std::string::npos) << column << " in " << line;
  }
  for (const EncodedSegment& s : segments_) {
    const SegmentHeader& h = s.header.header;
    ASSERT_TRUE(std::getline(in, line)) << out;
    std::istringstream fields(line);
    std::string seq, txids, sealed, commits, frames, stored, uncompressed, ratio;
    fields >> seq >> txids >> sealed >> commits >> frames >> stored >> uncompressed >> ratio;
    EXPECT_EQ(seq, std::to_string(h.sequence));
    EXPECT_EQ(txids, std::to_string(h.first_txid) + "-" + std::to_string(h.last_txid));
    EXPECT_EQ(commits, "2");
    EXPECT_EQ(frames, "3");
    EXPECT_EQ(stored, std::to_string(s.bytes.size()));
    EXPECT_EQ(uncompressed, std::to_string(h.body_length));
    char want_ratio[16];
    std::snprintf(want_ratio, sizeof want_ratio, "%.2f",
                  static_cast<double>(h.body_length) / static_cast<double>(s.bytes.size()));
    EXPECT_EQ(ratio, want_ratio);
  }
  EXPECT_NE(out.find("1          1-2"), std::string::npos) << out;
  EXPECT_NE(out.find("2023-11-14T22:13:20.000Z"), std::string::npos) << out;  // segment 1 sealed at 1.7e12 ms
  EXPECT_FALSE(std::getline(in, line)) << "one line per segment: " << out;
}

TEST_F(SegmentsCliTest, ShowPrintsTheHeaderAndCommitIndex) {
  std::string out;
  ASSERT_EQ(Run({"segments", "show", "1", "--data", tmp_.Sub("clean")}, &out), 0) << out;
  const SegmentHeader& first = segments_[0].header.header;
  for (const std::string& line :
       {std::string("file                ") + NameOf(segments_[0]), std::string("flags               0x00000001 (chain start)"),
        "cluster             " + HexOf(testing::kSampleCluster), std::string("timeline            1"),
        std::string("txids               1-2"), std::string("wal salts           0x11112222 0x33334444"),
        std::string("wal checksums       0xaaaa0001 0xbbbb0002"),
        std::string("db checksum before  0x0000000000000000"), std::string("db checksum after   0x0000000000001234"),
        "body uncompressed   " + std::to_string(first.body_length) + " bytes, sha256 " + HexOf(first.body_sha256),
        "previous sha256     " + std::string(64, '0'), "segment sha256      " + HexOf(segments_[0].header.segment_sha256),
        std::string("base                none (an empty database)"), std::string("segment check: ok")}) {
    EXPECT_TRUE(HasLine(out, line)) << "wanted the line\n  " << line << "\ngot\n" << out;
  }
  EXPECT_NE(out.find("  1                    2          2023-11-14T22:13:19.000Z 2"), std::string::npos) << out;
  EXPECT_NE(out.find("  2                    3          2023-11-14T22:13:19.500Z 3"), std::string::npos) << out;

  ASSERT_EQ(Run({"segments", "show", "3", "--data", tmp_.Sub("clean")}, &out), 0) << out;
  EXPECT_TRUE(HasLine(out, "previous sha256     " + HexOf(segments_[1].header.segment_sha256))) << out;
  EXPECT_TRUE(HasLine(out, "flags               0x00000000")) << out;

  EXPECT_EQ(Run({"segments", "show", "9", "--data", tmp_.Sub("clean")}, &out), 1) << out;
  EXPECT_TRUE(HasLine(out, "segments show: no segment 9 in " + tmp_.Sub("clean") + "/segments")) << out;
}

TEST_F(SegmentsCliTest, ShowReportsADamagedBodyAfterTheHeader) {
  const std::string dir = FreshCopy();
  WriteFile(SegmentPath(dir, 2), segments_[1].bytes + "x");
  std::string out;
  EXPECT_EQ(Run({"segments", "show", "2", "--data", dir}, &out), 1) << out;
  EXPECT_TRUE(HasLine(out, "sequence            2")) << out;
  EXPECT_TRUE(HasLine(out, "segment check: segment: 1 trailing bytes after body")) << out;
}

}  // namespace
}  // namespace walship
