#include "replication/segment_codec.h"

#include <openssl/sha.h>
#include <xxhash.h>
#include <zstd.h>

#include <cassert>
#include <cstdio>
#include <cstring>

#include "base/sha256.h"

namespace walship {

namespace {

std::string Hex64(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%016llx", static_cast<unsigned long long>(v));
  return buf;
}

Sha256Digest Sha256Of(std::string_view data) {
  Sha256Digest d;
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), d.data());
  return d;
}

class LittleEndianWriter {
 public:
  explicit LittleEndianWriter(std::string* out) : out_(*out) {}
  void U16(uint16_t v) { Int(v, 2); }
  void U32(uint32_t v) { Int(v, 4); }
  void U64(uint64_t v) { Int(v, 8); }
  void Bytes(const void* p, size_t n) { out_.append(static_cast<const char*>(p), n); }
  void Zeros(size_t n) { out_.append(n, '\0'); }

 private:
  void Int(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) out_.push_back(static_cast<char>(v >> (8 * i)));
  }
  std::string& out_;
};

// Reads fields in order; the caller has checked that they are all there.
class LittleEndianReader {
 public:
  explicit LittleEndianReader(std::string_view in) : in_(in) {}
  uint16_t U16() { return static_cast<uint16_t>(Int(2)); }
  uint32_t U32() { return static_cast<uint32_t>(Int(4)); }
  uint64_t U64() { return Int(8); }
  template <size_t N>
  void Bytes(std::array<uint8_t, N>* out) {
    std::memcpy(out->data(), in_.data() + pos_, N);
    pos_ += N;
  }
  void Skip(size_t n) { pos_ += n; }
  size_t pos() const { return pos_; }

 private:
  uint64_t Int(int n) {
    uint64_t v = 0;
    for (int i = 0; i < n; ++i) v |= uint64_t{static_cast<uint8_t>(in_[pos_ + i])} << (8 * i);
    pos_ += n;
    return v;
  }
  std::string_view in_;
  size_t pos_ = 0;
};

std::string EncodeHeader(const SegmentHeader& h) {
  std::string out;
  out.reserve(SegmentHeaderLength(h.commits.size()));
  LittleEndianWriter w(&out);
  w.Bytes(kSegmentMagic, sizeof kSegmentMagic);
  w.U16(h.major_version);
  w.U16(h.minor_version);
  w.U32(h.flags);
  w.U32(static_cast<uint32_t>(SegmentHeaderLength(h.commits.size())));
  w.U32(h.page_size);
  w.Bytes(h.cluster_id.data(), h.cluster_id.size());
  for (uint64_t v : {h.node_id, h.timeline, h.sequence, h.first_txid, h.last_txid}) w.U64(v);
  for (uint32_t v : {static_cast<uint32_t>(h.commits.size()), h.frame_count, h.wal_salt1, h.wal_salt2,
                     h.wal_checkpoint_seq, h.wal_first_frame, h.wal_last_frame, h.wal_checksum1,
                     h.wal_checksum2, h.db_pages_before, h.db_pages_after, 0u}) {
    w.U32(v);
  }
  for (uint64_t v : {h.db_checksum_before, h.db_checksum_after, static_cast<uint64_t>(h.sealed_unix_ms),
                     h.body_stored_length, h.body_length, h.body_xxh64}) {
    w.U64(v);
  }
  w.Bytes(h.body_sha256.data(), h.body_sha256.size());
  w.Bytes(h.previous_sha256.data(), h.previous_sha256.size());
  w.Zeros(16);
  assert(out.size() == kSegmentFixedHeaderSize);
  for (const SegmentCommit& c : h.commits) {
    w.U64(c.txid);
    w.U64(static_cast<uint64_t>(c.commit_unix_ms));
    w.U32(c.frame);
    w.U32(c.db_pages);
  }
  w.U64(XXH64(out.data(), out.size(), 0));
  return out;
}

