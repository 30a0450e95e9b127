#include "replication/wal_file.h"

#include <algorithm>
#include <cstring>

#include <cstdio>
#include <optional>

namespace walship {

namespace {

uint32_t BigEndian32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return (uint32_t{u[0]} << 24) | (uint32_t{u[1]} << 16) | (uint32_t{u[2]} << 8) | uint32_t{u[3]};
}

uint32_t LittleEndian32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return uint32_t{u[0]} | (uint32_t{u[1]} << 8) | (uint32_t{u[2]} << 16) | (uint32_t{u[3]} << 24);
}

std::string Hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

struct FrameHeader {
  uint32_t page_number;
  uint32_t db_pages_after_commit;
  uint32_t salt1;
  uint32_t salt2;
  WalChecksum stored;
};

FrameHeader ParseFrameHeader(const char* p) {
  return {BigEndian32(p), BigEndian32(p + 4), BigEndian32(p + 8), BigEndian32(p + 12),
          {BigEndian32(p + 16), BigEndian32(p + 20)}};
}

struct Verdict {
  WalStop failure = WalStop::kEndOfFile;  // kEndOfFile: the frame is valid
  std::string detail;
  bool ok() const { return failure == WalStop::kEndOfFile; }
};

// Checks one whole frame (header and page in `frame`) against the header's
// salts and the checksum continued from `seed`.
Verdict VerifyFrame(const WalHeader& header, WalChecksum seed, std::string_view frame) {
  FrameHeader fh = ParseFrameHeader(frame.data());
  if (fh.salt1 != header.salt1 || fh.salt2 != header.salt2) {
    return {WalStop::kSaltMismatch, "salts " + Hex32(fh.salt1) + "/" + Hex32(fh.salt2) +
                                        " are not the header's " + Hex32(header.salt1) + "/" +
                                        Hex32(header.salt2)};
  }
  if (fh.page_number == 0) return {WalStop::kZeroPageNumber, "page number 0"};
  bool big = header.big_endian_checksums();
  WalChecksum computed = ContinueWalChecksum(seed, frame.substr(0, 8), big);
  computed = ContinueWalChecksum(computed, frame.substr(kWalFrameHeaderSize), big);
  if (computed != fh.stored) {
    return {WalStop::kChecksumMismatch, "checksum mismatch (stored " + WalChecksumHex(fh.stored) +
                                            ", computed " + WalChecksumHex(computed) + ")"};
  }
  return {};
}

Result<WalHeader> ParseHeader(const char* p) {
  WalHeader h;
  h.magic = BigEndian32(p);
  h.format_version = BigEndian32(p + 4);
  h.page_size = BigEndian32(p + 8);
  h.checkpoint_seq = BigEndian32(p + 12);
  h.salt1 = BigEndian32(p + 16);
  h.salt2 = BigEndian32(p + 20);
  h.checksum = {BigEndian32(p + 24), BigEndian32(p + 28)};
  if (h.magic != kWalMagicLittleEndianChecksums && h.magic != kWalMagicBigEndianChecksums) {
    return Status::Corruption("wal header: bad magic " + Hex32(h.magic));
  }
  if (h.format_version != kWalFormatVersion) {
    return Status::Corruption("wal header: unknown format version " + std::to_string(h.format_version));
  }
  if (h.page_size < 512 || h.page_size > 65536 || (h.page_size & (h.page_size - 1)) != 0) {
    return Status::Corruption("wal header: invalid page size " + std::to_string(h.page_size));
  }
  return h;
}

// The header's own checksum (over its first 24 bytes): the detail of the
// mismatch, or nothing when it holds.
std::optional<std::string> HeaderChecksumMismatch(const char* raw, const WalHeader& h) {
  const WalChecksum computed = ContinueWalChecksum({}, std::string_view(raw, 24), h.big_endian_checksums());
  if (computed == h.checksum) return std::nullopt;
  return "checksum mismatch (stored " + WalChecksumHex(h.checksum) + ", computed " + WalChecksumHex(computed) + ")";
}

std::string FramePlace(uint32_t frame, uint64_t offset) {
  if (frame == 0) return "wal header at byte 0";
  return "wal frame " + std::to_string(frame) + " at byte " + std::to_string(offset);
}

// The scan in progress over one source.
class Scanner {
 public:
  Scanner(const WalSource& source, const WalScanOptions& options, WalScan* out)
      : source_(source), options_(options), out_(*out) {}

  Status Run();

