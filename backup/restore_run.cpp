#include "backup/restore_run.h"

#include <chrono>
#include <thread>

#include "backup/backup_format.h"
#include "backup/compressed_file.h"
#include "backup/manifest.h"
#include "backup/restore_wal_tail.h"
#include "base/fs.h"
#include "replication/segment_apply.h"

namespace walship {
namespace {

void Say(const RestoreBuildOptions& o, const std::string& line) {
  if (o.progress) o.progress(line);
}

// Writes the plan's start into `out_path`; the applier opened on it.
Result<SegmentApplier> WriteStart(const RestoreStart& start, const std::string& out_path) {
  switch (start.kind) {
    case RestoreStart::Kind::kEmptyFile:
      break;
    case RestoreStart::Kind::kBase: {
      WALSHIP_RETURN_IF_ERROR(CopyFileAtomically(start.path, out_path));
      break;
    }
    case RestoreStart::Kind::kBackup: {
      auto manifest_bytes = ReadWholeFile(start.path + "/" + kBackupManifestFile);
      if (!manifest_bytes.ok()) return manifest_bytes.status();
      auto m = DecodeManifest(*manifest_bytes);
      if (!m.ok()) return m.status();
      auto sums = DecompressFile(start.path + "/" + kBackupDataFile, out_path);
      if (!sums.ok()) return sums.status();
      if (sums->sha256_uncompressed != m->sha256_uncompressed) {
        return Status::Corruption("the data decompresses to SHA-256 " + sums->sha256_uncompressed +
                                  ", the manifest says " + m->sha256_uncompressed);
      }
      break;
    }
  }
  auto applier = SegmentApplier::Open(out_path, start.page_size);
  if (!applier.ok()) return applier.status();
  if (start.kind == RestoreStart::Kind::kBackup && applier->checksum().Value() != start.db_checksum) {
    return Status::Corruption("the database checksum is " + DbChecksumHex(applier->checksum().Value()) +
                              ", the manifest says " + DbChecksumHex(start.db_checksum));
  }
  return applier;
}

constexpr const char* kWriteFailed = "restore_write_failed";

// Where the run stands: what the next segment must continue.
struct RunState {
  uint64_t timeline = 0;
  int64_t txid = 0;
  std::optional<Sha256Digest> previous_sha256;  // unknown right after a backup or base
};

// Decodes one copy of segment `p` and checks everything but the database
// checksums (the applier checks those). kCorruption naming the fault.
Result<DecodedSegment> DecodeChecked(const std::string& bytes, const PlannedSegment& p, const RunState& at,
                                     bool first_of_run) {
  auto seg = DecodeSegment(bytes);
  if (!seg.ok()) return seg.status();
  const SegmentHeader& h = seg->header.header;
  if (h.sequence != p.entry.sequence) {
    return Status::Corruption("the header says sequence " + std::to_string(h.sequence));
  }
  if (!p.missing) WALSHIP_RETURN_IF_ERROR(SegmentStore::CheckNameMatchesHeader(p.entry, h));
  if (first_of_run && !h.chain_start()) {
    return Status::Corruption("the plan begins the chain with it, but it does not start a chain");
  }
  if (!first_of_run && h.chain_start()) return Status::Corruption("it starts a new chain (a new base) inside the run");
  if (h.chain_start()) return seg;
  if (h.timeline != at.timeline) {
    return Status::Corruption("timeline " + std::to_string(h.timeline) + ", the run is on " +
                              std::to_string(at.timeline));
  }
  if (static_cast<int64_t>(h.first_txid) != at.txid + 1) {
    return Status::Corruption("it starts at txid " + std::to_string(h.first_txid) + ", the next is " +
                              std::to_string(at.txid + 1));
  }
  if (at.previous_sha256 && h.previous_sha256 != *at.previous_sha256) {
    return Status::Corruption("its previous SHA-256 is not the segment before's");
  }
  return seg;
}

// Applies one copy; the status of the first fault (nothing written then).
Status ApplyCopy(const std::string& bytes, const PlannedSegment& p, const RunState& at, bool first_of_run,
                 std::optional<uint64_t> stop, SegmentApplier& applier, DecodedSegmentHeader* applied) {
  auto seg = DecodeChecked(bytes, p, at, first_of_run);
  if (!seg.ok()) return seg.status();
  if (Status s = applier.Apply(*seg, stop); !s.ok()) {
    // Writing the restored file failed: no copy of the segment is at fault.
    return s.code() == Code::kIOError ? s.WithReason(kWriteFailed) : s;
  }
  *applied = seg->header;
  return Status::Ok();
}

// The segment a backup start was taken at, checked against the backup.
Result<DecodedSegmentHeader> SegmentEndingAt(const SegmentStore& store, const RestoreStart& start) {
  const uint64_t sequence = start.first_sequence - 1;
  auto entries = store.List();
  if (!entries.ok()) return entries.status();
  for (const SegmentFileEntry& e : *entries) {
    if (e.sequence != sequence) continue;
    auto bytes = store.ReadBytes(e);
    if (!bytes.ok()) return bytes.status();
    auto h = DecodeSegmentHeader(*bytes);
    if (!h.ok()) return h.status();
    if (h->header.db_checksum_after != start.db_checksum || static_cast<int64_t>(h->header.last_txid) != start.txid) {
      return Status::Corruption("segment " + std::to_string(sequence) + " does not end where backup " +
                                start.backup_id + " is");
    }
    return h;
  }
  return Status::NotFound("no segment " + std::to_string(sequence) + " (the one backup " + start.backup_id +
                          " was taken at) in the store");
}

// The first commit after `txid` in planned segment `i`, when its header decodes.
int64_t FirstCommitAfter(const PlannedSegment& p, int64_t txid) {
  if (!p.header) return 0;
  for (const SegmentCommit& c : p.header->header.commits) {
    if (static_cast<int64_t>(c.txid) > txid) return c.commit_unix_ms;
  }
  return 0;
}

}  // namespace

std::string RestoreLoss::Describe() const {
  std::string out = "transactions " + std::to_string(first_txid) + "-" + std::to_string(last_txid) +
                    " (segments " + std::to_string(first_sequence) + "-" + std::to_string(last_sequence) + ")";
  std::string from;
  if (first_commit_unix_ms != 0) {
    from = "committed from " + FormatRfc3339Millis(first_commit_unix_ms);
  } else if (restored_commit_unix_ms != 0) {
    from = "committed after " + FormatRfc3339Millis(restored_commit_unix_ms);
  }
  if (!from.empty() && last_commit_unix_ms != 0) from += " to " + FormatRfc3339Millis(last_commit_unix_ms);
  if (from.empty() && last_commit_unix_ms != 0) from = "committed up to " + FormatRfc3339Millis(last_commit_unix_ms);
  if (!from.empty()) out += ", " + from;
  return out + ": " + why;
}

Result<RestoreBuild> BuildRestoredDatabase(const RestorePlan& plan, SegmentStore& store, const std::string& out_path,
                                           const RestoreBuildOptions& options) {
  const std::string context = "restore into " + out_path;
  if (FileSizeOrZero(out_path) > 0) return Status::InvalidArgument(context + ": the file exists");
  Say(options, "writing the start: " + plan.start.Describe());
  auto applier = WriteStart(plan.start, out_path);
  if (!applier.ok()) return applier.status().Wrap(context + ": start " + plan.start.Describe());

  RestoreBuild out;
  RunState at{plan.start.timeline, plan.start.txid, std::nullopt};
  std::optional<SegmentHeader> last_applied;
  // The run moves past one verified segment (or its commits up to `stop`).
  auto advance = [&](const DecodedSegmentHeader& applied, std::optional<uint64_t> stop) {
    const SegmentHeader& h = applied.header;
    last_applied = h;
    at.timeline = h.timeline;
    at.txid = static_cast<int64_t>(stop ? std::min<uint64_t>(*stop, h.last_txid) : h.last_txid);
    at.previous_sha256 = applied.segment_sha256;
    for (const SegmentCommit& c : h.commits) {
      if (static_cast<int64_t>(c.txid) == at.txid) out.commit_unix_ms = c.commit_unix_ms;
    }
    ++out.segments_applied;
    if (options.step_delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(options.step_delay_ms));
    Say(options, "segment " + std::to_string(h.sequence) + ": applied, position " + std::to_string(at.timeline) +
                     "/" + std::to_string(at.txid) + ", checksum " + DbChecksumHex(applier->checksum().Value()));
  };
  const bool from_chain_start = plan.start.kind != RestoreStart::Kind::kBackup;
  for (size_t i = 0; i < plan.segments.size() && at.txid < plan.target_txid; ++i) {
    if (options.cancel != nullptr && options.cancel->load()) {
      return Status::Unavailable("cancelled before segment " + std::to_string(plan.segments[i].entry.sequence) +
                                 ": the node is shutting down")
          .WithReason("shutting_down");
    }
    const PlannedSegment& p = plan.segments[i];
    const bool first_of_run = from_chain_start && i == 0;
    const bool last = i + 1 == plan.segments.size();
    const std::optional<uint64_t> stop =
        last ? std::optional<uint64_t>(static_cast<uint64_t>(plan.target_txid)) : std::nullopt;
    DecodedSegmentHeader applied;
    Status local = p.missing ? Status::NotFound(p.damage) : Status::Ok();
    if (local.ok()) {
      auto bytes = store.ReadBytes(p.entry);
      local = bytes.ok() ? ApplyCopy(*bytes, p, at, first_of_run, stop, *applier, &applied) : bytes.status();
    }
    if (local.reason() == kWriteFailed) return local.Wrap(context);
    if (!local.ok() && options.fetch) {
      Say(options, "segment " + std::to_string(p.entry.sequence) + ": " + local.message() + "; fetching it from " +
                       options.fetch_source);
      Status fetched;
      auto copy = options.fetch(p.entry.sequence);
      fetched = copy.ok() ? ApplyCopy(*copy, p, at, first_of_run, stop, *applier, &applied) : copy.status();
      if (fetched.reason() == kWriteFailed) return fetched.Wrap(context);
      if (fetched.ok()) {
        ++out.segments_fetched;
        if (options.repair_store) {
          if (!p.missing) {
            auto moved = store.QuarantineSegment(p.entry, options.clock->NowUnixMillis());
            if (!moved.ok()) return moved.status().Wrap(context);
            out.quarantined_segments.push_back(*moved);
          }
          WALSHIP_RETURN_IF_ERROR(store.Publish(EncodedSegment{*copy, applied}).Wrap(context));
        }
        local = Status::Ok();
      } else {
        local = Status(local.code(), local.message() + "; the copy from " + options.fetch_source +
                                         " did not help: " + fetched.message());
      }
    }
    if (!local.ok()) {
      RestoreLoss loss;
      loss.first_sequence = p.entry.sequence;
      loss.last_sequence = plan.segments.back().entry.sequence;
      loss.first_txid = at.txid + 1;
      loss.last_txid = plan.target_txid;
      loss.restored_commit_unix_ms = out.commit_unix_ms;
      loss.first_commit_unix_ms = FirstCommitAfter(p, at.txid);
      loss.last_commit_unix_ms = plan.target_commit_unix_ms;
      loss.why = "segment " + std::to_string(p.entry.sequence) + ": " + local.message();
      Say(options, "stopping at position " + std::to_string(at.timeline) + "/" + std::to_string(at.txid) +
                       ": lost " + loss.Describe());
      out.loss = std::move(loss);
      break;
    }
    advance(applied, stop);
  }
  // Past this store's end, what the other node holds after it (to latest).
  if (options.fetch && options.fetch_beyond_store_end && !out.loss && at.txid == plan.target_txid) {
    for (uint64_t seq = plan.segments.empty() ? plan.start.first_sequence : plan.segments.back().entry.sequence + 1;;
         ++seq) {
      auto copy = options.fetch(seq);
      if (!copy.ok()) {
        if (copy.status().code() != Code::kNotFound) out.beyond_note = copy.status().message();
        break;
      }
      PlannedSegment p;
      p.entry.sequence = seq;
      p.missing = true;  // no local file to match its name against
      DecodedSegmentHeader applied;
      Status s = ApplyCopy(*copy, p, at, /*first_of_run=*/false, std::nullopt, *applier, &applied);
      if (s.reason() == kWriteFailed) return s.Wrap(context);
      if (!s.ok()) {
        out.beyond_note = "segment " + std::to_string(seq) + " from " + options.fetch_source +
                          " does not continue the restored database: " + s.message();
        break;
      }
      if (options.repair_store) WALSHIP_RETURN_IF_ERROR(store.Publish(EncodedSegment{*copy, applied}).Wrap(context));
      ++out.segments_fetched;
      ++out.segments_beyond_store_end;
      advance(applied, std::nullopt);
    }
    if (!out.beyond_note.empty()) Say(options, "stopped fetching: " + out.beyond_note);
  }
  if (!options.wal_path.empty() && FileSizeOrZero(options.wal_path) > 0 && !out.loss && !last_applied &&
      plan.start.kind == RestoreStart::Kind::kBackup) {
    // No segment after the backup: the WAL continues the segment the backup
    // was taken at (a backup's position is always a segment's end).
    auto anchor = SegmentEndingAt(store, plan.start);
    if (anchor.ok()) {
      last_applied = anchor->header;
    } else {
      out.wal_not_applied = "cannot tell where the WAL continues: " + anchor.status().message();
    }
  }
  if (!options.wal_path.empty() && !out.loss && last_applied && at.txid >= plan.target_txid) {
    auto tail = ApplyWalTail(options.wal_path, *last_applied, *applier);
    if (!tail.ok()) return tail.status().Wrap(context);
    out.wal_commits = tail->commits;
    out.wal_not_applied = tail->not_applied;
    out.wal_commits_lost = tail->commits_lost;
    if (tail->commits != 0) {
      Say(options, "the WAL: " + std::to_string(tail->commits) + " committed transactions after segment " +
                       std::to_string(last_applied->sequence) + " applied (" + std::to_string(tail->frames) +
                       " frames, verified by SQLite's frame checksums)");
    }
    if (!tail->not_applied.empty()) Say(options, "the WAL: " + tail->not_applied);
  }
  WALSHIP_RETURN_IF_ERROR(applier->Sync().Wrap(context));
  out.timeline = at.timeline;
  out.txid = at.txid;
  out.db_checksum = applier->checksum().Value();
  out.page_count = applier->checksum().page_count();
  return out;
}

}  // namespace walship