// Everything after the magic, versions and header length; the caller has
// checked those and the header checksum.
SegmentHeader ParseHeaderFields(std::string_view bytes) {
  SegmentHeader h;
  LittleEndianReader r(bytes);
  r.Skip(sizeof kSegmentMagic);
  h.major_version = r.U16();
  h.minor_version = r.U16();
  h.flags = r.U32();
  r.Skip(4);  // header length
  h.page_size = r.U32();
  r.Bytes(&h.cluster_id);
  for (uint64_t* v : {&h.node_id, &h.timeline, &h.sequence, &h.first_txid, &h.last_txid}) *v = r.U64();
  const uint32_t commit_count = r.U32();
  for (uint32_t* v : {&h.frame_count, &h.wal_salt1, &h.wal_salt2, &h.wal_checkpoint_seq, &h.wal_first_frame,
                      &h.wal_last_frame, &h.wal_checksum1, &h.wal_checksum2, &h.db_pages_before,
                      &h.db_pages_after}) {
    *v = r.U32();
  }
  r.Skip(4);  // reserved
  h.db_checksum_before = r.U64();
  h.db_checksum_after = r.U64();
  h.sealed_unix_ms = static_cast<int64_t>(r.U64());
  for (uint64_t* v : {&h.body_stored_length, &h.body_length, &h.body_xxh64}) *v = r.U64();
  r.Bytes(&h.body_sha256);
  r.Bytes(&h.previous_sha256);
  r.Skip(16);  // reserved
  h.commits.resize(commit_count);
  for (SegmentCommit& c : h.commits) {
    c.txid = r.U64();
    c.commit_unix_ms = static_cast<int64_t>(r.U64());
    c.frame = r.U32();
    c.db_pages = r.U32();
  }
  return h;
}

bool IsZero(const Sha256Digest& d) {
  for (uint8_t b : d) {
    if (b != 0) return false;
  }
  return true;
}

// The rules a header obeys on its own (docs/FORMAT.md, "Validity").
Status CheckHeaderRules(const SegmentHeader& h) {
  if (uint32_t unknown = h.flags & kSegmentRequiredFlagsMask & ~kSegmentKnownRequiredFlags; unknown != 0) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "0x%08x", unknown);
    return Status::Corruption(std::string("unknown required flags ") + buf);
  }
  if (h.page_size < 512 || h.page_size > 65536 || (h.page_size & (h.page_size - 1)) != 0) {
    return Status::Corruption("page size " + std::to_string(h.page_size) + " is not a power of two from 512 to 65536");
  }
  if (h.chain_start() != IsZero(h.previous_sha256)) {
    return Status::Corruption(h.chain_start() ? "chain start with a non-zero previous sha256"
                                              : "zero previous sha256 on a segment that does not start a chain");
  }
  if (h.commits.empty()) return Status::Corruption("no commits");
  if (h.commits.size() > h.frame_count) {
    return Status::Corruption("commit count " + std::to_string(h.commits.size()) + " exceeds frame count " +
                              std::to_string(h.frame_count));
  }
  for (size_t i = 1; i < h.commits.size(); ++i) {
    const SegmentCommit& prev = h.commits[i - 1];
    const SegmentCommit& c = h.commits[i];
    if (c.txid <= prev.txid || c.frame <= prev.frame) {
      return Status::Corruption("commit index entry " + std::to_string(i + 1) + " (txid " +
                                std::to_string(c.txid) + ", frame " + std::to_string(c.frame) +
                                ") does not follow entry " + std::to_string(i) + " (txid " +
                                std::to_string(prev.txid) + ", frame " + std::to_string(prev.frame) + ")");
    }
  }
  const SegmentCommit& first = h.commits.front();
  const SegmentCommit& last = h.commits.back();
  if (first.frame == 0) return Status::Corruption("commit index entry 1 names frame 0");
  if (h.first_txid != first.txid || h.last_txid != last.txid) {
    return Status::Corruption("txid range " + std::to_string(h.first_txid) + "-" + std::to_string(h.last_txid) +
                              " is not the commit index's " + std::to_string(first.txid) + "-" +
                              std::to_string(last.txid));
  }
  if (last.frame != h.frame_count) {
    return Status::Corruption("the last commit is frame " + std::to_string(last.frame) + ", not the last frame " +
                              std::to_string(h.frame_count));
  }
  if (h.db_pages_after != last.db_pages) {
    return Status::Corruption("database size after " + std::to_string(h.db_pages_after) +
                              " pages is not the last commit's " + std::to_string(last.db_pages));
  }
  if (h.wal_first_frame == 0 || h.wal_last_frame < h.wal_first_frame ||
      h.wal_last_frame - h.wal_first_frame + 1 != h.frame_count) {
    return Status::Corruption("WAL frames " + std::to_string(h.wal_first_frame) + " to " +
                              std::to_string(h.wal_last_frame) + " are not " + std::to_string(h.frame_count) +
                              " frames");
  }
  const uint64_t expected_body = uint64_t{h.frame_count} * (kSegmentFrameRecordHeaderSize + h.page_size);
  if (expected_body > kSegmentMaxBodyBytes) {
    return Status::Corruption("body of " + std::to_string(expected_body) + " bytes is over the limit of " +
                              std::to_string(kSegmentMaxBodyBytes));
  }
  if (h.body_length != expected_body) {
    return Status::Corruption("body length " + std::to_string(h.body_length) + " is not " +
                              std::to_string(h.frame_count) + " frames of " + std::to_string(h.page_size) +
                              "-byte pages (" + std::to_string(expected_body) + ")");
  }
  return Status::Ok();
}

