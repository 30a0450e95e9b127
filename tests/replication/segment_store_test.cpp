// The segment store: durable publish, listing, reading, conflicts, and what
// it refuses to guess about.
#include "replication/segment_store.h"

#include <gtest/gtest.h>

#include <fstream>

#include "base/fs.h"
#include "tests/replication/segment_builder.h"
#include "tests/support/temp_dir.h"

namespace walship {
namespace {

using walship::testing::EncodeOrDie;
using walship::testing::FirstSampleSegment;
using walship::testing::NextSampleSegment;
using walship::testing::TempDir;

void WriteFile(const std::string& path, const std::string& contents) {
  std::ofstream(path, std::ios::binary) << contents;
}

class SegmentStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = tmp_.Sub("segments");
    Result<std::unique_ptr<SegmentStore>> s = SegmentStore::Open(dir_);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
    first_ = EncodeOrDie(FirstSampleSegment());
    second_ = EncodeOrDie(NextSampleSegment(first_.header));
  }
  TempDir tmp_;
  std::string dir_;
  std::unique_ptr<SegmentStore> store_;
  EncodedSegment first_;
  EncodedSegment second_;
};

TEST_F(SegmentStoreTest, FileNamesArePaddedAndParseBack) {
  EXPECT_EQ(SegmentStore::SegmentFileName(3, 5, 6),
            "00000000000000000003-00000000000000000005-00000000000000000006.wseg");
  EXPECT_EQ(SegmentStore::BaseFileName(12), "base-00000000000000000012.db");
  std::optional<SegmentFileEntry> e = SegmentStore::ParseSegmentFileName(SegmentStore::SegmentFileName(3, 5, 6));
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->sequence, 3u);
  EXPECT_EQ(e->first_txid, 5u);
  EXPECT_EQ(e->last_txid, 6u);
  for (const char* bad : {"3-5-6.wseg", "00000000000000000003-00000000000000000005-00000000000000000006.wse",
                          "0000000000000000000x-00000000000000000005-00000000000000000006.wseg",
                          "99999999999999999999-00000000000000000005-00000000000000000006.wseg"}) {
    EXPECT_FALSE(SegmentStore::ParseSegmentFileName(bad).has_value()) << bad;
  }
}

TEST_F(SegmentStoreTest, PublishListReadRoundTrip) {
  ASSERT_TRUE(store_->Publish(second_).ok());
  ASSERT_TRUE(store_->Publish(first_).ok());
  Result<std::vector<SegmentFileEntry>> list = store_->List();
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  ASSERT_EQ(list->size(), 2u);
  const SegmentFileEntry& a = (*list)[0];
  const SegmentFileEntry& b = (*list)[1];
  EXPECT_EQ(a.sequence, 1u);
  EXPECT_EQ(a.first_txid, 1u);
  EXPECT_EQ(a.last_txid, 2u);
  EXPECT_EQ(a.path, dir_ + "/" + SegmentStore::SegmentFileName(1, 1, 2));
  EXPECT_EQ(a.bytes, static_cast<int64_t>(first_.bytes.size()));
  EXPECT_EQ(b.sequence, 2u);
  EXPECT_EQ(b.first_txid, 3u);
  EXPECT_EQ(b.last_txid, 4u);
  Result<std::string> bytes = store_->ReadBytes(b);
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  EXPECT_EQ(*bytes, second_.bytes);

  Result<std::optional<DecodedSegmentHeader>> newest = store_->NewestHeader();
  ASSERT_TRUE(newest.ok()) << newest.status().ToString();
  ASSERT_TRUE(newest->has_value());
  EXPECT_EQ((*newest)->header.sequence, 2u);
  EXPECT_EQ((*newest)->segment_sha256, second_.header.segment_sha256);
}

TEST_F(SegmentStoreTest, RepublishingIdenticalBytesIsANoOp) {
  ASSERT_TRUE(store_->Publish(first_).ok());
  Status again = store_->Publish(first_);
  EXPECT_TRUE(again.ok()) << again.ToString();
  Result<std::vector<SegmentFileEntry>> list = store_->List();
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->size(), 1u);
}

