// Carrying out a restore plan (backup/restore_plan.h) into a new file: the
// start (a backup decompressed and checked against its manifest, a base
// snapshot, or the empty file), then each planned segment, verified before a
// byte of it is written:
//   its body's SHA-256 and its header checksum (DecodeSegment),
//   its sequence and name, its link to the segment before (previous SHA-256,
//   the next txid, the same timeline; no new chain start inside the run),
//   the database checksum before (the file's) and after (its frames').
// The database checksum after each segment is therefore checked, and the
// file only ever holds whole verified transactions.
//
// At the first segment that is missing or fails a check, a `fetch` source
// (another node holding the segments) is asked for that sequence; its copy
// passes the same checks or is refused. When none helps, the run stops: the
// file holds the last verified transaction and the result says what could
// not be restored (RestoreLoss). Never an error for a damaged segment: the
// caller decides what a loss means. Errors are for the file itself (I/O) and
// for a start that is not what its manifest says.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "backup/restore_plan.h"
#include "base/clock.h"
#include "base/status.h"
#include "replication/segment_store.h"

namespace walship {

// What a restore could not bring back.
struct RestoreLoss {
  uint64_t first_sequence = 0;  // the first segment not applied
  uint64_t last_sequence = 0;   // the target's segment
  int64_t first_txid = 0;       // the first transaction lost
  int64_t last_txid = 0;        // the target
  // Commit times: of the last restored transaction (the lost ones came
  // after it; 0 when the start gives none), of the first lost one when its
  // segment's header decodes (else 0), and of the target when a header says.
  int64_t restored_commit_unix_ms = 0;
  int64_t first_commit_unix_ms = 0;
  int64_t last_commit_unix_ms = 0;
  std::string why;  // the fault of the first segment, and the fetch's when one was tried

  std::string Describe() const;
};

struct RestoreBuild {
  uint64_t timeline = 0;
  int64_t txid = 0;               // the restored position
  int64_t commit_unix_ms = 0;     // of that transaction, when a segment says (0: the start's)
  uint64_t db_checksum = 0;
  uint32_t page_count = 0;
  uint64_t segments_applied = 0;
  uint64_t segments_fetched = 0;
  // Transactions applied from the node's own WAL after the last segment
  // (restore_wal_tail.h), and why any it holds were not.
  uint32_t wal_commits = 0;
  std::string wal_not_applied;
  uint32_t wal_commits_lost = 0;  // see WalTailResult::commits_lost
  // Segments the fetch source had after this store's newest, and why it
  // stopped short of "no more" (empty when it simply had no more).
  uint64_t segments_beyond_store_end = 0;
  std::string beyond_note;
  // Damaged local segments replaced by fetched copies: where each went.
  std::vector<std::string> quarantined_segments;
  std::optional<RestoreLoss> loss;
};

struct RestoreBuildOptions {
  // Another node's copy of a segment file by sequence; empty: no source.
  std::function<Result<std::string>(uint64_t sequence)> fetch;
  std::string fetch_source;  // for messages: "http://127.0.0.1:7071"
  // After the plan's last segment, ask `fetch` for the ones after it until
  // it has none: the other node may hold segments this store never sealed
  // (a restore to latest).
  bool fetch_beyond_store_end = false;
  // Publish each fetched segment into the store, moving the local damaged
  // copy (if any) to the store's quarantine folder first. Off for a dry run.
  bool repair_store = false;
  // One line per step, for people (may be empty).
  std::function<void(const std::string&)> progress;
  const Clock* clock = &SystemClock::Instance();  // names of quarantined copies
  // The node's -wal: when set, and every planned segment applied, the
  // committed transactions it holds after the last one are applied too.
  std::string wal_path;
  // Tests only: a pause after each applied segment, so a kill -9 can land
  // in the middle of a restore.
  int step_delay_ms = 0;
  // When set and true, the build stops before its next segment with
  // kUnavailable, reason "shutting_down" (a node draining).
  const std::atomic<bool>* cancel = nullptr;
};

// `out_path` must not exist.
Result<RestoreBuild> BuildRestoredDatabase(const RestorePlan& plan, SegmentStore& store, const std::string& out_path,
                                           const RestoreBuildOptions& options);

}  // namespace walship