// Frame k carries a commit marker exactly when the commit index names k, and
// then the same database size.
Status CheckFramesMatchCommits(const SegmentHeader& h, const std::vector<SegmentFrame>& frames) {
  size_t next_commit = 0;
  for (size_t i = 0; i < frames.size(); ++i) {
    const SegmentFrame& f = frames[i];
    const auto number = static_cast<uint32_t>(i + 1);
    const std::string where = "frame " + std::to_string(number);
    if (f.page_number == 0) return Status::Corruption(where + ": page number 0");
    if (f.page.size() != h.page_size) {
      return Status::Corruption(where + ": page of " + std::to_string(f.page.size()) + " bytes, the page size is " +
                                std::to_string(h.page_size));
    }
    const bool indexed = next_commit < h.commits.size() && h.commits[next_commit].frame == number;
    const uint32_t indexed_pages = indexed ? h.commits[next_commit].db_pages : 0;
    if (f.db_pages_after_commit != indexed_pages) {
      return Status::Corruption(where + ": commit marker " + std::to_string(f.db_pages_after_commit) +
                                " pages, the commit index says " + std::to_string(indexed_pages));
    }
    if (indexed) ++next_commit;
  }
  return Status::Ok();
}

std::vector<SegmentFrame> ParseBody(std::string_view body, uint32_t page_size) {
  std::vector<SegmentFrame> frames;
  const size_t record = kSegmentFrameRecordHeaderSize + page_size;
  frames.reserve(body.size() / record);
  for (size_t off = 0; off + record <= body.size(); off += record) {
    LittleEndianReader r(body.substr(off, kSegmentFrameRecordHeaderSize));
    SegmentFrame f;
    f.page_number = r.U32();
    f.db_pages_after_commit = r.U32();
    f.page.assign(body.substr(off + kSegmentFrameRecordHeaderSize, page_size));
    frames.push_back(std::move(f));
  }
  return frames;
}

Result<std::string> Decompress(std::string_view stored, uint64_t length) {
  // Before allocating what the header claims: a few damaged bytes must not
  // make the reader allocate a gigabyte.
  const unsigned long long framed = ZSTD_getFrameContentSize(stored.data(), stored.size());
  if (framed == ZSTD_CONTENTSIZE_ERROR) {
    return Status::Corruption(std::string("zstd: ") + ZSTD_getErrorName(ZSTD_decompress(nullptr, 0, stored.data(), stored.size())));
  }
  if (framed == ZSTD_CONTENTSIZE_UNKNOWN) return Status::Corruption("zstd: the frame does not state its size");
  if (framed != length) {
    return Status::Corruption("the zstd frame holds " + std::to_string(framed) + " bytes, the header says " +
                              std::to_string(length));
  }
  std::string out(length, '\0');
  size_t n = ZSTD_decompress(out.data(), out.size(), stored.data(), stored.size());
  if (ZSTD_isError(n)) return Status::Corruption(std::string("zstd: ") + ZSTD_getErrorName(n));
  if (n != length) {
    return Status::Corruption("decompressed to " + std::to_string(n) + " bytes, the header says " +
                              std::to_string(length));
  }
  return out;
}

}  // namespace

std::string HexOf(const uint8_t* data, size_t n) {
  static const char kHex[] = "0123456789abcdef";
  std::string out(2 * n, '0');
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = kHex[data[i] >> 4];
    out[2 * i + 1] = kHex[data[i] & 0xf];
  }
  return out;
}

