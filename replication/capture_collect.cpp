// WalCapture's collects: what the writer hands the sealer, and how the
// sealer turns it into a segment (see wal_capture.h: the writer only notes
// the commits and reads the WAL header's salts; the sealer reads and
// verifies the frames). Also the checks that catch commits the capture was
// never told of, and the conflicts they raise.
//
// Thread contract: Collect, TakeSealerConflict, WaitSealedOrNewBase,
// CheckNothingCommittedPastPosition and Seal run on the writer thread;
// BuildFromWal runs on the sealer thread; BuildSegment on whichever thread
// owns the position and the database checksum (wal_capture.h).
#include <string>
#include <utility>
#include <vector>

#include "base/log.h"
#include "replication/wal_capture.h"

namespace walship {

Status WalCapture::Collect() {
  TakeSealerConflict();
  if (conflict_) return *conflict_;
  auto version = DataVersion();
  if (!version.ok()) return version.status();
  if (*version != data_version_) {
    return Status::Conflict("another connection committed to the database (data_version " +
                            std::to_string(data_version_) + " -> " + std::to_string(*version) +
                            "): frames were written behind the node's back")
        .WithReason("foreign_writes");
  }
  if (pending_.empty()) return Status::Ok();
  // Between groups, with no other connection's commit since the last
  // collect: the WAL generation these commits are in is the one whose
  // header is on disk now.
  auto header = ReadWalHeader(wal_path_);
  if (!header.ok()) return header.status().Wrap("collect " + std::to_string(pending_.size()) + " commits");
  const std::pair<uint32_t, uint32_t> salts{header->salt1, header->salt2};
  const uint64_t sequence = next_sequence_;
  const bool starts_chain = next_starts_chain_;
  WALSHIP_RETURN_IF_ERROR(sealer_->Submit(sequence, [this, salts, commits = pending_, sequence, starts_chain] {
    return BuildFromWal(salts, commits, sequence, starts_chain);
  }));
  Handed(pending_.back().txid);
  pending_.clear();
  return Status::Ok();
}

Result<Segment> WalCapture::BuildFromWal(std::pair<uint32_t, uint32_t> salts, const std::vector<PendingCommit>& commits,
                                         uint64_t sequence, bool starts_chain) {
  const int64_t start_ns = clock_.MonotonicNanos();
  WalScanOptions options{position_, /*keep_pages=*/true};
  options.commit_limit = commits.size();
  auto scan = ScanWalFile(wal_path_, options);
  if (!scan.ok()) return scan.status();
  if (scan->empty || scan->header.salt1 != salts.first || scan->header.salt2 != salts.second) {
    return Status::Conflict("the WAL is no longer the generation the writer committed to (salts " +
                            std::to_string(salts.first) + "/" + std::to_string(salts.second) +
                            "): it was rewritten behind the node's back")
        .WithReason("wal_diverged");
  }
  if (scan->end == WalEnd::kCorruption) return scan->corruption->ToStatus();
  const size_t found = scan->commit_count();
  if (found != commits.size()) {
    return Status::Conflict("the WAL holds " + std::to_string(found) + " new commits but the writer made " +
                            std::to_string(commits.size()) + ": frames were written behind the node's back")
        .WithReason("foreign_writes");
  }
  // Each commit frame where the writer's wal hook said it went: a commit
  // the writer was not told of (or one that is not where it was) would
  // otherwise shift every txid label after it.
  size_t k = 0;
  for (const WalFrame& f : scan->frames) {
    if (!f.is_commit()) continue;
    const PendingCommit& c = commits[k++];
    if (c.wal_frame != 0 && c.wal_frame != f.index) {
      return Status::Conflict("txid " + std::to_string(c.txid) + " was committed in wal frame " +
                              std::to_string(c.wal_frame) + ", but the WAL's commit frame for it is frame " +
                              std::to_string(f.index) + ": frames were written behind the node's back")
          .WithReason("foreign_writes");
    }
  }
  auto seg = BuildSegment(std::move(*scan), commits, sequence, starts_chain);
  capture_seconds_.Observe(static_cast<double>(clock_.MonotonicNanos() - start_ns) / 1e9);
  return seg;
}

bool WalCapture::TakeSealerConflict() {
  auto c = sealer_->TakeConflict();
  if (!c) return false;
  // Nothing from that segment on was sealed: the new base takes its sequence.
  next_sequence_ = c->sequence;
  if (!conflict_) conflict_ = c->status;
  LogWarn("segment store: the sealer found frames written behind the node's back; the next checkpoint starts a "
          "new base",
          {{"sequence", c->sequence}, {"error", c->status.ToString()}});
  return true;
}

Status WalCapture::WaitSealedOrNewBase() {
  Status s = sealer_->WaitSealed();
  if (!s.ok() && !TakeSealerConflict()) return s;
  if (!conflict_) {
    Status past = CheckNothingCommittedPastPosition();
    if (past.code() != Code::kConflict) WALSHIP_RETURN_IF_ERROR(past);
    if (!past.ok()) conflict_ = past;
  }
  if (conflict_) return StartNewBase(conflict_->message());
  return Status::Ok();
}

Status WalCapture::CheckNothingCommittedPastPosition() {
  // Callers collect first; commits still pending are the next collect's.
  if (!pending_.empty() || end_checked_) return Status::Ok();
  // With nothing left uncollected this reads the frame after the position
  // and stops: the end of the file, or a frame of an older generation.
  auto scan = ScanWalFile(wal_path_, {position_, /*keep_pages=*/false});
  if (!scan.ok()) return scan.status().Wrap("check the WAL's end");
  if (scan->end == WalEnd::kCorruption) return scan->corruption->ToStatus().Wrap("check the WAL's end");
  if (scan->empty || scan->frames.empty()) {
    end_checked_ = true;
    return Status::Ok();
  }
  return Status::Conflict("the WAL holds " + std::to_string(scan->commit_count()) +
                          " commits after the last one the writer made (txid " + std::to_string(last_txid_) +
                          ", through wal frame " + std::to_string(scan->frames.back().index) +
                          "): frames were written behind the node's back")
      .WithReason("foreign_writes");
}

Status WalCapture::Seal(WalScan&& scan, const std::vector<PendingCommit>& commits) {
  auto seg = BuildSegment(std::move(scan), commits, next_sequence_, next_starts_chain_);
  if (!seg.ok()) return seg.status();
  WALSHIP_RETURN_IF_ERROR(sealer_->Submit(std::move(seg).value()));
  Handed(commits.back().txid);
  return Status::Ok();
}

void WalCapture::Handed(int64_t last_txid) {
  next_starts_chain_ = false;
  last_txid_ = last_txid;
  ++next_sequence_;
}

Result<Segment> WalCapture::BuildSegment(WalScan&& scan, const std::vector<PendingCommit>& commits, uint64_t sequence,
                                         bool starts_chain) {
  Segment seg;
  SegmentHeader& h = seg.header;
  h.flags = starts_chain ? kSegmentFlagChainStart : 0;
  h.page_size = page_size_;
  h.cluster_id = identity_.cluster;
  h.node_id = identity_.node_id;
  h.timeline = identity_.timeline;
  h.sequence = sequence;
  h.wal_salt1 = scan.header.salt1;
  h.wal_salt2 = scan.header.salt2;
  h.wal_checkpoint_seq = scan.header.checkpoint_seq;
  h.wal_first_frame = scan.frames.front().index;
  h.wal_last_frame = scan.frames.back().index;
  h.wal_checksum1 = scan.frames.back().checksum.s1;
  h.wal_checksum2 = scan.frames.back().checksum.s2;
  h.db_pages_before = checksum_.page_count();
  h.db_checksum_before = checksum_.Value();
  h.sealed_unix_ms = clock_.NowUnixMillis();

  // checksum_ moves to the value after the segment, and back if the
  // segment cannot be built (without a copy: see DbChecksum::Mark).
  DbChecksumChanges changes(checksum_);
  size_t next_commit = 0;
  seg.frames.reserve(scan.frames.size());
  for (auto& f : scan.frames) {
    WALSHIP_RETURN_IF_ERROR(checksum_.UpdatePage(f.page_number, f.page));
    if (f.is_commit()) {
      checksum_.SetPageCount(f.db_pages_after_commit);
      const PendingCommit& c = commits[next_commit++];
      h.commits.push_back(SegmentCommit{static_cast<uint64_t>(c.txid), c.commit_unix_ms,
                                        static_cast<uint32_t>(seg.frames.size() + 1), f.db_pages_after_commit});
    }
    seg.frames.push_back(SegmentFrame{f.page_number, f.db_pages_after_commit, std::move(f.page)});
  }
  h.db_checksum_after = checksum_.Value();
  changes.Keep();
  position_ = scan.next;
  frames_captured_.Add(seg.frames.size());
  return seg;
}

}  // namespace walship