 private:
  uint32_t WholeFrames() const {
    uint64_t body = source_.size() - kWalHeaderSize;
    return static_cast<uint32_t>(body / out_.header.frame_size());
  }
  Status ReadFrame(uint32_t index, std::string* buf) const {
    buf->resize(out_.header.frame_size());
    return source_.ReadAt(out_.header.FrameOffset(index), buf->size(), buf->data());
  }
  // Sets the first frame to read and the checksum that seeds it.
  Status ChooseStart(uint32_t* first, WalChecksum* seed);
  Status ScanValidRun(uint32_t first, WalChecksum seed);
  Status LookBehindFailure();
  void Classify();

  const WalSource& source_;
  const WalScanOptions& options_;
  WalScan& out_;
  std::string header_stored_;  // the header's 24 checksummed bytes
};

Status Scanner::ChooseStart(uint32_t* first, WalChecksum* seed) {
  const WalHeader& h = out_.header;
  *first = 1;
  *seed = h.checksum;
  out_.next = {h.salt1, h.salt2, 0, h.checksum};
  if (!options_.after) return Status::Ok();
  const WalPosition& after = *options_.after;
  if (after.salt1 != h.salt1 || after.salt2 != h.salt2) {
    out_.restarted = true;
    return Status::Ok();
  }
  out_.resumed = true;
  if (after.frame == 0) return Status::Ok();
  if (after.frame > WholeFrames()) {
    return Status::Conflict("wal: resume position frame " + std::to_string(after.frame) +
                            " is past the end of the file (" + std::to_string(WholeFrames()) +
                            " whole frames): the WAL was rewritten behind this node")
        .WithReason("wal_diverged");
  }
  std::string buf;
  WALSHIP_RETURN_IF_ERROR(ReadFrame(after.frame, &buf));
  FrameHeader fh = ParseFrameHeader(buf.data());
  if (fh.stored != after.checksum || fh.salt1 != h.salt1 || fh.salt2 != h.salt2) {
    return Status::Conflict(FramePlace(after.frame, h.FrameOffset(after.frame)) + ": stored checksum " +
                            WalChecksumHex(fh.stored) + " is not the resume position's " +
                            WalChecksumHex(after.checksum) + ": the WAL was rewritten behind this node")
        .WithReason("wal_diverged");
  }
  *first = after.frame + 1;
  *seed = after.checksum;
  out_.next = after;
  return Status::Ok();
}

Status Scanner::ScanValidRun(uint32_t first, WalChecksum seed) {
  const WalHeader& h = out_.header;
  const uint32_t whole = WholeFrames();
  std::vector<WalFrame> pending;  // verified, not yet followed by a commit frame
  std::string buf;
  size_t commits_taken = 0;
  uint32_t index = first;
  for (;; ++index) {
    out_.stop_frame = index;
    out_.stop_offset = h.FrameOffset(index);
    if (options_.commit_limit && commits_taken == *options_.commit_limit) {
      out_.stop = WalStop::kCommitLimit;
      break;
    }
    if (index > whole) {
      out_.stop = out_.stop_offset == source_.size() ? WalStop::kEndOfFile : WalStop::kPartialFrame;
      if (out_.stop == WalStop::kPartialFrame) {
        out_.stop_detail = "partial frame: " + std::to_string(source_.size() - out_.stop_offset) + " of " +
                           std::to_string(h.frame_size()) + " bytes";
      }
      break;
    }
    WALSHIP_RETURN_IF_ERROR(ReadFrame(index, &buf));
    Verdict v = VerifyFrame(h, seed, buf);
    if (!v.ok()) {
      out_.stop = v.failure;
      out_.stop_detail = std::move(v.detail);
      break;
    }
    FrameHeader fh = ParseFrameHeader(buf.data());
    seed = fh.stored;
    WalFrame frame{index, out_.stop_offset, fh.page_number, fh.db_pages_after_commit, fh.stored, {}};
    if (options_.keep_pages) frame.page = buf.substr(kWalFrameHeaderSize);
    pending.push_back(std::move(frame));
    if (fh.db_pages_after_commit != 0) {
      for (auto& f : pending) out_.frames.push_back(std::move(f));
      pending.clear();
      out_.next = {h.salt1, h.salt2, index, fh.stored};
      ++commits_taken;
    }
  }
  out_.uncommitted_frames = static_cast<uint32_t>(pending.size());
  return Status::Ok();
}