Result<ClusterId> ParseClusterId(const std::string& hex) {
  ClusterId id{};
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  if (hex.size() != 2 * id.size()) return Status::Corruption("cluster id \"" + hex + "\" is not 32 hex digits");
  for (size_t i = 0; i < id.size(); ++i) {
    const int hi = nibble(hex[2 * i]);
    const int lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return Status::Corruption("cluster id \"" + hex + "\" is not 32 hex digits");
    id[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return id;
}

SegmentEncoder::SegmentEncoder(int zstd_level)
    : zstd_level_(zstd_level), cctx_(ZSTD_createCCtx()), chunk_(ZSTD_CStreamOutSize(), '\0') {}

SegmentEncoder::~SegmentEncoder() { ZSTD_freeCCtx(cctx_); }

Status SegmentEncoder::Feed(std::string_view input, int end_directive, std::string* out) {
  ZSTD_inBuffer in{input.data(), input.size(), 0};
  const auto directive = static_cast<ZSTD_EndDirective>(end_directive);
  for (;;) {
    ZSTD_outBuffer chunk{chunk_.data(), chunk_.size(), 0};
    const size_t remaining = ZSTD_compressStream2(cctx_, &chunk, &in, directive);
    if (ZSTD_isError(remaining)) return Status::Internal(std::string("zstd compress: ") + ZSTD_getErrorName(remaining));
    out->append(chunk_.data(), chunk.pos);
    const bool done = directive == ZSTD_e_end ? remaining == 0 : in.pos == in.size;
    if (done) return Status::Ok();
  }
}

Result<Sha256Digest> SegmentEncoder::CompressBody(const std::vector<SegmentFrame>& frames, uint64_t body_length,
                                                  std::string* out) {
  if (cctx_ == nullptr) return Status::Internal("zstd compress: no compression context (out of memory)");
  size_t rc = ZSTD_CCtx_reset(cctx_, ZSTD_reset_session_only);
  if (!ZSTD_isError(rc)) rc = ZSTD_CCtx_setParameter(cctx_, ZSTD_c_compressionLevel, zstd_level_);
  // The frame states the body's length, which Decompress requires.
  if (!ZSTD_isError(rc)) rc = ZSTD_CCtx_setPledgedSrcSize(cctx_, body_length);
  if (ZSTD_isError(rc)) return Status::Internal(std::string("zstd compress: ") + ZSTD_getErrorName(rc));
  Sha256Stream sha;
  std::string record_header;
  for (const SegmentFrame& f : frames) {
    record_header.clear();
    LittleEndianWriter w(&record_header);
    w.U32(f.page_number);
    w.U32(f.db_pages_after_commit);
    for (std::string_view piece : {std::string_view(record_header), std::string_view(f.page)}) {
      sha.Update(piece);
      WALSHIP_RETURN_IF_ERROR(Feed(piece, ZSTD_e_continue, out));
    }
  }
  WALSHIP_RETURN_IF_ERROR(Feed({}, ZSTD_e_end, out));
  return sha.Finish();
}

Result<EncodedSegment> SegmentEncoder::Encode(const Segment& segment) {
  SegmentHeader h = segment.header;
  h.major_version = kSegmentMajorVersion;
  h.minor_version = kSegmentMinorVersion;
  h.frame_count = static_cast<uint32_t>(segment.frames.size());
  if (!h.commits.empty()) {
    h.first_txid = h.commits.front().txid;
    h.last_txid = h.commits.back().txid;
    h.db_pages_after = h.commits.back().db_pages;
  }
  h.body_length = uint64_t{h.frame_count} * (kSegmentFrameRecordHeaderSize + h.page_size);
  const std::string context = "encode segment " + std::to_string(h.sequence);
  Status rules = CheckHeaderRules(h);
  if (rules.ok()) rules = CheckFramesMatchCommits(h, segment.frames);
  if (!rules.ok()) return Status::InvalidArgument(rules.message()).Wrap(context);

  // The body is compressed straight after room for the header, which is
  // written last: it holds the compressed body's length and hash. Reserving
  // (not filling) the bound touches only the pages the output uses.
  const size_t header_length = SegmentHeaderLength(static_cast<uint32_t>(h.commits.size()));
  EncodedSegment out;
  out.bytes.reserve(header_length + ZSTD_compressBound(h.body_length));
  out.bytes.resize(header_length);
  auto body_sha256 = CompressBody(segment.frames, h.body_length, &out.bytes);
  if (!body_sha256.ok()) return body_sha256.status().Wrap(context);
  const std::string_view stored = std::string_view(out.bytes).substr(header_length);
  h.body_stored_length = stored.size();
  h.body_xxh64 = XXH64(stored.data(), stored.size(), 0);
  h.body_sha256 = *body_sha256;

  const std::string header = EncodeHeader(h);
  if (header.size() != header_length) {
    return Status::Internal("header of " + std::to_string(header.size()) + " bytes, " +
                            std::to_string(header_length) + " expected")
        .Wrap(context);
  }
  out.bytes.replace(0, header_length, header);
  out.header.header_length = header_length;
  out.header.segment_sha256 = Sha256Of(header);
  out.header.header = std::move(h);
  return out;
}

Result<EncodedSegment> EncodeSegment(const Segment& segment, int zstd_level) {
  SegmentEncoder encoder(zstd_level);
  return encoder.Encode(segment);
}

std::optional<size_t> StatedSegmentHeaderLength(std::string_view prefix) {
  if (prefix.size() < kSegmentFixedHeaderSize ||
      std::memcmp(prefix.data(), kSegmentMagic, sizeof kSegmentMagic) != 0) {
    return std::nullopt;
  }
  LittleEndianReader r(prefix.substr(16, 4));
  const uint32_t length = r.U32();
  if (length < SegmentHeaderLength(0) || length > SegmentHeaderLength(kSegmentMaxCommits)) return std::nullopt;
  return length;
}

Result<DecodedSegmentHeader> DecodeSegmentHeader(std::string_view bytes) {
  if (bytes.size() < kSegmentFixedHeaderSize) {
    return Status::Corruption("segment header: truncated: " + std::to_string(bytes.size()) + " bytes, at least " +
                              std::to_string(kSegmentFixedHeaderSize) + " needed");
  }
  if (std::memcmp(bytes.data(), kSegmentMagic, sizeof kSegmentMagic) != 0) {
    return Status::Corruption("segment header: bad magic " +
                              HexOf(reinterpret_cast<const uint8_t*>(bytes.data()), sizeof kSegmentMagic));
  }
  LittleEndianReader r(bytes.substr(sizeof kSegmentMagic));
  const uint16_t major = r.U16();
  const uint16_t minor = r.U16();
  if (major != kSegmentMajorVersion) {
    return Status::Corruption("segment header: unsupported format version " + std::to_string(major) + "." +
                              std::to_string(minor) + " (this build reads " +
                              std::to_string(kSegmentMajorVersion) + ".x)");
  }
  r.Skip(4);  // flags
  const uint32_t header_length = r.U32();
  LittleEndianReader count_reader(bytes.substr(kSegmentCommitCountOffset, 4));
  const uint32_t commit_count = count_reader.U32();
  if (commit_count > kSegmentMaxCommits || header_length != SegmentHeaderLength(commit_count)) {
    return Status::Corruption("segment header: header length " + std::to_string(header_length) + " does not fit " +
                              std::to_string(commit_count) + " commits");
  }
  if (bytes.size() < header_length) {
    return Status::Corruption("segment header: truncated: " + std::to_string(bytes.size()) + " bytes, the header has " +
                              std::to_string(header_length));
  }
  const size_t checked = header_length - kSegmentHeaderChecksumSize;
  const uint64_t computed = XXH64(bytes.data(), checked, 0);
  const uint64_t stored = LittleEndianReader(bytes.substr(checked, 8)).U64();
  if (computed != stored) {
    return Status::Corruption("segment header: checksum mismatch (stored " + Hex64(stored) + ", computed " +
                              Hex64(computed) + ")");
  }
  DecodedSegmentHeader out;
  out.header = ParseHeaderFields(bytes.substr(0, header_length));
  out.header_length = header_length;
  out.segment_sha256 = Sha256Of(bytes.substr(0, header_length));
  WALSHIP_RETURN_IF_ERROR(CheckHeaderRules(out.header).Wrap("segment header"));
  return out;
}

Result<DecodedSegment> DecodeSegment(std::string_view bytes) {
  Result<DecodedSegmentHeader> header = DecodeSegmentHeader(bytes);
  if (!header.ok()) return header.status();
  const SegmentHeader& h = header->header;
  const uint64_t total = header->header_length + h.body_stored_length;
  if (bytes.size() < total) {
    return Status::Corruption("segment: truncated: " + std::to_string(bytes.size()) + " bytes, header and body need " +
                              std::to_string(total));
  }
  if (bytes.size() > total) {
    return Status::Corruption("segment: " + std::to_string(bytes.size() - total) + " trailing bytes after body");
  }
  const std::string_view stored = bytes.substr(header->header_length);
  const uint64_t xxh = XXH64(stored.data(), stored.size(), 0);
  if (xxh != h.body_xxh64) {
    return Status::Corruption("segment body: checksum mismatch (stored " + Hex64(h.body_xxh64) + ", computed " +
                              Hex64(xxh) + ")");
  }
  Result<std::string> body = Decompress(stored, h.body_length);
  if (!body.ok()) return body.status().Wrap("segment body");
  const Sha256Digest sha = Sha256Of(*body);
  if (sha != h.body_sha256) {
    return Status::Corruption("segment body: sha256 mismatch (stored " + HexOf(h.body_sha256) + ", computed " +
                              HexOf(sha) + ")");
  }
  DecodedSegment out;
  out.frames = ParseBody(*body, h.page_size);
  WALSHIP_RETURN_IF_ERROR(CheckFramesMatchCommits(h, out.frames).Wrap("segment body"));
  out.header = std::move(header).value();
  return out;
}

}  // namespace walship