TEST_F(SegmentStoreTest, SameSequenceOtherBytesIsAConflictAndChangesNothing) {
  ASSERT_TRUE(store_->Publish(first_).ok());
  Segment other = FirstSampleSegment();
  other.header.sealed_unix_ms += 1;
  Status s = store_->Publish(EncodeOrDie(other));
  EXPECT_EQ(s.code(), Code::kConflict);
  EXPECT_EQ(s.message(),
            "publish segment 1: the store already holds "
            "00000000000000000001-00000000000000000001-00000000000000000002.wseg, with other bytes");
  Result<std::string> kept = ReadWholeFile(dir_ + "/" + SegmentStore::SegmentFileName(1, 1, 2));
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(*kept, first_.bytes);
}

TEST_F(SegmentStoreTest, SameSequenceOtherTxidsIsAConflict) {
  ASSERT_TRUE(store_->Publish(first_).ok());
  Segment other = FirstSampleSegment();
  other.header.commits = {{1, 1'699'999'999'000, 3, 3}};
  other.frames[1].db_pages_after_commit = 0;
  Status s = store_->Publish(EncodeOrDie(other));
  EXPECT_EQ(s.code(), Code::kConflict);
  EXPECT_EQ(s.message(),
            "publish segment 1: the store already holds "
            "00000000000000000001-00000000000000000001-00000000000000000002.wseg, with other bytes");
  Result<std::vector<SegmentFileEntry>> list = store_->List();
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->size(), 1u);
}

TEST_F(SegmentStoreTest, ListIgnoresTempFilesAndBases) {
  ASSERT_TRUE(store_->Publish(first_).ok());
  WriteFile(dir_ + "/tmp-" + SegmentStore::SegmentFileName(2, 3, 4), "half a segment");
  WriteFile(dir_ + "/tmp-whatever", "");
  WriteFile(dir_ + "/" + SegmentStore::BaseFileName(1), "a database");
  Result<std::vector<SegmentFileEntry>> list = store_->List();
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].sequence, 1u);
}

TEST_F(SegmentStoreTest, PrunedBelowIsRecordedDurablyAndIsNoSegment) {
  auto none = store_->PrunedBelow();
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_EQ(*none, 0u) << "retention never removed anything";
  ASSERT_TRUE(store_->Publish(first_).ok());
  ASSERT_TRUE(store_->RecordPrunedBelow(7).ok());
  ASSERT_TRUE(store_->RecordPrunedBelow(12).ok());
  auto recorded = store_->PrunedBelow();
  ASSERT_TRUE(recorded.ok()) << recorded.status().ToString();
  EXPECT_EQ(*recorded, 12u);
  WriteFile(dir_ + "/PRUNED-BELOW.tmp", "13");  // a crash before the rename
  Result<std::vector<SegmentFileEntry>> list = store_->List();
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  EXPECT_EQ(list->size(), 1u);
  WriteFile(dir_ + "/PRUNED-BELOW", "twelve\n");
  EXPECT_EQ(store_->PrunedBelow().status().ToString(),
            "corruption: " + dir_ + "/PRUNED-BELOW does not hold a segment sequence: \"twelve\n\"");
}

TEST_F(SegmentStoreTest, PublishOverwritesALeftoverTempFile) {
  WriteFile(dir_ + "/tmp-" + SegmentStore::SegmentFileName(1, 1, 2), "torn by a crash");
  ASSERT_TRUE(store_->Publish(first_).ok());
  Result<std::string> bytes = ReadWholeFile(dir_ + "/" + SegmentStore::SegmentFileName(1, 1, 2));
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(*bytes, first_.bytes);
  EXPECT_EQ(FileSizeOrZero(dir_ + "/tmp-" + SegmentStore::SegmentFileName(1, 1, 2)), 0);
}

