#include "replication/segment_apply.h"

#include <fcntl.h>
#include <unistd.h>

#include <optional>

#include "base/fs.h"

namespace walship {
Result<SegmentApplier> SegmentApplier::Open(const std::string& path, uint32_t page_size) {
  if (FileSizeOrZero(path) == 0) return SegmentApplier(path, DbChecksum(page_size));
  auto sum = DbChecksum::ComputeFromFile(path, page_size);
  if (!sum.ok()) return sum.status().Wrap("apply segments to " + path);
  return SegmentApplier(path, std::move(sum).value());
}

Status SegmentApplier::Apply(const DecodedSegment& segment, std::optional<uint64_t> stop_after_txid) {
  return ApplyFrames(segment, stop_after_txid, /*check_before=*/true);
}

Status SegmentApplier::Reapply(const DecodedSegment& segment) {
  return ApplyFrames(segment, std::nullopt, /*check_before=*/false);
}

Status SegmentApplier::ApplyFrames(const DecodedSegment& segment, std::optional<uint64_t> stop_after_txid,
                                   bool check_before) {
  const SegmentHeader& h = segment.header.header;
  const std::string context = "apply segment " + std::to_string(h.sequence) + " to " + path_;
  if (h.page_size != checksum_.page_size()) {
    return Status::Corruption(context + ": page size " + std::to_string(h.page_size) + ", the file's is " +
                              std::to_string(checksum_.page_size()));
  }
  if (check_before && (h.db_checksum_before != checksum_.Value() || h.db_pages_before != checksum_.page_count())) {
    return Status::Corruption(context + ": the file is not the database this segment applies to (checksum " +
                              DbChecksumHex(checksum_.Value()) + ", " + std::to_string(checksum_.page_count()) +
                              " pages; the segment expects " + DbChecksumHex(h.db_checksum_before) + ", " +
                              std::to_string(h.db_pages_before) + " pages)");
  }
  // Checked in full before a byte is written: a segment whose frames do not
  // give its checksum after leaves the file as it was (the last verified
  // transaction), so a restore can stop there. checksum_ takes every frame
  // (what the segment vouches for) and goes back on any failure.
  DbChecksumChanges changes(checksum_);
  std::optional<DbChecksum> sum;  // up to the stop, when it falls inside: what the file will hold
  size_t frames_to_write = 0;
  size_t commit = 0;
  for (const auto& f : segment.frames) {
    WALSHIP_RETURN_IF_ERROR(checksum_.UpdatePage(f.page_number, f.page).Wrap(context));
    if (f.db_pages_after_commit != 0) checksum_.SetPageCount(f.db_pages_after_commit);
    if (sum) continue;
    ++frames_to_write;
    if (f.db_pages_after_commit == 0) continue;
    const uint64_t txid = h.commits[commit++].txid;
    if (stop_after_txid && txid >= *stop_after_txid && commit < h.commits.size()) sum = checksum_;
  }
  if (checksum_.Value() != h.db_checksum_after) {
    return Status::Corruption(context + ": checksum after is " + DbChecksumHex(checksum_.Value()) +
                              ", the segment says " + DbChecksumHex(h.db_checksum_after) + " (nothing was written)");
  }
  ScopedFd fd(::open(path_.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
  if (fd.get() < 0) return Status::IOError(context + ": open: " + ErrnoMessage(errno));
  for (size_t i = 0; i < frames_to_write; ++i) {
    const SegmentFrame& f = segment.frames[i];
    WALSHIP_RETURN_IF_ERROR(
        WriteAllAt(fd.get(), f.page, static_cast<int64_t>(f.page_number - 1) * h.page_size).Wrap(context));
    if (f.db_pages_after_commit != 0 &&
        ::ftruncate(fd.get(), static_cast<off_t>(f.db_pages_after_commit) * h.page_size) != 0) {
      return Status::IOError(context + ": truncate: " + ErrnoMessage(errno));
    }
  }
  changes.Keep();
  if (sum) {
    sum->Forget();  // the copy carries the mark's record of changes
    checksum_ = std::move(*sum);
  }
  return Status::Ok();
}

Status SegmentApplier::Sync() {
  ScopedFd fd(::open(path_.c_str(), O_WRONLY | O_CLOEXEC));
  if (fd.get() < 0) return Status::IOError("sync " + path_ + ": open: " + ErrnoMessage(errno));
  if (::fsync(fd.get()) != 0) return Status::IOError("sync " + path_ + ": " + ErrnoMessage(errno));
  return Status::Ok();
}

}  // namespace walship