// After a failed frame (or header), looks through the later whole frames,
// seeding each frame's checksum from the stored checksum of the one before,
// for commit frames that verify. The look ends where an older generation
// provably begins: two frames in a row that verify as frames of one other
// generation (same salts, not the header's; the second's checksum continues
// the first's). SQLite restarts the WAL in place, so a whole older
// generation may follow the newest one in the file; its frames never verify
// under the header's salts, and damage does not make two frames that verify
// under other salts.
Status Scanner::LookBehindFailure() {
  const WalHeader& h = out_.header;
  const uint32_t bad = out_.stop_frame;
  WalChecksum seed = h.checksum;
  std::string buf;
  std::optional<FrameHeader> previous;  // the frame before this one
  auto older_generation_pair = [&h](const FrameHeader& before, std::string_view frame) {
    if (before.salt1 == h.salt1 && before.salt2 == h.salt2) return false;
    WalHeader older = h;
    older.salt1 = before.salt1;
    older.salt2 = before.salt2;
    return before.page_number != 0 && VerifyFrame(older, before.stored, frame).ok();
  };
  if (bad > 0) {
    WALSHIP_RETURN_IF_ERROR(ReadFrame(bad, &buf));
    previous = ParseFrameHeader(buf.data());
    seed = previous->stored;
  }
  WalCorruption c{bad, out_.stop_offset, out_.stop_detail, 1, {}};
  uint32_t failed_since_bad = 1;
  for (uint32_t index = bad + 1; index <= WholeFrames(); ++index) {
    WALSHIP_RETURN_IF_ERROR(ReadFrame(index, &buf));
    Verdict v = VerifyFrame(h, seed, buf);
    FrameHeader fh = ParseFrameHeader(buf.data());
    if (!v.ok() && previous && older_generation_pair(*previous, buf)) break;
    previous = fh;
    seed = fh.stored;
    if (!v.ok()) {
      ++failed_since_bad;
    } else if (fh.db_pages_after_commit != 0) {
      c.commit_frames_at_stake.push_back(index);
      c.failed_frames = failed_since_bad;
    }
  }
  if (!c.commit_frames_at_stake.empty()) out_.corruption = std::move(c);
  return Status::Ok();
}

void Scanner::Classify() {
  if (out_.corruption) {
    out_.end = WalEnd::kCorruption;
  } else if (out_.uncommitted_frames == 0 && (out_.stop == WalStop::kEndOfFile || out_.stop == WalStop::kSaltMismatch ||
                                              out_.stop == WalStop::kCommitLimit)) {
    out_.end = WalEnd::kClean;
  } else {
    out_.end = WalEnd::kTornTail;
  }
}

Status Scanner::Run() {
  if (source_.size() == 0) {
    out_.empty = true;
    return Status::Ok();
  }
  if (source_.size() < kWalHeaderSize) {
    out_.empty = true;
    out_.stop = WalStop::kPartialFrame;
    out_.stop_detail = "partial header: " + std::to_string(source_.size()) + " of 32 bytes";
    out_.end = WalEnd::kTornTail;
    return Status::Ok();
  }
  char raw[kWalHeaderSize];
  WALSHIP_RETURN_IF_ERROR(source_.ReadAt(0, kWalHeaderSize, raw));
  Result<WalHeader> header = ParseHeader(raw);
  if (!header.ok()) return header.status();
  out_.header = *header;
  if (auto mismatch = HeaderChecksumMismatch(raw, out_.header)) {
    // SQLite ignores such a WAL entirely; nothing in it is data unless
    // committed frames verify behind the header.
    out_.stop = WalStop::kHeaderChecksum;
    out_.stop_detail = std::move(*mismatch);
    out_.next = {out_.header.salt1, out_.header.salt2, 0, out_.header.checksum};
  } else {
    uint32_t first = 1;
    WalChecksum seed;
    WALSHIP_RETURN_IF_ERROR(ChooseStart(&first, &seed));
    WALSHIP_RETURN_IF_ERROR(ScanValidRun(first, seed));
  }
  if (out_.stop != WalStop::kEndOfFile && out_.stop != WalStop::kPartialFrame && out_.stop != WalStop::kCommitLimit) {
    WALSHIP_RETURN_IF_ERROR(LookBehindFailure());
  }
  Classify();
  return Status::Ok();
}

}  // namespace

std::string WalChecksumHex(WalChecksum c) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%08x%08x", c.s1, c.s2);
  return buf;
}

WalChecksum ContinueWalChecksum(WalChecksum seed, std::string_view data, bool big_endian_words) {
  uint32_t s1 = seed.s1;
  uint32_t s2 = seed.s2;
  const char* p = data.data();
  const char* end = p + (data.size() & ~size_t{7});
  if (big_endian_words) {
    for (; p < end; p += 8) {
      s1 += BigEndian32(p) + s2;
      s2 += BigEndian32(p + 4) + s1;
    }
  } else {
    for (; p < end; p += 8) {
      s1 += LittleEndian32(p) + s2;
      s2 += LittleEndian32(p + 4) + s1;
    }
  }
  return {s1, s2};
}

