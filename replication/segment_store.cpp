#include "replication/segment_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <tuple>

#include "base/fs.h"

namespace walship {

namespace {

constexpr size_t kDigits = 20;
constexpr std::string_view kSegmentSuffix = ".wseg";
constexpr std::string_view kBasePrefix = "base-";
constexpr std::string_view kBaseSuffix = ".db";
constexpr std::string_view kTempPrefix = "tmp-";
constexpr size_t kCopyChunk = 1 << 20;

std::string Padded(uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%020llu", static_cast<unsigned long long>(v));
  return buf;
}

// Exactly 20 decimal digits at `pos`: names are written zero-padded, so any
// other form was not written by the store.
std::optional<uint64_t> DigitsAt(std::string_view name, size_t pos) {
  if (name.size() < pos + kDigits) return std::nullopt;
  std::string_view digits = name.substr(pos, kDigits);
  if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) return std::nullopt;
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
  if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;  // over 2^64 - 1
  return v;
}

bool IsBaseFileName(std::string_view name) {
  return name.size() == kBasePrefix.size() + kDigits + kBaseSuffix.size() && name.starts_with(kBasePrefix) &&
         name.ends_with(kBaseSuffix) && DigitsAt(name, kBasePrefix.size()).has_value();
}

Status WriteAllTo(int fd, const char* data, size_t n, const std::string& path) {
  while (n > 0) {
    ssize_t w = ::write(fd, data, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return Status::IOError("write " + path + ": " + ErrnoMessage(errno));
    }
    data += w;
    n -= static_cast<size_t>(w);
  }
  return Status::Ok();
}

// Reads up to `n` bytes; fewer only at the end of the file.
Result<size_t> ReadSome(int fd, char* out, size_t n, const std::string& path) {
  size_t done = 0;
  while (done < n) {
    ssize_t r = ::read(fd, out + done, n - done);
    if (r < 0) {
      if (errno == EINTR) continue;
      return Status::IOError("read " + path + ": " + ErrnoMessage(errno));
    }
    if (r == 0) break;
    done += static_cast<size_t>(r);
  }
  return done;
}

// PublishFile through DIR/tmp-NAME: names with that prefix are no entries
// of the store, so a temp file left by a crash is never listed.
Status PublishDurably(const std::string& dir, const std::string& name, const FillFile& fill) {
  return PublishFile(dir + "/" + name, dir + "/" + std::string(kTempPrefix) + name, fill);
}

// Whether the file at `path` holds exactly `bytes`.
Result<bool> FileHolds(const std::string& path, std::string_view bytes) {
  Result<std::string> have = ReadWholeFile(path);
  if (!have.ok()) return have.status();
  return *have == bytes;
}

// Whether two files have the same contents, read in chunks (a base snapshot
// may be far larger than memory should hold).
Result<bool> SameContents(const std::string& a, const std::string& b) {
  if (FileSizeOrZero(a) != FileSizeOrZero(b)) return false;
  int fa = ::open(a.c_str(), O_RDONLY | O_CLOEXEC);
  if (fa < 0) return Status::IOError("open " + a + ": " + ErrnoMessage(errno));
  int fb = ::open(b.c_str(), O_RDONLY | O_CLOEXEC);
  if (fb < 0) {
    int err = errno;
    ::close(fa);
    return Status::IOError("open " + b + ": " + ErrnoMessage(err));
  }
  std::string ba(kCopyChunk, '\0');
  std::string bb(kCopyChunk, '\0');
  Result<bool> same = true;
  for (;;) {
    Result<size_t> na = ReadSome(fa, ba.data(), ba.size(), a);
    Result<size_t> nb = na.ok() ? ReadSome(fb, bb.data(), bb.size(), b) : na;
    if (!nb.ok() || !na.ok()) {
      same = na.ok() ? nb.status() : na.status();
      break;
    }
    if (*na != *nb || ba.compare(0, *na, bb, 0, *nb) != 0) {
      same = false;
      break;
    }
    if (*na == 0) break;
  }
  ::close(fa);
  ::close(fb);
  return same;
}

}  // namespace

