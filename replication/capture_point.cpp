// WalCapture::MarkPoint: where the store stands at one exact point between
// two groups, for a backup that pins a read transaction right there (see
// backup/take_backup.h). The backup API copies every page but rewrites a
// few counters of page 1 in its copy; page 1 as the database has it at the
// point, with the checksum, lets the backup be made byte-exact and proven
// equal to the segment chain at its position.
#include "replication/db_file_pages.h"
#include "replication/read_only_file.h"
#include "replication/wal_capture.h"

namespace walship {

Result<CapturePoint> WalCapture::MarkPoint(sqlite3* writer) {
  const std::string context = "mark a backup point";
  collect_blocked_ = false;
  end_checked_ = false;
  last_collect_ns_ = clock_.MonotonicNanos();
  Status s = CollectAndPin();
  if (s.reason() == "wal_diverged" || s.reason() == "foreign_writes") s = StartNewBase(s.message());
  // The checksum and position are the sealer's until it is done.
  if (s.ok()) s = WaitSealedOrNewBase();
  WALSHIP_RETURN_IF_ERROR(s.Wrap(context));
  CapturePoint point;
  point.txid = last_txid_;
  point.db_checksum = checksum_.Value();
  point.sequence = next_starts_chain_ ? 0 : next_sequence_ - 1;
  auto page = PageOneAtPosition(writer);
  if (!page.ok()) return page.status().Wrap(context);
  point.page_one = std::move(page).value();
  return point;
}

Result<std::string> WalCapture::PageOneAtPosition(sqlite3* writer) const {
  // The frames of the WAL's current generation up to its last commit: after
  // the Collect above that is exactly up to the capture's position. A page
  // with no frame there reads from the file: a new generation starts only
  // after a checkpoint copied every older frame into it.
  auto scan = ScanWalFile(wal_path_, WalScanOptions{std::nullopt, /*keep_pages=*/false});
  if (!scan.ok()) return scan.status().Wrap("page 1");
  if (scan->end == WalEnd::kCorruption) return scan->corruption->ToStatus().Wrap("page 1");
  if (!scan->frames.empty() && position_ &&
      (scan->next.salt1 != position_->salt1 || scan->next.salt2 != position_->salt2 ||
       scan->next.frame != position_->frame)) {
    return Status::Internal("page 1: the WAL's last commit is frame " + std::to_string(scan->next.frame) +
                            ", the capture's frame " + std::to_string(position_->frame));
  }
  const WalFrame* newest = nullptr;
  for (const auto& f : scan->frames) {
    if (f.page_number == 1) newest = &f;
  }
  if (newest == nullptr) return ReadDatabaseFilePage(writer, page_size_, 1);
  auto wal = ReadOnlyFile::Open(wal_path_);
  if (!wal.ok()) return wal.status().Wrap("page 1");
  std::string page(page_size_, '\0');
  WALSHIP_RETURN_IF_ERROR(wal->ReadAt(newest->offset + kWalFrameHeaderSize, page_size_, page.data())
                              .Wrap("page 1 from wal frame " + std::to_string(newest->index)));
  return page;
}

}  // namespace walship