std::string_view WalStopName(WalStop stop) {
  switch (stop) {
    case WalStop::kEndOfFile: return "end of file";
    case WalStop::kPartialFrame: return "partial frame";
    case WalStop::kSaltMismatch: return "salt mismatch";
    case WalStop::kZeroPageNumber: return "page number 0";
    case WalStop::kChecksumMismatch: return "checksum mismatch";
    case WalStop::kHeaderChecksum: return "header checksum mismatch";
    case WalStop::kCommitLimit: return "commit limit";
  }
  return "unknown";
}

std::string_view WalEndName(WalEnd end) {
  switch (end) {
    case WalEnd::kClean: return "clean";
    case WalEnd::kTornTail: return "torn tail";
    case WalEnd::kCorruption: return "corruption";
  }
  return "unknown";
}

Status WalCorruption::ToStatus() const {
  std::string frames;
  for (uint32_t f : commit_frames_at_stake) {
    if (!frames.empty()) frames += ", ";
    frames += std::to_string(f);
  }
  size_t n = commit_frames_at_stake.size();
  return Status::Corruption(FramePlace(bad_frame, bad_offset) + ": " + reason + "; " + std::to_string(n) +
                            (n == 1 ? " commit frame verifies" : " commit frames verify") +
                            " behind it (frame" + (n == 1 ? " " : "s ") + frames +
                            "): SQLite would drop these committed transactions without an error")
      .WithReason("wal_corruption");
}

Status FileWalSource::ReadFile(uint64_t offset, size_t n, char* out) const {
  bytes_read_ += n;
  return file_.ReadAt(offset, n, out);
}

Status FileWalSource::ReadAt(uint64_t offset, size_t n, char* out) const {
  if (n > kWindowBytes) return ReadFile(offset, n, out);
  if (offset < window_offset_ || offset + n > window_offset_ + window_.size()) {
    const uint64_t want = std::max<uint64_t>(n, next_window_bytes_);
    next_window_bytes_ = std::min(kWindowBytes, next_window_bytes_ * 2);
    const uint64_t len = std::min<uint64_t>(want, size() - std::min(offset, size()));
    window_.resize(static_cast<size_t>(len));
    window_offset_ = offset;
    if (Status s = ReadFile(offset, window_.size(), window_.data()); !s.ok()) {
      window_.clear();
      return s;
    }
    if (n > window_.size()) return ReadFile(offset, n, out);  // past the end: the file's own error
  }
  std::memcpy(out, window_.data() + (offset - window_offset_), n);
  return Status::Ok();
}

Status BytesWalSource::ReadAt(uint64_t offset, size_t n, char* out) const {
  if (offset > bytes_.size() || n > bytes_.size() - offset) {
    return Status::Internal("wal read of " + std::to_string(n) + " bytes at " + std::to_string(offset) +
                            " past the end (" + std::to_string(bytes_.size()) + " bytes)");
  }
  bytes_.copy(out, n, offset);
  return Status::Ok();
}

Result<std::unique_ptr<FileWalSource>> FileWalSource::Open(const std::string& path) {
  Result<ReadOnlyFile> file = ReadOnlyFile::Open(path);
  if (!file.ok()) return file.status();
  return std::unique_ptr<FileWalSource>(new FileWalSource(std::move(file).value()));
}

Result<WalScan> ScanWal(const WalSource& source, const WalScanOptions& options) {
  WalScan scan;
  Scanner scanner(source, options, &scan);
  WALSHIP_RETURN_IF_ERROR(scanner.Run());
  return scan;
}

Result<WalHeader> ReadWalHeader(const std::string& path) {
  Result<ReadOnlyFile> file = ReadOnlyFile::Open(path);
  if (!file.ok()) return file.status();
  if (file->size() < kWalHeaderSize) {
    return Status::Corruption(path + ": partial header: " + std::to_string(file->size()) + " of 32 bytes");
  }
  char raw[kWalHeaderSize];
  WALSHIP_RETURN_IF_ERROR(file->ReadAt(0, kWalHeaderSize, raw).Wrap(path));
  Result<WalHeader> header = ParseHeader(raw);
  if (!header.ok()) return header.status().Wrap(path);
  if (auto mismatch = HeaderChecksumMismatch(raw, *header)) {
    return Status::Corruption(path + ": wal header: " + *mismatch);
  }
  return header;
}

Result<WalScan> ScanWalFile(const std::string& path, const WalScanOptions& options) {
  Result<std::unique_ptr<FileWalSource>> source = FileWalSource::Open(path);
  if (!source.ok() && source.status().code() == Code::kNotFound) {
    WalScan empty;
    empty.empty = true;
    return empty;
  }
  if (!source.ok()) return source.status();
  Result<WalScan> scan = ScanWal(**source, options);
  if (!scan.ok()) return scan.status().Wrap(path);
  return scan;
}

}  // namespace walship
