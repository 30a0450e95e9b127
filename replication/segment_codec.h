// Encoding and decoding segment bytes (layout: replication/segment_format.h).
// No other code reads or writes them.
//
// Decoding checks, in this order, and stops at the first failure, each with
// its own message: the header's size, magic, major version, header length,
// header checksum, then the header's own rules (flags, page size, commit
// index, lengths); then, for a whole segment, the total length (truncated or
// trailing bytes), the stored body's XXH64, decompression, the uncompressed
// length, the body's SHA-256, and that every frame matches the commit index.
// Every decode error is kCorruption; encoding refuses an inconsistent
// segment with kInvalidArgument.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "replication/segment_format.h"

struct ZSTD_CCtx_s;

namespace walship {

struct DecodedSegmentHeader {
  SegmentHeader header;
  size_t header_length = 0;
  Sha256Digest segment_sha256{};  // SHA-256 of the header bytes: what the next segment links to
};

struct DecodedSegment {
  DecodedSegmentHeader header;
  std::vector<SegmentFrame> frames;
};

struct EncodedSegment {
  std::string bytes;
  DecodedSegmentHeader header;  // as written, derived fields filled in
};

// Encodes segments with one zstd context kept from one segment to the next.
// The body is compressed and hashed frame by frame, never built whole: a
// fresh multi-MiB body, compressor output and context per segment were
// almost all page faults and memset, about 70 MB/s of one core on the test
// VM (docs/BENCHMARKS.md). The context keeps its tables between segments:
// a few MiB at level 1, tens of MiB at the highest levels. Owned and used by
// one thread at a time.
class SegmentEncoder {
 public:
  explicit SegmentEncoder(int zstd_level);
  ~SegmentEncoder();
  SegmentEncoder(const SegmentEncoder&) = delete;
  SegmentEncoder& operator=(const SegmentEncoder&) = delete;

  // Fills in the derived header fields (see SegmentHeader) and compresses
  // the body with zstd at the encoder's level.
  Result<EncodedSegment> Encode(const Segment& segment);

 private:
  // Appends the compressed body to `out` and returns its SHA-256 (of the
  // uncompressed body).
  Result<Sha256Digest> CompressBody(const std::vector<SegmentFrame>& frames, uint64_t body_length, std::string* out);
  Status Feed(std::string_view input, int end_directive, std::string* out);

  const int zstd_level_;
  ZSTD_CCtx_s* cctx_;  // owned; may be null if zstd could not allocate it (Encode then fails)
  std::string chunk_;  // the compressor's output buffer, reused
};

// The same, with a context for this one segment.
Result<EncodedSegment> EncodeSegment(const Segment& segment, int zstd_level);

// Reads and checks only the header; `bytes` may hold the body too, or not.
Result<DecodedSegmentHeader> DecodeSegmentHeader(std::string_view bytes);

// How many bytes of a segment file DecodeSegmentHeader needs, as its first
// kSegmentFixedHeaderSize bytes state it (the header length field), so a
// reader can fetch the header without the body. Unchecked: nullopt when
// `prefix` is too short, is not a segment, or states a length no segment
// has; DecodeSegmentHeader then says what is wrong.
std::optional<size_t> StatedSegmentHeaderLength(std::string_view prefix);

// Reads and checks a whole segment file's bytes.
Result<DecodedSegment> DecodeSegment(std::string_view bytes);

std::string HexOf(const uint8_t* data, size_t n);
// The inverse for a cluster id: kCorruption unless exactly 32 hex digits.
Result<ClusterId> ParseClusterId(const std::string& hex);
template <size_t N>
std::string HexOf(const std::array<uint8_t, N>& a) {
  return HexOf(a.data(), N);
}

}  // namespace walship