Result<std::unique_ptr<SegmentStore>> SegmentStore::Open(const std::string& dir) {
  WALSHIP_RETURN_IF_ERROR(EnsureDirectory(dir).Wrap("open segment store"));
  return std::unique_ptr<SegmentStore>(new SegmentStore(dir));
}

std::string SegmentStore::SegmentFileName(uint64_t sequence, uint64_t first_txid, uint64_t last_txid) {
  return Padded(sequence) + "-" + Padded(first_txid) + "-" + Padded(last_txid) + std::string(kSegmentSuffix);
}

std::string SegmentStore::BaseFileName(uint64_t sequence) {
  return std::string(kBasePrefix) + Padded(sequence) + std::string(kBaseSuffix);
}

std::optional<SegmentFileEntry> SegmentStore::ParseSegmentFileName(const std::string& name) {
  if (name.size() != 3 * kDigits + 2 + kSegmentSuffix.size() || !name.ends_with(kSegmentSuffix) ||
      name[kDigits] != '-' || name[2 * kDigits + 1] != '-') {
    return std::nullopt;
  }
  std::optional<uint64_t> seq = DigitsAt(name, 0);
  std::optional<uint64_t> first = DigitsAt(name, kDigits + 1);
  std::optional<uint64_t> last = DigitsAt(name, 2 * kDigits + 2);
  if (!seq || !first || !last) return std::nullopt;
  SegmentFileEntry e;
  e.sequence = *seq;
  e.first_txid = *first;
  e.last_txid = *last;
  return e;
}

Status SegmentStore::CheckNameMatchesHeader(const SegmentFileEntry& entry, const SegmentHeader& header) {
  if (entry.sequence == header.sequence && entry.first_txid == header.first_txid &&
      entry.last_txid == header.last_txid) {
    return Status::Ok();
  }
  return Status::Corruption("the name says sequence " + std::to_string(entry.sequence) + ", txids " +
                            std::to_string(entry.first_txid) + "-" + std::to_string(entry.last_txid) +
                            "; the header says sequence " + std::to_string(header.sequence) + ", txids " +
                            std::to_string(header.first_txid) + "-" + std::to_string(header.last_txid));
}

Status SegmentStore::Publish(const EncodedSegment& segment) {
  const SegmentHeader& h = segment.header.header;
  const std::string context = "publish segment " + std::to_string(h.sequence);
  Result<std::vector<SegmentFileEntry>> entries = List();
  if (!entries.ok()) return entries.status().Wrap(context);
  const std::string name = SegmentFileName(h.sequence, h.first_txid, h.last_txid);
  for (const SegmentFileEntry& e : *entries) {
    if (e.sequence != h.sequence) continue;
    const std::string existing = std::filesystem::path(e.path).filename().string();
    Result<bool> same = FileHolds(e.path, segment.bytes);
    if (!same.ok()) return same.status().Wrap(context);
    if (!*same || existing != name) {
      return Status::Conflict("the store already holds " + existing + ", with other bytes").Wrap(context);
    }
    // Published before, maybe just before a crash that came ahead of the
    // folder's fsync: fsync it again so the caller's "durable" holds.
    return FsyncDirectory(dir_).Wrap(context);
  }
  return PublishDurably(dir_, name, [&](int fd, const std::string& tmp) {
           return WriteAllTo(fd, segment.bytes.data(), segment.bytes.size(), tmp);
         }).Wrap(context);
}

Status SegmentStore::PublishBase(uint64_t sequence, const std::string& snapshot_path) {
  const std::string context = "publish base snapshot for segment " + std::to_string(sequence);
  if (std::optional<std::string> existing = BasePath(sequence)) {
    Result<bool> same = SameContents(*existing, snapshot_path);
    if (!same.ok()) return same.status().Wrap(context);
    if (!*same) return Status::Conflict("the store already holds " + BaseFileName(sequence) + ", with other bytes")
        .Wrap(context);
    return FsyncDirectory(dir_).Wrap(context);
  }
  return PublishBaseFrom(sequence, [&](int fd, const std::string& tmp) { return CopyFileBytes(snapshot_path, fd, tmp); });
}

