// The segment file format: the one place in code that defines its bytes.
// docs/FORMAT.md describes the same layout for people; keep the two in step.
// Only replication/segment_codec.cpp reads or writes these bytes.
//
// A segment is a header, then a zstd-compressed body. All integers are
// little-endian and fixed-width.
//
// Header (kSegmentFixedHeaderSize bytes, then the commit index, then the
// header checksum):
//   off  size  field
//     0     8  magic "WALSHIPS"
//     8     2  major format version (kSegmentMajorVersion)
//    10     2  minor format version
//    12     4  flags (kSegmentFlag*)
//    16     4  header length: 256 + 24 * commit count + 8
//    20     4  page size
//    24    16  cluster id
//    40     8  node id
//    48     8  timeline
//    56     8  sequence
//    64     8  first txid
//    72     8  last txid
//    80     4  commit count
//    84     4  frame count
//    88     4  WAL salt-1
//    92     4  WAL salt-2
//    96     4  WAL checkpoint sequence
//   100     4  WAL index of the first frame
//   104     4  WAL index of the last frame
//   108     4  WAL cumulative checksum-1 stored in the last frame
//   112     4  WAL cumulative checksum-2 stored in the last frame
//   116     4  database size in pages before
//   120     4  database size in pages after
//   124     4  reserved, zero
//   128     8  database checksum before
//   136     8  database checksum after
//   144     8  sealed at, unix milliseconds
//   152     8  body length as stored (compressed)
//   160     8  body length uncompressed
//   168     8  XXH64 (seed 0) of the stored body
//   176    32  SHA-256 of the uncompressed body
//   208    32  SHA-256 of the previous segment's header (the chain); zero on a chain start
//   240    16  reserved, zero
//   256  24*n  commit index, n entries of:
//                txid u64, commit time unix ms i64, frame u32 (1-based in this
//                segment), database size in pages after that commit u32
//   then    8  XXH64 (seed 0) of every header byte before it
//
// Body, uncompressed: frame count records of
//   page number u32, database size in pages after the commit u32 (0 when the
//   frame is not a commit frame), the page image (page size bytes).
//
// A segment's own hash, which the next segment stores, is the SHA-256 of its
// complete header (header checksum included); the header binds the body by
// its SHA-256.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace walship {

inline constexpr char kSegmentMagic[8] = {'W', 'A', 'L', 'S', 'H', 'I', 'P', 'S'};
inline constexpr uint16_t kSegmentMajorVersion = 1;
inline constexpr uint16_t kSegmentMinorVersion = 0;

// Flags bits 0-15 change how a segment must be read: a reader refuses bits it
// does not know. Bits 16-31 are hints a reader may ignore.
inline constexpr uint32_t kSegmentRequiredFlagsMask = 0x0000ffff;
// The segment starts a chain on a base (an empty database or a recorded
// snapshot): its previous hash is zero and it links to no segment.
inline constexpr uint32_t kSegmentFlagChainStart = 1u << 0;
inline constexpr uint32_t kSegmentKnownRequiredFlags = kSegmentFlagChainStart;

inline constexpr size_t kSegmentFixedHeaderSize = 256;
inline constexpr size_t kSegmentCommitEntrySize = 24;
inline constexpr size_t kSegmentHeaderChecksumSize = 8;
inline constexpr size_t kSegmentFrameRecordHeaderSize = 8;
// Read before the header checksum can be checked: it fixes the header length.
inline constexpr size_t kSegmentCommitCountOffset = 80;
// A decoder allocates the uncompressed body; no segment may claim more.
inline constexpr uint64_t kSegmentMaxBodyBytes = uint64_t{1} << 30;
// Every commit has its own frame of at least 512 bytes.
inline constexpr uint64_t kSegmentMaxCommits = kSegmentMaxBodyBytes / (kSegmentFrameRecordHeaderSize + 512);

inline constexpr size_t SegmentHeaderLength(size_t commit_count) {
  return kSegmentFixedHeaderSize + kSegmentCommitEntrySize * commit_count + kSegmentHeaderChecksumSize;
}

using ClusterId = std::array<uint8_t, 16>;
using Sha256Digest = std::array<uint8_t, 32>;

struct SegmentCommit {
  uint64_t txid = 0;
  int64_t commit_unix_ms = 0;
  uint32_t frame = 0;     // 1-based index of the commit frame within the segment
  uint32_t db_pages = 0;  // database size in pages after this commit
  bool operator==(const SegmentCommit&) const = default;
};

// Fields marked "derived" are computed by EncodeSegment from the frames and
// the commit index; whatever the caller puts there is ignored.
struct SegmentHeader {
  uint16_t major_version = kSegmentMajorVersion;  // derived
  uint16_t minor_version = kSegmentMinorVersion;  // derived
  uint32_t flags = 0;
  uint32_t page_size = 0;
  ClusterId cluster_id{};
  uint64_t node_id = 0;
  uint64_t timeline = 0;
  uint64_t sequence = 0;
  uint64_t first_txid = 0;  // derived: the first commit's
  uint64_t last_txid = 0;   // derived: the last commit's
  uint32_t frame_count = 0;  // derived
  uint32_t wal_salt1 = 0;
  uint32_t wal_salt2 = 0;
  uint32_t wal_checkpoint_seq = 0;
  uint32_t wal_first_frame = 0;
  uint32_t wal_last_frame = 0;
  uint32_t wal_checksum1 = 0;  // cumulative checksum stored in the last frame: with the salts
  uint32_t wal_checksum2 = 0;  // and wal_last_frame, where the next capture resumes
  uint32_t db_pages_before = 0;
  uint32_t db_pages_after = 0;  // derived: the last commit's
  uint64_t db_checksum_before = 0;
  uint64_t db_checksum_after = 0;
  int64_t sealed_unix_ms = 0;
  uint64_t body_stored_length = 0;  // derived
  uint64_t body_length = 0;         // derived
  uint64_t body_xxh64 = 0;          // derived
  Sha256Digest body_sha256{};       // derived
  Sha256Digest previous_sha256{};   // zero on a chain start
  std::vector<SegmentCommit> commits;

  bool chain_start() const { return (flags & kSegmentFlagChainStart) != 0; }
};

struct SegmentFrame {
  uint32_t page_number = 0;
  uint32_t db_pages_after_commit = 0;  // non-zero only on a commit frame
  std::string page;
  bool operator==(const SegmentFrame&) const = default;
};

struct Segment {
  SegmentHeader header;
  std::vector<SegmentFrame> frames;
};

}  // namespace walship
