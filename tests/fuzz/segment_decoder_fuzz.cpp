// libFuzzer target: the segment decoder on arbitrary bytes must return a
// Status, never crash, overrun or allocate without bound.
//
// Most mutations break the header's XXH64 and stop there, which leaves the
// checks behind it unexercised. So each input is decoded twice: as given,
// and with the stored body's and the header's checksums recomputed (a test
// harness sealing damage, the way an attacker or a buggy writer could), so
// that the header rules, decompression, the body hashes and the frame checks
// see mutated input too. Offsets: replication/segment_format.h.
#include <xxhash.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "replication/segment_codec.h"

namespace {

constexpr size_t kHeaderLengthOffset = 16;
constexpr size_t kBodyXxh64Offset = 168;

uint64_t ReadLittleEndian(const std::string& b, size_t off, int width) {
  uint64_t v = 0;
  for (int i = 0; i < width; ++i) v |= uint64_t{static_cast<uint8_t>(b[off + i])} << (8 * i);
  return v;
}

void PutLittleEndian(std::string* b, size_t off, uint64_t v) {
  for (int i = 0; i < 8; ++i) (*b)[off + i] = static_cast<char>(v >> (8 * i));
}

void Decode(std::string_view bytes) {
  walship::Result<walship::DecodedSegmentHeader> h = walship::DecodeSegmentHeader(bytes);
  walship::Result<walship::DecodedSegment> s = walship::DecodeSegment(bytes);
  // A whole segment that decodes has a header that decodes, to the same hash.
  if (s.ok() && (!h.ok() || h->segment_sha256 != s->header.segment_sha256)) __builtin_trap();
}

// The input with its body and header checksums made to match, when its
// claimed header length fits; otherwise empty.
std::string Resealed(std::string bytes) {
  if (bytes.size() < walship::kSegmentFixedHeaderSize) return {};
  const uint64_t header_length = ReadLittleEndian(bytes, kHeaderLengthOffset, 4);
  if (header_length < walship::kSegmentFixedHeaderSize + walship::kSegmentHeaderChecksumSize ||
      header_length > bytes.size()) {
    return {};
  }
  const std::string_view body = std::string_view(bytes).substr(header_length);
  PutLittleEndian(&bytes, kBodyXxh64Offset, XXH64(body.data(), body.size(), 0));
  const size_t checked = header_length - walship::kSegmentHeaderChecksumSize;
  PutLittleEndian(&bytes, checked, XXH64(bytes.data(), checked, 0));
  return bytes;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  Decode(input);
  if (std::string sealed = Resealed(input); !sealed.empty()) Decode(sealed);
  return 0;
}