Status SegmentStore::PublishBaseFrom(uint64_t sequence, const FillFile& fill) {
  const std::string context = "publish base snapshot for segment " + std::to_string(sequence);
  if (BasePath(sequence)) {
    return Status::Conflict("the store already holds " + BaseFileName(sequence)).Wrap(context);
  }
  return PublishDurably(dir_, BaseFileName(sequence), fill).Wrap(context);
}

Status SegmentStore::AdoptBase(uint64_t sequence, const std::string& path) {
  const std::string context = "adopt " + path + " as the base snapshot for segment " + std::to_string(sequence);
  if (BasePath(sequence)) return Status::Conflict("the store already holds " + BaseFileName(sequence)).Wrap(context);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::IOError("open: " + ErrnoMessage(errno)).Wrap(context);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return Status::IOError("fsync: " + ErrnoMessage(err)).Wrap(context);
  // A rename that never replaces a file (one that appeared since the check
  // above), then the folders fsynced.
  return MoveIntoFolder(path, dir_, BaseFileName(sequence)).status().Wrap(context);
}

Result<bool> SegmentStore::BaseHolds(uint64_t sequence, const std::string& path) const {
  std::optional<std::string> existing = BasePath(sequence);
  if (!existing) return Status::NotFound("the store holds no " + BaseFileName(sequence));
  return SameContents(*existing, path);
}

std::optional<std::string> SegmentStore::BasePath(uint64_t sequence) const {
  std::string path = dir_ + "/" + BaseFileName(sequence);
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  return path;
}

Result<std::string> SegmentStore::QuarantineBase(uint64_t sequence, int64_t unix_ms) {
  auto to = MoveIntoFolder(dir_ + "/" + BaseFileName(sequence), dir_ + "/" + kQuarantineDir,
                           BaseFileName(sequence) + "." + std::to_string(unix_ms));
  if (!to.ok()) return to.status().Wrap("quarantine base " + std::to_string(sequence));
  return to;
}

Result<std::string> SegmentStore::QuarantineSegment(const SegmentFileEntry& entry, int64_t unix_ms) {
  const std::string name = std::filesystem::path(entry.path).filename().string();
  auto to = MoveIntoFolder(entry.path, dir_ + "/" + kQuarantineDir, name + "." + std::to_string(unix_ms));
  if (!to.ok()) return to.status().Wrap("quarantine segment " + std::to_string(entry.sequence));
  return to;
}

namespace {

Status UnlinkDurably(const std::string& dir, const std::string& path) {
  if (::unlink(path.c_str()) != 0) {
    if (errno == ENOENT) return Status::NotFound(path + ": no such file");
    return Status::IOError("unlink " + path + ": " + ErrnoMessage(errno));
  }
  return FsyncDirectory(dir);
}

}  // namespace

Status SegmentStore::RemoveSegment(const SegmentFileEntry& entry) {
  return UnlinkDurably(dir_, entry.path).Wrap("remove segment " + std::to_string(entry.sequence));
}

Status SegmentStore::RemoveBase(uint64_t sequence) {
  return UnlinkDurably(dir_, dir_ + "/" + BaseFileName(sequence))
      .Wrap("remove the base snapshot of segment " + std::to_string(sequence));
}

Status SegmentStore::RecordPrunedBelow(uint64_t first_kept) {
  return WriteFileAtomically(dir_ + "/" + kPrunedBelowFile, std::to_string(first_kept) + "\n")
      .Wrap("segment store " + dir_ + ": record that segments below " + std::to_string(first_kept) + " are pruned");
}

Result<uint64_t> SegmentStore::PrunedBelow() const {
  const std::string path = dir_ + "/" + kPrunedBelowFile;
  if (::access(path.c_str(), F_OK) != 0) return uint64_t{0};
  auto text = ReadWholeFile(path);
  if (!text.ok()) return text.status();
  std::string digits = *text;
  if (!digits.empty() && digits.back() == '\n') digits.pop_back();
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size()) {
    return Status::Corruption(path + " does not hold a segment sequence: \"" + text->substr(0, 40) + "\"");
  }
  return n;
}