TEST_F(SegmentStoreTest, AnUnparseableNameIsAnErrorNamingTheFile) {
  ASSERT_TRUE(store_->Publish(first_).ok());
  WriteFile(dir_ + "/notes.txt", "stray");
  Result<std::vector<SegmentFileEntry>> list = store_->List();
  ASSERT_FALSE(list.ok());
  EXPECT_EQ(list.status().code(), Code::kCorruption);
  EXPECT_EQ(list.status().message(),
            "segment store " + dir_ + ": unexpected file notes.txt (not a segment, base snapshot or temp file)");
  Status publish = store_->Publish(second_);
  EXPECT_EQ(publish.message(), "publish segment 2: segment store " + dir_ +
                                   ": unexpected file notes.txt (not a segment, base snapshot or temp file)");
}

TEST_F(SegmentStoreTest, NewestHeaderOnAnEmptyStoreIsNullopt) {
  Result<std::optional<DecodedSegmentHeader>> newest = store_->NewestHeader();
  ASSERT_TRUE(newest.ok()) << newest.status().ToString();
  EXPECT_FALSE(newest->has_value());
}

TEST_F(SegmentStoreTest, NewestHeaderRefusesAHeaderThatIsNotItsName) {
  WriteFile(dir_ + "/" + SegmentStore::SegmentFileName(3, 5, 6), second_.bytes);
  Result<std::optional<DecodedSegmentHeader>> newest = store_->NewestHeader();
  ASSERT_FALSE(newest.ok());
  EXPECT_EQ(newest.status().code(), Code::kCorruption);
  EXPECT_EQ(newest.status().message(),
            "segment 00000000000000000003-00000000000000000005-00000000000000000006.wseg: the name says sequence 3, "
            "txids 5-6; the header says sequence 2, txids 3-4");
}

TEST_F(SegmentStoreTest, NewestHeaderReportsADamagedHeader) {
  std::string bytes = second_.bytes;
  bytes.resize(100);
  WriteFile(dir_ + "/" + SegmentStore::SegmentFileName(2, 3, 4), bytes);
  Result<std::optional<DecodedSegmentHeader>> newest = store_->NewestHeader();
  ASSERT_FALSE(newest.ok());
  EXPECT_EQ(newest.status().message(),
            "segment 00000000000000000002-00000000000000000003-00000000000000000004.wseg: segment header: "
            "truncated: 100 bytes, at least 256 needed");
}

TEST_F(SegmentStoreTest, PublishBaseCopiesTheSnapshotDurably) {
  EXPECT_FALSE(store_->BasePath(1).has_value());
  const std::string snapshot = tmp_.Sub("snapshot.db");
  std::string contents(3 * 1024 * 1024 + 17, '\0');  // over one copy chunk
  for (size_t i = 0; i < contents.size(); ++i) contents[i] = static_cast<char>(i * 7);
  WriteFile(snapshot, contents);
  ASSERT_TRUE(store_->PublishBase(1, snapshot).ok());
  std::optional<std::string> base = store_->BasePath(1);
  ASSERT_TRUE(base.has_value());
  EXPECT_EQ(*base, dir_ + "/base-00000000000000000001.db");
  Result<std::string> copied = ReadWholeFile(*base);
  ASSERT_TRUE(copied.ok());
  EXPECT_EQ(*copied, contents);
  EXPECT_FALSE(store_->BasePath(2).has_value());

  EXPECT_TRUE(store_->PublishBase(1, snapshot).ok()) << "the same snapshot again is a no-op";
  WriteFile(snapshot, contents + "x");
  Status s = store_->PublishBase(1, snapshot);
  EXPECT_EQ(s.code(), Code::kConflict);
  EXPECT_EQ(s.message(),
            "publish base snapshot for segment 1: the store already holds base-00000000000000000001.db, with other "
            "bytes");
  Result<std::string> kept = ReadWholeFile(*base);
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(*kept, contents);
}

