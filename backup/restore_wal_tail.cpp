#include "backup/restore_wal_tail.h"

#include "replication/wal_file.h"

namespace walship {

Result<WalTailResult> ApplyWalTail(const std::string& wal_path, const SegmentHeader& last_segment,
                                   SegmentApplier& applier) {
  const std::string context = "apply the committed frames of " + wal_path + " after segment " +
                              std::to_string(last_segment.sequence);
  WalTailResult out;
  WalScanOptions options;
  options.after = WalPosition{last_segment.wal_salt1, last_segment.wal_salt2, last_segment.wal_last_frame,
                              WalChecksum{last_segment.wal_checksum1, last_segment.wal_checksum2}};
  auto scan = ScanWalFile(wal_path, options);
  if (!scan.ok()) {
    // The WAL was rewritten by someone else, or is no WAL: none of it is ours.
    out.not_applied = "the WAL does not continue the last segment: " + scan.status().message();
    return out;
  }
  if (scan->empty || scan->frames.empty()) return out;
  // A restart continues the segment's state only when it is the very next
  // generation: SQLite adds one to the checkpoint sequence and to salt-1 at
  // each restart, and a restart needs a checkpoint, which the node takes
  // only after capturing. A later generation means segments in between that
  // this restore does not have.
  if (scan->restarted && (scan->header.checkpoint_seq != last_segment.wal_checkpoint_seq + 1 ||
                          scan->header.salt1 != last_segment.wal_salt1 + 1)) {
    uint32_t commits = 0;
    for (const WalFrame& f : scan->frames) commits += f.is_commit() ? 1 : 0;
    out.not_applied = "the WAL (checkpoint sequence " + std::to_string(scan->header.checkpoint_seq) +
                      ") is not the generation after segment " + std::to_string(last_segment.sequence) +
                      "'s (checkpoint sequence " + std::to_string(last_segment.wal_checkpoint_seq) + "); its " +
                      std::to_string(commits) + " committed transactions were not applied";
    // Two or more restarts after the segment: the node's own later history,
    // with segments missing in between. A fresh WAL (a lower or equal
    // sequence: made after the old one was deleted) is no part of it.
    if (scan->header.checkpoint_seq > last_segment.wal_checkpoint_seq + 1) out.commits_lost = commits;
    return out;
  }
  if (scan->header.page_size != last_segment.page_size) {
    out.not_applied = "the WAL's page size is not the database's";
    return out;
  }
  // Only frames before a damaged one, up to the last commit among them.
  size_t keep = scan->frames.size();
  if (scan->corruption) {
    keep = 0;
    for (size_t i = 0; i < scan->frames.size() && scan->frames[i].index < scan->corruption->bad_frame; ++i) {
      if (scan->frames[i].is_commit()) keep = i + 1;
    }
    out.commits_lost = static_cast<uint32_t>(scan->corruption->commit_frames_at_stake.size());
    out.not_applied = std::to_string(out.commits_lost) +
                      " committed transactions behind a damaged WAL frame were not restored from the WAL: " +
                      scan->corruption->ToStatus().message();
  }
  while (keep > 0 && !scan->frames[keep - 1].is_commit()) --keep;
  if (keep == 0) return out;

  // The frames as a run the applier checks like a segment: its checksum
  // after is computed here, since SQLite's frame checksums vouched for them.
  DecodedSegment run;
  SegmentHeader& h = run.header.header;
  h.page_size = last_segment.page_size;
  h.sequence = last_segment.sequence;
  h.db_checksum_before = applier.checksum().Value();
  h.db_pages_before = applier.checksum().page_count();
  DbChecksum after = applier.checksum();
  uint64_t commit = 0;
  for (size_t i = 0; i < keep; ++i) {
    WalFrame& f = scan->frames[i];
    WALSHIP_RETURN_IF_ERROR(after.UpdatePage(f.page_number, f.page).Wrap(context));
    if (f.is_commit()) {
      after.SetPageCount(f.db_pages_after_commit);
      h.commits.push_back(SegmentCommit{++commit, 0, static_cast<uint32_t>(i + 1), f.db_pages_after_commit});
      ++out.commits;
    }
    run.frames.push_back(SegmentFrame{f.page_number, f.db_pages_after_commit, std::move(f.page)});
  }
  h.db_checksum_after = after.Value();
  out.frames = static_cast<uint32_t>(keep);
  WALSHIP_RETURN_IF_ERROR(applier.Apply(run).Wrap(context));
  return out;
}

}  // namespace walship