Result<std::vector<uint64_t>> SegmentStore::ListBases() const {
  std::vector<uint64_t> out;
  std::error_code ec;
  std::filesystem::directory_iterator it(dir_, ec);
  for (; !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (IsBaseFileName(name)) out.push_back(*DigitsAt(name, kBasePrefix.size()));
  }
  if (ec) return Status::IOError("list base snapshots: " + ec.message()).Wrap("segment store " + dir_);
  std::sort(out.begin(), out.end());
  return out;
}

Result<std::vector<SegmentFileEntry>> SegmentStore::List() const {
  const std::string context = "segment store " + dir_;
  std::vector<SegmentFileEntry> out;
  std::error_code ec;
  std::filesystem::directory_iterator it(dir_, ec);
  for (; !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.starts_with(kTempPrefix) || IsBaseFileName(name)) continue;
    if (name == kQuarantineDir && it->is_directory()) continue;
    if (name == kPrunedBelowFile || name == std::string(kPrunedBelowFile) + ".tmp") continue;
    std::optional<SegmentFileEntry> e = ParseSegmentFileName(name);
    if (!e || !it->is_regular_file()) {
      return Status::Corruption("unexpected file " + name + " (not a segment, base snapshot or temp file)")
          .Wrap(context);
    }
    e->path = it->path().string();
    e->bytes = FileSizeOrZero(e->path);
    out.push_back(std::move(*e));
  }
  if (ec) return Status::IOError("list: " + ec.message()).Wrap(context);
  std::sort(out.begin(), out.end(), [](const SegmentFileEntry& a, const SegmentFileEntry& b) {
    return std::tie(a.sequence, a.path) < std::tie(b.sequence, b.path);
  });
  return out;
}

Result<std::string> SegmentStore::ReadBytes(const SegmentFileEntry& entry) const { return ReadWholeFile(entry.path); }

Result<std::string> SegmentStore::ReadHeaderBytes(const SegmentFileEntry& entry) const {
  ScopedFd fd(::open(entry.path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT) return Status::NotFound(entry.path + ": no such file");
    return Status::IOError("open " + entry.path + ": " + ErrnoMessage(errno));
  }
  // Reads up to n bytes at offset (fewer at the end of the file).
  auto read_at = [&](size_t n, off_t offset, std::string* out) -> Status {
    out->resize(n);
    size_t done = 0;
    while (done < n) {
      const ssize_t got = ::pread(fd.get(), out->data() + done, n - done, offset + static_cast<off_t>(done));
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) return Status::IOError("read " + entry.path + ": " + ErrnoMessage(errno));
      if (got == 0) break;
      done += static_cast<size_t>(got);
    }
    out->resize(done);
    return Status::Ok();
  };
  std::string bytes;
  WALSHIP_RETURN_IF_ERROR(read_at(kSegmentFixedHeaderSize, 0, &bytes));
  const std::optional<size_t> length = StatedSegmentHeaderLength(bytes);
  if (!length || *length <= bytes.size()) return bytes;
  std::string rest;
  WALSHIP_RETURN_IF_ERROR(read_at(*length - bytes.size(), static_cast<off_t>(bytes.size()), &rest));
  return bytes + rest;
}

Result<std::optional<DecodedSegmentHeader>> SegmentStore::NewestHeader() const {
  Result<std::vector<SegmentFileEntry>> entries = List();
  if (!entries.ok()) return entries.status();
  if (entries->empty()) return std::optional<DecodedSegmentHeader>();
  const SegmentFileEntry& newest = entries->back();
  const std::string context = "segment " + std::filesystem::path(newest.path).filename().string();
  Result<std::string> bytes = ReadBytes(newest);
  if (!bytes.ok()) return bytes.status().Wrap(context);
  Result<DecodedSegmentHeader> h = DecodeSegmentHeader(*bytes);
  if (!h.ok()) return h.status().Wrap(context);
  WALSHIP_RETURN_IF_ERROR(CheckNameMatchesHeader(newest, h->header).Wrap(context));
  return std::optional<DecodedSegmentHeader>(std::move(h).value());
}

}  // namespace walship
