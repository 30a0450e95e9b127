// Test helpers that make valid segments and chains, for tests to damage.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "replication/segment_codec.h"

namespace walship::testing {

inline constexpr uint32_t kSamplePageSize = 1024;
inline constexpr ClusterId kSampleCluster = {0xc1, 0x05, 0x7e, 0x40, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};

// Text-like page contents, so that compression has something to do.
inline std::string SamplePage(uint64_t seed) {
  std::string page;
  while (page.size() < kSamplePageSize) page += "archive " + std::to_string(seed++) + " notes; ";
  page.resize(kSamplePageSize);
  return page;
}

// A chain-start segment: three frames, commits at frames 2 and 3.
inline Segment FirstSampleSegment() {
  Segment s;
  SegmentHeader& h = s.header;
  h.flags = kSegmentFlagChainStart;
  h.page_size = kSamplePageSize;
  h.cluster_id = kSampleCluster;
  h.node_id = 7;
  h.timeline = 1;
  h.sequence = 1;
  h.wal_salt1 = 0x11112222;
  h.wal_salt2 = 0x33334444;
  h.wal_checkpoint_seq = 3;
  h.wal_first_frame = 1;
  h.wal_last_frame = 3;
  h.wal_checksum1 = 0xaaaa0001;
  h.wal_checksum2 = 0xbbbb0002;
  h.db_pages_before = 0;
  h.db_checksum_before = 0;
  h.db_checksum_after = 0x1234;
  h.sealed_unix_ms = 1'700'000'000'000;
  h.commits = {{1, 1'699'999'999'000, 2, 2}, {2, 1'699'999'999'500, 3, 3}};
  s.frames = {{1, 0, SamplePage(1)}, {2, 2, SamplePage(2)}, {3, 3, SamplePage(3)}};
  return s;
}

// The segment after `prev`, linked to it: three frames, two commits.
inline Segment NextSampleSegment(const DecodedSegmentHeader& prev) {
  const SegmentHeader& p = prev.header;
  Segment s = FirstSampleSegment();
  SegmentHeader& h = s.header;
  h.flags = 0;
  h.timeline = p.timeline;
  h.sequence = p.sequence + 1;
  h.previous_sha256 = prev.segment_sha256;
  h.wal_first_frame = p.wal_last_frame + 1;
  h.wal_last_frame = p.wal_last_frame + 3;
  h.db_pages_before = p.db_pages_after;
  h.db_checksum_before = p.db_checksum_after;
  h.db_checksum_after = p.db_checksum_after * 31 + h.sequence;
  h.sealed_unix_ms = p.sealed_unix_ms + 1000;
  const uint32_t pages = p.db_pages_after;
  h.commits = {{p.last_txid + 1, h.sealed_unix_ms - 500, 2, pages + 1},
               {p.last_txid + 2, h.sealed_unix_ms - 1, 3, pages + 1}};
  s.frames = {{1, 0, SamplePage(h.sequence * 10)}, {pages + 1, pages + 1, SamplePage(h.sequence * 10 + 1)},
              {2, pages + 1, SamplePage(h.sequence * 10 + 2)}};
  return s;
}

inline EncodedSegment EncodeOrDie(const Segment& s) {
  Result<EncodedSegment> e = EncodeSegment(s, 3);
  EXPECT_TRUE(e.ok()) << e.status().ToString();
  return e.ok() ? std::move(e).value() : EncodedSegment{};
}

// Segments 1..n, each linked to the one before.
inline std::vector<DecodedSegmentHeader> SampleChain(int n) {
  std::vector<DecodedSegmentHeader> chain = {EncodeOrDie(FirstSampleSegment()).header};
  while (chain.size() < static_cast<size_t>(n)) chain.push_back(EncodeOrDie(NextSampleSegment(chain.back())).header);
  return chain;
}

}  // namespace walship::testing