TEST_F(SegmentStoreTest, RetentionRemovesSegmentsAndBasesAndSaysWhenOneIsNotThere) {
  ASSERT_TRUE(store_->Publish(first_).ok());
  ASSERT_TRUE(store_->Publish(second_).ok());
  const std::string snapshot = tmp_.Sub("snapshot.db");
  WriteFile(snapshot, "base");
  ASSERT_TRUE(store_->PublishBase(3, snapshot).ok());
  ASSERT_TRUE(store_->PublishBase(1, snapshot).ok());
  WriteFile(dir_ + "/tmp-" + SegmentStore::BaseFileName(5), "not a base yet");
  Result<std::vector<uint64_t>> bases = store_->ListBases();
  ASSERT_TRUE(bases.ok()) << bases.status().ToString();
  EXPECT_EQ(*bases, (std::vector<uint64_t>{1, 3}));

  Result<std::vector<SegmentFileEntry>> entries = store_->List();
  ASSERT_TRUE(entries.ok());
  ASSERT_TRUE(store_->RemoveSegment(entries->front()).ok());
  ASSERT_TRUE(store_->RemoveBase(1).ok());
  Result<std::vector<SegmentFileEntry>> left = store_->List();
  ASSERT_TRUE(left.ok());
  ASSERT_EQ(left->size(), 1u);
  EXPECT_EQ(left->front().sequence, 2u);
  EXPECT_EQ(*store_->ListBases(), (std::vector<uint64_t>{3}));

  Status again = store_->RemoveSegment(entries->front());
  EXPECT_EQ(again.code(), Code::kNotFound);
  EXPECT_EQ(again.message(), "remove segment 1: " + entries->front().path + ": no such file");
  EXPECT_EQ(store_->RemoveBase(1).message(),
            "remove the base snapshot of segment 1: " + dir_ + "/base-00000000000000000001.db: no such file");
}

TEST_F(SegmentStoreTest, PublishBaseOfAMissingSnapshotFailsAndLeavesNoBase) {
  Status s = store_->PublishBase(4, tmp_.Sub("absent.db"));
  EXPECT_EQ(s.code(), Code::kNotFound);
  EXPECT_EQ(s.message(), "publish base snapshot for segment 4: " + tmp_.Sub("absent.db") + ": no such file");
  EXPECT_FALSE(store_->BasePath(4).has_value());
  EXPECT_EQ(FileSizeOrZero(dir_ + "/tmp-" + SegmentStore::BaseFileName(4)), 0);
}

}  // namespace
}  // namespace walship

namespace walship {
namespace {

TEST_F(SegmentStoreTest, ReadHeaderBytesReadsTheHeaderAndNotTheBody) {
  const EncodedSegment s = EncodeOrDie(FirstSampleSegment());
  ASSERT_TRUE(store_->Publish(s).ok());
  auto entries = store_->List();
  ASSERT_TRUE(entries.ok());
  auto head = store_->ReadHeaderBytes(entries->front());
  ASSERT_TRUE(head.ok()) << head.status().ToString();
  EXPECT_EQ(head->size(), s.header.header_length);
  EXPECT_LT(head->size(), s.bytes.size());
  EXPECT_EQ(*head, s.bytes.substr(0, s.header.header_length));
  auto decoded = DecodeSegmentHeader(*head);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->segment_sha256, s.header.segment_sha256);

  // A truncated file gives what it has; the decoder names the fault as for
  // the whole file.
  ASSERT_TRUE(WriteFileAtomically(entries->front().path, s.bytes.substr(0, 50)).ok());
  auto short_head = store_->ReadHeaderBytes(entries->front());
  ASSERT_TRUE(short_head.ok());
  EXPECT_EQ(short_head->size(), 50u);
  EXPECT_EQ(DecodeSegmentHeader(*short_head).status().message(),
            DecodeSegmentHeader(s.bytes.substr(0, 50)).status().message());
}

}  // namespace
}  // namespace walship
